"""Plots of scalefit results: ``(result or arrays, ax=None) -> matplotlib Figure``.

Plot functions never fit anything: they draw fits (calling their ``predict``/``residuals``),
stored bootstrap draws, arrays of predictions, or arviz InferenceData.  Each accepts an
optional ``ax``/``axes`` to draw into and returns the Figure; none touches pyplot's global
state, so they run under any backend (tests use Agg).  The house style (Okabe-Ito palette,
fonts legible at a 3.4-inch column width, TrueType text in PDFs) is applied via
:func:`style`.

Fits: :func:`plot_extrapolation`, :func:`plot_residuals`, :func:`plot_parity`,
:func:`plot_bootstrap_marginals`, :func:`plot_start_objectives`,
:func:`plot_compute_frontier`.
Repeated sampling (plain arrays / DataFrames): :func:`plot_sampling_curve` (ASR@N, pass@N),
:func:`plot_backtest`, :func:`plot_passuntil`, :func:`plot_plan` (a sampling plan),
:func:`plot_rounds` (forecast per round of planned sampling).
Groups that share items (pooled best-of-N): :func:`plot_pooled_forecasts`,
:func:`plot_pooled_choice`, :func:`plot_sharing`.
Posteriors (arviz InferenceData): :func:`plot_posterior_marginals`,
:func:`plot_posterior_pairs`, :func:`plot_posterior_trace`.
Any result: :func:`plot_result` (what ``result.plot()`` calls).

Example
-------
>>> # import scalefit.plots as sp
>>> # fig = sp.plot_extrapolation(fit, {"N": 7e10, "D": 1.4e12}); fig.savefig("fit.png")
"""

from ._style import COLUMN_WIDTH, PALETTE, TEXT_WIDTH, style
from .allocation import plot_compute_frontier
from .fit import plot_bootstrap_marginals, plot_extrapolation, plot_parity, plot_residuals, plot_start_objectives
from .pooled import plot_pooled_choice, plot_pooled_forecasts, plot_sharing
from .posterior import plot_posterior_marginals, plot_posterior_pairs, plot_posterior_trace
from .result import plot_result
from .sampling import plot_backtest, plot_passuntil, plot_plan, plot_rounds, plot_sampling_curve

__all__ = [
    "PALETTE",
    "COLUMN_WIDTH",
    "TEXT_WIDTH",
    "style",
    "plot_extrapolation",
    "plot_residuals",
    "plot_parity",
    "plot_bootstrap_marginals",
    "plot_start_objectives",
    "plot_compute_frontier",
    "plot_sampling_curve",
    "plot_backtest",
    "plot_passuntil",
    "plot_plan",
    "plot_rounds",
    "plot_pooled_forecasts",
    "plot_pooled_choice",
    "plot_sharing",
    "plot_posterior_marginals",
    "plot_posterior_pairs",
    "plot_posterior_trace",
    "plot_result",
]
