"""Every iterative solver of scalefit against a registry of problems with known minima.

The solvers: L-BFGS with box bounds (``fit._lbfgs.minimize``) and the one damped-Newton /
Levenberg-Marquardt solver (``scalefit._solver.newton_minimize``) in each curvature mode (exact
Hessian, Gauss-Newton ``JᵀJ``, and exact-else-Gauss-Newton, the point fits' choice) under each
damping rule (``LEVENBERG``: the repeated-sampling likelihoods; ``MARQUARDT``: least squares with
box bounds).  A new solver or mode joins by one entry in ``SOLVERS``; a new problem by one
``Problem`` in ``PROBLEMS``.

Tolerances: near a minimum x* with Hessian H, a gradient of size g leaves the iterate within
|x - x*| <= g / lambda_min(H).  Each problem gives lambda_min on the coordinates it identifies
(``curvature``), and a solver that stops on its gradient test (GTOL) must land within
``gtol_used / curvature`` times 100 (the gradient norm is measured in infinity norm, plus the last
step's rounding).  A Newton solver that stops because the Newton step predicts a decrease
below ``DECREMENT_REL·max(1, f)`` (FTOL) is within the Newton decrement of the minimum:
(x - x*)ᵀH(x - x*) <= 2·DECREMENT_REL·max(1, f), so |x - x*| <= sqrt(2·DECREMENT_REL·max(1, f)
/ lambda_min) (times 10 for the quadratic model's error).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from scalefit import _roots, _solver
from scalefit._solver import (
    DECREMENT_REL,
    LEVENBERG,
    MARQUARDT,
    Status,
    exact_hessian,
    gauss_newton,
    hessian_else_gauss_newton,
    newton_minimize,
)
from scalefit.fit import _lbfgs
from scalefit.sampling._optim import damped_newton


@dataclass(frozen=True)
class Problem:
    name: str
    residuals: Callable  # r(x) -> vector; the objective is 0.5 |r|^2
    x0: tuple[float, ...]
    x_star: tuple[float, ...]
    curvature: float  # smallest eigenvalue of the objective's Hessian at x_star (identified coordinates)
    lower: tuple[float, ...] | None = None  # box bounds (None: unbounded)
    upper: tuple[float, ...] | None = None
    singular: bool = False  # the Hessian at x_star is singular (a flat direction): no "converged" verdict
    gtol: float = 1e-11


_T = jnp.linspace(0.0, 4.0, 9)
_X = jnp.geomspace(1e6, 1e9, 10)
_ROT = jnp.array([[math.cos(0.4), -math.sin(0.4)], [math.sin(0.4), math.cos(0.4)]])


def _decay(x):  # y = exp(a) exp(-k t) + c, exact data at a = log 2, k = 0.5, c = 0.3 (zero residual)
    y = 2.0 * jnp.exp(-0.5 * _T) + 0.3
    return jnp.exp(x[0]) * jnp.exp(-x[1] * _T) + x[2] - y


def _power_floor(x):  # log L = logaddexp(a - alpha log N, e), exact data at E = 1.5, A = 50, alpha = 0.3
    logy = jnp.log(1.5 + 50.0 * _X ** -0.3)
    return jnp.logaddexp(x[0] - x[1] * jnp.log(_X), x[2]) - logy


def _noisy_power(x):  # a power law fitted to data off the law: non-zero residual at the minimum
    y = 2.0 * jnp.linspace(1.0, 8.0, 8) ** -0.7 * (1.0 + 0.05 * jnp.cos(jnp.arange(8.0) * 2.1))
    return x[0] * jnp.linspace(1.0, 8.0, 8) ** -x[1] - y


def _rosenbrock(x):
    return jnp.array([10.0 * (x[1] - x[0] ** 2), 1.0 - x[0]])


def _powell_badly_scaled(x):  # Moré, Garbow & Hillstrom no. 3: zero residual, Jacobian entries up to 1e5
    return jnp.array([1e4 * x[0] * x[1] - 1.0, jnp.exp(-x[0]) + jnp.exp(-x[1]) - 1.0001])


def _hessian_min_eig(residuals, x_star) -> float:
    f = lambda z: 0.5 * jnp.sum(residuals(z) ** 2)  # noqa: E731
    return float(np.linalg.eigvalsh(np.asarray(jax.hessian(f)(jnp.asarray(x_star)))).min())


def _newton_root(residuals, x) -> tuple[float, ...]:
    """The zero of a square residual system by plain Newton on r (quadratic convergence; 50
    steps from a point already near the root leave it at rounding)."""
    x = jnp.asarray(x)
    for _ in range(50):
        x = x - jnp.linalg.solve(jax.jacfwd(residuals)(x), residuals(x))
    return tuple(float(v) for v in x)


def _lsq_min(residuals, x) -> tuple[float, ...]:
    """A non-zero-residual least-squares minimum by plain Newton on the gradient (50 steps from
    a nearby point: quadratic convergence leaves it at rounding)."""
    f = lambda z: 0.5 * jnp.sum(residuals(z) ** 2)  # noqa: E731
    x = jnp.asarray(x)
    for _ in range(50):
        x = x - jnp.linalg.solve(jax.hessian(f)(x), jax.grad(f)(x))
    return tuple(float(v) for v in x)


_POWELL_STAR = _newton_root(_powell_badly_scaled, (1.098e-5, 9.106))
_NOISY_STAR = _lsq_min(_noisy_power, (2.0, 0.7))

PROBLEMS = [
    Problem("ill-conditioned quadratic (condition 1e4)",
            lambda x: jnp.array([1.0, 100.0]) * (_ROT @ (x - jnp.array([3.0, -2.0]))),
            x0=(0.0, 0.0), x_star=(3.0, -2.0), curvature=1.0),
    Problem("Rosenbrock", _rosenbrock, x0=(-1.2, 1.0), x_star=(1.0, 1.0),
            curvature=_hessian_min_eig(_rosenbrock, (1.0, 1.0))),
    Problem("zero-residual least squares: exponential decay with offset", _decay, x0=(0.0, 1.0, 0.0),
            x_star=(math.log(2.0), 0.5, 0.3), curvature=_hessian_min_eig(_decay, (math.log(2.0), 0.5, 0.3))),
    Problem("power law with floor in log space", _power_floor, x0=(3.0, 0.2, 0.0),
            x_star=(math.log(50.0), 0.3, math.log(1.5)),
            curvature=_hessian_min_eig(_power_floor, (math.log(50.0), 0.3, math.log(1.5)))),
    Problem("non-zero-residual least squares: power law off its data", _noisy_power, x0=(1.0, 0.3),
            x_star=_NOISY_STAR, curvature=_hessian_min_eig(_noisy_power, _NOISY_STAR)),
    # the second coordinate does not enter the objective: its gradient and curvature are exactly 0,
    # so every solver leaves it at its start and no Newton verdict may call the point converged
    Problem("flat direction (an unidentified parameter)", lambda x: jnp.array([jnp.exp(x[0]) - 2.0]),
            x0=(1.5, 0.25), x_star=(math.log(2.0), 0.25), curvature=4.0, singular=True),
    # gradient rounding: residual rounding 1e-16 times Jacobian entries up to 1e4 * x1 = 9.1e4 gives
    # gradients of ~1e-11 at the root, so the gradient test uses 1e-9 (100x above that floor)
    Problem("poorly scaled (Powell's badly scaled function)", _powell_badly_scaled, x0=(0.0, 1.0),
            x_star=_POWELL_STAR, curvature=_hessian_min_eig(_powell_badly_scaled, _POWELL_STAR), gtol=1e-9),
    Problem("minimum on a bound", lambda x: jnp.array([x[0] + 1.0, x[1] - 2.0]), x0=(3.0, 0.0),
            x_star=(0.0, 2.0), curvature=1.0, lower=(0.0, -5.0), upper=(5.0, 5.0)),
]


def _bounds(p: Problem):
    n = len(p.x0)
    lo = jnp.full(n, -jnp.inf) if p.lower is None else jnp.asarray(p.lower)
    hi = jnp.full(n, jnp.inf) if p.upper is None else jnp.asarray(p.upper)
    return lo, hi


def _objective(p: Problem):
    return lambda z, *a: 0.5 * jnp.sum(p.residuals(z) ** 2)


def _lbfgs_solve(p: Problem, max_iter=5000):
    lo, hi = _bounds(p)
    vg = lambda x, a: jax.value_and_grad(_objective(p))(x)  # noqa: E731
    st = jax.jit(lambda x0: _lbfgs.minimize(vg, x0, None, lower=lo, upper=hi, max_iter=max_iter, gtol=p.gtol,
                                            ftol=0.0))(jnp.asarray(p.x0))
    return st.x, int(st.status), None


def _newton(curvature: str, rules):
    def solve(p: Problem, max_iter=500):
        lo, hi = _bounds(p)
        r = lambda z, *a: p.residuals(z)  # noqa: E731
        fgh = {"exact": lambda: exact_hessian(_objective(p)), "gauss-newton": lambda: gauss_newton(r),
               "exact-else-gauss-newton": lambda: hessian_else_gauss_newton(r)}[curvature]()
        res = jax.jit(lambda x0: newton_minimize(fgh, x0, rules=rules, lower=lo, upper=hi, max_iter=max_iter,
                                                 gtol=p.gtol))(jnp.asarray(p.x0))
        return res.x, int(res.status), bool(res.converged)

    return solve


#: solver name -> (solve(problem) -> (x, stop code, converged verdict or None), handles box bounds)
SOLVERS = {
    "lbfgs": (_lbfgs_solve, True),
    "newton exact levenberg": (_newton("exact", LEVENBERG), False),
    "newton gauss-newton levenberg": (_newton("gauss-newton", LEVENBERG), False),
    "newton exact marquardt": (_newton("exact", MARQUARDT), True),
    "newton gauss-newton marquardt": (_newton("gauss-newton", MARQUARDT), True),
    "newton exact-else-gauss-newton marquardt": (_newton("exact-else-gauss-newton", MARQUARDT), True),
}


def _tolerance(p: Problem, status: int, f_star: float) -> float:
    if status == Status.FTOL:  # the Newton decrement bound of the module docstring
        return 10 * math.sqrt(2 * DECREMENT_REL * max(1.0, f_star) / p.curvature)
    return 100 * p.gtol / p.curvature + 1e-12


@pytest.mark.parametrize("problem", PROBLEMS, ids=[p.name for p in PROBLEMS])
@pytest.mark.parametrize("solver", list(SOLVERS))
def test_solver_reaches_the_known_minimum(solver, problem):
    solve, bounded = SOLVERS[solver]
    if problem.lower is not None and not bounded:
        pytest.skip(f"{solver}: bounds only clip (see test_levenberg_guard_bound_settles_without_a_verdict)")
    x, status, converged = solve(problem)
    assert status in (Status.GTOL, Status.FTOL), f"{solver} stopped with '{_solver.STATUS_TEXT[status]}'"
    f_star = float(_objective(problem)(jnp.asarray(problem.x_star)))
    np.testing.assert_allclose(np.asarray(x), problem.x_star, atol=_tolerance(problem, status, f_star), rtol=0)
    if converged is not None and (status == Status.GTOL or problem.singular):
        # Newton's verdict (gradient test and a positive-definite curvature); after an FTOL stop
        # the callers judge with the Newton decrement, so only the singular case is fixed there
        assert converged == (not problem.singular)


@pytest.mark.parametrize("curvature", ["exact", "gauss-newton"])
def test_levenberg_guard_bound_settles_without_a_verdict(curvature):
    """LEVENBERG's bounds only guard against overflow: a minimum beyond them (the objective keeps
    decreasing towards a degenerate boundary) leaves the iterate at the bound, stopped because no
    step moves it (LINESEARCH_FAILED), and not converged (the gradient is not small there)."""
    p = Problem("minimum beyond the guard bound", lambda x: jnp.array([x[0] - 50.0, x[1] + 1.0]), x0=(0.0, 0.0),
                x_star=(30.0, -1.0), curvature=1.0, lower=(-30.0, -30.0), upper=(30.0, 30.0))
    x, status, converged = _newton(curvature, LEVENBERG)(p)
    assert status == Status.LINESEARCH_FAILED and not converged
    np.testing.assert_array_equal(np.asarray(x)[0], 30.0)  # clipped exactly onto the bound
    # the free coordinate still approaches its minimum, until its share of f, 0.5 (x1 + 1)^2, is
    # below the resolution of f = 200 + ...: progress is accepted while it lowers f beyond 1e-13
    # relative, so |x1 + 1| <= sqrt(2 * 1e-13 * (1 + 200))
    assert abs(float(x[1]) + 1.0) <= math.sqrt(2e-13 * 201)


@pytest.mark.parametrize("solver", list(SOLVERS))
def test_iteration_limit_and_nonfinite_start_give_the_shared_codes(solver):
    """A start where the objective is not finite stops every solver with NONFINITE; one
    iteration on the Rosenbrock valley (minimum far from the start) stops it with RUNNING."""
    solve = SOLVERS[solver][0]
    bad = Problem("log of a negative number", lambda x: jnp.log(x - 10.0), x0=(0.0,), x_star=(11.0,), curvature=1.0)
    assert solve(bad, max_iter=10)[1] == Status.NONFINITE
    x, status, converged = solve(PROBLEMS[1], max_iter=1)
    assert status == Status.RUNNING and converged in (None, False)


def test_gauss_newton_converges_quadratically_at_a_zero_residual_minimum():
    """At a zero-residual minimum JᵀJ is the Hessian, so Gauss-Newton steps converge
    quadratically like exact Newton steps: from 1e-2 away (error e -> C e^2, C of order one here)
    the gradient test is met within a handful of steps; a linear rate would need dozens."""
    p = next(q for q in PROBLEMS if q.name.startswith("zero-residual"))
    x0 = jnp.asarray(p.x_star) + jnp.array([1e-2, -1e-2, 1e-2])
    for fgh in (exact_hessian(_objective(p)), gauss_newton(lambda z: p.residuals(z))):
        for rules in (LEVENBERG, MARQUARDT):
            res = jax.jit(lambda x, fgh=fgh, rules=rules: newton_minimize(fgh, x, rules=rules, max_iter=500,
                                                                          gtol=p.gtol))(x0)
            assert int(res.status) in (Status.GTOL, Status.FTOL) and int(res.it) <= 8, (rules, int(res.it))


def test_vmapped_solver_matches_single_solves():
    """The fits vmap the solver over starts and replicates: each lane of a batch stops on its own
    and lands where it lands alone (same stop code; same point within the problem tolerance,
    since a batched compile may round differently)."""
    p = PROBLEMS[1]
    starts = jnp.array([[-1.2, 1.0], [0.5, 0.5], [2.0, 3.0], [1.0, 1.0]])
    fgh = exact_hessian(_objective(p))
    batch = jax.jit(jax.vmap(lambda x0: damped_newton(fgh, x0, max_iter=500, gtol=p.gtol)))(starts)
    for i, x0 in enumerate(starts):
        one = damped_newton(fgh, x0, max_iter=500, gtol=p.gtol)
        assert int(batch.status[i]) == int(one.status) == Status.GTOL
        assert int(batch.it[i]) == int(one.it)
        np.testing.assert_allclose(np.asarray(batch.x[i]), np.asarray(one.x), atol=_tolerance(p, Status.GTOL, 0.0))
    assert int(batch.it[3]) == 0  # a start at the minimum stops at once, while its batch mates run on


def test_the_one_root_finder_brackets_known_roots():
    """``_roots.bisect`` (NumPy) and ``bisect_jax`` (vmapped here, as the posterior budgets use it)
    halve a bracket around a monotone crossing: after k halvings of [lo, hi] the bracket is
    (hi - lo) / 2^k wide and holds the root (checked against the closed-form roots of x^3 = c)."""
    c = np.array([0.001, 0.5, 8.0, 1e3])
    lo, hi = _roots.bisect(lambda x: x ** 3 < c, np.zeros(4), np.full(4, 20.0), iters=200, xtol=1e-12)
    assert np.all((lo <= np.cbrt(c)) & (np.cbrt(c) <= hi)) and np.max(hi - lo) < 1e-12
    lo_j, hi_j = jax.jit(jax.vmap(lambda t: _roots.bisect_jax(lambda x: x ** 3 < t, 0.0, 20.0, iters=40)))(
        jnp.asarray(c))
    width = 20.0 / 2 ** 40
    np.testing.assert_allclose(np.asarray(hi_j - lo_j), width, rtol=1e-12)
    assert np.all((np.asarray(lo_j) <= np.cbrt(c)) & (np.cbrt(c) <= np.asarray(hi_j)))


def test_value_and_forward_derivatives_from_one_trace_equal_jacfwd():
    """value_and_jacfwd / value_jacfwd_hessfwd (one trace of fn under nested forward mode) give
    fn, jacfwd(fn) and jacfwd(jacfwd(fn)) for a vector-valued fn with two output axes: the same
    derivative rules on the same operations, so they agree to rounding; XLA may fuse or contract
    the two programs differently on another CPU, hence a few ulps (1e-13 of the largest entry)
    rather than bit equality."""
    import jax
    import jax.numpy as jnp

    from scalefit._solver import value_and_jacfwd, value_jacfwd_hessfwd

    def fn(t):
        u = jnp.linspace(-2.0, 2.0, 3)[:, None] * jnp.array([1.0, -0.5])
        return jnp.log1p(jnp.exp(t[0] * u + t[1])) * jnp.cos(t[2] * u)  # (3, 2)

    x = jnp.array([0.7, -1.3, 0.4])
    v, J, H = jax.jit(lambda z: value_jacfwd_hessfwd(fn, z))(x)
    assert v.shape == (3, 2) and J.shape == (3, 2, 3) and H.shape == (3, 2, 3, 3)
    def close(a, b):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-13 * float(np.max(np.abs(b))))

    close(v, jax.jit(fn)(x))
    close(J, jax.jit(jax.jacfwd(fn))(x))
    close(H, jax.jit(jax.jacfwd(jax.jacfwd(fn)))(x))
    v1, J1 = value_and_jacfwd(fn, x)
    close(J1, jax.jacfwd(fn)(x))
    close(v1, fn(x))
