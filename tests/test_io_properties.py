"""Property tests over the loaders: generated malformed tables, JSON and JSONL files.

Each property builds a bad input (wrong types, missing or repeated columns, NaN/inf, negative,
empty or nested cells, mixed types, bad encodings) around otherwise valid data and asserts that
loading (and validating) it raises scalefit's own error type, on one line, naming the column,
field or file the user wrote.  About 700 generated cases in total, no fits.
"""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from scalefit.errors import ScalefitError
from scalefit.io import load_attempt_log, load_attempts, load_curves, validate_curves

FAST = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

# Cells that are wrong in a column of positive numbers, with a short tag for readability.
BAD_NUMBERS = st.sampled_from([
    "abc", "yes", "1.2.3", "", "nan", "inf", "-inf", "  ", "NaN", "1e400", "-3.2", "0", True, False,
    -1.0, 0.0, np.nan, np.inf, -np.inf, [1, 2], {"a": 1}, None, "3 apples",
])

# Names the user's file might give each schema column (aliases, in other cases).
N_NAMES = st.sampled_from(["N", "params", "n_params", "Model Size", "PARAMETERS"])
VALUE_NAMES = st.sampled_from(["value", "loss", "y", "Loss"])
ITEM_NAMES = st.sampled_from(["item", "problem_id", "task_id", "question_id"])
N_COUNT_NAMES = st.sampled_from(["n", "n_samples", "attempts", "num_samples"])
K_COUNT_NAMES = st.sampled_from(["k", "n_correct", "successes", "num_correct"])
SUCCESS_NAMES = st.sampled_from(["success", "passed", "is_correct", "solved"])


def _check(err: ScalefitError, names: list[str]) -> None:
    """One line naming at least one of ``names``: a column or field in backticks or quotes, or a
    file path (which contains a '/')."""
    text = str(err)
    assert "\n" not in text, text
    assert "internal error" not in text.lower()
    assert any(f"`{n}`" in text or f"'{n}'" in text or ("/" in str(n) and str(n) in text) for n in names), \
        (names, text)


def _curve_table(rows: int, n_name: str, v_name: str) -> pd.DataFrame:
    N = np.geomspace(1e7, 1e10, rows)
    return pd.DataFrame({n_name: N, v_name: 1.7 + 300 * N ** -0.3})


# --------------------------------------------------------------------------- curves in memory


@settings(max_examples=220, **FAST)
@given(rows=st.integers(3, 12), n_name=N_NAMES, v_name=VALUE_NAMES, data=st.data())
def test_bad_cells_in_curve_tables_name_the_users_column(rows, n_name, v_name, data):
    table = _curve_table(rows, n_name, v_name).astype(object)
    column = data.draw(st.sampled_from([n_name, v_name]))
    positions = data.draw(st.sets(st.integers(0, rows - 1), min_size=1, max_size=3))
    for p in positions:
        table.at[p, column] = data.draw(BAD_NUMBERS)
    with pytest.raises(ScalefitError) as info:
        frame = load_curves(table)
        validate_curves(frame, inputs=["N"])
    _check(info.value, [column])
    if "row" in str(info.value) and column in str(info.value):
        rows_named = {int(r) for r in re.findall(rf"`{re.escape(column)}`[^;]*? row (\d+)", str(info.value))}
        assert rows_named <= set(positions), (positions, str(info.value))


@settings(max_examples=60, **FAST)
@given(rows=st.integers(2, 6), data=st.data())
def test_curve_tables_without_a_usable_value_column_are_named(rows, data):
    names = data.draw(st.lists(st.sampled_from(["N", "D", "step", "x", "score", "flops", "what"]),
                               min_size=1, max_size=4, unique=True))
    table = pd.DataFrame({c: np.arange(1.0, rows + 1) for c in names})
    repeat = data.draw(st.booleans())
    if repeat:  # a name twice in a DataFrame
        table = pd.concat([table, table.iloc[:, :1]], axis=1)
    with pytest.raises(ScalefitError) as info:
        load_curves(table)
    _check(info.value, [*names, "value", "source"])


# --------------------------------------------------------------------------- counts and logs in memory


@settings(max_examples=160, **FAST)
@given(items=st.integers(2, 10), item_name=ITEM_NAMES, n_name=N_COUNT_NAMES, k_name=K_COUNT_NAMES, data=st.data())
def test_bad_counts_name_the_users_column(items, item_name, n_name, k_name, data):
    table = pd.DataFrame({item_name: np.arange(items), n_name: np.full(items, 10), k_name: np.arange(items) % 10})
    table = table.astype(object)
    kind = data.draw(st.sampled_from(["count", "k_over_n", "fraction", "item"]))
    p = data.draw(st.integers(0, items - 1))
    if kind == "count":
        column = data.draw(st.sampled_from([n_name, k_name]))
        table.at[p, column] = data.draw(st.sampled_from(["yes", "abc", -1, np.nan, "", None, [3], {"v": 1}, "1e400"]))
    elif kind == "k_over_n":
        column = k_name
        table.at[p, k_name] = 11
    elif kind == "fraction":
        column = data.draw(st.sampled_from([n_name, k_name]))
        table.at[p, column] = 2.5
    else:
        column = item_name
        table.at[p, item_name] = data.draw(st.sampled_from([None, np.nan, [1], {"id": 1}]))
    with pytest.raises(ScalefitError) as info:
        load_attempts(table, "counts")
    _check(info.value, [column])


@settings(max_examples=120, **FAST)
@given(lines=st.integers(2, 20), item_name=ITEM_NAMES, success_name=SUCCESS_NAMES, data=st.data())
def test_bad_success_flags_name_the_users_column(lines, item_name, success_name, data):
    log = pd.DataFrame({item_name: np.arange(lines) // 3, success_name: np.arange(lines) % 2}).astype(object)
    p = data.draw(st.integers(0, lines - 1))
    column = data.draw(st.sampled_from([success_name, success_name, item_name]))
    if column == success_name:
        log.at[p, column] = data.draw(st.sampled_from(["abc", "yes please", 2, -1, 0.5, None, np.nan, [1], {"ok": 1}]))
    else:
        log.at[p, column] = data.draw(st.sampled_from([None, np.nan, [1, 2], {"id": 3}]))
    with pytest.raises(ScalefitError) as info:
        load_attempt_log(log)
    _check(info.value, [column])


# --------------------------------------------------------------------------- files


_HEADER = ["N", "loss"]


def _csv_body(rows: int, sep: str) -> str:
    return "\n".join(sep.join([f"{1e7 * (i + 1):g}", f"{3.0 - 0.1 * i:g}"]) for i in range(rows))


@settings(max_examples=100, **FAST)
@given(rows=st.integers(0, 5), fmt=st.sampled_from(["csv", "tsv"]), data=st.data())
def test_malformed_delimited_files_name_the_file_or_column(rows, fmt, data):
    sep = "," if fmt == "csv" else "\t"
    kind = data.draw(st.sampled_from(["repeat", "header_only", "latin1", "binary", "bad_cell", "empty"]))
    header = list(_HEADER)
    body = _csv_body(rows, sep)
    if kind == "repeat":
        header = data.draw(st.permutations(["N", "N", "loss"]))
        body = "\n".join(sep.join(["1e8", "2e8", "3.0"]) for _ in range(max(rows, 1)))
    elif kind == "header_only":
        body = ""
    elif kind == "bad_cell":
        assume(rows > 0)
        cell = data.draw(st.sampled_from(["abc", "yes", "1,5" if sep == "\t" else "x", "[1]", "{}"]))
        body = body + "\n" + sep.join(["1e9", cell])
    crlf = data.draw(st.booleans())
    bom = data.draw(st.booleans())
    text = sep.join(header) + "\n" + body + ("\n" if body else "")
    if crlf:
        text = text.replace("\n", "\r\n")
    raw = text.encode("utf-8")
    if kind == "latin1":
        raw = raw + ("1e9" + sep + "3.0 caf\xe9\n").encode("latin-1")
    elif kind == "binary":
        raw = b"\x00\x01\xff\xfe" + raw
    elif kind == "empty":
        raw = b""
    if bom:
        raw = b"\xef\xbb\xbf" + raw
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"runs.{fmt}"
        path.write_bytes(raw)
        with pytest.raises(ScalefitError) as info:
            validate_curves(load_curves(path), inputs=["N"])
        _check(info.value, [str(path), "loss", "N"])
        if kind in ("repeat", "header_only", "latin1", "binary", "empty"):
            assert str(path) in str(info.value)


def _json_record(rng_value: float) -> dict:
    return {"N": 1e8 * rng_value, "loss": 3.0 / rng_value}


@settings(max_examples=110, **FAST)
@given(records=st.integers(1, 6), fmt=st.sampled_from(["json", "jsonl"]), data=st.data())
def test_malformed_json_and_jsonl_name_the_file_or_field(records, fmt, data):
    rows = [_json_record(i + 1.0) for i in range(records)]
    kind = data.draw(st.sampled_from(["repeat_key", "mixed_nested", "not_object", "syntax", "empty",
                                      "nested_value", "word", "list_value"]))
    p = data.draw(st.integers(0, records - 1))
    texts = [json.dumps(r) for r in rows]
    named = ["loss", "N"]
    if kind == "repeat_key":
        texts[p] = texts[p][:-1] + ', "N": 5}'
    elif kind == "mixed_nested":
        assume(records > 1)
        texts[p] = json.dumps({"N": {"value": 1e8}, "loss": 3.0})
    elif kind == "not_object":
        texts[p] = data.draw(st.sampled_from(["[1, 2]", "3", '"text"', "null"]))
    elif kind == "syntax":
        texts[p] = texts[p][:-1]
    elif kind == "empty":
        texts = []
    elif kind == "nested_value":
        texts[p] = json.dumps({"N": 1e8, "loss": {"mean": 3.0}})
        assume(records > 1)
    elif kind == "word":
        texts[p] = json.dumps({"N": 1e8, "loss": data.draw(st.sampled_from(["abc", "yes", "", "inf", "-1"]))})
    else:
        texts[p] = json.dumps({"N": [1e8, 2e8], "loss": 3.0})
    newline = data.draw(st.sampled_from(["\n", "\r\n"]))
    if fmt == "jsonl":
        text = newline.join(texts) + newline
    else:
        text = "[" + ("," + newline).join(texts) + "]"
    raw = text.encode("utf-8")
    if data.draw(st.booleans()):
        raw = b"\xef\xbb\xbf" + raw
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"runs.{fmt}"
        path.write_bytes(raw)
        with pytest.raises(ScalefitError) as info:
            validate_curves(load_curves(path), inputs=["N"])
        _check(info.value, [str(path), *named])


@settings(max_examples=60, **FAST)
@given(lines=st.integers(1, 8), data=st.data())
def test_malformed_attempt_logs_in_jsonl_name_the_file_or_field(lines, data):
    rows = [{"item": i // 2, "success": i % 2} for i in range(lines)]
    p = data.draw(st.integers(0, lines - 1))
    kind = data.draw(st.sampled_from(["word", "nested", "list_item", "repeat_key", "missing_item"]))
    if kind == "word":
        rows[p]["success"] = data.draw(st.sampled_from(["abc", "maybe", 7, -1, None]))
    elif kind == "nested":
        rows[p]["success"] = {"value": 1}
    elif kind == "list_item":
        rows = [{"item": [r["item"]], "success": r["success"]} for r in rows]
    elif kind == "missing_item":
        rows[p]["item"] = None
    texts = [json.dumps(r) for r in rows]
    if kind == "repeat_key":
        texts[p] = texts[p][:-1] + ', "success": 1}'
    raw = ("\r\n".join(texts) + "\r\n").encode()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "log.jsonl"
        path.write_bytes(b"\xef\xbb\xbf" + raw if data.draw(st.booleans()) else raw)
        with pytest.raises(ScalefitError) as info:
            load_attempts(path)
        _check(info.value, [str(path), "success", "item"])
