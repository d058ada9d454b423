"""Attempt order of plain (fixed-budget) attempt logs: the 1-based attempt of each item's first
success is kept on load (``first_success_at``), so that continued forecasts judge an item that
got more than N attempts on its first N exactly (issue 15, ragged budgets)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from scalefit.errors import DataValidationError
from scalefit.io import load_attempts
from scalefit.sampling import as_item_data, fit_bon

LONG, SHORT = 200, 20  # a third of the behaviours got 10x the attempts (a continued red-team run)


def _ragged_rows(seed=3):
    rng = np.random.default_rng(seed)
    rows = []
    for b in range(30):
        p = rng.beta(0.3, 3.0)
        for t in range(LONG if b % 3 == 0 else SHORT):
            rows.append({"behavior_id": f"b{b:02d}", "trial": t, "flagged": bool(rng.random() < p)})
    return pd.DataFrame(rows)


def _first_success(rows: pd.DataFrame) -> pd.Series:
    """1-based position of the first success per behaviour, from the trial index (NaN: none)."""
    rows = rows.sort_values(["behavior_id", "trial"])
    pos = rows.groupby("behavior_id").cumcount() + 1
    return pos[rows["flagged"]].groupby(rows["behavior_id"][rows["flagged"]]).min().astype(float)


def _check_positions(frame: pd.DataFrame, expect: pd.Series) -> None:
    got = frame.set_index("item")["first_success_at"]
    assert got.dropna().sort_index().equals(expect.sort_index())
    assert set(got[got.isna()].index) == set(got.index) - set(expect.index)


def test_flat_csv_order_from_the_attempt_column(tmp_path):
    rows = _ragged_rows()
    path = tmp_path / "bon.csv"
    rows.sample(frac=1.0, random_state=0).to_csv(path, index=False)  # rows shuffled: only `trial` orders them
    frame = load_attempts(path)
    _check_positions(frame, _first_success(rows))
    assert frame.attrs["attempt_order"] == "the attempt column `trial`"
    assert frame.attrs["mixed_budgets"]
    # without an attempt column the file order is used, and the message says so and names the
    # column that may hold an index
    rows.rename(columns={"trial": "step"}).to_csv(tmp_path / "noidx.csv", index=False)
    frame = load_attempts(tmp_path / "noidx.csv")
    _check_positions(frame, _first_success(rows))
    assert frame.attrs["attempt_order"].startswith("the order of each item's attempts in the source")
    assert "`step`" in frame.attrs["attempt_order"]


def test_jsonl_flat_and_nested_per_behaviour_use_file_order(tmp_path):
    rows = _ragged_rows(seed=4)
    flat = tmp_path / "flat.jsonl"
    flat.write_text("".join(json.dumps({"behavior_id": r.behavior_id, "flagged": r.flagged}) + "\n"
                            for r in rows.itertuples()))
    nested = tmp_path / "nested.jsonl"
    nested.write_text("".join(json.dumps({"behavior_id": b, "attempts": [bool(v) for v in g["flagged"]]}) + "\n"
                              for b, g in rows.groupby("behavior_id", sort=False)))
    expect = _first_success(rows)
    for path in (flat, nested):
        frame = load_attempts(path)
        _check_positions(frame, expect)
        assert "order of each item's attempts in the source" in frame.attrs["attempt_order"]


def test_inconsistent_positions_in_a_counts_table_are_reported(tmp_path):
    path = tmp_path / "counts.csv"
    path.write_text("item,n,k,first_success_at\na,10,2,3\nb,10,0,4\nc,10,1,\nd,10,1,11\n")
    with pytest.raises(DataValidationError) as err:
        load_attempts(path)
    text = str(err.value)
    assert "item b: `first_success_at` = 4" in text  # a position without a success
    assert "item c: `first_success_at` is NaN but `k` = 1" in text
    assert "item d: `first_success_at` = 11" in text  # beyond the item's attempts
    assert "item a" not in text


def _exact_continued(frame: pd.DataFrame, bon, N: int) -> float:
    """Items with more than N attempts are decided by their first N (position <= N); the others
    by the model's continued chance given their observations (solved ones count 1)."""
    big = frame["n"].to_numpy() > N
    fs = frame["first_success_at"].to_numpy()
    rest = as_item_data(frame[~big])
    model = bon.fit.solve_probabilities(rest, N, target="continued")
    return (np.sum(np.isfinite(fs[big]) & (fs[big] <= N)) + model.sum()) / len(frame)


def test_continued_forecast_uses_exact_first_n_outcomes(tmp_path, capsys):
    from scalefit.cli import main
    from scalefit.report.bestofn import saved_bon_record
    from scalefit.sampling import BonFit

    rows = _ragged_rows()
    path = tmp_path / "bon.csv"
    rows.to_csv(path, index=False)
    frame = load_attempts(path)
    bon = fit_bon(frame, model="beta")  # the loader's frame goes to the fitter as is
    assert bon.data.until_success is False  # a fixed-budget log: thinned, not truncated, in backtests
    fc = bon.predict_forecast([10, 100], target="continued", num_bootstrap=0)
    assert fc.note == ""
    # every item got more than 10 attempts: the rate at 10 is the share of first successes <= 10,
    # whatever the model (exact counting, so equality up to float rounding of a mean of 30 terms)
    assert fc.estimate[0] == pytest.approx(np.mean(frame["first_success_at"] <= 10), rel=1e-12)
    assert fc.estimate[1] == pytest.approx(_exact_continued(frame, bon, 100), rel=1e-12)
    # the counts alone (no order) fall back to pass@N, with one line saying why
    plain = fit_bon(frame.drop(columns="first_success_at"), model="beta")
    note = plain.predict_forecast([100], target="continued", num_bootstrap=0).note
    assert "no attempt order" in note and "per-attempt log" in note and "\n" not in note

    # the command line: the order's source is stated; bon predict and a saved continued forecast
    # read by the report give the same exact numbers
    assert main(["bon", "predict", str(path), "--N", "10,100", "--target", "continued", "--model", "beta",
                 "--bootstrap", "0"]) == 0
    out = capsys.readouterr()
    assert "attempt order from the attempt column `trial`" in out.err
    assert f"{fc.estimate[0]:.4f}" in out.out and f"{fc.estimate[1]:.4f}" in out.out
    saved = tmp_path / "fit.json"
    assert main(["bon", "fit", str(path), "--model", "beta", "--target", "continued", "--bootstrap", "0",
                 "--backtest", "0", "-o", str(saved)]) == 0
    doc = json.loads(saved.read_text())
    back = BonFit.from_dict(doc["groups"][0]["fit"])
    assert back.data.until_success is False  # the order's meaning survives the file
    rec = saved_bon_record(back, targets=[10, 100])
    assert [t["prediction"] for t in rec["targets"]] == pytest.approx(list(fc.estimate), rel=1e-12)
