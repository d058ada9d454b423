"""Scaling-law families. Each is a pure log-space JAX function plus a parameter spec."""

from ._base import ScalingLaw, VarPro, available_laws, get_law, law_option, laws_with_option, register_law
from . import bnsl as _bnsl  # noqa: F401  (registers)
from . import chinchilla as _chinchilla  # noqa: F401
from . import links as _links  # noqa: F401
from . import power as _power  # noqa: F401
from .chinchilla import HOFFMANN_GRID, overtraining_cm_params, overtraining_loss_cm
from .custom import define_law

__all__ = [
    "ScalingLaw",
    "VarPro",
    "available_laws",
    "laws_with_option",
    "law_option",
    "get_law",
    "register_law",
    "define_law",
    "HOFFMANN_GRID",
    "overtraining_cm_params",
    "overtraining_loss_cm",
]
