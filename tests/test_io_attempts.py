"""Repeated-sampling loaders, helpers and validate_attempts."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scalefit.errors import ArgumentError, DataValidationError
from scalefit.io import (
    attempts_to_counts,
    first_n_attempts,
    load_attempt_log,
    load_attempts,
    subsample_counts,
    validate_attempts,
)



def _plain(counts):
    """The counts without the first-success positions of ordered logs (tested in test_attempt_order.py)."""
    return counts.drop(columns="first_success_at", errors="ignore").to_dict("list")

def _counts_source() -> pd.DataFrame:
    return pd.DataFrame({
        "model": ["small", "small", "small", "large", "large", "large"],
        "benchmark": ["MATH"] * 6,
        "problem_idx": [3, 7, 11, 3, 7, 11],
        "n_samples": [100, 100, 100, 100, 100, 100],
        "n_correct": [0, 5, 40, 2, 30, 90],
    })


def _expected_counts() -> pd.DataFrame:
    source = _counts_source()
    frame = pd.DataFrame({"model": source["model"], "benchmark": source["benchmark"],
                          "item": source["problem_idx"], "n": source["n_samples"], "k": source["n_correct"]})
    frame.index.name = "row"
    return frame


def _long_source() -> pd.DataFrame:
    # Two models x two items; attempts listed out of order to check sorting by the index.
    return pd.DataFrame({
        "model": ["a"] * 5 + ["b"] * 3,
        "problem": ["p", "p", "p", "q", "q", "p", "p", "q"],
        "sample": [2, 0, 1, 1, 0, 0, 1, 0],
        "passed": [True, False, True, False, False, False, False, True],
    })


# ---------------------------------------------------------------------------------- counts


def test_counts_table_with_aliases_and_groups():
    counts = load_attempts(_counts_source(), groups=["model", "benchmark"])
    pd.testing.assert_frame_equal(counts, _expected_counts())
    assert counts.attrs["columns"] == {"item": "problem_idx", "n": "n_samples", "k": "n_correct"}
    assert counts.attrs["groups"] == ["model", "benchmark"]
    assert counts.attrs["mixed_budgets"] is False


def test_counts_with_explicit_columns():
    source = pd.DataFrame({"q": ["x", "y"], "tries": [10, 20], "wins": [1, 2]})
    counts = load_attempts(source, "counts", item="q", n="tries", k="wins")
    assert counts.columns.tolist() == ["item", "n", "k"]
    assert counts["n"].dtype == np.int64 and counts["k"].dtype == np.int64
    assert counts.attrs["mixed_budgets"] is True


@pytest.mark.parametrize("fmt", ["csv", "parquet", "json", "jsonl"])
def test_counts_round_trip(tmp_path, fmt):
    source = _counts_source()
    path = tmp_path / f"counts.{fmt}"
    if fmt == "csv":
        source.to_csv(path, index=False)
    elif fmt == "parquet":
        source.to_parquet(path)
    elif fmt == "json":
        path.write_text(json.dumps(source.to_dict(orient="records")))
    else:
        path.write_text("\n".join(json.dumps(r) for r in source.to_dict(orient="records")))
    counts = load_attempts(path, groups=["model", "benchmark"])
    pd.testing.assert_frame_equal(counts, _expected_counts())
    assert counts.attrs["source"] == str(path)


def test_until_success_counts_round_trip(tmp_path):
    log = _until_success_log()
    counts = attempts_to_counts(log, batch_size=2, cap=6)
    for fmt in ("csv", "parquet", "jsonl"):
        path = tmp_path / f"until.{fmt}"
        if fmt == "csv":
            counts.to_csv(path, index=False)
        elif fmt == "parquet":
            counts.to_parquet(path)
        else:
            path.write_text(counts.to_json(orient="records", lines=True))
        back = load_attempts(path, "counts")
        pd.testing.assert_frame_equal(back.reset_index(drop=True), counts)


# ---------------------------------------------------------------------------------- per attempt


def test_long_table_to_counts():
    counts = load_attempts(_long_source(), groups=["model"])
    assert _plain(counts) == {"model": ["a", "a", "b", "b"], "item": ["p", "q", "p", "q"],
                                      "n": [3, 2, 2, 1], "k": [2, 0, 0, 1]}
    assert counts.attrs["columns"] == {"item": "problem", "attempt": "sample", "success": "passed"}


def test_attempt_log_is_sorted_by_attempt_within_items():
    log = load_attempt_log(_long_source(), groups=["model"])
    assert log.columns.tolist() == ["model", "item", "attempt", "success"]
    assert log["attempt"].tolist() == [0, 1, 2, 0, 1, 0, 1, 0]
    assert log["success"].tolist() == [False, True, True, False, False, False, False, True]
    assert log["success"].dtype == bool and log["attempt"].dtype == np.int64


def test_without_attempt_column_source_order_is_used():
    source = _long_source().drop(columns="sample")
    log = load_attempt_log(source, groups=["model"])
    assert log["success"].tolist()[:3] == [True, False, True]


def test_success_words_are_understood():
    source = pd.DataFrame({"item": [1, 1, 1, 1, 2, 2], "success": ["pass", "failed: AssertionError", "TRUE",
                                                                    "timed out", "0", "yes"]})
    counts = load_attempts(source)
    assert counts["k"].tolist() == [2, 1]


def test_bad_success_flag():
    source = pd.DataFrame({"item": [1, 1], "success": [1, 2]})
    with pytest.raises(DataValidationError,
                       match=r"column `success` row 1: 2 is not a success flag \(0/1, true/false, pass/fail\)"):
        load_attempts(source)


def test_missing_success_flag():
    source = pd.DataFrame({"item": [1, 1], "success": [True, None]})
    with pytest.raises(DataValidationError, match=r"column `success` row 1: missing success flag"):
        load_attempts(source)


def test_missing_item_id_in_a_log():
    source = pd.DataFrame({"item": [1, None], "success": [True, False]})
    with pytest.raises(DataValidationError, match=r"column `item` row 1: missing item id"):
        load_attempts(source)


def test_repeated_attempt_index():
    source = pd.DataFrame({"item": [1, 1, 1], "attempt": [0, 1, 1], "success": [0, 1, 0]})
    with pytest.raises(DataValidationError, match=r"item 1: attempt 1 appears twice \(rows 1 and 2\)"):
        load_attempts(source)


def test_non_integer_attempt_index():
    source = pd.DataFrame({"item": [1, 1], "attempt": [0, 0.5], "success": [0, 1]})
    with pytest.raises(DataValidationError, match=r"column `attempt` row 1: 0.5 is not an attempt index"):
        load_attempts(source)


def test_jsonl_log_with_field_mapping(tmp_path):
    path = tmp_path / "log.jsonl"
    rows = [{"i": i, "n": a, "flagged": bool(a == 2 and i == 0), "behavior_id": f"b{i}"}
            for i in range(2) for a in range(3)]
    path.write_text("\n".join(json.dumps(r) for r in rows))
    counts = load_attempts(path, "jsonl", item="i", attempt="n", success="flagged")
    assert _plain(counts) == {"item": [0, 1], "n": [3, 3], "k": [1, 0]}


def test_jsonl_format_reads_any_extension(tmp_path):
    path = tmp_path / "log.txt"
    path.write_text('{"item": 1, "success": true}\n{"item": 1, "success": false}\n')
    assert load_attempts(path, "jsonl")["n"].tolist() == [2]


def test_numpy_matrix():
    matrix = np.array([[0, 1, np.nan], [1, 1, 0], [np.nan, np.nan, np.nan], [0, 0, 0]])
    counts = load_attempts(matrix)
    assert _plain(counts) == {"item": [0, 1, 3], "n": [2, 3, 3], "k": [1, 2, 0]}


def test_boolean_numpy_matrix_log():
    log = load_attempt_log(np.array([[True, False], [False, False]]))
    assert log.to_dict("list") == {"item": [0, 0, 1, 1], "attempt": [0, 1, 0, 1],
                                   "success": [True, False, False, False]}


def test_wide_csv_matrix(tmp_path):
    path = tmp_path / "wide.csv"
    path.write_text("model,problem_id,a0,a1,a2\nx,p1,0,1,\nx,p2,1,1,0\ny,p1,,,\ny,p2,0,0,1\n")
    counts = load_attempts(path, "matrix", groups=["model"])
    assert _plain(counts) == {"model": ["x", "x", "y"], "item": ["p1", "p2", "p2"],
                                      "n": [2, 3, 3], "k": [1, 2, 1]}


def test_matrix_is_detected_automatically():
    source = pd.DataFrame({"item": ["u", "v"], "s0": [0, 1], "s1": [1.0, np.nan]})
    assert _plain(load_attempts(source)) == {"item": ["u", "v"], "n": [2, 1], "k": [1, 1]}


def test_bad_matrix_cell():
    with pytest.raises(DataValidationError, match=r"column `2` row 1: 0.5 is not 0, 1 or missing"):
        load_attempts(np.array([[0, 1, 0], [1, 1, 0.5]]))


def test_matrix_with_duplicate_items():
    source = pd.DataFrame({"item": [1, 1], "a": [0, 1], "b": [1, 1]})
    with pytest.raises(DataValidationError, match=r"item 1: duplicate item in rows 0 and 1"):
        load_attempts(source, "matrix")


def test_humaneval_results_jsonl(tmp_path):
    path = tmp_path / "samples.jsonl_results.jsonl"
    rows = [{"task_id": "HumanEval/0", "completion": "...", "result": "passed", "passed": True},
            {"task_id": "HumanEval/0", "completion": "...", "result": "failed: x", "passed": False},
            {"task_id": "HumanEval/1", "completion": "...", "result": "timed out", "passed": False}]
    path.write_text("\n".join(json.dumps(r) for r in rows))
    for fmt in ("auto", "humaneval"):
        counts = load_attempts(path, fmt)
        assert _plain(counts) == {"item": ["HumanEval/0", "HumanEval/1"], "n": [2, 1], "k": [1, 0]}


def test_evalplus_results_json(tmp_path):
    path = tmp_path / "eval_results.json"
    path.write_text(json.dumps({
        "date": "2024-01-01", "hash": "abc",
        "eval": {
            "HumanEval/0": [{"task_id": "HumanEval/0", "solution": "...", "base_status": "pass", "plus_status": "pass"},
                            {"task_id": "HumanEval/0", "solution": "...", "base_status": "pass", "plus_status": "fail"}],
            "HumanEval/1": [{"solution": "...", "base_status": "fail", "plus_status": "fail"}],
        },
    }))
    for fmt in ("auto", "humaneval"):
        counts = load_attempts(path, fmt)
        assert _plain(counts) == {"item": ["HumanEval/0", "HumanEval/1"], "n": [2, 1], "k": [1, 0]}


# ---------------------------------------------------------------------------------- until success


def _until_success_log() -> pd.DataFrame:
    # batches of 2, cap 6: item 0 succeeds at attempt 3 (stops after 4); item 1 never (6);
    # item 2 succeeds at attempt 1 and again at 2 (stops after 2).
    success = {0: [0, 0, 1, 0], 1: [0] * 6, 2: [1, 1]}
    rows = [(i, a, bool(s)) for i, seq in success.items() for a, s in enumerate(seq)]
    return pd.DataFrame(rows, columns=["item", "attempt", "success"])


def test_until_success_columns():
    counts = load_attempts(_until_success_log(), "until_success", batch_size=2, cap=6)
    assert counts.columns.tolist() == ["item", "n", "k", "first_success", "batch_size", "cap", "censored"]
    assert counts["n"].tolist() == [4, 6, 2]
    assert counts["k"].tolist() == [1, 0, 2]
    np.testing.assert_array_equal(counts["first_success"], [3.0, np.nan, 1.0])
    assert counts["censored"].tolist() == [False, True, False]
    assert counts["batch_size"].tolist() == [2, 2, 2] and counts["cap"].tolist() == [6, 6, 6]
    assert counts["first_success"].dtype == np.float64 and counts["censored"].dtype == bool
    assert counts.attrs["mixed_budgets"] is True


def test_until_success_cap_is_inferred():
    counts = load_attempts(_until_success_log(), "until_success", batch_size=2)
    assert counts["cap"].tolist() == [6, 6, 6] and counts.attrs["cap_inferred"] is True


def test_batch_size_implies_until_success():
    counts = load_attempts(_until_success_log(), batch_size=2)
    assert "first_success" in counts.columns


def test_stopping_rule_violation():
    with pytest.raises(DataValidationError,
                       match=r"item 0: `n` = 4 but sampling stops at 3 \(first success at attempt 3, batches of 1, cap 6\)"):
        load_attempts(_until_success_log(), "until_success", cap=6)


def test_censored_item_short_of_the_cap():
    with pytest.raises(DataValidationError, match=r"item 1: censored after `n` = 6 attempts, but `cap` = 8"):
        load_attempts(_until_success_log(), "until_success", batch_size=2, cap=8)


def test_first_n_attempts_then_counts():
    log = _until_success_log()
    short = first_n_attempts(log, 2)
    assert short["attempt"].max() == 1 and len(short) == 6
    counts = attempts_to_counts(short, batch_size=2, cap=2)
    np.testing.assert_array_equal(counts["first_success"], [np.nan, np.nan, 1.0])
    assert counts["censored"].tolist() == [True, True, False]


def test_first_n_attempts_orders_by_attempt():
    log = pd.DataFrame({"item": [0, 0, 0], "attempt": [5, 1, 3], "success": [True, False, False]})
    assert first_n_attempts(log, 2)["attempt"].tolist() == [1, 3]


def test_first_n_attempts_needs_a_log():
    with pytest.raises(ArgumentError, match=r"`log` must be an attempt log .* missing `attempt`, `success`"):
        first_n_attempts(pd.DataFrame({"item": [1], "n": [2], "k": [1]}), 3)


def test_first_n_attempts_bad_n():
    with pytest.raises(ArgumentError, match=r"`n` must be a positive integer, got 0"):
        first_n_attempts(_until_success_log(), 0)


# ---------------------------------------------------------------------------------- subsample


def test_subsample_counts_draws_without_replacement():
    counts = pd.DataFrame({"item": [0, 1, 2], "n": [100, 100, 100], "k": [0, 100, 50]})
    small = subsample_counts(counts, 100, seed=1)
    assert small["k"].tolist() == [0, 100, 50]  # all drawn: nothing changes
    small = subsample_counts(counts, 10, seed=1)
    assert small["n"].tolist() == [10, 10, 10]
    assert small["k"].tolist()[:2] == [0, 10]
    assert counts["n"].tolist() == [100, 100, 100]  # the input is not modified


def test_subsample_counts_is_reproducible_and_hypergeometric():
    counts = pd.DataFrame({"item": range(4000), "n": 50, "k": 20})
    a = subsample_counts(counts, 10, seed=7)
    b = subsample_counts(counts, 10, seed=np.random.default_rng(7))
    pd.testing.assert_frame_equal(a, b)
    # Hypergeometric(N=50, K=20, n=10): mean 4, variance 10*0.4*0.6*40/49 = 1.959
    assert a["k"].mean() == pytest.approx(4.0, abs=0.1)
    assert a["k"].var() == pytest.approx(1.959, rel=0.1)


def test_subsample_more_than_available():
    counts = pd.DataFrame({"item": [0, 1], "n": [5, 50], "k": [1, 2]})
    with pytest.raises(ArgumentError, match=r"`m` = 10 exceeds the attempts of 1 item\(s\) \(item 0: `n` = 5\)"):
        subsample_counts(counts, 10)


def test_subsample_refuses_until_success_counts():
    counts = attempts_to_counts(_until_success_log(), batch_size=2)
    with pytest.raises(ArgumentError, match=r"sample-until-success data .* first_n_attempts"):
        subsample_counts(counts, 2)


# ---------------------------------------------------------------------------------- validate_attempts


def _counts(**changes) -> pd.DataFrame:
    data = {"item": [0, 1, 2, 3, 4, 5, 6, 7], "n": [10] * 8, "k": [0, 1, 2, 3, 4, 5, 6, 7]}
    data.update(changes)
    return pd.DataFrame(data)


def test_valid_counts_pass_and_report_budgets():
    frame = _counts()
    validate_attempts(frame)
    assert frame.attrs["mixed_budgets"] is False
    mixed = _counts(n=[10] * 7 + [20])
    validate_attempts(mixed)
    assert mixed.attrs["mixed_budgets"] is True


def test_mixed_budgets_are_judged_per_group():
    frame = _counts(n=[10] * 4 + [20] * 4).assign(model=["a"] * 4 + ["b"] * 4)
    validate_attempts(frame, groups=["model"])
    assert frame.attrs["mixed_budgets"] is False


def test_successes_exceed_attempts():
    with pytest.raises(DataValidationError, match=r"item 7: `k` = 12 exceeds `n` = 10"):
        validate_attempts(_counts(k=[0, 1, 2, 3, 4, 5, 6, 12]))


def test_negative_count():
    with pytest.raises(DataValidationError, match=r"item 2: `k` = -1 is negative \(row 2\)"):
        validate_attempts(_counts(k=[0, 1, -1, 3, 4, 5, 6, 7]))


def test_non_integer_count():
    with pytest.raises(DataValidationError, match=r"item 3: `n` = 2.5 is not an integer \(row 3\)"):
        validate_attempts(_counts(n=[10, 10, 10, 2.5, 10, 10, 10, 10], k=[0] * 8))


def test_nan_count():
    with pytest.raises(DataValidationError, match=r"item 1: `n` is NaN \(row 1\)"):
        validate_attempts(_counts(n=[10, np.nan] + [10] * 6))


def test_non_numeric_count():
    with pytest.raises(DataValidationError, match=r"item 1: `k` = 'many' is not a number \(row 1\)"):
        validate_attempts(_counts(k=[0, "many"] + [1] * 6))


def test_missing_item():
    with pytest.raises(DataValidationError, match=r"row 4: `item` is missing"):
        validate_attempts(_counts(item=[0, 1, 2, 3, None, 5, 6, 7]))


def test_duplicate_item_within_a_group():
    frame = _counts(item=[0, 1, 2, 3, 0, 1, 2, 2]).assign(model=["a"] * 4 + ["b"] * 4)
    with pytest.raises(DataValidationError, match=r"^1 problem: item 2 \[model=b\]: duplicate item in rows 6 and 7$"):
        validate_attempts(frame, groups=["model"])


def test_missing_count_column():
    with pytest.raises(DataValidationError, match=r"missing column `k` \(present: `item`, `n`\)"):
        validate_attempts(pd.DataFrame({"item": [1], "n": [3]}))


def _until(**changes) -> pd.DataFrame:
    data = {"item": [0, 1, 2], "n": [4, 6, 2], "k": [1, 0, 2], "first_success": [3.0, np.nan, 1.0],
            "batch_size": [2, 2, 2], "cap": [6, 6, 6], "censored": [False, True, False]}
    data.update(changes)
    return pd.DataFrame(data)


def test_valid_until_success_counts_pass():
    validate_attempts(_until())


def test_first_success_beyond_attempts():
    with pytest.raises(DataValidationError, match=r"item 2: `first_success` = 3 exceeds `n` = 2"):
        validate_attempts(_until(first_success=[3.0, np.nan, 3.0]))


def test_first_success_not_an_attempt_number():
    with pytest.raises(DataValidationError, match=r"item 0: `first_success` = 0 is not a 1-based attempt number"):
        validate_attempts(_until(first_success=[0.0, np.nan, 1.0]))


def test_censored_flag_contradicts_first_success():
    with pytest.raises(DataValidationError, match=r"item 0: `censored` = True but `first_success` = 3"):
        validate_attempts(_until(censored=[True, True, False]))


def test_uncensored_without_first_success():
    with pytest.raises(DataValidationError, match=r"item 1: `censored` = False but `first_success` is NaN"):
        validate_attempts(_until(censored=[False, False, False]))


def test_successes_in_a_censored_item():
    with pytest.raises(DataValidationError, match=r"item 1: `k` = 2 but the item is censored \(no success\)"):
        validate_attempts(_until(k=[1, 2, 2]))


def test_no_success_counted_after_first_success():
    with pytest.raises(DataValidationError, match=r"item 0: `k` = 0 but `first_success` = 3"):
        validate_attempts(_until(k=[0, 0, 2]))


def test_more_successes_than_attempts_after_the_first():
    with pytest.raises(DataValidationError, match=r"item 0: `k` = 3 exceeds the 2 attempts from the first success"):
        validate_attempts(_until(k=[3, 0, 2]))


def test_bad_batch_size():
    with pytest.raises(DataValidationError, match=r"item 0: `batch_size` = 0 is not a positive integer"):
        validate_attempts(_until(batch_size=[0, 2, 2]))


def test_bad_censored_flag():
    with pytest.raises(DataValidationError, match=r"item 1: `censored` = 'maybe' is not True/False"):
        validate_attempts(_until(censored=[False, "maybe", False]))


def test_missing_until_success_columns():
    with pytest.raises(DataValidationError, match=r"missing columns `batch_size`, `cap`, `censored`"):
        validate_attempts(_until().drop(columns=["batch_size", "cap", "censored"]))


def test_all_count_problems_in_one_error():
    frame = pd.DataFrame({"item": [0, 1, 1, 3, None], "n": [10, 10, -1, 2.5, 4], "k": [12, 3, 0, 1, 1]})
    with pytest.raises(DataValidationError) as info:
        validate_attempts(frame)
    assert info.value.problems == [
        "row 4: `item` is missing",
        "item 1: `n` = -1 is negative (row 2)",
        "item 3: `n` = 2.5 is not an integer (row 3)",
        "item 0: `k` = 12 exceeds `n` = 10 (row 0)",
        "item 1: duplicate item in rows 1 and 2",
    ]
    assert str(info.value).startswith("5 problems: ")


def test_count_problems_name_the_source_columns():
    source = _counts_source().assign(n_correct=[0, 5, 400, 2, 30, 90])
    with pytest.raises(DataValidationError, match=r"item 11 \[model=small, benchmark=MATH\]: `n_correct` = 400 "
                                                  r"exceeds `n_samples` = 100 \(row 2\)"):
        load_attempts(source, groups=["model", "benchmark"])


def test_repeated_count_problems_are_capped():
    with pytest.raises(DataValidationError) as info:
        validate_attempts(pd.DataFrame({"item": range(10), "n": [1] * 10, "k": [2] * 10}))
    assert info.value.problems[-1] == "column `k`: and 7 more items with more successes than attempts"


# ---------------------------------------------------------------------------------- argument errors


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: load_attempts(_counts_source(), "wide"), r"`format` must be one of 'auto', 'counts'"),
        (lambda: load_attempts(_counts_source(), success="n_correct", n="n_samples"),
         r"give either `success`/`attempt` \(per-attempt data\) or `n`/`k` \(counts\), not both"),
        (lambda: load_attempts(pd.DataFrame({"id": ["a"], "score": [0.3]})), r"cannot tell the layout of the data"),
        (lambda: load_attempts(np.zeros(3)), r"a 0/1 matrix must be 2-D \(items x attempts\), got shape \(3,\)"),
        (lambda: load_attempts(_counts_source(), item="problem"),
         r"`item` names column 'problem', which is not in the data \(did you mean 'problem_idx'\?\)"),
        (lambda: load_attempts(_counts_source(), groups=["size"]), r"`groups` names column 'size'"),
        (lambda: load_attempts(_counts_source(), batch_size=60), r"the data holds counts"),
        (lambda: load_attempts(_long_source(), batch_size=0), r"`batch_size` must be a positive integer, got 0"),
        (lambda: load_attempts(_long_source(), "long", n="sample"), r"`n` does not apply to per-attempt data"),
        (lambda: load_attempts(_long_source(), n="sample"), r"no k column found for counts data"),
        (lambda: load_attempts("/no/such/log.jsonl", "jsonl"), r"`source`: no such file or directory"),
        (lambda: load_attempts({"item": 1}), r"`source` must be a path, a pandas DataFrame or a numpy array"),
        (lambda: load_attempt_log(_counts_source()), r"the data holds counts .* use load_attempts"),
        (lambda: load_attempt_log(_long_source(), "counts"), r"`format` must be one of 'auto', 'long'"),
    ],
)
def test_argument_errors(call, message):
    with pytest.raises(ArgumentError, match=message):
        call()


# ---------------------------------------------------------------------------------- properties


@st.composite
def count_frames(draw):
    rows = draw(st.integers(1, 10))
    n = draw(st.lists(st.integers(0, 10_000), min_size=rows, max_size=rows))
    k = [draw(st.integers(0, value)) for value in n]
    return pd.DataFrame({"model": draw(st.lists(st.sampled_from(["m1", "m2"]), min_size=rows, max_size=rows)),
                         "item": range(rows), "n": n, "k": k})


@settings(max_examples=40, deadline=None)
@given(count_frames())
def test_random_counts_load_unchanged(source):
    counts = load_attempts(source, groups=["model"])
    for column in ("model", "item", "n", "k"):
        assert counts[column].tolist() == source[column].tolist()


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(count_frames(), st.sampled_from(["csv", "parquet", "jsonl"]))
def test_random_counts_survive_a_file_round_trip(source, fmt):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"counts.{fmt}"
        if fmt == "csv":
            source.to_csv(path, index=False)
        elif fmt == "parquet":
            source.to_parquet(path)
        else:
            path.write_text(source.to_json(orient="records", lines=True))
        pd.testing.assert_frame_equal(load_attempts(path, groups=["model"]), load_attempts(source, groups=["model"]))


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 8), st.integers(1, 12), st.data())
def test_matrix_log_and_counts_agree(items, attempts, data):
    cells = data.draw(st.lists(st.sampled_from([0.0, 1.0, np.nan]), min_size=items * attempts,
                               max_size=items * attempts))
    matrix = np.array(cells).reshape(items, attempts)
    attempted = ~np.isnan(matrix)
    keep = attempted.any(axis=1)
    counts = load_attempts(matrix)
    assert counts["item"].tolist() == np.flatnonzero(keep).tolist()
    assert counts["n"].tolist() == attempted.sum(axis=1)[keep].tolist()
    assert counts["k"].tolist() == np.nansum(matrix, axis=1)[keep].astype(int).tolist()
    m = data.draw(st.integers(1, attempts))
    truncated = attempts_to_counts(first_n_attempts(load_attempt_log(matrix), m))
    first_m = np.where(np.cumsum(attempted, axis=1) <= m, matrix, np.nan)
    assert truncated["k"].tolist() == np.nansum(first_m, axis=1)[keep].astype(int).tolist()


@settings(max_examples=40, deadline=None)
@given(count_frames(), st.integers(1, 50), st.integers(0, 2**32 - 1))
def test_subsample_counts_stays_within_bounds(source, m, seed):
    source = source[source["n"] >= m].reset_index(drop=True)
    small = subsample_counts(source, m, seed=seed)
    k, n = source["k"].to_numpy(), source["n"].to_numpy()
    drawn = small["k"].to_numpy()
    assert np.all(drawn >= np.maximum(0, m - (n - k))) and np.all(drawn <= np.minimum(k, m))
    assert np.all(small["n"].to_numpy() == m)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(1, 40), min_size=1, max_size=8), st.integers(1, 5), st.data())
def test_until_success_logs_round_trip_through_counts(first_successes, batch, data):
    cap = batch * 8
    rows = []
    for item, first in enumerate(first_successes):
        censored = first > cap
        stop = cap if censored else min(-(-first // batch) * batch, cap)
        for a in range(stop):
            hit = (not censored and a + 1 == first) or (a + 1 > first and data.draw(st.booleans()))
            rows.append((item, a, hit))
    log = pd.DataFrame(rows, columns=["item", "attempt", "success"])
    counts = load_attempts(log, "until_success", batch_size=batch, cap=cap)
    expected = [float(f) if f <= cap else np.nan for f in first_successes]
    np.testing.assert_array_equal(counts["first_success"].to_numpy(), expected)
    assert counts["censored"].tolist() == [f > cap for f in first_successes]


@pytest.mark.parametrize("fmt", ["csv", "parquet", "jsonl"])
def test_attempt_log_round_trip(tmp_path, fmt):
    log = load_attempt_log(_long_source(), groups=["model"])
    path = tmp_path / f"log.{fmt}"
    if fmt == "csv":
        log.to_csv(path, index=False)
    elif fmt == "parquet":
        log.to_parquet(path)
    else:
        path.write_text(log.to_json(orient="records", lines=True))
    pd.testing.assert_frame_equal(load_attempt_log(path, groups=["model"]), log)
