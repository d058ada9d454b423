"""A minimal saved best-of-N prediction (``"format": "scalefit.report.BestOfNCurve"``) and its
report renderer.

This format is provisional: it lets ``scalefit report`` show ASR@N / pass@N predictions made
with the existing numerics (:mod:`scalefit.sampling`) until the best-of-N model layer defines
its own saved fit; that fit's format only needs a renderer registered with
:func:`scalefit.report.register_renderer` (it can reuse :func:`render_bon_sections`).

Record layout (version 3; JSON, every array a list of numbers)::

    format        "scalefit.report.BestOfNCurve"
    version       3
    title         str                      heading of the report section
    metric        "ASR" | "pass"           axis/label wording (ASR@N or pass@N)
    estimator     str                      what ``curve`` is (e.g. "exact conditional (SABER)")
    level         float                    interval level, e.g. 0.95
    interval_method str                    how ``lower``/``upper`` were obtained
    model         {name, a, b, se_a, se_b, loglik, converged, message, n_items} (make_bon_curve), or
                  {name, description, params, ..., scores, choice_share, fraction,
                  check: {error, half_width, N, fraction, large} | null} (saved_bon_record)
    data          {n_items, attempts_min, attempts_max, observed_rate, source, data_hash}
    curve         {N, estimate, lower, upper}            prediction on a budget grid (N >= attempts)
    model_curve   {N, estimate}                          fitted population curve (optional)
    observed      {N, value, lower, upper}               empirical pass@k for k <= attempts (optional)
    targets       [{N, estimate, lower, upper}]          predictions at requested budgets
    budget        {target, N, lower, upper, note} | null budget reaching ``target``
    backtest      {fit_attempts, rows: [{N, estimate, lower, upper, empirical}]} | null
    backtest_note str                      why there is no external backtest (optional)
    plan          {N, target, budget, allocated, model, estimate, sd_now, sd_after, items, items_sampled,
                   by_successes, top, sd_curve} | null   sampling plan (optional; plan_record)
    converged     bool
    warnings      [str]
    metadata      {versions, seed, data_hash, data_source, command}

:func:`make_bon_curve` builds such a record from per-problem counts (n_i, k_i).  Versions 1 and 2
(scalefit 0.1: version 1 from ``make_bon_curve``, 2 from ``saved_bon_record``) named the point
value ``prediction`` (``curve``, ``model_curve``, ``targets``) and ``predicted`` (``backtest.rows``);
:func:`read_bon_record` reads them into the version-3 layout (docs/naming.md).
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
from .._result import clean_json
from ..errors import ArgumentError
from ..plots import plot_backtest, plot_plan, plot_sampling_curve
from ..plots._style import fmt_factor, fmt_num
from ._layout import Flow, display_path
from ._registry import RenderContext, Section, register_renderer

FORMAT = "scalefit.report.BestOfNCurve"
VERSION = 3
#: Record versions :func:`read_bon_record` reads; what 1 and 2 called the point value.
_OLD_NAMES = {1: ("prediction", "predicted"), 2: ("prediction", "predicted")}
from .._extrapolation import EXTRAPOLATION_WARN, extrapolation_factor  # noqa: E402


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


def _backtest_check(bon, fc, level: float) -> dict | None:
    """The chosen model's own internal-backtest error against what its forecast claims.

    The internal backtest predicts each item's full-budget outcome from 1/``fraction`` of its
    attempts, an extrapolation by ``fraction``; its error (mean absolute error of the rate) is
    called *large* when it exceeds the half-width of the forecast's interval at ``fraction`` x
    the observed budget (the same extrapolation factor): the model then misses a rate the data
    know by more than the forecast admits as its uncertainty.  None when there is nothing to
    compare (no internal backtest, or no interval)."""
    sc = bon.scores
    if "internal_error" not in sc or not fc.num_bootstrap:
        return None
    row = sc[sc["model"] == bon.model]
    # a saved fit without an internal backtest (--model given) stores the error as null
    err = float(pd.to_numeric(row["internal_error"], errors="coerce").iloc[0]) if len(row) else float("nan")
    if not np.isfinite(err):
        return None
    n_max = float(np.max(bon.data.attempts))
    N = min(bon.fraction * n_max, float(fc.N[-1]))
    t = fc.table(level, [N]).iloc[0]
    half = 0.5 * float(t["upper"] - t["lower"])
    return {"error": err, "half_width": half, "N": N, "fraction": int(bon.fraction), "large": bool(err > half)}


def budget_factor(N, n_max) -> float:
    """Extrapolation factor of budget N beyond the largest observed attempts (the one definition
    of every fit path: ``scalefit._extrapolation``)."""
    return float(np.max(extrapolation_factor({"N": [float(n_max)]}, {"N": np.atleast_1d(np.asarray(N, float))})))


def _record_warnings(converged: bool, what: str, message: str, tg, n_max: int, backtest, level: float,
                     check: Mapping | None = None) -> list[str]:
    warns = []
    if not converged:
        warns.append(f"NOT CONVERGED: the {what} fit did not converge ({message}).")
    if tg.size and budget_factor(tg.max(), n_max) > EXTRAPOLATION_WARN:
        warns.append(f"Extrapolation {fmt_factor(budget_factor(tg.max(), n_max))} beyond the observed {n_max} attempts per problem "
                     f"(more than {EXTRAPOLATION_WARN:.0f}×): the prediction relies on the {what} model of "
                     "per-problem success rates holding in its low-probability tail.")
    if backtest is not None:
        bad = [r for r in backtest["rows"] if not (r["lower"] <= r["empirical"] <= r["upper"])]
        if bad:
            warns.append(f"Backtest: {len(bad)} of {len(backtest['rows'])} held-out values fall outside the "
                         f"{level:.0%} interval (N = {', '.join(str(r['N']) for r in bad)}).")
    if check and check.get("large"):
        warns.append(f"Internal backtest: the {what} model's own error, {check['error']:.3f} in rate (predicting "
                     f"the observed rate from 1/{check['fraction']} of the attempts), exceeds the half-width of its "
                     f"{level:.0%} interval at the same extrapolation (N = {fmt_num(check['N'], 3)}: "
                     f"{check['half_width']:.3f}); the interval understates the model's error.")
    return warns


def record_metadata(seed: int, n, k, source, command) -> dict:
    return {"versions": _versions(), "seed": int(seed), "data_hash": _counts_hash(n, k), "data_source": source,
            "command": command}


def make_bon_curve(n, k, *, targets: Sequence[float] = (1000,), budget_target: float | None = None,
                   N_max: float | None = None, level: float = 0.9, num_samples: int = 400, seed: int = 0,
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
    from ..sampling.holdout import hold_out_counts

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
        target_rows.append({"N": float(t), "estimate": float(pred[j]), "lower": float(lo[j]),
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
        split = hold_out_counts(n, k, m, rng, backtest_N, name="backtest_attempts")
        fit_m = fit_beta_binomial(np.full(n.shape, m), split.k_fit)
        if fit_m.at_boundary or not np.isfinite(fit_m.a):
            raise ArgumentError(f"the backtest fit on {m} attempts is on the boundary ({fit_m.message})")
        draws_m = _log_draws(fit_m, num_samples, rng)
        p_m, lo_m, up_m, _ = _conditional_band(split.N.astype(float), np.full(n.shape, m), split.k_fit, fit_m,
                                               draws_m, level)
        rows = [{"N": int(NN), "estimate": float(p_m[j]), "lower": float(lo_m[j]), "upper": float(up_m[j]),
                 "empirical": float(split.truth[j])} for j, NN in enumerate(split.N)]
        backtest = {"fit_attempts": m, "model": {"a": fit_m.a, "b": fit_m.b}, "rows": rows}

    warns = _record_warnings(fit.converged, "Beta-Binomial", fit.message, tg, n_max, backtest, level)
    md = record_metadata(seed, n, k, source, command)
    obs_rate = float(np.mean(k > 0))
    return clean_json({
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
        "curve": {"N": grid.tolist(), "estimate": pred.tolist(), "lower": lo.tolist(), "upper": up.tolist()},
        "model_curve": {"N": model_N.tolist(), "estimate": model.tolist()},
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
               command: str | None = None, plan_budget: int | None = None) -> dict:
    """Report record (``scalefit.report.BestOfNCurve``, version 3) from scalefit's default
    best-of-N model, a :class:`scalefit.sampling.BonFit`.

    Computes the fit's forecast (:meth:`BonFit.with_forecast`: intervals from a bootstrap over
    items with the whole procedure, model choice included, refitted; ``num_bootstrap``
    replicates, seeded) on a budget grid holding ``targets`` (up to ``N_max``, default
    max(3x the largest target, 100x the observed budget)) and the external backtest when
    ``backtest_attempts`` is given (keep a random m of each item's attempts, rerun the whole
    procedure on them and predict the continued run's rate at ``backtest_N`` <= min n_i against
    what the held-out attempts show), then reads the record from it exactly as ``scalefit
    report`` reads a saved fit (:func:`saved_bon_record`; ``plan_budget``: with a sampling plan
    for that many further attempts, aimed at the first target, saved with the forecast by
    :func:`with_plan`).
    """
    from ..sampling.bonfit import forecast_grid

    _check_wording(metric, level)
    n_max = float(np.max(bon.data.attempts))
    tg = np.asarray(sorted(float(t) for t in targets), dtype=np.float64)
    # forecasts hold at any N >= 1 (ragged budgets: some items got more attempts than a target)
    if tg.size and tg.min() < 1:
        raise ArgumentError(f"`targets` must be budgets >= 1; got {tg.min():g}")
    hi = float(N_max) if N_max else max(float(tg.max()) * 3 if tg.size else 0.0, n_max * 100.0)
    grid = forecast_grid(bon.data, target)
    grid = np.unique(np.concatenate([grid[grid < hi], tg, [hi]]))
    bt = False if backtest_attempts is None else int(backtest_attempts)
    if bt is not False and not np.all(bon.data.extra == 0):
        raise ArgumentError("`backtest_attempts` needs plain counts (no censored sample-until-success items)")
    saved = bon.with_forecast(grid, target=target, num_bootstrap=num_bootstrap, seed=seed, backtest=bt,
                              backtest_N=backtest_N)
    if plan_budget:
        saved = with_plan(saved, plan_budget, float(tg[0]) if tg.size else None)
    return saved_bon_record(saved, targets=tg, budget_target=budget_target, level=level, metric=metric,
                            title=title, source=source, command=command, plan=bool(plan_budget))


def _check_wording(metric: str, level: float) -> None:
    if metric not in ("ASR", "pass"):
        raise ArgumentError(f"`metric` = {metric!r} must be 'ASR' or 'pass'")
    if not 0 < level < 1:
        raise ArgumentError(f"`level` = {level!r} must lie strictly between 0 and 1")


def saved_bon_record(bon, *, targets: Sequence[float] | None = None, budget_target: float | None = None,
                     level: float = 0.9, metric: str = "pass", title: str | None = None, source: str | None = None,
                     command: str | None = None, plan: bool = True) -> dict:
    """Report record (``scalefit.report.BestOfNCurve``, version 3) read from the forecast saved
    with a :class:`scalefit.sampling.BonFit` (:meth:`~scalefit.sampling.BonFit.with_forecast`):
    no fitting, no bootstrap.  Targets between the saved budgets are interpolated in log N per
    replicate; a budget for ``budget_target`` is read from the saved grid (interpolated like
    :meth:`BonFit.budget`, whose bisection it matches to the grid's resolution) unless the
    observed pass@k already reaches it.  A fit saved without its forecast is refused with the
    command that adds one.

    ``plan``: include the sampling plan saved with the forecast (:func:`with_plan`; none is
    computed here: a forecast saved without a plan gives a record without one).
    """
    from ..sampling import pass_at_k_interval
    from ..sampling.bonfit import saved_single_value_notes

    _check_wording(metric, level)
    fc = bon.forecast
    if fc is None:
        raise ArgumentError("the best-of-N fit was saved without its forecast (by an older scalefit, or "
                            "to_json(forecast=False)); re-save it with `scalefit bon fit DATA -o FILE` "
                            "(or BonFit.to_json) and report that file")
    d = bon.data
    n, k = np.asarray(d.n, np.int64), np.asarray(d.k, np.int64)
    att = np.asarray(d.attempts, float)
    n_max, n_min = int(att.max()), int(att.min())
    tg = np.asarray(sorted(float(t) for t in (targets if targets is not None else [10.0 * n_max])), float)
    if tg.size and tg.min() < 1:
        raise ArgumentError(f"`targets` must be budgets >= 1; got {tg.min():g}")
    out = [t for t in tg if not fc.N[0] * (1 - 1e-12) <= t <= fc.N[-1] * (1 + 1e-12)]
    if out:
        raise ArgumentError(f"target N = {out[0]:g} lies outside the saved forecast's budgets "
                            f"[{fc.N[0]:g}, {fc.N[-1]:g}]; forecast it from the fit (scalefit bon predict --fit FILE "
                            "--N ...)")
    fit = bon.fit
    table = fc.table(level)
    beyond = table["N"].to_numpy() >= n_max
    curve = table[beyond]
    tt = fc.table(level, tg) if tg.size else None
    pop = dict(zip(fc.N.tolist(), fc.population.tolist()))
    target_rows = [{"N": float(r.N), "estimate": float(r.estimate), "lower": float(r.lower),
                    "upper": float(r.upper),
                    "population": pop.get(float(r.N), float(np.interp(np.log(r.N), np.log(fc.N), fc.population)))}
                   for r in (tt.itertuples() if tt is not None else [])]
    # an interval that is a single value says why (every item already solved, or a run solving
    # every item in most replicates)
    for row, note in zip(target_rows, saved_single_value_notes(fc, tg, level) if tg.size else []):
        if note:
            row["note"] = note

    plain = bool(np.all(d.extra == 0))
    # a sample-until-success log's counts are not exchangeable draws (an item stops after the batch
    # of its first success), so pass@k from them is biased upwards; its first successes give the
    # observed rate exactly for every N up to the budget all items got
    stopped = d.until_success if d.until_success is not None else bool(np.any(np.isfinite(d.first_success)))
    obs = None
    if (plain or stopped) and n_min >= 1:
        ks = np.unique(np.round(np.geomspace(1, n_min, min(n_min, 24))).astype(np.int64))
        if stopped:
            fs = np.asarray(d.first_success, float)
            ivs = [pass_at_k_interval(np.ones(n.size, np.int64), (np.isfinite(fs) & (fs <= kk)).astype(np.int64), 1,
                                      level=level, num_samples=2000, seed=fc.seed) for kk in ks]
            est, lo, hi = ([float(np.asarray(getattr(iv, a)).ravel()[0]) for iv in ivs]
                           for a in ("estimate", "lower", "upper"))
        else:
            iv = pass_at_k_interval(n, k, ks, level=level, num_samples=2000, seed=fc.seed)
            est, lo, hi = (np.asarray(v).tolist() for v in (iv.estimate, iv.lower, iv.upper))
        obs = {"N": ks.astype(float).tolist(), "value": est, "lower": lo, "upper": hi,
               "method": "first_success" if stopped else "pass@k"}

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
                      "note": "reached within the observed attempts (interpolated " + (
                          "share of problems whose first success came within N)" if obs.get("method") == "first_success"
                          else "unbiased pass@k)")}
        else:
            bf = fc.budget(tau, level)
            note = (f"{fit.model} model; interval from the same {fc.num_bootstrap} bootstrap replicates "
                    "(expected rate: parameter and model-choice uncertainty)")
            if not np.isfinite(bf["estimate"]):
                note += f"; not reached by N = {fmt_num(fc.N[-1], 3)}, the largest saved budget"
            budget = {"target": tau, "N": bf["estimate"], "lower": bf["lower"], "upper": bf["upper"], "note": note}

    backtest = None
    if fc.backtest is not None:
        rows = fc.backtest.rows(level)
        backtest = {"fit_attempts": fc.backtest.fit_attempts,
                    "model": {"name": fc.backtest.model, **fc.backtest.params},
                    "rows": [{"N": int(r.N), "estimate": float(r.estimate), "lower": float(r.lower),
                              "upper": float(r.upper), "empirical": float(r.empirical)} for r in rows.itertuples()]}

    check = _backtest_check(bon, fc, level)
    warns = _record_warnings(fit.converged, fit.model, fit.message, tg, n_max, backtest, level, check)
    if backtest is None and check is None:
        warns.append("No backtest: neither an internal backtest (the model was fixed) nor an external one "
                     f"({fc.backtest_note or 'not run'}) tested this forecast on these data.")
    seed = fc.seed
    md = record_metadata(seed, n, k, source, command)
    scores = bon.scores.to_dict(orient="records")
    return clean_json({
        "format": FORMAT, "version": VERSION,
        "title": title or f"Best-of-N prediction ({metric}@N)",
        "metric": metric,
        "estimator": (f"scalefit default: {fit.model} model of per-problem success rates, chosen by an internal "
                      f"backtest ({'fresh run of N attempts' if fc.target == 'fresh' else 'observed attempts count towards N'})"),
        "level": float(level),
        "interval_method": (f"{fc.num_bootstrap} bootstrap resamples of the problems, every candidate refitted and the "
                            "model re-chosen in each (saved with the fit); realised rate of the forecast run; "
                            "percentile interval"),
        "model": {"name": fit.model, "description": fit.description, "params": dict(fit.params),
                  "loglik": fit.loglik, "converged": bool(fit.converged), "message": fit.message,
                  "n_items": int(fit.n_items), "reason": bon.reason, "selection": bon.selection,
                  "fraction": bon.fraction, "choice_share": fc.choice_share, "scores": scores,
                  "check": check},
        "data": {"n_items": int(n.size), "attempts_min": n_min, "attempts_max": n_max,
                 "observed_rate": bon.observed_rate, "source": source, "data_hash": md["data_hash"]},
        "curve": {"N": curve["N"].tolist(), "estimate": curve["estimate"].tolist(),
                  "lower": curve["lower"].tolist(), "upper": curve["upper"].tolist()},
        "model_curve": {"N": fc.N.tolist(), "estimate": fc.population.tolist()},
        "observed": obs,
        "targets": target_rows,
        "budget": budget,
        "backtest": backtest,
        "backtest_note": fc.backtest_note,
        "plan": fc.plan if plan else None,
        "converged": bool(fit.converged),
        "warnings": warns,
        "metadata": md,
    })


def save_bon_curve(record: Mapping, path: str | Path, *, overwrite: bool = False) -> Path:
    """Write a record as JSON (atomically; never over an existing file unless ``overwrite``)."""
    text = json.dumps(clean_json(dict(record)), indent=1, allow_nan=False)
    return atomic_write_text(path, text, overwrite=overwrite, argument="path")


def provenance_rows(record: dict, ctx, data: dict) -> list:
    """The cover page's provenance rows of a best-of-N record (the pooled comparison's too):
    the record file and its hash, the data and its hash, the command, when, the seed, versions."""
    md = record.get("metadata") or {}
    return [("record", display_path(ctx.source) + (f" (SHA-256 {ctx.sha256[:16]}…)" if ctx.sha256 else "")),
            ("data", display_path(md.get("data_source") or data.get("source")) or "not recorded"),
            ("data hash", str(md.get("data_hash") or data.get("data_hash") or "not recorded")),
            ("command", str(md.get("command") or "not recorded (built from Python)")),
            *([("created", str(md["created"]))] if md.get("created") else []),
            ("seed", str(md.get("seed", "not recorded"))),
            ("versions", ", ".join(f"{k_} {v}" for k_, v in (md.get("versions") or {}).items()) or "not recorded")]


# ============================================================================ sampling plan
_K_CLASSES = ((0, 0), (1, 1), (2, 2), (3, 4), (5, 9), (10, 19), (20, math.inf))


def with_plan(bon, budget: int | None = None, N: float | None = None, *, top: int = 10, curve_points: int = 300):
    """``bon`` (a :class:`scalefit.sampling.BonFit` with its saved forecast) with the sampling
    planner's recommendation saved in that forecast (:func:`plan_record`), so that a report
    shows the plan without computing it: a further ``budget`` attempts (default: as many as
    were made; 0: the forecast without a plan) aimed at the forecast at ``N`` (default 10x the
    largest observed budget) with the forecast's target.  ``scalefit bon fit -o`` saves it."""
    from dataclasses import replace

    fc = bon.forecast
    if fc is None:
        raise ArgumentError("the best-of-N fit has no saved forecast to attach a plan to (BonFit.with_forecast first)")
    budget = int(np.sum(bon.data.attempts)) if budget is None else int(budget)
    if budget < 0:
        raise ArgumentError(f"`plan_budget` = {budget} must be >= 0")
    N = 10.0 * float(np.max(bon.data.attempts)) if N is None else float(N)
    rec = plan_record(bon, budget, N, target=fc.target, top=top, curve_points=curve_points) if budget else None
    return replace(bon, forecast=replace(fc, plan=rec))


def plan_record(bon, budget: int, N: float, *, target: str | None = None, top: int = 10,
                curve_points: int = 300) -> dict:
    """The ``plan`` entry of a report record: :func:`scalefit.sampling.plan` for a further
    ``budget`` attempts aimed at the forecast at ``N``, from the fitted model of ``bon`` (a
    :class:`scalefit.sampling.BonFit`, used as fitted: nothing is refitted).

    Holds the totals, a table by successes so far, the ``top`` items by planned attempts and
    the items' posterior SDs now and expected after, each sorted from the largest (at most
    ``curve_points`` ranks)."""
    import jax

    from ..sampling.plan import plan

    target = target or (bon.forecast.target if bon.forecast is not None else "fresh")
    with jax.enable_x64(True):  # the grid posterior of a saved fit, in float64 whatever the caller set
        res = plan(bon.data, int(budget), float(N), target=target, model=bon)
    t = res.table
    k, a = t["k"].to_numpy(), t["attempts"].to_numpy()
    classes = []
    for lo, hi in _K_CLASSES:
        sel = (k >= lo) & (k <= hi)
        if sel.any():
            label = str(lo) if lo == hi else (f"{lo}+" if math.isinf(hi) else f"{lo}-{hi}")
            classes.append({"successes": label, "items": int(sel.sum()), "items_sampled": int((a[sel] > 0).sum()),
                            "attempts": int(a[sel].sum()), "mean_attempts": float(a[sel].mean())})
    ranks = np.unique(np.round(np.geomspace(1, len(t), min(curve_points, len(t)))).astype(np.int64))
    best = t.assign(row=np.arange(1, len(t) + 1)).sort_values(["attempts", "sd_now"], ascending=False).head(top)
    g = res.groups.iloc[0]
    return {"N": float(N), "target": target, "budget": int(budget), "allocated": int(res.allocated),
            "reason": res.reason, "model": str(res.models.get("all items", "")),
            "estimate": float(g["estimate"]), "sd_now": float(g["sd_now"]), "sd_after": float(g["sd_after"]),
            "items": int(g["items"]), "items_sampled": int(g["items_sampled"]),
            "by_successes": classes,
            "top": [{"item": int(r.row), "n": int(r.n), "k": int(r.k), "term": float(r.term),
                     "sd_now": float(r.sd_now), "sd_after": float(r.sd_after), "attempts": int(r.attempts)}
                    for r in best.itertuples() if r.attempts > 0],
            "sd_curve": {"rank": ranks.astype(float).tolist(),
                         "now": np.sort(t["sd_now"].to_numpy())[::-1][ranks - 1].tolist(),
                         "after": np.sort(t["sd_after"].to_numpy())[::-1][ranks - 1].tolist()}}


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
        for c in ("estimate", "lower", "upper"):
            if c in curve:
                row[c] = float(np.interp(np.log(t), x, curve[c].to_numpy(float)))
        out.append(row)
    return out


#: human headers of the internal-backtest table (BonFit.scores columns)
_SCORE_HEADERS = {"internal_error": "internal-backtest error", "internal_bias": "bias", "gain_se": "gain SE",
                  "aic": "AIC"}


def _model_words(model: Mapping) -> str:
    return str(model.get("name")) if "params" in model else "Beta-Binomial"


def read_bon_record(record: Mapping, source: str = "<record>") -> dict:
    """A ``scalefit.report.BestOfNCurve`` record in the current layout (version 3): versions 1
    and 2 (scalefit 0.1) have their point values renamed to ``estimate``; any other version is a
    one-line :class:`~scalefit.errors.ArgumentError`."""
    missing = [key for key in _REQUIRED if key not in record]
    if missing:
        raise ArgumentError(f"'{source}': best-of-N record lacks field(s) {missing}")
    version = record.get("version", 1)
    if version == VERSION:
        return dict(record)
    if version not in _OLD_NAMES:
        raise ArgumentError(f"'{source}': best-of-N record version {version!r} cannot be read by this scalefit "
                            f"(it reads versions {', '.join(map(str, sorted([*_OLD_NAMES, VERSION])))})")
    point, backtest_point = _OLD_NAMES[version]

    def renamed(d, old):
        return None if d is None else {("estimate" if k_ == old else k_): v for k_, v in d.items()}

    out = dict(record, version=VERSION, curve=renamed(record["curve"], point),
               targets=[renamed(t, point) for t in record["targets"] or []])
    if record.get("model_curve") is not None:
        out["model_curve"] = renamed(record["model_curve"], point)
    if record.get("backtest") is not None:
        rows = [renamed(r, backtest_point) for r in record["backtest"]["rows"]]
        out["backtest"] = dict(record["backtest"], rows=rows)
    return out


def render_bon_sections(record: Mapping, ctx: RenderContext) -> Section:
    """Renderer for ``scalefit.report.BestOfNCurve`` records (every readable version)."""
    record = read_bon_record(record, ctx.source)
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
    tdf = pd.DataFrame(targets) if targets else pd.DataFrame(columns=["N", "estimate", "lower", "upper"])
    budget = record.get("budget")
    backtest = record.get("backtest")
    n_max = int(data.get("attempts_max") or 0)
    warns = list(record.get("warnings") or [])
    if requested and n_max and budget_factor(max(requested), n_max) > EXTRAPOLATION_WARN and not any("Extrapolation" in w for w in warns):
        warns.append(f"Extrapolation {fmt_factor(budget_factor(max(requested), n_max))} beyond the observed {n_max} attempts "
                     "per problem (more than 10×).")
    converged = bool(record.get("converged", model.get("converged", True)))
    banner = None if converged else f"NOT CONVERGED: {model.get('message', 'the model fit did not converge')}."
    checks = []
    if converged:
        checks.append(f"{_model_words(model)} fit converged: {model.get('message', '')}")
    if backtest and not any(w.startswith("Backtest") for w in warns):
        checks.append(f"backtest: every held-out value lies inside its {level:.0%} interval")
    if targets and n_max and budget_factor([t["N"] for t in targets], n_max) <= EXTRAPOLATION_WARN:
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
    if "params" in model:  # scalefit's default model (saved_bon_record)
        flow.table(pd.DataFrame([{"parameter": k_, "estimate": fmt_num(v, 5)} for k_, v in model["params"].items()]),
                   note=f"{model.get('name')}: {model.get('description', '')}. Maximum likelihood over "
                        f"{model.get('n_items', data.get('n_items'))} problems; log-likelihood "
                        f"{fmt_num(model.get('loglik'), 8)}; {model.get('message', '')}.")
        if model.get("scores"):
            sc = pd.DataFrame(model["scores"])
            shown = pd.DataFrame({"model": sc["model"]})
            for col, head in _SCORE_HEADERS.items():
                if col in sc:
                    shown[head] = sc[col].map(lambda v: fmt_num(v, 4) if v is not None and np.isfinite(_f(v)) else "—")
            if "converged" in sc:
                shown["converged"] = sc["converged"].map(lambda v: "yes" if v else "NO")
            if "chosen" in sc:
                shown["chosen"] = sc["chosen"].map(lambda v: "✓" if v else "")
            share = model.get("choice_share") or {}
            if share:
                shown["chosen in bootstrap"] = [f"{100 * _f(share.get(m_, 0.0)):.0f}%" for m_ in sc["model"]]
            flow.heading("Model choice (internal backtest)", level=2)
            chk = model.get("check")
            verdict = ""
            if chk:
                verdict = (f" Check: the chosen model's own error {chk['error']:.3f} is "
                           + ("LARGER" if chk["large"] else "smaller")
                           + f" than the half-width of its {level:.0%} interval at N = {fmt_num(chk['N'], 3)} "
                           f"({chk['half_width']:.3f}), the same extrapolation by {chk['fraction']}×.")
            flow.table(shown, note=f"Internal-backtest error: mean absolute error of the observed full-budget rate "
                                   f"predicted from 1/{model.get('fraction', 4)} of each problem's attempts; bias: its "
                                   "signed mean; gain SE: standard error of the error's gain over the reference model. "
                                   f"Chosen: {model.get('name')} — {model.get('reason', '')}.{verdict}")
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
    rows = [{"N": fmt_num(t["N"], 4), name: fmt_num(t["estimate"], 4),
             f"{level:.0%} interval": f"[{fmt_num(t.get('lower'), 4)}, {fmt_num(t.get('upper'), 4)}]",
             "beyond data": fmt_factor(budget_factor(t["N"], n_max)) if n_max else "n/a",
             "population curve": fmt_num(t.get("population"), 4) if t.get("population") is not None else "—"}
            for t in targets]
    if rows:
        single = "".join(f" Interval {t['note'][0].upper()}{t['note'][1:]}." for t in targets if t.get("note"))
        flow.table(pd.DataFrame(rows), note="Prediction for the observed problems (conditional on their outcomes); "
                   f"'population curve' is the fitted {_model_words(model)} model's {name} for new problems from the same "
                   "distribution." + single)
    if budget:
        flow.heading("Budget", level=2)
        flow.kv([("target", f"{name} = {fmt_num(budget.get('target'), 3)}"),
                 ("budget N", f"{fmt_num(budget.get('N'), 4)}  ({level:.0%} interval "
                              f"[{fmt_num(budget.get('lower'), 4)}, {fmt_num(budget.get('upper'), 4)}])"),
                 ("how", str(budget.get("note", "")))])
    if not backtest and record.get("backtest_note"):
        flow.heading("Backtest (external)", level=2)
        flow.paragraph(f"External backtest {record['backtest_note']}.", size=9)
    if backtest:
        flow.heading("Backtest (external)", level=2)
        bt = pd.DataFrame(backtest["rows"])
        flow.table(pd.DataFrame({
            "N": bt["N"].map(lambda v: fmt_num(v, 4)),
            "predicted": bt["estimate"].map(lambda v: fmt_num(v, 4)),
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
        curve["N"], curve["estimate"], curve.get("lower"), curve.get("upper"),
        observed_N=obs.get("N"), observed=obs.get("value"), observed_lower=obs.get("lower"),
        observed_upper=obs.get("upper"), model_N=mc.get("N"), model=mc.get("estimate"),
        budget=_f(budget["N"]) if budget else None,
        budget_interval=(_f(budget["lower"]), _f(budget["upper"])) if budget else None,
        rate=budget["target"] if budget else None, targets=tdf if len(tdf) else None,
        extrapolate_from=n_max or None, metric=metric, level=level, label="prediction (these problems)",
        model_label=f"fitted {_model_words(model)} model (population)", ax=ax,
    )
    flow.caption(
        f"Observed {name} for N up to the attempts made (circles: "
        + ("share of problems whose first success came within N, exact for a sample-until-success log"
           if obs.get("method") == "first_success" else "unbiased pass@k")
        + f", with a {level:.0%} bootstrap interval over problems), the fitted {_model_words(model)} model (grey, dotted) and the prediction beyond the data (dashed, grey "
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

    plan_ = record.get("plan")
    if plan_:
        _render_plan(flow, plan_, metric, name)

    prov = provenance_rows(record, ctx, data)

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
                 + (f", {fmt_factor(budget_factor(t0['N'], n_max))} the attempts observed," if n_max else "")
                 + f" it predicts {metric}@{fmt_num(t0['N'], 4)} = {_f(t0['estimate']):.3f} for these problems, with a "
                 f"{level:.0%} interval of {_f(t0.get('lower')):.3f} to {_f(t0.get('upper')):.3f}"
                 + (f" ({t0['note']})." if t0.get("note") else "."))
    if budget:
        s.append(f"Reaching {metric} = {fmt_num(budget['target'], 3)} takes about N = {fmt_num(budget['N'], 3)} attempts "
                 f"({level:.0%} interval {fmt_num(budget['lower'], 3)} to {fmt_num(budget['upper'], 3)}).")
    if backtest:
        rows_ = backtest["rows"]
        inside = sum(1 for r in rows_ if r["lower"] <= r["empirical"] <= r["upper"])
        s.append(f"In a backtest that kept {backtest['fit_attempts']} attempts per problem, {inside} of {len(rows_)} "
                 f"held-out values fell inside their intervals.")
    if plan_ and plan_.get("allocated"):
        s.append(f"A sampling plan puts {plan_['allocated']} further attempts on {plan_['items_sampled']} of "
                 f"{plan_['items']} problems; it expects the model SD of {metric}@{fmt_num(plan_['N'], 4)} to fall "
                 f"from {_f(plan_['sd_now']):.4f} to {_f(plan_['sd_after']):.4f}.")
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


def _render_plan(flow: Flow, plan_: Mapping, metric: str, name: str) -> None:
    """The page with the sampling plan (``record["plan"]``, see :func:`plan_record`)."""
    at = f"{metric}@{fmt_num(plan_['N'], 4)}"
    flow.page_break("Where to spend the next attempts")
    flow.heading("Where to spend the next attempts")
    flow.paragraph(f"Sampling plan for a further {plan_['budget']} attempts, chosen to make the forecast of {at} "
                   f"({'a fresh run' if plan_.get('target') == 'fresh' else 'the observed attempts continued'}) as "
                   f"precise as possible under the fitted {plan_.get('model') or 'chosen'} model: each problem's "
                   "expected posterior variance after m more attempts is computed exactly and the attempts go to "
                   "the problems where they remove the most. It does not count the uncertainty of the fitted "
                   "population parameters. Plan in rounds (plan, sample, refit): scalefit bon plan --rounds R.",
                   size=9)
    flow.kv([("attempts planned", f"{plan_['allocated']} of {plan_['budget']}"),
             ("problems sampled", f"{plan_['items_sampled']} of {plan_['items']}"),
             ("model SD", f"{_f(plan_['sd_now']):.4f} now, {_f(plan_['sd_after']):.4f} expected after (of the "
                          f"forecast {at} = {_f(plan_['estimate']):.4f})")])
    cls = pd.DataFrame(plan_.get("by_successes") or [])
    if len(cls):
        flow.heading("By successes so far", level=2)
        flow.table(pd.DataFrame({"successes so far": cls["successes"], "problems": cls["items"],
                                 "problems sampled": cls["items_sampled"], "attempts": cls["attempts"],
                                 "per problem": cls["mean_attempts"].map(lambda v: fmt_num(v, 3))}),
                   note="Further attempts planned for the problems with that many successes among their attempts.")
    top = pd.DataFrame(plan_.get("top") or [])
    if len(top):
        flow.heading("Problems with the most planned attempts", level=2)
        flow.table(pd.DataFrame({"problem (row)": top["item"], "attempts so far": top["n"], "successes": top["k"],
                                 f"term of {at}": top["term"].map(lambda v: fmt_num(v, 3)),
                                 "SD now": top["sd_now"].map(lambda v: fmt_num(v, 3)),
                                 "SD after": top["sd_after"].map(lambda v: fmt_num(v, 3)),
                                 "further attempts": top["attempts"]}),
                   note="Row: the problem's position in the fitted data (from 1). Term: the problem's expected "
                        f"contribution to {at}; SD: its posterior SD now and expected after the planned attempts.")
    sdc = plan_.get("sd_curve") or {}
    flow.heading("Plan", level=2, keep_with=3.0)
    axes = flow.axes_grid(2.7, 1, 2, left=0.7, wspace=0.45)
    plot_plan(cls if len(cls) else pd.DataFrame({"successes": [], "mean_attempts": []}),
              sd_rank=sdc.get("rank"), sd_now=sdc.get("now"), sd_after=sdc.get("after"), axes=[axes[0, 0], axes[0, 1]])
    flow.caption("Left: further attempts per problem by successes so far. Right: the problems' posterior SDs of "
                 f"their {at} term now and expected after the plan, each sorted from the largest.")


register_renderer(FORMAT, render_bon_sections)

BON_FIT_FORMAT = "scalefit.bon/1"            # one BonFit (BonFit.to_json)
BON_FILE_FORMAT = "scalefit.bon-file/1"      # `scalefit bon fit -o`: one BonFit per group


def _bon_fit_section(fit_record: Mapping, ctx: RenderContext, group: Mapping | None = None) -> Section:
    """Render a saved BonFit from the forecast saved with it (no fitting, no bootstrap).

    Options (``build_report(options=...)`` / ``scalefit report`` flags): ``rate`` (budget target),
    ``level`` (default 0.9), ``metric`` ("pass" or "ASR").  Budgets N come from ``ctx.targets``
    entries naming only N (default: 10x the largest observed attempts) and must lie within the
    saved forecast's budgets.  ``bootstrap`` and ``target`` are fixed when the fit is saved.
    ``plan_budget``: 0 leaves the sampling-plan page out; the plan itself (further attempts, the
    budget N it aims at) is chosen when saving (``scalefit bon fit --plan-budget B -o``,
    :func:`with_plan`) and shown as saved: rendering plans nothing."""
    from ..sampling import BonFit
    from .fitresult import load_record

    bon = load_record(BonFit, fit_record, ctx, "best-of-N fit")
    opts = ctx.options
    if bon.forecast is None:
        raise ArgumentError(f"'{ctx.source}' holds a best-of-N fit saved without its forecast (by an older "
                            "scalefit, or to_json(forecast=False)): re-save it with `scalefit bon fit DATA -o FILE` and "
                            "report that file")
    fc = bon.forecast
    if opts.get("bootstrap") is not None and int(opts["bootstrap"]) != fc.num_bootstrap:
        raise ArgumentError(f"`bootstrap` = {opts['bootstrap']}: '{ctx.source}' was saved with {fc.num_bootstrap} "
                            "replicates; the number is chosen when saving (scalefit bon fit --bootstrap B -o FILE)")
    if opts.get("target") is not None and str(opts["target"]) != fc.target:
        raise ArgumentError(f"`target` = {opts['target']!r}: '{ctx.source}' holds a {fc.target!r} forecast")
    pb = opts.get("plan_budget")
    saved_pb = fc.plan["budget"] if fc.plan else 0
    if pb is not None and int(pb) not in (0, saved_pb):
        raise ArgumentError(f"`plan_budget` = {pb}: '{ctx.source}' was saved with "
                            + (f"a plan for {saved_pb} further attempts" if saved_pb else "no sampling plan")
                            + "; the plan is chosen when saving (scalefit bon fit --plan-budget B -o FILE; 0 here "
                              "leaves the page out)")
    n_max = float(np.max(bon.data.attempts))
    requested = [float(t["N"]) for t in ctx.targets if set(t) == {"N"}]
    label = ", ".join(f"{k_} = {v}" for k_, v in (group or {}).items())
    md = bon.metadata or {}
    rec = saved_bon_record(
        bon, targets=requested or [10.0 * n_max], budget_target=opts.get("rate"), level=float(opts.get("level", 0.9)),
        metric=str(opts.get("metric", "pass")),
        title=f"Best-of-N forecast{' (' + label + ')' if label else ''}",
        source=md.get("source") or opts.get("data_source"), command=md.get("command") or opts.get("command"),
        plan=pb is None or int(pb) > 0,
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
