"""The loaders on the real public datasets in ../shared/data (read in place, never copied)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from scalefit.errors import DataValidationError
from scalefit.io import (
    attempts_to_counts,
    first_n_attempts,
    frame_hash,
    load_attempt_log,
    load_attempts,
    load_curves,
    subsample_counts,
    validate_curves,
)

pytestmark = pytest.mark.shared_data

EPOCH_MAPPING = {"N": "Model Size", "C": "Training FLOP", "value": "loss"}
GADRE_JSON_MAPPING = {"run": "name", "N": "hyperparameters.params", "D": "hyperparameters.tokens",
                      "value": "results.1.loss"}  # results[1] is the C4 validation loss in every file
JAILBREAK_FIELDS = {"item": "i", "attempt": "n", "success": "flagged"}


# ---------------------------------------------------------------------------------- curves


def test_epoch_chinchilla_runs(shared_data):
    path = shared_data / "chinchilla_epoch" / "svg_extracted_data.csv"
    frame = load_curves(path, columns=EPOCH_MAPPING)
    assert len(frame) == 245
    assert list(frame.columns) == ["run", "N", "D", "C", "metric", "value"]
    raw = pd.read_csv(path)
    np.testing.assert_array_equal(frame["N"], raw["Model Size"])
    np.testing.assert_array_equal(frame["C"], raw["Training FLOP"])
    np.testing.assert_array_equal(frame["value"], raw["loss"])
    np.testing.assert_allclose(frame["D"], raw["Training FLOP"] / (6 * raw["Model Size"]), rtol=1e-15)
    assert frame.attrs["derived"] == {"D": "C/(6*N)"}
    validate_curves(frame, inputs=["N", "D"], law="chinchilla", num_params=5)


def test_epoch_auto_detection_matches_the_explicit_mapping(shared_data):
    # Auto-detection must take `loss`, not the SVG pixel column `y`.
    path = shared_data / "chinchilla_epoch" / "svg_extracted_data.csv"
    auto = load_curves(path)
    pd.testing.assert_frame_equal(auto, load_curves(path, columns=EPOCH_MAPPING))
    assert frame_hash(auto, ["N", "D", "value"]) == frame_hash(load_curves(path, columns=EPOCH_MAPPING),
                                                               ["N", "D", "value"])


def test_gadre_flat_csv(shared_data):
    path = shared_data / "gadre_overtraining" / "derived" / "gadre_models_flat.csv"
    frame = load_curves(path, columns={"run": "name"}, metric="loss__c4_val", groups=["dataset"])
    assert len(frame) == 104
    assert frame["dataset"].value_counts().to_dict() == {"rpj": 35, "rw_original": 35, "c4_original": 34}
    assert frame["N"].between(1.0e7, 7.0e9).all() and frame["D"].between(5e7, 1e12).all()
    assert set(frame["metric"]) == {"loss__c4_val"}
    validate_curves(frame, inputs=["N", "D"], groups=["dataset"])


def test_gadre_overflowed_compute_column_is_caught(shared_data):
    # The flat CSV's compute_6ND overflowed int64 for 24 runs; validation catches the negative values,
    # while the loader's own C = 6*N*D (float64) is positive everywhere.
    path = shared_data / "gadre_overtraining" / "derived" / "gadre_models_flat.csv"
    frame = load_curves(path, columns={"run": "name", "C": "compute_6ND"}, metric="loss__c4_val")
    with pytest.raises(DataValidationError, match=r"column `compute_6ND` \(used as C\): and 21 more rows that are not positive"):
        validate_curves(frame, inputs=["C"])
    derived = load_curves(path, columns={"run": "name"}, metric="loss__c4_val")
    assert (derived["C"] > 0).all()


def test_gadre_json_folder_matches_the_flat_csv(shared_data):
    folder = shared_data / "gadre_overtraining" / "exp_data" / "models"
    frame = load_curves(folder, columns=GADRE_JSON_MAPPING, groups=["dataset_name"], metric="c4_val")
    assert len(frame) == 104 and len(frame.attrs["files"]) == 104
    flat = load_curves(shared_data / "gadre_overtraining" / "derived" / "gadre_models_flat.csv",
                       columns={"run": "name"}, metric="loss__c4_val", groups=["dataset"])
    a = frame.set_index("run").sort_index()
    b = flat.set_index("run").sort_index()
    assert a.index.tolist() == b.index.tolist()
    for column in ("N", "D", "C", "value"):
        np.testing.assert_array_equal(a[column], b[column])
    assert (a["dataset_name"] == b["dataset"]).all()


def test_gadre_json_folder_by_glob(shared_data):
    pattern = str(shared_data / "gadre_overtraining" / "exp_data" / "models" / "rpj-*.json")
    frame = load_curves(pattern, columns=GADRE_JSON_MAPPING, groups=["dataset_name"])
    assert len(frame) == 35 and set(frame["dataset_name"]) == {"rpj"}


@pytest.mark.parametrize(("name", "rows", "curves", "training"),
                         [("lang", 1399, 20, {1: 766, 0: 633}), ("vision", 18883, 72, {1: 3902, 0: 14981})])
def test_revisiting_benchmarks(shared_data, name, rows, curves, training):
    path = shared_data / "revisiting_nsl_alabdulmohsin2022" / f"benchmark.{name}.csv"
    groups = ["Domain", "Task", "Model"]
    frame = load_curves(path, columns={"D": "Seen Examples"}, groups=groups, keep=["Training"])
    assert len(frame) == rows
    assert list(frame.columns) == ["run", *groups, "D", "metric", "value", "Training"]
    assert frame.groupby(groups).ngroups == curves
    assert frame["Training"].value_counts().to_dict() == training
    assert frame.attrs["columns"] == {"D": "Seen Examples", "value": "Loss"}


def test_revisiting_lang_duplicates(shared_data):
    path = shared_data / "revisiting_nsl_alabdulmohsin2022" / "benchmark.lang.csv"
    groups = ["Domain", "Task", "Model"]
    with pytest.raises(DataValidationError, match=r"duplicate rows 54, 173, 292 and 411: Domain=LM"):
        validate_curves(load_curves(path, columns={"D": "Seen Examples"}, groups=groups), inputs=["D"],
                        groups=groups)
    frame = load_curves(path, columns={"D": "Seen Examples"}, groups=groups, keep=["Training"],
                        drop_duplicates=True)
    assert frame.attrs["duplicates_dropped"] == 687
    assert len(frame) == 1399 - 687
    assert frame.groupby(groups).ngroups == 20
    validate_curves(frame, inputs=["D"], groups=groups)


# ---------------------------------------------------------------------------------- attempts


def test_pythia_final_counts(shared_data):
    counts = load_attempts(shared_data / "repeated_sampling" / "pythia_math_final_counts.csv",
                           groups=["model", "benchmark"])
    assert list(counts.columns) == ["model", "benchmark", "item", "n", "k"]
    assert counts.groupby(["model", "benchmark"]).size().to_dict() == {
        ("Pythia 1B", "MATH"): 128, ("Pythia 410M", "MATH"): 128,
        ("Pythia 6.9B", "MATH"): 128, ("Pythia 70M", "MATH"): 128}
    assert (counts["n"] == 10_000).all() and counts.attrs["mixed_budgets"] is False
    coverage = (counts["k"] > 0).groupby(counts["model"]).mean()
    # SOURCE.md: coverage at 10,000 samples 70M 0.27, 410M 0.66, 1B 0.74, 6.9B 0.84
    assert coverage.round(2).to_dict() == {"Pythia 1B": 0.74, "Pythia 410M": 0.66, "Pythia 6.9B": 0.84,
                                           "Pythia 70M": 0.27}


def test_pythia_subsampled_budget(shared_data):
    counts = load_attempts(shared_data / "repeated_sampling" / "pythia_math_final_counts.csv",
                           groups=["model", "benchmark"])
    small = subsample_counts(counts, 100, seed=0)
    assert (small["n"] == 100).all()
    assert (small["k"] <= counts["k"]).all()
    # pass@1 is preserved in expectation: compare the means over all 512 items loosely.
    assert small["k"].sum() / (100 * len(small)) == pytest.approx(counts["k"].sum() / (10_000 * len(counts)),
                                                                  rel=0.2)


def test_pythia_checkpoint_counts_have_mixed_budgets(shared_data):
    counts = load_attempts(shared_data / "repeated_sampling" / "pythia_checkpoints_math_counts.csv",
                           groups=["model_nickname", "benchmark"])
    assert counts.attrs["mixed_budgets"] is True
    assert counts.groupby("model_nickname").ngroups * 128 == len(counts)


def test_jailbreak_log_until_success(shared_data):
    path = shared_data / "repeated_sampling" / "bon_llama3_8b_instruct_attempts.jsonl"
    counts = load_attempts(path, "until_success", **JAILBREAK_FIELDS, batch_size=60, cap=10_020)
    assert len(counts) == 159
    assert list(counts.columns) == ["item", "n", "k", "first_success", "batch_size", "cap", "censored"]
    assert counts["n"].sum() == 29_880
    first = counts["first_success"]
    # SOURCE.md: ASR@60 = 0.667, ASR@600 = 0.962, ASR@1020 = 0.975; every item broken by 6,000.
    assert (first <= 60).mean() == pytest.approx(0.667, abs=5e-4)
    assert (first <= 600).mean() == pytest.approx(0.962, abs=5e-4)
    assert (first <= 1020).mean() == pytest.approx(0.975, abs=5e-4)
    assert (first <= 6000).all() and not counts["censored"].any()
    assert (counts["n"] >= 60).all() and (counts["n"] % 60 == 0).all()


def test_jailbreak_first_batch_gives_fixed_budget_counts(shared_data):
    path = shared_data / "repeated_sampling" / "bon_llama3_8b_instruct_attempts.jsonl"
    log = load_attempt_log(path, **JAILBREAK_FIELDS)
    assert len(log) == 29_880 and log["item"].nunique() == 159
    first_batch = attempts_to_counts(first_n_attempts(log, 60))
    assert (first_batch["n"] == 60).all() and first_batch.attrs["mixed_budgets"] is False
    assert (first_batch["k"] > 0).mean() == pytest.approx(0.667, abs=5e-4)
    # The whole log has mixed budgets (sampling stopped early for items broken early).
    assert attempts_to_counts(log).attrs["mixed_budgets"] is True


def test_jailbreak_backtest_truncation_respects_the_stopping_rule(shared_data):
    path = shared_data / "repeated_sampling" / "bon_llama3_8b_instruct_attempts.jsonl"
    log = load_attempt_log(path, **JAILBREAK_FIELDS)
    counts = attempts_to_counts(first_n_attempts(log, 600), batch_size=60, cap=600)
    assert (~counts["censored"]).mean() == pytest.approx(0.962, abs=5e-4)
    assert counts.loc[counts["censored"], "n"].eq(600).all()


def test_jailbreak_wrong_batch_size_is_caught(shared_data):
    path = shared_data / "repeated_sampling" / "bon_llama3_8b_instruct_attempts.jsonl"
    with pytest.raises(DataValidationError, match=r"but sampling stops at 30 \(first success at attempt 13, "
                                                  r"batches of 30, cap 10020\)"):
        load_attempts(path, "until_success", **JAILBREAK_FIELDS, batch_size=30, cap=10_020)
