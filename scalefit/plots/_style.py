"""House style for scalefit figures: a colour-blind-safe palette, sizes that read at column
width, and helpers shared by every plot function.

Nothing here changes matplotlib's global state: plot functions draw inside :func:`style`, a
``matplotlib.rc_context``, and build figures with :class:`matplotlib.figure.Figure` (no pyplot,
no backend switch), so they work under any backend, including Agg in tests.
"""

from __future__ import annotations

import contextlib
import math
from typing import Iterator

import matplotlib
import numpy as np
from cycler import cycler
from matplotlib.figure import Figure

from ..errors import ArgumentError

#: Okabe & Ito (2008) colour-blind-safe palette, in the order scalefit uses it.
PALETTE = {
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "green": "#009E73",
    "orange": "#E69F00",
    "purple": "#CC79A7",
    "sky": "#56B4E9",
    "yellow": "#F0E442",
    "black": "#000000",
}
#: Colour cycle (Okabe-Ito without yellow, which is too light on white).
CYCLE = [PALETTE[k] for k in ("blue", "vermillion", "green", "orange", "purple", "sky", "black")]
#: Sequential colour map for a continuous third variable (perceptually uniform, CVD-safe).
SEQUENTIAL_CMAP = "cividis"

#: Width of one column of a two-column paper, in inches; default single-panel figures use it.
COLUMN_WIDTH = 3.4
#: Full text width of a two-column paper, in inches.
TEXT_WIDTH = 7.0

RC = {
    "font.size": 8.5,
    "axes.labelsize": 8.5,
    "axes.titlesize": 9,
    "axes.titleweight": "bold",
    "xtick.labelsize": 7.5,
    "ytick.labelsize": 7.5,
    "legend.fontsize": 7,
    "legend.frameon": False,
    "legend.handlelength": 1.8,
    "axes.prop_cycle": cycler(color=CYCLE),
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.linewidth": 0.7,
    "axes.grid": True,
    "axes.grid.which": "major",
    "grid.alpha": 0.3,
    "grid.linewidth": 0.5,
    "lines.linewidth": 1.5,
    "lines.markersize": 4,
    "xtick.major.width": 0.7,
    "ytick.major.width": 0.7,
    "errorbar.capsize": 2,
    "figure.dpi": 100,
    "savefig.dpi": 200,
    "pdf.fonttype": 42,  # TrueType: text stays text (searchable, extractable)
    "ps.fonttype": 42,
    "svg.hashsalt": "scalefit",
    "image.cmap": SEQUENTIAL_CMAP,
    "axes.formatter.limits": (-4, 5),
    "mathtext.default": "regular",
}

#: Interval band transparency.
BAND_ALPHA = 0.25

# readable axis labels for the schema's columns
_LABELS = {
    "N": "model size N (parameters)",
    "D": "training tokens D",
    "C": "training compute C (FLOPs)",
    "step": "training step",
    "L": "loss L",
}


@contextlib.contextmanager
def style() -> Iterator[None]:
    """Context manager applying scalefit's house style (``matplotlib.rc_context``)."""
    with matplotlib.rc_context(RC):
        yield


def new_figure(ax=None, *, figsize=(COLUMN_WIDTH, 2.6)):
    """Return ``(fig, ax)``: the figure of ``ax``, or a new Figure with one Axes."""
    if ax is not None:
        return ax.figure, ax
    fig = Figure(figsize=figsize, layout="constrained")
    return fig, fig.add_subplot()


def new_axes_grid(n: int, *, axes=None, ncols: int | None = None, panel=(COLUMN_WIDTH, 2.4), squeeze=True):
    """Return ``(fig, list_of_axes)`` with ``n`` panels, or check the ``axes`` that were given."""
    if axes is not None:
        axs = list(np.ravel(np.asarray(axes, dtype=object)))
        if len(axs) < n:
            raise ArgumentError(f"`axes` has {len(axs)} Axes; this plot needs {n}")
        return axs[0].figure, axs[:n]
    ncols = ncols or min(n, 3)
    nrows = math.ceil(n / ncols)
    fig = Figure(figsize=(panel[0] * ncols, panel[1] * nrows), layout="constrained")
    grid = fig.subplots(nrows, ncols, squeeze=False)
    axs = list(grid.ravel())
    for extra in axs[n:]:
        extra.set_visible(False)
    return fig, axs[:n]


def column_label(column: str, frame=None) -> str:
    """Axis label for a data column, with units for the schema's columns."""
    if column == "value" and frame is not None and "metric" in getattr(frame, "columns", ()):
        metrics = frame["metric"].dropna().unique()
        if len(metrics) == 1:
            return str(metrics[0])
    return _LABELS.get(column, column)


def fmt_num(x, digits: int = 4) -> str:
    """Compact number: ``1.975``, ``7e+10`` -> ``7.0e10``; ``nan`` -> ``n/a``."""
    try:
        x = float(x)
    except (TypeError, ValueError):
        return str(x)
    if not math.isfinite(x):
        return "n/a" if math.isnan(x) else ("∞" if x > 0 else "−∞")
    if x == 0:
        return "0"
    ax_ = abs(x)
    if 1e-3 <= ax_ < 1e5:
        r = float(f"{x:.{digits}g}")
        if abs(r) >= 10 ** (digits - 1):
            return f"{r:.0f}"
        return f"{r:.{digits}g}"
    m, e = f"{x:.{max(digits - 2, 1)}e}".split("e")
    return f"{m}e{int(e)}"


def fmt_factor(x) -> str:
    """Extrapolation factor: ``26×``, ``0.5×``."""
    x = float(x)
    if not math.isfinite(x):
        return "n/a"
    return f"{x:.0f}×" if x >= 10 else f"{x:.2g}×"


def mark_extrapolation(ax, c_fitted, c_last, budgets) -> None:
    """Shade the compute range beyond the fitted runs (``c_fitted`` to ``c_last``), mark each
    budget with a dotted vertical, and add the legend (the allocation panels)."""
    ax.axvspan(c_fitted, c_last, color="0.5", alpha=0.10, lw=0, zorder=0)
    if budgets is not None:
        for b in budgets:
            ax.axvline(b, color="0.25", lw=0.8, ls=":")
    ax.legend(loc="best")


def log_axis_plain(axis) -> None:
    """Label a log axis with plain numbers (``1.8``, ``2``, ``2.5``) when it spans less than two
    decades, where matplotlib's default would label one tick or none."""
    from matplotlib.ticker import FixedLocator, FuncFormatter, LogLocator, MaxNLocator, NullFormatter

    lo, hi = sorted(axis.get_view_interval())
    if not (lo > 0 and hi / lo < 100):
        return
    if hi / lo < 4:
        ticks = [t for t in MaxNLocator(nbins=8, steps=[1, 2, 2.5, 5, 10]).tick_values(lo, hi) if lo <= t <= hi]
        axis.set_major_locator(FixedLocator(ticks))
    else:
        axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 3.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(NullFormatter())


def log_axis_decades(axis, max_ticks: int = 8) -> None:
    """Label every decade of a long log axis (up to ``max_ticks`` labels)."""
    from matplotlib.ticker import LogLocator

    axis.set_major_locator(LogLocator(base=10, numticks=max_ticks))


def short_interval_label(text: str) -> str:
    """Legend form of an interval description: ``'95% bootstrap percentile (case, ...)'`` ->
    ``'95% bootstrap interval'``."""
    head = text.split("(")[0].strip()
    head = head.replace(" percentile", "")
    return head if head.endswith("interval") else head + " interval"
