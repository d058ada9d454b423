"""Reports of scalefit's default best-of-N model (issue: reporting): `scalefit bon fit -o` then
`scalefit report` states the forecast and its interval at the requested budget, with the numbers
of `BonFit.predict` / `BonFit.budget` (same seed, same bootstrap), shows the model choice, and
warns about extrapolation beyond 10x."""

from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

pypdf = pytest.importorskip("pypdf")

from scalefit.cli import main  # noqa: E402
from scalefit.plots._style import fmt_num  # noqa: E402
from scalefit.report import bon_record, build_report  # noqa: E402
from scalefit.sampling import BonFit  # noqa: E402

from conftest import REPO  # noqa: E402

DATA = REPO / "scalefit" / "examples" / "bon_synthetic_counts.csv"
B = 30  # bootstrap replicates: enough to exercise the intervals, small for CI


def _text(pdf: bytes) -> list[str]:
    return [" ".join((p.extract_text() or "").split()) for p in pypdf.PdfReader(io.BytesIO(pdf)).pages]


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    d = tmp_path_factory.mktemp("bon_report")
    fit_json = d / "fit.json"
    assert main(["bon", "fit", str(DATA), "-o", str(fit_json)]) == 0
    return d, fit_json


def test_cli_report_on_a_bon_fit_states_forecast_and_interval(saved, capsys):
    d, fit_json = saved
    out = d / "bon.pdf"
    assert main(["report", str(fit_json), "-o", str(out), "--at", "N=1000", "--rate", "0.9",
                 "--bootstrap", str(B), "--metric", "ASR"]) == 0
    pages = _text(out.read_bytes())
    import json

    bon = BonFit.from_dict(json.loads(fit_json.read_text())["groups"][0]["fit"])
    fc = bon.predict([1000.0], num_bootstrap=B, level=0.9).table.iloc[0]
    assert fc["lower"] < fc["estimate"] < fc["upper"]
    cover = pages[0]
    assert (f"it predicts ASR@1000 = {fc['estimate']:.3f} for these problems, with a 90% interval of "
            f"{fc['lower']:.3f} to {fc['upper']:.3f}") in cover
    assert f"chose the {bon.model} model" in cover
    bud = bon.budget([0.9], num_bootstrap=B, level=0.9).table.iloc[0]
    assert f"takes about N = {fmt_num(bud['estimate'], 3)} attempts" in cover
    body = " ".join(pages[1:])
    assert "Model choice (internal backtest)" in body
    for m in bon.candidates:
        assert m in body
    assert "Extrapolation" not in cover  # 10x is not beyond 10x


def test_far_budget_is_an_extrapolation_warning(saved):
    d, fit_json = saved
    info = build_report(fit_json, targets={"N": 1e5}, options={"bootstrap": B})
    assert any("Extrapolation 1000× beyond the observed 100 attempts" in w for w in info.warnings)
    assert "Extrapolation" in _text(info.pdf)[0]


def test_bon_record_intervals_and_backtest_are_consistent():
    import pandas as pd

    from scalefit.sampling import fit_bon

    c = pd.read_csv(DATA)
    bon = fit_bon(c["n"].to_numpy(), c["k"].to_numpy(), seed=0)
    rec = bon_record(bon, targets=[1000, 5000], num_bootstrap=B, backtest_attempts=20, backtest_N=[40, 100])
    cur = rec["curve"]
    N = np.asarray(cur["N"])
    assert N[0] == 100 and np.all(np.diff(N) > 0)
    pred, lo, up = (np.asarray(cur[k]) for k in ("prediction", "lower", "upper"))
    assert np.all(np.diff(pred) >= -1e-12)  # pass@N never falls with N
    assert np.all(lo <= pred + 1e-12) and np.all(pred <= up + 1e-12)
    # the population curve at N = 1 is the mean success rate, close to the observed per-attempt rate
    assert abs(rec["model_curve"]["prediction"][0] - c["k"].sum() / c["n"].sum()) < 0.02
    rows = rec["backtest"]["rows"]
    assert [r["N"] for r in rows] == [40, 100]
    # at N = n the held-out "empirical" rate of the continued run is the observed solve rate
    assert rows[-1]["empirical"] == pytest.approx(np.mean(c["k"] > 0))
    # forecasts hold at any N >= 1 (issue 15, ragged budgets): a target below the observed
    # budget is answered, one below 1 attempt refused
    below = bon_record(bon, targets=[50], num_bootstrap=0)
    assert 0 < below["targets"][0]["prediction"] < rec["targets"][0]["prediction"]
    with pytest.raises(Exception, match="targets"):
        bon_record(bon, targets=[0.5], num_bootstrap=0)
