"""Plots of point fits (and any fit-like object with ``predict``): extrapolation with bands,
residuals, parity, bootstrap marginals and the multi-start record.

Each function takes the fit (never refits it), an optional ``ax``/``axes`` to draw into, and
returns the :class:`matplotlib.figure.Figure`.
"""

from __future__ import annotations

import numpy as np
from matplotlib.ticker import MaxNLocator
import pandas as pd
from matplotlib.colors import LogNorm

from ..errors import ArgumentError
from ._derive import extrapolation_path, interval_label, normalise_targets, predict_frame
from ._style import (
    BAND_ALPHA,
    COLUMN_WIDTH,
    PALETTE,
    SEQUENTIAL_CMAP,
    column_label,
    fmt_num,
    log_axis_decades,
    log_axis_plain,
    short_interval_label,
    new_axes_grid,
    new_figure,
    style,
)

__all__ = [
    "plot_extrapolation",
    "plot_residuals",
    "plot_parity",
    "plot_bootstrap_marginals",
    "plot_start_objectives",
]


def _check_fit(fit):
    for attr in ("law", "inputs", "target", "frame"):
        if not hasattr(fit, attr):
            raise ArgumentError(
                f"`fit` must be a FitResult (or fit-like object with `{attr}`); got {type(fit).__name__}"
            )


def _y_is_log(fit, values) -> bool:
    return fit.law.target == "log" and bool(np.all(np.asarray(values) > 0))


def plot_extrapolation(fit, target=None, *, ax=None, n_points: int = 200, band: bool = True,
                       annotate: bool = True, color: str | None = None, label: str | None = None,
                       observation_band: bool = False, level: float | None = None):
    """Data, the fitted law and its extrapolation to ``target``, with the fit's interval band.

    Parameters
    ----------
    fit : FitResult or fit-like
        A point fit; with a bootstrap (or any ``predict`` that returns ``lower``/``upper``)
        the band is drawn.
    target : mapping or list of mappings, optional
        Input values to extrapolate to, e.g. ``{"N": 7e10, "D": 1.4e12}``; each is marked with
        its prediction and interval.
    ax : matplotlib Axes, optional
    n_points : int
        Points along the drawn path.
    band, annotate : bool
        Draw the interval band; write the target's prediction next to its marker.
    observation_band : bool
        Also draw the widest interval of a new observation when the fit's ``predict`` returns
        one (posterior fits: columns ``obs_q025``/``obs_q975``), as a lighter band behind the
        mean-curve band.
    level : float, optional
        Level of the band, passed to ``fit.predict`` (default: the fit's own default, e.g. the
        level a bootstrap was run with).

    Returns
    -------
    matplotlib.figure.Figure

    Notes
    -----
    For L(N, D) laws the x axis is compute C = 6ND and the law is drawn along the target's
    tokens-per-parameter ratio (data points are coloured by their own D/N); for one-input laws
    the x axis is the input.  The region beyond the largest fitted value is shaded and the law
    is dashed there.

    Examples
    --------
    >>> # fig = scalefit.plots.plot_extrapolation(fit, {"N": 7e10, "D": 1.4e12})
    >>> # fig.savefig("extrapolation.pdf")
    """
    _check_fit(fit)
    targets = normalise_targets(fit, target)
    with style():
        fig, ax = new_figure(ax, figsize=(COLUMN_WIDTH, 2.8))
        path = extrapolation_path(fit, targets, n_points)
        pred = predict_frame(fit, path.inputs, level)
        yhat = pred["estimate"].to_numpy(np.float64)
        y = fit.frame[fit.target].to_numpy(np.float64)
        color = color or PALETTE["blue"]
        x_max = float(np.max(path.x_data))

        # data
        if tuple(fit.law.inputs) == ("N", "D"):
            X = fit.frame
            ratio = X[fit.inputs["D"]].to_numpy(np.float64) / X[fit.inputs["N"]].to_numpy(np.float64)
            sc = ax.scatter(path.x_data, y, c=ratio, cmap=SEQUENTIAL_CMAP, norm=LogNorm(), s=12,
                            edgecolors="none", alpha=0.9, zorder=3)
            # legend entry in a neutral grey: the points' colour is their D/N (colour bar)
            ax.scatter([], [], s=12, color="0.45", edgecolors="none", label=f"data ({len(y)} points, colour: D/N)")
            cb = fig.colorbar(sc, ax=ax, pad=0.01, aspect=30)
            cb.set_label("data D/N (tokens per parameter)")
            cb.ax.tick_params(labelsize=7)
        else:
            ax.scatter(path.x_data, y, s=12, color=PALETTE["black"], edgecolors="none", zorder=3,
                       label=f"data ({len(y)} points)")

        # fitted law: solid over the data, dashed outside the fitted range
        x_min = float(np.min(path.x_data))
        tol = 1e-9 * max(abs(x_max), abs(x_min), 1e-300)
        left, right = path.x < x_min - tol, path.x > x_max + tol
        inside = ~left & ~right
        outside = bool(left.any() or right.any())
        ax.plot(path.x[inside], yhat[inside], color=color, lw=1.6, zorder=4,
                label=label or ("fitted law (dashed: outside the data)" if outside else "fitted law"))
        for part, edge in ((left, int(np.argmax(inside)) if inside.any() else None),
                           (right, int(len(inside) - 1 - np.argmax(inside[::-1])) if inside.any() else None)):
            if part.any():
                idx = np.flatnonzero(part)
                if edge is not None:
                    idx = np.union1d(idx, [edge])
                ax.plot(path.x[idx], yhat[idx], color=color, lw=1.6, ls="--", zorder=4)
        if observation_band:
            obs = _widest_columns(pred, "obs_")
            if obs is not None:
                (c_lo, c_hi), width = obs
                ax.fill_between(path.x, pred[c_lo], pred[c_hi], color=PALETTE["sky"], alpha=0.22, lw=0, zorder=1,
                                label=f"{width:.0%} interval of a new observation")
        if band and {"lower", "upper"} <= set(pred.columns):
            ax.fill_between(path.x, pred["lower"], pred["upper"], color=color, alpha=BAND_ALPHA, lw=0,
                            zorder=2, label=short_interval_label(interval_label(pred, fit)))

        # targets
        if targets:
            tp = predict_frame(fit, pd.DataFrame(targets), level)
            has_iv = {"lower", "upper"} <= set(tp.columns)
            for i, t in enumerate(targets):
                xv = path.x_targets[i]
                v = float(tp["estimate"].iloc[i])
                if has_iv:
                    lo, hi = float(tp["lower"].iloc[i]), float(tp["upper"].iloc[i])
                    ax.errorbar([xv], [v], yerr=[[v - lo], [hi - v]], fmt="none", ecolor=PALETTE["vermillion"],
                                elinewidth=1.2, capsize=3, zorder=6)
                if i == 0:
                    lab_t = "target: " + fmt_num(v, 4) + (f" [{fmt_num(lo, 4)}, {fmt_num(hi, 4)}]" if has_iv else "")
                else:
                    lab_t = None
                ax.plot([xv], [v], marker="*", ms=10, color=PALETTE["vermillion"], mec="white", mew=0.6,
                        zorder=7, ls="none", label=lab_t if annotate else ("target" if i == 0 else None))
                if annotate and i > 0:
                    ax.annotate(fmt_num(v, 4), (xv, v), xytext=(-6, 6), textcoords="offset points", ha="right",
                                va="bottom", fontsize=6.5, color=PALETTE["vermillion"], zorder=8)

        if path.x_log:
            ax.set_xscale("log")
        if _y_is_log(fit, np.concatenate([y, yhat])):
            ax.set_yscale("log")
        ax.set_xlabel(path.x_label)
        ax.set_ylabel(column_label(fit.target, fit.frame))
        ax.autoscale_view()
        x_lo, x_hi = ax.get_xlim()
        if targets and path.x_log and x_lo > 0:  # room right of the last target: no marker on the frame
            x_hi = max(x_hi, float(np.max(path.x_targets)) * (x_hi / x_lo) ** 0.05)
        if right.any():  # shaded: outside the fitted range
            ax.axvspan(x_max, x_hi, color="0.5", alpha=0.12, lw=0, zorder=0)
        if left.any():
            ax.axvspan(x_lo, x_min, color="0.5", alpha=0.12, lw=0, zorder=0)
        ax.set_xlim(x_lo, x_hi)
        # headroom above the data for the legend, so that it never hides a point
        y_lo, y_hi = ax.get_ylim()
        if ax.get_yscale() == "log":
            ax.set_ylim(y_lo, y_hi * (y_hi / y_lo) ** 0.45)
            log_axis_plain(ax.yaxis)
        else:
            ax.set_ylim(y_lo, y_hi + 0.45 * (y_hi - y_lo))
        if ax.get_xscale() == "log":
            log_axis_decades(ax.xaxis)
        ax.legend(loc="upper right", framealpha=0.85, frameon=True, edgecolor="none")
    return fig


def _widest_columns(pred: pd.DataFrame, prefix: str):
    """((low column, high column), coverage) of the widest central interval whose quantile
    columns start with ``prefix`` (``obs_q025``/``obs_q975`` -> 0.95), or None."""
    def prob(c):
        q = c[len(prefix):]
        return float("0." + q[1:]) if c.startswith(prefix) and q.startswith("q") and q[1:].isdigit() else None

    lows = sorted((p, c) for c in pred.columns if (p := prob(c)) is not None and p < 0.5)
    highs = sorted((p, c) for c in pred.columns if (p := prob(c)) is not None and p > 0.5)
    if not lows or not highs:
        return None
    return (lows[0][1], highs[-1][1]), highs[-1][0] - lows[0][0]


def _residual_label(fit) -> str:
    return "residual  log(pred/obs)" if fit.law.target == "log" else "residual  pred − obs"


def plot_residuals(fit, *, axes=None):
    """Residuals against each input and against the fitted value (one panel each).

    Residuals are those the law was fitted on: ``log(pred) − log(obs)`` for loss laws.  Dotted
    lines mark ± one residual standard deviation.
    """
    _check_fit(fit)
    res = fit.residuals()
    r = res["residual"].to_numpy(np.float64)
    sd = float(np.std(r, ddof=1)) if r.size > 1 else float("nan")
    cols = [fit.inputs[n] for n in fit.law.inputs] + ["prediction"]
    with style():
        fig, axs = new_axes_grid(len(cols), axes=axes, ncols=min(len(cols), 3), panel=(2.4, 2.1))
        for ax, col in zip(axs, cols):
            xv = res[col].to_numpy(np.float64)
            ax.axhline(0.0, color="0.3", lw=0.8)
            if np.isfinite(sd):
                for s in (-sd, sd):
                    ax.axhline(s, color="0.5", lw=0.7, ls=":")
            ax.scatter(xv, r, s=10, color=PALETTE["blue"], edgecolors="none", alpha=0.85)
            if fit.law.positive_inputs and np.all(xv > 0):
                ax.set_xscale("log")
                if col == "prediction":
                    ax.autoscale_view()
                    log_axis_plain(ax.xaxis)
            ax.set_xlabel("fitted value" if col == "prediction" else column_label(col, fit.frame))
        axs[0].set_ylabel(_residual_label(fit))
        lim = float(np.nanmax(np.abs(r))) * 1.15 if r.size else 1.0
        for ax in axs:
            ax.set_ylim(-lim, lim)
    return fig


def plot_parity(fit, *, ax=None):
    """Observed against fitted values with the identity line (log axes for loss laws)."""
    _check_fit(fit)
    res = fit.residuals()
    obs = res[fit.target].to_numpy(np.float64)
    pred = res["prediction"].to_numpy(np.float64)
    with style():
        fig, ax = new_figure(ax, figsize=(COLUMN_WIDTH * 0.8, COLUMN_WIDTH * 0.8))
        lo, hi = float(min(obs.min(), pred.min())), float(max(obs.max(), pred.max()))
        ax.plot([lo, hi], [lo, hi], color="0.3", lw=0.8, label="identity")
        ax.scatter(pred, obs, s=10, color=PALETTE["blue"], edgecolors="none", alpha=0.85, label="data")
        if _y_is_log(fit, np.concatenate([obs, pred])):
            ax.set_xscale("log")
            ax.set_yscale("log")
            log_axis_plain(ax.xaxis)
            log_axis_plain(ax.yaxis)
        name = column_label(fit.target, fit.frame)
        ax.set_xlabel(f"fitted {name}")
        ax.set_ylabel(f"observed {name}")
        ax.legend(loc="upper left")
    return fig


def _param_label(p) -> str:
    return p.natural if p.natural else p.symbol


def plot_bootstrap_marginals(fit, *, axes=None, params=None, bins: int = 30):
    """Histograms of the bootstrap replicates of each parameter on the natural scale.

    The solid line marks the point estimate, dashed lines the percentile interval.  Pile-ups at
    an edge reveal replicates that ran onto a bound.
    """
    _check_fit(fit)
    boot = getattr(fit, "bootstrap", None)
    if boot is None:
        raise ArgumentError("`fit` has no bootstrap; call scalefit.bootstrap(fit) first")
    table = boot.table(fit.law, fit.params).set_index("parameter")
    names = list(params) if params is not None else [p.name for p in fit.law.params if p.name in fit.free]
    with style():
        fig, axs = new_axes_grid(len(names), axes=axes, ncols=min(len(names), 3), panel=(2.3, 1.8))
        for ax, name in zip(axs, names):
            p = fit.law.params[name]
            v = boot.param(name)
            v = np.exp(v) if p.is_log else v
            row = table.loc[name]
            use_log = p.is_log and np.all(v > 0) and v.max() / v.min() > 30
            edges = np.geomspace(v.min(), v.max(), bins + 1) if use_log else bins
            ax.hist(v, bins=edges, color=PALETTE["sky"], edgecolor="white", linewidth=0.3)
            if use_log:
                ax.set_xscale("log")
            ax.axvline(row["natural_estimate"], color=PALETTE["blue"], lw=1.4)
            for q in (row["natural_lower"], row["natural_upper"]):
                ax.axvline(q, color=PALETTE["vermillion"], lw=1.0, ls="--")
            ax.set_xlabel(_param_label(p))
            ax.yaxis.set_major_locator(MaxNLocator(nbins=3, integer=True))
            ax.grid(False)
        for ax in axs[::min(len(names), 3)]:  # first panel of each row
            ax.set_ylabel(f"replicates\n(of {boot.n_converged})")
    return fig


def plot_start_objectives(fit, *, ax=None):
    """Relative objective gap of every polished start to the best: many starts at the bottom
    (below the 1e-6 agreement line) mean the optimum was found repeatedly."""
    _check_fit(fit)
    starts = getattr(fit, "starts", None)
    if starts is None or "objective_scaled" not in starts:
        raise ArgumentError("`fit` has no record of its starts")
    pol = starts[starts["stage"] == "polished"] if "stage" in starts else starts
    f = pol["objective_scaled"].to_numpy(np.float64)
    f = f[np.isfinite(f)]
    with style():
        fig, ax = new_figure(ax, figsize=(COLUMN_WIDTH, 2.2))
        if f.size:
            best = f.min()
            gap = np.sort((f - best) / max(abs(best), 1e-300))
            floor = 1e-16
            ax.scatter(np.arange(1, gap.size + 1), np.maximum(gap, floor), s=12, color=PALETTE["blue"],
                       edgecolors="none", zorder=3)
            ax.axhline(1e-6, color=PALETTE["vermillion"], lw=0.9, ls="--", label="agreement tolerance 1e-6")
            ax.set_yscale("log")
            # a decade of room above the largest gap: no start drawn on the frame
            ax.set_ylim(floor / 3, max(1.0, float(gap.max())) * 30)
            ax.legend(loc="upper left")
        ax.set_xlabel("polished start (sorted)")
        ax.set_ylabel("relative gap\nto the best objective")
    return fig
