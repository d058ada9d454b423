"""The numpyro model shared by every loss-curve law (docs/bayes.md#model).

The same :class:`~scalefit.laws.ScalingLaw` function and :class:`~scalefit.params.ParamSpec`
that drive point fits drive the model: each free coordinate's prior variable is sampled, the
coordinate follows deterministically (``a = log A_ref + α log x_ref``, ``e = log(u·L_min)``),
and the law's stable log-space mean enters the likelihood:

* log-target laws: ``log L_i ~ StudentT(ν, μ_i + u_run(i), σ)`` (or Normal), run effects
  ``u_r ~ N(0, τ_run)`` for checkpoint data, centred (sampled directly: best when every run has
  several checkpoints, which pin its effect down) or non-centred (``u_r = τ_run·z_r``,
  ``z_r ~ N(0, 1)``: best when runs have one or two rows);
* natural-scale links: ``y_i ~ Beta(m_i φ, (1 − m_i) φ)`` for accuracies/errors in (0, 1), else
  Student-t on ``y``.

Pointwise log-likelihoods are reported on the natural scale of the observation (the log-target
density minus log y), so that laws fitted in different target spaces can be compared by LOO.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist

from ..errors import ArgumentError
from ..laws import ScalingLaw
from ..params import Prior
from ._priors import LINEAR_SIGMA_PRIOR, NOISE_PRIORS, depends_on, needed_summaries, to_coordinate, \
    to_distribution, variable_name

LIKELIHOODS = ("student_t", "normal", "beta")
_BETA_EPS = 1e-9


@dataclass(frozen=True)
class LawPlan:
    """Static description of a law's Bayesian model (everything but the data arrays)."""

    law: ScalingLaw
    free: tuple
    fixed: Mapping[str, float]
    tied: Mapping[str, str]
    priors: Mapping[str, Prior]          # free coordinates and nuisance parameters in use
    sites: Mapping[str, str]             # free coordinate -> sample site of its prior variable
    likelihood: str
    run_effects: bool
    n_runs: int = 1
    order: tuple = field(default=())     # free coordinates in dependency order
    runs_centered: bool = False          # run effects u_r ~ N(0, τ) sampled directly (else u_r = τ z_r)

    @property
    def run_site(self) -> str:
        return "u_run" if self.runs_centered else "z_run"

    @property
    def structure_key(self) -> str:
        """Everything that shapes the compiled model (data enter as arguments)."""
        import json

        law_id = [self.law.name, sorted(dict(self.law.options).items())]
        if dict(self.law.options).get("custom"):
            law_id.append(id(self.law.fn))
        return json.dumps([law_id, list(self.free), sorted(self.fixed.items()), sorted(self.tied.items()),
                           {k: v.to_dict() for k, v in sorted(self.priors.items())}, self.likelihood,
                           self.run_effects, self.n_runs, list(self.order), self.runs_centered], default=str)

    @property
    def log_target(self) -> bool:
        return self.law.target == "log"

    @property
    def nuisance(self) -> tuple[str, ...]:
        out = []
        if self.likelihood in ("student_t", "normal"):
            out.append("sigma")
        if self.likelihood == "student_t":
            out.append("nu")
        if self.likelihood == "beta":
            out.append("phi")
        if self.run_effects:
            out.append("tau_run")
        return tuple(out)

    @property
    def sample_sites(self) -> tuple[str, ...]:
        """Latent sample sites (prior variables, nuisance, run effects)."""
        out = [self.sites[n] for n in self.free] + list(self.nuisance)
        if self.run_effects:
            out.append(self.run_site)
        return tuple(out)

    @property
    def diagnostic_names(self) -> tuple[str, ...]:
        """Quantities whose R-hat/ESS gate the fit (coordinates, prior variables, nuisance)."""
        names = list(dict.fromkeys([self.sites[n] for n in self.free] + list(self.free) + list(self.nuisance)))
        return tuple(names)


def make_plan(law: ScalingLaw, free, fixed, tied, priors: Mapping[str, Prior] | None, *, likelihood: str,
              run_effects: bool, n_runs: int, prior_scale: float = 1.0,
              summaries: Mapping[str, float] | None = None, runs_centered: bool = False) -> LawPlan:
    """Resolve the priors of a fit (user overrides, then the law's defaults) and check them."""
    user = dict(priors or {})
    if likelihood not in LIKELIHOODS:
        raise ArgumentError(f"`likelihood` = {likelihood!r} is not one of {', '.join(LIKELIHOODS)}")
    if likelihood == "beta" and law.target == "log":
        raise ArgumentError("`likelihood` = 'beta' is for laws on the natural scale (accuracy/error links)")
    nuisance = []
    if likelihood in ("student_t", "normal"):
        nuisance.append("sigma")
    if likelihood == "student_t":
        nuisance.append("nu")
    if likelihood == "beta":
        nuisance.append("phi")
    if run_effects:
        nuisance.append("tau_run")
    known = set(law.param_names) | set(NOISE_PRIORS)
    unknown = sorted(set(user) - known)
    if unknown:
        raise ArgumentError(
            f"`priors` names unknown parameters {unknown}; law `{law.name}` has {list(law.param_names)} "
            f"and likelihood parameters {sorted(NOISE_PRIORS)}"
        )
    not_free = sorted(k for k in user if k in law.param_names and k not in free)
    if not_free:
        raise ArgumentError(f"`priors` given for fixed or tied parameters {not_free}")
    out: dict[str, Prior] = {}
    for n in free:
        p = user.get(n, law.params[n].prior)
        if p is None:
            raise ArgumentError(
                f"parameter `{n}` of law `{law.name}` has no default prior: pass priors={{'{n}': Prior...}} "
                "(see scalefit.Prior)"
            )
        if not isinstance(p, Prior):
            raise ArgumentError(f"`priors['{n}']` must be a scalefit Prior, got {type(p).__name__}")
        out[n] = p
    for n in nuisance:
        default = LINEAR_SIGMA_PRIOR if (n == "sigma" and law.target != "log") else NOISE_PRIORS[n]
        p = user.get(n, default)
        if not isinstance(p, Prior):
            raise ArgumentError(f"`priors['{n}']` must be a scalefit Prior, got {type(p).__name__}")
        out[n] = p
    if prior_scale != 1.0:
        out = {k: v.widened(prior_scale) for k, v in out.items()}
    # reference transforms need their exponent (free, fixed or tied) and their input
    for n in free:
        dep = depends_on(out[n])
        if dep is not None:
            if dep not in law.param_names:
                raise ArgumentError(f"prior of `{n}` refers to exponent `{dep}`, which law `{law.name}` lacks")
            if out[n].input not in law.inputs:
                raise ArgumentError(f"prior of `{n}` refers to input `{out[n].input}`, which law `{law.name}` lacks")
            chain = tied.get(dep, dep)
            if chain in free and depends_on(out[chain]) is not None:
                raise ArgumentError(f"prior of `{n}` depends on `{dep}`, whose own prior depends on another parameter")
    if summaries is not None:
        for n, p in out.items():
            miss = [k for k in needed_summaries(p) if k not in summaries]
            if miss:
                why = "the data has values <= 0" if any(m.startswith("log_") for m in miss) else "the data lacks it"
                raise ArgumentError(
                    f"prior of `{n}` ({p.describe()}) needs data summary {miss[0]!r}, but {why}; "
                    f"pass another prior with priors={{'{n}': ...}}"
                )
    sites = {n: variable_name(n, out[n], law.params[n].natural) for n in free}
    taken = set(law.param_names) | set(nuisance) | {"z_run", "u_run", "y"}
    values = list(sites.values())
    clash = sorted({s for n, s in sites.items() if values.count(s) > 1 or (s != n and s in taken)})
    if clash:
        raise ArgumentError(f"prior variable names {clash} clash with other parameter names; use another transform")
    order = tuple(sorted(free, key=lambda n: depends_on(out[n]) is not None))
    return LawPlan(law, tuple(free), dict(fixed), dict(tied), out, sites, likelihood, bool(run_effects),
                   int(max(n_runs, 1)), order, bool(runs_centered and run_effects))


def coordinates(plan: LawPlan, v: Mapping, summ: Mapping) -> dict:
    """Fit coordinates from prior variables (works on scalars and on arrays of draws)."""
    coords = {k: jnp.asarray(val, dtype=jnp.float64) for k, val in plan.fixed.items()}
    for n in plan.order:
        if depends_on(plan.priors[n]) is None:
            coords[n] = to_coordinate(plan.priors[n], v[n], coords, summ)
    for k, t in plan.tied.items():
        if t in coords:
            coords[k] = coords[t]
    for n in plan.order:
        if depends_on(plan.priors[n]) is not None:
            coords[n] = to_coordinate(plan.priors[n], v[n], coords, summ)
    for k, t in plan.tied.items():
        coords[k] = coords[t]
    return coords


def observation_dist(plan: LawPlan, coords: Mapping, nuis: Mapping, data: Mapping):
    """Distribution of the target-space observations given coordinates and nuisance values."""
    mu = plan.law.fn(coords, data["X"])
    if plan.run_effects:
        mu = mu + nuis["u"][data["run"]]
    if plan.likelihood == "student_t":
        return dist.StudentT(nuis["nu"], mu, nuis["sigma"])
    if plan.likelihood == "normal":
        return dist.Normal(mu, nuis["sigma"])
    m = jnp.clip(mu, _BETA_EPS, 1.0 - _BETA_EPS)
    return dist.Beta(m * nuis["phi"], (1.0 - m) * nuis["phi"])


def make_model(plan: LawPlan):
    """``model(data, observe=True)``; ``data`` = {X, y_t, run, summ} (a pytree; vmappable)."""

    def model(data, observe: bool = True):
        summ = data["summ"]
        v = {n: numpyro.sample(plan.sites[n], to_distribution(plan.priors[n], summ)) for n in plan.order}
        coords = coordinates(plan, v, summ)
        for n in plan.free:
            if plan.sites[n] != n:
                numpyro.deterministic(n, coords[n])
        nuis = {}
        for n in plan.nuisance:
            nuis[n] = numpyro.sample(n, to_distribution(plan.priors[n], summ))
        if plan.run_effects:
            with numpyro.plate("runs", plan.n_runs):
                if plan.runs_centered:
                    nuis["u"] = numpyro.sample("u_run", dist.Normal(0.0, nuis["tau_run"]))
                else:
                    nuis["u"] = nuis["tau_run"] * numpyro.sample("z_run", dist.Normal(0.0, 1.0))
        d = observation_dist(plan, coords, nuis, data)
        with numpyro.plate("obs", jnp.shape(data["y_t"])[0]), numpyro.handlers.mask(mask=data["mask"]):
            numpyro.sample("y", d, obs=data["y_t"] if observe else None)

    return model


def pointwise_loglik(plan: LawPlan, coords_draws: Mapping, nuis_draws: Mapping, data: Mapping,
                     batch_size: int = 512) -> np.ndarray:
    """(S, n) log p(y_i | θ_s) on the natural scale of y (log-target densities minus log y)."""
    jac = data["y_t"] if plan.log_target else jnp.zeros_like(data["y_t"])  # log y: density of y, not log y

    def one(item):
        c, nz = item
        if plan.run_effects:
            nz = dict(nz)
            nz["u"] = nz["u_run"] if plan.runs_centered else nz["tau_run"] * nz["z_run"]
        return observation_dist(plan, c, nz, data).log_prob(data["y_t"]) - jac

    c = {k: jnp.asarray(v) for k, v in coords_draws.items()}
    nz = {k: jnp.asarray(v) for k, v in nuis_draws.items()}
    S = next(iter(c.values())).shape[0]
    c = {k: (v if v.ndim and v.shape[0] == S else jnp.broadcast_to(v, (S,))) for k, v in c.items()}
    out = jax.lax.map(one, (c, nz), batch_size=min(batch_size, S))
    return np.asarray(out)


def model_data(plan: LawPlan, X: Mapping[str, np.ndarray], y: np.ndarray, run_codes: np.ndarray | None,
               summaries: Mapping[str, float], pad_to: int | None = None) -> dict:
    """Model arguments.  With ``pad_to`` the rows are padded (copies of the last row, masked out
    of the likelihood) so that data sets of different sizes share one compiled program."""
    y = np.asarray(y, dtype=np.float64)
    y_t = np.log(y) if plan.log_target else y
    n = len(y)
    runs = np.zeros(n, dtype=np.int32) if run_codes is None else np.asarray(run_codes).astype(np.int32)
    Xn = {k: np.asarray(v, dtype=np.float64) for k, v in X.items()}
    mask = np.ones(n, dtype=bool)
    if pad_to is not None and pad_to > n:
        extra = pad_to - n
        Xn = {k: np.concatenate([v, np.repeat(v[-1:], extra)]) for k, v in Xn.items()}
        y_t = np.concatenate([y_t, np.repeat(y_t[-1:], extra)])
        runs = np.concatenate([runs, np.repeat(runs[-1:], extra)])
        mask = np.concatenate([mask, np.zeros(extra, dtype=bool)])
    return {
        "X": {k: jnp.asarray(v) for k, v in Xn.items()},
        "y_t": jnp.asarray(y_t),
        "run": jnp.asarray(runs),
        "mask": jnp.asarray(mask),
        "summ": {k: jnp.asarray(float(v)) for k, v in summaries.items()},
    }
