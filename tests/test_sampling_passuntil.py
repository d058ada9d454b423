"""PassUntil estimators and task laws: METHODS.md §3 (T3.1, T3.2a-b) and §3.3 curvature test."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy import stats

from scalefit.errors import ArgumentError
from scalefit.sampling import (
    PassUntilBiasWarning,
    curvature_test,
    fit_instance_laws,
    fit_task_law,
    passuntil_censored_upper,
    passuntil_estimate,
    passuntil_interval,
    passuntil_loglog,
    passuntil_mle_bias,
    task_law_log_pu,
    task_law_loglog,
    task_law_pu,
)


def test_T3_1_mle_bias_factors():
    """T3.1: E[1/K]/P for r = 1 at P = 1e-2..1e-5 is 4.652, 6.915, 9.211, 11.513."""
    for P, factor in [(1e-2, 4.652), (1e-3, 6.915), (1e-4, 9.211), (1e-5, 11.513)]:
        assert passuntil_mle_bias(P) == pytest.approx(factor, abs=5e-4)
    # oracle: direct summation of E[1/K] = sum_K P (1-P)^(K-1) / K
    for P in [1e-2, 1e-3, 1e-4]:
        K = np.arange(1, int(40 / P))
        ref = np.sum(np.exp((K - 1) * np.log1p(-P)) / K)
        assert passuntil_mle_bias(P) == pytest.approx(float(ref), rel=1e-10)
    # r = 2 closed form (derived from the pgf): E[2/K]/P = 2 + 2P(log P + q)/q^2
    for P in [1e-2, 1e-3, 1e-4]:
        q = 1 - P
        assert passuntil_mle_bias(P, r=2) == pytest.approx(2 + 2 * P * (math.log(P) + q) / q**2, rel=1e-9)


def test_T3_1_mvue_simulation():
    """T3.1: at P = 1e-3, mean r/K = 1.99e-3 (r = 2) and 1.25e-3 (r = 5); mean MVUE = 1.000e-3."""
    rng = np.random.default_rng(310)
    P = 1e-3
    for r, mle_mean in [(2, 1.99e-3), (5, 1.25e-3)]:
        K = r + rng.negative_binomial(r, P, size=400_000)
        mvue = passuntil_estimate(r, K)  # default: MVUE for r >= 2
        mle = passuntil_estimate(r, K, method="mle")
        se = mvue.std() / math.sqrt(K.size)
        assert abs(mvue.mean() - P) < 4 * se
        assert mle.mean() == pytest.approx(mle_mean, rel=0.01)
        assert mle.mean() / P == pytest.approx(passuntil_mle_bias(P, r), rel=0.01)


def test_T3_1_exact_intervals_and_censored_bound():
    """T3.1: r = 2, K = 1000 -> [2.42301e-4, 5.56448e-3]; r = 1, K = 500 -> [5.06343e-5, 7.36529e-3];
    censored r' = 0, K_max = 1e5 -> 2.99569e-5 = 1 - 0.05^(1/1e5)."""
    iv = passuntil_interval(2, 1000)
    assert iv.lower == pytest.approx(2.42301e-4, rel=1e-5)
    assert iv.upper == pytest.approx(5.56448e-3, rel=1e-5)
    iv1 = passuntil_interval(1, 500)
    assert iv1.lower == pytest.approx(5.06343e-5, rel=1e-5)
    assert iv1.upper == pytest.approx(7.36529e-3, rel=1e-5)
    # oracles: scipy beta quantiles; r = 1 lower bound has the closed form 1 - (1 - a/2)^(1/K)
    assert iv.lower == pytest.approx(stats.beta.ppf(0.025, 2, 999), rel=1e-12)
    assert iv.upper == pytest.approx(stats.beta.ppf(0.975, 2, 998), rel=1e-12)
    assert iv1.lower == pytest.approx(1 - 0.975 ** (1 / 500), rel=1e-10)
    ub = passuntil_censored_upper(0, 100_000)
    assert ub == pytest.approx(2.99569e-5, rel=1e-5)
    assert ub == pytest.approx(-math.expm1(math.log(0.05) / 1e5), rel=1e-12)
    assert passuntil_interval(3, 3).upper == 1.0


def test_T3_1_interval_coverage():
    """T3.1: coverage at P = 0.003, r = 2 is >= 0.95 (conservative): exact sum and simulation."""
    P, r = 0.003, 2
    K = np.arange(r, 20_000)
    pmf = stats.nbinom.pmf(K - r, r, P)
    iv = passuntil_interval(r, K)
    exact_cov = float(np.sum(pmf[(iv.lower <= P) & (P <= iv.upper)]))
    assert 0.95 <= exact_cov < 0.975
    rng = np.random.default_rng(9)
    Ks = r + rng.negative_binomial(r, P, size=20_000)
    ivs = passuntil_interval(r, Ks)
    sim_cov = float(np.mean((ivs.lower <= P) & (P <= ivs.upper)))
    assert sim_cov == pytest.approx(0.950, abs=0.006)


def test_T3_1_estimates_errors_and_warning():
    """T3.1: MVUE needs r >= 2; censored runs use r'/K_max; r = 1 on the log(-log) scale warns."""
    assert passuntil_estimate(2, 1001) == pytest.approx(1e-3, rel=1e-14)
    assert passuntil_estimate(1, 500) == pytest.approx(1 / 500)
    assert passuntil_estimate(0, 100_000, censored=True) == 0.0
    assert passuntil_estimate(1, 100_000, censored=True) == pytest.approx(1e-5)
    with pytest.raises(ArgumentError, match=r"`r` = 1: the MVUE \(r-1\)/\(K-1\) needs r >= 2"):
        passuntil_estimate(1, 500, method="mvue")
    with pytest.raises(ArgumentError, match=r"`r` = 0: a completed PassUntil run has r >= 1"):
        passuntil_estimate(0, 500)
    with pytest.raises(ArgumentError, match=r"`r` = 7 exceeds `K` = 5"):
        passuntil_estimate(7, 5)
    with pytest.warns(PassUntilBiasWarning):
        passuntil_loglog(1, 500)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        F = passuntil_loglog(2, 1001)
    assert F == pytest.approx(math.log(-math.log(1e-3)), rel=1e-12)


def test_T3_2a_task_law_values():
    """T3.2a: c = 100, alpha = 0.5, N = 1e8 -> PU = 0.990049834, F = log(0.01) = -4.605170186."""
    assert task_law_pu(1e8, 100.0, 0.5) == pytest.approx(0.990049834, abs=1e-9)
    assert task_law_loglog(1e8, 100.0, 0.5) == pytest.approx(-4.605170186, abs=1e-9)
    assert task_law_log_pu(1e8, 100.0, 0.5) == pytest.approx(-0.01, rel=1e-14)
    assert task_law_loglog(1e8, 100.0, 0.5) == pytest.approx(math.log(0.01), rel=1e-14)


def test_T3_2b_headline_arithmetic():
    """T3.2b: |0.05987 - 0.05990| / 0.05990 = 5.008e-4 (Hu et al.'s "0.05% deviation")."""
    rel = abs(0.05987 - 0.05990) / 0.05990
    assert rel == pytest.approx(5.008e-4, rel=1e-3)
    assert rel < 0.0005 + 1e-6  # rounds to the quoted 0.05%


def _simulate_instances(rng, S=40, sizes=(1e7, 3e7, 1e8, 3e8, 1e9), r=2, K_max=100_000):
    """Instance laws PU_s = exp(-c_s N^-alpha_s) observed by PassUntil with censoring at K_max."""
    # p ranges from ~1e-4 (smallest N) to ~0.1 (largest), where PassUntil is meant to be used
    log_c = rng.normal(7.0, 0.3, size=S)
    alpha = rng.normal(0.3, 0.04, size=S)
    rows = []
    for s in range(S):
        for N in sizes:
            p = math.exp(-math.exp(log_c[s] - alpha[s] * math.log(N)))
            K = r + rng.negative_binomial(r, p) if p > 0 else K_max + 1
            if K > K_max:
                # censored: passes among K_max draws
                rows.append((s, N, int(rng.binomial(K_max, p)) if p > 0 else 0, K_max, True))
            else:
                rows.append((s, N, r, int(K), False))
    inst, N, rr, KK, cens = (np.array(v) for v in zip(*rows))
    rr = np.minimum(rr, r)
    return log_c, alpha, inst, N.astype(float), rr, KK, cens


def test_T3_2_instance_level_fit_and_prediction_interval():
    """T3.2: instance-level likelihood fit recovers the instance laws and predicts the task PU at a
    larger size inside a seeded bootstrap interval; OLS and likelihood agree roughly."""
    rng = np.random.default_rng(32)
    log_c, alpha, inst, N, r, K, cens = _simulate_instances(rng)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        fit = fit_instance_laws(N, r, K, inst)
        fit_ols = fit_instance_laws(N, r, K, inst, censored=cens, method="ols")
    assert fit.identified.mean() > 0.8
    ok = fit.identified
    assert np.median(np.abs(fit.alpha[ok] - alpha[ok])) < 0.06
    N_star = 2.4e9
    truth = float(np.mean(np.exp(-np.exp(log_c - alpha * math.log(N_star)))))
    pred = fit.predict_values(N_star)
    iv1 = fit.predict_interval(N_star, seed=3, num_samples=1000)
    iv2 = fit.predict_interval(N_star, seed=3, num_samples=1000)
    assert iv1 == iv2  # seeded
    assert iv1.lower <= pred <= iv1.upper
    assert iv1.lower - 0.02 <= truth <= iv1.upper + 0.02
    assert fit_ols.predict_values(N_star) == pytest.approx(pred, abs=0.05)


def test_T3_2_likelihood_fit_matches_scipy_optimum():
    """T3.2: the per-instance negative-binomial/censored likelihood optimum equals scipy's."""
    from scipy.optimize import minimize

    N = np.array([1e7, 1e8, 1e9, 1e10])
    r = np.array([0, 2, 2, 2])  # first size censored with zero passes
    K = np.array([100_000, 9000, 800, 60])
    fit = fit_instance_laws(N, r, K, np.zeros(4, int))
    assert fit.identified[0]

    def nll(t):
        logp = -np.exp(t[0] - t[1] * np.log(N))
        return -np.sum(r * logp + (K - r) * np.log(-np.expm1(logp)))

    res = minimize(nll, [fit.log_c[0] + 0.3, fit.alpha[0] - 0.05], method="Nelder-Mead",
                   options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 10_000})
    assert fit.log_c[0] == pytest.approx(res.x[0], abs=1e-4)
    assert fit.alpha[0] == pytest.approx(res.x[1], abs=1e-5)


def test_T3_2_dataset_level_fit_drops_censored_sizes():
    """T3.2: dataset-level OLS of F on log N recovers (c, alpha); censored or zero PU sizes are
    dropped with a warning, never plugged into log(-log PU)."""
    N = np.array([1e7, 3e7, 1e8, 3e8, 1e9, 3e9])
    pu = task_law_pu(N, 120.0, 0.28)
    fit = fit_task_law(N, pu)
    assert fit.c == pytest.approx(120.0, rel=1e-10)
    assert fit.alpha == pytest.approx(0.28, rel=1e-10)
    pu2 = pu.copy()
    pu2[0] = 0.0
    with pytest.warns(RuntimeWarning, match="dropped 2"):
        fit2 = fit_task_law(N, pu2, censored=[False, True, False, False, False, False])
    assert fit2.n_used == 4 and fit2.alpha == pytest.approx(0.28, rel=1e-10)
    # prediction interval on noisy data covers, and PU bounds are ordered
    rng = np.random.default_rng(1)
    F_noisy = task_law_loglog(N, 120.0, 0.28) + rng.normal(0, 0.05, N.size)
    fit3 = fit_task_law(N, np.exp(-np.exp(F_noisy)))
    est, lo, hi = fit3.predict_interval(1e10)
    assert lo < est < hi
    # oracle: statsmodels-style OLS by hand
    X = np.stack([np.ones(N.size), np.log(N)], 1)
    beta = np.linalg.lstsq(X, F_noisy, rcond=None)[0]
    assert fit3.alpha == pytest.approx(-beta[1], rel=1e-12)


def test_T3_3_curvature_test_verdicts():
    """T3.3: F of a best-circuit (min) law is concave, of a multi-step (sum) law convex, of one law linear."""
    rng = np.random.default_rng(33)
    N = np.logspace(7, 10.5, 8)
    x = np.log(N)
    S = 30
    inst = np.repeat(np.arange(S), N.size)
    xx = np.tile(x, S)
    noise = rng.normal(0, 0.05, size=xx.size) + np.repeat(rng.normal(0, 0.1, S), N.size)
    # min of two linear F (multiple circuits, Thm 3) -> concave
    F_min = np.minimum(2.0 - 0.1 * (xx - x.mean()), 1.5 - 0.8 * (xx - x.mean())) + noise
    res = curvature_test(np.exp(xx), F_min, instance=inst, seed=0, num_samples=500)
    assert res.verdict == "concave" and res.upper < 0 and res.cluster_bootstrap
    # log-sum-exp (multi-step, Thm 2) -> convex
    F_lse = np.logaddexp(1.0 - 0.1 * (xx - x.mean()), 1.0 - 0.8 * (xx - x.mean())) + noise
    assert curvature_test(np.exp(xx), F_lse, instance=inst, seed=0, num_samples=500).verdict == "convex"
    # a single law -> linear
    F_lin = 1.0 - 0.3 * (xx - x.mean()) + noise
    lin = curvature_test(np.exp(xx), F_lin, instance=inst, seed=0, num_samples=500)
    assert lin.verdict == "linear" and lin.lower < 0 < lin.upper
    # point estimate equals numpy polyfit's quadratic coefficient
    assert res.quadratic == pytest.approx(np.polyfit(xx - xx.mean(), F_min, 2)[0], rel=1e-9)
    # reproducible for a seed
    again = curvature_test(np.exp(xx), F_min, instance=inst, seed=0, num_samples=500)
    assert (again.lower, again.upper) == (res.lower, res.upper)
