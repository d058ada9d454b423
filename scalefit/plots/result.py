"""``result.plot(ax=None)`` for every result type: picks the plot that shows the result.

Each result's :meth:`plot` (the result protocol, docs/results.md) calls :func:`plot_result`,
which draws with the functions of this package from what the result stores (its ``predict``
tables, parameter draws, fitted rows); nothing is fitted.
"""

from __future__ import annotations

import numpy as np

from ..errors import ArgumentError
from ._style import PALETTE, new_axes_grid, new_figure, style
from .fit import plot_extrapolation
from .sampling import plot_passuntil, plot_sampling_curve

#: budgets drawn for a best-of-N or Beta-Binomial curve: up to this multiple of the largest observed
CURVE_REACH = 100.0


def _band(table):
    """``lower``/``upper`` of a protocol table, or (None, None) when it holds no interval."""
    if {"lower", "upper"} <= set(table.columns) and np.isfinite(table["lower"].to_numpy(float)).any():
        return table["lower"].to_numpy(float), table["upper"].to_numpy(float)
    return None, None


def _curve(table, *, ax, observed_budget=None, observed=None, label="forecast", level=None, **options):
    lo, hi = _band(table)
    obs = {} if observed is None else {"observed_N": [observed_budget], "observed": [observed]}
    return plot_sampling_curve(table["N"].to_numpy(float), table["estimate"].to_numpy(float), lo, hi, ax=ax,
                               metric="pass", label=label, level=level, extrapolate_from=observed_budget,
                               **obs, **options)


def _budget_grid(n_max: float) -> np.ndarray:
    return np.unique(np.geomspace(max(float(n_max), 1.0), CURVE_REACH * max(float(n_max), 1.0), 40))


def plot_result(result, ax=None, **options):
    """Draw any scalefit result into ``ax`` (new Figure when None); returns the Figure.

    * point fits, posteriors of a law: :func:`plot_extrapolation` (data, law, band);
    * a bootstrap: one histogram per parameter (``ax``: a sequence of Axes, one per parameter);
    * a batch: every group's data and fitted curve against the law's first input;
    * best-of-N fits and forecasts, Beta-Binomial posteriors: pass@N against the budget with the
      interval band (:func:`plot_sampling_curve`); a budget forecast: the budget per target rate;
    * a PassUntil posterior: :func:`plot_passuntil` with the posterior band;
    * a chain: the second step's link with its band.

    ``options`` go to the underlying plot function.
    """
    # dispatch on the class names along the result's MRO: the display layer never imports the
    # result classes (they call it from plot()), and a subclass draws like its parent
    kinds = [c.__name__ for c in type(result).__mro__]
    kind = next((k for k in kinds if k in _DRAWERS), None)
    if kind is None:
        raise ArgumentError(f"no plot for a {type(result).__name__}")
    return _DRAWERS[kind](result, ax, options)


def _draw_law(result, ax, options):
    return plot_extrapolation(result, ax=ax, **options)


def _draw_chain(result, ax, options):
    return plot_extrapolation(result.step2, ax=ax, **options)


def _draw_forecast(result, ax, options):
    return _curve(result.predict(), ax=ax, observed_budget=result.observed_budget,
                  observed=result.observed_rate, level=result.level if result.num_bootstrap else None, **options)


def _draw_saved_forecast(result, ax, options):
    level = options.pop("level", 0.9)
    budget = result.observed_budget if np.isfinite(result.observed_budget) else None
    return _curve(result.predict(level=level), ax=ax, observed_budget=budget,
                  level=level if result.num_bootstrap else None, **options)


def _draw_bon_fit(result, ax, options):
    if result.forecast is not None:
        table = result.forecast.predict()
    else:  # point forecast only: per-item probabilities under the fitted model, nothing refitted
        table = result.predict(_budget_grid(np.max(result.data.attempts)), num_bootstrap=0)
    return _curve(table, ax=ax, observed_budget=float(np.max(result.data.attempts)),
                  observed=result.observed_rate, label=f"forecast ({result.model})", **options)


def _draw_mixing(result, ax, options):
    N = np.geomspace(1.0, 1e4, 60)
    return plot_sampling_curve(N, result.population(N), ax=ax, metric="pass",
                               label=f"population pass@N ({result.model})", **options)


def _draw_bb_hierarchical(result, ax, options):
    N = _budget_grid(result.counts["n"].max())
    table = result.predict(N)
    return _curve(table[table["group"] == "all"], ax=ax, label="all groups (posterior median)", **options)


def _draw_bb(result, ax, options):
    return _curve(result.predict(_budget_grid(result.n.max())), ax=ax, label="posterior median", **options)


def _draw_passuntil_posterior(result, ax, options):
    t = result.table
    N = np.geomspace(float(t["N"].min()), float(t["N"].max()) * 10.0, 60)
    pred = result.predict(N)
    pu = np.clip(t["r"].to_numpy(float) / t["K"].to_numpy(float), 1e-300, 1.0)
    return plot_passuntil(t["N"].to_numpy(float), pu, fit_N=N, fit=pred["estimate"].to_numpy(),
                          fit_lower=pred["lower"].to_numpy(), fit_upper=pred["upper"].to_numpy(),
                          label="posterior median", level=0.9, scale="pu", ax=ax, **options)


_DRAWERS = {
    "FitResult": _draw_law,
    "PosteriorFit": _draw_law,
    "ChainResult": _draw_chain,
    "BootstrapResult": lambda r, ax, o: _plot_bootstrap(r, ax),
    "BatchFitResult": lambda r, ax, o: _plot_batch(r, ax),
    "Forecast": _draw_forecast,
    "SavedForecast": _draw_saved_forecast,
    "BonFit": _draw_bon_fit,
    "MixingFit": _draw_mixing,
    "BudgetForecast": lambda r, ax, o: _plot_budget(r, ax),
    "HierarchicalBetaBinomialPosterior": _draw_bb_hierarchical,
    "BetaBinomialPosterior": _draw_bb,
    "PassUntilPosterior": _draw_passuntil_posterior,
    "TaskLawFit": lambda r, ax, o: _plot_task_law(r, ax),
    "InstanceLawFit": lambda r, ax, o: _plot_task_law(r, ax),
}


def _plot_bootstrap(boot, axes):
    names = list(boot.names)
    with style():
        fig, axs = new_axes_grid(len(names), axes=axes)
        tab = boot.param_table(boot.level).set_index("parameter")
        for a, n in zip(axs, names):
            a.hist(boot.param(n), bins=30, color=PALETTE["blue"], alpha=0.7)
            for q in ("lower", "upper"):
                a.axvline(tab.loc[n, q], color=PALETTE["vermillion"], lw=1, ls="--")
            a.set_xlabel(n)
        axs[0].set_ylabel(f"replicates ({boot.level:.0%} interval dashed)")
    return fig


def _plot_batch(batch, ax):
    x_in = batch.law.inputs[0]
    col = batch.inputs[x_in]
    with style():
        fig, ax = new_figure(ax)
        groups = list(batch.frame.groupby(list(batch.by), sort=False))
        for j, (key, grp) in enumerate(groups):
            colour = list(PALETTE.values())[j % len(PALETTE)]
            x = grp[col].to_numpy(float)
            grid = grp.iloc[np.argsort(x)].copy()
            pred = batch.predict(grid)
            label = str(key if not isinstance(key, tuple) or len(key) > 1 else key[0]) if len(groups) <= 8 else None
            ax.scatter(x, grp[batch.target], s=8, color=colour, label=label)
            ax.plot(grid[col], pred["estimate"], color=colour, lw=1)
        if batch.law.positive_inputs:
            ax.set_xscale("log")
        ax.set_xlabel(col)
        ax.set_ylabel(batch.target)
        if len(groups) <= 8:
            ax.legend(fontsize=6)
    return fig


def _plot_task_law(fit, ax):
    hi = fit.N_max if np.isfinite(fit.N_max) else float(np.exp(getattr(fit, "log_n_mean", np.log(1e9)))) * 10.0
    N = np.geomspace(hi / 1e3, hi * 10.0, 60)
    t = fit.predict(N)
    with style():
        fig, ax = new_figure(ax)
        ax.plot(N, t["estimate"], color=PALETTE["blue"], label="task law")
        lo, up = _band(t)
        if lo is not None:
            ax.fill_between(N, lo, up, color=PALETTE["blue"], alpha=0.2, lw=0, label="90% interval")
        if np.isfinite(fit.N_max):
            ax.axvspan(fit.N_max, N[-1], color="0.5", alpha=0.12, lw=0)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("model size N")
        ax.set_ylabel("PassUntil PU(N)")
        ax.legend(fontsize=6)
    return fig


def _plot_budget(bf, ax):
    t = bf.predict()
    with style():
        fig, ax = new_figure(ax)
        est = t["estimate"].to_numpy(float)
        ok = np.isfinite(est)
        lo, hi = _band(t)
        if lo is not None:
            yerr = np.clip([est - lo, hi - est], 0, None)[:, ok]
            ax.errorbar(t["rate"][ok], est[ok], yerr=yerr, fmt="o", color=PALETTE["blue"], capsize=3,
                        label=f"budget ({bf.level:.0%} interval)")
        else:
            ax.plot(t["rate"][ok], est[ok], "o", color=PALETTE["blue"], label="budget")
        ax.set_yscale("log")
        ax.set_xlabel("target pass@N")
        ax.set_ylabel("attempts per item N")
        ax.legend(fontsize=6)
    return fig
