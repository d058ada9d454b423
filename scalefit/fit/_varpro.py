"""Variable-projection start (docs/fitting.md#the-varpro-start).

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

from .._solver import solve_small


def _subsets(m: int) -> np.ndarray:
    return np.array([s for s in itertools.product((0.0, 1.0), repeat=m) if any(s)], dtype=np.float64)


def _nnls_small(A, b, masks):
    """Exact NNLS for few columns: best feasible least-squares solution over active sets.

    Products are written as elementwise sums (not matmuls): under vmap over many tiny systems
    XLA fuses them, where batched dot products of 8x2 matrices cost several times more."""
    scale = jnp.sqrt(jnp.sum(A * A, axis=0)) + 1e-300
    An = A / scale
    G_full = jnp.sum(An[:, :, None] * An[:, None, :], axis=0)
    r_full = jnp.sum(An * b[:, None], axis=0)

    def solve(mask):
        G = G_full * (mask[:, None] * mask[None, :]) + jnp.diag(1.0 - mask)
        c = solve_small(G, r_full * mask) * mask
        feasible = jnp.all(c >= -1e-12 * jnp.max(jnp.abs(c)))
        rss = jnp.sum((jnp.sum(An * c[None, :], axis=1) - b) ** 2)
        return jnp.where(feasible & jnp.isfinite(rss), rss, jnp.inf), c

    rss, coefs = jax.vmap(solve)(masks)
    k = jnp.argmin(rss)
    return rss[k], jnp.maximum(coefs[k], 0.0) / scale


#: coarse-to-fine search: every ``_STRIDE``-th grid value first, then the full-resolution
#: neighbourhood (± stride − 1 points) of the best coarse point; grids shorter than
#: ``_MIN_COARSE`` points per axis are searched in full
_STRIDE = 5
_MIN_COARSE = 20


def _profile_points(varpro, X, y, w, nl):
    m = len(varpro.linear)
    masks = jnp.asarray(_subsets(m))
    rw = jnp.where(w > 0, w / y, 0.0)  # relative-error weights; zero weight drops a row

    def one(nlv):
        Phi = varpro.basis(nlv, X)
        return _nnls_small(Phi * rw[:, None], rw * y, masks)

    if nl.shape[0] <= 512:
        rss, coefs = jax.vmap(one)(nl)
    else:
        rss, coefs = jax.lax.map(one, nl, batch_size=512)
    k = jnp.argmin(rss)
    return nl[k], coefs[k], rss[k], k


def varpro_profile(varpro, X, y, w):
    """Return (best nonlinear values, best linear coefficients, best rss) over the grid.

    Coarse-to-fine: the profile is evaluated on every ``_STRIDE``-th point of each axis of the
    grid, then on the full-resolution window around the best coarse point (21,316 Chinchilla
    exponent pairs become 900 + 81).  The result is a start for the full fit, not an estimate."""
    axes = [np.asarray(g, dtype=np.float64) for g in varpro.grid]
    strides = [_STRIDE if len(a) >= _MIN_COARSE else 1 for a in axes]
    if all(s == 1 for s in strides):
        grids = np.meshgrid(*axes, indexing="ij")
        nl = jnp.asarray(np.stack([g.ravel() for g in grids], axis=-1))
        best, coef, rss, _ = _profile_points(varpro, X, y, w, nl)
        return best, coef, rss
    coarse_idx = [np.unique(np.r_[np.arange(0, len(a), s), len(a) - 1]) for a, s in zip(axes, strides)]
    cgrid = np.meshgrid(*[a[i] for a, i in zip(axes, coarse_idx)], indexing="ij")
    cidx = np.meshgrid(*coarse_idx, indexing="ij")
    nl_c = jnp.asarray(np.stack([g.ravel() for g in cgrid], axis=-1))
    idx_c = jnp.asarray(np.stack([g.ravel() for g in cidx], axis=-1))
    _, _, _, kc = _profile_points(varpro, X, y, w, nl_c)
    centre = idx_c[kc]  # grid indices of the best coarse point
    offs = np.meshgrid(*[np.arange(-(s - 1), s) for s in strides], indexing="ij")
    offs = jnp.asarray(np.stack([o.ravel() for o in offs], axis=-1))
    hi = jnp.asarray([len(a) - 1 for a in axes])
    fine_idx = jnp.clip(centre[None, :] + offs, 0, hi[None, :])
    nl_f = jnp.stack([jnp.asarray(a)[fine_idx[:, j]] for j, a in enumerate(axes)], axis=-1)
    best, coef, rss, _ = _profile_points(varpro, X, y, w, nl_f)
    return best, coef, rss
