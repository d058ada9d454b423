"""Bayesian PassUntil task law (docs/passuntil.md, docs/bayes.md#default-priors).

Per (instance s, model size N) the sampler drew until ``r`` passes, taking ``K`` draws; the pass
probability follows the task law p = exp(−c_s·x^(−α_s)), x = N / N_scale.  Likelihoods:

* negative binomial (sampling stopped at the r-th pass):
  r·log p + (K − r)·log(1 − p) + log C(K − 1, r − 1);
* censored (stopped at the cap K = K_max with r' < r passes; pass ``censored=True`` and r'):
  r'·log p + (K_max − r')·log(1 − p) + log C(K_max, r');

with log p = −exp(log c − α log x) and log(1 − p) = log(−expm1(log p)), never from p itself.
With several instances the (log c_s, log α_s) are pooled: log c_s ~ Normal(μ_c, τ_c),
μ_c ~ Normal(0, 3), τ_c ~ HalfNormal(1); log α_s ~ Normal(μ_α, τ_α), μ_α ~ Normal(log 0.5, 1),
τ_α ~ HalfNormal(0.5) (non-centred).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
import pandas as pd
from jax.scipy.special import gammaln

from .._config import require_x64
from ..errors import ArgumentError
from ..params import Prior
from . import _idata
from .._extrapolation import extrapolation_factor
from .._result import LEVEL, check_level
from ._base import PosteriorMixin, interval_columns, priors_from_json, priors_to_json, record_draws, record_tail
from ._nuts import NutsSettings, run_nuts
from ._priors import to_distribution
from .diagnostics import Diagnostics, Thresholds, compute_diagnostics
from .posterior import quantile_columns, versions

PASSUNTIL_PRIORS: dict[str, Prior] = {
    "mu_log_c": Prior.normal(0.0, 3.0),
    "tau_log_c": Prior.halfnormal(1.0),
    "mu_log_alpha": Prior.normal(math.log(0.5), 1.0),
    "tau_log_alpha": Prior.halfnormal(0.5),
}


def _loglik(lc, la, logx, r, K, cens):
    """Pointwise log-likelihood of (r, K[, censored]) given log c and log α per row."""
    log_p = -jnp.exp(lc - jnp.exp(la) * logx)
    log_q = jnp.log(-jnp.expm1(log_p))
    nb = r * log_p + (K - r) * log_q + gammaln(K) - gammaln(r) - gammaln(K - r + 1.0)
    cen = r * log_p + (K - r) * log_q + gammaln(K + 1.0) - gammaln(r + 1.0) - gammaln(K - r + 1.0)
    return jnp.where(cens, cen, nb)


def _model(n_inst: int, priors: Mapping[str, Prior]):
    def model(data):
        mu_c = numpyro.sample("mu_log_c", to_distribution(priors["mu_log_c"]))
        mu_a = numpyro.sample("mu_log_alpha", to_distribution(priors["mu_log_alpha"]))
        if n_inst > 1:
            tau_c = numpyro.sample("tau_log_c", to_distribution(priors["tau_log_c"]))
            tau_a = numpyro.sample("tau_log_alpha", to_distribution(priors["tau_log_alpha"]))
            with numpyro.plate("instances", n_inst):
                zc = numpyro.sample("z_c", dist.Normal(0.0, 1.0))
                za = numpyro.sample("z_alpha", dist.Normal(0.0, 1.0))
            lc = numpyro.deterministic("log_c", mu_c + tau_c * zc)
            la = numpyro.deterministic("log_alpha", mu_a + tau_a * za)
            lc_i, la_i = lc[data["inst"]], la[data["inst"]]
        else:
            lc_i, la_i = mu_c, mu_a
        ll = _loglik(lc_i, la_i, data["logx"], data["r"], data["K"], data["cens"])
        numpyro.factor("loglik", jnp.sum(ll))

    return model


@dataclass(frozen=True, eq=False, repr=False)
class PassUntilPosterior(PosteriorMixin):
    """Posterior of the PassUntil task law (one law, or instance laws pooled hierarchically)."""

    FORMAT = "scalefit.PassUntilPosterior"

    table: pd.DataFrame = field(repr=False)     # N, r, K, censored, instance code
    instances: tuple
    N_scale: float
    priors: Mapping[str, Prior] = field(repr=False)
    idata: Any = field(repr=False)
    diagnostics: Diagnostics = field(repr=False)
    settings: Mapping[str, Any] = field(repr=False)
    metadata: Mapping[str, Any] = field(default_factory=dict, repr=False)

    def _repr_text(self) -> str:
        return (f"{len(self.table)} observations, {len(self.instances)} instance(s), {self.num_draws} draws, "
                f"{self._verdict()}")

    @property
    def hierarchical(self) -> bool:
        return len(self.instances) > 1

    def _instance_draws(self):
        if self.hierarchical:
            return self.draws("log_c"), self.draws("log_alpha")
        return self.draws("mu_log_c")[:, None], self.draws("mu_log_alpha")[:, None]

    def predict(self, N, *, level: float = LEVEL, levels: Sequence[float] = (0.9,)) -> pd.DataFrame:
        """Task-level PassUntil (mean over the fitted instances of exp(−c_s x^(−α_s))) per draw,
        with the typical instance's log(−log PU) = μ_c − e^(μ_α) log x.

        Columns: ``N``, ``mean``, ``median`` and the quantiles of each of ``levels`` (PU), the
        same prefixed ``loglog_`` (F), then the protocol's ``estimate`` (median PU),
        ``lower``/``upper`` (central credible interval at ``level``) and ``extrapolation`` (N
        over the largest fitted model size)."""
        level = check_level(level)
        levels = tuple(levels) if level in levels else (*levels, level)
        N = np.atleast_1d(np.asarray(N, dtype=np.float64))
        if np.any(~(N > 0)):
            raise ArgumentError("`N` must be > 0")
        lc, la = self._instance_draws()
        logx = np.log(N / self.N_scale)
        pu = np.exp(-np.exp(lc[:, :, None] - np.exp(la)[:, :, None] * logx[None, None, :])).mean(axis=1)
        out = pd.DataFrame({"N": N, "mean": pu.mean(axis=0), **quantile_columns(pu, levels)})
        F = self.draws("mu_log_c")[:, None] - np.exp(self.draws("mu_log_alpha"))[:, None] * logx[None, :]
        for k, v in quantile_columns(F, levels, prefix="loglog_").items():
            out[k] = v
        out = interval_columns(out, level)
        out["extrapolation"] = extrapolation_factor({"N": self.table["N"].to_numpy(np.float64)}, {"N": N})
        return out

    def param_table(self, level: float = 0.9) -> pd.DataFrame:
        names = ["mu_log_c", "mu_log_alpha"] + (["tau_log_c", "tau_log_alpha"] if self.hierarchical else [])
        return self._table(names, level)

    def _summary_text(self, level: float = 0.9) -> str:
        lines = [f"PassUntil task law posterior: {len(self.table)} observations, {len(self.instances)} instance(s), "
                 f"x = N / {self.N_scale:g}"]
        lines.append(self._table_text(level))
        return "\n".join(lines + self._verdict_lines())

    def to_dict(self) -> dict:
        from ..fit.result import frame_to_json

        return self._json_record({
            "table": frame_to_json(self.table), "instances": [str(i) for i in self.instances],
            "N_scale": self.N_scale, "priors": priors_to_json(self.priors)})

    @classmethod
    def from_dict(cls, d: Mapping) -> "PassUntilPosterior":
        from ..fit.result import frame_from_json

        idata = _idata.build_idata(*record_draws(d), attrs={"scalefit_format": cls.FORMAT})
        return cls(frame_from_json(d["table"]), tuple(d["instances"]), float(d["N_scale"]),
                   priors_from_json(d["priors"]), idata, *record_tail(d))


def fit_passuntil_bayes(
    N, r, K, *,
    censored=None,
    instance=None,
    N_scale: float = 1e9,
    priors: Mapping[str, Prior] | None = None,
    num_warmup: int = 1000,
    num_samples: int = 1000,
    num_chains: int = 4,
    target_accept: float = 0.95,
    max_tree_depth: int = 10,
    seed: int = 0,
    thresholds: Thresholds | None = None,
    progress: bool | None = None,
    chain_method: str | None = None,
) -> PassUntilPosterior:
    """Bayesian fit of the PassUntil task law PU(N) = exp(−c·(N/N_scale)^(−α)).

    Parameters
    ----------
    N, r, K
        Model size, passes and draws per observation (one per instance and model size).
    censored
        True where sampling stopped at the cap K without reaching the required passes (``r`` is
        then the number of passes seen, possibly 0).
    instance
        Instance id per observation; with two or more instances the instance laws are pooled.
    target_accept
        0.95 by default (the pooled scales τ have posterior mass near 0, a funnel).
    """
    require_x64()
    N = np.atleast_1d(np.asarray(N, dtype=np.float64))
    r = np.atleast_1d(np.asarray(r, dtype=np.float64))
    K = np.atleast_1d(np.asarray(K, dtype=np.float64))
    if not (N.shape == r.shape == K.shape) or N.ndim != 1:
        raise ArgumentError(f"`N`, `r`, `K` must be 1-D of one length, got {N.shape}, {r.shape}, {K.shape}")
    cens = np.zeros(N.shape, bool) if censored is None else np.atleast_1d(np.asarray(censored, dtype=bool))
    if cens.shape != N.shape:
        raise ArgumentError("`censored` must have one entry per observation")
    problems = []
    if np.any(~(N > 0)):
        problems.append("`N` must be > 0")
    if np.any(r != np.round(r)) or np.any(K != np.round(K)):
        problems.append("`r` and `K` must be integers")
    if np.any((r < 1) & ~cens):
        problems.append("`r` must be >= 1 for uncensored observations (use censored=True for none seen)")
    if np.any(r > K) or np.any(K < 1):
        problems.append("`r` must not exceed `K` and `K` must be >= 1")
    if problems:
        raise ArgumentError("; ".join(problems))
    if not N_scale > 0:
        raise ArgumentError(f"`N_scale` = {N_scale!r} must be > 0")
    inst = np.zeros(len(N), dtype=object) if instance is None else np.asarray(instance, dtype=object)
    labels = tuple(dict.fromkeys(str(i) for i in inst))
    codes = np.asarray([labels.index(str(i)) for i in inst])
    pri = dict(PASSUNTIL_PRIORS)
    unknown = sorted(set(priors or {}) - set(pri))
    if unknown:
        raise ArgumentError(f"`priors` names unknown parameters {unknown}; the model has {sorted(pri)}")
    pri.update(priors or {})
    settings = NutsSettings(num_warmup=num_warmup, num_samples=num_samples, num_chains=num_chains,
                            target_accept=float(target_accept), max_tree_depth=max_tree_depth, seed=int(seed))
    data = {"logx": jnp.asarray(np.log(N / N_scale)), "r": jnp.asarray(r), "K": jnp.asarray(K),
            "cens": jnp.asarray(cens), "inst": jnp.asarray(codes)}
    G = len(labels)
    # start: OLS of log(-log p_hat) on log x, with p_hat = r/K (censored: (r + 0.5)/K)
    p_hat = np.clip(np.where(cens, (r + 0.5) / K, r / K), 1e-12, 1 - 1e-9)
    F = np.log(-np.log(p_hat))
    lx = np.log(N / N_scale)
    if np.var(lx) > 0:
        slope = float(np.cov(lx, F, bias=True)[0, 1] / np.var(lx))
    else:
        slope = -0.5
    alpha0 = min(max(-slope, 0.05), 3.0)
    init = {"mu_log_c": float(np.mean(F) + alpha0 * np.mean(lx)), "mu_log_alpha": math.log(alpha0)}
    if G > 1:
        init.update(tau_log_c=0.5, tau_log_alpha=0.2, z_c=np.zeros(G), z_alpha=np.zeros(G))
    key = ("passuntil", G, json.dumps({k: v.to_dict() for k, v in sorted(pri.items())}))
    run = run_nuts(_model(G, pri), (data,), init, settings, progress=progress, cache_key=key,
                   chain_method=chain_method)
    table = pd.DataFrame({"N": N, "r": r, "K": K, "censored": cens, "instance": codes})
    idata = _idata.build_idata(dict(run.samples), run.stats, attrs={"scalefit_format": PassUntilPosterior.FORMAT})
    names = ["mu_log_c", "mu_log_alpha"] + (["tau_log_c", "tau_log_alpha", "log_c", "log_alpha"] if G > 1 else [])
    diag = compute_diagnostics(idata, names, thresholds=thresholds)
    settings_d = {**settings.to_dict(), "chain_method": run.chain_method}
    meta = {"versions": versions()}
    return PassUntilPosterior(table, labels, float(N_scale), pri, idata, diag, settings_d, meta)
