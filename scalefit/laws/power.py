"""Single-variable power laws (docs/laws.md#power-laws) and Kaplan et al. (2020) laws (docs/laws.md#kaplan-laws)."""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np

from ..params import Param, ParamSpec, Prior
from ._base import ScalingLaw, VarPro, register_law

_ALPHA_STARTS = (0.05, 0.1, 0.2, 0.4, 0.8)

# Default priors (docs/bayes.md#default-priors): exponents of laws with a floor ~ LogNormal(log 0.3, 0.5),
# no-floor (Kaplan-type) exponents ~ LogNormal(log 0.08, 0.5); floors E = u·L_min, u ~ Beta(3, 2);
# amplitudes through the reducible loss at the reference scale (geometric mean of the input).
FLOOR_EXPONENT_PRIOR = Prior.lognormal(math.log(0.3), 0.5)
KAPLAN_EXPONENT_PRIOR = Prior.lognormal(math.log(0.08), 0.5)
FLOOR_PRIOR = Prior.floor_fraction(3.0, 2.0)
_FLOOR_FRACTIONS = (0.1, 0.3, 0.5, 0.7, 0.85, 0.95)


def _power_floor_grid_batch(X, y, valid):
    """α ∈ {0.05…0.8} × E ∈ {0.1…0.95}·L_min, with A matched to the data's geometric centre, for
    G curves at once: ``X["x"]``, ``y`` and the mask ``valid`` have shape (G, n); returns (G, 30, 3).

    Building grids curve by curve in Python cost ~0.5 ms per curve (4.6-5 s for 10,000 curves)."""
    n = valid.sum(axis=1)
    logx = np.log(np.where(valid, X["x"], 1.0))
    logy = np.log(np.where(valid, y, 1.0))
    lmin = np.min(np.where(valid, y, np.inf), axis=1)
    gmean = np.exp(np.sum(logy, axis=1) / n)
    mlx = np.sum(logx, axis=1) / n
    rows = []
    for alpha in _ALPHA_STARTS:
        for frac in _FLOOR_FRACTIONS:
            E = frac * lmin
            a = np.log(np.maximum(gmean - E, 1e-12)) + alpha * mlx
            rows.append(np.stack([a, np.full_like(a, alpha), np.log(E)], axis=1))
    return np.stack(rows, axis=1)


def _power_floor_grid(X, y):
    """The start grid of one curve: :func:`_power_floor_grid_batch` with G = 1."""
    x = np.asarray(X["x"], dtype=np.float64)[None]
    y = np.asarray(y, dtype=np.float64)[None]
    return _power_floor_grid_batch({"x": x}, y, np.ones(y.shape, dtype=bool))[0]


@register_law("power_law")
def power_law() -> ScalingLaw:
    """L(x) = E + A·x^(−α), fitted as log L = logaddexp(a − α log x, e)."""

    def fn(t, X):
        return jnp.logaddexp(t["a"] - t["alpha"] * jnp.log(X["x"]), t["e"])

    spec = ParamSpec((
        Param("a", "log A", natural="A", doc="log amplitude",
              prior=Prior.reference_amplitude("x", "alpha", fraction=0.3)),
        Param("alpha", "α", doc="exponent", prior=FLOOR_EXPONENT_PRIOR),
        Param("e", "log E", natural="E", doc="log irreducible floor", prior=FLOOR_PRIOR),
    ))
    varpro = VarPro(
        linear=("e", "a"),
        nonlinear=("alpha",),
        basis=lambda nl, X: jnp.stack([jnp.ones_like(X["x"]), X["x"] ** (-nl[0])], axis=-1),
        grid=(np.round(np.arange(0.02, 1.5001, 0.01), 10),),
    )
    return ScalingLaw(
        name="power_law",
        title="power law with floor",
        inputs=("x",),
        params=spec,
        fn=fn,
        formula="L(x) = E + A·x^(−α)",
        grid_fn=_power_floor_grid,
        grid_batch_fn=_power_floor_grid_batch,
        varpro=varpro,
        source="docs/laws.md#power-laws",
        description="single-variable power law with an irreducible floor E",
    )


def _loglinear_grid(X, y):
    """Closed-form OLS of log y on log x (the MLE under log-normal noise) as the start."""
    lx = np.log(np.asarray(X["x"], dtype=np.float64))
    ly = np.log(np.asarray(y, dtype=np.float64))
    if lx.size >= 2 and np.var(lx) > 0:
        alpha = -np.cov(lx, ly, bias=True)[0, 1] / np.var(lx)
    else:
        alpha = 0.1
    a = float(np.mean(ly) + alpha * np.mean(lx))
    return np.array([[a, alpha]] + [[float(np.mean(ly) + s * np.mean(lx)), s] for s in _ALPHA_STARTS])


@register_law("power_law_no_floor")
def power_law_no_floor() -> ScalingLaw:
    """L(x) = A·x^(−α); log L = a − α log x (OLS start, exact for log-normal noise)."""

    def fn(t, X):
        return t["a"] - t["alpha"] * jnp.log(X["x"])

    spec = ParamSpec((
        # no floor: the whole loss is "reducible", so A_ref is centred on the median loss
        Param("a", "log A", natural="A", prior=Prior.reference_amplitude("x", "alpha", fraction=1.0)),
        Param("alpha", "α", prior=KAPLAN_EXPONENT_PRIOR),
    ))
    return ScalingLaw(
        name="power_law_no_floor",
        title="power law",
        inputs=("x",),
        params=spec,
        fn=fn,
        formula="L(x) = A·x^(−α)",
        grid_fn=_loglinear_grid,
        default_loss="squared",
        source="docs/laws.md#power-laws",
        description="pure power law; the default squared log loss is ordinary least squares in log space",
    )


def _kaplan_single(var: str) -> ScalingLaw:
    name = f"kaplan_{var.lower()}"

    def fn(t, X):
        return t["alpha"] * (t["log_xc"] - jnp.log(X["x"]))

    def grid(X, y):
        base = _loglinear_grid(X, y)  # columns (a, alpha); a = alpha·log x_c
        alpha = np.where(np.abs(base[:, 1]) < 1e-6, 1e-6, base[:, 1])
        return np.stack([base[:, 0] / alpha, alpha], axis=1)

    spec = ParamSpec((
        Param("log_xc", f"log {var}_c", natural=f"{var}_c", prior=Prior.kaplan_reference("x", "alpha")),
        Param("alpha", f"α_{var}", prior=KAPLAN_EXPONENT_PRIOR),
    ))
    return ScalingLaw(
        name=name,
        title=f"Kaplan L({var})",
        inputs=("x",),
        params=spec,
        fn=fn,
        formula=f"L({var}) = ({var}_c/{var})^α_{var}",
        grid_fn=grid,
        default_loss="squared",
        source="Kaplan et al. 2020, Eqs. (1.1)–(1.3); docs/laws.md#kaplan-laws",
        description=f"Kaplan single-variable law in {var} (no floor)",
    )


@register_law("kaplan_n")
def kaplan_n() -> ScalingLaw:
    """Kaplan L(N) = (N_c/N)^α_N."""
    return _kaplan_single("N")


@register_law("kaplan_d")
def kaplan_d() -> ScalingLaw:
    """Kaplan L(D) = (D_c/D)^α_D."""
    return _kaplan_single("D")


@register_law("kaplan_c")
def kaplan_c() -> ScalingLaw:
    """Kaplan L(C_min) = (C_c/C_min)^α_C (C in the units of the data, e.g. PF-days)."""
    return _kaplan_single("C")


@register_law("kaplan_nd")
def kaplan_nd() -> ScalingLaw:
    """Kaplan joint law L(N, D) = [(N_c/N)^(α_N/α_D) + D_c/D]^α_D.

    Evaluated as α_D · LSE((α_N/α_D)(log N_c − log N), log D_c − log D).
    """

    def fn(t, X):
        u1 = (t["alpha_N"] / t["alpha_D"]) * (t["log_Nc"] - jnp.log(X["N"]))
        u2 = t["log_Dc"] - jnp.log(X["D"])
        return t["alpha_D"] * jnp.logaddexp(u1, u2)

    spec = ParamSpec((
        Param("log_Nc", "log N_c", natural="N_c", starts=(math.log(1e11), math.log(1e13), math.log(1e15)),
              prior=Prior.kaplan_reference("N", "alpha_N")),
        Param("log_Dc", "log D_c", natural="D_c", starts=(math.log(1e11), math.log(1e13), math.log(1e15)),
              prior=Prior.kaplan_reference("D", "alpha_D")),
        Param("alpha_N", "α_N", lower=1e-6, starts=(0.05, 0.076, 0.15, 0.3), prior=KAPLAN_EXPONENT_PRIOR),
        Param("alpha_D", "α_D", lower=1e-6, starts=(0.05, 0.1, 0.2, 0.4), prior=KAPLAN_EXPONENT_PRIOR),
    ))
    return ScalingLaw(
        name="kaplan_nd",
        title="Kaplan L(N, D)",
        inputs=("N", "D"),
        params=spec,
        fn=fn,
        formula="L(N,D) = [(N_c/N)^(α_N/α_D) + D_c/D]^α_D",
        default_loss="squared",
        source="Kaplan et al. 2020, Eq. (1.5), Table 2; docs/laws.md#kaplan-laws",
        description="Kaplan joint law in parameters and tokens",
    )
