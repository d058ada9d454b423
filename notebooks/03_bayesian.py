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
# # Bayesian fits and model comparison
#
# Does a loss curve level off at an irreducible floor E, or keep falling as a pure power law?
# The two laws fit the measured range almost equally well and disagree far beyond it, so the
# choice matters for extrapolation. This notebook compares them three ways:
#
# 1. point fits and a held-out test (the largest sizes predicted from the smaller ones);
# 2. the bootstrap distribution of the parameters, shown with the posterior plotting tools;
# 3. full Bayesian fits (NUTS) with posterior predictive bands, the diagnostics that gate them, and a
#    model comparison by PSIS-LOO (interpolation) and leave-future-out (extrapolation); the posterior
#    is then turned into a PDF report.
#
# Set `SCALEFIT_NOTEBOOK_QUICK=1` for small settings (the test suite does).

# %%
import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from IPython.display import display

import scalefit
import scalefit.plots as sp

scalefit.enable_x64()
QUICK = os.environ.get("SCALEFIT_NOTEBOOK_QUICK", "").lower() not in ("", "0", "false", "no")
ROOT = next(p for p in [Path.cwd(), *Path.cwd().parents] if (p / "scalefit" / "examples" / "chinchilla_synthetic.csv").is_file())

# %% [markdown]
# ## Data: a loss curve with a floor
#
# `scalefit/examples/power_law_synthetic.csv`: L(N) = 1.5 + 50 N^-0.3 at 10 sizes from 1e6 to 1e9 parameters,
# with 0.5% log-normal noise.

# %%
frame = scalefit.load_curves(ROOT / "scalefit" / "examples" / "power_law_synthetic.csv")
LAWS = ("power_law", "power_law_no_floor")
fits = {law: scalefit.fit_law(frame, law, inputs={"x": "N"}, source="scalefit/examples/power_law_synthetic.csv") for law in LAWS}
for law, f in fits.items():
    print(f.summary(), end="\n\n")

# %% [markdown]
# ## Held-out test
#
# Refit each law with the three largest sizes weighted out (same data, zero weight) and predict
# them: the error on unseen, larger models is the comparison that matters for extrapolation.

# %%
held_out = frame["N"] >= np.sort(frame["N"].unique())[-3]
rows = []
for law in LAWS:
    f = scalefit.fit_law(frame, law, inputs={"x": "N"}, weights=(~held_out).astype(float).to_numpy())
    pred = f.predict(frame[held_out].rename(columns={"N": "x"}))["prediction"].to_numpy()
    err = np.log(pred) - np.log(frame.loc[held_out, "value"].to_numpy())
    rows.append({"law": law, "held-out RMS log error": float(np.sqrt(np.mean(err**2))),
                 "prediction at 1e11": float(fits[law].predict(x=1e11)["prediction"].iloc[0])})
pd.DataFrame(rows)

# %% [markdown]
# ## Bootstrap distribution, displayed like a posterior
#
# Bootstrap replicates are not posterior draws, but arviz displays any set of draws; a
# posterior from the Bayesian fit below plugs into the same functions.

# %%
with warnings.catch_warnings():
    warnings.simplefilter("ignore", FutureWarning)
    import arviz as az

boot = scalefit.bootstrap(fits["power_law"], 50 if QUICK else 1000, seed=0, progress=False)
draws = {p.natural or p.name: (np.exp(boot.bootstrap.param(p.name)) if p.is_log else boot.bootstrap.param(p.name))
         for p in boot.law.params}
idata = az.from_dict(posterior={k: v[None, :] for k, v in draws.items()})
sp.plot_posterior_marginals(idata, ref_val={"A": 50.0, "alpha": 0.3, "E": 1.5})

# %%
sp.plot_posterior_pairs(idata)

# %%
sp.plot_extrapolation(boot, {"x": 1e11})

# %% [markdown]
# ## Bayesian fit with `scalefit.bayes.fit_bayes`
#
# NUTS in float64 with the law's default weakly informative priors and a Student-t likelihood on
# log loss (docs/bayes.md). Quick mode runs 2 short chains, so its diagnostics may fail the
# thresholds of docs/bayes.md#diagnostics (R-hat ≤ 1.01, ESS ≥ 400): the fit then says so and names the remedy. A real
# analysis uses the defaults (4 chains × 1000 draws).

# %%
from scalefit.bayes import compare_laws, fit_bayes, loo

SETTINGS = dict(num_warmup=100, num_samples=100, num_chains=2) if QUICK else {}
post = fit_bayes(frame, "power_law", inputs={"x": "N"}, seed=0, progress=False,
                 source="scalefit/examples/power_law_synthetic.csv", **SETTINGS)
print(post.summary())

# %% [markdown]
# ### Posterior predictive bands
#
# `band_table` evaluates the posterior at 1×, 10× and 100× the largest fitted size: the median and
# 90% interval of the mean curve (parameter uncertainty) and of a new observation (adds the noise
# of a new run), with the extrapolation factor and a flag beyond 10×, where the band is conditional
# on the law's form.

# %%
bands = post.band_table((1.0, 10.0, 100.0), level=0.9)
display(bands[["factor", "x", "median", "q05", "q95", "obs_q05", "obs_q95", "extrapolation", "beyond_10x"]])

# %%
sp.plot_extrapolation(post, {"x": 1e11}, observation_band=True)

# %%
sp.plot_posterior_marginals(post.idata, var_names=["alpha", "e", "sigma"])

# %% [markdown]
# ### Diagnostics
#
# R-hat, bulk/tail ESS, divergences, E-BFMI and tree-depth saturation, each with its verdict and,
# when it fails, the remedy. `post.converged` is True only when all pass.

# %%
print(post.diagnostics.summary())
display(post.diagnostics.table)
print("converged:", post.converged)
for remedy in post.diagnostics.remedies:
    print("remedy:", remedy)

# %%
sp.plot_posterior_trace(post.idata, var_names=["alpha", "e"])

# %% [markdown]
# ## Model comparison: PSIS-LOO and leave-future-out
#
# PSIS-LOO scores how well each law predicts a left-out point *inside* the data (interpolation);
# its Pareto-k diagnostic flags points whose estimate is unreliable. Leave-future-out refits each
# law without the largest sizes and scores its predictions for them: the comparison that matters
# for extrapolation. `compare_laws` does both and recommends a law only when its fits pass the
# diagnostics.

# %%
res = loo(post.idata)
print(f"power_law: elpd_loo = {res.elpd:.2f} (SE {res.se:.2f}), p_loo = {res.p_loo:.2f}; {res.message}")

# %%
comparison = compare_laws(frame, LAWS, inputs={"x": "N"}, holdout=0.3, seed=0, progress=False, **SETTINGS)
print(comparison.summary())
display(comparison.table)

# %%
pd.DataFrame([{"law": s.law, "trained on": s.n_train, "held out": s.n_test, "elpd_lfo": s.elpd,
               "ARE": s.are, "50% coverage": s.coverage50, "90% coverage": s.coverage90,
               "extrapolation factor": s.max_factor, "diagnostics passed": s.converged}
              for s in comparison.lfo.values()])

# %% [markdown]
# ## A PDF report of the posterior
#
# `scalefit.report.build_report` renders a saved posterior (or the object itself) without
# resampling: a cover page with the plain-language summary (the prediction at the target with its
# credible interval and extrapolation factor), every warning and the provenance, then parameter and
# prediction tables, the extrapolation plot with bands, the marginal and pair plots, and the
# diagnostics. The same as `scalefit report posterior.json --at N=1e11 -o reports/03_bayesian.pdf`.

# %%
import tempfile

from scalefit.report import build_report

_scratch = tempfile.TemporaryDirectory()  # quick mode writes nowhere permanent (removed at exit)
out_dir = Path(_scratch.name) if QUICK else ROOT / "reports"
post.to_json(out_dir / "03_bayesian_posterior.json", overwrite=True)
info = build_report(out_dir / "03_bayesian_posterior.json", out_dir / "03_bayesian_posterior.pdf",
                    targets={"N": 1e11}, force=True)
print(f"wrote {info.path}: {info.n_pages} pages")
for title in info.page_titles:
    print(" -", title)
for w in info.warnings:
    print("warning:", w)
