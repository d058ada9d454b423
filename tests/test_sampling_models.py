"""Mixing distributions for per-item success probability (scalefit.sampling.models).

Reference values: T2.4 (Beta-Binomial MLE) and T2.5 (exact conditional estimator) of METHODS.md;
the other families are checked against adaptive quadrature (scipy), autodiff, closed forms and
recovery of known parameters from simulated data.
"""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate, special as sp, stats

from scalefit.errors import ArgumentError
from scalefit.sampling import MIXING_MODELS, MixingFit, asr_exact, fit_beta_binomial, fit_mixing, item_data
from scalefit.sampling import models as M
from scalefit.sampling.families._common import grid_aux

K_T24 = np.array([0, 0, 0, 0, 0, 0, 1, 0, 2, 0, 0, 5, 0, 1, 0, 0, 12, 0, 3, 0, 0, 0, 7, 0, 0, 1, 0, 20, 0, 0])

PARAMS = {
    "beta": {"a": 0.4, "b": 4.0},
    "zi_beta": {"pi": 0.3, "a": 0.4, "b": 4.0},
    "beta_mix2": {"w": 0.6, "a1": 0.2, "b1": 20.0, "a2": 2.0, "b2": 3.0},
    "logit_normal": {"mu": -4.0, "sigma": 2.0},
    "kumaraswamy": {"a": 0.35, "b": 7.0},
}


def _density_u(model, params, u):
    """Density of u = logit p under each family (oracle, scipy)."""
    p, q = sp.expit(u), sp.expit(-u)
    jac = p * q
    if model == "beta":
        return stats.beta.pdf(p, params["a"], params["b"]) * jac
    if model == "zi_beta":  # continuous part only
        return (1 - params["pi"]) * stats.beta.pdf(p, params["a"], params["b"]) * jac
    if model == "beta_mix2":
        w = params["w"]
        return (w * stats.beta.pdf(p, params["a1"], params["b1"]) + (1 - w) * stats.beta.pdf(p, params["a2"], params["b2"])) * jac
    if model == "logit_normal":
        return stats.norm.pdf(u, params["mu"], params["sigma"])
    if model == "kumaraswamy":
        a, b = params["a"], params["b"]
        return a * b * p ** (a - 1) * (1 - p**a) ** (b - 1) * jac
    raise AssertionError(model)


def _closed_kernel(model, params, n, k):
    """Beta families: closed forms with scipy's betaln."""
    def bb(a, b):
        return sp.betaln(k + a, n - k + b) - sp.betaln(a, b)

    if model == "beta":
        return bb(params["a"], params["b"])
    if model == "zi_beta":
        out = np.log1p(-params["pi"]) + bb(params["a"], params["b"])
        return np.logaddexp(np.log(params["pi"]), out) if k == 0 else out
    w = params["w"]
    return np.logaddexp(np.log(w) + bb(params["a1"], params["b1"]), np.log1p(-w) + bb(params["a2"], params["b2"]))


def _quad_kernel(model, params, n, k):
    if not M._FAMILIES[model].grid:
        return _closed_kernel(model, params, n, k)
    f = lambda u: _density_u(model, params, u) * np.exp(k * sp.log_expit(u) + (n - k) * sp.log_expit(-u))  # noqa: E731
    peak = sp.logit((k + 0.5) / (n + 1.0))
    val = integrate.quad(f, -60, 40, points=[peak], limit=1000, epsabs=0.0, epsrel=1e-13)[0]
    if model == "zi_beta" and k == 0:
        val += params["pi"]
    return np.log(val)


@pytest.mark.parametrize("model", MIXING_MODELS)
def test_kernels_match_adaptive_quadrature(model):
    """log E_g[p^k (1 - p)^(n - k)] of every family against scipy (closed forms with betaln for
    the Beta families, adaptive quadrature for the grid families), 1e-7 absolute."""
    theta = M._natural_to_theta(model, PARAMS[model])
    rows = [(100, 0), (100, 1), (100, 7), (60, 30), (1000, 3), (20, 20), (10_000, 2)]
    n = np.array([r[0] for r in rows])
    k = np.array([r[1] for r in rows])
    got = M._log_kernel(model, theta[None, :], n, k)[0]
    want = np.array([_quad_kernel(model, PARAMS[model], nn, kk) for nn, kk in rows])
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-7)


def test_grid_kernel_resolves_sharp_peaks():
    """A row with 5,000 successes in 10,000 attempts (peak width 0.02 in logit, below the node
    step 0.05) goes through the exact cell-integral branch: relative error of the likelihood
    < 1e-4 (the density is taken constant over each cell), where a trapezoid rule on the nodes
    alone would be off by percent."""
    params = {"mu": 0.0, "sigma": 1.0}
    theta = M._natural_to_theta("logit_normal", params)
    got = M._log_kernel("logit_normal", theta[None, :], np.array([10_000]), np.array([5_000]))[0, 0]
    # Laplace-accurate reference: quadrature of the log-shifted integrand around the peak
    f = lambda u: stats.norm.pdf(u) * np.exp(5000 * sp.log_expit(u) + 5000 * sp.log_expit(-u) + 10_000 * np.log(2))  # noqa: E731
    ref = np.log(integrate.quad(f, -0.3, 0.3, limit=500, epsabs=0, epsrel=1e-12)[0]) - 10_000 * np.log(2)
    assert got == pytest.approx(ref, abs=1e-4)
    u = M._GRID_NODES
    trap = np.log(np.sum(stats.norm.pdf(u) * np.exp(5000 * sp.log_expit(u) + 5000 * sp.log_expit(-u) + 10_000 * np.log(2))) * M._H) - 10_000 * np.log(2)
    assert abs(trap - ref) > 1e-3  # why the branch exists


@pytest.mark.parametrize("model", MIXING_MODELS)
def test_analytic_derivatives_equal_autodiff(model):
    """The analytic row gradients/Hessians used by the fits equal autodiff of the kernel,
    including interval-censored rows log(A - B)."""
    theta = jnp.asarray(M._natural_to_theta(model, PARAMS[model]))
    n = jnp.asarray([100.0, 100.0, 40.0, 0.0, 60.0])
    k = jnp.asarray([0.0, 3.0, 40.0, 0.0, 0.0])
    extra = jnp.asarray([0.0, 0.0, 0.0, 60.0, 60.0])
    fam = M._FAMILIES[model]
    aux = {kk: jnp.asarray(v) for kk, v in grid_aux(np.asarray(n), np.asarray(k)).items()} if fam.grid else {}
    aux2 = {kk: jnp.asarray(v) for kk, v in grid_aux(np.asarray(n + extra), np.asarray(k)).items()} if fam.grid else {}
    rows = (n, k, extra)

    def ll(t):
        a = fam.kernel(t, n, k, aux)
        b = fam.kernel(t, n + extra, k, aux2)
        d = jnp.where(extra > 0, b - a, -1.0)
        return jnp.where(extra > 0, a + jnp.log(-jnp.expm1(d)), a)

    @jax.jit
    def both(t):
        analytic = M._row_derivs(model, t, rows, aux, aux2, True)
        return analytic, (ll(t), jax.jacfwd(ll)(t), jax.hessian(ll)(t))

    (v, g, h), (v0, g0, h0) = both(theta)
    np.testing.assert_allclose(v, v0, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(g, g0.T, rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(h, jnp.moveaxis(h0, 0, -1), rtol=1e-6, atol=1e-8)


GRID_MODELS = [m for m in MIXING_MODELS if M._FAMILIES[m].grid]


@pytest.mark.parametrize("model", GRID_MODELS)
def test_grid_product_equals_log_sum_exp(model):
    """Grid kernels and their derivatives as one matrix product of the masses with the rows'
    scaled likelihood table (what fits and forecasts use) against the log-sum-exp forms, for
    parameter sets spread around the family's reference values.  Both sum the same positive
    terms, so they agree to rounding: 1e-12 relative for values and gradients; the Hessian
    (L d2M / L M - g g^T) loses a few digits where the two terms nearly cancel, 1e-9 of |g|^2."""
    from scalefit.sampling.families._common import derivs_grid, derivs_grid_product, scaled_grid_table

    fam = M._FAMILIES[model]
    rng = np.random.default_rng(3)
    theta0 = M._natural_to_theta(model, PARAMS[model])
    thetas = theta0[None, :] + 0.3 * rng.normal(size=(6, theta0.size))
    n = np.array([100.0, 100.0, 40.0, 60.0, 1000.0, 10_000.0])
    k = np.array([0.0, 3.0, 40.0, 30.0, 3.0, 2.0])
    aux_np = grid_aux(n, k)
    aux = {kk: jnp.asarray(v) for kk, v in aux_np.items()}
    table, kmax = (jnp.asarray(a) for a in scaled_grid_table(aux_np))
    for e in (0.0, 10_000.0):
        got = M._log_kernel(model, thetas, n, k, e)
        want = np.stack([np.asarray(M._kernel_fn(fam)(jnp.asarray(t)[None], jnp.asarray(n + e), jnp.asarray(k),
                                                       {kk: jnp.asarray(v) for kk, v in grid_aux(n + e, k).items()}))[0]
                         for t in thetas])
        np.testing.assert_allclose(got, want, rtol=1e-12)
    # both forms for all parameter sets in one compiled call each (eager forward-mode Hessians
    # dispatch op by op: seconds per parameter set)
    prod = jax.jit(jax.vmap(lambda t: derivs_grid_product(fam.log_masses, t, table, kmax)))
    lse = jax.jit(jax.vmap(lambda t: derivs_grid(fam.log_masses, t, aux)))
    for v, g, h, v0, g0, h0 in zip(*prod(jnp.asarray(thetas)), *lse(jnp.asarray(thetas))):
        np.testing.assert_allclose(v, v0, rtol=1e-12)
        np.testing.assert_allclose(g, g0, rtol=1e-12, atol=1e-12 * float(jnp.max(jnp.abs(g0))))
        np.testing.assert_allclose(h, h0, rtol=0, atol=1e-9 * max(1.0, float(jnp.max(g0 ** 2))))


def test_grid_product_falls_back_where_its_sums_underflow():
    """A population with no mass where a row's likelihood is (logit-normal at logit p = -25 with
    sd 0.05; a row with 200 successes in 200 attempts) has a scaled product sum below the floor:
    forecasts recompute it by log-sum-exp (finite, equal to it), and a fit started there is
    refitted by the log-sum-exp path, so it reaches the same optimum as that path alone."""
    from scalefit.sampling.families._common import PRODUCT_FLOOR, kernel_grid_product, scaled_grid_table

    fam = M._FAMILIES["logit_normal"]
    th = np.array([[-25.0, np.log(0.05)], [-1.0, 0.0]])
    n, k = np.array([200.0, 10.0]), np.array([200.0, 3.0])
    aux_np = grid_aux(n, k)
    aux = {kk: jnp.asarray(v) for kk, v in aux_np.items()}
    table, kmax = scaled_grid_table(aux_np)
    lm = jnp.stack([jnp.concatenate([jnp.atleast_1d(m) for m in fam.log_masses(jnp.asarray(t))]) for t in th])
    _, S = kernel_grid_product(lm, jnp.asarray(table), jnp.asarray(kmax))
    assert float(S[0, 0]) < PRODUCT_FLOOR  # the case the fallback exists for
    want = np.stack([np.asarray(M._kernel_fn(fam)(jnp.asarray(t)[None], jnp.asarray(n), jnp.asarray(k), aux))[0] for t in th])
    got = M._log_kernel("logit_normal", th, n, k)
    assert np.all(np.isfinite(got)) and got[0, 0] < -4000
    np.testing.assert_allclose(got, want, rtol=1e-12)
    # a fit from that start: the floored rows carry no gradient, so the product path alone could
    # stop short; the re-check refits it, and it matches a fit from a sensible start
    rng = np.random.default_rng(0)
    nn = np.full(150, 50)
    kk = rng.binomial(50, sp.expit(rng.normal(-1.0, 1.5, 150)))
    rows = M.row_table(nn, kk, np.zeros(150))
    W = M.row_weights(rows.index, rows.size, np.ones((1, 150)))
    far = M.fit_rows("logit_normal", rows, W, theta0=th[:1])
    near = M.fit_rows("logit_normal", rows, W)
    assert far[2][0] and near[2][0]
    np.testing.assert_allclose(far[0], near[0], rtol=1e-6)  # both converged to the same optimum (gtol-limited)


def test_T2_4_beta_family_is_the_beta_binomial_mle():
    """T2.4: the batched engine reproduces the Beta-Binomial MLE (a, b) = (0.0849230, 0.7203298)."""
    fit = fit_mixing(20, K_T24, model="beta", prior=False)
    assert fit.converged, fit.message
    assert fit.params["a"] == pytest.approx(0.0849230, rel=1e-5)
    assert fit.params["b"] == pytest.approx(0.7203298, rel=1e-5)
    assert -fit.loglik == pytest.approx(94.533099, abs=1e-6)
    ref = fit_beta_binomial(20, K_T24)
    assert fit.params["a"] == pytest.approx(ref.a, rel=1e-8)


def test_T2_5_continued_target_is_the_exact_conditional_estimator():
    """T2.5: with the Beta family the continued forecast equals the exact conditional estimator
    (N = 100: 0.388878, N = 1000: 0.497320), and the population curve equals asr_exact."""
    fit = fit_mixing(20, K_T24, model="beta", prior=False)
    data = item_data(20, K_T24)
    np.testing.assert_allclose(fit.predict_values(data, [100, 1000], target="continued"), [0.388878, 0.497320], atol=2e-6)
    a, b = fit.params["a"], fit.params["b"]
    np.testing.assert_allclose(fit.population([100, 1000]), np.asarray(asr_exact(np.array([100.0, 1000.0]), a, b)), rtol=1e-12)


def test_fresh_target_closed_form_for_beta():
    """Fresh forecast per item = 1 - B(a + k, b + n - k + N) / B(a + k, b + n - k)."""
    fit = fit_mixing(20, K_T24, model="beta")
    a, b = fit.params["a"], fit.params["b"]
    data = item_data(20, K_T24)
    got = fit.solve_probabilities(data, 500.0, target="fresh")
    want = 1 - np.exp(sp.betaln(a + K_T24, b + 20 - K_T24 + 500) - sp.betaln(a + K_T24, b + 20 - K_T24))
    np.testing.assert_allclose(got, want, rtol=1e-10)


def test_continued_below_the_observed_budget_is_chens_estimator():
    fit = fit_mixing(20, K_T24, model="beta")
    data = item_data(20, K_T24)
    from scalefit.sampling import pass_at_k

    np.testing.assert_allclose(fit.solve_probabilities(data, 5, target="continued"), pass_at_k(20, K_T24, 5), rtol=1e-12)


@pytest.mark.parametrize("model", ["kumaraswamy", "logit_normal", "zi_beta"])
def test_recovers_known_parameters(model):
    """Recovery from 6,000 simulated items with 50 attempts each (tolerance ~4 standard errors)."""
    rng = np.random.default_rng(11)
    K, n = 6000, 50
    if model == "kumaraswamy":
        a, b = 0.5, 6.0
        p = (1 - (1 - rng.random(K)) ** (1 / b)) ** (1 / a)
    elif model == "logit_normal":
        p = sp.expit(rng.normal(-3.0, 1.5, K))
    else:
        p = np.where(rng.random(K) < 0.25, 0.0, rng.beta(0.6, 5.0, K))
    k = rng.binomial(n, p)
    fit = fit_mixing(n, k, model=model)
    assert fit.converged, fit.message
    want = {"kumaraswamy": {"a": 0.5, "b": 6.0}, "logit_normal": {"mu": -3.0, "sigma": 1.5},
            "zi_beta": {"pi": 0.25, "a": 0.6, "b": 5.0}}[model]
    tol = {"kumaraswamy": 0.12, "logit_normal": 0.06, "zi_beta": 0.2}[model]
    for name, v in want.items():
        assert fit.params[name] == pytest.approx(v, rel=tol), (name, fit.params)


def test_beta_mixture_recovers_two_components():
    rng = np.random.default_rng(5)
    K = 8000
    hard = rng.random(K) < 0.6
    p = np.where(hard, rng.beta(0.3, 30.0, K), rng.beta(4.0, 4.0, K))
    k = rng.binomial(40, p)
    fit = fit_mixing(40, k, model="beta_mix2")
    assert fit.converged, fit.message
    assert fit.params["w"] == pytest.approx(0.6, abs=0.03)
    m1 = fit.params["a1"] / (fit.params["a1"] + fit.params["b1"])
    m2 = fit.params["a2"] / (fit.params["a2"] + fit.params["b2"])
    assert m1 == pytest.approx(0.3 / 30.3, rel=0.25) and m2 == pytest.approx(0.5, abs=0.03)


def test_weak_priors_stabilise_data_without_visible_overdispersion():
    """Three items solved once each among 128 look homogeneous: the maximum likelihood runs to
    a + b -> inf (every item eventually solved), the default weak priors keep a finite tail."""
    k = np.zeros(128, dtype=int)
    k[:3] = 1
    ml = fit_beta_binomial(100, k)
    assert ml.no_overdispersion
    fit = fit_mixing(100, k, model="beta")
    assert fit.converged and fit.prior
    data = item_data(100, k)
    assert fit.predict_values(data, 10_000) < 0.5
    ml_like = fit_mixing(100, k, model="beta", prior=False)
    assert ml_like.predict_values(data, 10_000) > 0.9 or not ml_like.converged


def test_mixing_fit_json_roundtrip():
    fit = fit_mixing(20, K_T24, model="kumaraswamy")
    back = MixingFit.from_dict(json.loads(json.dumps(fit.to_dict())))
    data = item_data(20, K_T24)
    assert back.params == fit.params
    np.testing.assert_allclose(back.predict_values(data, [100, 1000]), fit.predict_values(data, [100, 1000]), rtol=0, atol=0)


def test_item_data_errors_name_the_argument():
    with pytest.raises(ArgumentError, match=r"`k` = 5 exceeds `n` = 3"):
        item_data(3, [1, 5])
    with pytest.raises(ArgumentError, match=r"`n` \(shape \(2,\)\) and `k` \(shape \(3,\)\)"):
        item_data([3, 4], [1, 1, 1])
    with pytest.raises(ArgumentError, match=r"`extra` = 60 with `k` = 1"):
        item_data([0, 5], [0, 1], extra=[60, 60])
    with pytest.raises(ArgumentError, match=r"`model` = 'gamma' is not one of"):
        fit_mixing(20, K_T24, model="gamma")


def test_second_fit_of_the_same_shape_does_not_recompile(count_compiles):
    fit_mixing(20, K_T24, model="kumaraswamy")
    other = np.roll(K_T24, 3)
    other[0] = 4
    with count_compiles() as cc:
        fit_mixing(20, other, model="kumaraswamy")
    assert cc.messages == [], cc.messages
