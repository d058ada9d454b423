"""One extrapolation factor for every fit path (point fits, posteriors, best-of-N forecasts).

The factor of a prediction point says how far it lies beyond the data that were fitted: the
largest ratio of an input to that input's largest fitted value and, for a law of several
inputs, also the ratio of the product of the inputs (e.g. N·D, proportional to training
compute) to the largest product among the fitted rows -- whichever is larger.  A point can be
inside the range of every single input and still far beyond the data jointly (a large model on
many tokens when the largest models saw few); the product ratio catches that.  Values <= 1 mean
inside the data.  Reports warn above :data:`EXTRAPOLATION_WARN`.
"""

from __future__ import annotations

from typing import Mapping

import numpy as np

#: extrapolation factor above which reports and results flag a prediction
EXTRAPOLATION_WARN = 10.0


def extrapolation_factor(fitted: Mapping[str, np.ndarray], at: Mapping[str, np.ndarray]) -> np.ndarray:
    """Extrapolation factor of the points ``at`` (one array per input, same length) relative to
    the ``fitted`` rows (one array per input, same names, values > 0).

    >>> float(extrapolation_factor({"N": [1.0, 10.0]}, {"N": [100.0]})[0])
    10.0
    >>> fitted = {"N": [1.0, 10.0], "D": [10.0, 1.0]}          # largest product 10
    >>> float(extrapolation_factor(fitted, {"N": [10.0], "D": [10.0]})[0])   # each input in range
    10.0
    """
    names = list(fitted)
    X = [np.atleast_1d(np.asarray(at[n], dtype=np.float64)) for n in names]
    F = [np.atleast_1d(np.asarray(fitted[n], dtype=np.float64)) for n in names]
    factor = np.max(np.stack([x / f.max() for x, f in zip(X, F)]), axis=0)
    if len(names) > 1:
        joint = np.prod(np.stack(X), axis=0) / np.max(np.prod(np.stack(F), axis=0))
        factor = np.maximum(factor, joint)
    return factor
