"""Curves that plots and reports *display*, evaluated from stored results (never fitted).

Everything here calls a result's own public API (``fit.predict``, :func:`scalefit.compute_optimal`
on stored parameter draws); nothing estimates anything.  Fit-like objects are duck-typed: an
object with ``law``, ``inputs``, ``target``, ``frame`` and a protocol ``predict(at: DataFrame)``
(columns ``estimate`` and, with an interval, ``lower``/``upper``) works: point fits and
posteriors alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from ..errors import ArgumentError

from ..allocation import has_allocation as is_chinchilla_type  # noqa: F401  (the plots' name for it)


def normalise_targets(fit, targets) -> list[dict[str, float]]:
    """``None``, one mapping or a list of mappings -> list of {law input: value}."""
    if targets is None:
        return []
    if isinstance(targets, Mapping):
        targets = [targets]
    if isinstance(targets, pd.DataFrame):
        targets = targets.to_dict(orient="records")
    out = []
    for t in targets:
        row = {}
        for name in fit.law.inputs:
            key = name if name in t else fit.inputs.get(name)
            if key not in t:
                raise ArgumentError(
                    f"target {dict(t)} lacks a value for input `{name}` of law `{fit.law.name}`"
                )
            row[name] = float(t[key])
        out.append(row)
    return out


def data_inputs(fit) -> dict[str, np.ndarray]:
    return {n: fit.frame[fit.inputs[n]].to_numpy(np.float64) for n in fit.law.inputs}


@dataclass(frozen=True)
class Path:
    """A 1-D path through a law's input space, with the quantity shown on the x axis."""

    inputs: pd.DataFrame      # law inputs along the path
    x: np.ndarray             # x-axis value along the path
    x_data: np.ndarray        # x-axis value of each fitted row
    x_targets: np.ndarray     # x-axis value of each target
    x_label: str
    x_log: bool
    description: str          # how the path was chosen, for captions


def _is_nd(fit) -> bool:
    return tuple(fit.law.inputs) == ("N", "D")


def extrapolation_path(fit, targets: Sequence[Mapping[str, float]] = (), n_points: int = 200) -> Path:
    """The path along which :func:`~scalefit.plots.plot_extrapolation` draws the fitted law.

    * L(N, D) laws: x = compute C = 6ND; the path keeps the primary target's tokens per
      parameter D/N fixed (the median D/N of the data without a target) and runs from the
      smallest fitted compute to the target (or the largest fitted compute).
    * one-input laws: x = the input, from the smallest fitted value to the target.
    * other laws: x = the first input, the others held at the primary target's values.
    The primary target is the one with the largest x.
    """
    from ._style import column_label

    X = data_inputs(fit)
    positive = bool(fit.law.positive_inputs)
    if _is_nd(fit):
        x_data = 6.0 * X["N"] * X["D"]
        x_t = np.array([6.0 * t["N"] * t["D"] for t in targets])
        if len(targets):
            prim = targets[int(np.argmax(x_t))]
            ratio = prim["D"] / prim["N"]
            how = f"at the target's {ratio:.3g} tokens per parameter (D/N)"
        else:
            ratio = float(np.median(X["D"] / X["N"]))
            how = f"at the data's median {ratio:.3g} tokens per parameter (D/N)"
        c_lo = float(x_data.min())
        c_hi = float(max(x_data.max(), x_t.max() if len(x_t) else 0.0))
        C = np.geomspace(c_lo, c_hi, n_points)
        N = np.sqrt(C / (6.0 * ratio))
        path = pd.DataFrame({"N": N, "D": ratio * N})
        return Path(path, C, x_data, x_t, "compute C = 6ND (FLOPs)", True, how)
    first = fit.law.inputs[0]
    x_data = X[first]
    x_t = np.array([t[first] for t in targets])
    lo = float(x_data.min())
    hi = float(max(x_data.max(), x_t.max() if len(x_t) else -np.inf))
    if len(x_t):
        lo = min(lo, float(x_t.min()))
    grid = np.geomspace(lo, hi, n_points) if positive and lo > 0 else np.linspace(lo, hi, n_points)
    path = pd.DataFrame({first: grid})
    how = ""
    others = fit.law.inputs[1:]
    if others:
        prim = targets[int(np.argmax(x_t))] if len(targets) else {o: float(np.median(X[o])) for o in others}
        for o in others:
            path[o] = prim[o]
        how = "with " + ", ".join(f"{o} = {prim[o]:.3g}" for o in others) + " held fixed"
    label = column_label(fit.inputs[first], fit.frame)
    return Path(path, grid, x_data, x_t, label, bool(positive and lo > 0), how)


def predict_frame(fit, at: pd.DataFrame, level: float | None = None) -> pd.DataFrame:
    """``fit.predict(at)`` (at ``level`` when given), checked for the protocol's ``estimate``
    column (and ``lower``/``upper`` when the fit has an interval; docs/results.md)."""
    if not hasattr(fit, "predict"):
        raise ArgumentError(f"`fit` must have a predict() method; got {type(fit).__name__}")
    out = fit.predict(at) if level is None else fit.predict(at, level=level)
    if "estimate" not in out.columns:
        raise ArgumentError(f"`fit.predict()` returned columns {list(out.columns)}; expected `estimate` "
                            "(the result protocol, docs/results.md)")
    return out


def interval_label(pred: pd.DataFrame, fit=None) -> str:
    """Description of the band in a prediction frame (``'95% bootstrap percentile (...)'``)."""
    text = pred.attrs.get("interval") if hasattr(pred, "attrs") else None
    if text:
        return str(text)
    boot = getattr(fit, "bootstrap", None)
    if boot is not None:
        return f"{boot.level:.0%} bootstrap interval"
    return "interval"


def parameter_draws(fit) -> list[dict[str, float]] | None:
    """Stored parameter draws (converged bootstrap replicates) as dicts, or None."""
    boot = getattr(fit, "bootstrap", None)
    if boot is None or not hasattr(boot, "good"):
        return None
    names = list(boot.names)
    return [dict(zip(names, map(float, row))) for row in boot.good()]


def compute_grid(fit, C=None, budgets=None, n_points: int = 60) -> tuple[dict, np.ndarray, np.ndarray, np.ndarray | None]:
    """Fitted inputs, fitted compute 6ND, the compute grid of an allocation plot and the budgets.

    Default grid: from the smallest fitted compute to 100x the largest (or 3x the largest
    budget), ``n_points`` log-spaced values."""
    X = data_inputs(fit)
    c_data = 6.0 * X["N"] * X["D"]
    budgets = None if budgets is None else np.atleast_1d(np.asarray(budgets, dtype=np.float64))
    if C is None:
        hi = c_data.max() * 100.0
        if budgets is not None and budgets.size:
            hi = max(hi, budgets.max() * 3.0)
        C = np.geomspace(c_data.min(), hi, n_points)
    return X, c_data, np.asarray(C, dtype=np.float64), budgets


def frontier(fit, C, level: float | None = None) -> pd.DataFrame:
    """Compute-optimal N_opt, D_opt, D/N and L* at budgets ``C`` with percentile bands.

    Point values come from :func:`scalefit.compute_optimal` at the estimate; bands (columns
    ``*_lower``/``*_upper``) from evaluating it at every stored bootstrap draw.
    """
    from ..allocation import allocation_coordinates, compute_optimal

    if not is_chinchilla_type(fit):
        raise ArgumentError(
            f"a compute-optimal frontier needs a Chinchilla-type fit (chinchilla, overtraining); got `{fit.law.name}`"
        )
    C = np.atleast_1d(np.asarray(C, dtype=np.float64))
    out = compute_optimal(allocation_coordinates(fit), C)
    draws = parameter_draws(fit)
    if draws:
        lvl = float(level if level is not None else fit.bootstrap.level)
        stack = np.stack([compute_optimal(allocation_coordinates(fit, d), C)[
            ["N_opt", "D_opt", "tokens_per_param", "loss"]].to_numpy() for d in draws])
        lo, hi = np.quantile(stack, [(1 - lvl) / 2, 1 - (1 - lvl) / 2], axis=0)
        for j, col in enumerate(["N_opt", "D_opt", "tokens_per_param", "loss"]):
            out[f"{col}_lower"] = lo[:, j]
            out[f"{col}_upper"] = hi[:, j]
        out.attrs["interval"] = f"{lvl:.0%} bootstrap percentile ({len(draws)} replicates)"
    return out
