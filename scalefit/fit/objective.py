"""Fitting objectives on target-space residuals (docs/fitting.md#objective-scaling-and-premature-stops, docs/laws.md#chinchilla).

All objectives are summed over points and divided by ``delta**2`` so that their size and
gradient are O(1)–O(n): Hoffmann's Huber objective with δ = 1e-3 is ~1e-3 in size with
gradients ~1e-5, which makes L-BFGS stop almost at once (T1.4d).  The minimiser is unchanged;
``FitResult.objective`` reports the unscaled value.
"""

from __future__ import annotations

from typing import Mapping

import jax.numpy as jnp

from ..errors import ArgumentError

LOSSES = ("huber", "squared", "asymmetric", "absolute")


def check_loss(loss: str, delta: float, asymmetry: float) -> None:
    if loss not in LOSSES:
        raise ArgumentError(f"`loss` = {loss!r} is not one of {', '.join(LOSSES)}")
    if not (delta > 0):
        raise ArgumentError(f"`delta` = {delta!r} must be > 0")
    if not (0.0 < asymmetry < 1.0):
        raise ArgumentError(f"`asymmetry` = {asymmetry!r} must lie strictly between 0 and 1")


def huber_unit(u):
    """ρ_1(u): u²/2 for |u| ≤ 1, |u| − 1/2 beyond (so ρ_δ(r)/δ² = ρ_1(r/δ))."""
    au = jnp.abs(u)
    return jnp.where(au <= 1.0, 0.5 * u * u, au - 0.5)


def residual_loss(r, *, loss: str, delta: float, asymmetry: float = 0.5):
    """Per-point scaled loss of residuals ``r`` (prediction − observation, target space)."""
    u = r / delta
    if loss == "huber":
        return huber_unit(u)
    if loss == "squared":
        return 0.5 * u * u
    if loss == "absolute":
        return jnp.abs(u)
    # asymmetric Huber: over-predictions (r > 0) weigh 2τ, under-predictions 2(1 − τ)
    side = jnp.where(r > 0, 2.0 * asymmetry, 2.0 * (1.0 - asymmetry))
    return side * huber_unit(u)


def assemble_theta(x_free, fixed_vals, *, names, free, fixed, tied) -> dict:
    """Build the full parameter dict from free values, fixed values and ties (name -> name)."""
    theta = {}
    for i, n in enumerate(free):
        theta[n] = x_free[i]
    for i, n in enumerate(fixed):
        theta[n] = fixed_vals[i]
    for n, target in tied:
        theta[n] = theta[target]
    return {n: theta[n] for n in names}


def make_objective(law, *, free, fixed, tied, loss, delta, asymmetry):
    """Return ``objective(x_free, data)``; ``data`` holds X, y (target space), w, fixed."""
    names = law.param_names

    def objective(x_free, data: Mapping):
        theta = assemble_theta(x_free, data["fixed"], names=names, free=free, fixed=fixed, tied=tied)
        pred = law.fn(theta, data["X"])
        r = pred - data["y"]
        per_point = residual_loss(r, loss=loss, delta=delta, asymmetry=asymmetry)
        # zero-weight rows (padding, bootstrap omissions) must not leak NaNs into the sum
        per_point = jnp.where(data["w"] > 0, per_point, 0.0)
        return jnp.sum(data["w"] * per_point)

    return objective


def make_residuals(law, *, free, fixed, tied, delta):
    """``residuals(x_free, data)`` with ``½‖r‖²`` equal to the ``"squared"`` objective:
    ``r = sqrt(w)·(prediction − observation)/delta`` (zero on zero-weight rows)."""
    names = law.param_names

    def residuals(x_free, data: Mapping):
        theta = assemble_theta(x_free, data["fixed"], names=names, free=free, fixed=fixed, tied=tied)
        r = (law.fn(theta, data["X"]) - data["y"]) / delta
        w = data["w"]
        return jnp.where(w > 0, jnp.sqrt(jnp.where(w > 0, w, 1.0)) * r, 0.0)

    return residuals
