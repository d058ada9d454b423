"""Repeated-sampling models: pass@k, Beta-Binomial best-of-N (SABER), PassUntil, verifiers.

docs/best_of_n.md (best-of-N / repeated sampling) and docs/passuntil.md (PassUntil).  JAX-based functions need
float64: call ``scalefit.enable_x64()`` first; the public entry points raise ``PrecisionError`` otherwise.

Modules
-------
passk       unbiased pass@k (Chen et al.), plug-in, benchmark mean and bootstrap interval
betabinom   Beta-Binomial MLE (histogram, damped Newton), method of moments, zero-inflated fit
bestofn     exact ASR@N, asymptotes, SABER estimators and budgets, exact conditional estimator,
            neg-log power-law fits (Best-of-N Jailbreaking, Large Language Monkeys)
passuntil   PassUntil estimators and intervals, task law fits, curvature test
verifiers   accuracy ceilings and utilities under imperfect verifiers
models      richer mixing distributions for per-item success probability (Beta, zero-inflated
            Beta, two-component Beta mixture, logit-normal, Kumaraswamy), batched fits
bonfit      the default pass@N / ASR@N forecast: model choice by internal backtest, bootstrap
            intervals over the whole procedure, budgets
censored    sample-until-success logs: exact likelihoods (batch granularity), ASR@N from logs
backtest    backtests of forecasts against logs with a large budget (scalefit vs SABER)
holdout     the backtest harness: how every backtest cuts data into a part to fit and a held-out
            truth (thinned counts, first attempts, held-out sizes), and the backtest scores
plan        the adaptive sampling planner: where to spend further attempts for a sharper pass@N
passuntil_holdout  PassUntil task-law forecast of a held-out model size
cli         the ``passk``, ``bon``, ``passuntil`` and ``backtest`` commands
"""

from ._common import Interval
from ._special import (
    beta_binomial_logpmf,
    log_beta_fail,
    log_beta_fail_asymptotic,
    log_beta_ratio,
    log_gamma_ratio,
)
from .betabinom import (
    BetaBinomialFit,
    MomentEstimate,
    ZeroInflatedBetaBinomialFit,
    beta_binomial_moments,
    count_histogram,
    fit_beta_binomial,
    fit_zero_inflated_beta_binomial,
)
from .bestofn import (
    NegLogPowerLaw,
    SaberPrediction,
    asr_asymptotic,
    asr_budget_exact,
    asr_conditional,
    asr_exact,
    asr_naive,
    beta_fail_asymptotic,
    coverage_power_law,
    fit_bon_power_law,
    fit_coverage_power_law,
    hughes_grid,
    neg_log_asr_exact,
    observed_asr,
    saber_anchored,
    saber_anchored_interval,
    saber_budget_anchored,
    saber_budget_plugin,
    saber_fit,
    saber_plugin,
    saber_plugin_interval,
    saber_predict,
    scaled_beta_failure,
    scaled_beta_failure_asymptote,
)
from .passk import mean_pass_at_k, pass_at_k, pass_at_k_interval, pass_at_k_plugin
from .passuntil import (
    CurvatureTest,
    InstanceLawFit,
    PassUntilBiasWarning,
    TaskLawFit,
    curvature_test,
    fit_instance_laws,
    fit_task_law,
    passuntil_censored_upper,
    passuntil_estimate,
    passuntil_interval,
    passuntil_loglog,
    passuntil_mle_bias,
    task_law_log_pu,
    task_law_loglog,
    task_law_pu,
)
from .backtest import BacktestResult, backtest_counts, backtest_log
from .censored import as_item_data, asr_from_log, until_success_items
from .bonfit import DEFAULT_CANDIDATES, BonFit, BudgetForecast, Forecast, SavedForecast, fit_bon, forecast
from .families import MixingFamily, available_families, get_family, register_family, unregister_family
from .models import ItemData, ItemPosterior, MixingFit, fit_mixing, item_data
from .plan import PlanResult, RoundsResult, merge_attempts, plan, sample_in_rounds
from .passuntil_holdout import PassUntilHoldout, passuntil_holdout
from .verifiers import (
    empirical_verifier_ceiling,
    utility_optimal_budget,
    verifier_accuracy,
    verifier_accuracy_ceiling,
    verifier_expected_utility,
)

__all__ = [
    # results
    "Interval",
    "BetaBinomialFit",
    "ZeroInflatedBetaBinomialFit",
    "MomentEstimate",
    "NegLogPowerLaw",
    "SaberPrediction",
    "TaskLawFit",
    "InstanceLawFit",
    "CurvatureTest",
    "PassUntilBiasWarning",
    # special functions
    "log_gamma_ratio",
    "log_beta_fail",
    "log_beta_fail_asymptotic",
    "log_beta_ratio",
    "beta_binomial_logpmf",
    # pass@k
    "pass_at_k",
    "pass_at_k_plugin",
    "mean_pass_at_k",
    "pass_at_k_interval",
    # Beta-Binomial
    "fit_beta_binomial",
    "fit_zero_inflated_beta_binomial",
    "beta_binomial_moments",
    "count_histogram",
    # best-of-N
    "asr_exact",
    "neg_log_asr_exact",
    "beta_fail_asymptotic",
    "asr_asymptotic",
    "asr_budget_exact",
    "observed_asr",
    "saber_plugin",
    "saber_plugin_interval",
    "saber_anchored",
    "saber_anchored_interval",
    "saber_budget_anchored",
    "saber_budget_plugin",
    "asr_conditional",
    "asr_naive",
    "saber_fit",
    "saber_predict",
    "hughes_grid",
    "fit_bon_power_law",
    "coverage_power_law",
    "fit_coverage_power_law",
    "scaled_beta_failure",
    "scaled_beta_failure_asymptote",
    # PassUntil
    "passuntil_estimate",
    "passuntil_interval",
    "passuntil_censored_upper",
    "passuntil_mle_bias",
    "passuntil_loglog",
    "task_law_log_pu",
    "task_law_pu",
    "task_law_loglog",
    "fit_task_law",
    "fit_instance_laws",
    "curvature_test",
    # mixing models, default forecast, censored logs, backtests
    "MIXING_MODELS",
    "MixingFamily",
    "register_family",
    "unregister_family",
    "get_family",
    "available_families",
    "DEFAULT_CANDIDATES",
    "ItemData",
    "item_data",
    "MixingFit",
    "fit_mixing",
    "BonFit",
    "SavedForecast",
    "Forecast",
    "BudgetForecast",
    "fit_bon",
    "forecast",
    "until_success_items",
    "as_item_data",
    "asr_from_log",
    "BacktestResult",
    "backtest_counts",
    "backtest_log",
    "ItemPosterior",
    "PlanResult",
    "RoundsResult",
    "plan",
    "sample_in_rounds",
    "merge_attempts",
    "PassUntilHoldout",
    "passuntil_holdout",
    # verifiers
    "verifier_accuracy",
    "verifier_accuracy_ceiling",
    "empirical_verifier_ceiling",
    "verifier_expected_utility",
    "utility_optimal_budget",
]


def __getattr__(name):
    if name == "MIXING_MODELS":  # the registered mixing families, at the time of asking
        return available_families()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
