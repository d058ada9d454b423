"""Large tables (issue 11, item 5): the subsample search finds the full-data optimum, and saved
fits of large tables keep a summary and hash instead of every row.  The size thresholds are
lowered here so that the mechanisms run on small data; benchmarks/bench_large.py times the
1,000,000-row case."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import scalefit
from scalefit.fit import FitResult, fit_law
from scalefit.fit import point, result

scalefit.enable_x64()


@pytest.fixture(scope="module")
def curve():
    rng = np.random.default_rng(3)
    N = np.repeat(np.geomspace(1e6, 1e10, 60), 50)  # 3,000 rows, 60 distinct sizes
    loss = (1.7 + 400 * N ** -0.3) * np.exp(0.01 * rng.standard_normal(N.size))
    return pd.DataFrame({"N": N, "loss": loss})


def _fit(frame):
    return fit_law(frame, "power_law", inputs={"x": "N"}, target="loss")


def test_subsample_search_reaches_the_full_data_optimum(curve, monkeypatch):
    reference = _fit(curve)  # 3,000 rows: below LARGE_ROWS, every start on every row
    monkeypatch.setattr(point, "LARGE_ROWS", 1_000)
    monkeypatch.setattr(point, "SUBSAMPLE_ROWS", 500)
    large = _fit(curve)
    assert large.converged and reference.converged, (large.status, reference.status)
    assert (large.starts["stage"] == "polished (subsample)").any()
    assert large.metadata["schedule"]["subsample_rows"] == 500
    # both runs end with L-BFGS on the same full data to ftol 1e-15 on a 3-parameter problem
    # whose scaled Hessian is well conditioned here (60 sizes over 4 decades): the optima agree
    # far below the 1e-6 relative allowed
    for n in reference.params:
        assert large.params[n] == pytest.approx(reference.params[n], rel=1e-6, abs=1e-9)
    assert large.objective == pytest.approx(reference.objective, rel=1e-10)


def test_large_frame_is_saved_as_a_summary_with_hash(curve, monkeypatch):
    monkeypatch.setattr(result, "EMBED_ROWS", 1_000)
    monkeypatch.setattr(result, "SAMPLE_ROWS", 100)
    res = _fit(curve)
    back = FitResult.from_json(res.to_json())
    summary = back.frame.attrs["summary"]
    assert summary["rows"] == len(curve) == back.n_points
    assert summary["sha256"] == res.metadata["data_hash"]
    assert len(back.frame) <= 100 + 2 * 2  # the sample plus each numeric column's min and max rows
    assert f"{len(curve)} points (saved as a summary" in back.summary()
    # the sample keeps the largest input, so extrapolation factors are unchanged
    at = {"x": [1e11, 3e9]}
    np.testing.assert_array_equal(back.predict(at)["extrapolation"], res.predict(at)["extrapolation"])
    np.testing.assert_allclose(back.predict(at)["prediction"], res.predict(at)["prediction"], rtol=0, atol=0)


def test_small_frame_is_saved_row_by_row(curve):
    res = _fit(curve.iloc[:200])
    back = FitResult.from_json(res.to_json())
    assert "summary" not in back.frame.attrs and len(back.frame) == 200
