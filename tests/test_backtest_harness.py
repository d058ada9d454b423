"""The one backtest harness (scalefit.sampling.holdout): how observed attempts are cut into a
part to fit and a held-out truth, and that every backtest of the package cuts through it.

Reference: METHODS §2.2 / T2.2 -- the unbiased pass@k is 1 - C(n - c, k)/C(n, k), "the probability
that k samples drawn without replacement" from n (c of them successes) all fail; a thinning to m
attempts drawn without replacement must therefore leave no success with exactly that chance.
§2.5 (SABER's protocol: n attempts per query drawn without replacement from a larger log) is the
backtest these splits implement; §4.5 names leave-future-out (hold out the largest scales).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import scalefit
from scalefit.errors import ArgumentError
from scalefit.sampling import holdout
from scalefit.sampling.items import item_data


@pytest.fixture(autouse=True)
def _x64():
    scalefit.enable_x64()


def _counts(seed=0, items=40):
    rng = np.random.default_rng(seed)
    n = rng.integers(20, 60, items)
    k = rng.binomial(n, rng.beta(0.5, 3.0, items))
    return n, k


# ---------------------------------------------------------------------------------------- counts


def test_thinned_counts_never_exceed_the_original():
    n, k = _counts()
    rng = np.random.default_rng(1)
    for m in (1, 5, 20):
        for _ in range(50):
            k_m = holdout.thin_counts(n, k, m, rng)
            assert np.all(k_m >= 0) and np.all(k_m <= np.minimum(k, m))
            assert np.all(m - k_m <= n - k)  # no more failures kept than the item had


def test_thinning_misses_every_success_with_the_pass_at_k_chance():
    # T2.2: P(no success among m drawn without replacement) = C(n-c, m)/C(n, m) = 1 - pass@m.
    from scalefit.sampling import pass_at_k

    n, c, m, R = 50, 5, 10, 200_000
    draws = holdout.thin_counts(np.full(R, n), np.full(R, c), m, np.random.default_rng(3))
    p0 = 1.0 - float(pass_at_k(n, c, m))
    se = np.sqrt(p0 * (1 - p0) / R)  # binomial SE of the share over R independent thinnings
    assert abs(np.mean(draws == 0) - p0) < 5 * se
    # hypergeometric mean m c / n; variance of one draw <= m c/n, so 5 SE of the mean bound it
    assert abs(np.mean(draws) - m * c / n) < 5 * np.sqrt(m * c / n / R)


def test_thinning_is_seeded():
    n, k = _counts()
    a = holdout.thin_counts(n, k, 7, np.random.default_rng([4, 0]))
    b = holdout.thin_counts(n, k, 7, np.random.default_rng([4, 0]))
    c = holdout.thin_counts(n, k, 7, np.random.default_rng([4, 1]))
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    frame = pd.DataFrame({"item": np.arange(n.size), "n": n, "k": k})
    f1, f2 = holdout.thinned_frame(frame, 7, 4, 0), holdout.thinned_frame(frame, 7, 4, 0)
    assert f1.equals(f2) and np.array_equal(f1["k"].to_numpy(), a)  # repeat r draws from [seed, r]


def test_attempt_pool_draws_without_replacement_round_after_round():
    n, k = _counts()
    pool, rng = holdout.AttemptPool(n, k), np.random.default_rng(5)
    drawn = np.zeros_like(k)
    for a in (3, 7, 10):
        drawn += pool.draw(a, rng)
        assert np.all(drawn <= k) and np.all(pool.k >= 0) and np.all(pool.k <= pool.n)
    drawn += pool.draw(pool.n, rng)  # the rest of every item: every success comes out, once
    assert np.array_equal(drawn, k) and np.all(pool.n == 0)


def test_hold_out_counts_truth_at_the_ends():
    n, k = _counts()
    n = np.full_like(n, 40)
    k = np.minimum(k, 40)
    sp = holdout.hold_out_counts(n, k, 8, np.random.default_rng(2), [8, 40])
    assert sp.m == 8 and np.all(sp.k_fit <= np.minimum(k, 8))
    # at N = m only the kept attempts count; at N = n every attempt does (exact, 0/1 per item)
    assert sp.truth[0] == pytest.approx(np.mean(sp.k_fit > 0), abs=1e-15)
    assert sp.truth[1] == pytest.approx(np.mean(k > 0), abs=1e-15)
    assert np.all(np.diff(holdout.hold_out_counts(n, k, 8, np.random.default_rng(2)).truth) >= 0)
    with pytest.raises(ArgumentError, match=r"`backtest_attempts` = 40 attempts must be in \[1, 39\]"):
        holdout.hold_out_counts(n, k, 40, np.random.default_rng(2), name="backtest_attempts")


# ---------------------------------------------------------------------------------------- logs


def test_first_attempts_censors_at_m():
    fs = np.array([1.0, 4.0, 5.0, 9.0, np.nan])
    sub = holdout.first_attempts(fs, 5)
    assert sub.n.tolist() == [1, 4, 5, 5, 5]
    assert sub.k.tolist() == [1, 1, 1, 0, 0]
    # a first success after m is not known within the first m attempts: censored, no record
    assert np.array_equal(sub.first_success, np.array([1.0, 4.0, 5.0, np.nan, np.nan]), equal_nan=True)


def test_log_split_keeps_attempt_order():
    # rows shuffled: the first m attempts are chosen by the attempt index, not the row order
    rng = np.random.default_rng(0)
    succ = {0: [0, 0, 1, 1, 0, 1], 1: [0, 0, 0, 0, 0, 1], 2: [1, 0, 0, 0, 0, 0], 3: [0] * 6}
    rows = [(i, a, bool(s)) for i, seq in succ.items() for a, s in enumerate(seq)]
    log = pd.DataFrame(rows, columns=["item", "attempt", "success"]).iloc[rng.permutation(len(rows))]
    kept, truth = holdout.log_split(log, 3, [3, 6], [], "all")
    kept = kept.set_index("item")
    assert kept.loc[list(succ), "n"].tolist() == [3] * 4
    assert kept.loc[list(succ), "k"].tolist() == [sum(seq[:3]) for seq in succ.values()]
    first = np.array([seq.index(1) + 1 if 1 in seq else np.inf for seq in succ.values()])
    assert truth == [np.mean(first <= N) for N in (3, 6)]
    # item 3 never succeeded in its 6 attempts: the log does not know whether it would by 7
    with pytest.raises(ArgumentError, match=r"`N` = 7: 1 item\(s\) in group all stop before N"):
        holdout.log_split(log, 3, [7], [], "all")


def test_internal_splits_of_an_until_success_log_are_exact():
    fs = np.array([2.0, 7.0, 30.0, np.nan, 15.0])
    data = item_data([2, 7, 40, 40, 15], [1, 1, 1, 0, 1], first_success=fs, attempts=[40] * 5)
    sp = holdout.internal_splits(data, 4, 3, seed=0)
    assert sp.kind == "first" and len(sp.data) == 1  # no randomness: one cut
    assert np.all(sp.budget == 40)
    assert sp.truth.tolist() == [1.0, 1.0, 1.0, 0.0, 1.0]
    assert sp.data[0].n.tolist() == [2, 7, 10, 10, 10] and sp.data[0].k.tolist() == [1, 1, 0, 0, 0]


def test_internal_splits_of_counts_are_seeded_thinnings():
    n, k = _counts()
    data = item_data(n, k)
    a, b = holdout.internal_splits(data, 4, 3, seed=1), holdout.internal_splits(data, 4, 3, seed=1)
    assert a.kind == "subsample" and len(a.data) == 3
    for sa, sb in zip(a.data, b.data):
        assert np.array_equal(sa.k, sb.k) and np.array_equal(sa.n, np.maximum(1, n // 4))
        assert np.all(sa.k <= np.minimum(k, sa.n))
    assert np.array_equal(a.truth, (k > 0).astype(float)) and np.array_equal(a.budget, n.astype(float))


# ---------------------------------------------------------------------------------------- sizes


def test_hold_out_size_and_split_future():
    size = np.array([1e8, 3e8, 1e9, 1e9, 3e9, 3e9])
    sp = holdout.hold_out_size(size)
    assert sp.target == 3e9 and sp.fit_sizes.tolist() == [1e8, 3e8, 1e9] and sp.held.tolist() == [0, 0, 0, 0, 1, 1]
    assert holdout.hold_out_size(size, 1e9).held.sum() == 2
    with pytest.raises(ArgumentError, match="is not one of the sizes"):
        holdout.hold_out_size(size, 2e9)
    with pytest.raises(ArgumentError, match="need at least 4 sizes"):
        holdout.hold_out_size(size, min_fit=4)
    # the largest third of the rows; ties with the threshold go with it
    assert holdout.split_future(size, 1 / 3, 2).tolist() == [False, False, False, False, True, True]


# ---------------------------------------------------------------------------------------- scores


def test_scores_from_rows():
    rec = [dict(estimator="a", N=10.0, predicted=0.5, lower=0.4, upper=0.6, empirical=0.55),
           dict(estimator="a", N=10.0, predicted=0.3, lower=0.1, upper=0.2, empirical=0.25),
           dict(estimator="a", N=10.0, predicted=np.nan, lower=np.nan, upper=np.nan, empirical=0.25),
           dict(estimator="b", N=10.0, predicted=0.2, lower=np.nan, upper=np.nan, empirical=0.1)]
    rows = holdout.score_rows(rec)
    assert np.array_equal(rows["covered"].to_numpy(), [1.0, 0.0, np.nan, np.nan], equal_nan=True)
    s = holdout.summarise(rows).set_index("estimator")
    err = np.array([0.5 - 0.55, 0.3 - 0.25])
    assert s.loc["a", "MAE_pp"] == pytest.approx(100 * np.mean(np.abs(err)), rel=1e-12)
    assert s.loc["a", "bias_pp"] == pytest.approx(100 * np.mean(err), abs=1e-12)
    assert (s.loc["a", "predictions"], s.loc["a", "undefined"], s.loc["a", "coverage"]) == (2, 1, 0.5)
    assert np.isnan(s.loc["b", "coverage"])


# ---------------------------------------------------------------------------------------- callers


def test_backtest_counts_draws_through_the_harness():
    from scalefit.sampling import asr_naive, backtest, backtest_counts

    assert backtest.thinned_frame is holdout.thinned_frame and backtest.fresh_truth is holdout.fresh_truth
    n, k = _counts(items=30)
    n = np.full_like(n, 60)
    k = np.minimum(k, 60)
    frame = pd.DataFrame({"item": np.arange(n.size), "n": n, "k": k})
    res = backtest_counts(frame, 10, [20, 60], repeats=2, seed=3, estimators=("naive",))
    for r in (0, 1):
        k_r = holdout.thinned_frame(frame, 10, 3, r)["k"].to_numpy()
        got = res.rows[res.rows["repeat"] == r]
        assert np.array_equal(got["predicted"].to_numpy(), np.atleast_1d(asr_naive(np.array([20.0, 60.0]), np.full(k_r.shape, 10), k_r)))
        assert np.array_equal(got["empirical"].to_numpy(), holdout.fresh_truth(n, k, [20, 60]))


def test_backtest_log_cuts_through_the_harness(monkeypatch):
    from scalefit.sampling import backtest

    calls = []

    def spy(*args, **kwargs):
        calls.append(args)
        return holdout.log_split(*args, **kwargs)

    monkeypatch.setattr(backtest, "log_split", spy)
    log = pd.DataFrame({"item": np.repeat([0, 1, 2], 8), "attempt": np.tile(np.arange(8), 3),
                        "success": np.r_[[0, 1] * 4, [0] * 7 + [1], [1] + [0] * 7].astype(bool)})
    res = backtest.backtest_log(log, 4, [8], estimators=("naive",))
    assert len(calls) == 1 and calls[0][1] == 4
    assert res.rows["empirical"].tolist() == [1.0]


class _Stop(Exception):
    pass


def test_internal_backtest_and_saved_backtest_use_the_harness(monkeypatch):
    from scalefit.sampling import bonfit

    seen = {}

    def stop(name):
        def f(*args, **kwargs):
            seen[name] = args
            raise _Stop
        return f

    monkeypatch.setattr(bonfit, "internal_splits", stop("internal"))
    n, k = _counts()
    with pytest.raises(_Stop):
        bonfit.fit_bon(n, k, seed=5, fraction=4, repeats=3)
    assert seen["internal"][1:] == (4, 3, 5)
    monkeypatch.undo()

    splits = []

    def spy(*args, **kwargs):
        splits.append(holdout.hold_out_counts(*args, **kwargs))
        return splits[-1]

    monkeypatch.setattr(bonfit, "hold_out_counts", spy)
    n = np.full_like(n, 60)
    bon = bonfit.fit_bon(n, np.minimum(k, 60), model="beta", seed=5)
    bt = bon.with_forecast([100], num_bootstrap=0, backtest=6, backtest_N=[6, 30, 60]).forecast.backtest
    # the saved backtest is the harness's split: its kept attempts, budgets and held-out truth
    assert len(splits) == 1 and bt.fit_attempts == splits[0].m == 6
    assert np.array_equal(bt.forecast.N, splits[0].N) and np.array_equal(bt.empirical, splits[0].truth)


def test_report_and_passuntil_hold_out_through_the_harness(monkeypatch):
    import importlib

    from scalefit.report.bestofn import make_bon_curve

    pu = importlib.import_module("scalefit.sampling.passuntil_holdout")  # the module, not the function

    seen = {}

    def stop(name):
        def f(*args, **kwargs):
            seen[name] = (args, kwargs)
            raise _Stop
        return f

    monkeypatch.setattr(holdout, "hold_out_counts", stop("report"))  # imported when the report draws
    n, k = _counts()
    with pytest.raises(_Stop):
        make_bon_curve(np.full_like(n, 60), np.minimum(k, 60), targets=(100,), backtest_attempts=6, num_samples=20)
    assert seen["report"][0][2] == 6 and seen["report"][1]["name"] == "backtest_attempts"
    monkeypatch.setattr(pu, "hold_out_size", stop("passuntil"))
    df = pd.DataFrame({"N": np.repeat([1e8, 3e8, 1e9], 2), "i": np.tile([0, 1], 3), "r": 5, "K": 100})
    with pytest.raises(_Stop):
        pu.passuntil_holdout(df, size="N", instance="i", successes="r", attempts="K")
    assert np.array_equal(seen["passuntil"][0][0], df["N"].to_numpy())
