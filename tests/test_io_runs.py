"""load_runs on realistic wandb-style exports written here (differing column sets, CSV /
JSONL / Parquet), and the preprocessing verbs."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import scalefit
from scalefit.errors import ArgumentError, DataValidationError


def _export(rng, n_steps, loss0, with_eval=True, extra=None):
    """wandb history: train rows every step, eval rows every 2nd step, in separate rows."""
    rows = []
    for s in range(1, n_steps + 1):
        rows.append({"_step": s * 100, "_runtime": 3.2 * s, "_timestamp": 1.7e9 + s, "train/loss": loss0 / s ** 0.1
                     + rng.normal(0, 0.01), "train/lr": 1e-3})
        if with_eval and s % 2 == 0:
            row = {"_step": s * 100, "eval/c4/loss": loss0 / s ** 0.1 + 0.05,
                   "eval/hellaswag/acc": 0.3 + 0.01 * s, "eval/piqa/acc": 0.55 + 0.005 * s}
            row.update(extra or {})
            rows.append(row)
    return rows


def _write(tmp_path, rng):
    a = _export(rng, 10, 4.0)
    pd.DataFrame(a).to_csv(tmp_path / "olmo-190M-1x.csv", index=False)
    b = _export(rng, 8, 3.8, extra={"eval/arc/acc": 0.4})  # one more metric than the others
    with open(tmp_path / "olmo-370M-1x.jsonl", "w") as fh:
        for r in b:
            fh.write(json.dumps(r) + "\n")
    c = pd.DataFrame(_export(rng, 6, 3.6))
    c["train/tokens"] = c["_step"] * 2.0e6  # this run logs its tokens
    c.to_parquet(tmp_path / "olmo-760M-1x.parquet")
    runs = pd.DataFrame({"run": ["olmo-190M-1x", "olmo-370M-1x", "olmo-760M-1x"], "params": [1.9e8, 3.7e8, 7.6e8],
                         "tokens_per_step": [1e6, 2e6, np.nan], "family": ["olmo"] * 3})
    return runs


def test_load_runs_differing_exports(tmp_path):
    rng = np.random.default_rng(0)
    runs = _write(tmp_path, rng)
    frame = scalefit.load_runs(str(tmp_path / "olmo-*"), runs=runs,
                               derived={"avg_acc": {"eval/hellaswag/acc": 1, "eval/piqa/acc": 3}})
    assert sorted(frame.run.unique()) == sorted(runs.run)  # run id per file
    assert (frame.family == "olmo").all()  # run-table constants attached
    # one row per (run, step): train and eval rows of a step are merged
    assert len(frame) == 10 + 8 + 6
    r1 = frame[frame.run == "olmo-190M-1x"]
    np.testing.assert_array_equal(r1.D, r1.step * 1e6)            # D = step x tokens per step
    np.testing.assert_array_equal(r1.C, 6 * 1.9e8 * r1.D)
    r3 = frame[frame.run == "olmo-760M-1x"]
    np.testing.assert_array_equal(r3.D, r3.step * 2e6)            # D from the tokens column
    assert (frame.N == frame.run.map(dict(zip(runs.run, runs.params)))).all()
    assert "_runtime" not in frame.columns and "_timestamp" not in frame.columns
    # a metric only one file has is NaN elsewhere
    assert frame.loc[frame.run == "olmo-370M-1x", "eval/arc/acc"].notna().sum() == 4
    assert frame.loc[frame.run != "olmo-370M-1x", "eval/arc/acc"].isna().all()
    # weighted mean of columns, NaN on train-only steps
    ev = frame.dropna(subset=["eval/piqa/acc"])
    np.testing.assert_allclose(ev.avg_acc, (ev["eval/hellaswag/acc"] + 3 * ev["eval/piqa/acc"]) / 4, rtol=1e-15)
    assert frame.avg_acc.isna().sum() == frame["eval/piqa/acc"].isna().sum()
    assert frame.attrs["files"]["olmo-370M-1x"].endswith(".jsonl")


def test_load_runs_errors_name_the_run_and_file(tmp_path):
    rng = np.random.default_rng(1)
    runs = _write(tmp_path, rng)
    with pytest.raises(ArgumentError, match="no row for run `olmo-760M-1x`.*parquet"):
        scalefit.load_runs(tmp_path, runs=runs.iloc[:2])
    with pytest.raises(ArgumentError, match="`metrics` names `eval/mmlu`"):
        scalefit.load_runs(tmp_path, runs=runs, metrics=["eval/mmlu"])
    no_tps = runs.drop(columns=["tokens_per_step"])
    with pytest.raises(ArgumentError, match="run `olmo-190M-1x`.*derive `D`"):
        scalefit.load_runs(tmp_path, runs=no_tps)
    pd.DataFrame({"loss": [1.0]}).to_csv(tmp_path / "x.csv", index=False)
    with pytest.raises(DataValidationError, match="x.csv' has no step column"):
        scalefit.load_runs(tmp_path / "x.csv", runs={"x": {"N": 1e8, "tokens_per_step": 1}})


def test_preprocessing_verbs(tmp_path):
    rng = np.random.default_rng(2)
    runs = _write(tmp_path, rng)
    frame = scalefit.load_runs(tmp_path, runs=runs, metrics=["train/loss", "eval/c4/loss"])
    sm = scalefit.smooth_runs(frame, "train/loss", window=3)
    r = frame[frame.run == "olmo-190M-1x"]["train/loss"].to_numpy()
    s = sm[sm.run == "olmo-190M-1x"]["train/loss"].to_numpy()
    np.testing.assert_allclose(s[1:-1], (r[:-2] + r[1:-1] + r[2:]) / 3, rtol=1e-14)
    np.testing.assert_allclose(s[0], r[:2].mean(), rtol=1e-14)  # edge: available neighbours
    kept = scalefit.drop_first(frame, 0.5)
    for run, g in kept.groupby("run"):
        assert g.step.min() > 0.5 * frame[frame.run == run].step.max()
    fin = scalefit.final_checkpoints(frame)
    assert len(fin) == 3 and (fin.set_index("run").step == frame.groupby("run").step.max()).all()
    last3 = scalefit.final_checkpoints(frame, last=3, columns=["eval/c4/loss"]).set_index("run")
    ev = frame[frame.run == "olmo-190M-1x"]["eval/c4/loss"].dropna().to_numpy()
    assert last3.loc["olmo-190M-1x", "eval/c4/loss"] == pytest.approx(ev[-3:].mean(), rel=1e-14)
    assert last3.loc["olmo-190M-1x", "D"] == frame[frame.run == "olmo-190M-1x"].D.max()
