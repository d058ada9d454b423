"""Best-of-N curves and estimators: METHODS.md §2.3, §2.5, §2.7, §2.8 (T2.3, T2.5, T2.7, T2.8)."""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import norm

from scalefit.errors import ArgumentError
from scalefit.sampling import (
    asr_asymptotic,
    asr_budget_exact,
    asr_conditional,
    asr_exact,
    asr_naive,
    beta_fail_asymptotic,
    coverage_power_law,
    fit_bon_power_law,
    fit_coverage_power_law,
    hughes_grid,
    neg_log_asr_exact,
    observed_asr,
    saber_anchored,
    saber_anchored_interval,
    saber_budget_anchored,
    saber_budget_plugin,
    saber_fit,
    saber_plugin,
    saber_plugin_interval,
    saber_predict,
    scaled_beta_failure,
    scaled_beta_failure_asymptote,
)

mp.mp.dps = 40

# (a, b, N, ASR exact, 1 - ASR exact, leading asymptote, corrected) -- METHODS.md T2.3
T2_3 = [
    (0.4, 4, 1, 0.0909090909, 0.9090909091, 1.6893503085, 0.9096630877),
    (0.4, 4, 10, 0.4070758739, 0.5929241261, 0.6725424714, 0.5929683163),
    (0.4, 4, 100, 0.7361192878, 0.2638807122, 0.2677439804, 0.2638810557),
    (0.4, 4, 1000, 0.8935665500, 0.1064334500, 0.1065907985, 0.1064334515),
    (0.4, 4, 10000, 0.9575717175, 0.04242828249, 0.04243456118, 0.04242828249),
    (1, 1, 100, 0.9900990099, 0.00990099010, 0.01, 0.00990099010),
    (0.16, 0.44, 1000, 0.7550576430, 0.2449423570, 0.2449431424, 0.2449423586),
    (0.81, 14.31, 1000, 0.9684656008, 0.03153439922, 0.03189700380, 0.03153439958),
]

K_T24 = np.array([0, 0, 0, 0, 0, 0, 1, 0, 2, 0, 0, 5, 0, 1, 0, 0, 12, 0, 3, 0, 0, 0, 7, 0, 0, 1, 0, 20, 0, 0])


def mp_fail(N, a, b):
    return mp.beta(a, mp.mpf(b) + N) / mp.beta(a, b)


def _rel(x, y):
    return abs(x - y) / abs(y)


def test_T2_3_exact_and_asymptotic_table():
    """T2.3: exact ASR, 1 - ASR, leading and N_eff-corrected asymptotes (1e-9 relative)."""
    a = np.array([r[0] for r in T2_3], float)
    b = np.array([r[1] for r in T2_3], float)
    N = np.array([r[2] for r in T2_3], float)
    asr = np.asarray(asr_exact(N, a, b))
    lead = np.asarray(beta_fail_asymptotic(N, a, b))
    corr = np.asarray(beta_fail_asymptotic(N, a, b, correction="neff"))
    for i, (aa, bb, NN, e_asr, e_fail, e_lead, e_corr) in enumerate(T2_3):
        ref = mp_fail(NN, aa, bb)
        assert _rel(asr[i], float(1 - ref)) < 1e-12  # mpmath oracle
        assert _rel(1 - asr[i], float(ref)) < 1e-12
        assert _rel(asr[i], e_asr) < 1e-9  # printed table
        assert _rel(1 - asr[i], e_fail) < 1e-9
        assert _rel(lead[i], e_lead) < 1e-9
        assert _rel(corr[i], e_corr) < 1e-9
        # oracle for the asymptotes
        pref = mp.gamma(mp.mpf(aa) + bb) / mp.gamma(bb)
        assert _rel(lead[i], float(pref * mp.mpf(NN) ** -aa)) < 1e-13
        w = mp.mpf(NN) + bb + (mp.mpf(aa) - 1) / 2
        assert _rel(corr[i], float(pref * w**-aa)) < 1e-13
    np.testing.assert_allclose(np.asarray(asr_asymptotic(N, a, b)), 1 - lead, rtol=1e-15)


def test_T2_3_second_order_correction_and_neg_log_asr():
    """T2.3: the Field term brings the error to O(w^-4); -log ASR(0.4, 4, 1000) = 0.1125344648;
    -log ASR stays relatively accurate when ASR -> 1 (N = 1e12)."""
    for aa, bb, NN in [(0.4, 4.0, 1000.0), (0.81, 14.31, 1000.0), (0.16, 0.44, 100.0)]:
        ref = float(mp_fail(NN, aa, bb))
        second = float(beta_fail_asymptotic(NN, aa, bb, correction="second_order"))
        first = float(beta_fail_asymptotic(NN, aa, bb, correction="neff"))
        assert abs(second - ref) < abs(first - ref)
        w = NN + bb + (aa - 1) / 2
        assert abs(second / ref - 1) < 10 * aa * (aa + 1) ** 4 / w**4
    assert float(neg_log_asr_exact(1000, 0.4, 4.0)) == pytest.approx(0.1125344648, rel=1e-9)
    ref = -mp.log(1 - mp_fail(mp.mpf(10) ** 12, 0.4, 4))
    assert float(neg_log_asr_exact(1e12, 0.4, 4.0)) == pytest.approx(float(ref), rel=1e-12)
    # naive -log(ASR) would be 0 or badly rounded there
    assert float(neg_log_asr_exact(1e12, 0.4, 4.0)) > 1e-6


def test_T2_3_unbreakable_mass():
    """T2.3 (SABER App. B.1.2): ASR@N = (1 - pi)(1 - F(N)) -> 1 - pi."""
    for NN in [1.0, 100.0, 1e6, 1e12]:
        ref = (1 - 0.2) * (1 - mp_fail(NN, 0.4, 4))
        assert float(asr_exact(NN, 0.4, 4.0, unbreakable=0.2)) == pytest.approx(float(ref), rel=1e-12)
        assert float(neg_log_asr_exact(NN, 0.4, 4.0, unbreakable=0.2)) == pytest.approx(float(-mp.log(ref)), rel=1e-12)
    assert float(asr_exact(1e300, 0.4, 4.0, unbreakable=0.2)) == pytest.approx(0.8, rel=1e-12)


def test_T2_3_scaled_beta_tails():
    """T2.3: scaled Beta failures (mpmath 2F1 oracle) and their asymptotes."""
    cases = [((1e4, 0.5, 2.0, 1.0), 1.32922409e-2, 1.32934039e-2), ((1e4, 0.3, 3.0, 0.5), 1.04210120e-1, 1.04224656e-1)]
    for (k, a, b, c), e_fail, e_asym in cases:
        got = scaled_beta_failure(k, a, b, c)
        oracle = float(mp.hyp2f1(-int(k), a, a + b, c))  # E[(1 - cU)^k], U ~ Beta(a, b)
        assert got == pytest.approx(oracle, rel=1e-10)
        assert got == pytest.approx(e_fail, rel=1e-8)
        assert float(scaled_beta_failure_asymptote(k, a, b, c)) == pytest.approx(e_asym, rel=1e-8)
    # scale = 1 reduces to the Beta failure B(a, b + k)/B(a, b)
    assert scaled_beta_failure(37.0, 0.7, 1.3) == pytest.approx(1 - float(asr_exact(37.0, 0.7, 1.3)), rel=1e-11)


def test_T2_3_errors():
    """T2.3: invalid parameters raise one-line ArgumentErrors."""
    with pytest.raises(ArgumentError, match=r"`a` = -0.4 must be finite and > 0"):
        asr_exact(10, -0.4, 4.0)
    with pytest.raises(ArgumentError, match=r"`N` = -1"):
        asr_exact(-1, 0.4, 4.0)
    with pytest.raises(ArgumentError, match=r"`unbreakable` = 1 is not a probability"):
        asr_exact(10, 0.4, 4.0, unbreakable=1.0)
    with pytest.raises(ArgumentError, match=r"`correction` = 'x'"):
        beta_fail_asymptotic(10, 0.4, 4.0, correction="x")


@settings(max_examples=60, deadline=None)
@given(
    a=st.floats(0.01, 20.0),
    b=st.floats(0.01, 200.0),
    pi=st.floats(0.0, 0.9),
    N1=st.floats(0.0, 1e8),
    N2=st.floats(0.0, 1e8),
)
def test_T2_3_property_asr_bounded_and_monotone(a, b, pi, N1, N2):
    """T2.3 property: 0 <= ASR@N <= 1 - pi, non-decreasing in N; -log ASR consistent with ASR."""
    lo, hi = sorted((N1, N2))
    v = np.asarray(asr_exact(np.array([lo, hi]), a, b, unbreakable=pi))
    assert 0.0 <= v[0] <= v[1] + 1e-15 <= 1.0 - pi + 1e-12
    nl = np.asarray(neg_log_asr_exact(np.array([lo, hi]), a, b, unbreakable=pi))
    ok = v > 1e-300
    np.testing.assert_allclose(np.exp(-nl[ok]), v[ok], rtol=1e-12)


# ---------------------------------------------------------------- T2.5 SABER


def test_T2_5_anchored_values_and_interval():
    """T2.5: anchored predictions and the Wald interval mapped through the anchored formula."""
    assert saber_anchored(1000, 100, 0.70, 0.4) == pytest.approx(0.880568, abs=1e-6)
    assert saber_anchored(1000, 100, 0.7316, 0.16) == pytest.approx(0.814313, abs=1e-6)
    assert saber_anchored(200, 50, 0.5, 1.0) == pytest.approx(0.875, abs=1e-12)
    # oracle: formula in plain Python
    assert saber_anchored(1000, 100, 0.7, 0.4) == pytest.approx(1 - 0.3 * 0.1**0.4, rel=1e-14)
    z = norm.ppf(0.975)
    iv = saber_anchored_interval(1000, 100, 0.70, 0.4, 0.05 / z)
    assert iv.lower == pytest.approx(0.865995, abs=1e-6)
    assert iv.upper == pytest.approx(0.893556, abs=1e-6)
    assert iv.lower < iv.estimate < iv.upper
    # for N < n the map is decreasing in a; endpoints are still sorted
    iv2 = saber_anchored_interval(50, 100, 0.70, 0.4, 0.1)
    assert iv2.lower <= iv2.estimate <= iv2.upper


def test_T2_5_anchored_small_n_corrections():
    """T2.5: 'beta' uses N_eff = N + b + (a-1)/2 on both n and N; 'reference' fixes b = 1 (microsoft/saber)."""
    a, b = 0.4, 4.0
    got_b = saber_anchored(30, 10, 0.5, a, b=b, correction="beta")
    sh = b + (a - 1) / 2
    assert got_b == pytest.approx(1 - 0.5 * ((10 + sh) / (30 + sh)) ** a, rel=1e-14)
    got_r = saber_anchored(30, 10, 0.5, a, correction="reference")
    sh1 = 1 + (a - 1) / 2
    assert got_r == pytest.approx(1 - 0.5 * ((10 + sh1) / (30 + sh1)) ** a, rel=1e-14)
    with pytest.raises(ArgumentError, match="`b` is required"):
        saber_anchored(30, 10, 0.5, a, correction="beta")
    # With the exact Beta curve as the anchor, the 'beta' correction tracks the truth better
    # than no correction at small n.
    anchor = float(asr_exact(10, a, b))
    truth = float(asr_exact(30, a, b))
    assert abs(saber_anchored(30, 10, anchor, a, b=b, correction="beta") - truth) < abs(
        saber_anchored(30, 10, anchor, a) - truth
    )


def test_T2_5_budgets_and_round_trip():
    """T2.5: anchored budget 8818.163, plug-in budget 6635.510, round trips to 1e-9; exact inverse."""
    Nt = saber_budget_anchored(0.95, 100, 0.7, 0.4)
    assert Nt == pytest.approx(8818.163, abs=1e-3)
    assert saber_anchored(Nt, 100, 0.7, 0.4) == pytest.approx(0.95, abs=1e-9)
    Np = saber_budget_plugin(0.95, 0.4, 4.0)
    assert Np == pytest.approx(6635.510, abs=1e-3)
    assert float(saber_plugin(Np, 0.4, 4.0)) == pytest.approx(0.95, abs=1e-9)
    # exact numeric inverse of the exact curve (with and without an unbreakable mass)
    for a, b, pi, tau in [(0.4, 4.0, 0.0, 0.95), (0.16, 0.44, 0.0, 0.5), (0.81, 14.31, 0.1, 0.85), (2.0, 3.0, 0.0, 1e-6)]:
        Ne = asr_budget_exact(tau, a, b, unbreakable=pi)
        assert float(asr_exact(Ne, a, b, unbreakable=pi)) == pytest.approx(tau, rel=1e-12)
    assert asr_budget_exact(0.95, 0.4, 4.0, unbreakable=0.1) == math.inf
    assert asr_budget_exact(0.0, 0.4, 4.0) == 0.0


def test_T2_5_plugin_standard_and_corrected():
    """T2.5: plug-in N = 1000, (0.4, 4): standard 0.893409202, corrected 0.893566549 (exact 0.893566550)."""
    assert float(saber_plugin(1000, 0.4, 4.0)) == pytest.approx(0.893409202, abs=1e-9)
    assert float(saber_plugin(1000, 0.4, 4.0, small_n_correction=True)) == pytest.approx(0.893566549, abs=1e-9)
    assert float(asr_exact(1000, 0.4, 4.0)) == pytest.approx(0.893566550, abs=1e-9)


def test_T2_5_plugin_delta_interval():
    """T2.5: delta-method plug-in interval equals a hand-computed delta method on log F."""
    cov = np.array([[0.03**2, 0.002], [0.002, 0.4**2]])
    est, lo, hi = saber_plugin_interval(1000, 0.4, 4.0, cov)
    # oracle gradient of log F = lgamma(a+b) - lgamma(b) - a log N (mpmath)
    ga = float(mp.digamma(4.4) - mp.log(1000))
    gb = float(mp.digamma(4.4) - mp.digamma(4.0))
    sd = math.sqrt(np.array([ga, gb]) @ cov @ np.array([ga, gb]))
    lf = math.log(1 - est)
    z = norm.ppf(0.975)
    assert lo == pytest.approx(1 - math.exp(lf + z * sd), rel=1e-10)
    assert hi == pytest.approx(1 - math.exp(lf - z * sd), rel=1e-10)


def test_T2_5_estimators_on_the_T2_4_dataset():
    """T2.5: on the T2.4 data (n = 20, ASR@n = 0.3): plug-in, anchored, population, conditional, naive."""
    pred = saber_predict(20, K_T24, [100, 1000])
    assert pred.asr_at_n == pytest.approx(0.3, abs=1e-15) and observed_asr(K_T24) == pytest.approx(0.3)
    expect = {
        "plugin": [0.381652, 0.491478],
        "anchored": [0.389424, 0.497870],
        "population": [0.381790, 0.491489],
        "conditional": [0.388878, 0.497320],
        "naive": [0.299407, 0.300000],
    }
    for name, vals in expect.items():
        np.testing.assert_allclose(getattr(pred, name), vals, atol=1e-6, err_msg=name)
    # conditional oracle with mpmath at the fitted (a, b)
    a, b = pred.fit.a, pred.fit.b
    for j, NN in enumerate([100, 1000]):
        ratio = mp.beta(a, b + NN) / mp.beta(a, b + 20)
        ref = 1 - np.mean(K_T24 == 0) * float(ratio)
        assert pred.conditional[j] == pytest.approx(ref, rel=1e-12)
    lo, hi = pred.anchored_interval.lower, pred.anchored_interval.upper
    assert np.all(lo < pred.anchored) and np.all(pred.anchored < hi)


def test_T2_5_conditional_estimator_simulation():
    """T2.5: K = 400,000 prompts from Beta(0.4, 4), n = 100, N = 1000: |realised - conditional| <= 0.002."""
    rng = np.random.default_rng(2601)
    K, n, N, a, b = 400_000, 100, 1000, 0.4, 4.0
    p = rng.beta(a, b, size=K)
    k = rng.binomial(n, p)
    # remaining N - n attempts: broken iff some success among them
    broken_later = rng.random(K) < -np.expm1((N - n) * np.log1p(-p))
    realised = float(np.mean((k > 0) | broken_later))
    cond = asr_conditional(N, n, k, a, b)
    assert abs(realised - cond) <= 0.002
    assert realised == pytest.approx(0.8945, abs=0.002)
    assert cond == pytest.approx(0.89378, abs=0.002)
    assert saber_anchored(N, n, observed_asr(k), a) == pytest.approx(0.89516, abs=0.002)
    assert float(asr_exact(N, a, b)) == pytest.approx(0.89357, abs=1e-5)


def test_T2_5_conditional_heterogeneous_budgets_and_errors():
    """T2.5: per-item budgets n_i are used exactly; N < max n_i is rejected."""
    n = np.array([5, 10, 10, 40])
    k = np.array([0, 0, 3, 0])
    a, b = 0.5, 2.0
    got = asr_conditional(100, n, k, a, b)
    ref = 1 - sum(float(mp.beta(a, b + 100) / mp.beta(a, b + ni)) for ni, ki in zip(n, k) if ki == 0) / 4
    assert got == pytest.approx(ref, rel=1e-12)
    with pytest.raises(ArgumentError, match=r"`N` = 20 is below the largest observed budget max n_i = 40"):
        asr_conditional(20, n, k, a, b)
    # naive baseline oracle
    assert asr_naive(100, n, k) == pytest.approx(np.mean(1 - (1 - k / n) ** 100), rel=1e-14)


def test_T2_5_curve_fit_bias_check():
    """T2.5: OLS on the Hughes grid from N = 6: b = 0.44181, a = 2.41260 for Beta(0.4, 4)
    (not alpha = 0.4, Gamma(4.4)/Gamma(4) = 1.68935); b = 0.19761 for Beta(0.16, 0.44)."""
    N = hughes_grid(8000)
    law = fit_bon_power_law(N, np.asarray(asr_exact(N, 0.4, 4.0)), skip_first=5)
    assert law.exponent == pytest.approx(0.44181, abs=1e-4)
    assert law.prefactor == pytest.approx(2.41260, abs=1e-4)
    law2 = fit_bon_power_law(N, np.asarray(asr_exact(N, 0.16, 0.44)), skip_first=5)
    assert law2.exponent == pytest.approx(0.19761, abs=1e-4)
    # oracle: numpy polyfit on the same points
    x = np.log(N[5:])
    y = np.log(np.asarray(neg_log_asr_exact(N[5:], 0.4, 4.0)))
    slope, icpt = np.polyfit(x, y, 1)
    assert law.exponent == pytest.approx(-slope, rel=1e-10)


def test_T2_5_saber_fit_matches_reference_recipe():
    """T2.5: SABER-Fit = weighted polyfit (w = 1/m) of log(-log ASR@m) on the reference grid."""
    from math import comb

    rng = np.random.default_rng(4)
    n = 100
    k = rng.binomial(n, rng.beta(0.4, 4.0, size=3000))
    law = saber_fit(n, k)
    gap = max(1, (n - 5) // 30)
    m = np.arange(5, n, gap)
    asr_m = np.array([1 - np.mean([comb(n - kk, mm) / comb(n, mm) for kk in k]) for mm in m])
    slope, icpt = np.polyfit(np.log(m), np.log(-np.log(asr_m)), 1, w=1 / m)
    assert law.exponent == pytest.approx(-slope, rel=1e-9)
    assert law.prefactor == pytest.approx(math.exp(icpt), rel=1e-9)


def test_T2_8_bon_power_law_recovery():
    """T2.8: exact ASR = exp(-3 N^-0.3) on the grid -> (a, b) = (3, 0.3) to 1e-10; ASR@1000 = 0.685451."""
    N = hughes_grid(8000)
    assert N.tolist()[:12] == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 20, 30] and N[-1] == 8000 and N.size == 35
    law = fit_bon_power_law(N, np.exp(-3.0 * N**-0.3))
    assert law.prefactor == pytest.approx(3.0, rel=1e-10)
    assert law.exponent == pytest.approx(0.3, rel=1e-10)
    assert float(law.asr(1000)) == pytest.approx(0.685451, abs=1e-6)
    # Hughes et al.'s eps = 1e-5 biases the fit slightly
    law_eps = fit_bon_power_law(N, np.exp(-3.0 * N**-0.3), eps=1e-5)
    assert 1e-7 < abs(law_eps.exponent - 0.3) < 1e-3
    with pytest.warns(RuntimeWarning, match="dropped 1 point"):
        fit_bon_power_law(N, np.where(N == 8000, 1.0, np.exp(-3.0 * N**-0.3)))


def test_T2_7_coverage_power_law():
    """T2.7: a = -2, b = -0.3: c(1) = 0.135335, c(10) = 0.367007, c(100) = 0.605090, c(1e4) = 0.881446."""
    k = np.array([1, 10, 100, 10_000])
    np.testing.assert_allclose(coverage_power_law(k, -2.0, -0.3), [0.135335, 0.367007, 0.605090, 0.881446], atol=1e-6)
    kk = np.unique(np.round(np.logspace(0, 4, 40)))
    law = fit_coverage_power_law(kk, coverage_power_law(kk, -2.0, -0.3))
    assert law.monkeys_params == pytest.approx((-2.0, -0.3), rel=1e-10)
    np.testing.assert_allclose(law.asr(k), coverage_power_law(k, -2.0, -0.3), rtol=1e-12)
