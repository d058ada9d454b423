"""Safe file output: never overwrite a user's file silently; write atomically."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .errors import ArgumentError


def atomic_write_bytes(path: str | os.PathLike, data: bytes, *, overwrite: bool = False,
                       argument: str = "path") -> Path:
    """Write ``data`` to ``path`` via a temporary file and ``os.replace``.

    Raises :class:`ArgumentError` if ``path`` exists and ``overwrite`` is false, so that a
    user's file is never lost; a crash mid-write leaves the old file (or nothing) in place.
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise ArgumentError(
            f"`{argument}` = '{path}' already exists; refusing to overwrite it (use --force / overwrite=True)"
        )
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise ArgumentError(f"`{argument}` = '{path}': directory '{parent}' does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=parent)
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


def read_json(source, *, what: str = "file"):
    """Parse a saved result: ``source`` is a path or a JSON string (starting with ``{``).

    Bad input raises a one-line :class:`ArgumentError` naming ``what`` (e.g. "fit file")."""
    import json

    text = str(source)
    if not text.lstrip().startswith("{"):
        p = Path(source)
        if not p.is_file():
            raise ArgumentError(f"{what} '{p}' does not exist")
        text = p.read_text()
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ArgumentError(f"{what} is not valid JSON: {exc}") from None
