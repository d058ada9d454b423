"""Result objects, constraints, argument errors and compile caching of point fits."""

from __future__ import annotations

import dataclasses
import json
import math

import jax
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import scalefit
from scalefit import ArgumentError, DataValidationError, FitResult, Param, ParamSpec, fit_law, get_law


@pytest.fixture(scope="module")
def chin_frame():
    law = get_law("chinchilla")
    N = np.repeat(np.geomspace(1e7, 1e10, 6), 5)
    D = np.tile(np.geomspace(1e9, 1e12, 5), 6)
    theta = dict(a=math.log(482.0), b=math.log(2085.0), e=math.log(1.817), alpha=0.348, beta=0.366)
    y = law.evaluate(theta, N=N, D=D) * np.exp(np.random.default_rng(1).normal(0, 0.002, N.size))
    return pd.DataFrame({"run": [f"r{i}" for i in range(N.size)], "N": N, "D": D, "value": y})


@pytest.fixture(scope="module")
def chin_fit(chin_frame):
    return fit_law(chin_frame, "chinchilla", seed=123)


def test_result_is_immutable(chin_fit):
    with pytest.raises(dataclasses.FrozenInstanceError):
        chin_fit.converged = False


def test_json_round_trip(chin_fit, tmp_path):
    path = tmp_path / "fit.json"
    chin_fit.to_json(path)
    json.loads(path.read_text())  # strict JSON (no NaN tokens)
    back = FitResult.from_json(path)
    assert back.params == chin_fit.params
    assert back.converged == chin_fit.converged and back.status == chin_fit.status
    assert back.metadata["seed"] == 123
    pd.testing.assert_frame_equal(back.frame.reset_index(drop=True), chin_fit.frame.reset_index(drop=True),
                                  check_dtype=False, check_index_type=False)
    assert len(back.starts) == len(chin_fit.starts)
    a = back.predict(N=7e10, D=1.4e12)
    b = chin_fit.predict(N=7e10, D=1.4e12)
    pd.testing.assert_frame_equal(a, b)


def test_to_json_never_overwrites(chin_fit, tmp_path):
    path = tmp_path / "fit.json"
    path.write_text("precious")
    with pytest.raises(ArgumentError, match="already exists"):
        chin_fit.to_json(path)
    assert path.read_text() == "precious"
    chin_fit.to_json(path, overwrite=True)
    assert FitResult.from_json(path).params == chin_fit.params


def test_predict_returns_dataframe_with_extrapolation(chin_fit):
    out = chin_fit.predict(N=[1e10, 1e11], D=[1e12, 1e13])
    assert list(out.columns) == ["N", "D", "prediction", "estimate", "extrapolation"]
    # the one extrapolation factor: the largest single-input ratio, or the ratio of N*D to the
    # largest fitted N*D when that is larger (docs/fitting.md#extrapolation)
    fr = chin_fit.frame
    Nf, Df = fr[chin_fit.inputs["N"]].to_numpy(float), fr[chin_fit.inputs["D"]].to_numpy(float)
    N, D = np.array([1e10, 1e11]), np.array([1e12, 1e13])
    expected = np.maximum(np.maximum(N / Nf.max(), D / Df.max()), N * D / np.max(Nf * Df))
    assert out["extrapolation"].to_numpy() == pytest.approx(expected, rel=1e-12)  # same arithmetic, rounding only
    assert np.all(out["extrapolation"].to_numpy() >= [1.0, 10.0])
    law = chin_fit.law
    assert out["prediction"][1] == pytest.approx(law.evaluate(chin_fit.params, N=1e11, D=1e13)[0], rel=1e-12)
    with pytest.raises(ArgumentError, match="`D`"):
        chin_fit.predict(N=1e10)
    with pytest.raises(ArgumentError, match=r"`at`: input `N` = -1.0 is invalid \(must be finite and > 0\)"):
        chin_fit.predict(N=-1.0, D=1e12)


def test_summary_mentions_convergence(chin_fit):
    text = chin_fit.summary()
    assert "converged" in text and "alpha" in text and "objective" in text


def test_fixed_and_tied_parameters(chin_frame):
    res = fit_law(chin_frame, "chinchilla", fixed={"alpha": 0.35}, tied={"beta": "alpha"})
    assert res.params["alpha"] == 0.35 and res.params["beta"] == 0.35
    assert res.free == ("a", "b", "e")
    assert res.converged, res.status
    tab = res.param_table().set_index("parameter")
    assert tab.loc["beta", "role"] == "tied to alpha" and tab.loc["alpha", "role"] == "fixed"


def test_tied_exponent_equals_overtraining_law(chin_frame):
    tied = fit_law(chin_frame, "chinchilla", tied={"beta": "alpha"})
    ot = fit_law(chin_frame, "overtraining")
    assert tied.objective == pytest.approx(ot.objective, rel=1e-7)
    assert tied.params["alpha"] == pytest.approx(ot.params["alpha"], rel=1e-5)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(loss="l3"), r"`loss` = 'l3' is not one of"),
        (dict(delta=0.0), r"`delta` = 0.0 must be > 0"),
        (dict(fixed={"gamma": 1.0}), r"unknown parameter `gamma`"),
        (dict(tied={"beta": "zeta"}), r"`tied` maps `beta` to unknown parameter `zeta`"),
        (dict(fixed={"beta": 0.3}, tied={"beta": "alpha"}), r"both fixed and tied"),
        (dict(inputs={"N": "params"}), r"input `N` is bound to column `params`"),
        (dict(target="loss"), r"`target` column `loss` is not in the data"),
        (dict(weights=[1.0, 2.0]), r"`weights` must be 30 finite non-negative numbers"),
        (dict(starts=np.zeros((2, 3))), r"`starts` has 3 columns"),
        (dict(n_polish=0), r"`n_polish` = 0 must be an integer >= 1"),
    ],
)
def test_argument_errors_are_one_line(chin_frame, kwargs, match):
    with pytest.raises(ArgumentError, match=match) as err:
        fit_law(chin_frame, "chinchilla", **kwargs)
    assert "\n" not in str(err.value)


def test_unknown_law():
    with pytest.raises(ArgumentError, match=r"unknown law `chinchila`; available: .*chinchilla"):
        get_law("chinchila")


def test_bad_data_reports_every_problem():
    df = pd.DataFrame({"N": [1e8, 2e8, -5.0, 4e8], "D": [1e9, 2e9, 3e9, np.nan], "value": [3.0, 2.9, 2.8, 2.7]})
    with pytest.raises(DataValidationError) as err:
        fit_law(df, "chinchilla")
    msg = str(err.value)
    assert "column `N` row 2: -5" in msg and "column `D` row 3: NaN" in msg
    assert "needs at least 6 points, got 4" in msg
    assert "\n" not in msg


def test_single_variable_law_needs_x_binding(chin_frame):
    with pytest.raises(ArgumentError, match=r"needs its input `x` bound"):
        fit_law(chin_frame, "power_law")
    res = fit_law(chin_frame, "power_law", inputs={"x": "N"})
    assert res.inputs == {"x": "N"}


def test_second_call_with_same_shapes_does_not_recompile(chin_frame, count_compiles):
    fit_law(chin_frame, "power_law", inputs={"x": "D"})  # warm
    other = chin_frame.assign(value=chin_frame["value"] * 1.01)
    with count_compiles() as cc:
        fit_law(other, "power_law", inputs={"x": "D"})
    assert cc.messages == []


def test_jit_equals_eager_objective(chin_frame):
    from scalefit.fit.objective import make_objective

    law = get_law("chinchilla")
    obj = make_objective(law, free=law.param_names, fixed=(), tied=(), loss="huber", delta=1e-3, asymmetry=0.5)
    data = {"X": {"N": chin_frame.N.to_numpy(), "D": chin_frame.D.to_numpy()},
            "y": np.log(chin_frame.value.to_numpy()), "w": np.ones(len(chin_frame)), "fixed": np.zeros(0)}
    x = np.array([6.0, 7.0, 0.6, 0.3, 0.35])
    # jit may fuse and vectorise exp/log differently from op-by-op dispatch (a few ulps each) and sum in
    # another order.  Bound: the 30 Huber terms are positive (summation error <= 30 eps = 3e-15) and
    # each residual r = pred - y loses |pred|/|r| <= 1.76/0.0076 = 233 of its relative accuracy at this
    # start, so ~4 ulps per term give <= 1e-13; 1e-12 holds on any instruction set.
    assert float(jax.jit(obj)(x, data)) == pytest.approx(float(obj(x, data)), rel=1e-12)


# -------------------------------------------------------------- parameter specs (hypothesis)
names = st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True)


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(names, st.lists(st.floats(-50, 50), min_size=1, max_size=3), min_size=1, max_size=4))
def test_param_grid_is_cartesian_product(axes):
    spec = ParamSpec(tuple(Param(n, starts=tuple(v)) for n, v in axes.items()))
    grid = spec.grid()
    assert grid.shape == (int(np.prod([len(v) for v in axes.values()])), len(axes))
    for j, (n, v) in enumerate(axes.items()):
        assert set(grid[:, j]) == set(v)


@settings(max_examples=60, deadline=None)
@given(st.floats(-30, 30))
def test_log_param_natural_round_trip(v):
    p = Param("a", natural="A")
    assert math.log(p.to_natural(v)) == pytest.approx(v, abs=1e-12)
    spec = ParamSpec((p, Param("alpha")))
    nat = spec.natural_values({"a": v, "alpha": 0.3})
    assert nat["A"] == pytest.approx(math.exp(v)) and nat["alpha"] == 0.3


_VG = jax.value_and_grad(lambda x, _: __import__("jax").numpy.sum((x - 100.0) ** 2))


@jax.jit
def _bounded_min(x0, lo, hi):
    from scalefit.fit import _lbfgs

    return _lbfgs.minimize(_VG, x0, None, lower=lo, upper=hi, max_iter=100).x


@settings(max_examples=40, deadline=None)
@given(st.floats(-5, 5), st.floats(0.01, 10))
def test_bounds_are_respected_by_the_optimiser(lo, width):
    import jax.numpy as jnp

    hi = lo + width
    x = _bounded_min(jnp.array([lo + width / 2]), jnp.array([lo]), jnp.array([hi]))
    assert float(x[0]) == pytest.approx(hi)


def test_param_errors():
    with pytest.raises(ArgumentError, match="must be below"):
        Param("a", lower=1.0, upper=0.0)
    with pytest.raises(ArgumentError, match="duplicate parameter names"):
        ParamSpec((Param("a"), Param("a")))
    with pytest.raises(ArgumentError, match="not a valid identifier"):
        Param("1a")
