"""Bayesian fits (docs/bayes.md): NUTS with numpyro in float64, posterior predictive bands,
diagnostics that gate, and model comparison for extrapolation.

The same law definitions and parameter specs drive point fits and Bayesian fits: every
:class:`~scalefit.params.Param` of the registered laws carries a default weakly informative
:class:`~scalefit.params.Prior` (docs/bayes.md#default-priors), overridable per parameter.

Loss-curve laws
    :func:`fit_bayes` -> :class:`PosteriorFit` (``predict`` bands, ``allocation``,
    ``compute_for_loss``, ``input_for_loss``, ``loo``, ``prior_sensitivity``, JSON round trip);
    :func:`prior_predictive`.
Repeated sampling
    :func:`fit_beta_binomial_bayes` -> :class:`BetaBinomialPosterior` (ASR@N / pass@N, budgets);
    :func:`fit_hierarchical_beta_binomial` -> :class:`HierarchicalBetaBinomialPosterior`;
    :func:`fit_passuntil_bayes` -> :class:`PassUntilPosterior`; :func:`beta_binomial_mode`.
Comparison
    :func:`compare_laws` (PSIS-LOO and leave-future-out), :func:`loo`, :func:`leave_future_out`.
Diagnostics
    :class:`Diagnostics`, :class:`Thresholds` (R-hat, bulk/tail ESS, divergences, E-BFMI,
    tree depth; docs/bayes.md#diagnostics).

Results hold an ArviZ ``InferenceData`` (arviz 0.23 is installed; arviz >= 1.0 calls the same
container a ``DataTree``).  Chains run in parallel over JAX devices when there are at least as
many devices as chains, else vectorised; on a CPU, set
``XLA_FLAGS=--xla_force_host_platform_device_count=4`` before importing JAX for parallel chains.
"""

from ..params import DataRef, Prior
from ._nuts import NutsSettings, chain_method_for
from ._priors import NOISE_PRIORS
from .betabinom import (
    BETA_BINOMIAL_PARAMS,
    HIERARCHICAL_PRIORS,
    BetaBinomialPosterior,
    HierarchicalBetaBinomialPosterior,
    beta_binomial_mode,
    fit_beta_binomial_bayes,
    fit_hierarchical_beta_binomial,
)
from .compare import LawComparison, LfoScore, LooResult, compare_laws, leave_future_out, loo, pareto_k_threshold
from .diagnostics import Diagnostics, Thresholds, compute_diagnostics
from .passuntil import PASSUNTIL_PRIORS, PassUntilPosterior, fit_passuntil_bayes
from .posterior import PosteriorFit, fit_bayes, load_posterior
from .prior import PriorPredictiveCheck, prior_predictive

__all__ = [
    "Prior",
    "DataRef",
    "NOISE_PRIORS",
    "BETA_BINOMIAL_PARAMS",
    "HIERARCHICAL_PRIORS",
    "PASSUNTIL_PRIORS",
    "fit_bayes",
    "PosteriorFit",
    "load_posterior",
    "prior_predictive",
    "PriorPredictiveCheck",
    "fit_beta_binomial_bayes",
    "BetaBinomialPosterior",
    "beta_binomial_mode",
    "fit_hierarchical_beta_binomial",
    "HierarchicalBetaBinomialPosterior",
    "fit_passuntil_bayes",
    "PassUntilPosterior",
    "compare_laws",
    "LawComparison",
    "leave_future_out",
    "LfoScore",
    "loo",
    "LooResult",
    "pareto_k_threshold",
    "Diagnostics",
    "Thresholds",
    "compute_diagnostics",
    "NutsSettings",
    "chain_method_for",
]
