"""``kumaraswamy``: p ~ Kumaraswamy(a, b), density a b p^(a-1) (1 - p^a)^(b-1): a power-law tail
p^(a-1) like the Beta with a closed-form CDF, integrated on the shared logit grid."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from .._special import log1mexp
from ._common import GRID_EDGES, GRID_NODES, moments, node_masses, pair_params
from .registry import MixingFamily


def _log1m_pow(a, log_p):
    """log(1 - p^a) from log p, accurate for p^a -> 0 and p^a -> 1."""
    x = a * log_p
    return jnp.where(x < -0.693, jnp.log1p(-jnp.exp(x)), jnp.log(-jnp.expm1(x)))


def log_masses(theta, shift=0.0):
    """Node masses of p ~ Kumaraswamy(a, b); density in u: a b p^a (1 - p^a)^(b - 1) (1 - p).
    ``shift``: of u + shift instead (the pooled model's item effect on the logit scale)."""
    a, b = jnp.exp(theta[0]), jnp.exp(theta[1])
    u = jnp.asarray(GRID_NODES) - shift
    log_p = jax.nn.log_sigmoid(u)
    log_q = jax.nn.log_sigmoid(-u)
    log_density = theta[0] + theta[1] + a * log_p + (b - 1.0) * _log1m_pow(a, log_p) + log_q
    lp_lo = jax.nn.log_sigmoid(jnp.asarray(GRID_EDGES[0]) - shift)
    lp_hi = jax.nn.log_sigmoid(jnp.asarray(GRID_EDGES[-1]) - shift)
    below = log1mexp(jnp.minimum(b * _log1m_pow(a, lp_lo), -1e-300))  # F = 1 - (1 - p^a)^b
    above = b * _log1m_pow(a, lp_hi)
    return node_masses(log_density, below, above)


def _starts(n, k, W):
    # A heavy-tailed start (a = 0.3) and a light one (a = 1, mean ~ 1 / (1 + b) = mu).
    mu, _ = moments(n, k, W)
    D = W.shape[0]
    return [np.stack([np.full(D, np.log(0.3)), np.full(D, np.log(3.0))], 1),
            np.stack([np.zeros(D), np.log(np.clip(1.0 / mu - 1.0, 1e-3, 1e6))], 1)]


FAMILY = MixingFamily(
    name="kumaraswamy", description="p ~ Kumaraswamy(a, b): density a b p^(a-1) (1 - p^a)^(b-1)",
    **pair_params([("a", "b")]), starts=_starts, log_masses=log_masses,
)
