"""scalefit: fit scaling laws to small runs and extrapolate them with honest uncertainty.

Public API (everything else lives in private modules or sub-packages):

- laws: :func:`get_law`, :func:`define_law`, :func:`available_laws`, :class:`ScalingLaw`,
  :class:`Param`, :class:`ParamSpec`
- data: :func:`load_curves`, :func:`validate_curves` (see :mod:`scalefit.io`)
- fitting: :func:`fit_law`, :class:`FitResult`, :func:`bootstrap`, :func:`fit_batch`
- chained fits: :func:`fit_chain` ((N, D) -> intermediate metric -> target metric)
- allocation: :func:`compute_optimal`, :func:`compute_for_loss`, :func:`allocation_constants`
- repeated sampling: :mod:`scalefit.sampling`
"""

from ._config import enable_x64, require_x64
from .allocation import allocation_constants, compute_for_loss, compute_optimal
from .chain import ChainResult, fit_chain
from .errors import ArgumentError, DataValidationError, ScalefitError
from .fit import BatchFitResult, BootstrapResult, FitResult, allocation_intervals, bootstrap, fit_batch, fit_law
from .laws import ScalingLaw, available_laws, define_law, get_law
from .params import Param, ParamSpec

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "enable_x64",
    "require_x64",
    "ScalefitError",
    "DataValidationError",
    "ArgumentError",
    "Param",
    "ParamSpec",
    "ScalingLaw",
    "get_law",
    "define_law",
    "available_laws",
    "fit_law",
    "FitResult",
    "bootstrap",
    "BootstrapResult",
    "allocation_intervals",
    "fit_batch",
    "fit_chain",
    "ChainResult",
    "BatchFitResult",
    "compute_optimal",
    "compute_for_loss",
    "allocation_constants",
]


def __getattr__(name):  # lazy: the io layer is imported on first use
    if name in ("load_curves", "validate_curves", "load_runs", "smooth_runs", "drop_first", "final_checkpoints"):
        from . import io

        return getattr(io, name)
    raise AttributeError(name)
