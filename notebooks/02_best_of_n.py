# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # Predicting ASR@N and pass@N from 100 attempts
#
# Given 100 attempts per problem, how often will *some* attempt succeed with 1,000 or 10,000?
# Fit a Beta distribution of per-problem success rates (Beta-Binomial maximum likelihood),
# predict with the exact conditional estimator, find the budget for a target rate, and check
# the method with a backtest that predicts from fewer attempts than were made.
#
# Set `SCALEFIT_NOTEBOOK_QUICK=1` for small settings (the test suite does).

# %%
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

import scalefit
import scalefit.plots as sp
from scalefit.io import load_attempts, subsample_counts
from scalefit.report import build_report, make_bon_curve, save_bon_curve
from scalefit.sampling import fit_beta_binomial, mean_pass_at_k, saber_predict

scalefit.enable_x64()
QUICK = os.environ.get("SCALEFIT_NOTEBOOK_QUICK", "").lower() not in ("", "0", "false", "no")
ROOT = next(p for p in [Path.cwd(), *Path.cwd().parents] if (p / "data" / "chinchilla_synthetic.csv").is_file())
SHARED = Path(os.environ.get("SCALEFIT_SHARED_DATA", ROOT.parent / "shared" / "data"))
OUT = Path(tempfile.mkdtemp(prefix="scalefit-nb-")) if QUICK else ROOT / "reports"  # reports/*.pdf, *.json are git-ignored
OUT.mkdir(parents=True, exist_ok=True)
NUM_SAMPLES = 200 if QUICK else 1000

# %% [markdown]
# ## Data
#
# With `../shared/data` present (and not in quick mode): Large Language Monkeys' Pythia-1B
# samples on MATH, 10,000 per problem, of which we keep a random 100 — so the full 10,000 can
# check the prediction. Otherwise the bundled synthetic counts (150 problems x 100 attempts,
# p ~ Beta(0.4, 4)).

# %%
monkeys = SHARED / "repeated_sampling" / "pythia_math_final_counts.csv"
if monkeys.is_file() and not QUICK:
    full = load_attempts(monkeys, n="n_samples", k="n_correct", item="problem_idx", groups=["model", "benchmark"])
    full = full[full["model"] == "Pythia 1B"].reset_index(drop=True)
    counts = subsample_counts(full, 100, seed=0)
    source = f"{monkeys} (Pythia 1B, 100 of 10,000 samples per problem)"
else:
    full = None
    source = "data/bon_synthetic_counts.csv"
    counts = load_attempts(ROOT / source)
n, k = counts["n"].to_numpy(), counts["k"].to_numpy()
print(f"{len(counts)} problems, {n.min()}-{n.max()} attempts, {np.mean(k > 0):.1%} solved at least once")

# %% [markdown]
# ## The model
#
# Per-problem success probability $p \sim \mathrm{Beta}(a, b)$, fitted by maximum likelihood on
# the per-count histogram. $a$ governs the tail of hard problems, and so the growth of ASR@N.

# %%
fit = fit_beta_binomial(n, k)
print(fit.summary())

# %% [markdown]
# ## Every estimator at once
#
# SABER's estimators at N = 1,000 and 10,000: the exact conditional estimator (for these
# problems, counting the attempts already made), the population curve (new problems), the plug-in
# and anchored approximations, and the naive per-problem baseline.

# %%
TARGETS = [1000, 10000]
pred = saber_predict(n, k, TARGETS)
pd.DataFrame({"N": pred.N, "conditional": pred.conditional, "population": pred.population,
              "plugin": pred.plugin, "anchored": pred.anchored, "naive": pred.naive})

# %% [markdown]
# ## A saved prediction with intervals, a budget and a backtest
#
# `make_bon_curve` evaluates the conditional estimator on a grid with intervals from draws of the
# MLE's sampling distribution, the budget that reaches a target rate, and a backtest: keep 10 of
# each problem's attempts, predict N = 20..100, compare with what the held-out attempts show.

# %%
record = make_bon_curve(n, k, targets=TARGETS, budget_target=0.9, backtest_attempts=10,
                        num_samples=NUM_SAMPLES, seed=0, source=source, metric="ASR",
                        title="ASR@N from 100 attempts per problem")
pd.DataFrame(record["targets"])

# %%
record["budget"]

# %%
backtest = pd.DataFrame(record["backtest"]["rows"])
backtest

# %% [markdown]
# ## Plots
#
# The plotting functions take plain arrays, so they work with any best-of-N result.

# %%
curve, obs, model = record["curve"], record["observed"], record["model_curve"]
sp.plot_sampling_curve(curve["N"], curve["prediction"], curve["lower"], curve["upper"],
                       observed_N=obs["N"], observed=obs["value"], observed_lower=obs["lower"],
                       observed_upper=obs["upper"], model_N=model["N"], model=model["prediction"],
                       budget=record["budget"]["N"], budget_interval=(record["budget"]["lower"], record["budget"]["upper"]),
                       target_value=0.9, targets=pd.DataFrame(record["targets"]), extrapolate_from=n.max(),
                       level=0.95)

# %%
sp.plot_sampling_curve(curve["N"], curve["prediction"], curve["lower"], curve["upper"], observed_N=obs["N"],
                       observed=obs["value"], metric="pass", yscale="neglog", extrapolate_from=n.max())

# %%
sp.plot_backtest(backtest, level=0.95)

# %% [markdown]
# ### pass@N is the same computation
#
# pass@N on a benchmark (Large Language Monkeys' coverage) and ASR@N for jailbreaks (Best-of-N
# Jailbreaking) are the same quantity: the share of problems solved by at least one of N attempts.

# %%
ks = [1, 10, 100]
print("observed pass@k (unbiased):", dict(zip(ks, np.round(mean_pass_at_k(n, k, ks), 4))))

# %% [markdown]
# ### Against the full 10,000 samples (real data only)

# %%
if full is not None:
    truth = mean_pass_at_k(full["n"].to_numpy(), full["k"].to_numpy(), TARGETS)
    print(pd.DataFrame({"N": TARGETS, "predicted (from 100)": pred.conditional, "observed (10,000)": truth}))
else:
    print("bundled data: no held-out samples beyond 100 attempts")

# %% [markdown]
# ## Report
#
# Save the record and build the PDF from it.

# %%
path = OUT / "notebook_best_of_n_curve.json"
save_bon_curve(record, path, overwrite=True)
info = build_report(path, OUT / "notebook_best_of_n.pdf", force=True)
print(f"wrote {info.path}: {info.n_pages} pages; warnings: {list(info.warnings)}")

# %% [markdown]
# ## NEW API: the best-of-N model layer (being built)
#
# *This cell uses `scalefit.sampling.models` (mixing-distribution families compared on the same
# data). It is skipped, with a message, only while that module is absent.* Lead: replace
# `make_bon_curve` above by the saved best-of-N fit and its `backtest` once their formats are final.

# %%
try:
    from scalefit.sampling.models import MIXING_MODELS, fit_mixing
except ImportError:
    fit_mixing = None
    print("scalefit.sampling.models is not available yet: skipping the model comparison")
if fit_mixing is not None:
    families = ("beta", "zi_beta") if QUICK else MIXING_MODELS
    fits = {m: fit_mixing(n, k, model=m) for m in families}
    print(pd.DataFrame({m: {"AIC": f.aic, "population ASR@1000": f.population(1000.0), "converged": f.converged}
                        for m, f in fits.items()}).T)

# %%
if QUICK:  # the test suite's temporary outputs
    import shutil

    shutil.rmtree(OUT, ignore_errors=True)
