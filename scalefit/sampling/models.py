"""Models for the distribution of per-item success probability ("mixing distributions").

Every repeated-sampling prediction beyond the observed budget is a statement about the
distribution g of the per-item success probability p near p = 0 (docs/best_of_n.md#exact-asrn):
the benchmark failure rate after N attempts is E[(1 - p)^N], a Laplace-type transform of g.
A single Beta fitted to a small budget is one assumption about that tail; this module offers
several, fitted by maximum (marginal) likelihood on the same data, so that the choice between
them can be made from the data (:mod:`scalefit.sampling.bonfit`).

Families
--------
Each family is a :class:`~scalefit.sampling.families.MixingFamily` spec in its own module of
:mod:`scalefit.sampling.families`, registered by name (``available_families()``; ``MIXING_MODELS``
is the same tuple).  This module is the engine for all of them and knows none by name:

``beta``          p ~ Beta(a, b) (the SABER / Schaeffer model).  Tail g(p) ~ p^(a-1).
``zi_beta``       p ~ pi delta_0 + (1 - pi) Beta(a, b): a share pi of items never succeeds.
``beta_mix2``     p ~ w Beta(a1, b1) + (1 - w) Beta(a2, b2), component 1 the harder one; the
                  tail exponent of the hard component is no longer tied to the easy items.
``logit_normal``  logit p ~ Normal(mu, sigma): a log-normal-like tail (thinner than any power
                  law), evaluated on a fixed logit grid with exact cell integrals.
``kumaraswamy``   p ~ Kumaraswamy(a, b): a power-law tail with a closed-form CDF, on the grid.

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
* Grid families (logit-normal, Kumaraswamy) are integrated on a fixed grid of nodes in
  u = logit p (step 0.05 from -28 to 16; see :mod:`scalefit.sampling.families`), with exact
  cell integrals for rows whose likelihood peak is narrower than three steps.  Accuracy against
  adaptive quadrature: ~1e-6 relative in the likelihood of typical rows (tests).
* Fits minimise the mean negative log-likelihood per item over unconstrained parameters by
  damped Newton (:mod:`._optim`) with autodiff Hessians, multi-start, vmapped over starts
  *and over data sets*: every data set is a weight vector over one shared table of distinct
  rows, so bootstrap replicates and internal-backtest splits of one data set are fitted in a
  single compiled program.
* By default (``prior=True``) fits maximise the likelihood times weak priors (each family's
  ``prior``, in words in ``PRIORS``; the defaults of docs/bayes.md#default-priors widened x2,
  normal on the unconstrained scale).  With 100+ items they move the estimates by a fraction of a standard error; their job is the flat directions: data
  with no visible over-dispersion (a handful of items solved once each) send the maximum
  likelihood to a + b -> inf, "every item has the same p", which forecasts that every item
  will eventually be solved.  ``prior=False`` gives plain maximum likelihood (the ``beta`` fit
  then equals :func:`fit_beta_binomial`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Mapping, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
from scipy import special as sp

from .._config import require_x64
from .._result import LEVEL, ResultProtocol
from ..errors import ArgumentError
from .._extrapolation import extrapolation_factor
from ._common import check_level, unique_rows
from .items import ItemData, as_item_data, item_data  # noqa: F401  (re-exported)
from ._optim import damped_newton
from .families import MixingFamily, available_families, get_family
from ._special import log1mexp
from .families._common import GRID_NODES, PRODUCT_FLOOR, H, grid_aux, kernel_grid_product, scaled_grid_table

__all__ = [
    "MIXING_MODELS",
    "PRIORS",
    "MixingFit",
    "fit_mixing",
    "ItemData",
    "ItemPosterior",
    "item_data",
]


_BOUND = 25.0
_GTOL = 1e-9
# The shared logit grid of the grid families (nodes u_c, step _H in u = logit p).
_H = H
_GRID_NODES = GRID_NODES


class _Rows(NamedTuple):
    """Distinct (n, k, extra) rows shared by a batch of data sets, padded to a power of two."""

    n: np.ndarray
    k: np.ndarray
    extra: np.ndarray
    index: np.ndarray  # item -> row
    size: int  # number of real rows


def row_table(n, k, extra) -> _Rows:
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


def row_weights(index: np.ndarray, size: int, multiplicity: np.ndarray) -> np.ndarray:
    """Row weights (D, size) from item multiplicities (D, items)."""
    mult = np.atleast_2d(multiplicity).astype(float)
    out = np.zeros((mult.shape[0], size))
    np.add.at(out.T, index, mult.T)
    return out


# --------------------------------------------------------------------------------------------
# the engine: any registered family (scalefit.sampling.families), never a family by name


class _FamilyTable(Mapping):
    """Read-only view of the registered families by name (kept for older callers)."""

    def __getitem__(self, name):
        if name not in available_families():
            raise KeyError(name)
        return get_family(name)

    def __iter__(self):
        return iter(available_families())

    def __len__(self):
        return len(available_families())


class _PriorTable(_FamilyTable):
    """The weak priors of ``prior=True`` fits in words, by family name."""

    def __getitem__(self, name):
        return super().__getitem__(name).prior_text


_FAMILIES = _FamilyTable()
#: The weak priors of ``prior=True`` fits (normal on the unconstrained scale, per data set).
PRIORS = _PriorTable()



def __getattr__(name):
    if name == "MIXING_MODELS":  # the registered families, at the time of asking
        return available_families()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _family(model) -> MixingFamily:
    return model if isinstance(model, MixingFamily) else get_family(model)


def _theta_to_natural(model, theta) -> dict:
    return _family(model).to_natural(theta)


def _natural_to_theta(model, params: dict) -> np.ndarray:
    return _family(model).to_theta(params)


def _starts(fam: MixingFamily, n, k, W) -> np.ndarray:
    """Start points (D, S, P) on the unconstrained scale."""
    return np.clip(np.stack(fam.starts(n, k, W), axis=1), -_BOUND + 1.0, _BOUND - 1.0)


def _row_derivs(model, theta, rows, aux, aux_int, interval: bool):
    """Per-row log-likelihood with gradient (P, R) and Hessian (P, P, R); interval rows use
    log(A - B) with A = kernel(n, k), B = kernel(n + extra, k)."""
    n, k, extra = rows
    fn = _family(model).derivs
    la, ga, ha = fn(theta, n, k, aux)
    if not interval:
        return la, ga, ha
    lb, gb, hb = fn(theta, n + extra, k, aux_int)
    iv = extra > 0
    d = jnp.where(iv, jnp.minimum(lb - la, -1e-300), -1.0)
    rho = jnp.exp(d)
    one_m = -jnp.expm1(d)
    ll = la + log1mexp(d)
    g = (ga - rho * gb) / one_m
    Ma = ha + ga[:, None, :] * ga[None, :, :]
    Mb = hb + gb[:, None, :] * gb[None, :, :]
    h = (Ma - rho * Mb) / one_m - g[:, None, :] * g[None, :, :]
    return (jnp.where(iv, ll, la), jnp.where(iv, g, ga), jnp.where(iv, h, ha))


def likelihood_table(model, data: ItemData, group=None) -> dict:
    """The distinct rows of ``data`` as JAX arrays, with their multiplicities ``w`` and the
    family's per-row constants: the input of :func:`row_loglik` (used by the posteriors).  With
    ``group`` (a code 0..G-1 per item) ``w`` holds one row of multiplicities per group (G, rows)."""
    fam = _family(model)
    rows = row_table(data.n, data.k, data.extra)
    if group is None:
        mult = np.ones((1, data.size))
    else:
        group = np.asarray(group, np.int64)
        mult = (group[None, :] == np.arange(group.max() + 1)[:, None]).astype(float)
    w = row_weights(rows.index, rows.size, mult)
    w = np.concatenate([w, np.zeros((w.shape[0], rows.n.shape[0] - rows.size))], axis=1)
    as_jnp = lambda d: {kk: jnp.asarray(v) for kk, v in d.items()}  # noqa: E731
    interval = bool(np.any(rows.extra > 0))
    return {"n": jnp.asarray(rows.n, float), "k": jnp.asarray(rows.k, float), "extra": jnp.asarray(rows.extra, float),
            "w": jnp.asarray(w[0] if group is None else w),
            "aux": as_jnp(fam.aux(rows.n, rows.k)),
            "aux_int": as_jnp(fam.aux(rows.n + rows.extra, rows.k)) if interval else None}


def row_loglik(model, theta, table: dict, *, sampler: bool = False):
    """Per-row log-likelihood (JAX) of a :func:`likelihood_table`: the family's log-kernel, and
    for interval rows log(A - B) with A = kernel(n, k), B = kernel(n + extra, k).  ``sampler``:
    the family's faster sampler kernel (tables without interval rows, where A - B could cancel)."""
    fam = _family(model)
    if table["aux_int"] is None:
        return fam.kernel(theta, table["n"], table["k"], table["aux"], sampler=sampler)
    la = fam.kernel(theta, table["n"], table["k"], table["aux"])
    lb = fam.kernel(theta, table["n"] + table["extra"], table["k"], table["aux_int"])
    iv = table["extra"] > 0
    return jnp.where(iv, la + log1mexp(jnp.where(iv, jnp.minimum(lb - la, -1e-300), -1.0)), la)


@lru_cache(maxsize=None)
def _batch_fitter(fam: MixingFamily, interval: bool, prior: bool):
    pen = fam.prior if prior else (lambda t: 0.0 * jnp.sum(t))
    pen_g = jax.grad(pen)
    pen_h = jax.hessian(pen)

    def fgh(theta, rows, w, aux, aux_int):
        W = jnp.sum(w)
        ll, g, h = _row_derivs(fam, theta, rows, aux, aux_int, interval)
        ok = w > 0
        ll = jnp.where(ok, ll, 0.0)
        g = jnp.where(ok[None, :], g, 0.0)
        h = jnp.where(ok[None, None, :], h, 0.0)
        f = -(jnp.sum(w * ll) - pen(theta)) / W
        grad = -(g @ w - pen_g(theta)) / W
        hess = -(h @ w - pen_h(theta)) / W
        return f, grad, hess

    def one(theta0, w, rows, aux, aux_int):
        return damped_newton(fgh, theta0, (rows, w, aux, aux_int), max_iter=fam.max_iter, gtol=_GTOL,
                             bound=_BOUND)

    @jax.jit
    def run(theta0, W, rows, aux, aux_int):
        res = jax.vmap(one, in_axes=(0, 0, None, None, None))(theta0, W, rows, aux, aux_int)
        return res.theta, res.f, res.converged, res.grad_norm

    return run


def _in_chunks(fn, batched, shared, chunk):
    """``fn(*slices, *shared)`` over the leading axis of the arrays ``batched`` in fixed-size
    chunks (one compiled program whatever the number of rows; the last chunk is padded with
    copies of row 0), the outputs concatenated and trimmed. ``fn`` returns an array or a tuple
    of arrays."""
    D = batched[0].shape[0]
    pad = (-D) % chunk
    # numpy slices go to the compiled program as they are (jnp.asarray would dispatch an eager
    # conversion per chunk)
    batched = [np.ascontiguousarray(np.concatenate([a, np.repeat(a[:1], pad, axis=0)]) if pad else a)
               for a in batched]
    outs = [fn(*(a[i:i + chunk] for a in batched), *shared) for i in range(0, D + pad, chunk)]
    if isinstance(outs[0], tuple):
        return tuple(np.concatenate([np.asarray(o[j]) for o in outs])[:D] for j in range(len(outs[0])))
    return np.concatenate([np.asarray(o) for o in outs])[:D]


def _run_chunks(run, theta0, Wp, rws, aux, aux_int, chunk):
    """One damped-Newton pass from one start per data set, in fixed-size chunks (one compiled
    program per family and row bucket, whatever the number of data sets)."""
    return _in_chunks(run, (np.asarray(theta0, float), Wp), (rws, aux, aux_int), chunk)


def fit_rows(model: str, rows: _Rows, W: np.ndarray, *, aux=None, aux_int=None, theta0=None,
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
    if aux is None:
        aux = fam.aux(rows.n, rows.k)
    if interval and aux_int is None:
        aux_int = fam.aux(rows.n + rows.extra, rows.k)
    # Grid families fit through one matrix product with the rows' scaled likelihood table
    # (families._common.derivs_grid_product); solutions where a weighted row's sum is floored, or
    # that did not converge, are fitted again by the log-sum-exp kernel below.
    product = fam.grid and fam.row_derivs is None and not interval
    aux_exact = {kk: jnp.asarray(v) for kk, v in aux.items()} if aux is not None else {}
    if product:
        table, kmax = scaled_grid_table(aux)
        aux = dict(aux_exact, table=jnp.asarray(table), kmax=jnp.asarray(kmax))
    else:
        aux = aux_exact
    aux_int = {kk: jnp.asarray(v) for kk, v in aux_int.items()} if aux_int is not None else {}
    D = Wp.shape[0]
    chunk = 8 if fam.grid else 16  # one compiled program per family and row bucket, whatever D
    run = _batch_fitter(fam, interval, bool(prior))
    rws = (jnp.asarray(rows.n, float), jnp.asarray(rows.k, float), jnp.asarray(rows.extra, float))

    def best_of(starts, idx, aux=aux):
        """Run every start (S, len(idx), P) for data sets idx; best per data set."""
        res = [_run_chunks(run, st, Wp[idx], rws, aux, aux_int, chunk) for st in starts]
        fs = np.stack([np.where(np.isfinite(r[1]), r[1], np.inf) for r in res])  # (S, n)
        b = np.argmin(fs, axis=0)
        pick = lambda j: np.stack([r[j] for r in res])[b, np.arange(len(idx))]  # noqa: E731
        nb = np.sum(fs <= fs[b, np.arange(len(idx))] + 1e-7 * (1 + np.abs(fs[b, np.arange(len(idx))])), axis=0)
        return pick(0), pick(1), pick(2), pick(3), nb

    if theta0 is None:
        st = np.moveaxis(_starts(fam, rows.n, rows.k, Wp), 1, 0)  # (S, D, P)
        th, f, conv, gn, nb = best_of(st, np.arange(D))
    else:
        warm = np.broadcast_to(np.asarray(theta0, float), (D, len(fam.param_names)))
        th, f, conv, gn = _run_chunks(run, np.ascontiguousarray(warm), Wp, rws, aux, aux_int, chunk)
        nb = np.ones(D, dtype=int)
        bad = np.flatnonzero(~conv | ~np.isfinite(f))
        if bad.size:
            st = np.moveaxis(_starts(fam, rows.n, rows.k, Wp[bad]), 1, 0)
            th2, f2, conv2, gn2, nb2 = best_of(st, bad)
            better = ~(np.isfinite(f[bad]) & (f[bad] <= f2))
            for arr, new in ((th, th2), (f, f2), (conv, conv2), (gn, gn2), (nb, nb2)):
                arr[bad[better]] = new[better]
    if product:
        floored = np.any((_product_sums(fam, th, aux["table"], aux["kmax"]) < PRODUCT_FLOOR) & (Wp > 0), axis=1)
        redo = np.flatnonzero(floored | ~conv | ~np.isfinite(f))
        if redo.size:
            st = np.moveaxis(_starts(fam, rows.n, rows.k, Wp[redo]), 1, 0)
            for arr, new in zip((th, f, conv, gn, nb), best_of(st, redo, aux_exact)):
                arr[redo] = new
    th = fam.canonicalise(np.asarray(th))
    return th, np.asarray(f), np.asarray(conv), np.asarray(gn), np.asarray(nb)



# --------------------------------------------------------------------------------------------
# predictions (vectorised over parameter sets)


@lru_cache(maxsize=None)
def _kernel_fn(fam: MixingFamily):

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
    thetas = np.atleast_2d(np.asarray(thetas, float))
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
    aux = {key: jnp.asarray(v) for key, v in fam.aux(nn, kk).items()}
    chunk = 64
    fn = _kernel_fn(fam)
    args = (jnp.asarray(nn), jnp.asarray(kk), aux)
    if fam.grid:
        # one matrix product per chunk (see kernel_grid_product); parameter sets with a sum
        # below the floor are recomputed by the log-sum-exp kernel
        table, kmax = (jnp.asarray(a) for a in scaled_grid_table(aux))
        out, low = _in_chunks(_product_fn(fam), (thetas,), (table, kmax), chunk)
        redo = np.flatnonzero(np.any(~(low >= PRODUCT_FLOOR), axis=1))
        if redo.size:
            out[redo] = _in_chunks(fn, (thetas[redo],), args, chunk)
    else:
        out = _in_chunks(fn, (thetas,), args, chunk)
    return out[:, inv.ravel()]


def _product_sums(fam: MixingFamily, thetas, table, kmax) -> np.ndarray:
    """The scaled sums (T, R) of :func:`kernel_grid_product` for parameter sets ``thetas``."""
    return _in_chunks(_product_fn(fam), (np.asarray(thetas, float),), (table, kmax), 64)[1]


@lru_cache(maxsize=None)
def _product_fn(fam: MixingFamily):

    @jax.jit
    def run(thetas, table, kmax):
        lm = jax.vmap(lambda t: jnp.concatenate([jnp.atleast_1d(m) for m in fam.log_masses(t)]))(thetas)
        return kernel_grid_product(lm, table, kmax)

    return run


def item_loglik(model, thetas, data: ItemData, more_failures=0.0) -> np.ndarray:
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


def solve_probabilities(model, thetas, data: ItemData, N, target: str = "fresh") -> np.ndarray:
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
        lz = item_loglik(model, thetas, data)
        lf = item_loglik(model, thetas, data, N)
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
            base = item_loglik(model, thetas, plain)
            a = item_loglik(model, thetas, plain, N - sub.n) - base  # log E[(1-p)^(N-n) | n failures]
            b = item_loglik(model, thetas, plain, sub.extra.astype(float)) - base
            # P(first success in (n, N] | success in (n, n + d]) = (1 - F(N - n)) / (1 - F(d))
            out[:, mid] = -np.expm1(np.minimum(a, 0.0)) / np.maximum(-np.expm1(np.minimum(b, 0.0)), 1e-300)
    fail = ~known & (data.k == 0) & (data.extra == 0)
    ahead = np.flatnonzero(fail & (n < N))
    if ahead.size:
        sub = data.take(ahead)
        lz = item_loglik(model, thetas, sub)
        lf = item_loglik(model, thetas, sub, N - sub.n.astype(float))
        out[:, ahead] = -np.expm1(np.minimum(lf - lz, 0.0))
    return out

@lru_cache(maxsize=None)
def _paired_fn(fam: MixingFamily):
    return jax.jit(jax.vmap(fam.kernel))


def paired_log_kernel(model, thetas, n, k=0.0) -> np.ndarray:
    """log E_g[p^k (1 - p)^(n - k)] with one parameter set per row of rows: ``thetas`` (T, P),
    ``n`` and ``k`` (T, J) -> (T, J) (per-draw budgets, where every draw has its own N)."""
    fam = _family(model)
    n = np.asarray(n, float)
    k = np.broadcast_to(np.asarray(k, float), n.shape)
    aux = {key: jnp.asarray(v).reshape(*n.shape, *np.shape(v)[1:]) for key, v in fam.aux(n.ravel(), k.ravel()).items()}
    return np.asarray(_paired_fn(fam)(jnp.asarray(thetas, float), jnp.asarray(n), jnp.asarray(k), aux))


def population_rates(model, thetas, N) -> np.ndarray:
    """Population pass@N for new items, 1 - E_g[(1 - p)^N], per parameter set: shape (T, len(N))."""
    N_arr = np.atleast_1d(np.asarray(N, float))
    return -np.expm1(_log_kernel(model, thetas, N_arr, np.zeros_like(N_arr)))


# Names kept for modules that import them from here.
_log_obs = item_loglik
_solve_prob = solve_probabilities


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



def _item_posterior(model, theta, data: ItemData) -> ItemPosterior:
    """Posterior of each item's p given its observations under the mixing distribution ``theta``."""
    cells, below, above = _family(model).grid_log_masses(theta)
    aux = grid_aux(data.n, data.k)
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
        return _family(self.model).description

    def solve_probabilities(self, data: ItemData, N, *, target: str = "fresh") -> np.ndarray:
        """Per-item probability of at least one success within budget N (see ``target``)."""
        return solve_probabilities(self.model, self.theta[None, :], data, N, target)[0]

    def predict_values(self, data: ItemData, N, *, target: str = "fresh"):
        """Benchmark pass@N (= ASR@N) for the observed items: mean of the per-item probabilities
        (a float for a scalar ``N``, else an array; what ``predict`` returned in scalefit 0.1).

        ``target="fresh"``: expected rate of a new run with N attempts per item (what a
        pass@N evaluation measures); ``"continued"``: the observed attempts count towards N
        (the natural target when the same run is continued, e.g. a red-team log).
        """
        N_arr = np.atleast_1d(np.asarray(N, float))
        out = np.array([self.solve_probabilities(data, NN, target=target).mean() for NN in N_arr])
        return out if np.ndim(N) else float(out[0])

    def predict(self, data: ItemData, N, *, target: str = "fresh", level: float | None = None) -> pd.DataFrame:
        """:meth:`predict_values` as the protocol DataFrame: ``N``, ``estimate`` and
        ``extrapolation`` (N over the largest observed budget of ``data``).  A mixing fit has no
        interval, so ``lower``/``upper`` are absent and ``level`` is only checked; the
        whole-procedure bootstrap of :meth:`scalefit.sampling.BonFit.predict` gives them."""
        if level is not None:
            check_level(level)
        N_arr = np.atleast_1d(np.asarray(N, float))
        return pd.DataFrame({"N": N_arr, "estimate": self.predict_values(data, N_arr, target=target),
                             "extrapolation": extrapolation_factor({"N": data.attempts}, {"N": N_arr})})

    def item_posterior(self, data: ItemData) -> ItemPosterior:
        """Posterior of each item's success probability on a grid (see :class:`ItemPosterior`)."""
        return _item_posterior(self.model, self.theta, data)

    def population(self, N):
        """Population pass@N for new items: 1 - E_g[(1 - p)^N]."""
        out = population_rates(self.model, self.theta[None, :], N)[0]
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


def make_fit(model: str, theta, f, conv, gn, nb, n_items: int, prior: bool) -> MixingFit:
    fam = _family(model)
    theta = np.asarray(theta, float)
    penalty_value = float(fam.prior(jnp.asarray(theta))) if prior else 0.0
    loglik = -float(f) * n_items + penalty_value
    at_bound = bool(np.any(np.abs(theta) >= _BOUND - 1e-6))
    converged = bool(conv) and np.isfinite(f) and not at_bound
    if at_bound:
        msg = "a parameter ran to its bound (|theta| = 25): the likelihood is flat towards a boundary"
    elif converged:
        msg = f"converged (max |gradient| {float(gn):.1e}; {int(nb)} start(s) reached the best value)"
    else:
        msg = f"not converged (max |gradient| {float(gn):.2e})"
    return MixingFit(model, fam.to_natural(theta), theta, loglik, penalty_value, n_items,
                     converged, msg, fam.n_params, int(nb), bool(prior))


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
    data = as_item_data(data, k)
    _family(model)
    rows = row_table(data.n, data.k, data.extra)
    W = row_weights(rows.index, rows.size, np.ones((1, data.size)))
    th, f, conv, gn, nb = fit_rows(model, rows, W, prior=prior)
    return make_fit(model, th[0], f[0], conv[0], gn[0], nb[0], data.size, prior)
