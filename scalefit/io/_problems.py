"""Helpers shared by the validators: value formatting, row labels, capped problem lists.

Private: the public validators live in :mod:`scalefit.io.schema` and
:mod:`scalefit.io.attempts`.  Everything here is about producing readable one-line problems
("column `N` row 4: 'abc' is not numeric") without looping in Python over clean data: the
checks are vectorised and only the few problems that are shown are formatted.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

#: How many problems of one kind (per column) are listed before "and N more".
SHOW = 3

_EXPONENT = re.compile(r"e([+-])0*(\d)")


def fmt_value(value: object) -> str:
    """Format one cell for a problem message: ``-5``, ``1e8``, ``3.1``, ``'abc'``, ``NaN``."""
    if value is None or value is pd.NA or value is pd.NaT:
        return "NaN"
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        x = float(value)
        if math.isnan(x):
            return "NaN"
        if math.isinf(x):
            return "inf" if x > 0 else "-inf"
        if x.is_integer() and abs(x) < 1e6:
            return str(int(x))
        text = f"{x:.6g}"
        return _EXPONENT.sub(lambda m: "e" + ("-" if m.group(1) == "-" else "") + m.group(2), text)
    if isinstance(value, str):
        return repr(value)
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def fmt_names(names: Sequence[object], limit: int = 25) -> str:
    """```a`, `b`, `c``` -- a capped list of column names for 'available: ...' messages."""
    shown = [f"`{n}`" for n in list(names)[:limit]]
    extra = len(names) - limit
    if extra > 0:
        shown.append(f"and {extra} more")
    return ", ".join(shown) if shown else "none"


def row_labels(frame: pd.DataFrame) -> np.ndarray:
    """Row numbers used in messages: the index when it holds integers, else 0-based positions,
    plus ``frame.attrs["first_row"]`` (1 for a table loaded from a file, whose messages count
    data rows from 1; absent, hence 0, for a user's DataFrame).

    Frames returned by the loaders carry the 0-based source row as their index, so messages
    point at the row of the user's file even after rows were filtered out.
    """
    index = frame.index
    offset = frame.attrs.get("first_row", 0)
    offset = offset if isinstance(offset, int) and not isinstance(offset, bool) else 0
    if pd.api.types.is_integer_dtype(index.dtype):
        return np.asarray(index, dtype=np.int64) + offset
    return np.arange(len(frame), dtype=np.int64) + offset


def capped(
    positions: np.ndarray,
    describe: Callable[[int], str],
    summary: Callable[[int], str],
    limit: int = SHOW,
) -> list[str]:
    """Format the first ``limit`` offending positions with ``describe``; summarise the rest.

    ``positions`` are 0-based positions into the arrays the caller checked; ``summary(k)``
    receives the number of positions left out and returns e.g. "column `N`: and 17 more rows
    that are not numeric".
    """
    positions = np.asarray(positions)
    out = [describe(int(p)) for p in positions[:limit]]
    if len(positions) > limit:
        out.append(summary(len(positions) - limit))
    return out


def cap_messages(messages: list[str], summary: Callable[[int], str], limit: int = SHOW) -> list[str]:
    """Keep the first ``limit`` already formatted messages and summarise the rest."""
    if len(messages) <= limit:
        return messages
    return messages[:limit] + [summary(len(messages) - limit)]


def _float_spelling(cell: object) -> bool:
    """True when a non-missing cell is a string that Python reads as a float (e.g. 'nan')."""
    if not isinstance(cell, str):
        return False
    try:
        float(cell.strip())
    except ValueError:
        return False
    return True


def parse_numeric(series: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Parse a column as float64.

    Returns ``(values, bad)``: ``values`` has NaN for missing *and* unparseable cells, ``bad``
    is a boolean mask of the cells that are present but are not numbers (words, booleans,
    lists).  Numeric columns are converted without a Python loop.
    """
    dtype = series.dtype
    n = len(series)
    if pd.api.types.is_bool_dtype(dtype):
        return np.full(n, np.nan), ~series.isna().to_numpy()
    if pd.api.types.is_numeric_dtype(dtype):
        return series.to_numpy(dtype=np.float64, na_value=np.nan), np.zeros(n, dtype=bool)
    cells = series.astype(object)
    is_bool = cells.map(lambda v: isinstance(v, (bool, np.bool_))).to_numpy(dtype=bool)
    cleaned = cells.where(~is_bool, None)
    values = pd.to_numeric(cleaned, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    missing = cells.isna().to_numpy()
    bad = np.isnan(values) & ~missing
    if bad.any():
        # 'nan' / 'NaN' spelled out in a file is a missing number, not a word.
        idx = np.flatnonzero(bad & ~is_bool)
        spelled = np.array([_float_spelling(cells.iat[i]) for i in idx], dtype=bool)
        bad[idx[spelled]] = False
    return values, bad


def nested_cells(series: pd.Series, column: object, what: str, first: int = 0) -> list[str]:
    """Problems for cells holding a list or an object (nested JSON) where one value is needed.

    Rows are the series' index labels plus ``first`` (1 for a file).  Only object columns can hold such cells, so typed
    columns cost nothing.
    """
    if series.dtype != object:
        return []
    cells = series.to_numpy()
    nested = np.fromiter((isinstance(v, (list, dict, tuple, np.ndarray)) for v in cells), dtype=bool,
                         count=len(cells))
    labels = series.index.to_numpy() + first
    return capped(
        np.flatnonzero(nested),
        lambda p: (f"column `{column}` row {labels[p]}: {fmt_value(cells[p])} is a "
                   f"{'list' if not isinstance(cells[p], dict) else 'nested object'}, not a single {what}"),
        lambda k: f"column `{column}`: and {k} more rows holding lists or objects",
    )


def one_line(err: BaseException, limit: int = 200) -> str:
    """An exception's message squeezed onto one line (for wrapping library errors)."""
    text = " ".join(str(err).split()) or type(err).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."
