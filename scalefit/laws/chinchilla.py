"""Chinchilla L(N, D) (Hoffmann et al. 2022; docs/laws.md#chinchilla) and the Gadre et al. (2024)
over-training law with a single exponent (docs/laws.md#over-training-law)."""

from __future__ import annotations

import itertools

import jax.numpy as jnp
import numpy as np

from ..params import Param, ParamSpec, Prior
from .power import FLOOR_EXPONENT_PRIOR, FLOOR_PRIOR
from ._base import ScalingLaw, VarPro, lse3, register_law

#: Hoffmann et al. App. D.2 initialisation grid, as reproduced exactly by Besiroglu et al.
HOFFMANN_GRID = {
    "alpha": (0.0, 0.5, 1.0, 1.5, 2.0),
    "beta": (0.0, 0.5, 1.0, 1.5, 2.0),
    "e": (-1.0, -0.5, 0.0, 0.5, 1.0),
    "a": (0.0, 5.0, 10.0, 15.0, 20.0, 25.0),
    "b": (0.0, 5.0, 10.0, 15.0, 20.0, 25.0),
}

_VARPRO_EXPONENTS = np.round(np.arange(0.05, 1.5001, 0.01), 10)


def _chinchilla_fn(t, X):
    # one 3-term log-sum-exp whose derivative is the softmax weights (the gradient in docs/laws.md#chinchilla):
    # the same values as nested logaddexp to ~1e-15 with half the transcendental work
    return lse3(t["a"] - t["alpha"] * jnp.log(X["N"]), t["b"] - t["beta"] * jnp.log(X["D"]),
                jnp.broadcast_to(t["e"], jnp.shape(X["N"])))


@register_law("chinchilla")
def chinchilla() -> ScalingLaw:
    """L(N, D) = E + A/N^α + B/D^β, log L = LSE(a − α log N, b − β log D, e).

    The default start grid is Hoffmann's exact 4,500-point grid (App. D.2) plus one VarPro start.
    """
    spec = ParamSpec((
        Param("a", "log A", natural="A", starts=HOFFMANN_GRID["a"],
              prior=Prior.reference_amplitude("N", "alpha", fraction=0.3)),
        Param("b", "log B", natural="B", starts=HOFFMANN_GRID["b"],
              prior=Prior.reference_amplitude("D", "beta", fraction=0.3)),
        Param("e", "log E", natural="E", starts=HOFFMANN_GRID["e"], prior=FLOOR_PRIOR),
        Param("alpha", "α", starts=HOFFMANN_GRID["alpha"], prior=FLOOR_EXPONENT_PRIOR),
        Param("beta", "β", starts=HOFFMANN_GRID["beta"], prior=FLOOR_EXPONENT_PRIOR),
    ))

    def grid(X, y):
        # Hoffmann's loop order: alpha, beta, e, a, b (outer to inner)
        rows = [
            (a, b, e, al, be)
            for al, be, e, a, b in itertools.product(
                HOFFMANN_GRID["alpha"], HOFFMANN_GRID["beta"], HOFFMANN_GRID["e"],
                HOFFMANN_GRID["a"], HOFFMANN_GRID["b"],
            )
        ]
        return np.array(rows, dtype=np.float64)

    varpro = VarPro(
        linear=("e", "a", "b"),
        nonlinear=("alpha", "beta"),
        basis=lambda nl, X: jnp.stack(
            [jnp.ones_like(X["N"]), X["N"] ** (-nl[0]), X["D"] ** (-nl[1])], axis=-1
        ),
        grid=(_VARPRO_EXPONENTS, _VARPRO_EXPONENTS),
    )
    return ScalingLaw(
        name="chinchilla",
        title="Chinchilla",
        inputs=("N", "D"),
        params=spec,
        fn=_chinchilla_fn,
        formula="L(N,D) = E + A/N^α + B/D^β",
        grid_fn=grid,
        varpro=varpro,
        allocation=dict,
        source="Hoffmann et al. 2022, Eq. (2), App. D.2; Besiroglu et al. 2024; docs/laws.md#chinchilla",
        description="Chinchilla parametric law, fitted the Hoffmann way (Huber on log residuals, 4,500 starts)",
    )


def _one_exponent_allocation(theta) -> dict:
    """The over-training law is Chinchilla with β = α."""
    return {**theta, "beta": theta["alpha"]}


@register_law("overtraining")
def overtraining() -> ScalingLaw:
    """Gadre et al. over-training law: L(N, D) = E + A/N^α + B/D^α (one exponent).

    Equivalent to L(C, M) = E + (a·M^η + b·M^(−η))·C^(−η) with M = D/N, η = α/2,
    a = A·6^η, b = B·6^η (docs/laws.md#over-training-law); see :func:`overtraining_cm_params`.
    """

    def fn(t, X):
        lN, lD = jnp.log(X["N"]), jnp.log(X["D"])
        return jnp.logaddexp(jnp.logaddexp(t["a"] - t["alpha"] * lN, t["b"] - t["alpha"] * lD), t["e"])

    spec = ParamSpec((
        Param("a", "log A", natural="A", starts=(0.0, 5.0, 10.0, 15.0, 20.0),
              prior=Prior.reference_amplitude("N", "alpha", fraction=0.3)),
        Param("b", "log B", natural="B", starts=(0.0, 5.0, 10.0, 15.0, 20.0),
              prior=Prior.reference_amplitude("D", "alpha", fraction=0.3)),
        Param("e", "log E", natural="E", starts=(-1.0, 0.0, 0.5, 1.0), prior=FLOOR_PRIOR),
        Param("alpha", "α", starts=(0.1, 0.3, 0.5, 1.0), prior=FLOOR_EXPONENT_PRIOR),
    ))
    varpro = VarPro(
        linear=("e", "a", "b"),
        nonlinear=("alpha",),
        basis=lambda nl, X: jnp.stack(
            [jnp.ones_like(X["N"]), X["N"] ** (-nl[0]), X["D"] ** (-nl[0])], axis=-1
        ),
        grid=(_VARPRO_EXPONENTS,),
    )
    return ScalingLaw(
        name="overtraining",
        title="Gadre over-training",
        inputs=("N", "D"),
        params=spec,
        fn=fn,
        formula="L(N,D) = E + A/N^α + B/D^α  ≡  E + (a·M^η + b·M^−η)·C^−η, M = D/N, η = α/2",
        varpro=varpro,
        allocation=_one_exponent_allocation,
        source="Gadre et al. 2024, §3; docs/laws.md#over-training-law",
        description="over-training law (Chinchilla form with one exponent)",
    )


def overtraining_cm_params(E: float, A: float, B: float, alpha: float) -> dict[str, float]:
    """Map (E, A, B, α) of the over-training law to its (C, M) form: (E, a, b, η)."""
    eta = alpha / 2.0
    return {"E": E, "a": A * 6.0**eta, "b": B * 6.0**eta, "eta": eta}


def overtraining_loss_cm(C, M, *, E: float, a: float, b: float, eta: float):
    """L(C, M) = E + (a·M^η + b·M^(−η))·C^(−η) (Gadre et al.'s form), evaluated in logs."""
    C = np.asarray(C, dtype=np.float64)
    M = np.asarray(M, dtype=np.float64)
    log_red = np.logaddexp(np.log(a) + eta * np.log(M), np.log(b) - eta * np.log(M)) - eta * np.log(C)
    return np.exp(np.logaddexp(np.log(E), log_red))
