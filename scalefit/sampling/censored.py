"""Sample-until-success logs: likelihoods and ASR@N without bias (docs/best_of_n.md#sample-until-success-logs).

A red-teaming log often stops attacking an item once it is broken: attempts are made in batches
of B (the Best-of-N Jailbreaking log: B = 60), sampling stops at the end of the batch holding the
first success, and items never broken stop at a cap.  Such data are *not* a fixed budget per
item, so the pass@k estimator of Chen et al. and moment estimators are biased on them (a broken
item's last batch contains a success by construction).  Three likelihoods are exact, and they
differ only in how much of the log they use:

``"attempts"``       every attempt made is recorded: k successes in n attempts contribute
                     p^k (1 - p)^(n - k).  The stopping rule depends only on outcomes already
                     seen, so it is ignorable: this is the exact likelihood (the constant
                     combinatorial factor differs from the fixed-budget one, the maximiser does
                     not).  Uses the most information.
``"first_success"``  only the attempt f of the first success is used: p (1 - p)^(f - 1)
                     (geometric); censored items (1 - p)^cap.
``"batch"``          only the batch j of the first success is known (batch granularity):
                     (1 - p)^((j-1)B) - (1 - p)^(jB), i.e. no success in the first (j-1)B
                     attempts and at least one in the next B; censored items (1 - p)^cap.

All three are handled by every family of :mod:`scalefit.sampling.models` (the batch form as an
interval-censored row).  :func:`asr_from_log` gives ASR@N from such a log: exact wherever the log
decides it (first success at or before N, or N attempts observed without success), and for items
censored before N the model's conditional probability of a success in the remaining attempts.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..errors import ArgumentError
from ._common import _fmt, check_counts_frame
from .models import ItemData, MixingFit, item_data

__all__ = ["UNTIL_SUCCESS_LIKELIHOODS", "until_success_items", "asr_from_log"]

UNTIL_SUCCESS_LIKELIHOODS = ("attempts", "first_success", "batch")
_REQUIRED = ("n", "k", "first_success", "batch_size", "cap", "censored")


def _check_frame(counts) -> None:
    if not isinstance(counts, pd.DataFrame):
        raise ArgumentError(f"`counts` must be a pandas DataFrame, got {type(counts).__name__}")
    missing = [c for c in _REQUIRED if c not in counts.columns]
    if missing:
        raise ArgumentError(
            "`counts` lacks the sample-until-success column(s) " + ", ".join(f"`{c}`" for c in missing)
            + "; load the log with load_attempts(..., batch_size=B, cap=C)"
        )


def until_success_items(counts: pd.DataFrame, likelihood: str = "attempts") -> ItemData:
    """Per-item observations of a sample-until-success log for the chosen likelihood.

    Parameters
    ----------
    counts : pandas.DataFrame
        Counts of a sample-until-success log (:func:`scalefit.io.load_attempts` with
        ``batch_size``/``cap``): columns ``n``, ``k``, ``first_success``, ``batch_size``, ``cap``,
        ``censored``.
    likelihood : {"attempts", "first_success", "batch"}
        See the module docstring.

    Returns
    -------
    ItemData
        With ``first_success`` kept, so that exact rates below the observed budgets remain
        available.

    Examples
    --------
    >>> import pandas as pd
    >>> from scalefit.sampling import until_success_items
    >>> c = pd.DataFrame({"item": [0, 1], "n": [120, 180], "k": [2, 0], "first_success": [75.0, None],
    ...                   "batch_size": [60, 60], "cap": [180, 180], "censored": [False, True]})
    >>> d = until_success_items(c, "batch")
    >>> d.n.tolist(), d.k.tolist(), d.extra.tolist()
    ([60, 180], [0, 0], [60, 0])
    """
    _check_frame(counts)
    if likelihood not in UNTIL_SUCCESS_LIKELIHOODS:
        raise ArgumentError(
            f"`likelihood` = {likelihood!r} is not one of {', '.join(map(repr, UNTIL_SUCCESS_LIKELIHOODS))}"
        )
    n = counts["n"].to_numpy(np.int64)
    k = counts["k"].to_numpy(np.int64)
    fs = counts["first_success"].to_numpy(float)
    B = counts["batch_size"].to_numpy(np.int64)
    cap = counts["cap"].to_numpy(np.int64)
    broken = np.isfinite(fs)
    if np.any(broken & (k == 0)):
        raise ArgumentError("`k` = 0 for an item with a recorded `first_success`: the counts are inconsistent")
    if likelihood == "attempts":
        return item_data(n, k, first_success=fs, attempts=n)
    if likelihood == "first_success":
        n_f = np.where(broken, np.nan_to_num(fs, nan=1.0), n).astype(np.int64)
        return item_data(n_f, broken.astype(np.int64), first_success=fs, attempts=n)
    batch = np.where(broken, np.ceil(np.nan_to_num(fs, nan=1.0) / B), 0.0).astype(np.int64)
    lower = (batch - 1) * B
    upper = np.minimum(batch * B, cap)
    n_b = np.where(broken, lower, n)
    extra = np.where(broken, upper - lower, 0)
    return item_data(n_b, np.zeros_like(n_b), extra=extra, first_success=fs, attempts=n)


def as_item_data(data, k=None, likelihood: str = "attempts") -> ItemData:
    """Items from what a fitter was given: :class:`ItemData`, attempts ``n`` with ``k``, or a
    counts frame from :func:`scalefit.io.load_attempts` (sample-until-success frames through
    :func:`until_success_items`; a fixed-budget log's ``first_success_at`` becomes the items'
    first-success positions, so that continued forecasts below an item's budget are exact).

    A frame must hold one group: fitting the items of several models together would silently
    mix them.

    Examples
    --------
    >>> import pandas as pd
    >>> as_item_data(pd.DataFrame({"item": [0, 1], "n": [10, 10], "k": [0, 3]})).k.tolist()
    [0, 3]
    """
    if isinstance(data, ItemData):
        return data
    if not isinstance(data, pd.DataFrame):
        return item_data(data, k)
    if k is not None:
        raise ArgumentError("`k`: pass a counts frame alone (its `k` column is used), or attempts `n` with `k`")
    check_counts_frame(data)
    if "first_success" in data.columns:
        return until_success_items(data, likelihood)
    if "first_success_at" in data.columns:  # a fixed-budget attempt log with attempt order
        return item_data(data["n"].to_numpy(), data["k"].to_numpy(),
                         first_success=data["first_success_at"].to_numpy(float), until_success=False)
    return item_data(data["n"].to_numpy(), data["k"].to_numpy())


def asr_from_log(counts: pd.DataFrame, N, fit: MixingFit | None = None) -> pd.DataFrame:
    """ASR@N of the items in a sample-until-success log, without stopping-rule bias.

    For each budget N an item counts as broken if its first success came at attempt <= N, as
    unbroken if it was observed for at least N attempts without success, and otherwise (censored
    at n_i < N) it is undetermined by the log: ``lower`` counts it as unbroken, ``upper`` as
    broken, and, when ``fit`` is given, ``estimate`` adds its conditional probability of a success
    in attempts n_i + 1..N under the fitted model (the posterior given its n_i failures).

    Returns
    -------
    pandas.DataFrame
        Columns ``N``, ``estimate``, ``lower``, ``upper``, ``exact`` (True when no item is
        undetermined, so that lower = upper = estimate), ``undetermined`` (items).

    Examples
    --------
    >>> import pandas as pd
    >>> from scalefit.sampling import asr_from_log
    >>> c = pd.DataFrame({"item": [0, 1, 2], "n": [60, 120, 120], "k": [1, 2, 0],
    ...                   "first_success": [30.0, 61.0, None], "batch_size": 60, "cap": 120,
    ...                   "censored": [False, False, True]})
    >>> asr_from_log(c, [60, 120])[["N", "estimate", "exact"]].to_dict("list")
    {'N': [60.0, 120.0], 'estimate': [0.3333333333333333, 0.6666666666666666], 'exact': [True, True]}
    """
    _check_frame(counts)
    N_arr = np.atleast_1d(np.asarray(N, float))
    if np.any(~np.isfinite(N_arr) | (N_arr < 1)):
        raise ArgumentError(f"`N` = {_fmt(N_arr[~np.isfinite(N_arr) | (N_arr < 1)][0])} must be a finite budget >= 1")
    fs = counts["first_success"].to_numpy(float)
    n = counts["n"].to_numpy(float)
    data = None
    if fit is not None:
        data = until_success_items(counts, "attempts")
    rows = []
    K = len(counts)
    for NN in N_arr:
        broken = np.isfinite(fs) & (fs <= NN)
        known_unbroken = ~broken & ((n >= NN) | (np.isfinite(fs) & (fs > NN)))
        undetermined = ~broken & ~known_unbroken
        lower = broken.mean()
        upper = (broken | undetermined).mean()
        est = lower
        if undetermined.any() and fit is not None:
            p = fit.solve_probabilities(data.take(np.flatnonzero(undetermined)), NN, target="continued")
            est = (broken.sum() + p.sum()) / K
        elif undetermined.any():
            est = math.nan
        rows.append({"N": float(NN), "estimate": float(est), "lower": float(lower), "upper": float(upper),
                     "exact": bool(not undetermined.any()), "undetermined": int(undetermined.sum())})
    return pd.DataFrame(rows)
