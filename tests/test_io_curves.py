"""load_curves: formats, column mapping, derived columns, round trips and loader errors."""

from __future__ import annotations

import gzip
import json
import re
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scalefit.errors import ArgumentError, DataValidationError
from scalefit.io import CURVE_COLUMNS, load_curves


def _source_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "run": ["a", "a", "b", "c"],
            "dataset": ["c4", "c4", "rpj", "rpj"],
            "N": [1e8, 1e8, 4e8, 1.6e9],
            "D": [2e9, 4e9, 8e9, 3.2e10],
            "value": [3.4, 3.2, 2.9, 2.6],
            "split": [1, 1, 0, 0],
        }
    )


# ---------------------------------------------------------------------------------- basics


def test_dataframe_source_gives_tidy_columns_and_dtypes():
    frame = load_curves(_source_frame(), groups=["dataset"], keep=["split"])
    assert list(frame.columns) == ["run", "dataset", "N", "D", "C", "metric", "value", "split"]
    assert frame.index.name == "row"
    assert frame.index.tolist() == [0, 1, 2, 3]
    for name in ("N", "D", "C", "value"):
        assert frame[name].dtype == np.float64
    assert frame["metric"].tolist() == ["loss"] * 4
    np.testing.assert_array_equal(frame["C"], 6 * frame["N"] * frame["D"])
    assert frame.attrs["derived"] == {"C": "6*N*D"}
    assert frame.attrs["columns"] == {"run": "run", "N": "N", "D": "D", "value": "value"}
    assert frame.attrs["source"] is None
    assert frame["split"].tolist() == [1, 1, 0, 0]


def test_output_column_order_follows_schema():
    source = _source_frame().assign(step=[1, 2, 3, 4], se=0.01, C=1.0)
    frame = load_curves(source)
    assert list(frame.columns) == [c for c in CURVE_COLUMNS]


def test_runs_default_to_one_per_row():
    frame = load_curves(_source_frame().drop(columns="run"))
    assert frame["run"].tolist() == ["row0", "row1", "row2", "row3"]


def test_numeric_run_ids_become_strings():
    frame = load_curves(_source_frame().assign(run=[7, 7, 8, 9]))
    assert frame["run"].tolist() == ["7", "7", "8", "9"]


def test_d_derived_from_c_and_n():
    source = pd.DataFrame({"N": [1e8, 2e8], "C": [6e17, 2.4e18], "loss": [3.0, 2.8]})
    frame = load_curves(source)
    np.testing.assert_allclose(frame["D"], [1e9, 2e9], rtol=1e-15)
    assert frame.attrs["derived"] == {"D": "C/(6*N)"}


def test_n_derived_from_c_and_d():
    source = pd.DataFrame({"D": [1e9, 2e9], "C": [6e17, 2.4e18], "loss": [3.0, 2.8]})
    frame = load_curves(source)
    np.testing.assert_allclose(frame["N"], [1e8, 2e8], rtol=1e-15)


def test_c_from_int64_columns_does_not_overflow():
    # 6*N*D overflows int64 for a 400M-param model on 4e9 tokens (the Gadre CSV's compute_6ND
    # column shows the result); the loader computes in float64.
    source = pd.DataFrame({"N": np.array([411616256], dtype=np.int64),
                           "D": np.array([4116162560], dtype=np.int64), "loss": [3.8]})
    frame = load_curves(source)
    assert frame["C"].iat[0] == pytest.approx(6 * 411616256 * 4116162560, rel=1e-15)
    assert frame["C"].iat[0] > 0


def test_only_available_inputs_are_present():
    frame = load_curves(pd.DataFrame({"tokens": [1e9, 2e9], "loss": [3.0, 2.9]}))
    assert list(frame.columns) == ["run", "D", "metric", "value"]


# ---------------------------------------------------------------------------------- mapping


def test_aliases_are_case_insensitive():
    source = pd.DataFrame({"PARAMS": [1e8], "Training Tokens": [2e9], "Training FLOP": [1.2e18],
                           "Loss": [3.0], "Run_ID": ["x"], "StdErr": [0.01]})
    frame = load_curves(source)
    assert frame.attrs["columns"] == {"run": "Run_ID", "N": "PARAMS", "D": "Training Tokens",
                                      "C": "Training FLOP", "value": "Loss", "se": "StdErr"}


def test_alias_priority_prefers_loss_over_y():
    source = pd.DataFrame({"y": [140.6], "Model Size": [1e8], "Training FLOP": [1e18], "loss": [3.1]})
    frame = load_curves(source)
    assert frame.attrs["columns"]["value"] == "loss"


def test_explicit_mapping_wins_over_alias():
    source = pd.DataFrame({"N": [1.0], "true_N": [1e8], "D": [1e9], "loss": [3.0]})
    frame = load_curves(source, columns={"N": "true_N"})
    assert frame["N"].iat[0] == 1e8


def test_none_switches_an_alias_off():
    source = pd.DataFrame({"N": [1e8], "D": [1e9], "C": [-1.0], "loss": [3.0]})
    frame = load_curves(source, columns={"C": None})
    assert frame["C"].iat[0] == 6e17


def test_two_columns_matching_one_alias_is_an_error():
    source = pd.DataFrame({"Loss": [1.0], "loss": [2.0]})
    with pytest.raises(ArgumentError, match=r"several columns could be `value` \('Loss', 'loss'\)"):
        load_curves(source)


def test_mapping_to_a_missing_column_lists_available_columns():
    with pytest.raises(ArgumentError, match=r"`columns\['N'\]` names column 'Model size', which is not in the "
                                            r"data \(did you mean 'Model Size'\?\); available: `Model Size`, `loss`"):
        load_curves(pd.DataFrame({"Model Size": [1e8], "loss": [3.0]}), columns={"N": "Model size"})


def test_unknown_schema_name_in_mapping():
    with pytest.raises(ArgumentError, match=r"`columns` has unknown schema name 'params'"):
        load_curves(_source_frame(), columns={"params": "N"})


def test_two_schema_names_on_one_column():
    with pytest.raises(ArgumentError, match=r"both name column 'N'"):
        load_curves(_source_frame(), columns={"N": "N", "D": "N"})


def test_no_value_column():
    with pytest.raises(ArgumentError, match=r"no value column found .* available: `N`, `acc`"):
        load_curves(pd.DataFrame({"N": [1e8], "acc": [0.5]}))


def test_missing_group_column():
    with pytest.raises(ArgumentError, match=r"`groups` names column 'Task', which is not in the data"):
        load_curves(_source_frame(), groups=["Task"])


def test_group_named_like_a_schema_column_is_refused():
    source = _source_frame().rename(columns={"dataset": "metric"})
    with pytest.raises(ArgumentError, match=r"clashes with the schema column"):
        load_curves(source, groups=["metric"], columns={"metric": None})


def test_group_may_be_the_mapped_schema_column_itself():
    frame = load_curves(_source_frame(), groups=["N"])
    assert list(frame.columns)[:2] == ["run", "N"]


# ---------------------------------------------------------------------------------- metrics


def test_metric_labels_values():
    frame = load_curves(_source_frame(), metric="error")
    assert set(frame["metric"]) == {"error"}


def test_metric_naming_a_column_picks_it_as_value():
    source = pd.DataFrame({"N": [1e8, 2e8], "loss__c4": [3.1, 3.0], "loss__ptb": [4.0, 3.9]})
    frame = load_curves(source, metric="loss__ptb")
    assert frame["value"].tolist() == [4.0, 3.9]
    assert set(frame["metric"]) == {"loss__ptb"}
    assert frame.attrs["columns"]["value"] == "loss__ptb"


def test_long_metric_column_and_filter_metric():
    source = pd.DataFrame({"N": [1e8, 1e8, 2e8, 2e8], "metric": ["loss", "acc", "loss", "acc"],
                           "value": [3.0, 0.4, 2.8, 0.5]})
    frame = load_curves(source, filter_metric="acc")
    assert frame.index.tolist() == [1, 3]  # source rows are kept as the index
    assert frame["value"].tolist() == [0.4, 0.5]


def test_filter_metric_without_match_lists_metrics():
    source = pd.DataFrame({"N": [1e8, 1e8], "metric": ["loss", "acc"], "value": [3.0, 0.4]})
    with pytest.raises(ArgumentError, match=r"`filter_metric`='err' matches no row; metrics present: 'loss', 'acc'"):
        load_curves(source, filter_metric="err")


def test_metric_label_with_a_metric_column_is_refused():
    source = pd.DataFrame({"N": [1e8], "metric": ["loss"], "value": [3.0]})
    with pytest.raises(ArgumentError, match=r"use `filter_metric`"):
        load_curves(source, metric="error")


def test_missing_metric_name_is_reported():
    source = pd.DataFrame({"N": [1e8, 1e8], "metric": ["loss", None], "value": [3.0, 0.4]})
    with pytest.raises(DataValidationError, match=r"column `metric` row 1: missing metric name"):
        load_curves(source)


# ---------------------------------------------------------------------------------- duplicates


def test_drop_duplicates_counts_dropped_rows_and_keeps_source_rows():
    source = pd.concat([_source_frame(), _source_frame().iloc[[1, 3]]], ignore_index=True)
    frame = load_curves(source, drop_duplicates=True)
    assert frame.attrs["duplicates_dropped"] == 2
    assert frame.index.tolist() == [0, 1, 2, 3]
    kept = load_curves(source)
    assert len(kept) == 6 and "duplicates_dropped" not in kept.attrs


def test_drop_duplicates_needs_all_source_columns_equal():
    source = pd.DataFrame({"N": [1e8, 1e8], "loss": [3.0, 3.0], "note": ["a", "b"]})
    assert load_curves(source, drop_duplicates=True).attrs["duplicates_dropped"] == 0


# ---------------------------------------------------------------------------------- cell errors


def test_non_numeric_cells_are_reported_with_source_column_and_row():
    source = pd.DataFrame({"Model Size": [1e8, "big", 3e8], "loss": [3.0, 2.9, "?"]})
    with pytest.raises(DataValidationError) as info:
        load_curves(source)
    assert info.value.problems == [
        "column `Model Size` row 1: 'big' is not numeric",
        "column `loss` row 2: '?' is not numeric",
    ]


def test_nan_spelled_out_is_missing_not_a_word():
    frame = load_curves(pd.DataFrame({"N": ["1e8", "nan"], "loss": [3.0, 2.0]}))
    assert frame["N"].iat[0] == 1e8 and np.isnan(frame["N"].iat[1])


def test_booleans_are_not_numbers():
    with pytest.raises(DataValidationError, match=r"column `N` row 0: True is not numeric"):
        load_curves(pd.DataFrame({"N": [True, False], "loss": [3.0, 2.0]}))


def test_missing_run_id_is_reported():
    with pytest.raises(DataValidationError, match=r"column `run` row 1: missing run id"):
        load_curves(pd.DataFrame({"run": ["a", None], "N": [1e8, 2e8], "loss": [3.0, 2.0]}))


def test_repeated_cell_errors_are_capped():
    source = pd.DataFrame({"N": ["x"] * 20, "loss": [1.0] * 20})
    with pytest.raises(DataValidationError) as info:
        load_curves(source)
    assert info.value.problems[-1] == "column `N`: and 17 more rows that are not numeric"
    assert len(info.value.problems) == 4


# ---------------------------------------------------------------------------------- files


def _canonical() -> pd.DataFrame:
    return load_curves(_source_frame(), groups=["dataset"], keep=["split"])


def _load(path, **kwargs):
    return load_curves(path, groups=["dataset"], keep=["split"], **kwargs)


def test_csv_round_trip(tmp_path):
    path = tmp_path / "runs.csv"
    _source_frame().to_csv(path, index=False)
    out = _load(path)
    pd.testing.assert_frame_equal(out, _canonical())
    assert out.attrs["source"] == str(path)


def test_tsv_round_trip(tmp_path):
    path = tmp_path / "runs.tsv"
    _source_frame().to_csv(path, sep="\t", index=False)
    pd.testing.assert_frame_equal(_load(path), _canonical())


def test_gzipped_csv_round_trip(tmp_path):
    path = tmp_path / "runs.csv.gz"
    _source_frame().to_csv(path, index=False)
    pd.testing.assert_frame_equal(_load(path), _canonical())


def test_parquet_round_trip(tmp_path):
    path = tmp_path / "runs.parquet"
    _source_frame().to_parquet(path)
    pd.testing.assert_frame_equal(_load(path), _canonical())


def test_loaded_frame_written_to_parquet_reloads_equal(tmp_path):
    frame = _canonical()
    path = tmp_path / "tidy.parquet"
    frame.to_parquet(path)
    pd.testing.assert_frame_equal(_load(path), frame)


def test_json_records_round_trip(tmp_path):
    path = tmp_path / "runs.json"
    path.write_text(json.dumps(_source_frame().to_dict(orient="records")))
    pd.testing.assert_frame_equal(_load(path), _canonical())


def test_json_columns_of_lists_round_trip(tmp_path):
    path = tmp_path / "runs.json"
    path.write_text(json.dumps(_source_frame().to_dict(orient="list")))
    pd.testing.assert_frame_equal(_load(path), _canonical())


@pytest.mark.parametrize("orient", ["records", "columns", "split", "table"])
def test_pandas_to_json_orients_reload(tmp_path, orient):
    path = tmp_path / f"runs_{orient}.json"
    _source_frame().to_json(path, orient=orient, double_precision=15, index=None if orient == "columns" else False)
    pd.testing.assert_frame_equal(_load(path), _canonical(), check_exact=False, rtol=1e-13)


def test_jsonl_round_trip(tmp_path):
    path = tmp_path / "runs.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in _source_frame().to_dict(orient="records")) + "\n\n")
    pd.testing.assert_frame_equal(_load(path), _canonical())


def test_gzipped_jsonl_round_trip(tmp_path):
    path = tmp_path / "runs.jsonl.gz"
    with gzip.open(path, "wt") as handle:
        for record in _source_frame().to_dict(orient="records"):
            handle.write(json.dumps(record) + "\n")
    pd.testing.assert_frame_equal(_load(path), _canonical())


def _write_record_files(folder: Path) -> None:
    folder.mkdir()
    for i, record in enumerate(_source_frame().to_dict(orient="records")):
        nested = {"run": record["run"], "dataset": record["dataset"], "split": record["split"],
                  "hyper": {"params": record["N"], "tokens": record["D"]},
                  "results": [{"name": "other", "loss": 9.0}, {"name": "main", "loss": record["value"]}]}
        (folder / f"model_{i:02d}.json").write_text(json.dumps(nested))
    (folder / "notes.txt").write_text("not a record")


def test_directory_of_json_records_is_flattened(tmp_path):
    folder = tmp_path / "models"
    _write_record_files(folder)
    mapping = {"N": "hyper.params", "D": "hyper.tokens", "value": "results.1.loss"}
    out = _load(folder, columns=mapping)
    pd.testing.assert_frame_equal(out, _canonical())
    assert out.attrs["files"] == [str(folder / f"model_{i:02d}.json") for i in range(4)]


def test_glob_of_json_records(tmp_path):
    folder = tmp_path / "models"
    _write_record_files(folder)
    mapping = {"N": "hyper.params", "D": "hyper.tokens", "value": "results.1.loss"}
    out = _load(str(folder / "model_0[0-2].json"), columns=mapping)
    pd.testing.assert_frame_equal(out, _canonical().iloc[:3])


def test_glob_of_csv_files_is_concatenated(tmp_path):
    source = _source_frame()
    source.iloc[:2].to_csv(tmp_path / "a.csv", index=False)
    source.iloc[2:].to_csv(tmp_path / "b.csv", index=False)
    pd.testing.assert_frame_equal(_load(str(tmp_path / "*.csv")), _canonical())


def test_format_overrides_the_extension(tmp_path):
    path = tmp_path / "runs.txt"
    _source_frame().to_csv(path, index=False)
    pd.testing.assert_frame_equal(_load(path, format="csv"), _canonical())


# ---------------------------------------------------------------------------------- file errors


def test_missing_file():
    with pytest.raises(ArgumentError, match=r"^`source`: no such file or directory: '/no/such/runs.csv'$"):
        load_curves("/no/such/runs.csv")


def test_unknown_extension(tmp_path):
    path = tmp_path / "runs.xlsx"
    path.write_bytes(b"PK")
    with pytest.raises(ArgumentError, match=r"cannot tell the format of .*runs.xlsx.* pass `format=`"):
        load_curves(path)


def test_unknown_format_argument(tmp_path):
    path = tmp_path / "runs.csv"
    _source_frame().to_csv(path, index=False)
    with pytest.raises(ArgumentError, match=r"`format` must be 'auto' or one of 'csv'"):
        load_curves(path, format="excel")


def test_corrupt_parquet(tmp_path):
    path = tmp_path / "runs.parquet"
    path.write_bytes(b"this is not parquet at all")
    with pytest.raises(DataValidationError, match=r"cannot read '.*runs.parquet' as PARQUET: "):
        load_curves(path)


def test_invalid_json(tmp_path):
    path = tmp_path / "runs.json"
    path.write_text('[{"N": 1e8, "loss": 3.0},\n {"N": 2e8 "loss": 2.9}]')
    with pytest.raises(DataValidationError, match=r"as JSON: line 2 column 12: Expecting ',' delimiter"):
        load_curves(path)


def test_json_scalar_document(tmp_path):
    path = tmp_path / "runs.json"
    path.write_text("3.5")
    with pytest.raises(DataValidationError, match=r"expected an object or a list of records, got float"):
        load_curves(path)


def test_bad_jsonl_lines_are_all_reported(tmp_path):
    path = tmp_path / "runs.jsonl"
    path.write_text('{"N": 1e8, "loss": 3}\n{"N": oops}\n[1, 2]\n{"N": 2e8, "loss": 2}\n')
    with pytest.raises(DataValidationError) as info:
        load_curves(path)
    message = str(info.value)
    assert "line 2: invalid JSON" in message and "line 3: expected a JSON object, got an array" in message
    assert "\n" not in message


def test_empty_csv(tmp_path):
    path = tmp_path / "runs.csv"
    path.write_text("")
    with pytest.raises(DataValidationError, match=r"as CSV: the file is empty"):
        load_curves(path)


def test_binary_garbage_csv(tmp_path):
    path = tmp_path / "runs.csv"
    path.write_bytes(b"\xff\xfe\x00\x81\x9f" * 50)
    with pytest.raises(DataValidationError, match=r"cannot read '.*runs.csv' as CSV"):
        load_curves(path)


def test_directory_without_json(tmp_path):
    with pytest.raises(ArgumentError, match=r"holds no .json files"):
        load_curves(tmp_path)


def test_glob_without_match(tmp_path):
    with pytest.raises(ArgumentError, match=r"no file matches the pattern"):
        load_curves(str(tmp_path / "*.json"))


def test_source_of_wrong_type():
    with pytest.raises(ArgumentError, match=r"`source` must be a path, a directory, a glob pattern or a pandas DataFrame, got list"):
        load_curves([1, 2, 3])


def test_errors_are_one_line(tmp_path):
    path = tmp_path / "runs.csv"
    path.write_text('N,loss\n1,"unterminated\n')
    with pytest.raises((DataValidationError, ArgumentError)) as info:
        load_curves(path)
    assert "\n" not in str(info.value)


# ---------------------------------------------------------------------------------- properties

_positive = st.floats(min_value=1e-3, max_value=1e22, allow_nan=False, allow_infinity=False)


@st.composite
def curve_frames(draw):
    rows = draw(st.integers(min_value=1, max_value=12))
    column = lambda: st.lists(_positive, min_size=rows, max_size=rows)  # noqa: E731
    return pd.DataFrame(
        {
            "run": draw(st.lists(st.sampled_from(["r1", "r2", "r3"]), min_size=rows, max_size=rows)),
            "family": draw(st.lists(st.sampled_from(["alpha", "beta"]), min_size=rows, max_size=rows)),
            "N": draw(column()),
            "D": draw(column()),
            "value": draw(st.lists(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False), min_size=rows,
                                   max_size=rows)),
        }
    )


@settings(max_examples=40, deadline=None)
@given(curve_frames())
def test_valid_frames_load_unchanged(source):
    frame = load_curves(source, groups=["family"])
    for name in ("run", "family", "N", "D", "value"):
        assert frame[name].tolist() == source[name].tolist()
    np.testing.assert_array_equal(frame["C"].to_numpy(), 6.0 * source["N"].to_numpy() * source["D"].to_numpy())


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(curve_frames(), st.sampled_from(["csv", "parquet", "jsonl"]))
def test_valid_frames_survive_a_file_round_trip(source, fmt):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"runs.{fmt}"
        if fmt == "csv":
            source.to_csv(path, index=False)
        elif fmt == "parquet":
            source.to_parquet(path)
        else:
            path.write_text("\n".join(json.dumps(r) for r in source.to_dict(orient="records")))
        pd.testing.assert_frame_equal(load_curves(path, groups=["family"]),
                                      load_curves(source, groups=["family"]))


_bad_tokens = st.sampled_from(["abc", "1.2.3", "x9", "??", "ten"])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(curve_frames(), st.data(), st.booleans())
def test_malformed_cells_are_reported_with_column_and_row(source, data, through_csv):
    rows = len(source)
    cells = data.draw(st.sets(st.tuples(st.sampled_from(["N", "D", "value"]), st.integers(0, rows - 1)),
                              min_size=1, max_size=6))
    broken = source.astype({"N": object, "D": object, "value": object})
    for column, row in cells:
        broken.at[row, column] = data.draw(_bad_tokens)
    with tempfile.TemporaryDirectory() as folder:
        target: object = broken
        if through_csv:
            target = Path(folder) / "runs.csv"
            broken.to_csv(target, index=False)
        with pytest.raises(DataValidationError) as info:
            load_curves(target)
    problems = info.value.problems
    first = 1 if through_csv else 0  # a file's data rows are counted from 1, a DataFrame's from 0
    for column in ("N", "D", "value"):
        bad_rows = sorted(r for c, r in cells if c == column)
        listed = [p for p in problems if p.startswith(f"column `{column}` row ")]
        assert [int(re.match(r"column `\w+` row (\d+):", p).group(1)) for p in listed] == [
            r + first for r in bad_rows[:3]]
        for row, problem in zip(bad_rows, listed):
            assert problem == f"column `{column}` row {row + first}: {broken.at[row, column]!r} is not numeric"
        if len(bad_rows) > 3:
            assert f"column `{column}`: and {len(bad_rows) - 3} more rows that are not numeric" in problems


def test_repeated_column_names_are_refused():
    source = pd.DataFrame([[1e8, 3.0, 2.0]], columns=["N", "loss", "loss"])
    with pytest.raises(DataValidationError, match=r"the DataFrame `source` names column `loss` more than once"):
        load_curves(source)


def test_alias_table_is_documented():
    import scalefit.io.schema as schema
    from scalefit.io import CURVE_ALIASES

    table = schema.__doc__.lower().split("schema      aliases", 1)[1]
    for aliases in CURVE_ALIASES.values():
        for alias in aliases:
            assert alias.lower() in table, alias
