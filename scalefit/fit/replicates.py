"""The result of a bootstrap: parameter draws of the converged replicates and what is read
from them (percentile intervals, derived quantities, prediction bands).  Kept apart from the
resampling machinery (:mod:`scalefit.fit.bootstrap`) so that point-fit results can load a saved
bootstrap without importing the fitting code."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from .._result import LEVEL, ResultProtocol
from ..errors import ArgumentError

__all__ = ["BootstrapResult"]


@dataclass(frozen=True, repr=False)
class BootstrapResult(ResultProtocol):
    """Replicate fits of a bootstrap (usually read through the :class:`FitResult` that carries
    it as ``.bootstrap``: its ``param_table`` and ``predict`` add the intervals).

    Result protocol (docs/results.md): ``converged`` is the per-replicate array (not one verdict:
    a bootstrap has one per replicate; :meth:`describe` and ``message`` say how many were
    kept); ``param_table(level)`` gives the replicates' median as ``estimate`` (the point
    estimate lives in the fit); ``predict(law, at, level)`` needs the law, and has no
    ``extrapolation`` column because a bootstrap does not hold the fitted rows.

    Attributes
    ----------
    names : tuple of str
        Parameter names (all law parameters, in law order).
    draws : ndarray, shape (R, P)
        Refitted parameters per replicate (fit coordinates).
    objective : ndarray, shape (R,)
    converged : ndarray of bool, shape (R,)
    method : {"case", "cluster"}
    cluster : str or None
        Column whose values define the clusters (runs) for cluster resampling.
    seed : int
    level : float
        Default two-sided interval level for tables and predictions.
    """

    names: tuple[str, ...]
    draws: np.ndarray = field(repr=False)
    objective: np.ndarray = field(repr=False)
    converged: np.ndarray = field(repr=False)
    method: str
    cluster: str | None
    seed: int
    level: float
    start: str = "estimate"
    #: why replicates were dropped: reason -> count (empty when every replicate converged)
    dropped: Mapping[str, int] = field(default_factory=dict)
    #: converged replicates whose estimate sits on a parameter bound: parameter -> count
    on_bound: Mapping[str, int] = field(default_factory=dict)
    #: rows kept with weight 1 in every replicate (e.g. an anchor point), as row positions
    fixed_rows: tuple[int, ...] = ()

    JSON_WHAT = "bootstrap file"

    @property
    def n_replicates(self) -> int:
        """Replicates run (the naming table's ``num_bootstrap``)."""
        return int(self.draws.shape[0])

    def _repr_text(self) -> str:
        return (f"{self.n_converged}/{self.n_replicates} replicates kept, {self.method} resampling, "
                f"{len(self.names)} params")

    @property
    def message(self) -> str:
        return self.describe()

    @property
    def n_converged(self) -> int:
        return int(np.sum(self.converged))

    def describe(self) -> str:
        """One line: replicates kept, why any were dropped, how many ended on a bound."""
        out = f"{self.n_converged}/{self.n_replicates} replicates kept"
        if self.dropped:
            out += " (dropped: " + ", ".join(f"{n} {why}" for why, n in self.dropped.items()) + ")"
        if self.on_bound:
            out += "; converged on a bound: " + ", ".join(f"`{k}` in {n}" for k, n in self.on_bound.items())
        return out

    def good(self) -> np.ndarray:
        """Draws of the converged replicates (shape (R_ok, P))."""
        return self.draws[self.converged]

    def param(self, name: str) -> np.ndarray:
        if name not in self.names:
            raise ArgumentError(f"unknown parameter `{name}`; have {list(self.names)}")
        return self.good()[:, self.names.index(name)]

    def _q(self, level):
        level = self.level if level is None else float(level)
        if not 0 < level < 1:
            raise ArgumentError(f"`level` = {level} must lie strictly between 0 and 1")
        return level, (1 - level) / 2, 1 - (1 - level) / 2

    def param_table(self, level: float = LEVEL) -> pd.DataFrame:
        """Per parameter (fit coordinates): ``estimate`` (median of the kept replicates),
        ``lower``/``upper`` (percentile interval at ``level``) and ``sd``."""
        level, lo, hi = self._q(level)
        rows = []
        for n in self.names:
            v = self.param(n)
            rows.append({"parameter": n, "estimate": float(np.median(v)), "lower": float(np.quantile(v, lo)),
                         "upper": float(np.quantile(v, hi)), "sd": float(np.std(v, ddof=1))})
        out = pd.DataFrame(rows)
        out.attrs["level"] = level
        return out

    def _summary_text(self, level: float | None = None) -> str:
        tab = self.param_table(self.level if level is None else level)
        lines = [f"bootstrap: {self.describe()} ({self.method} resampling"
                 + (f", by `{self.cluster}`" if self.cluster else "") + f", seed {self.seed})",
                 f"{tab.attrs['level']:.0%} percentile intervals of the fit coordinates:",
                 tab.to_string(index=False, float_format=lambda v: f"{v:.6g}")]
        return "\n".join(lines)

    def _summary_table(self, level: float | None = None):
        return self.param_table(self.level if level is None else level)

    def predict(self, law, at, *, level: float = LEVEL) -> pd.DataFrame:
        """Replicate predictions of ``law`` at inputs ``at`` (mapping or DataFrame of law inputs):
        the inputs, ``estimate`` (median over kept replicates), ``lower``/``upper`` (percentile
        interval at ``level``).  No ``extrapolation``: the fitted rows live in the fit
        (``FitResult.predict`` gives it with the same interval)."""
        level, lo, hi = self._q(level)
        X = {n: np.atleast_1d(np.asarray(at[n], dtype=np.float64)) for n in law.inputs}
        preds = evaluate_draws(law, self.names, self.good(), X)
        out = pd.DataFrame(X)
        out["estimate"] = np.median(preds, axis=0)
        out["lower"] = np.quantile(preds, lo, axis=0)
        out["upper"] = np.quantile(preds, hi, axis=0)
        return out

    def table(self, law, estimate: Mapping[str, float], level: float | None = None) -> pd.DataFrame:
        """Per parameter: estimate, bootstrap SD and percentile interval, on both scales.

        Deprecated: use :meth:`FitResult.param_table` (``fit.param_table(level)``), which holds
        the same intervals in the protocol's columns; kept for older callers."""
        level, lo, hi = self._q(level)
        rows = []
        for p in law.params:
            v = self.param(p.name)
            nat = np.exp(v) if p.is_log else v
            rows.append({
                "parameter": p.name, "estimate": float(estimate[p.name]), "sd": float(np.std(v, ddof=1)),
                "lower": float(np.quantile(v, lo)), "upper": float(np.quantile(v, hi)),
                "natural": p.natural or p.name, "natural_estimate": p.to_natural(estimate[p.name]),
                "natural_sd": float(np.std(nat, ddof=1)),
                "natural_lower": float(np.quantile(nat, lo)), "natural_upper": float(np.quantile(nat, hi)),
            })
        out = pd.DataFrame(rows)
        out.attrs["level"] = level
        return out

    def derived(self, fn, level: float | None = None) -> pd.DataFrame:
        """Quantiles of ``fn(params_dict) -> dict of floats`` computed per replicate."""
        level, lo, hi = self._q(level)
        vals: dict[str, list] = {}
        for row in self.good():
            for k, v in fn(dict(zip(self.names, row))).items():
                vals.setdefault(k, []).append(float(v))
        return pd.DataFrame([
            {"quantity": k, "median": float(np.median(v)), "sd": float(np.std(v, ddof=1)),
             "lower": float(np.quantile(v, lo)), "upper": float(np.quantile(v, hi))}
            for k, v in vals.items()
        ]).assign(level=level)

    def evaluate(self, law, X: Mapping[str, np.ndarray]) -> np.ndarray:
        """Natural-scale predictions of every replicate, shape (R, n); NaN for dropped replicates.

        Each input is either shared, shape (n,), or per replicate, shape (R, n) (e.g. the
        replicate's own prediction of an intermediate quantity in a chained fit)."""
        R = self.n_replicates
        order = [self.names.index(n) for n in law.param_names]
        theta = {n: jnp.asarray(self.draws[:, [i]]) for n, i in zip(law.param_names, order)}
        arrs = {k: np.asarray(v, dtype=np.float64) for k, v in X.items()}
        for k, v in arrs.items():
            if v.ndim == 2 and v.shape[0] != R:
                raise ArgumentError(f"input `{k}` has {v.shape[0]} rows of replicates; expected {R}")
        shape = np.broadcast_shapes((R, 1), *(np.atleast_2d(v).shape if v.ndim == 2 else (1, v.size)
                                              for v in arrs.values()))
        Xj = {k: jnp.asarray(np.broadcast_to(v if v.ndim == 2 else v.reshape(1, -1), shape)) for k, v in arrs.items()}
        out = law.fn(theta, Xj)
        out = np.asarray(jnp.exp(out) if law.target == "log" else out)
        return np.where(self.converged[:, None], out, np.nan)

    def add_prediction_intervals(self, fit, out: pd.DataFrame, X: Mapping[str, np.ndarray],
                                 level: float | None = None) -> pd.DataFrame:
        """``out`` with ``lower``/``upper`` (percentile interval of the curve at ``level``,
        default :attr:`level`) and ``se`` over the converged replicates."""
        level, lo, hi = self._q(level)
        preds = evaluate_draws(fit.law, self.names, self.good(), X)
        out = out.copy()
        out["lower"] = np.quantile(preds, lo, axis=0)
        out["upper"] = np.quantile(preds, hi, axis=0)
        out["se"] = np.std(preds, axis=0, ddof=1)
        out.attrs["interval"] = f"{level:.0%} bootstrap percentile ({self.method}, {self.n_converged} replicates)"
        return out

    def to_dict(self) -> dict:
        return {
            "names": list(self.names), "draws": self.draws.tolist(),
            "objective": [float(v) if math.isfinite(v) else None for v in self.objective],
            "converged": [bool(c) for c in self.converged], "method": self.method, "cluster": self.cluster,
            "seed": int(self.seed), "level": float(self.level), "start": self.start,
            "dropped": dict(self.dropped), "on_bound": dict(self.on_bound), "fixed_rows": list(self.fixed_rows),
        }

    @classmethod
    def from_dict(cls, d: Mapping) -> "BootstrapResult":
        return cls(
            names=tuple(d["names"]), draws=np.asarray(d["draws"], dtype=np.float64).reshape(-1, len(d["names"])),
            objective=np.array([np.nan if v is None else v for v in d["objective"]], dtype=np.float64),
            converged=np.asarray(d["converged"], dtype=bool), method=d["method"], cluster=d.get("cluster"),
            seed=int(d["seed"]), level=float(d["level"]), start=d.get("start", "estimate"),
            dropped=dict(d.get("dropped", {})), on_bound=dict(d.get("on_bound", {})),
            fixed_rows=tuple(d.get("fixed_rows", ())),
        )


_EVAL: dict[int, Any] = {}


def evaluate_draws(law, names, draws, X) -> np.ndarray:
    if id(law) not in _EVAL:
        def ev(draw, X):
            theta = {n: draw[i] for i, n in enumerate(law.param_names)}
            out = law.fn(theta, X)
            return jnp.exp(out) if law.target == "log" else out

        _EVAL[id(law)] = (law, jax.jit(jax.vmap(ev, in_axes=(0, None))))
    order = [names.index(n) for n in law.param_names]
    Xj = {k: jnp.asarray(np.asarray(v, dtype=np.float64)) for k, v in X.items()}
    return np.asarray(_EVAL[id(law)][1](jnp.asarray(draws[:, order]), Xj))
