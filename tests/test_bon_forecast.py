"""The default best-of-N forecast (scalefit.sampling.bonfit): internal-backtest model choice,
bootstrap intervals over the whole procedure, budgets, persistence."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import special as sp

from scalefit.errors import ArgumentError
from scalefit.sampling import BonFit, fit_bon, forecast
from scalefit.sampling import bonfit as F


def _kumaraswamy_items(K, n, a, b, seed):
    rng = np.random.default_rng(seed)
    p = (1 - (1 - rng.random(K)) ** (1 / b)) ** (1 / a)
    return p, rng.binomial(n, p)


@pytest.fixture(scope="module")
def small_fit():
    _, k = _kumaraswamy_items(128, 100, 0.35, 7.0, 3)
    return fit_bon(100, k, seed=0, select_bootstrap=20)


def test_fit_reports_candidates_scores_choice_and_reason(small_fit):
    bon = small_fit
    assert bon.candidates == ("kumaraswamy", "beta", "logit_normal")
    assert list(bon.scores["model"]) == list(bon.candidates)
    assert bon.scores["chosen"].sum() == 1 and bon.model in bon.candidates
    assert {"internal_error", "internal_bias", "gain_vs_reference", "gain_se", "loglik", "aic"} <= set(bon.scores.columns)
    assert np.all(bon.scores["internal_error"] >= 0) and bon.gain_se[0] == 0 and np.all(bon.gain_se[1:] > 0)
    assert "internal backtest" in bon.reason
    text = bon.summary()
    assert "chosen:" in text and bon.model in text


def test_choice_rule_is_a_z_test_on_the_internal_gain():
    err = np.array([[0.05, 0.03, 0.049], [0.05, 0.049, 0.01]])
    se = np.array([0.0, 0.01, 0.01])
    assert F.choose_candidate(err, se, 1.645).tolist() == [1, 2]
    assert F.choose_candidate(err, se, 3.0).tolist() == [0, 2]
    assert F.choose_candidate(err, se, 0.0).tolist() == [1, 2]


def test_intervals_are_seeded_and_cover_the_point_estimate(small_fit):
    a = small_fit.predict_forecast([1000, 10_000], num_bootstrap=40, seed=1)
    b = small_fit.predict_forecast([1000, 10_000], num_bootstrap=40, seed=1)
    np.testing.assert_array_equal(a.lower, b.lower)
    np.testing.assert_array_equal(a.upper, b.upper)
    assert np.all(a.lower <= a.estimate) and np.all(a.estimate <= a.upper)
    assert np.all(np.diff(a.estimate) > 0)
    assert abs(sum(a.choice_share.values()) - 1) < 1e-12
    assert "N =" in a.summary()


def test_interval_coverage_on_simulated_benchmarks():
    """Calibration check: 12 simulated benchmarks of 128 items (truth Kumaraswamy(0.35, 7),
    100 attempts each); the 90% interval for the realised continued ASR@1000 of each benchmark
    (simulated from its true p) should cover in most of them (>= 9 of 12; fixed model, so the
    check isolates the bootstrap + realisation machinery)."""
    covered = 0
    for seed in range(12):
        p, k = _kumaraswamy_items(128, 100, 0.35, 7.0, 100 + seed)
        rng = np.random.default_rng(200 + seed)
        more = rng.random(128) < 1 - (1 - p) ** 900
        realised = np.mean((k > 0) | more)
        fc = fit_bon(100, k, model="kumaraswamy").predict_forecast([1000], target="continued", num_bootstrap=100, seed=seed)
        covered += fc.lower[0] <= realised <= fc.upper[0]
    assert covered >= 9, covered


def test_budget_round_trip(small_fit):
    bf = small_fit.budget([0.6], num_bootstrap=0)
    N = float(bf.table["estimate"][0])
    fc = small_fit.predict_forecast([N], num_bootstrap=0)
    assert fc.estimate[0] == pytest.approx(0.6, abs=1e-7)
    unreachable = fit_bon(100, np.r_[np.zeros(60, int), np.ones(4, int)], model="zi_beta").budget([0.999], num_bootstrap=0)
    assert np.isinf(unreachable.table["estimate"][0]) or unreachable.table["estimate"][0] > 1e6


def test_bonfit_json_roundtrip_and_never_overwrites(small_fit, tmp_path):
    path = tmp_path / "fit.json"
    small_fit.to_json(path)
    back = BonFit.from_json(path)
    assert back.model == small_fit.model and back.reason == small_fit.reason
    np.testing.assert_array_equal(back.gain_se, small_fit.gain_se)
    np.testing.assert_allclose(back.predict_forecast([1000], num_bootstrap=0).estimate,
                               small_fit.predict_forecast([1000], num_bootstrap=0).estimate, rtol=0, atol=0)
    with pytest.raises(ArgumentError, match=r"already exists; refusing to overwrite"):
        small_fit.to_json(path)
    small_fit.to_json(path, overwrite=True)
    json.loads(path.read_text())
    with pytest.raises(ArgumentError, match=r"not a scalefit best-of-N fit"):
        BonFit.from_dict({"format": "other"})


def test_fresh_and_continued_targets_differ_as_they_should():
    """Continued counts solved items as solved; fresh re-draws them: for items with k = 1 of 20
    and a hard prior the fresh chance is below 1, so continued >= fresh at N = 40."""
    k = np.r_[np.zeros(40, int), np.ones(10, int), [5, 9, 20]]
    bon = fit_bon(20, k, model="beta")
    fresh = bon.predict_forecast([40], target="fresh", num_bootstrap=0).estimate[0]
    cont = bon.predict_forecast([40], target="continued", num_bootstrap=0).estimate[0]
    assert cont > fresh
    a, b = bon.fit.params["a"], bon.fit.params["b"]
    per_item = 1 - np.exp(sp.betaln(a + k, b + 20 - k + 40) - sp.betaln(a + k, b + 20 - k))
    assert fresh == pytest.approx(per_item.mean(), rel=1e-10)


def test_errors_are_one_line_and_name_the_argument(small_fit):
    with pytest.raises(ArgumentError, match=r"`N` = 0 must be a finite budget >= 1"):
        small_fit.predict([0])
    with pytest.raises(ArgumentError, match=r"`level` = 1\.5"):
        small_fit.predict([100], level=1.5)
    with pytest.raises(ArgumentError, match=r"`num_bootstrap` = 5 is too few"):
        small_fit.predict([100], num_bootstrap=5)
    with pytest.raises(ArgumentError, match=r"`target` = 'old'"):
        small_fit.predict([100], target="old")
    with pytest.raises(ArgumentError, match=r"`candidates` contains 'gamma'"):
        fit_bon(10, [0, 1, 2], candidates=("beta", "gamma"))
    with pytest.raises(ArgumentError, match=r"`k`: no item has a success"):
        fit_bon(10, [0, 0, 0])
    with pytest.raises(ArgumentError, match=r"`N` is required"):
        forecast(10, [0, 1, 2])


def test_backtest_marks_a_group_without_successes_undefined_instead_of_failing():
    # A group whose small-budget subsample has no success at all cannot be extrapolated by any
    # estimator; a multi-group backtest records it as undefined and carries on with the others.
    import pandas as pd

    from scalefit.io import load_attempts
    from scalefit.sampling import backtest_counts

    _, k = _kumaraswamy_items(60, 400, 0.4, 6.0, 5)
    frame = pd.DataFrame({"model": ["good"] * 60 + ["blank"] * 60, "item": list(range(60)) * 2,
                          "n": 400, "k": np.concatenate([k, np.zeros(60, int)])})
    counts = load_attempts(frame, groups=["model"])
    res = backtest_counts(counts, 40, [200], repeats=1, estimators=("scalefit", "saber_anchored", "naive"),
                          num_bootstrap=0, select_bootstrap=0)
    rows = res.rows.set_index(["group", "estimator"])
    assert np.isnan(rows.loc[("blank", "scalefit"), "predicted"])
    assert "no item has a success" in rows.loc[("blank", "scalefit"), "detail"]
    assert np.isfinite(rows.loc[("good", "scalefit"), "predicted"])
    assert rows.loc[("blank", "naive"), "predicted"] == 0.0
    s = res.summary.set_index("estimator")
    assert s.loc["scalefit", "undefined"] == 1 and s.loc["scalefit", "predictions"] == 1


def test_span_interval_covers_every_tail_the_backtest_cannot_reject(small_fit):
    """tails="span": the plausible set follows the choice rule's own z-test, and the interval is
    the union of the whole-procedure interval and each plausible family's (same resamples), so
    it contains the choice interval; with one plausible family the two are identical."""
    bon = small_fit
    plaus = bon.plausible_models()
    gain = bon.scores.set_index("model")["gain_vs_reference"]
    se = dict(zip(bon.candidates, bon.gain_se))
    assert bon.model in plaus
    for m in bon.candidates:
        if bon.model == bon.candidates[0] and m != bon.model:
            assert (m in plaus) == (abs(gain[m]) <= bon.z * se[m]), m
    choice = bon.predict_forecast([300, 1000], num_bootstrap=40, seed=1, tails="choice")
    span = bon.predict_forecast([300, 1000], num_bootstrap=40, seed=1)  # the default
    np.testing.assert_array_equal(span.estimate, choice.estimate)
    assert np.all(span.lower <= choice.lower) and np.all(span.upper >= choice.upper)
    if len(plaus) == 1:
        np.testing.assert_array_equal(span.lower, choice.lower)
        np.testing.assert_array_equal(span.upper, choice.upper)
    else:
        assert "spanning the tails" in span.summary()
    fixed = fit_bon(100, bon.data.k, model="beta")
    assert fixed.plausible_models() == ("beta",)
    with pytest.raises(ArgumentError, match=r"`tails` = 'wide' must be 'choice' or 'span'"):
        bon.predict([1000], num_bootstrap=0, tails="wide")


def test_forecast_bootstrap_reuses_the_select_bootstrap_without_changing_a_number(small_fit, monkeypatch):
    """The select bootstrap's item resamples are the first resamples of a forecast bootstrap with
    the same seed, so their internal backtests are taken from the fit.  The forecast must be
    identical, bit for bit, to one that recomputes them (the cache dropped), and only the
    resamples beyond the select bootstrap's (here 40 - 20) may be backtested again."""
    from dataclasses import replace

    assert small_fit.select_cache is not None and small_fit.select_cache.errors.shape == (20, 3)
    seen = []
    real = F._bootstrap_internal
    monkeypatch.setattr(F, "_bootstrap_internal", lambda *a, **k: seen.append(len(a[5])) or real(*a, **k))
    cached = small_fit.predict_forecast([1000, 10_000], num_bootstrap=40, seed=small_fit.seed)
    assert seen == [20]
    seen.clear()
    fresh = replace(small_fit, select_cache=None).predict_forecast([1000, 10_000], num_bootstrap=40,
                                                                   seed=small_fit.seed)
    assert seen == [40]
    # the choice per replicate is an argmin of these errors: compare them, not only the forecasts
    mult = F.item_resamples(small_fit.data.size, 40, small_fit.seed)
    np.testing.assert_array_equal(
        small_fit._bootstrap_errors(mult, small_fit.seed),
        real(small_fit.candidates, small_fit.data, small_fit.fraction, small_fit.repeats, small_fit.seed, mult).error)
    for a in ("estimate", "lower", "upper"):
        np.testing.assert_array_equal(getattr(cached, a), getattr(fresh, a))
    assert cached.choice_share == fresh.choice_share
    # another seed draws other resamples: nothing is reused
    seen.clear()
    small_fit.predict_forecast([1000], num_bootstrap=25, seed=small_fit.seed + 1)
    assert seen == [25]
