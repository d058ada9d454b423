"""The tidy curve schema: the contract between the loaders and every fit.

A curve table holds one measurement per row.  :func:`scalefit.io.load_curves` produces it
from files or frames, :func:`validate_curves` checks it before a fit, and :func:`frame_hash`
fingerprints the fitted columns for a result's provenance.

==========  ========  ===================================================================
column      type      meaning
==========  ========  ===================================================================
``run``     str       run id; a run with several checkpoints has several rows.  When the
                      source has no run column each row is its own run, ``"row<i>"``.
(groups)    as given  user-named grouping columns (e.g. ``dataset``, ``Task``), kept with
                      their source names and types; one curve per combination.
``N``       float64   parameters.
``D``       float64   training tokens (for a checkpoint: tokens seen at that checkpoint).
``C``       float64   training FLOPs.  Derived as ``6 * N * D`` when absent; likewise
                      ``D = C / (6 N)`` and ``N = C / (6 D)`` when one of them is absent.
``step``    float64   optional checkpoint step.
``metric``  str       what ``value`` measures; ``"loss"`` unless the source says otherwise.
``value``   float64   the measurement (loss, error, accuracy...).
``se``      float64   optional standard error of ``value``.
(keep)      as given  extra source columns carried along unchanged (e.g. a train/test flag).
==========  ========  ===================================================================

``N``, ``D`` and ``C`` are present when the source has them or they can be derived; ``step``
and ``se`` only when the source has them.  Columns appear in the order of the table.

Rows keep the 0-based position of their source row as the index (named ``row``), so a
filtered table still points at the right row of the user's file.  Messages count rows as the
user sees them: a file's data rows from 1 (row 1 is the first row after the header, or the
first record of a JSON / JSONL file), a DataFrame's by its index.  ``frame.attrs`` records
``source`` (the path, or None for a DataFrame), ``columns`` (schema name -> source column
actually used), ``derived`` (schema columns computed, with their formula), ``first_row`` (1
for a file, 0 for a DataFrame: added to the index in messages) and, with
``drop_duplicates=True``, ``duplicates_dropped``.  Validation messages name columns as the
source does: "column `loss` (used as value) row 7: -3.2 is not positive", "column `C`
(computed as 6*N*D) row 3: inf" (6 N D beyond float64's range).

Source columns are found through :data:`CURVE_ALIASES` unless named explicitly.  Matching
ignores case; the aliases are in priority order, the first one present wins (a table with
both ``loss`` and ``y`` uses ``loss``), and two columns matching the same alias (``Loss`` and
``loss``) must be resolved with an explicit mapping:

==========  ==========================================================================
schema      aliases
==========  ==========================================================================
``run``     run, run_id, run_name
``N``       N, params, n_params, num_params, parameters, n_parameters, num_parameters,
            Model Size, model_size
``D``       D, tokens, n_tokens, num_tokens, Training Tokens, training_tokens,
            train_tokens
``C``       C, flops, training flop, training flops, train_flops, compute
``step``    step, steps, checkpoint_step
``metric``  metric, metric_name
``value``   value, loss, y
``se``      se, stderr, std_err, standard_error
==========  ==========================================================================
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..errors import ArgumentError, DataValidationError
from ._problems import capped, cap_messages, fmt_names, fmt_value, parse_numeric, row_labels
from ._read import as_name_list

#: Schema columns in output order (group columns follow ``run``, kept columns come last).
CURVE_COLUMNS: tuple[str, ...] = ("run", "N", "D", "C", "step", "metric", "value", "se")

#: Schema columns that hold numbers (stored as float64).
NUMERIC_CURVE_COLUMNS: tuple[str, ...] = ("N", "D", "C", "step", "value", "se")

#: Case-insensitive source names recognised for each schema column when no mapping is given.
CURVE_ALIASES: dict[str, tuple[str, ...]] = {
    "run": ("run", "run_id", "run_name"),
    "N": ("N", "params", "n_params", "num_params", "parameters", "n_parameters",
          "num_parameters", "Model Size", "model_size"),
    "D": ("D", "tokens", "n_tokens", "num_tokens", "Training Tokens", "training_tokens",
          "train_tokens"),
    "C": ("C", "flops", "Training FLOP", "Training FLOPs", "train_flops", "compute"),
    "step": ("step", "steps", "checkpoint_step"),
    "metric": ("metric", "metric_name"),
    "value": ("value", "loss", "y"),
    "se": ("se", "stderr", "std_err", "standard_error"),
}

#: Default metric name when the source has no metric column.
DEFAULT_METRIC = "loss"


def _group_label(keys: Sequence[str], values: object) -> str:
    if len(keys) == 1:
        values = (values,)
    return ", ".join(f"{k}={v}" for k, v in zip(keys, values))  # type: ignore[call-overload]


def _source_names(frame: pd.DataFrame) -> dict[str, str]:
    """How each schema column is named in messages: as the user's file calls it.

    A loaded table records the source column behind each schema column (``attrs["columns"]``)
    and the columns it computed (``attrs["derived"]``): ``value`` read from ``loss`` is shown as
    "column `loss` (used as value)", a computed ``C`` as "column `C` (computed as 6*N*D)".
    """
    mapping = frame.attrs.get("columns") or {}
    derived = frame.attrs.get("derived") or {}
    shown: dict[str, str] = {}
    for name in frame.columns:
        source = mapping.get(name) if isinstance(mapping, dict) else None
        if isinstance(derived, dict) and name in derived:
            shown[name] = f"column `{name}` (computed as {derived[name]})"
        elif source is not None and source != name:
            shown[name] = f"column `{source}` (used as {name})"
        else:
            shown[name] = f"column `{name}`"
    return shown


#: Largest magnitude accepted where a fit works on the values themselves rather than their logs:
#: squares and sums of squares of up to ~1e8 such values stay finite in float64 (max ~1.8e308).
MAX_LINEAR = 1e150


def _check_numeric_column(
    frame: pd.DataFrame, column: str, labels: np.ndarray, shown: str, *, positive: str | None
) -> tuple[np.ndarray, list[str]]:
    """Non-numeric, NaN/inf, non-positive (when ``positive`` is a reason) and, where no log is
    taken, overflowing cells of a column; ``shown`` names it ("column `loss` (used as value)")."""
    values, bad = parse_numeric(frame[column])
    series = frame[column]
    problems: list[str] = []
    problems += capped(
        np.flatnonzero(bad),
        lambda p: f"{shown} row {labels[p]}: {fmt_value(series.iat[p])} is not numeric",
        lambda k: f"{shown}: and {k} more rows that are not numeric",
    )
    nonfinite = ~np.isfinite(values) & ~bad
    problems += capped(
        np.flatnonzero(nonfinite),
        lambda p: f"{shown} row {labels[p]}: {fmt_value(values[p])}",
        lambda k: f"{shown}: and {k} more rows with NaN or inf",
    )
    if positive is not None:
        nonpos = np.isfinite(values) & (values <= 0)
        problems += capped(
            np.flatnonzero(nonpos),
            lambda p: f"{shown} row {labels[p]}: {fmt_value(values[p])} is not positive ({positive})",
            lambda k: f"{shown}: and {k} more rows that are not positive",
        )
    if positive != "logs are taken":
        huge = np.isfinite(values) & (np.abs(values) > MAX_LINEAR)
        problems += capped(
            np.flatnonzero(huge),
            lambda p: (f"{shown} row {labels[p]}: {fmt_value(values[p])} is too large for a fit on the "
                       f"values themselves (|x| must be <= {MAX_LINEAR:.0e}; rescale the column)"),
            lambda k: f"{shown}: and {k} more rows that are too large",
        )
    return values, problems


def _column_codes(values: object) -> np.ndarray:
    """uint64 codes of a column's cells, equal for equal cells (used to find duplicate rows)."""
    if isinstance(values, np.ndarray) and values.dtype.kind == "f":
        return (values.astype(np.float64) + 0.0).view(np.uint64)  # the bits; -0.0 -> 0.0
    series = pd.Series(values)
    try:
        codes = pd.factorize(series, use_na_sentinel=False)[0]
    except TypeError:  # lists or dicts in a user's column
        codes = pd.factorize(series.astype(str), use_na_sentinel=False)[0]
    return codes.astype(np.uint64)


def _duplicate_problems(
    frame: pd.DataFrame, columns: list[str], numeric: dict[str, np.ndarray], labels: np.ndarray,
    names: dict[str, str],
) -> list[str]:
    """'duplicate rows 5 and 9: N=1e8, D=2e9, loss=3.1' for rows equal in every fitted column.

    Rows with a NaN or inf in a fitted column are left out (they are reported already).
    ``names`` gives the user's name of each column.  Candidates are found by hashing rows (one
    vectorised pass), and only they are compared exactly, so clean tables cost little.
    """
    usable = np.ones(len(frame), dtype=bool)
    for c in columns:
        if c in numeric:
            usable &= np.isfinite(numeric[c])
    kept = np.flatnonzero(usable)
    cells = {c: (numeric[c] if c in numeric else frame[c].to_numpy())[kept] for c in columns}
    row_hash = np.full(len(kept), 0xCBF29CE484222325, dtype=np.uint64)
    for c in columns:  # FNV-style mixing; equal rows always get equal hashes
        row_hash = (row_hash ^ _column_codes(cells[c])) * np.uint64(0x100000001B3)
    ordered = np.sort(row_hash)
    repeated = ordered[1:][ordered[1:] == ordered[:-1]]
    if len(repeated) == 0:
        return []
    candidate = np.isin(row_hash, np.unique(repeated))
    kept = kept[candidate]
    table = pd.DataFrame({c: cells[c][candidate] for c in columns})
    try:
        dup = table.duplicated(keep=False).to_numpy()
    except TypeError:  # unhashable cells: compare their text
        table = table.astype(str)
        dup = table.duplicated(keep=False).to_numpy()
    if not dup.any():
        return []
    dup_pos = kept[dup]
    sets = sorted(table[dup].groupby(columns, sort=False, dropna=False).indices.values(), key=lambda r: r[0])
    messages = []
    for rows in sets:
        where = dup_pos[rows]
        shown_rows = [str(labels[p]) for p in where]
        listed = ", ".join(shown_rows[:-1]) + " and " + shown_rows[-1]
        first = where[0]
        shown = ", ".join(
            f"{names.get(c, c)}={fmt_value(numeric[c][first]) if c in numeric else frame[c].iat[first]}"
            for c in columns
        )
        messages.append(f"duplicate rows {listed}: {shown}")
    return cap_messages(messages, lambda k: f"and {k} more sets of duplicate rows")


def validate_curves(
    frame: pd.DataFrame,
    *,
    inputs: Sequence[str],
    target: str = "value",
    log_target: bool = True,
    positive: Sequence[str] | None = None,
    log_inputs: bool = True,
    min_points: int | None = None,
    law: str | None = None,
    num_params: int | None = None,
    groups: Sequence[str] | None = None,
    source: str | None = None,
) -> None:
    """Check a curve table before a fit; raise one error listing every problem.

    Parameters
    ----------
    frame : pandas.DataFrame
        A tidy curve table (see the module docstring), usually from ``load_curves``.
    inputs : list of str
        Columns the law takes as inputs, e.g. ``["N", "D"]``.  Logs are taken of them, so
        they must be positive, unless ``log_inputs=False`` (e.g. a loss -> accuracy link).
    target : str
        The fitted column (default ``"value"``).
    log_target : bool
        Whether the fit takes the log of ``target`` (then it must be positive too).
    positive : list of str, optional
        Further columns that must be positive.
    min_points : int, optional
        Fewest rows a fit needs (per group when ``groups`` are given).  Defaults to
        ``num_params + 1`` when ``num_params`` is given.
    law : str, optional
        Name of the law being fitted, quoted in the too-few-points message.
    num_params : int, optional
        Number of free parameters of ``law``.
    groups : list of str, optional
        Curve grouping columns: duplicates and the point count are checked per group.
    source : str, optional
        Where the data came from (quoted in the error); defaults to ``frame.attrs["source"]``.

    Raises
    ------
    DataValidationError
        Listing every problem found: missing columns; non-numeric, NaN or infinite cells;
        non-positive cells where logs are taken; cells beyond 1e150 in magnitude where no log
        is taken (their squares would overflow); rows duplicated in all fitted columns; too
        few points.  Repeated problems of one kind are listed for the first 3 rows, then
        counted ("and 17 more ...").  Rows are the frame's index labels (positions when the
        index is not integer) plus ``frame.attrs["first_row"]``, so a loaded file's rows count
        from 1; columns are named as the source file names them (``attrs["columns"]``).

    Examples
    --------
    >>> frame = pd.DataFrame({"N": [1e8, -5.0], "D": [2e9, 4e9], "value": [3.1, 2.9]})
    >>> validate_curves(frame, inputs=["N", "D"])
    Traceback (most recent call last):
    ...
    scalefit.errors.DataValidationError: 1 problem: column `N` row 1: -5 is not positive (logs are taken)
    """
    if not isinstance(frame, pd.DataFrame):
        raise ArgumentError(f"`frame` must be a pandas DataFrame, got {type(frame).__name__}")
    inputs = as_name_list(inputs, "inputs")
    if not inputs:
        raise ArgumentError("`inputs` must name at least one column, got []")
    if not isinstance(target, str):
        raise ArgumentError(f"`target` must be a column name, got {target!r}")
    positive = as_name_list(positive, "positive")
    groups = as_name_list(groups, "groups")
    for name, val in (("min_points", min_points), ("num_params", num_params)):
        if val is not None and (isinstance(val, bool) or not isinstance(val, (int, np.integer)) or val < 0):
            raise ArgumentError(f"`{name}` must be a non-negative integer, got {val!r}")
    if source is None:
        source = frame.attrs.get("source")

    problems: list[str] = []
    wanted = list(dict.fromkeys([*groups, *inputs, target, *positive]))
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        plural = "s" if len(missing) > 1 else ""
        problems.append(
            f"missing column{plural} {', '.join(f'`{c}`' for c in missing)} "
            f"(present: {fmt_names(list(frame.columns))})"
        )

    labels = row_labels(frame)
    shown = _source_names(frame)
    numeric: dict[str, np.ndarray] = {}
    for column in dict.fromkeys([*inputs, target, *positive]):
        if column not in frame.columns:
            continue
        if (column in inputs and log_inputs) or (column == target and log_target):
            reason: str | None = "logs are taken"
        elif column in positive:
            reason = "must be positive"
        else:
            reason = None
        numeric[column], found = _check_numeric_column(frame, column, labels, shown[column], positive=reason)
        problems += found

    fitted = list(dict.fromkeys([*groups, *inputs, target]))
    if not missing:
        mapping = frame.attrs.get("columns") or {}
        names = {c: mapping.get(c, c) if isinstance(mapping, dict) else c for c in fitted}
        problems += _duplicate_problems(frame, fitted, numeric, labels, names)

    need = min_points if min_points is not None else (num_params + 1 if num_params is not None else None)
    if need is not None and not any(g in missing for g in groups):
        if law is not None and num_params is not None and min_points is None:
            what = f"law `{law}` has {num_params} free parameters and needs at least {need} points"
        elif law is not None:
            what = f"law `{law}` needs at least {need} points"
        else:
            what = f"too few points: need at least {need}"
        if groups:
            sizes = frame.groupby(groups, sort=False, dropna=False).size()
            short = [f"group {_group_label(groups, key)}: {what}, got {count}"
                     for key, count in sizes.items() if count < need]
            problems += cap_messages(short, lambda k: f"and {k} more groups with too few points")
        elif len(frame) < need:
            problems.append(f"{what}, got {len(frame)}")

    if problems:
        raise DataValidationError(problems, source=source)


def _frame_columns(frame: object, columns) -> list:
    """``columns`` as a list of names that ``frame`` (a DataFrame) holds; else an ArgumentError."""
    if not isinstance(frame, pd.DataFrame):
        raise ArgumentError(f"`frame` must be a pandas DataFrame, got {type(frame).__name__}")
    columns = as_name_list(columns, "columns")
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ArgumentError(
            f"`columns` names {', '.join(f'`{c}`' for c in missing)}, not in the frame "
            f"(present: {fmt_names(list(frame.columns))})"
        )
    return columns


def numeric_columns(
    frame: pd.DataFrame, columns: Sequence[str], *, source: str | None = None
) -> dict[str, np.ndarray]:
    """Parse the named columns of any table as float64, refusing cells that are not numbers.

    Numbers written as text (``"3.5"``, ``"1e8"``) are parsed, so a column read from JSON
    strings means the same as one read from a CSV; empty cells and ``"nan"`` become NaN and
    ``"inf"`` becomes inf, left to the caller's range checks.  Words (``"yes"``), booleans,
    lists and objects are a :class:`~scalefit.errors.DataValidationError` naming the column,
    the row (as :func:`validate_curves` numbers them) and the value.

    Examples
    --------
    >>> numeric_columns(pd.DataFrame({"r": ["3", "yes"]}), ["r"])
    Traceback (most recent call last):
    ...
    scalefit.errors.DataValidationError: 1 problem: column `r` row 1: 'yes' is not numeric
    """
    columns = _frame_columns(frame, columns)
    labels = row_labels(frame)
    out: dict[str, np.ndarray] = {}
    problems: list[str] = []
    for column in columns:
        values, bad = parse_numeric(frame[column])
        series = frame[column]
        problems += capped(
            np.flatnonzero(bad),
            lambda p, s=series, c=column: f"column `{c}` row {labels[p]}: {fmt_value(s.iat[p])} is not numeric",
            lambda k, c=column: f"column `{c}`: and {k} more rows that are not numeric",
        )
        out[column] = values
    if problems:
        raise DataValidationError(problems, source=source if source is not None else frame.attrs.get("source"))
    return out


def frame_hash(frame: pd.DataFrame, columns: Sequence[str]) -> str:
    """A stable sha256 (hex) of the named columns, for a fit result's provenance.

    The hash covers the column names, the row count and the values in row order; the index
    is ignored.  Numeric and boolean columns are hashed as little-endian float64 (so int and
    float storage of the same numbers agree, and -0.0 equals 0.0; every NaN hashes alike);
    other columns as UTF-8 text of each cell.  The result does not depend on the pandas or
    numpy version.

    Examples
    --------
    >>> frame = pd.DataFrame({"N": [1e8, 2e8], "value": [3.1, 2.9]})
    >>> frame_hash(frame, ["N", "value"]) == frame_hash(frame.astype({"N": "int64"}), ["N", "value"])
    True
    """
    columns = _frame_columns(frame, columns)
    digest = hashlib.sha256()
    digest.update(f"scalefit.frame_hash/1 rows={len(frame)}\n".encode())
    for column in columns:
        series = frame[column]
        digest.update(f"column {len(str(column))}:{column}\n".encode())
        if pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_bool_dtype(series.dtype):
            values = series.to_numpy(dtype=np.float64, na_value=np.nan) + 0.0  # -0.0 -> 0.0
            values[np.isnan(values)] = np.nan  # one NaN bit pattern
            digest.update(b"f8:" + values.astype("<f8").tobytes())
        else:
            for cell in series.tolist():
                text = "\x00NA" if pd.isna(cell) is True else str(cell)
                data = text.encode("utf-8", "surrogatepass")
                digest.update(len(data).to_bytes(8, "little") + data)
    return digest.hexdigest()
