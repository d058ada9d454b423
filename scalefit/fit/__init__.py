"""Fitting: objectives, multi-start point fits, bootstrap, batch fits; immutable results."""

from .batch import BatchFitResult, fit_batch
from .bootstrap import BootstrapResult, allocation_intervals, bootstrap
from .objective import LOSSES
from .point import bind_inputs, fit_law
from .result import FitResult

__all__ = ["fit_law", "FitResult", "LOSSES", "bind_inputs", "bootstrap", "BootstrapResult",
           "allocation_intervals", "fit_batch", "BatchFitResult"]
