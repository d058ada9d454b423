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
    assert main(["bon", "fit", str(DATA), "--bootstrap", str(B), "-o", str(fit_json)]) == 0
    return d, fit_json


def test_cli_report_on_a_bon_fit_states_forecast_and_interval(saved, capsys):
    d, fit_json = saved
    out = d / "bon.pdf"
    assert main(["report", str(fit_json), "-o", str(out), "--at", "N=1000", "--rate", "0.9", "--metric", "ASR"]) == 0
    pages = _text(out.read_bytes())
    import json

    bon = BonFit.from_dict(json.loads(fit_json.read_text())["groups"][0]["fit"])
    # the saved forecast holds BonFit.predict's numbers: same replicates, same seed (1000 is on the grid)
    fc = bon.predict_forecast([1000.0], num_bootstrap=B, level=0.9).table.iloc[0]
    saved_row = bon.forecast.table(0.9, [1000.0]).iloc[0]
    assert [saved_row[c] for c in ("estimate", "lower", "upper")] == [fc[c] for c in ("estimate", "lower", "upper")]
    assert fc["lower"] < fc["estimate"] < fc["upper"]
    cover = pages[0]
    assert (f"it predicts ASR@1000 = {fc['estimate']:.3f} for these problems, with a 90% interval of "
            f"{fc['lower']:.3f} to {fc['upper']:.3f}") in cover
    assert f"chose the {bon.model} model" in cover
    bud = bon.budget([0.9], num_bootstrap=B, level=0.9).table.iloc[0]
    sb = bon.forecast.budget(0.9, 0.9)
    # the interval ends are the replicates' grid crossings, as BonFit.budget computes them
    assert (sb["lower"], sb["upper"]) == pytest.approx((bud["lower"], bud["upper"]), rel=1e-9)
    # the point budget is interpolated on the saved grid (8 budgets per decade) where BonFit.budget
    # bisects: log(1 - rate) is close to linear in log N over 1/8 decade, measured 1.3e-4 relative
    assert sb["estimate"] == pytest.approx(bud["estimate"], rel=2e-3)
    assert f"takes about N = {fmt_num(sb['estimate'], 3)} attempts" in cover
    body = " ".join(pages[1:])
    assert "Model choice (internal backtest)" in body and "internal-backtest error" in body
    assert "internal_error" not in body and "gain_se" not in body  # human headers
    assert "Backtest (external)" in body  # 100 attempts per problem allow one (on 10)
    for m in bon.candidates:
        assert m in body
    assert "Extrapolation" not in cover  # 10x is not beyond 10x


def test_far_budget_is_an_extrapolation_warning(saved):
    d, fit_json = saved
    info = build_report(fit_json, targets={"N": 1e5})
    assert any("Extrapolation 1000× beyond the observed 100 attempts" in w for w in info.warnings)
    assert "Extrapolation" in _text(info.pdf)[0]
    from scalefit.errors import ArgumentError

    with pytest.raises(ArgumentError, match="outside the saved forecast's budgets"):
        build_report(fit_json, targets={"N": 1e6})
    with pytest.raises(ArgumentError, match="replicates; the number is chosen when saving"):
        build_report(fit_json, options={"bootstrap": B + 1})


def test_checks_never_pass_when_the_chosen_model_misses_its_own_backtest(saved):
    """The internal-backtest error of the chosen model against its interval half-width: when the
    error is larger, the report warns and shows no 'checks passed' box."""
    import json

    d, fit_json = saved
    doc = json.loads(fit_json.read_text())
    fit = doc["groups"][0]["fit"]
    chosen = [r for r in fit["scores"] if r["chosen"]][0]
    chosen["internal_error"] = 0.5  # half the rate scale: far beyond any interval half-width
    fit["forecast"]["backtest"] = None  # so that only the internal check can speak
    bad = d / "bad_internal.json"
    bad.write_text(json.dumps(doc))
    info = build_report(bad)
    assert any(w.startswith("Internal backtest:") and "exceeds the half-width" in w for w in info.warnings)
    cover = _text(info.pdf)[0]
    assert "checks passed" not in cover and "Internal backtest" in cover


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


def test_the_plan_is_saved_with_the_fit_and_only_drawn_by_the_report(saved, capsys):
    """`scalefit bon fit -o` stores the planner's recommendation (default: as many further
    attempts as were made, aimed at 10x the observed budget); the report shows it as saved
    (test_report_layout checks that rendering calls no planning function), leaves it out with
    --plan-budget 0 and refuses another budget in one line, exit code 2."""
    import json

    d, fit_json = saved
    bon = BonFit.from_dict(json.loads(fit_json.read_text())["groups"][0]["fit"])
    plan = bon.forecast.plan
    assert plan["budget"] == int(np.sum(bon.data.attempts)) and plan["N"] == 10 * np.max(bon.data.attempts)
    assert plan["target"] == bon.forecast.target and 0 < plan["allocated"] <= plan["budget"]
    assert plan["sd_after"] < plan["sd_now"]
    with_page = _text(build_report(fit_json).pdf)
    assert any(f"Sampling plan for a further {plan['budget']} attempts" in p for p in with_page)
    without = _text(build_report(fit_json, options={"plan_budget": 0}).pdf)
    assert not any("Sampling plan for a further" in p for p in without) and len(without) == len(with_page) - 1
    assert main(["report", str(fit_json), "-o", str(d / "other.pdf"), "--plan-budget", "7"]) == 2
    err = capsys.readouterr().err
    assert "--plan-budget" in err and "the plan is chosen when saving" in err and err.count("\n") == 1, err
    # a damaged plan is named in one line; a file saved before plans were kept renders without the page
    doc = json.loads(fit_json.read_text())
    doc["groups"][0]["fit"]["forecast"]["plan"]["N"] = "x"
    (d / "bad_plan.json").write_text(json.dumps(doc))
    assert main(["report", str(d / "bad_plan.json"), "-o", str(d / "bad.pdf")]) == 2
    err = capsys.readouterr().err
    assert "`groups[0].fit.forecast.plan.N` must be a finite number, got 'x'" in err and err.count("\n") == 1, err
    del doc["groups"][0]["fit"]["forecast"]["plan"]
    (d / "no_plan.json").write_text(json.dumps(doc))
    old_pages = _text(build_report(d / "no_plan.json").pdf)
    assert len(old_pages) == len(without) and not any("Sampling plan for a further" in p for p in old_pages)
