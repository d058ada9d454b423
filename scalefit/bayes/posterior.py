"""Bayesian fits of loss-curve laws: :func:`fit_bayes` and the immutable :class:`PosteriorFit`.

The fit uses the law's own function and parameter spec (the same mean function as the point
fit; docs/bayes.md#model), its default priors (docs/bayes.md#default-priors, per
:class:`~scalefit.params.Param`, overridable per parameter), a Student-t likelihood on log loss
with optional run effects (docs/bayes.md#likelihoods), and NUTS in float64 started at the point-fit optimum.  The
result holds an ArviZ ``InferenceData`` (arviz 0.23 here; ``DataTree`` in arviz >= 1.0), the
diagnostics that gate it (docs/bayes.md#diagnostics), and gives posterior predictive bands and
per-draw derived quantities (docs/bayes.md#posterior-bands) with the extrapolation factor stated.
"""

from __future__ import annotations

import math
import platform
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from .._config import require_x64
from ..errors import ArgumentError
from .._roots import bisect_jax
from ..laws import ScalingLaw, get_law
from ..laws._base import saved_law
from ..params import Prior
from . import _idata
from .._result import check_level
from ._base import PosteriorMixin, interval_columns, level_quantiles, qname, quantile_columns  # noqa: F401 - re-exported
from ._lawmodel import LawPlan, coordinates, make_model, make_plan, model_data, pointwise_loglik
from ._nuts import NutsSettings, run_nuts
from ._priors import clip_to_support, data_summaries, from_coordinate, prior_median
from .diagnostics import Diagnostics, Thresholds, compute_diagnostics

FORMAT = "scalefit.PosteriorFit"
FORMAT_VERSION = 1
#: extrapolation factor beyond which bands carry a warning (docs/bayes.md#posterior-bands)
from .._extrapolation import EXTRAPOLATION_WARN as WARN_FACTOR  # noqa: E402


def versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for pkg in ("scalefit", "jax", "jaxlib", "numpyro", "arviz", "numpy", "scipy"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:  # pragma: no cover
            out[pkg] = "unknown"
    return out


# ============================================================================ result
@dataclass(frozen=True, repr=False)
class PosteriorFit(PosteriorMixin):
    """Posterior of a scaling-law fit (frozen; build a new one rather than mutating).

    Attributes
    ----------
    law : ScalingLaw
    idata : arviz.InferenceData
        Groups ``posterior`` (prior variables, fit coordinates, likelihood parameters, the mean
        curve at 10x the largest scale), ``sample_stats`` (divergences, energy, tree depth...),
        ``log_likelihood`` (pointwise, natural scale of y) and ``observed_data``.
    priors : dict
        Prior of every sampled quantity (law coordinates and likelihood parameters) as used
        (after any ``prior_scale``; data-dependent arguments unresolved, :meth:`prior_table`
        shows them resolved).
    summaries : dict
        Data summaries the priors were resolved with (``log_y_min``, ``log_x_ref:N`` ...).
    free, fixed, tied, inputs, target, likelihood, run_effects
        What was fitted and how.
    frame : DataFrame
        The exact rows that were fitted.
    diagnostics : Diagnostics
        R-hat, ESS, divergences, E-BFMI, tree depth, with pass/fail and remedies (docs/bayes.md#diagnostics).
    settings : dict
        NUTS settings, chain method, sampling time.
    point_estimate : dict or None
        The point fit used to start the chains.
    """

    law: ScalingLaw
    idata: Any = field(repr=False)
    priors: Mapping[str, Prior] = field(repr=False)
    summaries: Mapping[str, float] = field(repr=False)
    free: tuple
    fixed: Mapping[str, float]
    tied: Mapping[str, str]
    inputs: Mapping[str, str]
    target: str
    likelihood: str
    run_effects: bool
    frame: pd.DataFrame = field(repr=False)
    diagnostics: Diagnostics = field(repr=False)
    settings: Mapping[str, Any] = field(repr=False)
    point_estimate: Mapping[str, float] | None = field(default=None, repr=False)
    run_labels: tuple = field(default=(), repr=False)
    metadata: Mapping[str, Any] = field(default_factory=dict, repr=False)
    runs_centered: bool = False

    FORMAT = FORMAT  # converged, status, num_draws, to_json: PosteriorMixin

    def _repr_text(self) -> str:
        return (f"{self.law.name}: {len(self.free)} free params, {self.num_draws} draws, {self._verdict()}, "
                f"{len(self.frame)} points")

    @property
    def plan(self) -> LawPlan:
        return _plan_for(self)

    # ------------------------------------------------------------------ draws
    def draws(self, name: str) -> np.ndarray:
        """Posterior draws of one quantity, chains concatenated (shape (S, ...))."""
        post = self.idata.posterior
        if name in post.data_vars:
            a = np.asarray(post[name].values)
            return a.reshape((-1,) + a.shape[2:])
        if name in self.fixed:
            return np.full(self.num_draws, float(self.fixed[name]))
        if name in self.tied:
            return self.draws(self.tied[name])
        raise ArgumentError(f"no posterior quantity `{name}`; have {sorted(map(str, post.data_vars))}")

    def coordinate_draws(self) -> dict[str, np.ndarray]:
        return {n: self.draws(n) for n in self.law.param_names}

    def _nuisance_draws(self) -> dict[str, np.ndarray]:
        out = {n: self.draws(n) for n in self.plan.nuisance}
        if self.run_effects:
            out[self.plan.run_site] = self.draws(self.plan.run_site)
        return out

    # ------------------------------------------------------------------ tables
    def param_table(self, level: float = 0.9) -> pd.DataFrame:
        """Posterior median, mean, SD and central interval of every coordinate, its natural
        quantity and the likelihood parameters, with R-hat and ESS; then the protocol's
        ``estimate`` (median), ``lower``/``upper`` (the central credible interval at ``level``)."""
        lo, hi = level_quantiles([level])
        rows = []
        diag = self.diagnostics.table
        names = list(self.law.param_names) + list(self.plan.nuisance)
        for n in names:
            d = self.draws(n)
            p = self.law.params[n] if n in self.law.param_names else None
            role = "free" if n in self.free else ("fixed" if n in self.fixed else
                                                   (f"tied to {self.tied[n]}" if n in self.tied else "likelihood"))
            row = {"parameter": n, "symbol": p.symbol if p else n, "median": np.median(d), "mean": np.mean(d),
                   "sd": np.std(d), qname(lo): np.quantile(d, lo), qname(hi): np.quantile(d, hi), "role": role,
                   "r_hat": diag["r_hat"].get(n, np.nan), "ess_bulk": diag["ess_bulk"].get(n, np.nan)}
            rows.append(row)
            if p is not None and p.natural:
                nd = np.exp(d)
                rows.append({"parameter": p.natural, "symbol": p.natural, "median": np.median(nd),
                             "mean": np.mean(nd), "sd": np.std(nd), qname(lo): np.quantile(nd, lo),
                             qname(hi): np.quantile(nd, hi), "role": f"= exp({n})",
                             "r_hat": np.nan, "ess_bulk": np.nan})
        return interval_columns(pd.DataFrame(rows), level)

    def prior_table(self) -> pd.DataFrame:
        rows = []
        for n, p in self.priors.items():
            rows.append({"parameter": n, "prior": p.describe(), "resolved": p.resolved(self.summaries).describe()})
        return pd.DataFrame(rows)

    def _summary_text(self, level: float = 0.9) -> str:
        lines = [f"law: {self.law.name}   {self.law.formula}   (Bayesian, NUTS)"]
        lines.append(f"data: {len(self.frame)} points, target `{self.target}`, inputs "
                     + ", ".join(f"{k}=`{v}`" for k, v in self.inputs.items()))
        lik = {"student_t": "Student-t", "normal": "Normal", "beta": "Beta"}[self.likelihood]
        space = "log " + self.target if self.law.target == "log" else self.target
        lines.append(f"likelihood: {lik} on {space}" + (" with run effects" if self.run_effects else ""))
        s = self.settings
        lines.append(f"sampler: {s['num_chains']} chains x ({s['num_warmup']} warm-up + {s['num_samples']} draws), "
                     f"chain method `{s['chain_method']}`"
                     + (f", {s['seconds']:.1f} s" if "seconds" in s else ""))
        lines.append("priors:")
        for n, p in self.priors.items():
            lines.append(f"  {n:<10} {p.resolved(self.summaries).describe()}")
        tab = self.param_table(level)
        lo, hi = (qname(q) for q in level_quantiles([level]))
        lines.append(f"{'parameter':<12}{'median':>14}{lo:>14}{hi:>14}{'r_hat':>8}{'ess':>8}")
        for _, r in tab.iterrows():
            rh = "" if not np.isfinite(r["r_hat"]) else f"{r['r_hat']:.3f}"
            es = "" if not np.isfinite(r["ess_bulk"]) else f"{r['ess_bulk']:.0f}"
            lines.append(f"{r['parameter']:<12}{r['median']:>14.6g}{r[lo]:>14.6g}{r[hi]:>14.6g}{rh:>8}{es:>8}")
        lines.append(f"({int(100 * level)}% central credible intervals)")
        return "\n".join(lines + self._verdict_lines())

    def __str__(self) -> str:  # pragma: no cover - thin
        return str(self.summary())

    # ------------------------------------------------------------------ prediction
    def _input_arrays(self, at) -> dict[str, np.ndarray]:
        X = self.law.input_arrays(at, self.inputs, self.frame)
        for n, v in X.items():
            bad = ~np.isfinite(v) | ((v <= 0) if self.law.positive_inputs else False)
            if np.any(bad):
                raise ArgumentError(f"input `{n}` has an invalid value {v[np.argmax(bad)]!r} (must be finite and > 0)")
        return X

    def mean_curve_draws(self, X: Mapping[str, np.ndarray]) -> np.ndarray:
        """(S, G) draws of the mean curve on the natural scale at inputs ``X``."""
        coords = {k: jnp.asarray(v) for k, v in self.coordinate_draws().items()}
        Xj = {k: jnp.asarray(np.asarray(v, dtype=np.float64)) for k, v in X.items()}
        mu = np.asarray(jax.vmap(lambda c: self.law.fn(c, Xj))(coords))
        return np.exp(mu) if self.law.target == "log" else mu

    def observation_draws(self, X: Mapping[str, np.ndarray], seed: int = 0) -> np.ndarray:
        """(S, G) draws of a new observation (a new run) at ``X`` (docs/bayes.md#posterior-bands)."""
        rng = np.random.default_rng(seed)
        coords = {k: jnp.asarray(v) for k, v in self.coordinate_draws().items()}
        Xj = {k: jnp.asarray(np.asarray(v, dtype=np.float64)) for k, v in X.items()}
        mu = np.asarray(jax.vmap(lambda c: self.law.fn(c, Xj))(coords))
        return self.observe(mu, rng)

    def observe(self, mu: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """New observations (natural scale) around ``mu``, shape (S, G): draw ``s`` of the mean
        curve on the law's own scale (log for loss laws), with the likelihood's noise of draw
        ``s`` (and a new run's effect when the fit has run effects) added."""
        mu = np.asarray(mu, dtype=np.float64)
        S, G = mu.shape
        if self.likelihood == "beta":
            m = np.clip(mu, 1e-9, 1 - 1e-9)
            phi = self.draws("phi")[:, None]
            return rng.beta(m * phi, (1 - m) * phi)
        sigma = self.draws("sigma")[:, None]
        if self.likelihood == "student_t":
            eps = rng.standard_t(np.broadcast_to(self.draws("nu")[:, None], (S, G))) * sigma
        else:
            eps = rng.standard_normal((S, G)) * sigma
        if self.run_effects:
            eps = eps + rng.standard_normal((S, G)) * self.draws("tau_run")[:, None]
        y = mu + eps
        return np.exp(y) if self.law.target == "log" else y

    def extrapolation(self, X: Mapping[str, np.ndarray]) -> pd.DataFrame:
        """Extrapolation factors: ``extrapolation``, the one factor of every fit path (the largest
        input ratio to its fitted maximum, or for several inputs the product ratio if larger; see
        ``scalefit._extrapolation``), and for laws of several inputs ``scale_factor``, the ratio
        of their product (e.g. compute C ∝ N·D) to the largest fitted product."""
        out = pd.DataFrame(index=range(len(next(iter(X.values())))))
        if not self.law.positive_inputs:
            return out
        from .._extrapolation import extrapolation_factor

        fitted = {n: self.frame[self.inputs[n]].to_numpy(np.float64) for n in self.law.inputs}
        out["extrapolation"] = extrapolation_factor(fitted, X)
        if len(self.law.inputs) > 1:
            prod_train = np.prod(np.stack([self.frame[self.inputs[n]].to_numpy(np.float64)
                                           for n in self.law.inputs]), axis=0)
            prod = np.prod(np.stack([np.asarray(X[n], dtype=np.float64) for n in self.law.inputs]), axis=0)
            out["scale_factor"] = prod / prod_train.max()
        return out

    def predict(self, at=None, *, level: float = 0.9, levels: Sequence[float] = (0.9, 0.95),
                observation: bool = True, seed: int = 0, **inputs) -> pd.DataFrame:
        """Posterior predictive bands at ``at`` (DataFrame/mapping of inputs) or keyword inputs.

        Columns: the inputs; ``mean`` (posterior mean of the curve); ``median`` and ``qLO``/``qHI``
        of the mean curve for each level (parameter uncertainty, docs/bayes.md#posterior-bands; default 5–95% and
        2.5–97.5%); ``obs_median``/``obs_q..`` of a new observation from a new run (item 2);
        ``extrapolation`` (largest input ratio to its fitted maximum) and, for several inputs,
        ``scale_factor``; ``beyond_10x`` flags bands conditional on the functional form (item 6);
        then the protocol's ``estimate`` (median of the curve), ``lower``/``upper`` (central
        credible interval of the curve at ``level``: parameter uncertainty, not a new
        observation; the ``obs_`` columns hold that).

        >>> # post.predict(N=7e10, D=1.4e12)
        """
        if inputs:
            if at is not None:
                raise ArgumentError("give `at` or keyword inputs, not both")
            at = inputs
        X = self._input_arrays(at)
        level = check_level(level)
        levels = tuple(levels) if level in levels else (*levels, level)
        out = pd.DataFrame({k: np.asarray(v) for k, v in X.items()})
        curve = self.mean_curve_draws(X)
        out["mean"] = curve.mean(axis=0)
        for k, v in quantile_columns(curve, levels).items():
            out[k] = v
        if observation:
            obs = self.observation_draws(X, seed=seed)
            for k, v in quantile_columns(obs, levels, prefix="obs_").items():
                out[k] = v
        ext = self.extrapolation(X)
        for c in ext.columns:
            out[c] = ext[c].to_numpy()
        if "extrapolation" in out:
            out["beyond_10x"] = out["extrapolation"].to_numpy() > WARN_FACTOR
        out = interval_columns(out, level)
        out.attrs["interval"] = f"{level:.0%} posterior interval of the curve"
        return out

    def extrapolation_points(self, factors: Sequence[float] = (1.0, 10.0, 100.0)) -> dict[str, np.ndarray]:
        """Inputs at ``factor`` times the largest fitted scale: the row with the largest product
        of inputs, every input multiplied by factor^(1/k) for k inputs (Chinchilla: N and D each
        by sqrt(factor), so compute C = 6ND grows by ``factor``)."""
        if not self.law.positive_inputs:
            raise ArgumentError(f"law `{self.law.name}` has inputs that may be <= 0: no scale to extrapolate")
        return extrapolation_inputs(self.frame, self.law, self.inputs, factors)

    def band_table(self, factors: Sequence[float] = (1.0, 10.0, 100.0), level: float = 0.9,
                   seed: int = 0) -> pd.DataFrame:
        """Predictions at several extrapolation factors (see :meth:`extrapolation_points`)."""
        X = self.extrapolation_points(factors)
        out = self.predict(X, level=level, levels=(level,), seed=seed)
        out.insert(0, "factor", np.asarray(factors, dtype=np.float64))
        return out

    # ------------------------------------------------------------------ derived quantities
    def allocation(self, C, *, levels: Sequence[float] = (0.9,)) -> pd.DataFrame:
        """Compute-optimal allocation per draw (docs/uncertainty.md#compute-optimal-allocation, docs/bayes.md#posterior-bands) at budgets ``C``.

        Rows per (C, quantity) with the posterior median and intervals of N_opt, D_opt, D/N,
        L*(C), plus the allocation exponent a = β/(α+β) and G.  Chinchilla and over-training
        laws only.
        """
        k = self._allocation_draws()
        C = np.atleast_1d(np.asarray(C, dtype=np.float64))
        if np.any(~np.isfinite(C)) or np.any(C <= 0):
            raise ArgumentError("`C` must be finite and > 0")
        lc6 = np.log(C)[None, :] - math.log(6.0)
        log_N = k["log_G"][:, None] + k["a"][:, None] * lc6
        log_D = -k["log_G"][:, None] + k["b"][:, None] * lc6
        L = np.exp(np.logaddexp(k["log_E"][:, None], k["log_K"][:, None] - k["gamma"][:, None] * lc6))
        rows = []
        for name, vals in (("N_opt", np.exp(log_N)), ("D_opt", np.exp(log_D)),
                           ("tokens_per_param", np.exp(log_D - log_N)), ("loss", L)):
            q = quantile_columns(vals, levels)
            for j, c in enumerate(C):
                rows.append({"C": c, "quantity": name, **{kk: vv[j] for kk, vv in q.items()}})
        for name in ("a", "b", "G"):
            q = quantile_columns(k[name][:, None], levels)
            rows.append({"C": np.nan, "quantity": f"allocation_{name}" if name != "G" else "G",
                         **{kk: vv[0] for kk, vv in q.items()}})
        return pd.DataFrame(rows)

    def _allocation_draws(self) -> dict[str, np.ndarray]:
        from ..allocation import allocation_coordinates

        c = allocation_coordinates(self, self.coordinate_draws())
        al, be = c["alpha"], c["beta"]
        log_G = (np.log(al) + c["a"] - np.log(be) - c["b"]) / (al + be)
        log_K = np.logaddexp(c["a"] - al * log_G, c["b"] + be * log_G)
        return {"log_G": log_G, "G": np.exp(log_G), "a": be / (al + be), "b": al / (al + be),
                "log_K": log_K, "gamma": al * be / (al + be), "log_E": c["e"]}

    def compute_for_loss(self, L, *, levels: Sequence[float] = (0.9,)) -> pd.DataFrame:
        """Compute C(L) on the compute-optimal frontier to reach loss ``L``, per draw (inf where a
        draw's floor E is at or above L); Chinchilla-type laws."""
        k = self._allocation_draws()
        L = np.atleast_1d(np.asarray(L, dtype=np.float64))
        E = np.exp(k["log_E"])[:, None]
        with np.errstate(divide="ignore", invalid="ignore"):
            log_C = math.log(6.0) - (np.log(L[None, :] - E) - k["log_K"][:, None]) / k["gamma"][:, None]
        C = np.where(L[None, :] > E, np.exp(log_C), np.inf)
        out = pd.DataFrame({"L": L, "prob_reachable": np.mean(np.isfinite(C), axis=0)})
        for kk, vv in quantile_columns(C, levels).items():
            out[kk] = vv
        return out

    def input_for_loss(self, L, *, levels: Sequence[float] = (0.9,), lower: float | None = None,
                       upper: float | None = None) -> pd.DataFrame:
        """Budget for a target: the input value x at which the mean curve reaches ``L``, per draw
        (single-input laws with a decreasing curve; inf where a draw never reaches L)."""
        if len(self.law.inputs) != 1:
            raise ArgumentError(f"`input_for_loss` needs a single-input law; `{self.law.name}` has {self.law.inputs}")
        name = self.law.inputs[0]
        x = self.frame[self.inputs[name]].to_numpy(np.float64)
        lo = math.log(lower if lower else x.min() * 1e-3)
        hi = math.log(upper if upper else x.max() * 1e12)
        coords = {k: jnp.asarray(v) for k, v in self.coordinate_draws().items()}
        L = np.atleast_1d(np.asarray(L, dtype=np.float64))
        log_target = self.law.target == "log"

        def curve(c, lx):
            v = self.law.fn(c, {name: jnp.exp(lx)})
            return v if log_target else jnp.log(jnp.maximum(v, 1e-300))

        def solve(c, t):
            a_, z_ = bisect_jax(lambda x: curve(c, x) > t, jnp.asarray(lo), jnp.asarray(hi), iters=200)
            reach = curve(c, jnp.asarray(hi)) <= t
            return jnp.where(reach, jnp.exp(0.5 * (a_ + z_)), jnp.inf)

        vals = np.asarray(jax.vmap(lambda c: jax.vmap(lambda t: solve(c, t))(jnp.log(jnp.asarray(L))))(coords))
        out = pd.DataFrame({"L": L, "prob_reachable": np.mean(np.isfinite(vals), axis=0)})
        for kk, vv in quantile_columns(vals, levels).items():
            out[kk] = vv
        return out

    # ------------------------------------------------------------------ model checks
    def loo(self, pointwise: bool = True):
        """PSIS-LOO (``az.loo``) with the sample-size-dependent Pareto-k threshold (docs/bayes.md#model-comparison)."""
        from .diagnostics import loo

        return loo(self.idata, pointwise=pointwise)

    def refit(self, **changes) -> "PosteriorFit":
        """Refit on the same data with changed settings (e.g. ``prior_scale=2`` for the prior
        sensitivity check of docs/bayes.md#default-priors, or more draws)."""
        runs = ("centered" if self.runs_centered else "noncentered") if self.run_effects else False
        kw = dict(law=self.law, inputs=dict(self.inputs), target=self.target, priors=dict(self.priors),
                  likelihood=self.likelihood, run_effects=runs, fixed=dict(self.fixed) or None,
                  tied=dict(self.tied) or None, num_warmup=self.settings["num_warmup"],
                  num_samples=self.settings["num_samples"], num_chains=self.settings["num_chains"],
                  target_accept=self.settings["target_accept"], max_tree_depth=self.settings["max_tree_depth"],
                  dense_mass=self.settings.get("dense_mass", True),
                  seed=self.settings["seed"], init=self.point_estimate or "point")
        kw.update(changes)
        if "priors" in changes and changes["priors"] is not None:
            kw["priors"] = {**dict(self.priors), **dict(changes["priors"])}
        return fit_bayes(self.frame, **kw)

    def prior_sensitivity(self, factor: float = 2.0, *, at: Mapping | None = None) -> pd.DataFrame:
        """Refit with every prior scale multiplied by ``factor`` and report the shift of the
        extrapolated median (at 10x the largest scale by default) relative to the posterior SD
        (docs/bayes.md#default-priors)."""
        X = at if at is not None else self.extrapolation_points((10.0,))
        X = self._input_arrays(X)
        base = self.mean_curve_draws(X)
        other = self.refit(prior_scale=factor)
        alt = other.mean_curve_draws(X)
        out = pd.DataFrame({k: v for k, v in X.items()})
        out["median"] = np.median(base, axis=0)
        out[f"median_x{factor:g}"] = np.median(alt, axis=0)
        out["shift_in_sd"] = (out[f"median_x{factor:g}"] - out["median"]) / np.std(base, axis=0)
        return out

    # ------------------------------------------------------------------ JSON
    def to_dict(self) -> dict:
        from .._result import clean_json
        from ..fit.result import frame_to_json

        return clean_json({
            "format": FORMAT, "version": FORMAT_VERSION,
            "law": {"name": self.law.name, "options": dict(self.law.options)},
            "priors": {k: v.to_dict() for k, v in self.priors.items()},
            "summaries": dict(self.summaries), "free": list(self.free), "fixed": dict(self.fixed),
            "tied": dict(self.tied), "inputs": dict(self.inputs), "target": self.target,
            "likelihood": self.likelihood, "run_effects": self.run_effects, "run_labels": list(self.run_labels),
            "runs_centered": self.runs_centered,
            "frame": frame_to_json(self.frame),
            "posterior": _idata.group_to_json(self.idata.posterior),
            "sample_stats": _idata.group_to_json(self.idata.sample_stats),
            "diagnostics": self.diagnostics.to_dict(), "settings": dict(self.settings),
            "point_estimate": None if self.point_estimate is None else dict(self.point_estimate),
            "metadata": dict(self.metadata),
        })

    @classmethod
    def from_dict(cls, d: Mapping, *, law: ScalingLaw | None = None) -> "PosteriorFit":
        from ..fit.result import frame_from_json

        if not isinstance(d, Mapping) or d.get("format") != FORMAT:
            raise ArgumentError(f"not a scalefit posterior file (missing `format: {FORMAT}`)")
        law = _check_record(d, law)
        priors = {k: Prior.from_dict(v) for k, v in d["priors"].items()}
        frame = frame_from_json(d["frame"])
        post = _idata.group_from_json(d["posterior"])
        stats = _idata.group_from_json(d["sample_stats"])
        f = lambda v: float("nan") if v is None else float(v)  # noqa: E731
        fit = cls(
            law=law, idata=None, priors=priors, summaries={k: f(v) for k, v in d["summaries"].items()},
            free=tuple(d["free"]), fixed={k: f(v) for k, v in d["fixed"].items()}, tied=dict(d["tied"]),
            inputs=dict(d["inputs"]), target=d["target"], likelihood=d["likelihood"],
            run_effects=bool(d["run_effects"]), frame=frame, diagnostics=Diagnostics.from_dict(d["diagnostics"]),
            settings=dict(d["settings"]), point_estimate=d.get("point_estimate"),
            run_labels=tuple(d.get("run_labels") or ()), metadata=dict(d.get("metadata") or {}),
            runs_centered=bool(d.get("runs_centered", False)),
        )
        return replace(fit, idata=_assemble_idata(fit, post, stats))

    @classmethod
    def from_json(cls, source: str | Path, *, law: ScalingLaw | None = None) -> "PosteriorFit":
        from .._files import load_saved

        return load_saved(source, lambda d: cls.from_dict(d, law=law), what="posterior file")

    def with_metadata(self, **extra) -> "PosteriorFit":
        md = dict(self.metadata)
        md.update(extra)
        return replace(self, metadata=md)


# ============================================================================ helpers
def extrapolation_inputs(frame: pd.DataFrame, law: ScalingLaw, inputs: Mapping[str, str],
                         factors: Sequence[float]) -> dict[str, np.ndarray]:
    cols = [frame[inputs[n]].to_numpy(np.float64) for n in law.inputs]
    i = int(np.argmax(np.prod(np.stack(cols), axis=0)))
    f = np.asarray(factors, dtype=np.float64)
    k = len(law.inputs)
    return {n: cols[j][i] * f ** (1.0 / k) for j, n in enumerate(law.inputs)}


def _plan_for(fit: PosteriorFit) -> LawPlan:
    n_runs = max(len(fit.run_labels), 1)
    return make_plan(fit.law, fit.free, fit.fixed, fit.tied, fit.priors, likelihood=fit.likelihood,
                     run_effects=fit.run_effects, n_runs=n_runs, runs_centered=fit.runs_centered)


def _run_codes(fit_or_frame, run_labels) -> np.ndarray | None:
    if not run_labels:
        return None
    frame = fit_or_frame
    lookup = {lab: i for i, lab in enumerate(run_labels)}
    return np.asarray([lookup[str(r)] for r in frame["run"]], dtype=np.int32)


def _model_inputs(fit: PosteriorFit):
    X = {n: fit.frame[fit.inputs[n]].to_numpy(np.float64) for n in fit.law.inputs}
    y = fit.frame[fit.target].to_numpy(np.float64)
    return X, y


def _assemble_idata(fit: PosteriorFit, post: Mapping[str, np.ndarray], stats: Mapping[str, np.ndarray]):
    plan = _plan_for(fit)
    X, y = _model_inputs(fit)
    data = model_data(plan, X, y, _run_codes(fit.frame, fit.run_labels), fit.summaries)
    chains, draws = next(iter(post.values())).shape[:2]
    flat = {k: v.reshape((chains * draws,) + v.shape[2:]) for k, v in post.items()}
    coords = {n: flat[n] if n in flat else np.full(chains * draws, float(fit.fixed[n]))
              for n in fit.law.param_names if n not in fit.tied}
    for k, t in fit.tied.items():
        coords[k] = coords[t]
    nuis = {n: flat[n] for n in plan.nuisance}
    if plan.run_effects:
        nuis[plan.run_site] = flat[plan.run_site]
    ll = pointwise_loglik(plan, coords, nuis, data).reshape(chains, draws, -1)
    dims = {plan.run_site: ["run"]} if plan.run_effects else {}
    return _idata.build_idata(post, stats, log_likelihood={"y": ll}, observed={"y": y},
                              dims={**dims, "y": ["obs"]}, attrs={"law": fit.law.name, "scalefit_format": FORMAT})


# ============================================================================ fitting
def load_frame(data, columns):
    if isinstance(data, pd.DataFrame) and columns is None:
        return data, None
    from ..io import load_curves

    frame = load_curves(data, columns=columns)
    return frame, (None if isinstance(data, pd.DataFrame) else str(data))


def _init_values(plan: LawPlan, summ: Mapping[str, float], theta: Mapping[str, float] | None, X, y) -> dict:
    """Constrained start values of every latent site from fit coordinates ``theta`` (or priors)."""
    init = {}
    coords = dict(plan.fixed)
    if theta is not None:
        coords.update({k: float(v) for k, v in theta.items()})
    for n in plan.order:
        p = plan.priors[n]
        if theta is not None and n in theta:
            v = from_coordinate(p, float(theta[n]), coords, summ)
        else:
            v = prior_median(p, summ)
        init[plan.sites[n]] = clip_to_support(p, v, summ)
    # residual scale at the start point
    v_for = {n: init[plan.sites[n]] for n in plan.free}
    c = coordinates(plan, {k: jnp.asarray(val) for k, val in v_for.items()},
                    {k: jnp.asarray(val) for k, val in summ.items()})
    mu = np.asarray(plan.law.fn(c, {k: jnp.asarray(v) for k, v in X.items()}))
    y_t = np.log(y) if plan.log_target else y
    r = y_t - mu
    if "sigma" in plan.nuisance:
        s = 1.4826 * float(np.median(np.abs(r - np.median(r)))) if np.all(np.isfinite(r)) else float("nan")
        init["sigma"] = clip_to_support(plan.priors["sigma"], max(s, 1e-4) if np.isfinite(s) else
                                        prior_median(plan.priors["sigma"], summ), summ)
    if "nu" in plan.nuisance:
        init["nu"] = clip_to_support(plan.priors["nu"], 5.0, summ)
    if "phi" in plan.nuisance:
        m = np.clip(mu, 1e-3, 1 - 1e-3)
        var = float(np.mean(r**2)) if np.all(np.isfinite(r)) else 0.0
        phi = float(np.mean(m * (1 - m)) / var - 1.0) if var > 0 else 100.0
        init["phi"] = clip_to_support(plan.priors["phi"], min(max(phi, 2.0), 1e4), summ)
    if "tau_run" in plan.nuisance:
        init["tau_run"] = clip_to_support(plan.priors["tau_run"], prior_median(plan.priors["tau_run"], summ), summ)
        init[plan.run_site] = np.zeros(plan.n_runs)
    return init


def fit_bayes(
    data,
    law: str | ScalingLaw = "chinchilla",
    *,
    inputs: Mapping[str, str] | None = None,
    target: str = "value",
    priors: Mapping[str, Prior] | None = None,
    prior_scale: float = 1.0,
    likelihood: str | None = None,
    run_effects: bool | str | None = None,
    fixed: Mapping[str, float] | None = None,
    tied: Mapping[str, str] | None = None,
    num_warmup: int = 1000,
    num_samples: int = 1000,
    num_chains: int = 4,
    target_accept: float = 0.8,
    max_tree_depth: int = 10,
    dense_mass: bool = True,
    seed: int = 0,
    init: Any = "point",
    thresholds: Thresholds | None = None,
    progress: bool | None = None,
    chain_method: str | None = None,
    pad_to: int | None = None,
    columns: Mapping[str, str] | None = None,
    source: str | None = None,
    law_options: Mapping[str, Any] | None = None,
) -> PosteriorFit:
    """Bayesian fit of a scaling law with NUTS (numpyro, float64).

    Parameters
    ----------
    data
        Tidy DataFrame or anything :func:`scalefit.io.load_curves` reads.
    law
        Registry name or :class:`~scalefit.laws.ScalingLaw`; its parameter spec supplies the
        default priors (docs/bayes.md#default-priors).
    priors
        Per-parameter overrides, ``{"alpha": Prior.lognormal(math.log(0.3), 0.25)}``; also for the
        likelihood parameters ``sigma``, ``nu``, ``tau_run``, ``phi``.
    prior_scale
        Multiply every prior scale (sensitivity checks, docs/bayes.md#default-priors; 100 = flat-prior limit).
    likelihood
        ``"student_t"`` (default for loss laws: Student-t on log loss), ``"normal"``, or
        ``"beta"`` (default for links whose values lie in (0, 1)).
    run_effects
        Add run random effects u_r ~ Normal(0, τ_run), τ_run ~ HalfNormal(0.01): ``True``,
        ``"centered"`` (u_r sampled directly; the default when runs have >= 3 rows, whose
        checkpoints pin each effect down), ``"noncentered"`` (u_r = τ_run z_r; better for runs
        with one or two rows) or ``False``.  Default: on when some run in the ``run`` column has
        several rows (checkpoints).
    fixed, tied
        As in :func:`scalefit.fit_law`.
    num_warmup, num_samples, num_chains, target_accept, max_tree_depth, dense_mass, seed
        NUTS settings (a dense mass matrix is adapted by default: the Chinchilla coordinates are
        strongly correlated, and it halves the leapfrog steps per draw).  Chains run in parallel over devices when there are enough, else
        vectorised (set ``XLA_FLAGS=--xla_force_host_platform_device_count=4`` on a CPU).
    init
        ``"point"`` (default: start at :func:`scalefit.fit_law`'s optimum, which avoids spending
        warm-up on the multimodal Chinchilla surface), ``"prior"`` (prior medians), a
        :class:`~scalefit.FitResult`, or a mapping of fit coordinates.
    thresholds
        Diagnostic thresholds (defaults: docs/bayes.md#diagnostics).
    progress
        Show a progress bar (default: only when stderr is a terminal and not under pytest).
    chain_method
        ``"parallel"``, ``"vectorized"`` or ``"sequential"``; default parallel when there are at
        least as many devices as chains, else vectorized.
    pad_to
        Pad the data to this many rows (masked out of the likelihood) so that fits to data sets
        of different sizes (e.g. leave-future-out splits) share one compiled NUTS program.

    Returns
    -------
    PosteriorFit

    Examples
    --------
    >>> import scalefit, pandas as pd
    >>> from scalefit.bayes import fit_bayes
    >>> df = pd.DataFrame({"x": [1e6, 3e6, 1e7, 3e7, 1e8], "value": [3.9, 3.4, 3.0, 2.75, 2.55]})
    >>> post = fit_bayes(df, "power_law", num_warmup=300, num_samples=300)  # doctest: +SKIP
    >>> post.predict(x=1e9)  # doctest: +SKIP
    """
    from ..fit.point import resolve_constraints, validate_frame, bind_inputs

    require_x64()
    law = get_law(law, **dict(law_options or {}))
    settings = NutsSettings(num_warmup=num_warmup, num_samples=num_samples, num_chains=num_chains,
                            target_accept=float(target_accept), max_tree_depth=max_tree_depth, seed=int(seed),
                            dense_mass=bool(dense_mass))
    if not (isinstance(prior_scale, (int, float)) and prior_scale > 0):
        raise ArgumentError(f"`prior_scale` = {prior_scale!r} must be a number > 0")
    frame, src = load_frame(data, columns)
    source = source or src
    if target not in frame.columns:
        raise ArgumentError(
            f"`target` column `{target}` is not in the data (columns: {', '.join(map(str, frame.columns))})")
    bound = bind_inputs(frame, law, inputs)
    free, fixed_, tied_ = resolve_constraints(law, fixed, tied)
    validate_frame(frame, law, bound, target, len(free), source)
    frame = frame.copy()
    X = {n: frame[bound[n]].to_numpy(np.float64) for n in law.inputs}
    y = frame[target].to_numpy(np.float64)
    summ = data_summaries(X, y)

    if likelihood is None:
        likelihood = "student_t" if law.target == "log" else (
            "beta" if np.all((y > 0) & (y < 1)) else "student_t")
    has_runs = "run" in frame.columns and bool(frame["run"].duplicated().any())
    if run_effects not in (None, True, False, "centered", "noncentered"):
        raise ArgumentError(f"`run_effects` = {run_effects!r} must be True, False, 'centered' or 'noncentered'")
    if run_effects is None:
        run_effects = has_runs
    if run_effects and "run" not in frame.columns:
        raise ArgumentError("`run_effects=True` needs a `run` column identifying the training run of each row")
    run_labels = tuple(dict.fromkeys(str(r) for r in frame["run"])) if run_effects else ()
    if run_effects in ("centered", "noncentered"):
        runs_centered = run_effects == "centered"
    else:
        runs_centered = bool(run_effects) and float(frame["run"].value_counts().median()) >= 3
    run_effects = bool(run_effects)
    plan = make_plan(law, free, fixed_, tied_, priors, likelihood=likelihood, run_effects=run_effects,
                     n_runs=len(run_labels), prior_scale=float(prior_scale), summaries=summ,
                     runs_centered=runs_centered)
    run_codes = _run_codes(frame, run_labels)
    mdata = model_data(plan, X, y, run_codes, summ, pad_to=pad_to)
    model = make_model(plan)

    # ------------------------------------------------------------- start values
    point = None
    theta = None
    if isinstance(init, str):
        if init not in ("point", "prior"):
            raise ArgumentError(f"`init` = {init!r} must be 'point', 'prior', a FitResult or a mapping")
        if init == "point":
            from ..fit import fit_law

            try:
                pf = fit_law(frame, law, inputs=bound, target=target, fixed=fixed_ or None, tied=tied_ or None)
                theta = dict(pf.params)
            except Exception:  # noqa: BLE001 - a failed point fit only costs warm-up
                theta = None
    elif hasattr(init, "params") and hasattr(init, "law"):
        theta = dict(init.params)
    elif isinstance(init, Mapping):
        unknown = sorted(set(init) - set(law.param_names))
        if unknown:
            raise ArgumentError(f"`init` names unknown parameters {unknown}")
        theta = {k: float(v) for k, v in init.items()}
    else:
        raise ArgumentError(f"`init` must be 'point', 'prior', a FitResult or a mapping, got {type(init).__name__}")
    if theta is not None:
        point = {k: float(theta[k]) for k in law.param_names if k in theta}
    init_values = _init_values(plan, summ, theta, X, y)

    run = run_nuts(model, (mdata,), init_values, settings, progress=progress, cache_key=("law", plan.structure_key),
                   chain_method=chain_method)

    # ------------------------------------------------------------- assemble
    samples = {k: v for k, v in run.samples.items() if k != "y"}
    chains, draws = next(iter(samples.values())).shape[:2]
    flat = {k: v.reshape((chains * draws,) + v.shape[2:]) for k, v in samples.items()}
    coords = {n: flat[n] if n in flat else np.full(chains * draws, float(fixed_[n]))
              for n in law.param_names if n not in tied_}
    for k, t in tied_.items():
        coords[k] = coords[t]
    extra_vars = []
    if law.positive_inputs:
        Xe = extrapolation_inputs(frame, law, bound, (10.0,))
        Xj = {k: jnp.asarray(v) for k, v in Xe.items()}
        mu = np.asarray(jax.vmap(lambda c: law.fn(c, Xj))({k: jnp.asarray(v) for k, v in coords.items()}))[:, 0]
        samples["curve_at_10x"] = (np.exp(mu) if law.target == "log" else mu).reshape(chains, draws)
        extra_vars.append("curve_at_10x")
    from ..io import frame_hash

    metadata = {
        "versions": versions(), "seed": int(seed), "data_source": source,
        "data_hash": frame_hash(frame, list(dict.fromkeys([*bound.values(), target]))),
        "n_points": int(len(frame)), "prior_scale": float(prior_scale),
    }
    settings_d = {**settings.to_dict(), "chain_method": run.chain_method,
                  "prior_scale": float(prior_scale), "init": "point" if point is not None else "prior"}
    fit = PosteriorFit(
        law=law, idata=None, priors=dict(plan.priors), summaries=summ, free=tuple(free), fixed=fixed_, tied=tied_,
        inputs=bound, target=target, likelihood=likelihood, run_effects=bool(run_effects), frame=frame,
        diagnostics=None, settings=settings_d, point_estimate=point, run_labels=run_labels, metadata=metadata,
        runs_centered=plan.runs_centered,
    )
    idata = _assemble_idata(fit, samples, run.stats)
    diag = compute_diagnostics(idata, list(plan.diagnostic_names) + extra_vars, thresholds=thresholds)
    return replace(fit, idata=idata, diagnostics=diag)


def _check_record(d: Mapping, law: ScalingLaw | None) -> ScalingLaw:
    """Check a saved posterior against its format; -> its law.  One
    :class:`~scalefit.errors.DataValidationError` lists every problem."""
    from .._files import RecordCheck

    c = RecordCheck(d, "posterior record")
    law = saved_law(c, law, FORMAT_VERSION, "posterior")
    c.get("priors", "object[object]")
    c.get("summaries", "object[number?]")
    c.get("free", "list[str]")
    fixed = c.get("fixed", "object[number]")
    tied = c.get("tied", "object[str]")
    c.get("inputs", "object[str]")
    c.get("target", "str")
    c.get("likelihood", "str")
    c.get("run_effects", "bool")
    c.get("run_labels", "list", required=False)
    c.get("settings", "object")
    c.get("metadata", "object?", required=False)
    c.frame("frame")
    draws = None
    for group in ("posterior", "sample_stats"):
        arrays = c.sub(group)
        for name in (arrays.record if arrays is not None else ()):
            a = arrays.sub(name)
            if a is None:
                continue
            dtype = a.get("dtype", "str")
            shape = a.get("shape", "list[count]")
            data = a.get("data", "list[number?]" if dtype == "float" else "list[number]")
            if dtype is not None and dtype not in ("float", "int", "bool"):
                a.problem(f"`{a.prefix}dtype` = {dtype!r} is not one of float, int, bool")
            if shape is not None and data is not None and math.prod(shape) != len(data):
                a.problem(f"`{a.prefix}data` holds {len(data)} values for shape {shape}")
            elif shape is not None and group == "posterior":
                if len(shape) < 2:
                    a.problem(f"`{a.prefix}shape` {shape} lacks the (chain, draw) axes")
                elif draws is None:
                    draws = tuple(shape[:2])
                elif tuple(shape[:2]) != draws:
                    a.problem(f"`{a.prefix}shape` {shape} does not start with the (chain, draw) = {draws} "
                              "of the other variables")
    if law is not None and isinstance(c.record.get("posterior"), Mapping):
        held = set(fixed or {}) | set(tied or {})
        absent = [n for n in law.param_names if n not in held and n not in c.record["posterior"]]
        if absent:
            c.problem(f"`posterior` lacks the draws of {absent}")
    diag = c.sub("diagnostics")
    if diag is not None:
        diag.frame("table")
        for key in ("divergences", "num_chains", "num_draws"):
            diag.get(key, "count")
        diag.get("bfmi", "list[number?]")
        diag.get("treedepth_fraction", "number")
        thresholds = diag.get("thresholds", "object[number]")
        unknown = sorted(set(thresholds or {}) - set(Thresholds.__dataclass_fields__))
        if unknown:
            diag.problem(f"`diagnostics.thresholds` has unknown keys {unknown}")
        checks = diag.get("checks", "list[list]")
        if checks is not None and any(len(ch) != 4 for ch in checks):
            diag.problem("`diagnostics.checks` entries must each hold 4 values")
    c.done()
    return law