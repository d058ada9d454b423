"""Safe file output (never overwrite a user's file silently; write atomically) and safe reading
of saved results (one-line errors naming the file; every format problem listed at once)."""

from __future__ import annotations

import math
import os
import re
import tempfile
from pathlib import Path
from typing import Any, Callable, Mapping

from .errors import ArgumentError, DataValidationError


def check_output_path(path: str | os.PathLike, *, overwrite: bool = False, argument: str = "path") -> Path:
    """Raise :class:`ArgumentError` unless ``path`` can be written: not a directory, not an
    existing file (unless ``overwrite``), in a directory that exists."""
    path = Path(path)
    if path.is_dir():
        raise ArgumentError(f"`{argument}` = '{path}' is a directory; give a file name")
    if path.exists() and not overwrite:
        raise ArgumentError(
            f"`{argument}` = '{path}' already exists; refusing to overwrite it (use --force / overwrite=True)"
        )
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise ArgumentError(f"`{argument}` = '{path}': directory '{parent}' does not exist")
    return path


def check_input_path(path, *, argument: str = "DATA") -> Path:
    """Raise :class:`ArgumentError` naming ``argument`` unless ``path`` exists (a file, or a
    folder for the loaders that read one)."""
    if not Path(path).exists():
        raise ArgumentError(f"`{argument}` = '{path}' does not exist")
    return Path(path)


def atomic_write_bytes(path: str | os.PathLike, data: bytes, *, overwrite: bool = False,
                       argument: str = "path") -> Path:
    """Write ``data`` to ``path`` via a temporary file and ``os.replace``.

    Raises :class:`ArgumentError` if ``path`` exists and ``overwrite`` is false, so that a
    user's file is never lost; a crash mid-write leaves the old file (or nothing) in place.
    """
    path = check_output_path(path, overwrite=overwrite, argument=argument)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise ArgumentError(f"`{argument}` = '{path}' cannot be written ({exc.strerror})") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the file normal permissions
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def atomic_write_text(path, text: str, *, overwrite: bool = False, argument: str = "path") -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"), overwrite=overwrite, argument=argument)


def json_text(obj, *, indent: int = 1) -> str:
    """JSON text of a saved result: objects indented, every list of numbers (or of such lists,
    one per line) kept compact, numbers as Python writes them (float64 round-trips exactly),
    no NaN or infinity."""
    import json

    def flat(v) -> bool:
        return isinstance(v, list) and all(isinstance(x, (int, float, bool)) or x is None for x in v)

    def enc(v, depth: int) -> str:
        pad, inner = " " * (indent * depth), " " * (indent * (depth + 1))
        if isinstance(v, dict):
            if not v:
                return "{}"
            items = [f"{inner}{json.dumps(str(key))}: {enc(val, depth + 1)}" for key, val in v.items()]
            return "{\n" + ",\n".join(items) + "\n" + pad + "}"
        if flat(v):
            return json.dumps(v, allow_nan=False, separators=(",", ":"))
        if isinstance(v, list):
            if not v:
                return "[]"
            return "[\n" + ",\n".join(inner + enc(x, depth + 1) for x in v) + "\n" + pad + "]"
        return json.dumps(v, allow_nan=False)

    return enc(obj, 0)


# ------------------------------------------------------------------------------ reading
def _json_type(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, Mapping):
        return "an object"
    return type(value).__name__


def source_label(source, what: str) -> str:
    """How messages name a saved result: ``fit file 'fit.json'`` (or ``fit record`` for text)."""
    if isinstance(source, (str, os.PathLike)) and not str(source).lstrip().startswith("{"):
        return f"{what} '{source}'"
    return what.replace(" file", " record") if what.endswith(" file") else what


def read_json_file(path: str | os.PathLike, *, what: str = "file") -> tuple[Any, bytes]:
    """-> (parsed JSON, the file's bytes).  Every way a user's file can be unreadable (missing,
    a directory, no permission, not UTF-8, not JSON, nested too deep to parse) is one
    :class:`ArgumentError` naming ``what`` and the path."""
    p = Path(path)
    label = f"{what} '{p}'"
    if p.is_dir():
        raise ArgumentError(f"{label} is a directory; give a JSON file")
    if not p.exists():
        raise ArgumentError(f"{label} does not exist")
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise ArgumentError(f"{label} cannot be read ({exc.strerror or type(exc).__name__})") from None
    return _parse_json(data, label), data


def _parse_json(data: bytes | str, label: str):
    import json

    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ArgumentError(f"{label} is not a text file (byte {exc.start} is not UTF-8); "
                                "expected JSON written by scalefit") from None
    try:
        return json.loads(data)
    except json.JSONDecodeError as exc:
        raise ArgumentError(f"{label} is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from None
    except RecursionError:
        raise ArgumentError(f"{label} nests lists/objects too deeply to be a saved scalefit result") from None


def read_json(source, *, what: str = "file") -> dict:
    """Parse a saved result: ``source`` is a path or a JSON string (starting with ``{``).

    Returns the JSON object; anything else (unreadable file, invalid JSON, a JSON list or
    number) raises a one-line :class:`ArgumentError` naming ``what`` (e.g. "fit file")."""
    label = source_label(source, what)
    text = str(source) if isinstance(source, (str, os.PathLike)) else None
    if text is None:
        raise ArgumentError(f"{what}: expected a path or JSON text, got {type(source).__name__}")
    if text.lstrip().startswith("{"):
        obj = _parse_json(text, label)
    else:
        obj, _ = read_json_file(source, what=what)
    return require_object(obj, label)


def require_object(obj, label: str) -> dict:
    """``obj`` if it is a JSON object, else the one-line error every reader of saved results gives."""
    if not isinstance(obj, dict):
        raise ArgumentError(f"{label} holds {_json_type(obj)}, not a JSON object (a saved scalefit result)")
    return obj


def load_saved(source, build: Callable[[dict], Any], *, what: str):
    """``build(read_json(source))`` with every error of ``build`` naming the file: format
    problems (:class:`~scalefit.errors.DataValidationError`, all listed) and argument errors."""
    record = read_json(source, what=what)
    try:
        return build(record)
    except DataValidationError as exc:
        raise DataValidationError(exc.problems, source=source_label(source, what)) from None
    except ArgumentError as exc:
        raise ArgumentError(f"{source_label(source, what)}: {exc}") from None


# ------------------------------------------------------------------------------ validation
def _finite(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


#: element kinds: name -> (test, description)
_KINDS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "str": (lambda v: isinstance(v, str), "a string"),
    "bool": (lambda v: isinstance(v, bool), "true or false"),
    "int": (lambda v: isinstance(v, int) and not isinstance(v, bool), "an integer"),
    "count": (lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0, "an integer >= 0"),
    "number": (_finite, "a finite number"),
    "object": (lambda v: isinstance(v, Mapping), "an object"),
    "list": (lambda v: isinstance(v, list), "a list"),
    "any": (lambda v: True, "any value"),
}


def _check_kind(kind: str, value, name: str) -> list[str]:
    """What is wrong with ``value`` for ``kind`` ([] when nothing).  Kinds: ``str``, ``number?``
    (a trailing ``?`` accepts null), ``list[number]``, ``object[str]`` ...; the entries of a
    container are all checked (the first few problems are listed, then a count)."""
    m = re.fullmatch(r"(list|object)\[(.+)\]", kind)
    if m is None:
        nullable = kind.endswith("?")
        test, text = _KINDS[kind.rstrip("?")]
        if (value is None and nullable) or (value is not None and test(value)):
            return []
        return [f"{name} must be {text}{' (or null)' if nullable else ''}, got {_short(value)}"]
    container, elem = m.groups()
    if container == "list":
        if not isinstance(value, list):
            return [f"{name} must be a list, got {_short(value)}"]
        entries = ((f"{name[:-1]}[{i}]`", v) for i, v in enumerate(value))
    else:
        if not isinstance(value, Mapping):
            return [f"{name} must be an object, got {_short(value)}"]
        entries = ((f"{name[:-1]}.{k}`", v) for k, v in value.items())
    problems = [p for entry, v in entries for p in _check_kind(elem, v, entry)]
    if len(problems) > _SHOWN:
        problems = problems[:_SHOWN] + [f"{name}: {len(problems) - _SHOWN} more entries like these"]
    return problems


#: problems listed per container before the rest are counted
_SHOWN = 5


_MISSING = object()


class RecordCheck:
    """Check a saved record against its format, collecting every problem so that one error
    lists them all (:meth:`done` raises :class:`~scalefit.errors.DataValidationError`).

    ``get("law.name", "str")`` returns the value when it has the kind, else records a problem
    (``missing `law.name```, ```params.alpha` is null; expected a finite number``) and returns
    ``None``; a kind ending in ``?`` also accepts null.  Never raises on odd content.

    >>> c = RecordCheck({"params": {"a": None}}, "fit record")
    >>> c.get("params", "object[number]") is None
    True
    >>> c.problems
    ['`params.a` must be a finite number, got null']
    """

    def __init__(self, record, what: str, prefix: str = "", problems: list[str] | None = None):
        self.what = what
        self.prefix = prefix
        self.problems = [] if problems is None else problems
        if isinstance(record, Mapping):
            self.record = record
        else:
            self.record = {}
            self.problem(f"{prefix.rstrip('.') or 'the record'} is {_json_type(record)}, not an object")

    def problem(self, message: str) -> None:
        self.problems.append(message)

    def _lookup(self, key: str):
        value = self.record
        for part in key.split("."):
            if not isinstance(value, Mapping) or part not in value:
                return _MISSING
            value = value[part]
        return value

    def has(self, key: str) -> bool:
        return self._lookup(key) is not _MISSING

    def get(self, key: str, kind: str, *, required: bool = True, default=None):
        value = self._lookup(key)
        name = f"`{self.prefix}{key}`"
        if value is _MISSING:
            if required:
                self.problem(f"missing {name}")
            return default
        bad = _check_kind(kind, value, name)
        if not bad:
            return value
        self.problems.extend(bad)
        return default

    def sub(self, key: str) -> "RecordCheck | None":
        """A checker for the object at ``key`` sharing this one's problem list (None if absent)."""
        value = self.get(key, "object")
        return None if value is None else RecordCheck(value, self.what, f"{self.prefix}{key}.", self.problems)

    def frame(self, key: str, *, required: bool = True) -> dict | None:
        """A data frame saved as ``{"columns": [...], "index": [...], "data": [[...], ...]}``."""
        c = self.sub(key) if required or self.has(key) else None
        if c is None:
            return None
        n0 = len(self.problems)
        cols = c.get("columns", "list")
        data = c.get("data", "list")
        index = c.get("index", "list", required=False)
        if cols is not None and not all(isinstance(x, (str, int, float)) and not isinstance(x, bool) for x in cols):
            c.problem(f"`{c.prefix}columns` must be a list of column names")
        if cols is not None and data is not None:
            bad = next((i for i, row in enumerate(data) if not isinstance(row, list) or len(row) != len(cols)), None)
            if bad is not None:
                c.problem(f"`{c.prefix}data` row {bad} is not a list of {len(cols)} values (one per column)")
        if index is not None and data is not None and len(index) != len(data):
            c.problem(f"`{c.prefix}index` has {len(index)} entries for {len(data)} rows")
        return c.record if len(self.problems) == n0 else None

    def done(self) -> None:
        if self.problems:
            raise DataValidationError(self.problems, source=self.what)


def _short(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, (Mapping, list)):
        return _json_type(value)
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
