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
    :func:`fit_mixing_bayes` -> :class:`MixingPosterior`: any registered mixing family
    (:func:`scalefit.sampling.available_families`), from the family's own spec;
    :func:`fit_hierarchical_mixing` -> :class:`HierarchicalMixingPosterior` for several groups;
    :func:`fit_pooled_bayes` -> :class:`PooledPosterior`: the pooled model of groups that share
    items (:mod:`scalefit.sampling.pooled`), the item effects integrated out.
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

# Exports resolve on first use (PEP 562), so that importing one submodule (the CLI wiring in
# scalefit.bayes.cli, say) does not import numpyro and every posterior class: ~1 s per command.
_LAZY = {
    "NutsSettings": "._nuts", "chain_method_for": "._nuts",
    "NOISE_PRIORS": "._priors",
    "BETA_BINOMIAL_PARAMS": ".betabinom", "HIERARCHICAL_PRIORS": ".betabinom",
    "BetaBinomialPosterior": ".betabinom", "HierarchicalBetaBinomialPosterior": ".betabinom",
    "beta_binomial_mode": ".betabinom", "fit_beta_binomial_bayes": ".betabinom",
    "fit_hierarchical_beta_binomial": ".betabinom",
    "MixingPosterior": ".mixing", "fit_mixing_bayes": ".mixing",
    "HierarchicalMixingPosterior": ".mixing", "fit_hierarchical_mixing": ".mixing",
    "PooledPosterior": ".pooled", "fit_pooled_bayes": ".pooled",
    "LawComparison": ".compare", "LfoScore": ".compare", "LooResult": ".diagnostics", "compare_laws": ".compare",
    "leave_future_out": ".compare", "loo": ".diagnostics", "pareto_k_threshold": ".diagnostics",
    "Diagnostics": ".diagnostics", "Thresholds": ".diagnostics", "compute_diagnostics": ".diagnostics",
    "PASSUNTIL_PRIORS": ".passuntil", "PassUntilPosterior": ".passuntil", "fit_passuntil_bayes": ".passuntil",
    "PosteriorFit": ".posterior", "fit_bayes": ".posterior", "load_posterior": ".saved",
    "PriorPredictiveCheck": ".prior", "prior_predictive": ".prior",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


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
    "fit_mixing_bayes",
    "MixingPosterior",
    "fit_hierarchical_mixing",
    "HierarchicalMixingPosterior",
    "fit_pooled_bayes",
    "PooledPosterior",
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
