"""Unbiased pass@k (Chen et al. 2021), METHODS.md §2.2, reference test T2.2."""

from __future__ import annotations

from fractions import Fraction
from math import comb

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scalefit.errors import ArgumentError
from scalefit.sampling import mean_pass_at_k, pass_at_k, pass_at_k_interval, pass_at_k_plugin

# (n, c, k, unbiased, plug-in) from METHODS.md T2.2
T2_2 = [
    (200, 10, 1, 0.05, 0.05),
    (200, 10, 10, 0.408547866081417, 0.401263060761621),
    (200, 10, 100, 0.999228973937282, 0.994079470779666),
    (200, 1, 100, 0.5, 0.394229563509272),
    (200, 0, 5, 0.0, 0.0),
    (10, 3, 5, 0.916666666666667, 0.83193),
    (5, 1, 5, 1.0, 0.67232),
    (100000, 3, 1000, 0.029701294034881, 0.029554903160593),
]


def exact_pass_at_k(n: int, c: int, k: int) -> Fraction:
    """Oracle: 1 - C(n - c, k) / C(n, k) in exact rational arithmetic."""
    return 1 - Fraction(comb(n - c, k), comb(n, k))


def exact_plugin(n: int, c: int, k: int) -> Fraction:
    return 1 - (1 - Fraction(c, n)) ** k


@pytest.mark.parametrize("n,c,k,unbiased,plugin", T2_2)
def test_T2_2_pass_at_k_table(n, c, k, unbiased, plugin):
    """T2.2: product form within 1e-12 absolute of exact rational arithmetic; table values."""
    exact = exact_pass_at_k(n, c, k)
    got = float(pass_at_k(n, c, k, method="product"))
    assert abs(Fraction(got) - exact) <= Fraction(1, 10**12)
    # The printed table (15 decimals, or 5 for two plug-in entries).
    assert got == pytest.approx(unbiased, abs=1e-14)
    got_plugin = float(pass_at_k_plugin(n, c, k))
    assert abs(Fraction(got_plugin) - exact_plugin(n, c, k)) <= Fraction(1, 10**13)
    # The table's plug-in for n = 1e5 (0.029554903160593) was evaluated as 1 - (1 - p)**k in
    # float64 and is 2.5e-14 off the exact 0.0295549031606179; hence 1e-12 against the table.
    assert got_plugin == pytest.approx(plugin, abs=6e-6 if len(repr(plugin)) < 10 else 1e-12)
    # auto and lgamma agree with the exact value too (lgamma is the cancellation-free form).
    assert abs(Fraction(float(pass_at_k(n, c, k))) - exact) <= Fraction(1, 10**12)
    assert abs(Fraction(float(pass_at_k(n, c, k, method="lgamma"))) - exact) <= Fraction(1, 10**12)


def test_T2_2_special_cases():
    """T2.2: c = 0 -> exactly 0; n - c < k -> exactly 1; k = 1 -> c/n."""
    assert pass_at_k(200, 0, 100) == 0.0
    assert pass_at_k(5, 1, 5) == 1.0
    assert pass_at_k(10, 10, 1) == 1.0
    np.testing.assert_allclose(pass_at_k(50, np.arange(51), 1), np.arange(51) / 50, atol=1e-15)


def test_T2_2_lgamma_form_large_n_against_exact_rationals():
    """T2.2: for n > 1e4 the (default) log-gamma form is exact to ~1e-14 (a raw lgamma difference
    loses ~2e-10 here)."""
    rng = np.random.default_rng(3)
    for _ in range(12):
        n = int(rng.integers(10_001, 300_000))
        c = int(rng.integers(1, 2000))
        k = int(rng.integers(1, min(5000, n - c)))
        exact = exact_pass_at_k(n, c, k)
        got = float(pass_at_k(n, c, k))  # auto -> lgamma
        assert abs(Fraction(got) - exact) <= Fraction(1, 10**13), (n, c, k)


def test_T2_2_broadcasting_and_mean():
    """T2.2: vectorised evaluation over problems and budgets equals per-element evaluation."""
    n = np.array([200, 200, 10, 5, 100])
    c = np.array([10, 1, 3, 1, 0])
    ks = np.array([1, 2, 5])
    table = pass_at_k(n[:, None], c[:, None], ks[None, :])
    for i in range(n.size):
        for j, k in enumerate(ks):
            assert table[i, j] == pytest.approx(float(exact_pass_at_k(n[i], c[i], k)), abs=1e-15)
    np.testing.assert_allclose(mean_pass_at_k(n, c, ks), table.mean(axis=0), rtol=0, atol=1e-16)
    assert isinstance(mean_pass_at_k(n, c, 2), float)


def test_T2_2_errors_name_argument_and_value():
    """T2.2: k > n points to extrapolation; bad counts name the argument and the value."""
    with pytest.raises(ArgumentError, match=r"`k` = 150 exceeds `n` = 100: pass@k is only defined for k <= n; use a Beta-Binomial"):
        pass_at_k(100, 3, 150)
    with pytest.raises(ArgumentError, match=r"`c` = 12 exceeds `n` = 10"):
        pass_at_k(10, 12, 1)
    with pytest.raises(ArgumentError, match=r"`c` = -1 is below"):
        pass_at_k(10, -1, 1)
    with pytest.raises(ArgumentError, match=r"`n` = 2.5 is not an integer"):
        pass_at_k(2.5, 1, 1)
    with pytest.raises(ArgumentError, match=r"`k` = 0 is below"):
        pass_at_k(10, 1, 0)
    with pytest.raises(ArgumentError, match=r"`method` = 'fast'"):
        pass_at_k(10, 1, 1, method="fast")
    for fn in (pass_at_k, mean_pass_at_k):
        with pytest.raises(ArgumentError):
            fn([10, 10], [1, 11], 2)
        # message is one line
    try:
        pass_at_k(100, 3, 150)
    except ArgumentError as err:
        assert "\n" not in str(err)


def test_T2_2_bootstrap_interval_seeded_and_covering():
    """T2.2: the item-bootstrap interval is reproducible for a seed and brackets the estimate."""
    rng = np.random.default_rng(0)
    p = rng.beta(0.4, 4.0, size=300)
    c = rng.binomial(50, p)
    iv1 = pass_at_k_interval(50, c, 10, seed=7, num_samples=500)
    iv2 = pass_at_k_interval(np.full(300, 50), c, 10, seed=7, num_samples=500)
    assert iv1 == iv2
    assert iv1.lower < iv1.estimate < iv1.upper
    assert iv1.estimate == pytest.approx(mean_pass_at_k(np.full(300, 50), c, 10), abs=1e-15)
    # The width is about 2 * 1.96 * SD / sqrt(K) of the per-item values.
    vals = pass_at_k(50, c, 10)
    se = vals.std(ddof=1) / np.sqrt(vals.size)
    assert (iv1.upper - iv1.lower) == pytest.approx(2 * 1.96 * se, rel=0.15)
    ivk = pass_at_k_interval(np.full(300, 50), c, [1, 10], seed=1, num_samples=200)
    assert ivk.estimate.shape == (2,) and np.all(ivk.lower <= ivk.upper)


@settings(max_examples=200, deadline=None)
@given(
    n=st.integers(1, 400),
    frac=st.floats(0.0, 1.0),
    k1=st.integers(1, 400),
    k2=st.integers(1, 400),
)
def test_T2_2_property_bounds_monotone_and_above_plugin(n, frac, k1, k2):
    """T2.2 properties: pass@k in [0, 1], non-decreasing in k, and >= the plug-in (pointwise,
    since (n-c-j)/(n-j) <= (n-c)/n)."""
    c = int(round(frac * n))
    k1, k2 = sorted((min(k1, n), min(k2, n)))
    v1, v2 = pass_at_k(n, c, [k1, k2])
    assert 0.0 <= v1 <= v2 <= 1.0
    assert v1 >= float(pass_at_k_plugin(n, c, k1)) - 1e-13
