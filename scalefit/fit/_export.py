"""Cross-process cache of traced programs (``jax.export``), for short-lived processes (the CLI).

JAX's persistent compilation cache skips XLA compilation in a fresh process, but not the Python
tracing and lowering of the solver, which costs a CLI fit about a second.  With a cache folder
set (:func:`enable`), a jitted function of a registry law is exported once (serialised
StableHLO) and later processes deserialise it instead of tracing; the deserialised program is
the same HLO, so the persistent compilation cache then serves its executable.  The key covers
the call's shapes and dtypes, everything that shapes the program (law, options, schedule), the
jax version and a hash of scalefit's fitting and law sources, so stale entries are never used.
Any failure falls back to the ordinary jitted call.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, Callable

import jax

_DIR: Path | None = None
_LOADED: dict[str, Callable] = {}
_SOURCE_HASH: str | None = None


def enable(folder: str | os.PathLike | None) -> None:
    """Use ``folder`` for exported programs (None turns the cache off)."""
    global _DIR
    _DIR = None if folder is None else Path(folder)


def _source_hash() -> str:
    global _SOURCE_HASH
    if _SOURCE_HASH is None:
        root = Path(__file__).resolve().parents[1]
        h = hashlib.sha256()
        for sub in ("fit", "laws"):
            for p in sorted((root / sub).glob("*.py")):
                h.update(p.name.encode())
                h.update(p.read_bytes())
        for name in ("params.py", "_config.py"):
            p = root / name
            if p.exists():
                h.update(p.read_bytes())
        _SOURCE_HASH = h.hexdigest()
    return _SOURCE_HASH


def _signature(args) -> str:
    leaves, tree = jax.tree.flatten(args)
    return repr(tree) + repr([(tuple(getattr(a, "shape", ())), str(getattr(a, "dtype", type(a).__name__)))
                              for a in leaves])


def _dump(exp) -> bytes:
    return bytes(exp.serialize())  # jax's own format (needs the `flatbuffers` package)


def _load(blob: bytes):
    return jax.export.deserialize(bytearray(blob))


def call(key_parts: Any, jitted: Callable, *args):
    """``jitted(*args)``, through an exported program when the cache is enabled."""
    if _DIR is None or key_parts is None or jax.device_count() > 1:
        # an exported multi-device (sharded) program cannot be called with plain arguments
        return jitted(*args)
    key = None
    try:
        devices = f"{jax.default_backend()}x{jax.device_count()}"
        key = hashlib.sha256(
            (repr(key_parts) + _signature(args) + devices + jax.__version__ + _source_hash()).encode()
        ).hexdigest()[:40]
        fn = _LOADED.get(key)
        if fn is None:
            path = _DIR / f"scalefit-{key}.jaxexport"
            exp = None
            if path.exists():
                try:
                    exp = _load(path.read_bytes())
                except Exception:  # noqa: BLE001 - a corrupt entry is rebuilt
                    exp = None
            if exp is None:
                exp = jax.export.export(jitted)(*args)
                _DIR.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(f".tmp{os.getpid()}")
                tmp.write_bytes(_dump(exp))
                os.replace(tmp, path)
            fn = jax.jit(exp.call)
            _LOADED[key] = fn
        return fn(*args)
    except Exception:  # noqa: BLE001 - never let the cache break a fit
        if key is not None:
            _LOADED[key] = jitted  # do not retry the export in this process
        return jitted(*args)
