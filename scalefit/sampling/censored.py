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
from ._common import short_value
from .items import UNTIL_SUCCESS_LIKELIHOODS, ItemData, as_item_data, check_until_success_frame, until_success_items  # noqa: F401  (re-exported)
from .models import MixingFit

__all__ = ["UNTIL_SUCCESS_LIKELIHOODS", "until_success_items", "asr_from_log"]

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
    check_until_success_frame(counts)
    N_arr = np.atleast_1d(np.asarray(N, float))
    if np.any(~np.isfinite(N_arr) | (N_arr < 1)):
        raise ArgumentError(f"`N` = {short_value(N_arr[~np.isfinite(N_arr) | (N_arr < 1)][0])} must be a finite budget >= 1")
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
