"""``beta_mix2``: p ~ w Beta(a1, b1) + (1 - w) Beta(a2, b2), component 1 the harder one; the tail
exponent of the hard component is no longer tied to the easy items."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from scipy import special as sp

from ._common import beta_cell_masses, beta_derivs, beta_kernel, combine, embed, moments, pair_params, weight_parts
from .registry import MixingFamily


def _kernel(theta, n, k):
    l1 = jax.nn.log_sigmoid(theta[0]) + beta_kernel(theta[1], theta[2], n, k)
    l2 = jax.nn.log_sigmoid(-theta[0]) + beta_kernel(theta[3], theta[4], n, k)
    return jnp.logaddexp(l1, l2)


def _derivs(theta, n, k, aux):
    R = n.shape[0]
    l1, g1, h1 = beta_derivs(theta[1:3], n, k)
    l2, g2, h2 = beta_derivs(theta[3:5], n, k)
    w1, Gw1, Hw1 = weight_parts(theta[0], R, 5, +1)
    w2, Gw2, Hw2 = weight_parts(theta[0], R, 5, -1)
    G1, H1 = embed(g1, h1, 5, (1, 2))
    G2, H2 = embed(g2, h2, 5, (3, 4))
    return combine(jnp.stack([w1 + l1, w2 + l2]), jnp.stack([Gw1 + G1, Gw2 + G2]), jnp.stack([Hw1 + H1, Hw2 + H2]))


def _split_starts(n, k, W, q: float) -> np.ndarray:
    """Two-cluster starts: rows split at the weighted q-quantile of k / n, each cluster's (a, b)
    by moments (concentration 2 when it has no over-dispersion)."""
    ph = k / np.maximum(n, 1)
    order = np.argsort(ph, kind="stable")
    out = np.zeros((W.shape[0], 5))
    for d in range(W.shape[0]):
        w = W[d]
        cw = np.cumsum(w[order]) / max(w.sum(), 1e-300)
        thr = ph[order][min(np.searchsorted(cw, q), len(order) - 1)]
        low = ph <= thr
        share = np.clip(w[low].sum() / max(w.sum(), 1e-300), 0.05, 0.95)
        parts = []
        for mask in (low, ~low):
            ww = np.where(mask, w, 0.0)
            if ww.sum() <= 0:
                ww = w
            mu_c, s_c = moments(n, k, ww[None, :])
            mu_c = np.clip(mu_c[0], 1e-6, 1 - 1e-6)
            s_c = float(np.clip(s_c[0], 0.5, 1e4))
            parts.append((np.log(mu_c * s_c), np.log((1 - mu_c) * s_c)))
        out[d] = [sp.logit(share), *parts[0], *parts[1]]
    return out


def _starts(n, k, W):
    mu, _ = moments(n, k, W)
    D = W.shape[0]
    st = [_split_starts(n, k, W, q) for q in (0.5, 0.75, 0.9)]
    for w0, lo, hi, c1, c2 in ((0.5, 0.3, 3.0, 2.0, 2.0), (0.7, 0.1, 4.0, 1.0, 5.0)):
        m1 = np.clip(mu * lo, 1e-7, 0.5)
        m2 = np.clip(mu * hi, 1e-6, 0.95)
        st.append(np.stack([np.full(D, sp.logit(w0)), np.log(m1 * c1), np.log((1 - m1) * c1),
                            np.log(m2 * c2), np.log((1 - m2) * c2)], 1))
    return st


def _canonical(theta):
    """Order the components by mean (component 1 = the harder one)."""
    m1 = theta[..., 1] - np.logaddexp(theta[..., 1], theta[..., 2])
    m2 = theta[..., 3] - np.logaddexp(theta[..., 3], theta[..., 4])
    swap = m1 > m2
    if np.any(swap):
        t = theta[swap]
        theta[swap] = np.stack([-t[:, 0], t[:, 3], t[:, 4], t[:, 1], t[:, 2]], axis=1)
    return theta


def _cell_masses(p):
    c1, b1, a1 = beta_cell_masses(p["a1"], p["b1"])
    c2, b2, a2 = beta_cell_masses(p["a2"], p["b2"])
    lw, l1w = math.log(p["w"]), math.log1p(-p["w"])
    return (np.logaddexp(lw + c1, l1w + c2), float(np.logaddexp(lw + b1, l1w + b2)),
            float(np.logaddexp(lw + a1, l1w + a2)))


FAMILY = MixingFamily(
    name="beta_mix2", description="p ~ w Beta(a1, b1) + (1 - w) Beta(a2, b2)",
    **pair_params([("a1", "b1"), ("a2", "b2")], share="w"), starts=_starts,
    log_kernel=_kernel, row_derivs=_derivs, cell_masses=_cell_masses, canonical=_canonical, max_iter=300,
)
