"""Variable-projection start (METHODS.md §0.6).

For each point of a dense grid over the nonlinear coordinates (exponents), the law's mean is a
non-negative combination of basis functions; we solve that small non-negative least-squares
problem exactly (enumerating active sets, m ≤ 3 coefficients) with rows weighted by 1/y so that
it approximates a relative (log) error fit, and return the best grid point with its
coefficients as a start for the full Huber-log fit.
"""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np


def _subsets(m: int) -> np.ndarray:
    return np.array([s for s in itertools.product((0.0, 1.0), repeat=m) if any(s)], dtype=np.float64)


def _nnls_small(A, b, masks):
    """Exact NNLS for few columns: best feasible least-squares solution over active sets."""
    scale = jnp.sqrt(jnp.sum(A * A, axis=0)) + 1e-300
    An = A / scale

    def solve(mask):
        As = An * mask
        G = As.T @ As + jnp.diag(1.0 - mask)
        c = jnp.linalg.solve(G, As.T @ b) * mask
        feasible = jnp.all(c >= -1e-12 * jnp.max(jnp.abs(c)))
        rss = jnp.sum((As @ c - b) ** 2)
        return jnp.where(feasible & jnp.isfinite(rss), rss, jnp.inf), c

    rss, coefs = jax.vmap(solve)(masks)
    k = jnp.argmin(rss)
    return rss[k], jnp.maximum(coefs[k], 0.0) / scale


def varpro_profile(varpro, X, y, w):
    """Return (best nonlinear values, best linear coefficients, best rss) over the grid."""
    grids = np.meshgrid(*varpro.grid, indexing="ij")
    nl = np.stack([g.ravel() for g in grids], axis=-1)
    m = len(varpro.linear)
    masks = jnp.asarray(_subsets(m))
    rw = jnp.where(w > 0, w / y, 0.0)  # relative-error weights; zero weight drops a row

    def one(nlv):
        Phi = varpro.basis(nlv, X)
        return _nnls_small(Phi * rw[:, None], rw * y, masks)

    rss, coefs = jax.lax.map(one, jnp.asarray(nl), batch_size=512)
    k = jnp.argmin(rss)
    return jnp.asarray(nl)[k], coefs[k], rss[k]
