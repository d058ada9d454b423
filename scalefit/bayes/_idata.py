"""ArviZ InferenceData from draws, and a JSON-safe form of it.

arviz 0.23 (the version scalefit supports) provides ``InferenceData`` (a container of xarray
groups); arviz >= 1.0 replaces it by an xarray ``DataTree`` with the same group names.  Posterior
fits hold an ``InferenceData`` built with ``az.from_dict`` so that every ArviZ function
(``az.summary``, ``az.loo``, ``az.compare``, ``az.plot_*``) works on it directly.

JSON keeps the posterior and sample-statistics groups exactly (float64 via ``repr``); the
pointwise log-likelihood is recomputed from the posterior and the data on load (it is
deterministic and large: draws x observations).
"""

from __future__ import annotations

from typing import Mapping

import numpy as np


def build_idata(posterior: Mapping[str, np.ndarray], sample_stats: Mapping[str, np.ndarray] | None = None, *,
                log_likelihood: Mapping[str, np.ndarray] | None = None,
                observed: Mapping[str, np.ndarray] | None = None,
                constant: Mapping[str, np.ndarray] | None = None,
                dims: Mapping[str, list] | None = None, coords: Mapping[str, list] | None = None,
                attrs: Mapping | None = None):
    import arviz as az

    return az.from_dict(
        posterior={k: np.asarray(v) for k, v in posterior.items()},
        sample_stats=None if sample_stats is None else {k: np.asarray(v) for k, v in sample_stats.items()},
        log_likelihood=None if log_likelihood is None else {k: np.asarray(v) for k, v in log_likelihood.items()},
        observed_data=None if observed is None else {k: np.asarray(v) for k, v in observed.items()},
        constant_data=None if constant is None else {k: np.asarray(v) for k, v in constant.items()},
        dims=dict(dims or {}), coords=dict(coords or {}), attrs=dict(attrs or {}),
    )


def _array_to_json(a: np.ndarray) -> dict:
    a = np.asarray(a)
    if a.dtype == bool:
        return {"dtype": "bool", "shape": list(a.shape), "data": a.astype(int).ravel().tolist()}
    if np.issubdtype(a.dtype, np.integer):
        return {"dtype": "int", "shape": list(a.shape), "data": a.ravel().tolist()}
    flat = [float(x) if np.isfinite(x) else None for x in a.astype(np.float64).ravel()]
    return {"dtype": "float", "shape": list(a.shape), "data": flat}


def _array_from_json(d: Mapping) -> np.ndarray:
    shape = tuple(d["shape"])
    if d["dtype"] == "bool":
        return np.asarray(d["data"], dtype=int).astype(bool).reshape(shape)
    if d["dtype"] == "int":
        return np.asarray(d["data"], dtype=np.int64).reshape(shape)
    return np.asarray([np.nan if x is None else x for x in d["data"]], dtype=np.float64).reshape(shape)


def group_to_json(group) -> dict:
    """An InferenceData group (xarray Dataset) -> {var: array-json}, chain/draw leading."""
    return {str(k): _array_to_json(np.asarray(group[k].values)) for k in group.data_vars}


def group_from_json(d: Mapping) -> dict[str, np.ndarray]:
    return {k: _array_from_json(v) for k, v in d.items()}
