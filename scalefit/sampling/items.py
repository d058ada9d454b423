"""Per-item observations of repeated sampling: what every fitter, forecast and backtest of
:mod:`scalefit.sampling` takes (:class:`ItemData`), built from attempts and successes, from a
counts frame of :func:`scalefit.io.load_attempts`, or from a sample-until-success log for one of
its likelihoods (see :mod:`scalefit.sampling.censored`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import ArgumentError
from ._common import as_counts, check_counts_frame

__all__ = ["ItemData", "item_data", "as_item_data", "until_success_items", "UNTIL_SUCCESS_LIKELIHOODS"]


@dataclass(frozen=True, eq=False)
class ItemData:
    """Per-item observations: ``k`` successes in ``n`` attempts, optionally followed by an
    interval of ``extra`` attempts known to hold at least one success (batch-censored logs).

    ``first_success`` (1-based attempt of the first success, NaN if none or unknown) is used
    only for exact "continued" rates at budgets below ``n``; ``attempts`` is the number of
    attempts actually made per item (``n + extra`` unless a sample-until-success log was encoded
    with fewer, e.g. only up to the first success).  ``until_success`` says whether sampling
    stopped at the first success (None: when any first success is recorded); a fixed-budget log
    with attempt order records first successes with ``until_success=False``.
    """

    n: np.ndarray
    k: np.ndarray
    extra: np.ndarray
    first_success: np.ndarray
    attempts: np.ndarray
    until_success: bool | None = None

    @property
    def size(self) -> int:
        return int(self.n.shape[0])

    @property
    def solved(self) -> np.ndarray:
        """Items with at least one observed success (k > 0 or a censored success interval)."""
        return (self.k > 0) | (self.extra > 0)

    @property
    def has_interval(self) -> bool:
        return bool(np.any(self.extra > 0))

    def take(self, index) -> "ItemData":
        index = np.asarray(index)
        return ItemData(self.n[index], self.k[index], self.extra[index], self.first_success[index],
                        self.attempts[index], self.until_success)


def item_data(n, k, extra=None, first_success=None, attempts=None, until_success=None) -> ItemData:
    """Validate per-item counts into an :class:`ItemData` (one entry per item).

    Parameters
    ----------
    n, k : array_like of int
        Attempts and successes per item (a scalar ``n`` is broadcast).
    extra : array_like of int, optional
        For interval-censored items: the number of further attempts (after the ``n`` failures)
        among which at least one succeeded; 0 otherwise.  Items with ``extra > 0`` need k = 0.
    first_success : array_like, optional
        1-based attempt of the first success (NaN when none).
    attempts : array_like of int, optional
        Attempts actually made per item (default ``n + extra``).
    until_success : bool, optional
        Whether sampling stopped at each item's first success (default: when any first success
        is given); False for a fixed-budget log whose attempt order is known.

    Examples
    --------
    >>> from scalefit.sampling import item_data
    >>> item_data(100, [0, 3, 1]).n.tolist()
    [100, 100, 100]
    """
    k = np.atleast_1d(as_counts("k", k))
    n = np.atleast_1d(as_counts("n", n, min_value=0))
    if n.size == 1 and k.size > 1:
        n = np.full(k.shape, int(n[0]), dtype=np.int64)
    if n.shape != k.shape or k.ndim != 1:
        raise ArgumentError(f"`n` (shape {n.shape}) and `k` (shape {k.shape}) must be 1-D with one entry per item")
    if k.size == 0:
        raise ArgumentError("`k` is empty: at least one item is needed")
    bad = k > n
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ArgumentError(f"`k` = {k[i]} exceeds `n` = {n[i]}: successes cannot outnumber attempts")
    if extra is None:
        extra = np.zeros_like(n)
    else:
        extra = np.atleast_1d(as_counts("extra", extra))
        if extra.size == 1 and n.size > 1:
            extra = np.full(n.shape, int(extra[0]), dtype=np.int64)
        if extra.shape != n.shape:
            raise ArgumentError(f"`extra` has {extra.size} entries but there are {n.size} items")
        both = (extra > 0) & (k > 0)
        if both.any():
            i = int(np.flatnonzero(both)[0])
            raise ArgumentError(
                f"`extra` = {extra[i]} with `k` = {k[i]}: an interval-censored item has no exactly "
                "counted successes (k = 0)"
            )
    empty = (n == 0) & (extra == 0)
    if empty.any():
        raise ArgumentError(f"`n` = 0 for {int(empty.sum())} item(s) without any observation")
    if first_success is None:
        fs = np.full(n.shape, np.nan)
    else:
        fs = np.atleast_1d(np.asarray(first_success, dtype=float))
        if fs.shape != n.shape:
            raise ArgumentError(f"`first_success` has {fs.size} entries but there are {n.size} items")
    if attempts is None:
        made = n + extra
    else:
        made = np.atleast_1d(as_counts("attempts", attempts, min_value=1))
        if made.shape != n.shape:
            raise ArgumentError(f"`attempts` has {made.size} entries but there are {n.size} items")
    return ItemData(n.astype(np.int64), k.astype(np.int64), extra.astype(np.int64), fs, made.astype(np.int64),
                    None if until_success is None else bool(until_success))



UNTIL_SUCCESS_LIKELIHOODS = ("attempts", "first_success", "batch")
_REQUIRED = ("n", "k", "first_success", "batch_size", "cap", "censored")


def check_until_success_frame(counts) -> None:
    if not isinstance(counts, pd.DataFrame):
        raise ArgumentError(f"`counts` must be a pandas DataFrame, got {type(counts).__name__}")
    missing = [c for c in _REQUIRED if c not in counts.columns]
    if missing:
        raise ArgumentError(
            "`counts` lacks the sample-until-success column(s) " + ", ".join(f"`{c}`" for c in missing)
            + "; load the log with load_attempts(..., batch_size=B, cap=C)"
        )


def until_success_items(counts: pd.DataFrame, likelihood: str = "attempts") -> ItemData:
    """Per-item observations of a sample-until-success log for the chosen likelihood.

    Parameters
    ----------
    counts : pandas.DataFrame
        Counts of a sample-until-success log (:func:`scalefit.io.load_attempts` with
        ``batch_size``/``cap``): columns ``n``, ``k``, ``first_success``, ``batch_size``, ``cap``,
        ``censored``.
    likelihood : {"attempts", "first_success", "batch"}
        See the module docstring.

    Returns
    -------
    ItemData
        With ``first_success`` kept, so that exact rates below the observed budgets remain
        available.

    Examples
    --------
    >>> import pandas as pd
    >>> from scalefit.sampling import until_success_items
    >>> c = pd.DataFrame({"item": [0, 1], "n": [120, 180], "k": [2, 0], "first_success": [75.0, None],
    ...                   "batch_size": [60, 60], "cap": [180, 180], "censored": [False, True]})
    >>> d = until_success_items(c, "batch")
    >>> d.n.tolist(), d.k.tolist(), d.extra.tolist()
    ([60, 180], [0, 0], [60, 0])
    """
    check_until_success_frame(counts)
    if likelihood not in UNTIL_SUCCESS_LIKELIHOODS:
        raise ArgumentError(
            f"`likelihood` = {likelihood!r} is not one of {', '.join(map(repr, UNTIL_SUCCESS_LIKELIHOODS))}"
        )
    n = counts["n"].to_numpy(np.int64)
    k = counts["k"].to_numpy(np.int64)
    fs = counts["first_success"].to_numpy(float)
    B = counts["batch_size"].to_numpy(np.int64)
    cap = counts["cap"].to_numpy(np.int64)
    broken = np.isfinite(fs)
    if np.any(broken & (k == 0)):
        raise ArgumentError("`k` = 0 for an item with a recorded `first_success`: the counts are inconsistent")
    if likelihood == "attempts":
        return item_data(n, k, first_success=fs, attempts=n)
    if likelihood == "first_success":
        n_f = np.where(broken, np.nan_to_num(fs, nan=1.0), n).astype(np.int64)
        return item_data(n_f, broken.astype(np.int64), first_success=fs, attempts=n)
    batch = np.where(broken, np.ceil(np.nan_to_num(fs, nan=1.0) / B), 0.0).astype(np.int64)
    lower = (batch - 1) * B
    upper = np.minimum(batch * B, cap)
    n_b = np.where(broken, lower, n)
    extra = np.where(broken, upper - lower, 0)
    return item_data(n_b, np.zeros_like(n_b), extra=extra, first_success=fs, attempts=n)


def as_item_data(data, k=None, likelihood: str = "attempts") -> ItemData:
    """Items from what a fitter was given: :class:`ItemData`, attempts ``n`` with ``k``, or a
    counts frame from :func:`scalefit.io.load_attempts` (sample-until-success frames through
    :func:`until_success_items`; a fixed-budget log's ``first_success_at`` becomes the items'
    first-success positions, so that continued forecasts below an item's budget are exact).

    A frame must hold one group: fitting the items of several models together would silently
    mix them.

    Examples
    --------
    >>> import pandas as pd
    >>> as_item_data(pd.DataFrame({"item": [0, 1], "n": [10, 10], "k": [0, 3]})).k.tolist()
    [0, 3]
    """
    if isinstance(data, ItemData):
        return data
    if not isinstance(data, pd.DataFrame):
        return item_data(data, k)
    if k is not None:
        raise ArgumentError("`k`: pass a counts frame alone (its `k` column is used), or attempts `n` with `k`")
    check_counts_frame(data)
    if "first_success" in data.columns:
        return until_success_items(data, likelihood)
    if "first_success_at" in data.columns:  # a fixed-budget attempt log with attempt order
        return item_data(data["n"].to_numpy(), data["k"].to_numpy(),
                         first_success=data["first_success_at"].to_numpy(float), until_success=False)
    return item_data(data["n"].to_numpy(), data["k"].to_numpy())
