"""Best-of-N / repeated-sampling curves: exact Beta ASR@N, SABER, and neg-log power laws.

See docs/best_of_n.md: #exact-asrn (exact curve and asymptotes), #saber-estimators and #budgets
(SABER estimators, budgets, interval, exact conditional estimator) and
#power-laws-fitted-to-rate-curves (Large Language Monkeys' exponentiated power law, Best-of-N
Jailbreaking's power law of -log ASR).

Notation: a, b are the Beta(a, b) shape parameters of the per-problem success probability
(alpha, beta in the papers); N is the attack/sampling budget; n (n_i) the observed attempts per
problem and k (k_i) their successes; pi an optional "unbreakable" point mass at p = 0.

The exact curve functions are JAX functions (jit/vmap/grad-able, float64 required); estimators
that consume observed counts return Python floats or NumPy arrays.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

import jax
import jax.numpy as jnp
import numpy as np
from scipy.stats import norm

from .._config import require_x64
from .._names import renamed_args
from ..errors import ArgumentError
from .._roots import bisect_jax
from ._common import Interval, short_value, as_counts, as_positive, as_probability, check_level, is_concrete
from ._special import log1mexp, log_beta_fail, log_beta_ratio, log_gamma_ratio

if TYPE_CHECKING:  # pragma: no cover
    from .betabinom import BetaBinomialFit

__all__ = [
    "asr_exact",
    "neg_log_asr_exact",
    "beta_fail_asymptotic",
    "asr_asymptotic",
    "asr_budget_exact",
    "observed_asr",
    "saber_plugin",
    "saber_plugin_interval",
    "saber_anchored",
    "saber_anchored_interval",
    "saber_budget_anchored",
    "saber_budget_plugin",
    "asr_conditional",
    "asr_naive",
    "NegLogPowerLaw",
    "saber_fit",
    "hughes_grid",
    "fit_bon_power_law",
    "coverage_power_law",
    "fit_coverage_power_law",
    "scaled_beta_failure",
    "scaled_beta_failure_asymptote",
    "SaberPrediction",
    "saber_predict",
]


# --------------------------------------------------------------------------------------------
# validation helpers (skipped under tracing)


def _check_ab(a, b):
    if is_concrete(a, b):
        as_positive("a", a)
        as_positive("b", b)


def _check_N(N, name="N"):
    if is_concrete(N):
        as_positive(name, N, allow_zero=True)


def _check_pi(pi):
    if is_concrete(pi):
        as_probability("unbreakable", pi, open_high=True)


# --------------------------------------------------------------------------------------------
# exact population curve (docs/best_of_n.md#exact-asrn)


def asr_exact(N, a, b, unbreakable=0.0):
    """Exact population ASR@N (= pass_D@N) under p ~ pi delta_0 + (1 - pi) Beta(a, b).

    ASR@N = (1 - pi) (1 - B(a, b + N)/B(a, b)) = -(1 - pi) expm1(log F(N)), with log F from the
    cancellation-free :func:`log_beta_fail` (relative accuracy ~1e-14 for N up to 1e12).

    Parameters
    ----------
    N : array_like
        Budget(s), N >= 0 (real N allowed).
    a, b : array_like
        Beta parameters (> 0).
    unbreakable : array_like, optional
        Point mass pi in [0, 1) of problems that never succeed (SABER App. B.1.2); ASR -> 1 - pi.

    Returns
    -------
    jax.Array

    Examples
    --------
    >>> import scalefit; scalefit.enable_x64()
    >>> from scalefit.sampling import asr_exact
    >>> round(float(asr_exact(1000, 0.4, 4.0)), 10)
    0.89356655
    """
    require_x64()
    _check_N(N)
    _check_ab(a, b)
    _check_pi(unbreakable)
    lf = log_beta_fail(N, a, b)
    return -(1.0 - jnp.asarray(unbreakable, dtype=float)) * jnp.expm1(lf)


def neg_log_asr_exact(N, a, b, unbreakable=0.0):
    """-log ASR@N, accurate also when ASR -> 1 (where it equals the failure rate to first order).

    Evaluated as -log1p(-pi) - log(1 - F(N)) with ``log1mexp`` on log F, never as -log(ASR).

    Examples
    --------
    >>> import scalefit; scalefit.enable_x64()
    >>> from scalefit.sampling import neg_log_asr_exact
    >>> round(float(neg_log_asr_exact(1000, 0.4, 4.0)), 10)
    0.1125344648
    """
    require_x64()
    _check_N(N)
    _check_ab(a, b)
    _check_pi(unbreakable)
    lf = log_beta_fail(N, a, b)
    return -jnp.log1p(-jnp.asarray(unbreakable, dtype=float)) - log1mexp(lf)


_CORRECTIONS = {"none": 0, "neff": 1, "second_order": 2}


def beta_fail_asymptotic(N, a, b, correction: str = "none"):
    """Asymptotic failure 1 - ASR@N of the Beta model (docs/best_of_n.md#exact-asrn).

    ``correction="none"``: Gamma(a+b)/Gamma(b) N^-a (SABER Thm 3.3, Eq. (8));
    ``"neff"``: N replaced by N_eff = N + b + (a - 1)/2 (SABER Eq. (56));
    ``"second_order"``: additionally the factor 1 + a(a^2 - 1)/(24 N_eff^2) (Field's expansion).

    Examples
    --------
    >>> import scalefit; scalefit.enable_x64()
    >>> from scalefit.sampling import beta_fail_asymptotic
    >>> round(float(beta_fail_asymptotic(1000, 0.4, 4.0)), 10)
    0.1065907985
    """
    require_x64()
    if correction not in _CORRECTIONS:
        raise ArgumentError(
            f"`correction` = {correction!r} is not one of {', '.join(map(repr, _CORRECTIONS))}"
        )
    _check_ab(a, b)
    if is_concrete(N):
        as_positive("N", N)
    from ._special import log_beta_fail_asymptotic

    return jnp.exp(log_beta_fail_asymptotic(N, a, b, order=_CORRECTIONS[correction]))


def asr_asymptotic(N, a, b, correction: str = "none"):
    """1 - :func:`beta_fail_asymptotic` (may be negative for small N with ``"none"``)."""
    return 1.0 - beta_fail_asymptotic(N, a, b, correction)


@jax.jit
def _budget_exact(target_logf, a, b):
    """Real N with log F(N) = target (bisection on log N, then two Newton polishes)."""

    lo, hi = bisect_jax(lambda u: log_beta_fail(jnp.exp(u), a, b) > target_logf,
                        jnp.full_like(target_logf, -700.0), jnp.full_like(target_logf, 700.0), iters=120)
    u = 0.5 * (lo + hi)

    def newton(u, _):
        g = jax.grad(lambda uu: log_beta_fail(jnp.exp(uu), a, b))
        val = log_beta_fail(jnp.exp(u), a, b) - target_logf
        d = g(u)
        step = jnp.where(jnp.isfinite(d) & (d < 0), val / d, 0.0)
        return jnp.clip(u - step, lo - (hi - lo), hi + (hi - lo)), None

    u, _ = jax.lax.scan(newton, u, None, length=2)
    return jnp.exp(u)


@renamed_args(tau="rate")
def asr_budget_exact(rate, a, b, unbreakable=0.0):
    """Exact budget: the real N with asr_exact(N, a, b, pi) = rate (numerical inverse).

    Returns 0 for rate = 0 and inf for rate >= 1 - pi (unreachable).  Round-trips to ~1e-13.
    (``tau`` is the deprecated name of ``rate``.)

    Examples
    --------
    >>> import scalefit; scalefit.enable_x64()
    >>> from scalefit.sampling import asr_budget_exact, asr_exact
    >>> N = asr_budget_exact(0.95, 0.4, 4.0)
    >>> round(float(asr_exact(N, 0.4, 4.0)), 12)
    0.95
    """
    require_x64()
    _check_ab(a, b)
    _check_pi(unbreakable)
    tau_np = as_probability("rate", rate)
    pi = np.asarray(unbreakable, dtype=float)
    ratio = tau_np / (1.0 - pi)
    reachable = ratio < 1.0
    target = np.log1p(-np.where(reachable, ratio, 0.5))
    a_, b_, t_ = jnp.broadcast_arrays(jnp.asarray(a, float), jnp.asarray(b, float), jnp.asarray(target))
    N = np.asarray(_budget_exact(t_, a_, b_))
    N = np.where(reachable, N, np.inf)
    N = np.where(tau_np == 0.0, 0.0, N)
    return N if N.ndim else float(N)


# --------------------------------------------------------------------------------------------
# SABER (docs/best_of_n.md#saber-estimators)


def observed_asr(k) -> float:
    """Fraction of problems with at least one success, mean(k_i > 0) (SABER's ASR@n).

    Examples
    --------
    >>> from scalefit.sampling import observed_asr
    >>> observed_asr([0, 3, 0, 1])
    0.5
    """
    k = np.atleast_1d(as_counts("k", k))
    if k.size == 0:
        raise ArgumentError("`k` is empty: at least one problem is needed")
    return float(np.mean(k > 0))


def _log_plugin_fail(N, a, b, small_n_correction):
    Ne = N + b + 0.5 * (a - 1.0) if small_n_correction else N
    return log_gamma_ratio(b, a) - a * jnp.log(Ne)


def saber_plugin(N, a, b, *, small_n_correction: bool = False):
    """SABER-Plugin (Eq. (11)): ASR@N = 1 - Gamma(a+b)/Gamma(b) N^-a.

    With ``small_n_correction=True`` N is replaced by N_eff = N + b + (a - 1)/2, which removes
    the O(1/N) error (SABER recommends it for N <= ~20; it is more accurate at every N).

    Examples
    --------
    >>> import scalefit; scalefit.enable_x64()
    >>> from scalefit.sampling import saber_plugin
    >>> round(float(saber_plugin(1000, 0.4, 4.0)), 9)
    0.893409202
    """
    require_x64()
    _check_ab(a, b)
    if is_concrete(N):
        as_positive("N", N)
    return -jnp.expm1(_log_plugin_fail(jnp.asarray(N, float), a, b, small_n_correction))


def saber_plugin_interval(N, a, b, cov, *, level: float = 0.95, small_n_correction: bool = False):
    """Delta-method interval for SABER-Plugin from the covariance of (a, b).

    The delta method is applied on the log failure scale (log F = log Gamma(a+b)/Gamma(b) -
    a log N_eff), so the interval maps back inside [.., 1]: ASR = 1 - exp(log F -/+ z sd).

    Returns
    -------
    Interval
        ``(estimate, lower, upper)`` as floats (scalar N) or arrays.

    Examples
    --------
    >>> import numpy as np, scalefit; scalefit.enable_x64()
    >>> from scalefit.sampling import saber_plugin_interval
    >>> est, lo, hi = saber_plugin_interval(1000, 0.4, 4.0, np.diag([0.02**2, 0.5**2]))
    >>> bool(lo < est < hi)
    True
    """
    require_x64()
    level = check_level(level)
    _check_ab(a, b)
    cov = np.asarray(cov, dtype=float)
    if cov.shape != (2, 2) or not np.all(np.isfinite(cov)):
        raise ArgumentError(f"`cov` must be a finite 2 x 2 covariance of (a, b); got shape {cov.shape}")
    z = float(norm.ppf(0.5 + level / 2.0))
    N = jnp.asarray(N, float)

    def logf(p, NN):
        return _log_plugin_fail(NN, p[0], p[1], small_n_correction)

    p = jnp.asarray([a, b], float)
    lf = jax.vmap(lambda NN: logf(p, NN))(jnp.atleast_1d(N))
    grads = jax.vmap(lambda NN: jax.grad(logf)(p, NN))(jnp.atleast_1d(N))
    sd = np.sqrt(np.einsum("ni,ij,nj->n", np.asarray(grads), cov, np.asarray(grads)))
    lf = np.asarray(lf)
    est = -np.expm1(lf)
    lo = -np.expm1(lf + z * sd)
    hi = -np.expm1(lf - z * sd)
    if np.ndim(N) == 0:
        return Interval(float(est[0]), float(lo[0]), float(hi[0]))
    return Interval(est, lo, hi)


_ANCHOR_CORRECTIONS = ("none", "beta", "reference")


def _anchored_log_fail(N, n, asr_at_n, a, b, correction):
    N = np.asarray(N, dtype=float)
    n = np.asarray(n, dtype=float)
    if correction == "none":
        shift = 0.0
    elif correction == "beta":
        if b is None:
            raise ArgumentError("`b` is required for `correction` = 'beta' (N_eff = N + b + (a-1)/2)")
        shift = np.asarray(b, float) + 0.5 * (np.asarray(a, float) - 1.0)
    elif correction == "reference":
        shift = 1.0 + 0.5 * (np.asarray(a, float) - 1.0)
    else:
        raise ArgumentError(
            f"`correction` = {correction!r} is not one of {', '.join(map(repr, _ANCHOR_CORRECTIONS))}"
        )
    with np.errstate(divide="ignore"):
        return np.log1p(-np.asarray(asr_at_n, float)) + np.asarray(a, float) * (
            np.log(n + shift) - np.log(N + shift)
        )


def saber_anchored(N, n, asr_at_n, a, *, b=None, correction: str = "none"):
    """SABER-Anchored (Eq. (12)): ASR@N = 1 - (1 - ASR@n) (n/N)^a.

    Parameters
    ----------
    N : array_like
        Target budget(s).
    n : float
        Observed budget per problem (for uneven budgets the SABER code uses mean(n_i); prefer
        :func:`asr_conditional`, which handles per-problem budgets exactly).
    asr_at_n : float
        Observed fraction of problems broken within n attempts (:func:`observed_asr`).
    a : float
        Fitted tail exponent.
    b : float, optional
        Fitted b, needed for ``correction="beta"``.
    correction : {"none", "beta", "reference"}
        Small-N correction applied to both n and N.  ``"beta"`` uses N_eff = N + b + (a - 1)/2
        as in the paper (Eq. (56)); ``"reference"`` reproduces the microsoft/saber code, which
        fixes b = 1 (N_eff = N + 1 + (a - 1)/2).  scalefit recommends ``"beta"`` when b is known;
        the default ``"none"`` is Eq. (12) as printed.

    Examples
    --------
    >>> from scalefit.sampling import saber_anchored
    >>> round(float(saber_anchored(1000, 100, 0.70, 0.4)), 6)
    0.880568
    """
    as_positive("a", a)
    as_positive("N", N)
    as_positive("n", n)
    as_probability("asr_at_n", asr_at_n)
    out = -np.expm1(_anchored_log_fail(N, n, asr_at_n, a, b, correction))
    return out if np.ndim(out) else float(out)


def saber_anchored_interval(
    N, n, asr_at_n, a, se_a, *, level: float = 0.95, b=None, correction: str = "none"
) -> Interval:
    """Wald interval a +/- z SE(a) mapped through SABER-Anchored (Eq. (14)).

    The anchored curve is increasing in a for N > n, so the lower ASR bound comes from
    a - z SE and the upper from a + z SE; the endpoints are sorted so that the result is also
    correct for N < n.  The lower exponent is floored at a tiny positive value.

    Examples
    --------
    >>> from scipy.stats import norm
    >>> from scalefit.sampling import saber_anchored_interval
    >>> iv = saber_anchored_interval(1000, 100, 0.70, 0.4, 0.05 / norm.ppf(0.975))
    >>> round(iv.lower, 6), round(iv.upper, 6)
    (0.865995, 0.893556)
    """
    level = check_level(level)
    as_positive("se_a", se_a, allow_zero=True)
    z = float(norm.ppf(0.5 + level / 2.0))
    est = saber_anchored(N, n, asr_at_n, a, b=b, correction=correction)
    a_lo = max(float(a) - z * float(se_a), 1e-12)
    a_hi = float(a) + z * float(se_a)
    e_lo = saber_anchored(N, n, asr_at_n, a_lo, b=b, correction=correction)
    e_hi = saber_anchored(N, n, asr_at_n, a_hi, b=b, correction=correction)
    lo, hi = np.minimum(e_lo, e_hi), np.maximum(e_lo, e_hi)
    if np.ndim(lo) == 0:
        return Interval(float(est), float(lo), float(hi))
    return Interval(est, lo, hi)


@renamed_args(tau="rate")
def saber_budget_anchored(rate, n, asr_at_n, a):
    """Anchored budget for a target ASR ``rate`` (Eq. (16)): N = n ((1 - ASR@n)/(1 - rate))^(1/a)
    (``tau`` is the deprecated name of ``rate``).

    Examples
    --------
    >>> from scalefit.sampling import saber_budget_anchored
    >>> round(saber_budget_anchored(0.95, 100, 0.7, 0.4), 3)
    8818.163
    """
    as_probability("rate", rate, open_high=True)
    as_probability("asr_at_n", asr_at_n, open_high=True)
    as_positive("n", n)
    as_positive("a", a)
    out = np.asarray(n, float) * np.exp(
        (np.log1p(-np.asarray(asr_at_n, float)) - np.log1p(-np.asarray(rate, float))) / np.asarray(a, float)
    )
    return out if np.ndim(out) else float(out)


@renamed_args(tau="rate")
def saber_budget_plugin(rate, a, b):
    """Plug-in budget (Eq. (16)): N = (Gamma(a+b) / ((1 - rate) Gamma(b)))^(1/a) (``tau`` is the
    deprecated name of ``rate``).

    Examples
    --------
    >>> import scalefit; scalefit.enable_x64()
    >>> from scalefit.sampling import saber_budget_plugin
    >>> round(saber_budget_plugin(0.95, 0.4, 4.0), 3)
    6635.51
    """
    require_x64()
    as_probability("rate", rate, open_high=True)
    _check_ab(a, b)
    lg = np.asarray(log_gamma_ratio(b, a))
    out = np.exp((lg - np.log1p(-np.asarray(rate, float))) / np.asarray(a, float))
    return out if np.ndim(out) else float(out)


def _validate_items(n, k):
    n = np.atleast_1d(as_counts("n", n, min_value=1))
    k = np.atleast_1d(as_counts("k", k))
    if n.size == 1 and k.size > 1:
        n = np.broadcast_to(n, k.shape)
    if n.shape != k.shape or k.ndim != 1:
        raise ArgumentError(
            f"`n` (shape {n.shape}) and `k` (shape {k.shape}) must be 1-D with one entry per problem"
        )
    if k.size == 0:
        raise ArgumentError("`k` is empty: at least one problem is needed")
    if (k > n).any():
        i = int(np.flatnonzero(k > n)[0])
        raise ArgumentError(f"`k` = {k[i]} exceeds `n` = {n[i]}: successes cannot outnumber attempts")
    return n, k


def asr_conditional(N, n, k, a, b):
    """Exact conditional ASR@N for the observed problems (docs/best_of_n.md#saber-estimators, docs/bayes.md#posterior-bands).

    Counting the n_i observed attempts as part of the budget (N >= n_i), a problem with k_i > 0
    is already broken and one with k_i = 0 has posterior Beta(a, b + n_i), so

        ASR@N | data = 1 - mean_i[1{k_i = 0} B(a, b + N) / B(a, b + n_i)].

    Per-problem budgets n_i are used as they are.  SABER-Anchored is its large-n approximation.

    Parameters
    ----------
    N : float or array_like
        Target budget(s), each >= max n_i.
    n, k : array_like of int
        Attempts and successes per problem.
    a, b : float
        Beta parameters (typically the Beta-Binomial MLE).

    Examples
    --------
    >>> import scalefit; scalefit.enable_x64()
    >>> from scalefit.sampling import asr_conditional
    >>> round(asr_conditional(99, [9, 9], [0, 4], 1.0, 1.0), 6)    # 1 - (1 * 0.1 + 0) / 2
    0.95
    """
    require_x64()
    n, k = _validate_items(n, k)
    as_positive("a", a)
    as_positive("b", b)
    N_arr = np.asarray(N, dtype=float)
    as_positive("N", N_arr)
    if (N_arr < n.max()).any():
        raise ArgumentError(
            f"`N` = {short_value(N_arr.min())} is below the largest observed budget max n_i = {n.max()}: "
            "the conditional estimator counts the observed attempts as part of the budget"
        )
    zero = k == 0
    if not zero.any():
        out = np.ones(N_arr.shape)
        return out if out.ndim else 1.0
    # Collapse the unbroken problems by their budget n_i.
    n_vals, counts = np.unique(n[zero], return_counts=True)
    lr = log_beta_ratio(a, b, jnp.asarray(n_vals, float)[:, None], jnp.asarray(N_arr.ravel())[None, :])
    surv = np.sum(counts[:, None] * np.exp(np.asarray(lr)), axis=0) / n.size
    out = 1.0 - surv.reshape(N_arr.shape)
    return out if out.ndim else float(out)


def asr_naive(N, n, k):
    """Naive per-query plug-in ASR@N = mean_i[1 - (1 - k_i/n_i)^N] (SABER Eq. (15), "baseline").

    Examples
    --------
    >>> from scalefit.sampling import asr_naive
    >>> asr_naive(1000, [20, 20], [0, 1])
    0.5
    """
    n, k = _validate_items(n, k)
    N_arr = np.asarray(N, dtype=float)
    as_positive("N", N_arr, allow_zero=True)
    p = (k / n)[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        vals = -np.expm1(N_arr.ravel()[None, :] * np.log1p(-p))
    vals = np.where(p >= 1.0, 1.0, vals)
    vals = np.where(p <= 0.0, 0.0, vals)
    out = vals.mean(axis=0).reshape(N_arr.shape)
    return out if out.ndim else float(out)


# --------------------------------------------------------------------------------------------
# neg-log power laws (SABER-Fit; docs/best_of_n.md#power-laws-fitted-to-rate-curves)


@dataclass(frozen=True)
class NegLogPowerLaw:
    """-log ASR@N = prefactor * N^(-exponent), i.e. ASR@N = exp(-prefactor N^-exponent).

    One family, two parameterisations: Best-of-N Jailbreaking / SABER write
    -log ASR = a N^-b (a = ``prefactor``, b = ``exponent``); Large Language Monkeys write
    log c(k) = a k^b with a < 0, b < 0 (:attr:`monkeys_params` = (-prefactor, -exponent)).
    For the Beta model the asymptotic values are exponent = alpha and prefactor =
    Gamma(alpha+beta)/Gamma(beta), but curve fits over a finite range estimate a local slope.
    """

    prefactor: float
    exponent: float
    method: str = ""
    n_points: int = 0

    def neg_log_asr(self, N):
        """-log ASR@N."""
        return self.prefactor * np.power(np.asarray(N, float), -self.exponent)

    def asr(self, N):
        """ASR@N = exp(-prefactor N^-exponent)."""
        return np.exp(-self.neg_log_asr(N))

    @property
    def monkeys_params(self) -> tuple[float, float]:
        """(a, b) of Brown et al.'s log c(k) = a k^b (both negative)."""
        return -self.prefactor, -self.exponent


def _loglog_ols(x, success, weights=None, what="ASR"):
    """OLS (optionally weighted) of log(-log success) on log x; returns (intercept, slope, n)."""
    x = np.asarray(x, dtype=float)
    s = np.asarray(success, dtype=float)
    if x.shape != s.shape or x.ndim != 1:
        raise ArgumentError(f"`N` and `{what}` must be 1-D arrays of equal length")
    with np.errstate(divide="ignore", invalid="ignore"):
        y = np.log(-np.log(s))
    ok = np.isfinite(y) & (x > 0)
    if (~ok).any():
        warnings.warn(
            f"dropped {int((~ok).sum())} point(s) with {what} <= 0 or >= 1 (log(-log) undefined)",
            RuntimeWarning,
            stacklevel=3,
        )
    if ok.sum() < 2:
        raise ArgumentError(f"need at least 2 points with 0 < {what} < 1 to fit; got {int(ok.sum())}")
    X = np.stack([np.ones(ok.sum()), np.log(x[ok])], axis=1)
    yy = y[ok]
    if weights is not None:
        w = np.asarray(weights, float)[ok]
        X, yy = X * w[:, None], yy * w
    coef, *_ = np.linalg.lstsq(X, yy, rcond=None)
    return float(coef[0]), float(coef[1]), int(ok.sum())


def hughes_grid(max_n: int = 8000) -> np.ndarray:
    """Best-of-N Jailbreaking's budget grid {1..10, 20..100, 200..1000, 2000..} up to ``max_n``.

    Examples
    --------
    >>> from scalefit.sampling import hughes_grid
    >>> hughes_grid(300).tolist()
    [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 200, 300]
    """
    if int(max_n) < 1:
        raise ArgumentError(f"`max_n` = {max_n} must be >= 1")
    out, step = [], 1
    while step <= max_n:
        start = step if step == 1 else 2 * step
        out.extend(range(start, min(10 * step, max_n) + 1, step))
        step *= 10
    return np.asarray(out, dtype=np.int64)


def fit_bon_power_law(N, asr, *, skip_first: int = 5, eps: float = 0.0) -> NegLogPowerLaw:
    """Best-of-N Jailbreaking fit of -log ASR@N = a N^-b (docs/best_of_n.md#power-laws-fitted-to-rate-curves).

    OLS of log(-log(ASR@N + eps)) on log N after dropping the first ``skip_first`` points
    (Hughes et al.'s "linear_log_spacing" default; their code uses ``eps = 1e-5`` to avoid
    log(0), which biases the fit slightly: pass ``eps=1e-5`` to reproduce it; the scalefit
    default 0 drops points with ASR = 0 or 1 with a warning instead).

    Examples
    --------
    >>> import numpy as np
    >>> from scalefit.sampling import fit_bon_power_law, hughes_grid
    >>> N = hughes_grid()
    >>> law = fit_bon_power_law(N, np.exp(-3.0 * N ** -0.3))
    >>> round(law.prefactor, 9), round(law.exponent, 9)
    (3.0, 0.3)
    """
    N = np.asarray(N, dtype=float)
    asr = np.asarray(asr, dtype=float)
    if N.shape != asr.shape:
        raise ArgumentError(f"`N` (shape {N.shape}) and `asr` (shape {asr.shape}) differ in shape")
    if skip_first < 0 or skip_first >= N.size - 1:
        raise ArgumentError(f"`skip_first` = {skip_first} leaves fewer than 2 of {N.size} points")
    ic, sl, m = _loglog_ols(N[skip_first:], asr[skip_first:] + eps)
    return NegLogPowerLaw(math.exp(ic), -sl, "bon_ols", m)


def saber_fit(n, k, *, m=None, num_points: int = 30, weighted: bool = True) -> NegLogPowerLaw:
    """SABER-Fit (Eq. (13)): fit -log ASR@m = a m^-b to Chen-estimated ASR@m, m <= min n_i.

    Default grid as in the reference code: m in {5, 5 + g, ...} below min n_i with
    g = max(1, (min n - 5) // num_points), least squares on log(-log ASR@m) vs log m with
    residual weights 1/m (``numpy.polyfit(..., w=1/m)``).  Theory gives b = alpha and
    a = Gamma(alpha+beta)/Gamma(beta) only asymptotically; the finite-range fit is biased
    (see the curve-fit bias check in docs/best_of_n.md#saber-estimators).

    Examples
    --------
    >>> from scalefit.sampling import saber_fit
    >>> law = saber_fit(100, [0, 1, 3, 0, 50, 7, 0, 2, 0, 12])
    >>> law.exponent > 0
    True
    """
    from .passk import mean_pass_at_k

    n, k = _validate_items(n, k)
    n_min = int(n.min())
    if m is None:
        if n_min <= 6:
            raise ArgumentError(f"`n` = {n_min}: SABER-Fit's default grid needs n > 6 attempts per problem")
        gap = max(1, (n_min - 5) // int(num_points))
        m = np.arange(5, n_min, gap)
    m = np.asarray(m, dtype=np.int64)
    if (m > n_min).any():
        raise ArgumentError(f"`m` = {int(m.max())} exceeds min n_i = {n_min}")
    asr_m = np.atleast_1d(mean_pass_at_k(n, k, m))
    w = 1.0 / m if weighted else None
    ic, sl, npts = _loglog_ols(m, asr_m, weights=w)
    return NegLogPowerLaw(math.exp(ic), -sl, "saber_fit", npts)


def coverage_power_law(k, a, b):
    """Large Language Monkeys' coverage law c(k) = exp(a k^b), a < 0, b < 0 (docs/best_of_n.md#power-laws-fitted-to-rate-curves).

    Examples
    --------
    >>> from scalefit.sampling import coverage_power_law
    >>> round(float(coverage_power_law(10, -2.0, -0.3)), 6)
    0.367007
    """
    return np.exp(np.asarray(a, float) * np.power(np.asarray(k, float), np.asarray(b, float)))


def fit_coverage_power_law(k, coverage) -> NegLogPowerLaw:
    """Fit log c(k) = a k^b (Brown et al. Eq. (3)) by OLS of log(-log c) on log k.

    Returns the shared :class:`NegLogPowerLaw`; ``.monkeys_params`` gives Brown et al.'s (a, b).
    Brown et al. fit 40 points evenly spaced in log k over [1, 10,000].

    Examples
    --------
    >>> import numpy as np
    >>> from scalefit.sampling import coverage_power_law, fit_coverage_power_law
    >>> k = np.unique(np.round(np.logspace(0, 4, 40)))
    >>> law = fit_coverage_power_law(k, coverage_power_law(k, -2.0, -0.3))
    >>> [round(v, 9) for v in law.monkeys_params]
    [-2.0, -0.3]
    """
    k = np.asarray(k, dtype=float)
    ic, sl, m = _loglog_ols(k, coverage, what="coverage")
    return NegLogPowerLaw(math.exp(ic), -sl, "monkeys_ols", m)


# --------------------------------------------------------------------------------------------
# scaled Beta tails (docs/best_of_n.md#exact-asrn, Schaeffer et al.)


def scaled_beta_failure(k, a, b, scale=1.0) -> float:
    """Failure E[(1 - p)^k] for p = scale * U, U ~ Beta(a, b) (support [0, scale]).

    Equals 2F1(-k, a; a + b; scale); computed by adaptive quadrature with the algebraic
    end-point weight u^(a-1)(1-u)^(b-1) (QUADPACK QAWS), relative accuracy ~1e-12.
    For scale = 1 it is B(a, b + k)/B(a, b).

    Examples
    --------
    >>> from scalefit.sampling import scaled_beta_failure
    >>> round(scaled_beta_failure(1e4, 0.3, 3.0, 0.5), 10)
    0.1042101198
    """
    from scipy.integrate import quad
    from scipy.special import betaln

    as_positive("a", a)
    as_positive("b", b)
    as_positive("k", k, allow_zero=True)
    c = float(as_probability("scale", scale, open_low=True))
    kf, af, bf = float(k), float(a), float(b)

    def f(u):
        return np.exp(kf * np.log1p(-c * u)) if c * u < 1.0 else 0.0

    val, _ = quad(f, 0.0, 1.0, weight="alg", wvar=(af - 1.0, bf - 1.0), limit=500,
                  epsabs=0.0, epsrel=1e-13)
    return float(val / math.exp(betaln(af, bf)))


def scaled_beta_failure_asymptote(k, a, b, scale=1.0):
    """Leading tail of :func:`scaled_beta_failure`: Gamma(a+b)/(Gamma(b) scale^a) k^-a.

    Examples
    --------
    >>> import scalefit; scalefit.enable_x64()
    >>> from scalefit.sampling import scaled_beta_failure_asymptote
    >>> round(float(scaled_beta_failure_asymptote(1e4, 0.5, 2.0)), 10)
    0.0132934039
    """
    require_x64()
    as_positive("a", a)
    as_positive("b", b)
    as_positive("k", k)
    c = np.asarray(as_probability("scale", scale, open_low=True))
    lg = np.asarray(log_gamma_ratio(b, a))
    return np.exp(lg - np.asarray(a, float) * (np.log(c) + np.log(np.asarray(k, float))))


# --------------------------------------------------------------------------------------------
# one-call SABER summary


@dataclass(frozen=True, eq=False)
class SaberPrediction:
    """All ASR@N estimators of docs/best_of_n.md#saber-estimators for one data set (see :func:`saber_predict`)."""

    N: np.ndarray
    fit: "BetaBinomialFit"
    asr_at_n: float
    n_anchor: float
    population: np.ndarray
    conditional: np.ndarray
    plugin: np.ndarray
    plugin_corrected: np.ndarray
    anchored: np.ndarray
    anchored_interval: Interval
    naive: np.ndarray
    level: float


def saber_predict(n, k, N, *, level: float = 0.95) -> SaberPrediction:
    """Fit the Beta-Binomial MLE to (n_i, k_i) and evaluate every ASR@N estimator.

    Returns the exact population curve, the exact conditional estimator (recommended default),
    SABER-Plugin (standard and N_eff-corrected), SABER-Anchored with its Wald interval (anchor
    n = mean n_i as in the reference code) and the naive per-query baseline.

    Examples
    --------
    >>> import scalefit; scalefit.enable_x64()
    >>> from scalefit.sampling import saber_predict
    >>> k = [0,0,0,0,0,0,1,0,2,0,0,5,0,1,0,0,12,0,3,0,0,0,7,0,0,1,0,20,0,0]
    >>> pred = saber_predict(20, k, [100, 1000])
    >>> [round(float(v), 4) for v in pred.conditional]
    [0.3889, 0.4973]
    """
    from .betabinom import fit_beta_binomial

    require_x64()
    level = check_level(level)
    n, k = _validate_items(n, k)
    fit = fit_beta_binomial(n, k)
    if fit.at_boundary:
        raise ArgumentError(
            f"the Beta-Binomial fit is on the boundary ({fit.message}); SABER estimators are "
            "undefined there"
        )
    N_arr = np.atleast_1d(np.asarray(N, float))
    asr_n = observed_asr(k)
    n_anchor = float(np.mean(n))
    return SaberPrediction(
        N=N_arr,
        fit=fit,
        asr_at_n=asr_n,
        n_anchor=n_anchor,
        population=np.asarray(asr_exact(N_arr, fit.a, fit.b)),
        conditional=np.atleast_1d(asr_conditional(N_arr, n, k, fit.a, fit.b)),
        plugin=np.asarray(saber_plugin(N_arr, fit.a, fit.b)),
        plugin_corrected=np.asarray(saber_plugin(N_arr, fit.a, fit.b, small_n_correction=True)),
        anchored=np.atleast_1d(saber_anchored(N_arr, n_anchor, asr_n, fit.a)),
        anchored_interval=saber_anchored_interval(N_arr, n_anchor, asr_n, fit.a, fit.se_a, level=level),
        naive=np.atleast_1d(asr_naive(N_arr, n, k)),
        level=level,
    )
