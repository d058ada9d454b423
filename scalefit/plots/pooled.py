"""Plots of a pooled best-of-N comparison (groups that share items) from plain DataFrames: the
pooled and the independent forecasts side by side, the internal backtest that chose between
them, and the share of item difficulty the groups have in common.

They take the tables of :class:`scalefit.sampling.pooled.GroupedBon` (``predict``, ``scores``,
``sharing``) or of a saved pooled report record, never a fit.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import ArgumentError
from ._style import PALETTE, fmt_num, new_axes_grid, new_figure, style

__all__ = ["plot_pooled_forecasts", "plot_pooled_choice", "plot_sharing"]

_METHOD_STYLE = {"pooled": (PALETTE["vermillion"], "s", 0.17), "independent": (PALETTE["blue"], "o", -0.17)}


def _frame(name: str, df, columns) -> pd.DataFrame:
    if not isinstance(df, pd.DataFrame):
        raise ArgumentError(f"`{name}` must be a DataFrame, got {type(df).__name__}")
    missing = sorted(set(columns) - set(df.columns))
    if missing:
        raise ArgumentError(f"`{name}` lacks column(s) {missing}; it has {list(df.columns)}")
    return df


def _group_axis(ax, groups) -> None:
    ax.set_yticks(np.arange(len(groups)), [str(g) for g in groups])
    ax.set_ylim(len(groups) - 0.5, -0.5)


def plot_pooled_forecasts(forecasts, *, metric: str = "pass", level: float | None = None, axes=None):
    """Pooled and independent forecasts per group, one panel per budget N.

    Parameters
    ----------
    forecasts : DataFrame
        ``GroupedBon.predict``'s table: columns ``group``, ``N``, ``method`` ("pooled" or
        "independent"), ``estimate``, ``lower``, ``upper``, ``chosen`` (bool).  Each group is a
        row of the panel, its two forecasts drawn with their intervals; the one the choice uses is
        filled, the other hollow.
    """
    df = _frame("forecasts", forecasts, ("group", "N", "method", "estimate", "lower", "upper", "chosen"))
    budgets = sorted(pd.unique(df["N"].astype(float)))
    groups = list(pd.unique(df["group"]))
    with style():
        fig, axs = new_axes_grid(len(budgets), axes=axes, ncols=min(len(budgets), 2),
                                 panel=(3.4, 0.45 * len(groups) + 1.2))
        for ax, N in zip(axs, budgets):
            sub = df[df["N"].astype(float) == N]
            for method, (color, marker, dy) in _METHOD_STYLE.items():
                rows = sub[sub["method"] == method].set_index("group").reindex(groups)
                y = np.arange(len(groups)) + dy
                est, lo, hi = (rows[c].to_numpy(float) for c in ("estimate", "lower", "upper"))
                ax.errorbar(est, y, xerr=np.clip([est - lo, hi - est], 0, None), fmt="none", ecolor=color,
                            elinewidth=1.1, capsize=2)
                chosen = rows["chosen"].fillna(False).to_numpy(bool)
                ax.plot(est[chosen], y[chosen], marker, ms=5, color=color, ls="none", label=f"{method} (chosen)")
                ax.plot(est[~chosen], y[~chosen], marker, ms=5, mfc="white", mec=color, ls="none",
                        label=f"{method} (not chosen)")
            _group_axis(ax, groups)
            ax.set_xlabel(f"{metric}@{fmt_num(N, 4)}" + (f" ({level:.0%} interval)" if level else ""))
        handles, labels = axs[0].get_legend_handles_labels()
        keep = [(h, lab) for h, lab in zip(handles, labels) if lab]
        axs[0].legend([h for h, _ in keep], [lab for _, lab in keep], loc="best", fontsize=6)
    return fig


def plot_pooled_choice(scores, *, z: float = 1.645, ax=None):
    """The internal backtest that chose per group: the pooled model's gain in internal-backtest
    error over the group's own model, with ``z`` standard errors either side; the pooled model is
    chosen (``pool="auto"``) where the whole bar lies right of zero.

    ``scores``: ``GroupedBon.scores`` (columns ``group``, ``gain``, ``gain_se``, ``chosen``)."""
    df = _frame("scores", scores, ("group", "gain", "gain_se", "chosen"))
    groups = list(df["group"])
    gain = df["gain"].to_numpy(float)
    half = z * df["gain_se"].to_numpy(float)
    pooled = (df["chosen"] == "pooled").to_numpy(bool)
    y = np.arange(len(groups))
    with style():
        fig, ax = new_figure(ax, figsize=(3.4, 0.45 * len(groups) + 1.2))
        ax.axvline(0.0, color="0.3", lw=0.8)
        ax.errorbar(gain, y, xerr=np.nan_to_num(half), fmt="none", ecolor="0.45", elinewidth=1.1, capsize=2)
        ax.plot(gain[pooled], y[pooled], "s", ms=5, color=PALETTE["vermillion"], ls="none", label="pooled chosen")
        ax.plot(gain[~pooled], y[~pooled], "o", ms=5, color=PALETTE["blue"], ls="none", label="independent chosen")
        _group_axis(ax, groups)
        ax.set_xlabel(f"gain of pooling in internal-backtest error (± {z:g} SE)")
        ax.legend(loc="best", fontsize=6)
    return fig


def plot_sharing(sharing, *, level: float = 0.9, ax=None):
    """Share of each group's item variance (logit scale) that is common to all groups, with its
    interval: near 1 the groups agree on which items are hard, near 0 a group's hard items are
    its own.

    ``sharing``: ``GroupedBon.sharing`` (columns ``group``, ``shared_share``, and the interval
    ``lower_90``/``upper_90`` or ``lower``/``upper``)."""
    lo_c, hi_c = ("lower", "upper") if {"lower", "upper"} <= set(getattr(sharing, "columns", ())) else ("lower_90", "upper_90")
    df = _frame("sharing", sharing, ("group", "shared_share", lo_c, hi_c))
    groups = list(df["group"])
    est, lo, hi = (df[c].to_numpy(float) for c in ("shared_share", lo_c, hi_c))
    y = np.arange(len(groups))
    with style():
        fig, ax = new_figure(ax, figsize=(3.4, 0.45 * len(groups) + 1.2))
        ax.errorbar(est, y, xerr=np.clip([est - lo, hi - est], 0, None), fmt="o", ms=5, color=PALETTE["green"],
                    elinewidth=1.1, capsize=2, label=f"shared share ({level:.0%} interval)")
        _group_axis(ax, groups)
        ax.set_xlim(0.0, 1.0)
        ax.set_xlabel("share of item difficulty shared with the other groups")
        ax.legend(loc="best", fontsize=6)
    return fig
