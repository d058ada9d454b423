"""Sample-until-success logs (METHODS.md §3.1, §4.3): exact likelihoods with batch granularity,
and ASR@N from such logs without stopping-rule bias; real data: the Best-of-N jailbreak log
(ASR@60 = 0.667, ASR@600 = 0.962, ASR@1020 = 0.975 per SOURCE.md)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import special as sp

from scalefit.errors import ArgumentError
from scalefit.sampling import (
    asr_from_log,
    beta_binomial_moments,
    fit_mixing,
    item_data,
    mean_pass_at_k,
    until_success_items,
)
from scalefit.sampling import models as M


def _simulate_until_success(p, batch, cap, rng):
    """Batches of ``batch`` attempts until the batch holding the first success (or ``cap``)."""
    K = p.size
    n = np.zeros(K, np.int64)
    k = np.zeros(K, np.int64)
    first = np.full(K, np.nan)
    active = np.ones(K, bool)
    while active.any():
        idx = np.flatnonzero(active)
        draws = rng.random((idx.size, batch)) < p[idx, None]
        hits = draws.any(axis=1)
        pos = np.argmax(draws, axis=1) + 1
        first[idx[hits]] = n[idx[hits]] + pos[hits]
        k[idx] += draws.sum(axis=1)
        n[idx] += batch
        active[idx] = ~hits & (n[idx] < cap)
    return pd.DataFrame({"item": np.arange(K), "n": n, "k": k, "first_success": first,
                         "batch_size": batch, "cap": cap, "censored": np.isnan(first)})


@pytest.fixture(scope="module")
def simulated_log():
    rng = np.random.default_rng(2024)
    p = rng.beta(0.4, 20.0, size=3000)
    return _simulate_until_success(p, 60, 1200, rng), p


def test_stopping_rule_is_ignorable_for_every_likelihood(simulated_log):
    """Batches of 60, stop after the batch with the first success, cap 1,200; truth Beta(0.4, 20).
    The MLE recovers (a, b) with every likelihood (within ~3 SE); the moment estimator on the same
    counts, which treats n_i as fixed, is far off."""
    counts, _ = simulated_log
    for lik in ("attempts", "first_success", "batch"):
        fit = fit_mixing(until_success_items(counts, lik), model="beta", prior=False)
        assert fit.converged, (lik, fit.message)
        assert fit.params["a"] == pytest.approx(0.4, rel=0.15), (lik, fit.params)
        assert fit.params["b"] == pytest.approx(20.0, rel=0.3), (lik, fit.params)
    mom = beta_binomial_moments(counts["n"], counts["k"])
    assert not (abs(mom.a / 0.4 - 1) < 0.3 and abs(mom.b / 20 - 1) < 0.3), mom


def test_chen_estimator_is_biased_on_until_success_counts_but_the_log_is_exact(simulated_log):
    """ASR@60 from Chen's estimator on the stopped counts is biased; asr_from_log is exact."""
    counts, p = simulated_log
    exact_60 = float(np.mean(counts["first_success"] <= 60))
    chen_60 = float(mean_pass_at_k(counts["n"].to_numpy(), counts["k"].to_numpy(), 60))
    assert abs(chen_60 - exact_60) > 0.02
    tab = asr_from_log(counts, [60, 600])
    assert tab["exact"].all()
    assert tab["estimate"].iloc[0] == pytest.approx(exact_60, abs=0)
    # and it estimates the population rate without bias
    pop_600 = float(np.mean(1 - (1 - p) ** 600))
    assert tab["estimate"].iloc[1] == pytest.approx(pop_600, abs=0.02)


def test_batch_interval_row_is_the_difference_of_two_failure_curves():
    """A batch-censored item (no success in L attempts, at least one in the next B) has likelihood
    E[(1-p)^L] - E[(1-p)^(L+B)] = [B(a, b+L) - B(a, b+L+B)] / B(a, b)."""
    a, b, L, B = 0.5, 9.0, 120, 60
    data = item_data([L], [0], extra=[B])
    theta = M._natural_to_theta("beta", {"a": a, "b": b})
    got = M._log_obs("beta", theta[None, :], data)[0, 0]
    want = np.log(np.exp(sp.betaln(a, b + L) - sp.betaln(a, b)) - np.exp(sp.betaln(a, b + L + B) - sp.betaln(a, b)))
    assert got == pytest.approx(want, rel=1e-12)


@pytest.mark.parametrize("lik", ["attempts", "first_success", "batch"])
def test_default_forecast_on_a_stopped_log(simulated_log, lik):
    """The default model (internal backtest on each item's first attempts) fitted to a stopped
    log forecasts the continued ASR@N of the same items; truth: the simulated p (N = 3,000 is
    beyond the cap of 1,200, so censored items carry the forecast)."""
    from scalefit.sampling import fit_bon

    counts, p = simulated_log
    data = until_success_items(counts, lik)
    if lik == "batch":  # the full default once (internal backtest on the first attempts)
        bon = fit_bon(data, select_bootstrap=0)
        assert bon.model in bon.candidates and "first" in bon.reason
    else:
        bon = fit_bon(data, model="beta")
    broken = counts["first_success"].notna().to_numpy()
    expected = np.mean(np.where(broken, 1.0, 1 - (1 - p) ** (3000 - 1200)))
    got = bon.predict_forecast([3000], target="continued", num_bootstrap=0).estimate[0]
    assert got == pytest.approx(expected, abs=0.015)
    # below the cap the log decides: exact
    np.testing.assert_allclose(bon.predict_forecast([600], target="continued", num_bootstrap=0).estimate[0],
                               np.mean(counts["first_success"] <= 600), atol=1e-12)


def test_until_success_items_encodings():
    c = pd.DataFrame({"item": [0, 1, 2], "n": [120, 60, 180], "k": [2, 1, 0], "first_success": [75.0, 3.0, np.nan],
                      "batch_size": 60, "cap": 180, "censored": [False, False, True]})
    d = until_success_items(c, "attempts")
    assert d.n.tolist() == [120, 60, 180] and d.k.tolist() == [2, 1, 0]
    d = until_success_items(c, "first_success")
    assert d.n.tolist() == [75, 3, 180] and d.k.tolist() == [1, 1, 0]
    d = until_success_items(c, "batch")
    assert d.n.tolist() == [60, 0, 180] and d.extra.tolist() == [60, 60, 0] and d.k.tolist() == [0, 0, 0]
    with pytest.raises(ArgumentError, match=r"`likelihood` = 'geometric' is not one of"):
        until_success_items(c, "geometric")
    with pytest.raises(ArgumentError, match=r"`counts` lacks the sample-until-success column"):
        until_success_items(c.drop(columns=["cap"]))


def test_asr_from_log_model_part_for_censored_items():
    """Items censored before N are undetermined by the log: bounds, and the model's conditional
    probability in the estimate."""
    c = pd.DataFrame({"item": [0, 1, 2, 3], "n": [60, 120, 120, 120], "k": [1, 2, 0, 0],
                      "first_success": [30.0, 61.0, np.nan, np.nan], "batch_size": 60, "cap": 120,
                      "censored": [False, False, True, True]})
    tab = asr_from_log(c, [120, 600])
    assert tab["exact"].tolist() == [True, False]
    assert tab["lower"].iloc[1] == 0.5 and tab["upper"].iloc[1] == 1.0 and np.isnan(tab["estimate"].iloc[1])
    fit = fit_mixing(until_success_items(c), model="beta")
    tab = asr_from_log(c, [600], fit=fit)
    p_more = fit.solve_probabilities(item_data([120], [0]), 600, target="continued")[0]
    assert tab["estimate"].iloc[0] == pytest.approx((2 + 2 * p_more) / 4, rel=1e-12)


@pytest.mark.shared_data
def test_jailbreak_log_exact_asr_and_likelihoods_agree(shared_data):
    """Real data: ASR@60/600/1020 from the log are 0.667/0.962/0.975 (SOURCE.md).

    The three exact likelihoods agree on simulated data (above) but not on this log: using every
    recorded attempt gives a = 0.76, the first-success attempt alone 1.06 and the batch alone
    0.99.  The successes that follow the first one inside the final batch are more frequent than
    a constant per-item p allows (attempts within an item are not exchangeable here), which is
    why the forecasts use only the fully observed first batch by default (backtest --first)."""
    from scalefit.io import load_attempts

    path = shared_data / "repeated_sampling" / "bon_llama3_8b_instruct_attempts.jsonl"
    counts = load_attempts(path, "until_success", item="i", attempt="n", success="flagged", batch_size=60, cap=10_020)
    tab = asr_from_log(counts, [60, 600, 1020, 6000])
    assert tab["exact"].all()
    np.testing.assert_allclose(tab["estimate"], [0.667, 0.962, 0.975, 1.0], atol=5e-4)
    a = {lik: fit_mixing(until_success_items(counts, lik), model="beta").params["a"]
         for lik in ("attempts", "first_success", "batch")}
    assert 0.6 < a["attempts"] < 0.9, a
    assert 0.85 < a["first_success"] < 1.25 and 0.85 < a["batch"] < 1.25, a
    assert a["first_success"] / a["attempts"] > 1.2, a
