"""Unbiased pass@k (Chen et al. 2021) and its plug-in baseline (docs/best_of_n.md#unbiased-passk).

For a problem with ``n`` attempts of which ``c`` succeeded, the unbiased estimator of
pass@k = 1 - (1 - p)^k is

    pass@k_hat = 1 - C(n - c, k) / C(n, k)            (k <= n),

the probability that k of the n attempts drawn without replacement are all failures.  Two
evaluations are provided:

* ``"product"`` (Chen et al., Fig. 3): 1 - prod_{j = n-c+1}^{n} (1 - k/j), in float64 with one
  cumulative product per distinct (n, k) pair; exact to ~1e-15 for the n <= 1e4 where it is
  the default.
* ``"lgamma"``: log(1 - pass@k) = log[Gamma(n-c+1) Gamma(n-k+1) / (Gamma(n-c-k+1) Gamma(n+1))],
  which is log B(k, x + c) / B(k, x) with x = n - c - k + 1, evaluated with the cancellation-free
  :func:`scalefit.sampling.log_beta_fail` rather than four raw ``lgamma`` values (the raw form
  loses ~2e-10 absolute at n = 1e5, k = 1000).  Default for n > 1e4.

Estimators here run in NumPy (they are exact finite sums, not part of any traced model).
"""

from __future__ import annotations

import numpy as np

from ..errors import ArgumentError
from ._common import Interval, short_value, as_counts, check_at_most, check_level, check_successes

__all__ = [
    "pass_at_k",
    "pass_at_k_plugin",
    "mean_pass_at_k",
    "pass_at_k_interval",
]

_PRODUCT_MAX_N = 10_000
_FORMS = ("auto", "product", "lgamma")


def _validate(n, c, k):
    n = as_counts("n", n, min_value=1)
    c = as_counts("c", c)
    k = as_counts("k", k, min_value=1)
    check_successes(c, n)
    check_at_most(k, n, "k", "n", "pass@k is only defined for k <= n; use a Beta-Binomial model to extrapolate "
                  "(scalefit.sampling.fit_beta_binomial, asr_exact)")
    return np.broadcast_arrays(n, c, k)


def _fail_product(n: np.ndarray, c: np.ndarray, k: np.ndarray) -> np.ndarray:
    """prod_{j=n-c+1}^{n} (1 - k/j) for entries with n - c >= k (flat int arrays)."""
    out = np.ones(n.shape, dtype=float)
    if n.size == 0:
        return out
    pairs, inverse = np.unique(np.stack([n, k], axis=1), axis=0, return_inverse=True)
    inverse = inverse.ravel()
    for p, (nn, kk) in enumerate(pairs):
        sel = np.flatnonzero(inverse == p)
        cs = c[sel]
        cmax = int(cs.max())
        if cmax == 0:
            continue
        j = np.arange(nn, nn - cmax, -1, dtype=float)
        # Factors ordered from j = n downwards; the running product after c factors is the
        # product over j = n - c + 1 .. n.
        cum = np.cumprod(1.0 - kk / j)
        vals = np.ones(cs.shape)
        pos = cs > 0
        vals[pos] = cum[cs[pos] - 1]
        out[sel] = vals
    return out


def _log_fail_lgamma(n: np.ndarray, c: np.ndarray, k: np.ndarray) -> np.ndarray:
    """log C(n-c, k)/C(n, k) = log B(k, x + c)/B(k, x), x = n - c - k + 1 >= 1."""
    from .._config import require_x64
    from ._special import log_beta_fail

    require_x64()
    x = (n - c - k + 1).astype(float)
    return np.asarray(log_beta_fail(c.astype(float), k.astype(float), x))


def pass_at_k(n, c, k, *, method: str = "auto") -> np.ndarray:
    """Per-problem unbiased pass@k estimate ``1 - C(n - c, k) / C(n, k)`` (Chen et al. 2021).

    Parameters
    ----------
    n : array_like of int
        Attempts per problem (>= 1).
    c : array_like of int
        Successes per problem (0 <= c <= n).
    k : array_like of int
        Budget (1 <= k <= n).  ``n``, ``c`` and ``k`` broadcast against each other.
    method : {"auto", "product", "lgamma"}
        ``"auto"`` uses the product form for n <= 1e4 and the log-gamma form above.

    Returns
    -------
    numpy.ndarray
        Estimates in [0, 1]; exactly 0 where c = 0 and exactly 1 where n - c < k.

    Raises
    ------
    ArgumentError
        If a count is negative or not an integer, if c > n, or if k > n (pass@k then needs a
        parametric model: see :func:`fit_beta_binomial` and :func:`asr_exact`).

    Examples
    --------
    >>> from scalefit.sampling import pass_at_k
    >>> float(pass_at_k(200, 1, 100))
    0.5
    >>> pass_at_k([10, 5], [3, 1], 5)
    array([0.91666667, 1.        ])
    """
    if method not in _FORMS:
        raise ArgumentError(f"`method` = {method!r} is not one of {', '.join(_FORMS)}")
    n, c, k = _validate(n, c, k)
    shape = n.shape
    n, c, k = n.ravel(), c.ravel(), k.ravel()
    out = np.zeros(n.shape, dtype=float)
    certain = (n - c) < k
    out[certain] = 1.0
    todo = ~certain & (c > 0)
    if todo.any():
        nn, cc, kk = n[todo], c[todo], k[todo]
        if method == "product":
            use_product = np.ones(nn.shape, dtype=bool)
        elif method == "lgamma":
            use_product = np.zeros(nn.shape, dtype=bool)
        else:
            use_product = nn <= _PRODUCT_MAX_N
        vals = np.empty(nn.shape)
        if use_product.any():
            vals[use_product] = 1.0 - _fail_product(
                nn[use_product], cc[use_product], kk[use_product]
            )
        if (~use_product).any():
            lg = ~use_product
            vals[lg] = -np.expm1(_log_fail_lgamma(nn[lg], cc[lg], kk[lg]))
        out[todo] = vals
    return out.reshape(shape)


def pass_at_k_plugin(n, c, k) -> np.ndarray:
    """Plug-in (biased-low) pass@k: ``1 - (1 - c/n)^k``, evaluated as ``-expm1(k log1p(-c/n))``.

    Defined for any k >= 1 (also k > n); it is the per-query "naive" baseline of SABER Eq. (15)
    and Hughes et al.  Jensen's inequality makes it biased low for the population pass@k.

    Examples
    --------
    >>> from scalefit.sampling import pass_at_k_plugin
    >>> round(float(pass_at_k_plugin(200, 10, 10)), 12)
    0.401263060762
    """
    n = as_counts("n", n, min_value=1)
    c = as_counts("c", c)
    k = np.asarray(k, dtype=float)
    if (~np.isfinite(k) | (k < 0)).any():
        raise ArgumentError(f"`k` = {short_value(k[~np.isfinite(k) | (k < 0)].flat[0])} must be >= 0")
    check_successes(c, n)
    p = c / n
    with np.errstate(divide="ignore"):
        out = -np.expm1(k * np.log1p(-p))
    return np.where(p >= 1.0, np.where(k > 0, 1.0, 0.0), out)


def mean_pass_at_k(n, c, k, *, method: str = "auto") -> np.ndarray:
    """Benchmark pass@k: the mean over problems of the unbiased per-problem estimate.

    Parameters
    ----------
    n, c : array_like of int, shape (K,)
        Attempts and successes per problem (heterogeneous ``n`` allowed; k <= min n).
    k : int or array_like of int
        One budget or a 1-D array of budgets.

    Returns
    -------
    float or numpy.ndarray
        pass_D@k, with the shape of ``k``.

    Examples
    --------
    >>> from scalefit.sampling import mean_pass_at_k
    >>> mean_pass_at_k([200, 200], [10, 0], [1, 10]).round(6)
    array([0.025   , 0.204274])
    """
    n = np.atleast_1d(np.asarray(n))
    c = np.atleast_1d(np.asarray(c))
    if n.ndim != 1 or c.ndim != 1:
        raise ArgumentError("`n` and `c` must be 1-D arrays with one entry per problem")
    k_arr = np.asarray(k)
    vals = pass_at_k(n[:, None], c[:, None], np.atleast_1d(k_arr)[None, :], method=method)
    out = vals.mean(axis=0)
    return out.reshape(k_arr.shape) if k_arr.ndim else float(out[0])


def pass_at_k_interval(
    n,
    c,
    k,
    *,
    level: float = 0.95,
    num_samples: int = 2000,
    seed: int | np.random.Generator = 0,
    method: str = "auto",
) -> Interval:
    """Benchmark pass@k with a percentile bootstrap interval that resamples problems.

    The problems are treated as a sample from a population of problems; each bootstrap replicate
    draws K problems with replacement and averages their unbiased per-problem estimates
    (the per-problem estimates are computed once).

    Parameters
    ----------
    n, c : array_like of int, shape (K,)
        Attempts and successes per problem.
    k : int or array_like of int
        Budget(s).
    level : float
        Two-sided coverage of the percentile interval.
    num_samples : int
        Bootstrap replicates.
    seed : int or numpy.random.Generator
        Seed for ``numpy.random.default_rng`` (results are reproducible for a fixed seed).

    Returns
    -------
    Interval
        ``(estimate, lower, upper)``; arrays when ``k`` is an array.

    Raises
    ------
    ArgumentError
        With a single problem (resampling one problem gives a zero-width interval that says
        nothing about other problems).

    Examples
    --------
    >>> from scalefit.sampling import pass_at_k_interval
    >>> est, lo, hi = pass_at_k_interval([20] * 4, [0, 3, 10, 20], 5, seed=1)
    >>> bool(lo <= est <= hi)
    True
    """
    level = check_level(level)
    if int(num_samples) < 1:
        raise ArgumentError(f"`num_samples` = {num_samples} must be >= 1")
    n = np.atleast_1d(np.asarray(n))
    c = np.atleast_1d(np.asarray(c))
    k_arr = np.asarray(k)
    vals = pass_at_k(n[:, None], c[:, None], np.atleast_1d(k_arr)[None, :], method=method)
    n_items = vals.shape[0]
    if n_items < 2:
        raise ArgumentError(
            f"`n`, `c`: only {n_items} problem; an interval that resamples problems needs at least 2 "
            "(use pass_at_k for the point estimate)"
        )
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    reps = np.empty((int(num_samples), vals.shape[1]))
    chunk = max(1, min(int(num_samples), 2_000_000 // max(n_items, 1)))
    for start in range(0, int(num_samples), chunk):
        stop = min(int(num_samples), start + chunk)
        idx = rng.integers(0, n_items, size=(stop - start, n_items))
        reps[start:stop] = vals[idx].mean(axis=1)
    tail = (1.0 - level) / 2.0
    lower = np.quantile(reps, tail, axis=0)
    upper = np.quantile(reps, 1.0 - tail, axis=0)
    est = vals.mean(axis=0)
    if k_arr.ndim == 0:
        return Interval(float(est[0]), float(lower[0]), float(upper[0]))
    return Interval(est.reshape(k_arr.shape), lower.reshape(k_arr.shape), upper.reshape(k_arr.shape))
