"""Pieces shared by the built-in families: the logit grid and its kernels, the Beta-Binomial
kernel and its derivatives, the responsibility combination of components, the weak priors.

The grid families are integrated on a fixed grid of nodes in u = logit p (``GRID_NODES``, step
``H`` = 0.05 from -28 to 16) by the trapezoid rule on the product density x likelihood, which
converges spectrally for integrands smooth on the scale of H.  Rows whose likelihood peak is
narrower than 3H (many successes at a large budget) use the exact integral of the binomial kernel
over each node's cell instead (regularised incomplete beta), so sharp peaks at large n are not
under-resolved.  The mass below the grid (p < 7e-13) sits at p = 0, above it at p = 1.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import gammaln
from scipy import special as sp

from ..._solver import value_jacfwd_hessfwd
from .._special import log1mexp
from ..betabinom import bb_loglik_rows, bb_row_derivs

NEG_INF = -jnp.inf

# Node u_c (step H in u = logit p) stands for the cell [u_c - H/2, u_c + H/2].
H = 0.05
GRID_NODES = np.linspace(-28.0, 16.0, 881)
GRID_EDGES = np.concatenate([GRID_NODES - H / 2, [GRID_NODES[-1] + H / 2]])


# --------------------------------------------------------------------------------------------
# grid kernels (numpy / scipy, computed once per table of rows)


def log_cell_kernel(n, k, extra_failures=0.0) -> np.ndarray:
    """log of the p-average over each node's cell of p^k (1 - p)^(n - k + e), shape (rows, nodes).

    Exact cell integrals via the regularised incomplete beta function, taken from the lower or
    the upper tail (whichever is below 1/2) to avoid cancellation; Q = 1 - P is formed as
    expit(-u) so that cells near p = 1 keep their precision.
    """
    a = np.asarray(k, float)[:, None] + 1.0
    b = np.asarray(n, float)[:, None] - np.asarray(k, float)[:, None] + np.asarray(extra_failures, float) + 1.0
    a, b = np.broadcast_arrays(a, b)
    u = GRID_EDGES[None, :]
    P = sp.expit(u)
    Q = sp.expit(-u)
    low = sp.betainc(a[:, :1], b[:, :1], P)
    up = sp.betainc(b[:, :1], a[:, :1], Q)
    use_low = low[:, 1:] < 0.5
    diff = np.where(use_low, low[:, 1:] - low[:, :-1], up[:, :-1] - up[:, 1:])
    dp = np.where(GRID_EDGES[1:] <= 0, P[:, 1:] - P[:, :-1], Q[:, :-1] - Q[:, 1:])
    with np.errstate(divide="ignore"):
        out = sp.betaln(a[:, :1], b[:, :1]) + np.log(np.maximum(diff, 0.0)) - np.log(dp)
    return out


def grid_aux(n, k, extra_failures=0.0) -> dict:
    """Log likelihood weights of the grid families at the nodes for rows (n, k) (+ e failures).

    Point values k log p + (n - k + e) log(1 - p) at the nodes (trapezoid rule), except for rows
    whose likelihood peak in u is narrower than 3 node steps, which get exact cell averages.
    """
    n = np.asarray(n, float)
    k = np.asarray(k, float)
    e = np.broadcast_to(np.asarray(extra_failures, float), n.shape)
    fails = n - k + e
    u = GRID_NODES[None, :]
    with np.errstate(invalid="ignore"):
        ker = k[:, None] * sp.log_expit(u) + fails[:, None] * sp.log_expit(-u)
    tot = k + fails
    phat = (k + 0.5) / (tot + 1.0)
    width = 1.0 / np.sqrt(np.maximum(tot * phat * (1.0 - phat), 1e-300))
    narrow = width < 3.0 * H
    if narrow.any():
        ker[narrow] = log_cell_kernel(tot[narrow], k[narrow])
    zero = np.where(k == 0, 0.0, -np.inf)  # point mass at p = 0 (below the grid)
    one = np.where(fails == 0, 0.0, -np.inf)  # point mass at p = 1 (above the grid)
    return {"ker": ker, "zero": zero, "one": one}


def node_masses(log_density, below, above):
    """Node masses from the log density in u at the nodes (trapezoid), normalised so that they
    and the two tail lumps sum to one."""
    lm = log_density + jnp.log(H)
    tails = jnp.logaddexp(below, above)
    return lm - jax.nn.logsumexp(lm) + log1mexp(jnp.minimum(tails, -1e-300)), below, above


def kernel_grid(log_masses, aux):
    """Row log-kernels from g's log masses on the grid and the rows' grid weights ``aux``."""
    cells, below, above = log_masses
    body = jax.nn.logsumexp(aux["ker"] + cells[None, :], axis=1)
    out = jnp.logaddexp(body, below + aux["zero"])
    return jnp.logaddexp(out, above + aux["one"])


def scaled_grid_table(aux) -> tuple[np.ndarray, np.ndarray]:
    """The rows' grid likelihood weights with the lumps below and above the grid as two more
    columns, scaled to each row's largest: (exp(K - kmax) (R, C + 2), kmax (R,)) (numpy).  With
    masses m of g, a row's kernel is kmax + log(exp(K - kmax) @ exp(m)): one matrix product for
    many parameter sets, where the log-sum-exp costs R x C exponentials per parameter set."""
    K = np.concatenate([np.asarray(aux["ker"]), np.asarray(aux["zero"])[:, None], np.asarray(aux["one"])[:, None]], 1)
    kmax = np.max(K, axis=1)
    with np.errstate(invalid="ignore", over="ignore"):
        return np.exp(K - kmax[:, None]), kmax


def kernel_grid_product(lm, table, kmax):
    """Row log-kernels (T, R) of T parameter sets' log masses ``lm`` (T, C + 2) from a
    :func:`scaled_grid_table`, and the scaled sums (T, R) themselves.  Every term of a sum is a
    product of two numbers <= 1 scaled to their maxima, so nothing cancels and nothing overflows;
    a sum can underflow only where g puts (relatively) no mass where the row's likelihood is,
    so callers recompute the kernels of sums below ``PRODUCT_FLOOR`` by :func:`kernel_grid`."""
    mmax = jnp.max(lm, axis=1)
    S = jnp.exp(lm - mmax[:, None]) @ table.T
    return jnp.log(S) + mmax[:, None] + kmax[None, :], S


#: Scaled sums of :func:`kernel_grid_product` below this are recomputed (a sum of terms that
#: underflowed below 1e-308 would lose them; above 1e-280 they are below 1e-28 relative).
PRODUCT_FLOOR = 1e-280


def derivs_grid_product(masses_fn, theta, table, kmax):
    """:func:`derivs_grid` from a :func:`scaled_grid_table`: the masses exp(m) and their first
    and second derivatives exp(m) dm and exp(m) (d2m + dm dm^T) in one product with the table,
    then g = L dM / L M and h = L d2M / L M - g g^T.  Rows whose scaled sum falls below
    ``PRODUCT_FLOOR`` (g has no mass where the row's likelihood is: a poor trial point) get a
    floored log-kernel and no derivative; the fitter re-checks its solutions for them."""

    def fn(t):
        cells, below, above = masses_fn(t)
        return jnp.concatenate([cells, below[None], above[None]])

    lm, J, Hm = value_jacfwd_hessfwd(fn, theta)  # (C + 2,), (C + 2, P), (C + 2, P, P)
    P = J.shape[1]
    mmax = jnp.max(lm)
    m = jnp.exp(lm - mmax)
    # masses that underflow carry no weight; their derivatives can be 0 * inf
    J = jnp.where(m[:, None] > 0, J, 0.0)
    Hm = jnp.where(m[:, None, None] > 0, Hm, 0.0)
    stack = jnp.concatenate([m[:, None], m[:, None] * J,
                             (m[:, None, None] * (Hm + J[:, :, None] * J[:, None, :])).reshape(-1, P * P)], 1)
    V = table @ stack  # (R, 1 + P + P P)
    ok = V[:, 0] >= PRODUCT_FLOOR
    S = jnp.where(ok, V[:, 0], PRODUCT_FLOOR)
    g = jnp.where(ok[:, None], V[:, 1:1 + P] / S[:, None], 0.0)
    h = V[:, 1 + P:].reshape(-1, P, P) / S[:, None, None] - g[:, :, None] * g[:, None, :]
    h = jnp.where(ok[:, None, None], h, 0.0)
    return jnp.log(S) + kmax + mmax, g.T, jnp.moveaxis(h, 0, -1)


def derivs_grid(masses_fn, theta, aux):
    """Row log-kernels with gradients (P, R) and Hessians (P, P, R) of a grid family: the
    responsibility combination over the cells, with autodiff of the cell masses only."""

    def fn(t):
        cells, below, above = masses_fn(t)
        return jnp.concatenate([cells, below[None], above[None]])

    lm, J, Hm = value_jacfwd_hessfwd(fn, theta)  # (C + 2,), (C + 2, P), (C + 2, P, P)
    K = jnp.concatenate([aux["ker"], aux["zero"][:, None], aux["one"][:, None]], axis=1)  # (R, C + 2)
    c = K + lm[None, :]
    ll = jax.nn.logsumexp(c, axis=1)
    r = jnp.exp(c - ll[:, None])
    g = r @ J  # (R, P)
    M = Hm + J[:, :, None] * J[:, None, :]
    h = jnp.einsum("rc,cpq->rpq", r, M) - g[:, :, None] * g[:, None, :]
    return ll, g.T, jnp.moveaxis(h, 0, -1)


# --------------------------------------------------------------------------------------------
# Beta components
#
# A Beta-mixture row likelihood is a sum of components, S = sum_j exp(c_j(theta)), so with
# responsibilities r_j = exp(c_j) / S:
#     d log S = sum_j r_j dc_j,   d2 log S = sum_j r_j (d2c_j + dc_j dc_j^T) - (d log S)(d log S)^T.
# Component derivatives are analytic (digamma/trigamma), so no Hessian is traced through the
# special functions and the compiled programs stay small.


def beta_kernel(log_a, log_b, n, k):
    """log E[p^k (1 - p)^(n - k)] under Beta(exp(log_a), exp(log_b)) (cancellation-free)."""
    return bb_loglik_rows(jnp.exp(log_a), jnp.exp(log_b), n, k)


def _gamma_ratio_sampler(x, h):
    """lgamma(x + h) - lgamma(x) for x > 0, h >= 0: the ``gammaln`` difference, except for
    x >= 100, where two large ``gammaln`` values would cancel (absolute error ~1e-16 x log-gamma:
    ~500 at x = 1e17, enough to make a sampler's gradient noise), the Stirling difference
    h log(x + h) + (x - 1/2) log1p(h / x) - h + w(x + h) - w(x), w(z) = 1/(12 z) - 1/(360 z^3) +
    1/(1260 z^5) (next term below 1e-17 there)."""
    big = x >= 100.0
    xs = jnp.where(big, x, 100.0)  # each branch sees only arguments it is good for (finite gradients)
    xg = jnp.where(big, 1.0, x)

    def w(z):
        z2 = z * z
        return (1.0 / 12.0 - (1.0 / 360.0 - 1.0 / (1260.0 * z2)) / z2) / z

    stirling = h * jnp.log(xs + h) + (xs - 0.5) * jnp.log1p(h / xs) - h + (w(xs + h) - w(xs))
    return jnp.where(big, stirling, gammaln(xg + h) - gammaln(xg))


def beta_sampler_kernel(log_a, log_b, n, k):
    """:func:`beta_kernel` for samplers: D(a, k) + D(b, n - k) - D(a + b, n) with
    D(x, h) = lgamma(x + h) - lgamma(x) from ``gammaln`` (never ``betaln``, off by ~2e-7 near
    b = 12) and, for x >= 100, a Stirling difference: about twice as fast as the cancellation-free
    kernel inside NUTS, with rounding below ~1e-11 per row for n <= 1e5 (tests), which moves no
    posterior."""
    a, b = jnp.exp(log_a), jnp.exp(log_b)
    return _gamma_ratio_sampler(a, k) + _gamma_ratio_sampler(b, n - k) - _gamma_ratio_sampler(a + b, n)


def beta_derivs(theta_ab, n, k):
    """Row log-kernels of Beta(exp(theta_ab)) with gradient (2, R) and Hessian (2, 2, R)."""
    return bb_row_derivs(theta_ab, n, k)


def combine(c, G, Hs):
    """log-sum over components (axis 0) of c (J, R) with gradients G (J, P, R), Hessians Hs (J, P, P, R)."""
    ll = jax.nn.logsumexp(c, axis=0)
    r = jnp.exp(c - ll[None, :])
    g = jnp.einsum("jr,jpr->pr", r, G)
    M = Hs + G[:, :, None, :] * G[:, None, :, :]
    h = jnp.einsum("jr,jpqr->pqr", r, M) - g[:, None, :] * g[None, :, :]
    return ll, g, h


def embed(g, Hc, P, at):
    """Place a component's (2, R) gradient / (2, 2, R) Hessian at parameter positions ``at``."""
    R = g.shape[-1]
    G = jnp.zeros((P, R)).at[at[0]].set(g[0]).at[at[1]].set(g[1])
    HH = jnp.zeros((P, P, R))
    for i in range(2):
        for j in range(2):
            HH = HH.at[at[i], at[j]].set(Hc[i, j])
    return G, HH


def weight_parts(t, R, P, sign):
    """log sigmoid(sign * t) and its derivatives in t (parameter 0) for R rows."""
    pi = jax.nn.sigmoid(t)
    c = jax.nn.log_sigmoid(sign * t)
    d1 = (1.0 - pi) if sign > 0 else -pi
    G = jnp.zeros((P, R)).at[0].set(d1)
    Hw = jnp.zeros((P, P, R)).at[0, 0].set(-pi * (1.0 - pi))
    return c, G, Hw


def beta_cell_masses(a: float, b: float):
    """log masses of Beta(a, b) on the logit grid's cells, below and above it (scipy, accurate
    in both tails: each cell is a difference of the lower or the upper regularised incomplete beta,
    whichever is below 1/2)."""
    P = sp.expit(GRID_EDGES)
    Q = sp.expit(-GRID_EDGES)
    low = sp.betainc(a, b, P)
    up = sp.betainc(b, a, Q)
    use_low = low[1:] < 0.5
    cells = np.where(use_low, low[1:] - low[:-1], up[:-1] - up[1:])
    with np.errstate(divide="ignore"):
        return np.log(np.maximum(cells, 0.0)), float(np.log(low[0])), float(np.log(up[-1]))


# --------------------------------------------------------------------------------------------
# weak priors (minus log density up to a constant, on the unconstrained scale) and starts


def half_sq(x, mean, sd):
    """Minus the log density of Normal(mean, sd) at x, up to a constant."""
    return 0.5 * ((x - mean) / sd) ** 2


LOG_HALF, LOG_TWO = math.log(0.5), math.log(2.0)


def prior_beta_pair(la, lb):
    """The Beta-Binomial default priors (docs/bayes.md#default-priors) widened x2:
    log a ~ N(log 0.5, 2^2), log b ~ N(log 2, 3^2)."""
    return half_sq(la, LOG_HALF, 2.0) + half_sq(lb, LOG_TWO, 3.0)


def pair_params(pairs, share: str | None = None) -> dict:
    """Parameters, transforms and weak prior of a family made of positive (a, b) pairs, optionally
    after a share in (0, 1): each pair log a ~ N(log 0.5, 2^2), log b ~ N(log 2, 3^2) (the
    Beta-Binomial defaults of docs/bayes.md#default-priors widened x2), logit share ~ N(0, 3^2)."""
    names = ((share,) if share else ()) + tuple(nm for pair in pairs for nm in pair)
    first = 1 if share else 0

    def prior(t):
        total = half_sq(t[0], 0.0, 3.0) if share else 0.0
        for j in range(len(pairs)):
            total = total + prior_beta_pair(t[first + 2 * j], t[first + 2 * j + 1])
        return total

    text = "; ".join(f"log {a} ~ N(log 0.5, 2^2), log {b} ~ N(log 2, 3^2)" for a, b in pairs)
    return {"param_names": names, "transforms": ("logit",) * first + ("log",) * (2 * len(pairs)), "prior": prior,
            "prior_text": (f"logit {share} ~ N(0, 3^2); " if share else "") + text}


def moments(n, k, W):
    """Weighted intraclass method-of-moments (mean, a + b) per data set (rows with weights W)."""
    nf, kf = n.astype(float), k.astype(float)
    Wn = W @ nf
    mu = np.clip((W @ kf) / np.maximum(Wn, 1e-300), 1e-6, 1 - 1e-6)
    dev = (kf[None, :] - nf[None, :] * mu[:, None]) ** 2 - nf[None, :] * mu[:, None] * (1 - mu[:, None])
    num = np.sum(W * dev, axis=1)
    den = mu * (1 - mu) * (W @ (nf * (nf - 1.0)))
    with np.errstate(divide="ignore", invalid="ignore"):
        rho = num / den
    ok = np.isfinite(rho) & (rho > 1e-4) & (rho < 1 - 1e-4)
    s = np.where(ok, 1.0 / np.where(ok, rho, 0.5) - 1.0, 1.0)
    return mu, np.clip(s, 1e-3, 1e6)
