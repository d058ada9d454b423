"""PassUntil task-law forecast of a held-out (largest) model size (docs/passuntil.md#task-law).

Hu et al. predict a large model's PassUntil rate from smaller models of the same series with the
task law PU(N) = exp(-c N^-alpha), either on the task-level mean (dataset-level OLS of
log(-log PU) on log N) or per instance (one law per test instance, averaged).  This module runs
that protocol on a table of per-(model size, instance) success counts: fit on every size except
the held-out one, predict it, and compare with the rate measured there.

Counts may come from inverse sampling (draw until r passes) or from a fixed or adaptive budget:
the instance likelihood r log p + (K - r) log(1 - p) is the same kernel in every case (the
stopping rule is ignorable), and sizes where an instance never passed are censored observations
that the instance-level likelihood uses as they are.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .._config import require_x64
from ..errors import ArgumentError
from ._common import Interval, short_value, check_level
from .holdout import hold_out_size

__all__ = ["PassUntilHoldout", "passuntil_holdout"]


@dataclass(frozen=True, eq=False)
class PassUntilHoldout:
    """Result of :func:`passuntil_holdout`.

    ``table``: per model size, the instances, total successes and attempts and the task-level
    rate (mean over instances of successes / attempts); ``instance`` and ``task`` are the
    instance-level and dataset-level predictions for the held-out size with percentile-bootstrap
    (instances) and OLS prediction intervals; ``realised`` the rate measured at that size.
    """

    holdout_size: float
    fit_sizes: np.ndarray
    realised: float
    instance: Interval
    task: Interval
    identified: int
    n_instances: int
    table: pd.DataFrame
    level: float
    notes: tuple

    @property
    def instance_ratio(self) -> float:
        """Predicted / realised rate, instance-level law."""
        return float(self.instance.estimate) / self.realised if self.realised > 0 else np.inf

    @property
    def task_ratio(self) -> float:
        return float(self.task.estimate) / self.realised if self.realised > 0 else np.inf

    def summary(self) -> str:
        lines = [f"PassUntil task law: predict size {self.holdout_size:.4g} from sizes "
                 + ", ".join(f"{s:.3g}" for s in self.fit_sizes)]
        with pd.option_context("display.width", 160):
            lines.append(self.table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
        lv = f"{self.level:.0%}"
        lines.append(f"realised rate at {self.holdout_size:.4g}: {self.realised:.5g}")
        lines.append(f"instance-level law ({self.identified}/{self.n_instances} instances identified): "
                     f"{self.instance.estimate:.5g}  {lv} [{self.instance.lower:.5g}, {self.instance.upper:.5g}]  "
                     f"(x{self.instance_ratio:.2f} of realised)")
        lines.append(f"dataset-level law: {self.task.estimate:.5g}  {lv} [{self.task.lower:.5g}, "
                     f"{self.task.upper:.5g}]  (x{self.task_ratio:.2f} of realised)")
        for note in self.notes:
            lines.append(f"note: {note}")
        return "\n".join(lines)


def passuntil_holdout(frame: pd.DataFrame, *, size: str, instance: str, successes: str, attempts: str,
                      holdout=None, level: float = 0.9, num_samples: int = 2000, seed: int = 0) -> PassUntilHoldout:
    """Fit the PassUntil task law on smaller sizes and predict a held-out size.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per (model size, instance) with success and attempt counts.
    size, instance, successes, attempts : str
        Column names.
    holdout : float, optional
        The size to predict (default: the largest).
    level : float
        Interval level.
    num_samples, seed
        Bootstrap replicates (instances) for the instance-level interval, and its seed.

    Returns
    -------
    PassUntilHoldout

    Examples
    --------
    >>> import numpy as np, pandas as pd, scalefit; scalefit.enable_x64()
    >>> from scalefit.sampling import passuntil_holdout
    >>> N = np.repeat([1e8, 3e8, 1e9, 3e9], 3); inst = np.tile([0, 1, 2], 4)
    >>> p = np.exp(-np.array([8.0, 9.0, 10.0])[inst] * (N / 1e8) ** -0.5)
    >>> df = pd.DataFrame({"N": N, "i": inst, "r": np.round(p * 1e6).astype(int), "K": 10**6})
    >>> res = passuntil_holdout(df, size="N", instance="i", successes="r", attempts="K")
    >>> bool(abs(res.task.estimate / res.realised - 1) < 0.05)
    True
    """
    from .passuntil import fit_instance_laws, fit_task_law

    require_x64()
    level = check_level(level)
    if not isinstance(frame, pd.DataFrame):
        raise ArgumentError(f"`frame` must be a pandas DataFrame, got {type(frame).__name__}")
    for arg, col in (("size", size), ("instance", instance), ("successes", successes), ("attempts", attempts)):
        if col not in frame.columns:
            raise ArgumentError(f"`{arg}` = {col!r} is not a column (columns: {', '.join(map(str, frame.columns))})")
    from ..io import numeric_columns

    # words such as 'yes' in a count column are named with their column and row, not coerced to NaN
    numbers = numeric_columns(frame, list(dict.fromkeys([size, successes, attempts])))
    sz, r, K = numbers[size], numbers[successes], numbers[attempts]
    bad = ~np.isfinite(sz) | (sz <= 0) | ~np.isfinite(r) | (r < 0) | ~np.isfinite(K) | (K < 1) | (r > K)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ArgumentError(
            f"row {i}: `{size}` = {short_value(frame[size].iloc[i])}, `{successes}` = {short_value(frame[successes].iloc[i])}, "
            f"`{attempts}` = {short_value(frame[attempts].iloc[i])} "
            "(need size > 0 and 0 <= successes <= attempts, attempts >= 1)"
        )
    inst = frame[instance].to_numpy()
    dup = pd.DataFrame({"s": sz, "i": inst}).duplicated()
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise ArgumentError(
            f"`{instance}` = {inst[i]!r} appears twice at `{size}` = {short_value(sz[i])}: keep one row per size and "
            "instance (e.g. the final checkpoint of each size)"
        )
    split = hold_out_size(sz, holdout)
    target, fit_sizes = split.target, split.fit_sizes
    rate = r / K
    per = pd.DataFrame({"size": sz, "rate": rate, "r": r, "K": K}).groupby("size").agg(
        instances=("rate", "size"), successes=("r", "sum"), attempts=("K", "sum"), rate=("rate", "mean")).reset_index()
    realised = float(np.mean(rate[split.held]))
    tr = ~split.held
    notes = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        inst_fit = fit_instance_laws(sz[tr], r[tr].astype(np.int64), K[tr].astype(np.int64), inst[tr])
        iv = inst_fit.predict_interval(target, level=level, num_samples=num_samples, seed=seed)
        task_rows = per[per["size"] != target]
        task_fit = fit_task_law(task_rows["size"].to_numpy(), task_rows["rate"].to_numpy())
        if task_fit.n_used >= 3:
            tv = task_fit.predict_interval(target, level=level)
            task_iv = Interval(float(tv.estimate), float(tv.lower), float(tv.upper))
        else:
            task_iv = Interval(float(task_fit.predict_values(target)), np.nan, np.nan)
            notes.append("dataset-level interval needs at least 3 sizes with 0 < rate < 1")
    notes.extend(str(w.message) for w in caught)
    return PassUntilHoldout(target, fit_sizes, realised, Interval(float(iv.estimate), float(iv.lower), float(iv.upper)),
                            task_iv, int(inst_fit.identified.sum()), int(inst_fit.identified.size), per, level,
                            tuple(notes))
