"""Bayesian PassUntil task law (METHODS.md §3, §4.3): negative-binomial and censored likelihoods,
instance laws pooled hierarchically, recovery on simulated sample-until-pass data."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import gammaln

import scalefit
from scalefit.bayes import PassUntilPosterior, fit_passuntil_bayes
from scalefit.bayes.passuntil import _loglik
from scalefit.errors import ArgumentError

scalefit.enable_x64()


def test_likelihoods_match_negative_binomial_and_binomial():
    lc, la, logx = 0.3, np.log(0.5), np.log(2.0)
    p = np.exp(-np.exp(lc - np.exp(la) * logx))
    # stopped at the r-th pass after K draws: C(K-1, r-1) p^r (1-p)^(K-r)
    r, K = 2.0, 40.0
    ref = gammaln(K) - gammaln(r) - gammaln(K - r + 1) + r * np.log(p) + (K - r) * np.log1p(-p)
    assert float(_loglik(lc, la, logx, r, K, False)) == pytest.approx(ref, rel=1e-12)
    # censored at the cap with r' passes: C(K, r') p^r' (1-p)^(K-r')
    r, K = 0.0, 1e5
    ref = (K - r) * np.log1p(-p)
    assert float(_loglik(lc, la, logx, r, K, True)) == pytest.approx(ref, rel=1e-12)


@pytest.fixture(scope="module")
def simulated():
    rng = np.random.default_rng(11)
    sizes = np.array([1e8, 3e8, 1e9, 3e9, 1e10])
    S = 6
    log_c = rng.normal(1.2, 0.3, S)
    alpha = np.exp(rng.normal(np.log(0.6), 0.15, S))
    rows, r_req, cap = [], 2, 100_000
    for s in range(S):
        for N in sizes:
            p = np.exp(-np.exp(log_c[s]) * (N / 1e9) ** -alpha[s])
            K = r_req + rng.negative_binomial(r_req, p)
            if K > cap:
                rows.append((s, N, min(rng.binomial(cap, p), r_req - 1), cap, True))
            else:
                rows.append((s, N, r_req, K, False))
    inst, N, r, K, cens = map(np.asarray, zip(*rows))
    return dict(instance=inst, N=N, r=r, K=K, censored=cens, log_c=log_c, alpha=alpha)


def test_hierarchical_passuntil_predicts_a_larger_model(simulated):
    d = simulated
    assert d["censored"].any()  # the smallest models hit the cap
    post = fit_passuntil_bayes(d["N"], d["r"], d["K"], censored=d["censored"], instance=d["instance"],
                               num_warmup=300, num_samples=300, num_chains=2, chain_method="sequential", seed=0)
    assert post.hierarchical
    # a few divergences can occur in the pooled funnel at this short run; the fit must then say so
    div = post.diagnostics.divergences
    assert div <= 0.02 * post.num_draws
    if div:
        assert not post.converged and "divergent" in post.status
    N_star = 3e10
    truth = np.mean(np.exp(-np.exp(d["log_c"]) * (N_star / 1e9) ** -d["alpha"]))
    pred = post.predict([1e10, N_star], levels=(0.9,))
    row = pred.iloc[1]
    assert row["q05"] <= truth <= row["q95"], (truth, row.to_dict())
    assert pred["median"].is_monotonic_increasing
    lo, hi = np.quantile(post.draws("mu_log_c"), [0.02, 0.98])
    assert lo < np.mean(d["log_c"]) < hi
    back = PassUntilPosterior.from_json(post.to_json())
    np.testing.assert_array_equal(back.draws("mu_log_alpha"), post.draws("mu_log_alpha"))
    assert "PassUntil task law posterior" in post.summary()


def test_passuntil_input_errors():
    with pytest.raises(ArgumentError, match="`r` must be >= 1 for uncensored"):
        fit_passuntil_bayes([1e9], [0], [10])
    with pytest.raises(ArgumentError, match="must not exceed `K`"):
        fit_passuntil_bayes([1e9], [5], [3])
    with pytest.raises(ArgumentError, match="one length"):
        fit_passuntil_bayes([1e9, 2e9], [1], [3])
