"""Where to spend the next attempts: an adaptive sampling planner for pass@N / ASR@N forecasts.

Given the attempts made so far, :func:`plan` says how many further attempts each item should get
so that the forecast of pass@N (ASR@N) at a target budget N becomes as precise as possible.

What it optimises
-----------------
Under the fitted population distribution of per-item success probability p (any model that
gives each item's posterior of p on a grid, :class:`~scalefit.sampling.models.ItemPosterior`;
by default scalefit's best-of-N model, :func:`~scalefit.sampling.fit_bon`), the forecast is the
mean over items of a per-item term, and its posterior variance (parameters held at their fit) is
the sum of the per-item variances divided by the number of items squared:

* ``target="fresh"``: the term is g_i = 1 - (1 - p_i)^N, the chance that a new run of N attempts
  solves item i; its variance is Var(g_i | data).
* ``target="continued"``: the term is whether item i is solved within its first N attempts,
  the observed ones included; an item already solved (or observed failing for N attempts) is
  decided, otherwise with q_i = P(success in attempts n_i + 1..N | data) the variance is
  q_i (1 - q_i).

For every item and every number m of further attempts the planner computes the **expected**
variance after seeing them (a preposterior analysis: the outcome y of the m attempts is drawn
from the item's posterior predictive, the posterior updated, its variance averaged over y).
For ``fresh`` the outcome is summarised as y = 0, 1, .., 39 or "40 or more" successes (a
coarsened observation: the expected variance is then an upper bound, tight where it matters,
in the tail where successes are rare); for ``continued`` only "any success or not" matters and
the formula is exact.  The budget goes to the items with the largest expected reduction per
attempt (greedy on each item's lower convex hull of expected variance against attempts, which
is the optimum of the separable problem up to the last, partly funded item).  Items whose term
cannot change (every attempt succeeded at a large N; already solved, for ``continued``) get no
attempts; items without a success get more.

The uncertainty of the fitted population parameters, shared by every item, is counted only with
``parameter_draws=T``: T bootstrap refits of the family over items give T populations, and the
forecast's variance over them is a second part of the objective.  An item's m further attempts
reduce it by reweighting the T populations with the predictive probability of the outcome (the
same preposterior computation, with populations in place of grid nodes); items' contributions
are combined as independent Gaussian measurements of the forecast (precisions add), so the
allocation is a lazy greedy.  Items whose own term cannot change still get nothing.  The plan
then reports the population-parameter SD of the forecast now and expected after
(``sd_param_now``, ``sd_param_after``).

Tail families
-------------
Which tail family is right below p ~ 1/n is often what decides the forecast at a large N, and
the internal backtest of :func:`~scalefit.sampling.fit_bon` may not be able to tell the
candidates apart (:meth:`~scalefit.sampling.BonFit.plausible_models`).  With
``families="plausible"`` (or a list of family names or fitted models) the planner plans against
the mixture of those families: the populations of the population part above come from every
family (each family's point fit, or with ``parameter_draws=T`` its T bootstrap refits), each
family with the same prior weight, split equally among its draws, and each item's own term and
expected variance are averaged over the families.  Equal weights, because the families are the
ones the only criterion of extrapolation the data offer (the internal backtest) cannot reject;
the likelihood of the data so far is not used to weight them, since it is decided by the items
with successes, i.e. by the body of the distribution, not by the tail below 1/n.  An item's
further attempts are then worth also what their outcome is expected to say between the
families, through the same reweighting of populations by the outcome's predictive probability.
This objective produces depth on its own: on unsolved items the families' predictions of m
further attempts differ most when m is large, so the budget goes to a random subset of the
interchangeable unsolved items, up to hundreds of attempts each (ties are broken in a seeded
random order).  The populations are reweighted as fitted, not refitted after the outcome, so
what an item with a few successes says about the body of the distribution also counts as
telling the families apart.  :func:`sample_in_rounds` with ``families`` scores each family prequentially (the log
probability of every planned round's outcome given the data before it, which is valid under the
adaptive design) and refits the final forecast on the best-scoring family, the first-round
family on ties (``RoundsResult.families``).

Rounds and the stopping rule
----------------------------
The planner is meant to be used in rounds: plan, sample, refit, plan again.  ``rounds=R``
spends 1/R of the budget now (the remaining rounds are planned after refitting on what this one
shows).  With ``width=W`` the current ``level`` interval of the forecast at N is computed first
(the whole-procedure bootstrap of :meth:`~scalefit.sampling.BonFit.predict`), and when it is no
wider than W the plan allocates nothing and says so (``PlanResult.stop``).
:func:`sample_in_rounds` runs the whole loop with a user-supplied sampler.

Why the usual fits stay valid on planned data
---------------------------------------------
How many attempts an item gets depends only on outcomes already observed.  The likelihood of
everything observed is then the product of p^k (1 - p)^(n - k) over items, exactly as for a
fixed design (the allocation rule contributes factors that do not involve p), so every fit,
forecast and interval of :mod:`scalefit.sampling.bonfit` applies unchanged to the resulting
ragged per-item budgets.  The exception is the internal backtest that chooses the family: it
thins each item's attempts, and thinning an item that got few attempts *because* it succeeded
early does not mimic a smaller design.  :func:`sample_in_rounds` therefore chooses the family on
the fixed-design start and keeps it.

Groups
------
A counts frame with group columns (e.g. one group per model) is planned per group with one
model each.  ``budget_scope="total"`` (default) shares one budget across groups, minimising the
sum over groups of the variance of each group's forecast; ``"group"`` gives every group the
full ``extra_budget``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd
from scipy import special as sp

from .._config import require_x64
from ..errors import ArgumentError
from ._common import check_level, check_target, short_value
from .censored import as_item_data
from .models import ItemData, ItemPosterior, item_data

__all__ = ["PlanResult", "RoundsResult", "plan", "sample_in_rounds", "merge_attempts"]

BUDGET_SCOPES = ("total", "group")
_Y_BUCKETS = 40  # fresh target: outcomes 0..39 successes, and "40 or more"
_LADDER_POINTS = 64  # attempt counts per item at which the expected variance is evaluated


# --------------------------------------------------------------------------------------------
# expected posterior variance per item


def _fresh_curves(post: ItemPosterior, N: float, ladder: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(I,) current term E[g | data] and (I, L) expected posterior variance of g = 1 - (1 - p)^N
    after ladder[j] further attempts."""
    p = post.p
    w = np.exp(post.log_w)
    with np.errstate(divide="ignore"):
        log_q = np.log1p(-p)  # -inf at p = 1
    g = -np.expm1(N * log_q)
    g[-1] = 1.0
    mean = w @ g
    centred = w * (g[None, :] - mean[:, None])  # (I, C)
    v0 = np.sum(centred * (g[None, :] - mean[:, None]), axis=1)
    out = np.empty((w.shape[0], ladder.size))
    with np.errstate(divide="ignore"):
        log_p = np.log(p)
    for j, m in enumerate(ladder):
        m = float(m)
        if m == 0:
            out[:, j] = v0
            continue
        Y = int(min(m, _Y_BUCKETS))
        y = np.arange(Y + 1, dtype=float)[:, None]  # outcomes 0..Y (Y: "Y or more" when m > Y)
        with np.errstate(invalid="ignore", divide="ignore"):
            logc = sp.gammaln(m + 1) - sp.gammaln(y + 1) - sp.gammaln(m - y + 1)
            lp = logc + np.where(y > 0, y * log_p[None, :], 0.0) + np.where(m - y > 0, (m - y) * log_q[None, :], 0.0)
        pmf = np.exp(lp)  # (Y+1, C); p = 0 -> only y = 0; p = 1 -> only y = m
        if m > Y:
            pmf[Y] = sp.bdtrc(Y - 1, int(m), p)  # P(y >= Y)
            pmf[Y, -1] = 1.0
        py = w @ pmf.T  # (I, Y+1)
        num = centred @ pmf.T  # (I, Y+1): E[(g - mean) 1{y}]
        with np.errstate(invalid="ignore", divide="ignore"):
            red = np.sum(np.where(py > 1e-300, num * num / np.maximum(py, 1e-300), 0.0), axis=1)
        out[:, j] = np.maximum(v0 - red, 0.0)
    return mean, out


def _continued_curves(post: ItemPosterior, data: ItemData, N: float, ladder: np.ndarray):
    """(I,) chance of a success within the first N attempts and (I, L) expected variance of that
    outcome after ladder[j] further attempts (exact: only "a success or not" matters)."""
    decided, solved = _decided(data, N)
    w = np.exp(post.log_w)
    with np.errstate(divide="ignore"):
        log_q = np.log1p(-post.p)
    rest = np.maximum(N - data.n.astype(float), 0.0)  # attempts still counting towards N
    r = np.einsum("ic,ic->i", w, _fail_pow(rest, log_q))  # P(no success in the rest)
    q = np.where(decided, solved.astype(float), 1.0 - r)
    out = np.zeros((data.size, ladder.size))
    for j, m in enumerate(ladder):
        mm = np.minimum(float(m), rest)
        s = np.einsum("ic,ic->i", w, _fail_pow(mm, log_q))  # P(no success in mm)
        with np.errstate(invalid="ignore", divide="ignore"):
            v = np.where(s > 0, (s - r) * r / np.where(s > 0, s, 1.0), 0.0)
        out[:, j] = np.where(decided, 0.0, np.maximum(v, 0.0))
    return q, out


def _fail_pow(m: np.ndarray, log_q: np.ndarray) -> np.ndarray:
    """(1 - p)^m per item (rows) and node (columns), 1 for m = 0 also at p = 1."""
    with np.errstate(invalid="ignore"):
        return np.exp(np.where(m[:, None] > 0, m[:, None] * log_q[None, :], 0.0))


def _decided(data: ItemData, N: float):
    """Items whose outcome within the first N attempts the data already decide, and whether solved."""
    fs = data.first_success
    known = np.isfinite(fs)
    solved_known = known & (fs <= N)
    counted = (~known) & ((data.k > 0) | (data.extra > 0))
    failed = (~known) & ~counted & (data.n >= N)
    # counts without attempt order: a success among n <= N attempts decides it; with n > N the
    # first N attempts are not known, but further attempts cannot tell either
    decided = solved_known | (known & ~solved_known & (data.attempts >= N)) | counted | failed
    solved = solved_known | counted
    return decided, solved


# --------------------------------------------------------------------------------------------
# allocation


def _hull_segments(ladder: np.ndarray, v: np.ndarray, cap: float):
    """Segments (dm, dv) of the lower convex hull of (ladder, v) restricted to ladder <= cap,
    in order of decreasing reduction per attempt."""
    ok = ladder <= cap
    x, y = ladder[ok], v[ok]
    hull = [0]
    for j in range(1, x.size):
        while len(hull) >= 2:
            a, b = hull[-2], hull[-1]
            # keep b only if it lies strictly below the chord from a to j
            if (y[b] - y[a]) * (x[j] - x[a]) < (y[j] - y[a]) * (x[b] - x[a]):
                break
            hull.pop()
        hull.append(j)
    segs = []
    for a, b in zip(hull[:-1], hull[1:]):
        dv = y[a] - y[b]
        if dv <= 0:
            break
        segs.append((x[b] - x[a], dv))
    return segs


def _allocate(curves: list, weights: list, caps: list, ladder: np.ndarray, budget: int, step: int,
              floor_gain: float) -> np.ndarray:
    """Greedy allocation over items of all groups (flattened): (I_total,) further attempts."""
    items = []
    for v, w, cap in zip(curves, weights, caps):
        items.extend(zip(v, np.broadcast_to(w, len(v)), cap))
    alloc = np.zeros(len(items), dtype=np.int64)
    segs = []
    for i, (v, w, cap) in enumerate(items):
        for order, (dm, dv) in enumerate(_hull_segments(ladder, v, cap)):
            if w * dv <= floor_gain:
                break
            segs.append((-(w * dv / dm), i, order, int(dm)))
    segs.sort()
    left = int(budget)
    nxt = np.zeros(len(items), dtype=np.int64)  # next segment index an item may take
    for _, i, order, dm in segs:
        if left <= 0:
            break
        if order != nxt[i]:
            continue  # an earlier segment of this item was not funded in full
        take = min(dm, left)
        take -= take % step
        if take <= 0:
            continue
        alloc[i] += take
        left -= take
        nxt[i] += 1 if take == dm else 10**9
    return alloc


def _ladder(step: int, top: int) -> np.ndarray:
    top = max(int(top), step)
    pts = np.unique(np.round(np.geomspace(step, top, _LADDER_POINTS) / step).astype(np.int64) * step)
    return np.concatenate([[0], pts[pts > 0]]).astype(float)


# --------------------------------------------------------------------------------------------
# uncertainty of the population parameters


def _parameter_draws(fitted, data: ItemData, T: int, seed: int) -> list:
    """T item-posteriors, one per bootstrap refit of the fitted family (its population
    parameters drawn from their sampling distribution), or [] when ``fitted`` is not a
    best-of-N / mixing fit."""
    from dataclasses import replace

    from .bonfit import fit_bon

    fam = getattr(fitted, "model", None)
    if not isinstance(fam, str) or not hasattr(fitted, "fits"):
        return []
    # one family, bootstrapped on item resamples (batched refits; the family is not re-chosen)
    one = fitted if getattr(fitted, "selection", "") != "auto" else fit_bon(data, model=fam, seed=seed)
    thetas = one._bootstrap_fits(T, seed)[0][fam]
    base = one.fits[fam]
    ok = np.all(np.isfinite(thetas), axis=1)
    return [replace(base, theta=np.asarray(th, float)).item_posterior(data) for th in thetas[ok]]


def _family_populations(families: list, points: list, data: ItemData, T: int, seed: int) -> tuple[list, np.ndarray]:
    """Populations over several tail families and their prior weights: for each family (a
    fitted :class:`~scalefit.sampling.BonFit` of that family, or anything with
    ``item_posterior``) its point fit (``points``: the item posteriors already computed), or
    with T > 0 its T bootstrap refits; each family gets the same total weight, split equally
    among its draws."""
    pops, wts = [], []
    for fam, point in zip(families, points):
        dr = _parameter_draws(fam, data, T, seed) if T else []
        if not dr:
            dr = [point]
        pops.extend(dr)
        wts.extend([1.0 / (len(families) * len(dr))] * len(dr))
    return pops, np.asarray(wts)


def _population_curves(draws: list, data: ItemData, N: float, ladder: np.ndarray, target: str,
                       weights: np.ndarray | None = None):
    """(V, U): the variance over parameter draws of the forecast (scalar) and, per item and
    ladder point (I, L), that variance expected after m further attempts on that item alone
    (the draws reweighted by the predictive probability of the item's outcome, 0..39 or "40 or
    more" successes).  ``weights``: prior weights of the draws (default equal)."""
    T = len(draws)
    pi = np.full(T, 1.0 / T) if weights is None else np.asarray(weights, float) / np.sum(weights)
    p = draws[0].p
    if any(d.p.shape != p.shape or not np.array_equal(d.p, p) for d in draws):
        raise ArgumentError("`families`: every model must give item posteriors on the same grid of p")
    if target == "fresh":
        with np.errstate(divide="ignore"):
            g = -np.expm1(N * np.log1p(-p))
        g[-1] = 1.0
        F = np.array([np.mean(np.exp(d.log_w) @ g) for d in draws])
    else:
        F = np.array([np.mean(_continued_curves(d, data, N, np.zeros(1))[0]) for d in draws])
    Fc = F - pi @ F
    V = float(pi @ (Fc * Fc))
    I = data.size
    U = np.full((I, ladder.size), V)
    if V <= 0:
        return V, U
    with np.errstate(divide="ignore"):
        log_p, log_q = np.log(p), np.log1p(-p)
    rest = np.maximum(N - data.n.astype(float), 0.0) if target == "continued" else None
    # nodes without posterior mass under any draw for any item carry nothing; the curve is
    # evaluated at every 4th ladder point and interpolated (it is smooth in m)
    keep = np.zeros(p.size, bool)
    for d in draws:
        keep |= np.max(d.log_w, axis=0) > math.log(1e-14)
    p, log_p, log_q = p[keep], log_p[keep], log_q[keep]
    sub = np.unique(np.concatenate([np.arange(0, ladder.size, 4), [ladder.size - 1]]))
    block = max(1, int(4e7 // (T * p.size)))
    for lo in range(0, I, block):
        W = np.stack([np.exp(d.log_w[lo:lo + block][:, keep]) for d in draws])  # (T, b, C')
        for j in sub:
            m = float(ladder[j])
            if m == 0:
                continue
            Y = int(min(m, _Y_BUCKETS))
            y = np.arange(Y + 1, dtype=float)[:, None]
            with np.errstate(invalid="ignore", divide="ignore"):
                lc = sp.gammaln(m + 1) - sp.gammaln(y + 1) - sp.gammaln(m - y + 1)
                lp = lc + np.where(y > 0, y * log_p[None, :], 0.0) + np.where(m - y > 0, (m - y) * log_q[None, :], 0.0)
            pmf = np.exp(lp)
            if m > Y:
                pmf[Y] = sp.bdtrc(Y - 1, int(m), p)
                pmf[Y, -1] = 1.0
            P = W @ pmf.T  # (T, b, Y+1): outcome probabilities under each draw
            py = np.einsum("t,tby->by", pi, P)
            num = np.einsum("t,tby->by", pi * Fc, P)
            with np.errstate(invalid="ignore", divide="ignore"):
                red = np.sum(np.where(py > 1e-300, num * num / np.maximum(py, 1e-300), 0.0), axis=1)
            U[lo:lo + block, j] = np.maximum(V - red, 0.0)
    if sub.size < ladder.size:
        U = np.stack([np.interp(ladder, ladder[sub], row) for row in U[:, sub]])
    if rest is not None:  # continued: no attempt beyond N counts, and a decided item tells nothing new here
        decided, _ = _decided(data, N)
        U[decided] = V
    return V, U


def _allocate_with_population(curves, weights, caps, pops, ladder, budget, step, floor_gain,
                              seed: int = 0) -> np.ndarray:
    """Greedy allocation when each group's forecast variance also has a population part.

    Objective: sum over groups of w_g * sum_i v_i(m_i) + V_g,after, where the population part
    combines the items' information as independent Gaussian measurements of the forecast:
    1 / V_after = 1 / V + sum_i (1 / U_i(m_i) - 1 / V).  The population part is not separable
    over items (diminishing returns as the precision grows), so the greedy re-evaluates a move
    against the current precision before taking it (lazy greedy: gains only fall as precision
    grows).  Items whose own term cannot change get nothing, whatever their outcome would say
    about the population.  Ties (items with the same data are interchangeable) are broken in a
    seeded random order, so that when depth pays it goes to a random subset of such items, not
    to the first ones in the file."""
    import heapq

    item_v, item_w, item_cap, item_g, info = [], [], [], [], []
    for g, (v, w, cap, (V, U)) in enumerate(zip(curves, weights, caps, pops)):
        for i in range(v.shape[0]):
            item_v.append(v[i])
            item_w.append(w)
            item_cap.append(cap[i])
            item_g.append(g)
            if V > 0:
                with np.errstate(divide="ignore"):
                    info.append(np.where(U[i] > 0, 1.0 / np.maximum(U[i], 1e-300), np.inf) - 1.0 / V)
            else:
                info.append(np.zeros(ladder.size))
    prec = np.array([1.0 / V if V > 0 else np.inf for V, _ in pops])
    n_items = len(item_v)
    rank = np.random.default_rng([seed, 7]).permutation(n_items)
    pos = np.zeros(n_items, dtype=np.int64)  # ladder index of each item's allocation
    left = int(budget)

    def best_move(i):
        j = pos[i]
        ok = (ladder > ladder[j]) & (ladder <= item_cap[i]) & (ladder - ladder[j] <= left)
        if not ok.any():
            return None
        dm = ladder - ladder[j]
        gi = item_w[i] * (item_v[i][j] - item_v[i])
        P = prec[item_g[i]]
        if np.isfinite(P):
            gp = 1.0 / P - 1.0 / (P + np.maximum(info[i] - info[i][j], 0.0))
        else:
            gp = 0.0
        gain = np.where(ok, gi + gp, -np.inf)
        rate = np.where(ok, gain / np.where(dm > 0, dm, 1.0), -np.inf)
        jj = int(np.argmax(rate))
        if not np.isfinite(rate[jj]) or gain[jj] <= floor_gain:
            return None
        return rate[jj], jj

    heap = []
    for i in range(n_items):
        if item_w[i] * item_v[i][0] <= floor_gain:
            continue  # the item's own term cannot change (e.g. every attempt succeeded): no attempts
        mv = best_move(i)
        if mv is not None:
            heapq.heappush(heap, (-mv[0], rank[i], i))
    while heap and left > 0:
        _, _, i = heapq.heappop(heap)
        mv = best_move(i)  # re-evaluate against the current precision and budget
        if mv is None:
            continue
        rate, jj = mv
        if heap and rate < -heap[0][0] * (1 - 1e-12):
            heapq.heappush(heap, (-rate, rank[i], i))
            continue
        dm = int(ladder[jj] - ladder[pos[i]])
        g = item_g[i]
        if np.isfinite(prec[g]):
            prec[g] += max(info[i][jj] - info[i][pos[i]], 0.0)
        pos[i] = jj
        left -= dm
        nxt = best_move(i)
        if nxt is not None:
            heapq.heappush(heap, (-nxt[0], rank[i], i))
    return ladder[pos].astype(np.int64)


# --------------------------------------------------------------------------------------------
# results


@dataclass(frozen=True, eq=False)
class PlanResult:
    """A sampling plan (immutable).

    ``table``: one row per item -- the group columns (if any), ``item``, ``n``, ``k`` (the
    attempts and successes so far), ``term`` (the item's current forecast term), ``sd_now`` and
    ``sd_after`` (its posterior SD now and expected after the planned attempts) and
    ``attempts`` (further attempts to make).  ``groups``: per group the forecast at N now,
    its model-based SD now and expected after, the interval when ``width`` was given, and with
    ``parameter_draws`` the population-parameter SD now and expected after.
    """

    table: pd.DataFrame
    groups: pd.DataFrame
    N: float
    target: str
    budget: int
    allocated: int
    rounds: int
    stop: bool
    reason: str
    models: dict = field(default_factory=dict)

    @property
    def attempts(self) -> np.ndarray:
        return self.table["attempts"].to_numpy()

    def summary(self) -> str:
        lines = [f"sampling plan for pass@{short_value(self.N)} ({self.target} run): {self.allocated} of {self.budget} "
                 f"attempts allocated" + (f" (round 1 of {self.rounds})" if self.rounds > 1 else ""),
                 f"  {self.reason}"]
        for row in self.groups.to_dict(orient="records"):
            label = row.get("group", "all items")
            iv = ""
            if np.isfinite(row.get("lower", np.nan)):
                iv = f", interval [{row['lower']:.4f}, {row['upper']:.4f}]"
            model = self.models.get(label, "")
            lines.append(f"  {label}: forecast {row['estimate']:.4f}{iv} ({model}); model SD {row['sd_now']:.4f} now, "
                         f"{row['sd_after']:.4f} expected after {int(row['attempts'])} attempts on "
                         f"{int(row['items_sampled'])} of {int(row['items'])} items")
            if np.isfinite(row.get("sd_param_now", np.nan)):
                part = "between the tail families" if " + " in model else "population parameters"
                lines.append(f"    {part}: SD {row['sd_param_now']:.4f} now, {row['sd_param_after']:.4f} "
                             "expected after" + ("; they dominate the forecast's uncertainty"
                                                 if row["sd_param_now"] > row["sd_now"] else ""))
        return "\n".join(lines)


@dataclass(frozen=True, eq=False)
class RoundsResult:
    """Outcome of :func:`sample_in_rounds`: the final data, the per-round history, the
    forecast from the final fit and, when planned against several tail families, their
    prequential scores (``families``: ``family``, ``log_predictive``, ``weight``, ``chosen``)."""

    data: ItemData
    history: pd.DataFrame
    forecast: object
    fit: object
    families: pd.DataFrame | None = None


# --------------------------------------------------------------------------------------------
# public entry points


def _posterior_of(model, data: ItemData) -> ItemPosterior:
    if hasattr(model, "item_posterior"):
        post = model.item_posterior(data)
    elif callable(model):
        post = model(data)
    else:
        raise ArgumentError("`model` must be 'auto', a model name, a fitted BonFit / MixingFit, or an object "
                            "with an `item_posterior(data)` method")
    if not isinstance(post, tuple) or len(post) != 2:
        raise ArgumentError("`model`: item_posterior(data) must return an ItemPosterior (p, log_w)")
    p, log_w = (np.asarray(a, float) for a in post)
    if log_w.shape != (data.size, p.size):
        raise ArgumentError(f"`model`: item_posterior gave weights of shape {log_w.shape}; expected "
                            f"({data.size}, {p.size})")
    return ItemPosterior(p, log_w)


def _fit_model(data: ItemData, model, fit_options: dict):
    from .bonfit import fit_bon
    from .models import MIXING_MODELS

    if isinstance(model, str):
        if model != "auto" and model not in MIXING_MODELS:
            raise ArgumentError(f"`model` = {model!r} is not 'auto' or one of {', '.join(map(repr, MIXING_MODELS))}")
        return fit_bon(data, model=model, **fit_options)
    return model


def _split_groups(data, groups, likelihood="attempts"):
    """[(label dict, ItemData, item ids, frame-or-None)] from any accepted input."""
    if isinstance(data, pd.DataFrame):
        gcols = list(groups if groups is not None else data.attrs.get("groups") or [])
        missing = [c for c in gcols if c not in data.columns]
        if missing:
            raise ArgumentError(f"`groups` names {missing[0]!r}, which is not a column")
        parts = [({}, data)] if not gcols else [
            ({c: (v.item() if hasattr(v, "item") else v) for c, v in zip(gcols, key if isinstance(key, tuple) else (key,))}, g)
            for key, g in data.groupby(gcols, sort=True)]
        out = []
        for key, g in parts:
            g = g.copy()
            g.attrs = dict(data.attrs)
            ids = g["item"].to_numpy() if "item" in g.columns else np.arange(len(g))
            out.append((key, as_item_data(g, likelihood=likelihood), ids))
        return out
    if groups is not None:
        raise ArgumentError("`groups` applies to a counts frame (DataFrame) only")
    d = data if isinstance(data, ItemData) else None
    if d is None:
        raise ArgumentError("`data` must be an ItemData or a counts frame; for arrays call plan((n, k), ...)")
    return [({}, d, np.arange(d.size))]


def plan(data, extra_budget, N, *, target: str = "fresh", rounds: int = 1, model="auto", groups=None,
         budget_scope: str = "total", max_attempts=None, step: int = 1, width: float | None = None,
         level: float = 0.9, num_bootstrap: int = 200, seed: int = 0, fit_options: dict | None = None,
         likelihood: str = "attempts", parameter_draws: int = 0, families=None) -> PlanResult:
    """Plan further attempts per item to sharpen the forecast of pass@N (ASR@N).

    Parameters
    ----------
    data : ItemData, counts frame, or (n, k)
        The attempts so far: an :class:`~scalefit.sampling.ItemData`, a counts frame from
        :func:`scalefit.io.load_attempts` (with group columns: planned per group), or a pair of
        arrays (attempts, successes) per item.
    extra_budget : int
        Further attempts to spend, over all rounds (and all groups with ``budget_scope="total"``).
    N : float
        The budget whose pass@N (ASR@N) forecast should become precise.
    target : {"fresh", "continued"}
        The forecast target (see :meth:`~scalefit.sampling.BonFit.predict`).  For
        ``"continued"`` the further attempts count towards N, so an item gets at most N - n_i.
    rounds : int
        Rounds the budget is spread over; this call plans the first (``extra_budget // rounds``).
    model : "auto", a family name, a fitted model, or an object with ``item_posterior(data)``
        Per group: ``"auto"`` fits :func:`~scalefit.sampling.fit_bon`; a family name fits that
        family; a fitted :class:`~scalefit.sampling.BonFit` / ``MixingFit`` (one group) or
        anything with an ``item_posterior(data)`` method returning an
        :class:`~scalefit.sampling.models.ItemPosterior` is used as is.  For grouped data a
        fitted model needs ``for_group(group) -> model`` (e.g. a model pooled over groups that
        share items), called with each group's ``{column: value}``.
    groups : list of str, optional
        Group columns of a counts frame (default ``data.attrs["groups"]``).
    budget_scope : {"total", "group"}
        One budget shared by all groups (default) or ``extra_budget`` for each group.
    max_attempts : int or array_like, optional
        Most further attempts an item may get (e.g. what a replayed log still holds).
    step : int
        Attempts are planned in multiples of ``step`` (e.g. a batch size).
    width : float, optional
        Stopping rule: when the current ``level`` interval at N is no wider, plan nothing.
    level, num_bootstrap, seed
        For the interval of the stopping rule (:meth:`~scalefit.sampling.BonFit.predict`).
    fit_options : dict, optional
        Passed to :func:`~scalefit.sampling.fit_bon` when the model is fitted here.
    likelihood : str
        For sample-until-success counts frames (see :func:`~scalefit.sampling.until_success_items`).
    parameter_draws : int
        0 (default): the population parameters are held at their fit.  T > 0: also count their
        uncertainty -- T bootstrap refits of the fitted family over items give T populations;
        an item's further attempts are also worth what their outcome is expected to tell
        between them about the forecast (see the module docstring).  Needs a best-of-N fit
        (``model="auto"``, a family name or a :class:`~scalefit.sampling.BonFit`).
    families : None, "chosen", "plausible", or a list of family names / fitted models
        None or ``"chosen"`` (default): plan under the one fitted model.  ``"plausible"``: plan
        against the mixture of the tail families the internal backtest cannot reject (equal
        weights; with ``parameter_draws=T``, T refits of each); a list names them.  See the
        module docstring, "Tail families".  Measured on replayed logs it did not beat the
        default (docs/best_of_n.md).

    Returns
    -------
    PlanResult

    Examples
    --------
    >>> import numpy as np, scalefit; scalefit.enable_x64()
    >>> from scalefit.sampling import plan
    >>> rng = np.random.default_rng(0)
    >>> k = rng.binomial(20, rng.beta(0.3, 3.0, size=100))
    >>> p = plan((np.full(100, 20), k), 2000, 1000, model="beta")
    >>> int(p.attempts.sum()) <= 2000 and bool(p.attempts[k == 20].sum() == 0)
    True
    """
    require_x64()
    check_target(target)
    if budget_scope not in BUDGET_SCOPES:
        raise ArgumentError(f"`budget_scope` = {budget_scope!r} is not one of 'total', 'group'")
    budget = _check_int("extra_budget", extra_budget, 1)
    rounds = _check_int("rounds", rounds, 1)
    step = _check_int("step", step, 1)
    N = float(N) if np.ndim(N) == 0 else math.nan
    if not (math.isfinite(N) and N >= 1):
        raise ArgumentError("`N` must be one finite budget >= 1")
    if width is not None and not (math.isfinite(float(width)) and float(width) > 0):
        raise ArgumentError(f"`width` = {short_value(width)} must be a positive number")
    level = check_level(level)
    draws_T = _check_int("parameter_draws", parameter_draws, 0)
    if width is not None and int(num_bootstrap) < 20:
        raise ArgumentError(f"`num_bootstrap` = {num_bootstrap}: the stopping rule `width=` needs an interval "
                            "(>= 20 bootstrap replicates)")
    if isinstance(data, tuple) and len(data) == 2:
        data = item_data(*data)
    parts = _split_groups(data, groups, likelihood)
    opts = dict(fit_options or {})
    opts.setdefault("seed", seed)
    if not isinstance(model, str) and len(parts) > 1 and not hasattr(model, "for_group"):
        raise ArgumentError("`model`: a fitted model describes one group; pass model='auto' or a family name "
                            "for grouped data")
    now_budget = budget // rounds
    ladder = _ladder(step, now_budget)

    fits, curves, means, caps, weights, interval, pops, fam_names = [], [], [], [], [], [], [], []
    _check_families(families)
    total = sum(d.size for _, d, _ in parts)
    offset = 0
    for key, d, _ in parts:
        fitted = _fit_model(d, model, opts) if isinstance(model, str) else (
            model.for_group(key) if hasattr(model, "for_group") else model)
        fits.append(fitted)
        fams = _families_for(fitted, d, key, families, opts)
        fam_names.append([getattr(f, "model", type(f).__name__) for f in fams] if fams else [])
        mean = v = 0.0
        posts = [_posterior_of(f, d) for f in fams] if fams else [_posterior_of(fitted, d)]
        for post in posts:
            # with several families: each item's term and its expected variance averaged over them
            if target == "fresh":
                mf, vf = _fresh_curves(post, N, ladder)
            else:
                mf, vf = _continued_curves(post, d, N, ladder)
            share = 1.0 / (len(fams) if fams else 1)
            mean, v = mean + share * mf, v + share * vf
        cap = np.full(d.size, float(ladder[-1])) if target == "fresh" else np.maximum(N - d.n.astype(float), 0.0)
        if max_attempts is not None:
            ma = np.broadcast_to(np.asarray(max_attempts, float), (total,))[offset:offset + d.size]
            if np.any(~np.isfinite(ma) | (ma < 0)):
                raise ArgumentError("`max_attempts` must hold finite non-negative attempt counts")
            cap = np.minimum(cap, ma)
        offset += d.size
        if fams:
            dr, pw = _family_populations(fams, posts, d, draws_T, seed)
            pops.append(_population_curves(dr, d, N, ladder, target, pw) if len(dr) > 1 else (0.0, None))
        elif draws_T:
            dr = _parameter_draws(fitted, d, draws_T, seed)
            if len(dr) < 2:
                raise ArgumentError("`parameter_draws` needs a best-of-N fit (model='auto', a family name or a BonFit)")
            pops.append(_population_curves(dr, d, N, ladder, target))
        else:
            pops.append((0.0, None))
        means.append(mean)
        curves.append(v)
        caps.append(cap)
        weights.append(1.0 / d.size ** 2)  # variance of the group's mean forecast
        lo = hi = math.nan
        if width is not None:
            if not hasattr(fitted, "predict_forecast") or not hasattr(fitted, "candidates"):
                raise ArgumentError("`width` needs a best-of-N fit (model='auto' or a family name) for its interval")
            fc = fitted.predict_forecast([N], target=target, level=level, num_bootstrap=num_bootstrap, seed=seed)
            lo, hi = float(fc.lower[0]), float(fc.upper[0])
        interval.append((lo, hi))

    use_pop = bool(draws_T) or any(fam_names)
    fam_text = ", ".join(dict.fromkeys(n for names in fam_names for n in names))
    what = (f"over the tail families {fam_text} (equal weights" + (f", {draws_T} bootstrap refits each)" if draws_T else ")")
            if any(fam_names) else f"population-parameter uncertainty included ({draws_T} bootstrap refits)")
    stop = width is not None and all(np.isfinite(lo) and hi - lo <= float(width) for lo, hi in interval)
    v_now_total = sum(w * v[:, 0].sum() + pp[0] for w, v, pp in zip(weights, curves, pops))
    floor_gain = 1e-9 * max(v_now_total, 1e-300)
    if stop:
        alloc = np.zeros(total, dtype=np.int64)
        reason = f"stop: the {level:.0%} interval at N is no wider than {short_value(width)} in every group"
    elif use_pop and budget_scope == "total":
        alloc = _allocate_with_population(curves, weights, caps, pops, ladder, now_budget, step, floor_gain, seed)
        reason = f"greedy allocation minimising the expected posterior variance of the forecast, {what}"
    elif use_pop:
        alloc = np.concatenate([_allocate_with_population([v], [w], [c], [pp], ladder, now_budget, step,
                                                          1e-9 * max(w * v[:, 0].sum() + pp[0], 1e-300), seed)
                                for v, w, c, pp in zip(curves, weights, caps, pops)])
        reason = f"greedy allocation per group minimising the expected posterior variance of its forecast, {what}"
    elif budget_scope == "total":
        alloc = _allocate(curves, weights, caps, ladder, now_budget, step, floor_gain)
        reason = ("greedy allocation minimising the expected posterior variance of the forecast "
                  "(sum over groups of each group's variance)" if len(parts) > 1 else
                  "greedy allocation minimising the expected posterior variance of the forecast")
    else:
        alloc = np.concatenate([_allocate([v], [w], [c], ladder, now_budget, step, 1e-9 * max(w * v[:, 0].sum(), 1e-300))
                                for v, w, c in zip(curves, weights, caps)])
        reason = "greedy allocation per group minimising the expected posterior variance of its forecast"

    if not stop and alloc.sum() == 0:
        reason = ("nothing to plan: no further attempt can change the forecast (every item is decided within N, "
                  "or its term no longer moves)")
    rows, grows = [], []
    offset = 0
    for (key, d, ids), fitted, mean, v, w, (lo, hi), (V, U) in zip(parts, fits, means, curves, weights, interval, pops):
        a = alloc[offset:offset + d.size]
        offset += d.size
        after = _value_at(ladder, v, a)
        par = {}
        if use_pop and (U is None or V <= 0):  # one population only, or all agree: nothing between them
            par = {"sd_param_now": 0.0, "sd_param_after": 0.0}
        elif use_pop:
            with np.errstate(divide="ignore"):
                info = np.where(_value_at(ladder, U, a) > 0, 1.0 / np.maximum(_value_at(ladder, U, a), 1e-300),
                                np.inf) - 1.0 / V
            par = {"sd_param_now": math.sqrt(V), "sd_param_after": math.sqrt(1.0 / (1.0 / V + info.sum()))}
        tab = pd.DataFrame({**{c: [val] * d.size for c, val in key.items()}, "item": ids, "n": d.n, "k": d.k,
                            "term": mean, "sd_now": np.sqrt(v[:, 0]), "sd_after": np.sqrt(after),
                            "attempts": a})
        rows.append(tab)
        label = ", ".join(f"{c}={val}" for c, val in key.items()) if key else "all items"
        grows.append({"group": label, "items": d.size, "estimate": float(np.mean(mean)),
                      "sd_now": math.sqrt(w * v[:, 0].sum()), "sd_after": math.sqrt(w * after.sum()),
                      "attempts": int(a.sum()), "items_sampled": int((a > 0).sum()), "lower": lo, "upper": hi, **par})
    table = pd.concat(rows, ignore_index=True)
    models = {g["group"]: (" + ".join(names) if names else getattr(f, "model", type(f).__name__))
              for g, f, names in zip(grows, fits, fam_names)}
    return PlanResult(table, pd.DataFrame(grows), N, target, budget, int(alloc.sum()), rounds, bool(stop), reason,
                      models)


FAMILY_SETS = ("chosen", "plausible")


def _check_families(families) -> None:
    if families is None or (isinstance(families, str) and families in FAMILY_SETS):
        return
    if isinstance(families, str) or not isinstance(families, (list, tuple)) or len(families) == 0:
        shown = repr(families) if isinstance(families, str) else short_value(families)
        raise ArgumentError(f"`families` = {shown} is not 'chosen', 'plausible' or a list of "
                            "families (names or fitted models)")


def _families_for(fitted, data: ItemData, key: dict, families, opts: dict) -> list:
    """The fitted tail families to plan against ([] for the chosen model alone)."""
    if families is None or families == "chosen":
        return []
    if families == "plausible":
        if not hasattr(fitted, "plausible_models"):
            raise ArgumentError("`families` = 'plausible' needs a best-of-N fit (model='auto' or a BonFit) whose "
                                "internal backtest names the plausible tails")
        names = fitted.plausible_models()
        if getattr(fitted, "selection", "") != "auto":  # a family was requested: the plausible set needs the auto fit
            names = tuple(dict.fromkeys((fitted.model, *_fit_model(data, "auto", opts).plausible_models())))
        if len(names) == 1:
            return []
        return [fitted if (n == fitted.model and getattr(fitted, "selection", "") != "auto")
                else _fit_model(data, n, opts) for n in names]
    out = []
    for f in families:
        if isinstance(f, str):
            out.append(_fit_model(data, f, opts))
        else:
            out.append(f.for_group(key) if hasattr(f, "for_group") else f)
    return out


def _value_at(ladder: np.ndarray, v: np.ndarray, a: np.ndarray) -> np.ndarray:
    """Expected variance at allocation a (linear between ladder points)."""
    return np.array([np.interp(ai, ladder, vi) for ai, vi in zip(a, v)])


def _check_int(name: str, value, lo: int) -> int:
    try:
        v = int(value)
    except (TypeError, ValueError):
        raise ArgumentError(f"`{name}` = {value!r} must be an integer >= {lo}") from None
    if v != value or v < lo:
        raise ArgumentError(f"`{name}` = {short_value(value)} must be an integer >= {lo}")
    return v


def merge_attempts(data: ItemData, attempts, successes, first_success=None) -> ItemData:
    """``data`` with further attempts added per item (``first_success``: 1-based position of the
    first success within the new attempts, NaN for none; kept only where ``data`` records first
    successes or is given it)."""
    attempts = np.asarray(attempts, np.int64)
    successes = np.asarray(successes, np.int64)
    if attempts.shape != data.n.shape or successes.shape != data.n.shape:
        raise ArgumentError("`attempts` and `successes` need one entry per item")
    if np.any(successes > attempts) or np.any(successes < 0):
        raise ArgumentError("`successes` must lie between 0 and `attempts`")
    fs = data.first_success.copy()
    if first_success is not None:
        new = np.asarray(first_success, float)
        fresh = ~np.isfinite(fs) & np.isfinite(new)
        fs[fresh] = data.attempts[fresh] + new[fresh]
    return item_data(data.n + attempts, data.k + successes, data.extra, fs, data.attempts + attempts,
                     until_success=data.until_success)


def sample_in_rounds(data, sampler: Callable, extra_budget: int, N, *, rounds: int = 3, target: str = "fresh",
                     model="auto", max_attempts=None, step: int = 1, width: float | None = None,
                     forecast_N=None, level: float = 0.9, num_bootstrap: int = 200, seed: int = 0,
                     fit_options: dict | None = None, parameter_draws: int = 0, families=None) -> RoundsResult:
    """Plan, sample, refit, plan ...: spend ``extra_budget`` further attempts in ``rounds`` rounds.

    ``data`` is the fixed-design start (e.g. a uniform first round).  ``sampler(attempts)``
    receives the planned further attempts per item (int array) and returns the successes among
    them (and optionally, as a second array, the 1-based position of each item's first success
    among them, NaN for none).  Each round plans an equal share of what is left; the loop stops
    early when ``width`` is reached.

    With ``model="auto"`` the family is chosen once, by :func:`~scalefit.sampling.fit_bon`'s
    internal backtest on the starting data: later budgets depend on outcomes, and thinning such
    data no longer mimics a smaller fixed design, so the internal backtest is only run where the
    design was fixed.  Every round and the final forecast (``forecast_N``, default N, with
    ``level`` intervals from ``num_bootstrap`` replicates) use that family.

    With ``families`` (``"plausible"``: the families the starting data's internal backtest cannot
    reject; or a list of names) every round is planned against their mixture (see
    :func:`plan`), each family predicts the round's outcomes before they are merged (the sum of
    log predictive probabilities, a prequential score that the adaptive design leaves valid), and
    the final forecast uses the best-scoring family (ties: the first-round family);
    ``RoundsResult.families`` lists the scores and the weights they imply under equal priors.

    Returns
    -------
    RoundsResult
    """
    from .bonfit import fit_bon

    if isinstance(data, tuple) and len(data) == 2:
        data = item_data(*data)
    if not isinstance(data, ItemData):
        data = as_item_data(data)
    rounds = _check_int("rounds", rounds, 1)
    left = _check_int("extra_budget", extra_budget, 1)
    if not isinstance(model, str):
        raise ArgumentError("`model` must be 'auto' or a family name: every round refits it on the data so far")
    _check_families(families)
    opts = dict(fit_options or {})
    opts.setdefault("seed", seed)
    family = model
    names: tuple = ()
    if model == "auto" or families == "plausible":
        auto = fit_bon(data, **opts)
        family = auto.model if model == "auto" else model
        names = auto.plausible_models() if families == "plausible" else ()
    elif families not in (None, "chosen"):
        if not all(isinstance(f, str) for f in families):
            raise ArgumentError("`families`: every round refits them, so give family names")
        names = tuple(families)
    names = tuple(dict.fromkeys((family, *names))) if len(names) > 1 else ()
    opts = {k: v for k, v in opts.items() if k in ("seed",)}
    score = dict.fromkeys(names, 0.0)
    cap = None if max_attempts is None else np.asarray(max_attempts, float).copy()
    hist = []
    for r in range(rounds):
        if left <= 0:
            break
        fams = {f: fit_bon(data, model=f, **opts) for f in names}
        p = plan(data, left, N, target=target, rounds=rounds - r, model=fams.get(family, family), max_attempts=cap,
                 step=step, width=width, level=level, num_bootstrap=num_bootstrap, seed=seed, fit_options=opts,
                 parameter_draws=parameter_draws, families=list(fams.values()) or None)
        g = p.groups.iloc[0]
        hist.append({"round": r + 1, "attempts": p.allocated, "items_sampled": int(g["items_sampled"]),
                     "estimate": float(g["estimate"]), "sd_now": float(g["sd_now"]),
                     "sd_after": float(g["sd_after"]), "lower": float(g["lower"]), "upper": float(g["upper"]),
                     "stop": p.stop})
        if p.stop or p.allocated == 0:
            break
        a = p.attempts.astype(np.int64)
        out = sampler(a)
        succ, first = (out if isinstance(out, tuple) else (out, None))
        for f, bon_f in fams.items():  # prequential score: each family predicts this round before seeing it
            score[f] += _log_predictive(bon_f.item_posterior(data), a, np.asarray(succ, np.int64))
        data = merge_attempts(data, a, succ, first)
        left -= int(a.sum())
        if cap is not None:
            cap = cap - a
    table = None
    if names:
        # the family that predicted the planned rounds best (equal prior weights; ties keep the first choice)
        ls = np.array([score[f] for f in names])
        wts = np.exp(ls - ls.max())
        family = names[int(np.argmax(ls))]
        table = pd.DataFrame({"family": names, "log_predictive": ls, "weight": wts / wts.sum(),
                              "chosen": [f == family for f in names]})
    bon = fit_bon(data, model=family, **opts) if isinstance(family, str) else family
    fc = bon.predict_forecast(forecast_N if forecast_N is not None else [N], target=target, level=level,
                     num_bootstrap=num_bootstrap, seed=seed)
    return RoundsResult(data, pd.DataFrame(hist), fc, bon, table)


def _log_predictive(post: ItemPosterior, attempts: np.ndarray, successes: np.ndarray) -> float:
    """log P(successes | attempts, data so far) summed over items, under an item posterior."""
    with np.errstate(divide="ignore"):
        log_p, log_q = np.log(post.p), np.log1p(-post.p)
    m, y = attempts[:, None].astype(float), successes[:, None].astype(float)
    with np.errstate(invalid="ignore"):
        ll = np.where(y > 0, y * log_p[None, :], 0.0) + np.where(m - y > 0, (m - y) * log_q[None, :], 0.0)
    return float(np.sum(sp.logsumexp(post.log_w + ll, axis=1)))
