"""Loss -> downstream links (docs/laws.md#downstream-links): Gadre et al.'s exponential error link and the
OLMo-ladder 4-parameter sigmoid.  Both are fitted on the natural scale (least squares)."""

from __future__ import annotations

import itertools
import math

import jax.numpy as jnp
import numpy as np

from ..params import DataRef, Param, ParamSpec, Prior
from ._base import ScalingLaw, register_law


@register_law("error_link")
def error_link() -> ScalingLaw:
    """Err(L) = ε − k·exp(−γ·L) (Gadre et al. 2024, §3)."""

    def fn(t, X):
        return t["eps"] - jnp.exp(t["log_k"] - jnp.exp(t["log_gamma"]) * X["L"])

    spec = ParamSpec((
        # priors (docs/bayes.md#default-priors): ε ~ Uniform(0, 1) (narrow it to (chance error − 0.1, 1] when the
        # chance error is known), log k ~ Normal(0, 2), log γ ~ Normal(0, 1)
        Param("eps", "ε", starts=(0.5, 0.75, 0.9, 1.0), doc="error at high loss", prior=Prior.uniform(0.0, 1.0)),
        Param("log_k", "log k", natural="k", starts=(math.log(0.5), math.log(2.0), math.log(10.0), math.log(50.0)),
              prior=Prior.normal(0.0, 2.0)),
        Param("log_gamma", "log γ", natural="gamma", starts=(math.log(0.3), math.log(1.0), math.log(3.0)),
              prior=Prior.normal(0.0, 1.0)),
    ))
    return ScalingLaw(
        name="error_link",
        title="exponential loss-to-error link",
        inputs=("L",),
        params=spec,
        fn=fn,
        formula="Err(L) = ε − k·exp(−γ·L)",
        target="linear",
        default_loss="squared",
        source="Gadre et al. 2024; docs/laws.md#downstream-links",
        description="downstream top-1 error as a function of validation loss",
    )


@register_law("sigmoid")
def sigmoid() -> ScalingLaw:
    """Acc(L) = s/(1 + exp(−k·(L − L0))) + t (OLMo model ladder, step 2)."""

    def fn(t, X):
        k = jnp.exp(t["log_k"])
        return t["s"] / (1.0 + jnp.exp(-k * (X["L"] - t["L0"]))) + t["t"]

    def grid(X, y):
        L = np.asarray(X["L"], dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        rows = []
        # s < 0: accuracy falls with the input (task loss); s > 0: rises (e.g. log-compute)
        for s, k, q, t in itertools.product(
            (-1.0, -0.75, -0.5, -0.25, 0.25, 0.5, 1.0), (1.0, 3.0, 10.0), (0.25, 0.5, 0.75),
            (min(float(y.max()), 1.0), max(float(y.min()), 0.0), 1.0),
        ):
            rows.append((s, math.log(k), float(np.quantile(L, q)), t))
        return np.array(rows)

    # bounds assume the target is an accuracy in [0, 1]: |s| <= 1 and 0 <= t <= 1; without them
    # a curve whose midpoint lies beyond the data runs off to s -> inf along its exponential tail
    spec = ParamSpec((
        # priors (docs/bayes.md#default-priors, without a known chance baseline): s ~ Uniform(−1, 1),
        # log k ~ Normal(log 3, 1), L0 ~ Normal(median input, 1), t ~ Uniform(0, 1)
        Param("s", "s", lower=-1.0, upper=1.0, doc="signed height (s < 0: accuracy falls with loss)",
              prior=Prior.uniform(-1.0, 1.0)),
        Param("log_k", "log k", natural="k", lower=-12.0, upper=12.0, doc="steepness",
              prior=Prior.normal(math.log(3.0), 1.0)),
        Param("L0", "L0", doc="midpoint loss", prior=Prior.normal(DataRef("x_median", "L"), 1.0)),
        Param("t", "t", lower=0.0, upper=1.0, doc="asymptote offset (low-loss end when s < 0)",
              prior=Prior.uniform(0.0, 1.0)),
    ))
    return ScalingLaw(
        name="sigmoid",
        title="sigmoid loss-to-accuracy link",
        inputs=("L",),
        params=spec,
        fn=fn,
        formula="Acc(L) = s/(1 + exp(−k·(L − L0))) + t",
        target="linear",
        positive_inputs=False,
        grid_fn=grid,
        default_loss="squared",
        source="Bhagia et al. 2024 (OLMo ladder), step 2; docs/laws.md#downstream-links",
        description="4-parameter sigmoid link from task loss to accuracy",
    )
