"""The one root finder of scalefit: bisection of a monotone function's crossing.

Budgets (the N at which a rate is reached), inputs for a target loss and every other inversion
of a monotone curve bracket the crossing and halve the bracket.  ``below(x)`` says, elementwise,
whether the crossing lies above ``x``; each halving keeps the half that holds it.
:func:`bisect` runs in NumPy (any ``below``, early stop on a bracket width), :func:`bisect_jax`
in a ``lax.fori_loop`` (``below`` in JAX; composes with ``jit`` and ``vmap``).  Both return the
final bracket ``(lo, hi)``: the caller picks the end or the midpoint it reports.
"""

from __future__ import annotations

from typing import Callable

import numpy as np


def _halve(below: Callable, lo, hi, where):
    mid = 0.5 * (lo + hi)
    b = below(mid)
    return where(b, mid, lo), where(b, hi, mid)


def bisect(below: Callable, lo, hi, *, iters: int, xtol: float | None = None):
    """At most ``iters`` halvings of ``[lo, hi]`` (arrays or scalars), stopping early once every
    bracket is narrower than ``xtol``.

    >>> lo, hi = bisect(lambda x: x ** 2 < 2.0, 0.0, 2.0, iters=60)
    >>> round(float(hi), 12)
    1.414213562373
    """
    for _ in range(iters):
        lo, hi = _halve(below, lo, hi, np.where)
        if xtol is not None and np.max(hi - lo) < xtol:
            break
    return lo, hi


def bisect_jax(below: Callable, lo, hi, *, iters: int):
    """``iters`` halvings of ``[lo, hi]`` in a ``lax.fori_loop`` (``below`` written in JAX)."""
    import jax
    import jax.numpy as jnp

    return jax.lax.fori_loop(0, iters, lambda _, b: _halve(below, b[0], b[1], jnp.where), (lo, hi))
