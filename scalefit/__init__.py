"""scalefit: fit scaling laws to small runs and extrapolate them with honest uncertainty.

Public API (everything else lives in private modules or sub-packages):

- laws: :func:`get_law`, :func:`define_law`, :func:`available_laws`, :class:`ScalingLaw`,
  :class:`Param`, :class:`ParamSpec`
- data: :func:`load_curves`, :func:`validate_curves` (see :mod:`scalefit.io`)
- fitting: :func:`fit_law`, :class:`FitResult`, :func:`bootstrap`, :func:`fit_batch`
- chained fits: :func:`fit_chain` ((N, D) -> intermediate metric -> target metric)
- allocation: :func:`compute_optimal`, :func:`compute_for_loss`, :func:`allocation_constants`
- repeated sampling: :mod:`scalefit.sampling`
- example data: :mod:`scalefit.examples`
"""

from .errors import ArgumentError, DataValidationError, ScalefitError

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


#: public name -> module that defines it, imported on first use so that `import scalefit` (and
#: `scalefit --help` / `--version`) does not start JAX
_LAZY = {
    "enable_x64": "._config", "require_x64": "._config",
    "allocation_constants": ".allocation", "compute_for_loss": ".allocation", "compute_optimal": ".allocation",
    "BatchFitResult": ".fit", "BootstrapResult": ".fit", "FitResult": ".fit", "allocation_intervals": ".fit",
    "bootstrap": ".fit", "fit_batch": ".fit", "fit_law": ".fit",
    "ScalingLaw": ".laws", "available_laws": ".laws", "define_law": ".laws", "get_law": ".laws",
    "Param": ".params", "ParamSpec": ".params",
    "load_curves": ".io", "validate_curves": ".io",
    "load_runs": ".io", "smooth_runs": ".io", "drop_first": ".io", "final_checkpoints": ".io",
    "ChainResult": ".chain", "fit_chain": ".chain",
}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    if name == "examples":
        import importlib

        return importlib.import_module(".examples", __name__)
    raise AttributeError(f"module 'scalefit' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
