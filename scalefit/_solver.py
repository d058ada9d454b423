"""The one set of stop codes of scalefit's iterative solvers.

Every minimiser (L-BFGS with box bounds, the least-squares Newton/Levenberg-Marquardt solver and
the damped-Newton solver of the repeated-sampling likelihoods) reports why it stopped with one of
these integer codes, so that verdicts and messages read the same everywhere:

  0 ``RUNNING``            stopped at the iteration limit
  1 ``GTOL``               (projected) gradient below tolerance
  2 ``FTOL``               relative decrease (or predicted Newton decrease) below tolerance
  3 ``LINESEARCH_FAILED``  no trial step decreases the objective at machine precision
  4 ``NONFINITE``          objective, gradient or Hessian not finite

A stop code is not a verdict: callers judge convergence with their own stationarity test (the
Newton decrement, or the subgradient condition for non-smooth losses).
"""

from __future__ import annotations

RUNNING, GTOL, FTOL, LINESEARCH_FAILED, NONFINITE = 0, 1, 2, 3, 4

STATUS_TEXT = {
    RUNNING: "reached the iteration limit",
    GTOL: "projected gradient below tolerance",
    FTOL: "relative decrease below tolerance",
    LINESEARCH_FAILED: "line search could not decrease the objective",
    NONFINITE: "objective or gradient is not finite",
}
