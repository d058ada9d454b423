"""Report pages for a saved two-step chain (``"format": "scalefit.ChainResult"``, written by
``scalefit chain -o FILE`` or :meth:`scalefit.ChainResult.to_json`): both steps' fits, the
propagated interval at the targets, and the leave-largest-rung-out backtest.  Nothing is
refitted; the replicates (or posterior draws) saved with the chain give every band."""

from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd

from ..chain import FORMAT, ChainResult, backtest_line
from ..plots import plot_extrapolation
from ..plots._style import PALETTE, fmt_num
from ._layout import Flow
from ._registry import RenderContext, Section, register_renderer
from .fitresult import load_record, provenance_head


def _targets(res: ChainResult, ctx: RenderContext) -> tuple[pd.DataFrame, bool]:
    pts = [t for t in ctx.targets if set(t) >= {"N", "D"}]
    if pts:
        return pd.DataFrame([{"N": float(t["N"]), "D": float(t["D"])} for t in pts]), True
    # default: 10x the largest fitted size at the tokens per parameter of its runs
    fr = res.step1.frame
    top = fr[fr["N"] == fr["N"].max()]
    ratio = float(np.median(top["D"] / top["N"]))
    N = 10.0 * float(fr["N"].max())
    return pd.DataFrame([{"N": N, "D": ratio * N}]), False


def _warnings(res: ChainResult, pred: pd.DataFrame) -> tuple[list[str], list[str]]:
    warns, checks = [], []
    for name, f in (("step 1", res.step1), ("step 2", res.step2)):
        (checks if f.converged else warns).append(
            f"{name} ({f.law.name}) point fit " + ("converged" if f.converged else f"NOT CONVERGED: {f.status}"))
    for name, post in (("step 1", res.posterior1), ("step 2", res.posterior2)):
        if post is not None:
            (checks if post.converged else warns).append(f"{name} posterior: {post.status}")
    if res.kept is None:
        warns.append("no intervals: the chain was fitted without replicates or posterior draws")
    elif res.method == "bootstrap" and not res.kept.all():
        warns.append(f"{int((~res.kept).sum())} of {res.kept.size} paired replicates dropped (not converged)")
    for _, p in pred.iterrows():
        if p["extrapolation"]:
            warns.append(f"at N={p['N']:.3g}, D={p['D']:.3g} the predicted `{res.intermediate}` "
                         f"{p[res.intermediate]:.4g} lies {p['extrapolation']}: the link is extrapolated")
    bt = res.backtest
    if bt is not None and "inside" in bt.columns:
        n_in, n = int(bt["inside"].sum()), len(bt)
        line = f"backtest: {n_in}/{n} runs of the held-out largest size inside their {res.level:.0%} interval"
        (checks if n_in >= np.floor(res.level * n) else warns).append(line)
    return warns, checks


def _step_table(res: ChainResult) -> pd.DataFrame:
    rows = []
    for name, f in (("1", res.step1), ("2", res.step2)):
        rows.append({"step": name, "law": f.law.name, "rows": str(len(f.frame)),
                     "converged": "yes" if f.converged else "NO"})
    return pd.DataFrame(rows)


def _param_rows(res: ChainResult) -> pd.DataFrame:
    rows = []
    for name, f in (("1", res.step1), ("2", res.step2)):
        good = None if f.bootstrap is None or res.kept is None else f.bootstrap.draws[res.kept]
        q = [(1 - res.level) / 2, 1 - (1 - res.level) / 2]
        for i, (k, v) in enumerate(f.params.items()):
            row = {"step": name, "parameter": k, "estimate": fmt_num(v, 5)}
            if good is not None:
                j = list(f.bootstrap.names).index(k)
                lo, hi = np.quantile(good[:, j], q)
                row[f"{res.level:.0%} interval"] = f"[{fmt_num(lo, 4)}, {fmt_num(hi, 4)}]"
            rows.append(row)
    return pd.DataFrame(rows)


def _prediction_table(res: ChainResult, pred: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame({
        "N": [f"{v:.3g}" for v in pred["N"]], "D": [f"{v:.3g}" for v in pred["D"]],
        res.intermediate: [fmt_num(v, 4) for v in pred[res.intermediate]],
        res.target: [fmt_num(v, 4) for v in pred["prediction"]],
    })
    if "lower" in pred.columns:
        out[f"new run {res.level:.0%}"] = [f"[{fmt_num(a, 4)}, {fmt_num(b, 4)}]"
                                           for a, b in zip(pred["lower"], pred["upper"])]
        out[f"curve {res.level:.0%}"] = [f"[{fmt_num(a, 4)}, {fmt_num(b, 4)}]"
                                         for a, b in zip(pred["mean_lower"], pred["mean_upper"])]
    return out


def _plot_link(res: ChainResult, pred: pd.DataFrame, ax) -> None:
    f2 = res.step2
    x = f2.inputs[f2.law.inputs[0]]
    fr = f2.frame
    anchor = fr["run"].astype(str).str.startswith("__anchor") if "run" in fr.columns else np.zeros(len(fr), bool)
    obs = fr[~np.asarray(anchor)]
    lo = min(float(obs[x].min()), float(pred[res.intermediate].min()))
    hi = max(float(obs[x].max()), float(pred[res.intermediate].max()))
    grid = np.linspace(lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo), 200)
    ax.scatter(obs[x], obs[res.target], s=9, color=PALETTE["sky"], label="fitted rows", zorder=3)
    ax.plot(grid, f2.law.evaluate(f2.params, **{f2.law.inputs[0]: grid}), color="0.15", lw=1.2, label="link")
    if f2.bootstrap is not None and res.kept is not None:
        from dataclasses import replace

        b = f2.bootstrap
        b = replace(b, draws=b.draws[res.kept], objective=b.objective[res.kept], converged=b.converged[res.kept])
        curves = b.evaluate(f2.law, {f2.law.inputs[0]: grid})
        q = [(1 - res.level) / 2, 1 - (1 - res.level) / 2]
        band = np.quantile(curves, q, axis=0)
        ax.fill_between(grid, band[0], band[1], color=PALETTE["sky"], alpha=0.25, lw=0,
                        label=f"{res.level:.0%} band of the link")
    ax.axvspan(grid[0], float(obs[x].min()), color="0.92", zorder=0)
    for _, p in pred.iterrows():
        yerr = None
        if "lower" in p:
            yerr = [[p["prediction"] - p["lower"]], [p["upper"] - p["prediction"]]]
        ax.errorbar([p[res.intermediate]], [p["prediction"]], yerr=yerr, fmt="*", ms=9, color=PALETTE["vermillion"],
                    capsize=3, zorder=4)
    ax.set_xlabel(x)
    ax.set_ylabel(res.target)
    ax.legend(fontsize=7, frameon=False)


def _plot_propagation(res: ChainResult, pred: pd.DataFrame, axes) -> None:
    p = pred.iloc[0]
    d = res.draws(p["N"], p["D"])
    q = [(1 - res.level) / 2, 1 - (1 - res.level) / 2]
    for ax, key, obs_key, label in ((axes[0], "intermediate", "intermediate_obs", res.intermediate),
                                    (axes[1], "target", "target_obs", res.target)):
        a, b = d[key][:, 0], d[obs_key][:, 0]
        bins = np.linspace(min(a.min(), b.min()), max(a.max(), b.max()), 40)
        ax.hist(b, bins=bins, color=PALETTE["sky"], alpha=0.7, label="new run")
        ax.hist(a, bins=bins, color="0.35", alpha=0.6, label="curve only")
        for v in np.quantile(b, q):
            ax.axvline(v, color=PALETTE["sky"], lw=1.0, ls="--")
        ax.set_xlabel(label)
        ax.set_ylabel("draws")
        ax.legend(fontsize=7, frameon=False)


def _plot_backtest(res: ChainResult, ax) -> None:
    bt = res.backtest
    x = np.arange(len(bt))
    ax.scatter(x, bt["observed"], color="0.15", s=14, label="observed", zorder=3)
    yerr = None
    if "lower" in bt.columns:
        yerr = [bt["prediction"] - bt["lower"], bt["upper"] - bt["prediction"]]
    ax.errorbar(x + 0.15, bt["prediction"], yerr=yerr, fmt="o", ms=4, color=PALETTE["sky"], capsize=2,
                label="predicted (interval)")
    ax.set_xticks(x)
    ax.set_xticklabels([f"D={v:.2g}" for v in bt["D"]], rotation=45, ha="right", fontsize=7)
    ax.set_ylabel(res.target)
    ax.legend(fontsize=7, frameon=False)


def render_chain(record: Mapping, ctx: RenderContext) -> Section:
    """Renderer for ``scalefit.ChainResult`` records."""
    res = load_record(ChainResult, record, ctx, "chain")
    targets, requested = _targets(res, ctx)
    pred = res.predict(targets["N"].to_numpy(), targets["D"].to_numpy())
    warns, checks = _warnings(res, pred)
    title = f"Chained fit: (N, D) -> {res.intermediate} -> {res.target}"
    converged = res.converged
    flow = Flow(section=title, banner=None if converged else "A STEP DID NOT CONVERGE: the numbers are unreliable.")

    flow.new_page("Chain, predictions and intervals")
    flow.heading("Two chained laws")
    flow.table(_step_table(res), note=f"Step 1: {res.step1.law.formula}. Step 2: {res.step2.law.formula}.")
    flow.table(_param_rows(res), note="Fit coordinates; intervals from the saved replicates or posterior draws.")
    flow.paragraph("Step 1 is fitted on each run's final checkpoint, step 2 on every checkpoint (plus anchor "
                   "rows); the chain predicts the link at step 1's prediction.", size=9)
    flow.heading("Predictions at the targets", level=2)
    flow.table(_prediction_table(res, pred), note=(
        ("Requested targets. " if requested else "No target requested: 10x the largest fitted size at its runs' "
         "tokens per parameter. ") + "Intervals: " + res.interval_description() + ". 'curve' is the interval of "
        "the chained curve alone (parameter uncertainty only)."))
    if res.backtest is not None:
        flow.heading("Leave-largest-rung-out backtest", level=2)
        flow.paragraph(backtest_line(res.backtest), size=9)

    flow.page_break("Step 1 and step 2")
    flow.heading(f"Step 1: (N, D) -> {res.intermediate}")
    ax = flow.axes_grid(3.6, 1, 1, left=0.7, right=0.05, bottom=0.55)[0, 0]
    plot_extrapolation(res.step1, [dict(N=float(r.N), D=float(r.D)) for r in targets.itertuples()], ax=ax)
    flow.caption(f"Final-checkpoint {res.intermediate} of the fitted runs, the fitted {res.step1.law.name} law and "
                 "its extrapolation to the targets (stars); band: the curve's interval from the saved replicates.")
    flow.heading(f"Step 2: {res.intermediate} -> {res.target}")
    ax = flow.axes_grid(3.4, 1, 1, left=0.7, right=0.05, bottom=0.55)[0, 0]
    _plot_link(res, pred, ax)
    flow.caption(f"Every fitted checkpoint, the {res.step2.law.name} link and its band; stars: the chained "
                 "predictions at the targets with their new-run intervals. The grey region lies below the "
                 f"smallest fitted {res.intermediate}, where the link is extrapolated.")

    if res.kept is not None:
        flow.page_break("Propagated uncertainty at the target")
        flow.heading("Propagated uncertainty at the first target")
        axes = flow.axes_grid(2.9, 1, 2, left=0.7, wspace=0.45)
        _plot_propagation(res, pred, axes.ravel())
        flow.caption("Per replicate (or posterior draw): the chained curve (grey) and a new run's observation "
                     "(blue: step-1 noise added to the intermediate, the link evaluated there, step-2 noise "
                     f"added); dashed lines: the {res.level:.0%} new-run interval.")
    if res.backtest is not None:
        flow.page_break("Backtest")
        flow.heading("Leave-largest-rung-out backtest")
        ax = flow.axes_grid(3.0, 1, 1, left=0.7, right=0.05, bottom=0.8)[0, 0]
        _plot_backtest(res, ax)
        bt = res.backtest
        tab = pd.DataFrame({"run": bt.iloc[:, 0].astype(str), "observed": [fmt_num(v, 4) for v in bt["observed"]],
                            "predicted": [fmt_num(v, 4) for v in bt["prediction"]],
                            "rel. error": [f"{v:+.2%}" for v in bt["relative_error"]]})
        if "inside" in bt.columns:
            tab["inside"] = ["yes" if v else "NO" for v in bt["inside"]]
        flow.table(tab, note="Refitted without the largest model size by the same method; the runs of that size "
                             "share one fit, so their hits are not independent.")
    if res.method == "bayes":
        flow.page_break("Sampler diagnostics")
        flow.heading("Sampler diagnostics")
        for name, d in res.diagnostics.items():
            flow.heading(name, level=2)
            flow.bullets([f"{'PASS' if ok else 'FAIL'} {check}: {detail}" for check, ok, detail, _ in d.checks])

    md = dict(res.step1.metadata or {})
    prov = provenance_head(md, ctx)
    prov.append(("intervals", res.interval_description()))
    summary = (f"Chained {res.step1.law.name} -> {res.step2.law.name}: at N={pred['N'].iloc[0]:.3g}, "
               f"D={pred['D'].iloc[0]:.3g} the predicted {res.target} is {fmt_num(pred['prediction'].iloc[0], 4)}"
               + (f" ({res.level:.0%} new-run interval [{fmt_num(pred['lower'].iloc[0], 4)}, "
                  f"{fmt_num(pred['upper'].iloc[0], 4)}])" if "lower" in pred.columns else "") + ".")
    return Section(title=title, summary=summary, pages=flow.pages, warnings=warns, checks=checks,
                   provenance=prov, banner=flow.banner, page_titles=flow.page_titles)


register_renderer(FORMAT, render_chain)
