"""Load loss and benchmark curves into the tidy curve table of :mod:`scalefit.io.schema`."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ..errors import ArgumentError, DataValidationError
from ._problems import capped, fmt_names, fmt_value, nested_cells, parse_numeric
from ._read import (
    as_name_list,
    check_columns_exist,
    hashable_duplicates,
    first_row,
    read_table,
    resolve_columns,
)
from .schema import CURVE_ALIASES, CURVE_COLUMNS, DEFAULT_METRIC, NUMERIC_CURVE_COLUMNS


def _text_column(series: pd.Series, source_column: str, what: str, first: int) -> tuple[pd.Series, list[str]]:
    """A column as str; missing cells and nested JSON values (lists, objects) are problems."""
    labels = series.index.to_numpy() + first
    missing = series.isna().to_numpy()
    problems = nested_cells(series, source_column, what, first)
    problems += capped(
        np.flatnonzero(missing),
        lambda p: f"column `{source_column}` row {labels[p]}: missing {what}",
        lambda k: f"column `{source_column}`: and {k} more rows with a missing {what}",
    )
    return series.astype(object).map(str).astype(str), problems


def _derive(numbers: dict[str, np.ndarray], derived: dict[str, str]) -> None:
    """Compute the one of N, D, C that is missing from the other two (C = 6 N D)."""
    if "C" not in numbers and "N" in numbers and "D" in numbers:
        numbers["C"] = 6.0 * numbers["N"] * numbers["D"]
        derived["C"] = "6*N*D"
    elif "D" not in numbers and "N" in numbers and "C" in numbers:
        numbers["D"] = numbers["C"] / (6.0 * numbers["N"])
        derived["D"] = "C/(6*N)"
    elif "N" not in numbers and "D" in numbers and "C" in numbers:
        numbers["N"] = numbers["C"] / (6.0 * numbers["D"])
        derived["N"] = "C/(6*D)"


def load_curves(
    source: str | os.PathLike | pd.DataFrame,
    *,
    columns: Mapping[str, str | None] | None = None,
    metric: str | None = None,
    groups: Sequence[str] | None = None,
    keep: Sequence[str] | None = None,
    filter_metric: str | None = None,
    drop_duplicates: bool = False,
    format: str = "auto",
) -> pd.DataFrame:
    """Load loss or benchmark curves as a tidy table.

    Parameters
    ----------
    source : path, directory, glob pattern or pandas.DataFrame
        A CSV, TSV, Parquet, JSON (a list of records, or pandas' ``columns`` / ``split`` /
        ``table`` orients) or JSONL file (``.gz``, ``.bz2`` and ``.xz`` compressed text files
        too); a directory of ``.json`` files or a glob pattern, each file holding one record
        (one row per file, in sorted file-name order); or a DataFrame.  Nested JSON objects
        are flattened into dotted column names (``hyperparameters.params``) with
        ``pandas.json_normalize``; lists of objects are numbered (``results.1.loss``).
    columns : dict, optional
        Schema name -> source column, e.g. ``{"N": "Model Size", "C": "Training FLOP",
        "value": "loss"}``.  Explicit entries win over auto-detection; ``None`` switches an
        auto-detected column off.  Schema names without an entry are found through the alias
        table of :mod:`scalefit.io.schema` (case-insensitive).
    metric : str, optional
        Name of what ``value`` measures (default ``"loss"``).  When ``columns`` does not map
        ``value`` and ``metric`` names a source column, that column is the value (picking one
        measurement out of a wide table, e.g. ``metric="loss__c4_val"``).
    groups : list of str, optional
        Source columns that identify curves; kept with their names and types.
    keep : list of str, optional
        Further source columns carried along unchanged (e.g. a train/test flag).
    filter_metric : str, optional
        Keep only rows whose ``metric`` equals this.
    drop_duplicates : bool
        Remove source rows that exactly duplicate an earlier row (in every source column);
        ``frame.attrs["duplicates_dropped"]`` says how many went.
    format : {"auto", "csv", "tsv", "parquet", "json", "jsonl"}
        File format; ``"auto"`` goes by the extension.

    Returns
    -------
    pandas.DataFrame
        Columns ``run``, the group columns, ``N``, ``D``, ``C`` (those available or
        derivable; ``C = 6 N D``, ``D = C / (6 N)``, ``N = C / (6 D)``), ``step`` and
        ``se`` when present, ``metric``, ``value``, then the kept columns.  The index
        (``row``) is the 0-based source row; messages count a file's rows from 1
        (``attrs["first_row"]``).  Numbers are float64.

    Raises
    ------
    ArgumentError
        For a missing file, an unknown format, or a mapping, group or filter that does not
        fit the data (the message lists the available columns).
    DataValidationError
        When the file does not parse, is not UTF-8 text (a byte-order mark and CRLF line ends
        are fine), names a column twice (in its header or in one JSON object), has no data rows,
        holds a field that is a plain value in some JSON records and an object in others, or
        when numeric columns hold non-numbers or ids are missing or nested (every such cell is
        reported, with the column as the file names it).  NaN, inf and non-positive numbers are left to
        :func:`~scalefit.io.validate_curves`, which knows which columns a fit uses.

    Examples
    --------
    >>> frame = load_curves("svg_extracted_data.csv",  # doctest: +SKIP
    ...                     columns={"N": "Model Size", "C": "Training FLOP", "value": "loss"})
    >>> list(frame.columns)  # doctest: +SKIP
    ['run', 'N', 'D', 'C', 'metric', 'value']
    """
    if columns is not None and not isinstance(columns, Mapping):
        raise ArgumentError(f"`columns` must be a dict of schema name -> source column, got {columns!r}")
    columns = dict(columns or {})
    unknown = [k for k in columns if k not in CURVE_COLUMNS]
    if unknown:
        raise ArgumentError(
            f"`columns` has unknown schema name {unknown[0]!r}; schema names are "
            f"{', '.join(map(repr, CURVE_COLUMNS))}"
        )
    if metric is not None and not isinstance(metric, str):
        raise ArgumentError(f"`metric` must be a string, got {metric!r}")
    if filter_metric is not None and not isinstance(filter_metric, str):
        raise ArgumentError(f"`filter_metric` must be a string, got {filter_metric!r}")
    if not isinstance(drop_duplicates, (bool, np.bool_)):
        raise ArgumentError(f"`drop_duplicates` must be True or False, got {drop_duplicates!r}")
    groups = as_name_list(groups, "groups")
    keep = as_name_list(keep, "keep")

    raw, source_name, files = read_table(source, format=format)
    available = list(raw.columns)
    check_columns_exist(groups, available, "groups")
    check_columns_exist(keep, available, "keep")

    describe = {name: f"`columns['{name}']`" for name in CURVE_COLUMNS}
    wide = metric is not None and "value" not in columns and metric in available
    if wide:
        columns["value"] = metric
    mapping = resolve_columns(available, CURVE_ALIASES, columns, describe)
    if wide:
        if "metric" in mapping:
            raise ArgumentError(
                f"`metric`={metric!r} picks a value column, but the data also has a metric column "
                f"{mapping['metric']!r}; pass `columns={{'metric': None}}` to ignore it"
            )
    elif metric is not None and "metric" in mapping:
        raise ArgumentError(
            f"`metric`={metric!r} labels the values, but the data has a metric column "
            f"{mapping['metric']!r}; use `filter_metric` to select rows of one metric"
        )
    if "value" not in mapping:
        raise ArgumentError(
            "`columns`: no value column found (looked for "
            f"{', '.join(repr(a) for a in CURVE_ALIASES['value'])}); map one with "
            f"`columns={{'value': ...}}` or name it with `metric=`; available: {fmt_names(available)}"
        )
    for name in (*groups, *keep):
        if name in CURVE_COLUMNS and mapping.get(name) != name:
            raise ArgumentError(
                f"`groups`/`keep` column {name!r} clashes with the schema column of that name; "
                "rename it in the data or map the schema column to it"
            )

    problems: list[str] = []
    out: dict[str, object] = {}
    n = len(raw)
    first = first_row(source_name)
    labels = raw.index.to_numpy() + first  # row numbers as the user sees them (from 1 in a file)
    if "run" in mapping:
        out["run"], found = _text_column(raw[mapping["run"]], mapping["run"], "run id", first)
        problems += found
    else:
        out["run"] = pd.Series([f"row{i}" for i in range(n)], dtype=str)
    for name in groups:
        out[name] = raw[name]
        problems += nested_cells(raw[name], name, "group value", first)
    numbers: dict[str, np.ndarray] = {}
    for name in NUMERIC_CURVE_COLUMNS:
        if name not in mapping:
            continue
        series = raw[mapping[name]]
        values, bad = parse_numeric(series)
        problems += capped(
            np.flatnonzero(bad),
            lambda p, s=series, c=mapping[name]: f"column `{c}` row {labels[p]}: {fmt_value(s.iat[p])} is not numeric",
            lambda k, c=mapping[name]: f"column `{c}`: and {k} more rows that are not numeric",
        )
        numbers[name] = values
    if "metric" in mapping:
        metric_values, found = _text_column(raw[mapping["metric"]], mapping["metric"], "metric name", first)
        problems += found
    else:
        metric_values = pd.Series([metric or DEFAULT_METRIC] * n, dtype=str)
    if problems:
        raise DataValidationError(problems, source=source_name)

    derived: dict[str, str] = {}
    # Overflow (6 N D beyond 1.8e308) gives inf, which validate_curves reports as a bad cell of
    # the computed column; no numpy warning is printed.
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        _derive(numbers, derived)

    ordered: dict[str, object] = {"run": out.pop("run")}
    ordered.update(out)
    for name in ("N", "D", "C", "step"):
        if name in numbers:
            ordered[name] = numbers[name]
    ordered["metric"] = metric_values
    ordered["value"] = numbers["value"]
    if "se" in numbers:
        ordered["se"] = numbers["se"]
    for name in keep:
        if name not in ordered:
            ordered[name] = raw[name]
    frame = pd.DataFrame(ordered, index=pd.RangeIndex(n))  # raw is numbered 0..n-1 too
    frame.index.name = "row"

    if filter_metric is not None:
        mask = (frame["metric"] == filter_metric).to_numpy()
        if not mask.any():
            present = list(dict.fromkeys(frame["metric"]))
            raise ArgumentError(
                f"`filter_metric`={filter_metric!r} matches no row; metrics present: "
                f"{', '.join(map(repr, present[:10]))}{' ...' if len(present) > 10 else ''}"
            )
        frame = frame[mask]
    dropped = 0
    if drop_duplicates:
        dup = hashable_duplicates(raw.iloc[frame.index.to_numpy()]).to_numpy()
        dropped = int(dup.sum())
        frame = frame[~dup]

    frame.attrs = {
        "source": source_name,
        "columns": dict(mapping),
        "derived": derived,
        "first_row": first,
    }
    if files is not None:
        frame.attrs["files"] = files
    if drop_duplicates:
        frame.attrs["duplicates_dropped"] = dropped
    return frame
