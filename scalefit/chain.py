"""Two-step chained fits: (N, D) -> intermediate metric (e.g. task loss) -> target metric.

Step 1 fits a law of (N, D) to the intermediate metric on each run's final checkpoint(s);
step 2 fits a link from the intermediate to the target on every checkpoint (plus fixed anchor
rows such as loss 0 -> accuracy 1).  The chain predicts ``link(law(N, D))``.  Its interval
comes from a paired bootstrap: every replicate draws runs with replacement once, and both
steps are refitted with that draw (step 1 on the drawn runs' final rows, step 2 on all their
checkpoints); anchor rows enter every replicate.  Both steps' replicates run as one batched
computation each (:func:`scalefit.bootstrap` with explicit weights).  A leave-largest-rung-out
backtest refits the chain without the largest model size and predicts it.  See
docs/uncertainty.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from .errors import ArgumentError, ConvergenceError
from .fit import FitResult, bootstrap, fit_law
from .fit.bootstrap import MAX_DROPPED


@dataclass(frozen=True)
class ChainResult:
    """A fitted two-step chain.

    Attributes
    ----------
    step1, step2 : FitResult
        The (N, D) -> intermediate law and the intermediate -> target link (each carries its
        ``.bootstrap`` when replicates were run; replicate ``r`` of both used the same runs).
    intermediate, target : str
        Column names.
    kept : ndarray of bool or None
        Replicates in which both steps converged.
    backtest : DataFrame or None
        Leave-largest-rung-out predictions (see :func:`fit_chain`).
    """

    step1: FitResult
    step2: FitResult
    intermediate: str
    target: str
    level: float
    kept: np.ndarray | None = field(default=None, repr=False)
    backtest: pd.DataFrame | None = None
    fit_range: tuple[float, float] = (np.nan, np.nan)

    @property
    def n_replicates(self) -> int:
        return 0 if self.kept is None else int(self.kept.size)

    def predict(self, N, D, level: float | None = None) -> pd.DataFrame:
        """Predict the target at (N, D): the intermediate from step 1, then the link.

        Columns: ``N``, ``D``, the intermediate (step 1's point prediction), ``prediction``
        (the link at it), and with replicates ``lower``/``upper`` of both (paired percentile
        interval at ``level``, default the fit's) and ``se``; ``extrapolation`` flags an
        intermediate outside the range step 2 was fitted on (anchor rows excluded)."""
        N = np.atleast_1d(np.asarray(N, dtype=np.float64))
        D = np.atleast_1d(np.asarray(D, dtype=np.float64))
        N, D = np.broadcast_arrays(N, D)
        mid = self.step1.predict(N=N, D=D)["prediction"].to_numpy()
        link_in = self.step2.inputs[self.step2.law.inputs[0]]
        pred = self.step2.law.evaluate(self.step2.params, **{self.step2.law.inputs[0]: mid})
        out = pd.DataFrame({"N": N, "D": D, self.intermediate: mid, "prediction": np.asarray(pred)})
        lo_fit, hi_fit = self.fit_range
        out["extrapolation"] = np.where(mid < lo_fit, "below fitted range of " + link_in,
                                        np.where(mid > hi_fit, "above fitted range of " + link_in, ""))
        if self.kept is not None:
            level = self.level if level is None else float(level)
            if not 0 < level < 1:
                raise ArgumentError(f"`level` = {level!r} must lie strictly between 0 and 1")
            mids = self.step1.bootstrap.evaluate(self.step1.law, {"N": N, "D": D})[self.kept]
            # each replicate's link evaluated at that replicate's own intermediate (paired)
            b2 = self.step2.bootstrap
            sub = _subset(b2, self.kept)
            preds = sub.evaluate(self.step2.law, {self.step2.law.inputs[0]: mids})
            q = [(1 - level) / 2, 1 - (1 - level) / 2]
            out[f"{self.intermediate}_lower"], out[f"{self.intermediate}_upper"] = np.quantile(mids, q, axis=0)
            out["lower"], out["upper"] = np.quantile(preds, q, axis=0)
            out["se"] = np.std(preds, axis=0, ddof=1)
            out.attrs["interval"] = (f"{level:.0%} paired bootstrap percentile "
                                     f"({int(self.kept.sum())}/{self.kept.size} replicates kept)")
        return out

    def summary(self) -> str:
        lines = [f"chain: (N, D) -[{self.step1.law.name}]-> `{self.intermediate}` "
                 f"-[{self.step2.law.name}]-> `{self.target}`"]
        for name, f in (("step 1", self.step1), ("step 2", self.step2)):
            verdict = "converged" if f.converged else "NOT CONVERGED"
            lines.append(f"{name}: {f.law.name} on {len(f.frame)} rows, {verdict}: {f.status}")
            if f.bootstrap is not None:
                lines.append(f"  bootstrap: {f.bootstrap.describe()}")
        if self.kept is not None:
            lines.append(f"paired replicates kept (both steps converged): {int(self.kept.sum())}/{self.kept.size}")
        return "\n".join(lines)


def _subset(boot, mask):
    from dataclasses import replace

    return replace(boot, draws=boot.draws[mask], objective=boot.objective[mask], converged=boot.converged[mask])


def _anchor_rows(anchor, intermediate, target, run) -> pd.DataFrame:
    if anchor is None:
        return pd.DataFrame()
    rows = [anchor] if isinstance(anchor, Mapping) else list(anchor)
    out = []
    for i, a in enumerate(rows):
        if not isinstance(a, Mapping) or set(a) != {intermediate, target}:
            raise ArgumentError(f"`anchor` entries must map exactly `{intermediate}` and `{target}` to numbers, "
                                f"got {a!r}")
        out.append({intermediate: float(a[intermediate]), target: float(a[target]), run: f"__anchor{i}"})
    return pd.DataFrame(out)


def _final_rows(frame, run, intermediate, last):
    from .io import final_checkpoints

    if "step" not in frame.columns:
        return frame.reset_index(drop=True)
    sub = frame.rename(columns={run: "run"}) if run != "run" else frame
    fin = final_checkpoints(sub.dropna(subset=[intermediate]), last=last, columns=[intermediate])
    return fin.rename(columns={"run": run}) if run != "run" else fin


def _fit_pair(frame, step1, step2, intermediate, target, run, anchor_df, last, step1_options, step2_options):
    rows1 = _final_rows(frame, run, intermediate, last)
    fit1 = fit_law(rows1, step1, target=intermediate, **dict(step1_options or {}))
    data2 = frame.dropna(subset=[intermediate, target])[[run, intermediate, target]]
    data2 = pd.concat([data2, anchor_df], ignore_index=True) if len(anchor_df) else data2.reset_index(drop=True)
    from .laws import get_law

    link = get_law(step2)
    opts2 = dict(step2_options or {})
    opts2.setdefault("inputs", {link.inputs[0]: intermediate})
    fit2 = fit_law(data2, link, target=target, **opts2)
    return rows1, fit1, data2, fit2


def fit_chain(
    frame: pd.DataFrame,
    step1: str = "chinchilla",
    step2: str = "sigmoid",
    *,
    intermediate: str,
    target: str,
    run: str = "run",
    anchor: Mapping[str, float] | Sequence[Mapping[str, float]] | None = None,
    last: int = 1,
    n_replicates: int = 0,
    seed: int = 0,
    level: float = 0.9,
    max_dropped: float = MAX_DROPPED,
    backtest: bool = False,
    step1_options: Mapping[str, Any] | None = None,
    step2_options: Mapping[str, Any] | None = None,
) -> ChainResult:
    """Fit (N, D) -> ``intermediate`` -> ``target`` as two chained laws.

    Parameters
    ----------
    frame
        One row per checkpoint (e.g. from :func:`scalefit.load_runs`) with ``run``, ``N``,
        ``D``, ``intermediate`` and ``target`` columns (and ``step`` when runs have several
        checkpoints); a frame without ``step`` is one row per run.
    step1, step2
        Law of (N, D) for the intermediate (``chinchilla``, ``overtraining``, ...) and link from
        the intermediate to the target (``sigmoid``: OLMo ladder; ``error_link``: Gadre et al.).
    anchor
        Fixed rows added to step 2 and kept in every replicate, e.g.
        ``{"task_loss": 0.0, "acc": 1.0}``.
    last
        Step 1 uses each run's final checkpoint, its intermediate averaged over the last
        ``last`` checkpoints.
    n_replicates
        Paired bootstrap replicates (0: point fits only).  Runs are resampled with
        replacement once per replicate and both steps refitted with that draw.  More than
        ``max_dropped`` of the replicates failing in either step raises
        :class:`~scalefit.errors.ConvergenceError`.
    backtest
        Also refit without the largest model size (all runs with the largest ``N``) and
        predict those runs' final target: ``result.backtest``.
    step1_options, step2_options
        Extra keyword arguments of :func:`scalefit.fit_law` for each step.

    Examples
    --------
    >>> # res = fit_chain(frame, "chinchilla", "sigmoid", intermediate="task_loss", target="acc",
    >>> #                 anchor={"task_loss": 0.0, "acc": 1.0}, n_replicates=1000)
    >>> # res.predict(N=7e9, D=4e12)
    """
    if not isinstance(frame, pd.DataFrame):
        raise ArgumentError(f"`frame` must be a DataFrame, got {type(frame).__name__}")
    for name, col in (("run", run), ("intermediate", intermediate), ("target", target)):
        if col not in frame.columns:
            raise ArgumentError(f"`{name}` column `{col}` is not in the data "
                                f"(columns: {', '.join(map(str, frame.columns))})")
    if not isinstance(n_replicates, (int, np.integer)) or n_replicates < 0 or n_replicates == 1:
        raise ArgumentError(f"`n_replicates` = {n_replicates!r} must be 0 or an integer >= 2")
    if not 0 < level < 1:
        raise ArgumentError(f"`level` = {level!r} must lie strictly between 0 and 1")
    frame = frame.assign(**{run: frame[run].astype(str)})
    anchor_df = _anchor_rows(anchor, intermediate, target, run)
    rows1, fit1, data2, fit2 = _fit_pair(frame, step1, step2, intermediate, target, run, anchor_df, last,
                                         step1_options, step2_options)
    observed = data2[~data2[run].str.startswith("__anchor")][intermediate]
    fit_range = (float(observed.min()), float(observed.max()))

    kept = None
    if n_replicates:
        runs = pd.unique(data2.loc[~data2[run].str.startswith("__anchor"), run])
        missing = sorted(set(rows1[run].astype(str)) - set(runs))
        if missing:
            raise ArgumentError(f"run `{missing[0]}` has a step-1 row but no step-2 rows; it cannot be paired")
        rng = np.random.default_rng(seed)
        k = len(runs)
        counts = rng.multinomial(k, np.full(k, 1.0 / k), size=int(n_replicates)).astype(np.float64)
        pos = {r: i for i, r in enumerate(runs)}
        W1 = counts[:, [pos[r] for r in rows1[run].astype(str)]]
        anchor_mask = data2[run].str.startswith("__anchor").to_numpy()
        W2 = np.ones((int(n_replicates), len(data2)))
        W2[:, ~anchor_mask] = counts[:, [pos[r] for r in data2.loc[~anchor_mask, run]]]
        fit1 = bootstrap(fit1, weights=W1, level=level, seed=seed, max_dropped=max_dropped)
        fit2 = bootstrap(fit2, weights=W2, level=level, seed=seed, max_dropped=max_dropped,
                         fixed_rows=anchor_mask if anchor_mask.any() else None)
        kept = fit1.bootstrap.converged & fit2.bootstrap.converged
        if (~kept).sum() > max_dropped * kept.size:
            raise ConvergenceError(
                f"chain bootstrap: only {int(kept.sum())}/{kept.size} replicates converged in both steps "
                f"(step 1: {fit1.bootstrap.describe()}; step 2: {fit2.bootstrap.describe()})")

    bt = _backtest(frame, step1, step2, intermediate, target, run, anchor_df, last, step1_options,
                   step2_options) if backtest else None
    return ChainResult(step1=fit1, step2=fit2, intermediate=intermediate, target=target, level=float(level),
                       kept=kept, backtest=bt, fit_range=fit_range)


def _backtest(frame, step1, step2, intermediate, target, run, anchor_df, last, o1, o2) -> pd.DataFrame:
    """Refit without the largest model size and predict its runs' final target."""
    top = frame["N"].max()
    held = frame[frame["N"] == top]
    train = frame[frame["N"] < top]
    if train["N"].nunique() < 2:
        raise ArgumentError("the leave-largest-rung-out backtest needs at least 2 smaller model sizes")
    _, f1, _, f2 = _fit_pair(train, step1, step2, intermediate, target, run, anchor_df, last, o1, o2)
    part = ChainResult(step1=f1, step2=f2, intermediate=intermediate, target=target, level=0.9)
    fin = _final_rows(held.dropna(subset=[target]), run, target, last)
    pred = part.predict(fin["N"].to_numpy(), fin["D"].to_numpy())
    out = pd.DataFrame({run: fin[run].to_numpy(), "N": fin["N"].to_numpy(), "D": fin["D"].to_numpy(),
                        "observed": fin[target].to_numpy(), "prediction": pred["prediction"].to_numpy()})
    out["relative_error"] = out["prediction"] / out["observed"] - 1.0
    out.attrs["converged"] = bool(f1.converged and f2.converged)
    return out
