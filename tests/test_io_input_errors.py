"""Issue 11's malformed inputs for the loaders: each gives a one-line scalefit error naming what
the user wrote (their column, their file, their row), or is accepted when it is valid input."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from scalefit.errors import ArgumentError, DataValidationError, ScalefitError
from scalefit.io import load_attempt_log, load_attempts, load_curves, numeric_columns, validate_curves


def _one_line(err: pytest.ExceptionInfo) -> str:
    text = str(err.value)
    assert "\n" not in text
    return text


# --------------------------------------------------------------------------- column names and rows


def test_validation_names_the_aliased_column_as_the_file_does(tmp_path):
    path = tmp_path / "runs.csv"
    path.write_text("params,loss\n1e8,3.1\n2e8,-3.2\n4e8,2.9\n")
    frame = load_curves(path)
    with pytest.raises(DataValidationError,
                       match=r"column `loss` \(used as value\) row 2: -3.2 is not positive \(logs are taken\)") as err:
        validate_curves(frame, inputs=["N"])
    assert "`value`" not in _one_line(err)
    frame = load_curves(tmp_path / "runs.csv")
    frame.loc[0, "N"] = np.nan
    with pytest.raises(DataValidationError, match=r"column `params` \(used as N\) row 1: NaN"):
        validate_curves(frame, inputs=["N"], log_target=False)


def test_rows_of_a_file_count_from_one_and_a_dataframe_keeps_its_index(tmp_path):
    source = pd.DataFrame({"N": [1e8, 2e8, "abc"], "loss": [3.0, 2.9, 2.8]})
    with pytest.raises(DataValidationError, match=r"column `N` row 2: 'abc' is not numeric"):
        load_curves(source)  # DataFrame: position 2, as pandas prints it
    path = tmp_path / "runs.csv"
    source.to_csv(path, index=False)
    with pytest.raises(DataValidationError, match=r"column `N` row 3: 'abc' is not numeric"):
        load_curves(path)  # file: the third data row after the header
    jsonl = tmp_path / "runs.jsonl"
    jsonl.write_text("\n".join(json.dumps(r) for r in source.to_dict(orient="records")))
    with pytest.raises(DataValidationError, match=r"column `N` row 3: 'abc' is not numeric"):
        load_curves(jsonl)


def test_duplicate_rows_are_named_with_source_columns(tmp_path):
    path = tmp_path / "runs.csv"
    path.write_text("params,loss\n1e8,3.1\n2e8,3.0\n1e8,3.1\n")
    with pytest.raises(DataValidationError, match=r"duplicate rows 1 and 3: params=1e8, loss=3.1"):
        validate_curves(load_curves(path), inputs=["N"])


def test_computed_compute_that_overflows_is_named_with_its_formula(tmp_path):
    path = tmp_path / "runs.csv"
    path.write_text("N,D,loss\n1e290,1e20,3.0\n1e8,1e9,2.9\n")
    with _no_warning():
        frame = load_curves(path)
    with pytest.raises(DataValidationError, match=r"column `C` \(computed as 6\*N\*D\) row 1: inf"):
        validate_curves(frame, inputs=["C"])
    validate_curves(frame, inputs=["N", "D"])  # a fit that does not use C is unaffected


def test_values_too_large_for_a_linear_fit_are_refused():
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [1e299, 2.0, 3.0]})
    with pytest.raises(DataValidationError, match=r"column `y` row 0: 1e299 is too large for a fit on the values"):
        validate_curves(frame, inputs=["x"], target="y", log_target=False, log_inputs=False)
    validate_curves(frame, inputs=["x"], target="y", log_target=True)  # its log (688) is fine


class _no_warning:
    """Fail when a numpy RuntimeWarning (e.g. overflow) escapes."""

    def __enter__(self):
        import warnings

        self._ctx = warnings.catch_warnings()
        self._ctx.__enter__()
        warnings.simplefilter("error", RuntimeWarning)

    def __exit__(self, *exc):
        self._ctx.__exit__(*exc)


# --------------------------------------------------------------------------- repeated column names


@pytest.mark.parametrize("fmt", ["csv", "tsv", "parquet", "json", "jsonl"])
def test_repeated_column_names_are_refused_naming_column_and_file(tmp_path, fmt):
    path = tmp_path / f"runs.{fmt}"
    if fmt in ("csv", "tsv"):
        sep = "," if fmt == "csv" else "\t"
        path.write_text(sep.join(["N", "N", "loss"]) + "\n" + sep.join(["1e8", "2e8", "3.0"]) + "\n")
    elif fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        pq.write_table(pa.Table.from_arrays([pa.array([1e8]), pa.array([2e8]), pa.array([3.0])],
                                            names=["N", "N", "loss"]), path)
    elif fmt == "json":
        path.write_text('[{"N": 1e8, "N": 2e8, "loss": 3.0}]')
    else:
        path.write_text('{"N": 1e8, "loss": 3.0}\n{"N": 1e8, "N": 2e8, "loss": 3.0}\n')
    with pytest.raises(DataValidationError) as err:
        load_curves(path)
    text = _one_line(err)
    assert str(path) in text
    assert re.search(r"(names column `N` more than once|field `N` appears twice)", text), text
    if fmt == "jsonl":
        assert "line 2" in text


# --------------------------------------------------------------------------- encodings and line ends


def test_bom_and_crlf_jsonl_log_is_accepted(tmp_path):
    path = tmp_path / "log.jsonl"
    lines = ['{"item": 1, "success": 1}', '{"item": 1, "success": 0}', '{"item": 2, "success": 0}']
    path.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(lines).encode() + b"\r\n")
    counts = load_attempts(path)
    assert counts["n"].tolist() == [2, 1] and counts["k"].tolist() == [1, 0]


@pytest.mark.parametrize("text", ["null\n{\"item\": 1, \"success\": 1}\n", "\n  null\n", "[1]\n"])
def test_jsonl_that_does_not_start_with_an_object_is_named(tmp_path, text):
    # pyarrow 26's JSON reader crashes the process on a file starting with `null`: never reached
    path = tmp_path / "log.jsonl"
    path.write_text(text)
    with pytest.raises(DataValidationError, match=r"log\.jsonl' as JSONL: line \d: expected a JSON object, got (null|an array)"):
        load_attempts(path)


@pytest.mark.parametrize("name, text", [
    ("log.jsonl", '{"a":' * 30_000 + "1" + "}" * 30_000 + "\n"),  # pyarrow 26 crashes on this: never reached
    ("log.jsonl", '{"item": 1, "success": ' + "[" * 1500 + "]" * 1500 + "}\n"),
    ("runs.json", "[" * 100_000 + "]" * 100_000),
    ("runs.json", "[" + '{"a":' * 3000 + "1" + "}" * 3000 + "]"),
])
def test_deeply_nested_json_is_named(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(DataValidationError, match=rf"{re.escape(name)}' as JSONL?: .*nested too deeply"):
        load_attempts(path)


def test_bom_and_crlf_csv_is_accepted(tmp_path):
    path = tmp_path / "runs.csv"
    path.write_bytes(b"\xef\xbb\xbfN,loss\r\n1e8,3.0\r\n2e8,2.9\r\n")
    frame = load_curves(path)
    assert frame["N"].tolist() == [1e8, 2e8] and frame["value"].tolist() == [3.0, 2.9]


def test_non_utf8_and_binary_files_name_the_file(tmp_path):
    latin = tmp_path / "latin.csv"
    latin.write_bytes("N,loss\n1e8,3.0 caf\xe9\n".encode("latin-1"))
    with pytest.raises(DataValidationError, match=r"cannot read '.*latin\.csv' as CSV: it is not UTF-8 text"):
        load_curves(latin)
    binary = tmp_path / "blob.jsonl"
    binary.write_bytes(b"\x00\x01\x02\xff\xfe" * 20)
    with pytest.raises(DataValidationError, match=r"blob\.jsonl"):
        load_attempts(binary)


def test_directory_and_missing_paths_are_named(tmp_path):
    folder = tmp_path / "runs"
    folder.mkdir()
    with pytest.raises(ArgumentError, match=r"'.*runs' holds no \.json files"):
        load_curves(folder)
    with pytest.raises(ArgumentError, match=r"'.*runs' is a directory"):
        load_attempts(folder, "jsonl")
    with pytest.raises(ArgumentError, match=r"no such file or directory: '.*nope\.csv'"):
        load_curves(tmp_path / "nope.csv")


# --------------------------------------------------------------------------- empty files


@pytest.mark.parametrize("name, text", [("runs.csv", "N,loss\n"), ("runs.tsv", "N\tloss\n"),
                                        ("runs.json", "[]"), ("runs.jsonl", "\n\n")])
def test_a_file_without_data_rows_is_named(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(DataValidationError, match=rf"in {re.escape(str(path))}: .*(no data rows|empty)"):
        load_curves(path)


def test_a_header_only_counts_file_is_named(tmp_path):
    path = tmp_path / "counts.csv"
    path.write_text("item,n,k\n")
    with pytest.raises(DataValidationError, match=r"counts\.csv: no data rows \(only the column names `item`, `n`, `k`\)"):
        load_attempts(path)


# --------------------------------------------------------------------------- nested JSON


def test_nested_objects_are_flattened_to_dotted_names(tmp_path):
    path = tmp_path / "runs.jsonl"
    path.write_text('{"model": {"params": 1e8}, "loss": 3.0}\n{"model": {"params": 2e8}, "loss": 2.9}\n')
    frame = load_curves(path, columns={"N": "model.params"})
    assert frame["N"].tolist() == [1e8, 2e8]


def test_a_field_both_plain_and_nested_is_named(tmp_path):
    path = tmp_path / "log.jsonl"
    path.write_text('{"item": 1, "success": 1}\n{"item": 2, "success": {"value": 0}}\n')
    with pytest.raises(DataValidationError, match=r"log\.jsonl: field `success` holds a plain value in some "
                                                  r"records and an object in others"):
        load_attempts(path)


def test_list_item_ids_are_named(tmp_path):
    path = tmp_path / "log.jsonl"
    path.write_text('{"item": [1], "success": 1}\n{"item": [2], "success": 0}\n')
    with pytest.raises(DataValidationError, match=r"column `item` row 1: \[1\] is a list, not a single item id"):
        load_attempts(path)
    counts = pd.DataFrame({"task": [{"a": 1}, "b"], "n": [3, 3], "k": [1, 2]})
    with pytest.raises(DataValidationError, match=r"column `task` row 0: .* is a nested object, not a single item id"):
        load_attempts(counts, item="task")


def test_nested_object_in_a_numeric_field_is_named(tmp_path):
    path = tmp_path / "runs.json"
    path.write_text('[{"N": 1e8, "loss": [3.0]}, {"N": 2e8, "loss": 2.9}]')
    with pytest.raises(DataValidationError, match=r"column `loss` row 1: \[3.0\] is not numeric"):
        load_curves(path)


# --------------------------------------------------------------------------- text in number columns


def test_revalidated_counts_keep_the_users_column_names(tmp_path):
    from scalefit.io import validate_attempts

    path = tmp_path / "counts.csv"
    path.write_text("problem_id,n_samples,num_correct\np1,10,3\np2,10,4\n")
    counts = load_attempts(path)
    counts.loc[1, "k"] = 12
    with pytest.raises(DataValidationError, match=r"item p2: `num_correct` = 12 exceeds `n_samples` = 10 \(row 2\)"):
        validate_attempts(counts)


def test_words_in_success_columns_are_named():
    log = pd.DataFrame({"task_id": [1, 1, 2], "passed": [1, "yes", "abc"]})
    with pytest.raises(DataValidationError, match=r"column `passed` row 2: 'abc' is not a success flag"):
        load_attempt_log(log)


def test_numbers_as_text_are_parsed_and_words_refused():
    frame = pd.DataFrame({"N": ["1e8", "2e8"], "r": ["3", " 4 "], "K": [10, 10]})
    numbers = numeric_columns(frame, ["N", "r"])
    assert numbers["N"].tolist() == [1e8, 2e8] and numbers["r"].tolist() == [3.0, 4.0]
    with pytest.raises(DataValidationError, match=r"column `r` row 1: 'yes' is not numeric"):
        numeric_columns(pd.DataFrame({"r": ["3", "yes"]}), ["r"])


def test_passuntil_string_successes_name_column_and_value():
    from scalefit.sampling.passuntil_holdout import passuntil_holdout

    frame = pd.DataFrame({"N": [1e8, 2e8, 4e8], "i": [0, 0, 0], "r": ["3", "yes", 5], "K": [10, 10, 10]})
    with pytest.raises(DataValidationError, match=r"column `r` row 1: 'yes' is not numeric"):
        passuntil_holdout(frame, size="N", instance="i", successes="r", attempts="K")


@pytest.mark.parametrize("cell, needle", [("inf", "inf"), ("nan", "NaN"), ("", "NaN"), ("-1", "-1 is not positive")])
def test_inf_nan_empty_and_negative_cells_name_column_and_row(tmp_path, cell, needle):
    path = tmp_path / "runs.csv"
    path.write_text(f"N,loss\n1e8,3.0\n2e8,{cell}\n")
    with pytest.raises(DataValidationError, match=rf"column `loss` \(used as value\) row 2: {needle}"):
        validate_curves(load_curves(path), inputs=["N"])


def test_every_error_here_is_a_scalefit_error():
    assert issubclass(DataValidationError, ScalefitError) and issubclass(ArgumentError, ScalefitError)


def test_empty_header_cells_are_not_repeated_names(tmp_path):
    path = tmp_path / "runs.csv"
    path.write_text("N,loss,,\n1e8,3.0,,\n2e8,2.9,,\n")  # trailing commas: pandas' 'Unnamed: 2', 'Unnamed: 3'
    assert load_curves(path)["value"].tolist() == [3.0, 2.9]
