"""Priors on parameter specs (METHODS.md §4.2): defaults for every law, the prior spec itself,
transforms between prior variables and fit coordinates, and the prior predictive check (§4.1)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import scipy.stats as st

import scalefit
from scalefit.bayes import BETA_BINOMIAL_PARAMS, NOISE_PRIORS, DataRef, Prior, prior_predictive
from scalefit.bayes._priors import (
    LowerTruncatedGamma,
    data_summaries,
    from_coordinate,
    to_coordinate,
    to_distribution,
)
from scalefit.errors import ArgumentError
from scalefit.laws import available_laws, get_law
from scalefit.params import Param

scalefit.enable_x64()


@pytest.mark.parametrize("name", available_laws())
def test_every_registered_law_has_a_prior_for_every_parameter(name):
    law = get_law(name)
    priors = law.params.priors()
    assert set(priors) == set(law.param_names)
    missing = [k for k, v in priors.items() if v is None]
    assert not missing, f"{name}: no default prior for {missing}"


def test_default_priors_follow_methods_table():
    ch = get_law("chinchilla").params
    assert ch["alpha"].prior == Prior.lognormal(math.log(0.3), 0.5)
    assert ch["beta"].prior == Prior.lognormal(math.log(0.3), 0.5)
    assert ch["e"].prior == Prior.floor_fraction(3.0, 2.0)
    assert ch["a"].prior.transform == "reference" and ch["a"].prior.input == "N" and ch["a"].prior.exponent == "alpha"
    assert ch["a"].prior.args[0] == DataRef("log_y_median", offset=math.log(0.3))
    assert get_law("kaplan_n").params["alpha"].prior == Prior.lognormal(math.log(0.08), 0.5)
    assert get_law("kaplan_nd").params["alpha_D"].prior == Prior.lognormal(math.log(0.08), 0.5)
    b = get_law("bnsl").params
    assert b["c0"].prior == Prior.lognormal(math.log(0.1), 1.0)
    assert b["c1"].prior == Prior.normal(0.0, 1.0)
    assert b["log_f1"].prior == Prior.normal(math.log(0.3), 1.0)
    assert NOISE_PRIORS["sigma"] == Prior.halfnormal(0.05)
    assert NOISE_PRIORS["nu"] == Prior.gamma(2.0, 0.1, low=1.0)
    assert NOISE_PRIORS["tau_run"] == Prior.halfnormal(0.01)
    assert BETA_BINOMIAL_PARAMS["alpha"].prior == Prior.lognormal(math.log(0.5), 1.0)
    assert BETA_BINOMIAL_PARAMS["beta"].prior == Prior.lognormal(math.log(2.0), 1.5)
    assert BETA_BINOMIAL_PARAMS["pi"].prior == Prior.beta(1.0, 4.0)


def test_param_prior_is_optional_and_additive():
    p = Param("a", natural="A")
    assert p.prior is None
    assert Param("a", "log A", -1.0, 1.0, (0.0,), "A").prior is None  # positional use unchanged
    with pytest.raises(ArgumentError, match="`prior` must be a scalefit Prior"):
        Param("a", prior="lognormal")


@pytest.mark.parametrize("bad, match", [
    (lambda: Prior("cauchy", (0, 1)), "is not one of"),
    (lambda: Prior("normal", (0.0,)), "takes 2 argument"),
    (lambda: Prior.halfnormal(-1.0), "`scale` = -1.0 must be > 0"),
    (lambda: Prior.uniform(2.0, 1.0), "must be below `high`"),
    (lambda: Prior.normal(0, 1, transform="sqrt"), "`transform` = 'sqrt'"),
    (lambda: Prior("normal", (0, 1), transform="reference"), "needs `input` and `exponent`"),
    (lambda: DataRef("log_x_ref"), "needs `input`"),
    (lambda: DataRef("mean_y"), "is not one of"),
    (lambda: Prior.normal(float("nan"), 1), "is not finite"),
])
def test_prior_validation_messages(bad, match):
    with pytest.raises(ArgumentError, match=match):
        bad()


def test_prior_json_round_trip_and_widening():
    for p in [Prior.floor_fraction(), Prior.reference_amplitude("N", "alpha"), Prior.gamma(2, 0.1, low=1),
              Prior.uniform(DataRef("log_x_min", "x", -1.0), DataRef("log_x_max", "x", 3.0)),
              Prior.uniform(-7, 2, transform="exp"), Prior.flat()]:
        assert Prior.from_dict(p.to_dict()) == p
    assert Prior.lognormal(0.0, 0.5).widened(100).args == (0.0, 50.0)
    assert Prior.gamma(2.0, 0.1).widened(2).args == (2.0, 0.05)
    assert Prior.uniform(-1.0, 1.0).widened(3).args == (-3.0, 3.0)
    assert Prior.beta(3, 2).widened(10) == Prior.beta(3, 2)


def test_transforms_are_inverse_and_reference_scale_is_the_geometric_mean():
    x = np.geomspace(1e6, 1e9, 7)
    y = 1.5 + 50 * x**-0.3
    summ = data_summaries({"x": x}, y)
    assert summ["log_x_ref:x"] == pytest.approx(np.mean(np.log(x)), rel=1e-15)
    assert summ["log_y_min"] == pytest.approx(np.log(y.min()))
    coords = {"alpha": 0.3}
    for p, theta in [(Prior.floor_fraction(), math.log(1.2)), (Prior.reference_amplitude("x", "alpha"), math.log(50)),
                     (Prior.kaplan_reference("x", "alpha"), 30.0), (Prior.lognormal(0, 1, transform="log"), 2.0),
                     (Prior.uniform(-7, 2, transform="exp"), 0.3), (Prior.normal(0, 1), -0.4)]:
        v = from_coordinate(p, theta, coords, summ)
        assert float(to_coordinate(p, v, coords, summ)) == pytest.approx(theta, rel=1e-13)
    # A_ref is the power term at x_ref: a = log A_ref + α log x_ref
    v = from_coordinate(Prior.reference_amplitude("x", "alpha"), math.log(50), coords, summ)
    assert math.exp(v) == pytest.approx(50 * math.exp(summ["log_x_ref:x"]) ** -0.3, rel=1e-12)


def test_truncated_gamma_prior_matches_scipy():
    d = LowerTruncatedGamma(2.0, 0.1, 1.0)
    g = st.gamma(2.0, scale=10.0)
    for v in (1.5, 4.0, 30.0):
        ref = g.logpdf(v) - g.logsf(1.0)
        assert float(d.log_prob(v)) == pytest.approx(ref, rel=1e-12)
    import jax

    s = np.asarray(d.sample(jax.random.PRNGKey(0), (20000,)))
    assert s.min() > 1.0
    assert st.kstest(s, lambda t: (g.cdf(t) - g.cdf(1.0)) / g.sf(1.0)).pvalue > 1e-3
    assert float(to_distribution(NOISE_PRIORS["nu"]).log_prob(1.5)) == pytest.approx(float(d.log_prob(1.5)))


def test_prior_predictive_check_on_a_loss_curve_is_plausible():
    x = np.geomspace(1e7, 1e10, 10)
    df = pd.DataFrame({"x": x, "value": 1.7 + 30 * x**-0.28})
    chk = prior_predictive(df, "power_law", num_samples=2000, seed=1)
    assert list(chk.table["factor"]) == [1.0, 10.0, 100.0]
    # E = u·L_min < L_min, so the floor-law's prior curves fall below the data with high probability
    assert chk.table["frac_in_0_to_min"].iloc[-1] > 0.5
    assert chk.exponent_above_2["alpha"] < 0.01
    assert 0.5 < chk.coverage_of_data <= 1.0
    assert chk.plausible
    assert "prior predictive check" in chk.summary()
    # a prior that puts the exponent near 3 is flagged
    bad = prior_predictive(df, "power_law", priors={"alpha": Prior.lognormal(math.log(3.0), 0.3)}, num_samples=500)
    assert bad.exponent_above_2["alpha"] > 0.5 and not bad.plausible


def test_unknown_or_missing_priors_are_reported():
    from scalefit.bayes import fit_bayes

    df = pd.DataFrame({"x": [1e6, 1e7, 1e8, 1e9], "value": [3.0, 2.6, 2.3, 2.1]})
    with pytest.raises(ArgumentError, match=r"`priors` names unknown parameters \['gamma'\]"):
        fit_bayes(df, "power_law", priors={"gamma": Prior.normal(0, 1)})
    law = scalefit.define_law("mine", lambda t, X: t["a"] - t["alpha"] * np.log(X["x"]), inputs=["x"],
                              params=[Param("a", natural="A", starts=(0.0,)), Param("alpha", starts=(0.1,))])
    with pytest.raises(ArgumentError, match="parameter `a` of law `mine` has no default prior"):
        fit_bayes(df, law)
    neg = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0, 5.0], "value": [0.5, -0.1, 0.2, 0.3, 0.1]})
    with pytest.raises(ArgumentError, match="needs data summary 'log_y_min', but the data has values <= 0"):
        fit_bayes(neg, "error_link", inputs={"L": "x"}, priors={"sigma": Prior.halfnormal(DataRef("log_y_min"))})
