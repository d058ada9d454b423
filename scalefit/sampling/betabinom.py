"""Beta-Binomial fits for per-problem (attempts, successes) counts (docs/best_of_n.md#beta-binomial-model, docs/bayes.md#likelihoods).

Model: p_i ~ Beta(a, b), k_i | p_i ~ Binomial(n_i, p_i), so k_i ~ BetaBinomial(n_i, a, b) with

    log P(k_i) = log C(n_i, k_i) + log B(k_i + a, n_i - k_i + b) - log B(a, b).

Design
------
* Items with the same (n_i, k_i) are collapsed into a histogram with multiplicities before
  fitting.  A summed log-likelihood over 100k items drove BFGS to a false minimum at a = 1e95
  (measured); the histogram is faster and better conditioned.  Heterogeneous n_i are kept as
  they are (never replaced by a mean budget).
* The objective is the *mean* negative log-likelihood per item, optimised over
  theta = (log a, log b) by damped Newton with the analytic score and Hessian (digamma and
  trigamma; JAX's are accurate to ~1e-14, see tests) and log-gamma ratios from
  :mod:`scalefit.sampling._special` (``betaln`` is never used: it is off by ~2e-7 near b = 12).
* The core, :func:`_fit_core`, is a pure function of padded arrays ``(n, k, weight)`` and a
  start point, so a batch of groups can be fitted with ``jax.vmap`` later.
* Boundary cases are detected before fitting and returned as flagged estimates: all k_i = 0
  (``no_successes``; the MLE has a/(a+b) -> 0), all k_i = n_i (``all_successes``), and no
  over-dispersion (``no_overdispersion``; the score for the intraclass correlation at 0 is <= 0,
  which for equal n is "population variance of k <= binomial variance", so a + b -> inf).
  Use the MAP/Bayesian fit (docs/bayes.md) in these cases.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from .._config import require_x64
from ..errors import ArgumentError
from ._common import as_counts, check_counts_frame, check_successes, unique_rows
from ._optim import damped_newton
from ._special import digamma, log_gamma_ratio, trigamma

__all__ = [
    "BetaBinomialFit",
    "ZeroInflatedBetaBinomialFit",
    "MomentEstimate",
    "fit_beta_binomial",
    "fit_zero_inflated_beta_binomial",
    "beta_binomial_moments",
    "count_histogram",
]

_GTOL = 1e-10
_BOUND = 25.0  # |log a|, |log b| <= 25: a, b in [1.4e-11, 7.2e10]
_BOUNDARY_LOG = float(np.log(1e8))  # fits with a or b outside [1e-8, 1e8] are boundary fits


# --------------------------------------------------------------------------------------------
# data handling


def validate_counts(n, k):
    if k is None:  # a counts frame from scalefit.io.load_attempts
        if not hasattr(n, "columns"):
            raise ArgumentError("`k` is required unless `n` is a counts frame from scalefit.io.load_attempts")
        check_counts_frame(n)
        if "first_success" in n.columns:
            raise ArgumentError(
                "`n` is a sample-until-success frame: a plain Beta-Binomial fit of its counts is biased by the "
                "stopping rule; use fit_bon or fit_mixing (censored likelihood)"
            )
        n, k = n["n"].to_numpy(), n["k"].to_numpy()
    n = np.atleast_1d(as_counts("n", n, min_value=1))
    k = np.atleast_1d(as_counts("k", k))
    if n.ndim != 1 or k.ndim != 1:
        raise ArgumentError("`n` and `k` must be 1-D (one entry per problem)")
    if n.shape[0] == 1 and k.shape[0] > 1:
        n = np.broadcast_to(n, k.shape)
    if n.shape != k.shape:
        raise ArgumentError(
            f"`n` has {n.shape[0]} entries but `k` has {k.shape[0]}: pass one n per problem "
            "or a single n for all"
        )
    if k.shape[0] == 0:
        raise ArgumentError("`k` is empty: at least one problem is needed")
    check_successes(k, n, "k", "n")
    return np.ascontiguousarray(n), np.ascontiguousarray(k)


def count_histogram(n, k, *, pad_to_power_of_two: bool = True):
    """Collapse items with equal (n, k) into rows with a multiplicity.

    Parameters
    ----------
    n, k : array_like of int
        Attempts and successes per item.
    pad_to_power_of_two : bool
        Pad the rows (with weight 0) to the next power of two (at least 64), so that jitted
        fits see few distinct shapes and do not recompile for every data set.

    Returns
    -------
    (n_u, k_u, weight) : tuple of numpy.ndarray
        Distinct (n, k) pairs and the number of items with each pair (float).

    Examples
    --------
    >>> from scalefit.sampling import count_histogram
    >>> count_histogram([5, 5, 5], [0, 0, 2], pad_to_power_of_two=False)
    (array([5, 5]), array([0, 2]), array([2., 1.]))
    """
    n, k = validate_counts(n, k)
    pairs, _, counts = unique_rows(n, k)
    n_u, k_u, w = pairs[:, 0], pairs[:, 1], counts.astype(float)
    if pad_to_power_of_two:
        size = max(64, 1 << int(np.ceil(np.log2(max(len(w), 1)))))
        pad = size - len(w)
        n_u = np.concatenate([n_u, np.ones(pad, dtype=n_u.dtype)])
        k_u = np.concatenate([k_u, np.zeros(pad, dtype=k_u.dtype)])
        w = np.concatenate([w, np.zeros(pad)])
    return n_u, k_u, w


# --------------------------------------------------------------------------------------------
# method of moments


class MomentEstimate(NamedTuple):
    """Method-of-moments Beta-Binomial estimate (nan a, b when there is no over-dispersion)."""

    a: float
    b: float
    mean: float
    rho: float


def beta_binomial_moments(n, k, *, method: str = "intraclass") -> MomentEstimate:
    """Method-of-moments estimate of the Beta-Binomial (a, b) (docs/best_of_n.md#beta-binomial-model).

    ``method="intraclass"`` (default): mu = sum k / sum n and the intraclass correlation

        rho = sum_i[(k_i - n_i mu)^2 - n_i mu (1 - mu)] / (mu (1 - mu) sum_i n_i (n_i - 1)),

    a + b = 1/rho - 1, a = mu (a + b), b = (1 - mu)(a + b).  For equal n this is exactly the
    intraclass form with the population variance s^2: rho = (s^2/(n mu (1 - mu)) - 1)/(n - 1); it
    also accepts heterogeneous n (it is the moment equation E[(k - n mu)^2] =
    n mu (1 - mu)(1 + (n - 1) rho) summed over items).

    ``method="raw"`` (equal n only): with m1 = mean k, m2 = mean k^2,
    a = (n m1 - m2)/(n (m2/m1 - m1 - 1) + m1), b = (n - m1)(n - m2/m1)/(n (m2/m1 - m1 - 1) + m1).

    When rho <= 0 (no over-dispersion) or rho >= 1 the moment equations have no valid solution
    and ``a``, ``b`` are nan; ``mean`` and ``rho`` are still returned.

    Examples
    --------
    >>> from scalefit.sampling import beta_binomial_moments
    >>> est = beta_binomial_moments(20, [0, 0, 1, 0, 2, 5, 12, 20, 3, 0])
    >>> round(est.a / (est.a + est.b), 6) == round(est.mean, 6)
    True
    """
    n, k = validate_counts(n, k)
    nf, kf = n.astype(float), k.astype(float)
    mu = kf.sum() / nf.sum()
    denom = mu * (1.0 - mu) * np.sum(nf * (nf - 1.0))
    num = np.sum((kf - nf * mu) ** 2 - nf * mu * (1.0 - mu))
    rho = num / denom if denom > 0 else np.nan
    valid = np.isfinite(rho) and 0.0 < rho < 1.0
    if method == "intraclass":
        if not valid:
            return MomentEstimate(np.nan, np.nan, float(mu), float(rho))
        s = 1.0 / rho - 1.0
        return MomentEstimate(float(mu * s), float((1.0 - mu) * s), float(mu), float(rho))
    if method == "raw":
        if np.any(n != n[0]):
            raise ArgumentError(
                "`method` = 'raw' needs equal `n` for all problems; use method='intraclass'"
            )
        nn = float(n[0])
        m1 = kf.mean()
        m2 = np.mean(kf * kf)
        if not valid or m1 == 0:
            return MomentEstimate(np.nan, np.nan, float(mu), float(rho))
        d = nn * (m2 / m1 - m1 - 1.0) + m1
        a = (nn * m1 - m2) / d
        b = (nn - m1) * (nn - m2 / m1) / d
        return MomentEstimate(float(a), float(b), float(mu), float(rho))
    raise ArgumentError(f"`method` = {method!r} is not one of 'intraclass', 'raw'")


def _overdispersion_score(n: np.ndarray, k: np.ndarray) -> tuple[float, float]:
    """(mu_hat, T): T = sum[(k - n mu)^2 - n mu (1 - mu)], proportional to the score of rho at 0."""
    nf, kf = n.astype(float), k.astype(float)
    mu = kf.sum() / nf.sum()
    return float(mu), float(np.sum((kf - nf * mu) ** 2 - nf * mu * (1.0 - mu)))


# --------------------------------------------------------------------------------------------
# likelihood core (pure JAX, padded histogram)


def bb_loglik_rows(a, b, n, k):
    """Per-row Beta-Binomial kernel log B(k + a, n - k + b) - log B(a, b).

    Written as D(a, k) + D(b, a) - D(b + n - k, a + k) with D(x, h) = lgamma(x + h) - lgamma(x)
    (:func:`log_gamma_ratio`), so that no term is of size n log n: the textbook grouping
    D(a, k) + D(b, n - k) - D(a + b, n) cancels two ~n log n terms (absolute error ~1e-11 per
    item at n = 1e4, enough to stall Newton's last step).  The three ratios are evaluated in one
    stacked call (one copy of the special-function code in the compiled program).
    """
    a, b, n, k = jnp.broadcast_arrays(a, b, n, k)
    r = log_gamma_ratio(jnp.stack([a, b, b + n - k]), jnp.stack([k, a, a + k]))
    return r[0] + r[1] - r[2]


def bb_row_derivs(theta, n, k):
    """Per-row kernel log-likelihood and its gradient/Hessian in theta = (log a, log b).

    Returns ``ll`` (rows,), ``g`` (2, rows) and ``H`` (2, 2, rows) from the analytic score
    and Hessian of docs/best_of_n.md#beta-binomial-model (one stacked digamma and one trigamma call).
    """
    a, b = jnp.exp(theta[0]), jnp.exp(theta[1])
    a_, b_ = jnp.broadcast_to(a, n.shape), jnp.broadcast_to(b, n.shape)
    ab_ = a_ + b_
    ll = bb_loglik_rows(a_, b_, n, k)
    args = jnp.stack([k + a_, a_, n - k + b_, b_, ab_, n + ab_])
    psi = digamma(args)
    tri = trigamma(args)
    d_ab = psi[4] - psi[5]
    t_ab = tri[4] - tri[5]
    s_a = psi[0] - psi[1] + d_ab
    s_b = psi[2] - psi[3] + d_ab
    h_aa = tri[0] - tri[1] + t_ab
    h_bb = tri[2] - tri[3] + t_ab
    g = jnp.stack([a * s_a, b * s_b])
    H = jnp.stack(
        [
            jnp.stack([a * a * h_aa + a * s_a, a * b * t_ab]),
            jnp.stack([a * b * t_ab, b * b * h_bb + b * s_b]),
        ]
    )
    return ll, g, H


def _bb_fgh(theta, n, k, w):
    """Mean negative log-likelihood over items, its gradient and Hessian in (log a, log b)."""
    W = jnp.sum(w)
    ll, g, H = bb_row_derivs(theta, n, k)
    return -jnp.sum(w * ll) / W, -jnp.sum(w * g, axis=-1) / W, -jnp.sum(w * H, axis=-1) / W


@jax.jit
def _fit_core(theta0, n, k, w):
    """Damped-Newton Beta-Binomial MLE on a padded histogram (pure; vmap-able over groups)."""
    return damped_newton(_bb_fgh, theta0, (n, k, w), max_iter=200, gtol=_GTOL, bound=_BOUND)


@jax.jit
def _natural_information(a, b, n, k, w):
    """Observed information (-Hessian of the summed log-likelihood) on the natural (a, b) scale."""
    a_, b_ = jnp.broadcast_to(a, n.shape), jnp.broadcast_to(b, n.shape)
    tri = trigamma(jnp.stack([k + a_, a_, n - k + b_, b_, a_ + b_, n + a_ + b_]))
    t_ab = tri[4] - tri[5]
    h_aa = jnp.sum(w * (tri[0] - tri[1] + t_ab))
    h_bb = jnp.sum(w * (tri[2] - tri[3] + t_ab))
    h_ab = jnp.sum(w * t_ab)
    return -jnp.array([[h_aa, h_ab], [h_ab, h_bb]])


def _log_binom(n, k):
    n, k = np.asarray(n, float), np.asarray(k, float)
    from scipy.special import gammaln as sp_gammaln

    return sp_gammaln(n + 1.0) - sp_gammaln(k + 1.0) - sp_gammaln(n - k + 1.0)


# --------------------------------------------------------------------------------------------
# results


@dataclass(frozen=True, eq=False)
class BetaBinomialFit:
    """Result of :func:`fit_beta_binomial` (immutable).

    Attributes
    ----------
    a, b : float
        Maximum-likelihood Beta parameters (boundary values when a boundary flag is set:
        ``no_successes`` -> a = 0, b = nan; ``all_successes`` -> a = nan, b = 0;
        ``no_overdispersion`` -> a = b = inf).
    se_a, se_b : float
        Standard errors from the observed information, natural scale (nan at the boundary).
    cov : numpy.ndarray, shape (2, 2)
        Covariance of (a, b) from the inverse observed information.
    loglik : float
        sum_i [log B(k_i + a, n_i - k_i + b) - log B(a, b)] (without binomial coefficients).
    loglik_full : float
        ``loglik`` plus sum_i log C(n_i, k_i).
    n_items : int
        Number of problems.
    converged : bool
        Newton converged (max |score| on the log scale <= 1e-10 per item, finite objective,
        positive-definite Hessian) and no boundary flag is set.
    message : str
        Human-readable status.
    no_successes, all_successes, no_overdispersion : bool
        Boundary flags (see module docstring).
    mean : float
        a / (a + b), finite also at the ``no_overdispersion`` boundary (= sum k / sum n).
    iterations : int
        Newton iterations.
    grad_norm : float
        max |gradient| of the per-item objective in (log a, log b) at the solution.
    """

    a: float
    b: float
    se_a: float
    se_b: float
    cov: np.ndarray
    loglik: float
    loglik_full: float
    n_items: int
    converged: bool
    message: str
    no_successes: bool = False
    all_successes: bool = False
    no_overdispersion: bool = False
    mean: float = float("nan")
    iterations: int = 0
    grad_norm: float = float("nan")
    start: tuple = field(default=(float("nan"), float("nan")))

    @property
    def at_boundary(self) -> bool:
        """True when one of the boundary flags is set."""
        return self.no_successes or self.all_successes or self.no_overdispersion

    def summary(self) -> str:
        """A short multi-line report."""
        lines = [
            "Beta-Binomial maximum likelihood",
            f"  items      {self.n_items}",
            f"  a          {self.a:.6g}  (SE {self.se_a:.3g})",
            f"  b          {self.b:.6g}  (SE {self.se_b:.3g})",
            f"  mean       {self.mean:.6g}",
            f"  loglik     {self.loglik_full:.6f} (kernel {self.loglik:.6f})",
            f"  converged  {self.converged}: {self.message}",
        ]
        return "\n".join(lines)


@dataclass(frozen=True, eq=False)
class ZeroInflatedBetaBinomialFit:
    """Result of :func:`fit_zero_inflated_beta_binomial`: p ~ pi delta_0 + (1 - pi) Beta(a, b).

    ``pi`` is the "unbreakable" mass (SABER App. B.1.2); ``cov`` is the 3 x 3 covariance of
    (pi, a, b) from the observed information (rows/columns for pi are nan when
    ``pi_at_boundary``).  Other fields as in :class:`BetaBinomialFit`.
    """

    pi: float
    a: float
    b: float
    se_pi: float
    se_a: float
    se_b: float
    cov: np.ndarray
    loglik: float
    loglik_full: float
    n_items: int
    converged: bool
    message: str
    pi_at_boundary: bool = False
    iterations: int = 0
    grad_norm: float = float("nan")


# --------------------------------------------------------------------------------------------
# public fitting functions


def _start_from_moments(n, k) -> np.ndarray:
    mom = beta_binomial_moments(n, k)
    mu = min(max(mom.mean, 1e-6), 1.0 - 1e-6)
    if np.isfinite(mom.a) and mom.a > 0 and mom.b > 0:
        a0, b0 = mom.a, mom.b
    else:
        s = 1.0  # a + b = 1: strongly over-dispersed start; Newton moves from there
        a0, b0 = mu * s, (1.0 - mu) * s
    theta = np.log([a0, b0])
    return np.clip(theta, -_BOUND + 1.0, _BOUND - 1.0)


def fit_beta_binomial(n, k=None, *, start=None) -> BetaBinomialFit:
    """Maximum-likelihood Beta-Binomial fit of per-problem success counts (docs/best_of_n.md#beta-binomial-model).

    Parameters
    ----------
    n : int, array_like of int or DataFrame
        Attempts per problem (one value for all problems, or one per problem; heterogeneous
        budgets are used as they are), or a counts frame from :func:`scalefit.io.load_attempts`
        (one group; then leave out ``k``).
    k : array_like of int
        Successes per problem.
    start : (a, b), optional
        Start point; by default the method-of-moments estimate.

    Returns
    -------
    BetaBinomialFit
        Estimates, observed-information standard errors, log-likelihoods, convergence status and
        boundary flags.

    Examples
    --------
    >>> import scalefit; scalefit.enable_x64()
    >>> from scalefit.sampling import fit_beta_binomial
    >>> k = [0,0,0,0,0,0,1,0,2,0,0,5,0,1,0,0,12,0,3,0,0,0,7,0,0,1,0,20,0,0]
    >>> fit = fit_beta_binomial(20, k)
    >>> round(fit.a, 5), round(fit.b, 5), fit.converged
    (0.08492, 0.72033, True)
    """
    require_x64()
    n, k = validate_counts(n, k)
    n_items = int(n.shape[0])
    log_binom_sum = float(np.sum(_log_binom(n, k)))
    nan2 = np.full((2, 2), np.nan)
    if np.all(k == 0):
        return BetaBinomialFit(
            0.0, np.nan, np.nan, np.nan, nan2, 0.0, log_binom_sum, n_items, False,
            "all k_i = 0: the likelihood is maximised on the boundary a/(a+b) -> 0; "
            "use a MAP/Bayesian fit (docs/bayes.md)",
            no_successes=True, mean=0.0,
        )
    if np.all(k == n):
        return BetaBinomialFit(
            np.nan, 0.0, np.nan, np.nan, nan2, 0.0, log_binom_sum, n_items, False,
            "all k_i = n_i: the likelihood is maximised on the boundary a/(a+b) -> 1; "
            "use a MAP/Bayesian fit (docs/bayes.md)",
            no_successes=False, all_successes=True, mean=1.0,
        )
    if n_items == 1:
        return BetaBinomialFit(
            np.nan, np.nan, np.nan, np.nan, nan2, 0.0, log_binom_sum, n_items, False,
            "a single problem: the spread of success rates across problems (a + b) is not identified; "
            "fit at least 2 problems",
            mean=float(k[0] / n[0]),
        )
    mu, score = _overdispersion_score(n, k)
    # Rounding-level tolerance: with all n_i = 1 the score is exactly 0 in theory (over-dispersion
    # is not identifiable from single attempts) but a few ulps in floating point.
    if score <= 1e-10 * float(np.sum(n)) * mu * (1.0 - mu):
        kf, nf = k.astype(float), n.astype(float)
        ll_binom = float(np.sum(kf * np.log(mu) + (nf - kf) * np.log1p(-mu)))
        return BetaBinomialFit(
            np.inf, np.inf, np.nan, np.nan, nan2, ll_binom, ll_binom + log_binom_sum, n_items,
            False,
            "no over-dispersion (variance of k_i <= binomial variance): a + b -> inf, the "
            "Binomial limit with mean sum k / sum n; use a MAP/Bayesian fit (docs/bayes.md)",
            no_overdispersion=True, mean=mu,
        )
    n_u, k_u, w = count_histogram(n, k)
    if start is None:
        theta0 = _start_from_moments(n, k)
    else:
        start = np.asarray(start, dtype=float)
        if start.shape != (2,) or not np.all(start > 0):
            raise ArgumentError(f"`start` = {start.tolist()} must be two positive numbers (a, b)")
        theta0 = np.log(start)
    res = _fit_core(
        jnp.asarray(theta0), jnp.asarray(n_u, float), jnp.asarray(k_u, float), jnp.asarray(w)
    )
    theta = np.asarray(res.theta)
    a, b = float(np.exp(theta[0])), float(np.exp(theta[1]))
    info = np.asarray(
        _natural_information(a, b, jnp.asarray(n_u, float), jnp.asarray(k_u, float), jnp.asarray(w))
    )
    try:
        cov = np.linalg.inv(info)
        se = np.sqrt(np.diag(cov)) if np.all(np.diag(cov) > 0) else np.full(2, np.nan)
    except np.linalg.LinAlgError:
        cov, se = nan2, np.full(2, np.nan)
    loglik = -float(res.f) * n_items
    converged = bool(res.converged)
    # a or b outside [1e-8, 1e8]: the likelihood is flat towards a boundary (a + b -> 0 for
    # all-or-nothing data, a + b -> inf without over-dispersion), so a small score means nothing.
    hit_bound = bool(np.any(np.abs(theta) >= _BOUNDARY_LOG))
    if hit_bound:
        converged = False
        msg = (
            f"estimate ran towards the parameter boundary (a = {a:.3g}, b = {b:.3g}): the MLE is "
            "on the boundary; use a MAP/Bayesian fit (docs/bayes.md)"
        )
    elif converged:
        msg = f"converged in {int(res.iterations)} Newton iterations"
    else:
        msg = (
            f"not converged after {int(res.iterations)} iterations "
            f"(max |score| = {float(res.grad_norm):.3g})"
        )
    return BetaBinomialFit(
        a, b, float(se[0]), float(se[1]), cov, loglik, loglik + log_binom_sum, n_items,
        converged, msg, mean=a / (a + b), iterations=int(res.iterations),
        grad_norm=float(res.grad_norm), start=(float(np.exp(theta0[0])), float(np.exp(theta0[1]))),
    )


def _zi_rows(theta, n, k):
    """Per-row log-likelihood of the zero-inflated model (kernel; C(n, 0) = 1 for k = 0)."""
    log_pi = jax.nn.log_sigmoid(theta[0])
    log_1mpi = jax.nn.log_sigmoid(-theta[0])
    a, b = jnp.exp(theta[1]), jnp.exp(theta[2])
    ll_bb = bb_loglik_rows(a, b, n, k)
    return jnp.where(k == 0, jnp.logaddexp(log_pi, log_1mpi + ll_bb), log_1mpi + ll_bb)


def _zi_fgh(theta, n, k, w):
    """Mean negative log-likelihood of the zero-inflated model, analytic gradient and Hessian.

    theta = (logit pi, log a, log b).  For a k = 0 row let r = P(unbreakable | k = 0) =
    sigmoid(logit pi - log BB(0)) and q = 1 - r (q = 1, r = 0 for k > 0 rows).  Then
    d l/d t = 1{k=0} r - pi,  d l/d phi = q d l_BB/d phi,
    d2 l/d t2 = 1{k=0} r q - pi (1 - pi),  d2 l/d t d phi = -1{k=0} r q d l_BB/d phi,
    d2 l/d phi d psi = q d2 l_BB + 1{k=0} r q (d l_BB/d phi)(d l_BB/d psi).
    """
    t = theta[0]
    pi = jax.nn.sigmoid(t)
    ll_bb, g_bb, H_bb = bb_row_derivs(theta[1:], n, k)
    zero = k == 0
    log_pi = jax.nn.log_sigmoid(t)
    log_1mpi = jax.nn.log_sigmoid(-t)
    ll = jnp.where(zero, jnp.logaddexp(log_pi, log_1mpi + ll_bb), log_1mpi + ll_bb)
    r = jnp.where(zero, jax.nn.sigmoid(t - ll_bb), 0.0)
    q = 1.0 - r
    rq = r * q
    W = jnp.sum(w)
    f = -jnp.sum(w * ll) / W
    g_t = jnp.sum(w * (r - pi)) / W
    g_phi = jnp.sum(w * q * g_bb, axis=-1) / W
    h_tt = jnp.sum(w * rq) / W - pi * (1.0 - pi)
    h_tphi = -jnp.sum(w * rq * g_bb, axis=-1) / W
    h_phiphi = (
        jnp.sum(w * q * H_bb, axis=-1) + jnp.sum(w * rq * g_bb[:, None, :] * g_bb[None, :, :], axis=-1)
    ) / W
    g = jnp.concatenate([g_t[None], g_phi])
    H = jnp.block([[h_tt[None, None], h_tphi[None, :]], [h_tphi[:, None], h_phiphi]])
    return f, -g, -H


@jax.jit
def _zi_core(theta0, n, k, w):
    return damped_newton(_zi_fgh, theta0, (n, k, w), max_iter=300, gtol=_GTOL, bound=_BOUND)


def fit_zero_inflated_beta_binomial(n, k=None) -> ZeroInflatedBetaBinomialFit:
    """Fit the "unbreakable mass" model p ~ pi delta_0 + (1 - pi) Beta(a, b) (docs/best_of_n.md#exact-asrn, docs/bayes.md#likelihoods).

    The per-item likelihood is log[pi 1{k_i = 0} + (1 - pi) BB(k_i; n_i, a, b)], evaluated with
    ``logaddexp``; parameters (logit pi, log a, log b) are fitted by damped Newton with the
    analytic gradient and Hessian (mixture responsibilities; see ``_zi_fgh``) from two starts
    (pi = 0.05 and 0.5, (a, b) from the plain fit).  If the score for pi at pi = 0 is <= 0 (no
    excess zeros) the MLE is pi = 0: the plain fit is returned with ``pi_at_boundary=True``.
    With such a mass, ASR@N -> 1 - pi as N -> inf (see :func:`asr_exact`).

    Returns
    -------
    ZeroInflatedBetaBinomialFit

    Examples
    --------
    >>> import scalefit; scalefit.enable_x64()
    >>> from scalefit.sampling import fit_zero_inflated_beta_binomial
    >>> fit = fit_zero_inflated_beta_binomial(20, [0] * 10 + [3, 5, 9, 12, 7, 2, 15, 4, 6, 1])
    >>> 0.3 < fit.pi < 0.6
    True
    """
    require_x64()
    n, k = validate_counts(n, k)
    n_items = int(n.shape[0])
    nan3 = np.full((3, 3), np.nan)
    log_binom_sum = float(np.sum(_log_binom(n, k)))
    if np.all(k == 0):
        return ZeroInflatedBetaBinomialFit(
            1.0, np.nan, np.nan, np.nan, np.nan, np.nan, nan3, 0.0, log_binom_sum, n_items,
            False, "all k_i = 0: every problem looks unbreakable (pi -> 1); use a Bayesian fit",
            pi_at_boundary=True,
        )
    base = fit_beta_binomial(n, k)
    n_u, k_u, w = count_histogram(n, k)
    nj, kj, wj = jnp.asarray(n_u, float), jnp.asarray(k_u, float), jnp.asarray(w)
    if np.isfinite(base.a) and np.isfinite(base.b) and not base.at_boundary:
        # Score for pi at pi = 0 with (a, b) at the plain MLE: sum_{k_i = 0} 1/P_BB(0) - K.
        # If it is <= 0 there are no excess zeros and pi_hat = 0 (boundary).
        ll0 = np.asarray(bb_loglik_rows(base.a, base.b, nj, jnp.zeros_like(kj)))
        zero_w = np.where(np.asarray(k_u) == 0, w, 0.0)
        score0 = float(np.sum(zero_w * np.exp(-ll0)) - n_items)
        if score0 <= 0.0:
            cov = nan3.copy()
            cov[1:, 1:] = base.cov
            return ZeroInflatedBetaBinomialFit(
                0.0, base.a, base.b, np.nan, base.se_a, base.se_b, cov, base.loglik,
                base.loglik_full, n_items, base.converged,
                "pi_hat = 0 (the score for pi at 0 is <= 0: no excess zeros); the plain "
                "Beta-Binomial fit applies",
                pi_at_boundary=True, iterations=base.iterations, grad_norm=base.grad_norm,
            )
    if base.all_successes:
        a0, b0 = 10.0, 0.1
    elif base.no_overdispersion or not (np.isfinite(base.a) and np.isfinite(base.b)):
        a0, b0 = base.mean * 100.0, (1.0 - base.mean) * 100.0
    else:
        a0, b0 = base.a, base.b
    best = None
    for pi0 in (0.05, 0.5):
        th0 = jnp.asarray([np.log(pi0 / (1 - pi0)), np.log(a0), np.log(b0)])
        th0 = jnp.clip(th0, -_BOUND + 1.0, _BOUND - 1.0)
        res = _zi_core(th0, nj, kj, wj)
        if best is None or (np.isfinite(float(res.f)) and float(res.f) < float(best.f)):
            best = res
    theta = np.asarray(best.theta)
    pi = float(jax.nn.sigmoid(theta[0]))
    a, b = float(np.exp(theta[1])), float(np.exp(theta[2]))
    pi_boundary = bool(theta[0] <= -_BOUND + 1e-6 or np.all(k > 0))
    cov = nan3.copy()
    if pi_boundary:
        sub = np.asarray(_natural_information(a, b, nj, kj, wj))
        try:
            cov[1:, 1:] = np.linalg.inv(sub)
        except np.linalg.LinAlgError:
            pass
    else:
        # Observed information on the natural scale (pi, a, b): the theta-scale Hessian of the
        # summed log-likelihood, minus the gradient terms of the chain rule, mapped through the
        # Jacobian d theta / d (pi, a, b) = diag(1/(pi (1 - pi)), 1/a, 1/b).
        _, g_th, H_th = _zi_fgh(jnp.asarray(theta), nj, kj, wj)
        g_th = np.asarray(g_th) * n_items
        H_th = np.asarray(H_th) * n_items
        # second derivatives of theta(nat): t = logit pi -> d2t/dpi2 = (2 pi - 1)/(pi(1-pi))^2,
        # log a -> -1/a^2, log b -> -1/b^2
        jac = np.array([1.0 / (pi * (1.0 - pi)), 1.0 / a, 1.0 / b])
        second = np.array([(2.0 * pi - 1.0) / (pi * (1.0 - pi)) ** 2, -1.0 / a**2, -1.0 / b**2])
        info = jac[:, None] * H_th * jac[None, :] + np.diag(g_th * second)
        try:
            cov = np.linalg.inv(info)
        except np.linalg.LinAlgError:
            pass
    diag = np.diag(cov)
    se = np.where(diag > 0, np.sqrt(np.abs(diag)), np.nan)
    loglik = -float(best.f) * n_items
    converged = bool(best.converged) or (pi_boundary and float(best.grad_norm) < 1e-6)
    hit = bool(np.any(np.abs(theta[1:]) >= _BOUNDARY_LOG))
    if hit:
        converged = False
        msg = "estimate ran to the parameter bound for a or b; use a MAP/Bayesian fit"
    elif pi_boundary:
        msg = "pi -> 0 (no excess zeros): the plain Beta-Binomial fit applies"
    elif converged:
        msg = f"converged in {int(best.iterations)} Newton iterations"
    else:
        msg = f"not converged (max |score| = {float(best.grad_norm):.3g})"
    return ZeroInflatedBetaBinomialFit(
        0.0 if pi_boundary else pi, a, b, float(se[0]), float(se[1]), float(se[2]), cov, loglik,
        loglik + log_binom_sum, n_items, converged, msg, pi_at_boundary=pi_boundary,
        iterations=int(best.iterations), grad_norm=float(best.grad_norm),
    )
