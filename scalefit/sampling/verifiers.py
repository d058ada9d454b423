"""Resampling with imperfect verifiers (Stroebl, Kapoor, Narayanan; docs/passuntil.md#imperfect-verifiers).

Per problem: r = P(sample correct), completeness c = P(accept | correct), soundness
s = P(reject | incorrect), false-positive rate FPR = 1 - s.  Samples are drawn until the
verifier accepts one, at most K times.  Per attempt, P(accept and correct) = c r,
P(accept and wrong) = (1 - r)(1 - s) and P(reject) = q = (1 - c) r + s (1 - r), so

    Acc(K) = c r (1 - q^K) / (1 - q),      Acc(inf) = c r / (c r + (1 - r)(1 - s)).

1 - q = c r + (1 - r)(1 - s) is formed directly (never as 1 - q) and q^K = exp(K log1p(-(1 - q)))
so the formulas stay accurate as q -> 1.
"""

from __future__ import annotations

import numpy as np

from ..errors import ArgumentError
from ._common import as_counts, as_probability

__all__ = [
    "verifier_accuracy",
    "verifier_accuracy_ceiling",
    "empirical_verifier_ceiling",
    "verifier_expected_utility",
    "utility_optimal_budget",
]


def _params(r, fpr, completeness):
    r = as_probability("r", r)
    fpr = as_probability("fpr", fpr)
    c = as_probability("completeness", completeness)
    return r, fpr, c


def _weights(weights, shape):
    if weights is None:
        return None
    w = np.asarray(weights, dtype=float)
    if w.shape != shape[-1:] and w.shape != shape:
        raise ArgumentError(f"`weights` has shape {w.shape}; expected {shape[-1:]} (one per type)")
    if (w < 0).any() or not np.isfinite(w).all() or w.sum() <= 0:
        raise ArgumentError("`weights` must be finite, non-negative and not all zero")
    return w / w.sum()


def _mix(values, weights):
    values = np.asarray(values, dtype=float)
    if weights is None:
        return values if values.ndim else float(values)
    out = np.tensordot(values, weights, axes=([-1], [0]))
    return out if np.ndim(out) else float(out)


def _finite_k_factor(K, one_minus_q):
    """(1 - q^K) / (1 - q) = sum_{j < K} q^j, with K = inf allowed (-> 1/(1 - q))."""
    K = np.asarray(K, dtype=float)
    omq = np.asarray(one_minus_q, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        geo = -np.expm1(K * np.log1p(-omq)) / np.where(omq > 0, omq, 1.0)
    fac = np.where(omq > 0, geo, K)
    return np.where(K == 0, 0.0, fac)


def verifier_accuracy(K, r, fpr, *, completeness=1.0, weights=None):
    """Expected accuracy after resampling until acceptance, at most K attempts.

    Parameters
    ----------
    K : int, float or array_like
        Attempt budget (``numpy.inf`` for the limit).  Broadcasts against the problem axis
        when given as shape (m, 1).
    r : float or array_like
        Per-problem (or per-type) probability that a sample is correct.
    fpr : float or array_like
        Verifier false-positive rate 1 - soundness.
    completeness : float or array_like
        P(accept | correct), default 1.
    weights : array_like, optional
        Mixture weights over the last axis of ``r`` (problem types); the result is the
        weighted mean.  Without weights per-problem values are returned.

    Examples
    --------
    >>> from scalefit.sampling import verifier_accuracy
    >>> round(verifier_accuracy(10, 0.13, 0.25), 6)
    0.368867
    """
    r, fpr, c = _params(r, fpr, completeness)
    K = np.asarray(K, dtype=float)
    if (K < 0).any() or np.isnan(K).any():
        raise ArgumentError(f"`K` = {K[(K < 0) | np.isnan(K)].flat[0]} must be >= 0")
    omq = c * r + (1.0 - r) * fpr
    fac = _finite_k_factor(K, omq)
    acc = c * r * fac
    acc = np.where((c * r) == 0, 0.0, acc)
    w = _weights(weights, np.shape(acc))
    return _mix(acc, w)


def verifier_accuracy_ceiling(r, fpr, *, completeness=1.0, weights=None):
    """Accuracy bound as K -> inf: c r / (c r + (1 - r) FPR) (per problem, or mixed).

    With ``weights`` it is the weighted mean over problem types of the per-type bound.

    Examples
    --------
    >>> from scalefit.sampling import verifier_accuracy_ceiling
    >>> round(verifier_accuracy_ceiling([0.87, 0.13], 0.25, weights=[0.58, 0.42]), 6)
    0.716236
    """
    r, fpr, c = _params(r, fpr, completeness)
    num = c * r
    den = c * r + (1.0 - r) * fpr
    with np.errstate(invalid="ignore", divide="ignore"):
        bound = np.where(den > 0, num / np.where(den > 0, den, 1.0), 0.0)
    w = _weights(weights, np.shape(bound))
    return _mix(bound, w)


def empirical_verifier_ceiling(n_accepted, n_accepted_correct):
    """Empirical per-problem ceiling #(accepted and correct) / #(accepted); 0 when none accepted.

    Stroebl et al.'s HumanEval setup: weak tests are the verifier, strong tests the truth.

    Examples
    --------
    >>> from scalefit.sampling import empirical_verifier_ceiling
    >>> empirical_verifier_ceiling([10, 0, 4], [7, 0, 4]).tolist()
    [0.7, 0.0, 1.0]
    """
    acc = as_counts("n_accepted", n_accepted)
    good = as_counts("n_accepted_correct", n_accepted_correct)
    acc, good = np.broadcast_arrays(acc, good)
    if (good > acc).any():
        i = int(np.flatnonzero((good > acc).ravel())[0])
        raise ArgumentError(
            f"`n_accepted_correct` = {good.flat[i]} exceeds `n_accepted` = {acc.flat[i]}"
        )
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(acc > 0, good / np.where(acc > 0, acc, 1), 0.0)
    return out


def verifier_expected_utility(K, r, fpr, *, false_positive_cost, completeness=1.0, weights=None):
    """Expected utility U(K) of resampling with payoff +1 (correct), V_fp (accepted wrong), 0 (abstain).

    U(K) = sum_t pi_t [c r_t + V_fp (1 - r_t)(1 - s)] (1 - q_t^K) / (1 - q_t)   (docs/passuntil.md#imperfect-verifiers).

    Parameters
    ----------
    K : int or array_like
        Budget(s); pass a column (m, 1) to evaluate several budgets against a vector of types.
    false_positive_cost : float
        V_fp < 0 (the payoff of an accepted wrong answer).

    Examples
    --------
    >>> import numpy as np
    >>> from scalefit.sampling import verifier_expected_utility
    >>> U = verifier_expected_utility(np.arange(1, 30)[:, None], [0.9, 0.05], 0.1,
    ...                               false_positive_cost=-2.0, weights=[0.5, 0.5])
    >>> int(np.argmax(U)) + 1 < 29
    True
    """
    r, fpr, c = _params(r, fpr, completeness)
    v = float(false_positive_cost)
    if not np.isfinite(v):
        raise ArgumentError(f"`false_positive_cost` = {false_positive_cost} must be finite")
    K = np.asarray(K, dtype=float)
    omq = c * r + (1.0 - r) * fpr
    fac = _finite_k_factor(K, omq)
    per = (c * r + v * (1.0 - r) * fpr) * fac
    w = _weights(weights, np.shape(per))
    return _mix(per, w)


def utility_optimal_budget(r, fpr, *, false_positive_cost, completeness=1.0, weights=None, max_k: int = 1000):
    """Budget K in 1..max_k that maximises :func:`verifier_expected_utility`; returns (K, U(K)).

    Examples
    --------
    >>> from scalefit.sampling import utility_optimal_budget
    >>> K, U = utility_optimal_budget([0.9, 0.05], 0.1, false_positive_cost=-2.0, weights=[0.5, 0.5])
    >>> 1 <= K < 1000
    True
    """
    Ks = np.arange(1, int(max_k) + 1, dtype=float)
    r_arr = np.asarray(r, dtype=float)
    Kcol = Ks.reshape((-1,) + (1,) * r_arr.ndim)
    U = np.asarray(verifier_expected_utility(Kcol, r, fpr, false_positive_cost=false_positive_cost,
                                             completeness=completeness, weights=weights))
    if U.ndim > 1:
        U = U.reshape(U.shape[0], -1).mean(axis=1) if weights is None else U
    i = int(np.argmax(U))
    return int(Ks[i]), float(U[i])
