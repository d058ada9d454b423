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

import numpy as np
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
    """A text handle: UTF-8 with an optional byte-order mark, any line ending."""
    _, compression = split_suffix(path)
    if compression:
        return _COMPRESSION[compression](path, "rt", encoding="utf-8-sig")  # type: ignore[operator]
    return open(path, encoding="utf-8-sig")


def _open_binary(path: Path) -> IO[bytes]:
    _, compression = split_suffix(path)
    if compression:
        return _COMPRESSION[compression](path, "rb")  # type: ignore[operator]
    return open(path, "rb")


def _unreadable(path: Path, fmt: str, err: BaseException) -> DataValidationError:
    if isinstance(err, UnicodeDecodeError):
        byte = err.object[err.start:err.start + 1].hex() if isinstance(err.object, bytes) else "?"
        what = "binary data" if isinstance(err.object, bytes) and b"\x00" in err.object[:4096] else "text"
        reason = (f"it is not UTF-8 text ({what}; byte 0x{byte} at position {err.start}); "
                  "save it as UTF-8")
    else:
        reason = one_line(err)
    return DataValidationError([f"cannot read '{path}' as {fmt.upper()}: {reason}"], source=str(path))


def _too_deep(path: object, fmt: str) -> DataValidationError:
    return DataValidationError([f"cannot read '{path}' as {fmt.upper()}: objects or arrays are nested too "
                                "deeply; a data record needs at most a few levels"], source=str(path))


def _repeated(names: Sequence[object]) -> list[object]:
    """Names that occur more than once, in order of first repetition."""
    seen: set = set()
    out: list = []
    for name in names:
        if name in seen and name not in out:
            out.append(name)
        seen.add(name)
    return out


def repeated_names_error(names: Sequence[object], source: str | None) -> DataValidationError | None:
    """The error for a header (or a DataFrame) that names a column twice, else None."""
    repeated = _repeated(names)
    if not repeated:
        return None
    listed = ", ".join(f"`{n}`" for n in repeated)
    plural = "s" if len(repeated) > 1 else ""
    what = "the header" if source is not None else "the DataFrame `source`"
    return DataValidationError(
        [f"{what} names column{plural} {listed} more than once; a column name must pick one column, "
         "rename the repeats"], source=source)


class _RepeatedKey(ValueError):
    def __init__(self, key: str):
        super().__init__(key)
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict:
    """``object_pairs_hook`` refusing an object that holds one key twice (json would keep the last)."""
    out = dict(pairs)
    if len(out) != len(pairs):
        raise _RepeatedKey(str(_repeated([k for k, _ in pairs])[0]))
    return out


def _repeated_key_error(path: Path, fmt: str, key: str, where: str = "") -> DataValidationError:
    return DataValidationError(
        [f"cannot read '{path}' as {fmt.upper()}: {where}field `{key}` appears twice in one object; "
         "rename the repeat"], source=str(path))


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


def records_frame(records: Sequence[dict], source: object = None) -> pd.DataFrame:
    """Flatten JSON records (nested objects joined with '.') into a frame, one row per record.

    A field that holds a plain value in some records and an object in others has no single
    meaning as a column: that is a :class:`~scalefit.errors.DataValidationError` naming the
    field (and ``source``, the file, when given).
    """
    if not records:
        return pd.DataFrame()
    nested = (dict, list)
    if not any(isinstance(v, nested) for r in records for v in r.values()):
        return pd.DataFrame.from_records(list(records))
    try:
        frame = pd.json_normalize([_expand_lists(r) for r in records], sep=".")
    except RecursionError:
        raise _too_deep(source if source is not None else "the records", "json") from None
    names = [str(c) for c in frame.columns]
    prefixes = {n.rsplit(".", 1)[0] for n in names if "." in n}
    # every ancestor of a dotted name, e.g. 'a' and 'a.b' for 'a.b.c'
    ancestors = {".".join(p.split(".")[: i + 1]) for p in prefixes for i in range(p.count(".") + 1)}
    clash = [n for n in names if n in ancestors]
    if clash:
        raise DataValidationError(
            [f"field `{clash[0]}` holds a plain value in some records and an object in others "
             f"(columns {', '.join(f'`{n}`' for n in names if n.startswith(clash[0] + '.'))[:200]}); "
             "give it one shape, or name the nested field you mean (e.g. "
             f"`{next(n for n in names if n.startswith(clash[0] + '.'))}`)"],
            source=None if source is None else str(source))
    return frame


def read_json_object(path: Path) -> Any:
    """Parse one JSON document; a syntax error becomes a one-line DataValidationError."""
    try:
        with _open_text(path) as handle:
            return json.load(handle, object_pairs_hook=_unique_keys)
    except _RepeatedKey as err:
        raise _repeated_key_error(path, "json", err.key) from None
    except RecursionError:
        raise _too_deep(path, "json") from None
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
            return records_frame(data, path)
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
        return records_frame([data], path)
    values = list(data.values())
    if {"columns", "data"} <= data.keys() and isinstance(data["data"], list):  # orient="split"
        return pd.DataFrame(data["data"], columns=data["columns"])
    if {"schema", "data"} <= data.keys() and isinstance(data["data"], list):  # orient="table"
        return records_frame(data["data"], path)
    if all(isinstance(v, list) for v in values) and len({len(v) for v in values}) == 1:
        return pd.DataFrame(data)  # columns of equal length
    if all(isinstance(v, dict) for v in values) and len({tuple(v) for v in values}) == 1:
        return pd.DataFrame(data).reset_index(drop=True)  # pandas orient="columns"
    return records_frame([data], path)


def _json_type(value: object) -> str:
    """The JSON name of a parsed value's type (for messages)."""
    names = {type(None): "null", bool: "true/false", int: "a number", float: "a number", str: "a string",
             list: "an array", dict: "an object"}
    return names.get(type(value), type(value).__name__)


#: Most '{' and '[' on one JSONL line given to pyarrow (an upper bound on the line's nesting).
_MAX_OPENERS = 1000


def _shallow_lines(path: Path, chunk: int = 1 << 24) -> bool:
    """True when no line of the file holds more than ``_MAX_OPENERS`` '{' or '[' characters.

    One vectorised pass over the bytes: only lines longer than the limit are counted exactly.
    """
    tail = b""
    with _open_binary(path) as handle:
        while True:
            buf = handle.read(chunk)
            data = tail + buf if tail else buf
            if not buf:
                return data.count(b"{") + data.count(b"[") <= _MAX_OPENERS
            a = np.frombuffer(data, dtype=np.uint8)
            ends = np.flatnonzero(a == 10)
            if len(ends) == 0:
                if len(data) > 2 * chunk:  # one enormous line: leave it to the careful path
                    return False
                tail = data
                continue
            starts = np.concatenate(([0], ends[:-1] + 1))
            for i in np.flatnonzero(ends - starts > _MAX_OPENERS):
                line = data[starts[i]:ends[i]]
                if line.count(b"{") + line.count(b"[") > _MAX_OPENERS:
                    return False
            tail = data[ends[-1] + 1:]


def _arrow_jsonl(path: Path) -> pd.DataFrame | None:
    """Fast columnar read of a JSONL file with pyarrow; None when the file needs the careful path.

    pyarrow handles a byte-order mark, CRLF line ends and blank lines, flattens nested objects
    into dotted names like ``records_frame``, and refuses (so we fall back) on a syntax error, a
    line that is not an object, a repeated key or a field whose type changes between lines.
    Lists are left to the careful path, which numbers lists of objects as ``records_frame`` does.
    """
    try:
        import pyarrow as pa
        import pyarrow.json as pa_json
    except ImportError:  # pragma: no cover - pyarrow is a dependency
        return None
    try:
        with _open_binary(path) as handle:
            head = handle.read(4096)
    except (OSError, EOFError, lzma.LZMAError):
        return None
    if not head.removeprefix(b"\xef\xbb\xbf").lstrip().startswith(b"{") or not _shallow_lines(path):
        # Not an object first, or possibly deep nesting: pyarrow 26 crashes the process on a file
        # that starts with `null` or on objects nested ~20,000 deep.  The careful path reports.
        return None
    try:
        if split_suffix(path)[1] is None:  # by name: pyarrow reads the file itself, far leaner
            table = pa_json.read_json(str(path))
        else:
            with _open_binary(path) as handle:
                table = pa_json.read_json(handle)
    except Exception:  # noqa: BLE001 - any refusal: the careful path reports the problem
        return None
    while any(pa.types.is_struct(f.type) for f in table.schema):
        table = table.flatten()  # one level per pass; names are joined with '.'
    if any(pa.types.is_nested(f.type) for f in table.schema):
        return None
    return table.to_pandas(split_blocks=True, self_destruct=True)


def read_jsonl(path: Path) -> pd.DataFrame:
    """One JSON object per line (blank lines skipped); every bad line is reported."""
    fast = _arrow_jsonl(path)
    if fast is not None:
        return fast
    records: list[dict] = []
    problems: list[str] = []
    bad = 0
    try:
        with _open_text(path) as handle:
            for lineno, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line, object_pairs_hook=_unique_keys)
                except _RepeatedKey as err:
                    message = f"line {lineno}: field `{err.key}` appears twice in one object"
                except RecursionError:
                    message = f"line {lineno}: nested too deeply"
                except json.JSONDecodeError as err:
                    message = f"line {lineno}: invalid JSON ({err.msg})"
                else:
                    if isinstance(record, dict):
                        records.append(record)
                        continue
                    message = f"line {lineno}: expected a JSON object, got {_json_type(record)}"
                bad += 1
                if bad <= 3:
                    problems.append(message)
    except (OSError, UnicodeDecodeError, EOFError, lzma.LZMAError) as err:
        raise _unreadable(path, "jsonl", err) from None
    if bad:
        if bad > 3:
            problems.append(f"and {bad - 3} more bad lines")
        raise DataValidationError([f"cannot read '{path}' as JSONL: " + "; ".join(problems)], source=str(path))
    return records_frame(records, path)


# --------------------------------------------------------------------------------------------
# tables


def _csv_header(path: Path, sep: str) -> list[str]:
    """The header row of a CSV/TSV file exactly as written (pandas renames repeats to 'N.1')."""
    head = pd.read_csv(path, sep=sep, header=None, nrows=1, dtype=str, keep_default_na=False,
                       encoding="utf-8-sig")
    return [str(v) for v in head.iloc[0].tolist()] if len(head) else []


def require_rows(frame: pd.DataFrame, path: object) -> pd.DataFrame:
    """A DataValidationError naming the file when it holds no data rows (e.g. a header only)."""
    if len(frame) == 0:
        header = f" (only the column names {fmt_names(list(frame.columns), limit=8)})" if len(frame.columns) else ""
        raise DataValidationError([f"no data rows{header}"], source=str(path))
    return frame


def read_file(path: Path, format: str = "auto", *, one_record: bool = False) -> pd.DataFrame:
    """Read one file into a frame numbered 0..n-1.

    Refused with a one-line error naming the file: a directory, text that is not UTF-8 (a
    byte-order mark is fine), a header that names a column twice, a file without data rows.
    """
    if path.is_dir():
        raise ArgumentError(f"`source`: '{path}' is a directory, not a file")
    fmt = file_format(path, format)
    if fmt == "json":
        frame = json_to_frame(read_json_object(path), path, one_record=one_record)
    elif fmt == "jsonl":
        frame = read_jsonl(path)
    else:
        try:
            if fmt == "parquet":
                import pyarrow.parquet as pq

                header = list(pq.read_schema(path).names)  # the footer only: cheap
                if not _repeated(header):
                    frame = pq.read_table(path).to_pandas()
            else:
                sep = "\t" if fmt == "tsv" else ","
                frame = pd.read_csv(path, sep=sep, encoding="utf-8-sig")
                header = _csv_header(path, sep)
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
        # empty header cells (a trailing comma) are pandas' 'Unnamed: i', never a clash
        repeated = repeated_names_error([h for h in header if h.strip()], str(path))
        if repeated is not None:
            raise repeated
    require_rows(frame, path)
    frame = frame.reset_index(drop=True)
    frame.attrs.update(source=str(path), first_row=1)  # messages count a file's data rows from 1
    return frame


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

    A source whose column names repeat is refused: a name must pick one column; so is a file
    without data rows.
    """
    frame, name, files = _read_table(source, format=format)
    repeated = repeated_names_error(list(frame.columns), name)
    if repeated is not None:
        raise repeated
    if name is not None:
        require_rows(frame, name)
    return frame, name, files


def first_row(source_name: str | None) -> int:
    """Number of the first data row in messages: 1 for a file, 0 (pandas' position) for a DataFrame.

    Loaded frames keep 0-based positions as their index and record this offset as
    ``attrs["first_row"]``, which :func:`scalefit.io._problems.row_labels` adds, so that a message
    says "row 1" for the first data row of a file (after the header; the first record of a JSON
    or JSONL file).
    """
    return 1 if source_name is not None else 0


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
        return records_frame(records, text), text, [str(f) for f in files]
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
