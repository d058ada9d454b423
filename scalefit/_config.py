"""Precision handling.

scalefit never flips global JAX settings at import time behind the user's back *unless* asked:
:func:`enable_x64` turns on float64 explicitly (the CLI and ``scalefit.fit_law`` call it), and
:func:`require_x64` checks it and explains how to fix it.
"""

from __future__ import annotations

import jax

from .errors import PrecisionError


def enable_x64() -> None:
    """Enable float64 in JAX (required by every fit; docs/fitting.md#precision)."""
    jax.config.update("jax_enable_x64", True)


def x64_enabled() -> bool:
    return bool(jax.config.read("jax_enable_x64"))


def require_x64(auto: bool = True) -> None:
    """Ensure float64 is on.

    With ``auto=True`` (the default used by the fitting entry points) float64 is switched on if
    it is off, because a float32 fit silently gives wrong optima (Chinchilla objective 0.5% worse,
    B off by 3x).  With ``auto=False`` a :class:`PrecisionError` says how to fix it.
    """
    if x64_enabled():
        return
    if auto:
        enable_x64()
        return
    raise PrecisionError(
        "JAX is running in float32; scalefit fits need float64: call "
        "`scalefit.enable_x64()` or set JAX_ENABLE_X64=1 before importing jax"
    )
