"""Report renderer for saved pooled best-of-N posteriors (``"format": "scalefit.PooledPosterior"``,
written by ``scalefit bon predict DATA --groups G --pool on --method bayes -o FILE`` or
:meth:`scalefit.bayes.PooledPosterior.to_json`).

Pages: pass@N per group at a few budgets with credible intervals of the expected rate and
intervals of the rate a run will realise (table and curves), the posterior of every group
parameter and of the shared share of item difficulty, and the sampler diagnostics (R-hat, ESS,
divergences, E-BFMI) with their remedies.  A failed diagnostic is a banner on every page.  The
record is rebuilt with :meth:`PooledPosterior.from_dict`; nothing is refitted or resampled, and the
realised-rate draws use a fixed seed, so the same file gives the same report.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd

from .._extrapolation import EXTRAPOLATION_WARN
from ..errors import ArgumentError
from ..plots._style import fmt_factor, fmt_num
from ._layout import Flow
from ._registry import RenderContext, Section, register_renderer
from .bestofn import budget_factor
from .fitresult import interval_text, load_record, provenance_head, short_source
from .posterior import diagnostics_banner, diagnostics_block, diagnostics_table, diagnostics_verdicts

FORMAT = "scalefit.PooledPosterior"
#: credible level of the tables and plots unless ``--level`` asks for another
LEVEL = 0.9
#: budgets shown when none is requested (``--at N=...``): these multiples of the most attempts per item
DEFAULT_FACTORS = (1.0, 10.0, 100.0)
#: seed of the realised-rate draws (each posterior draw followed by one outcome per item)
SEED = 0

__all__ = ["FORMAT", "render_pooled_posterior", "report_budgets"]


def _attempts_max(post) -> int:
    d = post.data
    return int(np.max((np.asarray(d.n) + np.asarray(d.extra))[d.present]))


def report_budgets(post, ctx: RenderContext) -> tuple[list[float], bool]:
    """(budgets, requested): the ``--at N=...`` budgets, else the most attempts per item and 10x
    and 100x it."""
    asked = sorted({float(t["N"]) for t in ctx.targets if set(t) == {"N"}})
    if asked:
        return asked, True
    n_max = _attempts_max(post)
    return [f * n_max for f in DEFAULT_FACTORS], False


def _options(ctx: RenderContext) -> tuple[float, str]:
    opts = ctx.options
    for key, flag in (("rate", "--rate"), ("plan_budget", "--plan-budget")):
        if opts.get(key) is not None:
            raise ArgumentError(f"`{flag}` = {opts[key]} applies to best-of-N fits (scalefit bon fit -o); "
                                f"'{ctx.source}' is a pooled best-of-N posterior")
    level = float(opts["level"]) if opts.get("level") is not None else LEVEL
    return level, str(opts.get("metric") or "pass")


def _forecast_table(pred: pd.DataFrame, level: float) -> pd.DataFrame:
    return pd.DataFrame({
        "group": pred["group"].astype(str), "N": pred["N"].map(lambda v: fmt_num(v, 5)),
        "mean": pred["mean"].map(lambda v: fmt_num(v, 4)), "median": pred["estimate"].map(lambda v: fmt_num(v, 4)),
        f"{level:.0%} CrI": [interval_text(a, b, 4) for a, b in zip(pred["lower"], pred["upper"])],
        f"realised {level:.0%}": [interval_text(a, b, 4) for a, b in zip(pred["realised_lower"],
                                                                           pred["realised_upper"])]})


def _param_table(post, level: float) -> pd.DataFrame:
    tab = post.param_table(level)
    return pd.DataFrame({
        "quantity": tab["parameter"], "median": tab["median"].map(lambda v: fmt_num(v, 4)),
        f"{level:.0%} CrI": [interval_text(a, b, 4) for a, b in zip(tab["lower"], tab["upper"])],
        "SD": tab["sd"].map(lambda v: fmt_num(v, 3)),
        "R-hat": tab["r_hat"].map(lambda v: f"{v:.4f}" if np.isfinite(v) else "n/a"),
        "bulk ESS": tab["ess_bulk"].map(lambda v: f"{v:.0f}" if np.isfinite(v) else "n/a")})


def _sharing_frame(post, level: float) -> pd.DataFrame:
    """``post.sharing`` with the columns of the pooled comparison's sharing table (and plot)."""
    sh = post.sharing(level)
    lo, hi = [c for c in sh.columns if c not in ("group", "family", "median", "mean")]
    return pd.DataFrame({"group": sh["group"].astype(str), "family": sh["family"], "shared_share": sh["median"],
                         "mean": sh["mean"], "lower": sh[lo], "upper": sh[hi]})


@register_renderer(FORMAT)
def render_pooled_posterior(record: Mapping, ctx: RenderContext) -> Section:
    """Renderer for ``scalefit.PooledPosterior`` records: forecasts, posterior, diagnostics."""
    from ..bayes.pooled import PooledPosterior
    from ..plots import plot_sampling_curve, plot_sharing

    post = load_record(PooledPosterior, record, ctx, "pooled best-of-N posterior")
    level, metric = _options(ctx)
    budgets, requested = report_budgets(post, ctx)
    target = "fresh"
    pred = post.predict(budgets, target=target, levels=(level,), seed=SEED)
    groups = [str(g) for g in post.groups]
    n_items = post.data.shape[1]
    n_max = _attempts_max(post)
    diag = post.diagnostics
    st = dict(post.settings or {})
    banner = diagnostics_banner(diag)
    warns, checks = diagnostics_verdicts(diag)
    far = budget_factor(max(budgets), n_max)
    if far > EXTRAPOLATION_WARN:
        warns.append(f"Extrapolation {fmt_factor(far)} beyond the observed {n_max} attempts per item (more than "
                     f"{EXTRAPOLATION_WARN:.0f}×): the credible intervals rest on the residual families' tails of "
                     "rarely solved items, which the attempts made cannot check.")
    else:
        checks.append(f"extrapolation at most {fmt_factor(far)} (limit {EXTRAPOLATION_WARN:.0f}×)")
    fams = ", ".join(f"{g}: {f}" for g, f in zip(groups, post.families))
    title = f"Pooled best-of-N posterior ({short_source(ctx.source)})"
    budget_words = ("the requested budgets" if requested else
                    f"N = {n_max} (the most attempts per item), 10× and 100× it (no budget was requested; "
                    "use --at N=...)")

    flow = Flow(section=title, banner=banner)
    # ---------------------------------------------------------------- forecasts
    flow.new_page(f"Pooled posterior: {metric}@N per group")
    flow.heading(f"{metric}@N per group (pooled posterior)")
    flow.paragraph(
        f"{len(groups)} groups share {n_items} items (up to {n_max} attempts per item). The pooled model gives each "
        "group its own residual family of per-item success chances plus an item effect shared by all groups "
        f"(residual families: {fams}); its posterior was sampled by NUTS ({diag.num_chains} chain"
        f"{'s' if diag.num_chains != 1 else ''} × {diag.num_draws} draws). {metric}@N is the share of a group's "
        f"items solved within a fresh run of N attempts per item, shown at {budget_words}.", size=9)
    flow.table(_forecast_table(pred, level), note=(
        f"mean and median: posterior mean and median of the expected rate; {level:.0%} CrI: central credible "
        f"interval of the expected rate (parameter uncertainty); realised {level:.0%}: interval of the rate the run "
        f"will realise (each draw followed by one outcome of every item, seed {SEED})."))
    ncols = min(len(groups), 2)
    nrows = -(-len(groups) // ncols)
    axes = flow.axes_grid(2.9 * nrows, nrows, ncols, left=0.7, wspace=0.35, hspace=0.6)
    grid = np.unique(np.concatenate([np.geomspace(1.0, max(budgets), 60), budgets]))
    curve = post.predict(grid, target=target, levels=(level,), seed=SEED)
    for ax, g in zip(axes.ravel(), groups):
        plot_sampling_curve(curve[curve["group"].astype(str) == g], targets=pred[pred["group"].astype(str) == g],
                            extrapolate_from=n_max, metric=metric, level=level, label="posterior median", ax=ax)
        ax.set_title(str(g), fontsize=9)
    for ax in axes.ravel()[len(groups):]:
        ax.set_visible(False)
    flow.caption(f"Posterior median of {metric}@N (fresh run) per group with its {level:.0%} credible band against "
                 f"the budget N (log axis); markers: the budgets of the table; dashed beyond the observed {n_max} "
                 "attempts per item.")

    # ---------------------------------------------------------------- posterior
    flow.page_break("Pooled posterior: parameters and shared difficulty")
    flow.heading("Posterior of the group parameters")
    flow.table(_param_table(post, level), note=(
        f"Per group: the residual family's parameters (param_1, param_2), the log loading log_s and loading s of "
        f"the shared item effect, and the shared share; posterior median, {level:.0%} central credible interval "
        f"(CrI), SD, R-hat and bulk ESS."))
    sharing = _sharing_frame(post, level)
    flow.heading("Shared item difficulty", level=2)
    flow.paragraph("The share of each group's item variance (logit scale) common to all groups, s² / (s² + residual "
                   "variance): near 1 an item hard for one group is hard for the others; near 0 a group's hard "
                   "items are its own.", size=9)
    flow.table(pd.DataFrame({
        "group": sharing["group"], "residual family": sharing["family"],
        "median": sharing["shared_share"].map(lambda v: fmt_num(v, 3)),
        "mean": sharing["mean"].map(lambda v: fmt_num(v, 3)),
        f"{level:.0%} CrI": [interval_text(a, b, 3) for a, b in zip(sharing["lower"], sharing["upper"])]}))
    ax = flow.axes_grid(0.3 * len(groups) + 1.2, 1, 1, left=1.2, right=2.2)[0, 0]
    plot_sharing(sharing, level=level, ax=ax)
    flow.caption(f"Posterior median of the shared share per group with its {level:.0%} credible interval.")

    # ---------------------------------------------------------------- diagnostics
    flow.page_break("Diagnostics")
    flow.heading("Diagnostics")
    diagnostics_block(flow, diag, warns, checks, st.get("max_tree_depth"))
    flow.heading("R-hat and ESS per quantity", level=2, keep_with=1.5)
    flow.table(diagnostics_table(diag), note="Every sampled quantity per group. MCSE: Monte Carlo standard error "
                                             "of the median.")

    md = dict(post.metadata or {})
    prov = provenance_head({**md, "data_source": md.get("data_source") or md.get("source")}, ctx,
                           seed=st.get("seed", "not recorded"))
    prov.append(("sampler", f"NUTS, {st.get('num_chains')} chains × ({st.get('num_warmup')} warm-up + "
                            f"{st.get('num_samples')} draws), target accept {st.get('target_accept')}, "
                            f"started at the pooled point fit"))

    first = pred[pred["N"] == budgets[0]]
    parts = [f"{r['group']} {fmt_num(r['estimate'], 3)} {interval_text(r['lower'], r['upper'], 3)}"
             for _, r in first.iterrows()]
    s = [f"A pooled best-of-N posterior of {len(groups)} groups on {n_items} shared items (residual families: "
         f"{fams}), {post.num_draws} NUTS draws ({diag.num_chains} chain{'s' if diag.num_chains != 1 else ''} × "
         f"{diag.num_draws}).",
         f"At N = {fmt_num(budgets[0], 5)} (a fresh run) the posterior median of {metric}@N with its {level:.0%} "
         "credible interval is: " + "; ".join(parts) + "."]
    if len(budgets) > 1:
        s.append(f"Budgets up to N = {fmt_num(max(budgets), 5)} ({fmt_factor(far)} the observed attempts) are in "
                 "the tables.")
    s.append(f"The shared share of item difficulty (posterior median) ranges from "
             f"{fmt_num(sharing['shared_share'].min(), 2)} to {fmt_num(sharing['shared_share'].max(), 2)}.")
    if not diag.passed:
        s.append(f"WARNING: the sampler's diagnostics FAILED ({', '.join(c[0] for c in diag.checks if not c[1])}): "
                 "the draws may not represent the posterior, so treat every interval here as unreliable until it "
                 "is sampled again as the warnings suggest.")
    else:
        s.append("The sampler's diagnostics passed (R-hat, ESS, divergences, E-BFMI, tree depth).")
    return Section(title=title, summary=" ".join(s), pages=flow.pages, warnings=warns, checks=checks,
                   provenance=prov, banner=banner, page_titles=flow.page_titles)
