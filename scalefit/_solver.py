"""scalefit's one damped-Newton / Levenberg-Marquardt solver and the stop codes of every solver.

Stop codes
----------
Every minimiser (L-BFGS with box bounds in :mod:`scalefit.fit._lbfgs` and the Newton solver
below, whatever its curvature and damping) reports why it stopped with one :class:`Status`:

  0 ``RUNNING``            stopped at the iteration limit
  1 ``GTOL``               (projected) gradient below tolerance
  2 ``FTOL``               relative decrease (or predicted Newton decrease) below tolerance
  3 ``LINESEARCH_FAILED``  no trial step decreases the objective at machine precision
  4 ``NONFINITE``          objective, gradient or Hessian not finite at the start

A stop code is not a verdict: callers judge convergence with their own stationarity test (the
Newton decrement, or the subgradient condition for non-smooth losses).

The Newton solver
-----------------
:func:`newton_minimize` minimises ``f`` from ``fgh(x, *args) -> (f, gradient, curvature)`` by
damped Newton steps ``(C + λ·D) δ = −g``, one evaluation per iteration, in a
``lax.while_loop`` (so it composes with ``jit`` and ``vmap``: a batch of problems runs until its
slowest member stops, stopped lanes are frozen).  Two choices are the caller's:

* how the curvature ``C`` is formed: :func:`exact_hessian` (autodiff Hessian of an objective; the
  likelihood fits pass their own analytic ``fgh``), :func:`gauss_newton` (``JᵀJ`` of a
  residual vector), or :func:`hessian_else_gauss_newton` (exact where positive definite,
  ``JᵀJ`` elsewhere: quadratic convergence on curves whose residuals do not vanish);
* the damping and step rules, a :class:`Rules`: :data:`LEVENBERG` (``D = I``; the
  repeated-sampling likelihoods on an unconstrained scale, bounds only guard against overflow)
  or :data:`MARQUARDT` (``D = diag|C|``, projected Newton on box bounds; least-squares fits).

A trial point that decreases ``f`` is accepted and ``λ`` shrinks; otherwise ``λ`` grows and the
step is re-solved from the same point.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp


class Status(enum.IntEnum):
    """Why an iterative solver stopped (the integer is what the compiled loops carry)."""

    RUNNING = 0
    GTOL = 1
    FTOL = 2
    LINESEARCH_FAILED = 3
    NONFINITE = 4


RUNNING, GTOL, FTOL, LINESEARCH_FAILED, NONFINITE = (
    Status.RUNNING, Status.GTOL, Status.FTOL, Status.LINESEARCH_FAILED, Status.NONFINITE)

STATUS_TEXT = {
    RUNNING: "reached the iteration limit",
    GTOL: "projected gradient below tolerance",
    FTOL: "relative decrease below tolerance",
    LINESEARCH_FAILED: "line search could not decrease the objective",
    NONFINITE: "objective or gradient is not finite",
}


# --------------------------------------------------------------------------- box bounds
def project_box(x, lower, upper):
    return jnp.clip(x, lower, upper)


def projected_grad(x, g, lower, upper):
    """The gradient with coordinates at a bound and pushing outward set to zero."""
    at_lo = (x <= lower) & (g > 0)
    at_hi = (x >= upper) & (g < 0)
    return jnp.where(at_lo | at_hi, 0.0, g)


# --------------------------------------------------------------------------- small linear algebra
def solve_small(G, r):
    """Solve G c = r for m <= 3 unknowns by the adjugate (closed form): under vmap over
    thousands of tiny systems this is several times faster than a batched LU on CPU."""
    m = G.shape[0]
    if m == 1:
        return r / G[0, 0]
    if m == 2:
        det = G[0, 0] * G[1, 1] - G[0, 1] * G[1, 0]
        return jnp.stack([G[1, 1] * r[0] - G[0, 1] * r[1], G[0, 0] * r[1] - G[1, 0] * r[0]]) / det
    if m == 3:
        a, b, c = G[0, 0], G[0, 1], G[0, 2]
        d, e, f = G[1, 0], G[1, 1], G[1, 2]
        g, h, i = G[2, 0], G[2, 1], G[2, 2]
        A, B, C = e * i - f * h, -(d * i - f * g), d * h - e * g
        det = a * A + b * B + c * C
        return jnp.stack([
            A * r[0] - (b * i - c * h) * r[1] + (b * f - c * e) * r[2],
            B * r[0] + (a * i - c * g) * r[1] - (a * f - c * d) * r[2],
            C * r[0] - (a * h - b * g) * r[1] + (a * e - b * d) * r[2],
        ]) / det
    return jnp.linalg.solve(G, r)


def positive_definite(H):
    """Whether symmetric ``H`` is positive definite (Sylvester's criterion in closed form for
    n <= 3: batched Cholesky calls are slow on CPU)."""
    n = H.shape[0]
    if n <= 3:
        m1 = H[0, 0]
        if n == 1:
            return m1 > 0
        m2 = H[0, 0] * H[1, 1] - H[0, 1] * H[1, 0]
        if n == 2:
            return (m1 > 0) & (m2 > 0)
        det3 = (H[0, 0] * (H[1, 1] * H[2, 2] - H[1, 2] * H[2, 1])
                - H[0, 1] * (H[1, 0] * H[2, 2] - H[1, 2] * H[2, 0])
                + H[0, 2] * (H[1, 0] * H[2, 1] - H[1, 1] * H[2, 0]))
        return (m1 > 0) & (m2 > 0) & (det3 > 0)
    return jnp.all(jnp.isfinite(jnp.linalg.cholesky(H)))


def _outer_sum(J):
    # JᵀJ elementwise: a batched matmul rounds differently with the batch width, which would make
    # results depend on the number of devices.  Measured against `J.T @ J` (2 shared cores, best
    # of 5): fit_batch of 256 power-law curves 4.48 s vs 4.33 s, within noise
    return jnp.sum(J[:, :, None] * J[:, None, :], axis=0)


# --------------------------------------------------------------------------- curvature
def exact_hessian(objective: Callable) -> Callable:
    """``fgh`` for :func:`newton_minimize` from a scalar ``objective(x, *args)``: its value,
    gradient and exact (autodiff) Hessian."""

    def fgh(x, *args):
        f, g = jax.value_and_grad(objective)(x, *args)
        return f, g, jax.hessian(objective)(x, *args)

    return fgh


def gauss_newton(residuals: Callable) -> Callable:
    """``fgh`` for ``f = ½‖residuals(x, *args)‖²`` with the Gauss-Newton curvature ``JᵀJ``
    (positive semi-definite everywhere; exact at a zero-residual minimum)."""

    def fgh(x, *args):
        r = residuals(x, *args)
        J = jax.jacfwd(lambda z: residuals(z, *args))(x)
        return 0.5 * jnp.dot(r, r), jnp.dot(r, J), _outer_sum(J)

    return fgh


def hessian_else_gauss_newton(residuals: Callable) -> Callable:
    """``fgh`` for ``f = ½‖residuals(x, *args)‖²`` with the exact Hessian ``JᵀJ + Σ rᵢ∇²rᵢ``
    where it is positive definite (Newton steps converge quadratically even when the residuals
    do not vanish, where Gauss-Newton's ``JᵀJ`` converges only linearly: ~50 iterations on noisy
    learning curves) and ``JᵀJ`` elsewhere.  One forward-over-reverse evaluation gives the
    gradient and Hessian together (the parameters are few)."""

    def fgh(x, *args):
        def f_of(z):
            r = residuals(z, *args)
            return 0.5 * jnp.dot(r, r)

        grad = jax.grad(f_of)
        H, g = jax.jacfwd(lambda z: (grad(z), grad(z)), has_aux=True)(x)
        H = 0.5 * (H + H.T)
        J = jax.jacfwd(lambda z: residuals(z, *args))(x)
        return f_of(x), g, jnp.where(positive_definite(H), H, _outer_sum(J))

    return fgh


def value_and_jacfwd(fn: Callable, x):
    """``(fn(x), J)`` with J the forward-mode Jacobian in x (trailing axis), from one trace of
    ``fn``."""
    J, v = jax.jacfwd(lambda z: (fn(z),) * 2, has_aux=True)(x)
    return v, J


def value_jacfwd_hessfwd(fn: Callable, x):
    """``(fn(x), J, H)``: the value with its first and second forward-mode derivatives in x
    (trailing axes (P,) and (P, P)) from one trace of ``fn`` under nested forward mode.  Tracing
    a large ``fn`` once instead of three times (value, ``jacfwd``, ``jacfwd(jacfwd)``) is most of
    the tracing time of the likelihood fits; the compiled computation is the same."""

    def with_jac(z):
        v, J = value_and_jacfwd(fn, z)
        return J, (v, J)

    H, (v, J) = jax.jacfwd(with_jac, has_aux=True)(x)
    return v, J, H


# --------------------------------------------------------------------------- damping and step rules
@dataclass(frozen=True)
class Rules:
    """How :func:`newton_minimize` damps, accepts and stops (static: part of the compiled loop).

    ``marquardt``: damping ``D = diag|C|`` (scale-invariant; the gradient fallback is
    ``−g/D``) instead of ``D = I`` (fallback ``−g/(1+λ)``).  ``λ`` starts at ``lam0``, becomes
    ``max(λ·shrink, lam_min)`` after an accepted trial and ``max(λ·grow, lam_reject_floor)``
    after a rejected one.  ``accept_flat``: a trial that leaves ``f`` unchanged within
    1e-13 relative but lowers the gradient norm is accepted (likelihoods at their optimum, where
    ``f`` no longer resolves progress).  ``active_bounds``: coordinates at a bound with the
    gradient pushing outward are held (projected Newton, projected gradient in the stopping
    test); otherwise bounds only clip trial points.  ``relative_gtol``: the gradient test is
    ``≤ gtol·max(1, |f|)`` instead of ``≤ gtol``.  Stalling (status ``LINESEARCH_FAILED``):
    ``λ > lam_max``, ``max_reject`` consecutive rejections, or an accepted step below
    ``min_step`` relative.  ``settle_decrement``: a nearly undamped (``λ`` at its rejection floor)
    Newton step predicting a decrease below this fraction of ``max(1, |f|)`` stops with ``FTOL``.
    ``small_solve``: closed-form solves for up to 3 parameters (:func:`solve_small`).
    ``start_outside``: evaluate the start before the loop and let each iteration step, then
    evaluate; otherwise the start is the loop's first trial and each iteration evaluates, then
    steps (``fgh`` is compiled once: half the compile time).  The two layouts do the same
    arithmetic, but XLA fuses them differently, so results can differ in the last bits; each
    preset keeps the layout its fits' reference numbers were recorded with.
    """

    marquardt: bool
    lam0: float
    shrink: float
    grow: float
    lam_min: float
    lam_reject_floor: float = 0.0
    lam_max: float = math.inf
    max_reject: int | None = None
    accept_flat: bool = False
    active_bounds: bool = False
    relative_gtol: bool = False
    min_step: float | None = None
    settle_decrement: float | None = None
    small_solve: bool = False
    start_outside: bool = False


#: Levenberg damping for smooth likelihoods with exact Hessians on an unconstrained scale
LEVENBERG = Rules(marquardt=False, lam0=1e-3 * 0.25, shrink=0.25, grow=8.0, lam_min=1e-12, lam_max=1e16,
                  accept_flat=True, min_step=1e-15)

#: stop when the Newton step predicts a decrease below this fraction of max(1, |f|)
DECREMENT_REL = 1e-13

#: Marquardt damping and projected Newton on box bounds for least-squares fits
MARQUARDT = Rules(marquardt=True, lam0=1e-3, shrink=0.1, grow=10.0, lam_min=1e-15, lam_reject_floor=1e-6,
                  max_reject=20, active_bounds=True, relative_gtol=True, settle_decrement=DECREMENT_REL,
                  small_solve=True, start_outside=True)


# --------------------------------------------------------------------------- the solver
class NewtonResult(NamedTuple):
    """Final state of :func:`newton_minimize`.  ``x, f, g, it, status`` are named as in the
    L-BFGS state, so either solver can polish a multi-start fit."""

    x: jax.Array
    f: jax.Array
    g: jax.Array
    H: jax.Array          # curvature at x (as formed by fgh)
    it: jax.Array         # Newton steps tried after the start was evaluated
    status: jax.Array     # a Status
    converged: jax.Array  # gradient test passed, f finite and H positive definite
    grad_norm: jax.Array  # max |g| (projected when the bounds are active)

    @property
    def theta(self):  # the name the likelihood fits use for the parameters
        return self.x

    @property
    def iterations(self):
        return self.it


class _Loop(NamedTuple):
    trial: jax.Array      # point to evaluate next
    x: jax.Array          # accepted point, its f, g and curvature
    f: jax.Array
    g: jax.Array
    H: jax.Array
    lam: jax.Array
    n_rej: jax.Array
    it: jax.Array         # evaluations so far (the start included)
    settled: jax.Array    # the step to `trial` predicted no resolvable decrease
    status: jax.Array


def newton_minimize(
    fgh: Callable,
    x0: jax.Array,
    args: tuple = (),
    *,
    rules: Rules,
    lower=-jnp.inf,
    upper=jnp.inf,
    max_iter: int = 200,
    gtol: float = 1e-10,
    ftol: float = 0.0,
) -> NewtonResult:
    """Minimise ``f`` given ``fgh(x, *args) -> (f, gradient, curvature)`` from ``x0`` (clipped
    into ``[lower, upper]``); ``vmap`` it over starts, groups or replicates.

    Stops with ``GTOL`` when the gradient is below ``gtol`` (see :class:`Rules`), ``FTOL`` when an
    accepted step decreases ``f`` by at most ``ftol`` relative (or the settled-decrement rule
    fires), ``LINESEARCH_FAILED`` when stalled, ``NONFINITE`` when the start is not finite and
    ``RUNNING`` after ``max_iter`` steps.  The start is evaluated as the loop's first trial, so
    ``fgh`` appears once in the compiled loop.
    """
    R = rules
    x0 = project_box(jnp.asarray(x0, dtype=float), lower, upper)
    n = x0.shape[0]
    eye = jnp.eye(n, dtype=x0.dtype)

    def gnorm(x, g):
        return jnp.max(jnp.abs(projected_grad(x, g, lower, upper) if R.active_bounds else g))

    def gtest(x, f, g):
        scale = jnp.maximum(1.0, jnp.abs(f)) if R.relative_gtol else 1.0
        return jnp.isfinite(f) & (gnorm(x, g) <= gtol * scale)

    def evaluate(s: _Loop) -> _Loop:
        """Evaluate the trial point, accept or reject it, update λ and the stop code."""
        f_t, g_t, H_t = fgh(s.trial, *args)
        finite = jnp.isfinite(f_t) & jnp.all(jnp.isfinite(g_t)) & jnp.all(jnp.isfinite(H_t))
        better = f_t < s.f
        if R.accept_flat:
            tol_f = 1e-13 * (1.0 + jnp.abs(s.f))
            better = better | ((f_t <= s.f + tol_f) & (gnorm(s.trial, g_t) < gnorm(s.x, s.g)))
        first = s.it == 0
        ok = finite & (better | first)
        x = jnp.where(ok, s.trial, s.x)
        f = jnp.where(ok, f_t, s.f)
        g = jnp.where(ok, g_t, s.g)
        H = jnp.where(ok, H_t, s.H)
        lam = jnp.where(first, s.lam, jnp.where(ok, jnp.maximum(s.lam * R.shrink, R.lam_min),
                                                 jnp.maximum(s.lam * R.grow, R.lam_reject_floor)))
        n_rej = jnp.where(ok, 0, s.n_rej + 1)

        stalled = lam > R.lam_max
        if R.max_reject is not None:
            stalled = stalled | ((~ok) & (n_rej >= R.max_reject))
        if R.min_step is not None:
            small = jnp.max(jnp.abs(s.trial - s.x)) <= R.min_step * (1.0 + jnp.max(jnp.abs(s.x)))
            stalled = stalled | (ok & small & ~first)
        fconv = s.settled
        if ftol > 0:
            fconv = fconv | (ok & ((s.f - f) <= ftol * jnp.maximum(jnp.abs(f), 1e-300)))
        status = jnp.where(first & ~finite, NONFINITE,
                           jnp.where(gtest(x, f, g), GTOL,
                                     jnp.where(fconv, FTOL, jnp.where(stalled, LINESEARCH_FAILED, RUNNING))))
        status = status.astype(s.status.dtype)
        return s._replace(x=x, f=f, g=g, H=H, lam=lam, n_rej=n_rej, it=s.it + 1, status=status)

    def advance(s: _Loop) -> _Loop:
        """The next trial point: a damped Newton step from the accepted point."""
        x, g, H, lam, f = s.x, s.g, s.H, s.lam, s.f
        if R.active_bounds:
            pinned = ((x <= lower) & (g > 0)) | ((x >= upper) & (g < 0))
            free = ~pinned
            gf = jnp.where(free, g, 0.0)
        else:
            gf = g
        if R.marquardt:
            dH = jnp.abs(jnp.diag(H))
            D = jnp.maximum(dH, 1e-12 * jnp.max(dH) + 1e-300)
            A = H + lam * D * eye
            fallback = -gf / D
        else:
            A = H + lam * eye
            fallback = -gf / (1.0 + lam)
        if R.active_bounds:
            A = jnp.where(free[:, None] & free[None, :], A, eye)
        step = solve_small(A, -gf) if R.small_solve else jnp.linalg.solve(A, -gf)
        descent = jnp.all(jnp.isfinite(step)) & (jnp.dot(step, gf) < 0)
        step = jnp.where(descent, step, fallback)
        settled = jnp.zeros((), bool)
        if R.settle_decrement is not None:
            # the nearly undamped Newton model predicts no resolvable decrease: a stationary point
            # (after a rejection lam returns to its floor, but shrinking it step by step lands a
            # rounding above: compare with a margin)
            settled = descent & (lam <= R.lam_reject_floor * (1 + 1e-9)) & (
                -0.5 * jnp.dot(step, gf) <= R.settle_decrement * jnp.maximum(1.0, jnp.abs(f)))
        trial = project_box(x + step, lower, upper)
        return s._replace(trial=trial, settled=settled)

    inf = jnp.asarray(jnp.inf, x0.dtype)
    zero = jnp.zeros((), jnp.int32)
    code = jnp.asarray(int(RUNNING), jax.dtypes.canonicalize_dtype(jnp.int64))
    init = _Loop(x0, x0, inf, jnp.full((n,), inf), eye, jnp.asarray(R.lam0, x0.dtype), zero, zero,
                 jnp.zeros((), bool), code)

    def running(s):
        return (s.status == RUNNING) & (s.it < max_iter + 1)

    if R.start_outside:
        s = jax.lax.while_loop(running, lambda s: evaluate(advance(s)), evaluate(init))
    else:
        s = jax.lax.while_loop(running, lambda s: advance(evaluate(s)), init)
    pd = jnp.all(jnp.linalg.eigvalsh(0.5 * (s.H + s.H.T)) > 0)
    converged = gtest(s.x, s.f, s.g) & pd
    return NewtonResult(s.x, s.f, s.g, s.H, s.it - 1, s.status, converged, gnorm(s.x, s.g))
