"""Recovery of known parameters from synthetic data for every law (and T1.1a-b, T1.6b)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

import scalefit
from scalefit import Param, define_law, fit_law, get_law

X7 = np.array([1e6, 3e6, 1e7, 3e7, 1e8, 3e8, 1e9])


def test_T1_1a_noise_free_power_law_recovery():
    y = 1.5 + 50 * X7 ** -0.3
    res = fit_law(pd.DataFrame({"x": X7, "value": y}), "power_law")
    assert res.converged, res.status
    nat = res.natural_params
    assert nat["E"] == pytest.approx(1.5, rel=1e-6)
    assert nat["A"] == pytest.approx(50.0, rel=1e-6)
    assert nat["alpha"] == pytest.approx(0.3, rel=1e-6)
    resid = res.residuals()["residual"].to_numpy()
    assert np.max(np.abs(resid)) <= 1e-9


def test_T1_1b_no_floor_ols():
    y = 8.8e13 ** 0.076 * X7 ** -0.076
    res = fit_law(pd.DataFrame({"x": X7, "value": y}), "power_law_no_floor")
    assert res.converged, res.status
    assert res.params["alpha"] == pytest.approx(0.076, rel=1e-10)
    assert res.natural_params["A"] == pytest.approx(11.4757396, rel=1e-8)
    assert res.natural_params["A"] == pytest.approx(8.8e13 ** 0.076, rel=1e-10)


def _synthetic(law, theta, inputs, noise=0.0, seed=0):
    y = law.evaluate(theta, **inputs)
    if noise:
        y = y * np.exp(np.random.default_rng(seed).normal(0, noise, y.shape))
    return pd.DataFrame({**inputs, "value": y})


def _grid_ND():
    N = np.repeat(np.geomspace(1e7, 1e10, 7), 6)
    D = np.tile(np.geomspace(1e9, 1e12, 6), 7)
    return {"N": N, "D": D}


RECOVERY = [
    ("power_law", dict(a=math.log(30.0), alpha=0.25, e=math.log(2.0)), lambda: {"x": np.geomspace(1e5, 1e10, 12)}),
    ("power_law_no_floor", dict(a=math.log(12.0), alpha=0.08), lambda: {"x": np.geomspace(1e5, 1e10, 12)}),
    ("kaplan_n", dict(log_xc=math.log(8.8e13), alpha=0.076), lambda: {"x": np.geomspace(1e6, 1e10, 9)}),
    ("kaplan_d", dict(log_xc=math.log(5.4e13), alpha=0.095), lambda: {"x": np.geomspace(1e8, 1e11, 9)}),
    ("kaplan_c", dict(log_xc=math.log(3.1e8), alpha=0.05), lambda: {"x": np.geomspace(1e-3, 1e2, 9)}),
    ("kaplan_nd", dict(log_Nc=math.log(6.4e13), log_Dc=math.log(1.8e13), alpha_N=0.076, alpha_D=0.103), _grid_ND),
    ("chinchilla", dict(a=math.log(482.0), b=math.log(2085.0), e=math.log(1.817), alpha=0.348, beta=0.366), _grid_ND),
    ("overtraining", dict(a=math.log(300.0), b=math.log(500.0), e=math.log(1.8), alpha=0.3), _grid_ND),
    ("error_link", dict(eps=0.85, log_k=math.log(2.0), log_gamma=math.log(0.9)), lambda: {"L": np.linspace(2.0, 5.0, 10)}),
    ("sigmoid", dict(s=-0.75, log_k=math.log(3.0), L0=0.9, t=1.0), lambda: {"L": np.linspace(0.2, 2.0, 15)}),
]


@pytest.mark.parametrize("name, theta, make_inputs", RECOVERY, ids=[r[0] for r in RECOVERY])
def test_noise_free_recovery(name, theta, make_inputs):
    law = get_law(name)
    res = fit_law(_synthetic(law, theta, make_inputs()), law)
    assert res.converged, res.status
    for k, v in theta.items():
        assert res.params[k] == pytest.approx(v, rel=1e-5, abs=1e-7), (name, k, res.params)


def test_noisy_chinchilla_recovery_within_noise():
    law = get_law("chinchilla")
    theta = dict(a=math.log(482.0), b=math.log(2085.0), e=math.log(1.817), alpha=0.348, beta=0.366)
    res = fit_law(_synthetic(law, theta, _grid_ND(), noise=0.003, seed=3), law)
    assert res.converged
    assert res.params["alpha"] == pytest.approx(0.348, abs=0.03)
    assert res.params["beta"] == pytest.approx(0.366, abs=0.03)
    assert math.exp(res.params["e"]) == pytest.approx(1.817, abs=0.05)


def test_bnsl_one_break_recovery():
    law = get_law("bnsl", n_breaks=1)
    theta = {"log_a": math.log(0.4), "log_b": math.log(2.3), "c0": 0.05, "c1": 5.0,
             "log_d1": math.log(600.0), "log_f1": math.log(0.1)}
    x = np.geomspace(100, 2000, 25)
    res = fit_law(_synthetic(law, theta, {"x": x}), law)
    assert res.converged, res.status
    pred = res.predict(x=x)["prediction"].to_numpy()
    truth = law.evaluate(theta, x=x)
    assert np.sqrt(np.mean(np.log(pred / truth) ** 2)) < 1e-4


@pytest.mark.shared_data
def test_T1_6b_bnsl_four_digit_addition_extrapolation(shared_data):
    df = pd.read_csv(shared_data / "bnsl_4digit" / "four_digit_addition.csv")
    assert len(df) == 17
    frame = pd.DataFrame({"x": df["dataset_size"].to_numpy(float), "value": df["test_loss"].to_numpy(float)})
    train, test = frame.iloc[:14], frame.iloc[14:]
    res = fit_law(train, "bnsl")
    assert res.converged, res.status

    def rmsle(part):
        p = res.predict(x=part["x"].to_numpy())["prediction"].to_numpy()
        return float(np.sqrt(np.mean((np.log(p) - np.log(part["value"].to_numpy())) ** 2)))

    assert rmsle(train) <= 1e-3
    assert rmsle(test) <= 2e-2


def test_user_defined_law_recovery():
    import jax.numpy as jnp

    law = define_law(
        "exp_decay", lambda t, X: jnp.logaddexp(t["a"] - jnp.exp(t["log_k"]) * X["x"], t["e"]),
        inputs=["x"], positive_inputs=False,
        params=[Param("a", starts=(0.0, 1.0, 2.0)), Param("log_k", natural="k", starts=(-2.0, -1.0, 0.0)),
                Param("e", natural="E", starts=(-1.0, 0.0))],
    )
    x = np.linspace(0.0, 5.0, 12)
    y = np.exp(1.5 - 0.7 * x) + 0.5
    res = fit_law(pd.DataFrame({"x": x, "value": y}), law)
    assert res.converged
    assert res.natural_params["k"] == pytest.approx(0.7, rel=1e-6)
    assert res.natural_params["E"] == pytest.approx(0.5, rel=1e-6)
