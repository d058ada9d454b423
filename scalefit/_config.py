"""Precision handling.

scalefit never flips global JAX settings at import time behind the user's back *unless* asked:
:func:`enable_x64` turns on float64 explicitly (the CLI and ``scalefit.fit_law`` call it), and
:func:`require_x64` checks it and explains how to fix it.
"""

from __future__ import annotations

import os
from pathlib import Path

import jax

from .errors import PrecisionError

#: environment variable naming the compilation-cache folder; ``off`` (or an empty value) opts out
CACHE_ENV = "SCALEFIT_CACHE_DIR"
_cache_checked = False


def enable_x64() -> None:
    """Enable float64 in JAX (required by every fit; METHODS.md §0.1)."""
    jax.config.update("jax_enable_x64", True)


def x64_enabled() -> bool:
    return bool(jax.config.read("jax_enable_x64"))


def require_x64(auto: bool = True) -> None:
    """Ensure float64 is on.

    With ``auto=True`` (the default used by the fitting entry points) float64 is switched on if
    it is off, because a float32 fit silently gives wrong optima (Chinchilla objective 0.5% worse,
    B off by 3x).  With ``auto=False`` a :class:`PrecisionError` says how to fix it.
    """
    if not _cache_checked:
        use_compilation_cache()
    if x64_enabled():
        return
    if auto:
        enable_x64()
        return
    raise PrecisionError(
        "JAX is running in float32; scalefit fits need float64: call "
        "`scalefit.enable_x64()` or set JAX_ENABLE_X64=1 before importing jax"
    )


def cache_dir() -> Path | None:
    """The folder of scalefit's persistent compilation cache (``None`` when opted out).

    ``$SCALEFIT_CACHE_DIR`` when set (``off`` or an empty value switches the cache off), else
    ``~/.cache/scalefit/jax``.  The CLI and the Python API share it."""
    value = os.environ.get(CACHE_ENV)
    if value is not None:
        return None if value.strip().lower() in ("", "off", "0", "false", "no") else Path(value)
    return Path.home() / ".cache" / "scalefit" / "jax"


def use_compilation_cache() -> Path | None:
    """Keep compiled programs on disk, so a fresh interpreter does not recompile scalefit's solvers.

    Called by the CLI and by the first fit of a Python session.  A cache folder the user has
    already given JAX (``jax_compilation_cache_dir``) is left as it is; ``SCALEFIT_CACHE_DIR=off``
    opts out.  A folder that cannot be created (read-only home) silently leaves caching off.
    Returns the folder in use, or ``None``."""
    global _cache_checked
    _cache_checked = True
    current = jax.config.jax_compilation_cache_dir
    if current:
        return Path(current)
    folder = cache_dir()
    if folder is None:
        return None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        jax.config.update("jax_compilation_cache_dir", str(folder))
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    except Exception:  # noqa: BLE001 - caching is an optimisation; it must never break a fit
        return None
    return folder
