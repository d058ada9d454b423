"""A minimal saved best-of-N prediction (``"format": "scalefit.report.BestOfNCurve"``) and its
report renderer.

This format is provisional: it lets ``scalefit report`` show ASR@N / pass@N predictions made
with the existing numerics (:mod:`scalefit.sampling`) until the best-of-N model layer defines
its own saved fit; that fit's format only needs a renderer registered with
:func:`scalefit.report.register_renderer` (it can reuse :func:`render_bon_sections`).

Record layout (version 1; JSON, every array a list of numbers)::

    format        "scalefit.report.BestOfNCurve"
    version       1
    title         str                      heading of the report section
    metric        "ASR" | "pass"           axis/label wording (ASR@N or pass@N)
    estimator     str                      what ``curve`` is (e.g. "exact conditional (SABER)")
    level         float                    interval level, e.g. 0.95
    interval_method str                    how ``lower``/``upper`` were obtained
    model         {name, a, b, se_a, se_b, loglik, converged, message, n_items}
    data          {n_items, attempts_min, attempts_max, observed_rate, source, data_hash}
    curve         {N, prediction, lower, upper}          prediction on a budget grid (N >= attempts)
    model_curve   {N, prediction}                        fitted population curve (optional)
    observed      {N, value, lower, upper}               empirical pass@k for k <= attempts (optional)
    targets       [{N, prediction, lower, upper}]        predictions at requested budgets
    budget        {target, N, lower, upper, note} | null budget reaching ``target``
    backtest      {fit_attempts, rows: [{N, predicted, lower, upper, empirical}]} | null
    converged     bool
    warnings      [str]
    metadata      {versions, seed, data_hash, data_source, command}

:func:`make_bon_curve` builds such a record from per-problem counts (n_i, k_i).
"""

from __future__ import annotations

import hashlib
import json
import math
import platform
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from .._files import atomic_write_text
from ..fit.result import _clean
from ..errors import ArgumentError
from ..plots import plot_backtest, plot_sampling_curve
from ..plots._style import fmt_factor, fmt_num
from ._layout import Flow
from ._registry import RenderContext, Section, register_renderer

FORMAT = "scalefit.report.BestOfNCurve"
VERSION = 1
EXTRAPOLATION_WARN = 10.0


# ============================================================================ building a record
def _versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for pkg in ("scalefit", "jax", "numpy", "scipy", "pandas"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:  # pragma: no cover
            pass
    return out


def _counts_hash(n: np.ndarray, k: np.ndarray) -> str:
    text = "n,k\n" + "".join(f"{a},{b}\n" for a, b in zip(n.tolist(), k.tolist()))
    return hashlib.sha256(text.encode()).hexdigest()


def _log_draws(fit, num_samples: int, rng) -> np.ndarray:
    """Draws of (a, b) from the asymptotic normal of the MLE of (log a, log b)."""
    a, b = fit.a, fit.b
    cov = np.asarray(fit.cov, dtype=np.float64)
    if not np.all(np.isfinite(cov)):
        raise ArgumentError("the Beta-Binomial fit has no finite covariance; an interval cannot be formed")
    J = np.diag([1.0 / a, 1.0 / b])
    cov_log = J @ cov @ J
    z = rng.multivariate_normal(np.log([a, b]), cov_log, size=int(num_samples), method="eigh")
    return np.exp(z)


def _crossing(N: np.ndarray, curve: np.ndarray, tau: float) -> float:
    """Smallest N (log-linear interpolation) where a non-decreasing curve reaches tau; inf if never."""
    above = np.flatnonzero(curve >= tau)
    if above.size == 0:
        return math.inf
    j = int(above[0])
    if j == 0:
        return float(N[0])
    x0, x1 = np.log(N[j - 1]), np.log(N[j])
    y0, y1 = curve[j - 1], curve[j]
    t = 0.0 if y1 == y0 else (tau - y0) / (y1 - y0)
    return float(np.exp(x0 + t * (x1 - x0)))


def _conditional_band(N, n, k, fit, draws, level):
    from ..sampling import asr_conditional

    pred = np.atleast_1d(asr_conditional(N, n, k, fit.a, fit.b))
    reps = np.stack([np.atleast_1d(asr_conditional(N, n, k, a, b)) for a, b in draws])
    lo, hi = np.quantile(reps, [(1 - level) / 2, 1 - (1 - level) / 2], axis=0)
    return pred, lo, hi, reps


def _heldout_rate(n, k, k_m, m: int, N: int) -> float:
    """Rate of the run continued from the kept m attempts to N, from the held-out attempts: an
    item solved in the kept ones counts 1, else the unbiased chance that N - m of its n - m other
    attempts hold one of its k - k_m other successes."""
    from ..sampling import pass_at_k

    extra = int(N) - m
    hit = (k_m > 0).astype(float) if extra == 0 else np.where(
        k_m > 0, 1.0, pass_at_k(n - m, k - k_m, np.full(n.shape, extra)))
    return float(np.mean(hit))


def _backtest_budgets(backtest_N, m: int, n_min: int) -> np.ndarray:
    """Budgets of an external backtest fitted on m attempts: ``backtest_N`` (checked to lie in
    [m, n_min]) or six log-spaced budgets from 2m to n_min."""
    if backtest_N is None:
        return np.unique(np.round(np.geomspace(2 * m, n_min, 6)).astype(np.int64))
    bt_N = np.asarray(sorted(int(v) for v in backtest_N), dtype=np.int64)
    if bt_N.min() < m or bt_N.max() > n_min:
        raise ArgumentError(f"`backtest_N` must lie in [{m}, {n_min}]")
    return bt_N


def _record_warnings(converged: bool, what: str, message: str, tg, n_max: int, backtest, level: float) -> list[str]:
    warns = []
    if not converged:
        warns.append(f"NOT CONVERGED: the {what} fit did not converge ({message}).")
    if tg.size and tg.max() / n_max > EXTRAPOLATION_WARN:
        warns.append(f"Extrapolation {fmt_factor(tg.max() / n_max)} beyond the observed {n_max} attempts per problem "
                     f"(more than {EXTRAPOLATION_WARN:.0f}×): the prediction relies on the {what} model of "
                     "per-problem success rates holding in its low-probability tail.")
    if backtest is not None:
        bad = [r for r in backtest["rows"] if not (r["lower"] <= r["empirical"] <= r["upper"])]
        if bad:
            warns.append(f"Backtest: {len(bad)} of {len(backtest['rows'])} held-out values fall outside the "
                         f"{level:.0%} interval (N = {', '.join(str(r['N']) for r in bad)}).")
    return warns


def _record_metadata(seed: int, n, k, source, command) -> dict:
    return {"versions": _versions(), "seed": int(seed), "data_hash": _counts_hash(n, k), "data_source": source,
            "command": command}


def make_bon_curve(n, k, *, targets: Sequence[float] = (1000,), budget_target: float | None = None,
                   N_max: float | None = None, level: float = 0.95, num_samples: int = 400, seed: int = 0,
                   backtest_attempts: int | None = None, backtest_N: Sequence[int] | None = None,
                   metric: str = "ASR", title: str | None = None, source: str | None = None,
                   command: str | None = None) -> dict:
    """Predict ASR@N / pass@N from per-problem counts and return a report record.

    Uses only existing numerics: the Beta-Binomial MLE (:func:`scalefit.sampling.fit_beta_binomial`),
    the exact conditional estimator for the observed problems
    (:func:`scalefit.sampling.asr_conditional`), the exact population curve
    (:func:`scalefit.sampling.asr_exact`) and unbiased pass@k with a bootstrap over problems
    for the observed points (:func:`scalefit.sampling.pass_at_k_interval`).  Intervals come
    from ``num_samples`` draws of (log a, log b) from the MLE's asymptotic normal distribution,
    each pushed through the estimator.

    Parameters
    ----------
    n, k : array_like of int
        Attempts and successes per problem.
    targets : sequence of float
        Budgets N (>= the largest n_i) at which to report the prediction.
    budget_target : float, optional
        Success rate whose budget N should be reported (e.g. 0.9).
    backtest_attempts : int, optional
        Backtest: keep a random ``m`` of each problem's attempts (hypergeometric thinning of the
        counts), predict ASR@N for N in ``backtest_N`` (default: up to min n_i) from them, and
        compare with what the held-out attempts show (unbiased, given the kept attempts).
    metric : {"ASR", "pass"}
        Wording only.

    Returns
    -------
    dict
        A ``scalefit.report.BestOfNCurve`` record (see the module docstring); save it with
        :func:`save_bon_curve`.
    """
    from ..sampling import asr_exact, fit_beta_binomial, pass_at_k_interval

    n = np.atleast_1d(np.asarray(n)).astype(np.int64)
    k = np.atleast_1d(np.asarray(k)).astype(np.int64)
    if n.size == 1 and k.size > 1:
        n = np.full(k.shape, int(n[0]))
    if metric not in ("ASR", "pass"):
        raise ArgumentError(f"`metric` = {metric!r} must be 'ASR' or 'pass'")
    if not 0 < level < 1:
        raise ArgumentError(f"`level` = {level!r} must lie strictly between 0 and 1")
    fit = fit_beta_binomial(n, k)
    if fit.at_boundary or not np.isfinite(fit.a):
        raise ArgumentError(f"the Beta-Binomial fit is on the boundary ({fit.message}); no prediction is possible")
    n_max, n_min = int(n.max()), int(n.min())
    tg = np.asarray(sorted(float(t) for t in targets), dtype=np.float64)
    if tg.size and tg.min() < n_max:
        raise ArgumentError(f"`targets` must be >= the largest observed attempts {n_max}; got {tg.min():g}")
    hi = float(N_max) if N_max else max(float(tg.max()) * 3 if tg.size else 0.0, n_max * 100.0)
    rng = np.random.default_rng(seed)
    draws = _log_draws(fit, num_samples, rng)

    grid = np.unique(np.concatenate([np.geomspace(n_max, hi, 90), tg]))
    pred, lo, up, reps = _conditional_band(grid, n, k, fit, draws, level)
    model_N = np.geomspace(1.0, hi, 120)
    model = np.asarray(asr_exact(model_N, fit.a, fit.b))

    ks = np.unique(np.round(np.geomspace(1, n_min, min(n_min, 24))).astype(np.int64))
    obs = pass_at_k_interval(n, k, ks, level=level, num_samples=2000, seed=seed)

    target_rows = []
    for t in tg:
        j = int(np.flatnonzero(grid == t)[0])
        target_rows.append({"N": float(t), "prediction": float(pred[j]), "lower": float(lo[j]),
                            "upper": float(up[j]), "population": float(asr_exact(t, fit.a, fit.b))})

    budget = None
    if budget_target is not None:
        tau = float(budget_target)
        if not 0 < tau < 1:
            raise ArgumentError(f"`budget_target` = {tau!r} must lie strictly between 0 and 1")
        if float(np.max(obs.estimate)) >= tau:
            bN = _crossing(ks.astype(float), np.asarray(obs.estimate), tau)
            bl = _crossing(ks.astype(float), np.asarray(obs.upper), tau)
            bu = _crossing(ks.astype(float), np.asarray(obs.lower), tau)
            note = "reached within the observed attempts (interpolated unbiased pass@k)"
        else:
            bN = _crossing(grid, pred, tau)
            per = np.array([_crossing(grid, r, tau) for r in reps])
            bl, bu = (float(v) for v in np.quantile(per, [(1 - level) / 2, 1 - (1 - level) / 2]))
            note = "conditional estimator; interval from the same parameter draws"
            if not np.isfinite(bN):
                note += f"; not reached by N = {fmt_num(hi, 3)}"
        budget = {"target": tau, "N": bN, "lower": bl, "upper": bu, "note": note}

    backtest = None
    if backtest_attempts is not None:
        m = int(backtest_attempts)
        if not 1 <= m < n_min:
            raise ArgumentError(f"`backtest_attempts` = {m} must be in [1, {n_min - 1}] (fewer than every n_i)")
        k_m = rng.hypergeometric(k, n - k, m)
        fit_m = fit_beta_binomial(np.full(n.shape, m), k_m)
        if fit_m.at_boundary or not np.isfinite(fit_m.a):
            raise ArgumentError(f"the backtest fit on {m} attempts is on the boundary ({fit_m.message})")
        bt_N = _backtest_budgets(backtest_N, m, n_min)
        draws_m = _log_draws(fit_m, num_samples, rng)
        p_m, lo_m, up_m, _ = _conditional_band(bt_N.astype(float), np.full(n.shape, m), k_m, fit_m, draws_m, level)
        rows = [{"N": int(NN), "predicted": float(p_m[j]), "lower": float(lo_m[j]), "upper": float(up_m[j]),
                 "empirical": _heldout_rate(n, k, k_m, m, NN)} for j, NN in enumerate(bt_N)]
        backtest = {"fit_attempts": m, "model": {"a": fit_m.a, "b": fit_m.b}, "rows": rows}

    warns = _record_warnings(fit.converged, "Beta-Binomial", fit.message, tg, n_max, backtest, level)
    md = _record_metadata(seed, n, k, source, command)
    obs_rate = float(np.mean(k > 0))
    return _clean({
        "format": FORMAT, "version": VERSION,
        "title": title or f"Best-of-N prediction ({metric}@N)",
        "metric": metric,
        "estimator": "exact conditional estimator for the observed problems (SABER; docs/best_of_n.md#saber-estimators)",
        "level": float(level),
        "interval_method": (f"{num_samples} draws of (log a, log b) from the asymptotic normal distribution of the "
                            "Beta-Binomial MLE, each pushed through the estimator; percentile interval"),
        "model": {"name": "beta-binomial", "a": fit.a, "b": fit.b, "se_a": fit.se_a, "se_b": fit.se_b,
                  "loglik": fit.loglik_full, "converged": bool(fit.converged), "message": fit.message,
                  "n_items": int(fit.n_items)},
        "data": {"n_items": int(n.size), "attempts_min": n_min, "attempts_max": n_max, "observed_rate": obs_rate,
                 "source": source, "data_hash": md["data_hash"]},
        "curve": {"N": grid.tolist(), "prediction": pred.tolist(), "lower": lo.tolist(), "upper": up.tolist()},
        "model_curve": {"N": model_N.tolist(), "prediction": model.tolist()},
        "observed": {"N": ks.astype(float).tolist(), "value": np.asarray(obs.estimate).tolist(),
                     "lower": np.asarray(obs.lower).tolist(), "upper": np.asarray(obs.upper).tolist()},
        "targets": target_rows,
        "budget": budget,
        "backtest": backtest,
        "converged": bool(fit.converged),
        "warnings": warns,
        "metadata": md,
    })


def bon_record(bon, *, targets: Sequence[float] = (1000,), budget_target: float | None = None,
               N_max: float | None = None, level: float = 0.9, num_bootstrap: int = 200, seed: int | None = None,
               target: str = "fresh", backtest_attempts: int | None = None, backtest_N: Sequence[int] | None = None,
               metric: str = "pass", title: str | None = None, source: str | None = None,
               command: str | None = None) -> dict:
    """Report record (``scalefit.report.BestOfNCurve``, version 2) from scalefit's default
    best-of-N model, a :class:`scalefit.sampling.BonFit`.

    The curve, targets and budget come from :meth:`BonFit.predict` / :meth:`BonFit.budget`
    (intervals: bootstrap over items with the whole procedure, model choice included, refitted;
    ``num_bootstrap`` replicates, seeded); the record also carries the internal-backtest table
    that chose the model.  ``backtest_attempts`` adds an external backtest: keep a random m of
    each item's attempts (hypergeometric thinning), rerun the whole procedure on them and predict
    the rate of the same run continued to N <= min n_i, against what the held-out attempts show.
    Everything else as :func:`make_bon_curve`.
    """
    from ..sampling import fit_bon, pass_at_k_interval

    if metric not in ("ASR", "pass"):
        raise ArgumentError(f"`metric` = {metric!r} must be 'ASR' or 'pass'")
    if not 0 < level < 1:
        raise ArgumentError(f"`level` = {level!r} must lie strictly between 0 and 1")
    seed = int(bon.seed if seed is None else seed)
    d = bon.data
    n, k = np.asarray(d.n, np.int64), np.asarray(d.k, np.int64)
    att = np.asarray(d.attempts, float)
    n_max, n_min = int(att.max()), int(att.min())
    tg = np.asarray(sorted(float(t) for t in targets), dtype=np.float64)
    if tg.size and tg.min() < 1:
        raise ArgumentError(f"`targets` must be budgets >= 1; got {tg.min():g}")
    hi = float(N_max) if N_max else max(float(tg.max()) * 3 if tg.size else 0.0, n_max * 100.0)
    # forecasts hold at any N >= 1 (ragged budgets: some items got more attempts than a target)
    grid = np.unique(np.concatenate([np.geomspace(min(n_max, tg.min()) if tg.size else n_max, hi, 40), tg]))
    fc = bon.predict(grid, target=target, level=level, num_bootstrap=num_bootstrap, seed=seed)
    pred, lo, up = fc.estimate, fc.lower, fc.upper
    model_N = np.geomspace(1.0, hi, 120)
    fit = bon.fit
    population = np.asarray(fit.population(model_N))

    plain = bool(np.all(d.extra == 0))
    obs = None
    if plain and n_min >= 1:
        ks = np.unique(np.round(np.geomspace(1, n_min, min(n_min, 24))).astype(np.int64))
        iv = pass_at_k_interval(n, k, ks, level=level, num_samples=2000, seed=seed)
        obs = {"N": ks.astype(float).tolist(), "value": np.asarray(iv.estimate).tolist(),
               "lower": np.asarray(iv.lower).tolist(), "upper": np.asarray(iv.upper).tolist()}

    target_rows = []
    for t in tg:
        j = int(np.flatnonzero(grid == t)[0])
        target_rows.append({"N": float(t), "prediction": float(pred[j]), "lower": float(lo[j]),
                            "upper": float(up[j]), "population": float(fit.population(t))})

    budget = None
    if budget_target is not None:
        tau = float(budget_target)
        if not 0 < tau < 1:
            raise ArgumentError(f"`budget_target` = {tau!r} must lie strictly between 0 and 1")
        if obs is not None and float(np.max(obs["value"])) >= tau:
            N_obs = np.asarray(obs["N"])
            budget = {"target": tau, "N": _crossing(N_obs, np.asarray(obs["value"]), tau),
                      "lower": _crossing(N_obs, np.asarray(obs["upper"]), tau),
                      "upper": _crossing(N_obs, np.asarray(obs["lower"]), tau),
                      "note": "reached within the observed attempts (interpolated unbiased pass@k)"}
        else:
            bf = bon.budget([tau], target=target, level=level, num_bootstrap=num_bootstrap, seed=seed).table.iloc[0]
            budget = {"target": tau, "N": float(bf["estimate"]), "lower": float(bf["lower"]),
                      "upper": float(bf["upper"]),
                      "note": f"{fit.model} model; interval from the same {num_bootstrap} bootstrap replicates "
                              "(expected rate: parameter and model-choice uncertainty)"}

    backtest = None
    if backtest_attempts is not None:
        m = int(backtest_attempts)
        if not plain:
            raise ArgumentError("`backtest_attempts` needs plain counts (no censored sample-until-success items)")
        if not 1 <= m < n_min:
            raise ArgumentError(f"`backtest_attempts` = {m} must be in [1, {n_min - 1}] (fewer than every n_i)")
        rng = np.random.default_rng([seed, 7])
        k_m = rng.hypergeometric(k, n - k, m)
        bt_N = _backtest_budgets(backtest_N, m, n_min)
        # the whole default procedure (candidates, internal backtest, choice) on the kept attempts
        bon_m = fit_bon(np.full(n.shape, m), k_m, model=bon.model if bon.selection != "auto" else "auto",
                        candidates=bon.candidates, fraction=bon.fraction, repeats=bon.repeats, seed=seed)
        fm = bon_m.predict(bt_N.astype(float), target="continued", level=level, num_bootstrap=num_bootstrap, seed=seed)
        rows = [{"N": int(NN), "predicted": float(fm.estimate[j]), "lower": float(fm.lower[j]),
                 "upper": float(fm.upper[j]), "empirical": _heldout_rate(n, k, k_m, m, NN)}
                for j, NN in enumerate(bt_N)]
        backtest = {"fit_attempts": m, "model": {"name": bon_m.model, **bon_m.fit.params}, "rows": rows}

    warns = _record_warnings(fit.converged, fit.model, fit.message, tg, n_max, backtest, level)
    md = _record_metadata(seed, n, k, source, command)
    scores = bon.scores.to_dict(orient="records")
    return _clean({
        "format": FORMAT, "version": 2,
        "title": title or f"Best-of-N prediction ({metric}@N)",
        "metric": metric,
        "estimator": (f"scalefit default: {fit.model} model of per-problem success rates, chosen by an internal "
                      f"backtest ({'fresh run of N attempts' if target == 'fresh' else 'observed attempts count towards N'})"),
        "level": float(level),
        "interval_method": (f"{fc.num_bootstrap} bootstrap resamples of the problems, every candidate refitted and the "
                            "model re-chosen in each; realised rate of the forecast run; percentile interval"),
        "model": {"name": fit.model, "description": fit.description, "params": dict(fit.params),
                  "loglik": fit.loglik, "converged": bool(fit.converged), "message": fit.message,
                  "n_items": int(fit.n_items), "reason": bon.reason, "selection": bon.selection,
                  "choice_share": fc.choice_share, "scores": scores},
        "data": {"n_items": int(n.size), "attempts_min": n_min, "attempts_max": n_max,
                 "observed_rate": bon.observed_rate, "source": source, "data_hash": md["data_hash"]},
        "curve": {"N": grid.tolist(), "prediction": np.asarray(pred).tolist(), "lower": np.asarray(lo).tolist(),
                  "upper": np.asarray(up).tolist()},
        "model_curve": {"N": model_N.tolist(), "prediction": population.tolist()},
        "observed": obs,
        "targets": target_rows,
        "budget": budget,
        "backtest": backtest,
        "converged": bool(fit.converged),
        "warnings": warns,
        "metadata": md,
    })


def save_bon_curve(record: Mapping, path: str | Path, *, overwrite: bool = False) -> Path:
    """Write a record as JSON (atomically; never over an existing file unless ``overwrite``)."""
    text = json.dumps(_clean(dict(record)), indent=1, allow_nan=False)
    return atomic_write_text(path, text, overwrite=overwrite, argument="path")


# ============================================================================ rendering
_REQUIRED = ("metric", "level", "model", "data", "curve", "targets")


def _f(v) -> float:
    return float("nan") if v is None else float(v)


def _interp_targets(curve: pd.DataFrame, requested: Sequence[float]) -> list[dict]:
    N = curve["N"].to_numpy(float)
    out = []
    for t in requested:
        if not (N.min() <= t <= N.max()):
            raise ArgumentError(f"target N = {t:g} lies outside the saved curve's range "
                                f"[{fmt_num(N.min(), 3)}, {fmt_num(N.max(), 3)}]; rebuild the record with it")
        x = np.log(N)
        row = {"N": float(t)}
        for c in ("prediction", "lower", "upper"):
            if c in curve:
                row[c] = float(np.interp(np.log(t), x, curve[c].to_numpy(float)))
        out.append(row)
    return out


def _model_words(model: Mapping) -> str:
    return str(model.get("name")) if "params" in model else "Beta-Binomial"


def render_bon_sections(record: Mapping, ctx: RenderContext) -> Section:
    """Renderer for ``scalefit.report.BestOfNCurve`` records."""
    missing = [key for key in _REQUIRED if key not in record]
    if missing:
        raise ArgumentError(f"'{ctx.source}': best-of-N record lacks field(s) {missing}")
    metric = str(record["metric"])
    name = f"{metric}@N"
    level = float(record["level"])
    model = record["model"]
    data = record["data"]
    curve = pd.DataFrame({k_: [_f(v) for v in vals] for k_, vals in record["curve"].items()})
    targets = [dict(t) for t in record.get("targets") or []]
    requested = [t["N"] for t in ctx.targets if set(t) == {"N"}]
    if requested:
        targets = _interp_targets(curve, requested) + [t for t in targets if t["N"] not in requested]
    tdf = pd.DataFrame(targets) if targets else pd.DataFrame(columns=["N", "prediction", "lower", "upper"])
    budget = record.get("budget")
    backtest = record.get("backtest")
    n_max = int(data.get("attempts_max") or 0)
    warns = list(record.get("warnings") or [])
    if requested and n_max and max(requested) / n_max > EXTRAPOLATION_WARN and not any("Extrapolation" in w for w in warns):
        warns.append(f"Extrapolation {fmt_factor(max(requested) / n_max)} beyond the observed {n_max} attempts "
                     "per problem (more than 10×).")
    converged = bool(record.get("converged", model.get("converged", True)))
    banner = None if converged else f"NOT CONVERGED: {model.get('message', 'the model fit did not converge')}."
    checks = []
    if converged:
        checks.append(f"{_model_words(model)} fit converged: {model.get('message', '')}")
    if backtest and not any(w.startswith("Backtest") for w in warns):
        checks.append(f"backtest: every held-out value lies inside its {level:.0%} interval")
    if targets and n_max and max(t["N"] for t in targets) / n_max <= EXTRAPOLATION_WARN:
        checks.append("extrapolation at most 10× the observed attempts")

    from pathlib import Path as _P

    short = ctx.source if ctx.source.startswith("<") else _P(ctx.source).name
    title = f"{record.get('title') or 'Best-of-N prediction'} ({short})"
    flow = Flow(section=title, banner=banner)
    flow.new_page("Best-of-N: model, predictions and budget")
    flow.heading(record.get("title") or "Best-of-N prediction")
    flow.paragraph(f"Estimator: {record.get('estimator', 'not recorded')}. Intervals: "
                   f"{record.get('interval_method', 'not recorded')} ({level:.0%}).", size=9)
    flow.heading("Model", level=2)
    if "params" in model:  # scalefit's default model (version 2 records)
        flow.table(pd.DataFrame([{"parameter": k_, "estimate": fmt_num(v, 5)} for k_, v in model["params"].items()]),
                   note=f"{model.get('name')}: {model.get('description', '')}. Maximum likelihood over "
                        f"{model.get('n_items', data.get('n_items'))} problems; log-likelihood "
                        f"{fmt_num(model.get('loglik'), 8)}; {model.get('message', '')}.")
        if model.get("scores"):
            sc = pd.DataFrame(model["scores"])
            cols = [c for c in ("model", "internal_error", "internal_bias", "gain_se", "aic", "converged", "chosen")
                    if c in sc]
            shown = sc[cols].copy()
            for c in ("internal_error", "internal_bias", "gain_se", "aic"):
                if c in shown:
                    shown[c] = shown[c].map(lambda v: fmt_num(v, 4))
            share = model.get("choice_share") or {}
            if share:
                shown["chosen in bootstrap"] = [f"{100 * _f(share.get(m_, 0.0)):.0f}%" for m_ in sc["model"]]
            flow.heading("Model choice (internal backtest)", level=2)
            flow.table(shown, note=f"Chosen: {model.get('name')} — {model.get('reason', '')}")
    else:
        flow.table(pd.DataFrame([
            {"parameter": "a (Beta shape)", "estimate": fmt_num(model.get("a"), 5), "SE": fmt_num(model.get("se_a"), 3)},
            {"parameter": "b (Beta shape)", "estimate": fmt_num(model.get("b"), 5), "SE": fmt_num(model.get("se_b"), 3)},
            {"parameter": "mean success rate a/(a+b)",
             "estimate": fmt_num(_f(model.get("a")) / (_f(model.get("a")) + _f(model.get("b"))), 4), "SE": "—"},
        ]), note=f"Beta-Binomial maximum likelihood over {model.get('n_items', data.get('n_items'))} problems; "
                 f"log-likelihood {fmt_num(model.get('loglik'), 8)}; {model.get('message', '')}.")
    flow.heading("Data", level=2)
    flow.kv([
        ("problems", str(data.get("n_items"))),
        ("attempts", f"{data.get('attempts_min')}" + (f" to {data.get('attempts_max')}"
                                                      if data.get("attempts_min") != data.get("attempts_max") else "")
         + " per problem"),
        ("solved at least once", f"{100 * _f(data.get('observed_rate')):.1f}% of problems"),
    ])
    flow.heading(f"Predicted {name}", level=2)
    rows = [{"N": fmt_num(t["N"], 4), name: fmt_num(t["prediction"], 4),
             f"{level:.0%} interval": f"[{fmt_num(t.get('lower'), 4)}, {fmt_num(t.get('upper'), 4)}]",
             "beyond data": fmt_factor(t["N"] / n_max) if n_max else "n/a",
             "population curve": fmt_num(t.get("population"), 4) if t.get("population") is not None else "—"}
            for t in targets]
    if rows:
        flow.table(pd.DataFrame(rows), note="Prediction for the observed problems (conditional on their outcomes); "
                   f"'population curve' is the fitted {_model_words(model)} model's {name} for new problems from the same "
                   "distribution.")
    if budget:
        flow.heading("Budget", level=2)
        flow.kv([("target", f"{name} = {fmt_num(budget.get('target'), 3)}"),
                 ("budget N", f"{fmt_num(budget.get('N'), 4)}  ({level:.0%} interval "
                              f"[{fmt_num(budget.get('lower'), 4)}, {fmt_num(budget.get('upper'), 4)}])"),
                 ("how", str(budget.get("note", "")))])
    if backtest:
        flow.heading("Backtest", level=2)
        bt = pd.DataFrame(backtest["rows"])
        flow.table(pd.DataFrame({
            "N": bt["N"].map(lambda v: fmt_num(v, 4)),
            "predicted": bt["predicted"].map(lambda v: fmt_num(v, 4)),
            f"{level:.0%} interval": [f"[{fmt_num(a, 4)}, {fmt_num(b, 4)}]" for a, b in zip(bt["lower"], bt["upper"])],
            "held-out empirical": bt["empirical"].map(lambda v: fmt_num(v, 4)),
            "inside": ["yes" if a <= e <= b else "NO" for a, e, b in zip(bt["lower"], bt["empirical"], bt["upper"])],
        }), note=f"Fitted on {backtest['fit_attempts']} attempts per problem; the empirical value uses the held-out "
                 "attempts (unbiased given the kept ones).")

    flow.page_break(f"{name} curve and backtest")
    flow.heading(f"{name} against the budget")
    ax = flow.axes_grid(4.3, 1, 1, left=0.7, right=0.05, bottom=0.55)[0, 0]
    obs = record.get("observed") or {}
    mc = record.get("model_curve") or {}
    plot_sampling_curve(
        curve["N"], curve["prediction"], curve.get("lower"), curve.get("upper"),
        observed_N=obs.get("N"), observed=obs.get("value"), observed_lower=obs.get("lower"),
        observed_upper=obs.get("upper"), model_N=mc.get("N"), model=mc.get("prediction"),
        budget=_f(budget["N"]) if budget else None,
        budget_interval=(_f(budget["lower"]), _f(budget["upper"])) if budget else None,
        target_value=budget["target"] if budget else None, targets=tdf if len(tdf) else None,
        extrapolate_from=n_max or None, metric=metric, level=level, label="prediction (these problems)",
        model_label=f"fitted {_model_words(model)} model (population)", ax=ax,
    )
    flow.caption(
        f"Observed {name} for N up to the attempts made (circles: unbiased pass@k with a {level:.0%} bootstrap "
        f"interval over problems), the fitted {_model_words(model)} model (dotted) and the prediction beyond the data (dashed, grey "
        f"region) with its {level:.0%} band. Stars: targets. "
        + (f"Green line and shading: the budget reaching {name} = {fmt_num(budget['target'], 3)} and its interval."
           if budget else "")
    )
    if backtest:
        flow.heading("Backtest", level=2, keep_with=3.0)
        bt = pd.DataFrame(backtest["rows"])
        axes = flow.axes_grid(3.0, 1, 2, left=0.7, wspace=0.45)
        plot_backtest(bt, kind="parity", metric=metric, level=level, ax=axes[0, 0])
        plot_backtest(bt, kind="curve", metric=metric, level=level, ax=axes[0, 1])
        flow.caption(f"Predictions from {backtest['fit_attempts']} attempts per problem against the held-out outcome. "
                     "Left: predicted against empirical (identity line; ringed points fall outside their interval). "
                     "Right: both against N.")

    md = record.get("metadata") or {}
    prov = [("record", ctx.source + (f" (SHA-256 {ctx.sha256[:16]}…)" if ctx.sha256 else "")),
            ("data", str(md.get("data_source") or data.get("source") or "not recorded")),
            ("data hash", str(md.get("data_hash") or data.get("data_hash") or "not recorded")),
            ("command", str(md.get("command") or "not recorded (built from Python)")),
            *([("created", str(md["created"]))] if md.get("created") else []),
            ("seed", str(md.get("seed", "not recorded"))),
            ("versions", ", ".join(f"{k_} {v}" for k_, v in (md.get("versions") or {}).items()) or "not recorded")]

    # ---- summary paragraph
    s = [f"From {data.get('n_items')} problems with {data.get('attempts_min')}"
         + (f"–{data.get('attempts_max')}" if data.get("attempts_min") != data.get("attempts_max") else "")
         + f" attempts each ({100 * _f(data.get('observed_rate')):.1f}% solved at least once), "
         + (f"scalefit's internal backtest chose the {model.get('name')} model of per-problem success rates "
            f"({', '.join(f'{k_} = {fmt_num(v, 3)}' for k_, v in model['params'].items())}), fitted by maximum likelihood."
            if "params" in model else
            f"a Beta-Binomial model (a = {fmt_num(model.get('a'), 3)}, b = {fmt_num(model.get('b'), 3)}) was fitted "
            "by maximum likelihood.")]
    if targets:
        t0 = targets[0]  # the first requested target (else the record's first) is the headline
        s.append(f"At the target budget N = {fmt_num(t0['N'], 4)} attempts per problem"
                 + (f", {fmt_factor(t0['N'] / n_max)} the attempts observed," if n_max else "")
                 + f" it predicts {metric}@{fmt_num(t0['N'], 4)} = {_f(t0['prediction']):.3f} for these problems, with a "
                 f"{level:.0%} interval of {_f(t0.get('lower')):.3f} to {_f(t0.get('upper')):.3f}.")
    if budget:
        s.append(f"Reaching {metric} = {fmt_num(budget['target'], 3)} takes about N = {fmt_num(budget['N'], 3)} attempts "
                 f"({level:.0%} interval {fmt_num(budget['lower'], 3)} to {fmt_num(budget['upper'], 3)}).")
    if backtest:
        rows_ = backtest["rows"]
        inside = sum(1 for r in rows_ if r["lower"] <= r["empirical"] <= r["upper"])
        s.append(f"In a backtest that kept {backtest['fit_attempts']} attempts per problem, {inside} of {len(rows_)} "
                 f"held-out values fell inside their intervals.")
    if not converged:
        s.append("WARNING: the model fit did NOT converge; do not rely on these numbers.")
    elif warns:
        s.append(f"{len(warns)} warning{'s' if len(warns) > 1 else ''} above qualif"
                 + ("y" if len(warns) > 1 else "ies") + " these numbers.")
    if "params" in model:
        s.append("The interval covers the uncertainty of the fitted parameters, of the model choice and of the run's "
                 "outcome; it assumes one of the candidate models describes the rarely-solved problems, which the "
                 "observed attempts cannot confirm.")
    else:
        s.append("The interval covers the statistical uncertainty of the fitted model; it assumes the Beta model "
                 "describes the rarely-solved problems, which the observed attempts cannot confirm.")
    return Section(title=title, summary=" ".join(s), pages=flow.pages, warnings=warns, checks=checks,
                   provenance=prov, banner=banner, page_titles=flow.page_titles)


register_renderer(FORMAT, render_bon_sections)

BON_FIT_FORMAT = "scalefit.bon/1"            # one BonFit (BonFit.to_json)
BON_FILE_FORMAT = "scalefit.bon-file/1"      # `scalefit bon fit -o`: one BonFit per group


def _bon_fit_section(fit_record: Mapping, ctx: RenderContext, group: Mapping | None = None) -> Section:
    """Forecast from a saved BonFit at report time (deterministic: the fit's seed) and render it.

    Options (``build_report(options=...)`` / ``scalefit report`` flags): ``rate`` (budget target),
    ``level`` (default 0.9), ``bootstrap`` (replicates, default 200), ``metric`` ("pass" or "ASR"),
    ``target`` ("fresh" or "continued").  Budgets N come from ``ctx.targets`` entries naming only N
    (default: 10x the largest observed attempts)."""
    from ..sampling import BonFit
    from .fitresult import load_record

    bon = load_record(BonFit, fit_record, ctx, "best-of-N fit")
    opts = ctx.options
    n_max = float(np.max(bon.data.attempts))
    requested = [float(t["N"]) for t in ctx.targets if set(t) == {"N"}]
    label = ", ".join(f"{k_} = {v}" for k_, v in (group or {}).items())
    md = bon.metadata or {}
    rec = bon_record(
        bon, targets=requested or [10.0 * n_max], budget_target=opts.get("rate"), level=float(opts.get("level", 0.9)),
        num_bootstrap=int(opts.get("bootstrap", 200)), target=str(opts.get("target", "fresh")),
        metric=str(opts.get("metric", "pass")),
        title=f"Best-of-N forecast{' (' + label + ')' if label else ''}",
        source=md.get("source") or opts.get("data_source"), command=md.get("command") or opts.get("command"),
    )
    sub = RenderContext(source=ctx.source, sha256=ctx.sha256, targets=(), budgets=ctx.budgets, options=ctx.options)
    return render_bon_sections(rec, sub)


@register_renderer(BON_FIT_FORMAT)
def render_bon_fit(record: Mapping, ctx: RenderContext) -> Section:
    """Renderer for a saved :class:`~scalefit.sampling.BonFit` (``scalefit.bon/1``)."""
    return _bon_fit_section(record, ctx)


class _BonFile:
    """``load_record`` adapter: a ``scalefit bon fit -o`` record checked as a whole."""

    @staticmethod
    def from_dict(record):
        from ..sampling.bonfit import bon_file_fits

        return bon_file_fits(record)


@register_renderer(BON_FILE_FORMAT)
def render_bon_file(record: Mapping, ctx: RenderContext) -> list[Section]:
    """Renderer for ``scalefit bon fit -o`` files: one section per group."""
    from .fitresult import load_record

    load_record(_BonFile, record, ctx, "best-of-N file")  # checks every group before rendering any
    groups = record["groups"]
    opts = dict(ctx.options)
    opts.setdefault("data_source", record.get("source"))
    sub = RenderContext(source=ctx.source, sha256=ctx.sha256, targets=ctx.targets, budgets=ctx.budgets, options=opts)
    return [_bon_fit_section(g["fit"], sub, g.get("group")) for g in groups]
