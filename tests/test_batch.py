"""Batch fitting of many curves in one computation (issue: scale)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from scalefit import ArgumentError, DataValidationError, fit_batch, fit_law, get_law, load_curves


def _ragged_curves(n_curves=12, seed=0):
    rng = np.random.default_rng(seed)
    law = get_law("power_law")
    rows, truth = [], {}
    for c in range(n_curves):
        theta = dict(a=math.log(rng.uniform(10, 80)), alpha=rng.uniform(0.15, 0.5), e=math.log(rng.uniform(1.0, 2.5)))
        n = int(rng.integers(6, 14))  # ragged
        x = np.geomspace(1e6, 1e9, n)
        y = law.evaluate(theta, x=x)
        rows.append(pd.DataFrame({"curve": f"c{c}", "x": x, "value": y}))
        truth[f"c{c}"] = theta
    return pd.concat(rows, ignore_index=True), truth


def test_batch_recovers_each_group_and_matches_single_fits():
    frame, truth = _ragged_curves()
    res = fit_batch(frame, "power_law", by="curve")
    assert res.n_groups == 12 and res.n_converged == 12
    tab = res.table.set_index("curve")
    for c, theta in truth.items():
        for k, v in theta.items():
            assert tab.loc[c, k] == pytest.approx(v, rel=1e-5, abs=1e-7), (c, k)
    # the same group fitted alone gives the same optimum
    single = fit_law(frame[frame.curve == "c3"], "power_law")
    assert tab.loc["c3", "objective"] == pytest.approx(single.objective, rel=1e-6, abs=1e-18)
    full = res.fit("c3")
    assert full.converged and len(full.frame) == (frame.curve == "c3").sum()


def test_batch_predict_uses_each_groups_parameters():
    frame, truth = _ragged_curves(n_curves=4, seed=1)
    res = fit_batch(frame, "power_law", by="curve")
    at = pd.DataFrame({"curve": ["c0", "c2", "zz"], "x": [1e10, 1e10, 1e10]})
    out = res.predict(at)
    law = get_law("power_law")
    assert out["prediction"][0] == pytest.approx(law.evaluate(truth["c0"], x=1e10)[0], rel=1e-5)
    assert out["prediction"][1] == pytest.approx(law.evaluate(truth["c2"], x=1e10)[0], rel=1e-5)
    assert np.isnan(out["prediction"][2])


def test_batch_validation_names_the_group():
    frame, _ = _ragged_curves(n_curves=3)
    frame.loc[frame.index[2], "value"] = -1.0
    with pytest.raises(DataValidationError, match=r"column `value` row 2: -1 is not positive"):
        fit_batch(frame, "power_law", by="curve")
    with pytest.raises(ArgumentError, match=r"`by` names columns \['task'\]"):
        fit_batch(frame, "power_law", by="task")


@pytest.mark.shared_data
def test_batch_on_alabdulmohsin_curves_fit_and_score_held_out(shared_data):
    d = shared_data / "revisiting_nsl_alabdulmohsin2022"
    kw = dict(groups=["Domain", "Task", "Model"], keep=["Training"], drop_duplicates=True,
              columns={"D": "Seen Examples"})
    frame = pd.concat([load_curves(d / "benchmark.lang.csv", **kw), load_curves(d / "benchmark.vision.csv", **kw)],
                      ignore_index=True)
    train, test = frame[frame.Training == 1], frame[frame.Training == 0]
    res = fit_batch(train, "power_law", by=["Domain", "Task", "Model"], inputs={"x": "D"})
    assert res.n_groups == 92
    assert res.n_converged >= 90, res.table.loc[~res.table.converged, "status"].tolist()
    pred = res.predict(test)
    err = np.log(pred["prediction"]) - np.log(pred["value"])
    rmse = err.groupby(pred["Domain"]).apply(lambda e: float(np.sqrt(np.mean(e**2))))
    assert set(rmse.index) == {"IC", "NMT", "LM", "BB"}
    # a floor-plus-power law extrapolates these curves to within ~10% in log-loss
    assert (rmse < 0.1).all(), rmse.to_dict()


@pytest.mark.shared_data
def test_batch_sigmoid_on_observational_scaling_benchmarks(shared_data):
    raw = pd.read_csv(shared_data / "obsscaling_ruan2024" / "eval_results" / "base_llm_benchmark_eval.csv")
    benches = ["MMLU", "ARC-C", "HellaSwag", "Winograd", "GSM8K"]
    long = raw.melt(id_vars=["Model", "Model Family", "FLOPs (1E21)"], value_vars=benches,
                    var_name="benchmark", value_name="value").dropna()
    long["log_flops"] = np.log10(long["FLOPs (1E21)"] * 1e21)
    long = long.drop_duplicates(subset=["benchmark", "log_flops", "value"])
    # fit on the weaker models, score the strongest (the paper's hold-out design)
    cut = long["log_flops"].quantile(0.8)
    train, test = long[long.log_flops <= cut], long[long.log_flops > cut]
    res = fit_batch(train, "sigmoid", by="benchmark", inputs={"L": "log_flops"})
    assert res.n_groups == len(benches) and res.n_converged == len(benches), res.table.status.tolist()
    # accuracy rises with compute for every benchmark
    t = res.table.set_index("benchmark")
    assert (t["s"] > 0).all(), t["s"].to_dict()
    pred = res.predict(test)
    mae = float(np.mean(np.abs(pred["prediction"] - pred["value"])))
    assert np.isfinite(pred["prediction"]).all() and mae < 0.2


def test_second_batch_with_same_shapes_does_not_recompile(count_compiles):
    frame, _ = _ragged_curves(n_curves=5, seed=2)
    fit_batch(frame, "power_law", by="curve")
    with count_compiles() as cc:
        fit_batch(frame.assign(value=frame["value"] * 1.02), "power_law", by="curve")
    assert cc.messages == []
