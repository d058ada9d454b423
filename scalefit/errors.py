"""Exception types raised at scalefit's boundary.

Every error a user can cause is a subclass of :class:`ScalefitError` whose message is a
single line naming the argument or column (in backticks) and the offending value.  The CLI
prints ``str(err)`` on one line and exits non-zero; tracebacks are shown only with ``--debug``.
"""

from __future__ import annotations


class ScalefitError(Exception):
    """Base class for all errors scalefit raises on bad input or failed preconditions."""


class DataValidationError(ScalefitError, ValueError):
    """A data frame failed validation.

    ``problems`` lists every problem found (not only the first); ``str(err)`` joins them into
    one line.
    """

    def __init__(self, problems: list[str], source: str | None = None):
        self.problems = list(problems)
        self.source = source
        where = f" in {source}" if source else ""
        n = len(self.problems)
        head = f"{n} problem{'s' if n != 1 else ''}{where}: "
        super().__init__(head + "; ".join(self.problems))


class ArgumentError(ScalefitError, ValueError):
    """An argument has a bad value (the message names the argument and the value)."""


class PrecisionError(ScalefitError, RuntimeError):
    """JAX is not running in float64, which every fit requires."""


class ConvergenceError(ScalefitError, RuntimeError):
    """Too many refits failed to converge for the requested result to describe the model
    (e.g. more bootstrap replicates dropped than the stated maximum fraction)."""
