"""Posterior of the pooled best-of-N model (groups that share items), by NUTS.

The model is :mod:`scalefit.sampling.pooled`'s: logit p_ig = s_g u_i + x_ig with a shared item
effect u_i ~ N(0, 1) and each group's residual family F_g.  The item effects are integrated out
by the same quadrature as in the point fit (61 normal nodes, the residual on the logit grid),
so the sampler moves only in the G x 3 group parameters (the family's two unconstrained
parameters and log s per group); the priors are the point fit's, so the posterior mode is
:func:`~scalefit.sampling.pooled.fit_pooled`'s fit, where the chains start.

Forecasts evaluate every draw and every budget in one compiled pass of the pooled model's
forecast machinery (:func:`~scalefit.sampling.pooled.pooled_chances`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
import pandas as pd

from .._config import require_x64
from .._result import check_level
from ..errors import ArgumentError
from ..sampling.pooled import PooledData, PooledFit, fit_pooled, pooled_chances, pooled_data, \
    pooled_log_posterior, pooled_shared_share
from . import _idata
from ._base import PosteriorMixin, interval_columns, level_quantiles, qname, record_draws, record_tail
from ._nuts import NutsSettings, run_nuts
from .diagnostics import Diagnostics, Thresholds, compute_diagnostics
from .posterior import quantile_columns, versions

__all__ = ["PooledPosterior", "fit_pooled_bayes"]

#: per-group quantities recorded for every draw (besides ``theta`` (G, 3)); the first three
#: are the sampled coordinates, the diagnostics gate all of them
QUANTITIES = ("param_1", "param_2", "log_s", "s", "shared_share")
_PARAM_TEXT = {"logit_normal": "(mu, log sigma)", "kumaraswamy": "(log a, log b)", "beta": "(log a, log b)"}


def _settings(nuts: Mapping | None, seed: int) -> NutsSettings:
    if nuts is not None and not isinstance(nuts, Mapping):
        raise ArgumentError("`nuts` must be a mapping of sampler settings, e.g. {'num_samples': 500}")
    nuts = dict(nuts or {})
    unknown = sorted(set(nuts) - set(NutsSettings.__dataclass_fields__))
    if unknown:
        raise ArgumentError(f"`{unknown[0]}` is not a sampler setting; have "
                            f"{', '.join(NutsSettings.__dataclass_fields__)}")
    if "seed" in nuts and not isinstance(nuts["seed"], (int, np.integer)):
        raise ArgumentError(f"nuts={{'seed': {nuts['seed']!r}}} must be an integer")
    if "seed" in nuts and int(nuts["seed"]) != int(seed):
        raise ArgumentError("give the sampler's seed once: `seed=` or nuts={'seed': ...}, not both")
    nuts["seed"] = int(seed)
    return NutsSettings(**nuts)


def _model(G: int, log_post):
    """numpyro model: theta (G, 3) flat-improper, the pooled log posterior as one factor (its
    priors are the point fit's, so nothing else enters)."""

    def model(tables):
        theta = numpyro.sample("theta", dist.ImproperUniform(dist.constraints.independent(dist.constraints.real, 2),
                                                             (), (G, 3)))
        numpyro.factor("log_posterior", log_post(theta.reshape(-1), tables))

    return model


def _posterior_dict(theta: np.ndarray, families) -> dict:
    """Recorded draws from theta (chains, draws, G, 3)."""
    C, S, G, _ = theta.shape
    share = pooled_shared_share(theta.reshape(C * S, G, 3), families).reshape(C, S, G)
    return {"theta": theta, "param_1": theta[..., 0], "param_2": theta[..., 1], "log_s": theta[..., 2],
            "s": np.exp(theta[..., 2]), "shared_share": share}


def _build_idata(post: Mapping, stats, data: PooledData, families):
    dims = {q: ["group"] for q in QUANTITIES}
    dims["theta"] = ["group", "coordinate"]
    return _idata.build_idata(post, stats, observed={"n": data.n, "k": data.k},
                              dims={**dims, "n": ["group", "item"], "k": ["group", "item"]},
                              coords={"group": [str(g) for g in data.groups]},
                              attrs={"scalefit_format": PooledPosterior.FORMAT, "families": list(families)})


@dataclass(frozen=True, eq=False)
class PooledPosterior(PosteriorMixin):
    """Posterior of the pooled best-of-N model (frozen).

    Attributes
    ----------
    data : PooledData
    families : tuple
        The residual family of every group.
    idata : arviz.InferenceData
        ``posterior``: ``theta`` (group, coordinate) on the point fit's scale and per group
        ``param_1``, ``param_2`` (the family's parameters), ``log_s``, ``s`` and
        ``shared_share``; ``sample_stats``.
    diagnostics : Diagnostics
    settings, metadata : dict
        ``metadata["map_theta"]``: the point fit the chains started from.
    """

    FORMAT = "scalefit.PooledPosterior"

    data: PooledData = field(repr=False)
    families: tuple
    idata: Any = field(repr=False)
    diagnostics: Diagnostics = field(repr=False)
    settings: Mapping[str, Any] = field(repr=False)
    metadata: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @property
    def groups(self) -> tuple:
        return tuple(self.data.groups)

    @property
    def thetas(self) -> np.ndarray:
        """Draws (S, G, 3) of the parameters, as :attr:`PooledFit.theta` holds the point fit's."""
        return self.draws("theta")

    @property
    def map_theta(self) -> np.ndarray:
        """The point fit (G, 3) the chains started from."""
        return np.asarray(self.metadata["map_theta"], float)

    def with_metadata(self, **extra) -> "PooledPosterior":
        """The same posterior with ``extra`` added to its metadata (e.g. ``command``, ``source``)."""
        return replace(self, metadata={**self.metadata, **extra})

    def _repr_text(self) -> str:
        return f"{len(self.groups)} groups x {self.data.shape[1]} items, {self._verdict()}"

    def param_table(self, level: float = 0.9) -> pd.DataFrame:
        labels = {q: [str(g) for g in self.groups] for q in QUANTITIES}
        return self._table(list(QUANTITIES), level, labels=labels)

    def rate_draws(self, N, *, target: str = "fresh") -> np.ndarray:
        """(S, len(N), G): every draw's forecast rate per group (mean chance over the items the
        group attempted), all draws and budgets in one compiled pass."""
        return self._rates(_budgets(N), target)[0]

    def _rates(self, N_arr, target):
        p = pooled_chances(self.thetas, self.data, N_arr, target=target, families=self.families)
        return np.nanmean(np.where(self.data.present[None, None], p, np.nan), axis=3), p

    def predict(self, N, *, target: str = "fresh", levels: Sequence[float] = (0.9,), seed: int = 0) -> pd.DataFrame:
        """Per group and budget, pass@N (ASR@N) of the group's attempted items over the posterior
        draws: ``mean``, ``median`` and the central credible quantiles of the expected rate
        (parameter uncertainty), the protocol's ``estimate`` / ``lower`` / ``upper`` at the first
        level, and ``realised_lower`` / ``realised_upper``: the interval of the rate the run
        will realise (each draw followed by one draw of every item's outcome, as the point fit's
        bootstrap intervals are).  ``target`` as in :meth:`PooledFit.forecast`."""
        levels = [check_level(lv) for lv in levels]
        N_arr = _budgets(N)
        rates, p = self._rates(N_arr, target)
        present = self.data.present
        u = np.random.default_rng([int(seed), 1]).random((p.shape[0],) + self.data.shape)
        realised = np.nanmean(np.where(present[None, None], (u[:, None] < p).astype(float), np.nan), axis=3)
        lo, hi = level_quantiles([levels[0]])
        frames = []
        for g, name in enumerate(self.groups):
            out = pd.DataFrame({"group": name, "N": N_arr, "target": target, "mean": rates[:, :, g].mean(axis=0),
                                **quantile_columns(rates[:, :, g], levels)})
            out = interval_columns(out, levels[0])
            out["realised_lower"] = np.quantile(realised[:, :, g], lo, axis=0)
            out["realised_upper"] = np.quantile(realised[:, :, g], hi, axis=0)
            frames.append(out)
        return pd.concat(frames, ignore_index=True)

    def sharing(self, level: float = 0.9) -> pd.DataFrame:
        """Posterior of the shared share s^2 / (s^2 + v) per group (the point fit's sharing
        diagnostic with a credible interval instead of the Wald one)."""
        lo, hi = level_quantiles([check_level(level)])
        sh = self.draws("shared_share")
        return pd.DataFrame({"group": list(self.groups), "family": list(self.families),
                             "median": np.median(sh, axis=0), "mean": sh.mean(axis=0),
                             qname(lo): np.quantile(sh, lo, axis=0), qname(hi): np.quantile(sh, hi, axis=0)})

    def _summary_text(self, level: float = 0.9) -> str:
        fams = ", ".join(f"{g}: {f} {_PARAM_TEXT[f]}" for g, f in zip(self.groups, self.families))
        lines = [f"pooled best-of-N posterior ({len(self.groups)} groups x {self.data.shape[1]} items; shared item "
                 f"effect integrated by quadrature)", f"  residual families (param_1, param_2): {fams}",
                 "  priors: the point fit's (each family's own, log s ~ N(0, 2^2))",
                 self._table_text(level), "", "shared share of the item variance:",
                 self.sharing(level).to_string(index=False, float_format=lambda v: f"{v:.4g}"),
                 *self._verdict_lines()]
        return "\n".join(lines)

    def to_dict(self) -> dict:
        d = self.data
        return self._json_record({"groups": [str(g) for g in d.groups], "items": [str(i) for i in d.items],
                                  "families": list(self.families), "n": d.n.tolist(), "k": d.k.tolist(),
                                  "first_success": [[None if not np.isfinite(v) else float(v) for v in row]
                                                    for row in d.first_success],
                                  "until_success": bool(d.until_success), "extra": d.extra.tolist()})

    @classmethod
    def from_dict(cls, d: Mapping) -> "PooledPosterior":
        try:
            fs = d.get("first_success")
            fs = None if fs is None else np.array([[np.nan if v is None else v for v in row] for row in fs], float)
            data = pooled_data(d["n"], d["k"], groups=d["groups"], items=d["items"], first_success=fs,
                               until_success=d.get("until_success"), extra=d.get("extra"))
            fams = tuple(d["families"])
            post, stats = record_draws(d)
            return cls(data, fams, _build_idata(post, stats, data, fams), *record_tail(d))
        except KeyError as exc:
            raise ArgumentError(f"pooled posterior record lacks the field {exc.args[0]!r}") from None


def _budgets(N) -> np.ndarray:
    N_arr = np.atleast_1d(np.asarray(N, float))
    if N_arr.ndim != 1 or not np.all(np.isfinite(N_arr)) or np.any(N_arr < 1):
        raise ArgumentError(f"`N` = {N!r} must be budgets >= 1")
    return N_arr


def _laplace_metric(log_post, tables, theta: np.ndarray, dense: bool):
    """The inverse of the observed information at the point fit (the negative Hessian of the log
    posterior, by central differences of its gradient: 2 x 3G gradients) as the sampler's starting
    metric, the full matrix or its diagonal; None when it is not positive definite."""
    grad = jax.jit(jax.grad(log_post))
    x = np.asarray(theta, float).ravel()
    h = 1e-4  # truncation ~h^2 of a third derivative, rounding ~1e-16 |log p| / h: both far below 1e-4 relative
    H = np.stack([(np.asarray(grad(x + h * e, tables)) - np.asarray(grad(x - h * e, tables))) / (2 * h)
                  for e in np.eye(x.size)])
    info = -(H + H.T) / 2
    try:
        np.linalg.cholesky(info)
    except np.linalg.LinAlgError:
        return None
    cov = np.linalg.inv(info)
    return cov if dense else np.diag(cov).copy()


def fit_pooled_bayes(data: PooledData | PooledFit, *, families=None, nuts: Mapping | None = None, seed: int = 0,
                     thresholds: Thresholds | None = None, progress: bool | None = None,
                     chain_method: str | None = None, mass_start: str = "identity") -> PooledPosterior:
    """Posterior of the pooled best-of-N model by NUTS.

    Same likelihood and priors as :func:`scalefit.sampling.pooled.fit_pooled` (the item
    effects integrated out by its quadrature), so the posterior mode is that point fit; the
    chains start at it (plus the sampler's small jitter).

    Parameters
    ----------
    data : PooledData or PooledFit
        Counts (the point fit is computed here) or a point fit with the shared effect (its
        data and families are used).
    families : sequence of str, optional
        Residual family per group (:data:`~scalefit.sampling.pooled.POOLED_FAMILIES`; default
        logit-normal, or the fit's).
    nuts : mapping, optional
        Sampler settings, the fields of :class:`scalefit.bayes.NutsSettings` (``num_warmup``,
        ``num_samples``, ``num_chains``, ``target_accept``, ...).
    seed : int
        The sampler's seed.
    thresholds, progress, chain_method
        As for :func:`scalefit.bayes.fit_mixing_bayes`.
    mass_start : {"identity", "laplace"}
        The warm-up's starting metric: the identity (default) or the inverse observed
        information at the point fit (the identity where that is not positive definite); warm-up
        adapts it either way.  "laplace" shortened slow warm-ups on real data but did not help
        on small simulated data (docs/bayes.md#groups-that-share-items-the-pooled-posterior).
    """
    require_x64()
    settings = _settings(nuts, seed)
    if mass_start not in ("laplace", "identity"):
        raise ArgumentError(f"`mass_start` = {mass_start!r} must be 'laplace' or 'identity'")
    if isinstance(data, PooledFit):
        fit = data
        if not fit.shared:
            raise ArgumentError("the point fit has no shared item effect (shared=False); pass its data instead")
        fit_fams = tuple(fit.families or ("logit_normal",) * fit.data.shape[0])
        if families is not None and tuple(families) != fit_fams:
            raise ArgumentError(f"`families` {tuple(families)} differ from the point fit's {fit_fams}; "
                                "pass the data to fit them")
        families = fit_fams
    elif isinstance(data, PooledData):
        fit = fit_pooled(data, families=families)
    else:
        raise ArgumentError("`data` must be a PooledData (see pooled_data) or a PooledFit")
    log_post, tables, fams = pooled_log_posterior(fit.data, families)
    G = fit.data.shape[0]
    model = _model(G, log_post)
    metric = _laplace_metric(log_post, tables, fit.theta, settings.dense_mass) if mass_start == "laplace" else None
    run = run_nuts(model, (tables,), {"theta": jnp.asarray(fit.theta)}, settings, progress=progress,
                   cache_key=("pooled", log_post, tuple(t.shape for t in tables)), chain_method=chain_method,
                   inverse_mass_matrix=metric)
    post = _posterior_dict(np.asarray(run.samples["theta"]), fams)
    idata = _build_idata(post, run.stats, fit.data, fams)
    diag = compute_diagnostics(idata, list(QUANTITIES), thresholds=thresholds)
    meta = {"versions": versions(), "map_theta": fit.theta.tolist(), "map_converged": bool(fit.converged),
            "seconds": run.seconds, "mass_start": "laplace" if metric is not None else "identity"}
    return PooledPosterior(fit.data, fams, idata, diag, {**settings.to_dict(), "chain_method": run.chain_method}, meta)
