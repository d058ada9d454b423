"""Prior predictive checks (docs/bayes.md#default-priors): draw curves from the prior and check that
the implied values at the extrapolation targets are plausible before trusting a posterior there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from .._config import require_x64
from ..errors import ArgumentError
from ..laws import ScalingLaw, get_law
from ..params import Prior
from .posterior import extrapolation_inputs, quantile_columns


@dataclass(frozen=True)
class PriorPredictiveCheck:
    """Prior draws of a law's curve at the data and at extrapolation targets.

    Attributes
    ----------
    table : DataFrame
        Per extrapolation factor: prior quantiles of the mean curve, the fraction of draws whose
        curve lies in (0, smallest observed value] (plausible for a loss that falls with scale) and
        the fraction above the largest observed value.
    exponent_above_2 : dict
        Per exponent-like coordinate, the prior probability that it exceeds 2.
    coverage_of_data : float
        Fraction of observations inside the central 90% prior predictive interval at their inputs.
    draws : dict
        Prior draws of every site (coordinates, prior variables, likelihood parameters, ``y``).
    """

    law: str
    table: pd.DataFrame
    exponent_above_2: Mapping[str, float]
    coverage_of_data: float
    draws: Mapping[str, np.ndarray] = field(repr=False)

    @property
    def plausible(self) -> bool:
        """Most prior curves are plausible at the targets and exponents are rarely above 2."""
        ok_target = bool((self.table["frac_in_0_to_min"] >= 0.5).all()) if "frac_in_0_to_min" in self.table else True
        return ok_target and all(p <= 0.05 for p in self.exponent_above_2.values())

    def summary(self) -> str:
        lines = [f"prior predictive check for `{self.law}`:"]
        lines.append(self.table.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
        if self.exponent_above_2:
            lines.append("P(exponent > 2): " + ", ".join(f"{k} {v:.3f}" for k, v in self.exponent_above_2.items()))
        lines.append(f"observations inside the 90% prior predictive interval: {100 * self.coverage_of_data:.0f}%")
        lines.append("plausible" if self.plausible else "WARNING: the priors imply implausible curves; narrow them")
        return "\n".join(lines)


_EXPONENTS = ("alpha", "beta", "alpha_N", "alpha_D", "c0")


def prior_predictive(data, law: str | ScalingLaw = "chinchilla", *, inputs: Mapping[str, str] | None = None,
                     target: str = "value", priors: Mapping[str, Prior] | None = None,
                     likelihood: str | None = None, num_samples: int = 2000, seed: int = 0,
                     factors: Sequence[float] = (1.0, 10.0, 100.0), law_options=None) -> PriorPredictiveCheck:
    """Simulate curves from the priors of a Bayesian fit of ``law`` to ``data`` (the priors are
    data dependent, e.g. E = u·L_min) and summarise them at the data and at ``factors`` times the
    largest fitted scale."""
    from numpyro.infer import Predictive

    from ..fit.point import resolve_constraints, bind_inputs
    from ._lawmodel import make_model, make_plan, model_data
    from ._priors import data_summaries
    from .posterior import load_frame

    require_x64()
    law = get_law(law, **dict(law_options or {}))
    frame, _ = load_frame(data, None)
    if target not in frame.columns:
        raise ArgumentError(f"`target` column `{target}` is not in the data")
    bound = bind_inputs(frame, law, inputs)
    free, fixed, tied = resolve_constraints(law, None, None)
    X = {n: frame[bound[n]].to_numpy(np.float64) for n in law.inputs}
    y = frame[target].to_numpy(np.float64)
    summ = data_summaries(X, y)
    if likelihood is None:
        likelihood = "student_t" if law.target == "log" else ("beta" if np.all((y > 0) & (y < 1)) else "student_t")
    plan = make_plan(law, free, fixed, tied, priors, likelihood=likelihood, run_effects=False, n_runs=1,
                     summaries=summ)
    md = model_data(plan, X, y, None, summ)
    pri = Predictive(make_model(plan), num_samples=int(num_samples))(jax.random.PRNGKey(seed), md, observe=False)
    draws = {k: np.asarray(v) for k, v in pri.items()}
    coords = {n: jnp.asarray(draws[n]) for n in law.param_names}
    rows = []
    if law.positive_inputs:
        Xe = extrapolation_inputs(frame, law, bound, factors)
        Xj = {k: jnp.asarray(v) for k, v in Xe.items()}
        mu = np.asarray(jax.vmap(lambda c: law.fn(c, Xj))(coords))
        curve = np.exp(mu) if law.target == "log" else mu
        q = quantile_columns(curve, (0.9,))
        for j, f in enumerate(factors):
            row = {"factor": f, **{n: Xe[n][j] for n in law.inputs}, **{k: v[j] for k, v in q.items()}}
            row["frac_in_0_to_min"] = float(np.mean((curve[:, j] > 0) & (curve[:, j] <= y.min())))
            row["frac_above_max"] = float(np.mean(curve[:, j] > y.max()))
            rows.append(row)
    table = pd.DataFrame(rows)
    exps = {n: float(np.mean(draws[n] > 2.0)) for n in law.param_names if n in _EXPONENTS}
    yy = draws["y"]
    obs = np.exp(yy) if law.target == "log" else yy
    lo, hi = np.quantile(obs, [0.05, 0.95], axis=0)
    cov = float(np.mean((y >= lo) & (y <= hi)))
    return PriorPredictiveCheck(law.name, table, exps, cov, draws)
