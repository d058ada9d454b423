"""Hold-out splits and scores for every backtest of repeated sampling (docs/best_of_n.md#backtest-harness).

A backtest keeps part of what was observed, fits on it, asks for the rate at a larger budget
(or a larger model size) and compares with what the rest of the observations show.  The data
kinds differ only in how the part to fit is cut and in what counts as the observed truth; this
module is the one place that does both, so the CLI backtest, the internal backtest of
:func:`~scalefit.sampling.fit_bon`, the external backtest saved with a forecast, the report and
the PassUntil hold-out all draw the same way.

Cutting the part to fit:

``thin_counts``        exchangeable attempts (counts n, k): m of each item's n attempts drawn
                       without replacement, so the kept successes are hypergeometric,
                       0 <= k_m <= min(k, m)
``AttemptPool``        the same, round after round (a design replayed on a larger log)
``thinned_frame``      a counts frame thinned for repeat r of a seeded backtest
``first_attempts``     a first-success record cut at m attempts: censored at m when the first
                       success came later (sample-until-success logs)
``log_split``          an attempt log: each item's first m attempts (attempt order kept) and the
                       truth the whole log shows
``internal_splits``    the internal backtest of a best-of-N fit
``hold_out_counts``    one thinning of counts and the continued truth of its held-out attempts
``hold_out_size``, ``split_future``  leave-future-out: fit on the smaller sizes, score the larger

The observed truth: ``fresh_truth`` (the unbiased pass@N of all attempts: a new run),
``continued_truth`` (the run continued from the kept attempts, read from the held-out ones),
``solved_within`` (first success within N).  Scores: ``score_rows`` (absolute error and
interval coverage per prediction) and ``summarise`` (MAE, bias, largest error, coverage).

Seeds: repeat ``r`` of a backtest seeded ``s`` draws from ``numpy.random.default_rng([s, r])``,
the internal backtest from ``default_rng([s, 2])``, the saved external backtest from
``default_rng([s, 7])``; the same seed gives the same draws.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import ArgumentError
from ._common import short_value
from .items import ItemData, item_data

__all__ = [
    "AttemptPool", "CountsHoldout", "InternalSplits", "SizeSplit", "continued_truth", "first_attempts",
    "fresh_truth", "hold_out_counts", "hold_out_size", "internal_splits", "is_until_success", "log_split",
    "score_rows", "solved_within", "split_future", "summarise", "thin_counts", "thinned_frame",
]

# numpy's exact hypergeometric sampler takes fewer than this many attempts per item
HYPERGEOMETRIC_LIMIT = 10**9


# --------------------------------------------------------------------------------------------
# cutting the part to fit


def thin_counts(n, k, m, rng: np.random.Generator) -> np.ndarray:
    """Successes among ``m`` of each item's ``n`` attempts drawn without replacement (``k`` of
    them successes): hypergeometric draws, 0 <= result <= min(k, m).  ``m`` broadcasts.

    Examples
    --------
    >>> import numpy as np
    >>> from scalefit.sampling.holdout import thin_counts
    >>> thin_counts(np.array([100, 100]), np.array([0, 100]), 10, np.random.default_rng(0)).tolist()
    [0, 10]
    """
    return rng.hypergeometric(k, n - k, m)


class AttemptPool:
    """The attempts each item has left in a larger log, drawn without replacement round after
    round (replaying a sampling design on a log that holds more attempts than it spends)."""

    def __init__(self, n, k):
        self.n, self.k = n, k

    def draw(self, m, rng: np.random.Generator) -> np.ndarray:
        """Successes among ``m`` further attempts per item; they leave the pool."""
        succ = thin_counts(self.n, self.k, m, rng)
        self.n, self.k = self.n - m, self.k - succ
        return succ


def thinned_frame(counts: pd.DataFrame, m: int, seed: int, repeat: int) -> pd.DataFrame:
    """Repeat ``repeat`` of a backtest seeded ``seed``: ``counts`` with ``m`` attempts per item
    drawn without replacement (:func:`scalefit.io.subsample_counts`)."""
    from ..io.attempts import subsample_counts

    return subsample_counts(counts, m, seed=np.random.default_rng([seed, repeat]))


def solved_within(first_success, N) -> np.ndarray:
    """Items whose first success (1-based attempt, NaN if none) came within N attempts."""
    return np.isfinite(first_success) & (first_success <= N)


def first_attempts(first_success: np.ndarray, m: int) -> ItemData:
    """A first-success record cut at ``m`` attempts: an item first solved at attempt f <= m was
    observed for f attempts with one success, every other one for m attempts without (censored:
    its first success, if any, came later)."""
    hit = solved_within(first_success, m)
    n_s = np.where(hit, np.nan_to_num(first_success, nan=1.0), m).astype(np.int64)
    return item_data(n_s, hit.astype(np.int64), first_success=np.where(hit, first_success, np.nan))


def log_split(log: pd.DataFrame, m: int, N, groups: list, label: str):
    """An attempt log (one group) cut to each item's first ``m`` attempts.

    Returns the counts of the kept attempts (:func:`scalefit.io.attempts_to_counts`) and, per
    budget in ``N``, the share of items whose first success in the whole log came within N.  That
    truth needs every item to have been observed for N attempts unless it was solved earlier."""
    from ..io.attempts import attempts_to_counts, first_n_attempts

    kept = attempts_to_counts(first_n_attempts(log, m, groups=groups), groups=groups)
    short = kept["n"].to_numpy() < m
    if short.any():
        raise ArgumentError(f"`fit_budget` = {m}: {int(short.sum())} item(s) in group {label} have fewer attempts")
    whole = attempts_to_counts(log, groups=groups)  # first_success_at: the attempt order of the log
    fs, n_obs = whole["first_success_at"].to_numpy(float), whole["n"].to_numpy(float)
    truth = []
    for NN in np.atleast_1d(N):
        broken = solved_within(fs, NN)
        undetermined = ~broken & (n_obs < NN)
        if undetermined.any():
            raise ArgumentError(
                f"`N` = {short_value(NN)}: {int(undetermined.sum())} item(s) in group {label} stop before N without "
                "a success, so the log does not know ASR@N"
            )
        truth.append(float(broken.mean()))
    return kept, truth


def is_until_success(data: ItemData) -> bool:
    """Whether sampling stopped at each item's first success (the data say so, or record first
    successes without saying otherwise)."""
    if data.until_success is not None:  # a fixed-budget log with attempt order says False
        return data.until_success
    return bool(np.any(np.isfinite(data.first_success)))


@dataclass(frozen=True)
class InternalSplits:
    """Thinned observations of the internal backtest: ``data`` per repeat, the per-item
    ``budget`` they must predict, the observed ``truth`` (solved within that budget, 0/1)."""

    data: list
    budget: np.ndarray
    truth: np.ndarray
    fraction: int
    kind: str  # "subsample" | "first"


def internal_splits(data: ItemData, fraction: int, repeats: int, seed: int) -> InternalSplits:
    """The internal backtest's splits (seeded ``[seed, 2]``).

    Counts: every item thinned ``repeats`` times to max(1, n_i // fraction) attempts drawn without
    replacement; it must predict its full budget n_i, where it is solved iff k_i > 0.
    Sample-until-success logs: every item cut at its first m = n_min // fraction attempts, where
    n_min is the smallest number of attempts made on an item never solved (all items solved: the
    largest number made).  The truth at n_min is exact for every item: a solved item's first
    success is recorded, an unsolved one failed at least n_min times.  (The budget of a solved
    item, the end of the batch holding its success, says nothing about the others.)"""
    if is_until_success(data):
        open_ = ~np.isfinite(data.first_success)
        n_min = int(data.attempts[open_].min() if open_.any() else data.attempts.max())
        sub = first_attempts(data.first_success, max(1, n_min // fraction))
        truth = solved_within(data.first_success, n_min).astype(float)
        return InternalSplits([sub], np.full(data.size, float(n_min)), truth, fraction, "first")
    if data.has_interval:
        raise ArgumentError(
            "`data` holds batch-censored items without first-success attempts: the internal "
            "backtest cannot thin them; choose a model explicitly (model='beta', ...)"
        )
    m = np.maximum(1, data.n // fraction)
    if np.any(data.n >= HYPERGEOMETRIC_LIMIT):
        i = int(np.argmax(data.n))
        raise ArgumentError(
            f"item {i} has {int(data.n[i])} attempts: the internal backtest thins at most "
            f"{HYPERGEOMETRIC_LIMIT - 1} attempts per item; choose a model explicitly (`model=`, e.g. beta)"
        )
    rng = np.random.default_rng([seed, 2])
    subs = [item_data(m, thin_counts(data.n, data.k, m, rng)) for _ in range(repeats)]
    return InternalSplits(subs, data.n.astype(float), (data.k > 0).astype(float), fraction, "subsample")


# --------------------------------------------------------------------------------------------
# the observed truth


def fresh_truth(n, k, N) -> np.ndarray:
    """Benchmark pass@N of a new run (unbiased, from all of each item's attempts), one per N."""
    from .passk import mean_pass_at_k

    return np.atleast_1d(mean_pass_at_k(n, k, np.asarray(N).astype(np.int64)))


def continued_truth(n, k, k_m, m: int, N: int) -> float:
    """Rate of the run continued from the kept m attempts to N, from the held-out attempts: an
    item solved in the kept ones counts 1, else the unbiased chance that N - m of its n - m other
    attempts hold one of its k - k_m other successes."""
    from .passk import pass_at_k

    extra = int(N) - m
    hit = (k_m > 0).astype(float) if extra == 0 else np.where(
        k_m > 0, 1.0, pass_at_k(n - m, k - k_m, np.full(n.shape, extra)))
    return float(np.mean(hit))


@dataclass(frozen=True)
class CountsHoldout:
    """One thinning of counts: ``m`` kept attempts per item with ``k_fit`` successes, the budgets
    ``N`` to forecast and the continued rate ``truth`` the held-out attempts show at each."""

    m: int
    k_fit: np.ndarray
    N: np.ndarray
    truth: np.ndarray


def hold_out_counts(n, k, m: int, rng: np.random.Generator, N=None, *, name: str = "backtest") -> CountsHoldout:
    """Keep ``m`` random attempts of every item (fewer than each item has), hold out the rest.

    ``N`` (each in [m, min n_i]) defaults to six log-spaced budgets from 2m to min n_i; ``name``
    is the argument that gave ``m`` (for the error message)."""
    n_min = int(np.min(n))
    if not 1 <= m < n_min:
        raise ArgumentError(f"`{name}` = {m} attempts must be in [1, {n_min - 1}] (fewer than every item's)")
    k_m = thin_counts(n, k, m, rng)
    if N is None:
        bt_N = np.unique(np.round(np.geomspace(min(2 * m, n_min), n_min, 6)).astype(np.int64))
    else:
        bt_N = np.asarray(sorted(int(v) for v in N), dtype=np.int64)
        if bt_N.min() < m or bt_N.max() > n_min:
            raise ArgumentError(f"`backtest_N` must lie in [{m}, {n_min}]")
    return CountsHoldout(m, k_m, bt_N, np.array([continued_truth(n, k, k_m, m, NN) for NN in bt_N]))


# --------------------------------------------------------------------------------------------
# leave future out


@dataclass(frozen=True)
class SizeSplit:
    """Leave-future-out by size: ``target`` is held out, ``fit_sizes`` are fitted, ``held`` marks
    the rows at the target."""

    target: float
    fit_sizes: np.ndarray
    held: np.ndarray


def hold_out_size(size: np.ndarray, holdout=None, *, min_fit: int = 2) -> SizeSplit:
    """Hold out one size (default: the largest) and fit on the others (at least ``min_fit``)."""
    sizes = np.unique(size)
    target = float(sizes.max()) if holdout is None else float(holdout)
    if target not in set(sizes.tolist()):
        raise ArgumentError(f"`holdout` = {short_value(target)} is not one of the sizes {', '.join(f'{s:.4g}' for s in sizes)}")
    fit_sizes = sizes[sizes != target]
    if fit_sizes.size < min_fit:
        raise ArgumentError(f"need at least {min_fit} sizes besides the held-out one; got {fit_sizes.size}")
    return SizeSplit(target, fit_sizes, size == target)


def split_future(scale: np.ndarray, holdout: float, min_train: int) -> np.ndarray:
    """Boolean mask of held-out rows: the largest-scale fraction ``holdout`` (ties held out together)."""
    if not 0 < holdout < 1:
        raise ArgumentError(f"`holdout` = {holdout!r} must be a fraction in (0, 1)")
    n = len(scale)
    m = max(1, int(round(holdout * n)))
    thr = np.sort(scale)[n - m]
    test = scale >= thr
    if n - int(test.sum()) < min_train:
        raise ArgumentError(
            f"holding out {int(test.sum())} of {n} rows leaves fewer than {min_train} to fit; lower `holdout`"
        )
    return test


# --------------------------------------------------------------------------------------------
# scores


def score_rows(records) -> pd.DataFrame:
    """Prediction records (``predicted``, ``lower``, ``upper``, ``empirical``, ...) with
    ``abs_error`` and ``covered`` (1/0; NaN without an interval) added."""
    rows = pd.DataFrame(records)
    rows["abs_error"] = (rows["predicted"] - rows["empirical"]).abs()
    has_iv = np.isfinite(rows["lower"]) & np.isfinite(rows["upper"])
    covered = (rows["lower"] <= rows["empirical"]) & (rows["empirical"] <= rows["upper"])
    rows["covered"] = np.where(has_iv, covered.astype(float), np.nan)
    return rows


def summarise(rows: pd.DataFrame, by=("estimator", "N")) -> pd.DataFrame:
    """Per ``by`` group: mean absolute error, bias and largest error in percentage points over the
    defined predictions, interval coverage, and the numbers of defined and undefined predictions."""
    out = []
    for key, g in rows.groupby(list(by), sort=False):
        err = g["predicted"] - g["empirical"]
        cov = g["covered"].dropna()
        ok = np.isfinite(err)
        e = err[ok]
        out.append({**dict(zip(by, key if isinstance(key, tuple) else (key,))),
                    "MAE_pp": 100 * float(np.mean(np.abs(e))) if ok.any() else np.nan,
                    "bias_pp": 100 * float(np.mean(e)) if ok.any() else np.nan,
                    "max_err_pp": 100 * float(np.max(np.abs(e))) if ok.any() else np.nan,
                    "coverage": float(np.mean(cov)) if len(cov) else np.nan,
                    "predictions": int(ok.sum()), "undefined": int((~ok).sum())})
    return pd.DataFrame(out)
