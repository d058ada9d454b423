"""Compute-optimal frontier of Chinchilla-type fits (N_opt, D_opt and L* against compute)."""

from __future__ import annotations

import numpy as np

from ..errors import ArgumentError
from ._derive import compute_grid, frontier, is_chinchilla_type
from ._style import BAND_ALPHA, PALETTE, column_label, log_axis_plain, mark_extrapolation, new_axes_grid, short_interval_label, \
    style

__all__ = ["plot_compute_frontier"]


def plot_compute_frontier(fit, C=None, *, budgets=None, axes=None, n_points: int = 120):
    """Compute-optimal allocation and loss against compute, with bootstrap bands.

    Parameters
    ----------
    fit : FitResult
        A Chinchilla-type fit (``chinchilla`` or ``overtraining``); with a bootstrap, bands are
        drawn from the stored replicates.
    C : array_like, optional
        Compute grid in FLOPs; by default from the smallest fitted compute to 100x the largest
        (or the largest budget).
    budgets : array_like, optional
        Budgets to mark with their N_opt, D_opt and L*.
    axes : two Axes, optional
        Left: N_opt and D_opt; right: L*(C).

    Returns
    -------
    matplotlib.figure.Figure
    """
    if not is_chinchilla_type(fit):
        raise ArgumentError(
            f"`fit` must be a Chinchilla-type fit (chinchilla, overtraining); got `{getattr(getattr(fit, 'law', None), 'name', type(fit).__name__)}`"
        )
    X, c_data, C, budgets = compute_grid(fit, C, budgets, n_points)
    fr = frontier(fit, C)
    has_band = "N_opt_lower" in fr.columns
    with style():
        fig, (a1, a2) = new_axes_grid(2, axes=axes, ncols=2, panel=(3.4, 2.7))
        for col, colour, name, marker in (("N_opt", PALETTE["blue"], "N_opt (parameters)", "o"),
                                          ("D_opt", PALETTE["vermillion"], "D_opt (tokens)", "^")):
            a1.plot(fr["C"], fr[col], color=colour, label=name)
            if has_band:
                a1.fill_between(fr["C"], fr[f"{col}_lower"], fr[f"{col}_upper"], color=colour, alpha=BAND_ALPHA, lw=0)
            src = X["N"] if col == "N_opt" else X["D"]
            a1.scatter(c_data, src, s=8, marker=marker, color="0.55", edgecolors="none", zorder=1)
        a1.scatter([], [], s=8, color="0.55", label="fitted runs")
        a1.set_xscale("log")
        a1.set_yscale("log")
        a1.set_xlabel("compute C (FLOPs)")
        a1.set_ylabel("compute-optimal N or D")
        a1.set_title("compute-optimal allocation")

        a2.plot(fr["C"], fr["loss"], color=PALETTE["green"], label="L*(C) on the frontier")
        if has_band:
            a2.fill_between(fr["C"], fr["loss_lower"], fr["loss_upper"], color=PALETTE["green"], alpha=BAND_ALPHA,
                            lw=0, label=short_interval_label(fr.attrs.get("interval", "interval")))
        y = fit.frame[fit.target].to_numpy(np.float64)
        a2.scatter(c_data, y, s=8, color="0.55", edgecolors="none", zorder=1, label="fitted runs")
        a2.set_xscale("log")
        a2.set_yscale("log")
        a2.set_xlabel("compute C (FLOPs)")
        a2.set_ylabel(f"compute-optimal {column_label(fit.target, fit.frame)}")
        a2.set_title("loss on the frontier")

        for ax in (a1, a2):
            mark_extrapolation(ax, c_data.max(), fr["C"].max(), budgets)
        log_axis_plain(a2.yaxis)
    return fig
