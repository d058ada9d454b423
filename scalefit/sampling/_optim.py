"""A small damped-Newton (Levenberg-Marquardt) minimiser in pure JAX.

The repeated-sampling likelihoods have 2-3 parameters, exact (analytic or autodiff) Hessians
and smooth objectives on an unconstrained scale, so full Newton steps with Levenberg damping
converge quadratically and in a handful of iterations.  The loop is a ``lax.while_loop`` with
one objective/gradient/Hessian evaluation per iteration, so it composes with ``vmap`` (a batch
of problems simply runs until its slowest member stops) and ``jit``.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

from .._solver import GTOL, LINESEARCH_FAILED, NONFINITE, RUNNING


class NewtonState(NamedTuple):
    theta: jax.Array
    f: jax.Array
    g: jax.Array
    H: jax.Array
    lam: jax.Array
    it: jax.Array
    done: jax.Array


class NewtonResult(NamedTuple):
    theta: jax.Array
    f: jax.Array
    grad: jax.Array
    hess: jax.Array
    iterations: jax.Array
    converged: jax.Array
    grad_norm: jax.Array
    status: jax.Array  # stop code of :mod:`scalefit._solver`


def damped_newton(
    fgh: Callable,
    theta0: jax.Array,
    args: tuple = (),
    *,
    max_iter: int = 200,
    gtol: float = 1e-10,
    bound: float = 30.0,
) -> NewtonResult:
    """Minimise ``f`` given ``fgh(theta, *args) -> (f, grad, hess)`` from ``theta0``.

    Steps solve (H + lam I) d = -g; a trial point is accepted when it lowers f (or, within
    rounding of f, lowers the gradient norm), after which lam shrinks; otherwise lam grows.
    Parameters are kept in [-bound, bound].  Converged means max|grad| <= gtol with a finite
    objective and a positive-definite Hessian.  ``status`` says why the loop stopped (the codes
    of :mod:`scalefit._solver`: gradient below ``gtol``, no decreasing step left, non-finite
    objective, or the iteration limit).  ``fgh`` appears once in the compiled loop (the
    start point is simply the first trial), which halves compile time.
    """
    theta0 = jnp.clip(jnp.asarray(theta0, dtype=float), -bound, bound)
    p = theta0.shape[0]
    eye = jnp.eye(p)

    def gnorm(g):
        return jnp.max(jnp.abs(g))

    def cond(s):
        return (~s.done) & (s.it < max_iter + 1)

    def body(s):
        # s.theta etc. hold the current accepted point; s.trial the point to evaluate.
        trial, state = s
        f_new, g_new, H_new = fgh(trial, *args)
        finite = jnp.isfinite(f_new) & jnp.isfinite(g_new).all() & jnp.isfinite(H_new).all()
        tol_f = 1e-13 * (1.0 + jnp.abs(state.f))
        better = (f_new < state.f) | ((f_new <= state.f + tol_f) & (gnorm(g_new) < gnorm(state.g)))
        accept = finite & (better | (state.it == 0))
        theta = jnp.where(accept, trial, state.theta)
        f = jnp.where(accept, f_new, state.f)
        g = jnp.where(accept, g_new, state.g)
        H = jnp.where(accept, H_new, state.H)
        lam = jnp.where(accept, jnp.maximum(state.lam * 0.25, 1e-12), state.lam * 8.0)
        small_step = jnp.max(jnp.abs(trial - state.theta)) <= 1e-15 * (
            1.0 + jnp.max(jnp.abs(state.theta))
        )
        done = (
            (accept & (gnorm(g) <= gtol))
            | (lam > 1e16)
            | (accept & small_step & (state.it > 0))
            | ((state.it == 0) & ~finite)
        )
        d = jnp.linalg.solve(H + lam * eye, -g)
        descent = jnp.isfinite(d).all() & (jnp.dot(d, g) < 0)
        d = jnp.where(descent, d, -g / (1.0 + lam))
        new_trial = jnp.clip(theta + d, -bound, bound)
        return _Loop(new_trial, NewtonState(theta, f, g, H, lam, state.it + 1, done))

    inf = jnp.asarray(jnp.inf)
    init_state = NewtonState(
        theta0, inf, jnp.full((p,), inf), eye, jnp.asarray(1e-3), jnp.asarray(0), jnp.asarray(False)
    )
    out = jax.lax.while_loop(lambda s: cond(s.state), body, _Loop(theta0, init_state))
    s = out.state
    pd = jnp.all(jnp.linalg.eigvalsh(0.5 * (s.H + s.H.T)) > 0)
    gn = gnorm(s.g)
    converged = (gn <= gtol) & jnp.isfinite(s.f) & pd
    finite = jnp.isfinite(s.f) & jnp.isfinite(s.g).all()
    status = jnp.where(~finite, NONFINITE,
                       jnp.where(gn <= gtol, GTOL, jnp.where(s.done, LINESEARCH_FAILED, RUNNING)))
    # iterations counts Newton steps taken after the start point was evaluated
    return NewtonResult(s.theta, s.f, s.g, s.H, s.it - 1, converged, gn, status)


class _Loop(NamedTuple):
    trial: jax.Array
    state: NewtonState
