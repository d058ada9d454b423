"""Nonparametric bootstrap of point fits (docs/uncertainty.md) as one vmapped computation.

Each replicate is a vector of resampling *counts* used as row weights in the same summed
objective, so that all replicates share one compiled program: ``vmap`` over weight vectors,
chunked with ``lax.map`` and sharded across devices.  Case resampling draws rows with
replacement; cluster resampling draws whole runs (every checkpoint of a drawn run enters with
the run's count), which is what checkpoint data needs.  Each replicate is refitted from a fixed
start (the point estimate by default, as in Besiroglu et al.) and its convergence is checked.
Derived quantities (allocation exponent, N_opt, D_opt, L*) and predictions are computed per
replicate, never from interval endpoints.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from .._config import require_x64
from .._result import LEVEL
from ..errors import ArgumentError, ConvergenceError
from .._names import renamed_args
from . import _lbfgs
from ._devices import device_count, device_map
from ._progress import progress_bar
from .replicates import BootstrapResult, evaluate_draws
from .objective import assemble_theta, make_objective
from .point import active_bounds, prediction_jacobian, stationary, subgradient_verdict

_RUNNERS: dict[tuple, Any] = {}

#: default largest fraction of replicates that may be dropped (not converged) before
#: :func:`bootstrap` refuses to return intervals: beyond it the kept replicates describe a
#: selected sub-population of resamples, not the sampling distribution of the estimator
MAX_DROPPED = 0.05


def resample_weights(n_rows: int, n_replicates: int, *, seed: int, clusters: np.ndarray | None = None,
                     fixed: np.ndarray | None = None) -> np.ndarray:
    """Count weights (R, n_rows): multinomial over rows, or over clusters mapped to their rows.

    ``fixed`` (boolean, n_rows) marks rows that are not resampled: they enter every replicate
    with weight 1 (an anchor point, a known limit) and the other rows are resampled among
    themselves."""
    rng = np.random.default_rng(seed)
    fixed = np.zeros(n_rows, bool) if fixed is None else np.asarray(fixed, dtype=bool)
    rest = np.flatnonzero(~fixed)
    W = np.ones((n_replicates, n_rows))
    if clusters is None:
        m = len(rest)
        W[:, rest] = rng.multinomial(m, np.full(m, 1.0 / m), size=n_replicates)
        return W
    codes, uniques = pd.factorize(pd.Series(np.asarray(clusters)[rest]), sort=False)
    k = len(uniques)
    counts = rng.multinomial(k, np.full(k, 1.0 / k), size=n_replicates).astype(np.float64)
    W[:, rest] = counts[:, codes]
    return W


def _runner(fit, max_iter, gtol, ftol, chunk, precondition=True):
    key = (id(fit.law), fit.free, tuple(fit.fixed), tuple(sorted(fit.tied.items())), fit.loss, fit.delta,
           fit.asymmetry, max_iter, gtol, ftol, chunk, bool(precondition), device_count())
    if key not in _RUNNERS:
        tied = tuple(sorted(fit.tied.items()))
        objective = make_objective(fit.law, free=fit.free, fixed=tuple(fit.fixed), tied=tied, loss=fit.loss,
                                   delta=fit.delta, asymmetry=fit.asymmetry)
        vg = jax.value_and_grad(objective)
        names = fit.law.param_names

        def one(w, data, x0, lower, upper, precond):
            d = {**data, "w": w}
            st = _lbfgs.minimize(vg, x0, d, lower=lower, upper=upper, max_iter=max_iter, gtol=gtol, ftol=ftol,
                                 precond=precond if precondition else None)
            dec = _lbfgs.newton_decrement(objective, st.x, d, lower, upper)
            theta = assemble_theta(st.x, data["fixed"], names=names, free=fit.free, fixed=tuple(fit.fixed),
                                   tied=tied)
            return jnp.stack([theta[n] for n in names]), st.f, st.status, dec

        def run(W, data, x0, lower, upper, precond):
            return device_map(lambda w, *rep: one(w, *rep), W, data, x0, lower, upper, precond, batch_size=chunk)

        def inverse_hessian(data, x0, lower, upper):
            # inverse Hessian of the full-data objective at the start: every replicate's
            # L-BFGS starts from it instead of a scaled identity (replicates' optima lie near
            # the estimate, so most converge in a fraction of the iterations)
            H = jax.hessian(objective)(x0, {**data, "w": jnp.ones_like(data["y"])})
            H = 0.5 * (H + H.T)
            lam, V = jnp.linalg.eigh(H)
            top = jnp.max(jnp.abs(lam))
            lam = jnp.maximum(jnp.abs(lam), 1e-8 * top)
            P = (V / lam) @ V.T
            ok = jnp.all(jnp.isfinite(P)) & (top > 0)
            return jnp.where(ok, P, jnp.eye(x0.shape[0]))

        _RUNNERS[key] = (fit.law, jax.jit(run), jax.jit(inverse_hessian))
    return _RUNNERS[key][1], _RUNNERS[key][2]


@renamed_args(n_replicates="num_bootstrap")
def bootstrap(
    fit,
    num_bootstrap: int = 1000,
    *,
    cluster: str | None = None,
    seed: int = 0,
    level: float = LEVEL,
    start: str | np.ndarray = "estimate",
    max_iter: int = 2000,
    gtol: float = 1e-10,
    ftol: float = 1e-15,
    chunk_size: int = 64,
    block_size: int = 256,
    progress: bool | None = None,
    precondition: bool = True,
    fixed_rows=None,
    weights: np.ndarray | None = None,
    max_dropped: float = MAX_DROPPED,
):
    """Bootstrap a point fit; returns a new :class:`FitResult` carrying ``.bootstrap``.

    Parameters
    ----------
    fit : FitResult
    num_bootstrap : int
        Number of replicates (>= 1,000 recommended; Besiroglu et al. used 4,000).  The older
        keyword ``n_replicates`` still works (deprecated).
    cluster : str, optional
        Column defining clusters (e.g. ``"run"``) for cluster resampling: whole runs are drawn,
        so correlated checkpoints of one run move together (docs/uncertainty.md).
    seed : int
        Seed of the resampling (numpy ``default_rng``); results are reproducible.
    level : float
        Interval level for ``table()`` and for ``predict()``'s ``lower``/``upper`` columns.
    start : "estimate" or array
        Fixed start of every replicate: the point estimate, or free-parameter values.
    block_size : int
        Replicates per compiled call; the progress bar advances per block.
    precondition : bool
        Start every replicate's L-BFGS with the inverse Hessian of the full-data objective at
        the start (default) instead of a scaled identity: the same optima in fewer iterations.
    fixed_rows : boolean array or column name, optional
        Rows that are not resampled but enter every replicate with weight 1 (an anchor point
        such as loss 0 -> accuracy 1); the remaining rows (or runs) are resampled among
        themselves.
    weights : array (R, n_rows), optional
        Explicit replicate weights instead of drawing them (e.g. run counts shared by the two
        steps of a chained fit, for a paired bootstrap); ``num_bootstrap`` is then ``R``.
    max_dropped : float
        Largest fraction of replicates that may fail to converge (default 0.05).  A replicate
        converges when the optimality conditions hold at its end point, including estimates on
        a parameter bound with the gradient pointing outward (counted in ``on_bound``).  When
        more are dropped a :class:`~scalefit.errors.ConvergenceError` names the reasons, since
        the kept replicates would describe a selected subset of resamples (docs/uncertainty.md).

    Examples
    --------
    >>> # res = scalefit.bootstrap(scalefit.fit_law(frame, "chinchilla"), 1000, seed=0)
    >>> # res.bootstrap.table(res.law, res.params); res.predict(N=7e10, D=1.4e12)
    """
    require_x64()
    from .result import FitResult

    n_replicates = num_bootstrap
    if not isinstance(fit, FitResult):
        raise ArgumentError(f"`fit` must be a FitResult, got {type(fit).__name__}")
    if not 0 <= float(max_dropped) < 1:
        raise ArgumentError(f"`max_dropped` = {max_dropped!r} must lie in [0, 1)")
    if weights is not None:
        W = np.asarray(weights, dtype=np.float64)
        if W.ndim != 2 or W.shape[1] != len(fit.frame) or W.shape[0] < 2 or not np.all(np.isfinite(W)) \
                or np.any(W < 0):
            raise ArgumentError(f"`weights` must be an (R >= 2, {len(fit.frame)}) array of finite non-negative "
                                f"numbers, got shape {W.shape}")
        n_replicates = W.shape[0]
    if not isinstance(n_replicates, (int, np.integer)) or n_replicates < 2:
        raise ArgumentError(f"`num_bootstrap` = {n_replicates!r} must be an integer >= 2")
    if not 0 < level < 1:
        raise ArgumentError(f"`level` = {level!r} must lie strictly between 0 and 1")
    frame = fit.frame
    if cluster is not None:
        if cluster not in frame.columns:
            raise ArgumentError(
                f"`cluster` column `{cluster}` is not in the fitted data (columns: {', '.join(map(str, frame.columns))})"
            )
        clusters = frame[cluster].to_numpy()
        if pd.Series(clusters).nunique() < 2:
            raise ArgumentError(f"`cluster` column `{cluster}` has fewer than 2 distinct values")
    else:
        clusters = None
    fixed_mask = _fixed_mask(frame, fixed_rows)
    if weights is None:
        W = resample_weights(len(frame), int(n_replicates), seed=int(seed), clusters=clusters, fixed=fixed_mask)
    elif fixed_mask.any() and not np.all(W[:, fixed_mask] == 1.0):
        raise ArgumentError("`weights` must give every row of `fixed_rows` weight 1 in every replicate")

    law = fit.law
    if isinstance(start, str):
        if start != "estimate":
            raise ArgumentError(f"`start` = {start!r} must be 'estimate' or an array of free-parameter values")
        x0 = np.array([fit.params[n] for n in fit.free])
        start_label = "estimate"
    else:
        x0 = np.asarray(start, dtype=np.float64).ravel()
        if x0.shape != (len(fit.free),):
            raise ArgumentError(f"`start` must hold {len(fit.free)} values for {list(fit.free)}")
        start_label = "user"
    X = {n: jnp.asarray(frame[fit.inputs[n]].to_numpy(np.float64)) for n in law.inputs}
    y = frame[fit.target].to_numpy(np.float64)
    data = {"X": X, "y": jnp.asarray(np.log(y) if law.target == "log" else y), "w": None,
            "fixed": jnp.asarray([fit.fixed[n] for n in fit.fixed], dtype=jnp.float64)}
    data.pop("w")
    lower, upper = law.params.bounds(fit.free)
    run, inverse_hessian = _runner(fit, int(max_iter), float(gtol), float(ftol), int(chunk_size), precondition)
    if precondition:
        precond = inverse_hessian(data, jnp.asarray(x0), jnp.asarray(lower), jnp.asarray(upper))
    else:
        precond = jnp.eye(len(x0))  # unused

    R = W.shape[0]
    block = int(min(block_size, R))
    outs = []
    with progress_bar(total=R, desc=f"bootstrap {law.name}", enabled=progress) as bar:
        for s in range(0, R, block):
            Wb = W[s:s + block]
            n_real = Wb.shape[0]
            if n_real < block:  # pad the last block so every call reuses one compiled program
                Wb = np.vstack([Wb, np.repeat(Wb[-1:], block - n_real, axis=0)])
            res = run(jnp.asarray(Wb), data, jnp.asarray(x0), jnp.asarray(lower), jnp.asarray(upper), precond)
            outs.append(tuple(np.asarray(a)[:n_real] for a in res))
            bar.update(n_real)
    draws = np.concatenate([o[0] for o in outs])
    fval = np.concatenate([o[1] for o in outs])
    status = np.concatenate([o[2] for o in outs])
    dec = np.concatenate([o[3] for o in outs])
    kink_ok = _absolute_loss_verdicts(fit, draws, W, data, lower, upper) if fit.loss == "absolute" else None
    converged, dropped = replicate_verdicts(status, fval, dec, draws, kink_ok=kink_ok)
    free_idx = [law.param_names.index(n) for n in fit.free]
    on_bound: dict[str, int] = {}
    for row in draws[converged]:
        for n in active_bounds(row[free_idx], lower, upper, fit.free):
            on_bound[n] = on_bound.get(n, 0) + 1
    boot = BootstrapResult(
        names=law.param_names, draws=draws, objective=fval * fit.delta**2, converged=converged,
        method="cluster" if cluster else "case", cluster=cluster, seed=int(seed), level=float(level),
        start=start_label if weights is None else "given weights", dropped=dropped, on_bound=on_bound,
        fixed_rows=tuple(int(i) for i in np.flatnonzero(fixed_mask)),
    )
    n_bad = R - int(converged.sum())
    if n_bad > float(max_dropped) * R:
        raise ConvergenceError(
            f"bootstrap of `{law.name}`: {boot.describe()}, more than max_dropped={max_dropped:g} of {R}; "
            "intervals from the kept replicates would be biased (try fixed_rows for anchor points, "
            "other parameter bounds, or raise `max_dropped` knowingly)")
    warns = list(fit.warnings)
    if n_bad:
        warns.append(f"bootstrap: {boot.describe()}; dropped replicates are excluded from intervals")
    md = dict(fit.metadata)
    md["bootstrap"] = {"n_replicates": R, "n_converged": int(converged.sum()), "method": boot.method,
                       "cluster": cluster, "seed": int(seed), "start": boot.start, "dropped": dict(dropped),
                       "on_bound": dict(on_bound), "fixed_rows": list(boot.fixed_rows)}
    return replace(fit, bootstrap=boot, warnings=tuple(warns), metadata=md)


def _fixed_mask(frame: pd.DataFrame, fixed_rows) -> np.ndarray:
    if fixed_rows is None:
        return np.zeros(len(frame), bool)
    if isinstance(fixed_rows, str):
        if fixed_rows not in frame.columns:
            raise ArgumentError(f"`fixed_rows` column `{fixed_rows}` is not in the fitted data")
        mask = frame[fixed_rows].to_numpy()
    else:
        mask = np.asarray(fixed_rows)
    if mask.shape != (len(frame),) or mask.dtype != bool:
        raise ArgumentError(f"`fixed_rows` must be {len(frame)} booleans (one per fitted row)")
    if mask.all():
        raise ArgumentError("`fixed_rows` marks every row; nothing is left to resample")
    return mask


def _absolute_loss_verdicts(fit, draws, W, data, lower, upper) -> np.ndarray:
    """Subgradient verdict (:func:`scalefit.fit.point.subgradient_verdict`) for every replicate
    of an absolute-loss fit, whose kinked optimum the smooth tests cannot judge."""
    law = fit.law
    free_idx = [law.param_names.index(n) for n in fit.free]
    jac = prediction_jacobian(law, fit.free, tuple(fit.fixed), tuple(sorted(fit.tied.items())))
    with np.errstate(all="ignore"):
        pred = evaluate_draws(law, law.param_names, draws, data["X"])
        pred = np.log(pred) if law.target == "log" else pred
    y = np.asarray(data["y"])
    ok = np.zeros(len(draws), bool)
    for i, row in enumerate(draws):
        x = row[free_idx]
        if np.all(np.isfinite(x)) and np.all(np.isfinite(pred[i])):
            J = jac(jnp.asarray(x), data["X"], data["fixed"])
            ok[i] = subgradient_verdict(J, pred[i] - y, y, W[i], x, lower, upper)[0]
    return ok


def replicate_verdicts(status, f, decrement, draws, kink_ok=None) -> tuple[np.ndarray, dict[str, int]]:
    """Convergence of each replicate refit and the reasons for the ones that fail.

    A refit converges when its projected gradient or relative decrease met the tolerance, or
    when the optimality conditions hold at its end point (:func:`scalefit.fit.point.stationary`;
    this covers estimates on a bound).  For the absolute loss, ``kink_ok`` (the subgradient
    verdict per replicate) replaces both.  Returns the boolean mask and ``reason -> count``."""
    status, f, decrement = np.asarray(status), np.asarray(f), np.asarray(decrement)
    finite = np.isfinite(f) & np.all(np.isfinite(draws), axis=1)
    ok = finite & ((status == _lbfgs.GTOL) | (status == _lbfgs.FTOL) | stationary(decrement, f))
    reasons = np.where(~finite, "non-finite objective",
              np.where(~np.isfinite(decrement), "indefinite Hessian (saddle or flat direction)",
              np.where(status == _lbfgs.RUNNING, "iteration limit away from an optimum",
                       "line search stopped away from an optimum")))
    if kink_ok is not None:
        ok = ok | (finite & np.asarray(kink_ok, bool))
    dropped: dict[str, int] = {}
    for r in reasons[~ok]:
        dropped[str(r)] = dropped.get(str(r), 0) + 1
    return ok, dropped


def allocation_intervals(fit, C, level: float | None = None) -> pd.DataFrame:
    """Per-replicate allocation exponent, N_opt(C), D_opt(C), L*(C) with percentile intervals."""
    from ..allocation import allocation_constants, allocation_coordinates, compute_optimal

    if fit.bootstrap is None:
        raise ArgumentError("`fit` has no bootstrap; call scalefit.bootstrap(fit) first")
    allocation_coordinates(fit)  # one-line error for a law without a frontier

    def per_draw(theta):
        theta = allocation_coordinates(fit, theta)
        k = allocation_constants(theta)
        out = {"allocation_a": k["a"], "allocation_b": k["b"]}
        row = compute_optimal(theta, C).iloc[0]
        out.update({"N_opt": row.N_opt, "D_opt": row.D_opt, "tokens_per_param": row.tokens_per_param,
                    "loss": row.loss})
        return out

    return fit.bootstrap.derived(per_draw, level).assign(C=float(C))
