"""Report renderer for saved Bayesian fits (``"format": "scalefit.PosteriorFit"``).

Pages: parameters and predictions (posterior medians, credible intervals, R-hat and ESS per
parameter; mean-curve and new-observation intervals at the targets), the extrapolation plot
with posterior bands, marginal and pairwise posteriors, the compute-optimal frontier with
per-draw intervals (Chinchilla-type laws), and the diagnostics that gate the fit (R-hat,
bulk/tail ESS, divergences, E-BFMI, tree depth; docs/bayes.md#diagnostics) with the remedy for each
failure.  The cover page gets a plain-language summary of the posterior prediction at the
primary target with its credible interval and extrapolation factor, every warning, and the
fit's provenance.  The record is rebuilt with :meth:`PosteriorFit.from_dict`; nothing is
resampled, and new-observation draws use a fixed seed, so the same file gives the same report.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd

from ..errors import ArgumentError
from ..plots._derive import extrapolation_path, is_chinchilla_type
from ..plots._style import column_label, fmt_factor, fmt_num
from ._layout import Flow
from .fitresult import default_budgets, describe_point, extrapolation_basis, hide_unused, input_label, input_ranges, \
    interval_text, load_record, provenance_head, requested_targets, short_source, \
    summary_opening
from ._registry import RenderContext, Section, register_renderer

FORMAT = "scalefit.PosteriorFit"
from .._extrapolation import EXTRAPOLATION_WARN  # noqa: E402  (docs/bayes.md#posterior-bands)
#: headline credible level (docs/bayes.md#posterior-bands: median and 5–95%, also 2.5–97.5%)
LEVEL = 0.9
LEVELS = (0.9, 0.95)
_LIKELIHOODS = {"student_t": "Student-t", "normal": "Normal", "beta": "Beta"}


# ============================================================================ helpers
def _q(p: float) -> str:
    from ..bayes.posterior import qname

    return qname(p)


def _cols(level: float, prefix: str = "") -> tuple[str, str]:
    return f"{prefix}{_q(0.5 - level / 2)}", f"{prefix}{_q(0.5 + level / 2)}"


def _rhat(v) -> str:
    v = float(v)
    return f"{v:.4f}" if np.isfinite(v) else ("∞" if v > 0 else "n/a")


def _ess(v) -> str:
    v = float(v)
    return f"{v:.0f}" if np.isfinite(v) else "n/a"


def _targets(post, ctx: RenderContext) -> tuple[list[dict[str, float]], bool, list[str]]:
    """Applicable requested targets, or the fit's own extrapolation target: 10x the largest
    fitted scale (the point whose mean curve the diagnostics check as ``curve_at_10x``)."""
    usable, skipped = requested_targets(post, ctx)
    if usable:
        return usable, True, skipped
    if post.law.positive_inputs:
        X = post.extrapolation_points((10.0,))
        return [{n: float(X[n][0]) for n in post.law.inputs}], False, skipped
    return [{n: float(post.frame[post.inputs[n]].max()) for n in post.law.inputs}], False, skipped


def _factor(row) -> float:
    """The extrapolation factor (``scalefit._extrapolation``: the same for every fit path)."""
    return float(row["extrapolation"]) if "extrapolation" in row else float("nan")


# ============================================================================ tables
def _param_table(post, level: float) -> tuple[pd.DataFrame, str]:
    tab = post.param_table(level)
    diag = post.diagnostics.table
    lo, hi = (_q(0.5 - level / 2), _q(0.5 + level / 2))
    rows = []
    source = {}
    for n in post.law.param_names:
        p = post.law.params[n]
        if p.natural:
            source[p.natural] = n
    for _, r in tab.iterrows():
        name = str(r["parameter"])
        base = source.get(name, name)  # R-hat/ESS are rank-based: the same for exp(coordinate)
        ref = post.tied.get(base, base)
        d = diag.loc[ref] if ref in diag.index else None
        role = str(r["role"])
        fixed = role == "fixed" or (role.startswith("=") and base in post.fixed)
        row = {
            "parameter": name if name == r["symbol"] else f"{name} ({r['symbol']})",
            "median": fmt_num(r["median"], 5),
            f"{level:.0%} CrI": "fixed" if fixed else interval_text(r[lo], r[hi], 4),
            "SD": "—" if fixed else fmt_num(r["sd"], 3),
            "R-hat": "—" if d is None or fixed else _rhat(d["r_hat"]),
            "bulk ESS": "—" if d is None or fixed else _ess(d["ess_bulk"]),
            "tail ESS": "—" if d is None or fixed else _ess(d["ess_tail"]),
            "role": role,
        }
        rows.append(row)
    note = (f"Posterior median, {level:.0%} central credible interval (CrI) and SD of every law coordinate, "
            "its natural quantity (e.g. A = exp(a)) and the likelihood parameters. R-hat (rank-normalised split) "
            "and ESS are computed on the sampled coordinate; being rank-based they hold for its exponential too. "
            f"Thresholds: R-hat ≤ {post.diagnostics.thresholds.rhat_max}, ESS ≥ {post.diagnostics.thresholds.ess_min:g}.")
    return pd.DataFrame(rows), note


def _prediction_table(post, pred: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for _, r in pred.iterrows():
        row = {input_label(post, n): fmt_num(r[n], 3) for n in post.law.inputs}
        row["median"] = fmt_num(r["median"], 4)
        for lv in LEVELS:
            lo, hi = _cols(lv)
            row[f"curve {lv:.0%} CrI"] = interval_text(r[lo], r[hi], 4)
        for lv in LEVELS:
            lo, hi = _cols(lv, "obs_")
            if lo in pred:
                row[f"new obs. {lv:.0%}"] = interval_text(r[lo], r[hi], 4)
        f = _factor(r)
        row["beyond data"] = fmt_factor(f) if np.isfinite(f) else "—"
        rows.append(row)
    return pd.DataFrame(rows)


def _frontier_table(post, budgets, level: float) -> pd.DataFrame:
    tab = post.allocation(budgets, levels=(level,))
    lo, hi = _cols(level)
    rows = []
    for c in sorted(set(tab["C"].dropna())):
        part = tab[tab["C"] == c].set_index("quantity")
        g = lambda q, col: part.loc[q, col]  # noqa: E731
        rows.append({
            "C (FLOPs)": fmt_num(c, 3),
            "N_opt": fmt_num(g("N_opt", "median"), 3), "N_opt CrI": interval_text(g("N_opt", lo), g("N_opt", hi), 3),
            "D_opt": fmt_num(g("D_opt", "median"), 3), "D_opt CrI": interval_text(g("D_opt", lo), g("D_opt", hi), 3),
            "D/N": fmt_num(g("tokens_per_param", "median"), 3),
            "L*": fmt_num(g("loss", "median"), 4), "L* CrI": interval_text(g("loss", lo), g("loss", hi), 4),
        })
    return pd.DataFrame(rows)


def _checks_table(diag) -> pd.DataFrame:
    return pd.DataFrame([{"check": name, "verdict": "PASS" if ok else "FAIL", "result": detail}
                         for name, ok, detail, _ in diag.checks])


def diagnostics_table(diag) -> pd.DataFrame:
    """R-hat, bulk/tail ESS and MCSE of every gated quantity, flagged against the thresholds."""
    rows = []
    th = diag.thresholds
    for name, r in diag.table.iterrows():
        bad = not (r["r_hat"] <= th.rhat_max) or not (r["ess_bulk"] >= th.ess_min) or not (r["ess_tail"] >= th.ess_min)
        rows.append({"quantity": str(name), "R-hat": _rhat(r["r_hat"]), "bulk ESS": _ess(r["ess_bulk"]),
                     "tail ESS": _ess(r["ess_tail"]), "MCSE (median)": fmt_num(r["mcse_median"], 2),
                     "": "FAIL" if bad else "ok"})
    return pd.DataFrame(rows)


# ============================================================================ warnings / summary
def diagnostics_verdicts(diag) -> tuple[list[str], list[str]]:
    """(warnings, passed checks) of a posterior's sampler diagnostics (any saved posterior's)."""
    warns, checks = [], []
    for name, ok, detail, remedy in diag.checks:
        if ok:
            checks.append(f"{name}: {detail}")
        else:
            warns.append(f"DIAGNOSTICS FAILED ({name}): {detail}." + (f" Remedy: {remedy}." if remedy else ""))
    return warns, checks


def diagnostics_banner(diag) -> str | None:
    """The banner on top of every page of a posterior whose diagnostics failed (None if they passed)."""
    if diag.passed:
        return None
    failed = [c for c in diag.checks if not c[1]]
    return ("DIAGNOSTICS FAILED: " + "; ".join(f"{c[0]} ({c[2]})" for c in failed)
            + ". The draws may not represent the posterior. Remedy: " + " / ".join(c[3] for c in failed if c[3]) + ".")


def diagnostics_block(flow: Flow, diag, warns: list[str], checks: list[str], max_tree_depth) -> None:
    """The diagnostics page's opening: every warning and passed check, the sampler checks with
    their verdicts, the remedies of those that failed, divergences, E-BFMI, tree depth, draws."""
    flow.status_box(warns, checks)
    flow.heading("Sampler checks (docs/bayes.md#diagnostics)", level=2)
    flow.table(_checks_table(diag), align=["l", "c", "l"])
    remedies = [f"{c[0]}: {c[3]}" for c in diag.checks if not c[1] and c[3]]
    if remedies:
        flow.box(remedies, kind="note", title="Suggested remedies")
    flow.kv([
        ("divergences", f"{diag.divergences} after warm-up (threshold {diag.thresholds.divergences_max})"),
        ("E-BFMI", ", ".join(f"{b:.2f}" for b in diag.bfmi) + f" per chain (threshold {diag.thresholds.bfmi_min})"
         if diag.bfmi else "not available"),
        ("tree depth", f"{100 * diag.treedepth_fraction:.1f}% of transitions at the maximum "
                       f"{max_tree_depth} (threshold {100 * diag.thresholds.treedepth_max_fraction:.0f}%)"),
        ("draws", f"{diag.num_chains} chains × {diag.num_draws} draws"),
    ])


def posterior_warnings(post, pred: pd.DataFrame, targets) -> tuple[list[str], list[str]]:
    """(warnings, passed checks) for a posterior fit and its predictions at the targets."""
    warns, checks = diagnostics_verdicts(post.diagnostics)
    for i, (_, r) in enumerate(pred.iterrows()):
        f = _factor(r)
        if np.isfinite(f) and f > EXTRAPOLATION_WARN:
            warns.append(
                f"Extrapolation {fmt_factor(f)} beyond the fitted data{extrapolation_basis(post)} at {describe_point(post, targets[i])} "
                f"(more than {EXTRAPOLATION_WARN:.0f}×): the credible interval is conditional on the law's form holding "
                "that far outside the data, which the data cannot check (docs/bayes.md#posterior-bands)."
            )
    fs = [_factor(r) for _, r in pred.iterrows()]
    fs = [f for f in fs if np.isfinite(f)]
    if fs and max(fs) <= EXTRAPOLATION_WARN:
        checks.append(f"extrapolation at most {fmt_factor(max(fs))} (limit {EXTRAPOLATION_WARN:.0f}×)")
    return warns, checks


def _summary(post, targets, requested, pred, warns, ftab, level: float) -> str:
    ylabel, opening = summary_opening(post, len(post.frame))
    s = [f"{opening} by Bayesian inference (NUTS, {post.num_draws} posterior draws)."]
    r = pred.iloc[0]
    where = describe_point(post, targets[0])
    lead = ("At the requested target" if requested
            else "No target was requested (use --at); at 10× the largest fitted scale")
    lo, hi = _cols(level)
    olo, ohi = _cols(level, "obs_")
    ext = _factor(r)
    ext_words = f", {fmt_factor(ext)} beyond the fitted data{extrapolation_basis(post)}," if np.isfinite(ext) and ext > 1 else ""
    sent = (f"{lead}, {where}{ext_words} the posterior median of {ylabel} is {fmt_num(r['median'], 4)}, with a "
            f"{level:.0%} credible interval of {fmt_num(r[lo], 4)} to {fmt_num(r[hi], 4)} for the mean curve")
    if olo in pred:
        sent += f" ({fmt_num(r[olo], 4)} to {fmt_num(r[ohi], 4)} for a new run's measurement)"
    s.append(sent + ".")
    if np.isfinite(ext):
        s.append(f"The extrapolation factor is {fmt_factor(ext)}"
                 + (": beyond 10× the interval rests on the law's form, a strong assumption." if ext > EXTRAPOLATION_WARN
                    else "."))
    if len(pred) > 1:
        s.append(f"Predictions at {len(pred) - 1} further target{'s' if len(pred) > 2 else ''} are in the tables.")
    if ftab is not None and len(ftab):
        b = ftab.iloc[0]
        s.append(f"On the compute-optimal frontier, C = {b['C (FLOPs)']} FLOPs is best spent on N = {b['N_opt']} "
                 f"{b['N_opt CrI']} parameters and D = {b['D_opt']} {b['D_opt CrI']} tokens, for {ylabel} {b['L*']} "
                 f"{b['L* CrI']} ({level:.0%} credible intervals of the per-draw allocations).")
    if not post.converged:
        s.append(f"WARNING: the sampler's diagnostics FAILED ({', '.join(c[0] for c in post.diagnostics.checks if not c[1])}): "
                 "the draws may not represent the posterior, so treat every interval here as unreliable until the "
                 "fit is rerun as the warnings suggest.")
    elif warns:
        s.append(f"The sampler's diagnostics passed, but {len(warns)} warning{'s' if len(warns) > 1 else ''} "
                 "above qualif" + ("y" if len(warns) > 1 else "ies") + " these numbers.")
    else:
        s.append("The sampler's diagnostics passed (R-hat, ESS, divergences, E-BFMI, tree depth) and no other "
                 "warning was raised.")
    return " ".join(s)


def _provenance(post, ctx: RenderContext) -> list[tuple[str, str]]:
    md = dict(post.metadata or {})
    st = dict(post.settings or {})
    rows = provenance_head(md, ctx, seed=st.get("seed", "not recorded"))
    lik = _LIKELIHOODS.get(post.likelihood, post.likelihood)
    rows.append(("model", f"{lik} likelihood on {'log ' if post.law.target == 'log' else ''}{post.target}"
                          + (" with run effects" if post.run_effects else "")
                          + f"; prior scale ×{fmt_num(md.get('prior_scale', st.get('prior_scale', 1.0)), 3)}"))
    if st:
        rows.append(("sampler", f"NUTS, {st.get('num_chains')} chains × ({st.get('num_warmup')} warm-up + "
                                f"{st.get('num_samples')} draws), target accept {st.get('target_accept')}, "
                                f"max tree depth {st.get('max_tree_depth')}, "
                                f"{'dense' if st.get('dense_mass', True) else 'diagonal'} mass matrix, "
                                f"start: {st.get('init', 'not recorded')}"))
    return rows


def _natural_idata(post, names):
    """A small InferenceData of the named law parameters on the natural scale (A = exp(a)),
    chains kept, with the divergences, for the marginal and pair plots."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        import arviz as az
    postg = post.idata.posterior
    out, labels = {}, []
    for n in names:
        p = post.law.params[n] if n in post.law.param_names else None
        v = np.asarray(postg[n].values, dtype=np.float64)
        if p is not None and p.natural:
            out[p.natural] = np.exp(v)
            labels.append(p.natural)
        else:
            out[n] = v
            labels.append(n)
    stats = {}
    ss = getattr(post.idata, "sample_stats", None)
    if ss is not None and "diverging" in ss:
        stats["diverging"] = np.asarray(ss["diverging"].values, dtype=bool)
    return az.from_dict(posterior=out, sample_stats=stats or None), labels


# ============================================================================ renderer
def render_posterior_fit(record: Mapping, ctx: RenderContext) -> Section:
    """Renderer for ``scalefit.PosteriorFit`` records (registered under that format)."""
    import warnings

    with warnings.catch_warnings():
        # a stuck chain makes arviz's KDE warn; the diagnostics already report it prominently
        warnings.filterwarnings("ignore", message="Your data appears to have a single value", category=UserWarning)
        return _render(record, ctx)


def _render(record: Mapping, ctx: RenderContext) -> Section:
    from ..bayes.posterior import PosteriorFit
    from ..plots import plot_extrapolation, plot_posterior_marginals, plot_posterior_pairs, plot_posterior_trace

    post = load_record(PosteriorFit, record, ctx, "posterior")

    level = float(ctx.options.get("level", LEVEL))
    if not 0 < level < 1:
        raise ArgumentError(f"option `level` = {level!r} must lie in (0, 1)")
    targets, requested, skipped = _targets(post, ctx)
    # one target at a time: the new-observation draws of a target then do not depend on which other
    # targets were requested, and equal ``post.predict(target)``
    levels = tuple(sorted({level, *LEVELS}))
    pred = pd.concat([post.predict(pd.DataFrame([t]), levels=levels, seed=0) for t in targets], ignore_index=True)
    warns, checks = posterior_warnings(post, pred, targets)
    chin = is_chinchilla_type(post)
    budgets = default_budgets(post, ctx, targets) if chin else []
    ftab = _frontier_table(post, budgets, level) if chin and budgets else None
    law_name = post.law.display_name
    title = f"{law_name} posterior ({short_source(ctx.source)})"
    diag = post.diagnostics
    banner = diagnostics_banner(diag)
    flow = Flow(section=title, banner=banner)

    # ---------------------------------------------------------------- tables
    flow.new_page("Posterior: parameters and predictions")
    flow.heading("Fitted law (Bayesian)")
    flow.paragraph(f"{law_name}: {post.law.formula}", weight="bold")
    st = post.settings
    flow.paragraph(
        f"{len(post.frame)} points of `{post.target}` ({column_label(post.target, post.frame)}); {input_ranges(post)}. "
        f"{_LIKELIHOODS.get(post.likelihood, post.likelihood)} likelihood"
        f"{' on the log scale' if post.law.target == 'log' else ''}{', run effects' if post.run_effects else ''}; "
        f"NUTS with {st.get('num_chains')} chains × {st.get('num_samples')} draws after {st.get('num_warmup')} "
        f"warm-up steps ({post.num_draws} draws in all).", size=9)
    flow.heading("Parameters", level=2)
    ptab, pnote = _param_table(post, level)
    flow.table(ptab, note=pnote)
    flow.heading("Predictions at the targets", level=2)
    flow.table(_prediction_table(post, pred), note=(
        ("Requested targets. " if requested else
         "No target requested: 10× the largest fitted scale (every input × 10^(1/k) for k inputs). ")
        + "'curve' intervals are parameter uncertainty of the mean law (docs/bayes.md#posterior-bands); 'new obs.' intervals "
          "add the noise of a new run's measurement (item 2). 'beyond data' is the extrapolation factor (the scale "
          "ratio for several inputs)."
        + (f" Targets not applicable to this law were skipped: {'; '.join(skipped)}." if skipped else "")))
    if ftab is not None:
        flow.heading("Compute-optimal allocation", level=2)
        flow.table(ftab, note=f"Minimising the law subject to C = 6ND for every posterior draw; medians and {level:.0%} "
                              "credible intervals of the per-draw values (docs/bayes.md#posterior-bands).")

    # ---------------------------------------------------------------- extrapolation
    flow.page_break("Extrapolation to the target")
    flow.heading("Extrapolation to the target")
    ax = flow.axes_grid(6.3, 1, 1, left=0.7, right=0.05, bottom=0.55)[0, 0]
    plot_extrapolation(post, targets, ax=ax, observation_band=True, level=0.95)
    path = extrapolation_path(post, targets)
    flow.caption(
        f"Measured {column_label(post.target, post.frame)} (dots) against {path.x_label}, the posterior median of "
        f"the law (solid line) {path.description + ' ' if path.description else ''}and its extrapolation (dashed) "
        "into the grey region outside the fitted range. Dark band: 95% credible interval of the mean curve; light "
        "band: 95% interval of a new observation. Stars mark the targets with their curve intervals. Log axes."
    )

    # ---------------------------------------------------------------- posteriors
    flow.page_break("Posterior distributions")
    flow.heading("Posterior distributions")
    free = [n for n in post.law.param_names if n in post.free and n in post.idata.posterior.data_vars]
    nuis = [n for n in ("sigma",) if n in post.idata.posterior.data_vars]
    marg_idata, labels = _natural_idata(post, free + nuis)
    n = len(labels)
    if n:
        rows = int(np.ceil(n / 3))
        # top and hspace leave room for the two-line titles (name; median and HDI)
        axes = flow.axes_grid(1.95 * rows + 0.4, rows, 3, left=0.3, right=0.1, wspace=0.25, hspace=0.95,
                              bottom=0.35, top=0.45)
        plot_posterior_marginals(marg_idata, var_names=labels, axes=axes.ravel()[:n], hdi_prob=0.9)
        hide_unused(axes, n)
        flow.caption("Marginal posterior of each free parameter on the natural scale (and the residual scale σ) "
                     "with its 90% highest-density interval and median.")
    pair = labels[: min(len(free), 4)]
    if len(pair) >= 2:
        k = len(pair)
        side = min(1.45, 5.6 / k)
        flow.heading("Pairwise posteriors", level=2, keep_with=side * k + 0.4)
        axes = flow.axes_grid(side * k + 0.3, k, k, left=0.9, right=_pair_right(k, side), wspace=0.1, hspace=0.1,
                              bottom=0.45, top=0.05)
        plot_posterior_pairs(marg_idata, var_names=pair, axes=axes)
        flow.caption("Joint posterior draws of pairs of free parameters (divergent transitions, if any, highlighted). "
                     "Strong correlations are expected for scaling laws; they are why the intervals of derived "
                     "quantities come from per-draw values, not from the marginals.")

    # ---------------------------------------------------------------- frontier
    if chin:
        from ..plots.posterior import plot_posterior_frontier

        flow.page_break("Compute-optimal frontier")
        flow.heading("Compute-optimal frontier")
        axes = flow.axes_grid(3.4, 1, 2, left=0.7, wspace=0.4)
        plot_posterior_frontier(post, budgets=budgets or None, axes=axes.ravel(), level=level)
        flow.caption(f"Left: compute-optimal N_opt and D_opt against compute C = 6ND; right: the loss on the frontier. "
                     f"Lines: posterior medians; bands: {level:.0%} credible intervals of the per-draw values. Dotted "
                     "verticals mark the budgets; the grey region lies beyond the largest fitted compute.")
        if ftab is not None:
            flow.table(ftab)

    # ---------------------------------------------------------------- diagnostics
    flow.page_break("Diagnostics")
    flow.heading("Diagnostics")
    diagnostics_block(flow, diag, warns, checks, st.get("max_tree_depth"))
    try:
        loo = post.loo()
        loo_text = (f"elpd_loo {loo.elpd:.2f} (SE {loo.se:.2f}), p_loo {loo.p_loo:.2f}; {loo.message}. PSIS-LOO "
                    "measures interpolation only; compare laws for extrapolation with leave-future-out.")
    except Exception as exc:  # noqa: BLE001 - LOO is informative here, never a reason to fail the report
        loo_text = f"not available ({type(exc).__name__})"
    flow.kv([("PSIS-LOO", loo_text)])
    flow.heading("R-hat and ESS per quantity", level=2, keep_with=1.5)
    flow.table(diagnostics_table(diag), note="Every sampled quantity and the mean curve at 10× the largest fitted scale "
                                       "(curve_at_10x). MCSE: Monte Carlo standard error of the median.")
    trace = [n for n in free if n in post.idata.posterior.data_vars]
    if trace:
        h = 1.2 * len(trace) + 0.3
        flow.heading("Traces", level=2, keep_with=h)
        axes = flow.axes_grid(h, len(trace), 2, left=0.6, wspace=0.25, hspace=0.9, bottom=0.35, top=0.15)
        plot_posterior_trace(post.idata, var_names=trace, axes=axes)
        flow.caption("Per-chain density (left) and trace (right) of each free law coordinate: chains that do not "
                     "overlap, or traces that drift, explain a failed R-hat.")
    flow.heading("Priors", level=2, keep_with=1.0)
    flow.table(post.prior_table()[["parameter", "resolved"]].rename(columns={"resolved": "prior (resolved on the data)"}),
               align=["l", "l"])

    summary = _summary(post, targets, requested, pred, warns, ftab, level)
    return Section(title=title, summary=summary, pages=flow.pages, warnings=warns, checks=checks,
                   provenance=_provenance(post, ctx), banner=banner, page_titles=flow.page_titles)


def _pair_right(k: int, side: float) -> float:
    """Right margin (inches) that keeps a k×k pair grid roughly square."""
    from ._layout import TEXT_W

    return max(0.1, TEXT_W - 0.9 - side * k)


register_renderer(FORMAT, render_posterior_fit)
