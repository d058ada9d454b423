"""NUTS posterior of the pooled best-of-N model (scalefit.bayes.pooled).

Simulated data only.  The pooled model has no METHODS reference values; the checks are those of
§4.5 (R-hat, ESS, divergences, E-BFMI) and the property T4a checks for the Beta-Binomial
posterior: the posterior's mode is the point fit (same likelihood, same priors).
"""

import json

import jax
import numpy as np
import pandas as pd
import pytest

import scalefit
from scalefit.bayes import Thresholds
from scalefit.bayes.pooled import PooledPosterior, fit_pooled_bayes
from scalefit.errors import ArgumentError
from scalefit.sampling.pooled import fit_pooled, pooled_data, pooled_log_posterior

scalefit.enable_x64()

# 3 groups x 200 items x 20 attempts, logit-normal residuals with as much shared as own
# variance (s = sigma = 1).  200 items, not 40: with 40 items the residual scale and the
# loading trade off (log sigma's posterior is skewed to the left, skewness about -2.5, a funnel
# that short chains do not mix); the sampler's cost grows with the distinct (n, k) rows (at
# most 21 per group here), not with the items
MU = np.array([-2.5, -1.5, -0.5])
G, I, N_ATT = 3, 200, 20
# 2 chains x (150 warm-up + 150 draws), diagonal mass matrix: a short run (the log density
# costs ~5 ms per gradient here, so each leapfrog step counts); with 150 warm-up iterations the
# dense mass matrix adapts poorly (its windows are too short: ESS 13 on this data set, against
# 80-100 with the diagonal one)
NUTS = dict(num_warmup=150, num_samples=150, num_chains=2, dense_mass=False)
# §4.5's thresholds are set for the default 4 x 1,000 draws.  For 300 draws: bulk and tail ESS
# >= 50 (the Monte Carlo error of a median is then at most 1.25 / sqrt(50) = 0.18 posterior SD,
# which the tolerances below allow for), R-hat <= 1.05 (the loose bound §4.5 names: with ~50
# effective draws per chain, split R-hat of a well-mixed run scatters by a few 0.01 above 1, so
# 1.01 would fail healthy runs by chance); no divergences and E-BFMI >= 0.3 as by default
THRESHOLDS = Thresholds(rhat_max=1.05, ess_min=50.0)


@pytest.fixture(scope="module")
def post():
    rng = np.random.default_rng(3)
    u = rng.normal(size=I)
    eta = MU[:, None] + u[None, :] + rng.normal(size=(G, I))
    k = rng.binomial(N_ATT, 1.0 / (1.0 + np.exp(-eta)))
    fit = fit_pooled(pooled_data(np.full((G, I), N_ATT), k))
    assert fit.converged, fit.message
    return fit, fit_pooled_bayes(fit, nuts=NUTS, seed=1, thresholds=THRESHOLDS)


def test_diagnostics_pass(post):
    _, p = post
    assert p.converged, p.status
    assert p.diagnostics.divergences == 0
    text = p.summary()
    assert "shared share" in text and "converged" in text


def test_mode_is_the_point_fit(post):
    """The sampler's log density is the point fit's objective: no draw has a higher density
    than the point fit (an exact check: any mismatch of priors or likelihood moves the maximum
    away from the point fit, and some of 300 draws near the mode would lie above it)."""
    fit, p = post
    log_post, tables, _ = pooled_log_posterior(fit.data)
    log_post = jax.jit(log_post)
    at_map = float(log_post(fit.theta.ravel(), tables))
    lp = np.asarray(p.idata.sample_stats["lp"]).ravel()
    # 1e-8: the point fit's gradient tolerance (1e-9 per item) times the 200 items, squared
    # distance to the true maximum is negligible; rounding of sums of ~10^3 terms is ~1e-12
    assert np.max(lp) <= at_map + 1e-8
    # the draws' own density at the stored values agrees with the sampler's (same function)
    th = p.thetas
    for j in (0, len(th) // 2, len(th) - 1):
        assert float(log_post(th[j].ravel(), tables)) == pytest.approx(lp[j], abs=1e-8)


def test_posterior_median_near_map(post):
    """Posterior medians within 0.5 posterior SD of the point fit.  With 200 items the posterior
    is close to normal (the point fit's standard errors from the observed information are
    0.1-0.16 for every parameter, far from where a scale's likelihood flattens), so mode and
    median differ by a small skewness term (about |skewness| / 3 SD by Pearson's rule, below
    0.2 SD for |skewness| < 0.6); the Monte Carlo error of a median with ESS >= 50 is at most
    1.25 / sqrt(50) = 0.18 SD.  0.5 SD covers both, while a prior or likelihood that differs from
    the point fit's by a shift of one SD fails."""
    fit, p = post
    th = p.thetas
    z = (np.median(th, axis=0) - fit.theta) / th.std(axis=0)
    assert np.all(np.abs(z) < 0.5), z.round(2)


@pytest.mark.parametrize("target", ["fresh", "continued"])
def test_forecast_contains_map(post, target):
    """pass@200 (10x the attempts): the point fit's plug-in forecast lies inside the 90%
    credible interval of the expected rate, and the posterior mean is within one posterior SD
    of it (the plug-in is the rate at the mode, the mean averages the rate over the posterior:
    they differ by the curvature of the rate times the parameter variance, a fraction of an SD
    here, plus a Monte Carlo error of 1 / sqrt(ESS) <= 0.14 SD)."""
    fit, p = post
    tab = p.predict([200], target=target)
    rates = p.rate_draws([200], target=target)[:, 0]  # (S, G)
    plug = fit.rates(200, target)
    assert np.all((tab["lower"] <= plug) & (plug <= tab["upper"])), (tab, plug)
    assert np.all(np.abs(tab["mean"] - plug) <= rates.std(axis=0)), (tab["mean"], plug, rates.std(axis=0))
    assert np.all((tab["realised_lower"] <= tab["median"]) & (tab["median"] <= tab["realised_upper"]))


def test_sharing_and_json(post):
    _, p = post
    sh = p.sharing()
    assert np.all((sh["q05"] > 0) & (sh["q95"] < 1) & (sh["q05"] <= sh["median"]) & (sh["median"] <= sh["q95"]))
    back = PooledPosterior.from_json(p.to_json())
    assert np.array_equal(back.thetas, p.thetas) and back.families == p.families
    assert back.groups == tuple(str(g) for g in p.groups)
    # the data travel whole, first successes of sample-until-success logs included (continued
    # forecasts below an item's budget use them)
    d = p.to_dict()
    d["first_success"] = [[1.0 if kk > 0 else None for kk in row] for row in d["k"]]
    d["until_success"] = True
    back = PooledPosterior.from_dict(d)
    assert back.data.until_success
    np.testing.assert_array_equal(back.data.first_success, np.where(p.data.k > 0, 1.0, np.nan))
    # batch-censored rows too: an unsolved row turned into "no success in its n attempts, at
    # least one in the next 10" comes back as such (dropping `extra` would make it a failure)
    d = p.to_dict()
    g, i = map(int, np.argwhere(np.asarray(d["k"]) == 0)[0])
    d["extra"] = np.zeros_like(np.asarray(d["n"])).tolist()
    d["extra"][g][i] = 10
    back = PooledPosterior.from_dict(json.loads(json.dumps(d)))
    assert back.data.extra[g, i] == 10 and back.data.solved[g, i] and back.data.extra.sum() == 10
    assert PooledPosterior.from_dict({**back.to_dict()}).data.extra[g, i] == 10


def test_load_posterior_reads_a_saved_pooled_posterior(post, tmp_path):
    """to_json(path) -> scalefit.bayes.load_posterior(path) picks the class by the file's
    ``format`` and rebuilds the same posterior: identical tables and forecasts (the draws are
    written as JSON floats, which round-trip float64 exactly, so equality is exact)."""
    _, p = post
    path = tmp_path / "pooled_posterior.json"
    p.to_json(path)
    back = scalefit.bayes.load_posterior(path)
    assert isinstance(back, PooledPosterior) and back.converged == p.converged
    pd.testing.assert_frame_equal(back.param_table(), p.param_table())
    # group labels come back as text (JSON keys; unnamed groups are numbered 0, 1, ...)
    a, b = p.predict([200], target="continued"), back.predict([200], target="continued")
    assert list(b["group"]) == [str(g) for g in a["group"]]
    pd.testing.assert_frame_equal(b.drop(columns="group"), a.drop(columns="group"))


def test_laplace_metric_is_the_point_fits_covariance(post):
    """mass_start="laplace" starts NUTS's metric at the inverse observed information: from central
    differences of the sampler's gradient, it must match the point fit's covariance from its own
    analytic Hessian (two independent routes to the same matrix).  Tolerance 1e-4 relative to the
    largest entry: the differences' truncation error is ~h^2 = 1e-8 relative (third derivatives
    of the order of the second ones here), their rounding ~1e-13 (gradients summed over ~10^3
    terms) / 2h = 5e-10, both far below it; a mismatch of priors or a wrong gradient moves
    entries by far more."""
    from scalefit.bayes.pooled import _laplace_metric
    from scalefit.sampling.pooled import _laplace_cov

    fit, _ = post
    log_post, tables, _ = pooled_log_posterior(fit.data)
    cov = _laplace_cov(fit)
    dense = _laplace_metric(log_post, tables, fit.theta, dense=True)
    np.testing.assert_allclose(dense, cov, rtol=0, atol=1e-4 * np.abs(cov).max())
    np.testing.assert_allclose(_laplace_metric(log_post, tables, fit.theta, dense=False), np.diag(dense))
    with pytest.raises(ArgumentError, match="mass_start"):
        fit_pooled_bayes(fit, mass_start="fisher")


@pytest.mark.parametrize("family", ["logit_normal", "kumaraswamy"])
def test_log_posterior_gradient_matches_differences(family):
    """The sampler's gradient is hand-derived (one more product with the likelihood table); NUTS
    with a wrong gradient still samples the right distribution (only slower), so the tests above
    cannot see an error in it.  Central differences at a point away from the mode, step 1e-5:
    truncation ~1e-10 of the third derivative, rounding ~1e-16 x |log density| / 1e-5 ~ 1e-9 for
    a log density of ~1e3; 1e-6 relative (of the largest component) leaves room for both."""
    rng = np.random.default_rng(8)
    u = rng.normal(size=40)
    k = rng.binomial(15, 1.0 / (1.0 + np.exp(-(np.array([[-2.0], [-0.5]]) + u + rng.normal(size=(2, 40))))))
    data = pooled_data(np.full(k.shape, 15), k)
    log_post, tables, _ = pooled_log_posterior(data, families=(family,) * 2)
    theta = np.array([-0.7, 0.3, 0.2, 0.4, 0.6, -0.3])
    grad = np.asarray(jax.jit(jax.grad(log_post))(theta, tables))
    f = jax.jit(log_post)
    h = 1e-5
    fd = np.array([(float(f(theta + h * e, tables)) - float(f(theta - h * e, tables))) / (2 * h) for e in np.eye(6)])
    np.testing.assert_allclose(grad, fd, rtol=0, atol=1e-6 * np.max(np.abs(fd)))


def test_bad_input_is_one_line(post):
    fit, _ = post
    bad = [dict(nuts={"num_draws": 10}), dict(families=("logit_normal", "normal", "beta")),
           dict(nuts={"seed": 5}, seed=1), dict(families=("beta",) * 3)]
    for kwargs in bad:
        with pytest.raises(ArgumentError) as err:
            fit_pooled_bayes(fit, **kwargs)
        assert "\n" not in str(err.value)
    with pytest.raises(ArgumentError) as err:
        fit_pooled_bayes(fit.data, families=("logit_normal", "normal", "beta"))
    assert "normal" in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(ArgumentError):
        fit_pooled_bayes(fit.data.n)
