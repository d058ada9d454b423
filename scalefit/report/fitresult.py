"""Report renderer for saved point fits (``"format": "scalefit.FitResult"``).

Pages: parameters and predictions (tables with intervals), extrapolation plot, residuals,
compute-optimal frontier (Chinchilla-type laws), diagnostics (convergence, multi-start record,
bootstrap replicates).  The cover page gets a plain-language summary of the prediction at the
primary target, every warning, and the fit's provenance.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd

from ..errors import ArgumentError, DataValidationError
from ..fit.result import UNIDENTIFIED
from ..plots import (
    plot_bootstrap_marginals,
    plot_compute_frontier,
    plot_extrapolation,
    plot_parity,
    plot_residuals,
    plot_start_objectives,
)
from ..plots._derive import extrapolation_path, frontier, is_chinchilla_type, normalise_targets
from ..plots._style import PALETTE, column_label, fmt_factor, fmt_num
from ._layout import Flow, display_path
from ._registry import RenderContext, Section, register_renderer

FORMAT = "scalefit.FitResult"
from .._extrapolation import EXTRAPOLATION_WARN  # noqa: E402

_UNITS = {"N": "parameters", "D": "tokens", "C": "FLOPs"}


def input_unit(fit, name: str) -> str:
    """Unit word of law input ``name`` (by its data column, then its law name): "tokens"."""
    col = fit.inputs.get(name, name)
    return _UNITS.get(col, _UNITS.get(name, ""))


def input_label(fit, name: str) -> str:
    """The data column of a single-input law (``x``), else the law's input name."""
    return fit.inputs.get(name, name) if name == "x" else name


def describe_point(fit, point: Mapping[str, float]) -> str:
    """"N = 1e+10 parameters, D = 2e+11 tokens" for a point fit or posterior."""
    parts = []
    for n in fit.law.inputs:
        u = input_unit(fit, n)
        parts.append(f"{input_label(fit, n)} = {fmt_num(point[n], 3)}" + (f" {u}" if u else ""))
    return ", ".join(parts)


def requested_targets(fit, ctx: RenderContext) -> tuple[list[dict[str, float]], list[str]]:
    """The requested targets that give every input of ``fit`` (normalised to the law's input
    names), and the others as text for the "skipped" note."""
    usable, skipped = [], []
    for t in ctx.targets:
        if all((n in t) or (fit.inputs.get(n) in t) for n in fit.law.inputs):
            usable.append(t)
        else:
            skipped.append(", ".join(f"{k}={fmt_num(v, 3)}" for k, v in t.items()))
    return (normalise_targets(fit, usable) if usable else []), skipped


def _targets(fit, ctx: RenderContext) -> tuple[list[dict[str, float]], bool, list[str]]:
    """Applicable requested targets, or the default (10x the largest fitted inputs)."""
    usable, skipped = requested_targets(fit, ctx)
    if usable:
        return usable, True, skipped
    if fit.law.positive_inputs:
        default = {n: float(fit.frame[fit.inputs[n]].max()) * 10.0 for n in fit.law.inputs}
    else:
        default = {n: float(fit.frame[fit.inputs[n]].max()) for n in fit.law.inputs}
    return [default], False, skipped


def default_budgets(fit, ctx: RenderContext, targets) -> list[float]:
    """The requested compute budgets, else 6·N·D of each target of an (N, D) law, else none."""
    if ctx.budgets:
        return list(ctx.budgets)
    if tuple(fit.law.inputs) == ("N", "D"):
        return sorted({6.0 * t["N"] * t["D"] for t in targets})
    return []


def interval_text(lo, hi, digits=4) -> str:
    if lo is None or not np.isfinite(lo):
        return "—"
    return f"[{fmt_num(lo, digits)}, {fmt_num(hi, digits)}]"


def _level(fit) -> float:
    return float(fit.bootstrap.level) if fit.bootstrap is not None else 0.95


def _interval_words(fit) -> str:
    b = fit.bootstrap
    return (f"{b.level:.0%} bootstrap percentile interval ({b.n_converged} converged replicates, "
            f"{b.method} resampling{', clusters: `' + b.cluster + '`' if b.cluster else ''})")


def input_ranges(fit) -> str:
    """The fitted range of each input, with its unit: "N from 1e+08 to 1e+10 parameters"."""
    parts = []
    for n in fit.law.inputs:
        v = fit.frame[fit.inputs[n]]
        u = input_unit(fit, n)
        parts.append(f"{input_label(fit, n)} from {fmt_num(v.min(), 3)} to {fmt_num(v.max(), 3)}" + (f" {u}" if u else ""))
    return "; ".join(parts)


def _residual_stats(fit) -> dict[str, float]:
    r = fit.residuals()["residual"].to_numpy(np.float64)
    return {"rms": float(np.sqrt(np.mean(r * r))), "max": float(np.max(np.abs(r))), "n": int(r.size)}


def _param_table(fit) -> tuple[pd.DataFrame, str]:
    rows = []
    boot = fit.bootstrap
    bt = boot.table(fit.law, fit.params).set_index("parameter") if boot is not None else None
    level = _level(fit)
    for _, r in fit.param_table().iterrows():
        p = fit.law.params[r["parameter"]]
        name = p.natural or p.symbol
        row = {"parameter": name, "estimate": fmt_num(r["natural_value"], 5)}
        if bt is not None and r["parameter"] in bt.index and r["role"] == "free":
            b = bt.loc[r["parameter"]]
            row[f"{level:.0%} interval"] = interval_text(b["natural_lower"], b["natural_upper"], 4)
            row["bootstrap SD"] = fmt_num(b["natural_sd"], 3)
        elif bt is not None:
            row[f"{level:.0%} interval"] = "—"
            row["bootstrap SD"] = "—"
        row["fit coordinate"] = f"{p.symbol} = {fmt_num(r['value'], 6)}"
        row["role"] = r["role"]
        rows.append(row)
    note = ("Estimates on the natural scale (positive amplitudes are fitted as logarithms, e.g. A = e^a; "
            "the fit coordinate column shows what the optimiser moved). ")
    if boot is not None:
        note += f"Intervals: {_interval_words(fit)}."
    else:
        note += "No intervals: the fit was saved without a bootstrap."
    return pd.DataFrame(rows), note


def _prediction_table(fit, pred: pd.DataFrame) -> pd.DataFrame:
    level = _level(fit)
    rows = []
    for _, r in pred.iterrows():
        row = {}
        for n in fit.law.inputs:
            label = fit.inputs[n] if n == "x" else n
            row[label] = fmt_num(r[n], 3)
        row["prediction"] = fmt_num(r["prediction"], 4)
        if "lower" in pred:
            row[f"{level:.0%} interval"] = interval_text(r["lower"], r["upper"], 4)
            row["SE"] = fmt_num(r["se"], 2)
        if "extrapolation" in pred:
            row["beyond data"] = fmt_factor(r["extrapolation"])
        rows.append(row)
    return pd.DataFrame(rows)


def _frontier_table(fit, budgets) -> pd.DataFrame:
    fr = frontier(fit, budgets)
    has = "N_opt_lower" in fr
    rows = []
    for _, r in fr.iterrows():
        row = {"C (FLOPs)": fmt_num(r["C"], 3), "N_opt": fmt_num(r["N_opt"], 3)}
        if has:
            row["N_opt interval"] = interval_text(r["N_opt_lower"], r["N_opt_upper"], 3)
        row["D_opt"] = fmt_num(r["D_opt"], 3)
        if has:
            row["D_opt interval"] = interval_text(r["D_opt_lower"], r["D_opt_upper"], 3)
        row["D/N"] = fmt_num(r["tokens_per_param"], 3)
        row["L*"] = fmt_num(r["loss"], 4)
        if has:
            row["L* interval"] = interval_text(r["loss_lower"], r["loss_upper"], 4)
        rows.append(row)
    return pd.DataFrame(rows)


def fit_warnings(fit, pred: pd.DataFrame) -> tuple[list[str], list[str]]:
    """(warnings, passed checks) for a point fit and its predictions at the targets."""
    warns, checks = [], []
    if not fit.converged and not fit.identified:
        reason = fit.status[len(UNIDENTIFIED):]
        warns.append(f"UNIDENTIFIED: {reason}. The data cannot determine the law's parameters; do not rely on "
                     "any number from this fit.")
    elif not fit.converged:
        warns.append(f"NOT CONVERGED: {fit.status}. Do not rely on any number from this fit.")
    else:
        checks.append(f"optimiser converged: {fit.status}")
    for w in fit.warnings:
        warns.append(w[0].upper() + w[1:] if w else w)
    if not any("bound" in w for w in fit.warnings):
        checks.append("no estimate on a parameter bound")
    if "stage" in fit.starts:
        # a large table's search polishes on a subsample, where n_agree is counted (fit_law)
        stages = fit.starts["stage"]
        n_pol = int((stages == "polished (subsample)").sum()) or int((stages == "polished").sum())
    else:
        n_pol = fit.n_starts
    if fit.n_agree >= 2 or n_pol < 2:
        checks.append(f"{fit.n_agree} of {n_pol} polished starts reached the best objective")
    if "extrapolation" in pred:
        big = pred[pred["extrapolation"] > EXTRAPOLATION_WARN]
        for _, r in big.iterrows():
            warns.append(
                f"Extrapolation {fmt_factor(r['extrapolation'])} beyond the fitted data{extrapolation_basis(fit)} at "
                f"{describe_point(fit, r)} (more than {EXTRAPOLATION_WARN:.0f}×): the prediction rests on the law "
                "holding far outside the data, which no interval can check."
            )
        if big.empty:
            checks.append(f"extrapolation at most {fmt_factor(pred['extrapolation'].max())} (limit 10×)")
    if fit.bootstrap is None:
        warns.append("No uncertainty interval: the fit was saved without a bootstrap (run scalefit.bootstrap "
                     "before saving).")
    else:
        b = fit.bootstrap
        checks.append(f"{b.n_converged} of {b.n_replicates} bootstrap replicates converged")
    return warns, checks


def summary_opening(fit, n_points: int) -> tuple[str, str]:
    """The target's label and the summary's opening words: which law was fitted to what data."""
    src = display_path((fit.metadata or {}).get("data_source")) or "an in-memory data frame"
    ylabel = column_label(fit.target, fit.frame)
    return ylabel, (f"scalefit fitted the {fit.law.display_name} law, {fit.law.formula}, to {n_points} measurements "
                    f"of {ylabel} from {src} ({input_ranges(fit)})")


def _summary(fit, targets, requested, pred, warns, budgets_table) -> str:
    ylabel, opening = summary_opening(fit, fit.n_points)
    s = [opening + "."]
    r = pred.iloc[0]
    where = describe_point(fit, targets[0])
    ext = float(r["extrapolation"]) if "extrapolation" in pred else float("nan")
    ext_words = f", {fmt_factor(ext)} beyond the fitted data{extrapolation_basis(fit)}," if np.isfinite(ext) and ext > 1 else ""
    lead = "At the requested target" if requested else "No target was requested (use --at); at 10× the largest fitted inputs"
    sent = f"{lead}, {where}{ext_words} the fitted law predicts {ylabel} = {fmt_num(r['prediction'], 4)}"
    if "lower" in pred:
        sent += (f", with a {_interval_words(fit)} of {fmt_num(r['lower'], 4)} to {fmt_num(r['upper'], 4)}.")
    else:
        sent += ". No interval is available because the fit was saved without a bootstrap."
    s.append(sent)
    if len(pred) > 1:
        s.append(f"Predictions at {len(pred) - 1} further target{'s' if len(pred) > 2 else ''} are in the tables.")
    if budgets_table is not None and len(budgets_table):
        b = budgets_table.iloc[0]
        s.append(f"On the compute-optimal frontier, C = {b['C (FLOPs)']} FLOPs is best spent on N = {b['N_opt']} "
                 f"parameters and D = {b['D_opt']} tokens, for {ylabel} {b['L*']}"
                 + (f" {b['L* interval']}." if "L* interval" in b else "."))
    if not fit.converged:
        s.append(f"WARNING: the optimiser did NOT converge ({fit.status}); treat every number here as unreliable.")
    elif warns:
        s.append(f"The optimiser converged, but {len(warns)} warning{'s' if len(warns) > 1 else ''} "
                 "above qualif" + ("y" if len(warns) > 1 else "ies") + " these numbers.")
    else:
        s.append(f"The optimiser converged ({fit.n_agree} polished starts agree on the optimum) and no "
                 "diagnostic raised a warning.")
    if "lower" in pred:
        s.append("The interval reflects only the noise in the fitted measurements: it assumes the law keeps "
                 "holding up to the target" + (", a strong assumption this far beyond the data." if ext > EXTRAPOLATION_WARN
                                               else "."))
    return " ".join(s)


def provenance_head(md: Mapping, ctx: RenderContext, seed="not recorded") -> list[tuple[str, str]]:
    """The provenance rows every saved fit shares: file and hash, data, command, seed, versions
    (and the date of files written before fits stopped recording wall-clock time)."""
    versions = md.get("versions") or {}
    return [
        ("fit file", display_path(ctx.source) + (f" (SHA-256 {ctx.sha256[:16]}…)" if ctx.sha256 else "")),
        ("data", display_path(md.get("data_source")) or "not recorded (fitted from an in-memory frame)"),
        ("data hash", str(md.get("data_hash") or "not recorded")),
        ("command", str(md.get("command") or "not recorded (fitted from Python)")),
        *([("created", str(md["created"]))] if md.get("created") else []),
        ("seed", str(md.get("seed", seed))),
        ("versions", ", ".join(f"{k} {v}" for k, v in versions.items()) or "not recorded"),
    ]


def load_record(cls, record: Mapping, ctx: RenderContext, what: str):
    """``cls.from_dict(record)`` with one-line errors that name the record's source."""
    try:
        return cls.from_dict(record)
    except DataValidationError as exc:
        raise DataValidationError(exc.problems, source=f"'{ctx.source}'") from None
    except ArgumentError as exc:
        raise ArgumentError(f"'{ctx.source}': {exc}") from None
    except (KeyError, TypeError, ValueError) as exc:
        raise ArgumentError(f"'{ctx.source}' is not a readable scalefit {what} (bad or missing field {exc})") from None


def _provenance(fit, ctx: RenderContext) -> list[tuple[str, str]]:
    md = dict(fit.metadata or {})
    rows = provenance_head(md, ctx)
    rows.append(("objective", str(md.get("objective") or f"{fit.loss} (delta={fit.delta:g})")))
    if fit.bootstrap is not None:
        b = fit.bootstrap
        rows.append(("bootstrap", f"{b.n_replicates} replicates ({b.n_converged} converged), {b.method} resampling, "
                                  f"seed {b.seed}, start: {b.start}"))
    return rows


def extrapolation_basis(fit) -> str:
    """How the extrapolation factor is measured for this law (``scalefit._extrapolation``); the
    same words on every report."""
    if len(fit.law.inputs) > 1:
        return f" (inputs and their product {'·'.join(fit.law.inputs)} against the largest fitted values)"
    return ""


def short_source(source: str) -> str:
    """The file name of a report source (a ``<...>`` placeholder as it is)."""
    from pathlib import Path

    return source if source.startswith("<") else Path(source).name


def hide_unused(axes, n):
    for ax in list(np.ravel(axes))[n:]:
        ax.set_visible(False)


def render_fit_result(record: Mapping, ctx: RenderContext) -> Section:
    """Renderer for ``scalefit.FitResult`` records (registered under that format)."""
    from ..fit import FitResult

    fit = load_record(FitResult, record, ctx, "fit")

    targets, requested, skipped = _targets(fit, ctx)
    pred = fit.predict(pd.DataFrame(targets))
    warns, checks = fit_warnings(fit, pred)
    chin = is_chinchilla_type(fit)
    budgets = default_budgets(fit, ctx, targets) if chin else []
    ftab = _frontier_table(fit, budgets) if chin and budgets else None
    law_name = fit.law.display_name
    title = f"{law_name} fit ({short_source(ctx.source)})"
    banner = None if fit.converged else f"NOT CONVERGED: {fit.status}. The numbers on this page are unreliable."
    flow = Flow(section=title, banner=banner)

    # ---------------------------------------------------------------- tables
    flow.new_page("Parameters, predictions and fit quality")
    flow.heading("Fitted law")
    flow.paragraph(f"{law_name}: {fit.law.formula}", weight="bold")
    flow.paragraph(f"{fit.n_points} points of `{fit.target}` ({column_label(fit.target, fit.frame)}); "
                   f"{input_ranges(fit)}. Objective: {fit.metadata.get('objective', fit.loss)}.", size=9)
    flow.heading("Parameters", level=2)
    ptab, pnote = _param_table(fit)
    flow.table(ptab, note=pnote)
    rs = _residual_stats(fit)
    flow.heading("Goodness of fit", level=2)
    rlabel = "log(pred/obs)" if fit.law.target == "log" else "pred − obs"
    flow.kv([
        ("points", str(rs["n"])),
        ("RMS residual", f"{fmt_num(rs['rms'], 3)} in {rlabel}" + (f" (≈ {100 * rs['rms']:.2g}% of the value)"
                                                                   if fit.law.target == "log" else "")),
        ("max |residual|", f"{fmt_num(rs['max'], 3)}"),
        ("objective", f"{fmt_num(fit.objective, 8)} (scaled {fmt_num(fit.objective_scaled, 6)})"),
        ("convergence", ("converged: " if fit.converged else "NOT CONVERGED: ") + fit.status),
    ])
    flow.heading("Predictions at the targets", level=2)
    flow.table(_prediction_table(fit, pred), note=(
        ("Requested targets. " if requested else "No target requested: each input at 10× its largest fitted value. ")
        + "'beyond data' is the largest ratio of a target input to its largest fitted value."
        + (f" Targets not applicable to this law were skipped: {'; '.join(skipped)}." if skipped else "")))
    if ftab is not None:
        flow.heading("Compute-optimal allocation", level=2)
        flow.table(ftab, note="Minimising the fitted law subject to C = 6ND"
                   + ("; intervals from the same bootstrap replicates (each replicate's allocation, not interval "
                      "endpoints)." if fit.bootstrap is not None else "; no intervals without a bootstrap."))

    # ---------------------------------------------------------------- extrapolation
    flow.page_break("Extrapolation to the target")
    flow.heading("Extrapolation to the target")
    ax = flow.axes_grid(6.3, 1, 1, left=0.7, right=0.05, bottom=0.55)[0, 0]
    plot_extrapolation(fit, targets, ax=ax)
    path = extrapolation_path(fit, targets)
    band = f"The shaded band is the {_interval_words(fit)}. " if fit.bootstrap is not None else \
        "No band: the fit has no bootstrap. "
    flow.caption(
        f"Measured {column_label(fit.target, fit.frame)} (dots) against {path.x_label}, the fitted law (solid "
        f"line) {path.description + ' ' if path.description else ''}and its extrapolation (dashed) into the grey "
        f"region outside the fitted range. {band}Stars mark the targets with their intervals."
        + (" Dots are coloured by their own tokens per parameter D/N: runs far from the line's D/N lie above it."
           if tuple(fit.law.inputs) == ("N", "D") else "")
    )

    # ---------------------------------------------------------------- residuals
    flow.page_break("Residuals")
    flow.heading("Residuals")
    k = len(fit.law.inputs) + 1
    axes = flow.axes_grid(2.7, 1, min(k, 3), left=0.7, wspace=0.5)
    plot_residuals(fit, axes=axes.ravel())
    flow.caption("Residuals against each input and against the fitted value; dotted lines mark ± one residual "
                 "standard deviation. A trend or funnel means the law misses structure the extrapolation will "
                 "inherit.")
    axes = flow.axes_grid(3.1, 1, 2, left=0.7, wspace=0.45)
    plot_parity(fit, ax=axes[0, 0])
    r = fit.residuals()["residual"].to_numpy(np.float64)
    a2 = axes[0, 1]
    a2.hist(r, bins=min(30, max(5, r.size // 3)), color=PALETTE["sky"], edgecolor="white", linewidth=0.3)
    a2.axvline(0.0, color="0.3", lw=0.8)
    from matplotlib.ticker import MaxNLocator

    a2.xaxis.set_major_locator(MaxNLocator(nbins=5))
    a2.yaxis.set_major_locator(MaxNLocator(integer=True))
    a2.set_xlabel(f"residual {rlabel}")
    a2.set_ylabel("points")
    flow.caption("Left: observed against fitted values (identity line). Right: distribution of the residuals.")

    # ---------------------------------------------------------------- frontier
    if chin:
        flow.page_break("Compute-optimal frontier")
        flow.heading("Compute-optimal frontier")
        axes = flow.axes_grid(3.4, 1, 2, left=0.7, wspace=0.4)
        plot_compute_frontier(fit, budgets=budgets or None, axes=axes.ravel())
        flow.caption(
            "Left: compute-optimal model size N_opt and tokens D_opt against compute C = 6ND; grey marks show the "
            "fitted runs. Right: the loss reached on the frontier. Bands: "
            + (_interval_words(fit) if fit.bootstrap is not None else "none (no bootstrap)")
            + ". Dotted verticals mark the budgets in the table; the grey region lies beyond the largest fitted compute."
        )
        if ftab is not None:
            flow.table(ftab)

    # ---------------------------------------------------------------- diagnostics
    flow.page_break("Diagnostics")
    flow.heading("Diagnostics")
    flow.status_box(warns, checks)
    if "stage" in fit.starts:
        # a large table's search polishes on a subsample, where n_agree is counted (fit_law)
        stages = fit.starts["stage"]
        n_pol = int((stages == "polished (subsample)").sum()) or int((stages == "polished").sum())
    else:
        n_pol = fit.n_starts
    sched = fit.metadata.get("schedule") or {}
    flow.kv([
        ("status", ("converged: " if fit.converged else "NOT CONVERGED: ") + fit.status),
        ("starts", f"{fit.n_starts} screened, {n_pol} polished, {fit.n_agree} agree with the best "
                   f"(relative objective within 1e-6)"),
        ("iterations", f"{fit.n_iter}; projected gradient norm {fit.grad_norm:.2e}"),
        ("schedule", ", ".join(f"{k_} {v}" for k_, v in sched.items()) or "not recorded"),
    ])
    flow.heading("Multi-start record", level=2, keep_with=2.5)
    ax = flow.axes_grid(2.0, 1, 1, left=0.9, right=2.6, top=0.1)[0, 0]
    plot_start_objectives(fit, ax=ax)
    flow.caption("Relative objective gap of each polished start to the best. Many starts below the dashed "
                 "line means the optimum was found repeatedly from different starting points.")
    if fit.bootstrap is not None:
        names = [p.name for p in fit.law.params if p.name in fit.free]
        rows = int(np.ceil(len(names) / 3))
        flow.heading("Bootstrap replicates", level=2, keep_with=1.55 * rows + 0.75)
        axes = flow.axes_grid(1.55 * rows + 0.3, rows, 3, left=0.75, wspace=0.35, hspace=0.8, bottom=0.45, top=0.1)
        plot_bootstrap_marginals(fit, axes=axes.ravel())
        hide_unused(axes, len(names))
        flow.caption("Bootstrap distribution of each free parameter (natural scale): solid line = estimate, dashed "
                     "= interval ends. Pile-ups at an edge reveal replicates that ran onto a bound.")

    summary = _summary(fit, targets, requested, pred, warns, ftab)
    return Section(title=title, summary=summary, pages=flow.pages, warnings=warns, checks=checks,
                   provenance=_provenance(fit, ctx), banner=banner, page_titles=flow.page_titles)


register_renderer(FORMAT, render_fit_result)
