"""Every iterative solver of scalefit against a registry of problems with known minima.

The solvers: L-BFGS with box bounds (``fit._lbfgs.minimize``), the least-squares Newton /
Levenberg-Marquardt solver (``fit._lm.minimize_lsq``) and the damped-Newton solver of the
repeated-sampling likelihoods (``sampling._optim.damped_newton``).  Each problem states its
minimiser; a solver must stop with a success code of :mod:`scalefit._solver` and land on it.
A new solver joins by one entry in ``SOLVERS``; a new problem by one ``Problem`` in ``PROBLEMS``.

Tolerances: near a minimum x* with Hessian H, a gradient of size g leaves the iterate within
|x - x*| <= g / lambda_min(H).  Each problem gives lambda_min (``curvature``), and the test
allows ``gtol_used / curvature`` in units of the solver's own gradient tolerance, times 100
for the gradient norm being measured in infinity norm and the last step's rounding.  The stop
code must be GTOL or FTOL (RUNNING, LINESEARCH_FAILED or NONFINITE are failures).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from scalefit import _solver
from scalefit.fit import _lbfgs, _lm
from scalefit.sampling._optim import damped_newton


@dataclass(frozen=True)
class Problem:
    name: str
    residuals: Callable  # r(x) -> vector; the objective is 0.5 |r|^2
    x0: tuple[float, ...]
    x_star: tuple[float, ...]
    curvature: float  # smallest eigenvalue of the objective's Hessian at x_star (free coordinates)
    lower: tuple[float, ...] | None = None  # box bounds (None: unbounded)
    upper: tuple[float, ...] | None = None


_T = jnp.linspace(0.0, 4.0, 9)
_X = jnp.geomspace(1e6, 1e9, 10)
_ROT = jnp.array([[math.cos(0.4), -math.sin(0.4)], [math.sin(0.4), math.cos(0.4)]])


def _decay(x):  # y = exp(a) exp(-k t) + c, exact data at a = log 2, k = 0.5, c = 0.3
    y = 2.0 * jnp.exp(-0.5 * _T) + 0.3
    return jnp.exp(x[0]) * jnp.exp(-x[1] * _T) + x[2] - y


def _power_floor(x):  # log L = logaddexp(a - alpha log N, e), exact data at E = 1.5, A = 50, alpha = 0.3
    logy = jnp.log(1.5 + 50.0 * _X ** -0.3)
    return jnp.logaddexp(x[0] - x[1] * jnp.log(_X), x[2]) - logy


def _curvature(residuals, x_star) -> float:
    J = jax.jacfwd(residuals)(jnp.asarray(x_star))
    return float(np.linalg.eigvalsh(np.asarray(J.T @ J)).min())


PROBLEMS = [
    Problem("ill-conditioned quadratic (condition 1e4)",
            lambda x: jnp.array([1.0, 100.0]) * (_ROT @ (x - jnp.array([3.0, -2.0]))),
            x0=(0.0, 0.0), x_star=(3.0, -2.0), curvature=1.0),
    Problem("Rosenbrock", lambda x: jnp.array([10.0 * (x[1] - x[0] ** 2), 1.0 - x[0]]),
            x0=(-1.2, 1.0), x_star=(1.0, 1.0), curvature=_curvature(
                lambda x: jnp.array([10.0 * (x[1] - x[0] ** 2), 1.0 - x[0]]), (1.0, 1.0))),
    Problem("exponential decay with offset", _decay, x0=(0.0, 1.0, 0.0), x_star=(math.log(2.0), 0.5, 0.3),
            curvature=_curvature(_decay, (math.log(2.0), 0.5, 0.3))),
    Problem("power law with floor in log space", _power_floor, x0=(3.0, 0.2, 0.0),
            x_star=(math.log(50.0), 0.3, math.log(1.5)),
            curvature=_curvature(_power_floor, (math.log(50.0), 0.3, math.log(1.5)))),
    Problem("minimum on a bound", lambda x: jnp.array([x[0] + 1.0, x[1] - 2.0]), x0=(3.0, 0.0),
            x_star=(0.0, 2.0), curvature=1.0, lower=(0.0, -5.0), upper=(5.0, 5.0)),
]


def _bounds(p: Problem):
    n = len(p.x0)
    lo = jnp.full(n, -jnp.inf) if p.lower is None else jnp.asarray(p.lower)
    hi = jnp.full(n, jnp.inf) if p.upper is None else jnp.asarray(p.upper)
    return lo, hi


def _lbfgs_solve(p: Problem):
    lo, hi = _bounds(p)
    gtol = 1e-11

    def vg(x, args):
        return jax.value_and_grad(lambda z: 0.5 * jnp.sum(p.residuals(z) ** 2))(x)

    st = jax.jit(lambda x0: _lbfgs.minimize(vg, x0, None, lower=lo, upper=hi, max_iter=5000, gtol=gtol,
                                            ftol=0.0))(jnp.asarray(p.x0))
    return st.x, int(st.status), gtol


def _lm_solve(p: Problem):
    lo, hi = _bounds(p)
    gtol = 1e-12
    st = jax.jit(lambda x0: _lm.minimize_lsq(lambda z, a: p.residuals(z), x0, None, lower=lo, upper=hi,
                                             max_iter=500, gtol=gtol, ftol=0.0))(jnp.asarray(p.x0))
    return st.x, int(st.status), gtol


def _newton_solve(p: Problem):
    gtol = 1e-11

    def fgh(x):
        f = lambda z: 0.5 * jnp.sum(p.residuals(z) ** 2)  # noqa: E731
        return f(x), jax.grad(f)(x), jax.hessian(f)(x)

    res = jax.jit(lambda x0: damped_newton(fgh, x0, max_iter=500, gtol=gtol))(jnp.asarray(p.x0))
    return res.theta, int(res.status), gtol


#: solver name -> (solve(problem) -> (x, stop code, gradient tolerance), handles box bounds)
SOLVERS = {"lbfgs": (_lbfgs_solve, True), "newton_lsq": (_lm_solve, True), "damped_newton": (_newton_solve, False)}


@pytest.mark.parametrize("problem", PROBLEMS, ids=[p.name for p in PROBLEMS])
@pytest.mark.parametrize("solver", sorted(SOLVERS))
def test_solver_reaches_the_known_minimum(solver, problem):
    solve, bounded = SOLVERS[solver]
    if problem.lower is not None and not bounded:
        pytest.skip(f"{solver} has no general box bounds (its parameters are unconstrained by design)")
    x, status, gtol = solve(problem)
    assert status in (_solver.GTOL, _solver.FTOL), f"{solver} stopped with '{_solver.STATUS_TEXT[status]}'"
    # |x - x*| <= |g| / lambda_min, with |g| <= gtol (x100 for the infinity norm and the last step's rounding)
    tol = 100 * gtol / problem.curvature + 1e-12
    np.testing.assert_allclose(np.asarray(x), problem.x_star, atol=tol, rtol=0)


def test_every_solver_reports_the_shared_stop_codes():
    """A start where the objective is not finite stops every solver with NONFINITE, and an
    iteration limit of 1 on the Rosenbrock valley stops it with RUNNING."""
    bad = Problem("log of a negative number", lambda x: jnp.log(x - 10.0), x0=(0.0,), x_star=(11.0,), curvature=1.0)
    rosen = PROBLEMS[1]
    lo, hi = _bounds(bad)
    vg = lambda x, a: jax.value_and_grad(lambda z: 0.5 * jnp.sum(bad.residuals(z) ** 2))(x)  # noqa: E731
    assert int(_lbfgs.minimize(vg, jnp.asarray(bad.x0), None, lower=lo, upper=hi, max_iter=10).status) == _solver.NONFINITE
    assert int(_lm.minimize_lsq(lambda z, a: bad.residuals(z), jnp.asarray(bad.x0), None, lower=lo, upper=hi,
                                max_iter=10).status) == _solver.NONFINITE
    f = lambda z: 0.5 * jnp.sum(bad.residuals(z) ** 2)  # noqa: E731
    assert int(damped_newton(lambda x: (f(x), jax.grad(f)(x), jax.hessian(f)(x)), jnp.asarray(bad.x0),
                             max_iter=10).status) == _solver.NONFINITE
    g = lambda z: 0.5 * jnp.sum(rosen.residuals(z) ** 2)  # noqa: E731
    res = damped_newton(lambda x: (g(x), jax.grad(g)(x), jax.hessian(g)(x)), jnp.asarray(rosen.x0), max_iter=1)
    assert int(res.status) == _solver.RUNNING and not bool(res.converged)
