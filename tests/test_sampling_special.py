"""Accuracy of the special-function primitives behind ASR@N (METHODS.md §2.3, §5; T2.3).

Oracles: mpmath at 50 digits.  Every JAX special function the sampling code relies on is
checked here, and the ones that are not accurate enough are documented.
"""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import mpmath as mp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jax.scipy import special as jsp

from scalefit.sampling import (
    log_beta_fail,
    log_beta_fail_asymptotic,
    log_beta_ratio,
    log_gamma_ratio,
)
from scalefit.sampling._special import _log1pmx, _log_beta_fail_exact, digamma, trigamma

mp.mp.dps = 50

A_GRID = [1e-3, 0.05, 0.16, 0.4, 0.81, 1.0, 2.5, 5.0, 20.0]
B_GRID = [1e-3, 0.1, 0.44, 1.0, 4.0, 14.31, 100.0, 1e4, 1e6]
N_GRID = [0.5, 1.0, 2.5, 10.0, 1e3, 1e5, 1e6, 1e9, 1e12]


def _mp_log_fail(N, a, b):
    N, a, b = mp.mpf(N), mp.mpf(a), mp.mpf(b)
    return mp.loggamma(b + N) - mp.loggamma(b) + mp.loggamma(a + b) - mp.loggamma(a + b + N)


@pytest.fixture(scope="module")
def fail_grid():
    rows = list(itertools.product(A_GRID, B_GRID, N_GRID))
    ref = np.array([float(_mp_log_fail(N, a, b)) for a, b, N in rows])
    ref_asr = np.array([float(-mp.expm1(_mp_log_fail(N, a, b))) for a, b, N in rows])
    a = np.array([r[0] for r in rows])
    b = np.array([r[1] for r in rows])
    N = np.array([r[2] for r in rows])
    return a, b, N, ref, ref_asr


def test_T2_3_jax_gammaln_digamma_trigamma_accurate():
    """T2.3 prerequisite: JAX's gammaln, digamma and polygamma(1, .) agree with mpmath.

    (Measured: max relative error ~6e-14, 2e-14 and 7e-16 on 1e-6 .. 1e13.)
    """
    xs = np.concatenate([np.logspace(-6, 13, 120), [0.5, 1.5, 2.5, 12.0, 12.5, 15.9, 16.1]])
    g = np.asarray(jsp.gammaln(jnp.asarray(xs)))
    d = np.asarray(jsp.digamma(jnp.asarray(xs)))
    t = np.asarray(jsp.polygamma(1, jnp.asarray(xs)))
    for i, x in enumerate(xs):
        rg, rd, rt = mp.loggamma(x), mp.digamma(x), mp.polygamma(1, x)
        assert abs(g[i] - float(rg)) <= 1e-13 * max(1.0, abs(float(rg)))
        assert abs(d[i] - float(rd)) <= 1e-13 * max(1.0, abs(float(rd)))
        assert abs(t[i] - float(rt)) <= 1e-13 * abs(float(rt))


def test_T2_3_jax_betaln_is_not_used_and_log_gamma_ratio_is_accurate():
    """T2.3: jax.scipy.special.betaln was measured off by ~2e-7 near b = 12 (scipy ~1e-15).

    scalefit never calls it; its replacement (sums of :func:`log_gamma_ratio`) is exact to
    ~1e-15 at the same points.
    """
    for a, b in [(0.5, 12.0), (1.2, 12.3), (0.4, 4.0), (3.0, 1e6)]:
        ref = mp.log(mp.beta(a, b))
        # log B(a, b) = lgamma(a) - lgamma(a + b) + lgamma(b) = lgamma(a) - log_gamma_ratio(b, a)
        ours = float(jsp.gammaln(a)) - float(log_gamma_ratio(b, a))
        assert abs(ours - float(ref)) <= 2e-14 * max(1.0, abs(float(ref)))


def test_T2_3_private_digamma_trigamma_match_mpmath():
    """T2.3: the compact digamma/trigamma used in the Beta-Binomial score agree with mpmath."""
    xs = np.concatenate([np.logspace(-8, 13, 150), [1.4616321449683622, 0.5, 15.5, 16.0, 16.5]])
    d = np.asarray(digamma(xs))
    t = np.asarray(trigamma(xs))
    for i, x in enumerate(xs):
        rd, rt = float(mp.digamma(x)), float(mp.polygamma(1, x))
        assert abs(d[i] - rd) <= 5e-15 * max(1.0, abs(rd))
        assert abs(t[i] - rt) <= 5e-15 * abs(rt)


def test_T2_3_log1pmx_and_log_gamma_ratio_match_mpmath():
    """T2.3: log1p(u) - u and lgamma(x + h) - lgamma(x), incl. h << x and x ~ 1e12."""
    us = np.concatenate([-np.logspace(-12, -0.01, 40), np.logspace(-12, 1, 40)])
    l = np.asarray(_log1pmx(us))
    for i, u in enumerate(us):
        ref = float(mp.log1p(u) - u)
        assert abs(l[i] - ref) <= 2e-15 * abs(ref)
    xs = [1e-3, 0.3, 1.0, 3.7, 15.9, 16.0, 17.0, 1e3, 1e6, 1e12]
    hs = [1e-8, 1e-3, 0.4, 1.0, 10.0, 1e3, 1e9, 1e12]
    X, H = np.meshgrid(xs, hs)
    got = np.asarray(log_gamma_ratio(X.ravel(), H.ravel()))
    for x, h, v in zip(X.ravel(), H.ravel(), got):
        ref = float(mp.loggamma(mp.mpf(x) + h) - mp.loggamma(x))
        assert abs(v - ref) <= 1e-14 * abs(ref) + 2e-15, (x, h)
    # negative shifts: lgamma(x - h) - lgamma(x)
    assert float(log_gamma_ratio(5.0, -2.5)) == pytest.approx(
        float(mp.loggamma(2.5) - mp.loggamma(5)), rel=1e-14
    )


def test_T2_3_log_beta_fail_matches_mpmath_on_grid(fail_grid):
    """T2.3: ASR@N and log F exact to 1e-9 relative (measured ~5e-14) for N up to 1e12."""
    a, b, N, ref, ref_asr = fail_grid
    lf = np.asarray(log_beta_fail(N, a, b))
    assert np.all(np.abs(lf - ref) <= 1e-13 * np.abs(ref))
    asr = -np.expm1(lf)
    rel = np.abs(asr - ref_asr) / ref_asr
    assert rel.max() <= 1e-12, (a[rel.argmax()], b[rel.argmax()], N[rel.argmax()])


def test_T2_3_naive_lgamma_difference_fails_where_ours_does_not(fail_grid):
    """T2.3: the four-term gammaln difference is not good enough (documents why the exact form exists).

    The failure is intrinsic to float64, not to any library's gammaln: each term here is
    mpmath's log-gamma correctly rounded to float64 (the best any implementation can return),
    and the float64 sum of four terms of size ~1e7 still cancels to a number whose error
    (~1e-9 absolute) exceeds the quantity itself (ASR ~5e-10 at a = 1e-3, b = 1e6, N = 0.5).
    Measured: relative error 1.0 there, > 0.1 at five more grid points."""
    a, b, N, ref, ref_asr = fail_grid

    def lg(x):
        return float(mp.loggamma(mp.mpf(float(x))))

    naive = np.array([(lg(bi + Ni) - lg(bi)) + (lg(ai + bi) - lg(ai + bi + Ni)) for ai, bi, Ni in zip(a, b, N)])
    rel_naive = np.abs(-np.expm1(naive) - ref_asr) / ref_asr
    assert rel_naive.max() > 0.5
    # ours, on the same points, is exact to 1e-12 (test above): the contrast is the point
    ours = -np.expm1(np.asarray(log_beta_fail(N, a, b)))
    assert (np.abs(ours - ref_asr) / ref_asr).max() <= 1e-12


def test_T2_3_asymptotic_branch_agrees_with_exact_form():
    """T2.3: for N > 1e5 (1 + b) the §2.3 asymptotic series (used there) equals the exact form."""
    for a, b in [(0.4, 4.0), (0.16, 0.44), (5.0, 1.0), (0.01, 30.0)]:
        N = np.array([2e5, 1e6, 1e9, 1e12]) * (1 + b)
        exact = np.asarray(jax.jit(_log_beta_fail_exact)(N, a, b))
        asym = np.asarray(log_beta_fail_asymptotic(N, a, b, order=2))
        np.testing.assert_allclose(asym, exact, rtol=1e-14)


def test_T2_3_log_beta_ratio_and_closed_forms():
    """T2.3 closed-form sanity: Beta(1,1) => 1 - ASR@N = 1/(N+1); ratio B(a,b+N)/B(a,b+n)."""
    N = np.array([0.0, 1.0, 10.0, 100.0, 1e6, 1e12])
    np.testing.assert_allclose(np.exp(np.asarray(log_beta_fail(N, 1.0, 1.0))), 1.0 / (N + 1.0), rtol=1e-14)
    for a, b, n, NN in [(0.4, 4.0, 100.0, 1000.0), (0.085, 0.72, 20.0, 1e6)]:
        ref = mp.log(mp.beta(a, b + NN) / mp.beta(a, b + n))
        assert float(log_beta_ratio(a, b, n, NN)) == pytest.approx(float(ref), rel=1e-13)


def test_T2_3_special_functions_jit_vmap_grad():
    """T2.3: the primitives are jit/vmap-able, jit equals eager, and gradients are right."""
    a = jnp.array([0.4, 0.16, 1.0])
    b = jnp.array([4.0, 0.44, 1.0])
    N = jnp.array([1000.0, 1e7, 100.0])
    eager = np.asarray(log_beta_fail(N, a, b))
    vm = jax.jit(jax.vmap(log_beta_fail))(N, a, b)
    np.testing.assert_allclose(np.asarray(vm), eager, rtol=1e-15)
    # d/dN log F = psi(b + N) - psi(a + b + N); d/da by mpmath differentiation
    gN, ga = jax.jit(jax.grad(log_beta_fail, argnums=(0, 1)))(1000.0, 0.4, 4.0)
    ref = mp.digamma(4 + 1000) - mp.digamma(4.4 + 1000)
    assert float(gN) == pytest.approx(float(ref), rel=1e-9)
    ref_a = mp.diff(lambda aa: _mp_log_fail(1000, aa, 4), 0.4)
    assert float(ga) == pytest.approx(float(ref_a), rel=1e-9)


@settings(max_examples=60, deadline=None)
@given(
    a=st.floats(1e-3, 50.0),
    b=st.floats(1e-3, 1e4),
    n1=st.floats(0.0, 1e9),
    n2=st.floats(0.0, 1e9),
)
def test_T2_3_property_log_fail_decreasing_in_N_and_nonpositive(a, b, n1, n2):
    """T2.3 property: log F(N) <= 0 and is non-increasing in N (ASR monotone in N)."""
    lo, hi = min(n1, n2), max(n1, n2)
    f_lo, f_hi = np.asarray(log_beta_fail(jnp.array([lo, hi]), a, b))
    assert f_lo <= 0.0 and f_hi <= 0.0
    assert f_hi <= f_lo + 1e-15 * abs(f_lo)


def test_T2_3_shape_bucketing_avoids_recompiles_and_public_functions_trace(count_compiles):
    """T2.3 (compile hygiene): scalars and small arrays share one compiled bucket; the public
    curve functions also work inside a user's jit/grad (traced path)."""
    from scalefit.sampling import asr_exact

    log_beta_fail(10.0, 0.4, 4.0)
    with count_compiles() as cc:
        log_beta_fail(np.array([1.0, 2.0, 3.0]), 0.4, 4.0)
        log_beta_fail(np.ones((2, 3)), np.full((2, 3), 0.5), 2.0)
        log_beta_fail(7.5, 1.5, 0.3)
    # (JAX itself may compile tiny helpers, e.g. `jit(stage)`, for a new input shape: not counted)
    assert [m for m in cc.messages if "jit(log_beta_fail)" in m] == []
    g = jax.jit(jax.grad(lambda a: asr_exact(1000.0, a, 4.0)))(0.4)
    h = 1e-6
    fd = (float(asr_exact(1000.0, 0.4 + h, 4.0)) - float(asr_exact(1000.0, 0.4 - h, 4.0))) / (2 * h)
    assert float(g) == pytest.approx(fd, rel=1e-7)
