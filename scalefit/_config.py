"""Precision handling.

scalefit never changes JAX's process-wide settings as a side effect of a library call:
:func:`enable_x64` switches float64 on when you call it (the ``scalefit`` command line does so at
start-up), and :func:`require_x64`, called by every entry point that computes, checks the
setting and raises :class:`~scalefit.errors.PrecisionError` naming the fix.
"""

from __future__ import annotations

import jax

from .errors import PrecisionError


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
    """
    if x64_enabled():
        return
    raise PrecisionError(
        "JAX is running in float32 and scalefit needs float64: call `scalefit.enable_x64()` once "
        "before fitting (or set JAX_ENABLE_X64=1 before importing jax); see docs/fitting.md#precision"
    )
