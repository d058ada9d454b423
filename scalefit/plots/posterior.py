"""Posterior plots (marginals, pairs, traces) for an :class:`arviz.InferenceData`.

Thin wrappers around arviz's matplotlib plots that draw into a scalefit-styled Figure of the
right shape and return it.  Any Bayesian fit that exposes its draws as InferenceData works.
"""

from __future__ import annotations

import warnings

import numpy as np

from ..errors import ArgumentError
from ._style import new_axes_grid, style

__all__ = ["plot_posterior_marginals", "plot_posterior_pairs", "plot_posterior_trace"]


def _arviz():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        import arviz as az
    return az


import contextlib


@contextlib.contextmanager
def _quiet_arviz():
    """Silence arviz's own deprecation noise under new matplotlib (not ours to fix)."""
    from matplotlib import MatplotlibDeprecationWarning

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=MatplotlibDeprecationWarning)
        warnings.filterwarnings("ignore", category=FutureWarning)
        yield


def _posterior(idata):
    post = getattr(idata, "posterior", None)
    if post is None:
        raise ArgumentError(
            f"`idata` must be an arviz InferenceData with a `posterior` group; got {type(idata).__name__}"
        )
    return post


def _var_names(idata, var_names):
    post = _posterior(idata)
    if var_names is None:
        names = [v for v in post.data_vars if set(post[v].dims) <= {"chain", "draw"}]
        if not names:
            raise ArgumentError("the posterior has no scalar variables; pass `var_names`")
        return names
    var_names = [var_names] if isinstance(var_names, str) else list(var_names)
    unknown = [v for v in var_names if v not in post.data_vars]
    if unknown:
        raise ArgumentError(f"`var_names` {unknown} not in the posterior (it has {list(post.data_vars)})")
    return var_names


def _n_panels(idata, names) -> int:
    post = _posterior(idata)
    total = 0
    for v in names:
        extra = [s for d, s in post[v].sizes.items() if d not in ("chain", "draw")]
        total += int(np.prod(extra)) if extra else 1
    return total


def plot_posterior_marginals(idata, var_names=None, *, axes=None, hdi_prob: float = 0.94,
                             point_estimate: str = "median", ref_val=None):
    """Marginal posterior density of each variable with its HDI (``arviz.plot_posterior``).

    Parameters
    ----------
    idata : arviz.InferenceData
    var_names : list of str, optional
        Default: every scalar posterior variable.
    hdi_prob : float
        Probability mass of the highest-density interval.
    ref_val : dict, optional
        Reference (e.g. true or published) values, ``{"alpha": 0.34}``.
    """
    az = _arviz()
    names = _var_names(idata, var_names)
    n = _n_panels(idata, names)
    if ref_val is not None and not isinstance(ref_val, dict):
        raise ArgumentError("`ref_val` must be a dict {variable: value}")
    ref = None if ref_val is None else {k: [{"ref_val": float(v)}] for k, v in ref_val.items()}
    with style():
        fig, axs = new_axes_grid(n, axes=axes, ncols=min(n, 3), panel=(2.3, 1.9))
        with _quiet_arviz():
            az.plot_posterior(idata, var_names=names, ax=np.asarray(axs, dtype=object), hdi_prob=hdi_prob,
                              point_estimate=point_estimate, ref_val=ref, textsize=7, show=False)
    return fig


def plot_posterior_pairs(idata, var_names=None, *, axes=None, kind: str = "scatter", marginals: bool = True,
                         divergences: bool = True):
    """Pairwise joint posteriors (``arviz.plot_pair``); divergent draws are highlighted when the
    InferenceData records them."""
    az = _arviz()
    names = _var_names(idata, var_names)
    n = _n_panels(idata, names)
    if n < 2:
        raise ArgumentError("a pair plot needs at least two variables")
    k = n if marginals else n - 1
    has_div = hasattr(idata, "sample_stats") and "diverging" in getattr(idata.sample_stats, "data_vars", {})
    with style():
        if axes is None:
            from matplotlib.figure import Figure

            side = max(1.5, min(2.0, 7.0 / k))
            fig = Figure(figsize=(side * k, side * k), layout="constrained")
            grid = fig.subplots(k, k, squeeze=False)
        else:
            grid = np.asarray(axes, dtype=object)
            if grid.shape != (k, k):
                raise ArgumentError(f"`axes` must be a {k}x{k} array of Axes")
            fig = grid[0, 0].figure
        with _quiet_arviz():
            az.plot_pair(idata, var_names=names, kind=kind, marginals=marginals, ax=grid,
                         divergences=bool(divergences and has_div), textsize=7, show=False)
    return fig


def plot_posterior_trace(idata, var_names=None, *, axes=None):
    """Trace and per-chain density of each variable (``arviz.plot_trace``): chains that do not
    overlap signal a failed R-hat."""
    az = _arviz()
    names = _var_names(idata, var_names)
    n = _n_panels(idata, names)
    with style():
        if axes is None:
            from matplotlib.figure import Figure

            fig = Figure(figsize=(6.8, max(1.5, 1.4 * n)), layout="constrained")
            grid = fig.subplots(n, 2, squeeze=False)
        else:
            grid = np.asarray(axes, dtype=object)
            if grid.shape != (n, 2):
                raise ArgumentError(f"`axes` must be an {n}x2 array of Axes")
            fig = grid[0, 0].figure
        with _quiet_arviz():
            az.plot_trace(idata, var_names=names, axes=grid, show=False)
        for ax in grid.ravel():
            ax.title.set_fontsize(8)
    return fig
