"""Point fits: multi-start L-BFGS over a law's start grid as one jitted, vmapped computation.

Pipeline (DESIGN.md §5): every start runs ``screen_iters`` L-BFGS iterations (vmapped, in
cache-sized chunks); the ``n_polish`` best are then polished to tight tolerance; the best
polished start is the estimate.  A convergence check follows every fit and is reported in the
result (``converged``, ``status``, ``warnings``).
"""

from __future__ import annotations

import math
import platform
from dataclasses import dataclass, replace
from typing import Any, Mapping, NamedTuple, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from .._config import require_x64
from .._solver import MARQUARDT, hessian_else_gauss_newton, newton_minimize
from ..errors import ArgumentError
from ..laws import ScalingLaw, get_law
from ..laws._base import builtin_law_key
from . import _export, _lbfgs
from ._devices import device_count, device_map
from ._varpro import varpro_profile
from .objective import assemble_theta, check_loss, make_objective
from .result import UNIDENTIFIED, FitResult

_SOLVERS: dict[tuple, Any] = {}
_VARPRO: dict[int, Any] = {}
_JACOBIANS: dict[tuple, Any] = {}

#: a start that stops because no decrease is resolvable counts as converged when the
#: quasi-Newton decrement g·H⁻¹g (twice the predicted further decrease) is below this
#: fraction of max(1, |f|): parameters are then within ~sqrt(1e-9) of the optimum in the
#: objective's own metric.
DECREMENT_TOL = 1e-9

#: a combination of free parameters counts as not identified by the data when the smallest
#: singular value of the column-normalised Jacobian of the predictions is below this fraction
#: of the largest: sqrt(float64 eps), beyond which J^T J (the curvature a least-squares fit
#: sees) has lost every significant digit in that direction.  The same fraction decides when a
#: parameter's whole column is negligible (the parameter does not change the predictions).
RANK_TOL = float(np.sqrt(np.finfo(np.float64).eps))


#: inputs that a single-variable law's ``x`` may bind to, in order of preference
_X_CANDIDATES = ("x", "N", "D", "C", "step")


# --------------------------------------------------------------------------- binding
def bind_inputs(frame: pd.DataFrame, law: ScalingLaw, inputs: Mapping[str, str] | None) -> dict[str, str]:
    """Map each law input to a column of ``frame`` (explicit mapping first, then same name)."""
    inputs = dict(inputs or {})
    unknown = sorted(set(inputs) - set(law.inputs))
    if unknown:
        raise ArgumentError(
            f"law `{law.name}` has inputs {list(law.inputs)}; `inputs` names unknown {unknown}"
        )
    out = {}
    for name in law.inputs:
        if name in inputs:
            col = inputs[name]
            if col not in frame.columns:
                raise ArgumentError(
                    f"input `{name}` is bound to column `{col}`, which is not in the data "
                    f"(columns: {', '.join(map(str, frame.columns))})"
                )
            out[name] = col
        elif name in frame.columns:
            out[name] = name
        elif name == "x":
            present = [c for c in _X_CANDIDATES[1:] if c in frame.columns]
            if len(present) == 1:
                out[name] = present[0]
            else:
                raise ArgumentError(
                    f"law `{law.name}` needs its input `x` bound to a column: pass inputs={{'x': ...}} "
                    f"(candidates present: {present or list(frame.columns)})"
                )
        else:
            raise ArgumentError(
                f"law `{law.name}` needs input `{name}`, not found in the data "
                f"(columns: {', '.join(map(str, frame.columns))}); map it with inputs={{'{name}': ...}}"
            )
    return out


def validate_frame(frame, law, bound, target, n_free, source):
    from ..io import validate_curves

    validate_curves(
        frame,
        inputs=[bound[n] for n in law.inputs],
        target=target,
        log_target=law.target == "log",
        log_inputs=law.positive_inputs,
        num_params=n_free,
        law=law.name,
        source=source,
    )


def resolve_constraints(law, fixed, tied):
    names = law.param_names
    fixed = {k: float(v) for k, v in (fixed or {}).items()}
    tied = dict(tied or {})
    for k in list(fixed) + list(tied):
        if k not in names:
            raise ArgumentError(f"unknown parameter `{k}` for law `{law.name}`; parameters: {list(names)}")
    both = sorted(set(fixed) & set(tied))
    if both:
        raise ArgumentError(f"parameters {both} are both fixed and tied")
    for k, v in fixed.items():
        if not math.isfinite(v):
            raise ArgumentError(f"fixed value of `{k}` = {v} is not finite")
    for k, t in tied.items():
        if t not in names:
            raise ArgumentError(f"`tied` maps `{k}` to unknown parameter `{t}`")
        if t in tied:
            raise ArgumentError(f"`tied` chains `{k}` -> `{t}` -> `{tied[t]}`; tie to a free or fixed parameter")
        if t == k:
            raise ArgumentError(f"`tied` ties `{k}` to itself")
    free = tuple(n for n in names if n not in fixed and n not in tied)
    if not free:
        raise ArgumentError("every parameter is fixed or tied; nothing to fit")
    return free, fixed, tied


def start_matrix(law, starts, X_np, y_np, free) -> tuple[np.ndarray, list[str]]:
    names = law.param_names
    if starts is None:
        grid = law.start_grid(X_np, y_np)
        origin = "grid"
    elif isinstance(starts, Mapping):
        import itertools

        missing = [n for n in free if n not in starts]
        extra = sorted(set(starts) - set(names))
        if extra:
            raise ArgumentError(f"`starts` names unknown parameters {extra}")
        if missing:
            default = law.start_grid(X_np, y_np)
            base = {n: np.unique(default[:, names.index(n)]) for n in missing}
        else:
            base = {}
        axes = [np.atleast_1d(np.asarray(starts[n] if n in starts else base[n], dtype=np.float64)) for n in names if n in free]
        grid_free = np.array(list(itertools.product(*axes)), dtype=np.float64).reshape(-1, len(free))
        return grid_free, ["user"] * len(grid_free)
    else:
        grid = np.atleast_2d(np.asarray(starts, dtype=np.float64))
        origin = "user"
        if grid.shape[1] not in (len(names), len(free)):
            raise ArgumentError(
                f"`starts` has {grid.shape[1]} columns; expected {len(names)} (all parameters {list(names)}) "
                f"or {len(free)} (free parameters {list(free)})"
            )
        if grid.shape[1] == len(free) and len(free) != len(names):
            return grid, [origin] * len(grid)
    cols = [names.index(n) for n in free]
    sub = grid[:, cols]
    # fixed/tied coordinates removed: drop duplicate rows that result
    _, first = np.unique(sub, axis=0, return_index=True)
    sub = sub[np.sort(first)]
    if not np.all(np.isfinite(sub)):
        raise ArgumentError("`starts` contains non-finite values")
    return sub, [origin] * len(sub)


# --------------------------------------------------------------------------- solver
def _build_run(law, free, fixed_names, tied_items, loss, delta, asymmetry, n_screen, n_polish,
               screen_iters, max_iter, gtol, ftol, chunk, shard=True, polish="lbfgs"):
    objective = make_objective(law, free=free, fixed=fixed_names, tied=tied_items, loss=loss,
                               delta=delta, asymmetry=asymmetry)
    vg = jax.value_and_grad(objective)
    if polish == "lm":
        from .objective import make_residuals

        residuals = make_residuals(law, free=free, fixed=fixed_names, tied=tied_items, delta=delta)
        fgh = hessian_else_gauss_newton(residuals)

    def run(x0s, data, lower, upper):
        def stage(x0, iters):
            return _lbfgs.minimize(vg, x0, data, lower=lower, upper=upper, max_iter=iters,
                                   gtol=gtol, ftol=ftol)

        def polish_stage(x0):
            if polish == "lm":
                return newton_minimize(fgh, x0, (data,), rules=MARQUARDT, lower=lower, upper=upper,
                                       max_iter=max_iter, gtol=gtol, ftol=ftol)
            return stage(x0, max_iter)

        if n_screen > n_polish and screen_iters == 0:
            # rank the starts by their objective only (cheap; for Levenberg-Marquardt polishing)
            x0p = jnp.clip(x0s, lower, upper)
            f1 = jax.vmap(lambda x: objective(x, data))(x0p)
            f1 = jnp.where(jnp.isfinite(f1), f1, jnp.inf)
            _, top = jax.lax.top_k(-f1, n_polish)
            x_polish0 = x0p[top]
            zeros = jnp.zeros(x0s.shape[0], jnp.int32)
            s1_out = (x0p, f1, zeros, zeros)
        elif n_screen > n_polish:
            if shard:
                s1 = device_map(lambda x0: stage(x0, screen_iters), x0s, batch_size=chunk)
            else:
                s1 = jax.lax.map(lambda x0: stage(x0, screen_iters), x0s, batch_size=chunk)
            f1 = jnp.where(jnp.isfinite(s1.f), s1.f, jnp.inf)
            _, top = jax.lax.top_k(-f1, n_polish)
            x_polish0 = s1.x[top]
            s1_out = (s1.x, s1.f, s1.it, s1.status)
        else:
            top = jnp.arange(n_screen)
            x_polish0 = x0s
            s1_out = None
        s2 = jax.vmap(polish_stage)(x_polish0)
        pg = jax.vmap(_lbfgs.projected_grad, in_axes=(0, 0, None, None))(s2.x, s2.g, lower, upper)
        dec = jax.vmap(lambda x: _lbfgs.newton_decrement(objective, x, data, lower, upper))(s2.x)
        f0_full = jax.vmap(lambda x: objective(x, data))(x0s[top])
        return s1_out, top, (s2.x, s2.f, s2.it, s2.status, jnp.max(jnp.abs(pg), axis=-1), f0_full, dec)

    return run


def _varpro_start(law, free, X, y_t, w):
    vp = law.varpro
    if vp is None or not set(vp.linear + vp.nonlinear) <= set(free) or law.target != "log":
        return None
    if id(law) not in _VARPRO:
        _VARPRO[id(law)] = (law, jax.jit(lambda X, y, w: varpro_profile(vp, X, y, w)))
    lk = builtin_law_key(law)
    nl, coef, rss = _export.call(None if lk is None else ("varpro", lk), _VARPRO[id(law)][1], X, jnp.exp(y_t), w)
    if not np.isfinite(float(rss)):
        return None
    y_nat = np.exp(np.asarray(y_t))
    floor = 1e-3 * float(np.min(y_nat))
    theta = {}
    for n, c in zip(vp.linear, np.asarray(coef)):
        theta[n] = math.log(max(float(c), floor))
    for n, v in zip(vp.nonlinear, np.asarray(nl)):
        theta[n] = float(v)
    return np.array([theta[n] for n in free])


def stationary(decrement, f):
    """KKT verdict from the Newton decrement on the free subspace (vectorised).

    :func:`scalefit.fit._lbfgs.newton_decrement` leaves out exactly the coordinates that sit on
    a bound with the gradient pointing outward; any other coordinate (interior, or on a bound
    with the gradient pointing inward) enters it.  A decrement below
    ``DECREMENT_TOL·max(1, |f|)`` therefore means the first-order optimality conditions hold:
    outward gradient at every active bound and no resolvable decrease elsewhere.  An indefinite
    Hessian (saddle, flat direction) gives an infinite decrement and fails."""
    f = np.asarray(f, dtype=np.float64)
    decrement = np.asarray(decrement, dtype=np.float64)
    return np.isfinite(f) & (decrement <= DECREMENT_TOL * np.maximum(1.0, np.abs(f)))


def active_bounds(x, lower, upper, names) -> list[str]:
    """Names of the coordinates of ``x`` that sit on their lower or upper bound."""
    x, lower, upper = (np.asarray(a, dtype=np.float64) for a in (x, lower, upper))
    out = []
    for j, n in enumerate(names):
        if (np.isfinite(lower[j]) and x[j] <= lower[j] + 1e-9 * max(1.0, abs(lower[j]))) \
                or (np.isfinite(upper[j]) and x[j] >= upper[j] - 1e-9 * max(1.0, abs(upper[j]))):
            out.append(n)
    return out


def solver_problem(status: int, decrement: float, f: float, total_iters: int, f_start: float,
                   max_iter: int) -> str | None:
    """Why the best start of a fit is not a converged optimum (None when it is).

    A start that hit the iteration limit or whose line search failed is still converged when
    the optimality conditions hold at its end point (:func:`stationary`): this is how an
    estimate on a bound is recognised as an optimum rather than a stop."""
    if not np.isfinite(f):
        return "the objective is not finite at any start"
    if status == _lbfgs.RUNNING and not stationary(decrement, f):
        return f"the best start reached the iteration limit (max_iter={max_iter}) before converging"
    if status == _lbfgs.NONFINITE:
        return "the best start produced a non-finite objective or gradient"
    if status == _lbfgs.LINESEARCH_FAILED and not stationary(decrement, f):
        return (f"the line search failed while the quasi-Newton decrement is {decrement:.2e} "
                f"(relative {decrement / max(1.0, abs(f)):.1e}; not a stationary point)")
    if total_iters <= 3 and np.isfinite(f_start) and (f_start - f) <= 1e-9 * max(abs(f), 1e-300) \
            and status != _lbfgs.GTOL:
        return (f"the optimiser stopped {total_iters} iteration(s) after its start with the objective barely "
                "changed (premature stop; docs/fitting.md#objective-scaling-and-premature-stops)")
    return None


def _fmt_num(v: float) -> str:
    return f"{v:.6g}"


def _user_col(frame: pd.DataFrame, column: str) -> str:
    """The column's name as written in the user's file (loaders record renamed columns)."""
    names = frame.attrs.get("columns")
    return str(names.get(column, column)) if isinstance(names, Mapping) else str(column)


def _distinct_problems(law, frame, bound, target, n_free) -> list[str]:
    """Reasons the data cannot determine the law's parameters whatever the estimate: a constant
    target, an input column with one value, fewer distinct input points than free parameters."""
    out = []
    y = frame[target].to_numpy(np.float64)
    tname = _user_col(frame, target)
    if len(y) and np.all(y == y[0]):
        out.append(f"column `{tname}` has the same value ({_fmt_num(y[0])}) in every row; a flat curve "
                   f"determines no trend, so the exponents of law `{law.name}` are arbitrary")
    cols = [bound[n] for n in law.inputs]
    for c in dict.fromkeys(cols):
        vals = pd.unique(frame[c].to_numpy(np.float64))
        if len(vals) == 1:
            out.append(f"input column `{_user_col(frame, c)}` has a single distinct value ({_fmt_num(vals[0])}); "
                       f"the data say nothing about how `{tname}` changes with it")
    if cols and not any("single distinct value" in m for m in out):
        n_points = len(frame[list(dict.fromkeys(cols))].drop_duplicates())
        if n_points < n_free:
            where = f"column `{_user_col(frame, cols[0])}`" if len(set(cols)) == 1 else "input columns " + ", ".join(
                f"`{_user_col(frame, c)}`" for c in dict.fromkeys(cols))
            shown = ""
            if len(set(cols)) == 1:
                shown = " (" + ", ".join(_fmt_num(v) for v in np.sort(pd.unique(frame[cols[0]]))) + ")"
            out.append(f"{where} {'has' if len(set(cols)) == 1 else 'have'} only {n_points} distinct "
                       f"value{'s' if n_points != 1 else ''}{shown}, fewer than the {n_free} free parameters "
                       f"of law `{law.name}`; many parameter sets fit equally well")
    return out


def prediction_jacobian(law, free, fixed, tied):
    """The jitted Jacobian of the law's predictions with respect to the free parameters,
    ``jac(x_free, X, fixed_vals) -> (n, n_free)``, cached per law and constraint set
    (``fixed``: names of fixed parameters; ``tied``: sorted (name, target) pairs)."""
    fixed, tied = tuple(fixed), tuple(tied)
    key = (id(law), tuple(free), fixed, tied)
    if key not in _JACOBIANS:
        names = law.param_names

        def jac(x, X, fixed_vals):
            return jax.jacfwd(lambda v: law.fn(assemble_theta(v, fixed_vals, names=names, free=free, fixed=fixed,
                                                              tied=tied), X))(x)

        _JACOBIANS[key] = (law, jax.jit(jac))  # keep the law alive with the entry
    return _JACOBIANS[key][1]


#: a residual this small relative to max(1, |observation|) counts as exactly zero (a kink of the
#: absolute loss): the optimiser stops within ~1e-11 of a kink, while genuine residuals of real
#: scaling data are >= ~1e-6 (measurement precision)
KINK_TOL = 1e-8
#: the minimum-norm subgradient, relative to the largest gradient the data could give
#: (sum of w_i |dr_i/dx|), below which the absolute-loss optimality conditions hold
SUBGRADIENT_TOL = 1e-6


def subgradient_verdict(J, r, y, w, x, lower, upper) -> tuple[bool, float]:
    """Optimality verdict for the non-smooth absolute loss ``sum_i w_i |r_i|``.

    At a minimum some residuals sit exactly at zero, where the loss has a kink; there the
    gradient cannot vanish and the Hessian test of :func:`stationary` does not apply.  The
    first-order condition is that zero is a subgradient: some ``s_i`` in [-1, 1] for the
    zero residuals make ``sum_{r_i != 0} w_i sign(r_i) dr_i + sum_{r_i = 0} w_i s_i dr_i`` vanish
    (a coordinate on a lower/upper bound may keep a positive/negative component).  ``J`` is the
    (n, n_free) Jacobian of the predictions, ``r`` the residuals, ``y`` the observations (all
    in target space).  Solved as a small bounded least-squares problem; returns (holds,
    norm of the best subgradient relative to sum_i w_i |dr_i|)."""
    from scipy.optimize import lsq_linear

    J, r, y, w, x = (np.asarray(a, dtype=np.float64) for a in (J, r, y, w, x))
    lower, upper = np.asarray(lower, dtype=np.float64), np.asarray(upper, dtype=np.float64)
    keep = w > 0
    J, r, y, w = J[keep], r[keep], y[keep], w[keep]
    if not (np.all(np.isfinite(J)) and np.all(np.isfinite(r))):
        return False, float("inf")
    kink = np.abs(r) <= KINK_TOL * np.maximum(1.0, np.abs(y))
    g0 = (w[~kink] * np.sign(r[~kink])) @ J[~kink]
    scale = max(float(np.sum(w[:, None] * np.abs(J))), 1e-300)
    lo_f, hi_f = np.where(np.isfinite(lower), lower, 0.0), np.where(np.isfinite(upper), upper, 0.0)
    at_lo = np.isfinite(lower) & (x <= lo_f + 1e-9 * np.maximum(1.0, np.abs(lo_f)))
    at_hi = np.isfinite(upper) & (x >= hi_f - 1e-9 * np.maximum(1.0, np.abs(hi_f)))
    # columns (scaled to O(1)): the kinked rows' gradients with s in [-1, 1], and one bound
    # multiplier per active bound (>= 0, with the sign that lets the gradient point outward)
    cols = [(w[kink][:, None] * J[kink]).T / scale]
    lb, ub = [-np.ones(int(kink.sum()))], [np.ones(int(kink.sum()))]
    for mask, sign in ((at_lo, -1.0), (at_hi, 1.0)):
        idx = np.flatnonzero(mask)
        if len(idx):
            E = np.zeros((len(x), len(idx)))
            E[idx, np.arange(len(idx))] = sign
            cols.append(E)
            lb.append(np.zeros(len(idx)))
            ub.append(np.full(len(idx), np.inf))
    A = np.concatenate(cols, axis=1)
    b = -g0 / scale
    if A.shape[1] == 0:
        rel = float(np.linalg.norm(b))
    else:
        sol = lsq_linear(A, b, bounds=(np.concatenate(lb), np.concatenate(ub)), method="bvls", tol=1e-14)
        rel = float(np.linalg.norm(A @ sol.x - b))
    return bool(rel <= SUBGRADIENT_TOL), rel


def kink_stationary(prob, xbest) -> tuple[bool, float]:
    """:func:`subgradient_verdict` for the best start of a point fit."""
    law, free = prob.law, prob.free
    fixed, tied = tuple(prob.fixed), tuple(sorted(prob.tied.items()))
    x = jnp.asarray(np.asarray(xbest, dtype=np.float64))
    J = prediction_jacobian(law, free, fixed, tied)(x, prob.data["X"], prob.data["fixed"])
    theta = assemble_theta(x, prob.data["fixed"], names=law.param_names, free=free, fixed=fixed, tied=tied)
    r = np.asarray(law.fn(theta, prob.data["X"])) - np.asarray(prob.data["y"])
    return subgradient_verdict(J, r, prob.data["y"], prob.data["w"], x, prob.lower, prob.upper)


def _jacobian_problems(prob, xbest, skip) -> tuple[list[str], list[str]]:
    """Rank check of the predictions' Jacobian at the estimate, over the distinct input points
    with positive weight.  Returns (problems, warnings): a deficient rank among the parameters
    that move the predictions is a problem; parameters that do not move them at all (a dropped
    term) and ``skip`` (estimates on a bound, reported separately) are left out of the rank."""
    law, free = prob.law, prob.free
    X = {k: np.asarray(v) for k, v in prob.data["X"].items()}
    keep = np.asarray(prob.data["w"]) > 0
    pts = np.unique(np.column_stack([X[n][keep] for n in law.inputs]), axis=0)
    # pad to a power of two by repeating a point (rank unchanged) so that fits of many groups of
    # different sizes share a few compiled programs
    pts = np.concatenate([pts, np.repeat(pts[-1:], (1 << max(len(pts) - 1, 0).bit_length()) - len(pts), axis=0)])
    Xu = {n: jnp.asarray(pts[:, j]) for j, n in enumerate(law.inputs)}
    fixed, tied = tuple(prob.fixed), tuple(sorted(prob.tied.items()))
    lk = builtin_law_key(law)
    J = np.asarray(_export.call(None if lk is None else ("jacobian", lk, free, fixed, tied),
                                prediction_jacobian(law, free, fixed, tied),
                                jnp.asarray(xbest), Xu, prob.data["fixed"]))
    if not np.all(np.isfinite(J)):
        return [], []  # non-finite predictions are reported by the caller
    norms = np.linalg.norm(J, axis=0)
    big = max(float(norms.max(initial=0.0)), 1e-300)
    idle = [n for j, n in enumerate(free) if n not in skip and norms[j] <= RANK_TOL * big]
    warns = []
    if idle:
        warns.append(f"parameters {idle} do not change the predictions at the estimate; their values are arbitrary")
    cols = [j for j, n in enumerate(free) if n not in skip and n not in idle]
    if len(cols) < 2:
        return [], warns
    Jn = J[:, cols] / norms[cols]
    _, sv, vt = np.linalg.svd(Jn, full_matrices=False)
    ratio = float(sv[-1] / sv[0]) if len(sv) == len(cols) else 0.0
    if ratio < RANK_TOL:
        null = vt[-1] if len(sv) == len(cols) else np.linalg.svd(Jn)[2][-1]
        involved = [free[cols[i]] for i in np.flatnonzero(np.abs(null) > 0.1)]
        return [f"the data determine {involved} only through a combination (the predictions' Jacobian at the "
                f"estimate is rank-deficient: singular-value ratio {ratio:.1e} < {RANK_TOL:.1e}); "
                "many parameter sets fit equally well"], warns
    return [], warns


def _overflow_problem(prob, params) -> str | None:
    """Why the estimate cannot be written in float64 (a natural parameter overflows), naming the
    column with the largest values; None when it can."""
    law = prob.law
    bad = [p.natural or p.name for p in law.params if not np.isfinite(p.to_natural(params[p.name]))]
    if not bad:
        return None  # predictions at the data enter the objective, whose finiteness is checked
    sizes = {c: float(np.max(np.abs(prob.frame[c].to_numpy(np.float64)))) for c in prob.cols}
    big = max(sizes, key=sizes.get)
    return (f"{', '.join(f'`{b}`' for b in bad)} overflow{'s' if len(bad) == 1 else ''} float64 at the estimate; the data are too large to fit "
            f"as given (column `{_user_col(prob.frame, big)}` reaches {_fmt_num(sizes[big])}): rescale it, e.g. to billions")


def _versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for pkg in ("scalefit", "jax", "jaxlib", "numpy", "scipy", "pandas"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:  # pragma: no cover
            out[pkg] = "unknown"
    return out


# --------------------------------------------------------------------------- public
def fit_law(
    data,
    law: str | ScalingLaw = "chinchilla",
    *,
    inputs: Mapping[str, str] | None = None,
    target: str = "value",
    loss: str | None = None,
    delta: float = 1e-3,
    asymmetry: float = 0.5,
    fixed: Mapping[str, float] | None = None,
    tied: Mapping[str, str] | None = None,
    starts=None,
    weights: Sequence[float] | None = None,
    varpro: bool = True,
    n_polish: int = 32,
    screen_iters: int = 20,
    max_iter: int = 3000,
    gtol: float = 1e-10,
    ftol: float = 1e-15,
    chunk_size: int = 256,
    seed: int = 0,
    columns: Mapping[str, str] | None = None,
    source: str | None = None,
    law_options: Mapping[str, Any] | None = None,
) -> FitResult:
    """Fit a scaling law to data by multi-start L-BFGS in float64.

    Parameters
    ----------
    data
        A tidy DataFrame (see :mod:`scalefit.io`) or a path/DataFrame that
        :func:`scalefit.io.load_curves` understands (``columns`` maps schema names).
    law
        Registry name (``"chinchilla"``, ``"power_law"``, ... see ``scalefit laws``) or a
        :class:`~scalefit.laws.ScalingLaw` (e.g. from :func:`scalefit.define_law`).
    inputs
        Law input -> column (``{"x": "C"}``); by default inputs bind to same-named columns.
    target
        Column to fit (default ``value``).
    loss
        ``"huber"`` (Hoffmann: Huber on log residuals), ``"squared"``, ``"absolute"`` or
        ``"asymmetric"`` (Huber weighting over-predictions by ``2·asymmetry``); the law's default
        when omitted.  Objectives are summed and divided by ``delta**2`` (docs/fitting.md#objective-scaling-and-premature-stops).
    fixed, tied
        Hold parameters at values (``{"alpha": 0.34}``) or tie them to another parameter
        (``{"beta": "alpha"}``).
    starts
        Start grid: an ``(S, P)`` array over all (or the free) parameters, or a mapping
        ``name -> values`` whose Cartesian product is used.  Default: the law's grid (Hoffmann's
        4,500 starts for Chinchilla) plus a VarPro start where the law supports one.
    weights
        Non-negative per-row weights (e.g. bootstrap counts).
    n_polish, screen_iters, max_iter, gtol, ftol
        Two-stage schedule: all starts run ``screen_iters`` iterations, the ``n_polish`` best
        continue to ``max_iter`` with projected-gradient tolerance ``gtol·max(1, |f|)`` and
        relative-decrease tolerance ``ftol``.
    seed
        Recorded in the metadata (the point fit itself is deterministic).

    Tables of more than ``LARGE_ROWS`` (50,000) rows run the multi-start search on a fixed
    random subsample of ``SUBSAMPLE_ROWS`` rows and polish its ``FULL_POLISH`` best distinct optima on
    every row; the estimate and its verdict come from the full data (docs/fitting.md).

    The verdict covers identifiability as well as the optimiser: a constant target, an input
    column with a single value, fewer distinct inputs than free parameters, a rank-deficient
    Jacobian of the predictions at the estimate, or parameters that overflow float64 give
    ``converged = False`` with the reason in ``status`` (``identified`` is False for the first
    four).

    Returns
    -------
    FitResult

    Examples
    --------
    >>> import scalefit, pandas as pd
    >>> scalefit.enable_x64()
    >>> df = pd.read_csv(scalefit.examples.path("power_law_synthetic.csv"))  # columns N, loss
    >>> res = scalefit.fit_law(df, "power_law", target="loss")
    >>> res.converged, res.inputs
    (True, {'x': 'N'})
    >>> row = res.predict(N=1e10).iloc[0]
    >>> round(float(row["prediction"]), 3), float(row["extrapolation"])
    (1.547, 10.0)
    """
    require_x64()
    law = get_law(law, **dict(law_options or {}))
    loss = law.default_loss if loss is None else loss
    check_loss(loss, delta, asymmetry)
    for name, val, lo in (("n_polish", n_polish, 1), ("screen_iters", screen_iters, 1), ("max_iter", max_iter, 1),
                          ("chunk_size", chunk_size, 1)):
        if not isinstance(val, (int, np.integer)) or val < lo:
            raise ArgumentError(f"`{name}` = {val!r} must be an integer >= {lo}")

    if isinstance(data, pd.DataFrame) and columns is None:
        frame = data
    else:
        from ..io import load_curves

        frame = load_curves(data, columns=columns)
        if source is None and not isinstance(data, pd.DataFrame):
            source = str(data)
    schedule = Schedule(int(n_polish), int(screen_iters), int(max_iter), float(gtol), float(ftol), int(chunk_size))
    opts = dict(loss=loss, delta=float(delta), asymmetry=float(asymmetry))
    if len(frame) <= LARGE_ROWS:
        prob = _prepare(frame, law, inputs=inputs, target=target, fixed=fixed, tied=tied, weights=weights,
                        starts=starts, varpro=varpro, source=source)
        return assemble_result(prob, _solve(prob, schedule, **opts), schedule=schedule, seed=seed, **opts)
    return _fit_large(frame, law, inputs=inputs, target=target, fixed=fixed, tied=tied, weights=weights,
                      starts=starts, varpro=varpro, source=source, schedule=schedule, seed=seed, **opts)


#: a fit of more rows than this runs its multi-start search on a subsample (see ``_fit_large``)
LARGE_ROWS = 50_000

#: rows of that subsample, drawn without replacement by a generator seeded with 0 (so the same
#: data always give the same subsample, whatever the row order's structure)
SUBSAMPLE_ROWS = 20_000

#: best distinct subsample optima (parameters apart by more than 1e-6 relative) polished again on
#: every row
FULL_POLISH = 4


def _solve(prob: Problem, schedule: Schedule, *, loss, delta, asymmetry):
    solver = solver_for(prob, loss, delta, asymmetry, schedule, batched=False)
    lk = builtin_law_key(prob.law)
    key = None if lk is None else ("fit_law", lk, prob.free, tuple(prob.fixed), tuple(sorted(prob.tied.items())),
                                   loss, delta, asymmetry, tuple(schedule))
    return _export.call(key, solver, jnp.asarray(prob.x0s), prob.data, jnp.asarray(prob.lower),
                        jnp.asarray(prob.upper))


def _fit_large(frame, law, *, inputs, target, fixed, tied, weights, starts, varpro, source, schedule, seed,
               loss, delta, asymmetry) -> FitResult:
    """Multi-start fit of a large table in bounded time and memory.

    The whole multi-start schedule (every start screened, the ``n_polish`` best polished) runs on
    ``SUBSAMPLE_ROWS`` rows drawn at random (seed 0) from the table; the ``FULL_POLISH`` best
    distinct optima are then polished on every row to the usual tolerances, and the estimate, the
    convergence verdict and the identifiability check come from that full-data stage.  The
    start table lists both stages; ``n_agree`` counts agreement among the subsample's polished
    starts."""
    opts = dict(loss=loss, delta=delta, asymmetry=asymmetry)
    prob = _prepare(frame, law, inputs=inputs, target=target, fixed=fixed, tied=tied, weights=weights,
                    starts=np.zeros((1, len(law.param_names))), varpro=False, source=source)
    rows = np.sort(np.random.default_rng(0).choice(len(frame), SUBSAMPLE_ROWS, replace=False))
    w_sub = None if weights is None else np.asarray(prob.data["w"])[rows]
    sub = _prepare(prob.frame.iloc[rows], law, inputs=inputs, target=target, fixed=fixed, tied=tied,
                   weights=w_sub, starts=starts, varpro=varpro, source=source, validate=False)
    screen = assemble_result(sub, _solve(sub, schedule, **opts), schedule=schedule, seed=seed, identify=False, **opts)
    polished = screen.starts[screen.starts["stage"] == "polished"].sort_values("objective_scaled", kind="stable")
    # distinct optima only: starts that polished to the same point would repeat the same full-data work
    x_pol = polished[list(prob.free)].to_numpy(np.float64)
    distinct = []
    for i, x in enumerate(x_pol):
        if not any(np.all(np.abs(x - x_pol[j]) <= 1e-6 * (1.0 + np.abs(x))) for j in distinct):
            distinct.append(i)
    best = polished.iloc[distinct[:FULL_POLISH]]
    full = replace(prob, x0s=best[list(prob.free)].to_numpy(np.float64),
                   origin=[f"subsample optimum of start {i}" for i in best["start"]])
    sched_full = schedule._replace(n_polish=len(best))
    res = assemble_result(full, _solve(full, sched_full, **opts), schedule=sched_full, seed=seed, **opts)
    table = pd.concat([screen.starts.assign(stage=screen.starts["stage"] + " (subsample)"),
                       res.starts.assign(start=res.starts["start"] + len(screen.starts))], ignore_index=True)
    fragile = [w for w in screen.warnings if "polished starts reached the best" in w]
    warns = tuple(w for w in res.warnings if "polished starts reached the best" not in w)
    warns += tuple(f"{w} (on the {SUBSAMPLE_ROWS}-row subsample)" for w in fragile)
    md = dict(res.metadata)
    md["schedule"] = dict(md["schedule"], subsample_rows=SUBSAMPLE_ROWS, subsample_seed=0,
                          n_polish_subsample=int(screen.metadata["schedule"]["n_polish"]), n_polish=len(best))
    return replace(res, starts=table, n_starts=len(table), n_agree=screen.n_agree, warnings=warns, metadata=md)


class Schedule(NamedTuple):
    n_polish: int
    screen_iters: int
    max_iter: int
    gtol: float
    ftol: float
    chunk_size: int
    group_chunk: int = 8
    polish: str = "lbfgs"


@dataclass
class Problem:
    """Host-side, validated description of one curve's fit."""

    law: ScalingLaw
    frame: pd.DataFrame
    bound: dict
    target: str
    free: tuple
    fixed: dict
    tied: dict
    x0s: np.ndarray
    origin: list
    data: dict
    lower: np.ndarray
    upper: np.ndarray
    source: str | None
    cols: list


def _prepare(frame, law, *, inputs, target, fixed, tied, weights, starts, varpro, source,
             validate: bool = True) -> Problem:
    if target not in frame.columns:
        raise ArgumentError(
            f"`target` column `{target}` is not in the data (columns: {', '.join(map(str, frame.columns))})"
        )
    bound = bind_inputs(frame, law, inputs)
    free, fixed, tied = resolve_constraints(law, fixed, tied)
    if validate:
        validate_frame(frame, law, bound, target, len(free), source)
    cols = list(dict.fromkeys([*bound.values(), target]))
    fitted = frame.copy()
    X_np = {n: fitted[bound[n]].to_numpy(np.float64) for n in law.inputs}
    y_np = fitted[target].to_numpy(np.float64)
    if weights is None:
        w_np = np.ones(len(fitted))
    else:
        w_np = np.asarray(weights, dtype=np.float64)
        if w_np.shape != (len(fitted),) or np.any(~np.isfinite(w_np)) or np.any(w_np < 0):
            raise ArgumentError(f"`weights` must be {len(fitted)} finite non-negative numbers")
    y_t = np.log(y_np) if law.target == "log" else y_np
    x0s, origin = start_matrix(law, starts, X_np, y_np, free)
    data = {
        "X": {k: jnp.asarray(v) for k, v in X_np.items()}, "y": jnp.asarray(y_t), "w": jnp.asarray(w_np),
        "fixed": jnp.asarray([fixed[n] for n in fixed], dtype=jnp.float64),
    }
    if varpro and starts is None:
        vp = _varpro_start(law, free, data["X"], data["y"], data["w"])
        if vp is not None:
            x0s = np.vstack([x0s, vp[None, :]])
            origin = origin + ["varpro"]
    lower, upper = law.params.bounds(free)
    return Problem(law, fitted, bound, target, free, fixed, tied, x0s, origin, data, lower, upper, source, cols)


def solver_for(prob: Problem, loss, delta, asymmetry, schedule: Schedule, *, batched: bool):
    n_screen = len(prob.x0s)
    n_pol = int(min(schedule.n_polish, n_screen))
    tied_items = tuple(sorted(prob.tied.items()))
    key = (id(prob.law), prob.free, tuple(prob.fixed), tied_items, loss, delta, asymmetry, n_screen, n_pol,
           schedule, batched, device_count())
    if key not in _SOLVERS:
        run = _build_run(prob.law, prob.free, tuple(prob.fixed), tied_items, loss, delta, asymmetry, n_screen,
                         n_pol, schedule.screen_iters, schedule.max_iter, schedule.gtol, schedule.ftol,
                         schedule.chunk_size, shard=not batched, polish=schedule.polish)
        if batched:
            # groups are sharded across devices; each group's starts run with plain lax.map
            def fn_b(x0s, data, lower, upper):
                return device_map(lambda item: run(item[0], item[1], lower, upper), (x0s, data),
                                  batch_size=schedule.group_chunk)

            fn = jax.jit(fn_b)
        else:
            fn = jax.jit(run)
        _SOLVERS[key] = (prob.law, fn)  # keep the law alive with the entry
    return _SOLVERS[key][1]


def assemble_result(prob: Problem, raw, *, loss, delta, asymmetry, schedule: Schedule, seed,
              identify: bool = True) -> FitResult:
    law, free, fixed, tied = prob.law, prob.free, prob.fixed, prob.tied
    x0s, origin, fitted, bound, target = prob.x0s, prob.origin, prob.frame, prob.bound, prob.target
    s1, top, s2 = raw
    top = np.asarray(top)
    x2, f2, it2, st2, pg2, f0_top, dec2 = (np.asarray(a) for a in s2)
    n_screen = len(x0s)
    n_pol = len(top)
    max_iter = schedule.max_iter

    # ------------------------------------------------------------ assemble starts
    x_final = x0s.copy() if s1 is None else np.asarray(s1[0]).copy()
    f_final = np.full(n_screen, np.nan) if s1 is None else np.asarray(s1[1]).copy()
    it_all = np.zeros(n_screen, int) if s1 is None else np.asarray(s1[2]).astype(int)
    status_all = np.zeros(n_screen, int) if s1 is None else np.asarray(s1[3]).astype(int)
    stage = np.array(["screened"] * n_screen, dtype=object)
    x_final[top] = x2
    f_final[top] = f2
    it_all[top] = it_all[top] + it2 if s1 is not None else it2
    status_all[top] = st2
    stage[top] = "polished"
    starts_df = pd.DataFrame({"start": np.arange(n_screen), "origin": origin})
    for j, n in enumerate(free):
        starts_df[f"{n}_init"] = x0s[:, j]
    starts_df["stage"] = stage
    starts_df["iterations"] = it_all
    starts_df["status"] = [_lbfgs.STATUS_TEXT[int(s)] for s in status_all]
    starts_df["objective_scaled"] = f_final
    for j, n in enumerate(free):
        starts_df[n] = x_final[:, j]

    # ------------------------------------------------------------ convergence check
    f2c = np.where(np.isfinite(f2), f2, np.inf)
    kbest = int(np.argmin(f2c))
    best_idx = int(top[kbest])
    fbest = float(f2[kbest])
    xbest = x2[kbest]
    theta = {n: float(v) for n, v in zip(free, xbest)}
    theta.update(fixed)
    for k, t in tied.items():
        theta[k] = theta[t]
    params = {n: theta[n] for n in law.param_names}

    problems, warns = [], []
    status_code = int(st2[kbest])
    pg = float(pg2[kbest])
    decrement = float(dec2[kbest])
    total_iters = int(it_all[best_idx])
    problem = solver_problem(status_code, decrement, fbest, total_iters, float(np.asarray(f0_top)[kbest]), max_iter)
    kink_rel = None
    if loss == "absolute" and np.isfinite(fbest) and status_code != _lbfgs.NONFINITE:
        # non-smooth loss: judge by the subgradient condition, not by the Hessian or the stop reason
        holds, kink_rel = kink_stationary(prob, xbest)
        problem = None if holds else (
            f"zero is not a subgradient of the absolute loss at the best start (smallest subgradient "
            f"{kink_rel:.1e} of the gradient scale, above {SUBGRADIENT_TOL:.0e}; not a minimum)")
    if problem:
        problems.append(problem)
    lo, hi = law.params.bounds(free)
    on_bound = active_bounds(xbest, lo, hi, free)
    if on_bound:
        warns.append(f"estimate on a bound for {on_bound}; the law may not describe the data there")
    agree = np.abs(f2c - fbest) <= 1e-6 * max(abs(fbest), 1e-300)
    n_agree = int(np.sum(agree))
    if n_pol >= 2 and n_agree < 2:
        warns.append(f"only {n_agree} of {n_pol} polished starts reached the best objective; the optimum may be fragile")
    dropped = []
    if law.target == "log":
        for n in law.param_names:
            p = law.params[n]
            if p.natural and params[n] < -30:
                dropped.append(n)
                warns.append(f"`{p.natural}` = e^{params[n]:.1f} is effectively zero (term dropped by the data)")
    if len(law.inputs) and "N" in law.inputs:
        n_sizes = fitted[bound["N"]].nunique()
        if n_sizes < 5:
            warns.append(f"only {n_sizes} distinct model sizes; fits from fewer than 5 sizes extrapolate poorly")

    # ------------------------------------------------------------ identifiability
    overflow = _overflow_problem(prob, params)
    if overflow:
        problems.insert(0, overflow)
    unidentified = _distinct_problems(law, fitted, bound, target, len(free)) if identify else []
    if identify and not unidentified and not overflow:
        unidentified, idle = _jacobian_problems(prob, xbest, set(on_bound) | set(dropped))
        warns += idle

    converged = not problems and not unidentified
    if unidentified:
        status = UNIDENTIFIED + "; ".join(unidentified + problems)
    elif converged:
        why = _lbfgs.STATUS_TEXT[status_code]
        if kink_rel is not None:
            why = f"zero is a subgradient of the absolute loss (smallest subgradient {kink_rel:.1e} relative)"
        elif status_code in (_lbfgs.LINESEARCH_FAILED, _lbfgs.RUNNING):
            why = "no further decrease resolvable in float64 (quasi-Newton decrement " \
                  f"{decrement / max(1.0, abs(fbest)):.1e} relative)"
        status = f"{why}; |proj grad| = {pg:.2e} after {total_iters} iterations"
        if on_bound:
            status += f"; on a bound for {on_bound} (optimality conditions hold there)"
    else:
        status = "; ".join(problems)

    from ..io import frame_hash

    source, cols = prob.source, prob.cols
    screen_iters, gtol, ftol = schedule.screen_iters, schedule.gtol, schedule.ftol
    metadata = {
        "versions": _versions(),
        "seed": int(seed),
        "objective": f"{loss} (delta={delta:g}, asymmetry={asymmetry:g}) on {law.target}-scale residuals, "
                     f"summed and divided by delta^2",
        "data_hash": frame_hash(fitted, cols),
        "data_source": source,
        "n_points": int(len(fitted)),
        "schedule": {"screen_iters": int(screen_iters), "n_polish": n_pol, "max_iter": int(max_iter),
                     "gtol": gtol, "ftol": ftol},
    }
    return FitResult(
        law=law,
        params=params,
        free=free,
        fixed=fixed,
        tied=tied,
        inputs=bound,
        target=target,
        loss=loss,
        delta=float(delta),
        asymmetry=float(asymmetry),
        objective=fbest * delta**2,
        objective_scaled=fbest,
        converged=converged,
        status=status,
        warnings=tuple(warns),
        n_starts=n_screen,
        n_agree=n_agree,
        n_iter=total_iters,
        grad_norm=pg,
        starts=starts_df,
        frame=fitted,
        metadata=metadata,
    )
