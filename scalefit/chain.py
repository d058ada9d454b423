"""Two-step chained fits: (N, D) -> intermediate metric (e.g. task loss) -> target metric.

Step 1 fits a law of (N, D) to the intermediate metric on each run's final checkpoint(s);
step 2 fits a link from the intermediate to the target on every checkpoint (plus fixed anchor
rows such as loss 0 -> accuracy 1).  The chain predicts ``link(law(N, D))``.

Intervals are for what a new run will *report*, not only for the fitted curves:

* ``method="bootstrap"``: a paired bootstrap (every replicate draws runs with replacement
  once and refits both steps with that draw; step 1 on the drawn runs' final rows, step 2 on
  all their checkpoints; anchor rows enter every replicate) gives the parameter uncertainty.
  A new run's observation is then simulated per replicate: its intermediate is the
  replicate's step-1 prediction plus a step-1 residual drawn from the fit's own residuals, the
  link is evaluated there, and a step-2 residual is added.  Residuals are centred and scaled
  by sqrt(n / (n - p)) (n rows, p free parameters) so that their spread estimates the noise of
  a new observation rather than the (smaller) spread around a curve fitted to those very rows.
* ``method="bayes"``: NUTS posteriors of both steps.  The two likelihoods share no parameter
  and step 2 conditions on the observed intermediate values, so the joint posterior is the
  product of the two; pairing draw ``s`` of the two (independently run) samplers is a draw
  from it.  A new run's observation adds each step's likelihood noise of that draw.

A leave-largest-rung-out backtest refits the chain without the largest model size and
predicts it, with the same kind of interval, so that the interval's coverage can be checked
on the user's own data.  See docs/uncertainty.md#chained-fits.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from ._names import renamed_args
from ._result import LEVEL, ResultProtocol
from .errors import ArgumentError, ConvergenceError
from .fit import FitResult, bootstrap, fit_law
from .fit.bootstrap import MAX_DROPPED
from .fit.replicates import BootstrapResult

CHAIN_METHOD_NAMES = ("bootstrap", "bayes")
FORMAT = "scalefit.ChainResult"


def residual_pool(fit: FitResult, exclude: np.ndarray | None = None) -> np.ndarray:
    """Noise draws for a new observation from a point fit's own residuals, on the law's scale
    (log for loss laws): residuals (pred - obs) of the rows not in ``exclude`` (e.g. anchor
    rows), centred and multiplied by sqrt(n / (n - p)) for the p fitted parameters."""
    r = fit.residuals()["residual"].to_numpy(np.float64)
    if exclude is not None:
        r = r[~np.asarray(exclude, dtype=bool)]
    n, p = r.size, len(fit.free)
    if n <= p:
        raise ArgumentError(f"step with law `{fit.law.name}` has {n} rows for {p} parameters: "
                            "no residuals left to estimate the noise of a new observation")
    return (r - r.mean()) * np.sqrt(n / (n - p))


@dataclass(frozen=True, repr=False)
class ChainResult(ResultProtocol):
    """A fitted two-step chain.

    Attributes
    ----------
    step1, step2 : FitResult
        Point fits of the (N, D) -> intermediate law and the intermediate -> target link.
        With intervals, each carries ``.bootstrap``: replicate ``r`` of both steps used the same
        runs (``method="bootstrap"``), or holds posterior draw ``r`` (``method="bayes"``).
    intermediate, target : str
        Column names.
    method : {"point", "bootstrap", "bayes"}
    kept : ndarray of bool or None
        Replicates (draws) used for intervals: both steps converged.
    noise1, noise2 : ndarray or None
        Residual pools (law scale) for a new run's observation noise in each step
        (``method="bootstrap"``; see :func:`residual_pool`).
    posterior1, posterior2 : PosteriorFit or None
        The NUTS posteriors (``method="bayes"``); their ``diagnostics`` gate the result.
    backtest : DataFrame or None
        Leave-largest-rung-out predictions with intervals (see :func:`fit_chain`).
    """

    step1: FitResult
    step2: FitResult
    intermediate: str
    target: str
    level: float
    kept: np.ndarray | None = field(default=None, repr=False)
    backtest: pd.DataFrame | None = None
    fit_range: tuple[float, float] = (np.nan, np.nan)
    method: str = "point"
    seed: int = 0
    noise1: np.ndarray | None = field(default=None, repr=False)
    noise2: np.ndarray | None = field(default=None, repr=False)
    posterior1: Any = field(default=None, repr=False)
    posterior2: Any = field(default=None, repr=False)
    #: ``method="bayes"`` with the ``error_link``: step 2 was sampled on the intermediate minus
    #: this value (see :data:`LINK_SHIFTS`); 0 otherwise.  The replicates are in the law's own
    #: coordinates; ``posterior2``'s draws and priors are in the shifted ones.
    shift2: float = 0.0

    JSON_WHAT = "chain file"

    @property
    def n_replicates(self) -> int:
        return 0 if self.kept is None else int(self.kept.size)

    def _repr_text(self) -> str:
        return (f"{self.step1.law.name} -> `{self.intermediate}` -> {self.step2.law.name} -> `{self.target}`: "
                f"{self.method}, {'converged' if self.converged else 'NOT converged'}")

    @property
    def message(self) -> str:
        out = f"step 1: {self.step1.status}; step 2: {self.step2.status}"
        if self.method == "bayes":
            out += f"; posteriors: {self.posterior1.status}; {self.posterior2.status}"
        return out

    def param_table(self, level: float = LEVEL) -> pd.DataFrame:
        """Both steps' :meth:`FitResult.param_table` stacked, with a ``step`` column (1, 2)."""
        return pd.concat([f.param_table(level).assign(step=i) for i, f in ((1, self.step1), (2, self.step2))],
                         ignore_index=True)

    @property
    def diagnostics(self) -> dict:
        """Per step: the posterior's diagnostics (``method="bayes"``), else ``None``."""
        return {"step 1": None if self.posterior1 is None else self.posterior1.diagnostics,
                "step 2": None if self.posterior2 is None else self.posterior2.diagnostics}

    @property
    def converged(self) -> bool:
        """Both point fits converged and, for ``method="bayes"``, both posteriors pass their
        diagnostics."""
        ok = bool(self.step1.converged and self.step2.converged)
        if self.method == "bayes":
            ok = ok and bool(self.posterior1.converged and self.posterior2.converged)
        return ok

    def interval_description(self, level: float | None = None) -> str:
        level = self.level if level is None else float(level)
        if self.kept is None:
            return "no interval (point fits only)"
        if self.method == "bayes":
            return (f"{level:.0%} posterior predictive interval for a new run's observed `{self.target}`: "
                    f"joint posterior of both steps ({int(self.kept.sum())} paired NUTS draws), "
                    "each step's likelihood noise added")
        sd1, sd2 = float(np.std(self.noise1, ddof=0)), float(np.std(self.noise2, ddof=0))
        scale = lambda f: "log " if f.law.target == "log" else ""  # noqa: E731
        return (f"{level:.0%} prediction interval for a new run's observed `{self.target}`: paired run "
                f"bootstrap of both steps ({int(self.kept.sum())}/{self.kept.size} replicates kept) plus "
                f"residual draws of each step (step 1: {scale(self.step1)}residual SD {sd1:.3g} from "
                f"{self.noise1.size} runs; step 2: {scale(self.step2)}residual SD {sd2:.3g} from "
                f"{self.noise2.size} rows; scaled by sqrt(n/(n-p)))")

    def _observe(self, step: int, mean: np.ndarray, rng) -> np.ndarray:
        """A new observation around ``mean`` (natural scale, shape (R, P)) for step 1 or 2."""
        fit = self.step1 if step == 1 else self.step2
        log = fit.law.target == "log"
        mu = np.log(mean) if log else mean
        post = self.posterior1 if step == 1 else self.posterior2
        if post is not None:
            return post.observe(mu, rng)
        pool = self.noise1 if step == 1 else self.noise2
        y = mu - rng.choice(pool, size=mu.shape)
        return np.exp(y) if log else y

    def draws(self, N, D) -> dict[str, np.ndarray]:
        """Per kept replicate/draw r and point j (shape (R, P)): ``intermediate`` (step 1's
        curve), ``target`` (the link at it), and ``intermediate_obs``/``target_obs`` (a new
        run's observations: step-1 noise added to the intermediate, the link evaluated there,
        step-2 noise added).  The noise is drawn with the fit's seed, so repeated calls agree."""
        if self.kept is None:
            raise ArgumentError("this chain has no replicates or posterior draws; fit it with num_bootstrap "
                                "or method='bayes'")
        N, D = self._points(N, D)
        x = self.step2.law.inputs[0]
        b1 = _subset(self.step1.bootstrap, self.kept)
        b2 = _subset(self.step2.bootstrap, self.kept)
        mids = b1.evaluate(self.step1.law, {"N": N, "D": D})
        # each replicate's link evaluated at that replicate's own intermediate (paired)
        ys = b2.evaluate(self.step2.law, {x: mids})
        rng = np.random.default_rng([self.seed, 16])
        mids_obs = self._observe(1, mids, rng)
        ys_obs = self._observe(2, b2.evaluate(self.step2.law, {x: mids_obs}), rng)
        return {"intermediate": mids, "target": ys, "intermediate_obs": mids_obs, "target_obs": ys_obs}

    @staticmethod
    def _points(N, D):
        N = np.atleast_1d(np.asarray(N, dtype=np.float64))
        D = np.atleast_1d(np.asarray(D, dtype=np.float64))
        return np.broadcast_arrays(N, D)

    def predict(self, N, D, level: float | None = None) -> pd.DataFrame:
        """Predict the target at (N, D): the intermediate from step 1, then the link.

        Columns: ``N``, ``D``, the intermediate (step 1's point prediction), ``prediction``
        (the link at it; ``estimate`` holds the same values, the protocol's name); with replicates or posterior draws also ``lower``/``upper``: the
        interval at ``level`` (default the fit's) for the target that a *new run* at (N, D)
        will report (parameter uncertainty of both steps and both steps' observation noise),
        ``<intermediate>_lower``/``_upper`` likewise for its intermediate,
        ``mean_lower``/``mean_upper``: the narrower interval of the chained curve alone
        (parameter uncertainty only), and ``se`` (SD of the new-run draws).
        ``extrapolation`` flags an intermediate outside the range step 2 was fitted on
        (anchor rows excluded)."""
        N, D = self._points(N, D)
        mid = self.step1.predict(N=N, D=D)["prediction"].to_numpy()
        link_in = self.step2.inputs[self.step2.law.inputs[0]]
        pred = self.step2.law.evaluate(self.step2.params, **{self.step2.law.inputs[0]: mid})
        out = pd.DataFrame({"N": N, "D": D, self.intermediate: mid, "prediction": np.asarray(pred),
                            "estimate": np.asarray(pred)})
        lo_fit, hi_fit = self.fit_range
        out["extrapolation"] = np.where(mid < lo_fit, "below fitted range of " + link_in,
                                        np.where(mid > hi_fit, "above fitted range of " + link_in, ""))
        if self.kept is not None:
            level = self.level if level is None else float(level)
            if not 0 < level < 1:
                raise ArgumentError(f"`level` = {level!r} must lie strictly between 0 and 1")
            d = self.draws(N, D)
            q = [(1 - level) / 2, 1 - (1 - level) / 2]
            out[f"{self.intermediate}_lower"], out[f"{self.intermediate}_upper"] = np.quantile(
                d["intermediate_obs"], q, axis=0)
            out["lower"], out["upper"] = np.quantile(d["target_obs"], q, axis=0)
            out["mean_lower"], out["mean_upper"] = np.quantile(d["target"], q, axis=0)
            out["se"] = np.std(d["target_obs"], axis=0, ddof=1)
            out.attrs["interval"] = self.interval_description(level)
        return out

    def _summary_text(self) -> str:
        lines = [f"chain: (N, D) -[{self.step1.law.name}]-> `{self.intermediate}` "
                 f"-[{self.step2.law.name}]-> `{self.target}`"]
        for name, f, post in (("step 1", self.step1, self.posterior1), ("step 2", self.step2, self.posterior2)):
            verdict = "converged" if f.converged else "NOT CONVERGED"
            lines.append(f"{name}: {f.law.name} on {len(f.frame)} rows, point fit {verdict}: {f.status}")
            if post is not None:
                lines.append(f"  posterior ({post.likelihood} likelihood): {post.status}")
                if name == "step 2" and self.shift2:
                    k, g = LINK_SHIFTS[f.law.name]
                    lines.append(f"  sampled with `{self.intermediate}` shifted by {self.shift2:.4g} (coordinate "
                                 f"{k}' = {k} - exp({g}) * {self.shift2:.4g}, prior {post.priors[k].describe()} on "
                                 f"{k}'), which separates the link's level from its curvature; draws mapped back")
                stated = [f"{n} ~ {post.priors[n].describe()}" for n in EXPONENTS if n in post.priors]
                if name == "step 1" and stated:
                    lines.append("  exponent priors: " + "; ".join(stated))
                if not post.converged and name == "step 1" and {"alpha", "beta"} <= set(f.free):
                    lines.append("  note: a ladder of a few sizes and token multipliers barely separates the N and D "
                                 "exponents; `overtraining` (one shared exponent) or an informative prior on beta "
                                 "(bayes_options={'step1': {'priors': {...}}}) usually samples cleanly")
            elif f.bootstrap is not None:
                lines.append(f"  bootstrap: {f.bootstrap.describe()}")
        if self.kept is not None and self.method == "bootstrap":
            lines.append(f"paired replicates kept (both steps converged): {int(self.kept.sum())}/{self.kept.size}")
        if self.kept is not None:
            lines.append("intervals: " + self.interval_description())
        if self.backtest is not None:
            lines.append(backtest_line(self.backtest))
        return "\n".join(lines)

    # ------------------------------------------------------------------ JSON
    def to_dict(self) -> dict:
        return {
            "format": FORMAT, "version": 1, "intermediate": self.intermediate, "target": self.target,
            "level": self.level, "method": self.method, "seed": int(self.seed),
            "fit_range": list(self.fit_range),
            "kept": None if self.kept is None else [bool(k) for k in self.kept],
            "noise1": None if self.noise1 is None else self.noise1.tolist(),
            "noise2": None if self.noise2 is None else self.noise2.tolist(),
            "step1": self.step1.to_dict(), "step2": self.step2.to_dict(),
            "posterior1": None if self.posterior1 is None else json.loads(self.posterior1.to_json()),
            "posterior2": None if self.posterior2 is None else json.loads(self.posterior2.to_json()),
            **({"shift2": float(self.shift2)} if self.shift2 else {}),
            "backtest": None if self.backtest is None else {
                "rows": json.loads(self.backtest.to_json(orient="records")),
                "attrs": {k: v for k, v in self.backtest.attrs.items()}},
        }

    def to_json(self, path: str | Path | None = None, *, overwrite: bool = False) -> str:
        """Serialise to JSON text; with ``path`` also write it atomically (never overwriting an
        existing file unless ``overwrite=True``).  ``scalefit report`` renders the file."""
        from ._files import atomic_write_text

        text = json.dumps(self.to_dict(), indent=1, allow_nan=False)
        if path is not None:
            atomic_write_text(path, text, overwrite=overwrite, argument="path")
        return text

    @classmethod
    def from_dict(cls, d: Mapping) -> "ChainResult":
        if not isinstance(d, Mapping) or d.get("format") != FORMAT:
            raise ArgumentError(f"not a saved scalefit chain (missing `format: {FORMAT}`)")
        post = [None, None]
        for i, key in enumerate(("posterior1", "posterior2")):
            if d.get(key):
                from .bayes import PosteriorFit

                post[i] = PosteriorFit.from_dict(d[key])
        bt = None
        if d.get("backtest"):
            bt = pd.DataFrame(d["backtest"]["rows"])
            bt.attrs.update(d["backtest"].get("attrs", {}))
        arr = lambda v: None if v is None else np.asarray(v, dtype=np.float64)  # noqa: E731
        return cls(step1=FitResult.from_dict(d["step1"]), step2=FitResult.from_dict(d["step2"]),
                   intermediate=d["intermediate"], target=d["target"], level=float(d["level"]),
                   kept=None if d.get("kept") is None else np.asarray(d["kept"], dtype=bool), backtest=bt,
                   fit_range=tuple(float(v) for v in d["fit_range"]), method=d.get("method", "point"),
                   seed=int(d.get("seed", 0)), noise1=arr(d.get("noise1")), noise2=arr(d.get("noise2")),
                   posterior1=post[0], posterior2=post[1], shift2=float(d.get("shift2", 0.0)))

    @classmethod
    def from_json(cls, source: str | Path) -> "ChainResult":
        """Load from a JSON file path or a JSON string; errors name the file."""
        from ._files import load_saved

        return load_saved(source, cls.from_dict, what="chain file")


def backtest_line(bt: pd.DataFrame) -> str:
    """One line summarising a leave-largest-rung-out backtest."""
    line = (f"backtest (largest size N={bt['N'].iloc[0]:.3g} held out, refitted on the rest): mean |relative "
            f"error| {np.mean(np.abs(bt['relative_error'])):.2%} over {len(bt)} runs")
    if "inside" in bt.columns:
        line += f"; inside their {bt.attrs.get('level', 0.9):.0%} interval: {int(bt['inside'].sum())}/{len(bt)}"
    return line


def _subset(boot, mask):
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


#: NUTS settings of ``method="bayes"`` unless ``bayes_options`` says otherwise: a higher target
#: acceptance than fit_bayes's 0.8, because ladders of 4-5 sizes leave the floor, amplitude and
#: exponent strongly correlated and the default step size then produces occasional divergences
CHAIN_NUTS = {"target_accept": 0.95, "num_warmup": 1000, "num_samples": 1000, "num_chains": 4}

#: prior of step 1's N and D exponents under ``method="bayes"`` when both are free (``chinchilla``),
#: instead of fit_bayes's LogNormal(log 0.3, 0.5): a ladder of 4-5 sizes x 3 token multipliers
#: barely separates the two exponents (measured on 3 simulated 15-run ladders, 4 x 1,000 draws:
#: min ESS 42-556 and divergences on all 3 with the wide prior; every check passed with this
#: one, min ESS 718-1,174).  95% prior range 0.18-0.49 (published language-model exponents are
#: 0.28-0.37; Gadre et al.'s shared exponent fits 0.24-0.26).  Stated in the summary; replace it
#: with ``bayes_options={"step1": {"priors": {...}}}``.  A single shared exponent
#: (``overtraining``) samples cleanly with the default prior and keeps it.
CHAIN_EXPONENT_PRIOR = ("lognormal", math.log(0.3), 0.25)
EXPONENTS = ("alpha", "beta")

#: point-fit options that fit_bayes also understands (the rest, e.g. ``loss``, are point-fit only)
_SHARED_OPTIONS = ("inputs", "fixed", "tied")


#: Links sampled on a shifted intermediate under ``method="bayes"``: law -> (level coordinate,
#: log-rate coordinate).  For Err(L) = eps - exp(log_k - exp(log_gamma) L), fitting L - c gives
#: log_k' = log_k - exp(log_gamma) c; with c just below the smallest fitted L the level is pinned
#: where the data are, not at L = 0 far outside them, so it no longer trades off against the
#: curvature.  On Gadre's RedPajama runs (32 rows) the unshifted sampler failed its diagnostics at
#: target acceptance 0.95 (R-hat 1.021, min ESS 113, 14 divergences); shifted, the chain's step 2
#: passed on all three training sets (R-hat <= 1.003, min ESS 716-1,437, no divergence; seeds 0-1),
#: in half the time of acceptance 0.99, which also passed on RedPajama (R-hat 1.007, ESS 757).
LINK_SHIFTS = {"error_link": ("log_k", "log_gamma")}


def link_shift_values(law_name: str, coords: Mapping[str, np.ndarray], shift: float) -> dict[str, np.ndarray]:
    """Coordinates of a link sampled on (intermediate - ``shift``) mapped back to the law's own
    (and the reverse with ``-shift``): only the level coordinate changes."""
    out = {k: np.asarray(v, dtype=np.float64) for k, v in coords.items()}
    if shift and law_name in LINK_SHIFTS:
        level, rate = LINK_SHIFTS[law_name]
        out[level] = out[level] + np.exp(out[rate]) * shift
    return out


def _posterior_as_replicates(post, point: FitResult, shift: float = 0.0) -> BootstrapResult:
    """Posterior draws in the replicate container, so that both interval methods share one
    paired evaluation (draw s of each step in row s); ``shift``: step 2 was sampled on the
    intermediate minus ``shift`` (:data:`LINK_SHIFTS`)."""
    coords = link_shift_values(point.law.name, post.coordinate_draws(), shift)
    draws = np.column_stack([np.asarray(coords[n], dtype=np.float64) for n in point.law.param_names])
    S = draws.shape[0]
    return BootstrapResult(names=tuple(point.law.param_names), draws=draws, objective=np.full(S, np.nan),
                           converged=np.ones(S, dtype=bool), method="posterior", cluster=None,
                           seed=int(post.metadata.get("seed", 0)), level=0.9, start="posterior")


@renamed_args(n_replicates="num_bootstrap")
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
    method: str = "bootstrap",
    num_bootstrap: int = 0,
    seed: int = 0,
    level: float = 0.9,
    max_dropped: float = MAX_DROPPED,
    backtest: bool = False,
    step1_options: Mapping[str, Any] | None = None,
    step2_options: Mapping[str, Any] | None = None,
    bayes_options: Mapping[str, Any] | None = None,
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
    method
        ``"bootstrap"``: intervals from ``num_bootstrap`` paired run-bootstrap replicates plus
        each step's residual noise (0 replicates: point fits only).  Runs are resampled with
        replacement once per replicate and both steps refitted with that draw.  More than
        ``max_dropped`` of the replicates failing in either step raises
        :class:`~scalefit.errors.ConvergenceError`.
        ``"bayes"``: NUTS posteriors of both steps (:func:`scalefit.bayes.fit_bayes`, settings
        :data:`CHAIN_NUTS` updated by ``bayes_options``); intervals are posterior predictive;
        ``result.diagnostics`` and ``result.converged`` report both samplers' checks.
    backtest
        Also refit without the largest model size (all runs with the largest ``N``) by the same
        method and predict those runs' final target: ``result.backtest`` with the relative
        error and, with intervals, whether each run is ``inside`` its interval.
    step1_options, step2_options
        Extra keyword arguments of :func:`scalefit.fit_law` for each step (``inputs``,
        ``fixed`` and ``tied`` also apply to the Bayesian fit).
    bayes_options
        Extra keyword arguments of :func:`scalefit.bayes.fit_bayes` for both steps (NUTS
        settings, ``likelihood``...); keys ``"step1"``/``"step2"`` hold a mapping for one step
        only, e.g. ``{"step1": {"priors": {"beta": Prior.lognormal(math.log(0.3), 0.2)}}}``.
    num_bootstrap
        Replicates of ``method="bootstrap"`` (deprecated name: ``n_replicates``).

    Examples
    --------
    >>> # res = fit_chain(frame, "chinchilla", "sigmoid", intermediate="task_loss", target="acc",
    >>> #                 anchor={"task_loss": 0.0, "acc": 1.0}, num_bootstrap=1000)
    >>> # res.predict(N=7e9, D=4e12)
    """
    if not isinstance(frame, pd.DataFrame):
        raise ArgumentError(f"`frame` must be a DataFrame, got {type(frame).__name__}")
    for name, col in (("run", run), ("intermediate", intermediate), ("target", target)):
        if col not in frame.columns:
            raise ArgumentError(f"`{name}` column `{col}` is not in the data "
                                f"(columns: {', '.join(map(str, frame.columns))})")
    if method not in CHAIN_METHOD_NAMES:
        raise ArgumentError(f"`method` = {method!r} must be one of {', '.join(CHAIN_METHOD_NAMES)}")
    n_replicates = num_bootstrap
    if not isinstance(n_replicates, (int, np.integer)) or n_replicates < 0 or n_replicates == 1:
        raise ArgumentError(f"`num_bootstrap` = {n_replicates!r} must be 0 or an integer >= 2")
    if not 0 < level < 1:
        raise ArgumentError(f"`level` = {level!r} must lie strictly between 0 and 1")
    frame = frame.assign(**{run: frame[run].astype(str)})
    anchor_df = _anchor_rows(anchor, intermediate, target, run)
    rows1, fit1, data2, fit2 = _fit_pair(frame, step1, step2, intermediate, target, run, anchor_df, last,
                                         step1_options, step2_options)
    anchor_mask = data2[run].str.startswith("__anchor").to_numpy()
    observed = data2.loc[~anchor_mask, intermediate]
    fit_range = (float(observed.min()), float(observed.max()))
    common = dict(step1=fit1, step2=fit2, intermediate=intermediate, target=target, level=float(level),
                  fit_range=fit_range, seed=int(seed))

    if method == "bayes":
        res = _bayes_chain(common, rows1, data2, anchor_mask, intermediate, target, seed,
                           step1_options, step2_options, bayes_options)
    elif n_replicates:
        runs = pd.unique(data2.loc[~anchor_mask, run])
        missing = sorted(set(rows1[run].astype(str)) - set(runs))
        if missing:
            raise ArgumentError(f"run `{missing[0]}` has a step-1 row but no step-2 rows; it cannot be paired")
        rng = np.random.default_rng(seed)
        k = len(runs)
        counts = rng.multinomial(k, np.full(k, 1.0 / k), size=int(n_replicates)).astype(np.float64)
        pos = {r: i for i, r in enumerate(runs)}
        W1 = counts[:, [pos[r] for r in rows1[run].astype(str)]]
        W2 = np.ones((int(n_replicates), len(data2)))
        W2[:, ~anchor_mask] = counts[:, [pos[r] for r in data2.loc[~anchor_mask, run]]]
        b1 = bootstrap(fit1, weights=W1, level=level, seed=seed, max_dropped=max_dropped)
        b2 = bootstrap(fit2, weights=W2, level=level, seed=seed, max_dropped=max_dropped,
                       fixed_rows=anchor_mask if anchor_mask.any() else None)
        kept = b1.bootstrap.converged & b2.bootstrap.converged
        if (~kept).sum() > max_dropped * kept.size:
            raise ConvergenceError(
                f"chain bootstrap: only {int(kept.sum())}/{kept.size} replicates converged in both steps "
                f"(step 1: {b1.bootstrap.describe()}; step 2: {b2.bootstrap.describe()})")
        res = ChainResult(**{**common, "step1": b1, "step2": b2}, kept=kept, method="bootstrap",
                          noise1=residual_pool(fit1), noise2=residual_pool(fit2, exclude=anchor_mask))
    else:
        res = ChainResult(**common)

    if backtest:
        bt = _backtest(frame, step1, step2, intermediate=intermediate, target=target, run=run, anchor=anchor,
                       last=last, method=method, n_replicates=n_replicates, seed=seed, level=level,
                       max_dropped=max_dropped, step1_options=step1_options, step2_options=step2_options,
                       bayes_options=bayes_options)
        res = replace(res, backtest=bt)
    return res


def _bayes_chain(common, rows1, data2, anchor_mask, intermediate, target, seed, o1, o2, ob) -> ChainResult:
    from .bayes import fit_bayes

    fit1, fit2 = common["step1"], common["step2"]
    ob = dict(ob or {})
    per_step = [dict(ob.pop(k, None) or {}) for k in ("step1", "step2")]
    opts = {**CHAIN_NUTS, **ob}
    opts.pop("seed", None)
    opts1, opts2 = {**opts, **per_step[0]}, {**opts, **per_step[1]}
    from .params import Prior

    priors1 = dict(opts1.get("priors") or {})
    if all(n in fit1.free for n in EXPONENTS):
        for name in EXPONENTS:
            priors1.setdefault(name, Prior.lognormal(*CHAIN_EXPONENT_PRIOR[1:]))
    opts1["priors"] = priors1
    shared1 = {k: v for k, v in dict(o1 or {}).items() if k in _SHARED_OPTIONS}
    shared2 = {k: v for k, v in dict(o2 or {}).items() if k in _SHARED_OPTIONS}
    shared2.setdefault("inputs", dict(fit2.inputs))
    post1 = fit_bayes(rows1, fit1.law, target=intermediate, init=fit1, seed=int(seed), **shared1, **opts1)
    # anchor rows are exact constraints of the link, not noisy observations: they stay in the
    # point fit that starts the sampler but the likelihood sees the observed rows only
    rows2 = data2.loc[~anchor_mask].reset_index(drop=True)
    init2, shift2 = fit2, 0.0
    x = fit2.law.inputs[0]
    col = dict(fit2.inputs).get(x, x)
    if fit2.law.name in LINK_SHIFTS and col in rows2.columns:
        lo, hi = float(rows2[col].min()), float(rows2[col].max())
        shift2 = lo - 0.05 * (hi - lo) if hi > lo else 0.0  # keeps every shifted value positive
        if shift2 > 0:
            rows2 = rows2.assign(**{col: rows2[col] - shift2})
            init2 = {k: float(v[0]) for k, v in
                     link_shift_values(fit2.law.name, {k: np.atleast_1d(fit2.params[k]) for k in fit2.law.param_names},
                                       -shift2).items()}
        else:
            shift2 = 0.0
    post2 = fit_bayes(rows2, fit2.law, target=target, init=init2, seed=int(seed) + 1, **shared2, **opts2)
    if post1.num_draws != post2.num_draws:  # pragma: no cover - same settings give the same count
        raise ArgumentError("the two steps' posteriors have different numbers of draws")
    f1 = replace(fit1, bootstrap=_posterior_as_replicates(post1, fit1))
    f2 = replace(fit2, bootstrap=_posterior_as_replicates(post2, fit2, shift2))
    return ChainResult(**{**common, "step1": f1, "step2": f2}, kept=np.ones(post1.num_draws, dtype=bool),
                       method="bayes", posterior1=post1, posterior2=post2, shift2=shift2)


def _backtest(frame, step1, step2, *, intermediate, target, run, anchor, last, method, n_replicates, seed,
              level, **kw) -> pd.DataFrame:
    """Refit without the largest model size by the same method and predict its runs' final target."""
    top = frame["N"].max()
    held = frame[frame["N"] == top]
    train = frame[frame["N"] < top]
    if train["N"].nunique() < 2:
        raise ArgumentError("the leave-largest-rung-out backtest needs at least 2 smaller model sizes")
    part = fit_chain(train, step1, step2, intermediate=intermediate, target=target, run=run, anchor=anchor,
                     last=last, method=method, num_bootstrap=n_replicates, seed=seed, level=level, **kw)
    fin = _final_rows(held.dropna(subset=[target]), run, target, last)
    pred = part.predict(fin["N"].to_numpy(), fin["D"].to_numpy())
    out = pd.DataFrame({run: fin[run].to_numpy(), "N": fin["N"].to_numpy(), "D": fin["D"].to_numpy(),
                        "observed": fin[target].to_numpy(), "prediction": pred["prediction"].to_numpy()})
    out["relative_error"] = out["prediction"] / out["observed"] - 1.0
    if "lower" in pred.columns:
        out["lower"], out["upper"] = pred["lower"].to_numpy(), pred["upper"].to_numpy()
        out["inside"] = (out["lower"] <= out["observed"]) & (out["observed"] <= out["upper"])
    out.attrs["converged"] = bool(part.converged)
    out.attrs["level"] = float(level)
    return out
