"""Backtests of best-of-N forecasts on logs with a large budget.

A log with many attempts per item is cut down to a small budget per item -- ``n`` attempts drawn
without replacement from each item's counts (exchangeable samples, e.g. Large Language Monkeys),
or each item's first ``n`` attempts of an attempt log (e.g. a red-teaming log) -- every estimator
is fitted on the small budget and asked for the rate at larger budgets N, and the prediction is
compared with the rate the full log shows:

* counts: the unbiased pass@N of Chen et al. from all of an item's attempts (N <= n_i);
* attempt logs: the exact share of items whose first success came at attempt <= N (every item
  must have been observed for N attempts or broken before).

Estimators (``ESTIMATORS``):

``scalefit``        the default of :func:`scalefit.sampling.fit_bon` (model chosen by an
                    internal backtest, whole procedure bootstrapped for the interval)
``scalefit:MODEL``  one family of :mod:`scalefit.sampling.models`, bootstrapped likewise
``saber_anchored``  SABER-Anchored (Eq. 12) on the Beta-Binomial MLE, Wald interval on alpha
                    (Eq. 14), the reference code's choices (anchor n = mean n_i, no correction)
``saber_plugin``    SABER-Plugin with the N_eff correction, delta-method interval
``saber_fit``       SABER-Fit (log-log curve fit, Eq. 13); no interval
``naive``           per-item plug-in 1 - (1 - k_i/n_i)^N (SABER's "baseline"); no interval
``pooled``          the pooled model of :mod:`scalefit.sampling.pooled` fitted to all groups at
                    once (counts backtests with ``groups`` only), interval by the item bootstrap
``pooled_auto``     per group, the pooled or the group's own scalefit forecast, whichever the
                    internal backtest chose (``detail`` says which)
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import numpy as np
import pandas as pd

from .._config import require_x64
from .._threads import map_in_threads
from ..errors import ArgumentError
from ._common import short_value, check_level
from .holdout import (
    AttemptPool,
    fresh_truth,
    log_split,
    score_rows,
    summarise,
    thinned_frame,
)

__all__ = ["ESTIMATORS", "BacktestResult", "backtest_counts", "backtest_log"]

ESTIMATORS = ("scalefit", "saber_anchored", "saber_plugin", "saber_fit", "naive", "pooled", "pooled_auto")
POOLED_ESTIMATORS = ("pooled", "pooled_auto")
DEFAULT_ESTIMATORS = ("scalefit", "saber_anchored")


@dataclass(frozen=True, eq=False)
class BacktestResult:
    """Per-prediction rows and the summary of a backtest.

    ``rows``: ``group``, ``repeat``, ``N``, ``estimator``, ``predicted``, ``lower``, ``upper``,
    ``empirical``, ``abs_error``, ``covered`` (NaN without an interval), ``detail`` (e.g. the
    model scalefit chose).  ``summary``: per estimator and N, the mean absolute error, bias and
    largest error in percentage points and the interval coverage over the defined predictions,
    the number of predictions and of undefined ones (e.g. SABER when the Beta-Binomial MLE is on
    the boundary) -- an estimator's MAE is only comparable to another's at equal ``undefined``.
    """

    rows: pd.DataFrame
    summary: pd.DataFrame
    level: float
    fit_budget: int
    target: str
    method: str
    seed: int

    def report(self) -> str:
        lines = [f"backtest: fit on {self.fit_budget} attempts per item ({self.method}), "
                 f"forecast the {self.target} rate; {self.level:.0%} intervals; seed {self.seed}"]
        show = self.rows.copy()
        for c in ("predicted", "lower", "upper", "empirical", "abs_error"):
            show[c] = show[c].map(lambda v: "" if not np.isfinite(v) else f"{v:.4f}")
        show["covered"] = self.rows["covered"].map(lambda v: "" if not np.isfinite(v) else ("yes" if v else "NO"))
        with pd.option_context("display.width", 200, "display.max_rows", 10_000, "display.max_colwidth", 40):
            lines.append(show.to_string(index=False))
            lines.append("")
            lines.append("summary (percentage points):")
            lines.append(self.summary.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
        return "\n".join(lines)


def _check_estimators(estimators) -> tuple:
    from .models import MIXING_MODELS

    ests = tuple(estimators)
    if not ests:
        raise ArgumentError("`estimators` is empty")
    for e in ests:
        if e in ESTIMATORS:
            continue
        if e.startswith("scalefit:") and e.split(":", 1)[1] in MIXING_MODELS:
            continue
        raise ArgumentError(
            f"`estimators` contains {e!r}; use {', '.join(map(repr, ESTIMATORS))} or 'scalefit:MODEL' "
            f"with MODEL in {', '.join(MIXING_MODELS)}"
        )
    return ests


def _check_common(level, estimators, candidates, fit_budget):
    """Arguments both backtests share: (level, estimators, candidates, fit_budget), checked."""
    from .bonfit import DEFAULT_CANDIDATES

    require_x64()
    level = check_level(level)
    estimators = _check_estimators(estimators)
    fit_budget = int(fit_budget)
    if fit_budget < 2:
        raise ArgumentError(f"`fit_budget` = {fit_budget} must be >= 2")
    return level, estimators, DEFAULT_CANDIDATES if candidates is None else tuple(candidates), fit_budget


def _predict_all(n, k, N_arr, estimators, *, target, level, num_bootstrap, seed, candidates, fraction, repeats,
                 select_bootstrap=100):
    """Predictions of every estimator from small-budget counts (n, k): list of row dicts."""
    from .betabinom import fit_beta_binomial
    from .bestofn import (
        asr_naive,
        observed_asr,
        saber_anchored,
        saber_anchored_interval,
        saber_fit,
        saber_plugin_interval,
    )
    from .bonfit import fit_bon
    from .models import item_data

    out = []
    data = item_data(n, k)
    bb = None
    for est in estimators:
        detail = ""
        if est == "scalefit" or est.startswith("scalefit:"):
            model = "auto" if est == "scalefit" else est.split(":", 1)[1]
            if not np.any(data.solved):
                # no success in the small budget: every estimator of the tail is undefined here
                pred = lo = hi = np.full(N_arr.shape, np.nan)
                detail = "undefined: no item has a success in the fit budget"
            else:
                bon = fit_bon(data, model=model, candidates=candidates, fraction=fraction, repeats=repeats,
                              seed=seed, select_bootstrap=select_bootstrap)
                fc = bon.predict_forecast(N_arr, target=target, level=level, num_bootstrap=num_bootstrap, seed=seed)
                pred, lo, hi = fc.estimate, fc.lower, fc.upper
                detail = bon.model
        elif est == "saber_fit":
            try:
                law = saber_fit(n, k)
                pred = np.atleast_1d(law.asr(N_arr))
                detail = f"exponent {law.exponent:.4g}"
            except ArgumentError as exc:
                pred, detail = np.full(N_arr.shape, np.nan), f"failed: {exc}"
            lo = hi = np.full(N_arr.shape, np.nan)
        elif est == "naive":
            pred = np.atleast_1d(asr_naive(N_arr, n, k))
            lo = hi = np.full(N_arr.shape, np.nan)
        else:
            if bb is None:
                bb = fit_beta_binomial(n, k)
            if bb.at_boundary or not np.isfinite(bb.a):
                pred = lo = hi = np.full(N_arr.shape, np.nan)
                detail = "undefined: Beta-Binomial MLE on the boundary (" + bb.message.split(":")[0] + ")"
            elif est == "saber_anchored":
                n_anchor = float(np.mean(n))
                asr_n = observed_asr(k)
                pred = np.atleast_1d(saber_anchored(N_arr, n_anchor, asr_n, bb.a))
                se = bb.se_a if np.isfinite(bb.se_a) else 0.0
                iv = saber_anchored_interval(N_arr, n_anchor, asr_n, bb.a, se, level=level)
                lo, hi = np.atleast_1d(iv.lower), np.atleast_1d(iv.upper)
                detail = f"a = {bb.a:.4g}"
            elif est == "saber_plugin":
                iv = saber_plugin_interval(N_arr, bb.a, bb.b, bb.cov, level=level, small_n_correction=True)
                pred, lo, hi = (np.atleast_1d(v) for v in iv)
                detail = f"a = {bb.a:.4g}, b = {bb.b:.4g}"
            else:  # pragma: no cover
                raise ArgumentError(f"unknown estimator {est!r}")
        for j, NN in enumerate(N_arr):
            out.append({"N": float(NN), "estimator": est, "predicted": float(pred[j]),
                        "lower": float(lo[j]), "upper": float(hi[j]), "detail": detail})
    return out


def _finish(records, level, fit_budget, target, method, seed) -> BacktestResult:
    cols = ["group", "repeat", "N", "estimator", "estimate", "predicted", "lower", "upper", "empirical",
            "abs_error", "covered", "detail"]
    rows = score_rows(records)
    rows["estimate"] = rows["predicted"]   # the protocol's name; ``predicted`` kept beside it (docs/naming.md)
    rows = rows[cols]
    return BacktestResult(rows, summarise(rows), level, fit_budget, target, method, seed)


def _group_frames(frame: pd.DataFrame, groups):
    groups = list(groups or [])
    if not groups:
        return [("all", frame)]
    return [(" / ".join(map(str, key if isinstance(key, tuple) else (key,))), g)
            for key, g in frame.groupby(groups, sort=True)]


def backtest_counts(counts: pd.DataFrame, fit_budget: int, N, *, repeats: int = 5, seed: int = 0,
                    level: float = 0.9, groups=None, estimators=DEFAULT_ESTIMATORS, target: str = "fresh",
                    num_bootstrap: int = 200, candidates=None, fraction: int = 4,
                    internal_repeats: int = 4, select_bootstrap: int = 100, design: str = "uniform",
                    plan_rounds: int = 3) -> BacktestResult:
    """Backtest on fixed-budget counts: draw ``fit_budget`` attempts per item without replacement.

    Parameters
    ----------
    counts : pandas.DataFrame
        Counts form (:func:`scalefit.io.load_attempts`): ``item``, ``n``, ``k`` (+ group columns).
    fit_budget : int
        Attempts per item to fit on (every item needs n_i >= fit_budget).
    N : int or sequence of int
        Budgets to forecast (each <= min n_i, so that the log knows the truth).
    repeats : int
        Independent subsamples (seeded by ``[seed, repeat]``).
    level : float
        Interval level.
    groups : list of str, optional
        Backtest each group separately (default ``counts.attrs["groups"]``).
    estimators : sequence of str
        See ``ESTIMATORS``.
    target : {"fresh", "continued"}
        ``"fresh"`` (default): the truth is the unbiased pass@N of the full log, the expected
        rate of a new run; scalefit forecasts a new run.
    num_bootstrap : int
        Bootstrap replicates for scalefit's intervals.
    design : {"uniform", "planned"}
        ``"uniform"`` (default): every item gets ``fit_budget`` attempts.  ``"planned"``: the same
        total, spent as a uniform first round of ``max(1, fit_budget // 5)`` attempts per item and
        ``plan_rounds`` rounds chosen by :func:`~scalefit.sampling.plan` for the largest N (each
        drawn without replacement from what the item has left); scalefit estimators only.

    Returns
    -------
    BacktestResult
    """
    from ..io.attempts import validate_attempts

    level, estimators, candidates, fit_budget = _check_common(level, estimators, candidates, fit_budget)
    if not isinstance(counts, pd.DataFrame):
        raise ArgumentError(f"`counts` must be a pandas DataFrame, got {type(counts).__name__}")
    validate_attempts(counts)
    N_arr = np.atleast_1d(np.asarray(N, dtype=float))
    if groups is None:
        groups = counts.attrs.get("groups", [])
    if int(repeats) < 1:
        raise ArgumentError(f"`repeats` = {repeats} must be >= 1")
    pooled_ests = [e for e in estimators if e in POOLED_ESTIMATORS]
    estimators = tuple(e for e in estimators if e not in POOLED_ESTIMATORS)
    if pooled_ests and not list(groups or []):
        raise ArgumentError(f"`estimators` = {pooled_ests[0]!r} needs `groups` (e.g. --groups model): it pools groups")
    if design not in ("uniform", "planned"):
        raise ArgumentError(f"`design` = {design!r} is not one of 'uniform', 'planned'")
    if design == "planned":
        other = [e for e in estimators if not (e == "scalefit" or e.startswith("scalefit:"))]
        if other:
            raise ArgumentError(f"`design` = 'planned' works with the scalefit estimators only, not {other[0]!r} "
                                "(choose them with `estimators`)")
    if design == "planned" and pooled_ests:
        raise ArgumentError(f"`design` = 'planned' does not combine with {pooled_ests[0]!r} yet")
    from ..fit._progress import progress_bar

    records = []
    truths = {}
    frames = _group_frames(counts, groups)
    for label, g in frames:
        n_full = g["n"].to_numpy(np.int64)
        if fit_budget > n_full.min():
            raise ArgumentError(f"`fit_budget` = {fit_budget} exceeds the smallest budget n = {n_full.min()} in group {label}")
        if (N_arr > n_full.min()).any() or (N_arr <= fit_budget).any():
            raise ArgumentError(
                f"`N` = {short_value(N_arr.max() if (N_arr > n_full.min()).any() else N_arr.min())} must lie in "
                f"({fit_budget}, {n_full.min()}] for group {label}: the log must know the truth"
            )
        truths[label] = fresh_truth(n_full, g["k"].to_numpy(np.int64), N_arr)
    tasks = [(label, g, r) for label, g in frames for r in (range(int(repeats)) if estimators else ())]

    def one(task, bar):
        """Rows of one (group, repeat): its own subsample and seeds, so the tasks run side by side."""
        label, g, r = task
        truth = truths[label]
        if design == "planned":
            preds = list(_planned_predictions(g["n"].to_numpy(np.int64), g["k"].to_numpy(np.int64), fit_budget, N_arr,
                                         estimators, seed=seed, r=r, target=target, level=level,
                                         num_bootstrap=num_bootstrap, candidates=candidates, fraction=fraction,
                                         repeats=internal_repeats, select_bootstrap=select_bootstrap,
                                         rounds=int(plan_rounds)))
        else:
            sub = thinned_frame(g, fit_budget, seed, r)
            preds = _predict_all(sub["n"].to_numpy(), sub["k"].to_numpy(), N_arr, estimators, target=target,
                                 level=level, num_bootstrap=num_bootstrap, seed=seed + r, candidates=candidates,
                                 fraction=fraction, repeats=internal_repeats, select_bootstrap=select_bootstrap)
        for p in preds:
            p.update(group=label, repeat=r, empirical=float(truth[list(N_arr).index(p["N"])]))
        bar.update(1)
        return preds

    with progress_bar(total=len(tasks), desc="backtest (groups x repeats)") as bar:
        for preds in map_in_threads(lambda t: one(t, bar), tasks):
            records += preds
    if pooled_ests:
        records += _predict_pooled(counts, groups, fit_budget, N_arr, pooled_ests, truths, repeats=int(repeats),
                                   seed=seed, target=target, level=level, num_bootstrap=num_bootstrap,
                                   candidates=candidates, fraction=fraction, internal_repeats=internal_repeats,
                                   select_bootstrap=select_bootstrap)
    return _finish(records, level, fit_budget, target, "subsample" if design == "uniform" else
                   f"planned: uniform first round of {max(1, fit_budget // 5)}, then {int(plan_rounds)} planned rounds, "
                   "same total", seed)


def _planned_predictions(n_full, c_full, fit_budget, N_arr, estimators, *, seed, r, target, level, num_bootstrap,
                         candidates, fraction, repeats, select_bootstrap, rounds):
    """A planned design with the total budget of ``fit_budget`` per item, replayed without
    replacement from the full counts, forecast by each scalefit estimator: row dicts."""
    from .models import item_data
    from .plan import sample_in_rounds

    first = max(1, fit_budget // 5)
    full = AttemptPool(n_full, c_full)
    k0 = full.draw(first, np.random.default_rng([seed, r]))
    out = []
    for est in estimators:
        model = "auto" if est == "scalefit" else est.split(":", 1)[1]
        if not np.any(k0 > 0):
            for NN in N_arr:
                out.append({"N": float(NN), "estimator": est, "predicted": np.nan, "lower": np.nan, "upper": np.nan,
                            "detail": "undefined: no item has a success in the first round"})
            continue
        sampler = partial(AttemptPool(full.n, full.k).draw, rng=np.random.default_rng([seed, r, 1]))
        res = sample_in_rounds(item_data(first, k0), sampler, (fit_budget - first) * len(n_full), float(N_arr.max()),
                               rounds=rounds, target=target, model=model, max_attempts=n_full - first,
                               forecast_N=N_arr, level=level, num_bootstrap=num_bootstrap, seed=seed + r,
                               fit_options=dict(candidates=candidates, fraction=fraction, repeats=repeats,
                                                select_bootstrap=select_bootstrap, seed=seed + r))
        fc = res.forecast
        detail = f"{res.fit.model}; budgets {int(res.data.n.min())}..{int(res.data.n.max())}"
        for j, NN in enumerate(N_arr):
            out.append({"N": float(NN), "estimator": est, "predicted": float(fc.estimate[j]),
                        "lower": float(fc.lower[j]), "upper": float(fc.upper[j]), "detail": detail})
    return out



def _predict_pooled(counts, groups, fit_budget, N_arr, ests, truths, *, repeats, seed, target, level, num_bootstrap,
                    candidates, fraction, internal_repeats, select_bootstrap):
    """Rows of the pooled estimators: every repeat draws the same subsamples as the per-group
    estimators (seed [seed, repeat] per group) and fits all groups at once."""
    from .pooled import fit_groups, pooled_from_frame

    out = []
    frames = _group_frames(counts, groups)
    for r in range(repeats):
        subs = [thinned_frame(g, fit_budget, seed, r) for _, g in frames]
        data = pooled_from_frame(pd.concat(subs, ignore_index=True), groups)
        fit = fit_groups(data, pool="auto", candidates=candidates, fraction=fraction, repeats=internal_repeats,
                         seed=seed + r, select_bootstrap=select_bootstrap)
        pred = fit.predict(N_arr, target=target, level=level, num_bootstrap=num_bootstrap, seed=seed + r)
        share = dict(zip(fit.sharing["group"], fit.sharing["shared_share"]))
        for row in pred.itertuples():
            truth = truths[row.group][list(N_arr).index(row.N)]
            common = dict(N=float(row.N), predicted=float(row.estimate), lower=float(row.lower),
                          upper=float(row.upper), group=row.group, repeat=r, empirical=float(truth))
            if row.method == "pooled" and "pooled" in ests:
                out.append(dict(common, estimator="pooled", detail=f"shared share {share[row.group]:.2f}"))
            if row.chosen and "pooled_auto" in ests:
                out.append(dict(common, estimator="pooled_auto", detail=fit.choice[row.group]))
    return out


def backtest_log(log: pd.DataFrame, fit_budget: int, N, *, level: float = 0.9, groups=None,
                 estimators=DEFAULT_ESTIMATORS, target: str = "continued", num_bootstrap: int = 200,
                 seed: int = 0, candidates=None, fraction: int = 4, internal_repeats: int = 4,
                 select_bootstrap: int = 100) -> BacktestResult:
    """Backtest on an attempt log: fit on each item's first ``fit_budget`` attempts.

    The truth at N is the exact share of items whose first success came at attempt <= N; it is
    defined when every item was either broken by N or observed for at least N attempts (true for
    sample-until-success logs below their cap).  The forecast target is ``"continued"`` (the first
    ``fit_budget`` attempts are part of the N).

    Parameters
    ----------
    log : pandas.DataFrame
        Attempt log (:func:`scalefit.io.load_attempt_log`): ``item``, ``attempt``, ``success``.
    fit_budget : int
        Attempts per item to fit on.
    N : int or sequence of int
        Budgets to forecast.

    Returns
    -------
    BacktestResult
    """
    level, estimators, candidates, fit_budget = _check_common(level, estimators, candidates, fit_budget)
    if not isinstance(log, pd.DataFrame) or not {"item", "attempt", "success"} <= set(log.columns):
        raise ArgumentError("`log` must be an attempt log with columns `item`, `attempt`, `success` (load_attempt_log)")
    N_arr = np.atleast_1d(np.asarray(N, dtype=float))
    if groups is None:
        groups = log.attrs.get("groups", [])
    records = []
    for label, g in _group_frames(log, groups):
        g = g.copy()
        g.attrs = dict(log.attrs)
        first, truth = log_split(g, fit_budget, N_arr, list(groups), label)
        preds = _predict_all(first["n"].to_numpy(), first["k"].to_numpy(), N_arr, estimators, target=target,
                             level=level, num_bootstrap=num_bootstrap, seed=seed, candidates=candidates,
                             fraction=fraction, repeats=internal_repeats, select_bootstrap=select_bootstrap)
        for p in preds:
            p.update(group=label, repeat=0, empirical=truth[list(N_arr).index(p["N"])])
            records.append(p)
    return _finish(records, level, fit_budget, target, "first attempts", seed)
