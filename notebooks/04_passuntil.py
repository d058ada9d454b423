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
# # PassUntil: task scaling from very rare passes
#
# Hu et al. (ICLR 2024) measure tiny pass rates by sampling each test instance until it passes
# r times; with the task law $PU(N) = \exp(-c N^{-\alpha})$, $F = \log(-\log PU)$ is linear in
# $\log N$. Here: simulate PassUntil data at five model sizes, estimate PU with the unbiased
# estimator, fit the task law at the dataset and instance level, predict a larger model with an
# interval, and test for accelerated emergence (curvature of F).
#
# Set `SCALEFIT_NOTEBOOK_QUICK=1` for small settings (the test suite does).

# %%
import os

import numpy as np
import pandas as pd

import scalefit
import scalefit.plots as sp
from scalefit.sampling import (
    curvature_test,
    fit_instance_laws,
    fit_task_law,
    passuntil_estimate,
    passuntil_interval,
    task_law_pu,
)

scalefit.enable_x64()
QUICK = os.environ.get("SCALEFIT_NOTEBOOK_QUICK", "").lower() not in ("", "0", "false", "no")

# %% [markdown]
# ## Simulated data
#
# Each instance s has its own law (log c_s around 10.4, alpha_s around 0.44), so that pass rates
# run from about 1e-4 at 1e8 parameters to 0.3 at 1e10. Each (instance, size) is sampled until
# r = 2 passes, with at most K_max = 100,000 draws: a run that hits the cap is *censored* (it
# records the r' < r passes it saw in K_max draws).

# %%
rng = np.random.default_rng(0)
SIZES = np.array([1e8, 3e8, 1e9, 3e9, 1e10])
S = 20 if QUICK else 100
r, K_MAX = 2, 100_000
log_c = rng.normal(10.4, 0.15, S)
alpha = rng.normal(0.443, 0.01, S)
rows = []
for s in range(S):
    for N in SIZES:
        p = float(task_law_pu(N, np.exp(log_c[s]), alpha[s]))
        K = r + int(rng.negative_binomial(r, p))
        if K > K_MAX:
            rows.append({"instance": s, "N": N, "r": int(rng.binomial(K_MAX, p)), "K": K_MAX, "censored": True})
        else:
            rows.append({"instance": s, "N": N, "r": r, "K": K, "censored": False})
obs = pd.DataFrame(rows)
obs["pu"] = passuntil_estimate(obs["r"].to_numpy(), obs["K"].to_numpy(), censored=obs["censored"].to_numpy())
print(f"{len(obs)} runs, {int(obs['censored'].sum())} censored at K_max")
obs.head()

# %% [markdown]
# ## Task-level PU and its law
#
# Average the unbiased (r-1)/(K-1) estimates over instances at each size; fit F = log c - alpha log N
# by least squares; predict a 3e10-parameter model with a prediction interval.

# %%
task = obs.groupby("N", as_index=False)["pu"].mean()
boot = np.stack([obs.groupby("N")["pu"].apply(lambda v: rng.choice(v.to_numpy(), v.size).mean()).to_numpy()
                 for _ in range(200)])
task["lower"], task["upper"] = np.quantile(boot, [0.025, 0.975], axis=0)
law = fit_task_law(task["N"].to_numpy(), task["pu"].to_numpy())
print(f"task law: c = {law.c:.4g}, alpha = {law.alpha:.4f} (SE {law.se_alpha:.4f})")
TARGET_N = 3e10
iv = law.predict_interval(TARGET_N)
print(f"PU({TARGET_N:.0e}) = {iv.estimate:.4f}  [{iv.lower:.4f}, {iv.upper:.4f}]")
task

# %%
grid = np.geomspace(SIZES.min(), TARGET_N * 1.5, 60)
band = law.predict_interval(grid)
sp.plot_passuntil(task["N"], task["pu"], lower=task["lower"], upper=task["upper"], fit_N=grid,
                  fit=band.estimate, fit_lower=band.lower, fit_upper=band.upper, target_N=TARGET_N, level=0.9)

# %% [markdown]
# ## Instance-level laws
#
# Fitting each instance by likelihood (censored runs allowed) and averaging the per-instance
# predictions avoids the bias of averaging first (Jensen); the interval resamples instances.

# %%
inst = fit_instance_laws(obs["N"].to_numpy(), obs["r"].to_numpy(), obs["K"].to_numpy(), obs["instance"].to_numpy(),
                         censored=obs["censored"].to_numpy())
iv_inst = inst.predict_interval(grid, num_samples=500 if QUICK else 2000)
print(f"instance-level PU({TARGET_N:.0e}) = {inst.predict_values(TARGET_N):.4f}")
sp.plot_passuntil(task["N"], task["pu"], lower=task["lower"], upper=task["upper"], fit_N=grid,
                  fit=iv_inst.estimate, fit_lower=iv_inst.lower, fit_upper=iv_inst.upper, scale="pu",
                  label="instance-level laws", target_N=TARGET_N, level=0.9)

# %% [markdown]
# ## Exact per-instance intervals and the curvature test
#
# Completed PassUntil runs give exact intervals per instance. The curvature test asks whether F
# bends (accelerated emergence); it uses the completed runs with 0 < PU < 1 (a censored run or an
# estimate of exactly 1 has no finite F). With data simulated from the law it should say "linear".

# %%
done = obs[~obs["censored"]].copy()
est, lo, hi = passuntil_interval(done["r"].to_numpy(), done["K"].to_numpy())
done["lower"], done["upper"] = lo, hi
done = done[(done["pu"] > 0) & (done["pu"] < 1)]
F = np.log(-np.log(done["pu"].to_numpy()))
test = curvature_test(done["N"].to_numpy(), F, instance=done["instance"].to_numpy(),
                      num_samples=500 if QUICK else 2000)
print(f"quadratic coefficient {test.quadratic:.4f} [{test.lower:.4f}, {test.upper:.4f}]: {test.verdict}")
