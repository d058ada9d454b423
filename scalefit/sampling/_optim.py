"""Damped Newton for the repeated-sampling likelihoods: :func:`scalefit._solver.newton_minimize`
with Levenberg damping and the exact (analytic or autodiff) Hessian the caller's ``fgh`` forms.

The likelihoods have 2-3 parameters (more for pooled fits) on an unconstrained scale and smooth
objectives, so full Newton steps converge quadratically in a handful of iterations; ``bound``
only clips parameters that run off towards a degenerate boundary.
"""

from __future__ import annotations

from typing import Callable

import jax

from .._solver import LEVENBERG, NewtonResult, newton_minimize


def damped_newton(fgh: Callable, theta0: jax.Array, args: tuple = (), *, max_iter: int = 200,
                  gtol: float = 1e-10, bound: float = 30.0) -> NewtonResult:
    """Minimise ``f`` given ``fgh(theta, *args) -> (f, grad, hess)`` from ``theta0``, parameters
    kept in ``[-bound, bound]``.  ``converged``: max|grad| <= gtol, finite objective and a
    positive-definite Hessian; ``status`` says why the loop stopped (:class:`scalefit._solver.Status`)."""
    return newton_minimize(fgh, theta0, args, rules=LEVENBERG, lower=-bound, upper=bound, max_iter=max_iter,
                           gtol=gtol)
