"""Numerically exact special-function primitives for repeated sampling (docs/best_of_n.md#exact-asrn).

Everything here is an elementwise JAX function (jit- and vmap-able, differentiable) that needs
float64.  The central object is the Beta failure curve

    F(N; a, b) = E[(1 - p)^N] = B(a, b + N) / B(a, b),      p ~ Beta(a, b),

whose logarithm is a *double* difference of log-gamma values,

    log F = lgamma(b + N) - lgamma(b) - lgamma(a + b + N) + lgamma(a + b).

Why not ``gammaln`` (or ``betaln``) directly
--------------------------------------------
``jax.scipy.special.betaln`` has ~2e-7 relative error near b = 12 (measured; scipy ~1e-15), so it
is never used.  ``jax.scipy.special.gammaln`` itself is accurate (<= 6e-14 relative, measured
against mpmath on 1e-6 .. 1e13), but the four-term difference loses everything the terms have in
common: at N = 1e12 each term is ~2.7e13, so the absolute error of log F is ~1e-2; and when ASR is
small (a or N small compared with b) log F is tiny while the terms are not, so the *relative* error
of ASR = -expm1(log F) explodes (a = 1e-3, b = 1e4, N = 1: ~1e-5 relative).

What we do instead
------------------
1. Shift the arguments above ``_X0 = 16`` with the recurrence Gamma(x + 1) = x Gamma(x), written
   so that every correction term is a ``log1p`` of a positive, exactly formed ratio::

       log F(N; a, b) = E(b + m) - sum_{j < m} log1p(a N / ((b + j)(b + j + N + a)))

   (the identity (p + a)(p + N) - p(p + N + a) = a N makes the term cancellation-free).
2. For y >= 16 evaluate E(y) = [lgamma(y+a) - lgamma(y)] - [lgamma(y+N+a) - lgamma(y+N)] from the
   Stirling series lgamma(z) = (z - 1/2) log z - z + log(2 pi)/2 + omega(z), rearranged as::

       E(y) = -a log1p(N / (y + a)) + f(y) - f(y + N) + omega-double-difference,
       f(y) = y (log1p(a/y) - a/y) - log1p(a/y) / 2,

   where ``log1p(u) - u`` is evaluated by an atanh series for small u.  Every piece is either the
   dominant term, computed with relative accuracy, or a small correction computed with absolute
   accuracy far below it; the result is accurate to a few ulps of log F for all N >= 0
   (checked against mpmath up to N = 1e12 in ``tests/test_sampling_special.py``).
3. For N > 1e5 (1 + b) ``log_beta_fail`` switches, as docs/best_of_n.md#exact-asrn prescribes, to the
   second-order asymptotic form lgamma(a+b) - lgamma(b) - a log w + log1p(a(a^2 - 1)/(24 w^2)),
   w = N + b + (a - 1)/2 (error O(w^-4)), with lgamma(a+b) - lgamma(b) from the accurate
   :func:`log_gamma_ratio`.  The exact form above agrees with it there to ~1e-15.
"""

from __future__ import annotations

import inspect
from functools import wraps

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import gammaln

__all__ = [
    "log_gamma_ratio",
    "log_beta_fail",
    "log_beta_fail_asymptotic",
    "log_beta_ratio",
    "beta_binomial_logpmf",
]

# Shift threshold for the Stirling series and the number of recurrence steps that reach it.
_X0 = 16.0
_NSHIFT = 16
# Stirling-series coefficients B_{2k} / (2k (2k - 1)), k = 1..7.  Truncation error at z >= 16 is
# below 3617/122400 * 16^-15 ~ 2.5e-20.
_OMEGA = (
    1.0 / 12.0,
    -1.0 / 360.0,
    1.0 / 1260.0,
    -1.0 / 1680.0,
    1.0 / 1188.0,
    -691.0 / 360360.0,
    1.0 / 156.0,
)
# Switch point of log_beta_fail's asymptotic branch (docs/best_of_n.md#exact-asrn).
_ASYMPTOTIC_FACTOR = 1e5


def log1mexp(x):
    """log(1 - exp(x)) for x <= 0 (JAX), accurate on both sides of -log 2 (log1p of -exp(x)
    below it, log of -expm1(x) above it)."""
    return jnp.where(x < -_LOG2, jnp.log1p(-jnp.exp(x)), jnp.log(-jnp.expm1(x)))


_LOG2 = 0.6931471805599453


def _next_bucket(size: int) -> int:
    return max(16, 1 << max(0, int(size - 1).bit_length()))


def _elementwise(static: tuple = ()):
    """Decorator for elementwise float64 primitives: jit with shape bucketing.

    Called with concrete inputs, the arguments are broadcast, flattened and padded (with 1.0,
    a valid value for every argument) to a power-of-two length >= 16, evaluated by one jitted
    program per bucket and reshaped back, so calls with scalars and small arrays of any shape
    share compiled code.  Called with tracers (inside a user's ``jit``, ``vmap`` or ``grad``)
    the plain function is traced in place.
    """

    def deco(fn):
        jitted = jax.jit(fn, static_argnames=static)

        sig = inspect.signature(fn)

        @wraps(fn)
        def wrapper(*args, **kwargs):
            bound = sig.bind(*args, **kwargs)
            bound.apply_defaults()
            kwargs = {name: bound.arguments.pop(name) for name in static}
            args = tuple(bound.arguments.values())
            if any(isinstance(a, jax.core.Tracer) for a in args):
                return fn(*args, **kwargs)
            arrs = [np.asarray(a, dtype=float) for a in args]
            shape = np.broadcast_shapes(*(a.shape for a in arrs))
            size = int(np.prod(shape))
            bucket = _next_bucket(size)
            flat = []
            for a in arrs:
                buf = np.ones(bucket)
                buf[:size] = np.broadcast_to(a, shape).ravel()
                flat.append(buf)
            out = np.asarray(jitted(*flat, **kwargs))[:size].reshape(shape)
            return jnp.asarray(out)

        wrapper.jitted = jitted
        return wrapper

    return deco


def _omega(z):
    """Stirling remainder lgamma(z) - [(z - 1/2) log z - z + log(2 pi)/2] for z >= 16."""
    r = 1.0 / z
    r2 = r * r
    acc = jnp.zeros_like(z) + _OMEGA[-1]
    for c in reversed(_OMEGA[:-1]):
        acc = acc * r2 + c
    return acc * r


def _omega_diff(y, h):
    """omega(y + h) - omega(y) for y >= 16, h >= 0, with relative (not absolute) accuracy.

    With r = 1/y, s = 1/(y + h): s^p - r^p = (s - r) S_p, S_p = sum_{i<p} s^i r^(p-1-i), and
    s - r = -h r s exactly, so every term is a product of positive numbers and nothing cancels
    when h << y (a plain difference would lose all digits of a tiny difference).
    """
    r = 1.0 / y
    s = 1.0 / (y + h)
    S = jnp.ones_like(r)  # S_1
    r_pow = jnp.ones_like(r)  # r^(p-1)
    acc = _OMEGA[0] * S
    for k in range(1, len(_OMEGA)):
        # advance p -> p + 2: S_{p+1} = s S_p + r^p, S_{p+2} = s S_{p+1} + r^(p+1)
        for _ in range(2):
            r_pow = r_pow * r
            S = s * S + r_pow
        acc = acc + _OMEGA[k] * S
    return -h * r * s * acc


def _log1pmx(u):
    """log1p(u) - u, accurate to a few ulps for u > -1 (atanh series for |u| < 0.2)."""
    u = jnp.asarray(u)
    small = jnp.abs(u) < 0.2
    us = jnp.where(small, u, 0.1)
    s = us / (2.0 + us)
    s2 = s * s
    # 2 (s^3/3 + s^5/5 + ... + s^21/21); |s| <= 0.112 so s^22 < 1e-20 relative to u^2.
    acc = jnp.zeros_like(s2)
    for k in range(21, 1, -2):
        acc = acc * s2 + 1.0 / k
    series = 2.0 * s * s2 * acc - us * us / (2.0 + us)
    direct = jnp.log1p(u) - u
    return jnp.where(small, series, direct)


def _shift_count(x):
    """Number m in [0, 16] of unit steps that bring x to >= 16."""
    return jnp.clip(jnp.ceil(_X0 - x), 0.0, float(_NSHIFT))


def _log_gamma_ratio_pos(x, h):
    """lgamma(x + h) - lgamma(x) for x > 0, h >= 0 (accurate; see module docstring)."""
    m = _shift_count(x)
    x, h = jnp.broadcast_arrays(x, h)

    def step(j, acc):
        on = j < m
        xj = jnp.where(on, x + j, 1.0)
        return acc + jnp.where(on, jnp.log1p(h / xj), 0.0)

    corr = jax.lax.fori_loop(0, _NSHIFT, step, jnp.zeros_like(x))
    y = x + m
    u = h / y
    stirling = h * jnp.log(y + h) + y * _log1pmx(u) - 0.5 * jnp.log1p(u) + _omega_diff(y, h)
    return stirling - corr


# Asymptotic-series coefficients for digamma (B_2k / 2k) and trigamma (B_2k), k = 1..7.
_PSI = (1.0 / 12.0, -1.0 / 120.0, 1.0 / 252.0, -1.0 / 240.0, 1.0 / 132.0, -691.0 / 32760.0,
        1.0 / 12.0)
_PSI1 = (1.0 / 6.0, -1.0 / 30.0, 1.0 / 42.0, -1.0 / 30.0, 5.0 / 66.0, -691.0 / 2730.0,
         7.0 / 6.0)


def _shifted_sum(x, m, term):
    """sum_{j < m} term(x + j) with a fixed-trip-count loop (m <= 16, elementwise)."""

    def step(j, acc):
        on = j < m
        xj = jnp.where(on, x + j, 1.0)
        return acc + jnp.where(on, term(xj), 0.0)

    return jax.lax.fori_loop(0, _NSHIFT, step, jnp.zeros_like(x))


@_elementwise()
def digamma(x):
    """Digamma psi(x) for x > 0: recurrence to x >= 16, then the asymptotic series.

    Compiles to a much smaller program than ``jax.scipy.special.digamma`` (which is accurate
    too); error <= ~1e-15 relative away from the root at 1.4616 (absolute there).
    """
    x = jnp.asarray(x, dtype=float)
    m = _shift_count(x)
    y = x + m
    r2 = 1.0 / (y * y)
    acc = jnp.zeros_like(y) + _PSI[-1]
    for c in reversed(_PSI[:-1]):
        acc = acc * r2 + c
    psi_y = jnp.log(y) - 0.5 / y - acc * r2
    return psi_y - _shifted_sum(x, m, lambda z: 1.0 / z)


@_elementwise()
def trigamma(x):
    """Trigamma psi_1(x) for x > 0 (recurrence to x >= 16, then the asymptotic series)."""
    x = jnp.asarray(x, dtype=float)
    m = _shift_count(x)
    y = x + m
    r = 1.0 / y
    r2 = r * r
    acc = jnp.zeros_like(y) + _PSI1[-1]
    for c in reversed(_PSI1[:-1]):
        acc = acc * r2 + c
    psi1_y = r + 0.5 * r2 + acc * r2 * r
    return psi1_y + _shifted_sum(x, m, lambda z: 1.0 / (z * z))


@_elementwise()
def log_gamma_ratio(x, h):
    """Accurate ``lgamma(x + h) - lgamma(x)``, elementwise.

    Parameters
    ----------
    x : array_like
        Positive base argument.
    h : array_like
        Shift with ``x + h > 0`` (may be negative).

    Returns
    -------
    jax.Array
        ``log(Gamma(x + h) / Gamma(x))`` with a relative error of a few ulps, also where the two
        log-gamma values are huge (x ~ 1e12) or nearly equal (h << x).

    Examples
    --------
    >>> import scalefit; scalefit.enable_x64()
    >>> from scalefit.sampling import log_gamma_ratio
    >>> round(float(log_gamma_ratio(4.0, 0.4)), 12)   # log(Gamma(4.4) / Gamma(4))
    0.524344022197
    """
    x = jnp.asarray(x, dtype=float)
    h = jnp.asarray(h, dtype=float)
    neg = h < 0
    # lgamma(x + h) - lgamma(x) = -(lgamma((x + h) + |h|) - lgamma(x + h)) for h < 0.
    base = jnp.where(neg, x + h, x)
    base = jnp.where(base > 0, base, 1.0)
    out = _log_gamma_ratio_pos(base, jnp.abs(h))
    return jnp.where(neg, -out, out)


def _log_beta_fail_exact(N, a, b):
    """Exact (Stirling double-difference) log B(a, b + N) / B(a, b) for N >= 0."""
    N, a, b = jnp.broadcast_arrays(N, a, b)
    m = _shift_count(b)

    def step(j, acc):
        on = j < m
        bj = jnp.where(on, b + j, 1.0)
        return acc + jnp.where(on, jnp.log1p(a * N / (bj * (bj + N + a))), 0.0)

    corr = jax.lax.fori_loop(0, _NSHIFT, step, jnp.zeros_like(b))
    y = b + m

    def f(z):
        return z * _log1pmx(a / z) - 0.5 * jnp.log1p(a / z)

    e = (
        -a * jnp.log1p(N / (y + a))
        + (f(y) - f(y + N))
        + (_omega_diff(y, a) - _omega_diff(y + N, a))
    )
    return e - corr


@_elementwise(static=("order",))
def log_beta_fail_asymptotic(N, a, b, order: int = 2):
    """Asymptotic log failure ``log[B(a, b + N) / B(a, b)]`` for large N (docs/best_of_n.md#exact-asrn).

    ``order=0``: leading term log[Gamma(a+b)/Gamma(b)] - a log N (SABER Thm 3.3).
    ``order=1``: SABER's small-N correction, N -> w = N + b + (a - 1)/2 (removes the O(1/N) term).
    ``order=2``: additionally the Field term log1p(a(a^2 - 1) / (24 w^2)); error O(w^-4).

    Parameters
    ----------
    N : array_like
        Number of attempts (> 0).
    a, b : array_like
        Beta shape parameters (> 0).
    order : {0, 1, 2}
        Expansion order.

    Returns
    -------
    jax.Array
        Approximation to log F(N).

    Examples
    --------
    >>> import numpy as np, scalefit; scalefit.enable_x64()
    >>> from scalefit.sampling import log_beta_fail_asymptotic
    >>> round(float(np.exp(log_beta_fail_asymptotic(1000.0, 0.4, 4.0, order=0))), 10)
    0.1065907985
    """
    N = jnp.asarray(N, dtype=float)
    a = jnp.asarray(a, dtype=float)
    b = jnp.asarray(b, dtype=float)
    pref = log_gamma_ratio(b, a)
    if order == 0:
        return pref - a * jnp.log(N)
    w = N + b + 0.5 * (a - 1.0)
    out = pref - a * jnp.log(w)
    if order == 1:
        return out
    if order == 2:
        return out + jnp.log1p(a * (a * a - 1.0) / (24.0 * w * w))
    raise ValueError(f"`order` = {order!r} is not one of 0, 1, 2")


@_elementwise()
def log_beta_fail(N, a, b):
    """Log of the Beta failure curve, ``log[B(a, b + N) / B(a, b)] = log E[(1 - p)^N]``.

    This is log(1 - ASR@N) for per-problem success probabilities p ~ Beta(a, b) (docs/best_of_n.md#exact-asrn).
    Accurate to a few ulps of the result for all N >= 0 (N need not be an integer), including
    N up to 1e12 and log F -> 0 (tiny ASR); see the module docstring for the method.  For
    N > 1e5 (1 + b) the O(w^-4) asymptotic series of docs/best_of_n.md#exact-asrn is used.

    Parameters
    ----------
    N : array_like
        Number of attempts, N >= 0.
    a, b : array_like
        Beta shape parameters, a > 0, b > 0.

    Returns
    -------
    jax.Array
        log F(N), broadcast over the inputs.

    Examples
    --------
    >>> import numpy as np, scalefit; scalefit.enable_x64()
    >>> from scalefit.sampling import log_beta_fail
    >>> float(np.exp(log_beta_fail(100.0, 1.0, 1.0)))     # Beta(1, 1): 1 / (N + 1)
    0.0099009900990099...
    """
    N = jnp.asarray(N, dtype=float)
    a = jnp.asarray(a, dtype=float)
    b = jnp.asarray(b, dtype=float)
    large = N > _ASYMPTOTIC_FACTOR * (1.0 + b)
    exact = _log_beta_fail_exact(jnp.where(large, 1.0, N), a, b)
    asym = log_beta_fail_asymptotic(jnp.where(large, N, 1e300), a, b, order=2)
    out = jnp.where(large, asym, exact)
    # F <= 1 for N >= 0: clamp rounding-level positive values (XLA may evaluate the two halves of
    # a vanishing difference differently) so that ASR is never negative.
    return jnp.where(N == 0, 0.0, jnp.minimum(out, 0.0))


@_elementwise()
def log_beta_ratio(a, b, n, N):
    """``log[B(a, b + N) / B(a, b + n)]`` for N >= n >= 0.

    The probability that a problem with no success in its first n attempts also fails the next
    N - n, given p ~ Beta(a, b) a priori (posterior Beta(a, b + n)); used by the exact conditional
    ASR estimator (docs/best_of_n.md#saber-estimators).

    Examples
    --------
    >>> import numpy as np, scalefit; scalefit.enable_x64()
    >>> from scalefit.sampling import log_beta_ratio
    >>> round(float(np.exp(log_beta_ratio(1.0, 1.0, 9.0, 99.0))), 14)   # (b + n)/(b + N), a = 1
    0.1
    """
    a = jnp.asarray(a, dtype=float)
    b = jnp.asarray(b, dtype=float)
    n = jnp.asarray(n, dtype=float)
    N = jnp.asarray(N, dtype=float)
    return log_beta_fail(N - n, a, b + n)


@_elementwise(static=("include_binomial",))
def beta_binomial_logpmf(k, n, a, b, include_binomial: bool = True):
    """Beta-Binomial log-pmf ``log C(n, k) + log B(k + a, n - k + b) - log B(a, b)``.

    Computed as D(a, k) + D(b, a) - D(b + n - k, a + k) with accurate log-gamma ratios
    D(x, h) = lgamma(x + h) - lgamma(x) (never ``betaln``).

    Examples
    --------
    >>> import scalefit; scalefit.enable_x64()
    >>> from scalefit.sampling import beta_binomial_logpmf
    >>> round(float(beta_binomial_logpmf(0, 1, 2.0, 3.0)), 12)    # log(b / (a + b))
    -0.510825623766
    """
    k = jnp.asarray(k, dtype=float)
    n = jnp.asarray(n, dtype=float)
    a = jnp.asarray(a, dtype=float)
    b = jnp.asarray(b, dtype=float)
    # D(a, k) + D(b, a) - D(b + n - k, a + k): no n log n sized terms cancel (see betabinom).
    out = log_gamma_ratio(a, k) + log_gamma_ratio(b, a) - log_gamma_ratio(b + n - k, a + k)
    if include_binomial:
        out = out + gammaln(n + 1.0) - gammaln(k + 1.0) - gammaln(n - k + 1.0)
    return out
