"""Issue 15's jailbreak-log report (ASR@N = 1.000 [1.000, 1.000] "while the fitted curve lies below
the observed points"):

1. A best-of-N interval that is a single value says why, in words: a continued rate of exactly 1
   because every item already succeeded within N, or a realised rate of 1 in most replicates,
   with the expected rate's interval quoted.
2. The observed points of a sample-until-success log are the exact share of items whose first
   success came within N, not pass@k of its counts (biased upwards by the stopping rule: an item
   broken in its second batch has successes among attempts it would not have had at N = 1 batch).
"""

from __future__ import annotations

import numpy as np
import pytest

from scalefit.sampling import fit_bon, item_data

B = 40  # replicates: enough for a 90% percentile interval (2 draws in each tail)


def _log(solved_all: bool, seed=0):
    rng = np.random.default_rng(seed)
    p = rng.beta(0.8, 4.0, size=40)
    n = np.full(40, 100)
    k = rng.binomial(n, p)
    if solved_all:
        k = np.maximum(k, 1)
    # first successes from the attempt order of a fixed-budget log (solved items only)
    fs = np.where(k > 0, rng.integers(1, 60, size=40), np.nan).astype(float)
    return item_data(n, k, first_success=fs, until_success=False)


def test_continued_rate_exactly_one_says_every_item_already_succeeded():
    data = _log(solved_all=True)
    bon = fit_bon(data, model="beta")
    N = float(np.nanmax(data.first_success))
    fc = bon.predict_forecast([N], target="continued", num_bootstrap=B)
    # every item's outcome within its first N attempts is known from the log: exactly 1 in every replicate
    assert fc.estimate[0] == 1.0 and fc.lower[0] == 1.0 and fc.upper[0] == 1.0
    assert "every one of the 40 items already succeeded within its first N attempts" in fc.note
    assert "\n" not in fc.note
    # one attempt earlier some item is still open: no such sentence
    fc2 = bon.predict_forecast([N - 1], target="continued", num_bootstrap=B)
    assert fc2.estimate[0] < 1.0 and "already succeeded" not in fc2.note
    # below every item's budget (100) all outcomes within N are in the log, solved or not: exact
    data = _log(solved_all=False)
    fc3 = fit_bon(data, model="beta").predict_forecast([40], target="continued", num_bootstrap=B)
    solved = int(np.sum(data.first_success <= 40))
    assert fc3.estimate[0] == pytest.approx(solved / 40, rel=1e-12) and fc3.lower[0] == fc3.upper[0]
    assert f"known from the log ({solved} of 40 succeeded)" in fc3.note


def test_fresh_interval_at_one_quotes_the_expected_rate():
    from scalefit.report.bestofn import saved_bon_record

    data = _log(solved_all=False)
    bon = fit_bon(data, model="beta")
    grid = np.geomspace(100, 1e7, 9)
    fc = bon.predict_forecast(grid, num_bootstrap=B)
    single = np.flatnonzero((fc.lower == 1.0) & (fc.upper == 1.0))
    assert single.size, "no budget where a fresh run solves every item in most replicates"
    j = int(single[0])
    assert fc.estimate[j] < 1.0  # the expected rate is below 1: only the realised rate collapses
    assert f"N = {grid[j]:g}" in fc.note and "(every item solved)" in fc.note and "the expected rate is" in fc.note
    lo, hi = (float(v) for v in fc.note.split("the expected rate is")[1].split("[")[1].split("]")[0].split(","))
    assert lo < hi < 1.0  # a proper interval
    # budgets with a proper interval get no sentence
    assert fc.note.count("realised rate is") == single.size
    # the report record says it next to the number (a saved-grid budget where the interval is one value)
    saved = bon.with_forecast(num_bootstrap=B, backtest=False)
    table = saved.forecast.table(0.9)
    at_one = table[(table["lower"] == 1.0) & (table["upper"] == 1.0)]["N"].to_numpy()
    assert at_one.size
    rec = saved_bon_record(saved, targets=[float(at_one[0]), 100.0])
    by_N = {t["N"]: t for t in rec["targets"]}
    assert "(every item solved)" in by_N[float(at_one[0])]["note"]
    assert "note" not in by_N[100.0]


def test_observed_points_of_a_sample_until_success_log_are_exact():
    from scalefit.io import attempts_to_counts
    from scalefit.report.bestofn import saved_bon_record
    from scalefit.sampling import pass_at_k, until_success_items

    rng = np.random.default_rng(11)
    batch, cap = 10, 60
    rows = []
    for i, p in enumerate(rng.beta(0.5, 6.0, size=60)):
        for a in range(cap):  # sample in batches of 10 until the batch holding the first success
            rows.append({"item": i, "attempt": a, "success": bool(rng.random() < p)})
            if a % batch == batch - 1 and any(r["success"] for r in rows if r["item"] == i):
                break
    import pandas as pd

    counts = attempts_to_counts(pd.DataFrame(rows), batch_size=batch, cap=cap)
    data = until_success_items(counts)
    saved = fit_bon(data, model="beta").with_forecast(num_bootstrap=20, backtest=False)
    obs = saved_bon_record(saved, targets=[100.0])["observed"]
    assert obs["method"] == "first_success" and obs["N"][-1] == batch  # every item got its first batch
    fs = counts["first_success"].to_numpy()
    exact = [float(np.mean(np.isfinite(fs) & (fs <= N))) for N in obs["N"]]
    # means of 0/1 outcomes over 60 items: equal up to the rounding of a float sum
    assert obs["value"] == pytest.approx(exact, rel=1e-12, abs=1e-15)
    assert all(lo <= v <= hi for v, lo, hi in zip(obs["value"], obs["lower"], obs["upper"]))
    # pass@k of the stopped counts overstates the rate at the first batch (what the issue saw): items
    # broken in batch 1 count 1 either way, items broken later count > 0 instead of 0
    chen = float(np.mean(pass_at_k(counts["n"].to_numpy(), counts["k"].to_numpy(), batch)))
    assert chen > exact[-1]
