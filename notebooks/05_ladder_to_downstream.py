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
# # From a ladder of small runs to a big model's downstream accuracy
#
# Teams predict a big model's downstream score from a ladder of small runs in two steps: a law
# of (N, D) for a task loss, fitted on each run's final checkpoint, and a link from that loss to
# the downstream metric, fitted on every checkpoint (the OLMo ladder uses a sigmoid, Gadre et al.
# an exponential error link). Here: write per-run logs the way wandb exports them, load them
# with a run table, fit the chain with a paired bootstrap, check it with the built-in
# leave-largest-rung-out backtest, predict a larger model with an interval for what that run
# will report, and build a PDF report from the saved chain. With Gadre et al.'s over-training
# runs beside the checkout the same chain predicts their held-out 1.4B and 6.9B runs.
#
# Set `SCALEFIT_NOTEBOOK_QUICK=1` for small settings (the test suite does).

# %%
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

import scalefit
from scalefit import fit_chain, get_law, load_runs
from scalefit.report import build_report

scalefit.enable_x64()
QUICK = os.environ.get("SCALEFIT_NOTEBOOK_QUICK", "").lower() not in ("", "0", "false", "no")
ROOT = next(p for p in [Path.cwd(), *Path.cwd().parents] if (p / "scalefit" / "chain.py").is_file())
SHARED = Path(os.environ.get("SCALEFIT_SHARED_DATA", ROOT.parent / "shared" / "data"))
OUT = Path(tempfile.mkdtemp(prefix="scalefit-nb-")) if QUICK else ROOT / "reports"  # reports/*.pdf, *.json are git-ignored
OUT.mkdir(parents=True, exist_ok=True)
R = 100 if QUICK else 1000
print(f"quick mode: {QUICK}; {R} paired replicates; outputs in {OUT}")

# %% [markdown]
# ## A simulated ladder, written as per-run logs
#
# Five model sizes x three token multipliers; every run logs 8 checkpoints with wandb-style
# columns (`_step`, `eval/task_loss`, `eval/acc`). The task loss follows the over-training law
# (one exponent for N and D) with 1% log-normal noise; accuracy is a falling sigmoid of the loss
# with 0.5 points of noise. The run table holds N and the tokens per step, so D = step x tokens
# per step.

# %%
TRUE1 = dict(a=np.log(300.0), b=np.log(900.0), e=np.log(1.8), alpha=0.32)
TRUE2 = dict(s=-0.7, log_k=np.log(4.0), L0=2.9, t=0.95)
law1, law2 = get_law("overtraining"), get_law("sigmoid")
rng = np.random.default_rng(0)
logs = OUT / "ladder_logs"
logs.mkdir(exist_ok=True)
table = []
for N in (2e7, 5e7, 1e8, 2e8, 5e8):
    for m in (5, 20, 80):
        run = f"N{N:.0e}-x{m}"
        tps = m * N / 1000.0                        # tokens per step: 1000 steps reach D = m N
        steps = np.linspace(125, 1000, 8)
        L = law1.evaluate(TRUE1, N=N, D=steps * tps) * np.exp(rng.normal(0, 0.01, steps.size))
        acc = law2.evaluate(TRUE2, L=L) + rng.normal(0, 0.005, steps.size)
        pd.DataFrame({"_step": steps, "eval/task_loss": L, "eval/acc": acc}).to_csv(logs / f"{run}.csv", index=False)
        table.append({"run": run, "N": N, "tokens_per_step": tps})
frame = load_runs(str(logs / "*.csv"), runs=pd.DataFrame(table))
frame.head()

# %% [markdown]
# ## The chain, with a paired bootstrap and the backtest
#
# Each replicate draws whole runs with replacement once and refits both steps on that draw.
# The interval in `lower`/`upper` is for what a *new run* will report: each replicate's
# prediction plus noise drawn from each step's own residuals. `mean_lower`/`mean_upper` is the
# narrower interval of the chained curve alone.

# %%
res = fit_chain(frame, "overtraining", "sigmoid", intermediate="eval/task_loss", target="eval/acc",
                num_bootstrap=R, seed=0, backtest=True)
print(res.summary())
res.backtest

# %% [markdown]
# ## Prediction for a larger model
#
# 2B parameters at 20 tokens per parameter (4x the largest rung), against the truth the data
# were simulated from.

# %%
target = dict(N=2e9, D=4e10)
pred = res.predict(target["N"], target["D"])
truth = law2.evaluate(TRUE2, L=law1.evaluate(TRUE1, **target))[0]
print(pred.attrs["interval"])
print(pred[["eval/task_loss", "prediction", "lower", "upper", "mean_lower", "mean_upper", "extrapolation"]].T)
print(f"true chained accuracy {truth:.4f}; inside the curve interval: "
      f"{pred['mean_lower'].iloc[0] <= truth <= pred['mean_upper'].iloc[0]}")

# %% [markdown]
# ## Report
#
# Save the chain and build the PDF from the saved file alone (what `scalefit report` does):
# both steps' plots, the propagated interval at the target, and the backtest.

# %%
path = OUT / "notebook_chain.json"
res.to_json(path, overwrite=True)
info = build_report(path, OUT / "notebook_chain.pdf", targets=target, force=True)
print(f"wrote {info.path}: {info.n_pages} pages")
for i, title in enumerate(info.page_titles, 1):
    print(f"  {i}. {title}")

# %% [markdown]
# ## Gadre et al.'s over-training runs (when the data are present)
#
# Fit on the four smallest sizes, every token multiplier; predict the held-out 1.4B and 6.9B
# runs of each training set (C4 validation loss -> average top-1 error over 46 tasks; quick mode:
# the C4 training set only).

# %%
gadre = SHARED / "gadre_overtraining" / "derived" / "gadre_models_flat.csv"
if gadre.is_file():
    d = pd.read_csv(gadre).rename(columns={"name": "run", "params": "N", "tokens": "D", "loss__c4_val": "c4_loss"})
    d["error"] = 1.0 - d["downstream_mean_acc_raw"]
    big = d.model_cfg.isin(["open_lm_1b", "open_lm_7b"])
    rows = []
    for ds in ("c4_original",) if QUICK else ("c4_original", "rpj", "rw_original"):
        g = fit_chain(d[(d.dataset == ds) & ~big], "overtraining", "error_link", intermediate="c4_loss",
                      target="error", num_bootstrap=R, seed=0)
        test = d[(d.dataset == ds) & big]
        p = g.predict(test.N.to_numpy(), test.D.to_numpy())
        for (_, row), (_, q) in zip(test.iterrows(), p.iterrows()):
            rows.append({"data": ds, "model": row.model_cfg, "M": row.chinchilla_multiplier, "error": row.error,
                         "predicted": q.prediction, "rel. error": q.prediction / row.error - 1,
                         "lower": q.lower, "upper": q.upper, "inside": q.lower <= row.error <= q.upper})
    gadre_table = pd.DataFrame(rows)
    print(f"inside their 90% new-run interval: {int(gadre_table.inside.sum())}/{len(gadre_table)}; "
          f"mean |rel. error| {gadre_table['rel. error'].abs().mean():.2%}")
    display(gadre_table)  # noqa: F821 - a notebook builtin
else:
    print(f"no Gadre data at {gadre}; skipped")

# %% [markdown]
# ## The Bayesian chain
#
# `method="bayes"` samples both steps with NUTS (the laws' default priors); the two posteriors
# pair into the joint posterior, and `result.diagnostics` holds both samplers' checks. Skipped in
# quick mode (it takes a minute or two on 2 cores).

# %%
if not QUICK:
    bres = fit_chain(frame, "overtraining", "sigmoid", intermediate="eval/task_loss", target="eval/acc",
                     method="bayes", seed=0)
    print(bres.summary())
    print(bres.predict(target["N"], target["D"])[["prediction", "lower", "upper"]])
