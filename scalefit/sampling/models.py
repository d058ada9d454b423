"""Models for the distribution of per-item success probability ("mixing distributions").

Every repeated-sampling prediction beyond the observed budget is a statement about the
distribution g of the per-item success probability p near p = 0 (docs/best_of_n.md#exact-asrn):
the benchmark failure rate after N attempts is E[(1 - p)^N], a Laplace-type transform of g.
A single Beta fitted to a small budget is one assumption about that tail; this module offers
several, fitted by maximum (marginal) likelihood on the same data, so that the choice between
them can be made from the data (:mod:`scalefit.sampling.bonfit`).

Families (``MIXING_MODELS``)
----------------------------
``beta``          p ~ Beta(a, b) (the SABER / Schaeffer model).  Tail g(p) ~ p^(a-1).
``zi_beta``       p ~ pi delta_0 + (1 - pi) Beta(a, b): a share pi of items never succeeds.
``beta_mix2``     p ~ w Beta(a1, b1) + (1 - w) Beta(a2, b2), component 1 the harder one; the
                  tail exponent of the hard component is no longer tied to the easy items.
``logit_normal``  logit p ~ Normal(mu, sigma): a log-normal-like tail (thinner than any power
                  law), evaluated on a fixed logit grid with exact cell integrals.

Observations
------------
Each item contributes the likelihood of what was seen, E_g[p^k (1 - p)^(n - k)] for k
successes in n attempts.  This is the exact likelihood both for a fixed budget and for logs that
sample until the first success (in batches) and record every attempt made, because such a
stopping rule depends only on outcomes already observed and is therefore ignorable for the
likelihood (docs/passuntil.md#censoring: the inverse-sampling and censored kernels are the same
r log p + (K - r) log(1 - p)).  For logs that record only *which batch* held the first success
an item contributes the interval-censored term E_g[(1 - p)^L - (1 - p)^U] (no success in the
first L attempts, at least one among attempts L+1..U); this is encoded as a row with ``extra``
= U - L > 0 (see :mod:`scalefit.sampling.censored`).

Numerics
--------
* Beta families use the cancellation-free log-gamma ratios of :mod:`._special`
  (never ``betaln``); log E[p^k (1-p)^(n-k)] = log B(k + a, n - k + b) - log B(a, b).
* The logit-normal and Kumaraswamy families are integrated on a fixed grid of nodes in
  u = logit p (``_GRID_NODES``, step h = 0.05 from -28 to 16) by the trapezoid rule on the
  product density x likelihood, which converges spectrally for integrands smooth on the scale
  of h.  Rows whose likelihood peak is narrower than 3h (many successes at a large budget) use
  the exact integral of the binomial kernel over each node's cell instead (regularised
  incomplete beta), so sharp peaks at large n are not under-resolved.  Kernels are computed
  once per table of rows (scipy).  The mass below the grid (p < 7e-13) sits at p = 0, above it
  at p = 1.  Accuracy against adaptive quadrature: ~1e-6 relative in the likelihood of typical
  rows (tests).
* Fits minimise the mean negative log-likelihood per item over unconstrained parameters by
  damped Newton (:mod:`._optim`) with autodiff Hessians, multi-start, vmapped over starts
  *and over data sets*: every data set is a weight vector over one shared table of distinct
  rows, so bootstrap replicates and internal-backtest splits of one data set are fitted in a
  single compiled program.
* By default (``prior=True``) fits maximise the likelihood times weak priors (``PRIORS``; the
  defaults of docs/bayes.md#default-priors widened x2, normal on the unconstrained scale).  With 100+ items they
  move the estimates by a fraction of a standard error; their job is the flat directions: data
  with no visible over-dispersion (a handful of items solved once each) send the maximum
  likelihood to a + b -> inf, "every item has the same p", which forecasts that every item
  will eventually be solved.  ``prior=False`` gives plain maximum likelihood (the ``beta`` fit
  then equals :func:`fit_beta_binomial`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
from scipy import special as sp

from .._config import require_x64
from .._result import LEVEL, ResultProtocol
from ..errors import ArgumentError
from ._common import as_counts, unique_rows
from ._optim import damped_newton
from .betabinom import _loglik_rows

__all__ = [
    "MIXING_MODELS",
    "MixingFit",
    "fit_mixing",
    "ItemData",
    "ItemPosterior",
    "item_data",
]

MIXING_MODELS: tuple[str, ...] = ("beta", "zi_beta", "beta_mix2", "logit_normal", "kumaraswamy")

_BOUND = 25.0
_GTOL = 1e-9
_NEG_INF = -jnp.inf

# Logit grid for grid families: nodes u_c (step _H in u = logit p); node c stands for the cell
# [u_c - _H/2, u_c + _H/2].
_H = 0.05
_GRID_NODES = np.linspace(-28.0, 16.0, 881)
_GRID_EDGES = np.concatenate([_GRID_NODES - _H / 2, [_GRID_NODES[-1] + _H / 2]])


# --------------------------------------------------------------------------------------------
# item data


@dataclass(frozen=True, eq=False)
class ItemData:
    """Per-item observations: ``k`` successes in ``n`` attempts, optionally followed by an
    interval of ``extra`` attempts known to hold at least one success (batch-censored logs).

    ``first_success`` (1-based attempt of the first success, NaN if none or unknown) is used
    only for exact "continued" rates at budgets below ``n``; ``attempts`` is the number of
    attempts actually made per item (``n + extra`` unless a sample-until-success log was encoded
    with fewer, e.g. only up to the first success).
    """

    n: np.ndarray
    k: np.ndarray
    extra: np.ndarray
    first_success: np.ndarray
    attempts: np.ndarray

    @property
    def size(self) -> int:
        return int(self.n.shape[0])

    @property
    def solved(self) -> np.ndarray:
        """Items with at least one observed success (k > 0 or a censored success interval)."""
        return (self.k > 0) | (self.extra > 0)

    @property
    def has_interval(self) -> bool:
        return bool(np.any(self.extra > 0))

    def take(self, index) -> "ItemData":
        index = np.asarray(index)
        return ItemData(self.n[index], self.k[index], self.extra[index], self.first_success[index],
                        self.attempts[index])


def item_data(n, k, extra=None, first_success=None, attempts=None) -> ItemData:
    """Validate per-item counts into an :class:`ItemData` (one entry per item).

    Parameters
    ----------
    n, k : array_like of int
        Attempts and successes per item (a scalar ``n`` is broadcast).
    extra : array_like of int, optional
        For interval-censored items: the number of further attempts (after the ``n`` failures)
        among which at least one succeeded; 0 otherwise.  Items with ``extra > 0`` need k = 0.
    first_success : array_like, optional
        1-based attempt of the first success (NaN when none).
    attempts : array_like of int, optional
        Attempts actually made per item (default ``n + extra``).

    Examples
    --------
    >>> from scalefit.sampling import item_data
    >>> item_data(100, [0, 3, 1]).n.tolist()
    [100, 100, 100]
    """
    k = np.atleast_1d(as_counts("k", k))
    n = np.atleast_1d(as_counts("n", n, min_value=0))
    if n.size == 1 and k.size > 1:
        n = np.full(k.shape, int(n[0]), dtype=np.int64)
    if n.shape != k.shape or k.ndim != 1:
        raise ArgumentError(f"`n` (shape {n.shape}) and `k` (shape {k.shape}) must be 1-D with one entry per item")
    if k.size == 0:
        raise ArgumentError("`k` is empty: at least one item is needed")
    bad = k > n
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ArgumentError(f"`k` = {k[i]} exceeds `n` = {n[i]}: successes cannot outnumber attempts")
    if extra is None:
        extra = np.zeros_like(n)
    else:
        extra = np.atleast_1d(as_counts("extra", extra))
        if extra.size == 1 and n.size > 1:
            extra = np.full(n.shape, int(extra[0]), dtype=np.int64)
        if extra.shape != n.shape:
            raise ArgumentError(f"`extra` has {extra.size} entries but there are {n.size} items")
        both = (extra > 0) & (k > 0)
        if both.any():
            i = int(np.flatnonzero(both)[0])
            raise ArgumentError(
                f"`extra` = {extra[i]} with `k` = {k[i]}: an interval-censored item has no exactly "
                "counted successes (k = 0)"
            )
    empty = (n == 0) & (extra == 0)
    if empty.any():
        raise ArgumentError(f"`n` = 0 for {int(empty.sum())} item(s) without any observation")
    if first_success is None:
        fs = np.full(n.shape, np.nan)
    else:
        fs = np.atleast_1d(np.asarray(first_success, dtype=float))
        if fs.shape != n.shape:
            raise ArgumentError(f"`first_success` has {fs.size} entries but there are {n.size} items")
    if attempts is None:
        made = n + extra
    else:
        made = np.atleast_1d(as_counts("attempts", attempts, min_value=1))
        if made.shape != n.shape:
            raise ArgumentError(f"`attempts` has {made.size} entries but there are {n.size} items")
    return ItemData(n.astype(np.int64), k.astype(np.int64), extra.astype(np.int64), fs, made.astype(np.int64))


class _Rows(NamedTuple):
    """Distinct (n, k, extra) rows shared by a batch of data sets, padded to a power of two."""

    n: np.ndarray
    k: np.ndarray
    extra: np.ndarray
    index: np.ndarray  # item -> row
    size: int  # number of real rows


def _rows(n, k, extra) -> _Rows:
    n = np.asarray(n, np.int64)
    k = np.asarray(k, np.int64)
    extra = np.asarray(extra, np.int64)
    table, index, _ = unique_rows(n, k, extra)
    size = table.shape[0]
    padded = max(16, 8 ** int(np.ceil(np.log(max(size, 1)) / np.log(8) - 1e-9)))  # coarse buckets: fewer compiles
    pad = padded - size
    rn = np.concatenate([table[:, 0], np.ones(pad, np.int64)])
    rk = np.concatenate([table[:, 1], np.zeros(pad, np.int64)])
    re = np.concatenate([table[:, 2], np.zeros(pad, np.int64)])
    return _Rows(rn, rk, re, index.ravel(), size)


def _weights(index: np.ndarray, size: int, multiplicity: np.ndarray) -> np.ndarray:
    """Row weights (D, size) from item multiplicities (D, items)."""
    mult = np.atleast_2d(multiplicity).astype(float)
    out = np.zeros((mult.shape[0], size))
    np.add.at(out.T, index, mult.T)
    return out


# --------------------------------------------------------------------------------------------
# grid kernels (numpy / scipy, computed once per table of rows)


def _log_cell_kernel(n, k, extra_failures=0.0) -> np.ndarray:
    """log of the p-average over each node's cell of p^k (1 - p)^(n - k + e), shape (rows, nodes).

    Exact cell integrals via the regularised incomplete beta function, taken from the lower or
    the upper tail (whichever is below 1/2) to avoid cancellation; Q = 1 - P is formed as
    expit(-u) so that cells near p = 1 keep their precision.
    """
    a = np.asarray(k, float)[:, None] + 1.0
    b = np.asarray(n, float)[:, None] - np.asarray(k, float)[:, None] + np.asarray(extra_failures, float) + 1.0
    a, b = np.broadcast_arrays(a, b)
    u = _GRID_EDGES[None, :]
    P = sp.expit(u)
    Q = sp.expit(-u)
    low = sp.betainc(a[:, :1], b[:, :1], P)
    up = sp.betainc(b[:, :1], a[:, :1], Q)
    use_low = low[:, 1:] < 0.5
    diff = np.where(use_low, low[:, 1:] - low[:, :-1], up[:, :-1] - up[:, 1:])
    dp = np.where(_GRID_EDGES[1:] <= 0, P[:, 1:] - P[:, :-1], Q[:, :-1] - Q[:, 1:])
    with np.errstate(divide="ignore"):
        out = sp.betaln(a[:, :1], b[:, :1]) + np.log(np.maximum(diff, 0.0)) - np.log(dp)
    return out


def _grid_aux(n, k, extra_failures=0.0) -> dict:
    """Log likelihood weights of the grid families at the nodes for rows (n, k) (+ e failures).

    Point values k log p + (n - k + e) log(1 - p) at the nodes (trapezoid rule), except for rows
    whose likelihood peak in u is narrower than 3 node steps, which get exact cell averages.
    """
    n = np.asarray(n, float)
    k = np.asarray(k, float)
    e = np.broadcast_to(np.asarray(extra_failures, float), n.shape)
    fails = n - k + e
    u = _GRID_NODES[None, :]
    with np.errstate(invalid="ignore"):
        ker = k[:, None] * sp.log_expit(u) + fails[:, None] * sp.log_expit(-u)
    tot = k + fails
    phat = (k + 0.5) / (tot + 1.0)
    width = 1.0 / np.sqrt(np.maximum(tot * phat * (1.0 - phat), 1e-300))
    narrow = width < 3.0 * _H
    if narrow.any():
        ker[narrow] = _log_cell_kernel(tot[narrow], k[narrow])
    zero = np.where(k == 0, 0.0, -np.inf)  # point mass at p = 0 (below the grid)
    one = np.where(fails == 0, 0.0, -np.inf)  # point mass at p = 1 (above the grid)
    return {"ker": ker, "zero": zero, "one": one}


# --------------------------------------------------------------------------------------------
# families (pure JAX kernels: log E_g[p^k (1 - p)^(n - k)] per row)


def _bb(a, b, n, k):
    return _loglik_rows(a, b, n, k)


def _kernel_beta(theta, n, k, aux):
    return _bb(jnp.exp(theta[0]), jnp.exp(theta[1]), n, k)


def _kernel_zi_beta(theta, n, k, aux):
    log_pi = jax.nn.log_sigmoid(theta[0])
    log_1mpi = jax.nn.log_sigmoid(-theta[0])
    bb = _bb(jnp.exp(theta[1]), jnp.exp(theta[2]), n, k)
    zero = jnp.where(k == 0, log_pi, _NEG_INF)
    return jnp.logaddexp(zero, log_1mpi + bb)


def _kernel_beta_mix2(theta, n, k, aux):
    l1 = jax.nn.log_sigmoid(theta[0]) + _bb(jnp.exp(theta[1]), jnp.exp(theta[2]), n, k)
    l2 = jax.nn.log_sigmoid(-theta[0]) + _bb(jnp.exp(theta[3]), jnp.exp(theta[4]), n, k)
    return jnp.logaddexp(l1, l2)


def _node_masses(log_density, below, above):
    """Node masses from the log density in u at the nodes (trapezoid), normalised so that they
    and the two tail lumps sum to one."""
    lm = log_density + jnp.log(_H)
    tails = jnp.logaddexp(below, above)
    return lm - jax.nn.logsumexp(lm) + _log1mexp(jnp.minimum(tails, -1e-300)), below, above


def _logit_normal_masses(theta):
    from jax.scipy.special import log_ndtr

    mu, sigma = theta[0], jnp.exp(theta[1])
    z = (jnp.asarray(_GRID_NODES) - mu) / sigma
    log_density = -0.5 * z * z - theta[1] - 0.5 * math.log(2.0 * math.pi)
    below = log_ndtr((_GRID_EDGES[0] - mu) / sigma)
    above = log_ndtr(-(_GRID_EDGES[-1] - mu) / sigma)
    return _node_masses(log_density, below, above)


def _kernel_grid(log_masses, aux):
    cells, below, above = log_masses
    body = jax.nn.logsumexp(aux["ker"] + cells[None, :], axis=1)
    out = jnp.logaddexp(body, below + aux["zero"])
    return jnp.logaddexp(out, above + aux["one"])


def _kernel_logit_normal(theta, n, k, aux):
    return _kernel_grid(_logit_normal_masses(theta), aux)


def _log1m_pow(a, log_p):
    """log(1 - p^a) from log p, accurate for p^a -> 0 and p^a -> 1."""
    x = a * log_p
    return jnp.where(x < -0.693, jnp.log1p(-jnp.exp(x)), jnp.log(-jnp.expm1(x)))


def _kumaraswamy_masses(theta):
    """Node masses of p ~ Kumaraswamy(a, b); density in u: a b p^a (1 - p^a)^(b - 1) (1 - p)."""
    a, b = jnp.exp(theta[0]), jnp.exp(theta[1])
    u = jnp.asarray(_GRID_NODES)
    log_p = jax.nn.log_sigmoid(u)
    log_q = jax.nn.log_sigmoid(-u)
    log_density = theta[0] + theta[1] + a * log_p + (b - 1.0) * _log1m_pow(a, log_p) + log_q
    lp_lo = jax.nn.log_sigmoid(jnp.asarray(_GRID_EDGES[0]))
    lp_hi = jax.nn.log_sigmoid(jnp.asarray(_GRID_EDGES[-1]))
    below = _log1mexp(jnp.minimum(b * _log1m_pow(a, lp_lo), -1e-300))  # F = 1 - (1 - p^a)^b
    above = b * _log1m_pow(a, lp_hi)
    return _node_masses(log_density, below, above)


def _kernel_kumaraswamy(theta, n, k, aux):
    return _kernel_grid(_kumaraswamy_masses(theta), aux)


def _half_sq(x, mean, sd):
    return 0.5 * ((x - mean) / sd) ** 2


_LOG_HALF, _LOG_TWO = math.log(0.5), math.log(2.0)


def _prior_beta_pair(la, lb):
    # the Beta-Binomial default priors of docs/bayes.md#default-priors, widened x2: log a ~ N(log 0.5, 2^2),
    # log b ~ N(log 2, 3^2).
    return _half_sq(la, _LOG_HALF, 2.0) + _half_sq(lb, _LOG_TWO, 3.0)


def _prior_beta(theta):
    return _prior_beta_pair(theta[0], theta[1])


def _prior_zi_beta(theta):
    return _half_sq(theta[0], 0.0, 3.0) + _prior_beta_pair(theta[1], theta[2])


def _prior_beta_mix2(theta):
    return (_half_sq(theta[0], 0.0, 3.0) + _prior_beta_pair(theta[1], theta[2])
            + _prior_beta_pair(theta[3], theta[4]))


def _prior_logit_normal(theta):
    return _half_sq(theta[0], 0.0, 10.0) + _half_sq(theta[1], _LOG_TWO, 2.0)


def _prior_kumaraswamy(theta):
    return _prior_beta_pair(theta[0], theta[1])


class _Family(NamedTuple):
    name: str
    param_names: tuple
    kernel: Callable
    penalty: Callable
    grid: bool
    description: str


_FAMILIES: dict[str, _Family] = {
    "beta": _Family("beta", ("a", "b"), _kernel_beta, _prior_beta, False,
                    "p ~ Beta(a, b)"),
    "zi_beta": _Family("zi_beta", ("pi", "a", "b"), _kernel_zi_beta, _prior_zi_beta, False,
                       "p ~ pi delta_0 + (1 - pi) Beta(a, b)"),
    "beta_mix2": _Family("beta_mix2", ("w", "a1", "b1", "a2", "b2"), _kernel_beta_mix2,
                         _prior_beta_mix2, False,
                         "p ~ w Beta(a1, b1) + (1 - w) Beta(a2, b2)"),
    "logit_normal": _Family("logit_normal", ("mu", "sigma"), _kernel_logit_normal,
                            _prior_logit_normal, True, "logit p ~ Normal(mu, sigma)"),
    "kumaraswamy": _Family("kumaraswamy", ("a", "b"), _kernel_kumaraswamy, _prior_kumaraswamy, True,
                           "p ~ Kumaraswamy(a, b): density a b p^(a-1) (1 - p^a)^(b-1)"),
}

#: The weak priors of ``prior=True`` fits (normal on the unconstrained scale, per data set).
PRIORS = {
    "beta": "log a ~ N(log 0.5, 2^2), log b ~ N(log 2, 3^2)  (docs/bayes.md#default-priors widened x2)",
    "zi_beta": "logit pi ~ N(0, 3^2); log a, log b as for beta",
    "beta_mix2": "logit w ~ N(0, 3^2); each component's log a_j, log b_j as for beta",
    "logit_normal": "mu ~ N(0, 10^2), log sigma ~ N(log 2, 2^2)",
    "kumaraswamy": "log a ~ N(log 0.5, 2^2), log b ~ N(log 2, 3^2)",
}


def _family(model: str) -> _Family:
    if model not in _FAMILIES:
        raise ArgumentError(f"`model` = {model!r} is not one of {', '.join(map(repr, MIXING_MODELS))}")
    return _FAMILIES[model]


def _theta_to_natural(model: str, theta) -> dict:
    t = np.asarray(theta, float)
    if model == "beta":
        return {"a": float(np.exp(t[0])), "b": float(np.exp(t[1]))}
    if model == "zi_beta":
        return {"pi": float(sp.expit(t[0])), "a": float(np.exp(t[1])), "b": float(np.exp(t[2]))}
    if model == "beta_mix2":
        return {"w": float(sp.expit(t[0])), "a1": float(np.exp(t[1])), "b1": float(np.exp(t[2])),
                "a2": float(np.exp(t[3])), "b2": float(np.exp(t[4]))}
    if model == "logit_normal":
        return {"mu": float(t[0]), "sigma": float(np.exp(t[1]))}
    if model == "kumaraswamy":
        return {"a": float(np.exp(t[0])), "b": float(np.exp(t[1]))}
    raise ArgumentError(f"`model` = {model!r} is unknown")


def _natural_to_theta(model: str, params: dict) -> np.ndarray:
    try:
        if model == "beta":
            return np.log([params["a"], params["b"]])
        if model == "zi_beta":
            return np.array([sp.logit(params["pi"]), np.log(params["a"]), np.log(params["b"])])
        if model == "beta_mix2":
            return np.array([sp.logit(params["w"]), np.log(params["a1"]), np.log(params["b1"]),
                             np.log(params["a2"]), np.log(params["b2"])])
        if model == "logit_normal":
            return np.array([params["mu"], np.log(params["sigma"])])
        if model == "kumaraswamy":
            return np.log([params["a"], params["b"]])
    except KeyError as exc:
        raise ArgumentError(f"`params` lacks {exc.args[0]!r} for model {model!r}") from None
    raise ArgumentError(f"`model` = {model!r} is unknown")


def _canonical_theta(model: str, theta: np.ndarray) -> np.ndarray:
    """Order mixture components by mean (component 1 = the harder one)."""
    theta = np.array(theta, float, copy=True)
    if model == "beta_mix2":
        m1 = theta[..., 1] - np.logaddexp(theta[..., 1], theta[..., 2])
        m2 = theta[..., 3] - np.logaddexp(theta[..., 3], theta[..., 4])
        swap = m1 > m2
        if np.any(swap):
            t = theta[swap]
            theta[swap] = np.stack([-t[:, 0], t[:, 3], t[:, 4], t[:, 1], t[:, 2]], axis=1)
    return theta


# --------------------------------------------------------------------------------------------
# starts (numpy, per data set)


def _moments(n, k, W):
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


def _split_starts(n, k, W, q: float) -> np.ndarray:
    """Two-cluster starts for the Beta mixture: rows split at the weighted q-quantile of k / n,
    each cluster's (a, b) by moments (concentration 2 when it has no over-dispersion)."""
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
            mu_c, s_c = _moments(n, k, ww[None, :])
            mu_c = np.clip(mu_c[0], 1e-6, 1 - 1e-6)
            s_c = float(np.clip(s_c[0], 0.5, 1e4))
            parts.append((np.log(mu_c * s_c), np.log((1 - mu_c) * s_c)))
        out[d] = [sp.logit(share), *parts[0], *parts[1]]
    return out


def _starts(model: str, n, k, W) -> np.ndarray:
    """Start points (D, S, P) on the unconstrained scale."""
    mu, s = _moments(n, k, W)
    lmu, l1mu = np.log(mu), np.log1p(-mu)
    D = W.shape[0]
    if model == "beta":
        st = [np.stack([lmu + np.log(s), l1mu + np.log(s)], 1),
              np.stack([lmu + np.log(2.0), l1mu + np.log(2.0)], 1)]
    elif model == "zi_beta":
        st = []
        for pi0 in (0.05, 0.4):
            m = np.clip(mu / (1 - pi0), 1e-6, 1 - 1e-6)
            st.append(np.stack([np.full(D, sp.logit(pi0)), np.log(m) + np.log(s), np.log1p(-m) + np.log(s)], 1))
    elif model == "beta_mix2":
        st = [_split_starts(n, k, W, q) for q in (0.5, 0.75, 0.9)]
        for w0, lo, hi, c1, c2 in ((0.5, 0.3, 3.0, 2.0, 2.0), (0.7, 0.1, 4.0, 1.0, 5.0)):
            m1 = np.clip(mu * lo, 1e-7, 0.5)
            m2 = np.clip(mu * hi, 1e-6, 0.95)
            st.append(np.stack([np.full(D, sp.logit(w0)), np.log(m1 * c1), np.log((1 - m1) * c1),
                                np.log(m2 * c2), np.log((1 - m2) * c2)], 1))
    elif model == "logit_normal":
        lg = np.log(mu) - np.log1p(-mu)
        st = [np.stack([lg - 1.0, np.full(D, np.log(2.0))], 1),
              np.stack([lg - 4.0, np.full(D, np.log(4.0))], 1)]
    elif model == "kumaraswamy":
        # A heavy-tailed start (a = 0.3) and a light one (a = 1, mean ~ 1 / (1 + b) = mu).
        st = [np.stack([np.full(D, np.log(0.3)), np.full(D, np.log(3.0))], 1),
              np.stack([np.zeros(D), np.log(np.clip(1.0 / mu - 1.0, 1e-3, 1e6))], 1)]
    else:  # pragma: no cover
        raise ArgumentError(f"`model` = {model!r} is unknown")
    return np.clip(np.stack(st, axis=1), -_BOUND + 1.0, _BOUND - 1.0)


# --------------------------------------------------------------------------------------------
# analytic row derivatives for the fits
#
# Every family's per-row likelihood is a (signed) sum of components, S = sum_j s_j exp(c_j(theta)),
# so with responsibilities r_j = s_j exp(c_j) / S:
#     d log S = sum_j r_j dc_j,   d2 log S = sum_j r_j (d2c_j + dc_j dc_j^T) - (d log S)(d log S)^T.
# Component derivatives are analytic (digamma/trigamma for Beta components, a 2-parameter autodiff
# of the cell masses for the logit grid), so no Hessian is ever traced through the special
# functions: the compiled programs stay small.


def _combine(c, G, H):
    """log-sum over components (axis 0) of c (J, R) with gradients G (J, P, R), Hessians H (J, P, P, R)."""
    ll = jax.nn.logsumexp(c, axis=0)
    r = jnp.exp(c - ll[None, :])
    g = jnp.einsum("jr,jpr->pr", r, G)
    M = H + G[:, :, None, :] * G[:, None, :, :]
    h = jnp.einsum("jr,jpqr->pqr", r, M) - g[:, None, :] * g[None, :, :]
    return ll, g, h


def _embed(g, H, P, at):
    """Place a component's (2, R) gradient / (2, 2, R) Hessian at parameter positions ``at``."""
    R = g.shape[-1]
    G = jnp.zeros((P, R)).at[at[0]].set(g[0]).at[at[1]].set(g[1])
    HH = jnp.zeros((P, P, R))
    for i in range(2):
        for j in range(2):
            HH = HH.at[at[i], at[j]].set(H[i, j])
    return G, HH


def _derivs_beta(theta, n, k, aux):
    from .betabinom import _bb_row_derivs

    return _bb_row_derivs(theta, n, k)


def _weight_parts(t, R, P, sign):
    """log sigmoid(sign * t) and its derivatives in t (parameter 0) for R rows."""
    pi = jax.nn.sigmoid(t)
    c = jax.nn.log_sigmoid(sign * t)
    d1 = (1.0 - pi) if sign > 0 else -pi
    G = jnp.zeros((P, R)).at[0].set(d1)
    H = jnp.zeros((P, P, R)).at[0, 0].set(-pi * (1.0 - pi))
    return c, G, H


def _derivs_zi_beta(theta, n, k, aux):
    from .betabinom import _bb_row_derivs

    R = n.shape[0]
    ll_bb, g_bb, H_bb = _bb_row_derivs(theta[1:], n, k)
    c0, G0, H0 = _weight_parts(theta[0], R, 3, +1)
    c0 = jnp.where(k == 0, c0, _NEG_INF)
    c1, G1, H1 = _weight_parts(theta[0], R, 3, -1)
    Gb, Hb = _embed(g_bb, H_bb, 3, (1, 2))
    c = jnp.stack([c0, c1 + ll_bb])
    G = jnp.stack([G0, G1 + Gb])
    H = jnp.stack([H0, H1 + Hb])
    return _combine(c, G, H)


def _derivs_beta_mix2(theta, n, k, aux):
    from .betabinom import _bb_row_derivs

    R = n.shape[0]
    l1, g1, h1 = _bb_row_derivs(theta[1:3], n, k)
    l2, g2, h2 = _bb_row_derivs(theta[3:5], n, k)
    w1, Gw1, Hw1 = _weight_parts(theta[0], R, 5, +1)
    w2, Gw2, Hw2 = _weight_parts(theta[0], R, 5, -1)
    G1, H1 = _embed(g1, h1, 5, (1, 2))
    G2, H2 = _embed(g2, h2, 5, (3, 4))
    c = jnp.stack([w1 + l1, w2 + l2])
    G = jnp.stack([Gw1 + G1, Gw2 + G2])
    H = jnp.stack([Hw1 + H1, Hw2 + H2])
    return _combine(c, G, H)


def _all_masses(masses_fn):
    def fn(theta):
        cells, below, above = masses_fn(theta)
        return jnp.concatenate([cells, below[None], above[None]])

    return fn


def _derivs_grid(masses_fn, theta, aux):
    fn = _all_masses(masses_fn)
    lm = fn(theta)  # (C + 2,)
    J = jax.jacfwd(fn)(theta)  # (C + 2, P)
    Hm = jax.jacfwd(jax.jacfwd(fn))(theta)  # (C + 2, P, P)
    K = jnp.concatenate([aux["ker"], aux["zero"][:, None], aux["one"][:, None]], axis=1)  # (R, C + 2)
    c = K + lm[None, :]
    ll = jax.nn.logsumexp(c, axis=1)
    r = jnp.exp(c - ll[:, None])
    g = r @ J  # (R, P)
    M = Hm + J[:, :, None] * J[:, None, :]
    h = jnp.einsum("rc,cpq->rpq", r, M) - g[:, :, None] * g[:, None, :]
    return ll, g.T, jnp.moveaxis(h, 0, -1)


def _derivs_logit_normal(theta, n, k, aux):
    return _derivs_grid(_logit_normal_masses, theta, aux)


def _derivs_kumaraswamy(theta, n, k, aux):
    return _derivs_grid(_kumaraswamy_masses, theta, aux)


_DERIVS = {
    "beta": _derivs_beta,
    "zi_beta": _derivs_zi_beta,
    "beta_mix2": _derivs_beta_mix2,
    "logit_normal": _derivs_logit_normal,
    "kumaraswamy": _derivs_kumaraswamy,
}


def _row_derivs(model, theta, rows, aux, aux_int, interval: bool):
    """Per-row log-likelihood with gradient (P, R) and Hessian (P, P, R); interval rows use
    log(A - B) with A = kernel(n, k), B = kernel(n + extra, k)."""
    n, k, extra = rows
    fn = _DERIVS[model]
    la, ga, ha = fn(theta, n, k, aux)
    if not interval:
        return la, ga, ha
    lb, gb, hb = fn(theta, n + extra, k, aux_int)
    iv = extra > 0
    d = jnp.where(iv, jnp.minimum(lb - la, -1e-300), -1.0)
    rho = jnp.exp(d)
    one_m = -jnp.expm1(d)
    ll = la + _log1mexp(d)
    g = (ga - rho * gb) / one_m
    Ma = ha + ga[:, None, :] * ga[None, :, :]
    Mb = hb + gb[:, None, :] * gb[None, :, :]
    h = (Ma - rho * Mb) / one_m - g[:, None, :] * g[None, :, :]
    return (jnp.where(iv, ll, la), jnp.where(iv, g, ga), jnp.where(iv, h, ha))


def _log1mexp(x):
    return jnp.where(x > -0.693, jnp.log(-jnp.expm1(x)), jnp.log1p(-jnp.exp(x)))


@lru_cache(maxsize=None)
def _batch_fitter(model: str, interval: bool, prior: bool):
    fam = _FAMILIES[model]
    pen = fam.penalty if prior else (lambda t: 0.0 * jnp.sum(t))
    pen_g = jax.grad(pen)
    pen_h = jax.hessian(pen)
    max_iter = 300 if model == "beta_mix2" else 150

    def fgh(theta, rows, w, aux, aux_int):
        W = jnp.sum(w)
        ll, g, h = _row_derivs(model, theta, rows, aux, aux_int, interval)
        ok = w > 0
        ll = jnp.where(ok, ll, 0.0)
        g = jnp.where(ok[None, :], g, 0.0)
        h = jnp.where(ok[None, None, :], h, 0.0)
        f = -(jnp.sum(w * ll) - pen(theta)) / W
        grad = -(g @ w - pen_g(theta)) / W
        hess = -(h @ w - pen_h(theta)) / W
        return f, grad, hess

    def one(theta0, w, rows, aux, aux_int):
        return damped_newton(fgh, theta0, (rows, w, aux, aux_int), max_iter=max_iter, gtol=_GTOL,
                             bound=_BOUND)

    @jax.jit
    def run(theta0, W, rows, aux, aux_int):
        res = jax.vmap(one, in_axes=(0, 0, None, None, None))(theta0, W, rows, aux, aux_int)
        return res.theta, res.f, res.converged, res.grad_norm

    return run


def _run_chunks(run, theta0, Wp, rws, aux, aux_int, chunk):
    """One damped-Newton pass from one start per data set, in fixed-size chunks (one compiled
    program per family and row bucket, whatever the number of data sets)."""
    D = Wp.shape[0]
    pad = (-D) % chunk
    if pad:
        Wp = np.concatenate([Wp, np.repeat(Wp[:1], pad, axis=0)])
        theta0 = np.concatenate([theta0, np.repeat(theta0[:1], pad, axis=0)])
    outs = [run(jnp.asarray(theta0[i:i + chunk]), jnp.asarray(Wp[i:i + chunk]), rws, aux, aux_int)
            for i in range(0, D + pad, chunk)]
    return tuple(np.concatenate([np.asarray(o[j]) for o in outs])[:D] for j in range(4))


def _fit_batch(model: str, rows: _Rows, W: np.ndarray, *, aux=None, aux_int=None, theta0=None,
               prior: bool = True):
    """Fit ``model`` to every weight vector in W (D, rows); returns numpy arrays.

    Without ``theta0`` every default start (``_starts``) is run and the best kept; with a warm
    start ``theta0`` (D, P) that one is run, and the default starts only for data sets where it
    did not converge.  Returns (theta (D, P), mean nll (D,), converged (D,), grad_norm (D,),
    number of starts that reached the best value (D,)).
    """
    require_x64()
    fam = _family(model)
    interval = bool(np.any(rows.extra > 0))
    Wp = np.zeros((W.shape[0], rows.n.shape[0]))
    Wp[:, : W.shape[1]] = W
    if fam.grid:
        if aux is None:
            aux = _grid_aux(rows.n, rows.k)
        if interval and aux_int is None:
            aux_int = _grid_aux(rows.n + rows.extra, rows.k)
    aux = {kk: jnp.asarray(v) for kk, v in aux.items()} if aux is not None else {}
    aux_int = {kk: jnp.asarray(v) for kk, v in aux_int.items()} if aux_int is not None else {}
    D = Wp.shape[0]
    chunk = 8 if fam.grid else 16  # one compiled program per family and row bucket, whatever D
    run = _batch_fitter(model, interval, bool(prior))
    rws = (jnp.asarray(rows.n, float), jnp.asarray(rows.k, float), jnp.asarray(rows.extra, float))

    def best_of(starts, idx):
        """Run every start (S, len(idx), P) for data sets idx; best per data set."""
        res = [_run_chunks(run, st, Wp[idx], rws, aux, aux_int, chunk) for st in starts]
        fs = np.stack([np.where(np.isfinite(r[1]), r[1], np.inf) for r in res])  # (S, n)
        b = np.argmin(fs, axis=0)
        pick = lambda j: np.stack([r[j] for r in res])[b, np.arange(len(idx))]  # noqa: E731
        nb = np.sum(fs <= fs[b, np.arange(len(idx))] + 1e-7 * (1 + np.abs(fs[b, np.arange(len(idx))])), axis=0)
        return pick(0), pick(1), pick(2), pick(3), nb

    if theta0 is None:
        st = np.moveaxis(_starts(model, rows.n, rows.k, Wp), 1, 0)  # (S, D, P)
        th, f, conv, gn, nb = best_of(st, np.arange(D))
    else:
        warm = np.broadcast_to(np.asarray(theta0, float), (D, len(fam.param_names)))
        th, f, conv, gn = _run_chunks(run, np.ascontiguousarray(warm), Wp, rws, aux, aux_int, chunk)
        nb = np.ones(D, dtype=int)
        bad = np.flatnonzero(~conv | ~np.isfinite(f))
        if bad.size:
            st = np.moveaxis(_starts(model, rows.n, rows.k, Wp[bad]), 1, 0)
            th2, f2, conv2, gn2, nb2 = best_of(st, bad)
            better = ~(np.isfinite(f[bad]) & (f[bad] <= f2))
            for arr, new in ((th, th2), (f, f2), (conv, conv2), (gn, gn2), (nb, nb2)):
                arr[bad[better]] = new[better]
    th = _canonical_theta(model, np.asarray(th))
    return th, np.asarray(f), np.asarray(conv), np.asarray(gn), np.asarray(nb)


# --------------------------------------------------------------------------------------------
# predictions (vectorised over parameter sets)


@lru_cache(maxsize=None)
def _kernel_fn(model: str):
    fam = _FAMILIES[model]

    @jax.jit
    def run(thetas, n, k, aux):
        return jax.vmap(lambda t: fam.kernel(t, n, k, aux))(thetas)

    return run


def _log_kernel(model: str, thetas: np.ndarray, n, k, extra_failures=0.0) -> np.ndarray:
    """log E_g[p^k (1 - p)^(n - k + e)] for parameter sets (T, P) and items: shape (T, items)."""
    fam = _family(model)
    n = np.asarray(n, float)
    k = np.asarray(k, float)
    e = np.broadcast_to(np.asarray(extra_failures, float), n.shape)
    thetas = np.atleast_2d(thetas)
    # Evaluate on distinct (n + e, k) rows only.
    if np.all(n + e == np.round(n + e)) and np.all(n + e < 2**53):
        table, inv, _ = unique_rows((n + e).astype(np.int64), k.astype(np.int64))
        table = table.astype(float)
    else:
        table, inv = np.unique(np.stack([n + e, k], 1), axis=0, return_inverse=True)
    size = table.shape[0]
    padded = max(16, 1 << int(np.ceil(np.log2(size))))
    nn = np.concatenate([table[:, 0], np.ones(padded - size)])
    kk = np.concatenate([table[:, 1], np.zeros(padded - size)])
    aux = {key: jnp.asarray(v) for key, v in _grid_aux(nn, kk).items()} if fam.grid else {}
    T = thetas.shape[0]
    chunk = 64
    pad = (-T) % chunk
    th = np.concatenate([thetas, np.repeat(thetas[:1], pad, axis=0)]) if pad else thetas
    fn = _kernel_fn(model)
    args = (jnp.asarray(nn), jnp.asarray(kk), aux)
    out = np.concatenate([np.asarray(fn(jnp.asarray(th[i:i + chunk]), *args)) for i in range(0, T + pad, chunk)])[:T]
    return out[:, inv.ravel()]


def _log_obs(model: str, thetas, data: ItemData, more_failures=0.0) -> np.ndarray:
    """log E_g[(1 - p)^m x (likelihood of the item's observations)], shape (T, items)."""
    m = np.broadcast_to(np.asarray(more_failures, float), data.n.shape)
    base = _log_kernel(model, thetas, data.n, data.k, m)
    if data.has_interval:
        iv = data.extra > 0
        upper = _log_kernel(model, thetas, data.n, data.k, m + data.extra)
        d = np.minimum(upper - base, -1e-300)
        with np.errstate(divide="ignore"):
            adj = np.where(d > -0.693, np.log(-np.expm1(d)), np.log1p(-np.exp(d)))
        base = np.where(iv[None, :], base + adj, base)
    return base


def _solve_prob(model: str, thetas, data: ItemData, N, target: str) -> np.ndarray:
    """Per-item probability of at least one success within budget N: shape (T, items).

    ``target="fresh"``: a new run of N attempts (posterior predictive of 1 - (1 - p)^N).
    ``target="continued"``: the observed attempts count towards N.  What the log decides is
    used exactly -- a recorded first success (solved iff it came at attempt <= N), successes
    among n counted attempts (solved for N >= n; Chen's unbiased estimate for N < n), n failed
    attempts (not solved for N <= n) -- and the model fills in the rest: the chance of a first
    success in attempts n + 1..N given the item's observations (for a batch-censored item, the
    chance that its success interval's first success falls at or before N).
    """
    from .passk import pass_at_k

    N = float(N)
    thetas = np.atleast_2d(thetas)
    if target == "fresh":
        lz = _log_obs(model, thetas, data)
        lf = _log_obs(model, thetas, data, N)
        return -np.expm1(np.minimum(lf - lz, 0.0))
    if target != "continued":
        raise ArgumentError(f"`target` = {target!r} is not one of 'fresh', 'continued'")
    n = data.n.astype(float)
    T, I = thetas.shape[0], data.size
    out = np.zeros((T, I))
    fs = data.first_success
    known = np.isfinite(fs)
    out[:, known] = (fs[known] <= N).astype(float)[None, :]
    counted = ~known & (data.k > 0)
    if counted.any():
        full = counted & (n <= N)
        out[:, full] = 1.0
        part = counted & (n > N)
        if part.any():
            out[:, part] = pass_at_k(data.n[part], data.k[part], int(math.floor(N)))[None, :]
    iv = ~known & (data.k == 0) & (data.extra > 0)
    if iv.any():
        hi = n + data.extra
        out[:, iv & (hi <= N)] = 1.0
        mid = np.flatnonzero(iv & (n < N) & (hi > N))
        if mid.size:
            sub = data.take(mid)
            plain = item_data(sub.n, sub.k)  # the n failures only
            base = _log_obs(model, thetas, plain)
            a = _log_obs(model, thetas, plain, N - sub.n) - base  # log E[(1-p)^(N-n) | n failures]
            b = _log_obs(model, thetas, plain, sub.extra.astype(float)) - base
            # P(first success in (n, N] | success in (n, n + d]) = (1 - F(N - n)) / (1 - F(d))
            out[:, mid] = -np.expm1(np.minimum(a, 0.0)) / np.maximum(-np.expm1(np.minimum(b, 0.0)), 1e-300)
    fail = ~known & (data.k == 0) & (data.extra == 0)
    ahead = np.flatnonzero(fail & (n < N))
    if ahead.size:
        sub = data.take(ahead)
        lz = _log_obs(model, thetas, sub)
        lf = _log_obs(model, thetas, sub, N - sub.n.astype(float))
        out[:, ahead] = -np.expm1(np.minimum(lf - lz, 0.0))
    return out


# --------------------------------------------------------------------------------------------
# per-item posteriors on the logit grid (numpy; used by the sampling planner)


class ItemPosterior(NamedTuple):
    """Per-item posterior of the success probability p on a fixed grid of nodes.

    ``p`` (C,) holds the nodes, ``p[0] = 0`` and ``p[-1] = 1`` standing for the mass below and
    above the logit grid; ``log_w`` (items, C) the normalised log posterior weights.  Anything
    that can produce this (a fitted mixing distribution, a pooled model) can drive the planner
    (:func:`scalefit.sampling.plan`).
    """

    p: np.ndarray
    log_w: np.ndarray


def _beta_cell_log_masses(a: float, b: float):
    """log masses of Beta(a, b) on the logit grid's cells, below and above it (scipy, accurate
    in both tails: each cell is a difference of the lower or the upper regularised incomplete beta,
    whichever is below 1/2)."""
    P = sp.expit(_GRID_EDGES)
    Q = sp.expit(-_GRID_EDGES)
    low = sp.betainc(a, b, P)
    up = sp.betainc(b, a, Q)
    use_low = low[1:] < 0.5
    cells = np.where(use_low, low[1:] - low[:-1], up[:-1] - up[1:])
    with np.errstate(divide="ignore"):
        return np.log(np.maximum(cells, 0.0)), float(np.log(low[0])), float(np.log(up[-1]))


def _grid_log_masses(model: str, theta) -> tuple:
    """The fitted mixing distribution as log masses: (cells (C,), below, above) on the logit grid."""
    theta = np.asarray(theta, float)
    nat = _theta_to_natural(model, theta)
    if model == "beta":
        return _beta_cell_log_masses(nat["a"], nat["b"])
    if model == "zi_beta":
        cells, below, above = _beta_cell_log_masses(nat["a"], nat["b"])
        l1 = math.log1p(-nat["pi"]) if nat["pi"] < 1 else -math.inf
        return cells + l1, float(np.logaddexp(math.log(nat["pi"]), below + l1)), above + l1
    if model == "beta_mix2":
        c1, b1, a1 = _beta_cell_log_masses(nat["a1"], nat["b1"])
        c2, b2, a2 = _beta_cell_log_masses(nat["a2"], nat["b2"])
        lw, l1w = math.log(nat["w"]), math.log1p(-nat["w"])
        return (np.logaddexp(lw + c1, l1w + c2), float(np.logaddexp(lw + b1, l1w + b2)),
                float(np.logaddexp(lw + a1, l1w + a2)))
    masses = _logit_normal_masses if model == "logit_normal" else _kumaraswamy_masses
    cells, below, above = masses(jnp.asarray(theta))
    return np.asarray(cells), float(below), float(above)


def _item_posterior(model: str, theta, data: ItemData) -> ItemPosterior:
    """Posterior of each item's p given its observations under the mixing distribution ``theta``."""
    cells, below, above = _grid_log_masses(model, theta)
    aux = _grid_aux(data.n, data.k)
    body = aux["ker"] + cells[None, :]
    lo = below + aux["zero"]
    hi = above + aux["one"]
    if data.has_interval:  # at least one success among the `extra` attempts after the n failures
        iv = data.extra > 0
        log_q = sp.log_expit(-_GRID_NODES)
        x = data.extra[iv, None].astype(float) * log_q[None, :]
        with np.errstate(divide="ignore"):
            body[iv] += np.where(x > -0.693, np.log(-np.expm1(x)), np.log1p(-np.exp(x)))
        lo = np.where(iv, -np.inf, lo)
    log_w = np.concatenate([lo[:, None], body, hi[:, None]], axis=1)
    log_w = log_w - sp.logsumexp(log_w, axis=1, keepdims=True)
    p = np.concatenate([[0.0], sp.expit(_GRID_NODES), [1.0]])
    return ItemPosterior(p, log_w)


# --------------------------------------------------------------------------------------------
# results


@dataclass(frozen=True, eq=False, repr=False)
class MixingFit(ResultProtocol):
    """A fitted mixing distribution for per-item success probabilities (immutable).

    Attributes
    ----------
    model : str
        Family name (one of ``MIXING_MODELS``).
    params : dict
        Natural parameters (see the family table in the module docstring).
    theta : numpy.ndarray
        Unconstrained parameters used by the optimiser.
    loglik : float
        Sum over items of log E_g[likelihood of the item's observations] (without binomial
        coefficients; comparable across families on the same data).
    penalty : float
        Minus the log prior density (up to a constant) at the optimum; 0 when ``prior`` is False.
    prior : bool
        Whether the weak priors of ``PRIORS`` were used.
    n_items : int
    converged : bool
    message : str
    aic : float
        -2 loglik + 2 * number of parameters.
    """

    model: str
    params: dict
    theta: np.ndarray
    loglik: float
    penalty: float
    n_items: int
    converged: bool
    message: str
    n_params: int = 0
    starts_at_best: int = 0
    prior: bool = True

    JSON_WHAT = "mixing fit file"

    @property
    def aic(self) -> float:
        return -2.0 * self.loglik + 2.0 * self.n_params

    def _repr_text(self) -> str:
        return (f"{self.model}: {len(self.params)} params, {'converged' if self.converged else 'NOT converged'}, "
                f"{self.n_items} items")

    def param_table(self, level: float = LEVEL) -> pd.DataFrame:
        """``parameter``, ``estimate`` (natural parameters); ``lower``/``upper`` NaN: a mixing
        fit has no parameter interval (:meth:`BonFit.predict` bootstraps forecasts)."""
        return pd.DataFrame([{"parameter": k, "estimate": float(v), "lower": np.nan, "upper": np.nan}
                             for k, v in self.params.items()])

    @property
    def description(self) -> str:
        return _FAMILIES[self.model].description

    def solve_probabilities(self, data: ItemData, N, *, target: str = "fresh") -> np.ndarray:
        """Per-item probability of at least one success within budget N (see ``target``)."""
        return _solve_prob(self.model, self.theta[None, :], data, N, target)[0]

    def predict(self, data: ItemData, N, *, target: str = "fresh"):
        """Benchmark pass@N (= ASR@N) for the observed items: mean of the per-item probabilities.

        ``target="fresh"``: expected rate of a new run with N attempts per item (what a
        pass@N evaluation measures); ``"continued"``: the observed attempts count towards N
        (the natural target when the same run is continued, e.g. a red-team log).
        """
        N_arr = np.atleast_1d(np.asarray(N, float))
        out = np.array([self.solve_probabilities(data, NN, target=target).mean() for NN in N_arr])
        return out if np.ndim(N) else float(out[0])

    def item_posterior(self, data: ItemData) -> ItemPosterior:
        """Posterior of each item's success probability on a grid (see :class:`ItemPosterior`)."""
        return _item_posterior(self.model, self.theta, data)

    def population(self, N):
        """Population pass@N for new items: 1 - E_g[(1 - p)^N]."""
        N_arr = np.atleast_1d(np.asarray(N, float))
        lf = _log_kernel(self.model, self.theta[None, :], N_arr, np.zeros_like(N_arr))[0]
        out = -np.expm1(lf)
        return out if np.ndim(N) else float(out[0])

    def _summary_text(self) -> str:
        ps = ", ".join(f"{k} = {v:.4g}" for k, v in self.params.items())
        return (f"{self.model} ({self.description}): {ps}; loglik {self.loglik:.3f}; "
                f"{'converged' if self.converged else 'NOT CONVERGED'}: {self.message}")

    def to_dict(self) -> dict:
        return {"model": self.model, "params": dict(self.params), "theta": [float(v) for v in self.theta],
                "loglik": self.loglik, "penalty": self.penalty, "n_items": self.n_items,
                "converged": self.converged, "message": self.message, "n_params": self.n_params,
                "starts_at_best": self.starts_at_best, "prior": self.prior}

    @classmethod
    def from_dict(cls, d: dict) -> "MixingFit":
        try:
            return cls(d["model"], dict(d["params"]), np.asarray(d["theta"], float), float(d["loglik"]),
                       float(d["penalty"]), int(d["n_items"]), bool(d["converged"]), str(d["message"]),
                       int(d.get("n_params", len(d["theta"]))), int(d.get("starts_at_best", 0)),
                       bool(d.get("prior", True)))
        except KeyError as exc:
            raise ArgumentError(f"mixing fit record lacks the field {exc.args[0]!r}") from None


def _make_fit(model: str, theta, f, conv, gn, nb, n_items: int, prior: bool) -> MixingFit:
    fam = _FAMILIES[model]
    theta = np.asarray(theta, float)
    penalty_value = float(fam.penalty(jnp.asarray(theta))) if prior else 0.0
    loglik = -float(f) * n_items + penalty_value
    at_bound = bool(np.any(np.abs(theta) >= _BOUND - 1e-6))
    converged = bool(conv) and np.isfinite(f) and not at_bound
    if at_bound:
        msg = "a parameter ran to its bound (|theta| = 25): the likelihood is flat towards a boundary"
    elif converged:
        msg = f"converged (max |gradient| {float(gn):.1e}; {int(nb)} start(s) reached the best value)"
    else:
        msg = f"not converged (max |gradient| {float(gn):.2e})"
    return MixingFit(model, _theta_to_natural(model, theta), theta, loglik, penalty_value, n_items,
                     converged, msg, len(fam.param_names), int(nb), bool(prior))


def fit_mixing(data, k=None, model: str = "beta", *, prior: bool = True) -> MixingFit:
    """Fit one mixing-distribution family to per-item counts by maximum (penalised) likelihood.

    Parameters
    ----------
    data : ItemData, DataFrame or array_like of int
        An :class:`ItemData`, a counts frame from :func:`scalefit.io.load_attempts` (one
        group), or the attempts ``n`` per item (then pass ``k``).
    k : array_like of int, optional
        Successes per item when ``data`` holds the attempts.
    model : str
        One of ``MIXING_MODELS``.
    prior : bool
        Maximise the likelihood times the weak priors of ``PRIORS`` (default), or the plain
        likelihood (``False``).

    Returns
    -------
    MixingFit

    Examples
    --------
    >>> import scalefit; scalefit.enable_x64()
    >>> from scalefit.sampling import fit_mixing
    >>> k = [0,0,0,0,0,0,1,0,2,0,0,5,0,1,0,0,12,0,3,0,0,0,7,0,0,1,0,20,0,0]
    >>> fit = fit_mixing(20, k, model="beta", prior=False)   # the T2.4 maximum likelihood
    >>> round(fit.params["a"], 5), round(fit.params["b"], 5)
    (0.08492, 0.72033)
    """
    require_x64()
    from .censored import as_item_data  # censored builds on this module

    data = as_item_data(data, k)
    _family(model)
    rows = _rows(data.n, data.k, data.extra)
    W = _weights(rows.index, rows.size, np.ones((1, data.size)))
    th, f, conv, gn, nb = _fit_batch(model, rows, W, prior=prior)
    return _make_fit(model, th[0], f[0], conv[0], gn[0], nb[0], data.size, prior)
