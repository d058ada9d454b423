"""A pooled best-of-N model for groups that share items (models on one benchmark, checkpoints of
one family, attacks on one set of behaviours).

Model
-----
For group g and item i, on the logit scale

    logit p_ig = s_g u_i + x_ig,      u_i ~ N(0, 1),  x_ig ~ F_g,

with a shared item effect u_i (how easy item i is for every group), a per-group loading s_g > 0
and the group's residual family F_g: one of :data:`POOLED_FAMILIES` (the best-of-N families
with a logit-scale density, same parameters and priors as in :mod:`scalefit.sampling.models`).
:func:`fit_groups` gives each group the family its own fit chose, so the pooled and the
independent candidates differ only by the shared effect; with every s_g = 0 (``shared=False``)
the model is exactly the independent fits of those families.  The share of a group's item
variance that is common to all groups, s_g^2 / (s_g^2 + Var x_ig), measures how strongly the
groups agree on which items are hard.

Likelihood
----------
The residual is integrated on the fine logit grid of the grid families (the same kernels, exact
cell integrals for sharp rows; the family's density at the nodes shifted by s_g u), the shared
effect u_i on a uniform grid of ``_U_NODES`` nodes over [-6, 6] with normal weights (trapezoid:
spectrally accurate for smooth integrands).  An item's marginal likelihood couples the groups:

    L_i = sum_q w_q prod_g K_g(i | u_q),   K_g(i | u) = E_x[p^k (1 - p)^(n - k)],  logit p = s_g u + x.

Items missing from a group enter with the empty observation (K = 1).  A batch-censored row (no
success in the first n attempts, at least one among the next w: ``PooledData.extra``) has the
likelihood (1 - p)^n - (1 - p)^(n + w), formed node by node in log space, so it is one more row
of the same table.  The fit maximises the
likelihood times weak priors (each family's own, log s ~ N(0, 2^2)) by the package's damped
Newton solver.  The binomial likelihood table on the logit grid does not depend on the
parameters, so each group's kernel and its first and second derivatives are one matrix product
of that table with the family masses and their derivatives; per-item gradients and Hessians
(the Hessian is per-group blocks plus the coupling through the shared effect) give the fit's
Newton steps, the one-step bootstrap refits and the observed information.  Fits are vmapped
over item weights and over data sets (thinnings); each family tuple compiles once.

Forecasts
---------
Every item's posterior over its latent effects uses all groups' data: the chance that group g
solves item i within N fresh attempts is 1 - E[(1 - p_ig)^N | data], a ratio of two marginal
likelihoods.  ``target="continued"`` follows :mod:`scalefit.sampling.bonfit`: solved items stay
solved, an unsolved item needs a success in its next N - n attempts, and a batch-censored item
is solved within N once its interval ends by N (in between, the recorded outcome where its
first success is known, else the model's chance given its data).  Every parameter set (the
fit and its bootstrap replicates) and every budget go through one compiled pass: the tables of
the data and of each budget's extra attempts are stacked, so each set's family masses are
formed once and multiplied with all of them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from .._config import require_x64
from .._solver import value_and_jacfwd, value_jacfwd_hessfwd
from .._threads import map_in_threads
from ..errors import ArgumentError
from ._optim import damped_newton
from ._common import as_counts, short_value
from ._special import log1mexp
from .families._common import GRID_EDGES, GRID_NODES, grid_aux, node_masses, scaled_grid_table
from .families import get_family

__all__ = ["PooledData", "PooledFit", "pooled_data", "fit_pooled"]

_U_NODES = np.linspace(-6.0, 6.0, 61)
_LOG_WU = -0.5 * _U_NODES**2 - np.log(np.sum(np.exp(-0.5 * _U_NODES**2)))
_BOUND = 25.0
_GTOL = 1e-9
_LOG_TWO = math.log(2.0)
#: parameter sets per compiled forecast pass (:func:`_prob_pass`)
_PASS_BATCH = 8
#: verdict on a bootstrap replicate's one Newton step: the Newton decrement left at the stepped
#: point, in standard errors of the parameters (see PooledFit.replicates)
_STEP_TOL = 0.25


# --------------------------------------------------------------------------------------------
# data


@dataclass(frozen=True, eq=False)
class PooledData:
    """Counts of G groups on I shared items: ``n``, ``k`` (G, I) with ``n = 0`` where a group did
    not attempt an item; ``first_success`` (G, I): the attempt of the first success where known
    (NaN: none, or not recorded); ``until_success``: sampling stopped at each item's first
    success (or at the end of its batch), so the internal backtest cuts items at their first
    attempts instead of thinning them at random; ``extra`` (G, I): batch-censored rows, as in
    :class:`~scalefit.sampling.items.ItemData` -- no success in the first ``n`` attempts and at
    least one among attempts n + 1..n + extra (0: an ordinary row of k successes in n)."""

    n: np.ndarray
    k: np.ndarray
    first_success: np.ndarray
    groups: tuple
    items: tuple
    until_success: bool = False
    extra: np.ndarray | None = None

    def __post_init__(self):
        if self.extra is None:
            object.__setattr__(self, "extra", np.zeros_like(self.n))

    @property
    def present(self) -> np.ndarray:
        return (self.n > 0) | (self.extra > 0)

    @property
    def solved(self) -> np.ndarray:
        """(G, I): a success observed, counted (k > 0) or inside a censoring interval."""
        return (self.k > 0) | (self.extra > 0)

    @property
    def shape(self) -> tuple:
        return self.n.shape

    def group_items(self, g: int):
        """Group ``g``'s observations of the items it attempted as the per-group fits take them
        (:class:`~scalefit.sampling.items.ItemData`: censored rows and first successes kept)."""
        from .items import item_data

        pres = self.present[g]
        fs = self.first_success[g, pres]
        return item_data(self.n[g, pres], self.k[g, pres], extra=self.extra[g, pres], first_success=fs,
                         until_success=self.until_success if np.isfinite(fs).any() else None)


def pooled_data(n, k, *, groups=None, items=None, first_success=None, until_success=None, extra=None) -> PooledData:
    """Validate (G, I) arrays of attempts and successes (n = 0: item not attempted by the group).

    ``first_success`` (G, I): the attempt of each item's first success (NaN: none or unknown);
    ``until_success``: the log stopped sampling at first successes (default: whenever
    ``first_success`` holds a value).  ``extra`` (G, I): batch-censored rows (a
    sample-until-success log read at batch granularity, :func:`~scalefit.sampling.until_success_items`
    with ``"batch"``): ``extra > 0`` says no success in the first ``n`` attempts and at least one
    among the next ``extra`` (such a row has ``k = 0``; its first success, where given, lies in
    that interval); 0 (the default) for ordinary rows."""
    n = np.asarray(n)
    k = np.asarray(k)
    if n.ndim != 2 or n.shape != k.shape:
        raise ArgumentError(f"`n` (shape {n.shape}) and `k` (shape {k.shape}) must be (groups, items) arrays")
    for name, a in (("n", n), ("k", k)):
        if not np.all(np.isfinite(a)) or np.any(a < 0) or np.any(a != np.round(a)):
            raise ArgumentError(f"`{name}` must hold non-negative integer counts")
    n = n.astype(np.int64)
    k = k.astype(np.int64)
    if np.any(k > n):
        g, i = np.argwhere(k > n)[0]
        raise ArgumentError(f"`k` = {k[g, i]} exceeds `n` = {n[g, i]} (group {g}, item {i})")
    ex = np.zeros_like(n) if extra is None else as_counts("extra", extra)
    if ex.shape != n.shape:
        raise ArgumentError(f"`extra` (shape {ex.shape}) must have the shape of `n` {n.shape}")
    both = (ex > 0) & (k > 0)
    if both.any():
        g, i = np.argwhere(both)[0]
        raise ArgumentError(f"`extra` = {ex[g, i]} with `k` = {k[g, i]}: a batch-censored row has no counted "
                            f"successes (k = 0) (group {g}, item {i})")
    G, I = n.shape
    if G < 2:
        raise ArgumentError(f"pooling needs at least 2 groups; got {G}")
    if I < 2:
        raise ArgumentError(f"pooling needs at least 2 items; got {I}")
    solved = (k > 0) | (ex > 0)
    for g in range(G):
        if not np.any(solved[g]):
            raise ArgumentError(f"group {groups[g] if groups is not None else g}: no item has a success")
    fs = np.full(n.shape, np.nan) if first_success is None else np.asarray(first_success, float)
    if fs.shape != n.shape:
        raise ArgumentError(f"`first_success` (shape {fs.shape}) must have the shape of `n` {n.shape}")
    known = np.isfinite(fs)
    # an ordinary row's first success is one of its n attempts with k > 0; a censored row's lies
    # in its interval n + 1..n + extra
    low = np.where(ex > 0, n + 1, 1)
    high = np.where(ex > 0, n + ex, n)
    bad = known & ((fs < low) | (fs > high) | ~solved | (fs != np.round(fs)))
    if bad.any():
        g, i = np.argwhere(bad)[0]
        detail = f"n = {n[g, i]}, k = {k[g, i]}" + (f", extra = {ex[g, i]}" if ex[g, i] > 0 else "")
        raise ArgumentError(f"`first_success` = {short_value(fs[g, i])} is not an attempt with a success "
                            f"({detail}; group {g}, item {i})")
    groups = tuple(range(G)) if groups is None else tuple(groups)
    items = tuple(range(I)) if items is None else tuple(items)
    until = bool(known.any()) if until_success is None else bool(until_success)
    missing = until & solved & ~known
    if missing.any():
        g, i = np.argwhere(missing)[0]
        raise ArgumentError(f"`first_success` is missing for a solved item of a sample-until-success log "
                            f"(group {groups[g]!r}, item {items[i]!r}, k = {k[g, i]}, extra = {ex[g, i]})")
    return PooledData(n, k, fs, groups, items, until, ex)


def pooled_from_frame(frame: pd.DataFrame, groups, likelihood: str = "attempts") -> PooledData:
    """A counts frame (:func:`scalefit.io.load_attempts`: ``item``, ``n``, ``k`` and group
    columns) as a :class:`PooledData` (items aligned across groups by ``item``).

    A sample-until-success log (``first_success``, ``batch_size``, ``cap`` columns) is read with
    ``likelihood`` ``"attempts"`` (every attempt made) or ``"batch"`` (only the batch of each
    first success: batch-censored rows, :func:`~scalefit.sampling.until_success_items`); an
    ``extra`` column of a counts frame gives batch-censored rows directly."""
    from .items import UNTIL_SUCCESS_LIKELIHOODS, until_success_items

    groups = list(groups)
    if not groups:
        raise ArgumentError("pooling needs `groups` (e.g. --groups model)")
    for c in ("item", "n", "k", *groups):
        if c not in frame.columns:
            raise ArgumentError(f"the counts have no column `{c}`")
    if likelihood not in UNTIL_SUCCESS_LIKELIHOODS:
        raise ArgumentError(f"`likelihood` = {likelihood!r} is not one of "
                            f"{', '.join(map(repr, UNTIL_SUCCESS_LIKELIHOODS))}")
    until = "first_success" in frame.columns  # a sample-until-success log (load_attempts(..., cap=))
    if until and likelihood == "first_success":
        raise ArgumentError("`likelihood` = 'first_success': the pooled model reads a sample-until-success log "
                            "with 'attempts' or 'batch' (or fit each group on its own: --pool off)")
    key = frame[groups].astype(str).agg(" / ".join, axis=1)
    glabels = sorted(key.unique())
    ilabels = list(pd.unique(frame["item"]))
    gi = pd.Index(glabels).get_indexer(key)
    ii = pd.Index(ilabels).get_indexer(frame["item"])
    if pd.MultiIndex.from_arrays([gi, ii]).has_duplicates:
        raise ArgumentError("the counts list an item twice within a group")
    n = np.zeros((len(glabels), len(ilabels)), np.int64)
    k = np.zeros_like(n)
    extra = np.zeros_like(n)
    fs = np.full(n.shape, np.nan)
    if until and likelihood == "batch":
        rows = until_success_items(frame, "batch")
        n[gi, ii], k[gi, ii], extra[gi, ii], fs[gi, ii] = rows.n, rows.k, rows.extra, rows.first_success
    else:
        n[gi, ii] = frame["n"].to_numpy(np.int64)
        k[gi, ii] = frame["k"].to_numpy(np.int64)
        if "extra" in frame.columns:
            extra = np.zeros(n.shape, float)  # pooled_data names a bad value
            extra[gi, ii] = frame["extra"].to_numpy(float)
        column = "first_success" if until else "first_success_at" if "first_success_at" in frame.columns else None
        if column is not None:
            fs[gi, ii] = frame[column].to_numpy(float)
    return pooled_data(n, k, groups=glabels, items=ilabels, first_success=fs, until_success=until, extra=extra)


def _log_interval(log_a, log_b):
    """log(A - B) from log A >= log B, without cancellation: log A + log(1 - B / A)
    (-inf where A = 0, so where A = B = 0 too)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = log_a + np.log(-np.expm1(log_b - log_a))
    return np.where(np.isneginf(log_a), -np.inf, out)


def _row_aux(rows):
    """The grid likelihood weights (:func:`grid_aux`) of rows (R, 4) = (n, k, failures, width):
    p^k (1 - p)^(n - k + failures), minus p^k (1 - p)^(n + width - k + failures) where width > 0
    (a batch-censored row: no success in the first n attempts, at least one in the next width,
    then ``failures`` more failures), node by node in log space.  Censored rows have k = 0
    (:func:`pooled_data`), whose kernels are never sharp enough for the grid's cell integrals,
    so both terms are point values at the same nodes and their difference is the integrand's."""
    aux = grid_aux(rows[:, 0], rows[:, 1], rows[:, 2])
    iv = rows[:, 3] > 0
    if not iv.any():
        return aux
    r = rows[iv]
    upper = grid_aux(r[:, 0] + r[:, 3], r[:, 1], r[:, 2])
    out = {key: np.array(v, float, copy=True) for key, v in aux.items()}
    for key in out:
        out[key][iv] = _log_interval(np.asarray(aux[key])[iv], np.asarray(upper[key]))
    return out


def _tables(n, k, failures=0.0, width=0):
    """Per group, the distinct (n, k, failures, width) rows' scaled likelihood on the logit grid:
    (Lt (G, R, C), zero (G, R), one (G, R), kmax (G, R), index (G, I) item -> row); kmax + log of
    the products is the log kernel.  ``failures`` (G, I): failures added after the data (forecast
    passes); ``width`` (G, I): batch-censored rows' intervals (:attr:`PooledData.extra`), 0 for
    ordinary rows (:func:`_row_aux`).  R is padded to a power of two >= 64: thinned and full data
    share compiled shapes (the cost is in the family masses, not in R)."""
    G, I = n.shape
    e = np.broadcast_to(np.asarray(failures, float), n.shape)
    w = np.broadcast_to(np.asarray(width, float), n.shape)
    uniq, index = [], np.zeros((G, I), np.int64)
    for g in range(G):
        table, inv = np.unique(np.stack([n[g].astype(float), k[g].astype(float), e[g], w[g]], 1), axis=0,
                               return_inverse=True)
        uniq.append(table)
        index[g] = inv.ravel()
    R = max(64, 1 << int(np.ceil(np.log2(max(len(t) for t in uniq)))))
    rows = np.zeros((G, R, 4))
    for g, t in enumerate(uniq):
        rows[g, : len(t)] = t
    table, kmax = scaled_grid_table(_row_aux(rows.reshape(-1, 4)))
    Lt, z, o = table[:, :-2], table[:, -2], table[:, -1]
    out = tuple(jnp.asarray(a.reshape((G, R) + a.shape[1:])) for a in (Lt, z, o, kmax))
    return out + (jnp.asarray(index),)


def _data_tables(data: "PooledData"):
    """:func:`_tables` of the data's own rows (censored rows included)."""
    return _tables(data.n, data.k, 0.0, data.extra)


# --------------------------------------------------------------------------------------------
# residual families (the independent families, shifted on the logit scale)

#: Residual families of the pooled model: the best-of-N families that have a density on the
#: logit scale, each with two unconstrained parameters as in :mod:`scalefit.sampling.models`.
POOLED_FAMILIES = ("logit_normal", "kumaraswamy", "beta")
_FAMILY_CODE = {f: c for c, f in enumerate(POOLED_FAMILIES)}
_SERIES_TERMS = 80


def _log_betainc(a, b, t):
    """log I_x(a, b) at x = expit(t): the hypergeometric series x^a (1 - x)^b / (a B(a, b)) *
    sum_j (a + b)_j / (a + 1)_j x^j (positive terms), or 1 - the series of I_{1-x}(b, a),
    whichever has the smaller last term relative to its sum (the faster-converging side).
    Differentiable in a and b."""
    def series(a, b, lx, l1x):
        j = jnp.arange(_SERIES_TERMS)
        terms = jnp.concatenate([jnp.zeros(1), jnp.cumsum(jnp.log((a + b + j[:-1]) / (a + 1.0 + j[:-1])))]) + j * lx
        total = jax.nn.logsumexp(terms)
        return a * lx + b * l1x - jnp.log(a) - jax.scipy.special.betaln(a, b) + total, terms[-1] - total

    lx, l1x = jax.nn.log_sigmoid(t), jax.nn.log_sigmoid(-t)
    low, err_low = series(a, b, lx, l1x)
    high, err_high = series(b, a, l1x, lx)
    return jnp.where(err_low <= err_high, low, log1mexp(jnp.minimum(high, -1e-300)))


def _family_masses(code: int, th, m):
    """Log masses (cells (C,), below, above) on the logit grid of the family ``code`` (a Python
    int: every group's family is fixed when its functions are compiled) with parameters ``th``
    (2,) shifted by ``m`` on the logit scale; m = 0 gives the family's own grid masses (for the
    logit-normal and Kumaraswamy families those of the independent fit, from the family's own
    module).  The beta family fits in closed form; its grid masses are here (beta density
    p^a (1 - p)^b / B(a, b) in x = logit p, tails by the incomplete-beta series)."""
    if code in (0, 1):
        return get_family(POOLED_FAMILIES[code]).log_masses(th, m)
    x = jnp.asarray(GRID_NODES) - m
    lo, hi = GRID_EDGES[0] - m, GRID_EDGES[-1] - m
    a, b = jnp.exp(th[0]), jnp.exp(th[1])
    lp, lq = jax.nn.log_sigmoid(x), jax.nn.log_sigmoid(-x)
    dens = a * lp + b * lq - jax.scipy.special.betaln(a, b)
    return node_masses(dens, _log_betainc(a, b, lo), _log_betainc(b, a, -hi))


def _family_codes(families, G):
    fams = ("logit_normal",) * G if families is None else tuple(families)
    if len(fams) != G:
        raise ArgumentError(f"`families` has {len(fams)} entries for {G} groups")
    for f in fams:
        if f not in _FAMILY_CODE:
            raise ArgumentError(f"residual family {f!r} is not one of {', '.join(POOLED_FAMILIES)}")
    return fams, tuple(_FAMILY_CODE[f] for f in fams)


# --------------------------------------------------------------------------------------------
# likelihood


def _node_masses(theta, code: int, shared: bool):
    """exp of the family's log masses at every shift node s u_q: (Q, C + 2), the grid cells
    followed by the lumps below and above the grid.  theta = (family parameters, log s) or the
    family parameters alone."""
    u = jnp.asarray(_U_NODES if shared else np.zeros(1))
    m = jnp.exp(theta[2]) * u if shared else 0.0 * u
    cells, below, above = jax.vmap(lambda mq: _family_masses(code, theta[:2], mq))(m)
    return jnp.exp(jnp.concatenate([cells, below[:, None], above[:, None]], axis=1))


def _full_table(Lt, z, o):
    """The likelihood table with the two tail lumps as extra columns: (R, C + 2)."""
    return jnp.concatenate([Lt, z[:, None], o[:, None]], axis=1)


def _group_kernel(theta, code: int, Lt, z, o, kmax, index, shared: bool):
    """log K_g(i | u_q) for one group's items: (I, Q)."""
    val = _full_table(Lt, z, o) @ _node_masses(theta, code, shared).T
    return (kmax[:, None] + jnp.log(jnp.maximum(val, 1e-300)))[index]


def _mass_derivs(theta, code: int, shared: bool, order: int):
    """The masses (Q, C + 2) and their derivatives in theta (forward mode, cheap: Q x C values),
    stacked on a last axis: (Q, C + 2, J) with J = 1 + P (order 1) or 1 + P + P P (order 2)."""
    P = 3 if shared else 2

    def masses(t):
        return _node_masses(t, code, shared)

    if order >= 2:
        M, dM, d2M = value_jacfwd_hessfwd(masses, theta)  # (Q, C + 2), (..., P), (..., P, P)
    else:
        M, dM = value_and_jacfwd(masses, theta)
    parts = [M[..., None]]
    # masses that underflow to 0 carry no weight; the derivative of exp(-inf) can be 0 * inf
    parts.append(jnp.where(jnp.isfinite(dM), dM, 0.0))
    if order >= 2:
        parts.append(jnp.where(jnp.isfinite(d2M), d2M, 0.0).reshape(M.shape + (P * P,)))
    return jnp.concatenate(parts, axis=2)


def _log_kernel_derivs(Lx, stack, P: int):
    """log K (R, Q) and its first (R, Q, P) and, when ``stack`` holds them, second derivatives
    (R, Q, P, P) from the table rows Lx (R, C + 2) times the stacked masses (Q, C + 2, J),
    without the rows' scale kmax."""
    Q, _, J = stack.shape
    V = (Lx @ jnp.transpose(stack, (1, 0, 2)).reshape(Lx.shape[1], Q * J)).reshape(-1, Q, J)
    val = V[..., 0]
    # nodes where the conditional likelihood underflows (far tails of u) carry no posterior weight
    ok = val > 1e-300
    safe = jnp.where(ok, val, 1.0)
    K = jnp.log(jnp.maximum(val, 1e-300))
    dK = jnp.where(ok[..., None], V[..., 1:1 + P] / safe[..., None], 0.0)
    if J == 1 + P:
        return K, dK, None
    d2K = V[..., 1 + P:].reshape(val.shape + (P, P)) / safe[..., None, None] - dK[..., :, None] * dK[..., None, :]
    return K, dK, jnp.where(ok[..., None, None], d2K, 0.0)


def _group_derivs(theta, code: int, Lt, z, o, kmax, index, shared: bool):
    """log K, its gradient and Hessian in theta for one group's items: (I, Q), (I, Q, P), (I, Q, P, P).

    The likelihood table does not depend on theta, so K = L M(theta) and its derivatives are
    L dM and L d2M: the masses are differentiated and one matrix product with the table gives
    the kernel and all of its derivatives at once."""
    P = 3 if shared else 2
    K, dK, d2K = _log_kernel_derivs(_full_table(Lt, z, o), _mass_derivs(theta, code, shared, 2), P)
    return (kmax[:, None] + K)[index], dK[index], d2K[index]


def _by_family(make, codes: tuple, th, tables):
    """``make(code)(theta_g, *tables_g)`` for every group, vmapped over the groups of each
    family (the family is static: each compiles only its own masses); outputs in group order."""
    order, outs = [], []
    for c in sorted(set(codes)):
        idx = np.array([g for g, cg in enumerate(codes) if cg == c])
        order.extend(idx.tolist())
        outs.append(jax.vmap(make(c))(th[idx], *(t[idx] for t in tables)))
    inv = np.argsort(np.asarray(order))
    if len(outs) == 1:
        return outs[0]
    return jax.tree_util.tree_map(lambda *xs: jnp.concatenate(xs)[inv], *outs)


def _half_sq(x, mean, sd):
    return 0.5 * ((x - mean) / sd) ** 2


def _penalty(th, code: int, shared: bool):
    """Weak priors for one group: the independent family's (logit-normal: mu ~ N(0, 10^2),
    log sigma ~ N(log 2, 2^2); Kumaraswamy and beta: log a ~ N(log 0.5, 2^2), log b ~
    N(log 2, 3^2)) and log s ~ N(0, 2^2)."""
    if code == 0:
        p = _half_sq(th[0], 0.0, 10.0) + _half_sq(th[1], _LOG_TWO, 2.0)
    else:
        p = _half_sq(th[0], -_LOG_TWO, 2.0) + _half_sq(th[1], _LOG_TWO, 3.0)
    if shared:
        p = p + _half_sq(th[2], 0.0, 2.0)
    return p


def _log_wu(shared: bool):
    return jnp.asarray(_LOG_WU if shared else np.zeros(1))


def _item_pieces(theta, tables, codes: tuple, shared: bool):
    """Each item's log marginal likelihood (I,), its gradient (I, G P) and Hessian (I, G P, G P),
    and the prior's value, gradient and (block-diagonal) Hessian.

    With pi_iq the posterior weight of node q for item i, the gradient of log L_i in group g's
    parameters is gbar_ig = sum_q pi_iq dK_giq and the Hessian block (g, h) is
    sum_q pi_iq (dK_giq dK_hiq^T + [g = h] d2K_giq) - gbar_ig gbar_ih^T."""
    P = 3 if shared else 2
    G = len(codes)
    th = theta.reshape(G, P)
    K, dK, d2K = _by_family(lambda c: lambda t, *tb: _group_derivs(t, c, *tb, shared), codes, th, tables)
    A = _log_wu(shared)[None, :] + jnp.sum(K, axis=0)  # (I, Q)
    ll = jax.nn.logsumexp(A, axis=1)
    pi = jnp.exp(A - ll[:, None])
    I = pi.shape[0]
    gbar = jnp.einsum("iq,giqa->iga", pi, dK).reshape(I, G * P)
    dKq = jnp.transpose(dK, (1, 2, 0, 3)).reshape(I, -1, G * P)  # (I, Q, G P)
    cross = jnp.einsum("iq,iqa,iqb->iab", pi, dKq, dKq) - gbar[:, :, None] * gbar[:, None, :]
    diag = jnp.einsum("iq,giqab->igab", pi, d2K)
    Hi = cross + jnp.einsum("gh,igab->igahb", jnp.eye(G), diag).reshape(I, G * P, G * P)
    pf, pg, ph = _penalty_pieces(th, codes, shared)
    return ll, gbar, Hi, pf, pg, ph


def _penalty_pieces(th, codes: tuple, shared: bool, hessian: bool = True):
    """The priors' value, gradient (G P,) and block-diagonal Hessian at th (G, P)."""
    pens = [(lambda c: lambda t: _penalty(t, c, shared))(c) for c in codes]
    pf = sum(pen(th[g]) for g, pen in enumerate(pens))
    pg = jnp.concatenate([jax.grad(pen)(th[g]) for g, pen in enumerate(pens)])
    if not hessian:
        return pf, pg, None
    return pf, pg, jax.scipy.linalg.block_diag(*[jax.hessian(pen)(th[g]) for g, pen in enumerate(pens)])


def _make_fgh(shared: bool, codes: tuple):
    """(objective, gradient, Hessian) of the penalised mean negative log-likelihood per item,
    under item weights w."""
    def fgh(theta, w, tables):
        ll, g, Hi, pf, pg, ph = _item_pieces(theta, tables, codes, shared)
        W = jnp.sum(w)
        return (-(w @ ll - pf) / W, -(w @ g - pg) / W, -(jnp.einsum("i,iab->ab", w, Hi) - ph) / W)

    # jitted: the solver calls it at the start and in its loop, and a jitted function is traced once
    return jax.jit(fgh)


@lru_cache(maxsize=None)
def _pieces_fn(shared: bool, codes: tuple):
    """Per-item gradients and Hessians and the prior's gradient and Hessian (for one-step refits)."""
    def pieces(theta, tables):
        _, g, Hi, _, pg, ph = _item_pieces(theta, tables, codes, shared)
        return g, Hi, pg, ph

    return jax.jit(pieces)


@lru_cache(maxsize=None)
def _fitter(shared: bool, batched_tables: bool, codes: tuple):
    fgh = _make_fgh(shared, codes)

    def one(theta0, w, tables):
        res = damped_newton(fgh, theta0, (w, tables), max_iter=200, gtol=_GTOL, bound=_BOUND)
        return res.theta, res.f, res.converged, res.grad_norm

    axes = (0, 0, 0 if batched_tables else None)
    return jax.jit(jax.vmap(one, in_axes=axes))


def _fgh_value(theta, w, tables, codes, shared):
    """Objective only (for tests and diagnostics)."""
    G = len(codes)
    th = theta.reshape(G, 3 if shared else 2)
    K = _by_family(lambda c: lambda t, *tb: _group_kernel(t, c, *tb, shared), tuple(codes), th, tables)
    ll = jax.nn.logsumexp(_log_wu(shared)[None, :] + jnp.sum(K, axis=0), axis=1)
    pen = sum(_penalty(th[g], c, shared) for g, c in enumerate(codes))
    return -(jnp.sum(w * ll) - pen) / jnp.sum(w)


def _independent_start(n, k, codes):
    """(G, 2) starts from a shrunk mean rate r: logit-normal mu = logit r - 1, log sigma = log 2;
    Kumaraswamy / beta a = 0.5 and b from the beta mean a / (a + b) = r."""
    rate = (k.sum(axis=1) + 0.5) / (n.sum(axis=1) + 1.0)
    ln = np.stack([np.log(rate) - np.log1p(-rate) - 1.0, np.full(rate.shape, _LOG_TWO)], axis=1)
    ab = np.stack([np.full(rate.shape, -_LOG_TWO), np.log(0.5 * (1 - rate) / rate)], axis=1)
    return np.where((np.asarray(codes) == 0)[:, None], ln, ab)


def _start_counts(data: PooledData):
    """Attempts and successes for the starting rates: a batch-censored row as one success in
    n + extra attempts (its counts as they are otherwise)."""
    return data.n + data.extra, np.where(data.extra > 0, 1, data.k)


def _shared_starts(indep, codes):
    """Two (..., G, 3) starts from independent fits (..., G, 2): logit-normal with half and 90% of
    the variance shared; the other families keep their parameters with s = 0.5 and s = 1.5."""
    out = []
    ln = np.asarray(codes) == 0
    for share, s in ((0.5, 0.5), (0.9, 1.5)):
        sd = np.exp(indep[..., 1])
        a = np.stack([indep[..., 0], np.log(sd * math.sqrt(1 - share)), np.log(sd * math.sqrt(share))], axis=-1)
        b = np.concatenate([indep, np.full(indep.shape[:-1] + (1,), math.log(s))], axis=-1)
        out.append(np.where(ln[:, None], a, b))
    return out


def _run(shared, theta0, W, tables, codes, batched=False, chunk=16):
    """Fit from starts theta0 (D, G*P) with weights W (D, I); tables shared or batched (D, ...)."""
    fn = _fitter(bool(shared), bool(batched), tuple(codes))
    D = W.shape[0]
    pad = (-D) % chunk if D > chunk else 0
    if pad:
        W = np.concatenate([W, np.repeat(W[:1], pad, axis=0)])
        theta0 = np.concatenate([theta0, np.repeat(theta0[:1], pad, axis=0)])
        if batched:
            tables = tuple(jnp.concatenate([t, jnp.repeat(t[:1], pad, axis=0)]) for t in tables)
    step = min(chunk, W.shape[0])
    outs = []
    for s in range(0, W.shape[0], step):
        tb = tuple(t[s:s + step] for t in tables) if batched else tables
        outs.append(fn(jnp.asarray(theta0[s:s + step]), jnp.asarray(W[s:s + step]), tb))
    return tuple(np.concatenate([np.asarray(o[j]) for o in outs])[:D] for j in range(4))


def _fit_all(n, k, W, tables, codes, *, shared, warm=None, batched=False, indep=None):
    """Best fit per weight vector over the default starts (or from ``warm``): theta (D, G, P),
    f (D,), converged (D,), grad_norm (D,).  ``indep`` (G, 2): starts for the independent fits."""
    G = n.shape[0] if n.ndim == 2 else n.shape[1]
    D = W.shape[0]

    def expand(s):
        return np.broadcast_to(np.asarray(s, float).reshape(-1, s.shape[-2] * s.shape[-1])
                               if s.ndim == 3 else s.reshape(1, -1), (D, s.shape[-2] * s.shape[-1])).copy()

    if warm is not None:
        warm_res = _run(shared, expand(warm), W, tables, codes, batched)
        bad = ~warm_res[2] | ~np.isfinite(warm_res[1])
        if not bad.any():
            return (warm_res[0].reshape(D, G, -1),) + tuple(warm_res[1:])
    nn = n if n.ndim == 2 else n[0]
    kk = k if k.ndim == 2 else k[0]
    ind0 = _independent_start(nn, kk, codes) if indep is None else np.asarray(indep, float)
    ith, if_, ic, ign = _run(False, expand(ind0), W, tables, codes, batched)
    if not shared:
        res = (ith, if_, ic, ign)
    else:
        res = None
        for st in _shared_starts(ith.reshape(D, G, 2), codes):
            r = _run(True, expand(st), W, tables, codes, batched)
            if res is None:
                res = r
            else:
                better = np.isfinite(r[1]) & ~(r[1] >= res[1])
                res = tuple(np.where(better.reshape((-1,) + (1,) * (a.ndim - 1)), b, a) for a, b in zip(res, r))
    th, f, c, gn = res
    if warm is not None:  # keep the warm-started fits that converged
        th0, f0, c0, gn0 = warm_res
        keep = ~bad & ~(f0 > f)
        th = np.where(keep[:, None], th0, th)
        f, c, gn = np.where(keep, f0, f), np.where(keep, c0, c), np.where(keep, gn0, gn)
    return th.reshape(D, G, -1), f, c, gn


# --------------------------------------------------------------------------------------------
# predictions


def _log_kernels(thetas, tables, codes, shared, chunk=16):
    """log K (T, G, I, Q) for parameter sets (T, G, P), in chunks of ``chunk`` sets (the last
    one padded: one compiled shape)."""
    fn = _kernels_fn(bool(shared), tuple(codes))
    T = len(thetas)
    thetas = np.asarray(thetas, float)
    pad = (-T) % chunk
    if pad:
        thetas = np.concatenate([thetas, np.repeat(thetas[:1], pad, axis=0)])
    return np.concatenate([np.asarray(fn(jnp.asarray(thetas[s:s + chunk]), tables))
                           for s in range(0, len(thetas), chunk)])[:T]


@lru_cache(maxsize=None)
def _kernels_fn(shared, codes):
    def one(th, tables):
        return _by_family(lambda c: lambda t, *tb: _group_kernel(t, c, *tb, shared), codes, th, tables)

    return jax.jit(jax.vmap(one, in_axes=(0, None)))


def _extra_failures(data: PooledData, N: float, target: str) -> np.ndarray:
    """(G, I) attempts beyond the data that a forecast at budget N asks about: N fresh attempts
    (``fresh``), or an unsolved item's next N - n attempts (``continued``; 0 for solved items,
    batch-censored ones included)."""
    if target == "fresh":
        return np.full(data.n.shape, float(N))
    return np.where(~data.solved, np.maximum(float(N) - data.n, 0.0), 0.0)


def _forecast_rows(data: PooledData, N: float, target: str) -> tuple:
    """The rows (n, k, failures, width), each (G, I), whose kernel over the data's kernel is the
    chance of no success that a forecast at budget N asks about (:func:`_tables`).

    Fresh: the data followed by N failures (a censored row too: E[(1 - p)^N (A - B)] / E[A - B]).
    Continued: an unsolved item's next N - n attempts fail.  A batch-censored row (no success in
    n, at least one in n + 1..n + extra) is solved within N <= n with chance 0 and within
    N >= n + extra with chance 1; in between, no success within N given the data is the
    censored row (N, 0, width n + extra - N) over the data's, i.e.
    E[(1 - p)^N - (1 - p)^(n + extra)] / E[(1 - p)^n - (1 - p)^(n + extra)] (replaced by the
    recorded outcome where the item's first success is known)."""
    fails = _extra_failures(data, N, target)
    if target == "fresh":
        return data.n, data.k, fails, data.extra
    inside = (data.extra > 0) & (data.n < N) & (N < data.n + data.extra)
    n = np.where(inside, int(N), data.n)
    return n, data.k, fails, np.where(inside, data.n + data.extra - n, data.extra)


def _stacked_tables(data: PooledData, forecasts):
    """The likelihood tables of the data rows followed by those of every row set in
    ``forecasts`` ((n, k, failures, width) (G, I) arrays each, :func:`_forecast_rows`), stacked
    on the row axis: (Lt, z, o, kmax) of shapes (G, R, ...) and index (1 + J, G, I) into the
    stacked rows; the data rows are the first R_0 (returned last)."""
    tabs = [_data_tables(data)] + [_tables(*rows) for rows in forecasts]
    offsets = np.cumsum([0] + [int(t[0].shape[1]) for t in tabs])
    stacked = tuple(jnp.concatenate([t[j] for t in tabs], axis=1) for j in range(4))
    index = jnp.stack([t[4] + offsets[j] for j, t in enumerate(tabs)])
    return stacked + (index,), int(offsets[1])


@lru_cache(maxsize=None)
def _pass_fn(shared: bool, codes: tuple, rows0: int, grad: bool):
    """One compiled pass over a batch of parameter sets (T, G, P): for each, the kernels of every
    stacked table row (one product of the table with the family masses per group), each item's
    log marginal likelihood (T, I) and, per extra-failure table j, the chance of at least one
    success among the extra attempts given the item's data (T, J, G, I).  With ``grad``, also
    each item's gradient of its log marginal likelihood (T, I, G P) and the priors' gradient
    (T, G P) at that parameter set (the masses' tangents times the data rows only)."""
    P = 3 if shared else 2
    log_wu = _log_wu(shared)

    def group(code):
        def one(t, Lt, z, o, kmax):
            Lx = _full_table(Lt, z, o)
            if not grad:
                val = Lx @ _node_masses(t, code, shared).T
                return kmax[:, None] + jnp.log(jnp.maximum(val, 1e-300)), jnp.zeros(())
            stack = _mass_derivs(t, code, shared, 1)
            K = kmax[:, None] + jnp.log(jnp.maximum(Lx @ stack[..., 0].T, 1e-300))
            return K, _log_kernel_derivs(Lx[:rows0], stack, P)[1]
        return one

    def one_set(th, Lt, z, o, kmax, index):
        K_rows, dK_rows = _by_family(group, codes, th, (Lt, z, o, kmax))  # (G, R, Q), (G, R0, Q, P)
        K = jax.vmap(lambda Kg, ig: Kg[ig], in_axes=(0, 1), out_axes=1)(K_rows, index)  # (1 + J, G, I, Q)
        A = log_wu[None, :] + jnp.sum(K[0], axis=0)  # (I, Q)
        ll = jax.nn.logsumexp(A, axis=1)
        lf = jax.nn.logsumexp(A[None, None] - K[0][None] + K[1:], axis=3)  # (J, G, I)
        p = -jnp.expm1(jnp.minimum(lf - ll[None, None], 0.0))
        if not grad:
            return p, ll
        pi = jnp.exp(A - ll[:, None])
        dK = jax.vmap(lambda d, ig: d[ig])(dK_rows, index[0])  # (G, I, Q, P)
        gbar = jnp.einsum("iq,giqa->iga", pi, dK).reshape(pi.shape[0], -1)
        return p, ll, gbar, _penalty_pieces(th, codes, shared, hessian=False)[1]

    def run(thetas, Lt, z, o, kmax, index):
        return jax.lax.map(lambda th: one_set(th, Lt, z, o, kmax, index), thetas)

    return jax.jit(run)


def _prob_pass(thetas, data: PooledData, forecasts, shared: bool, codes, *, grad: bool = False) -> dict:
    """:func:`_pass_fn` on parameter sets (T, G, P) for the data's rows and the forecast row sets
    ``forecasts`` (J of them, :func:`_forecast_rows`): every set and budget in one compiled
    computation.  Returns numpy arrays ``p`` (T, J, G, I), ``ll`` (T, I) and with ``grad``
    ``gbar`` (T, I, G P), ``pg`` (T, G P)."""
    tables, rows0 = _stacked_tables(data, forecasts)
    fn = _pass_fn(bool(shared), tuple(codes), rows0, bool(grad))
    thetas = np.asarray(thetas, float)
    T = len(thetas)
    # fixed batches of _PASS_BATCH sets (the last one padded): one compiled shape for a single
    # point estimate and for hundreds of bootstrap replicates alike
    pad = (-T) % _PASS_BATCH
    thetas = np.concatenate([thetas, np.repeat(thetas[:1], pad, axis=0)])
    outs = [fn(jnp.asarray(thetas[s:s + _PASS_BATCH]), *tables) for s in range(0, len(thetas), _PASS_BATCH)]
    return dict(zip(("p", "ll", "gbar", "pg"), (np.concatenate([np.asarray(o[j]) for o in outs])[:T]
                                                  for j in range(len(outs[0])))))


def _finish_prob(p, data: PooledData, N: float, target: str) -> np.ndarray:
    """The model's chances p (T, G, I) turned into forecasts at budget N: fresh forecasts as
    they are; for a continued run solved items stay solved (an item solved in more than N
    attempts counts with the unbiased pass@N of its attempts), known first successes count as
    they fell, and items a group did not attempt are NaN."""
    from .passk import pass_at_k

    if target == "fresh":
        return p
    n, k, extra = data.n, data.k, data.extra
    out = np.where((k == 0) & (n < N), p, 0.0)
    # a batch-censored row: solved within N once its interval ends there (its chance is the
    # model's in between, and 0 for N <= n from the line above)
    out = np.where((extra > 0) & (n + extra <= N), 1.0, out)
    solved = k > 0
    out = np.where(solved & (n <= N), 1.0, out)
    part = solved & (n > N)
    if part.any():
        out[:, part] = pass_at_k(n[part], k[part], int(math.floor(N)))[None, :]
    known = np.isfinite(data.first_success)
    out[:, known] = (data.first_success[known] <= N)[None, :]
    out[:, ~data.present] = np.nan
    return out


def _solve_prob(thetas, data: PooledData, N_arr, target: str, shared: bool, codes) -> np.ndarray:
    """Per (parameter set, budget, group, item) chance of a success within each budget of
    ``N_arr``: (T, J, G, I); NaN where the group did not attempt the item (continued target) --
    fresh forecasts cover every item."""
    N_arr = np.atleast_1d(np.asarray(N_arr, float))
    p = _prob_pass(thetas, data, [_forecast_rows(data, N, target) for N in N_arr], shared, codes)["p"]
    return np.stack([_finish_prob(p[:, j], data, float(N), target) for j, N in enumerate(N_arr)], axis=1)


def _lse(a, axis):
    m = np.max(a, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    return np.squeeze(m, axis) + np.log(np.sum(np.exp(a - m), axis=axis))


# --------------------------------------------------------------------------------------------
# result


@dataclass(frozen=True, eq=False)
class PooledFit:
    """A pooled fit (immutable).  ``theta`` (G, 3): the residual family's two parameters (as in
    :mod:`scalefit.sampling.models`: logit-normal (mu, log sigma), Kumaraswamy and beta
    (log a, log b)) and log s per group, or (G, 2) without the shared effect (``shared=False``);
    ``families``: the residual family of every group."""

    data: PooledData
    theta: np.ndarray
    shared: bool
    objective: float
    converged: bool
    grad_norm: float
    families: tuple = ()

    @property
    def codes(self):
        return _family_codes(self.families or None, self.data.shape[0])[1]

    @property
    def message(self) -> str:
        return ("converged" if self.converged else
                f"NOT converged (max |gradient| {self.grad_norm:.2g}); treat the forecasts with caution")

    def params(self) -> pd.DataFrame:
        th = self.theta
        s = np.exp(th[:, 2]) if self.shared else np.zeros(len(th))
        var = np.asarray(_residual_vars_fn(tuple(self.codes))(jnp.asarray(th)))
        return pd.DataFrame({"group": list(self.data.groups), "family": list(self.families or
                             ("logit_normal",) * len(th)), "param_1": th[:, 0], "param_2": th[:, 1],
                             "s": s, "residual_sd": np.sqrt(var), "shared_share": s**2 / (s**2 + var)})

    def probabilities(self, N, target="fresh") -> np.ndarray:
        """(G, I) chance of a success within N per group and item."""
        return _solve_prob(self.theta[None], self.data, [float(N)], target, self.shared, self.codes)[0, 0]

    def rates(self, N, target="fresh") -> np.ndarray:
        """(G,) forecast rate per group (mean over the items the group attempted)."""
        p = self.probabilities(N, target)
        return np.nanmean(np.where(self.data.present, p, np.nan), axis=1)

    def replicates(self, N=(), *, target="fresh", num_bootstrap=200, seed=0, verdict=True,
                   refit=False) -> "PooledReplicates":
        """Refits on ``num_bootstrap`` item resamples drawn jointly across groups (an item keeps
        all of its groups' attempts) and every refit's forecast chances at the budgets ``N``.

        Each refit is one exact Newton step from this fit on the resample's penalised
        likelihood (the per-item gradients and Hessians at this fit, computed once, weighted by
        the resample); where the resample's Hessian is not negative definite the step uses the
        full data's (the linearised bootstrap step).  One compiled pass then evaluates every stepped parameter set: its
        kernels for the data and for every budget (the forecasts) and, with ``verdict``, the
        gradient of its resample's objective (about 2.5x the cost of the pass without it; without
        it ``converged`` and ``decrement`` are NaN/False).  ``converged``: the Newton decrement left at the
        stepped point, sqrt(g' H^-1 g) with H the step's Hessian, is at most 0.25, i.e. the
        distance left to the resample's optimum is below a quarter of a standard error of the
        parameters (such errors, in random directions, widen the replicates' spread by at most
        sqrt(1 + 0.25^2) - 1 = 3%); a step that leaves the parameter box is not taken (the
        replicate stays at this fit and fails the verdict).  With ``refit=True`` the replicates
        that fail the verdict are refitted by the damped-Newton solver from their step (no
        multi-start; slow: one solve per replicate) and passed again; their verdict is the
        solver's."""
        from .bonfit import item_resamples

        N_arr = np.atleast_1d(np.asarray(N, float))
        data, codes, shared = self.data, tuple(self.codes), self.shared
        mult = item_resamples(data.shape[1], int(num_bootstrap), seed)
        B = len(mult)
        tables = _data_tables(data)
        g, H, pg, ph = (np.asarray(a) for a in _pieces_fn(shared, codes)(jnp.asarray(self.theta.ravel()), tables))
        grad = mult @ g - pg[None]
        hess = np.einsum("bi,ijk->bjk", mult, H) - ph[None]
        # a resample whose Hessian at this fit is not negative definite steps with the full data's
        # (negative definite at a converged fit): the linearised bootstrap step for that resample
        full = H.sum(axis=0) - ph
        out = np.full((B, self.theta.size), np.nan)
        own = np.zeros(B, bool)
        for b in range(B):
            try:
                np.linalg.cholesky(-hess[b])
                own[b] = True
            except np.linalg.LinAlgError:
                hess[b] = full
            try:
                out[b] = self.theta.ravel() - np.linalg.solve(hess[b], grad[b])
            except np.linalg.LinAlgError:
                pass
        stepped = np.all(np.isfinite(out), axis=1) & np.all(np.abs(out) <= _BOUND, axis=1)
        thetas = np.where(stepped[:, None], out, self.theta.ravel()[None])
        extras = [_forecast_rows(data, NN, target) for NN in N_arr]
        # the point estimate (this fit) rides along as set 0
        res = _prob_pass(np.concatenate([self.theta[None], thetas.reshape((B,) + self.theta.shape)]), data,
                         extras, shared, codes, grad=bool(verdict or refit))
        decrement = np.full(B, np.nan)
        if "gbar" in res:
            g1 = np.einsum("bi,bia->ba", mult, res["gbar"][1:]) - res["pg"][1:]
            for b in np.flatnonzero(stepped):
                decrement[b] = math.sqrt(max(float(g1[b] @ np.linalg.solve(-hess[b], g1[b])), 0.0))
        p = res["p"][1:]
        converged = stepped & (decrement <= _STEP_TOL)
        redo = bool(refit) & ~converged
        if redo.any():
            # padded to a multiple of _PASS_BATCH resamples: a few compiled shapes, whatever the count
            m = int(redo.sum())
            rows = np.concatenate([np.flatnonzero(redo), np.repeat(np.flatnonzero(redo)[:1], (-m) % _PASS_BATCH)])
            # the solver from the step (or this fit), no multi-start: its verdict is the replicate's
            th_r, f_r, c_r, _ = _run(shared, thetas[rows], mult[rows], tables, codes)
            thetas[redo] = th_r[:m].reshape(m, -1)
            converged[redo] = c_r[:m] & np.isfinite(f_r[:m])
            p[redo] = _prob_pass(th_r[:m].reshape((m,) + self.theta.shape), data, extras, shared, codes)["p"]
        probs = np.zeros((B, len(N_arr)) + data.shape)
        point = np.zeros((len(N_arr),) + data.shape)
        for j, NN in enumerate(N_arr):
            probs[:, j] = _finish_prob(p[:, j], data, float(NN), target)
            point[j] = _finish_prob(res["p"][:1, j], data, float(NN), target)[0]
        return PooledReplicates(N_arr, thetas.reshape((B,) + self.theta.shape), probs, point, converged,
                                decrement, redo, ~own)

    def bootstrap(self, num_bootstrap=200, seed=0, refit=False) -> np.ndarray:
        """Refits (B, G, P) on ``num_bootstrap`` item resamples drawn jointly across groups
        (:meth:`replicates`)."""
        return self.replicates((), num_bootstrap=num_bootstrap, seed=seed, verdict=refit, refit=refit).thetas

    def forecast(self, N, *, target="fresh", level=0.9, num_bootstrap=200, seed=0, refit=False):
        """(estimate, lower, upper), each (G, len(N)): forecast rates per group with intervals
        for the realised rate of the run.  Whole-procedure bootstrap: ``num_bootstrap`` refits
        on item resamples drawn jointly across groups (:meth:`replicates`), each replicate's
        forecast for the observed items with a draw of every item's outcome (one uniform per
        replicate and item, shared by every N).  The one-step replicates' verdict is not computed
        here (:meth:`replicates` does); ``refit=True`` computes it and refits the replicates that
        fail it."""
        N_arr = np.atleast_1d(np.asarray(N, float))
        present = self.data.present
        if num_bootstrap <= 0:
            est = np.stack([self.rates(NN, target) for NN in N_arr], axis=1)
            return est, np.full(est.shape, np.nan), np.full(est.shape, np.nan)
        rep = self.replicates(N_arr, target=target, num_bootstrap=num_bootstrap, seed=seed, verdict=refit,
                              refit=refit)
        est = np.nanmean(np.where(present[None], rep.point, np.nan), axis=2).T
        u = np.random.default_rng([seed, 1]).random((num_bootstrap,) + self.data.shape)
        tail = (1 - level) / 2
        hits = np.where(present[None, None], (u[:, None] < rep.probabilities).astype(float), np.nan)
        rates = np.nanmean(hits, axis=3)  # (B, J, G)
        lo = np.quantile(rates, tail, axis=0).T
        hi = np.quantile(rates, 1 - tail, axis=0).T
        return est, lo, hi

    def item_effects(self) -> pd.DataFrame:
        """Posterior mean and SD of every item's shared effect u_i given all groups' data
        (larger u: easier item)."""
        if not self.shared:
            raise ArgumentError("a fit with shared=False has no item effect")
        base = _log_kernels(self.theta[None], _data_tables(self.data), self.codes, True)[0]
        A = _LOG_WU[None, :] + base.sum(axis=0)
        pi = np.exp(A - _lse(A, axis=1)[:, None])
        mean = pi @ _U_NODES
        sd = np.sqrt(np.maximum(pi @ _U_NODES**2 - mean**2, 0.0))
        return pd.DataFrame({"item": list(self.data.items), "mean": mean, "sd": sd})

    def summary(self) -> str:
        lines = [f"pooled model over {len(self.data.groups)} groups x {len(self.data.items)} items "
                 f"({'shared item effect' if self.shared else 'no shared effect'}): {self.message}"]
        with pd.option_context("display.width", 160, "display.float_format", "{:.4g}".format):
            lines.append(self.params().to_string(index=False))
        return "\n".join(lines)


@dataclass(frozen=True, eq=False)
class PooledReplicates:
    """Bootstrap refits of a pooled fit (:meth:`PooledFit.replicates`): ``thetas`` (B, G, P),
    forecast chances ``probabilities`` (B, J, G, I) at budgets ``N`` (J,) and the fit's own
    ``point`` chances (J, G, I); ``converged`` (B,) the verdict per replicate, ``decrement``
    (B,) the Newton decrement left after the one step (NaN where no step was taken or no verdict
    was asked for), ``refitted`` (B,) the replicates that the solver refitted and
    ``full_hessian`` (B,) those that stepped with the full data's Hessian (their own was not
    negative definite)."""

    N: np.ndarray
    thetas: np.ndarray
    probabilities: np.ndarray
    point: np.ndarray
    converged: np.ndarray
    decrement: np.ndarray
    refitted: np.ndarray
    full_hessian: np.ndarray


def _residual_var(code, th):
    """Variance of the residual family on the logit scale (grid cells, tail lumps left out)."""
    cells = _family_masses(code, th, 0.0)[0]
    w = jnp.exp(cells - jax.nn.logsumexp(cells))
    x = jnp.asarray(GRID_NODES)
    mean = jnp.sum(w * x)
    return jnp.sum(w * (x - mean) ** 2)


@lru_cache(maxsize=None)
def _residual_vars_fn(codes: tuple):
    """Compiled: every group's residual variance (G,) from parameters (G, P) (one program per
    family tuple, instead of one small compilation per operation when run eagerly)."""
    return jax.jit(lambda th: _by_family(lambda c: lambda t: _residual_var(c, t[:2]), codes, th, ()))


@lru_cache(maxsize=None)
def _logit_share_fn(codes: tuple):
    """Compiled: every group's logit shared share, 2 log s - log v (G,), and its gradient in the
    group's parameters (G, 3).  Forward mode, as every derivative of the family masses here:
    reverse mode through the Kumaraswamy masses' branch selections gives NaN at extreme shapes
    (e.g. b = 260), where the forward derivative is finite."""
    def make(c):
        def logit_share(t):
            return 2.0 * t[2] - jnp.log(_residual_var(c, t[:2]))
        return lambda t: (logit_share(t), jax.jacfwd(logit_share)(t))

    return jax.jit(lambda th: _by_family(make, codes, th, ()))


def fit_pooled(data: PooledData, *, shared: bool = True, families=None, start=None) -> PooledFit:
    """Fit the pooled model to ``data``: logit p_ig = s_g u_i + x_ig with x_ig from group g's
    residual family (``families``: one of :data:`POOLED_FAMILIES` per group, default
    logit-normal for all).  ``shared=False`` gives independent fits of those families.
    ``start`` (G, 2): starting family parameters (e.g. the groups' own fits).

    Examples
    --------
    >>> import numpy as np, scalefit; scalefit.enable_x64()
    >>> from scalefit.sampling.pooled import pooled_data, fit_pooled
    >>> rng = np.random.default_rng(0)
    >>> u = rng.normal(size=80)
    >>> p = 1 / (1 + np.exp(-(np.array([[-3.0], [-1.0]]) + 1.5 * u)))
    >>> fit = fit_pooled(pooled_data(np.full((2, 80), 50), rng.binomial(50, p)))  # doctest: +SKIP
    >>> fit.converged  # doctest: +SKIP
    True
    """
    require_x64()
    if not isinstance(data, PooledData):
        raise ArgumentError("`data` must be a PooledData (see pooled_data)")
    fams, codes = _family_codes(families, data.shape[0])
    tables = _data_tables(data)
    W = np.ones((1, data.shape[1]))
    th, f, c, gn = _fit_all(*_start_counts(data), W, tables, codes, shared=shared, indep=start)
    return PooledFit(data, th[0], bool(shared), float(f[0]), bool(c[0]), float(gn[0]), fams)


# --------------------------------------------------------------------------------------------
# choice against independent per-group fits, intervals


@dataclass(frozen=True)
class _ChoiceSplits:
    """The choice's internal backtest: thinned counts ``ms``, ``ks`` (R, G, I), the budget each
    (group, item) must predict and whether it was solved within it (G, I)."""

    ms: np.ndarray
    ks: np.ndarray
    budget: np.ndarray
    truth: np.ndarray


def _choice_splits(data: PooledData, fraction: int, repeats: int, seed: int) -> _ChoiceSplits:
    """Counts: every attempted (group, item) thinned ``repeats`` times to max(1, n // fraction)
    attempts drawn without replacement (:func:`scalefit.sampling.holdout.thin_counts`, seeded as
    the internal backtest of bonfit, on every group at once), predicting its full budget n.
    Sample-until-success logs: every item of group g cut once at its first m_g = n_g // fraction
    attempts (:func:`~scalefit.sampling.holdout.first_attempts`; n_g the fewest attempts made on
    an item of the group the log never solved, usually the cap), predicting whether it was solved within n_g (exact):
    :func:`~scalefit.sampling.holdout.internal_splits` on the group's own observations, so
    batch-censored rows are cut by the attempts the log made and the first successes it
    recorded, as in the group's own fit."""
    from .holdout import internal_splits, thin_counts

    if data.until_success:  # each group cut by the per-group backtest's own rule
        G, I = data.shape
        ms, ks = np.zeros((1, G, I), np.int64), np.zeros((1, G, I), np.int64)
        budget, truth = np.zeros((G, I)), np.zeros((G, I))
        for g in range(G):
            pres = data.present[g]
            sp = internal_splits(data.group_items(g), fraction, 1, seed)
            ms[0, g, pres], ks[0, g, pres] = sp.data[0].n, sp.data[0].k
            budget[g, pres], truth[g, pres] = sp.budget, sp.truth
        return _ChoiceSplits(ms, ks, budget, truth)
    rng = np.random.default_rng([seed, 2])
    m = np.where(data.present, np.maximum(1, data.n // fraction), 0)
    ks = np.stack([thin_counts(data.n, data.k, m, rng) for _ in range(repeats)])
    return _ChoiceSplits(np.broadcast_to(m, ks.shape).copy(), np.where(data.present[None], ks, 0),
                         data.n.astype(float), (data.k > 0).astype(float))


def choice_split_text(until_success: bool, fraction: int) -> str:
    """How the choice's internal backtest cut the data (for summaries and the report page)."""
    if until_success:
        return (f"every item cut at its group's first n_g // {fraction} attempts, scored on whether it was solved "
                f"within n_g, the fewest attempts made on an item the log never solved (a {fraction}x extrapolation)")
    return (f"every item's attempts thinned to n // {fraction}, drawn without replacement, scored on the rate its "
            f"full n attempts show (a {fraction}x extrapolation)")


def _pooled_internal(data: PooledData, sp: _ChoiceSplits, W, codes, warm=None):
    """Residuals (D, R, G, I) of the pooled model's continued rate at each item's budget, fitted
    on each thinning (R) under item weights W (D, I)."""
    R = sp.ms.shape[0]
    D = W.shape[0]
    out = np.full((D, R) + data.shape, np.nan)
    thetas = []
    for r in range(R):
        ms, ks = sp.ms[r], sp.ks[r]
        tables = _tables(ms, ks)
        w0 = None if warm is None else warm[r]
        th, f, c, gn = _fit_all(ms, ks, W, tables, codes, shared=True, warm=w0)
        thetas.append(th)
        sub = PooledData(ms, ks, np.full(ms.shape, np.nan), data.groups, data.items)
        # continued rate at the budget: unsolved thinned items need a success in budget - m
        more = np.where(ks == 0, np.maximum(sp.budget - ms, 0.0), 0.0)
        p = _prob_pass(th, sub, [(ms, ks, more, 0)], True, codes)["p"][:, 0]
        p = np.where(sub.present[None], np.where(ks > 0, 1.0, p), np.nan)
        out[:, r] = p - sp.truth[None]
    return out, thetas


def _independent_internal(bons, data: PooledData, sp: _ChoiceSplits, W):
    """Residuals (D, R, G, I) of each group's own best-of-N model (the family its fit_bon chose),
    refitted on the same thinnings under item weights W (D, I)."""
    from .bonfit import continued_at_budget
    from .models import fit_rows, row_table, row_weights, item_data

    R = sp.ms.shape[0]
    D = W.shape[0]
    out = np.full((D, R) + data.shape, np.nan)

    def group(g):  # one group per core (each writes only its own slice)
        pres = data.present[g]
        for r in range(R):
            sub = item_data(sp.ms[r, g, pres], sp.ks[r, g, pres])
            rows = row_table(sub.n, sub.k, sub.extra)
            th = fit_rows(bons[g].model, rows, row_weights(rows.index, rows.size, W[:, pres]))[0]
            out[:, r, g, pres] = continued_at_budget(bons[g].model, th, sub, sp.budget[g, pres]) - sp.truth[g, pres]

    map_in_threads(group, range(len(bons)))
    return out


def _laplace_cov(fit: PooledFit) -> np.ndarray:
    """Covariance of the parameters from the observed information (inverse Hessian of the
    penalised negative log-likelihood); NaN when it is not positive definite."""
    tables = _data_tables(fit.data)
    _, Hi, _, ph = _pieces_fn(fit.shared, tuple(fit.codes))(jnp.asarray(fit.theta.ravel()), tables)
    H = np.asarray(ph) - np.asarray(Hi).sum(axis=0)
    try:
        np.linalg.cholesky(H)
        return np.linalg.inv(H)
    except np.linalg.LinAlgError:
        return np.full(H.shape, np.nan)


def _sharing_table(fit: PooledFit, level: float = 0.9) -> pd.DataFrame:
    """Shared share s^2 / (s^2 + v) per group (v: the residual family's variance on the logit
    scale) with a Wald interval on the logit scale of the share, log s^2 - log v, by the delta
    method from the observed information of the fit."""
    from scipy.stats import norm

    G = fit.theta.shape[0]
    cov = _laplace_cov(fit)
    est, grad = (np.asarray(a) for a in _logit_share_fn(tuple(fit.codes))(jnp.asarray(fit.theta)))
    se = np.array([math.sqrt(max(float(grad[g] @ cov[3 * g:3 * g + 3, 3 * g:3 * g + 3] @ grad[g]), 0.0))
                   for g in range(G)])
    zq = norm.ppf(0.5 + level / 2)
    expit = lambda x: 1.0 / (1.0 + np.exp(-x))  # noqa: E731
    return pd.DataFrame({"group": list(fit.data.groups), "family": list(fit.families),
                         "shared_share": expit(est), "lower_90": expit(est - zq * se), "upper_90": expit(est + zq * se)})


def _errors(res, W, present):
    """Internal error per weight vector and group (D, G): mean over thinnings of |weighted mean
    residual| over the group's items."""
    w = W[:, None, None, :] * present[None, None]
    mean = np.nansum(res * w, axis=3) / np.sum(w, axis=3)
    return np.mean(np.abs(mean), axis=1), np.mean(mean, axis=1)


POOL_CHOICES = ("auto", "on", "off")


@dataclass(frozen=True, eq=False)
class GroupedBon:
    """Best-of-N models for groups that share items: each group's own model (:func:`fit_bon`),
    the pooled model, the internal backtest that compared them and the choice per group."""

    data: PooledData
    pooled: PooledFit
    independent: dict
    scores: pd.DataFrame
    choice: dict
    reasons: dict
    pool: str
    sharing: pd.DataFrame
    seed: int
    choice_fraction: int = 10
    #: the choice rule's threshold: pooled where its gain exceeds ``z`` standard errors
    z: float = 1.645

    def summary(self) -> str:
        lines = [self.pooled.summary(), "", "shared item difficulty (share of each group's item variance "
                 "that is common to all groups, 90% Wald interval from the observed information):"]
        with pd.option_context("display.width", 160, "display.float_format", "{:.4g}".format):
            lines.append(self.sharing.to_string(index=False))
            lines.append("")
            lines.append(f"internal backtest, pooled vs independent ({choice_split_text(self.data.until_success, self.choice_fraction)}):")
            lines.append(self.scores.to_string(index=False))
        for g in self.data.groups:
            lines.append(f"{g}: {self.choice[g]} -- {self.reasons[g]}")
        return "\n".join(lines)

    def predict(self, N, *, target: str = "fresh", level: float = 0.9, num_bootstrap: int = 200,
                seed: int | None = None, independent_bootstrap: int | None = None) -> pd.DataFrame:
        """Per group and budget: the pooled and the independent forecast with intervals and which
        one the choice uses (``chosen``).  Columns: group, N, method, estimate, lower, upper, chosen.

        Pooled intervals: :meth:`PooledFit.forecast`, ``num_bootstrap`` refits on item resamples
        drawn jointly across groups, each followed by a draw of the realised outcome of every
        item; independent intervals: :meth:`BonFit.predict` with
        ``independent_bootstrap`` whole-procedure replicates (default ``num_bootstrap``)."""
        from ._common import check_level, check_target
        from .bonfit import check_budget_list, check_num_bootstrap

        level = check_level(level)
        target = check_target(target)
        N_arr = check_budget_list(N)
        B = check_num_bootstrap(num_bootstrap)
        seed = self.seed if seed is None else int(seed)
        est, lo, hi = self.pooled.forecast(N_arr, target=target, level=level, num_bootstrap=B, seed=seed)
        fcs = map_in_threads(lambda name: self.independent[name].predict_forecast(
            N_arr, target=target, level=level, seed=seed,
            num_bootstrap=num_bootstrap if independent_bootstrap is None else independent_bootstrap), self.data.groups)
        rows = []
        for g, (name, fc) in enumerate(zip(self.data.groups, fcs)):
            for j, NN in enumerate(N_arr):
                rows.append({"group": name, "N": NN, "method": "pooled", "estimate": est[g, j], "lower": lo[g, j],
                             "upper": hi[g, j], "chosen": self.choice[name] == "pooled"})
                rows.append({"group": name, "N": NN, "method": "independent", "estimate": fc.estimate[j],
                             "lower": fc.lower[j], "upper": fc.upper[j], "chosen": self.choice[name] != "pooled"})
        return pd.DataFrame(rows)


def fit_groups(data: PooledData, *, pool: str = "auto", candidates=None, fraction: int = 4, repeats: int = 4,
               seed: int = 0, z: float = 1.645, select_bootstrap: int = 100, choice_fraction: int = 10) -> GroupedBon:
    """Fit every group on its own (:func:`scalefit.sampling.fit_bon`) and the pooled model, and
    choose per group by the internal backtest.

    ``pool="auto"``: the pooled model is used for a group only when its internal-backtest error
    is smaller than that of the group's own model by more than ``z`` standard errors of the gain
    (SE over ``select_bootstrap`` resamples of the items, jointly across groups, with both models
    refitted on every thinning); ``"on"`` / ``"off"``: always / never pooled (the backtest is still
    reported for ``"on"``).

    The internal backtest of that choice fits both models on every item's attempts thinned to
    max(1, n // ``choice_fraction``) (drawn without replacement, ``repeats`` times) and scores the
    continued rate at the full observed budget n: a ``choice_fraction``-fold extrapolation, so
    that the choice is judged as far out as the data allow (forecasts are wanted 10-100x beyond
    the attempts made; a 4x check cannot see a tail shape that only fails further out).
    ``fraction`` is each group's own family choice (:func:`~scalefit.sampling.fit_bon`).
    """
    from .bonfit import DEFAULT_CANDIDATES, choose_candidate, item_resamples, fit_bon

    require_x64()
    if pool not in POOL_CHOICES:
        raise ArgumentError(f"`pool` = {pool!r} is not one of 'auto', 'on', 'off'")
    cands = DEFAULT_CANDIDATES if candidates is None else tuple(candidates)

    if np.any(data.extra > 0) and not data.until_success:
        raise ArgumentError("`data` holds batch-censored rows (`extra` > 0) without first successes: the choice's "
                            "internal backtest cannot cut them; give `first_success`, or fit the pooled model alone "
                            "(fit_pooled)")

    def own_fit(g):
        return fit_bon(data.group_items(g), candidates=cands, fraction=fraction, repeats=repeats, seed=seed, z=z,
                       select_bootstrap=select_bootstrap)

    bons = map_in_threads(own_fit, range(len(data.groups)))  # one group per core
    # the pooled candidate differs from each group's own model only by the shared item effect:
    # its residual family is the group's chosen family (logit-normal where that family has no
    # logit-scale density here), started at the group's own fit
    fams = tuple(b.model if b.model in _FAMILY_CODE else "logit_normal" for b in bons)
    start = _independent_start(*_start_counts(data), _family_codes(fams, len(fams))[1])
    for g, b in enumerate(bons):
        if b.model == fams[g]:
            start[g] = np.asarray(b.fit.theta, float)
    pooled = fit_pooled(data, families=fams, start=start)
    codes = pooled.codes
    if int(choice_fraction) < 2:
        raise ArgumentError(f"`choice_fraction` = {choice_fraction!r} must be an integer >= 2")
    sp = _choice_splits(data, int(choice_fraction), int(repeats), seed)
    ones = np.ones((1, data.shape[1]))
    res_p, th_p = _pooled_internal(data, sp, ones, codes, warm=[pooled.theta] * len(sp.ms))
    res_i = _independent_internal(bons, data, sp, ones)
    err_p, bias_p = _errors(res_p, ones, data.present)
    err_i, bias_i = _errors(res_i, ones, data.present)
    gain = err_i[0] - err_p[0]
    se = np.full(gain.shape, np.nan)
    if select_bootstrap:
        # item resamples (jointly across groups) with both models refitted on every thinning
        mult = item_resamples(data.shape[1], int(select_bootstrap), seed)
        rb_p, _ = _pooled_internal(data, sp, mult, codes, warm=[t[0] for t in th_p])
        rb_i = _independent_internal(bons, data, sp, mult)
        se_kind = f"bootstrap SE over {select_bootstrap} item resamples, refitted"
    else:
        # cheaper: the same residuals reweighted by 200 item resamples (no refits)
        mult = item_resamples(data.shape[1], 200, seed)
        rb_p, rb_i = res_p[0][None], res_i[0][None]
        se_kind = "SE over 200 item resamples of the residuals, not refitted"
    gb = _errors(rb_i, mult, data.present)[0] - _errors(rb_p, mult, data.present)[0]
    se = np.std(gb, axis=0, ddof=1)
    choice, reasons = {}, {}
    for g, name in enumerate(data.groups):
        if pool == "off":
            choice[name], reasons[name] = "independent", "pooling switched off (pool='off')"
            continue
        if pool == "on":
            choice[name], reasons[name] = "pooled", "pooling requested (pool='on')"
            continue
        sg = se[g] if np.isfinite(se[g]) else np.inf
        j = int(choose_candidate(np.array([[err_i[0, g], err_p[0, g]]]), np.array([0.0, sg]), z)[0])
        if j == 1:
            choice[name] = "pooled"
            reasons[name] = (f"internal backtest error {err_p[0, g]:.4f} (pooled) vs {err_i[0, g]:.4f} "
                             f"({bons[g].model} on its own): a gain of {gain[g]:.4f}, more than {z:g} x its "
                             f"{se_kind} ({se[g]:.4f})")
        else:
            choice[name] = "independent"
            reasons[name] = (f"{bons[g].model} on its own kept: internal backtest error {err_i[0, g]:.4f} vs "
                             f"{err_p[0, g]:.4f} pooled (gain {gain[g]:.4f}, {se_kind} {se[g]:.4f}, "
                             f"rule: gain > {z:g} SE)")
    scores = pd.DataFrame({"group": list(data.groups), "independent_model": [b.model for b in bons],
                           "error_independent": err_i[0], "error_pooled": err_p[0], "bias_independent": bias_i[0],
                           "bias_pooled": bias_p[0], "gain": gain, "gain_se": se,
                           "chosen": [choice[g] for g in data.groups]})
    sharing = _sharing_table(pooled)
    return GroupedBon(data, pooled, dict(zip(data.groups, bons)), scores, choice, reasons, pool, sharing, int(seed),
                      int(choice_fraction), float(z))


# --------------------------------------------------------------------------------------------
# public entry points for other layers (the posterior of the pooled model in scalefit.bayes)


def _log_posterior_and_grad(theta, tables, codes: tuple):
    """The penalised log marginal likelihood, sum_i log L_i - priors, at flat parameters theta
    (G 3,) and its gradient.  Kernels V = L M^T (table rows x nodes) from the family masses M;
    the gradient in a group's parameters is sum_{q,c} (L^T (W / V))_cq dM_qc with W_rq the
    posterior weight of node q summed over the items on row r: one more product with the table
    (the masses are differentiated forward, 3 tangents, as in the point fit)."""
    G, P = len(codes), 3
    th = theta.reshape(G, P)

    def kernels(code):
        def one(t, Lt, z, o, kmax, index):
            M = _node_masses(t, code, True)
            V = _full_table(Lt, z, o) @ M.T  # (R, Q)
            return (kmax[:, None] + jnp.log(jnp.maximum(V, 1e-300)))[index], V
        return one

    K, V = _by_family(kernels, codes, th, tables)  # (G, I, Q), (G, R, Q)
    A = _log_wu(True)[None, :] + jnp.sum(K, axis=0)
    ll = jax.nn.logsumexp(A, axis=1)
    pi = jnp.exp(A - ll[:, None])  # (I, Q)
    index = tables[4]
    R = V.shape[1]
    W = jax.vmap(lambda ig: jax.ops.segment_sum(pi, ig, num_segments=R))(index)  # (G, R, Q)
    # nodes where a row's likelihood underflows carry no weight (as in the point fit)
    ok = V > 1e-300
    ratio = jnp.where(ok, W / jnp.where(ok, V, 1.0), 0.0)

    def grads(code):
        def one(t, Lt, z, o, ratio_g):
            dM = _mass_derivs(t, code, True, 1)[..., 1:]  # (Q, C + 2, P)
            B = _full_table(Lt, z, o).T @ ratio_g  # (C + 2, Q)
            return jnp.einsum("cq,qca->a", B, dM)
        return one

    grad = _by_family(grads, codes, th, tables[:3] + (ratio,)).reshape(G * P)
    pf, pg, _ = _penalty_pieces(th, codes, True, hessian=False)
    return jnp.sum(ll) - pf, grad - pg


@lru_cache(maxsize=None)
def _log_posterior_fn(codes: tuple):
    @jax.custom_jvp
    def log_post(theta, tables):
        return _log_posterior_and_grad(theta, tables, codes)[0]

    @log_post.defjvp
    def _jvp(primals, tangents):
        theta, tables = primals
        value, grad = _log_posterior_and_grad(theta, tables, codes)
        return value, grad @ tangents[0]

    return log_post


def pooled_log_posterior(data: PooledData, families=None):
    """The pooled model's log posterior density as a JAX function, for samplers: returns
    ``(log_post, tables, families)`` where ``log_post(theta, tables)`` is the log marginal
    likelihood (the shared effect integrated on its nodes, the residual on the logit grid) plus
    the log priors of :func:`fit_pooled` (up to a constant), at flat parameters theta (G 3,) in
    the order of :attr:`PooledFit.theta` (row-major); its maximum is :func:`fit_pooled`'s
    fit.  Differentiable in theta (the gradient is the model's own, forward-mode in the family
    masses); ``tables`` are the data's likelihood tables (arrays, pass them as data so that one
    compiled function serves every data set of the same shape)."""
    require_x64()
    if not isinstance(data, PooledData):
        raise ArgumentError("`data` must be a PooledData (see pooled_data)")
    fams, codes = _family_codes(families, data.shape[0])
    tables = _data_tables(data)
    # the rows no item uses (padding to shared compiled shapes) cost a sampler at every step
    used = int(np.max(np.asarray(tables[4]))) + 1
    return _log_posterior_fn(codes), tuple(t[:, :used] for t in tables[:4]) + (tables[4],), fams


def pooled_chances(thetas, data: PooledData, N, *, target: str = "fresh", families=None) -> np.ndarray:
    """For parameter sets ``thetas`` (T, G, 3) of the shared model (posterior draws, say) the
    chance of a success within each budget of ``N`` per group and item, (T, len(N), G, I), as
    :meth:`PooledFit.probabilities` gives it for one set; all sets and budgets in one compiled
    pass."""
    from ._common import check_target

    target = check_target(target)
    _, codes = _family_codes(families, data.shape[0])
    return _solve_prob(np.asarray(thetas, float), data, N, target, True, codes)


def pooled_shared_share(thetas, families) -> np.ndarray:
    """Shared share s^2 / (s^2 + v) (T, G) of parameter sets (T, G, 3) (``PooledFit.params``'s
    ``shared_share`` for each set)."""
    thetas = np.asarray(thetas, float)
    _, codes = _family_codes(families, thetas.shape[1])
    var = np.asarray(jax.vmap(_residual_vars_fn(codes))(jnp.asarray(thetas)))
    s2 = np.exp(2.0 * thetas[..., 2])
    return s2 / (s2 + var)
