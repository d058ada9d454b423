"""Bootstrap of point fits (METHODS.md §0.5; T1.4c)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from scalefit import ArgumentError, FitResult, allocation_intervals, bootstrap, fit_law, get_law, load_curves
from scalefit.fit.bootstrap import resample_weights


@pytest.fixture(scope="module")
def epoch_fit(shared_data):
    frame = load_curves(shared_data / "chinchilla_epoch" / "svg_extracted_data.csv")
    frame = frame[frame["value"] < np.sort(frame["value"].to_numpy())[-5]]
    return fit_law(frame, "chinchilla")


@pytest.mark.shared_data
def test_T1_4c_bootstrap_sds_on_epoch_data(epoch_fit):
    res = bootstrap(epoch_fit, 400, seed=42)
    b = res.bootstrap
    assert b.n_replicates == 400 and b.n_converged >= 396
    tab = b.table(res.law, res.params).set_index("parameter")
    assert tab.loc["alpha", "sd"] == pytest.approx(0.015, abs=0.003)
    assert tab.loc["beta", "sd"] == pytest.approx(0.021, abs=0.004)
    assert tab.loc["e", "natural_sd"] == pytest.approx(0.027, abs=0.005)
    assert tab.loc["a", "sd"] == pytest.approx(0.25, abs=0.05)
    assert tab.loc["b", "sd"] == pytest.approx(0.42, abs=0.08)
    alloc = allocation_intervals(res, 1e24).set_index("quantity")
    assert alloc.loc["allocation_a", "sd"] == pytest.approx(0.019, abs=0.004)
    # derived quantities are per replicate: the interval brackets the point value
    assert alloc.loc["allocation_a", "lower"] < 0.5139 < alloc.loc["allocation_a", "upper"]


@pytest.mark.shared_data
def test_T1_4c_bootstrap_from_tex_start_agrees(epoch_fit):
    """T1.4c's protocol starts each replicate at Hoffmann's TeX parameters."""
    x0 = np.array([6.0073404, 6.0179186, 0.5267228, 0.33917084, 0.2849083])
    res = bootstrap(epoch_fit, 400, seed=7, start=x0)
    tab = res.bootstrap.table(res.law, res.params).set_index("parameter")
    assert tab.loc["alpha", "sd"] == pytest.approx(0.015, abs=0.003)
    assert tab.loc["beta", "sd"] == pytest.approx(0.021, abs=0.004)
    assert tab.loc["e", "natural_sd"] == pytest.approx(0.027, abs=0.005)


def _checkpoint_frame(seed=0, runs=12, per_run=8, run_sd=0.02):
    """Checkpoint-like data: each run (one model size) contributes several rows that share a
    persistent run offset, so rows within a run are strongly correlated (METHODS §0.5)."""
    rng = np.random.default_rng(seed)
    law = get_law("power_law")
    theta = dict(a=math.log(40.0), alpha=0.3, e=math.log(1.6))
    rows = []
    for r, size in enumerate(np.geomspace(1e7, 1e10, runs)):
        u = rng.normal(0, run_sd)
        x = size * (1 + 0.01 * np.arange(per_run))
        y = law.evaluate(theta, x=x) * np.exp(u + rng.normal(0, 0.002, per_run))
        rows.append(pd.DataFrame({"run": f"r{r}", "x": x, "value": y}))
    return pd.concat(rows, ignore_index=True)


def test_cluster_bootstrap_is_wider_than_case_bootstrap_on_checkpoint_data():
    frame = _checkpoint_frame()
    fit = fit_law(frame, "power_law")
    case = bootstrap(fit, 300, seed=1).bootstrap.param("alpha")
    clus = bootstrap(fit, 300, seed=1, cluster="run").bootstrap.param("alpha")
    # rows of one run are correlated: resampling rows understates the uncertainty
    assert np.std(clus) > 1.5 * np.std(case)


def test_resample_weights_cluster_moves_runs_together():
    clusters = np.array(["a", "a", "b", "b", "b", "c"])
    W = resample_weights(6, 50, seed=3, clusters=clusters)
    assert W.shape == (50, 6)
    assert np.all(W[:, 0] == W[:, 1]) and np.all(W[:, 2] == W[:, 4])
    # each replicate draws 3 clusters
    assert np.all(W[:, [0, 2, 5]].sum(axis=1) == 3)
    Wc = resample_weights(6, 50, seed=3)
    assert np.all(Wc.sum(axis=1) == 6)


def test_bootstrap_is_seeded_and_reproducible_and_round_trips(tmp_path):
    frame = _checkpoint_frame(seed=2)
    fit = fit_law(frame, "power_law")
    a = bootstrap(fit, 64, seed=5)
    b = bootstrap(fit, 64, seed=5)
    c = bootstrap(fit, 64, seed=6)
    np.testing.assert_array_equal(a.bootstrap.draws, b.bootstrap.draws)
    assert not np.array_equal(a.bootstrap.draws, c.bootstrap.draws)
    pred = a.predict(x=[1e9, 1e10])
    assert {"lower", "upper", "se"} <= set(pred.columns)
    assert np.all(pred["lower"] < pred["prediction"]) and np.all(pred["prediction"] < pred["upper"])
    # wider band further out
    assert (pred["upper"] - pred["lower"])[1] > (pred["upper"] - pred["lower"])[0]
    path = tmp_path / "boot.json"
    a.to_json(path)
    back = FitResult.from_json(path)
    np.testing.assert_array_equal(back.bootstrap.draws, a.bootstrap.draws)
    pd.testing.assert_frame_equal(back.predict(x=[1e9, 1e10]), pred)


def test_bootstrap_argument_errors():
    fit = fit_law(_checkpoint_frame(), "power_law")
    with pytest.raises(ArgumentError, match=r"`num_bootstrap` = 1 must be an integer >= 2"):
        bootstrap(fit, 1)
    with pytest.raises(ArgumentError, match=r"`cluster` column `model` is not in the fitted data"):
        bootstrap(fit, 10, cluster="model")
    with pytest.raises(ArgumentError, match=r"`level` = 1.5"):
        bootstrap(fit, 10, level=1.5)
    with pytest.raises(ArgumentError, match=r"no bootstrap"):
        allocation_intervals(fit, 1e24)


def test_second_bootstrap_with_same_shapes_does_not_recompile(count_compiles):
    fit = fit_law(_checkpoint_frame(seed=4), "power_law")
    bootstrap(fit, 40, seed=1, block_size=20)
    with count_compiles() as cc:
        bootstrap(fit, 40, seed=2, block_size=20)
    assert cc.messages == []
