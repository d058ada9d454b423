"""A small, vmap-friendly L-BFGS with projected box bounds.

Why our own: under ``vmap`` a batch of starts waits for its slowest member, and line searches
with long inner loops (optax's zoom search) make every lane pay for the worst one.  This solver
does one objective+gradient evaluation per iteration in the common case (a backtracking Armijo
search that accepts the unit L-BFGS step almost always), keeps its state in a NamedTuple, and
stops each lane independently (stopped lanes are frozen by ``lax.while_loop``'s batching rule).

Stop codes (``state.status``) are the shared ones of :mod:`scalefit._solver`.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

from .._solver import (  # noqa: F401  (re-exported)
    FTOL, GTOL, LINESEARCH_FAILED, NONFINITE, RUNNING, STATUS_TEXT, project_box, projected_grad)


class LbfgsState(NamedTuple):
    x: jax.Array
    f: jax.Array
    g: jax.Array
    d: jax.Array          # current search direction (kept while a step is being shortened)
    t: jax.Array          # current trial step length along d
    retry: jax.Array      # True while shortening the step along the same direction
    n_rej: jax.Array      # consecutive rejected trial steps
    restarted: jax.Array  # a stalled quasi-Newton direction was already restarted once
    s_hist: jax.Array
    y_hist: jax.Array
    rho_hist: jax.Array
    n_pairs: jax.Array
    head: jax.Array
    it: jax.Array
    n_fev: jax.Array
    status: jax.Array
    f0: jax.Array


def _free_subspace_pairs(x, g, lower, upper, s_hist, y_hist, rho_hist):
    """Curvature pairs restricted to the coordinates that are not pinned at a bound.

    With a bound active, pairs that mix the pinned coordinate's gradient change into the
    quasi-Newton model give poor directions on the free coordinates (thousands of iterations
    creeping along the bound).  Restricting every pair to the free subspace models the reduced
    Hessian instead; pairs whose restricted curvature is not positive are skipped.  With no
    bound active the history is returned unchanged (bit for bit)."""
    pinned = ((x <= lower) & (g > 0)) | ((x >= upper) & (g < 0))
    free = (~pinned).astype(x.dtype)
    s_m = s_hist * free[None, :]
    y_m = y_hist * free[None, :]
    sy = jnp.sum(s_m * y_m, axis=1)
    ok = sy > 1e-12 * jnp.sqrt(jnp.sum(s_m * s_m, axis=1) * jnp.sum(y_m * y_m, axis=1)) + 1e-300
    rho_m = jnp.where(ok, 1.0 / jnp.where(ok, sy, 1.0), 0.0)
    any_pinned = jnp.any(pinned)
    return (jnp.where(any_pinned, s_m, s_hist), jnp.where(any_pinned, y_m, y_hist),
            jnp.where(any_pinned, rho_m, rho_hist))


def _free_subspace_precond(x, g, lower, upper, P):
    """The initial inverse Hessian restricted to the free coordinates.

    ``P`` approximates H⁻¹ on all coordinates; the inverse of the free block of H is the
    Schur complement P_ff − P_fp P_pp⁻¹ P_pf (pinned rows and columns set to zero).  Unchanged
    when no bound is active."""
    pinned = ((x <= lower) & (g > 0)) | ((x >= upper) & (g < 0))
    n = x.shape[0]
    eye = jnp.eye(n, dtype=bool)
    pp = pinned[:, None] & pinned[None, :]
    fp = (~pinned)[:, None] & pinned[None, :]
    P_pp = jnp.where(pp, P, jnp.where(eye, 1.0, 0.0))
    P_fp = jnp.where(fp, P, 0.0)
    # elementwise product and sum rather than a matmul (see _two_loop: rounding must not depend
    # on the batch width under vmap)
    S = P - jnp.sum(P_fp[:, :, None] * jnp.linalg.solve(P_pp, P_fp.T)[None, :, :], axis=1)
    ff = (~pinned)[:, None] & (~pinned)[None, :]
    S = jnp.where(ff, S, 0.0)
    ok = jnp.all(jnp.isfinite(S))
    return jnp.where(jnp.any(pinned) & ok, S, P)


def _two_loop(g, s_hist, y_hist, rho_hist, n_pairs, newest, precond=None):
    m = s_hist.shape[0]
    q = g
    # iterate newest -> oldest
    order = (newest - jnp.arange(m)) % m
    valid = jnp.arange(m) < n_pairs

    def back(q, idx):
        i, ok = idx
        a = rho_hist[i] * jnp.dot(s_hist[i], q)
        a = jnp.where(ok, a, 0.0)
        return q - a * y_hist[i], a

    q, alphas = jax.lax.scan(back, q, (order, valid))
    y_new, s_new = y_hist[newest], s_hist[newest]
    if precond is None:
        gamma = jnp.where(n_pairs > 0, jnp.dot(s_new, y_new) / jnp.maximum(jnp.dot(y_new, y_new), 1e-300), 1.0)
        r = gamma * q
    else:  # fixed initial inverse Hessian (e.g. the exact one at a nearby point)
        # elementwise product and sum, not a matmul: under vmap a batched matrix-vector product
        # may round differently with the batch width (results must not depend on the devices).
        # Measured against `precond @ q` (2 shared cores, best of 5): bootstrap of 512 replicates
        # 0.033 s vs 0.049 s, no gain, so the device-independent form stays
        r = jnp.sum(precond * q[None, :], axis=1)

    def fwd(r, idx):
        i, ok, a = idx
        b = rho_hist[i] * jnp.dot(y_hist[i], r)
        return jnp.where(ok, r + s_hist[i] * (a - b), r), None

    r, _ = jax.lax.scan(fwd, r, (order[::-1], valid[::-1], alphas[::-1]))
    return -r


def minimize(
    value_and_grad: Callable,
    x0: jax.Array,
    args,
    *,
    lower: jax.Array,
    upper: jax.Array,
    max_iter: int,
    gtol: float = 1e-8,
    ftol: float = 1e-14,
    memory: int = 10,
    max_linesearch: int = 30,
    precond: jax.Array | None = None,
) -> LbfgsState:
    """Minimise ``f(x, args)`` from one start; ``vmap`` it over starts and/or ``args``.

    ``value_and_grad(x, args) -> (f, g)``.  Each iteration makes exactly one evaluation: a
    trial step along the L-BFGS direction is accepted if it satisfies the Armijo condition;
    otherwise the next iteration retries the same direction with a shorter (safeguarded
    quadratic-interpolation) step.  Convergence: projected-gradient infinity norm
    ``<= gtol * max(1, |f|)``, or relative decrease ``<= ftol`` on an accepted step; after
    ``max_linesearch`` consecutive rejections the solver stops with status 3 (no decrease is
    possible at machine precision along the direction).

    ``precond`` (optional, ``(n, n)``, symmetric positive definite) replaces the scaled
    identity as the initial inverse Hessian of every two-loop recursion and makes the first
    trial step a unit (Newton-like) step: with the inverse Hessian at a nearby point (bootstrap
    refits from the estimate) far fewer iterations are needed.
    """
    x0 = project_box(jnp.asarray(x0), lower, upper)
    n = x0.shape[0]
    f0, g0 = value_and_grad(x0, args)
    finite0 = jnp.isfinite(f0) & jnp.all(jnp.isfinite(g0))
    pg0 = projected_grad(x0, g0, lower, upper)
    status0 = jnp.where(finite0, RUNNING, NONFINITE)
    status0 = jnp.where(
        finite0 & (jnp.max(jnp.abs(pg0)) <= gtol * jnp.maximum(1.0, jnp.abs(f0))), GTOL, status0
    )
    zeros = jnp.zeros((), jnp.int32)
    state = LbfgsState(
        x=x0, f=f0, g=g0, d=jnp.zeros_like(x0), t=jnp.ones((), x0.dtype), retry=jnp.zeros((), bool),
        n_rej=zeros, restarted=jnp.zeros((), bool),        s_hist=jnp.zeros((memory, n), x0.dtype), y_hist=jnp.zeros((memory, n), x0.dtype),
        rho_hist=jnp.zeros((memory,), x0.dtype), n_pairs=zeros, head=zeros, it=zeros,
        n_fev=jnp.ones((), jnp.int32), status=status0, f0=f0,
    )

    def cond(st):
        return (st.status == RUNNING) & (st.it < max_iter)

    def body(st):
        # ---- direction (fresh unless we are shortening a rejected step)
        newest = (st.head - 1) % memory
        pgrad = projected_grad(st.x, st.g, lower, upper)
        s_h, y_h, rho_h = _free_subspace_pairs(st.x, st.g, lower, upper, st.s_hist, st.y_hist, st.rho_hist)
        P = None if precond is None else _free_subspace_precond(st.x, st.g, lower, upper, precond)
        d_new = _two_loop(pgrad, s_h, y_h, rho_h, st.n_pairs, newest, P)
        pinned = ((st.x <= lower) & (d_new < 0)) | ((st.x >= upper) & (d_new > 0))
        d_new = jnp.where(pinned, 0.0, d_new)
        bad_dir = ~(jnp.dot(st.g, d_new) < 0) | ~jnp.all(jnp.isfinite(d_new))
        d_new = jnp.where(bad_dir, -pgrad, d_new)
        n_pairs = jnp.where(bad_dir & ~st.retry, 0, st.n_pairs)
        first = (n_pairs == 0) if precond is None else bad_dir
        t_new = jnp.where(first, jnp.minimum(1.0, 1.0 / jnp.maximum(jnp.max(jnp.abs(d_new)), 1e-300)), 1.0)
        d = jnp.where(st.retry, st.d, d_new)
        t = jnp.where(st.retry, st.t, t_new)

        # ---- one trial evaluation
        x_try = project_box(st.x + t * d, lower, upper)
        f_try, g_try = value_and_grad(x_try, args)
        finite = jnp.isfinite(f_try) & jnp.all(jnp.isfinite(g_try))
        gdx = jnp.dot(st.g, x_try - st.x)  # Armijo on the step actually taken
        ok = finite & (gdx < 0) & (f_try <= st.f + 1e-4 * gdx)

        # ---- rejected: shorten along the same direction (safeguarded quadratic interpolation)
        slope = jnp.dot(st.g, d)
        denom = 2.0 * (f_try - st.f - slope * t)
        t_quad = jnp.where(finite & (denom > 0), -slope * t * t / denom, 0.5 * t)
        t_short = jnp.clip(t_quad, 0.1 * t, 0.5 * t)
        n_rej = jnp.where(ok, 0, st.n_rej + 1)

        # ---- accepted: update the curvature memory
        s = x_try - st.x
        y = g_try - st.g
        sy = jnp.dot(s, y)
        store = ok & (sy > 1e-12 * jnp.sqrt(jnp.dot(s, s) * jnp.dot(y, y)) + 1e-300)
        slot = jnp.where(n_pairs == 0, 0, st.head)
        s_hist = jnp.where(store, st.s_hist.at[slot].set(s), st.s_hist)
        y_hist = jnp.where(store, st.y_hist.at[slot].set(y), st.y_hist)
        rho_hist = jnp.where(store, st.rho_hist.at[slot].set(1.0 / jnp.where(store, sy, 1.0)), st.rho_hist)
        head = jnp.where(store, (slot + 1) % memory, jnp.where(n_pairs == 0, 0, st.head))
        n_pairs = jnp.where(store, jnp.minimum(n_pairs + 1, memory), n_pairs)

        x = jnp.where(ok, x_try, st.x)
        f = jnp.where(ok, f_try, st.f)
        g = jnp.where(ok, g_try, st.g)
        pg = projected_grad(x, g, lower, upper)
        gconv = jnp.max(jnp.abs(pg)) <= gtol * jnp.maximum(1.0, jnp.abs(f))
        fconv = ok & ((st.f - f) <= ftol * jnp.maximum(jnp.abs(f), 1e-300))
        stalled = (~ok) & (n_rej >= max_linesearch)
        # a stalled quasi-Newton direction gets one restart along steepest descent (memory
        # discarded); only a stall with no memory means no decrease is possible
        # (not when the predicted decrease along d is already at float64 resolution)
        meaningful = -slope > 1e-10 * jnp.maximum(1.0, jnp.abs(st.f))
        restart = stalled & (n_pairs > 0) & ~st.restarted & meaningful
        failed = stalled & ~restart
        status = jnp.where(gconv, GTOL, jnp.where(fconv, FTOL, jnp.where(failed, LINESEARCH_FAILED, RUNNING)))
        return LbfgsState(
            x=x, f=f, g=g, d=d, t=jnp.where(ok, 1.0, t_short), retry=~ok & ~restart,
            n_rej=jnp.where(restart, 0, n_rej), restarted=st.restarted | restart,
            s_hist=s_hist, y_hist=y_hist, rho_hist=rho_hist, n_pairs=jnp.where(restart, 0, n_pairs), head=head,
            it=st.it + 1, n_fev=st.n_fev + 1, status=status, f0=st.f0,
        )

    return jax.lax.while_loop(cond, body, state)


def newton_decrement(objective: Callable, x, args, lower, upper):
    """Exact Newton decrement g·H⁻¹g at ``x`` on the free subspace (coordinates pinned at a
    bound with the gradient pushing outward are excluded).  Scale-free: it is twice the
    decrease a Newton step would still achieve.  An indefinite Hessian gives ``inf``."""
    g = jax.grad(objective)(x, args)
    H = jax.hessian(objective)(x, args)
    pinned = ((x <= lower) & (g > 0)) | ((x >= upper) & (g < 0))
    free = ~pinned
    g = jnp.where(free, g, 0.0)
    mask = free[:, None] & free[None, :]
    H = jnp.where(mask, H, jnp.where(jnp.eye(x.shape[0], dtype=bool), 1.0, 0.0))
    H = 0.5 * (H + H.T)
    w, V = jnp.linalg.eigh(H)
    scale = jnp.maximum(jnp.max(jnp.abs(w)), 1e-300)
    indefinite = jnp.min(w) < -1e-8 * scale
    w_safe = jnp.maximum(w, 1e-14 * scale)
    proj = V.T @ g
    dec = jnp.sum(proj * proj / w_safe)
    return jnp.where(indefinite | ~jnp.isfinite(dec), jnp.inf, dec)
