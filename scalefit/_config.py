"""Precision handling.

scalefit never changes JAX's process-wide settings as a side effect of a library call:
:func:`enable_x64` switches float64 on when you call it (the ``scalefit`` command line does so at
start-up), and :func:`require_x64`, called by every entry point that computes, checks the
setting and raises :class:`~scalefit.errors.PrecisionError` naming the fix.
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
    """Enable float64 in JAX, process-wide (required by every fit; docs/fitting.md#precision).

    Call it once, before the first fit and before creating JAX arrays you pass to scalefit.
    """
    jax.config.update("jax_enable_x64", True)


def x64_enabled() -> bool:
    return bool(jax.config.read("jax_enable_x64"))


def require_x64() -> None:
    """Raise :class:`~scalefit.errors.PrecisionError` unless JAX runs in float64.

    A float32 fit silently gives wrong optima (Chinchilla objective 0.5% worse, B off by 3x), so
    the entry points refuse to compute in float32; they do not switch the setting themselves,
    because it is global to the process and would change the behaviour of unrelated JAX code.
    The first call of a session also turns on the persistent compilation cache
    (:func:`use_compilation_cache`), since every fitting entry point passes through here.
    """
    if not _cache_checked:
        use_compilation_cache()
    if x64_enabled():
        return
    raise PrecisionError(
        "JAX is running in float32 and scalefit needs float64: call `scalefit.enable_x64()` once "
        "before fitting (or set JAX_ENABLE_X64=1 before importing jax); see docs/fitting.md#precision"
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
