"""``logit_normal``: logit p ~ Normal(mu, sigma): a log-normal-like tail (thinner than any power
law), integrated on the shared logit grid."""

from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np
from jax.scipy.special import log_ndtr

from ._common import GRID_EDGES, GRID_NODES, LOG_TWO, half_sq, moments, node_masses
from .registry import MixingFamily


def log_masses(theta, shift=0.0):
    """Log masses of Normal(mu, exp(theta[1])) in u = logit p on the grid's cells, below, above;
    ``shift``: of u + shift instead (the pooled model's item effect on the logit scale)."""
    mu, sigma = theta[0], jnp.exp(theta[1])
    z = (jnp.asarray(GRID_NODES) - shift - mu) / sigma
    log_density = -0.5 * z * z - theta[1] - 0.5 * math.log(2.0 * math.pi)
    below = log_ndtr((GRID_EDGES[0] - shift - mu) / sigma)
    above = log_ndtr(-(GRID_EDGES[-1] - shift - mu) / sigma)
    return node_masses(log_density, below, above)


def _starts(n, k, W):
    mu, _ = moments(n, k, W)
    D = W.shape[0]
    lg = np.log(mu) - np.log1p(-mu)
    return [np.stack([lg - 1.0, np.full(D, np.log(2.0))], 1),
            np.stack([lg - 4.0, np.full(D, np.log(4.0))], 1)]


FAMILY = MixingFamily(
    name="logit_normal",
    param_names=("mu", "sigma"),
    transforms=("identity", "log"),
    prior=lambda t: half_sq(t[0], 0.0, 10.0) + half_sq(t[1], LOG_TWO, 2.0),
    starts=_starts,
    description="logit p ~ Normal(mu, sigma)",
    prior_text="mu ~ N(0, 10^2), log sigma ~ N(log 2, 2^2)",
    log_masses=log_masses,
)
