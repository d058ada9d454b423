"""Data layer: load curves and repeated-sampling results into tidy, validated frames.

Loss and benchmark curves (:mod:`scalefit.io.schema`, :mod:`scalefit.io.curves`):
``load_curves`` -> tidy table (``run``, groups, ``N``, ``D``, ``C``, ``step``, ``metric``,
``value``, ``se``), ``validate_curves`` before a fit, ``frame_hash`` for provenance;
``numeric_columns`` parses named columns of any table as numbers (text numbers too) with
one-line errors naming the column, row and value.

Rows in messages are counted as the user sees them: from 1 for a file (row 1 is the first
data row after the header, or the first record of a JSON / JSONL file), by index label for a
DataFrame.  Columns are named as the source file names them (``column `loss` (used as
value)``).

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
from .runs import drop_first, final_checkpoints, load_runs, smooth_runs
from .schema import CURVE_ALIASES, CURVE_COLUMNS, frame_hash, numeric_columns, validate_curves

__all__ = [
    "load_curves",
    "load_runs",
    "smooth_runs",
    "drop_first",
    "final_checkpoints",
    "validate_curves",
    "frame_hash",
    "numeric_columns",
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
