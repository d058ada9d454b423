"""Posterior of any registered mixing family (docs/best_of_n.md#adding-a-mixing-family).

The model is the family's own spec (:class:`scalefit.sampling.MixingFamily`): its parameters on
the unconstrained scale, its prior there, and as likelihood the sum over distinct observation
rows of multiplicity x the family's log-kernel (interval-censored rows as log(A - B), exactly as
in the point fits).  So every registered family, Kumaraswamy and the grid families included, has
a posterior, and the posterior mode is the point fit of ``fit_mixing(prior=True)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
import pandas as pd

from .._config import require_x64
from ..errors import ArgumentError
from ..sampling import get_family
from ..sampling.censored import as_item_data
from ..sampling.models import ItemData, fit_mixing, item_data, item_loglik, likelihood_table, population_rates, \
    row_loglik, solve_probabilities
from . import _idata
from ._base import PosteriorMixin, interval_columns, record_draws, record_tail
from ._nuts import NutsSettings, run_nuts
from .diagnostics import Diagnostics, Thresholds, compute_diagnostics
from .posterior import quantile_columns, versions

__all__ = ["MixingPosterior", "fit_mixing_bayes", "HierarchicalMixingPosterior", "fit_hierarchical_mixing"]


def _nuts_settings(nuts: Mapping) -> NutsSettings:
    unknown = sorted(set(nuts) - set(NutsSettings.__dataclass_fields__))
    if unknown:
        raise ArgumentError(f"`{unknown[0]}` is not a sampler setting; have {', '.join(NutsSettings.__dataclass_fields__)}")
    return NutsSettings(**nuts)


def _family_model(fam):
    """numpyro model: theta (unconstrained) with the family's prior and log-kernel likelihood."""
    P = fam.n_params

    def model(table):
        theta = numpyro.sample("theta", dist.ImproperUniform(dist.constraints.real_vector, (), (P,)))
        numpyro.factor("prior", -fam.prior(theta))
        numpyro.factor("loglik", jnp.sum(table["w"] * row_loglik(fam, theta, table)))
        for name, value in fam.natural_draws(theta).items():
            numpyro.deterministic(name, value)

    return model


def _build_idata(model: str, post, stats, data: ItemData):
    chains, draws = post["theta"].shape[:2]
    ll = item_loglik(model, post["theta"].reshape(chains * draws, -1), data).reshape(chains, draws, -1)
    return _idata.build_idata(post, stats, log_likelihood={"k": ll},
                              observed={"k": data.k, "n": data.n, "extra": data.extra},
                              dims={"k": ["item"], "n": ["item"], "extra": ["item"], "theta": ["coordinate"]},
                              attrs={"scalefit_format": MixingPosterior.FORMAT})



def _draw_table(Ns, vals: np.ndarray, levels, **extra) -> pd.DataFrame:
    """Per-draw rates (draws, N) summarised: the ``extra`` columns, N, mean, median and quantiles of
    each level, and the protocol's estimate/lower/upper at the first level."""
    out = pd.DataFrame({**extra, "N": Ns, "mean": vals.mean(axis=0), **quantile_columns(vals, levels)})
    return interval_columns(out, levels[0])

class _FamilyPosterior(PosteriorMixin):
    """Summary and JSON shared by the mixing-family posteriors (attributes ``model``, ``data``)."""

    def _title(self) -> str:  # pragma: no cover - every subclass names itself
        raise NotImplementedError

    def _record(self) -> dict:
        return {}

    def summary(self, level: float = 0.9) -> str:
        lines = [self._title(), f"  prior: {get_family(self.model).prior_text or 'see the family spec'}",
                 self.param_table(level).to_string(index=False, float_format=lambda v: f"{v:.5g}"),
                 *self._verdict_lines()]
        return "\n".join(lines)

    def to_dict(self) -> dict:
        d = self.data
        return self._json_record({"model": self.model, **self._record(), "n": d.n.tolist(), "k": d.k.tolist(),
                                  "extra": d.extra.tolist()})


@dataclass(frozen=True, eq=False)
class MixingPosterior(_FamilyPosterior):
    """Posterior of one mixing family for one group of items (frozen).

    Attributes
    ----------
    model : str
        Family name (see :func:`scalefit.sampling.available_families`).
    data : ItemData
    idata : arviz.InferenceData
        ``posterior`` (``theta`` on the unconstrained scale and each natural parameter),
        ``sample_stats``, ``log_likelihood`` (per item).
    diagnostics : Diagnostics
    settings, metadata : dict
    """

    FORMAT = "scalefit.MixingPosterior"

    model: str
    data: ItemData = field(repr=False)
    idata: Any = field(repr=False)
    diagnostics: Diagnostics = field(repr=False)
    settings: Mapping[str, Any] = field(repr=False)
    metadata: Mapping[str, Any] = field(default_factory=dict, repr=False)

    def param_table(self, level: float = 0.9) -> pd.DataFrame:
        return self._table(self.names, level)

    @property
    def names(self) -> tuple[str, ...]:
        """The family's natural parameters."""
        return get_family(self.model).param_names

    def predict(self, N, *, target: str = "fresh", levels: Sequence[float] = (0.9,)) -> pd.DataFrame:
        """Benchmark pass@N of the observed items per draw (``target`` as in
        :meth:`scalefit.sampling.MixingFit.predict`), summarised: columns N, mean, median, quantiles, estimate, lower, upper."""
        Ns = np.atleast_1d(np.asarray(N, float))
        thetas = self.draws("theta")
        vals = np.stack([solve_probabilities(self.model, thetas, self.data, NN, target).mean(axis=1) for NN in Ns], 1)
        return _draw_table(Ns, vals, levels)

    def population(self, N, *, levels: Sequence[float] = (0.9,)) -> pd.DataFrame:
        """Population pass@N for new items per draw, summarised."""
        Ns = np.atleast_1d(np.asarray(N, float))
        vals = population_rates(self.model, self.draws("theta"), Ns)
        return _draw_table(Ns, vals, levels)

    def _title(self) -> str:
        return f"{self.model} posterior ({get_family(self.model).description}; {self.data.size} items)"

    @classmethod
    def from_dict(cls, d: Mapping) -> "MixingPosterior":
        try:
            model = str(d["model"])
            get_family(model)
            data = item_data(d["n"], d["k"], extra=d["extra"])
            return cls(model, data, _build_idata(model, *record_draws(d), data), *record_tail(d))
        except KeyError as exc:
            raise ArgumentError(f"mixing posterior record lacks the field {exc.args[0]!r}") from None


def fit_mixing_bayes(data, k=None, model: str = "kumaraswamy", *, thresholds: Thresholds | None = None,
                     progress: bool | None = None, chain_method: str | None = None, **nuts) -> MixingPosterior:
    """Posterior of a registered mixing family for one group of items, by NUTS.

    The prior is the family's (the weak priors of ``fit_mixing(prior=True)``); the likelihood
    is the family's log-kernel of every item's observations.  Chains start at the point fit.

    Parameters
    ----------
    data, k
        As for :func:`scalefit.sampling.fit_mixing`.
    model : str
        A registered family.
    thresholds, progress, chain_method
        As for :func:`scalefit.bayes.fit_beta_binomial_bayes`.
    **nuts
        Sampler settings, the fields of :class:`scalefit.bayes.NutsSettings` (``num_warmup``,
        ``num_samples``, ``num_chains``, ``target_accept``, ``max_tree_depth``, ``seed``, ...).

    Examples
    --------
    >>> k = [0,0,0,0,0,0,1,0,2,0,0,5,0,1,0,0,12,0,3,0,0,0,7,0,0,1,0,20,0,0]
    >>> post = fit_mixing_bayes(20, k, model="kumaraswamy")  # doctest: +SKIP
    >>> post.predict(1000)  # doctest: +SKIP
    """
    require_x64()
    fam = get_family(model)
    data = as_item_data(data, k)
    start = fit_mixing(data, model=model, prior=True)
    table = likelihood_table(fam, data)
    interval = table["aux_int"] is not None
    settings = _nuts_settings(nuts)
    run = run_nuts(_family_model(fam), (table,), {"theta": start.theta}, settings, progress=progress,
                   cache_key=("mixing", fam, interval), chain_method=chain_method)
    post = dict(run.samples)
    idata = _build_idata(model, post, run.stats, data)
    diag = compute_diagnostics(idata, ["theta", *fam.param_names], thresholds=thresholds)
    settings_d = {**settings.to_dict(), "chain_method": run.chain_method}
    return MixingPosterior(model, data, idata, diag, settings_d, {"versions": versions(), "start": start.to_dict()})


# ============================================================================ hierarchical
def _hier_model(fam, G: int):
    """Groups' parameters theta_g = mu + tau * z_g on the unconstrained scale (non-centred);
    mu has the family's prior, tau ~ HalfNormal(1) per coordinate; each group's likelihood is the
    family's log-kernel of its own rows."""
    P = fam.n_params

    def model(table):
        mu = numpyro.sample("mu", dist.ImproperUniform(dist.constraints.real_vector, (), (P,)))
        numpyro.factor("prior", -fam.prior(mu))
        tau = numpyro.sample("tau", dist.HalfNormal(jnp.ones(P)).to_event(1))
        z = numpyro.sample("z", dist.Normal(jnp.zeros((G, P)), 1.0).to_event(2))
        theta = numpyro.deterministic("theta", mu + tau * z)
        ll = jax.vmap(lambda t: row_loglik(fam, t, table))(theta)  # (G, rows)
        numpyro.factor("loglik", jnp.sum(table["w"] * ll))
        for name, value in fam.natural_draws(theta).items():
            numpyro.deterministic(name, value)

    return model


def _hier_idata(model: str, groups, post, stats, data: ItemData, code: np.ndarray):
    chains, draws = post["theta"].shape[:2]
    th = post["theta"].reshape(chains * draws, len(groups), -1)
    ll = np.zeros((chains * draws, data.size))
    for j in range(len(groups)):
        sel = np.flatnonzero(code == j)
        ll[:, sel] = item_loglik(model, th[:, j], data.take(sel))
    dims = {nm: ["group"] for nm in get_family(model).param_names}
    dims.update(theta=["group", "coordinate"], z=["group", "coordinate"], mu=["coordinate"], tau=["coordinate"],
                k=["item"], n=["item"], extra=["item"], group=["item"])
    return _idata.build_idata(post, stats, log_likelihood={"k": ll.reshape(chains, draws, -1)},
                              observed={"k": data.k, "n": data.n, "extra": data.extra, "group": code},
                              dims=dims, coords={"group": list(groups)},
                              attrs={"scalefit_format": HierarchicalMixingPosterior.FORMAT})


@dataclass(frozen=True, eq=False)
class HierarchicalMixingPosterior(_FamilyPosterior):
    """Posterior of one mixing family for several groups of items pooled through a population
    distribution of their unconstrained parameters (frozen).

    ``groups`` lists the labels in the order of the per-group vectors; ``data`` holds every item
    and ``code`` its group.  ``mu`` and ``tau`` are the population mean and scale of ``theta``.
    """

    FORMAT = "scalefit.HierarchicalMixingPosterior"

    model: str
    groups: tuple
    data: ItemData = field(repr=False)
    code: np.ndarray = field(repr=False)
    idata: Any = field(repr=False)
    diagnostics: Diagnostics = field(repr=False)
    settings: Mapping[str, Any] = field(repr=False)
    metadata: Mapping[str, Any] = field(default_factory=dict, repr=False)

    def param_table(self, level: float = 0.9) -> pd.DataFrame:
        names = get_family(self.model).param_names
        return self._table(["mu", "tau", *names], level, labels={nm: self.groups for nm in names})

    def predict(self, N, *, target: str = "fresh", levels: Sequence[float] = (0.9,)) -> pd.DataFrame:
        """Per group, pass@N of its observed items per draw, summarised (columns group, N, mean, quantiles)."""
        Ns = np.atleast_1d(np.asarray(N, float))
        th = self.draws("theta")
        frames = []
        for j, g in enumerate(self.groups):
            sub = self.data.take(np.flatnonzero(self.code == j))
            vals = np.stack([solve_probabilities(self.model, th[:, j], sub, NN, target).mean(axis=1) for NN in Ns], 1)
            frames.append(_draw_table(Ns, vals, levels, group=g))
        return pd.concat(frames, ignore_index=True)

    def _title(self) -> str:
        return (f"hierarchical {self.model} posterior ({get_family(self.model).description}; "
                f"{len(self.groups)} groups, {self.data.size} items)")

    def _record(self) -> dict:
        return {"groups": list(self.groups), "group": self.code.tolist()}

    @classmethod
    def from_dict(cls, d: Mapping) -> "HierarchicalMixingPosterior":
        try:
            model, groups = str(d["model"]), tuple(d["groups"])
            get_family(model)
            data = item_data(d["n"], d["k"], extra=d["extra"])
            code = np.asarray(d["group"], np.int64)
            return cls(model, groups, data, code, _hier_idata(model, groups, *record_draws(d), data, code),
                       *record_tail(d))
        except KeyError as exc:
            raise ArgumentError(f"hierarchical mixing posterior record lacks the field {exc.args[0]!r}") from None


def fit_hierarchical_mixing(groups: Mapping[str, Any], model: str = "kumaraswamy", *,
                            thresholds: Thresholds | None = None, progress: bool | None = None,
                            chain_method: str | None = None, **nuts) -> HierarchicalMixingPosterior:
    """Hierarchical posterior of a registered mixing family: each group's parameters on the
    unconstrained scale are theta_g = mu + tau z_g, z_g ~ Normal(0, 1), with the family's prior on
    the population mean mu and tau ~ HalfNormal(1) per parameter.

    Parameters
    ----------
    groups : mapping
        Group label -> that group's items (an :class:`~scalefit.sampling.ItemData`, a counts
        frame, or an ``(n, k)`` pair); at least 2 groups.
    model : str
        A registered family.
    thresholds, progress, chain_method, **nuts
        As for :func:`fit_mixing_bayes` (``target_accept`` defaults to 0.95 here: the scales tau
        have posterior mass near 0, where smaller steps avoid divergences).
    """
    require_x64()
    fam = get_family(model)
    if not isinstance(groups, Mapping) or len(groups) < 2:
        raise ArgumentError("`groups` must map at least 2 group labels to their items (use fit_mixing_bayes for one)")
    labels = tuple(str(g) for g in groups)
    parts = [as_item_data(*(v if isinstance(v, tuple) else (v,))) for v in groups.values()]
    code = np.concatenate([np.full(p.size, j) for j, p in enumerate(parts)])
    data = ItemData(*(np.concatenate([getattr(p, f) for p in parts]) for f in ("n", "k", "extra", "first_success",
                                                                                "attempts")))
    starts = np.stack([fit_mixing(p, model=model, prior=True).theta for p in parts])
    mu = starts.mean(axis=0)
    tau = np.maximum(starts.std(axis=0), 0.1)
    table = likelihood_table(fam, data, code)
    nuts.setdefault("target_accept", 0.95)
    settings = _nuts_settings(nuts)
    run = run_nuts(_hier_model(fam, len(parts)), (table,), {"mu": mu, "tau": tau, "z": (starts - mu) / tau}, settings,
                   progress=progress, cache_key=("hmixing", fam, len(parts), table["aux_int"] is not None),
                   chain_method=chain_method)
    idata = _hier_idata(model, labels, dict(run.samples), run.stats, data, code)
    diag = compute_diagnostics(idata, ["mu", "tau", *fam.param_names], thresholds=thresholds)
    settings_d = {**settings.to_dict(), "chain_method": run.chain_method}
    return HierarchicalMixingPosterior(model, labels, data, code, idata, diag, settings_d, {"versions": versions()})
