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
from ._base import PosteriorMixin
from ._nuts import NutsSettings, run_nuts
from .diagnostics import Diagnostics, Thresholds, compute_diagnostics
from .posterior import quantile_columns, versions

__all__ = ["MixingPosterior", "fit_mixing_bayes"]


def _family_model(fam, interval: bool):
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


@dataclass(frozen=True, eq=False)
class MixingPosterior(PosteriorMixin):
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

    @property
    def names(self) -> tuple[str, ...]:
        return get_family(self.model).param_names

    def param_table(self, level: float = 0.9) -> pd.DataFrame:
        return self._table(self.names, level)

    def predict(self, N, *, target: str = "fresh", levels: Sequence[float] = (0.9,)) -> pd.DataFrame:
        """Benchmark pass@N of the observed items per draw (``target`` as in
        :meth:`scalefit.sampling.MixingFit.predict`), summarised: columns N, mean, quantiles."""
        Ns = np.atleast_1d(np.asarray(N, float))
        thetas = self.draws("theta")
        vals = np.stack([solve_probabilities(self.model, thetas, self.data, NN, target).mean(axis=1) for NN in Ns], 1)
        return pd.DataFrame({"N": Ns, "mean": vals.mean(axis=0), **quantile_columns(vals, levels)})

    def population(self, N, *, levels: Sequence[float] = (0.9,)) -> pd.DataFrame:
        """Population pass@N for new items per draw, summarised."""
        Ns = np.atleast_1d(np.asarray(N, float))
        vals = population_rates(self.model, self.draws("theta"), Ns)
        return pd.DataFrame({"N": Ns, "mean": vals.mean(axis=0), **quantile_columns(vals, levels)})

    def summary(self, level: float = 0.9) -> str:
        fam = get_family(self.model)
        lines = [f"{self.model} posterior ({fam.description}; {self.data.size} items)",
                 f"  prior: {fam.prior_text or 'see the family spec'}",
                 self.param_table(level).to_string(index=False, float_format=lambda v: f"{v:.5g}"),
                 self.diagnostics.summary(),
                 ("converged: " if self.converged else "NOT CONVERGED: ") + self.status]
        return "\n".join(lines)

    def to_dict(self) -> dict:
        from ..fit.result import _clean

        d = self.data
        return _clean({
            "format": self.FORMAT, "version": 1, "model": self.model, "n": d.n.tolist(), "k": d.k.tolist(),
            "extra": d.extra.tolist(), **self._groups_json(), "diagnostics": self.diagnostics.to_dict(),
            "settings": dict(self.settings), "metadata": dict(self.metadata),
        })

    @classmethod
    def from_dict(cls, d: Mapping) -> "MixingPosterior":
        try:
            model = str(d["model"])
            get_family(model)
            data = item_data(d["n"], d["k"], extra=d["extra"])
            post, stats = _idata.group_from_json(d["posterior"]), _idata.group_from_json(d["sample_stats"])
            return cls(model, data, _build_idata(model, post, stats, data), Diagnostics.from_dict(d["diagnostics"]),
                       dict(d["settings"]), dict(d.get("metadata") or {}))
        except KeyError as exc:
            raise ArgumentError(f"mixing posterior record lacks the field {exc.args[0]!r}") from None


def fit_mixing_bayes(
    data, k=None, model: str = "kumaraswamy", *,
    num_warmup: int = 1000,
    num_samples: int = 1000,
    num_chains: int = 4,
    target_accept: float = 0.8,
    max_tree_depth: int = 10,
    seed: int = 0,
    thresholds: Thresholds | None = None,
    progress: bool | None = None,
    chain_method: str | None = None,
) -> MixingPosterior:
    """Posterior of a registered mixing family for one group of items, by NUTS.

    The prior is the family's (the weak priors of ``fit_mixing(prior=True)``); the likelihood
    is the family's log-kernel of every item's observations.  Chains start at the point fit.

    Parameters
    ----------
    data, k
        As for :func:`scalefit.sampling.fit_mixing`.
    model : str
        A registered family.

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
    settings = NutsSettings(num_warmup=num_warmup, num_samples=num_samples, num_chains=num_chains,
                            target_accept=float(target_accept), max_tree_depth=max_tree_depth, seed=int(seed))
    run = run_nuts(_family_model(fam, interval), (table,), {"theta": start.theta}, settings, progress=progress,
                   cache_key=("mixing", fam, interval), chain_method=chain_method)
    post = dict(run.samples)
    idata = _build_idata(model, post, run.stats, data)
    diag = compute_diagnostics(idata, ["theta", *fam.param_names], thresholds=thresholds)
    settings_d = {**settings.to_dict(), "chain_method": run.chain_method}
    return MixingPosterior(model, data, idata, diag, settings_d, {"versions": versions(), "start": start.to_dict()})
