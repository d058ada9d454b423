"""Bayesian Beta-Binomial models (METHODS.md §4.2–4.4, §4.6 T4a, T4d) and the hierarchical
best-of-N model on real Large Language Monkeys counts."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import scalefit
from scalefit.bayes import (
    BetaBinomialPosterior,
    Prior,
    beta_binomial_mode,
    fit_beta_binomial_bayes,
    fit_hierarchical_beta_binomial,
)
from scalefit.bayes.betabinom import _bb_ll, _population_budget
from scalefit.errors import ArgumentError
from scalefit.sampling import asr_budget_exact, asr_exact, beta_binomial_logpmf, fit_beta_binomial

scalefit.enable_x64()

K_T24 = [0, 0, 0, 0, 0, 0, 1, 0, 2, 0, 0, 5, 0, 1, 0, 0, 12, 0, 3, 0, 0, 0, 7, 0, 0, 1, 0, 20, 0, 0]
FLAT_BOX = {"alpha": Prior.uniform(-7.0, 2.0, transform="exp"), "beta": Prior.uniform(-5.0, 6.0, transform="exp")}
# T4d sampler settings: 4 chains x 6000 draws keeps the Monte Carlo error of the medians well
# inside the ±0.01 tolerance (the spec asks for >= 4000 draws).
T4D = dict(num_warmup=1000, num_samples=6000, num_chains=4, chain_method="sequential", seed=3)


def test_T4a_flat_prior_limit_mode_equals_mle():
    """T4a: with every prior scale x100 the posterior mode (unconstrained space) is the MLE."""
    wide = beta_binomial_mode(20, K_T24, prior_scale=100.0)
    assert wide["converged"]
    assert wide["alpha"] == pytest.approx(0.0849230, rel=1e-3)
    assert wide["beta"] == pytest.approx(0.7203298, rel=1e-3)
    off = beta_binomial_mode(20, K_T24, include_prior=False)
    mle = fit_beta_binomial(20, K_T24)
    assert off["alpha"] == pytest.approx(mle.a, rel=1e-6) and off["beta"] == pytest.approx(mle.b, rel=1e-6)
    # the default priors do move the mode (so the x100 check is not vacuous)
    default = beta_binomial_mode(20, K_T24)
    assert abs(default["alpha"] / mle.a - 1) > 0.02


def test_model_log_pmf_agrees_with_the_cancellation_free_reference():
    rng = np.random.default_rng(0)
    n = np.concatenate([np.full(30, 20.0), rng.integers(1, 100_000, 200).astype(float)])
    k = np.floor(rng.random(n.size) * (n + 1))
    a = rng.uniform(0.01, 5, n.size)
    b = rng.uniform(0.05, 50, n.size)
    got = np.asarray(_bb_ll(k, n, a, b))
    ref = np.asarray(beta_binomial_logpmf(k, n, a, b))
    np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-9)


@pytest.fixture(scope="module")
def t4d_default():
    return fit_beta_binomial_bayes(20, K_T24, **T4D)


def test_T4d_default_priors_match_grid_integration(t4d_default):
    post = t4d_default
    assert post.converged, post.status
    assert post.diagnostics.divergences == 0
    assert np.median(post.draws("alpha")) == pytest.approx(0.109, abs=0.01)
    assert np.median(post.draws("beta")) == pytest.approx(0.945, abs=0.01)
    cond = post.asr(1000, kind="conditional").iloc[0]
    assert (cond["q05"], cond["median"], cond["q95"]) == pytest.approx((0.442, 0.543, 0.672), abs=0.015)
    pop = post.asr(1000, kind="population").iloc[0]
    assert (pop["q05"], pop["median"], pop["q95"]) == pytest.approx((0.379, 0.563, 0.743), abs=0.015)


def test_T4d_flat_prior_on_log_scale():
    post = fit_beta_binomial_bayes(20, K_T24, priors=FLAT_BOX, **T4D)
    assert post.converged, post.status
    assert "log_alpha" in post.idata.posterior and "alpha" in post.idata.posterior
    assert np.median(post.draws("alpha")) == pytest.approx(0.0793, abs=0.01)
    cond = post.asr(1000, kind="conditional").iloc[0]
    assert (cond["q05"], cond["median"], cond["q95"]) == pytest.approx((0.393, 0.486, 0.618), abs=0.015)


def test_derived_quantities_per_draw(t4d_default):
    post = t4d_default
    a, b = post.draws("alpha")[:50], post.draws("beta")[:50]
    # population ASR per draw equals the exact curve
    from scalefit.bayes.betabinom import _population_asr

    np.testing.assert_allclose(_population_asr(a, b, np.zeros(50), np.array([1000.0]))[:, 0],
                               np.asarray(asr_exact(1000, a, b)), rtol=1e-12)
    # per-draw budgets invert the exact curve (and agree with the scalar reference)
    N = _population_budget(0.9, a, b, np.zeros(50))
    np.testing.assert_allclose(np.asarray(asr_exact(N, a, b)), 0.9, rtol=1e-9)
    assert N[0] == pytest.approx(asr_budget_exact(0.9, float(a[0]), float(b[0])), rel=1e-8)
    bud = post.budget([0.6, 0.8], kind="conditional")
    assert list(bud["tau"]) == [0.6, 0.8] and (bud["median"].diff().iloc[1] > 0)
    # the protocol's columns beside the quantiles: estimate = median, lower/upper = 90% ends
    np.testing.assert_array_equal(bud["estimate"], bud["median"])
    np.testing.assert_array_equal(bud[["lower", "upper"]].to_numpy(), bud[["q05", "q95"]].to_numpy())
    # the conditional curve at the median budget is about tau; the already reached target is n
    assert post.budget(0.25, kind="conditional")["median"].iloc[0] == 20.0
    with pytest.raises(ArgumentError, match="below the largest observed budget"):
        post.asr(10, kind="conditional")
    fin = post.asr([100, 1000], kind="finite", num_prompts=30)
    assert fin["median"].is_monotonic_increasing


def test_posterior_json_round_trip(t4d_default, tmp_path):
    path = tmp_path / "bb.json"
    t4d_default.to_json(path)
    with pytest.raises(ArgumentError, match="already exists"):
        t4d_default.to_json(path)
    back = BetaBinomialPosterior.from_json(path)
    np.testing.assert_array_equal(back.draws("alpha"), t4d_default.draws("alpha"))
    pd.testing.assert_frame_equal(back.asr(1000), t4d_default.asr(1000))
    np.testing.assert_allclose(back.idata.log_likelihood["k"].values, t4d_default.idata.log_likelihood["k"].values)
    assert back.converged == t4d_default.converged
    assert scalefit.bayes.load_posterior(path).FORMAT == BetaBinomialPosterior.FORMAT


def test_unbreakable_mass_is_recovered():
    rng = np.random.default_rng(4)
    K, n, pi = 300, 30, 0.3
    p = rng.beta(0.6, 3.0, K)
    p[rng.random(K) < pi] = 0.0
    k = rng.binomial(n, p)
    post = fit_beta_binomial_bayes(n, k, unbreakable=True, num_warmup=300, num_samples=300, num_chains=2,
                                   chain_method="sequential", seed=1, target_accept=0.9)
    lo, hi = np.quantile(post.draws("pi"), [0.05, 0.95])
    assert lo < pi < hi
    # ASR can never exceed the breakable fraction
    assert post.asr(1e6, kind="population")["q95"].iloc[0] < 1 - lo + 1e-9


@pytest.mark.shared_data
def test_hierarchical_best_of_n_on_large_language_monkeys(shared_data):
    """Pythia models on MATH (groups): fit 1,000 of the 10,000 samples per problem, predict
    coverage at 10,000 (10x) per model with credible intervals, and pool through the population
    prior.

    Measured (seed 0): medians 0.720 / 0.594 / 0.815 / 0.263 for 1B / 410M / 6.9B / 70M against
    realised 0.742 / 0.656 / 0.836 / 0.266; three of four 90% intervals cover.  The Beta tail
    under-predicts these MATH curves (Schaeffer et al. find the per-problem distribution is not
    always Beta): from 100 samples (100x) the medians fall 0.05–0.16 short.  So this real-data test
    checks accuracy at 10x, not calibration (calibration is tested on simulated data).

    With only four groups the population scales τ are weakly identified (their posterior reaches
    down to 0): at this run length their ESS can fall short of 400 and the fit then reports it.
    The per-group parameters, which carry the predictions, are held to the §4.5 thresholds."""
    from scalefit.io import subsample_counts

    raw = pd.read_csv(shared_data / "repeated_sampling" / "pythia_math_final_counts.csv")
    counts = raw.rename(columns={"n_samples": "n", "n_correct": "k", "problem_idx": "item"})
    small = subsample_counts(counts[["model", "item", "n", "k"]], 1000, seed=0)
    truth = counts.groupby("model")["k"].apply(lambda s: float(np.mean(s > 0)))
    # target_accept 0.99: the tau funnel gave 2, 0, 0 divergences at the default 0.95 (seeds 0-2; 7 on
    # another machine) and 0, 0, 0 at 0.99, with group ESS >= 730 (1.8x the 400 threshold)
    post = fit_hierarchical_beta_binomial(small, ["model"], num_warmup=500, num_samples=1500, num_chains=2,
                                          chain_method="sequential", seed=0, target_accept=0.99)
    tab = post.diagnostics.table
    groups = tab.loc[[i for i in tab.index if i.startswith(("alpha[", "beta["))]]
    assert len(groups) == 8 and (groups["r_hat"] <= 1.01).all()
    assert (groups[["ess_bulk", "ess_tail"]] >= 400).all().all()
    assert {"mu_log_alpha", "tau_log_alpha", "tau_log_beta"} <= set(tab.index)  # gated too
    # no divergence in 3 seeds at this setting; a few would be reported in the status, not hidden
    assert post.diagnostics.divergences <= 2 or "divergent" in post.diagnostics.status
    asr = post.asr(10_000, kind="conditional", levels=(0.9,))
    assert list(asr["group"]) == list(post.groups) + ["all"]
    covered = 0
    for _, row in asr.iloc[:-1].iterrows():
        t = truth[row["group"]]
        assert abs(row["median"] - t) <= 0.08, (row["group"], t, row.to_dict())
        covered += row["q05"] <= t <= row["q95"]
    assert covered >= 3
    pooled = post.asr(10_000, kind="population")
    assert pooled["group"].iloc[-1] == "pooled (new group)"
    # the pooled (new group) interval is wider than any single group's
    widths = pooled["q95"] - pooled["q05"]
    assert widths.iloc[-1] > widths.iloc[:-1].max()
    bud = post.budget(0.5)
    assert len(bud) == len(post.groups) + 1 and (bud["median"] > 0).all()
    back = type(post).from_json(post.to_json())
    np.testing.assert_array_equal(back.draws("alpha"), post.draws("alpha"))


def test_input_errors():
    with pytest.raises(ArgumentError, match="`k` = 21 exceeds|cannot|exceed"):
        fit_beta_binomial_bayes(20, [0, 21])
    with pytest.raises(ArgumentError, match="unknown parameters"):
        fit_beta_binomial_bayes(20, K_T24, priors={"gamma": Prior.normal(0, 1)})
    df = pd.DataFrame({"model": ["a"] * 3, "n": [5, 5, 5], "k": [0, 1, 2]})
    with pytest.raises(ArgumentError, match="a hierarchy needs at least 2"):
        fit_hierarchical_beta_binomial(df, ["model"])
    with pytest.raises(ArgumentError, match=r"lacks columns \['attack'\]"):
        fit_hierarchical_beta_binomial(df, ["model", "attack"])
    assert math.isfinite(asr_exact(10, 0.5, 2.0))
