"""Posterior plots (marginals, pairs, traces) for an :class:`arviz.InferenceData`.

Thin wrappers around arviz's matplotlib plots that draw into a scalefit-styled Figure of the
right shape and return it.  Any Bayesian fit that exposes its draws as InferenceData works.
"""

from __future__ import annotations

import warnings

import numpy as np

from ..errors import ArgumentError
from ._style import new_axes_grid, style

__all__ = ["plot_posterior_marginals", "plot_posterior_pairs", "plot_posterior_trace", "plot_posterior_frontier"]


def _arviz():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        import arviz as az
    return az


import contextlib


@contextlib.contextmanager
def _quiet_arviz():
    """Silence arviz's own deprecation noise under new matplotlib (not ours to fix)."""
    from matplotlib import MatplotlibDeprecationWarning

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=MatplotlibDeprecationWarning)
        warnings.filterwarnings("ignore", category=FutureWarning)
        yield


def _posterior(idata):
    post = getattr(idata, "posterior", None)
    if post is None:
        raise ArgumentError(
            f"`idata` must be an arviz InferenceData with a `posterior` group; got {type(idata).__name__}"
        )
    return post


def _var_names(idata, var_names):
    post = _posterior(idata)
    if var_names is None:
        names = [v for v in post.data_vars if set(post[v].dims) <= {"chain", "draw"}]
        if not names:
            raise ArgumentError("the posterior has no scalar variables; pass `var_names`")
        return names
    var_names = [var_names] if isinstance(var_names, str) else list(var_names)
    unknown = [v for v in var_names if v not in post.data_vars]
    if unknown:
        raise ArgumentError(f"`var_names` {unknown} not in the posterior (it has {list(post.data_vars)})")
    return var_names


def _n_panels(idata, names) -> int:
    post = _posterior(idata)
    total = 0
    for v in names:
        extra = [s for d, s in post[v].sizes.items() if d not in ("chain", "draw")]
        total += int(np.prod(extra)) if extra else 1
    return total


def plot_posterior_marginals(idata, var_names=None, *, axes=None, hdi_prob: float = 0.94,
                             point_estimate: str = "median", ref_val=None):
    """Marginal posterior density of each variable with its HDI (``arviz.plot_posterior``).

    Parameters
    ----------
    idata : arviz.InferenceData
    var_names : list of str, optional
        Default: every scalar posterior variable.
    hdi_prob : float
        Probability mass of the highest-density interval.
    ref_val : dict, optional
        Reference (e.g. true or published) values, ``{"alpha": 0.34}``.
    """
    from matplotlib.ticker import MaxNLocator

    az = _arviz()
    names = _var_names(idata, var_names)
    n = _n_panels(idata, names)
    if ref_val is not None and not isinstance(ref_val, dict):
        raise ArgumentError("`ref_val` must be a dict {variable: value}")
    ref = None if ref_val is None else {k: [{"ref_val": float(v)}] for k, v in ref_val.items()}
    with style():
        fig, axs = new_axes_grid(n, axes=axes, ncols=min(n, 3), panel=(2.3, 1.9))
        with _quiet_arviz():
            az.plot_posterior(idata, var_names=names, ax=np.asarray(axs, dtype=object), hdi_prob=hdi_prob,
                              point_estimate=point_estimate, ref_val=ref, textsize=7, show=False)
        for ax in np.ravel(np.asarray(axs, dtype=object)):
            _summary_in_title(ax, point_estimate, hdi_prob)
            # at most 4 intervals on a ~2 inch panel: with long labels such as 0.0025 the
            # default locator can put 6 ticks there, whose labels touch (which depends on the
            # draws, hence on the machine)
            ax.xaxis.set_major_locator(MaxNLocator(nbins=4))
    return fig


def _distinct(values, sig: int = 2) -> list[str]:
    """``values`` with the fewest significant digits (at least ``sig``) that tell them apart."""
    for d in range(sig, 8):
        out = [f"{v:.{d}g}" for v in values]
        if len(set(out)) == len(set(float(v) for v in values)):
            return out
    return [f"{v:.8g}" for v in values]


def _summary_in_title(ax, point_estimate: str, hdi_prob: float) -> None:
    """Move arviz's in-panel numbers (point estimate above the density, HDI ends beside its bar)
    into the panel's title, where they cannot cover the density or each other; the HDI ends get
    as many digits as it takes to tell them apart."""
    point = [t for t in ax.texts if t.get_text().startswith(f"{point_estimate}=")]
    ends = sorted((t for t in ax.texts if t.get_ha() in ("left", "right") and t not in point),
                  key=lambda t: t.get_position()[0])
    if not point or len(ends) != 2:
        return
    m = float(point[0].get_position()[0])
    lo, hi = (float(t.get_position()[0]) for t in ends)
    for t in list(ax.texts):
        t.remove()
    lo_s, m_s, hi_s = _distinct([lo, m, hi])
    ax.set_title(f"{ax.get_title()}\n{point_estimate} {m_s}, {hdi_prob:.0%} HDI [{lo_s}, {hi_s}]", fontsize=7)


def plot_posterior_pairs(idata, var_names=None, *, axes=None, kind: str = "scatter", marginals: bool = True,
                         divergences: bool = True):
    """Pairwise joint posteriors (``arviz.plot_pair``); divergent draws are highlighted when the
    InferenceData records them."""
    az = _arviz()
    names = _var_names(idata, var_names)
    n = _n_panels(idata, names)
    if n < 2:
        raise ArgumentError("a pair plot needs at least two variables")
    k = n if marginals else n - 1
    has_div = hasattr(idata, "sample_stats") and "diverging" in getattr(idata.sample_stats, "data_vars", {})
    with style():
        if axes is None:
            from matplotlib.figure import Figure

            side = max(1.5, min(2.0, 7.0 / k))
            fig = Figure(figsize=(side * k, side * k), layout="constrained")
            grid = fig.subplots(k, k, squeeze=False)
        else:
            grid = np.asarray(axes, dtype=object)
            if grid.shape != (k, k):
                raise ArgumentError(f"`axes` must be a {k}x{k} array of Axes")
            fig = grid[0, 0].figure
        with _quiet_arviz():
            az.plot_pair(idata, var_names=names, kind=kind, marginals=marginals, ax=grid,
                         divergences=bool(divergences and has_div), textsize=7, show=False)
    return fig


def plot_posterior_trace(idata, var_names=None, *, axes=None):
    """Trace and per-chain density of each variable (``arviz.plot_trace``): chains that do not
    overlap signal a failed R-hat."""
    az = _arviz()
    names = _var_names(idata, var_names)
    n = _n_panels(idata, names)
    with style():
        if axes is None:
            from matplotlib.figure import Figure

            fig = Figure(figsize=(6.8, max(1.5, 1.4 * n)), layout="constrained")
            grid = fig.subplots(n, 2, squeeze=False)
        else:
            grid = np.asarray(axes, dtype=object)
            if grid.shape != (n, 2):
                raise ArgumentError(f"`axes` must be an {n}x2 array of Axes")
            fig = grid[0, 0].figure
        with _quiet_arviz():
            az.plot_trace(idata, var_names=names, axes=grid, show=False)
        for ax in grid.ravel():
            ax.title.set_fontsize(8)
    return fig


def plot_posterior_frontier(post, C=None, *, budgets=None, axes=None, level: float = 0.9, n_points: int = 60):
    """Compute-optimal N_opt, D_opt and L*(C) of a Chinchilla-type posterior fit, with central
    credible bands of the per-draw values (``post.allocation``, docs/bayes.md#posterior-bands: quantiles
    of per-draw allocations, never transformed quantiles).

    Parameters
    ----------
    post : PosteriorFit
        A posterior of a ``chinchilla`` or ``overtraining`` law.
    C : array_like, optional
        Compute grid in FLOPs; default from the smallest fitted compute to 100x the largest (or
        3x the largest budget).
    budgets : array_like, optional
        Budgets marked with dotted verticals.
    axes : two Axes, optional
        Left: N_opt and D_opt; right: L*(C).
    level : float
        Credible level of the bands.
    """
    from ._derive import compute_grid, is_chinchilla_type
    from ._style import BAND_ALPHA, PALETTE, column_label, log_axis_plain, mark_extrapolation

    if not (is_chinchilla_type(post) and hasattr(post, "allocation")):
        raise ArgumentError("`post` must be a posterior fit of a Chinchilla-type law (chinchilla, overtraining)")
    X, c_data, C, budgets = compute_grid(post, C, budgets, n_points)
    tab = post.allocation(C, levels=(level,))
    lo_c, hi_c = (f"q{c}" for c in _quantile_names(level))

    def col(q):
        return tab[tab["quantity"] == q].sort_values("C")

    with style():
        fig, (a1, a2) = new_axes_grid(2, axes=axes, ncols=2, panel=(3.4, 2.7))
        for q, colour, name, marker, src in (("N_opt", PALETTE["blue"], "N_opt (parameters)", "o", X["N"]),
                                             ("D_opt", PALETTE["vermillion"], "D_opt (tokens)", "^", X["D"])):
            t = col(q)
            a1.plot(t["C"], t["median"], color=colour, label=f"{name}, median")
            a1.fill_between(t["C"], t[lo_c], t[hi_c], color=colour, alpha=BAND_ALPHA, lw=0)
            a1.scatter(c_data, src, s=8, marker=marker, color="0.55", edgecolors="none", zorder=1)
        a1.scatter([], [], s=8, color="0.55", label="fitted runs")
        t = col("loss")
        a2.plot(t["C"], t["median"], color=PALETTE["green"], label="L*(C), posterior median")
        a2.fill_between(t["C"], t[lo_c], t[hi_c], color=PALETTE["green"], alpha=BAND_ALPHA, lw=0,
                        label=f"{level:.0%} credible interval")
        a2.scatter(c_data, post.frame[post.target].to_numpy(np.float64), s=8, color="0.55", edgecolors="none",
                   zorder=1, label="fitted runs")
        a1.set_title("compute-optimal allocation")
        a1.set_ylabel("compute-optimal N or D")
        a2.set_title("loss on the frontier")
        a2.set_ylabel(f"compute-optimal {column_label(post.target, post.frame)}")
        for ax in (a1, a2):
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("compute C (FLOPs)")
            mark_extrapolation(ax, c_data.max(), C.max(), budgets)
        log_axis_plain(a2.yaxis)
    return fig


def _quantile_names(level: float) -> tuple[str, str]:
    """Digits of the quantile columns of a central ``level`` interval: 0.9 -> ('05', '95')."""
    out = []
    for p in (0.5 - level / 2, 0.5 + level / 2):
        d = f"{p:.6f}".split(".")[1].rstrip("0") or "0"
        out.append(d + "0" if len(d) == 1 else d)
    return out[0], out[1]
