"""Data-driven pass@N / ASR@N forecasts: model choice by internal backtest, honest intervals.

The default best-of-N estimator of scalefit is not a fixed formula.  For a data set of per-item
counts it

1. fits every candidate mixing distribution (:mod:`scalefit.sampling.models`) to all attempts;
2. runs an **internal backtest** on the user's own data: each item's n_i attempts are thinned
   to m_i = max(1, n_i // fraction) drawn without replacement (``repeats`` times; for
   sample-until-success logs the first m attempts), every candidate is refitted on the thinned
   data and asked for the rate at the full budget, which the data know exactly (an item is
   solved within n_i iff k_i > 0); the score is the mean absolute error over the repeats;
3. keeps the reference candidate (the first; by default Kumaraswamy) unless another candidate's
   internal error is smaller by more than ``z`` standard errors of that gain, the SE taken over
   bootstrap resamples of the items with the internal backtest refitted (default z = 1.645, a
   one-sided 5% test), and predicts with the chosen model fitted on all attempts.  With tens
   to hundreds of attempts per item the internal backtest has little power (measured: the
   typical gain SE is 0.01-0.02 in rate), so switching on the smallest raw error would mostly
   follow noise;
4. for intervals, repeats the **whole procedure** -- thinning, refitting every candidate, the
   choice (same rule, same gain SEs), the final fit -- on ``num_bootstrap`` bootstrap resamples
   of the items (seeded), and
   for each replicate draws the realised outcome of the run being forecast (one Bernoulli draw
   per observed item from its predicted probability of success within N).

What the intervals cover: the uncertainty of every fitted parameter (refits), of the model choice
(re-made in every replicate), of the anchor (which items are already solved is part of the
per-item posterior, and the realised outcome of each item is drawn) and the sampling noise of
the realised rate.  What they do not cover: a tail shape that none of the candidates can
represent at budgets far beyond ``fraction`` x the observed one -- the internal backtest only
checks an extrapolation factor of ``fraction``.  Nor, in practice, the gap between candidates
that the internal backtest cannot tell apart: the choice rule then keeps the reference in
(nearly) every replicate, so the interval is conditional on the reference's tail shape
(``Forecast.choice_share`` shows this; ``scores`` and ``fits`` hold the other candidates'
forecasts).  Measured: items drawn from a Beta(0.4, 4), 150 items, fit on 10 attempts,
continued rate at 100: 90% intervals covered 15 of 20 seeded data sets (bias +3 points);
drawn from a Kumaraswamy, 19 of 20.  Bootstrap resampling of items treats them as a sample
from a population, which is conservative for the fixed benchmark being forecast.

Targets: ``"fresh"`` forecasts a new run of N attempts per item (what a pass@N evaluation
measures; per item 1 - E[(1 - p)^N | data]); ``"continued"`` counts the observed attempts
towards N (the same run carried on, e.g. a red-team log: solved items stay solved, an unsolved
item needs a success in the next N - n_i attempts).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from .._config import require_x64
from .._extrapolation import extrapolation_factor
from .._files import atomic_write_text, json_text
from .._result import LEVEL, PARAM_COLUMNS, ResultProtocol
from ..errors import ArgumentError
from .._roots import bisect
from ._common import TARGETS, check_level, check_tails, check_target, short_value
from .families import available_families
from .models import (
    ItemData,
    MixingFit,
    fit_rows,
    make_fit,
    row_table,
    row_weights,
    item_data,
    item_loglik,
    solve_probabilities,
)
from .censored import as_item_data
from .holdout import InternalSplits, hold_out_counts, internal_splits, is_until_success

__all__ = [
    "DEFAULT_CANDIDATES",
    "BonFit",
    "Forecast",
    "SavedForecast",
    "BudgetForecast",
    "fit_bon",
    "forecast",
]

DEFAULT_CANDIDATES: tuple[str, ...] = ("kumaraswamy", "beta", "logit_normal")
_FORMAT = "scalefit.bon/1"
BON_FILE_FORMAT = "scalefit.bon-file/1"  # `scalefit bon fit -o`: one BonFit per group


# --------------------------------------------------------------------------------------------
# internal backtest


def _weighted_rate(prob: np.ndarray, mult: np.ndarray) -> np.ndarray:
    """Per-replicate mean of per-item probabilities (T, I) with item multiplicities (T, I)."""
    return np.sum(prob * mult, axis=1) / np.sum(mult, axis=1)


@dataclass(frozen=True, eq=False)
class _Internal:
    """Internal-backtest outcome for D data sets (item multiplicities) and M candidates."""

    error: np.ndarray  # (D, M) mean over thinnings of |predicted - observed| full-budget rate
    bias: np.ndarray  # (D, M) mean over thinnings of predicted - observed
    se_diff: np.ndarray  # (D, M) jackknife SE of error[:, j] - error[:, 0] (0 for the reference)
    split_thetas: list  # per thinning: {model: (D, P) thetas}


def _fit_warm(model, rows, W, warm):
    """Batched fit from a warm start (P,) or (D, P); data sets where it does not converge are
    refitted from the default starts."""
    return fit_rows(model, rows, W, theta0=None if warm is None else np.asarray(warm, float))


def _internal_scores(models, data: ItemData, splits: InternalSplits, mult: np.ndarray, warm=None) -> _Internal:
    """Internal backtest for item multiplicities ``mult`` (D, I).

    For every thinning r and candidate j the model is refitted on the thinned data of each data
    set (warm-started from ``warm[r][model]`` when given) and predicts, per item, the chance of
    a success within the item's full budget (continued target); the observed outcome is k_i > 0.
    The error of a data set is |weighted mean residual|, averaged over thinnings.  The SE of the
    difference to the reference (candidate 0) is a jackknife over items (leaving out every copy of
    an item; refits are not repeated), so it reflects which items happened to be observed.
    """
    D, I = mult.shape
    M = len(models)
    R = len(splits.data)
    tot = mult.sum(axis=1)  # (D,)
    res = np.zeros((D, M, R, I))
    # Every thinning's data sets in one batch: the thinnings share one table of distinct rows
    # (data set (r, d) weights only its own thinning's rows), so each candidate is one batched
    # fit of R x D data sets instead of R fits of D.
    subs = splits.data
    rows = row_table(*(np.concatenate([getattr(sub, a) for sub in subs]) for a in ("n", "k", "extra")))
    index = rows.index.reshape(R, I)
    W = np.concatenate([row_weights(index[r], rows.size, mult) for r in range(R)])
    thetas = [{} for _ in range(R)]
    for j, model in enumerate(models):
        w0 = None if warm is None else np.concatenate(
            [np.broadcast_to(np.asarray(warm[r][model], float), (D, np.shape(warm[r][model])[-1])) for r in range(R)])
        theta = _fit_warm(model, rows, W, w0)[0].reshape(R, D, -1)
        for r, sub in enumerate(subs):
            thetas[r][model] = theta[r]
            res[:, j, r, :] = continued_at_budget(model, theta[r], sub, splits.budget) - splits.truth[None, :]
    S = np.einsum("dmri,di->dmr", res, mult)  # weighted residual sums
    e = S / tot[:, None, None]
    error = np.mean(np.abs(e), axis=2)
    bias = np.mean(e, axis=2)
    # jackknife over items of error_j - error_ref
    present = mult > 0
    loo = (S[..., None] - res * mult[:, None, None, :]) / np.maximum(tot[:, None, None, None] - mult[:, None, None, :], 1e-300)
    err_loo = np.mean(np.abs(loo), axis=2)  # (D, M, I)
    diff_loo = err_loo - err_loo[:, :1, :]
    n_present = present.sum(axis=1)  # (D,)
    mean_loo = np.sum(diff_loo * present[:, None, :], axis=2) / n_present[:, None]
    var = (n_present[:, None] - 1) / n_present[:, None] * np.sum(
        present[:, None, :] * (diff_loo - mean_loo[..., None]) ** 2, axis=2)
    return _Internal(error, bias, np.sqrt(var), thetas)


def _bootstrap_internal(models, data: ItemData, fraction: int, repeats: int, seed: int, mult: np.ndarray,
                        point: _Internal | None = None) -> _Internal:
    """Internal backtest on item resamples ``mult``, warm-started from the point fits (``point``:
    the internal backtest of the data themselves, computed here when not given)."""
    splits = internal_splits(data, fraction, repeats, seed)
    if point is None:
        point = _internal_scores(models, data, splits, np.ones((1, data.size)))
    warm = [{m: th[m][0] for m in models} for th in point.split_thetas]
    return _internal_scores(models, data, splits, mult, warm=warm)


@dataclass(frozen=True, eq=False)
class _SelectCache:
    """What :func:`fit_bon` computed for the choice and the whole-procedure bootstrap reuses:
    the internal backtest of the data (warm starts) and the internal errors (S, M) of the
    select bootstrap's item resamples ``item_resamples(I, S, seed)``.  Resamples are drawn row
    by row, so a forecast bootstrap with the same seed starts with the same S resamples and
    needs only the rest: identical numbers, a third fewer refits at the defaults."""

    point: _Internal
    errors: np.ndarray


def continued_at_budget(model, thetas, sub: ItemData, budget: np.ndarray) -> np.ndarray:
    """(T, I): chance that item i, observed as in ``sub``, is solved within budget[i] (continued)."""
    more = np.maximum(budget - sub.n, 0.0)
    lz = item_loglik(model, thetas, sub)
    lf = item_loglik(model, thetas, sub, more)
    p = -np.expm1(np.minimum(lf - lz, 0.0))
    return np.where(sub.solved[None, :], 1.0, p)


def choose_candidate(error: np.ndarray, se: np.ndarray, z: float) -> np.ndarray:
    """Candidate per data set (rows of ``error``, (D, M)): the reference (candidate 0) unless
    another candidate's internal error is smaller by more than ``z`` standard errors ``se`` (M,)
    of that gain; among those, the smallest error wins."""
    gain = error[:, :1] - error  # > 0: better than the reference
    clear = gain > z * np.asarray(se)[None, :]
    clear[:, 0] = True
    masked = np.where(clear, error, np.inf)
    return np.argmin(masked, axis=1)


def _table_column(name: str) -> property:
    """A read-only attribute: column ``name`` of the result's ``table`` as an array."""
    return property(lambda self: self.table[name].to_numpy(), doc=f"The ``{name}`` column of ``table``.")


def item_resamples(I: int, B: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng([seed, 0])
    return rng.multinomial(I, np.full(I, 1.0 / I), size=B).astype(float)


# --------------------------------------------------------------------------------------------
# results


@dataclass(frozen=True, eq=False, repr=False)
class Forecast(ResultProtocol):
    """pass@N (ASR@N) forecasts with intervals from :meth:`BonFit.predict_forecast` (immutable).

    ``table`` has one row per budget N: ``N``, ``estimate``, ``lower``, ``upper`` and
    ``extrapolation`` (N over the largest observed budget; absent in forecasts made before
    it was added); ``level``, ``target``, ``model`` (the chosen model) and ``choice_share``
    (the share of bootstrap replicates in which each candidate was chosen) describe how it
    was made.  Result protocol (docs/results.md): :meth:`predict` returns that table (the
    ``table`` attribute is the older name); ``param_table`` is empty (a forecast has no
    parameters: see the fit's); ``converged``/``message`` are the chosen model's.
    """

    table: pd.DataFrame
    level: float
    target: str
    model: str
    reason: str
    choice_share: dict
    num_bootstrap: int
    seed: int
    observed_rate: float
    observed_budget: float
    interval_kind: str = "realised rate of the forecast run (bootstrap over items, whole procedure refitted)"
    note: str = ""
    converged: bool = True
    message: str = ""

    JSON_WHAT = "best-of-N forecast file"

    def _repr_text(self) -> str:
        iv = f"{self.level:.0%} intervals from {self.num_bootstrap} replicates" if self.num_bootstrap else "no interval"
        return f"{self.target} run, model {self.model}: {len(self.table)} budgets, {iv}"

    def predict(self, level: float | None = None) -> pd.DataFrame:
        """The forecast table (``N``, ``estimate``, ``lower``, ``upper``, ``extrapolation``).

        A forecast holds intervals at its own ``level`` only: another ``level`` raises (ask
        :meth:`BonFit.predict_forecast` for it)."""
        if level is not None and not math.isclose(float(level), self.level):
            raise ArgumentError(f"`level` = {level:g}: this forecast holds {self.level:.0%} intervals only; "
                                "forecast again with BonFit.predict_forecast(N, level=...)")
        return self.table.copy()

    def param_table(self, level: float = LEVEL) -> pd.DataFrame:
        """Empty (a forecast has no parameters of its own; the fit's ``param_table`` has them)."""
        return pd.DataFrame(columns=list(PARAM_COLUMNS))

    def _summary_table(self) -> pd.DataFrame:
        return self.table

    N = _table_column("N")
    estimate = _table_column("estimate")
    lower = _table_column("lower")
    upper = _table_column("upper")

    def _summary_text(self) -> str:
        lines = [f"pass@N forecast ({self.target} run), model: {self.model}",
                 f"  why: {self.reason}",
                 f"  observed rate {self.observed_rate:.4f} at budget {self.observed_budget:g}",
                 f"  {self.level:.0%} intervals: {self.interval_kind}; {self.num_bootstrap} replicates, seed {self.seed}"]
        if self.choice_share:
            share = ", ".join(f"{k} {v:.0%}" for k, v in self.choice_share.items() if v > 0)
            lines.append(f"  model chosen in bootstrap replicates: {share}")
        if self.note:
            lines.append(f"  note: {self.note}")
        for row in self.table.itertuples():
            lines.append(f"  N = {row.N:>10g}  {row.estimate:.4f}  [{row.lower:.4f}, {row.upper:.4f}]")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {"table": self.table.to_dict(orient="list"), "level": self.level, "target": self.target,
                "model": self.model, "reason": self.reason, "choice_share": self.choice_share,
                "num_bootstrap": self.num_bootstrap, "seed": self.seed,
                "observed_rate": self.observed_rate, "observed_budget": self.observed_budget,
                "interval_kind": self.interval_kind, "note": self.note, "converged": self.converged,
                "message": self.message}

    @classmethod
    def from_dict(cls, obj: dict) -> "Forecast":
        table = pd.DataFrame({k: np.asarray([np.nan if v is None else v for v in vals], dtype=np.float64)
                              for k, vals in obj["table"].items()})
        extra = {k: obj[k] for k in ("interval_kind", "note", "converged", "message") if k in obj}
        return cls(table, float(obj["level"]), str(obj["target"]), str(obj["model"]), str(obj["reason"]),
                   dict(obj["choice_share"]), int(obj["num_bootstrap"]), int(obj["seed"]),
                   float(obj["observed_rate"]), float(obj["observed_budget"]), **extra)


def _spanned_interval(rates: np.ndarray, span: dict, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Percentile interval of the whole procedure's realised rates (B, G), widened to the union
    with each plausible family's interval (``span``: model -> realised rates (B, G))."""
    lower, upper = _percentile_interval(rates, level)
    for draws in span.values():
        lo, hi = _percentile_interval(draws, level)
        lower, upper = np.minimum(lower, lo), np.maximum(upper, hi)
    return lower, upper


def _percentile_interval(draws: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """Equal-tailed percentile interval over the replicates (axis 0) of ``draws``."""
    tail = (1.0 - level) / 2.0
    return np.quantile(draws, tail, axis=0), np.quantile(draws, 1.0 - tail, axis=0)


def _budget_crossings(N: np.ndarray, curves: np.ndarray, tau: float) -> np.ndarray:
    """Per row of ``curves`` (T, G) on the budget grid ``N``: the smallest N reaching ``tau``,
    interpolated linearly in (log N, log(1 - rate)) like :func:`_solve_budget`; inf where the
    grid's last budget does not reach it."""
    curve = np.maximum.accumulate(np.atleast_2d(curves), axis=1)
    out = np.full(curve.shape[0], np.inf)
    lg = np.log(N)
    with np.errstate(divide="ignore"):
        y = np.log1p(-np.minimum(curve, 1.0))
    yt = math.log1p(-tau)
    reach = curve >= tau
    for t in np.flatnonzero(reach.any(axis=1)):
        j = int(np.argmax(reach[t]))
        if j == 0:
            out[t] = N[0]
            continue
        y0, y1 = y[t, j - 1], y[t, j]
        frac = 0.5 if not np.isfinite(y1) or y1 == y0 else (yt - y0) / (y1 - y0)
        out[t] = math.exp(lg[j - 1] + min(max(frac, 0.0), 1.0) * (lg[j] - lg[j - 1]))
    return out


def forecast_grid(data: ItemData, target: str = "fresh") -> np.ndarray:
    """Budgets of a saved forecast: 8 per decade (10^(j/8)) from 1 to 1000x the largest observed
    budget, plus that budget and 10x it (a continued forecast holds below the observed budgets
    too: items are judged on their first N attempts where the log has attempt order)."""
    n_max = float(np.max(data.attempts))
    hi = 1000.0 * n_max
    j = np.arange(0, int(math.ceil(8 * math.log10(hi))) + 1)
    grid = 10.0 ** (j / 8.0)
    grid = np.unique(np.concatenate([grid[grid <= hi * (1 + 1e-12)], [n_max, 10.0 * n_max, hi]]))
    return grid


@dataclass(frozen=True, eq=False, repr=False)
class SavedForecast(ResultProtocol):
    """A best-of-N forecast saved with its fit (:meth:`BonFit.with_forecast`): everything a
    report or a later forecast reads, so that neither refits.

    Result protocol (docs/results.md): :meth:`predict` (``table`` is the older name) reads
    any level and any budget inside the grid from the saved replicates; ``param_table`` is
    empty (the fit holds the parameters); ``converged`` is True (nothing is solved here).

    Attributes
    ----------
    target : str
        ``"fresh"`` or ``"continued"`` (see the module docstring).
    N, estimate, population : numpy.ndarray
        The budget grid, the point forecast for the observed items and the chosen model's
        population curve (new items) on it.
    n_items, num_bootstrap, seed : int
    models : tuple of str
        Candidates re-chosen in the replicates; ``chosen`` (B,) indexes them.
    solved : numpy.ndarray of int, (B, len(N))
        Observed items solved in each replicate's realised run: the realised rate is
        ``solved / n_items`` (exact), and its percentiles are :meth:`BonFit.predict`'s interval.
    expected : numpy.ndarray, (B, len(N))
        Each replicate's expected rate (for budget intervals).
    span : dict of str to numpy.ndarray of int, (B, len(N))
        For each tail family the internal backtest cannot reject (``tails="span"``), the items
        solved in each replicate had that family been used throughout; the interval is the
        union of the percentile intervals (empty: the choice interval alone).
    backtest : SavedBacktest, optional
        External backtest (``None``: not run; ``backtest_note`` says why).
    plan : dict, optional
        The sampling planner's recommendation saved with the forecast (``scalefit bon fit -o``;
        :func:`scalefit.report.bestofn.with_plan`), which the report's plan page shows as saved
        (``None``: no plan was saved).
    """

    target: str
    N: np.ndarray
    estimate: np.ndarray
    population: np.ndarray
    n_items: int
    num_bootstrap: int
    seed: int
    models: tuple
    chosen: np.ndarray
    solved: np.ndarray
    expected: np.ndarray
    backtest: "SavedBacktest | None" = None
    backtest_note: str = ""
    #: largest observed budget (attempts per item) of the fitted data; NaN in files saved before it was kept
    observed_budget: float = float("nan")
    span: dict = field(default_factory=dict)
    plan: dict | None = None

    JSON_WHAT = "saved best-of-N forecast"
    converged = True

    @property
    def message(self) -> str:
        return f"saved forecast; external backtest: {self.backtest_note or 'run'}"

    def _repr_text(self) -> str:
        return (f"{self.target} run: {len(self.N)} budgets {short_value(self.N[0])}..{short_value(self.N[-1])}, "
                f"{self.n_items} items, {self.num_bootstrap} replicates")

    def predict(self, N=None, *, level: float = LEVEL) -> pd.DataFrame:
        """``N``, ``estimate``, ``lower``, ``upper`` (see :meth:`table`) and ``extrapolation``
        (N over the largest observed budget; NaN for forecasts saved before it was kept)."""
        out = self.table(level, N)
        out["extrapolation"] = out["N"].to_numpy() / self.observed_budget
        return out

    def param_table(self, level: float = LEVEL) -> pd.DataFrame:
        """Empty (the fit's ``param_table`` holds the parameters)."""
        return pd.DataFrame(columns=list(PARAM_COLUMNS))

    def _summary_text(self, level: float = LEVEL) -> str:
        t = self.predict(level=level)
        share = ", ".join(f"{k} {v:.0%}" for k, v in self.choice_share.items() if v > 0)
        lines = [f"saved pass@N forecast ({self.target} run) for {self.n_items} items: {len(self.N)} budgets, "
                 f"{self.num_bootstrap} whole-procedure replicates (seed {self.seed})"
                 + (f"; model chosen in replicates: {share}" if share else ""),
                 f"external backtest: {self.backtest_note or 'run'}",
                 t.to_string(index=False, float_format=lambda v: f"{v:.5g}")]
        return "\n".join(lines)

    def _summary_table(self, level: float = LEVEL) -> pd.DataFrame:
        return self.predict(level=level)

    @property
    def choice_share(self) -> dict:
        return {m: float(np.mean(self.chosen == j)) for j, m in enumerate(self.models)} if self.num_bootstrap else {}

    def _interp(self, values: np.ndarray, N: np.ndarray) -> np.ndarray:
        """``values`` (..., G) at budgets ``N``, linear in log N between grid budgets (exact on them)."""
        x = np.log(self.N)
        flat = np.atleast_2d(values)
        out = np.stack([np.interp(np.log(N), x, row) for row in flat])
        return out if np.ndim(values) > 1 else out[0]

    def check_budgets(self, N) -> np.ndarray:
        N = check_budget_list(N)
        lo, hi = float(self.N[0]), float(self.N[-1])
        bad = (N < lo * (1 - 1e-12)) | (N > hi * (1 + 1e-12))
        if bad.any():
            raise ArgumentError(f"`N` = {short_value(N[bad][0])} lies outside the saved forecast's budgets "
                                f"[{short_value(lo)}, {short_value(hi)}]; forecast it from the fit (BonFit.predict / scalefit bon predict)")
        return np.clip(N, lo, hi)

    def table(self, level: float = 0.9, N=None) -> pd.DataFrame:
        """``N``, ``estimate``, ``lower``, ``upper`` at the grid (or at budgets ``N`` inside it,
        interpolated in log N per replicate between grid budgets), interval at ``level``.

        Deprecated name: :meth:`predict` (the result protocol) returns the same columns plus
        ``extrapolation``."""
        level = check_level(level)
        NN = self.N if N is None else self.check_budgets(N)
        est = self._interp(self.estimate, NN)
        if self.num_bootstrap:
            span = {m: self._interp(v / self.n_items, NN) for m, v in self.span.items()}
            lower, upper = _spanned_interval(self._interp(self.solved / self.n_items, NN), span, level)
        else:
            lower = upper = np.full(NN.shape, np.nan)
        return pd.DataFrame({"N": NN, "estimate": est, "lower": lower, "upper": upper})

    def budget(self, rate: float, level: float = 0.9) -> dict:
        """Budget N reaching an expected rate ``rate`` on the saved grid (inf: not within it),
        with the percentile interval of the replicates' budgets."""
        level = check_level(level)
        tau = float(rate)
        if not 0 < tau < 1:
            raise ArgumentError(f"`rate` = {short_value(tau)} must lie strictly between 0 and 1")
        est = float(_budget_crossings(self.N, self.estimate[None, :], tau)[0])
        lo = hi = float("nan")
        if self.num_bootstrap:
            per = np.where(np.isfinite(b := _budget_crossings(self.N, self.expected, tau)), b, 1e300)
            tail = (1.0 - level) / 2.0
            lo, hi = (float(np.quantile(per, q, method="inverted_cdf")) for q in (tail, 1.0 - tail))
            lo, hi = (math.inf if v >= 1e300 else v for v in (lo, hi))
        return {"rate": tau, "estimate": est, "lower": lo, "upper": hi, "target_rate": tau}

    def to_dict(self) -> dict:
        return {"target": self.target, "N": self.N.tolist(), "estimate": self.estimate.tolist(),
                "population": self.population.tolist(), "n_items": self.n_items,
                "num_bootstrap": self.num_bootstrap, "seed": self.seed, "models": list(self.models),
                "chosen": self.chosen.tolist(), "solved": self.solved.tolist(), "expected": self.expected.tolist(),
                "backtest": None if self.backtest is None else self.backtest.to_dict(),
                "backtest_note": self.backtest_note, "span": {m: v.tolist() for m, v in self.span.items()},
                **({"observed_budget": self.observed_budget} if math.isfinite(self.observed_budget) else {}),
                **({"plan": self.plan} if self.plan is not None else {})}

    @classmethod
    def from_dict(cls, obj: dict) -> "SavedForecast":
        G = len(obj["N"])
        bt = obj.get("backtest")
        return cls(obj["target"], np.asarray(obj["N"], float), np.asarray(obj["estimate"], float),
                   np.asarray(obj["population"], float), int(obj["n_items"]), int(obj["num_bootstrap"]),
                   int(obj["seed"]), tuple(obj["models"]), np.asarray(obj["chosen"], np.int64),
                   np.asarray(obj["solved"], np.int64).reshape(-1, G), np.asarray(obj["expected"], float).reshape(-1, G),
                   None if bt is None else SavedBacktest.from_dict(bt), str(obj.get("backtest_note") or ""),
                   float(obj.get("observed_budget") or np.nan),
                   {m: np.asarray(v, np.int64).reshape(-1, G) for m, v in (obj.get("span") or {}).items()},
                   dict(obj["plan"]) if obj.get("plan") is not None else None)


@dataclass(frozen=True, eq=False)
class SavedBacktest:
    """External backtest saved with a forecast: the whole procedure rerun on ``fit_attempts``
    attempts per item (a random subset, hypergeometric thinning of the counts), its forecast
    of the continued run (``forecast``, target "continued") and the held-out ``empirical`` rate
    at each of its budgets."""

    fit_attempts: int
    model: str
    params: dict
    empirical: np.ndarray
    forecast: SavedForecast

    def rows(self, level: float = 0.9) -> pd.DataFrame:
        """``N``, ``estimate``, ``lower``, ``upper``, ``empirical`` at ``level`` (``predicted``:
        ``estimate`` under its deprecated name)."""
        t = self.forecast.table(level)
        return pd.DataFrame({"N": t["N"].to_numpy(), "estimate": t["estimate"].to_numpy(),
                             "lower": t["lower"].to_numpy(), "upper": t["upper"].to_numpy(),
                             "empirical": self.empirical, "predicted": t["estimate"].to_numpy()})

    def to_dict(self) -> dict:
        return {"fit_attempts": self.fit_attempts, "model": self.model, "params": dict(self.params),
                "empirical": self.empirical.tolist(), "forecast": self.forecast.to_dict()}

    @classmethod
    def from_dict(cls, obj: dict) -> "SavedBacktest":
        return cls(int(obj["fit_attempts"]), str(obj["model"]), dict(obj["params"]),
                   np.asarray(obj["empirical"], float), SavedForecast.from_dict(obj["forecast"]))


def _saved_forecast(bon: "BonFit", N_arr: np.ndarray, target: str, B: int, seed: int,
                    tails: str = "span") -> SavedForecast:
    est = np.array([bon.fit.solve_probabilities(bon.data, NN, target=target).mean() for NN in N_arr])
    pop = np.atleast_1d(np.asarray(bon.fit.population(N_arr), float))
    models = bon._models_for_bootstrap()
    span = bon._span_slots(tails) if B > 0 else {}
    if B > 0:
        solved, expected, chosen = bon._bootstrap_draws(N_arr, target, B, seed, per_model=span)
    else:
        solved, expected, chosen = np.zeros((0, N_arr.size), np.int64), np.zeros((0, N_arr.size)), np.zeros(0, np.int64)
    return SavedForecast(target, np.asarray(N_arr, float), est, pop, int(bon.data.size), B, seed, tuple(models),
                         np.asarray(chosen, np.int64), solved, expected,
                         observed_budget=float(np.max(bon.data.attempts)), span=span)


def _external_backtest(bon: "BonFit", m: int | None, B: int, seed: int, backtest_N=None, select_bootstrap: int = 100):
    """(SavedBacktest or None, note): the external backtest of :meth:`BonFit.with_forecast`."""
    d = bon.data
    if not (np.all(d.extra == 0) and not is_until_success(d)):
        return None, "not run: the items are not plain counts (censored or sample-until-success attempts)"
    n, k = np.asarray(d.n, np.int64), np.asarray(d.k, np.int64)
    n_min = int(n.min())
    if m is None:
        m = n_min // 10
        if m < 1:
            return None, f"not run: fewer than 10 attempts on some item ({n_min}), too few to hold any out"
    split = hold_out_counts(n, k, m, np.random.default_rng([seed, 7]), backtest_N)
    try:  # the whole default procedure (candidates, internal backtest, choice) on the kept attempts
        bon_m = fit_bon(np.full(n.shape, m), split.k_fit, model=bon.model if bon.selection != "auto" else "auto",
                        candidates=bon.candidates, fraction=bon.fraction, repeats=bon.repeats, seed=seed, z=bon.z,
                        select_bootstrap=select_bootstrap)
    except ArgumentError as exc:
        return None, f"not run: the procedure cannot be fitted on {m} attempts per item ({exc})"
    fc = _saved_forecast(bon_m, split.N.astype(float), "continued", B, seed)
    return SavedBacktest(m, bon_m.model, dict(bon_m.fit.params), split.truth, fc), ""


@dataclass(frozen=True, eq=False, repr=False)
class BudgetForecast(ResultProtocol):
    """Budgets N needed for target rates, with intervals (see :meth:`BonFit.budget`).

    ``table``: ``rate``, ``estimate``, ``lower``, ``upper`` (inf: not reachable under
    the model, e.g. above 1 - pi for the zero-inflated model).  The interval covers parameter
    and model-choice uncertainty (bootstrap over items, whole procedure refitted) for the
    expected rate; it does not add the run-to-run noise of a realised rate.  ``target_rate``
    repeats ``rate`` under its deprecated name (files saved by 0.1 hold only it).

    Result protocol (docs/results.md): :meth:`predict` returns ``table`` with
    ``extrapolation`` (the budget estimate over the largest observed budget);
    ``param_table`` is empty; ``converged``/``message`` are the chosen model's.
    """

    table: pd.DataFrame
    level: float
    target: str
    model: str
    num_bootstrap: int
    seed: int
    observed_budget: float = float("nan")
    converged: bool = True
    message: str = ""

    JSON_WHAT = "best-of-N budget file"

    def _repr_text(self) -> str:
        return (f"{self.target} run, model {self.model}: {len(self.table)} target rates, "
                f"{self.level:.0%} intervals from {self.num_bootstrap} replicates")

    def predict(self, level: float | None = None) -> pd.DataFrame:
        """``rate``, ``estimate``, ``lower``, ``upper``, ``extrapolation`` (the budget over
        the largest observed budget).  Only the forecast's own ``level`` is held."""
        if level is not None and not math.isclose(float(level), self.level):
            raise ArgumentError(f"`level` = {level:g}: this budget forecast holds {self.level:.0%} intervals only; "
                                "ask BonFit.budget(rate, level=...) again")
        out = self.table.copy()
        out["extrapolation"] = out["estimate"].to_numpy() / self.observed_budget
        return out

    def param_table(self, level: float = LEVEL) -> pd.DataFrame:
        """Empty (the fit's ``param_table`` holds the parameters)."""
        return pd.DataFrame(columns=list(PARAM_COLUMNS))

    def _summary_table(self) -> pd.DataFrame:
        return self.predict()

    def to_dict(self) -> dict:
        # budgets may be inf (not reachable) or NaN (no interval): written as text, read back by float()
        table = {k: [float(v) if math.isfinite(v) else str(float(v)) for v in vals]
                 for k, vals in self.table.to_dict(orient="list").items()}
        return {"table": table, "level": self.level, "target": self.target,
                "model": self.model, "num_bootstrap": self.num_bootstrap, "seed": self.seed,
                "observed_budget": self.observed_budget, "converged": self.converged, "message": self.message}

    @classmethod
    def from_dict(cls, obj: dict) -> "BudgetForecast":
        table = pd.DataFrame({k: np.asarray([float(v) for v in vals], dtype=np.float64)
                              for k, vals in obj["table"].items()})
        if "rate" not in table and "target_rate" in table:  # saved by 0.1: the layout of a new table
            table = table.assign(rate=table["target_rate"])[["rate", *(c for c in table if c != "target_rate"),
                                                              "target_rate"]]
        return cls(table, float(obj["level"]), str(obj["target"]), str(obj["model"]), int(obj["num_bootstrap"]),
                   int(obj["seed"]), float(obj.get("observed_budget") or np.nan), bool(obj.get("converged", True)),
                   str(obj.get("message", "")))

    def _summary_text(self) -> str:
        lines = [f"budget for target pass@N ({self.target} run), model {self.model}, "
                 f"{self.level:.0%} intervals from {self.num_bootstrap} bootstrap replicates"]
        for row in self.table.itertuples():
            lines.append(f"  rate {row.rate:.4g}: N = {row.estimate:.6g}  [{row.lower:.6g}, {row.upper:.6g}]")
        return "\n".join(lines)


@dataclass(frozen=True, eq=False, repr=False)
class BonFit(ResultProtocol):
    """The default best-of-N model for one data set: every candidate fitted, the internal
    backtest table and the chosen model (immutable; :meth:`to_json` / :meth:`from_json`).

    Attributes
    ----------
    data : ItemData
        The items that were fitted (kept so that forecasts condition on them).
    fits : dict[str, MixingFit]
        Each candidate fitted on all attempts.
    scores : pandas.DataFrame
        One row per candidate: ``model``, ``internal_error`` (mean absolute error of the rate at
        the full budget predicted from thinned data), ``internal_bias``, ``loglik``, ``aic``,
        ``converged``, ``chosen``.
    model : str
        The chosen candidate (``"auto"`` selection) or the one requested.
    reason : str
        Why it was chosen.
    fraction, repeats, seed : int
        Internal-backtest settings.
    forecast : SavedForecast, optional
        The forecast saved with the fit (:meth:`with_forecast`; written by :meth:`to_json` and
        ``scalefit bon fit -o``): reports read it instead of refitting.

    Result protocol (docs/results.md): ``converged``/``message`` are the chosen model's;
    ``param_table`` lists its parameters (no parameter interval: the whole-procedure bootstrap
    gives intervals for forecasts); :meth:`predict` returns the protocol DataFrame;
    :meth:`predict_forecast` the :class:`Forecast` behind it (how it was made: model choice
    shares, notes).
    """

    data: ItemData
    fits: dict
    scores: pd.DataFrame
    model: str
    reason: str
    candidates: tuple
    selection: str
    fraction: int
    repeats: int
    seed: int
    z: float = 1.645
    gain_se: np.ndarray = field(default_factory=lambda: np.zeros(0))
    metadata: dict = field(default_factory=dict)
    forecast: SavedForecast | None = None
    # not part of the result (not saved, not compared): see _SelectCache
    select_cache: _SelectCache | None = field(default=None, repr=False, compare=False)

    JSON_WHAT = "best-of-N fit file"

    @property
    def fit(self) -> MixingFit:
        """The chosen model fitted on all attempts."""
        return self.fits[self.model]

    @property
    def converged(self) -> bool:
        """The chosen model's fit converged."""
        return bool(self.fit.converged)

    @property
    def message(self) -> str:
        return f"{self.model}: {self.fit.message}"

    def _repr_text(self) -> str:
        state = "converged" if self.converged else "NOT converged"
        saved = "forecast saved" if self.forecast is not None else "no saved forecast"
        return f"{self.model} for {self.data.size} items: {len(self.candidates)} candidates, {state}, {saved}"

    def param_table(self, level: float = LEVEL) -> pd.DataFrame:
        """The chosen model's parameters (:meth:`MixingFit.param_table`)."""
        return self.fit.param_table(level)

    def predict(self, N, *, level: float = LEVEL, target: str = "fresh", num_bootstrap: int = 200,
                seed: int | None = None, tails: str = "span") -> pd.DataFrame:
        """Forecast pass@N (ASR@N) as the protocol DataFrame: ``N``, ``estimate``, ``lower``,
        ``upper``, ``extrapolation`` (the table of :meth:`predict_forecast`, which takes the same
        arguments and also returns how the forecast was made: model choice shares, notes)."""
        return self.predict_forecast(N, target=target, level=level, num_bootstrap=num_bootstrap, seed=seed,
                                     tails=tails).predict()

    def predict_table(self, N, *, level: float = LEVEL, target: str = "fresh", num_bootstrap: int = 200,
                      seed: int | None = None) -> pd.DataFrame:
        """Deprecated name of :meth:`predict` (same DataFrame)."""
        return self.predict(N, target=target, level=level, num_bootstrap=num_bootstrap, seed=seed)

    @property
    def observed_rate(self) -> float:
        return float(np.mean(self.data.solved))

    def _summary_text(self) -> str:
        lines = [f"best-of-N model for {self.data.size} items (observed rate {self.observed_rate:.4f}, "
                 f"budget {_budget_text(self.data)})"]
        if self.selection == "auto":
            lines.append(f"internal backtest: fit on 1/{self.fraction} of each item's attempts, "
                         f"predict the full-budget rate ({_nrep(self)}):")
        with pd.option_context("display.width", 160, "display.float_format", "{:.5g}".format):
            lines.append(self.scores.to_string(index=False))
        lines.append(f"chosen: {self.model} -- {self.reason}")
        lines.append(self.fit.summary())
        return "\n".join(lines)

    def item_posterior(self, data: ItemData | None = None):
        """Per-item posterior of p on a grid under the chosen model (for the sampling planner)."""
        return self.fit.item_posterior(self.data if data is None else data)

    # ---------------------------------------------------------------- predictions
    def plausible_models(self) -> tuple:
        """The candidates the internal backtest cannot reject: the chosen model plus every
        candidate whose internal error differs from the reference's by at most ``z`` standard
        errors of that difference (when the reference was kept), or that also beats the
        reference by more than ``z`` standard errors (when another candidate was chosen).
        A single model when the family was requested explicitly."""
        models = self._models_for_bootstrap()
        if len(models) == 1 or "gain_vs_reference" not in self.scores:
            return (self.model,)
        gain = self.scores["gain_vs_reference"].to_numpy(float)
        se = np.asarray(self.gain_se, float)
        if self.model == models[0]:
            keep = np.abs(gain) <= self.z * se
        else:
            keep = gain > self.z * se
        keep[models.index(self.model)] = True
        return tuple(m for m, k in zip(models, keep) if k)

    def _span_slots(self, tails: str) -> dict:
        """Slots for :meth:`_bootstrap_draws`'s per-model draws: the plausible families when
        ``tails="span"`` and there is more than one (else nothing to widen by, nothing to draw)."""
        models = self.plausible_models() if tails == "span" else ()
        return dict.fromkeys(models) if len(models) > 1 else {}

    def predict_forecast(self, N, *, target: str = "fresh", level: float = LEVEL, num_bootstrap: int = 200,
                         seed: int | None = None, tails: str = "span") -> Forecast:
        """Forecast pass@N (ASR@N) for the observed items with honest intervals, as a
        :class:`Forecast` (what ``BonFit.predict`` returned in scalefit 0.1; :meth:`predict`
        returns its table).

        Parameters
        ----------
        N : float or array_like
            Budgets (attempts per item).
        target : {"fresh", "continued"}
            See the module docstring.
        level : float
            Two-sided interval level.
        num_bootstrap : int
            Bootstrap replicates of the whole procedure (0: point estimates only).
        seed : int, optional
            Seed (default: the fit's seed).
        tails : {"span", "choice"}
            ``"span"`` (default): the union of the whole procedure's interval and the intervals
            of every candidate the internal backtest cannot reject (:meth:`plausible_models`,
            each refitted on the same item resamples), so the interval includes the tail-shape
            uncertainty the data cannot resolve.  ``"choice"``: the whole procedure's interval
            alone, which is conditional on the reference tail whenever the backtest cannot tell
            the tails apart (docs/best_of_n.md#intervals-and-what-they-do-not-cover).

        Returns
        -------
        Forecast
        """
        level = check_level(level)
        target = check_target(target)
        N_arr = check_budget_list(N)
        B = check_num_bootstrap(num_bootstrap)
        check_tails(tails)
        seed = self.seed if seed is None else int(seed)
        est = np.array([self.fit.solve_probabilities(self.data, NN, target=target).mean() for NN in N_arr])
        lower = np.full(N_arr.shape, np.nan)
        upper = np.full(N_arr.shape, np.nan)
        share: dict = {}
        kind = Forecast.interval_kind
        notes = [_unordered_note(self.data, N_arr) if target == "continued" else ""]
        if B > 0:
            per_model = self._span_slots(tails)
            solved, expected, chosen = self._bootstrap_draws(N_arr, target, B, seed, per_model=per_model)
            lower, upper = _spanned_interval(solved / self.data.size,
                                             {m: v / self.data.size for m, v in per_model.items()}, level)
            share = {m: float(np.mean(chosen == j)) for j, m in enumerate(self._models_for_bootstrap())}
            if per_model:
                kind += f"; spanning the tails the internal backtest cannot reject ({', '.join(per_model)})"
            notes += [single_value_note(target, N_arr[j], est[j], lower[j], upper[j], solved[:, j], expected[:, j],
                                        self.data.size, level) for j in range(N_arr.size)]
        table = pd.DataFrame({"N": N_arr, "estimate": est, "lower": lower, "upper": upper,
                              "extrapolation": extrapolation_factor({"N": self.data.attempts}, {"N": N_arr})})
        return Forecast(table, level, target, self.model, self.reason, share, B, seed,
                        self.observed_rate, float(np.max(self.data.attempts)), interval_kind=kind,
                        note="; ".join(n for n in notes if n), converged=self.fit.converged, message=self.fit.message)

    def budget(self, rate, *, target: str = "fresh", level: float = 0.9, num_bootstrap: int = 200,
               seed: int | None = None, max_budget: float = 1e12) -> BudgetForecast:
        """Attempts per item N needed for an expected pass@N of ``rate`` (interval by bootstrap)."""
        level = check_level(level)
        target = check_target(target)
        rates = np.atleast_1d(np.asarray(rate, float))
        if not np.all((rates > 0) & (rates < 1)):
            raise ArgumentError(f"`rate` = {short_value(rates[~((rates > 0) & (rates < 1))][0])} must lie strictly between 0 and 1")
        B = check_num_bootstrap(num_bootstrap)
        seed = self.seed if seed is None else int(seed)
        est = _solve_budget(self.model, self.fit.theta[None, :], self.data, rates, target, max_budget)[0]
        lower = np.full(rates.shape, np.nan)
        upper = np.full(rates.shape, np.nan)
        if B > 0:
            thetas, chosen, mult = self._bootstrap_fits(B, seed)
            Nb = np.full((B, rates.size), np.nan)
            models = self._models_for_bootstrap()
            for j, m in enumerate(models):
                sel = chosen == j
                if sel.any():
                    # Budgets for the original items (conditional forecast), parameters per replicate.
                    Nb[sel] = _solve_budget(m, thetas[m][sel], self.data, rates, target, max_budget)
            tail = (1.0 - level) / 2.0
            finite = np.where(np.isfinite(Nb), Nb, 1e300)  # unreachable: above every finite budget
            lower = np.quantile(finite, tail, axis=0, method="inverted_cdf")
            upper = np.quantile(finite, 1.0 - tail, axis=0, method="inverted_cdf")
            lower = np.where(lower >= 1e300, np.inf, lower)
            upper = np.where(upper >= 1e300, np.inf, upper)
        table = pd.DataFrame({"rate": rates, "estimate": est, "lower": lower, "upper": upper, "target_rate": rates})
        return BudgetForecast(table, level, target, self.model, B, seed, float(np.max(self.data.attempts)),
                              self.fit.converged, self.fit.message)

    # ---------------------------------------------------------------- bootstrap machinery
    def _models_for_bootstrap(self) -> tuple:
        return self.candidates if self.selection == "auto" else (self.model,)

    def _bootstrap_fits(self, B: int, seed: int):
        """Refit the whole procedure on B item resamples: thetas per model (B, P), choice (B,), mult.

        Every replicate refits every candidate on all attempts and on each thinning, re-runs the
        internal backtest and applies the same choice rule (gain > z x the gain SE); fits are
        warm-started from the point estimates."""
        from ..fit._progress import progress_bar

        I = self.data.size
        mult = item_resamples(I, B, seed)
        models = self._models_for_bootstrap()
        rows = row_table(self.data.n, self.data.k, self.data.extra)
        W = row_weights(rows.index, rows.size, mult)
        # one batched refit per candidate (all B replicates at once), then the internal backtest
        with progress_bar(total=len(models) + (len(models) > 1), desc=f"whole-procedure bootstrap x {B}") as bar:
            thetas = {}
            for m in models:
                thetas[m] = _fit_warm(m, rows, W, self.fits[m].theta)[0]
                bar.update(1)
            if len(models) > 1:
                chosen = choose_candidate(self._bootstrap_errors(mult, seed), self.gain_se, self.z)
                bar.update(1)
            else:
                chosen = np.zeros(B, dtype=int)
        return thetas, chosen, mult

    def _bootstrap_errors(self, mult: np.ndarray, seed: int) -> np.ndarray:
        """Internal errors (B, M) of the item resamples ``mult = item_resamples(I, B, seed)``;
        those the select bootstrap already computed (same seed) are taken from it."""
        models = self._models_for_bootstrap()
        cache = self.select_cache
        done = 0 if cache is None or seed != self.seed else min(len(mult), len(cache.errors))
        parts = [cache.errors[:done]] if done else []
        if done < len(mult):
            parts.append(_bootstrap_internal(models, self.data, self.fraction, self.repeats, self.seed, mult[done:],
                                             point=None if cache is None else cache.point).error)
        return np.concatenate(parts)

    def _bootstrap_draws(self, N_arr, target, B, seed, per_model: dict | None = None):
        """Whole-procedure bootstrap at budgets ``N_arr``: per replicate and budget the number of
        observed items solved in a realised run (B, G) and the expected rate (B, G); the
        candidate chosen in each replicate (B,).  For each model named in ``per_model`` (filled
        in place) also the solved counts (B, G) had that model been used in every replicate
        (same refits and uniforms).

        Realised outcomes use one uniform per replicate and item, shared by every N (common
        random numbers): bands are monotone in N and the interval at a given N does not depend
        on which other budgets were asked for."""
        thetas, chosen, _ = self._bootstrap_fits(B, seed)
        models = self._models_for_bootstrap()
        u = np.random.default_rng([seed, 1]).random((B, self.data.size))
        solved = np.zeros((B, N_arr.size), dtype=np.int64)
        expected = np.zeros((B, N_arr.size))
        per_model = {} if per_model is None else per_model
        for m in list(per_model):
            per_model[m] = np.zeros((B, N_arr.size), dtype=np.int64)
        for t, NN in enumerate(N_arr):
            probs = np.zeros((B, self.data.size))
            for j, m in enumerate(models):
                sel = chosen == j
                if m in per_model:
                    p_m = solve_probabilities(m, thetas[m], self.data, NN, target)
                    per_model[m][:, t] = np.sum(u < p_m, axis=1)
                    probs[sel] = p_m[sel]
                elif sel.any():
                    probs[sel] = solve_probabilities(m, thetas[m][sel], self.data, NN, target)
            solved[:, t] = np.sum(u < probs, axis=1)
            expected[:, t] = probs.mean(axis=1)
        return solved, expected, chosen

    def with_forecast(self, N=None, *, target: str = "fresh", num_bootstrap: int = 200, seed: int | None = None,
                      backtest: bool | int = True, backtest_N=None, select_bootstrap: int = 100,
                      tails: str = "span") -> "BonFit":
        """This fit with its forecast attached (:class:`SavedForecast`, saved by :meth:`to_json`),
        so that a report or a later forecast needs no refit.

        The forecast holds, on the budget grid ``N`` (default :func:`forecast_grid`: 8 budgets
        per decade from 1 to 1000x the largest observed budget), the point estimate, the chosen model's population curve and
        the ``num_bootstrap`` whole-procedure replicates of :meth:`predict_forecast` (same seed, same
        numbers, the same ``tails``): items solved in each replicate's realised run, its
        expected rate, and the plausible families' draws that widen the interval.  Any interval
        level and any budget within the grid are then read from these draws.

        ``backtest``: also run an external backtest (True: on ``m = n_min // 10`` attempts per
        item when every item has plain counts and ``m >= 1``; an int: that ``m``; False: none):
        the whole procedure is rerun on a random ``m`` of each item's attempts and asked for the
        rate of the run continued to six budgets up to ``n_min``, which the held-out attempts
        show (unbiased given the kept ones; ``backtest_N``: other budgets in [m, n_min];
        ``select_bootstrap``: as in :func:`fit_bon`, for the procedure rerun on the kept attempts).
        """
        target = check_target(target)
        B = check_num_bootstrap(num_bootstrap)
        seed = self.seed if seed is None else int(seed)
        N_arr = forecast_grid(self.data, target) if N is None else np.unique(check_budget_list(N))
        check_tails(tails)
        fc = _saved_forecast(self, N_arr, target, B, seed, tails)
        if backtest is False or backtest is None:
            return replace(self, forecast=replace(fc, backtest_note="not run (not requested)"))
        bt, note = _external_backtest(self, None if backtest is True else int(backtest), B, seed, backtest_N,
                                      select_bootstrap)
        return replace(self, forecast=replace(fc, backtest=bt, backtest_note=note))

    # ---------------------------------------------------------------- persistence
    def to_dict(self) -> dict:
        d = self.data
        return {
            "format": _FORMAT,
            "model": self.model,
            "reason": self.reason,
            "candidates": list(self.candidates),
            "selection": self.selection,
            "fraction": self.fraction,
            "repeats": self.repeats,
            "seed": self.seed,
            "z": self.z,
            "gain_se": [float(v) for v in self.gain_se],
            "fits": {m: f.to_dict() for m, f in self.fits.items()},
            "scores": json.loads(self.scores.to_json(orient="records")),
            "data": {"n": d.n.tolist(), "k": d.k.tolist(), "extra": d.extra.tolist(),
                     "first_success": [None if not np.isfinite(v) else float(v) for v in d.first_success],
                     "attempts": d.attempts.tolist(),
                     **({"until_success": d.until_success} if d.until_success is not None else {})},
            "metadata": self.metadata,
            **({"forecast": self.forecast.to_dict()} if self.forecast is not None else {}),
        }

    @classmethod
    def from_dict(cls, obj: dict) -> "BonFit":
        """Rebuild from :meth:`to_dict` output; the record is checked against its format first
        and every problem is listed in one :class:`~scalefit.errors.DataValidationError`."""
        from .._files import RecordCheck

        if not isinstance(obj, dict) or obj.get("format") != _FORMAT:
            raise ArgumentError(f"not a scalefit best-of-N fit (expected format {_FORMAT!r})")
        check = RecordCheck(obj, "best-of-N fit record")
        check_bon_record(check)
        check.done()
        dd = obj["data"]
        fs = np.array([np.nan if v is None else v for v in dd["first_success"]], float)
        data = item_data(dd["n"], dd["k"], dd["extra"], fs, dd.get("attempts"), dd.get("until_success"))
        fits = {m: MixingFit.from_dict(f) for m, f in obj["fits"].items()}
        scores = pd.DataFrame(obj["scores"])
        return cls(data, fits, scores, obj["model"], obj["reason"], tuple(obj["candidates"]),
                   obj["selection"], int(obj["fraction"]), int(obj["repeats"]), int(obj["seed"]),
                   float(obj["z"]), np.asarray(obj["gain_se"], float), dict(obj.get("metadata") or {}),
                   SavedForecast.from_dict(obj["forecast"]) if obj.get("forecast") is not None else None)

    def to_json(self, path=None, *, overwrite: bool = False, forecast: bool = True) -> str:
        """JSON text; with ``path`` written atomically (never overwriting an existing file unless
        ``overwrite``).

        With ``forecast`` (default) a fit without a saved forecast gets one first
        (:meth:`with_forecast` with its defaults: 200 whole-procedure replicates and the external
        backtest, which takes as long as a few fits), so that ``scalefit report`` renders the file
        without fitting.  ``forecast=False`` writes the fit alone."""
        bon = self.with_forecast() if forecast and self.forecast is None else self
        text = json_text(bon.to_dict())
        if path is not None:
            atomic_write_text(path, text, overwrite=overwrite, argument="path")
        return text


def bon_file_fits(obj: dict) -> list:
    """The (group, BonFit) pairs of a ``scalefit bon fit -o`` record (``scalefit.bon-file/1``),
    after checking the whole record: one :class:`~scalefit.errors.DataValidationError` lists
    every problem of every group."""
    from .._files import RecordCheck

    if not isinstance(obj, dict) or obj.get("format") != BON_FILE_FORMAT:
        fmt = obj.get("format") if isinstance(obj, dict) else None
        raise ArgumentError(f"`format` is {fmt!r}: not a file written by `scalefit bon fit -o` "
                            f"(expected {BON_FILE_FORMAT!r})")
    check = RecordCheck(obj, "best-of-N file")
    groups = check.get("groups", "list[object]")
    if groups is not None and not groups:
        check.problem("`groups` is empty")
    for i, entry in enumerate(groups or ()):
        sub = RecordCheck(entry, "best-of-N file", f"groups[{i}].", check.problems)
        sub.get("group", "object")
        fit = sub.sub("fit")
        if fit is not None:
            check_bon_record(fit)
    check.done()
    return [(dict(entry["group"]), BonFit.from_dict(entry["fit"])) for entry in groups]


def check_bon_record(c) -> None:
    """Add the format problems of a saved :class:`BonFit` record (``scalefit.bon/1``) to the
    :class:`scalefit._files.RecordCheck` ``c`` (which may be nested in a larger file)."""
    fmt = c.get("format", "str")
    if fmt is not None and fmt != _FORMAT:
        c.problem(f"`{c.prefix}format` is {fmt!r}, expected {_FORMAT!r}")
    model = c.get("model", "str")
    c.get("reason", "str")
    c.get("candidates", "list[str]")
    c.get("selection", "str")
    for key in ("fraction", "repeats"):
        v = c.get(key, "int")
        if v is not None and v < 1:
            c.problem(f"`{c.prefix}{key}` = {v} must be >= 1")
    c.get("seed", "int")
    c.get("z", "number")
    c.get("gain_se", "list[number]")
    c.get("scores", "list[object]")
    c.get("metadata", "object?", required=False)
    fits = c.sub("fits")
    if fits is not None:
        if model is not None and model not in fits.record:
            c.problem(f"`{c.prefix}model` = {model!r} has no entry in `{c.prefix}fits`")
        for name in fits.record:
            f = fits.sub(name)
            if f is None:
                continue
            m = f.get("model", "str")
            if m is not None and m not in available_families():
                f.problem(f"`{f.prefix}model` = {m!r} is not one of {', '.join(available_families())}")
            f.get("params", "object[number]")
            f.get("theta", "list[number]")
            for key in ("loglik", "penalty"):
                f.get(key, "number")
            f.get("n_items", "count")
            f.get("converged", "bool")
            f.get("message", "str")
            for key in ("n_params", "starts_at_best"):
                f.get(key, "count", required=False)
            f.get("prior", "bool", required=False)
    fc = c.sub("forecast") if c.has("forecast") and c.record.get("forecast") is not None else None
    if fc is not None:
        _check_saved_forecast(fc)
    data = c.sub("data")
    if data is not None:
        cols = {key: data.get(key, "list[count]") for key in ("n", "k", "extra")}
        cols["first_success"] = data.get("first_success", "list[number?]")
        cols["attempts"] = data.get("attempts", "list[count]", required=False)
        data.get("until_success", "bool", required=False)
        sizes = {key: len(v) for key, v in cols.items() if v is not None}
        if len(set(sizes.values())) > 1:
            data.problem(f"`{data.prefix.rstrip('.')}` lists differ in length ({', '.join(f'{k}: {v}' for k, v in sizes.items())})")
        elif sizes and not next(iter(sizes.values())):
            data.problem(f"`{data.prefix}n` is empty: no items")


def _check_saved_forecast(f) -> None:
    t = f.get("target", "str")
    if t is not None and t not in TARGETS:
        f.problem(f"`{f.prefix}target` = {t!r} is not one of 'fresh', 'continued'")
    N = f.get("N", "list[number]")
    G = len(N) if N is not None else None
    for key in ("estimate", "population"):
        v = f.get(key, "list[number]")
        if v is not None and G is not None and len(v) != G:
            f.problem(f"`{f.prefix}{key}` has {len(v)} values for {G} budgets")
    for key in ("n_items", "num_bootstrap", "seed"):
        f.get(key, "count")
    f.get("observed_budget", "number", required=False)
    pl = f.sub("plan") if f.record.get("plan") is not None else None
    if pl is not None:  # the planner's recommendation, as the report's plan page reads it
        pl.get("N", "number")
        pl.get("target", "str")
        for key in ("budget", "allocated", "items", "items_sampled"):
            pl.get(key, "count")
        for key in ("estimate", "sd_now", "sd_after"):
            pl.get(key, "number")
        for key in ("by_successes", "top"):
            pl.get(key, "list[object]")
        pl.get("sd_curve", "object")
    f.get("models", "list[str]")
    chosen = f.get("chosen", "list[count]")
    B = f.record.get("num_bootstrap") if isinstance(f.record.get("num_bootstrap"), int) else None
    for key in ("solved", "expected"):
        rows = f.get(key, "list")
        if rows is None or G is None or B is None:
            continue
        if len(rows) != B or any(not isinstance(r, list) or len(r) != G for r in rows):
            f.problem(f"`{f.prefix}{key}` must hold {B} rows of {G} numbers (replicates x budgets)")
    if chosen is not None and B is not None and len(chosen) != B:
        f.problem(f"`{f.prefix}chosen` has {len(chosen)} entries for {B} replicates")
    span = f.record.get("span")
    if span is not None:
        if not isinstance(span, dict):
            f.problem(f"`{f.prefix}span` must be an object of model -> replicates x budgets")
        elif G is not None and B is not None:
            for m, rows in span.items():
                if not isinstance(rows, list) or len(rows) != B or any(
                        not isinstance(r, list) or len(r) != G or not all(isinstance(x, int) and x >= 0 for x in r)
                        for r in rows):
                    f.problem(f"`{f.prefix}span.{m}` must hold {B} rows of {G} counts (replicates x budgets)")
    bt = f.sub("backtest") if f.record.get("backtest") is not None else None
    if bt is not None:
        bt.get("fit_attempts", "count")
        bt.get("model", "str")
        bt.get("params", "object[number]")
        bt.get("empirical", "list[number]")
        sub = bt.sub("forecast")
        if sub is not None:
            _check_saved_forecast(sub)


def _unordered_note(data: ItemData, N_arr: np.ndarray) -> str:
    """The one-line message for a continued forecast below some items' budgets without attempt order."""
    N0 = float(np.min(N_arr))
    hit = ~np.isfinite(data.first_success) & (data.k > 0) & (data.n > N0)
    if not hit.any():
        return ""
    return (f"{int(hit.sum())} item(s) with successes got more than N = {short_value(N0)} attempts and the data hold no "
            "attempt order, so their first N attempts are unknown: each counts with its unbiased pass@N "
            "(Chen et al.) instead of a 0/1 outcome; for exact ones load the per-attempt log (one row per attempt, "
            "with an attempt column or in attempt order) rather than counts, or give item_data(first_success=...)")


def single_value_note(target: str, N: float, estimate: float, lower: float, upper: float, solved: np.ndarray,
                      expected: np.ndarray, n_items: int, level: float) -> str:
    """Why the interval at budget ``N`` is a single value, in words ("" when it is not one).

    A continued rate of exactly 1 means every item already succeeded within its first N attempts
    in the log (nothing is left to forecast).  Otherwise the realised rate of a run takes the
    values j / n_items, and when one value holds more than the interval's tail share of the
    replicates (typically 1: every item solved) both ends fall on it; the expected rate (the
    mean over runs, ``expected``: per replicate) then has a proper interval, quoted instead.
    """
    if not (np.isfinite(lower) and np.isfinite(upper)) or lower != upper:
        return ""
    where = f"N = {short_value(N)}"
    value = int(round(lower * n_items))
    lo, hi = _percentile_interval(np.asarray(expected, float), level)
    if target == "continued" and estimate == 1.0:
        return (f"at {where} every one of the {n_items} items already succeeded within its first N attempts in the "
                "log, so the continued rate is exactly 1 (no uncertainty is left)")
    if target == "continued" and float(hi) - float(lo) <= 1e-12 and abs(estimate - lower) <= 1e-12:
        # no replicate's model adds anything: every item's outcome within N is in the log (each
        # replicate's expected rate is then a mean of the same 0/1 outcomes: equal up to the
        # rounding of a sum, far below 1e-12)
        return (f"at {where} every item's outcome within its first N attempts is known from the log ({value} of "
                f"{n_items} succeeded), so the continued rate is exactly {short_value(estimate)} (no uncertainty is left)")
    share = float(np.mean(np.round(np.asarray(solved)) == value)) if np.size(solved) else float("nan")
    what = "every item solved" if value == n_items else f"{value} of {n_items} items solved"
    return (f"at {where} a run's realised rate is {short_value(lower)} ({what}) in {share:.0%} of the replicates, so its "
            f"{level:.0%} interval is that single value; the expected rate is {estimate:.4g} "
            f"[{float(lo):.4g}, {float(hi):.4g}]")


def saved_single_value_notes(fc: "SavedForecast", N, level: float = 0.9) -> list[str]:
    """:func:`single_value_note` for each budget in ``N`` of a saved forecast (its replicates
    interpolated in log N like :meth:`SavedForecast.table`)."""
    NN = fc.check_budgets(N)
    t = fc.table(level, NN)
    if not fc.num_bootstrap:
        return [""] * NN.size
    solved, expected = fc._interp(fc.solved.astype(float), NN), fc._interp(fc.expected, NN)
    return [single_value_note(fc.target, NN[j], float(t["estimate"].iat[j]), float(t["lower"].iat[j]),
                              float(t["upper"].iat[j]), solved[:, j], expected[:, j], fc.n_items, level)
            for j in range(NN.size)]


def _budget_text(data: ItemData) -> str:
    lo, hi = int(data.attempts.min()), int(data.attempts.max())
    return f"{lo}" if lo == hi else f"{lo}..{hi}"


def _nrep(fit: BonFit) -> str:
    return "first attempts of every item" if is_until_success(fit.data) else f"{fit.repeats} random thinnings"


def check_budget_list(N) -> np.ndarray:
    arr = np.atleast_1d(np.asarray(N, dtype=float))
    bad = ~np.isfinite(arr) | (arr < 1)
    if arr.ndim != 1 or arr.size == 0:
        raise ArgumentError("`N` must be one budget or a 1-D list of budgets")
    if bad.any():
        raise ArgumentError(f"`N` = {short_value(arr[bad][0])} must be a finite budget >= 1")
    return arr


def check_num_bootstrap(num_bootstrap) -> int:
    B = int(num_bootstrap)
    if B < 0 or B != num_bootstrap:
        raise ArgumentError(f"`num_bootstrap` = {num_bootstrap} must be a non-negative integer")
    if 0 < B < 20:
        raise ArgumentError(f"`num_bootstrap` = {B} is too few for percentile intervals; use 0 or >= 20")
    return B


def _solve_budget(model, thetas, data: ItemData, rates, target, max_budget) -> np.ndarray:
    """Smallest real N whose expected rate reaches each target rate, per theta: (T, len(rates)).

    The rate is evaluated on a log grid of N (8 points per decade, one vectorised call per grid
    point, stopping once every theta has reached every target) and the crossing is interpolated
    linearly in (log N, log(1 - rate)), where the failure curve is close to a power law; for a
    single theta the bracket is then refined by bisection (:func:`scalefit._roots.bisect`) to ~1e-9
    relative.  inf where the rate
    is not reached by ``max_budget``.
    """
    T = thetas.shape[0]
    start = 1.0  # rates are defined at every N >= 1, also below some items' budgets (ragged designs)
    if not max_budget > start:
        raise ArgumentError(f"`max_budget` = {short_value(max_budget)} must exceed the observed budget {start:g}")
    decades = math.log10(max_budget / start)
    full_grid = start * np.logspace(0.0, decades, max(2, int(math.ceil(8 * decades)) + 1))
    cols = []
    for NN in full_grid:  # evaluate upwards until every theta has reached every target rate
        cols.append(solve_probabilities(model, thetas, data, NN, target).mean(axis=1))
        if np.all(cols[-1] >= rates.max()):
            break
    grid = full_grid[: len(cols)]
    curve = np.stack(cols, axis=1)
    out = np.stack([_budget_crossings(grid, curve, tau) for tau in rates], axis=1)
    if T == 1:
        lg, reached = np.log(grid), np.maximum.accumulate(curve[0])
        for r, tau in enumerate(rates):
            j = int(np.argmax(reached >= tau))
            if j == 0:  # reached at the first budget, or never
                continue
            below = lambda x: solve_probabilities(model, thetas, data, math.exp(x), target).mean() < tau  # noqa: E731
            out[0, r] = math.exp(bisect(below, lg[j - 1], lg[j], iters=40)[1])
    return out


# --------------------------------------------------------------------------------------------
# public entry points


def fit_bon(data, k=None, *, model: str = "auto", candidates=DEFAULT_CANDIDATES, fraction: int = 4,
            repeats: int = 4, seed: int = 0, z: float = 1.645, select_bootstrap: int = 100) -> BonFit:
    """Fit scalefit's default best-of-N model: candidates, internal backtest, choice.

    Parameters
    ----------
    data : ItemData, DataFrame or array_like of int
        Items (see :func:`~scalefit.sampling.item_data`), a counts frame from
        :func:`scalefit.io.load_attempts` (one group), or attempts per item with ``k``.
    k : array_like of int, optional
        Successes per item.
    model : str
        ``"auto"`` (default): choose among ``candidates`` by the internal backtest; or one of
        :func:`~scalefit.sampling.available_families` to use that family (no internal backtest).
    candidates : sequence of str
        Families to compare; the first is the reference (default ``DEFAULT_CANDIDATES``:
        kumaraswamy, beta, logit_normal).
    fraction : int
        Thinning factor of the internal backtest (fit on n_i // fraction attempts, predict the
        rate at n_i).  Default 4.
    repeats : int
        Random thinnings per fit (fixed-budget data; sample-until-success logs use their first
        attempts once).
    seed : int
        Seed for the thinnings and the item resamples.
    z : float
        Choice rule: the reference is kept unless another candidate's internal error is smaller
        by more than ``z`` standard errors of that gain (default 1.645, a one-sided 5% test;
        ``z = 0``: plain argmin).  The SE is the SD of the gain over ``select_bootstrap`` item
        resamples with the internal backtest refitted (``select_bootstrap = 0``: a jackknife over
        items without refits, cheaper but too small in practice).
    select_bootstrap : int
        Item resamples for the gain SE (default 100).

    Notes
    -----
    Items may have different budgets.  When the budgets depended on outcomes (a planned design,
    :func:`~scalefit.sampling.plan`), the fit and forecasts stay valid but the internal backtest
    does not (thinning such an item no longer mimics a smaller design): choose the family on the
    fixed-design part and pass it as ``model`` (:func:`~scalefit.sampling.sample_in_rounds`
    does this).

    Returns
    -------
    BonFit

    Examples
    --------
    >>> import numpy as np, scalefit; scalefit.enable_x64()
    >>> from scalefit.sampling import fit_bon
    >>> rng = np.random.default_rng(0)
    >>> k = rng.binomial(100, rng.beta(0.3, 8.0, size=200))
    >>> bon = fit_bon(100, k, seed=1, select_bootstrap=0)
    >>> bon.model in bon.candidates
    True
    """
    require_x64()
    data = as_item_data(data, k)
    cands = tuple(candidates)
    if not cands:
        raise ArgumentError("`candidates` is empty")
    known = available_families()
    for c in cands:
        if c not in known:
            raise ArgumentError(f"`candidates` contains {c!r}, not one of {', '.join(map(repr, known))}")
    if len(set(cands)) != len(cands):
        raise ArgumentError(f"`candidates` = {list(cands)} repeats a model")
    if model != "auto" and model not in known:
        raise ArgumentError(f"`model` = {model!r} is not 'auto' or one of {', '.join(map(repr, known))}")
    fraction = int(fraction)
    if fraction < 2:
        raise ArgumentError(f"`fraction` = {fraction} must be an integer >= 2")
    repeats = int(repeats)
    if repeats < 1:
        raise ArgumentError(f"`repeats` = {repeats} must be >= 1")
    if not (np.isfinite(z) and z >= 0):
        raise ArgumentError(f"`z` = {short_value(z)} must be a finite number >= 0")
    select_bootstrap = int(select_bootstrap)
    if select_bootstrap < 0 or 0 < select_bootstrap < 20:
        raise ArgumentError(f"`select_bootstrap` = {select_bootstrap} must be 0 or >= 20")
    if not np.any(data.solved):
        raise ArgumentError(
            "`k`: no item has a success, so nothing distinguishes a hard item from an impossible "
            "one; a forecast beyond the observed budget would be a pure assumption"
        )
    if data.size < 2:
        raise ArgumentError(
            f"`k`: only {data.size} item; a best-of-N model describes how success rates vary across items "
            "and its intervals resample items, so it needs at least 2 (for one item's rate use `scalefit passk`)"
        )
    if np.all((data.k == data.n) & (data.extra == 0)):
        raise ArgumentError(
            f"`k`: every attempt of all {data.size} items succeeded (k = n), so nothing shows how often an "
            "attempt fails; a forecast of pass@N would be a pure assumption (it is 1 at every observed budget)"
        )
    models = cands if model == "auto" else (model,)
    rows = row_table(data.n, data.k, data.extra)
    W = row_weights(rows.index, rows.size, np.ones((1, data.size)))
    fits = {}
    for m in models:
        th, f, conv, gn, nb = fit_rows(m, rows, W)
        fits[m] = make_fit(m, th[0], f[0], conv[0], gn[0], nb[0], data.size, True)
    score = pd.DataFrame({"model": list(models)})
    gain_se = np.zeros(len(models))
    cache = None
    if model == "auto" and len(models) > 1:
        splits = internal_splits(data, fraction, repeats, seed)
        internal = _internal_scores(models, data, splits, np.ones((1, data.size)))
        if select_bootstrap:
            boot = _bootstrap_internal(models, data, fraction, repeats, seed, item_resamples(data.size, select_bootstrap, seed),
                                       point=internal)
            gain_se = np.std(boot.error[:, :1] - boot.error, axis=0, ddof=1)
            cache = _SelectCache(internal, boot.error)
            se_kind = f"bootstrap SE over {select_bootstrap} item resamples"
        else:
            gain_se = internal.se_diff[0]
            se_kind = "jackknife SE over items"
            cache = _SelectCache(internal, np.zeros((0, len(models))))
        j = int(choose_candidate(internal.error, gain_se, z)[0])
        chosen = models[j]
        err = internal.error[0]
        score["internal_error"] = err
        score["internal_bias"] = internal.bias[0]
        score["gain_vs_reference"] = err[0] - err
        score["gain_se"] = gain_se
        m_budget = f"n_i // {fraction}" if splits.kind == "subsample" else f"the first {int(splits.budget[0]) // fraction}"
        what = (f"internal backtest (fit on {m_budget} attempts per item, predict the observed full-budget "
                f"rate {float(np.mean(splits.truth)):.4f})")
        best = int(np.argmin(err))
        if j == 0 and best == 0:
            reason = f"reference model {models[0]}, which also has the smallest {what} error, {err[0]:.4f}"
        elif j == 0:
            reason = (f"reference model {models[0]} kept: {models[best]} had a smaller {what} error ({err[best]:.4f} "
                      f"vs {err[0]:.4f}), but the gain {err[0] - err[best]:.4f} is below {z:g} x its {se_kind} "
                      f"({gain_se[best]:.4f}), so the data cannot tell the tails apart")
        else:
            reason = (f"{what} error {err[j]:.4f} vs {err[0]:.4f} for the reference {models[0]}: a gain of "
                      f"{err[0] - err[j]:.4f}, more than {z:g} x its {se_kind} ({gain_se[j]:.4f})")
        selection = "auto"
    else:
        chosen = models[0] if model == "auto" else model
        for c in ("internal_error", "internal_bias", "gain_vs_reference", "gain_se"):
            score[c] = np.nan
        reason = "requested explicitly (no internal backtest)" if model != "auto" else "only one candidate"
        selection = "fixed"
    score["loglik"] = [fits[m].loglik for m in models]
    score["aic"] = [fits[m].aic for m in models]
    score["converged"] = [fits[m].converged for m in models]
    score["chosen"] = [m == chosen for m in models]
    return BonFit(data, fits, score, chosen, reason, models, selection, fraction, repeats, int(seed), float(z),
                  np.asarray(gain_se, float), select_cache=cache)


def forecast(data, k=None, N=None, *, target: str = "fresh", level: float = 0.9, num_bootstrap: int = 200,
             model: str = "auto", candidates=DEFAULT_CANDIDATES, fraction: int = 4, repeats: int = 4,
             seed: int = 0, z: float = 1.645, select_bootstrap: int = 100) -> Forecast:
    """One call: :func:`fit_bon` then :meth:`BonFit.predict_forecast` (see both; returns the Forecast).

    Examples
    --------
    >>> import numpy as np, scalefit; scalefit.enable_x64()
    >>> from scalefit.sampling import forecast
    >>> rng = np.random.default_rng(0)
    >>> k = rng.binomial(100, rng.beta(0.3, 8.0, size=200))
    >>> fc = forecast(100, k, N=[1000], num_bootstrap=0, select_bootstrap=0)
    >>> bool(0 < fc.estimate[0] < 1)
    True
    """
    if N is None:
        raise ArgumentError("`N` is required: the budget(s) to forecast")
    bon = fit_bon(data, k, model=model, candidates=candidates, fraction=fraction, repeats=repeats, seed=seed, z=z,
                  select_bootstrap=select_bootstrap)
    return bon.predict_forecast(N, target=target, level=level, num_bootstrap=num_bootstrap, seed=seed)
