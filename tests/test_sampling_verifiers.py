"""Imperfect verifiers (Stroebl, Kapoor, Narayanan): METHODS.md §2.9, reference test T2.9."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scalefit.errors import ArgumentError
from scalefit.sampling import (
    empirical_verifier_ceiling,
    utility_optimal_budget,
    verifier_accuracy,
    verifier_accuracy_ceiling,
    verifier_expected_utility,
)


def brute_force_accuracy(K, r, fpr, c=1.0):
    """Oracle: sum over the attempt j at which the first acceptance happens."""
    q = (1 - c) * r + (1 - fpr) * (1 - r)
    return sum(q**j * c * r for j in range(K))


def test_T2_9_reference_values():
    """T2.9 (c = 1): ceilings and finite-K accuracies."""
    assert verifier_accuracy_ceiling(0.13, 0.25) == pytest.approx(0.374101, abs=1e-6)
    assert verifier_accuracy(np.inf, 0.13, 0.25) == pytest.approx(0.374101, abs=1e-6)
    assert verifier_accuracy(10, 0.13, 0.25) == pytest.approx(0.368867, abs=1e-6)
    assert verifier_accuracy(1, 0.13, 0.25) == pytest.approx(0.13, abs=1e-15)
    assert verifier_accuracy_ceiling(0.87, 0.25) == pytest.approx(0.963989, abs=1e-6)
    assert verifier_accuracy_ceiling(0.5, 0.1) == pytest.approx(0.909091, abs=1e-6)
    assert verifier_accuracy_ceiling(0.05, 0.05) == pytest.approx(0.512821, abs=1e-6)
    assert verifier_accuracy(10, 0.05, 0.05) == pytest.approx(0.328982, abs=1e-6)
    assert verifier_accuracy_ceiling([0.87, 0.13], 0.25, weights=[0.58, 0.42]) == pytest.approx(0.716236, abs=1e-6)
    # oracles
    for K in [1, 2, 10, 57]:
        for r, fpr, c in [(0.13, 0.25, 1.0), (0.05, 0.05, 0.9), (0.7, 0.0, 0.8)]:
            assert verifier_accuracy(K, r, fpr, completeness=c) == pytest.approx(
                brute_force_accuracy(K, r, fpr, c), rel=1e-12
            )


def test_T2_9_mixture_accuracy_and_vectorisation():
    """T2.9: mixtures average per-type accuracies; budgets broadcast as a column."""
    Ks = np.array([1, 5, 10, np.inf])[:, None]
    acc = verifier_accuracy(Ks, [0.87, 0.13], 0.25, weights=[0.58, 0.42])
    for i, K in enumerate([1, 5, 10, np.inf]):
        per = [verifier_accuracy(K, r, 0.25) for r in (0.87, 0.13)]
        assert acc[i] == pytest.approx(0.58 * per[0] + 0.42 * per[1], rel=1e-14)
    assert np.all(np.diff(acc) >= 0)
    per_problem = verifier_accuracy(3, np.array([0.1, 0.5]), 0.2)
    assert per_problem.shape == (2,)


def test_T2_9_expected_utility():
    """T2.9: U(K) equals a brute-force sum and peaks at a small K when false positives are costly."""
    r, fpr, v, w = np.array([0.9, 0.05]), 0.1, -2.0, np.array([0.5, 0.5])
    for K in [1, 3, 20]:
        brute = 0.0
        for rt, wt in zip(r, w):
            q = (1 - fpr) * (1 - rt)
            brute += wt * sum(q**j * (rt + v * (1 - rt) * fpr) for j in range(K))
        assert verifier_expected_utility(K, r, fpr, false_positive_cost=v, weights=w) == pytest.approx(brute, rel=1e-12)
    K_best, U_best = utility_optimal_budget(r, fpr, false_positive_cost=v, weights=w, max_k=200)
    assert 1 <= K_best < 10
    Ks = np.arange(1, 201)[:, None]
    U = verifier_expected_utility(Ks, r, fpr, false_positive_cost=v, weights=w)
    assert U_best == pytest.approx(U.max(), rel=1e-14) and U[-1] < U_best


def test_T2_9_empirical_ceiling_and_errors():
    """T2.9: empirical ceiling #(both)/#(verifier), 0 if none accepted; argument errors."""
    np.testing.assert_allclose(empirical_verifier_ceiling([10, 0, 4, 8], [7, 0, 4, 0]), [0.7, 0.0, 1.0, 0.0])
    with pytest.raises(ArgumentError, match=r"`n_accepted_correct` = 5 exceeds `n_accepted` = 4"):
        empirical_verifier_ceiling([4], [5])
    with pytest.raises(ArgumentError, match=r"`fpr` = 1.5 is not a probability"):
        verifier_accuracy(3, 0.5, 1.5)
    with pytest.raises(ArgumentError, match=r"`weights`"):
        verifier_accuracy_ceiling([0.5, 0.2], 0.1, weights=[1.0, -1.0])


@settings(max_examples=100, deadline=None)
@given(r=st.floats(0.0, 1.0), fpr=st.floats(0.0, 1.0), c=st.floats(0.0, 1.0), K=st.integers(1, 500))
def test_T2_9_property_accuracy_below_ceiling_and_increasing(r, fpr, c, K):
    """T2.9 property: Acc(K) <= Acc(K + 1) <= Acc(inf) <= 1."""
    a1 = verifier_accuracy(K, r, fpr, completeness=c)
    a2 = verifier_accuracy(K + 1, r, fpr, completeness=c)
    ceiling = verifier_accuracy_ceiling(r, fpr, completeness=c)
    assert 0.0 <= a1 <= a2 + 1e-15
    assert a2 <= ceiling + 1e-12 <= 1.0 + 2e-12
