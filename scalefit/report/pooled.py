"""The pooled best-of-N comparison as a saved record (``"format": "scalefit.report.PooledBestOfN"``)
and its report pages: pooled and independent forecasts side by side, the internal backtest that
chose between them per group, and the shared item-difficulty diagnostic.

:func:`pooled_record` builds the record from a :class:`scalefit.sampling.pooled.GroupedBon`
(it runs the forecast once; rendering never fits), :func:`save_pooled_record` writes it and
``scalefit report FILE`` / :func:`scalefit.report.build_report` render it.  ``scalefit bon
predict COUNTS --groups model --pool auto --N ... -o FILE`` does both first steps.

Record layout (version 1; JSON)::

    format          "scalefit.report.PooledBestOfN"
    version         1
    title           str
    target          "fresh" | "continued"
    level           float                  interval level of ``forecasts``
    num_bootstrap   int                    bootstrap replicates of both forecasts
    pool            "auto" | "on" | "off"  the choice rule asked for
    z               float                  pooled where its gain > z SE (pool="auto")
    choice_fraction int                    internal backtest: fit on n // choice_fraction attempts
    data            {n_groups, n_items, attempts_min, attempts_max, items_per_group, source, data_hash}
    pooled          {converged, message, objective, params: [{group, family, param_1, param_2, s,
                     residual_sd, shared_share}]}
    independent     [{group, model, converged, message}]
    forecasts       [{group, N, method, estimate, lower, upper, chosen}]   (GroupedBon.predict)
    choice          [{group, independent_model, error_independent, error_pooled, bias_independent,
                      bias_pooled, gain, gain_se, chosen, reason}]          (GroupedBon.scores)
    sharing         {level, rows: [{group, family, shared_share, lower, upper}]}
    converged       bool
    warnings        [str]
    metadata        {versions, seed, data_hash, data_source, command}
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from .._extrapolation import EXTRAPOLATION_WARN
from .._files import atomic_write_text, json_text
from .._result import clean_json
from ..errors import ArgumentError
from ..plots import plot_pooled_choice, plot_pooled_forecasts, plot_sharing
from ..sampling.pooled import choice_split_text
from ..plots._style import fmt_factor, fmt_num
from ._layout import Flow
from ._registry import RenderContext, Section, register_renderer
from .bestofn import budget_factor, provenance_rows, record_metadata

FORMAT = "scalefit.report.PooledBestOfN"
VERSION = 1
_REQUIRED = ("version", "target", "level", "num_bootstrap", "pool", "z", "choice_fraction", "data", "pooled",
             "independent", "forecasts", "choice", "sharing")
_FORECAST_COLUMNS = ("group", "N", "method", "estimate", "lower", "upper", "chosen")
_CHOICE_COLUMNS = ("group", "independent_model", "error_independent", "error_pooled", "gain", "gain_se", "chosen",
                   "reason")
_SHARING_COLUMNS = ("group", "shared_share", "lower", "upper")

__all__ = ["FORMAT", "VERSION", "pooled_record", "save_pooled_record", "read_pooled_record", "render_pooled"]


# ============================================================================ building a record
def pooled_record(grouped, N: Sequence[float], *, target: str = "fresh", level: float = 0.9,
                  num_bootstrap: int = 200, seed: int | None = None, title: str | None = None,
                  source: str | None = None, command: str | None = None) -> dict:
    """Report record (``scalefit.report.PooledBestOfN``, version 1) of a pooled comparison.

    ``grouped``: a :class:`scalefit.sampling.pooled.GroupedBon` (``fit_groups``).  Runs its
    forecast once, ``grouped.predict(N, target=, level=, num_bootstrap=, seed=)`` (pooled and
    independent rows, the chosen one flagged), and stores it with the internal backtest that
    made the choice (``grouped.scores``, ``grouped.reasons``) and the shared item-difficulty
    diagnostic (``grouped.sharing``).  Render it with :func:`scalefit.report.build_report`
    (a dict or a file saved by :func:`save_pooled_record`)."""
    pred = grouped.predict(N, target=target, level=level, num_bootstrap=num_bootstrap, seed=seed)
    data = grouped.data
    n, k = np.asarray(data.n), np.asarray(data.k)
    present = data.present  # a batch-censored row broken in its first batch has n = 0
    att = (n + data.extra)[present]
    scores = grouped.scores.copy()
    scores["reason"] = [grouped.reasons[g] for g in scores["group"]]
    sh = grouped.sharing.rename(columns={"lower_90": "lower", "upper_90": "upper"})
    pooled = grouped.pooled
    indep = [{"group": g, "model": b.model, "converged": bool(b.fit.converged), "message": str(b.fit.message)}
             for g, b in grouped.independent.items()]
    n_max = int(att.max())
    warns = []
    if not pooled.converged:
        warns.append(f"NOT CONVERGED: the pooled fit did not converge ({pooled.message}).")
    for row in indep:
        if not row["converged"]:
            warns.append(f"NOT CONVERGED: {row['group']}'s own {row['model']} fit did not converge ({row['message']}).")
    far = float(pred["N"].max())
    if budget_factor(far, n_max) > EXTRAPOLATION_WARN:
        warns.append(f"Extrapolation {fmt_factor(budget_factor(far, n_max))} beyond the observed {n_max} attempts per item "
                     f"(more than {EXTRAPOLATION_WARN:.0f}×): both forecasts rely on their models of the rarely "
                     "solved items, which the attempts made cannot check.")
    md = record_metadata(grouped.seed if seed is None else int(seed), n[present], k[present], source, command)
    return clean_json({
        "format": FORMAT, "version": VERSION,
        "title": title or "Pooled and independent best-of-N forecasts",
        "target": target, "level": float(level), "num_bootstrap": int(num_bootstrap),
        "pool": grouped.pool, "z": float(grouped.z), "choice_fraction": int(grouped.choice_fraction),
        "until_success": bool(grouped.data.until_success),
        "data": {"n_groups": int(n.shape[0]), "n_items": int(n.shape[1]), "attempts_min": int(att.min()),
                 "attempts_max": n_max, "items_per_group": present.sum(axis=1).tolist(), "source": source,
                 "data_hash": md["data_hash"]},
        "pooled": {"converged": bool(pooled.converged), "message": pooled.message,
                   "objective": float(pooled.objective), "params": pooled.params().to_dict(orient="records")},
        "independent": indep,
        "forecasts": pred.to_dict(orient="records"),
        "choice": scores.to_dict(orient="records"),
        "sharing": {"level": 0.9, "rows": sh.to_dict(orient="records")},
        "converged": bool(pooled.converged and all(r["converged"] for r in indep)),
        "warnings": warns,
        "metadata": md,
    })


def save_pooled_record(record: Mapping, path: str | Path, *, overwrite: bool = False) -> Path:
    """Write a pooled record as JSON (atomically; never over an existing file unless ``overwrite``)."""
    return atomic_write_text(path, json_text(clean_json(dict(record))), overwrite=overwrite, argument="path")


# ============================================================================ reading
def read_pooled_record(record: Mapping, source: str = "<record>") -> dict:
    """A ``scalefit.report.PooledBestOfN`` record checked for the fields the pages use; an
    unknown version or a missing field is a one-line :class:`~scalefit.errors.ArgumentError`
    naming ``source``."""
    missing = [key for key in _REQUIRED if key not in record]
    if missing:
        raise ArgumentError(f"'{source}': pooled best-of-N record lacks field(s) {missing}")
    if record["version"] != VERSION:
        raise ArgumentError(f"'{source}': pooled best-of-N record version {record['version']!r} cannot be read by "
                            f"this scalefit (it reads version {VERSION})")
    for name, rows, cols in (("forecasts", record["forecasts"], _FORECAST_COLUMNS),
                             ("choice", record["choice"], _CHOICE_COLUMNS),
                             ("sharing.rows", (record["sharing"] or {}).get("rows"), _SHARING_COLUMNS)):
        if not isinstance(rows, list) or not rows or not all(isinstance(r, Mapping) for r in rows):
            raise ArgumentError(f"'{source}': pooled best-of-N record field `{name}` must be a non-empty list of rows")
        lack = sorted({c for r in rows for c in cols if c not in r})
        if lack:
            raise ArgumentError(f"'{source}': pooled best-of-N record field `{name}` lacks column(s) {lack}")
    return dict(record)


# ============================================================================ rendering
def _iv(lo, hi) -> str:
    return f"[{fmt_num(lo, 3)}, {fmt_num(hi, 3)}]"


def _options(record: Mapping, ctx: RenderContext) -> tuple[list[float], str]:
    """Budgets to show (``--at N=...``: saved budgets only) and the metric's wording."""
    opts = ctx.options
    for key, flag in (("rate", "--rate"), ("plan_budget", "--plan-budget")):
        if opts.get(key) is not None:
            raise ArgumentError(f"`{flag}` = {opts[key]} applies to best-of-N fits (scalefit bon fit -o); "
                                f"'{ctx.source}' is a pooled comparison")
    if opts.get("level") is not None and abs(float(opts["level"]) - float(record["level"])) > 1e-12:
        raise ArgumentError(f"`--level` = {opts['level']}: '{ctx.source}' holds {float(record['level']):.0%} intervals; "
                            "the level is chosen when saving (scalefit bon predict --level L -o FILE)")
    saved = sorted({float(r["N"]) for r in record["forecasts"]})
    asked = [float(t["N"]) for t in ctx.targets if set(t) == {"N"}]
    for t in asked:
        if not any(abs(t - s) <= 1e-9 * s for s in saved):
            raise ArgumentError(f"`--at` N = {t:g}: '{ctx.source}' holds forecasts at N = "
                                f"{', '.join(fmt_num(s, 6) for s in saved)} only; save the others with "
                                "scalefit bon predict --N ... -o FILE")
    return (sorted(asked) or saved), str(opts.get("metric") or "pass")


@register_renderer(FORMAT)
def render_pooled(record: Mapping, ctx: RenderContext) -> Section:
    """Renderer for ``scalefit.report.PooledBestOfN`` records: three pages (forecasts side by
    side, the choice and its internal backtest, the shared item difficulty)."""
    record = read_pooled_record(record, ctx.source)
    budgets, metric = _options(record, ctx)
    level = float(record["level"])
    data = record["data"]
    fc = pd.DataFrame(record["forecasts"])
    fc = fc[fc["N"].astype(float).isin(budgets)]
    choice = pd.DataFrame(record["choice"])
    sharing = pd.DataFrame(record["sharing"]["rows"])
    sh_level = float(record["sharing"].get("level", 0.9))
    z = float(record["z"])
    frac = int(record["choice_fraction"])
    pooled = record["pooled"]
    warns = list(record.get("warnings") or [])
    converged = bool(record.get("converged", True))
    banner = None if converged else "NOT CONVERGED: a fit behind these forecasts did not converge."
    groups = list(choice["group"])
    n_pooled = int((choice["chosen"] == "pooled").sum())
    short = ctx.source if ctx.source.startswith("<") else Path(ctx.source).name
    title = f"{record.get('title') or 'Pooled best-of-N forecasts'} ({short})"
    run = "a fresh run of N attempts per item" if record["target"] == "fresh" else "the observed attempts continued to N"

    flow = Flow(section=title, banner=banner)
    flow.new_page("Pooled vs independent forecasts")
    flow.heading("Pooled and independent forecasts side by side")
    flow.paragraph(
        f"{len(groups)} groups share {data.get('n_items')} items ({data.get('attempts_min')}"
        + (f"–{data.get('attempts_max')}" if data.get("attempts_min") != data.get("attempts_max") else "")
        + f" attempts per item). Each group is fitted on its own (its best-of-N model, chosen by its own internal "
        "backtest) and by a pooled model that adds a shared item effect (how easy an item is for every group) "
        f"to the same residual family. {metric}@N is the share of items solved within {run}; intervals "
        f"({level:.0%}) come from {record['num_bootstrap']} bootstrap resamples of the items (pooled: drawn jointly "
        "across groups; independent: the whole per-group procedure refitted).", size=9)
    rows = []
    for (g, N), sub in fc.groupby(["group", "N"], sort=False):
        p = sub[sub["method"] == "pooled"].iloc[0]
        i = sub[sub["method"] == "independent"].iloc[0]
        rows.append({"group": g, "N": fmt_num(N, 5),
                     "pooled": fmt_num(p["estimate"], 4), f"pooled {level:.0%}": _iv(p["lower"], p["upper"]),
                     "independent": fmt_num(i["estimate"], 4), f"indep. {level:.0%}": _iv(i["lower"], i["upper"]),
                     "chosen": "pooled" if bool(p["chosen"]) else "independent"})
    flow.table(pd.DataFrame(rows), note=f"Chosen: the forecast the {record['pool']!r} rule uses for the group "
                                        "(see the next page for why).")
    n_cols = min(len(budgets), 2)
    n_rows = -(-len(budgets) // n_cols)
    axes = flow.axes_grid((0.3 * len(groups) + 1.1) * n_rows, n_rows, n_cols, left=0.95, wspace=0.5)
    plot_pooled_forecasts(fc, metric=metric, level=level, axes=axes.ravel())
    flow.caption(f"Each group's pooled (squares) and independent (circles) forecast of {metric}@N with its "
                 f"{level:.0%} interval, one panel per budget; filled: the forecast the choice uses.")

    flow.page_break("Which forecast each group uses, and why")
    flow.heading("Which forecast each group uses, and why")
    flow.paragraph(
        f"Internal backtest: {choice_split_text(bool(record.get('until_success', False)), frac)}; both models are "
        "refitted on the cut data; the error is the absolute error of the group's mean predicted rate, averaged "
        "over the thinnings. Gain: the group's own "
        f"model's error minus the pooled model's. Rule (pool = 'auto'): pooled only where the gain exceeds {z:g} "
        f"standard errors of the gain; the rule asked for here was pool = {record['pool']!r}.", size=9)
    ratio = choice["gain"].astype(float) / choice["gain_se"].astype(float)
    flow.table(pd.DataFrame({
        "group": choice["group"], "own model": choice["independent_model"],
        "error (own)": choice["error_independent"].map(lambda v: fmt_num(v, 3)),
        "error (pooled)": choice["error_pooled"].map(lambda v: fmt_num(v, 3)),
        "gain": choice["gain"].map(lambda v: fmt_num(v, 3)),
        "gain SE": choice["gain_se"].map(lambda v: fmt_num(v, 3)),
        "gain / SE": ratio.map(lambda v: fmt_num(v, 3) if np.isfinite(v) else "—"),
        "chosen": choice["chosen"]}),
        note="Errors and gain in units of the rate (0.01 = 1 percentage point).")
    flow.bullets([f"{r['group']}: {r['chosen']} — {r['reason']}" for r in record["choice"]], size=8)
    ax = flow.axes_grid(0.3 * len(groups) + 1.2, 1, 1, left=1.2, right=2.2)[0, 0]
    plot_pooled_choice(choice, z=z, ax=ax)
    flow.caption(f"Gain of pooling per group with ± {z:g} SE; the pooled model is chosen (pool = 'auto') where the "
                 "whole bar lies right of zero.")

    flow.page_break("Shared item difficulty")
    flow.heading("Shared item difficulty")
    flow.paragraph(
        "How much the groups agree on which items are hard: the share of each group's item variance (on the logit "
        "scale) that is common to all groups in the pooled fit, s² / (s² + residual variance), with a "
        f"{sh_level:.0%} Wald interval from the fit's observed information. Near 1 an item hard for one group is hard "
        "for the others, and pooling can borrow their attempts; near 0 the group's hard items are its own.", size=9)
    flow.table(pd.DataFrame({
        "group": sharing["group"], "residual family": sharing.get("family", pd.Series(["—"] * len(sharing))),
        "shared share": sharing["shared_share"].map(lambda v: fmt_num(v, 3)),
        f"{sh_level:.0%} interval": [_iv(a, b) for a, b in zip(sharing["lower"], sharing["upper"])]}))
    ax = flow.axes_grid(0.3 * len(groups) + 1.2, 1, 1, left=1.2, right=2.2)[0, 0]
    plot_sharing(sharing, level=sh_level, ax=ax)
    flow.caption(f"Shared share of item difficulty per group with its {sh_level:.0%} interval.")
    params = pd.DataFrame(pooled.get("params") or [])
    if len(params):
        flow.heading("Pooled fit", level=2)
        heads = {"param_1": "parameter 1", "param_2": "parameter 2", "s": "loading s", "residual_sd": "residual SD",
                 "shared_share": "shared share"}
        flow.table(pd.DataFrame({heads.get(c, c): (params[c].map(lambda v: fmt_num(v, 4)) if params[c].dtype.kind == "f"
                                                   else params[c]) for c in params.columns}),
                   note=f"Residual family parameters (as in the family's own fit), loading s of the shared item effect "
                        f"and the residual SD on the logit scale; {pooled.get('message', '')}.")

    checks = []
    if converged:
        checks.append("pooled and per-group fits converged")
    if budgets and budget_factor(max(budgets), int(data.get("attempts_max") or 1)) <= EXTRAPOLATION_WARN:
        checks.append("extrapolation at most 10× the observed attempts")
    prov = provenance_rows(record, ctx, data)

    N0 = budgets[0]
    at = fc[fc["N"].astype(float) == N0]
    parts = []
    for g in groups:
        r = at[(at["group"] == g) & at["chosen"].astype(bool)]
        if len(r):
            r = r.iloc[0]
            parts.append(f"{g} {fmt_num(r['estimate'], 3)} {_iv(r['lower'], r['upper'])} ({r['method']})")
    s = [f"{len(groups)} groups on {data.get('n_items')} shared items were fitted each on its own and by a pooled model "
         f"with a shared item effect. The choice rule (pool = {record['pool']!r}) uses the pooled forecast for "
         f"{n_pooled} of {len(groups)} groups"
         + (f": {', '.join(choice.loc[choice['chosen'] == 'pooled', 'group'].astype(str))}." if n_pooled else ".")]
    s.append(f"At N = {fmt_num(N0, 5)} ({run}) the chosen forecasts of {metric}@N with {level:.0%} intervals are: "
             + "; ".join(parts) + ".")
    s.append(f"The shared share of item difficulty ranges from {fmt_num(sharing['shared_share'].min(), 2)} to "
             f"{fmt_num(sharing['shared_share'].max(), 2)} across groups.")
    if not converged:
        s.append("WARNING: a fit did NOT converge; do not rely on these numbers.")
    return Section(title=title, summary=" ".join(s), pages=flow.pages, warnings=warns, checks=checks,
                   provenance=prov, banner=banner, page_titles=flow.page_titles)
