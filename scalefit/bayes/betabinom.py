"""Bayesian Beta-Binomial models for best-of-N / pass@k (docs/best_of_n.md, docs/bayes.md).

* :func:`fit_beta_binomial_bayes`: one group, ``k_i ~ BetaBinomial(n_i, α, β)`` (optionally with
  an unbreakable mass π, SABER App. B.1.2), priors α ~ LogNormal(log 0.5, 1),
  β ~ LogNormal(log 2, 1.5), π ~ Beta(1, 4) (docs/bayes.md#default-priors), overridable per parameter.
* :func:`fit_hierarchical_beta_binomial`: groups (model, attack, category, ...) with their own
  (α_g, β_g) pooled through a population prior: log α_g ~ Normal(μ_α, τ_α),
  log β_g ~ Normal(μ_β, τ_β) (non-centred), μ_α ~ Normal(log 0.5, 1), μ_β ~ Normal(log 2, 1.5)
  (the single-group priors), τ_α, τ_β ~ HalfNormal(1).

The likelihood is the Beta-Binomial log-pmf over the (n, k) histogram (``gammaln``, never
``betaln``; see :func:`_bb_ll`).  Results give ASR@N = pass@N per draw
(population, conditional on the observed prompts, or for a finite set of new prompts,
docs/bayes.md#posterior-bands) and budgets for a target, with credible intervals, per group and pooled.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from typing import Any, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
import pandas as pd
from jax.scipy.special import gammaln

from .._config import require_x64
from ..errors import ArgumentError
from .._roots import bisect
from .._names import renamed_args
from ..params import Param, ParamSpec, Prior
from ..sampling._special import log_beta_fail
from . import _idata
from .._extrapolation import extrapolation_factor
from .._result import LEVEL, check_level
from ._base import PosteriorMixin, interval_columns, priors_from_json, priors_to_json, record_draws, record_tail
from ._nuts import NutsSettings, posterior_mode, run_nuts
from ._priors import clip_to_support, from_coordinate, to_coordinate, to_distribution, variable_name
from .diagnostics import Diagnostics, Thresholds, compute_diagnostics
from .posterior import quantile_columns, versions

#: Parameters and default priors of the Beta-Binomial model (docs/bayes.md#default-priors).
BETA_BINOMIAL_PARAMS = ParamSpec((
    Param("alpha", "α", doc="left-tail exponent of the per-problem success distribution",
          prior=Prior.lognormal(math.log(0.5), 1.0)),
    Param("beta", "β", prior=Prior.lognormal(math.log(2.0), 1.5)),
    Param("pi", "π", doc="unbreakable mass (spike at p = 0)", prior=Prior.beta(1.0, 4.0)),
))

#: Population priors of the hierarchical model.
HIERARCHICAL_PRIORS: dict[str, Prior] = {
    "mu_log_alpha": Prior.normal(math.log(0.5), 1.0),
    "mu_log_beta": Prior.normal(math.log(2.0), 1.5),
    "tau_log_alpha": Prior.halfnormal(1.0),
    "tau_log_beta": Prior.halfnormal(1.0),
}


# ============================================================================ data
def _counts(n, k) -> tuple[np.ndarray, np.ndarray]:
    from ..sampling.betabinom import validate_counts

    return validate_counts(n, k)


def _histogram(n: np.ndarray, k: np.ndarray, g: np.ndarray | None = None):
    """Unique (g, n, k) rows with multiplicities and the row of every item."""
    g = np.zeros_like(n) if g is None else g
    keys = np.stack([g, n, k], axis=1)
    uniq, inv, counts = np.unique(keys, axis=0, return_inverse=True, return_counts=True)
    return uniq[:, 0], uniq[:, 1], uniq[:, 2], counts.astype(np.float64), inv.ravel()


def _bb_ll(k, n, a, b, pi=None):
    """Beta-Binomial log-pmf (with the binomial coefficient) inside NUTS models.

    Written with ``gammaln`` (accurate to ~1e-14 relative; never ``betaln``, which is off by ~2e-7
    near b = 12): for counts n <= 1e5 the absolute error is below ~1e-11 per item, far below
    anything that moves a posterior, and the program compiles and runs about twice as fast as
    the cancellation-free :func:`scalefit.sampling.beta_binomial_logpmf` (checked against it in
    the tests).  ASR@N curves, where N can be huge, use the cancellation-free forms.
    """
    ll = (gammaln(n + 1.0) - gammaln(k + 1.0) - gammaln(n - k + 1.0)
          + gammaln(k + a) + gammaln(n - k + b) - gammaln(n + a + b)
          - gammaln(a) - gammaln(b) + gammaln(a + b))
    if pi is None:
        return ll
    zero = k == 0
    return jnp.where(zero, jnp.logaddexp(jnp.log(pi), jnp.log1p(-pi) + ll), jnp.log1p(-pi) + ll)


# ============================================================================ single group
def single_model(priors: Mapping[str, Prior], zero_inflated: bool):
    names = ("alpha", "beta", "pi") if zero_inflated else ("alpha", "beta")

    def model(data):
        coords = {}
        for nm in names:
            p = priors[nm]
            v = numpyro.sample(variable_name(nm, p), to_distribution(p))
            coords[nm] = to_coordinate(p, v, {}, {})
            if variable_name(nm, p) != nm:
                numpyro.deterministic(nm, coords[nm])
        ll = _bb_ll(data["k"], data["n"], coords["alpha"], coords["beta"], coords.get("pi"))
        numpyro.factor("loglik", jnp.sum(data["w"] * ll))

    return model, names


def resolve_priors(priors, names, spec=BETA_BINOMIAL_PARAMS, prior_scale=1.0):
    priors = dict(priors or {})
    unknown = sorted(set(priors) - set(spec.names))
    if unknown:
        raise ArgumentError(f"`priors` names unknown parameters {unknown}; the model has {list(names)}")
    out = {}
    for nm in names:
        p = priors.get(nm, spec[nm].prior)
        if not isinstance(p, Prior):
            raise ArgumentError(f"`priors['{nm}']` must be a scalefit Prior, got {type(p).__name__}")
        if p.transform not in ("identity", "exp"):
            raise ArgumentError(f"prior of `{nm}`: transform {p.transform!r} is not available here (use identity or exp)")
        out[nm] = p.widened(prior_scale) if prior_scale != 1.0 else p
    return out


def _asr_quantiles(vals: np.ndarray, Ns: np.ndarray, levels, extra: Mapping | None = None) -> pd.DataFrame:
    q = quantile_columns(vals, levels)
    out = pd.DataFrame({"N": Ns, "mean": vals.mean(axis=0), **q})
    for k, v in (extra or {}).items():
        out.insert(0, k, v)
    return interval_columns(out, levels[0])   # the protocol's estimate/lower/upper (first level)


def _check_N(N, n_max=None, kind="population"):
    N = np.atleast_1d(np.asarray(N, dtype=np.float64))
    if np.any(~np.isfinite(N)) or np.any(N < 0):
        raise ArgumentError(f"`N` must be finite and >= 0, got {N[~(np.isfinite(N) & (N >= 0))][0]!r}")
    if kind == "conditional" and n_max is not None and np.any(N < n_max):
        raise ArgumentError(
            f"`N` = {N.min():g} is below the largest observed budget max n_i = {n_max}: the conditional "
            "estimator counts the observed attempts as part of the budget"
        )
    return N


@jax.jit
def _cond_fail(logN, a, b, pi, n_vals, counts, K):
    """Per-draw conditional survival: mean over items of P(no success in N | k_i = 0, data)."""
    N = jnp.exp(logN)
    lf_N = log_beta_fail(N, a, b)                                  # log B(a, b+N)/B(a, b)
    lf_n = log_beta_fail(n_vals, a, b)                             # log B(a, b+n)/B(a, b)
    num = jnp.logaddexp(jnp.log(pi), jnp.log1p(-pi) + lf_N)
    den = jnp.logaddexp(jnp.log(pi), jnp.log1p(-pi) + lf_n)
    return jnp.sum(counts * jnp.exp(num - den)) / K


def _conditional_asr(a, b, pi, n_vals, counts, K, Ns):
    """(S, G) conditional ASR@N: 1 - mean_i 1{k_i=0} P(fail all N | fail n_i) (the exact estimator of docs/best_of_n.md#saber-estimators)."""
    if len(n_vals) == 0:
        return np.ones((len(a), len(Ns)))
    f = jax.vmap(jax.vmap(_cond_fail, in_axes=(0, None, None, None, None, None, None)),
                 in_axes=(None, 0, 0, 0, None, None, None))
    surv = f(jnp.log(jnp.asarray(Ns)), jnp.asarray(a), jnp.asarray(b), jnp.asarray(pi),
             jnp.asarray(n_vals, float), jnp.asarray(counts, float), float(K))
    return 1.0 - np.asarray(surv)


def _population_asr(a, b, pi, Ns):
    lf = np.asarray(log_beta_fail(np.asarray(Ns)[None, :], a[:, None], b[:, None]))
    return -(1.0 - pi[:, None]) * np.expm1(lf)


def _bisect_budget(fail_fn, tau, S, lo=-5.0, hi=80.0, iters=200, target=None):
    """Per-draw real N (log-bisection) with f(log N) = tau for an increasing f(logN (S,)) -> (S,)
    (``target`` may give a per-draw tau)."""
    tau = np.full(S, tau, dtype=np.float64) if target is None else np.asarray(target, dtype=np.float64)
    reach = fail_fn(np.full(S, float(hi))) >= tau
    lo_, hi_ = bisect(lambda x: fail_fn(x) < tau, np.full(S, float(lo)), np.full(S, float(hi)), iters=iters,
                      xtol=1e-10)
    return np.where(reach, np.exp(0.5 * (lo_ + hi_)), np.inf)


def _population_budget(tau: float, a, b, pi) -> np.ndarray:
    """Per-draw real N with (1 − π)(1 − B(a, b+N)/B(a, b)) = tau (inf where tau >= 1 − π)."""
    a, b, pi = (np.asarray(v, dtype=np.float64) for v in (a, b, pi))
    target = np.log1p(-np.minimum(tau / (1.0 - pi), 1.0 - 1e-300))   # log F(N) to reach
    reach = tau < (1.0 - pi)

    def asr_like(logN):  # increasing in N: compare -log F(N) with -target
        lf = np.asarray(log_beta_fail(np.exp(logN), a, b))
        return -lf

    vals = _bisect_budget(asr_like, 0.0, len(a), lo=-30.0, hi=80.0, target=-target)
    return np.where(reach, vals, np.inf)


@dataclass(frozen=True, eq=False, repr=False)
class BetaBinomialPosterior(PosteriorMixin):
    """Posterior of the Beta-Binomial model for one group (frozen).

    Attributes
    ----------
    n, k : ndarray
        Attempts and successes per problem.
    priors : dict
    zero_inflated : bool
        Whether the unbreakable mass π was fitted.
    idata : arviz.InferenceData
        ``posterior`` (alpha, beta[, pi]), ``sample_stats``, ``log_likelihood`` (per problem).
    diagnostics : Diagnostics
    settings, metadata : dict
    """

    FORMAT = "scalefit.BetaBinomialPosterior"

    n: np.ndarray = field(repr=False)
    k: np.ndarray = field(repr=False)
    priors: Mapping[str, Prior] = field(repr=False)
    zero_inflated: bool
    idata: Any = field(repr=False)
    diagnostics: Diagnostics = field(repr=False)
    settings: Mapping[str, Any] = field(repr=False)
    metadata: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @property
    def names(self) -> tuple[str, ...]:
        return ("alpha", "beta", "pi") if self.zero_inflated else ("alpha", "beta")

    def _repr_text(self) -> str:
        return (f"{'zero-inflated ' if self.zero_inflated else ''}Beta-Binomial: {len(self.k)} problems, "
                f"{self.num_draws} draws, {self._verdict()}")

    def predict(self, N, *, level: float = LEVEL, kind: str = "conditional", **options) -> pd.DataFrame:
        """ASR@N (= pass@N) at budgets ``N`` in the protocol's layout: :meth:`asr` at ``level``
        with ``estimate`` (posterior median), ``lower``/``upper`` (central credible interval) and
        ``extrapolation`` (N over the largest observed budget, ``scalefit._extrapolation``)."""
        out = self.asr(N, kind=kind, levels=(check_level(level),), **options)  # estimate/lower/upper at level
        out["extrapolation"] = extrapolation_factor({"N": self.n}, {"N": out["N"].to_numpy()})
        return out

    def _abp(self):
        a, b = self.draws("alpha"), self.draws("beta")
        pi = self.draws("pi") if self.zero_inflated else np.zeros_like(a)
        return a, b, pi

    def param_table(self, level: float = 0.9) -> pd.DataFrame:
        return self._table(self.names, level)

    def asr(self, N, *, kind: str = "conditional", levels: Sequence[float] = (0.9,), num_prompts: int | None = None,
            seed: int = 0) -> pd.DataFrame:
        """ASR@N (= pass@N) per posterior draw, summarised (docs/bayes.md#posterior-bands).

        ``kind``: ``"population"`` (1 − π)(1 − B(α, β+N)/B(α, β); ``"conditional"`` on the observed
        prompts, 1 − mean_i[1{k_i=0} P(no success in N | none in n_i)] (N ≥ n_i, the Bayesian
        SABER-Anchored); ``"finite"`` for ``num_prompts`` new prompts (simulated θ_j ~ Beta,
        adds between-prompt noise).
        """
        a, b, pi = self._abp()
        kinds = ("population", "conditional", "finite")
        if kind not in kinds:
            raise ArgumentError(f"`kind` = {kind!r} is not one of {', '.join(kinds)}")
        Ns = _check_N(N, int(self.n.max()), kind)
        if kind == "population":
            vals = _population_asr(a, b, pi, Ns)
        elif kind == "conditional":
            zero = self.k == 0
            n_vals, counts = np.unique(self.n[zero], return_counts=True)
            vals = _conditional_asr(a, b, pi, n_vals, counts, len(self.k), Ns)
        else:
            K = int(num_prompts or len(self.k))
            rng = np.random.default_rng(seed)
            theta = rng.beta(a[:, None], b[:, None], size=(len(a), K))
            broken = rng.random((len(a), K)) >= pi[:, None]
            with np.errstate(divide="ignore", invalid="ignore"):  # θ = 1: log1p(−1) = −inf, ASR = 1
                log_fail = np.log1p(-theta)
                vals = np.stack([np.mean(np.where(broken & (N_ > 0), -np.expm1(N_ * log_fail), 0.0), axis=1)
                                 for N_ in Ns], axis=1)
        return _asr_quantiles(vals, Ns, levels)

    def pass_at(self, N, **kw) -> pd.DataFrame:
        """pass@N of the population (same quantity as ASR@N)."""
        kw.setdefault("kind", "population")
        return self.asr(N, **kw)

    @renamed_args(tau="rate")
    def budget(self, rate, *, kind: str = "conditional", levels: Sequence[float] = (0.9,)) -> pd.DataFrame:
        """Attempts N needed for ASR@N = ``rate``, per draw (inf where a draw cannot reach it);
        column ``rate`` (``tau``: the same values under its deprecated name)."""
        a, b, pi = self._abp()
        taus = np.atleast_1d(np.asarray(rate, dtype=np.float64))
        if np.any(~((taus > 0) & (taus < 1))):
            raise ArgumentError("`rate` must lie in (0, 1)")
        rows = []
        for t in taus:
            if kind == "population":
                vals = _population_budget(t, a, b, pi)
            elif kind == "conditional":
                zero = self.k == 0
                n_vals, counts = np.unique(self.n[zero], return_counts=True)
                n_max = float(self.n.max())
                if not zero.any() or (1 - counts.sum() / len(self.k)) >= t:
                    vals = np.full(len(a), n_max)   # already reached with the observed attempts
                else:
                    def f(logN):
                        N = np.maximum(np.exp(logN), n_max)
                        s = jax.vmap(_cond_fail, in_axes=(0, 0, 0, 0, None, None, None))(
                            jnp.log(jnp.asarray(N)), jnp.asarray(a), jnp.asarray(b), jnp.asarray(pi),
                            jnp.asarray(n_vals, float), jnp.asarray(counts, float), float(len(self.k)))
                        return 1.0 - np.asarray(s)

                    vals = np.maximum(_bisect_budget(f, t, len(a), lo=math.log(n_max)), n_max)
            else:
                raise ArgumentError(f"`kind` = {kind!r} is not one of population, conditional")
            q = quantile_columns(vals[:, None], levels)
            rows.append({"rate": t, "tau": t, "prob_reachable": float(np.mean(np.isfinite(vals))),
                         **{kk: vv[0] for kk, vv in q.items()}})
        return interval_columns(pd.DataFrame(rows), levels[0])

    def _summary_text(self, level: float = 0.9) -> str:
        lines = [f"Beta-Binomial posterior ({len(self.k)} problems, n = "
                 f"{int(self.n.min())}..{int(self.n.max())} attempts, {int((self.k > 0).sum())} with a success)"]
        for nm, p in self.priors.items():
            lines.append(f"  prior {nm:<6} {p.describe()}")
        lines.append(self._table_text(level))
        return "\n".join(lines + self._verdict_lines())

    def to_dict(self) -> dict:
        return self._json_record({"n": self.n.tolist(), "k": self.k.tolist(), "priors": priors_to_json(self.priors),
                                  "zero_inflated": self.zero_inflated})

    @classmethod
    def from_dict(cls, d: Mapping) -> "BetaBinomialPosterior":
        n, k = np.asarray(d["n"], dtype=np.int64), np.asarray(d["k"], dtype=np.int64)
        idata = _single_idata(*record_draws(d), n, k, bool(d["zero_inflated"]))
        return cls(n, k, priors_from_json(d["priors"]), bool(d["zero_inflated"]), idata, *record_tail(d))


def _single_idata(post, stats, n, k, zero_inflated):
    chains, draws = post["alpha"].shape[:2]
    a, b = jnp.asarray(post["alpha"].reshape(-1)), jnp.asarray(post["beta"].reshape(-1))
    pi = jnp.asarray(post["pi"].reshape(-1)) if zero_inflated else jnp.zeros_like(a)
    kk, nn = jnp.asarray(k, float), jnp.asarray(n, float)

    def one(t):
        return _bb_ll(kk, nn, t[0], t[1], t[2] if zero_inflated else None)

    ll = np.asarray(jax.lax.map(one, (a, b, pi), batch_size=512)).reshape(chains, draws, -1)
    return _idata.build_idata(post, stats, log_likelihood={"k": ll}, observed={"k": k, "n": n},
                              dims={"k": ["problem"], "n": ["problem"]},
                              attrs={"scalefit_format": BetaBinomialPosterior.FORMAT})


def _settings(num_warmup, num_samples, num_chains, target_accept, max_tree_depth, seed):
    return NutsSettings(num_warmup=num_warmup, num_samples=num_samples, num_chains=num_chains,
                        target_accept=float(target_accept), max_tree_depth=max_tree_depth, seed=int(seed))


def _single_init(n, k, priors, names):
    """Start at the MLE (or the prior medians when the MLE is on a boundary)."""
    from ..sampling import fit_beta_binomial
    from ._priors import prior_median

    init = {}
    try:
        mle = fit_beta_binomial(n, k)
        theta = {"alpha": mle.a, "beta": mle.b} if (mle.converged and not mle.at_boundary) else {}
    except Exception:  # noqa: BLE001 - only a start value
        theta = {}
    theta.setdefault("pi", max(float(np.mean(k == 0)) * 0.5, 0.05))
    for nm in names:
        p = priors[nm]
        v = from_coordinate(p, float(theta[nm]), {}, {}) if nm in theta and np.isfinite(theta[nm]) \
            else prior_median(p, {})
        init[variable_name(nm, p)] = clip_to_support(p, v, {})
    return init


def fit_beta_binomial_bayes(
    n, k=None, *,
    priors: Mapping[str, Prior] | None = None,
    prior_scale: float = 1.0,
    unbreakable: bool = False,
    num_warmup: int = 1000,
    num_samples: int = 1000,
    num_chains: int = 4,
    target_accept: float = 0.8,
    max_tree_depth: int = 10,
    seed: int = 0,
    thresholds: Thresholds | None = None,
    progress: bool | None = None,
    chain_method: str | None = None,
) -> BetaBinomialPosterior:
    """Bayesian Beta-Binomial fit of per-problem (attempts, successes) counts with NUTS.

    Parameters
    ----------
    n, k
        Attempts (one value or one per problem) and successes per problem, or a counts frame
        from :func:`scalefit.io.load_attempts` as ``n`` alone (one group).
    priors
        Overrides of the defaults in docs/bayes.md#default-priors, e.g. a flat prior on log α over a box:
        ``{"alpha": Prior.uniform(-7, 2, transform="exp")}``.
    prior_scale
        Multiply every prior scale (100 = the flat-prior limit of T4a).
    unbreakable
        Fit the spike-and-slab model with an unbreakable mass π ~ Beta(1, 4).

    Examples
    --------
    >>> k = [0,0,0,0,0,0,1,0,2,0,0,5,0,1,0,0,12,0,3,0,0,0,7,0,0,1,0,20,0,0]
    >>> post = fit_beta_binomial_bayes(20, k, num_samples=2000)  # doctest: +SKIP
    >>> post.asr(1000, kind="conditional")  # doctest: +SKIP
    """
    require_x64()
    n, k = _counts(n, k)
    names = ("alpha", "beta", "pi") if unbreakable else ("alpha", "beta")
    pri = resolve_priors(priors, names, prior_scale=prior_scale)
    settings = _settings(num_warmup, num_samples, num_chains, target_accept, max_tree_depth, seed)
    g, nu, ku, w, _ = _histogram(n, k)
    data = {"n": jnp.asarray(nu, float), "k": jnp.asarray(ku, float), "w": jnp.asarray(w)}
    model, _ = single_model(pri, unbreakable)
    key = ("bb", json.dumps({kk: v.to_dict() for kk, v in sorted(pri.items())}), bool(unbreakable))
    run = run_nuts(model, (data,), _single_init(n, k, pri, names), settings, progress=progress, cache_key=key,
                   chain_method=chain_method)
    post = {kk: v for kk, v in run.samples.items()}
    idata = _single_idata(post, run.stats, n, k, unbreakable)
    diag = compute_diagnostics(idata, list(dict.fromkeys([variable_name(nm, pri[nm]) for nm in names] + list(names))),
                               thresholds=thresholds)
    settings_d = {**settings.to_dict(), "chain_method": run.chain_method,
                  "prior_scale": float(prior_scale)}
    meta = {"versions": versions()}
    return BetaBinomialPosterior(n, k, pri, bool(unbreakable), idata, diag, settings_d, meta)


def beta_binomial_mode(n, k=None, *, priors: Mapping[str, Prior] | None = None, prior_scale: float = 1.0,
                       include_prior: bool = True, unbreakable: bool = False) -> dict[str, float]:
    """Posterior mode of the Beta-Binomial model in the unconstrained (log) space, or with
    ``include_prior=False`` the maximum of the likelihood alone (docs/bayes.md#reference-cases).

    >>> k = [0,0,0,0,0,0,1,0,2,0,0,5,0,1,0,0,12,0,3,0,0,0,7,0,0,1,0,20,0,0]
    >>> m = beta_binomial_mode(20, k, prior_scale=100)  # doctest: +SKIP
    """
    require_x64()
    n, k = _counts(n, k)
    names = ("alpha", "beta", "pi") if unbreakable else ("alpha", "beta")
    pri = resolve_priors(priors, names, prior_scale=prior_scale)
    _, nu, ku, w, _ = _histogram(n, k)
    data = {"n": jnp.asarray(nu, float), "k": jnp.asarray(ku, float), "w": jnp.asarray(w)}
    model, _ = single_model(pri, unbreakable)
    if not include_prior:
        # maximum likelihood does not depend on the priors; keep the supports, drop the densities
        flat = {nm: Prior.flat(transform="exp") if nm != "pi" else Prior.uniform(0.0, 1.0) for nm in names}
        model, _ = single_model(flat, unbreakable)
        init = _single_init(n, k, flat, names)
    else:
        init = _single_init(n, k, pri, names)
    values, ok, obj = posterior_mode(model, (data,), init, include_prior=include_prior)
    out = {nm: float(values[nm]) for nm in names}
    out["converged"] = ok
    return out


# ============================================================================ hierarchical
def _hier_model(G: int, hyper: Mapping[str, Prior], centered: bool):
    def model(data):
        mu_a = numpyro.sample("mu_log_alpha", to_distribution(hyper["mu_log_alpha"]))
        mu_b = numpyro.sample("mu_log_beta", to_distribution(hyper["mu_log_beta"]))
        tau_a = numpyro.sample("tau_log_alpha", to_distribution(hyper["tau_log_alpha"]))
        tau_b = numpyro.sample("tau_log_beta", to_distribution(hyper["tau_log_beta"]))
        with numpyro.plate("groups", G):
            if centered:
                la = numpyro.sample("log_alpha", dist.Normal(mu_a, tau_a))
                lb = numpyro.sample("log_beta", dist.Normal(mu_b, tau_b))
            else:
                za = numpyro.sample("z_alpha", dist.Normal(0.0, 1.0))
                zb = numpyro.sample("z_beta", dist.Normal(0.0, 1.0))
                la = numpyro.deterministic("log_alpha", mu_a + tau_a * za)
                lb = numpyro.deterministic("log_beta", mu_b + tau_b * zb)
        a = numpyro.deterministic("alpha", jnp.exp(la))
        b = numpyro.deterministic("beta", jnp.exp(lb))
        ll = _bb_ll(data["k"], data["n"], a[data["g"]], b[data["g"]])
        numpyro.factor("loglik", jnp.sum(data["w"] * ll))

    return model


@dataclass(frozen=True, eq=False, repr=False)
class HierarchicalBetaBinomialPosterior(PosteriorMixin):
    """Posterior of the hierarchical Beta-Binomial model (groups pooled through a population prior).

    ``groups`` lists the group labels (``"model=a, attack=b"``) in the order of the ``alpha``/``beta``
    vectors; ``counts`` is the fitted table.
    """

    FORMAT = "scalefit.HierarchicalBetaBinomialPosterior"

    counts: pd.DataFrame = field(repr=False)
    group_columns: tuple
    groups: tuple
    priors: Mapping[str, Prior] = field(repr=False)
    centered: bool
    idata: Any = field(repr=False)
    diagnostics: Diagnostics = field(repr=False)
    settings: Mapping[str, Any] = field(repr=False)
    metadata: Mapping[str, Any] = field(default_factory=dict, repr=False)

    def _repr_text(self) -> str:
        return (f"{len(self.groups)} groups by {', '.join(self.group_columns)}, {len(self.counts)} problems, "
                f"{self.num_draws} draws, {self._verdict()}")

    def predict(self, N, *, level: float = LEVEL, kind: str = "conditional", **options) -> pd.DataFrame:
        """ASR@N per group (and pooled) in the protocol's layout: :meth:`asr` at ``level`` with
        ``estimate`` (posterior median), ``lower``/``upper`` (central credible interval) and
        ``extrapolation`` (N over the largest observed budget of all groups)."""
        out = self.asr(N, kind=kind, levels=(check_level(level),), **options)  # estimate/lower/upper at level
        out["extrapolation"] = extrapolation_factor({"N": self.counts["n"].to_numpy(np.float64)},
                                                    {"N": out["N"].to_numpy()})
        return out

    def _group_arrays(self):
        codes = _group_codes(self.counts, self.group_columns, self.groups)
        return codes, self.counts["n"].to_numpy(np.int64), self.counts["k"].to_numpy(np.int64)

    def param_table(self, level: float = 0.9) -> pd.DataFrame:
        names = ["mu_log_alpha", "mu_log_beta", "tau_log_alpha", "tau_log_beta", "alpha", "beta"]
        return self._table(names, level, labels={"alpha": self.groups, "beta": self.groups})

    def _pooled_draws(self, seed: int = 0):
        rng = np.random.default_rng(seed)
        S = self.num_draws
        la = self.draws("mu_log_alpha") + self.draws("tau_log_alpha") * rng.standard_normal(S)
        lb = self.draws("mu_log_beta") + self.draws("tau_log_beta") * rng.standard_normal(S)
        return np.exp(la), np.exp(lb)

    def asr(self, N, *, kind: str = "conditional", levels: Sequence[float] = (0.9,), seed: int = 0) -> pd.DataFrame:
        """ASR@N per group with credible intervals, plus pooled rows.

        ``kind="conditional"``: each group's observed prompts (N ≥ their n_i), and a row ``all``
        for every observed prompt together; ``kind="population"``: each group's Beta, and a row
        ``pooled (new group)`` for a new group drawn from the population prior (posterior
        predictive over groups).
        """
        if kind not in ("conditional", "population"):
            raise ArgumentError(f"`kind` = {kind!r} is not one of conditional, population")
        codes, n, k = self._group_arrays()
        A, B = self.draws("alpha"), self.draws("beta")
        Ns = _check_N(N, int(n.max()), kind)
        frames = []
        zero = np.zeros(A.shape[0])
        all_surv = np.zeros((A.shape[0], len(Ns)))
        for j, lab in enumerate(self.groups):
            sel = codes == j
            if kind == "population":
                vals = _population_asr(A[:, j], B[:, j], zero, Ns)
            else:
                _check_N(Ns, int(n[sel].max()), kind)
                z = sel & (k == 0)
                n_vals, cnt = np.unique(n[z], return_counts=True)
                vals = _conditional_asr(A[:, j], B[:, j], zero, n_vals, cnt, int(sel.sum()), Ns)
                all_surv += (1.0 - vals) * sel.sum()
            frames.append(_asr_quantiles(vals, Ns, levels, {"group": lab}))
        if kind == "population":
            a, b = self._pooled_draws(seed)
            frames.append(_asr_quantiles(_population_asr(a, b, zero, Ns), Ns, levels, {"group": "pooled (new group)"}))
        else:
            frames.append(_asr_quantiles(1.0 - all_surv / len(k), Ns, levels, {"group": "all"}))
        return pd.concat(frames, ignore_index=True)

    @renamed_args(tau="rate")
    def budget(self, rate, *, levels: Sequence[float] = (0.9,), seed: int = 0) -> pd.DataFrame:
        """Population budget N with ASR@N = ``rate`` per group and for a new group (per draw);
        column ``rate`` (``tau``: the same values under its deprecated name)."""
        t = float(rate)
        if not 0 < t < 1:
            raise ArgumentError("`rate` must lie in (0, 1)")
        A, B = self.draws("alpha"), self.draws("beta")
        rows = []
        pairs = [(lab, A[:, j], B[:, j]) for j, lab in enumerate(self.groups)]
        pairs.append(("pooled (new group)", *self._pooled_draws(seed)))
        for lab, a, b in pairs:
            vals = _population_budget(t, a, b, np.zeros_like(a))
            q = quantile_columns(vals[:, None], levels)
            rows.append({"group": lab, "rate": t, "tau": t, **{kk: vv[0] for kk, vv in q.items()}})
        return interval_columns(pd.DataFrame(rows), levels[0])

    def _summary_text(self, level: float = 0.9) -> str:
        lines = [f"hierarchical Beta-Binomial posterior: {len(self.groups)} groups by {list(self.group_columns)}, "
                 f"{len(self.counts)} problems"]
        lines.append(self._table_text(level))
        return "\n".join(lines + self._verdict_lines())

    def to_dict(self) -> dict:
        from ..fit.result import frame_to_json

        return self._json_record({
            "counts": frame_to_json(self.counts), "group_columns": list(self.group_columns),
            "groups": list(self.groups), "priors": priors_to_json(self.priors), "centered": self.centered})

    @classmethod
    def from_dict(cls, d: Mapping) -> "HierarchicalBetaBinomialPosterior":
        from ..fit.result import frame_from_json

        fit = cls(frame_from_json(d["counts"]), tuple(d["group_columns"]), tuple(d["groups"]),
                  priors_from_json(d["priors"]), bool(d["centered"]), None, *record_tail(d))
        return replace(fit, idata=_hier_idata(fit, *record_draws(d)))


def _group_labels(counts: pd.DataFrame, group_columns: Sequence[str]) -> np.ndarray:
    if len(group_columns) == 1:
        return counts[group_columns[0]].astype(str).to_numpy()
    return np.asarray([", ".join(f"{c}={v}" for c, v in zip(group_columns, row))
                       for row in counts[list(group_columns)].itertuples(index=False)])


def _group_codes(counts, group_columns, groups) -> np.ndarray:
    labels = _group_labels(counts, group_columns)
    lookup = {g: i for i, g in enumerate(groups)}
    return np.asarray([lookup[x] for x in labels], dtype=np.int64)


def _hier_idata(fit: HierarchicalBetaBinomialPosterior, post, stats):
    codes, n, k = fit._group_arrays()
    chains, draws = post["alpha"].shape[:2]
    A = jnp.asarray(post["alpha"].reshape(chains * draws, -1))
    B = jnp.asarray(post["beta"].reshape(chains * draws, -1))
    kk, nn, cc = jnp.asarray(k, float), jnp.asarray(n, float), jnp.asarray(codes)
    ll = jax.lax.map(lambda ab: _bb_ll(kk, nn, ab[0][cc], ab[1][cc]), (A, B), batch_size=256)
    ll = np.asarray(ll).reshape(chains, draws, -1)
    dims = {nm: ["group"] for nm in ("alpha", "beta", "log_alpha", "log_beta", "z_alpha", "z_beta") if nm in post}
    return _idata.build_idata(post, stats, log_likelihood={"k": ll}, observed={"k": k, "n": n},
                              dims={**dims, "k": ["problem"], "n": ["problem"]}, coords={"group": list(fit.groups)},
                              attrs={"scalefit_format": fit.FORMAT})


def fit_hierarchical_beta_binomial(
    counts: pd.DataFrame,
    groups: Sequence[str],
    *,
    n: str = "n",
    k: str = "k",
    priors: Mapping[str, Prior] | None = None,
    centered: bool = False,
    num_warmup: int = 1000,
    num_samples: int = 1000,
    num_chains: int = 4,
    target_accept: float = 0.95,
    max_tree_depth: int = 10,
    seed: int = 0,
    thresholds: Thresholds | None = None,
    progress: bool | None = None,
    chain_method: str | None = None,
) -> HierarchicalBetaBinomialPosterior:
    """Hierarchical Beta-Binomial fit: per-group (α_g, β_g) pooled through a population prior.

    Parameters
    ----------
    counts
        One row per problem with the group columns and attempt/success counts (the counts form
        of :func:`scalefit.io.load_attempts`).
    groups
        Columns whose combinations define the groups (e.g. ``["model", "attack", "category"]``).
    priors
        Overrides of :data:`HIERARCHICAL_PRIORS` (``mu_log_alpha``, ``mu_log_beta``,
        ``tau_log_alpha``, ``tau_log_beta``).
    centered
        Centred parameterisation (better when every group has much data); non-centred by default.
    target_accept
        0.95 by default: the group scales τ have posterior mass near 0 (a funnel even when
        non-centred), where smaller steps avoid divergences.
    """
    require_x64()
    if not isinstance(counts, pd.DataFrame):
        raise ArgumentError(f"`counts` must be a DataFrame, got {type(counts).__name__}")
    groups = [groups] if isinstance(groups, str) else list(groups)
    missing = [c for c in [*groups, n, k] if c not in counts.columns]
    if missing:
        raise ArgumentError(f"`counts` lacks columns {missing} (columns: {', '.join(map(str, counts.columns))})")
    if not groups:
        raise ArgumentError("`groups` must name at least one column")
    nn, kk = _counts(counts[n].to_numpy(), counts[k].to_numpy())
    table = counts[groups].copy()
    table["n"], table["k"] = nn, kk
    table = table.reset_index(drop=True)
    labels = _group_labels(table, groups)
    group_names = tuple(dict.fromkeys(labels))
    if len(group_names) < 2:
        raise ArgumentError(f"`groups` {groups} define {len(group_names)} group; a hierarchy needs at least 2 "
                            "(use fit_beta_binomial_bayes for one group)")
    hyper = dict(HIERARCHICAL_PRIORS)
    unknown = sorted(set(priors or {}) - set(hyper))
    if unknown:
        raise ArgumentError(f"`priors` names unknown parameters {unknown}; the model has {sorted(hyper)}")
    hyper.update(priors or {})
    settings = _settings(num_warmup, num_samples, num_chains, target_accept, max_tree_depth, seed)
    codes = np.asarray([group_names.index(x) for x in labels])
    gu, nu, ku, w, _ = _histogram(nn, kk, codes)
    data = {"n": jnp.asarray(nu, float), "k": jnp.asarray(ku, float), "w": jnp.asarray(w), "g": jnp.asarray(gu)}
    G = len(group_names)
    model = _hier_model(G, hyper, centered)
    # start: per-group MLE where it exists, pooled through their mean
    from ..sampling import fit_beta_binomial

    la, lb = [], []
    for j in range(G):
        try:
            f = fit_beta_binomial(nn[codes == j], kk[codes == j])
            ok = f.converged and not f.at_boundary
        except Exception:  # noqa: BLE001
            ok = False
        la.append(math.log(f.a) if ok else math.log(0.5))
        lb.append(math.log(f.b) if ok else math.log(2.0))
    la, lb = np.clip(la, -6, 4), np.clip(lb, -4, 8)
    mu_a, mu_b = float(np.mean(la)), float(np.mean(lb))
    tau_a, tau_b = max(float(np.std(la)), 0.1), max(float(np.std(lb)), 0.1)
    init = {"mu_log_alpha": mu_a, "mu_log_beta": mu_b, "tau_log_alpha": tau_a, "tau_log_beta": tau_b}
    if centered:
        init.update(log_alpha=la, log_beta=lb)
    else:
        init.update(z_alpha=(la - mu_a) / tau_a, z_beta=(lb - mu_b) / tau_b)
    key = ("hbb", G, json.dumps({kk: v.to_dict() for kk, v in sorted(hyper.items())}), bool(centered))
    run = run_nuts(model, (data,), init, settings, progress=progress, cache_key=key, chain_method=chain_method)
    settings_d = {**settings.to_dict(), "chain_method": run.chain_method}
    meta = {"versions": versions()}
    fit = HierarchicalBetaBinomialPosterior(table, tuple(groups), group_names, hyper, bool(centered), None, None,
                                            settings_d, meta)
    idata = _hier_idata(fit, dict(run.samples), run.stats)
    diag = compute_diagnostics(idata, ["mu_log_alpha", "mu_log_beta", "tau_log_alpha", "tau_log_beta", "alpha", "beta"],
                               thresholds=thresholds)
    return replace(fit, idata=idata, diagnostics=diag)
