"""Compute-optimal allocation for Chinchilla-type laws (docs/uncertainty.md#compute-optimal-allocation; C = 6ND).

Minimising A·N^(−α) + B·D^(−β) subject to 6ND = C gives
  G = (αA/(βB))^(1/(α+β)),  a = β/(α+β),  b = α/(α+β),
  N_opt = G·(C/6)^a,  D_opt = G^(−1)·(C/6)^b,
  L*(C) = E + (A·G^(−α) + B·G^β)·(C/6)^(−αβ/(α+β)),
  C(L)  = 6·[(L − E)/(A·G^(−α) + B·G^β)]^(−(α+β)/(αβ)).
Everything is evaluated in logs.
"""

from __future__ import annotations

import math
from typing import Mapping

import numpy as np
import pandas as pd

from .errors import ArgumentError


def has_allocation(fit) -> bool:
    """True when ``fit``'s law has a compute-optimal frontier (Chinchilla-type laws)."""
    return getattr(getattr(fit, "law", None), "allocation", None) is not None


def allocation_coordinates(fit, theta: Mapping[str, float] | None = None) -> dict[str, float]:
    """Chinchilla coordinates (a, b, e, alpha, beta) of ``fit`` at its estimate, or at ``theta``
    (e.g. one bootstrap or posterior draw; coordinates it lacks take the estimate's values).

    Ties of the fit (``tied={"beta": "alpha"}``) are applied first, then the law's own map."""
    law = getattr(fit, "law", None)
    if not has_allocation(fit):
        raise ArgumentError(f"compute-optimal allocation needs a law with a frontier in C = 6ND "
                            f"(chinchilla, overtraining); got `{getattr(law, 'name', law)}`")
    p = dict(fit.params) if theta is None else {**dict(getattr(fit, "params", None) or {}), **dict(theta)}
    for name, to in dict(getattr(fit, "tied", None) or {}).items():
        p[name] = p[to]
    return law.allocation(p)


def _chinchilla_natural(params) -> dict[str, float]:
    """Accept a FitResult, fit coordinates (a, b, e, alpha, beta) or natural (A, B, E, alpha, beta)."""
    if hasattr(params, "law") and hasattr(params, "params"):
        params = allocation_coordinates(params)
    p = dict(params)
    if {"a", "b", "e", "alpha", "beta"} <= set(p):
        return {"A": math.exp(p["a"]), "B": math.exp(p["b"]), "E": math.exp(p["e"]),
                "alpha": float(p["alpha"]), "beta": float(p["beta"])}
    if {"A", "B", "E", "alpha", "beta"} <= set(p):
        return {k: float(p[k]) for k in ("A", "B", "E", "alpha", "beta")}
    raise ArgumentError(
        f"`params` must hold (a, b, e, alpha, beta) or (A, B, E, alpha, beta); got {sorted(p)}"
    )


def allocation_constants(params) -> dict[str, float]:
    """Return G, the allocation exponents a = β/(α+β), b = α/(α+β), and the frontier constants."""
    q = _chinchilla_natural(params)
    A, B, E, al, be = q["A"], q["B"], q["E"], q["alpha"], q["beta"]
    if not (al > 0 and be > 0 and A > 0 and B > 0):
        raise ArgumentError(
            f"allocation needs A, B, alpha, beta > 0; got A={A:g}, B={B:g}, alpha={al:g}, beta={be:g}"
        )
    log_G = (math.log(al * A) - math.log(be * B)) / (al + be)
    log_K = float(np.logaddexp(math.log(A) - al * log_G, math.log(B) + be * log_G))
    return {
        "G": math.exp(log_G), "log_G": log_G, "a": be / (al + be), "b": al / (al + be),
        "K": math.exp(log_K), "log_K": log_K, "gamma": al * be / (al + be), "E": E,
    }


def compute_optimal(params, C) -> pd.DataFrame:
    """N_opt(C), D_opt(C), D/N and L*(C) for compute budgets ``C`` (FLOPs, C = 6ND).

    ``params``: a Chinchilla/overtraining :class:`~scalefit.FitResult` or a parameter mapping.

    >>> import math
    >>> p = dict(E=1.8172, A=482.01, B=2085.43, alpha=0.3478, beta=0.3658)
    >>> row = compute_optimal(p, 1e24).iloc[0]
    >>> f"{row.N_opt:.5e}", f"{row.tokens_per_param:.3f}"
    ('9.58607e+10', '18.137')
    """
    k = allocation_constants(params)
    C = np.atleast_1d(np.asarray(C, dtype=np.float64))
    if np.any(~np.isfinite(C)) or np.any(C <= 0):
        raise ArgumentError(f"`C` must be finite and > 0; got {C[~(np.isfinite(C) & (C > 0))][0]!r}")
    lc6 = np.log(C) - math.log(6.0)
    log_N = k["log_G"] + k["a"] * lc6
    log_D = -k["log_G"] + k["b"] * lc6
    log_red = k["log_K"] - k["gamma"] * lc6
    L = np.exp(np.logaddexp(math.log(k["E"]), log_red))
    return pd.DataFrame({
        "C": C, "N_opt": np.exp(log_N), "D_opt": np.exp(log_D),
        "tokens_per_param": np.exp(log_D - log_N), "loss": L,
    })


def compute_for_loss(params, L) -> np.ndarray:
    """Compute C(L) needed to reach loss ``L`` (> E) on the compute-optimal frontier."""
    k = allocation_constants(params)
    L = np.atleast_1d(np.asarray(L, dtype=np.float64))
    if np.any(~(L > k["E"])):
        bad = L[~(L > k["E"])][0]
        raise ArgumentError(f"target loss `L` = {bad!r} is not above the irreducible loss E = {k['E']:.6g}")
    log_C = math.log(6.0) - (np.log(L - k["E"]) - k["log_K"]) / k["gamma"]
    return np.exp(log_C)
