"""Priors -> numpyro distributions, prior variables -> fit coordinates (and back).

A :class:`~scalefit.params.Prior` is a spec; here it becomes a numpyro distribution over the
prior's own variable ``v``, and its ``transform`` maps ``v`` to the law's fit coordinate.  The
model samples ``v`` (so the prior density is exactly the one written down, with no Jacobian to
forget) and computes the coordinate deterministically.  Data-dependent arguments
(:class:`~scalefit.params.DataRef`) are looked up in a dict of data summaries that may hold JAX
values, so the same model can be vmapped over simulated data sets.
"""

from __future__ import annotations

import math
from typing import Mapping

import jax
import jax.numpy as jnp
import numpy as np
import numpyro.distributions as dist
from numpyro.distributions import constraints

from ..errors import ArgumentError
from ..params import DataRef, Prior

# Likelihood (nuisance) parameters and their default priors (docs/bayes.md#default-priors).
NOISE_PRIORS: dict[str, Prior] = {
    "sigma": Prior.halfnormal(0.05),            # residual scale of log loss
    "nu": Prior.gamma(2.0, 0.1, low=1.0),       # Student-t degrees of freedom, ν > 1
    "tau_run": Prior.halfnormal(0.01),          # run random effect (checkpoint data)
    "phi": Prior.gamma(2.0, 0.01),              # Beta precision for accuracies (docs/bayes.md#likelihoods)
}
#: σ for laws fitted on the natural scale (links) with a Student-t likelihood: scaled to the data.
LINEAR_SIGMA_PRIOR = Prior.halfnormal(DataRef("y_sd"))


# ---------------------------------------------------------------------------- summaries
def data_summaries(X: Mapping[str, np.ndarray], y: np.ndarray) -> dict[str, float]:
    """Summaries a :class:`DataRef` can name, computed from the fitted data (host side)."""
    y = np.asarray(y, dtype=np.float64)
    med = float(np.median(y))
    sd = float(np.std(y, ddof=1)) if y.size > 1 else 0.0
    out = {"y_min": float(y.min()), "y_max": float(y.max()), "y_median": med,
           "y_sd": sd if sd > 0 else max(abs(med) * 0.1, 1e-3)}
    if np.all(y > 0):
        out["log_y_min"] = float(np.log(y.min()))
        out["log_y_median"] = float(np.log(med))
    for k, x in X.items():
        x = np.asarray(x, dtype=np.float64)
        out[f"x_median:{k}"] = float(np.median(x))
        if np.all(x > 0):
            lx = np.log(x)
            out[f"log_x_min:{k}"] = float(lx.min())
            out[f"log_x_max:{k}"] = float(lx.max())
            out[f"log_x_ref:{k}"] = float(lx.mean())
    return out


def summaries_as_arrays(summaries: Mapping[str, float]) -> dict[str, jax.Array]:
    return {k: jnp.asarray(v, dtype=jnp.float64) for k, v in summaries.items()}


def needed_summaries(prior: Prior) -> list[str]:
    keys = []
    for a in prior.args:
        if isinstance(a, DataRef):
            keys.append(a.summary if a.input is None else f"{a.summary}:{a.input}")
    if prior.transform == "floor":
        keys.append("log_y_min")
    if prior.transform in ("reference", "kaplan_reference"):
        keys.append(f"log_x_ref:{prior.input}")
    return keys


def _arg(a, summ):
    if isinstance(a, DataRef):
        key = a.summary if a.input is None else f"{a.summary}:{a.input}"
        return summ[key] + a.offset
    return a


# ---------------------------------------------------------------------------- distributions
class LowerTruncatedGamma(dist.Distribution):
    """Gamma(concentration, rate) truncated to ``(low, inf)`` (the Student-t ν > 1 prior).

    ``log_prob`` is exact (normalised with the regularised upper incomplete gamma function);
    ``sample`` draws by rejection (16 rounds; with the default ν prior a draw is rejected with
    probability 0.5%, so the fallback to ``low + draw`` practically never happens).
    """

    arg_constraints = {"concentration": constraints.positive, "rate": constraints.positive}
    pytree_aux_fields = ("low",)
    reparametrized_params = []

    def __init__(self, concentration, rate, low, *, validate_args=None):
        self.concentration, self.rate = jnp.asarray(concentration, float), jnp.asarray(rate, float)
        self.low = float(low)
        self._base = dist.Gamma(self.concentration, self.rate)
        batch_shape = jax.lax.broadcast_shapes(jnp.shape(self.concentration), jnp.shape(self.rate))
        super().__init__(batch_shape=batch_shape, validate_args=validate_args)

    @constraints.dependent_property(is_discrete=False, event_dim=0)
    def support(self):
        return constraints.greater_than(self.low)

    def log_prob(self, value):
        tail = jax.scipy.special.gammaincc(self.concentration, self.rate * self.low)
        return self._base.log_prob(value) - jnp.log(tail)

    def sample(self, key, sample_shape=()):
        shape = tuple(sample_shape) + tuple(self.batch_shape)
        cand = self._base.expand(shape).sample(key, (16,))
        ok = cand > self.low
        first = jnp.argmax(ok, axis=0)
        pick = jnp.take_along_axis(cand, first[None], axis=0)[0]
        return jnp.where(jnp.any(ok, axis=0), pick, self.low + cand[0])


def to_distribution(prior: Prior, summ: Mapping[str, jax.Array] | None = None) -> dist.Distribution:
    """numpyro distribution of the prior's variable (DataRef arguments looked up in ``summ``)."""
    summ = {} if summ is None else summ
    try:
        a = [_arg(x, summ) for x in prior.args]
    except KeyError as exc:
        raise ArgumentError(f"prior {prior.describe()} needs the data summary {exc}, which this data lacks") from None
    d = prior.dist
    if d == "normal":
        base = dist.Normal(a[0], a[1])
    elif d == "lognormal":
        base = dist.LogNormal(a[0], a[1])
    elif d == "halfnormal":
        base = dist.HalfNormal(a[0])
    elif d == "beta":
        base = dist.Beta(a[0], a[1])
    elif d == "uniform":
        base = dist.Uniform(a[0], a[1])
    elif d == "gamma":
        if prior.low is not None:
            return LowerTruncatedGamma(a[0], a[1], prior.low)
        base = dist.Gamma(a[0], a[1])
    elif d == "student_t":
        base = dist.StudentT(a[0], a[1], a[2])
    elif d == "exponential":
        base = dist.Exponential(a[0])
    elif d == "flat":
        base = dist.ImproperUniform(constraints.real, (), ())
    else:  # pragma: no cover - Prior validates dist
        raise ArgumentError(f"unknown prior distribution {d!r}")
    if prior.low is not None:
        if d in ("normal", "student_t"):
            return dist.TruncatedDistribution(base, low=prior.low)
        raise ArgumentError(f"a `low` truncation is supported for normal, student_t and gamma priors, not {d!r}")
    return base


def prior_median(prior: Prior, summ: Mapping[str, float]) -> float:
    """Median of the prior's variable (used to start chains when no point fit is available)."""
    import scipy.stats as st

    a = [float(_arg(x, summ)) for x in prior.args]
    d = prior.dist
    if d in ("normal", "student_t"):
        m = a[0] if d == "normal" else a[1]
        return max(m, prior.low + 1.0) if prior.low is not None else m
    if d == "lognormal":
        return math.exp(a[0])
    if d == "halfnormal":
        return a[0] * 0.6745
    if d == "beta":
        return float(st.beta(a[0], a[1]).median())
    if d == "uniform":
        return 0.5 * (a[0] + a[1])
    if d == "gamma":
        g = st.gamma(a[0], scale=1.0 / a[1])
        if prior.low is not None:
            return float(g.ppf(g.cdf(prior.low) + 0.5 * g.sf(prior.low)))
        return float(g.median())
    if d == "exponential":
        return math.log(2.0) / a[0]
    return 0.0  # flat


# ---------------------------------------------------------------------------- transforms
def variable_name(param: str, prior: Prior, natural: str | None = None) -> str:
    """Name of the sample site that carries the prior's variable for coordinate ``param``."""
    t = prior.transform
    if t == "identity":
        return param
    if t == "exp":
        return f"log_{param}"
    if t == "log":
        return natural or f"exp_{param}"
    if t == "floor":
        return f"{natural or param}_frac"
    return f"{param}_ref"  # reference, kaplan_reference


def depends_on(prior: Prior) -> str | None:
    return prior.exponent if prior.transform in ("reference", "kaplan_reference") else None


def to_coordinate(prior: Prior, v, coords: Mapping, summ: Mapping):
    t = prior.transform
    if t == "identity":
        return v
    if t == "exp":
        return jnp.exp(v)
    if t == "log":
        return jnp.log(v)
    if t == "floor":
        return jnp.log(v) + summ["log_y_min"]
    lref = summ[f"log_x_ref:{prior.input}"]
    if t == "reference":
        return v + coords[prior.exponent] * lref
    return lref + v / coords[prior.exponent]  # kaplan_reference


def from_coordinate(prior: Prior, theta: float, coords: Mapping[str, float], summ: Mapping[str, float]) -> float:
    """Inverse of :func:`to_coordinate` (host side, for initial values)."""
    t = prior.transform
    if t == "identity":
        return float(theta)
    if t == "exp":
        return math.log(theta) if theta > 0 else -30.0
    if t == "log":
        return math.exp(theta)
    if t == "floor":
        return math.exp(theta - summ["log_y_min"])
    lref = summ[f"log_x_ref:{prior.input}"]
    if t == "reference":
        return float(theta - coords[prior.exponent] * lref)
    return float((theta - lref) * coords[prior.exponent])


def clip_to_support(prior: Prior, v: float, summ: Mapping[str, float]) -> float:
    """Move an initial value strictly inside the prior's support."""
    a = [float(_arg(x, summ)) for x in prior.args]
    d = prior.dist
    if not math.isfinite(v):
        return prior_median(prior, summ)
    if d == "beta":
        return min(max(v, 0.02), 0.98)
    if d == "uniform":
        lo, hi = a
        pad = 0.01 * (hi - lo)
        return min(max(v, lo + pad), hi - pad)
    if d in ("lognormal", "halfnormal", "gamma", "exponential"):
        v = max(v, 1e-8)
    if prior.low is not None:
        v = max(v, prior.low + 1e-3 * max(1.0, abs(prior.low)))
    return v
