"""``zi_beta``: p ~ pi delta_0 + (1 - pi) Beta(a, b): a share pi of items never succeeds."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from scipy import special as sp

from ._common import NEG_INF, beta_cell_masses, beta_derivs, beta_kernel, beta_sampler_kernel, combine, embed, \
    moments, pair_params, weight_parts
from .registry import MixingFamily


def _kernel(theta, n, k, beta=beta_kernel):
    log_pi = jax.nn.log_sigmoid(theta[0])
    log_1mpi = jax.nn.log_sigmoid(-theta[0])
    bb = beta(theta[1], theta[2], n, k)
    zero = jnp.where(k == 0, log_pi, NEG_INF)
    return jnp.logaddexp(zero, log_1mpi + bb)


def _derivs(theta, n, k, aux):
    R = n.shape[0]
    ll_bb, g_bb, H_bb = beta_derivs(theta[1:], n, k)
    c0, G0, H0 = weight_parts(theta[0], R, 3, +1)
    c0 = jnp.where(k == 0, c0, NEG_INF)
    c1, G1, H1 = weight_parts(theta[0], R, 3, -1)
    Gb, Hb = embed(g_bb, H_bb, 3, (1, 2))
    return combine(jnp.stack([c0, c1 + ll_bb]), jnp.stack([G0, G1 + Gb]), jnp.stack([H0, H1 + Hb]))


def _starts(n, k, W):
    mu, s = moments(n, k, W)
    D = W.shape[0]
    st = []
    for pi0 in (0.05, 0.4):
        m = np.clip(mu / (1 - pi0), 1e-6, 1 - 1e-6)
        st.append(np.stack([np.full(D, sp.logit(pi0)), np.log(m) + np.log(s), np.log1p(-m) + np.log(s)], 1))
    return st


def _cell_masses(p):
    cells, below, above = beta_cell_masses(p["a"], p["b"])
    l1 = math.log1p(-p["pi"]) if p["pi"] < 1 else -math.inf
    return cells + l1, float(np.logaddexp(math.log(p["pi"]), below + l1)), above + l1


FAMILY = MixingFamily(
    name="zi_beta", description="p ~ pi delta_0 + (1 - pi) Beta(a, b)", **pair_params([("a", "b")], share="pi"),
    starts=_starts, log_kernel=_kernel, sampler_kernel=lambda t, n, k: _kernel(t, n, k, beta_sampler_kernel),
    row_derivs=_derivs, cell_masses=_cell_masses,
)
