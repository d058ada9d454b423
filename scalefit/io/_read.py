"""Reading tables from files and resolving column names (private).

``read_table`` turns a path, a directory, a glob pattern or a DataFrame into a raw DataFrame
numbered 0..n-1 in source order.  Every user mistake (missing file, unknown extension, a file
that does not parse) becomes a one-line :class:`~scalefit.errors.ArgumentError` or
:class:`~scalefit.errors.DataValidationError`; no pandas or pyarrow traceback escapes.

``resolve_columns`` maps schema names to source columns from an explicit mapping plus a
case-insensitive alias table.
"""

from __future__ import annotations

import bz2
import glob
import gzip
import json
import lzma
import os
from collections.abc import Mapping, Sequence
from difflib import get_close_matches
from pathlib import Path
from typing import IO, Any

import pandas as pd

from ..errors import ArgumentError, DataValidationError
from ._problems import fmt_names, one_line

FILE_FORMATS = ("csv", "tsv", "parquet", "json", "jsonl")

_SUFFIXES = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}
_COMPRESSION = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}


# --------------------------------------------------------------------------------------------
# file formats


def split_suffix(path: Path) -> tuple[str, str | None]:
    """(format suffix, compression suffix) of a path, e.g. ('.csv', '.gz')."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in _COMPRESSION:
        return (suffixes[-2] if len(suffixes) > 1 else ""), suffixes[-1]
    return (suffixes[-1] if suffixes else ""), None


def file_format(path: Path, format: str = "auto") -> str:
    """The file format of ``path``: ``format`` when given, else from the extension."""
    if format != "auto":
        if format not in FILE_FORMATS:
            raise ArgumentError(
                f"`format` must be 'auto' or one of {', '.join(map(repr, FILE_FORMATS))}, "
                f"got {format!r}"
            )
        return format
    suffix, _ = split_suffix(path)
    if suffix in _SUFFIXES:
        return _SUFFIXES[suffix]
    raise ArgumentError(
        f"`source`: cannot tell the format of '{path}' from its extension {suffix or '(none)'!r}; "
        f"use one of {', '.join(sorted(_SUFFIXES))} or pass `format=` "
        f"({', '.join(map(repr, FILE_FORMATS))})"
    )


def _open_text(path: Path) -> IO[str]:
    _, compression = split_suffix(path)
    if compression:
        return _COMPRESSION[compression](path, "rt", encoding="utf-8")  # type: ignore[operator]
    return open(path, encoding="utf-8")


def _unreadable(path: Path, fmt: str, err: BaseException) -> DataValidationError:
    return DataValidationError([f"cannot read '{path}' as {fmt.upper()}: {one_line(err)}"], source=str(path))


# --------------------------------------------------------------------------------------------
# JSON


def _expand_lists(obj: Any) -> Any:
    """Turn lists of objects into objects keyed '0', '1', ... so json_normalize flattens them.

    ``{"results": [{"loss": 3.5}, {"loss": 3.1}]}`` becomes columns ``results.0.loss`` and
    ``results.1.loss``.  Lists of plain values (e.g. command-line arguments) stay as lists.
    """
    if isinstance(obj, dict):
        return {str(k): _expand_lists(v) for k, v in obj.items()}
    if isinstance(obj, list) and obj and all(isinstance(v, dict) for v in obj):
        return {str(i): _expand_lists(v) for i, v in enumerate(obj)}
    return obj


def records_frame(records: Sequence[dict]) -> pd.DataFrame:
    """Flatten JSON records (nested objects joined with '.') into a frame, one row per record."""
    if not records:
        return pd.DataFrame()
    nested = (dict, list)
    if not any(isinstance(v, nested) for r in records for v in r.values()):
        return pd.DataFrame.from_records(list(records))
    frame = pd.json_normalize([_expand_lists(r) for r in records], sep=".")
    return frame


def read_json_object(path: Path) -> Any:
    """Parse one JSON document; a syntax error becomes a one-line DataValidationError."""
    try:
        with _open_text(path) as handle:
            return json.load(handle)
    except json.JSONDecodeError as err:
        raise DataValidationError(
            [f"cannot read '{path}' as JSON: line {err.lineno} column {err.colno}: {err.msg}"],
            source=str(path),
        ) from None
    except (OSError, UnicodeDecodeError, EOFError, lzma.LZMAError) as err:
        raise _unreadable(path, "json", err) from None


def json_to_frame(data: Any, path: Path, *, one_record: bool = False) -> pd.DataFrame:
    """A frame from a parsed JSON document.

    Accepted shapes: a list of records; pandas' ``split`` / ``table`` / ``columns`` orients
    (``{"col": [..]}`` with equal-length lists, or ``{"col": {"0": ..}}`` with the same row
    keys in every column); any other object is one record.  With ``one_record=True`` (files of
    a directory or glob) an object is always one record.
    """
    if isinstance(data, list):
        if all(isinstance(r, dict) for r in data):
            return records_frame(data)
        if all(isinstance(r, list) for r in data):
            return pd.DataFrame(data)
        raise DataValidationError(
            [f"cannot read '{path}' as JSON: expected a list of records (objects), got a list of "
             f"{type(next(r for r in data if not isinstance(r, dict))).__name__}"],
            source=str(path),
        )
    if not isinstance(data, dict):
        raise DataValidationError(
            [f"cannot read '{path}' as JSON: expected an object or a list of records, got "
             f"{type(data).__name__}"],
            source=str(path),
        )
    if one_record or not data:
        return records_frame([data])
    values = list(data.values())
    if {"columns", "data"} <= data.keys() and isinstance(data["data"], list):  # orient="split"
        return pd.DataFrame(data["data"], columns=data["columns"])
    if {"schema", "data"} <= data.keys() and isinstance(data["data"], list):  # orient="table"
        return records_frame(data["data"])
    if all(isinstance(v, list) for v in values) and len({len(v) for v in values}) == 1:
        return pd.DataFrame(data)  # columns of equal length
    if all(isinstance(v, dict) for v in values) and len({tuple(v) for v in values}) == 1:
        return pd.DataFrame(data).reset_index(drop=True)  # pandas orient="columns"
    return records_frame([data])


def read_jsonl(path: Path) -> pd.DataFrame:
    """One JSON object per line (blank lines skipped); every bad line is reported."""
    try:
        with _open_text(path) as handle:
            lines = [(no, line) for no, line in enumerate(handle, start=1) if line.strip()]
    except (OSError, UnicodeDecodeError, EOFError, lzma.LZMAError) as err:
        raise _unreadable(path, "jsonl", err) from None
    # Fast path: decode all lines as one JSON array; fall back line by line to report errors.
    try:
        records = json.loads("[" + ",".join(line for _, line in lines) + "]")
        if len(records) == len(lines) and all(isinstance(r, dict) for r in records):
            return records_frame(records)
    except json.JSONDecodeError:
        pass
    problems: list[str] = []
    bad = 0
    for lineno, line in lines:
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            message = f"line {lineno}: invalid JSON ({err.msg})"
        else:
            if isinstance(record, dict):
                continue
            message = f"line {lineno}: expected a JSON object, got {type(record).__name__}"
        bad += 1
        if bad <= 3:
            problems.append(message)
    if bad > 3:
        problems.append(f"and {bad - 3} more bad lines")
    raise DataValidationError([f"cannot read '{path}' as JSONL: " + "; ".join(problems)], source=str(path))


# --------------------------------------------------------------------------------------------
# tables


def read_file(path: Path, format: str = "auto", *, one_record: bool = False) -> pd.DataFrame:
    """Read one file into a frame numbered 0..n-1."""
    fmt = file_format(path, format)
    if fmt == "json":
        frame = json_to_frame(read_json_object(path), path, one_record=one_record)
    elif fmt == "jsonl":
        frame = read_jsonl(path)
    else:
        try:
            if fmt == "parquet":
                frame = pd.read_parquet(path)
            else:
                frame = pd.read_csv(path, sep="\t" if fmt == "tsv" else ",")
        except pd.errors.EmptyDataError:
            raise DataValidationError([f"cannot read '{path}' as {fmt.upper()}: the file is empty"],
                                      source=str(path)) from None
        except (ValueError, OSError, UnicodeDecodeError, EOFError, lzma.LZMAError, pd.errors.ParserError) as err:
            # pyarrow's ArrowInvalid / ArrowIOError derive from ValueError / OSError.
            raise _unreadable(path, fmt, err) from None
        except Exception as err:  # any other reader failure (e.g. a pyarrow internal error)
            if type(err).__module__.split(".")[0] in {"pyarrow", "pandas"}:
                raise _unreadable(path, fmt, err) from None
            raise
    return frame.reset_index(drop=True)


def _expand_source(text: str) -> tuple[list[Path], bool]:
    """Files named by a path, a directory (its *.json files) or a glob; (files, many)."""
    if glob.has_magic(text):
        files = sorted(Path(p) for p in glob.glob(text) if Path(p).is_file())
        if not files:
            raise ArgumentError(f"`source`: no file matches the pattern '{text}'")
        return files, True
    path = Path(text)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() == ".json")
        if not files:
            raise ArgumentError(f"`source`: the directory '{text}' holds no .json files")
        return files, True
    if not path.exists():
        raise ArgumentError(f"`source`: no such file or directory: '{text}'")
    return [path], False


def read_table(source: object, *, format: str = "auto") -> tuple[pd.DataFrame, str | None, list[str] | None]:
    """Read ``source`` into a raw frame numbered 0..n-1 in source order (see ``_read_table``).

    A source whose column names repeat is refused: a name must pick one column.
    """
    frame, name, files = _read_table(source, format=format)
    repeated = frame.columns[frame.columns.duplicated()].unique().tolist()
    if repeated:
        raise ArgumentError(
            f"`source` has repeated column names {', '.join(map(repr, repeated))}; rename them first"
        )
    return frame, name, files


def _read_table(source: object, *, format: str = "auto") -> tuple[pd.DataFrame, str | None, list[str] | None]:
    """Read ``source`` into a raw frame numbered 0..n-1 in source order.

    Returns ``(frame, source_name, files)``: ``source_name`` is the path as given (None for a
    DataFrame); ``files`` lists the files read for a directory or glob (row i came from the
    i-th file when each holds one record), else None.
    """
    if isinstance(source, pd.DataFrame):
        return source.reset_index(drop=True), None, None
    if not isinstance(source, (str, os.PathLike)):
        raise ArgumentError(
            f"`source` must be a path, a directory, a glob pattern or a pandas DataFrame, "
            f"got {type(source).__name__}"
        )
    text = os.fspath(source)
    files, many = _expand_source(text)
    if not many:
        return read_file(files[0], format), text, None
    if all(file_format(f, format) == "json" for f in files):
        # One record per file (or a list of records): flatten them all at once, which is far
        # faster than building a frame per file and concatenating.
        records: list[dict] = []
        for f in files:
            data = read_json_object(f)
            items = data if isinstance(data, list) else [data]
            bad = next((r for r in items if not isinstance(r, dict)), None)
            if bad is not None:
                raise DataValidationError(
                    [f"cannot read '{f}' as JSON: expected an object or a list of objects, got "
                     f"{type(bad).__name__}"], source=str(f))
            records.extend(items)
        return records_frame(records), text, [str(f) for f in files]
    frames = [read_file(f, format, one_record=True) for f in files]
    frame = pd.concat(frames, ignore_index=True, sort=False) if frames else pd.DataFrame()
    return frame, text, [str(f) for f in files]


# --------------------------------------------------------------------------------------------
# column mapping


def _missing_column(where: str, name: object, available: Sequence[str]) -> ArgumentError:
    close = get_close_matches(str(name), [str(a) for a in available], n=3, cutoff=0.6)
    hint = f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""
    return ArgumentError(
        f"{where} names column {name!r}, which is not in the data{hint}; available: {fmt_names(available)}"
    )


def check_columns_exist(names: Sequence[str], available: Sequence[str], argname: str) -> None:
    """ArgumentError for the first name in ``names`` that is not a column."""
    for name in names:
        if name not in available:
            raise _missing_column(f"`{argname}`", name, available)


def as_name_list(value: object, argname: str) -> list[str]:
    """A list of column names from None, one name, or a sequence of names."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, Sequence) and all(isinstance(v, str) for v in value):
        out = list(value)
        if len(set(out)) != len(out):
            raise ArgumentError(f"`{argname}` lists a column twice: {out!r}")
        return out
    raise ArgumentError(f"`{argname}` must be a list of column names, got {value!r}")


def resolve_columns(
    available: Sequence[str],
    aliases: Mapping[str, Sequence[str]],
    explicit: Mapping[str, str | None],
    describe: Mapping[str, str],
) -> dict[str, str]:
    """Map schema names to source columns.

    ``explicit`` wins (a value of None switches a schema column off even when an alias would
    match); the rest are found case-insensitively through ``aliases``, whose names are in
    priority order (the first alias present wins, so 'loss' beats 'y').  ``describe[name]`` is
    how an explicit entry is named in messages, e.g. "`columns['N']`" or "`item`".
    Two source columns matching the same alias (e.g. 'Loss' and 'loss') is an error asking
    for an explicit choice.
    """
    available = list(available)
    mapping: dict[str, str] = {}
    for name, column in explicit.items():
        if column is None:
            continue
        if not isinstance(column, str) and column not in available:
            raise ArgumentError(f"{describe[name]} must be a column name, got {column!r}")
        if column not in available:
            raise _missing_column(describe[name], column, available)
        mapping[name] = column
    lower: dict[str, list[str]] = {}
    for col in available:
        lower.setdefault(str(col).strip().lower(), []).append(col)
    taken = set(mapping.values())
    for name, names in aliases.items():
        if name in explicit:
            continue
        hits: list[str] = []
        for alias in names:  # the first alias that matches wins: the table is in priority order
            hits = [col for col in lower.get(alias.lower(), []) if col not in taken]
            if hits:
                break
        if len(hits) > 1:
            raise ArgumentError(
                f"{describe[name]}: several columns could be `{name}` ({', '.join(repr(h) for h in hits)}); "
                f"choose one explicitly"
            )
        if hits:
            mapping[name] = hits[0]
            taken.add(hits[0])
    used: dict[str, str] = {}
    for name, column in mapping.items():
        if column in used:
            raise ArgumentError(
                f"{describe[name]} and {describe[used[column]]} both name column {column!r}; "
                f"each schema column needs its own source column"
            )
        used[column] = name
    return mapping


def hashable_duplicates(frame: pd.DataFrame) -> pd.Series:
    """``frame.duplicated()`` that also works when cells hold lists or dicts (JSON sources)."""
    try:
        return frame.duplicated(keep="first")
    except TypeError:
        safe = frame.apply(lambda col: col.map(lambda v: json.dumps(v, sort_keys=True, default=str)
                                               if isinstance(v, (list, dict)) else v))
        return safe.duplicated(keep="first")
