"""Repeated-sampling plots from plain arrays or DataFrames: ASR@N / pass@N curves, backtests
and PassUntil task laws.

They take numbers, not model objects, so they work with any best-of-N or PassUntil result:
pass its grid, prediction and interval arrays.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._names import renamed_args
from ..errors import ArgumentError
from ._style import BAND_ALPHA, COLUMN_WIDTH, PALETTE, fmt_num, log_axis_plain, new_figure, style

__all__ = ["plot_sampling_curve", "plot_backtest", "plot_passuntil", "plot_plan", "plot_rounds"]


def _arr(name, v, n=None, *, positive=False):
    if v is None:
        return None
    a = np.asarray(v, dtype=np.float64).ravel()
    if n is not None and a.size != n:
        raise ArgumentError(f"`{name}` has {a.size} values; expected {n} (one per `N`)")
    if positive and (a.size == 0 or np.any(~(a > 0))):
        raise ArgumentError(f"`{name}` must hold finite values > 0")
    return a


def _metric_label(metric: str) -> str:
    return f"{metric}@N" if "@" not in metric else metric


def _estimate_column(df: pd.DataFrame) -> str | None:
    """The point-value column of a curve table: ``estimate``, or its older name ``prediction``."""
    return "estimate" if "estimate" in df else ("prediction" if "prediction" in df else None)


@renamed_args(prediction="estimate", target_value="rate")
def plot_sampling_curve(N, estimate=None, lower=None, upper=None, *, observed_N=None, observed=None,
                        observed_lower=None, observed_upper=None, model_N=None, model=None,
                        budget=None, budget_interval=None, rate=None, targets=None,
                        extrapolate_from=None, metric: str = "ASR", level: float | None = None,
                        label: str = "prediction", model_label: str = "fitted model",
                        yscale: str = "linear", ax=None):
    """ASR@N or pass@N against the budget N (log axis) with a band, observed points and a budget.

    Parameters
    ----------
    N : array_like or DataFrame
        Budget grid of the prediction; or a DataFrame with columns ``N``, ``estimate`` (or its
        older name ``prediction``) and optionally ``lower``/``upper`` (read from it), such as
        a best-of-N fit's ``predict`` table.
    estimate, lower, upper : array_like
        Predicted success rate and interval on the grid (``prediction``: deprecated name of
        ``estimate``).
    observed_N, observed, observed_lower, observed_upper : array_like, optional
        Empirical points (e.g. unbiased pass@k for k <= attempts) and their interval.
    model_N, model : array_like, optional
        A second curve drawn thin and dotted (e.g. the fitted population curve through the data).
    budget : float, optional
        Budget that reaches ``rate``; marked by a vertical line, ``budget_interval``
        = (low, high) shaded.
    rate : float, optional
        Success rate the budget is for (horizontal line; ``target_value``: deprecated name).
    targets : DataFrame, optional
        Points to mark: columns ``N``, ``estimate`` (or ``prediction``) and optionally
        ``lower``/``upper``.
    extrapolate_from : float, optional
        Largest observed budget: the curve is dashed and the region shaded beyond it.
    metric : str
        ``"ASR"`` or ``"pass"`` (axis label ``ASR@N`` / ``pass@N``).
    yscale : {"linear", "neglog"}
        ``"neglog"`` plots −log(rate) on log axes, where power laws are straight lines.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> # plot_sampling_curve(N, pred, lo, hi, observed_N=k, observed=pass_k, budget=1200,
    >>> #                     rate=0.9, extrapolate_from=100)
    """
    if isinstance(N, pd.DataFrame):
        df = N
        col = _estimate_column(df)
        if "N" not in df or col is None:
            raise ArgumentError("a DataFrame `N` needs columns `N` and `estimate`")
        N, estimate = df["N"], df[col]
        lower = df["lower"] if lower is None and "lower" in df else lower
        upper = df["upper"] if upper is None and "upper" in df else upper
    if estimate is None:
        raise ArgumentError("`estimate` is required")
    if yscale not in ("linear", "neglog"):
        raise ArgumentError(f"`yscale` = {yscale!r} must be 'linear' or 'neglog'")
    N = _arr("N", N, positive=True)
    n = N.size
    pred = _arr("estimate", estimate, n)
    lo, hi = _arr("lower", lower, n), _arr("upper", upper, n)
    tf = (lambda v: -np.log(np.clip(v, 1e-300, 1.0))) if yscale == "neglog" else (lambda v: v)
    name = _metric_label(metric)
    with style():
        fig, ax = new_figure(ax, figsize=(COLUMN_WIDTH, 2.6))
        colour = PALETTE["blue"]
        if model is not None:
            mN = _arr("model_N", model_N if model_N is not None else N, positive=True)
            # grey and dotted against the blue dashed prediction: the two stay apart where they meet
            ax.plot(mN, tf(_arr("model", model, mN.size)), color="0.5", lw=1.3, ls=(0, (1, 2)),
                    label=model_label, zorder=3)
        if extrapolate_from is not None:
            x0 = float(extrapolate_from)
            inside = N <= x0 * (1 + 1e-9)
            if inside.sum() < 2:  # the prediction starts where the data end: all of it is extrapolation
                inside[:] = False
            if inside.any():
                ax.plot(N[inside], tf(pred[inside]), color=colour, label=label, zorder=4)
            k = (max(int(np.argmax(~inside)) - 1, 0) if inside.any() else 0) if (~inside).any() else None
            if k is not None:
                ax.plot(N[k:], tf(pred[k:]), color=colour, ls="--", zorder=4,
                        label=None if inside.any() else label)
        else:
            ax.plot(N, tf(pred), color=colour, label=label, zorder=4)
        if lo is not None and hi is not None:
            band = f"{level:.0%} interval" if level else "interval"
            a, b = (tf(hi), tf(lo)) if yscale == "neglog" else (lo, hi)
            ax.fill_between(N, a, b, color=colour, alpha=BAND_ALPHA, lw=0, label=band, zorder=2)
        if observed is not None:
            oN = _arr("observed_N", observed_N, positive=True)
            ov = _arr("observed", observed, oN.size)
            kw = dict(fmt="o", ms=3, color=PALETTE["black"], mfc="white", mew=0.8, elinewidth=0.7, zorder=5,
                      label="observed")
            if observed_lower is not None and observed_upper is not None:
                ol, ou = _arr("observed_lower", observed_lower, oN.size), _arr("observed_upper", observed_upper, oN.size)
                if yscale == "neglog":
                    yerr = [tf(ov) - tf(ou), tf(ol) - tf(ov)]
                else:
                    yerr = [ov - ol, ou - ov]
                ax.errorbar(oN, tf(ov), yerr=np.clip(yerr, 0, None), **kw)
            else:
                ax.errorbar(oN, tf(ov), **kw)
        if targets is not None and len(targets):
            t = pd.DataFrame(targets)
            col = _estimate_column(t)
            if col is None:
                raise ArgumentError("`targets` needs a column `estimate`")
            for i, (_, row) in enumerate(t.iterrows()):
                v = float(row[col])
                if "lower" in t and "upper" in t and np.isfinite(row["lower"]):
                    l_, u_ = float(row["lower"]), float(row["upper"])
                    yerr = ([[tf(v) - tf(u_)], [tf(l_) - tf(v)]] if yscale == "neglog" else [[v - l_], [u_ - v]])
                    ax.errorbar([row["N"]], [tf(v)], yerr=np.clip(yerr, 0, None), fmt="none",
                                ecolor=PALETTE["vermillion"], elinewidth=1.1, capsize=3, zorder=6)
                lab = None
                if i == 0:
                    lab = f"target: {metric}@{fmt_num(row['N'], 4)} = {v:.3f}"
                    if "lower" in t and "upper" in t and np.isfinite(row["lower"]):
                        lab += f" [{float(row['lower']):.3f}, {float(row['upper']):.3f}]"
                ax.plot([row["N"]], [tf(v)], marker="*", ms=9, color=PALETTE["vermillion"], mec="white", mew=0.5,
                        ls="none", zorder=7, label=lab)
        if rate is not None:
            ax.axhline(tf(float(rate)), color=PALETTE["green"], lw=0.8, ls="-.", zorder=1)
        if budget is not None and np.isfinite(budget):
            ax.axvline(float(budget), color=PALETTE["green"], lw=1.1, zorder=1,
                       label=f"budget N = {fmt_num(budget, 3)}"
                       + (f" for {name} = {fmt_num(rate, 3)}" if rate is not None else ""))
            if budget_interval is not None:
                bl, bu = (float(v) for v in budget_interval)
                bu_draw = bu if np.isfinite(bu) else N.max()
                if np.isfinite(bl):
                    ax.axvspan(bl, bu_draw, color=PALETTE["green"], alpha=0.12, lw=0, zorder=0)
        ax.set_xscale("log")
        x_lo, x_hi = ax.get_xlim()
        if extrapolate_from is not None and N.max() > float(extrapolate_from):
            ax.axvspan(float(extrapolate_from), x_hi, color="0.5", alpha=0.08, lw=0, zorder=0)
            ax.set_xlim(x_lo, x_hi)
        ax.set_xlabel("budget N (attempts per problem)")
        if yscale == "neglog":
            ax.set_yscale("log")
            ax.set_ylabel(f"−log {name}")
        else:
            ax.set_ylim(max(0.0, ax.get_ylim()[0]), min(1.02, max(ax.get_ylim()[1], 0.05)))
            ax.set_ylabel(name)
        ax.legend(loc="lower right" if yscale == "linear" else "upper right")
    return fig


def plot_backtest(frame, *, kind: str = "parity", metric: str = "ASR", ax=None, label_points: bool = True,
                  level: float | None = None):
    """Backtest: predictions made from few attempts against what more attempts showed.

    Parameters
    ----------
    frame : DataFrame
        Columns ``predicted``, ``empirical`` and optionally ``lower``, ``upper`` and ``N``
        (``prediction`` is accepted for ``predicted``).
    kind : {"parity", "curve"}
        ``"parity"``: predicted (with interval) against empirical, with the identity line;
        ``"curve"``: both against N (needs ``N``).
    """
    if not isinstance(frame, pd.DataFrame):
        raise ArgumentError(f"`frame` must be a DataFrame, got {type(frame).__name__}")
    df = frame.rename(columns={"prediction": "predicted"})
    missing = {"predicted", "empirical"} - set(df.columns)
    if missing:
        raise ArgumentError(f"`frame` lacks column(s) {sorted(missing)}; it has {list(frame.columns)}")
    if kind not in ("parity", "curve"):
        raise ArgumentError(f"`kind` = {kind!r} must be 'parity' or 'curve'")
    if kind == "curve" and "N" not in df:
        raise ArgumentError("`kind='curve'` needs an `N` column")
    p = df["predicted"].to_numpy(np.float64)
    e = df["empirical"].to_numpy(np.float64)
    has_iv = {"lower", "upper"} <= set(df.columns)
    name = _metric_label(metric)
    with style():
        fig, ax = new_figure(ax, figsize=(COLUMN_WIDTH * 0.85, COLUMN_WIDTH * 0.85) if kind == "parity"
                             else (COLUMN_WIDTH, 2.4))
        if kind == "parity":
            yerr = None
            if has_iv:
                yerr = np.clip([p - df["lower"].to_numpy(float), df["upper"].to_numpy(float) - p], 0, None)
            lo = float(np.nanmin(np.concatenate([e, p, df["lower"] if has_iv else p])))
            hi = float(np.nanmax(np.concatenate([e, p, df["upper"] if has_iv else p])))
            pad = 0.05 * (hi - lo if hi > lo else 1.0)
            ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color="0.3", lw=0.8, label="perfect prediction")
            inside = np.ones(p.shape, bool) if not has_iv else (e >= df["lower"].to_numpy(float)) & (e <= df["upper"].to_numpy(float))
            ax.errorbar(e, p, yerr=yerr, fmt="o", ms=4, color=PALETTE["blue"], elinewidth=1.0, capsize=2,
                        label="predicted" + (f" ({level:.0%} interval)" if level and has_iv else ""))
            if (~inside).any():
                ax.plot(e[~inside], p[~inside], "o", ms=7, mfc="none", mec=PALETTE["vermillion"], mew=1.2,
                        label="empirical outside interval")
            if label_points and "N" in df and len(df):
                # the smallest and largest budgets only, beside their points away from the other
                # points' error bars (the curve panel gives every N)
                order = np.argsort(e)
                ends = [(order[0], -6, "right")] + ([(order[-1], 6, "left")] if len(order) > 1 else [])
                for j, dx, ha in ends:
                    ax.annotate(f"N={fmt_num(df['N'].iloc[j], 3)}", (e[j], p[j]), xytext=(dx, 0),
                                textcoords="offset points", ha=ha, va="center", fontsize=6, color="0.3")
            ax.set_xlim(lo - pad, hi + pad)
            ax.set_ylim(lo - pad, hi + pad)
            ax.set_aspect("equal", adjustable="box")
            ax.set_xlabel(f"empirical {name}")
            ax.set_ylabel(f"predicted {name}")
            # the legend goes to the triangle of the identity line that holds fewer points
            ax.legend(loc="lower right" if np.sum(p > e) >= np.sum(p < e) else "upper left")
        else:
            Nv = df["N"].to_numpy(np.float64)
            order = np.argsort(Nv)
            ax.plot(Nv[order], p[order], color=PALETTE["blue"], marker="o", ms=3, label="predicted")
            if has_iv:
                ax.fill_between(Nv[order], df["lower"].to_numpy(float)[order], df["upper"].to_numpy(float)[order],
                                color=PALETTE["blue"], alpha=BAND_ALPHA, lw=0,
                                label=f"{level:.0%} interval" if level else "interval")
            ax.plot(Nv[order], e[order], "s", ms=3.5, color=PALETTE["vermillion"], label="empirical")
            ax.set_xscale("log")
            ax.autoscale_view()
            log_axis_plain(ax.xaxis)
            ax.set_xlabel("budget N (attempts per problem)")
            ax.set_ylabel(name)
            ax.legend(loc="lower right")
    return fig


def plot_passuntil(N, pu=None, *, loglog=None, lower=None, upper=None, fit_N=None, fit=None,
                   fit_lower=None, fit_upper=None, scale: str = "loglog", target_N=None,
                   label: str = "task law fit", level: float | None = None, ax=None):
    """PassUntil task law: observed PU (or F = log(−log PU)) against model size with the fitted line.

    Parameters
    ----------
    N : array_like
        Model sizes of the observations.
    pu, loglog : array_like
        Observed PassUntil values, or F = log(−log PU) (give one).
    lower, upper : array_like, optional
        Interval of the observed PU (on the PU scale).
    fit_N, fit, fit_lower, fit_upper : array_like, optional
        Fitted PU(N) on a grid and its interval (PU scale), e.g. from
        :meth:`scalefit.sampling.TaskLawFit.predict` / ``predict_interval``.
    scale : {"loglog", "pu"}
        ``"loglog"``: F = log(−log PU) against log N (the law is a straight line);
        ``"pu"``: PU on a log axis.
    target_N : float, optional
        Size to mark with a vertical line.
    """
    if scale not in ("loglog", "pu"):
        raise ArgumentError(f"`scale` = {scale!r} must be 'loglog' or 'pu'")
    if (pu is None) == (loglog is None):
        raise ArgumentError("give exactly one of `pu` and `loglog`")
    N = _arr("N", N, positive=True)
    if pu is not None:
        pu_arr = _arr("pu", pu, N.size)
    else:
        pu_arr = np.exp(-np.exp(_arr("loglog", loglog, N.size)))

    with np.errstate(divide="ignore", invalid="ignore"):
        def tf(v):
            v = np.asarray(v, float)
            return np.log(-np.log(v)) if scale == "loglog" else v

        with style():
            fig, ax = new_figure(ax, figsize=(COLUMN_WIDTH, 2.6))
            y = tf(pu_arr)
            yerr = None
            if lower is not None and upper is not None:
                lo_, hi_ = _arr("lower", lower, N.size), _arr("upper", upper, N.size)
                if scale == "loglog":  # larger PU -> smaller F
                    yerr = [y - tf(hi_), tf(lo_) - y]
                else:
                    yerr = [y - lo_, hi_ - y]
                yerr = np.where(np.isfinite(yerr), np.clip(yerr, 0, None), 0.0)
            ok = np.isfinite(y)
            ax.errorbar(N[ok], y[ok], yerr=None if yerr is None else yerr[:, ok], fmt="o", ms=4,
                        color=PALETTE["black"], mfc="white", mew=0.9, elinewidth=0.8, label="observed", zorder=5)
            if fit is not None:
                fN = _arr("fit_N", fit_N if fit_N is not None else N, positive=True)
                fv = _arr("fit", fit, fN.size)
                ax.plot(fN, tf(fv), color=PALETTE["blue"], label=label, zorder=4)
                if fit_lower is not None and fit_upper is not None:
                    fl, fu = _arr("fit_lower", fit_lower, fN.size), _arr("fit_upper", fit_upper, fN.size)
                    a, b = (tf(fu), tf(fl)) if scale == "loglog" else (fl, fu)
                    ax.fill_between(fN, a, b, color=PALETTE["blue"], alpha=BAND_ALPHA, lw=0,
                                    label=f"{level:.0%} prediction interval" if level else "interval", zorder=2)
                if N.max() < fN.max():
                    ax.axvspan(N.max(), fN.max(), color="0.5", alpha=0.08, lw=0, zorder=0)
            if target_N is not None:
                ax.axvline(float(target_N), color=PALETTE["vermillion"], lw=0.9, ls="--",
                           label=f"target N = {fmt_num(target_N, 3)}")
            ax.set_xscale("log")
            ax.set_xlabel("model size N (parameters)")
            if scale == "loglog":
                ax.set_ylabel("F = log(−log PU)")
            else:
                ax.set_yscale("log")
                ax.set_ylabel("PassUntil PU")
            ax.legend(loc="best")
    return fig


def plot_plan(groups, *, sd_rank=None, sd_now=None, sd_after=None, axes=None):
    """A sampling plan (:func:`scalefit.sampling.plan`): where the further attempts go and what
    they are expected to do to each item's uncertainty.

    Parameters
    ----------
    groups : DataFrame
        One row per class of items by successes so far: ``successes`` (a label such as "0" or
        "3-4"), ``items`` and ``mean_attempts`` (planned further attempts per item of the class).
        Drawn as bars (left panel).
    sd_rank, sd_now, sd_after : array_like, optional
        Items ranked by the posterior SD of their forecast term now (1 = most uncertain): the SD
        now and the SD expected after the planned attempts (right panel; omitted without them).
    """
    if not isinstance(groups, pd.DataFrame) or not {"successes", "mean_attempts"} <= set(groups.columns):
        raise ArgumentError("`groups` must be a DataFrame with columns 'successes' and 'mean_attempts'")
    right = sd_now is not None
    with style():
        if axes is None:
            from ._style import new_axes_grid

            fig, axs = new_axes_grid(2 if right else 1, ncols=2)
        else:
            axs = list(np.ravel(np.asarray(axes, dtype=object)))
            if len(axs) < (2 if right else 1):
                raise ArgumentError(f"`axes` has {len(axs)} Axes; this plot needs {2 if right else 1}")
            fig = axs[0].figure
        ax = axs[0]
        x = np.arange(len(groups))
        ax.bar(x, groups["mean_attempts"].to_numpy(float), color=PALETTE["blue"], width=0.7)
        ax.set_xticks(x, [str(s) for s in groups["successes"]])
        ax.set_xlabel("successes so far")
        ax.set_ylabel("further attempts per item")
        if right:
            ax = axs[1]
            r = _arr("sd_rank", sd_rank, positive=True)
            now = _arr("sd_now", sd_now, r.size)
            after = _arr("sd_after", sd_after, r.size)
            ax.plot(r, now, color="0.35", lw=1.2, label="now")
            ax.plot(r, after, color=PALETTE["vermillion"], lw=1.2, ls="--", label="expected after")
            ax.set_xscale("log")
            log_axis_plain(ax.xaxis)
            ax.set_xlabel("item rank by SD")
            ax.set_ylabel("posterior SD of the item's term")
            ax.legend(loc="lower left")
    return fig


def plot_rounds(history, *, truth=None, compare=None, metric: str = "pass", N=None, level: float | None = None,
                ax=None):
    """Forecast at N with its interval after each round of plan -> sample -> refit.

    ``history``: DataFrame with ``round`` (0 = the starting data), ``estimate``, ``lower``,
    ``upper``.
    ``truth``: a known value to draw as a line (e.g. the full log's rate in a replay).
    ``compare``: ``(label, estimate, lower, upper)`` of another design (e.g. uniform sampling
    with the same total budget), drawn beside the last round.
    """
    if not isinstance(history, pd.DataFrame) or not {"round", "estimate", "lower", "upper"} <= set(history.columns):
        raise ArgumentError("`history` must be a DataFrame with columns 'round', 'estimate', 'lower', 'upper'")
    r = history["round"].to_numpy(float)
    est = history["estimate"].to_numpy(float)
    lo, hi = history["lower"].to_numpy(float), history["upper"].to_numpy(float)
    name = _metric_label(metric).replace("@N", f"@{fmt_num(N, 3)}") if N else _metric_label(metric)
    with style():
        fig, ax = new_figure(ax, figsize=(COLUMN_WIDTH, 2.4))
        ax.errorbar(r, est, yerr=np.clip([est - lo, hi - est], 0, None), fmt="o", ms=4, color=PALETTE["blue"],
                    elinewidth=1.2, capsize=3, label="forecast" + (f" ({level:.0%} interval)" if level else ""))
        if compare is not None:
            lab, e2, l2, u2 = compare
            e2, l2, u2 = (float(np.ravel(v)[0]) for v in (e2, l2, u2))
            ax.errorbar([r.max() + 0.3], [e2], yerr=[[max(e2 - l2, 0.0)], [max(u2 - e2, 0.0)]], fmt="s", ms=4,
                        color=PALETTE["vermillion"], elinewidth=1.2, capsize=3, label=str(lab))
        if truth is not None:
            ax.axhline(float(truth), color="0.3", lw=0.9, ls=":", label="truth")
        ax.set_xticks(r, [f"{int(v)}" for v in r])
        ax.set_xlabel("round (0: the uniform start)")
        ax.set_ylabel(name)
        # above the panel: the bars may reach any corner
        ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=2, frameon=False)
    return fig
