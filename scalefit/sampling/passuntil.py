"""PassUntil (Hu et al., ICLR 2024): inverse-sampling estimates and the task scaling law.

See docs/passuntil.md.  For each test instance, decodings are drawn until r of them pass; K is the
number of draws.  Failures before the r-th pass are NegBin(r, P), so

* ``r / K`` is the MLE (paper-faithful) but biased upward: for r = 1, E[1/K]/P =
  -log P / (1 - P) (4.65 at P = 1e-2, 11.5 at P = 1e-5);
* ``(r - 1)/(K - 1)`` is the minimum-variance unbiased estimator for r >= 2 (scalefit's default);
* an exact interval follows from P(K <= k) = P(Bin(k, P) >= r):
  lower = BetaQuantile(alpha/2; r, K - r + 1), upper = BetaQuantile(1 - alpha/2; r, K - r);
* a run stopped at K_max with r' < r passes is censored: likelihood P^r' (1 - P)^(K_max - r'),
  one-sided upper bound BetaQuantile(1 - alpha; r' + 1, K_max - r').

Task law (docs/passuntil.md#task-law): PU(N) = exp(-c N^-alpha), i.e. F(N) = log(-log PU) = log c - alpha log N.
Both the inverse-sampling and the censored observations have the likelihood kernel
r log p + (K - r) log(1 - p), so the instance-level likelihood fit uses censored sizes as they
are; log p = -c N^-alpha and log(1 - p) = log(-expm1(-c N^-alpha)) are evaluated stably.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd
from scipy import stats
from scipy.special import betaincinv

from .._config import require_x64
from .._extrapolation import extrapolation_factor
from .._result import LEVEL, ResultProtocol
from ..errors import ArgumentError
from ._common import Interval, short_value, as_counts, as_positive, check_level
from ._optim import damped_newton

__all__ = [
    "PassUntilBiasWarning",
    "passuntil_estimate",
    "passuntil_interval",
    "passuntil_censored_upper",
    "passuntil_mle_bias",
    "passuntil_loglog",
    "task_law_log_pu",
    "task_law_pu",
    "task_law_loglog",
    "TaskLawFit",
    "fit_task_law",
    "InstanceLawFit",
    "fit_instance_laws",
    "CurvatureTest",
    "curvature_test",
]


class PassUntilBiasWarning(UserWarning):
    """r = 1 PassUntil estimates used on the log(-log) scale (biased upward by a factor 5-12)."""


# --------------------------------------------------------------------------------------------
# per-instance estimators (docs/passuntil.md#estimators)


def _validate_rk(r, K, censored=None):
    r = as_counts("r", r)
    K = as_counts("K", K, min_value=1)
    r, K = np.broadcast_arrays(r, K)
    if censored is None:
        cens = np.zeros(r.shape, dtype=bool)
        if (r < 1).any():
            raise ArgumentError(
                f"`r` = {short_value(r[r < 1].flat[0])}: a completed PassUntil run has r >= 1 passes; "
                "mark runs stopped at K_max with `censored`"
            )
    else:
        cens = np.broadcast_to(np.asarray(censored, dtype=bool), r.shape)
    if (r > K).any():
        i = np.flatnonzero((r > K).ravel())[0]
        raise ArgumentError(f"`r` = {r.flat[i]} exceeds `K` = {K.flat[i]}: passes cannot outnumber draws")
    return r, K, cens


def passuntil_estimate(r, K, *, censored=None, method: str = "auto"):
    """PassUntil point estimate of the per-sample pass probability.

    Parameters
    ----------
    r : array_like of int
        Passes observed (the target r for completed runs; r' < r for censored runs).
    K : array_like of int
        Draws made (K_max for censored runs).
    censored : array_like of bool, optional
        True where the run stopped at K_max before reaching r passes (estimate r'/K_max, the
        binomial MLE and MVUE).
    method : {"auto", "mvue", "mle"}
        ``"mle"``: r/K (the paper's PU, biased upward); ``"mvue"``: (r - 1)/(K - 1), unbiased,
        needs r >= 2; ``"auto"``: MVUE where r >= 2, MLE where r = 1.

    Examples
    --------
    >>> from scalefit.sampling import passuntil_estimate
    >>> float(passuntil_estimate(2, 1001)), float(passuntil_estimate(2, 1001, method="mle"))
    (0.001, 0.001998001998001998)
    """
    r, K, cens = _validate_rk(r, K, censored)
    rf, Kf = r.astype(float), K.astype(float)
    mle = rf / Kf
    if method == "mle":
        out = mle
    elif method in ("mvue", "auto"):
        if method == "mvue" and ((r < 2) & ~cens).any():
            raise ArgumentError(
                f"`r` = {short_value(r[(r < 2) & ~cens].flat[0])}: the MVUE (r-1)/(K-1) needs r >= 2; "
                "use method='mle' (biased) or collect r >= 2 passes"
            )
        with np.errstate(divide="ignore", invalid="ignore"):
            mvue = np.where(Kf > 1, (rf - 1.0) / (Kf - 1.0), 1.0)
        out = np.where(r >= 2, mvue, mle)
    else:
        raise ArgumentError(f"`method` = {method!r} is not one of 'auto', 'mvue', 'mle'")
    out = np.where(cens, mle, out)
    return out if out.ndim else float(out)


def passuntil_interval(r, K, *, level: float = 0.95) -> Interval:
    """Exact (Clopper-Pearson-type) interval for inverse sampling, with the default estimate.

    lower = BetaQuantile((1-level)/2; r, K - r + 1), upper = BetaQuantile((1+level)/2; r, K - r)
    (upper = 1 when K = r).  Coverage is at least ``level`` for every P (conservative).

    Examples
    --------
    >>> from scalefit.sampling import passuntil_interval
    >>> iv = passuntil_interval(2, 1000)
    >>> f"{iv.lower:.5e} {iv.upper:.5e}"
    '2.42301e-04 5.56448e-03'
    """
    level = check_level(level)
    r, K, _ = _validate_rk(r, K)
    tail = (1.0 - level) / 2.0
    rf, Kf = r.astype(float), K.astype(float)
    lower = betaincinv(rf, Kf - rf + 1.0, tail)
    with np.errstate(invalid="ignore"):
        upper = np.where(K > r, betaincinv(rf, np.maximum(Kf - rf, 1e-300), 1.0 - tail), 1.0)
    est = passuntil_estimate(r, K)
    if np.ndim(lower) == 0:
        return Interval(float(est), float(lower), float(upper))
    return Interval(np.asarray(est), lower, upper)


def passuntil_censored_upper(successes, draws, *, level: float = 0.95):
    """One-sided upper bound for P from a censored run: BetaQuantile(level; r' + 1, K_max - r').

    Examples
    --------
    >>> from scalefit.sampling import passuntil_censored_upper
    >>> f"{passuntil_censored_upper(0, 100_000):.5e}"     # = 1 - 0.05^(1/1e5)
    '2.99569e-05'
    """
    level = check_level(level)
    rp = as_counts("successes", successes)
    Km = as_counts("draws", draws, min_value=1)
    if (rp >= Km).any():
        raise ArgumentError(
            f"`successes` = {short_value(np.max(rp))} must be below `draws` = {short_value(np.min(Km))} for a censored run"
        )
    out = betaincinv(rp + 1.0, (Km - rp).astype(float), level)
    return out if np.ndim(out) else float(out)


def passuntil_mle_bias(p, r: int = 1):
    """Relative bias factor E[r/K] / P of the PassUntil MLE under inverse sampling.

    r = 1: -log P / (1 - P) (closed form).  r >= 2: E[r/K] = r P^r int_0^1 t^(r-1) (1 - (1-P) t)^-r dt
    (from the probability generating function of K), by quadrature.

    Examples
    --------
    >>> from scalefit.sampling import passuntil_mle_bias
    >>> round(passuntil_mle_bias(1e-3), 3)
    6.915
    """
    from scipy.integrate import quad

    P = float(np.asarray(p))
    if not 0.0 < P <= 1.0:
        raise ArgumentError(f"`p` = {short_value(P)} must lie in (0, 1]")
    r = int(r)
    if r < 1:
        raise ArgumentError(f"`r` = {r} must be >= 1")
    if P == 1.0:
        return 1.0
    q = 1.0 - P
    if r == 1:
        return float(-math.log(P) / q)

    # Substitute s = 1 - t to resolve the peak of width ~P at t = 1.
    def integrand(s):
        return math.exp((r - 1) * math.log1p(-s) - r * math.log(P + q * s) + r * math.log(P))

    pts = [min(x, 0.5) for x in (P, 10 * P, 100 * P)]
    val, _ = quad(integrand, 0.0, 1.0, points=pts, limit=200, epsabs=0.0, epsrel=1e-12)
    return float(r * val / P)


def passuntil_loglog(r, K, *, censored=None, method: str = "auto"):
    """F = log(-log PU) from PassUntil counts, warning when r = 1 estimates are used.

    Censored runs with zero passes give PU = 0 and F = +inf: never plug them in; drop them or
    use the likelihood fit (:func:`fit_instance_laws`).  r = 1 estimates are biased upward by a
    factor 5-12 for P in 1e-2 .. 1e-5, which shifts F; a :class:`PassUntilBiasWarning` is issued.

    Examples
    --------
    >>> import numpy as np
    >>> from scalefit.sampling import passuntil_loglog
    >>> round(float(passuntil_loglog(2, 1001)), 6) == round(float(np.log(-np.log(1e-3))), 6)
    True
    """
    r_arr, K_arr, cens = _validate_rk(r, K, censored)
    if ((r_arr == 1) & ~cens).any():
        warnings.warn(
            "PassUntil estimates with r = 1 on the log(-log) scale: r/K is biased upward by a "
            "factor -log P/(1-P) (4.7-11.5 for P = 1e-2..1e-5); collect r >= 2 passes and use the MVUE",
            PassUntilBiasWarning,
            stacklevel=2,
        )
    pu = np.asarray(passuntil_estimate(r_arr, K_arr, censored=cens, method=method), dtype=float)
    with np.errstate(divide="ignore"):
        out = np.log(-np.log(pu))
    return out if out.ndim else float(out)


# --------------------------------------------------------------------------------------------
# task law (docs/passuntil.md#task-law)


def task_law_log_pu(N, c, alpha):
    """log PU(N) = -c N^-alpha (the stable form of the PassUntil task law)."""
    return -np.asarray(c, float) * np.power(np.asarray(N, float), -np.asarray(alpha, float))


def task_law_pu(N, c, alpha):
    """PU(N) = exp(-c N^-alpha).

    Examples
    --------
    >>> from scalefit.sampling import task_law_pu
    >>> round(float(task_law_pu(1e8, 100.0, 0.5)), 9)
    0.990049834
    """
    return np.exp(task_law_log_pu(N, c, alpha))


def task_law_loglog(N, c, alpha):
    """F(N) = log(-log PU) = log c - alpha log N, computed directly (never through PU).

    Examples
    --------
    >>> from scalefit.sampling import task_law_loglog
    >>> round(float(task_law_loglog(1e8, 100.0, 0.5)), 9)
    -4.605170186
    """
    return np.log(np.asarray(c, float)) - np.asarray(alpha, float) * np.log(np.asarray(N, float))


@dataclass(frozen=True, eq=False, repr=False)
class TaskLawFit(ResultProtocol):
    """Dataset-level OLS fit F = log c - alpha log N (see :func:`fit_task_law`).

    Result protocol (docs/results.md): :meth:`predict` is the protocol DataFrame (``N``,
    ``estimate``, ``lower``, ``upper``, ``extrapolation``); :meth:`predict_values` returns the
    PU values alone (what ``predict`` returned in scalefit 0.1).  ``converged`` is True when the
    least-squares line is finite (it has a closed form).
    """

    log_c: float
    alpha: float
    cov: np.ndarray
    residual_sd: float
    n_used: int
    n_dropped: int
    log_n_mean: float
    #: largest fitted model size (NaN for fits made before it was kept)
    N_max: float = float("nan")

    JSON_WHAT = "task law file"

    @property
    def converged(self) -> bool:
        return bool(np.isfinite(self.log_c) and np.isfinite(self.alpha))

    @property
    def message(self) -> str:
        out = f"least squares on {self.n_used} sizes ({self.n_dropped} dropped)"
        if self.n_used < 3:
            out += "; no interval: fewer than 3 sizes"
        return out

    def _repr_text(self) -> str:
        return f"log(-log PU) = {self.log_c:.4g} - {self.alpha:.4g} log N: {self.n_used} sizes"

    def param_table(self, level: float = LEVEL) -> pd.DataFrame:
        """``log_c`` and ``alpha`` with Student-t intervals (n - 2 degrees of freedom; NaN with
        fewer than 3 sizes) and ``se``."""
        level = check_level(level)
        dof = self.n_used - 2
        t = stats.t.ppf(0.5 + level / 2.0, dof) if dof >= 1 else np.nan
        rows = []
        for j, (name, v) in enumerate((("log_c", self.log_c), ("alpha", self.alpha))):
            se = float(np.sqrt(self.cov[j, j]))
            rows.append({"parameter": name, "estimate": v, "lower": v - t * se, "upper": v + t * se, "se": se})
        return pd.DataFrame(rows)

    def predict(self, N, *, level: float = LEVEL) -> pd.DataFrame:
        """``N``, ``estimate`` (PU), ``lower``/``upper`` (:meth:`predict_interval` at ``level``;
        NaN with fewer than 3 sizes) and ``extrapolation`` (N over the largest fitted size).
        :meth:`predict_values` gives PU(N) alone, as an array."""
        N = np.atleast_1d(np.asarray(N, dtype=float))
        out = pd.DataFrame({"N": N, "estimate": self.predict_values(N)})
        if self.n_used >= 3:
            iv = self.predict_interval(N, level=level)
            out["lower"], out["upper"] = iv.lower, iv.upper
        else:
            out["lower"] = out["upper"] = np.nan
        out["extrapolation"] = extrapolation_factor({"N": [self.N_max]}, {"N": N})
        return out

    def _summary_text(self) -> str:
        tab = self.param_table()
        return "\n".join([f"PassUntil task law: log(-log PU) = log c - alpha log N, {self.message}",
                           tab.to_string(index=False, float_format=lambda v: f"{v:.6g}"),
                           f"residual SD {self.residual_sd:.4g} (log(-log PU) scale); c = {self.c:.6g}"])

    def to_dict(self) -> dict:
        return {"format": "scalefit.TaskLawFit", "log_c": self.log_c, "alpha": self.alpha,
                "cov": self.cov.tolist(), "residual_sd": self.residual_sd, "n_used": self.n_used,
                "n_dropped": self.n_dropped, "log_n_mean": self.log_n_mean, "N_max": self.N_max}

    @classmethod
    def from_dict(cls, d) -> "TaskLawFit":
        if not isinstance(d, dict) or d.get("format") != "scalefit.TaskLawFit":
            raise ArgumentError("not a saved scalefit task law (expected format 'scalefit.TaskLawFit')")
        nan = lambda v: float("nan") if v is None else float(v)  # noqa: E731
        return cls(float(d["log_c"]), float(d["alpha"]), np.asarray(
            [[nan(v) for v in row] for row in d["cov"]], dtype=float), nan(d["residual_sd"]), int(d["n_used"]),
            int(d["n_dropped"]), float(d["log_n_mean"]), nan(d.get("N_max")))

    @property
    def c(self) -> float:
        return math.exp(self.log_c)

    @property
    def se_alpha(self) -> float:
        return float(np.sqrt(self.cov[1, 1]))

    @property
    def se_log_c(self) -> float:
        return float(np.sqrt(self.cov[0, 0]))

    def predict_loglog(self, N):
        """F(N) = log c - alpha log N."""
        return self.log_c - self.alpha * np.log(np.asarray(N, float))

    def predict_table(self, N, *, level: float = LEVEL) -> pd.DataFrame:
        """Deprecated name of :meth:`predict` (same DataFrame)."""
        return self.predict(N, level=level)

    def predict_values(self, N):
        """PU(N) = exp(-exp(F(N))) (what ``predict`` returned in scalefit 0.1)."""
        return np.exp(-np.exp(self.predict_loglog(N)))

    def predict_interval(self, N, *, level: float = LEVEL) -> Interval:
        """OLS prediction interval for a new F at N (Student t, n - 2 df), mapped to PU.

        Larger F means smaller PU, so the PU bounds come from the opposite F bounds.
        """
        level = check_level(level)
        dof = self.n_used - 2
        if dof < 1:
            raise ArgumentError(f"a prediction interval needs at least 3 fitted sizes; got {self.n_used}")
        x = np.log(np.asarray(N, float))
        X = np.stack([np.ones_like(x), -x], axis=-1)
        # cov is for (log c, alpha) with design (1, -log N)
        var_mean = np.einsum("...i,ij,...j->...", X, self.cov, X)
        sd = np.sqrt(var_mean + self.residual_sd**2)
        t = stats.t.ppf(0.5 + level / 2.0, dof)
        F = self.predict_loglog(N)
        return Interval(np.exp(-np.exp(F)), np.exp(-np.exp(F + t * sd)), np.exp(-np.exp(F - t * sd)))


def fit_task_law(N, pu, *, censored=None) -> TaskLawFit:
    """Dataset-level PassUntil law: OLS of F = log(-log PU) on log N (docs/passuntil.md#task-law).

    Parameters
    ----------
    N : array_like
        Model sizes (one per task-level PU).
    pu : array_like
        Task-level PassUntil values (means of instance estimates) at each size.
    censored : array_like of bool, optional
        Sizes whose PU is censored (e.g. no instance passed within K_max).  Censored sizes, and
        any with PU <= 0 or PU >= 1, are dropped with a warning: never plug a zero into
        log(-log PU).  Use :func:`fit_instance_laws` for the censored likelihood.

    Examples
    --------
    >>> import numpy as np
    >>> from scalefit.sampling import fit_task_law, task_law_pu
    >>> N = np.array([1e7, 3e7, 1e8, 3e8, 1e9])
    >>> fit = fit_task_law(N, task_law_pu(N, 100.0, 0.25))
    >>> round(fit.c, 6), round(fit.alpha, 6)
    (100.0, 0.25)
    """
    N = np.asarray(N, dtype=float)
    pu = np.asarray(pu, dtype=float)
    if N.shape != pu.shape or N.ndim != 1:
        raise ArgumentError(f"`N` (shape {N.shape}) and `pu` (shape {pu.shape}) must be 1-D and equal")
    as_positive("N", N)
    drop = ~((pu > 0) & (pu < 1))
    if censored is not None:
        drop |= np.asarray(censored, dtype=bool)
    if drop.any():
        warnings.warn(
            f"dropped {int(drop.sum())} censored size(s) or size(s) with PU outside (0, 1) from the "
            "log(-log PU) regression",
            RuntimeWarning,
            stacklevel=2,
        )
    keep = ~drop
    if keep.sum() < 2:
        raise ArgumentError(f"need at least 2 uncensored sizes with 0 < PU < 1; got {int(keep.sum())}")
    x = np.log(N[keep])
    y = np.log(-np.log(pu[keep]))
    X = np.stack([np.ones_like(x), -x], axis=1)
    coef, *_ = np.linalg.lstsq(X, y, rcond=None)
    resid = y - X @ coef
    dof = max(int(keep.sum()) - 2, 0)
    s2 = float(resid @ resid / dof) if dof > 0 else float("nan")
    cov = s2 * np.linalg.inv(X.T @ X) if dof > 0 else np.full((2, 2), np.nan)
    return TaskLawFit(float(coef[0]), float(coef[1]), cov, math.sqrt(s2) if dof > 0 else float("nan"),
                      int(keep.sum()), int(drop.sum()), float(x.mean()), float(N[keep].max()))


# --------------------------------------------------------------------------------------------
# instance-level fits


def _nb_objective(theta, x, r, K, w):
    """Mean negative kernel log-likelihood sum w[r log p + (K - r) log(1 - p)], log p = -exp(u - alpha x)."""
    eta = jnp.clip(theta[0] - theta[1] * x, -700.0, 700.0)
    log_p = -jnp.exp(eta)
    # log(1 - p) = log(-expm1(log p)); for p -> 1 (eta << 0) it equals eta to rounding.
    log_1mp = jnp.where(eta > -30.0, jnp.log(-jnp.expm1(jnp.minimum(log_p, -1e-300))), eta)
    ll = jnp.where(r > 0, r * log_p, 0.0) + jnp.where(K > r, (K - r) * log_1mp, 0.0)
    return -jnp.sum(w * ll) / jnp.maximum(jnp.sum(w), 1.0)


def _nb_fgh(theta, x, r, K, w):
    f = _nb_objective(theta, x, r, K, w)
    g = jax.grad(_nb_objective)(theta, x, r, K, w)
    H = jax.hessian(_nb_objective)(theta, x, r, K, w)
    return f, g, H


_NB_BOUND = 60.0


@jax.jit
def _nb_fit_batch(theta0, x, r, K, w):
    def one(t0, xx, rr, KK, ww):
        return damped_newton(_nb_fgh, t0, (xx, rr, KK, ww), max_iter=200, gtol=1e-9, bound=_NB_BOUND)

    return jax.vmap(one)(theta0, x, r, K, w)


@dataclass(frozen=True, eq=False, repr=False)
class InstanceLawFit(ResultProtocol):
    """Per-instance PassUntil laws PU_s(N) = exp(-c_s N^-alpha_s) (see :func:`fit_instance_laws`).

    ``identified[s]`` is False for instances with fewer than two sizes with a pass (or whose fit
    did not converge); :meth:`instance_predictions` gives them ``unidentified_value``.

    Result protocol (docs/results.md): ``converged`` is one flag per instance (``message``
    counts them); :meth:`predict` returns the protocol DataFrame and :meth:`predict_values` the
    task-level PU alone (the 0.1 ``predict``); per-instance parameters carry no interval.
    """

    instances: np.ndarray
    log_c: np.ndarray
    alpha: np.ndarray
    identified: np.ndarray
    converged: np.ndarray
    method: str
    unidentified: str
    #: largest fitted model size (NaN for fits made before it was kept)
    N_max: float = float("nan")

    JSON_WHAT = "instance laws file"

    @property
    def message(self) -> str:
        return (f"{int(np.sum(self.identified))}/{len(self.instances)} instances identified "
                f"({self.method}; the others enter predictions as "
                f"{'PU = 0' if self.unidentified == 'zero' else 'dropped'})")

    def _repr_text(self) -> str:
        return f"{len(self.instances)} instances, {int(np.sum(self.identified))} identified, {self.method}"

    def param_table(self, level: float = LEVEL) -> pd.DataFrame:
        """``log_c[s]`` and ``alpha[s]`` per instance; ``lower``/``upper`` NaN (no per-instance
        interval; :meth:`predict` bootstraps over instances)."""
        check_level(level)
        rows = []
        for s_, lc, al, ok in zip(self.instances, self.log_c, self.alpha, self.identified):
            for name, v in (("log_c", lc), ("alpha", al)):
                rows.append({"parameter": f"{name}[{s_}]", "estimate": float(v), "lower": np.nan, "upper": np.nan,
                             "identified": bool(ok)})
        return pd.DataFrame(rows)

    def predict(self, N, *, level: float = LEVEL, num_samples: int = 2000, seed=0) -> pd.DataFrame:
        """``N``, ``estimate`` (task-level PU), ``lower``/``upper`` (:meth:`predict_interval`)
        and ``extrapolation`` (N over the largest fitted size).  :meth:`predict_values` gives
        the task-level PU alone."""
        N = np.atleast_1d(np.asarray(N, dtype=float))
        iv = self.predict_interval(N, level=level, num_samples=num_samples, seed=seed)
        out = pd.DataFrame({"N": N, "estimate": self.predict_values(N), "lower": iv.lower, "upper": iv.upper})
        out["extrapolation"] = extrapolation_factor({"N": [self.N_max]}, {"N": N})
        return out

    def _summary_text(self) -> str:
        return "\n".join([f"PassUntil instance laws: {self.message}",
                           self.param_table().drop(columns=["lower", "upper"]).to_string(
                               index=False, float_format=lambda v: f"{v:.6g}")])

    def to_dict(self) -> dict:
        return {"format": "scalefit.InstanceLawFit", "instances": self.instances.tolist(),
                "log_c": self.log_c.tolist(), "alpha": self.alpha.tolist(), "identified": self.identified.tolist(),
                "converged": self.converged.tolist(), "method": self.method, "unidentified": self.unidentified,
                "N_max": self.N_max}

    @classmethod
    def from_dict(cls, d) -> "InstanceLawFit":
        if not isinstance(d, dict) or d.get("format") != "scalefit.InstanceLawFit":
            raise ArgumentError("not saved scalefit instance laws (expected format 'scalefit.InstanceLawFit')")
        arr = lambda k: np.asarray([np.nan if v is None else v for v in d[k]], dtype=float)  # noqa: E731
        return cls(np.asarray(d["instances"]), arr("log_c"), arr("alpha"), np.asarray(d["identified"], bool),
                   np.asarray(d["converged"], bool), str(d["method"]), str(d["unidentified"]),
                   float("nan") if d.get("N_max") is None else float(d["N_max"]))

    def instance_predictions(self, N) -> np.ndarray:
        """PU_s(N) per instance, shape (instances,) + shape(N); nan for dropped instances."""
        N = np.asarray(N, dtype=float)
        logN = np.log(N)
        F = self.log_c.reshape((-1,) + (1,) * N.ndim) - self.alpha.reshape((-1,) + (1,) * N.ndim) * logN
        pu = np.exp(-np.exp(F))
        fill = 0.0 if self.unidentified == "zero" else np.nan
        return np.where(self.identified.reshape((-1,) + (1,) * N.ndim), pu, fill)

    def predict_table(self, N, *, level: float = LEVEL, num_samples: int = 2000, seed=0) -> pd.DataFrame:
        """Deprecated name of :meth:`predict` (same DataFrame)."""
        return self.predict(N, level=level, num_samples=num_samples, seed=seed)

    def predict_values(self, N):
        """Task-level prediction: mean over instances of PU_s(N) (a float for a scalar ``N``;
        what ``predict`` returned in scalefit 0.1)."""
        out = np.nanmean(self.instance_predictions(N), axis=0)
        return out if np.ndim(out) else float(out)

    def predict_interval(self, N, *, level: float = LEVEL, num_samples: int = 2000, seed=0) -> Interval:
        """Percentile bootstrap over instances (the per-instance fits are independent, so
        resampling their predictions equals refitting on resampled instances)."""
        level = check_level(level)
        preds = self.instance_predictions(N)
        preds = preds[~np.isnan(preds.reshape(preds.shape[0], -1)).any(axis=1)]
        m = preds.shape[0]
        if m == 0:
            raise ArgumentError("no identified instances to predict from")
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        idx = rng.integers(0, m, size=(int(num_samples), m))
        reps = preds[idx].mean(axis=1)
        tail = (1.0 - level) / 2.0
        lo = np.quantile(reps, tail, axis=0)
        hi = np.quantile(reps, 1.0 - tail, axis=0)
        est = preds.mean(axis=0)
        if np.ndim(est) == 0:
            return Interval(float(est), float(lo), float(hi))
        return Interval(est, lo, hi)


def fit_instance_laws(
    N, r, K, instance, *, censored=None, method: str = "likelihood", unidentified: str = "zero"
) -> InstanceLawFit:
    """Instance-level PassUntil laws (Hu et al.'s improvement; docs/passuntil.md#task-law).

    Parameters
    ----------
    N : array_like
        Model size of each observation.
    r, K : array_like of int
        Passes and draws of each observation (inverse sampling; censored runs: r' < r passes in
        K_max draws).
    instance : array_like
        Instance id of each observation.
    censored : array_like of bool, optional
        Censored observations (only used by ``method="ols"``, which drops them; the likelihood
        uses them as they are).
    method : {"likelihood", "ols"}
        ``"likelihood"`` (default): maximise sum[r log p + (K - r) log(1 - p)] with
        log p = -c N^-alpha per instance (damped Newton, all instances in one vmapped program;
        log N centred per instance).  ``"ols"``: OLS of log(-log PU_hat) on log N using the
        default (MVUE for r >= 2) estimates, dropping censored and PU = 0 or 1 points.
    unidentified : {"zero", "drop"}
        How instances with fewer than two sizes with a pass enter predictions: as PU = 0
        (default; e.g. never solved within K_max) or excluded.

    Returns
    -------
    InstanceLawFit

    Examples
    --------
    >>> import numpy as np, scalefit; scalefit.enable_x64()
    >>> from scalefit.sampling import fit_instance_laws
    >>> N = np.repeat([1e8, 1e9, 1e10], 2); inst = np.tile([0, 1], 3)
    >>> fit = fit_instance_laws(N, [2] * 6, [4000, 900, 600, 150, 90, 30], inst)
    >>> bool(fit.identified.all())
    True
    """
    require_x64()
    if method not in ("likelihood", "ols"):
        raise ArgumentError(f"`method` = {method!r} is not one of 'likelihood', 'ols'")
    if unidentified not in ("zero", "drop"):
        raise ArgumentError(f"`unidentified` = {unidentified!r} is not one of 'zero', 'drop'")
    N = np.asarray(N, dtype=float)
    as_positive("N", N)
    r_arr = as_counts("r", r)
    K_arr = as_counts("K", K, min_value=1)
    inst = np.asarray(instance)
    if not (N.shape == r_arr.shape == K_arr.shape == inst.shape) or N.ndim != 1:
        raise ArgumentError("`N`, `r`, `K` and `instance` must be 1-D arrays of equal length")
    if (r_arr > K_arr).any():
        i = int(np.flatnonzero(r_arr > K_arr)[0])
        raise ArgumentError(f"`r` = {r_arr[i]} exceeds `K` = {K_arr[i]}")
    cens = np.zeros(N.shape, bool) if censored is None else np.asarray(censored, bool)
    ids, inv = np.unique(inst, return_inverse=True)
    S = ids.size
    counts = np.bincount(inv, minlength=S)
    L = int(counts.max())
    pos = np.zeros(N.shape, dtype=np.int64)
    order = np.argsort(inv, kind="stable")
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    pos[order] = np.arange(N.size) - np.repeat(starts, counts)
    logN = np.log(N)

    def pad(v, fill=0.0):
        out = np.full((S, L), fill, dtype=float)
        out[inv, pos] = v
        return out

    xP, rP, KP = pad(logN), pad(r_arr.astype(float)), pad(K_arr.astype(float), 1.0)
    wP = pad(np.ones(N.size))
    # number of distinct sizes with at least one pass, per instance
    pos_rows = r_arr > 0
    pairs = np.unique(np.stack([inv[pos_rows], logN[pos_rows]], axis=1), axis=0)
    n_pos = np.bincount(pairs[:, 0].astype(np.int64), minlength=S) if pairs.size else np.zeros(S, int)
    identified = n_pos >= 2
    xbar = np.where(wP.sum(1) > 0, (xP * wP).sum(1) / np.maximum(wP.sum(1), 1), 0.0)
    xc = (xP - xbar[:, None]) * wP

    # Per-instance OLS on the observed log(-log PU_hat) (vectorised over instances) gives the
    # start point, and is the answer for method="ols".
    use = (r_arr > 0) & ~cens if method == "ols" else r_arr > 0
    pu_hat = np.asarray(passuntil_estimate(np.maximum(r_arr, 1), K_arr, method="auto"), dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        F_rows = np.where(use, np.log(-np.log(pu_hat)), np.nan)
    F_obs = pad(F_rows, np.nan)
    okF = np.isfinite(F_obs) & (wP > 0)
    cnt = okF.sum(1)
    Fz = np.where(okF, F_obs, 0.0)
    xz = np.where(okF, xc, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        xm = xz.sum(1) / np.maximum(cnt, 1)
        ym = Fz.sum(1) / np.maximum(cnt, 1)
        sxx = np.sum(np.where(okF, (xc - xm[:, None]) ** 2, 0.0), axis=1)
        sxy = np.sum(np.where(okF, (xc - xm[:, None]) * (F_obs - ym[:, None]), 0.0), axis=1)
        slope = np.where(sxx > 0, sxy / np.where(sxx > 0, sxx, 1.0), -0.5)
    has_line = (cnt >= 2) & (sxx > 0)
    al0 = np.where(has_line, -slope, 0.5)
    u0 = np.where(has_line, ym - slope * xm, np.where(cnt >= 1, ym, 0.0))
    converged = np.ones(S, bool)
    if method == "ols":
        u, al = u0, al0
        identified = identified & has_line
    else:
        theta0 = jnp.asarray(np.stack([u0, al0], axis=1))
        res = _nb_fit_batch(theta0, jnp.asarray(xc), jnp.asarray(rP), jnp.asarray(KP), jnp.asarray(wP))
        th = np.asarray(res.theta)
        u, al = th[:, 0], th[:, 1]
        converged = np.asarray(res.converged) & (np.abs(th).max(1) < _NB_BOUND - 1e-6)
        identified = identified & converged
    log_c = u + al * xbar
    n_unid = int((~identified).sum())
    if n_unid:
        warnings.warn(
            f"{n_unid} of {S} instance(s) are not identified (fewer than two sizes with a pass, or "
            f"no convergence); they enter predictions as {'PU = 0' if unidentified == 'zero' else 'dropped'}",
            RuntimeWarning,
            stacklevel=2,
        )
    return InstanceLawFit(ids, log_c, al, identified, converged, method, unidentified, float(N.max()))


# --------------------------------------------------------------------------------------------
# curvature test (docs/passuntil.md#curvature-test)


@dataclass(frozen=True, eq=False)
class CurvatureTest:
    """Quadratic coefficient of F on (1, log N, (log N)^2) with a bootstrap interval.

    ``verdict`` is "concave" (accelerated emergence, super-scaling) when the whole interval is
    below 0, "convex" (sub-scaling) when above 0, else "linear" (consistent with the law).
    """

    quadratic: float
    lower: float
    upper: float
    level: float
    verdict: str
    coefficients: np.ndarray
    num_samples: int
    cluster_bootstrap: bool


def _wls_batch(X, y, W):
    """Weighted least squares for a batch of row-weight vectors W (B, n); returns (B, p)."""
    XtW = np.einsum("bn,ni->bin", W, X)
    A = XtW @ X
    rhs = XtW @ y
    out = np.full((W.shape[0], X.shape[1]), np.nan)
    ok = np.linalg.cond(A) < 1e12
    if ok.any():
        out[ok] = np.linalg.solve(A[ok], rhs[ok][..., None])[..., 0]
    return out


def curvature_test(N, F, *, instance=None, level: float = 0.95, num_samples: int = 2000, seed=0) -> CurvatureTest:
    """Accelerated-emergence test: OLS of F on (1, x, x^2), x = log N centred, bootstrap CI.

    Parameters
    ----------
    N, F : array_like
        Model size and F = log(-log PU) per row (rows may be instance-level).
    instance : array_like, optional
        Cluster ids: when given, whole instances are resampled (cluster bootstrap); otherwise rows.
    level, num_samples, seed
        Percentile-interval level, replicates and seed (``numpy.random.default_rng``).

    Examples
    --------
    >>> import numpy as np
    >>> from scalefit.sampling import curvature_test
    >>> N = np.logspace(7, 10, 12); x = np.log(N)
    >>> res = curvature_test(N, 3.0 - 0.4 * x - 0.05 * (x - x.mean()) ** 2 + 0.01 * np.sin(7 * x))
    >>> res.verdict
    'concave'
    """
    level = check_level(level)
    N = np.asarray(N, dtype=float)
    F = np.asarray(F, dtype=float)
    if N.shape != F.shape or N.ndim != 1:
        raise ArgumentError("`N` and `F` must be 1-D arrays of equal length")
    as_positive("N", N)
    ok = np.isfinite(F)
    if (~ok).any():
        warnings.warn(f"dropped {int((~ok).sum())} non-finite F value(s)", RuntimeWarning, stacklevel=2)
    N, F = N[ok], F[ok]
    inst = None if instance is None else np.asarray(instance)[ok]
    x = np.log(N)
    if np.unique(x).size < 3:
        raise ArgumentError(f"the curvature test needs at least 3 distinct sizes; got {np.unique(x).size}")
    xc = x - x.mean()
    X = np.stack([np.ones_like(xc), xc, xc * xc], axis=1)
    coef = np.linalg.lstsq(X, F, rcond=None)[0]
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    B = int(num_samples)
    if inst is not None:
        ids, cl = np.unique(inst, return_inverse=True)
        draws = rng.integers(0, ids.size, size=(B, ids.size))
        counts = np.stack([np.bincount(d, minlength=ids.size) for d in draws])
        W = counts[:, cl].astype(float)
    else:
        draws = rng.integers(0, F.size, size=(B, F.size))
        W = np.stack([np.bincount(d, minlength=F.size) for d in draws]).astype(float)
    reps = _wls_batch(X, F, W)[:, 2]
    reps = reps[np.isfinite(reps)]
    tail = (1.0 - level) / 2.0
    lo, hi = np.quantile(reps, [tail, 1.0 - tail])
    verdict = "concave" if hi < 0 else ("convex" if lo > 0 else "linear")
    return CurvatureTest(float(coef[2]), float(lo), float(hi), level, verdict, coef, int(reps.size),
                         inst is not None)
