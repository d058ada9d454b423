"""Fitting: objectives, multi-start point fits, immutable results."""

from .objective import LOSSES
from .point import bind_inputs, fit_law
from .result import FitResult

__all__ = ["fit_law", "FitResult", "LOSSES", "bind_inputs"]
