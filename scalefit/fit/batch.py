"""Batch fitting: one law per group (run family, task, learning curve) in a single computation.

Groups are padded to the longest group with zero-weight rows (the objective ignores them), their
start grids are stacked, and the multi-start solver of :func:`scalefit.fit_law` is mapped over
groups: chunks of groups are vmapped and the groups are sharded across all visible devices.
Host-side work per group is kept to building start grids; results are assembled vectorised into
a tidy table, and a full :class:`FitResult` for one group is built on demand.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from .._config import require_x64
from .._result import LEVEL, ResultProtocol, check_level, frame_from_dict, frame_to_dict
from ..errors import ArgumentError
from ..laws import ScalingLaw, get_law
from ._progress import progress_bar
from ._varpro import varpro_profile
from .objective import check_loss
from .point import (
    Problem, Schedule, assemble_result, resolve_constraints, solver_for, start_matrix, bind_inputs,
    solver_problem,
)
from .result import FitResult

_VARPRO_BATCH: dict[int, Any] = {}
_VARPRO_CHUNK = 128


def _batch_grid(law, starts, X_all, y_raw, valid, free):
    """Start grids of all groups built at once where the law's grid allows it (a fixed grid,
    or the law's ``grid_batch_fn``), else None (the caller then builds them group by group)."""
    G = valid.shape[0]
    names = law.param_names
    if starts is not None and not isinstance(starts, Mapping):
        grid = np.atleast_2d(np.asarray(starts, dtype=np.float64))
        if grid.shape[1] == len(free) and np.all(np.isfinite(grid)) and len(np.unique(grid, axis=0)) == len(grid):
            return np.broadcast_to(grid, (G,) + grid.shape).copy()
        return None
    if starts is not None or tuple(free) != tuple(names):
        return None
    if law.grid_batch_fn is not None:
        out = law.grid_batch_fn(X_all, y_raw, valid)
    elif law.grid_fn is None:
        grid = law.params.grid()
        if len(np.unique(grid, axis=0)) != len(grid):
            return None
        out = np.broadcast_to(grid, (G,) + grid.shape).copy()
    else:
        return None
    if not np.all(np.isfinite(out)):
        return None
    return out


def _row_weights(frame: pd.DataFrame, weights) -> np.ndarray:
    """Per-row objective weights from a column name or an array (ones when None)."""
    if weights is None:
        return np.ones(len(frame))
    if isinstance(weights, str):
        if weights not in frame.columns:
            raise ArgumentError(f"`weights` column `{weights}` is not in the data "
                                f"(columns: {', '.join(map(str, frame.columns))})")
        w = pd.to_numeric(frame[weights], errors="coerce").to_numpy(np.float64)
        what = f"column `{weights}`"
    else:
        w = np.asarray(weights, dtype=np.float64)
        what = "`weights`"
    if w.shape != (len(frame),):
        raise ArgumentError(f"{what} must hold one weight per row ({len(frame)}), got shape {w.shape}")
    bad = np.flatnonzero(~np.isfinite(w) | (w < 0))
    if len(bad):
        raise ArgumentError(f"{what} row {bad[0]}: {w[bad[0]]!r} is not a finite non-negative weight")
    return w


def _group_label(by, key) -> str:
    key = key if isinstance(key, tuple) else (key,)
    return ", ".join(f"{b}={k}" for b, k in zip(by, key))


@dataclass(frozen=True, repr=False)
class BatchFitResult(ResultProtocol):
    """Per-group fits of one law.

    Result protocol (docs/results.md): ``converged`` is True when every group converged
    (``message`` names the groups that did not); point fits carry no interval, so
    ``param_table`` has NaN ``lower``/``upper`` and ``predict`` no interval columns.  A batch
    loaded with :meth:`from_json` keeps the table and the fitted rows but not the per-start
    state, so :meth:`fit` (one group's full :class:`FitResult`) needs the original result.

    Attributes
    ----------
    law : ScalingLaw
    by : tuple of str
        Grouping columns.
    table : DataFrame
        One row per group: the group keys, every parameter (fit coordinates and natural
        scale), ``objective``, ``converged``, ``status``, ``n_points`` and ``iterations``.
    """

    law: ScalingLaw
    by: tuple[str, ...]
    table: pd.DataFrame
    inputs: Mapping[str, str]
    target: str
    frame: pd.DataFrame = field(repr=False)
    _raw: Any = field(repr=False, default=None)
    _problems: Any = field(repr=False, default=None)
    _settings: Mapping[str, Any] = field(repr=False, default_factory=dict)

    JSON_WHAT = "batch fit file"
    FORMAT = "scalefit.BatchFitResult"

    @property
    def n_groups(self) -> int:
        return len(self.table)

    @property
    def converged(self) -> bool:
        """Every group's fit converged."""
        return self.n_converged == self.n_groups

    @property
    def message(self) -> str:
        bad = self.table.loc[~self.table["converged"].astype(bool)]
        out = f"{self.n_converged}/{self.n_groups} groups converged"
        if len(bad):
            shown = [f"{_group_label(self.by, tuple(r[list(self.by)]))}: {r['status']}" for _, r in bad.head(3).iterrows()]
            out += "; not: " + "; ".join(shown) + (" ..." if len(bad) > 3 else "")
        return out

    def _repr_text(self) -> str:
        return (f"{self.law.name} by {', '.join(self.by)}: {self.n_groups} groups, "
                f"{self.n_converged} converged, {len(self.frame)} points")

    def param_table(self, level: float = LEVEL) -> pd.DataFrame:
        """One row per group and law parameter: the group keys, ``parameter``, ``estimate`` (fit
        coordinate), ``lower``/``upper`` (NaN: batch point fits carry no interval),
        ``natural_estimate``, ``converged``."""
        check_level(level)
        rows = []
        for _, r in self.table.iterrows():
            keys = {b: r[b] for b in self.by}
            for p in self.law.params:
                v = float(r[p.name])
                rows.append({**keys, "parameter": p.name, "estimate": v, "lower": np.nan, "upper": np.nan,
                             "natural_estimate": p.to_natural(v), "converged": bool(r["converged"])})
        return pd.DataFrame(rows)

    def _summary_text(self) -> str:
        lines = [f"batch fit: law {self.law.name}   {self.law.formula}",
                 f"groups by {', '.join(f'`{b}`' for b in self.by)}: {self.message}",
                 f"data: {len(self.frame)} points, target `{self.target}`, inputs "
                 + ", ".join(f"{k}=`{v}`" for k, v in self.inputs.items())]
        with pd.option_context("display.width", 160):
            lines.append(self.table.to_string(index=False, float_format=lambda v: f"{v:.6g}"))
        return "\n".join(lines)

    def _summary_table(self) -> pd.DataFrame:
        return self.table

    @property
    def n_converged(self) -> int:
        return int(self.table["converged"].sum())

    def predict(self, at: pd.DataFrame, *, level: float = LEVEL) -> pd.DataFrame:
        """Predict every row of ``at`` with its own group's parameters.

        ``at`` must hold the grouping columns and the law's input columns (same names as in the
        fitted data).  Rows of unknown groups get NaN.  Returns ``at`` with ``estimate`` (the
        prediction, natural scale; ``prediction`` holds the same values and is deprecated) and,
        for laws of positive inputs, ``extrapolation`` (the factor beyond the row's own group's
        fitted data, ``scalefit._extrapolation``; NaN for unknown groups).  Point fits carry
        no interval: ``lower``/``upper`` are absent (``level`` is checked and otherwise unused).
        """
        check_level(level)
        missing = [c for c in (*self.by, *self.inputs.values()) if c not in at.columns]
        if missing:
            raise ArgumentError(f"`at` lacks columns {missing}")
        names = self.law.param_names
        merged = at[list(self.by)].merge(self.table[list(self.by) + list(names)], on=list(self.by), how="left")
        theta = {n: jnp.asarray(merged[n].to_numpy(np.float64)) for n in names}
        X = {n: jnp.asarray(at[self.inputs[n]].to_numpy(np.float64)) for n in self.law.inputs}
        out = self.law.fn(theta, X)
        pred = np.asarray(jnp.exp(out) if self.law.target == "log" else out)
        res = at.copy()
        res["prediction"] = pred
        res["estimate"] = pred
        if self.law.positive_inputs:
            from .._extrapolation import extrapolation_factor

            keys = self.table[list(self.by)].reset_index(drop=True).assign(_group=lambda t: np.arange(len(t)))
            at_g = at[list(self.by)].merge(keys, on=list(self.by), how="left")["_group"].to_numpy()
            fit_g = self.frame[list(self.by)].merge(keys, on=list(self.by), how="left")["_group"].to_numpy()
            cols = [self.inputs[n] for n in self.law.inputs]
            factor = np.full(len(at), np.nan)
            for g in np.unique(at_g[np.isfinite(at_g)]):
                sel, rows = at_g == g, fit_g == g
                fitted = {n: self.frame[c].to_numpy(np.float64)[rows] for n, c in zip(self.law.inputs, cols)}
                factor[sel] = extrapolation_factor(fitted, {n: at[c].to_numpy(np.float64)[sel]
                                                            for n, c in zip(self.law.inputs, cols)})
            res["extrapolation"] = factor
        return res

    def fit(self, key) -> FitResult:
        """Full :class:`FitResult` (starts table, verdict, warnings) for one group."""
        if self._problems is None:
            raise ArgumentError("a batch loaded from a file holds no per-start state: refit with "
                                "fit_batch, or fit the group alone with fit_law")
        key = key if isinstance(key, tuple) else (key,)
        keys = [tuple(r) for r in self.table[list(self.by)].itertuples(index=False)]
        if key not in keys:
            raise ArgumentError(f"unknown group {_group_label(self.by, key)}")
        g = keys.index(key)
        raw = jax.tree.map(lambda a: None if a is None else np.asarray(a)[g], self._raw,
                           is_leaf=lambda a: a is None)
        prob = self._problems(g)
        s = self._settings
        return assemble_result(prob, raw, loss=s["loss"], delta=s["delta"], asymmetry=s["asymmetry"],
                         schedule=s["schedule"], seed=s["seed"])

    # ------------------------------------------------------------------ JSON
    def to_dict(self) -> dict:
        return {"format": self.FORMAT, "version": 1,
                "law": {"name": self.law.name, "options": dict(self.law.options)},
                "by": list(self.by), "inputs": dict(self.inputs), "target": self.target,
                "table": frame_to_dict(self.table), "frame": frame_to_dict(self.frame)}

    @classmethod
    def from_dict(cls, d: Mapping) -> "BatchFitResult":
        if not isinstance(d, Mapping) or d.get("format") != cls.FORMAT:
            raise ArgumentError(f"not a saved scalefit batch fit (expected format {cls.FORMAT!r})")
        law = get_law(d["law"]["name"], **dict(d["law"].get("options") or {}))
        table = frame_from_dict(d["table"])
        table["converged"] = table["converged"].astype(bool)
        return cls(law=law, by=tuple(d["by"]), table=table, inputs=dict(d["inputs"]), target=d["target"],
                   frame=frame_from_dict(d["frame"]))


def fit_batch(
    data,
    law: str | ScalingLaw,
    by: str | Sequence[str],
    *,
    inputs: Mapping[str, str] | None = None,
    target: str = "value",
    loss: str | None = None,
    delta: float = 1e-3,
    asymmetry: float = 0.5,
    fixed: Mapping[str, float] | None = None,
    tied: Mapping[str, str] | None = None,
    starts=None,
    weights=None,
    allow_duplicates: bool = False,
    varpro: bool = True,
    n_polish: int | None = None,
    screen_iters: int | None = None,
    polish: str = "auto",
    max_iter: int = 3000,
    gtol: float = 1e-10,
    ftol: float = 1e-15,
    chunk_size: int = 256,
    group_chunk: int = 16,
    block_groups: int = 2048,
    seed: int = 0,
    progress: bool | None = None,
    law_options: Mapping[str, Any] | None = None,
) -> BatchFitResult:
    """Fit ``law`` separately to every group of ``data`` (grouped by the ``by`` columns).

    Ragged groups are padded with zero-weight rows; every group uses the law's start grid (built
    from its own data) plus its own VarPro start; the best ``n_polish`` starts of each group are
    polished.  Returns a :class:`BatchFitResult` whose ``table`` has one row per group.

    ``polish``: ``"lbfgs"`` (every start runs ``screen_iters`` L-BFGS iterations, default 20;
    the best ``n_polish``, default 8, continue), ``"lm"`` (Levenberg-Marquardt, for
    ``loss="squared"`` only: the starts are ranked by their objective, ``screen_iters=0``, and
    the best ``n_polish``, default 1, is polished; a few Gauss-Newton iterations instead of ~50
    L-BFGS ones on small curves), or ``"auto"`` (``"lm"`` for the squared loss, else
    ``"lbfgs"``).

    ``weights`` (a column name or one non-negative number per row) weights each row's term
    of the objective, e.g. bootstrap counts; a row of weight ``k`` fits exactly like ``k``
    copies of it.  Rows equal in every fitted column are rejected as likely data errors unless
    ``weights`` is given or ``allow_duplicates=True`` (stacked resamples of many curves, one
    group per replicate, contain them by design).

    >>> # res = fit_batch(frame[frame.Training == 1], "power_law", by=["Domain", "Task", "Model"],
    >>> #                 inputs={"x": "D"}); res.predict(frame[frame.Training == 0])
    """
    require_x64()
    law = get_law(law, **dict(law_options or {}))
    loss = law.default_loss if loss is None else loss
    check_loss(loss, delta, asymmetry)
    if polish not in ("auto", "lbfgs", "lm"):
        raise ArgumentError(f"`polish` = {polish!r} must be 'auto', 'lbfgs' or 'lm'")
    if polish == "auto":
        polish = "lm" if loss == "squared" else "lbfgs"
    if polish == "lm" and loss != "squared":
        raise ArgumentError(f"`polish` = 'lm' needs loss='squared' (got {loss!r})")
    if n_polish is None:
        n_polish = 1 if polish == "lm" else 8
    if screen_iters is None:
        screen_iters = 0 if polish == "lm" else 20
    for name, val, lo in (("n_polish", n_polish, 1), ("screen_iters", screen_iters, 0), ("max_iter", max_iter, 1),
                          ("chunk_size", chunk_size, 1), ("group_chunk", group_chunk, 1),
                          ("block_groups", block_groups, 1)):
        if not isinstance(val, (int, np.integer)) or val < lo:
            raise ArgumentError(f"`{name}` = {val!r} must be an integer >= {lo}")
    by = [by] if isinstance(by, str) else list(by)
    if not by:
        raise ArgumentError("`by` must name at least one grouping column")
    if isinstance(data, pd.DataFrame):
        frame = data
    else:
        from ..io import load_curves

        frame = load_curves(data, groups=by)
    missing = [b for b in by if b not in frame.columns]
    if missing:
        raise ArgumentError(f"`by` names columns {missing} that are not in the data "
                            f"(columns: {', '.join(map(str, frame.columns))})")
    if target not in frame.columns:
        raise ArgumentError(f"`target` column `{target}` is not in the data")
    bound = bind_inputs(frame, law, inputs)
    free, fixed, tied = resolve_constraints(law, fixed, tied)
    from ..io import validate_curves

    w_rows = _row_weights(frame, weights)
    if weights is not None or allow_duplicates:
        # repeated rows are repeated observations here; validate each distinct row once
        fitted_cols = list(dict.fromkeys([*by, *(bound[n] for n in law.inputs), target]))
        frame_checked = frame.loc[~frame.duplicated(subset=fitted_cols)]
    else:
        frame_checked = frame
    validate_curves(frame_checked, inputs=[bound[n] for n in law.inputs], target=target,
                    log_target=law.target == "log", log_inputs=law.positive_inputs, num_params=len(free),
                    law=law.name, groups=by)
    schedule = Schedule(int(n_polish), int(screen_iters), int(max_iter), float(gtol), float(ftol),
                         int(chunk_size), int(group_chunk), polish)

    # ---------------------------------------------------------------- pad groups
    frame = frame.reset_index(drop=True)
    codes, uniques = pd.factorize(pd.MultiIndex.from_frame(frame[by]), sort=False)
    G = len(uniques)
    order = np.argsort(codes, kind="stable")
    counts = np.bincount(codes, minlength=G)
    n_max = int(counts.max())
    starts_at = np.concatenate([[0], np.cumsum(counts)[:-1]])
    pos = np.arange(n_max)[None, :]
    valid = pos < counts[:, None]
    idx = order[np.where(valid, starts_at[:, None] + pos, starts_at[:, None])]  # pad with the group's first row
    W = valid.astype(np.float64) * w_rows[idx]
    X_all = {n: frame[bound[n]].to_numpy(np.float64)[idx] for n in law.inputs}
    y_raw = frame[target].to_numpy(np.float64)[idx]
    y_t = np.log(y_raw) if law.target == "log" else y_raw

    # ---------------------------------------------------------------- starts per group
    x0s = _batch_grid(law, starts, X_all, y_raw, valid, free)
    if x0s is None:
        grids = []
        for g in range(G):
            m = valid[g]
            Xg = {n: X_all[n][g][m] for n in law.inputs}
            grids.append(start_matrix(law, starts, Xg, y_raw[g][m], free)[0])
        S = {gr.shape[0] for gr in grids}
        if len(S) != 1:
            raise ArgumentError(
                f"law `{law.name}` produced start grids of different sizes across groups: {sorted(S)}")
        x0s = np.stack(grids)
    origin = ["grid" if starts is None else "user"] * x0s.shape[1]
    vp = law.varpro
    if varpro and starts is None and vp is not None and set(vp.linear + vp.nonlinear) <= set(free) \
            and law.target == "log":
        if id(law) not in _VARPRO_BATCH:
            # chunks of groups: cache-sized intermediates instead of one (G, grid, ...) array
            _VARPRO_BATCH[id(law)] = (law, jax.jit(lambda X, y, w: jax.lax.map(
                lambda item: varpro_profile(vp, *item), (X, y, w), batch_size=_VARPRO_CHUNK)))
        nl, coef, rss = (np.asarray(a) for a in _VARPRO_BATCH[id(law)][1](
            {k: jnp.asarray(v) for k, v in X_all.items()}, jnp.asarray(y_raw), jnp.asarray(W)))
        floor = 1e-3 * np.min(np.where(valid, y_raw, np.inf), axis=1)
        theta = {n: np.log(np.maximum(coef[:, j], floor)) for j, n in enumerate(vp.linear)}
        theta.update({n: nl[:, j] for j, n in enumerate(vp.nonlinear)})
        vstart = np.stack([theta[n] for n in free], axis=1)
        vstart = np.where(np.isfinite(rss)[:, None], vstart, x0s[:, 0, :])
        x0s = np.concatenate([x0s, vstart[:, None, :]], axis=1)
        origin = origin + ["varpro"]
    lower, upper = law.params.bounds(free)
    fixed_arr = np.asarray([fixed[n] for n in fixed], dtype=np.float64)

    template = Problem(law, frame.iloc[:0], bound, target, free, fixed, tied, x0s[0], origin, {}, lower, upper,
                        None, [])
    solver = solver_for(template, loss, float(delta), float(asymmetry), schedule, batched=True)

    # ---------------------------------------------------------------- solve in blocks of groups
    block = int(min(block_groups, G))
    outs = []
    with progress_bar(total=G, desc=f"fit {law.name} x {G} groups", enabled=progress) as bar:
        for s0 in range(0, G, block):
            sl = np.arange(s0, min(s0 + block, G))
            n_real = len(sl)
            if n_real < block:
                sl = np.concatenate([sl, np.repeat(sl[-1:], block - n_real)])
            data = {"X": {k: jnp.asarray(v[sl]) for k, v in X_all.items()}, "y": jnp.asarray(y_t[sl]),
                    "w": jnp.asarray(W[sl]), "fixed": jnp.asarray(np.broadcast_to(fixed_arr, (len(sl), len(fixed_arr))))}
            raw = solver(jnp.asarray(x0s[sl]), data, jnp.asarray(lower), jnp.asarray(upper))
            outs.append(jax.tree.map(lambda a: np.asarray(a)[:n_real], raw))
            bar.update(n_real)
    raw = jax.tree.map(lambda *a: np.concatenate(a, axis=0), *outs)

    # ---------------------------------------------------------------- vectorised table
    s1, top, s2 = raw
    x2, f2, it2, st2, pg2, f0_top, dec2 = s2
    f2c = np.where(np.isfinite(f2), f2, np.inf)
    kbest = np.argmin(f2c, axis=1)
    rows = np.arange(G)
    xbest = x2[rows, kbest]
    it1 = np.zeros(G, int) if s1 is None else s1[2][rows, top[rows, kbest]]
    total = it1 + it2[rows, kbest]
    problems = [
        solver_problem(int(st2[g, kbest[g]]), float(dec2[g, kbest[g]]), float(f2[g, kbest[g]]), int(total[g]),
                       float(f0_top[g, kbest[g]]), int(max_iter))
        for g in range(G)
    ]
    table = pd.DataFrame(list(uniques), columns=by)
    params = {n: xbest[:, j] for j, n in enumerate(free)}
    for n, v in fixed.items():
        params[n] = np.full(G, v)
    for n, t in tied.items():
        params[n] = params[t]
    for n in law.param_names:
        table[n] = params[n]
    for p in law.params:
        if p.natural:
            table[p.natural] = np.exp(params[p.name])
    table["objective"] = f2[rows, kbest] * delta**2
    table["converged"] = [p is None for p in problems]
    table["status"] = [p or "converged" for p in problems]
    table["n_points"] = counts
    table["iterations"] = total

    settings = {"loss": loss, "delta": float(delta), "asymmetry": float(asymmetry), "schedule": schedule,
                "seed": int(seed)}

    def problem_for(g: int) -> Problem:
        m = valid[g]
        rows_g = idx[g][m]
        sub = frame.iloc[rows_g]
        data = {"X": {k: jnp.asarray(v[g][m]) for k, v in X_all.items()}, "y": jnp.asarray(y_t[g][m]),
                "w": jnp.asarray(w_rows[rows_g]), "fixed": jnp.asarray(fixed_arr)}
        return Problem(law, sub, bound, target, free, fixed, tied, x0s[g], origin, data, lower, upper, None,
                        list(dict.fromkeys([*bound.values(), target])))

    return BatchFitResult(law=law, by=tuple(by), table=table, inputs=bound, target=target, frame=frame,
                          _raw=raw, _problems=problem_for, _settings=settings)
