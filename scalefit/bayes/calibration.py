"""Simulation-based calibration and interval coverage (docs/bayes.md#calibration).

Draw parameters from the prior, simulate a data set from the model, fit it with NUTS, and record
(i) the rank of the true value among the posterior draws (uniform if the implementation is
right: Talts et al. 2018) and (ii) whether central credible intervals contain the truth (90%
intervals should do so 90% of the time when the truth is drawn from the prior).  All data sets
are fitted in one vmapped, jitted NUTS program (:func:`~scalefit.bayes._nuts.sample_batched`),
one chain per data set with its own warm-up, which is what makes 200 fits affordable.

The priors must not depend on the simulated observations (SBC needs a fixed prior): the
defaults E = u·L_min and A_ref ~ Normal(log(0.3·median L), 1) do, so pass data-independent
priors for those (summaries of the fixed design x, such as ``log_x_ref``, are allowed).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from .._config import require_x64
from ..errors import ArgumentError
from ..laws import ScalingLaw, get_law
from ..params import DataRef, Prior


@dataclass(frozen=True)
class CalibrationResult:
    """Truths, thinned posterior draws, ranks, χ² uniformity tests and interval coverage."""

    truth: Mapping[str, np.ndarray] = field(repr=False)          # name -> (B,)
    draws: Mapping[str, np.ndarray] = field(repr=False)          # name -> (B, S)
    level: float
    num_datasets: int
    num_draws: int
    thin: int
    divergences: np.ndarray = field(repr=False)                  # (B,)
    bins: int = 10

    def ranks(self, name: str) -> np.ndarray:
        """Rank of the truth among the thinned draws (0..S/thin) per data set."""
        d = self.draws[name][:, :: self.thin]
        return np.sum(d < self.truth[name][:, None], axis=1)

    def rank_test(self, name: str) -> tuple[np.ndarray, float]:
        """(histogram in ``bins`` equal bins, χ² p-value of uniformity)."""
        import scipy.stats as st

        L = self.draws[name][:, :: self.thin].shape[1]
        r = self.ranks(name)
        # L + 1 possible ranks spread evenly over the bins
        h = np.bincount(np.minimum((r * self.bins) // (L + 1), self.bins - 1), minlength=self.bins)
        return h, float(st.chisquare(h).pvalue)

    def coverage(self, name: str, level: float | None = None) -> float:
        level = self.level if level is None else level
        lo, hi = np.quantile(self.draws[name], [0.5 - level / 2, 0.5 + level / 2], axis=1)
        t = self.truth[name]
        return float(np.mean((t >= lo) & (t <= hi)))

    def table(self) -> pd.DataFrame:
        rows = []
        for n in self.truth:
            h, p = self.rank_test(n)
            rows.append({"quantity": n, f"coverage{int(100 * self.level)}": self.coverage(n), "rank_chi2_p": p,
                         "rank_hist": " ".join(map(str, h))})
        return pd.DataFrame(rows)


def _check_fixed_prior(name: str, p: Prior) -> None:
    bad = p.transform == "floor" or any(isinstance(a, DataRef) and a.input is None for a in p.args)
    if bad:
        raise ArgumentError(
            f"prior of `{name}` ({p.describe()}) depends on the simulated observations; calibration needs "
            "a fixed prior (design summaries such as log_x_ref are fine)"
        )


def calibrate_law(
    law: str | ScalingLaw,
    X: Mapping[str, np.ndarray],
    priors: Mapping[str, Prior],
    *,
    likelihood: str = "student_t",
    num_datasets: int = 200,
    num_warmup: int = 300,
    num_samples: int = 1000,
    thin: int = 5,
    level: float = 0.9,
    seed: int = 0,
    target_accept: float = 0.9,
    max_tree_depth: int = 8,
    derived: Mapping[str, Callable] | None = None,
    batch_size: int | None = None,
) -> CalibrationResult:
    """SBC and coverage for a loss-curve law on a fixed design ``X`` (the real model code:
    the same priors, transforms and likelihood as :func:`~scalefit.bayes.fit_bayes`).

    ``derived`` maps names to functions ``f(coords) -> scalar`` of the fit coordinates whose
    truths and draws are recorded too (e.g. the curve at 10x the largest x).
    """
    from numpyro.infer import Predictive

    from ._lawmodel import make_model, make_plan, model_data
    from ._nuts import sample_batched
    from ._priors import data_summaries, prior_median

    require_x64()
    law = get_law(law)
    X = {k: np.asarray(v, dtype=np.float64) for k, v in X.items()}
    n = len(next(iter(X.values())))
    free = law.param_names
    summ = {k: v for k, v in data_summaries(X, np.ones(n)).items() if not k.startswith(("y_", "log_y_"))}
    plan = make_plan(law, free, {}, {}, priors, likelihood=likelihood, run_effects=False, n_runs=1, summaries=summ)
    for k, p in plan.priors.items():
        _check_fixed_prior(k, p)
    model = make_model(plan)
    md = model_data(plan, X, np.ones(n), None, summ)
    B = int(num_datasets)
    key_prior, key_fit = jax.random.split(jax.random.PRNGKey(seed))
    pri = Predictive(model, num_samples=B)(key_prior, md, observe=False)
    data_b = {"X": {k: jnp.broadcast_to(v, (B, n)) for k, v in md["X"].items()}, "y_t": pri["y"],
              "run": jnp.zeros((B, n), jnp.int32), "mask": jnp.ones((B, n), bool),
              "summ": {k: jnp.full((B,), v) for k, v in md["summ"].items()}}
    init = {}
    for nm in plan.order:
        init[plan.sites[nm]] = jnp.full((B,), prior_median(plan.priors[nm], summ))
    for nm in plan.nuisance:
        init[nm] = jnp.full((B,), prior_median(plan.priors[nm], summ))
    samples, div = sample_batched(model, data_b, init, num_warmup=num_warmup, num_samples=num_samples,
                                  seed=int(jax.random.randint(key_fit, (), 0, 2**30)), target_accept=target_accept,
                                  max_tree_depth=max_tree_depth, batch_size=batch_size)
    names = list(free) + list(plan.nuisance)
    truth = {k: np.asarray(pri[k]) for k in names}
    draws = {k: samples[k] for k in names}
    for name, f in (derived or {}).items():
        truth[name] = np.asarray(jax.vmap(f)({k: pri[k] for k in free}))
        draws[name] = np.asarray(jax.vmap(jax.vmap(f))({k: jnp.asarray(samples[k]) for k in free}))
    return CalibrationResult(truth, draws, float(level), B, int(num_samples), int(thin), div.sum(axis=1))


def calibrate_beta_binomial(
    num_items: int,
    attempts: int,
    *,
    priors: Mapping[str, Prior] | None = None,
    N: Sequence[float] = (100.0, 1000.0),
    num_datasets: int = 200,
    num_warmup: int = 300,
    num_samples: int = 1000,
    thin: int = 5,
    level: float = 0.9,
    seed: int = 0,
    target_accept: float = 0.9,
    max_tree_depth: int = 8,
    batch_size: int | None = None,
) -> CalibrationResult:
    """SBC and coverage for the Beta-Binomial model: (α, β) from the prior, p_i ~ Beta(α, β),
    k_i ~ Binomial(attempts, p_i) for ``num_items`` problems; records α, β and the population
    ASR@N for each N in ``N`` (named ``asr@N``)."""
    from ..sampling._special import log_beta_fail
    from ._nuts import sample_batched
    from ._priors import prior_median, to_distribution
    from .betabinom import resolve_priors, single_model

    require_x64()
    names = ("alpha", "beta")
    pri = resolve_priors(priors, names)
    model, _ = single_model(pri, False)
    B = int(num_datasets)
    rng = np.random.default_rng(seed)
    k_a, k_b, k_fit = jax.random.split(jax.random.PRNGKey(seed), 3)
    from ._priors import to_coordinate

    a = np.asarray(to_coordinate(pri["alpha"], to_distribution(pri["alpha"]).sample(k_a, (B,)), {}, {}))
    b = np.asarray(to_coordinate(pri["beta"], to_distribution(pri["beta"]).sample(k_b, (B,)), {}, {}))
    p = rng.beta(a[:, None], b[:, None], size=(B, num_items))
    k = rng.binomial(attempts, p)
    # the likelihood over the count histogram (rows k = 0..attempts with multiplicities)
    w = np.stack([np.bincount(row, minlength=attempts + 1) for row in k]).astype(np.float64)
    data_b = {"n": jnp.full((B, attempts + 1), float(attempts)),
              "k": jnp.broadcast_to(jnp.arange(attempts + 1, dtype=jnp.float64), (B, attempts + 1)),
              "w": jnp.asarray(w), "aux": {}, "aux_int": None}  # the beta family's kernel: closed form, no constants
    init = {}
    for nm in names:
        from ._priors import variable_name

        init[variable_name(nm, pri[nm])] = jnp.full((B,), prior_median(pri[nm], {}))
    samples, div = sample_batched(model, data_b, init, num_warmup=num_warmup, num_samples=num_samples,
                                  seed=int(jax.random.randint(k_fit, (), 0, 2**30)), target_accept=target_accept,
                                  max_tree_depth=max_tree_depth, batch_size=batch_size)
    truth = {"alpha": a, "beta": b}
    draws = {"alpha": samples["alpha"], "beta": samples["beta"]}
    for N_ in N:
        truth[f"asr@{N_:g}"] = -np.expm1(np.asarray(log_beta_fail(float(N_), a, b)))
        draws[f"asr@{N_:g}"] = -np.expm1(np.asarray(log_beta_fail(float(N_), samples["alpha"], samples["beta"])))
    return CalibrationResult(truth, draws, float(level), B, int(num_samples), int(thin), div.sum(axis=1))
