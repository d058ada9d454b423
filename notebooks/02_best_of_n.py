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
# scalefit's default best-of-N model fits several distributions of per-problem success rates
# (Kumaraswamy, Beta, logit-normal), chooses between them by an internal backtest on the data
# itself, and forecasts with intervals that refit the whole procedure on bootstrap resamples of
# the problems. We compare it with SABER's Beta-Binomial estimators, find the budget for a target
# rate, and check the method with backtests that predict from fewer attempts than were made.
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
from scalefit.report import bon_record, build_report, save_bon_curve
from scalefit.sampling import backtest_counts, fit_beta_binomial, fit_bon, mean_pass_at_k, saber_predict

scalefit.enable_x64()
QUICK = os.environ.get("SCALEFIT_NOTEBOOK_QUICK", "").lower() not in ("", "0", "false", "no")
ROOT = next(p for p in [Path.cwd(), *Path.cwd().parents] if (p / "scalefit" / "examples" / "chinchilla_synthetic.csv").is_file())
SHARED = Path(os.environ.get("SCALEFIT_SHARED_DATA", ROOT.parent / "shared" / "data"))
OUT = Path(tempfile.mkdtemp(prefix="scalefit-nb-")) if QUICK else ROOT / "reports"  # reports/*.pdf, *.json are git-ignored
OUT.mkdir(parents=True, exist_ok=True)
NUM_BOOTSTRAP = 40 if QUICK else 200

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
    source = "scalefit/examples/bon_synthetic_counts.csv"
    counts = load_attempts(ROOT / source)
n, k = counts["n"].to_numpy(), counts["k"].to_numpy()
print(f"{len(counts)} problems, {n.min()}-{n.max()} attempts, {np.mean(k > 0):.1%} solved at least once")

# %% [markdown]
# ## The default model: candidates chosen by an internal backtest
#
# Each candidate is fitted by maximum likelihood; then each problem's attempts are thinned to a
# quarter, every candidate is refitted and asked for the full-budget rate the data know. The
# reference (Kumaraswamy) is kept unless another candidate beats it by more than 1.645 standard
# errors of the gain.

# %%
bon = fit_bon(n, k, seed=0)
print(bon.summary())

# %% [markdown]
# ## Against SABER's Beta-Binomial estimators
#
# At N = 1,000 and 10,000: the exact conditional estimator (for these problems, counting the
# attempts already made), the population curve (new problems), the plug-in and anchored
# approximations, and the naive per-problem baseline — beside scalefit's forecast.

# %%
TARGETS = [1000, 10000]
pred = saber_predict(n, k, TARGETS)
forecast = bon.predict(TARGETS, num_bootstrap=NUM_BOOTSTRAP, level=0.9)
print(fit_beta_binomial(n, k).summary())
pd.DataFrame({"N": pred.N, "scalefit": forecast["estimate"], "scalefit lower": forecast["lower"],
              "scalefit upper": forecast["upper"], "SABER conditional": pred.conditional,
              "population": pred.population, "plugin": pred.plugin, "anchored": pred.anchored, "naive": pred.naive})

# %% [markdown]
# ## A saved forecast with intervals, a budget and a backtest
#
# `bon_record` evaluates the forecast on a grid of budgets (intervals: bootstrap over problems with
# every candidate refitted and the model re-chosen), the budget that reaches a target rate, and an
# external backtest: keep 10 of each problem's attempts, rerun the whole procedure, predict
# N = 20..100 of the same run continued, and compare with what the held-out attempts show.

# %%
record = bon_record(bon, targets=TARGETS, budget_target=0.9, backtest_attempts=10, level=0.9,
                    num_bootstrap=NUM_BOOTSTRAP, source=source, metric="ASR",
                    title="ASR@N from 100 attempts per problem")
pd.DataFrame(record["targets"])

# %%
record["budget"]

# %%
backtest = pd.DataFrame(record["backtest"]["rows"])
backtest

# %% [markdown]
# ## The backtest command's view: scalefit against SABER over repeated subsamples
#
# `backtest_counts` (the engine of `scalefit backtest`) draws `fit_budget` attempts per problem
# without replacement, several times, and scores every estimator at budgets the data know.

# %%
bt = backtest_counts(counts, 25, [50, 100], repeats=1 if QUICK else 5, seed=0, level=0.9,
                     estimators=("scalefit", "saber_anchored"), num_bootstrap=NUM_BOOTSTRAP,
                     select_bootstrap=20 if QUICK else 100)
bt.summary

# %% [markdown]
# ## Plots
#
# The plotting functions take plain arrays, so they work with any best-of-N result.

# %%
curve, obs, model = record["curve"], record["observed"], record["model_curve"]
sp.plot_sampling_curve(curve["N"], curve["estimate"], curve["lower"], curve["upper"],
                       observed_N=obs["N"], observed=obs["value"], observed_lower=obs["lower"],
                       observed_upper=obs["upper"], model_N=model["N"], model=model["estimate"],
                       budget=record["budget"]["N"], budget_interval=(record["budget"]["lower"], record["budget"]["upper"]),
                       rate=0.9, targets=pd.DataFrame(record["targets"]), extrapolate_from=n.max(),
                       level=0.9)

# %%
sp.plot_sampling_curve(curve["N"], curve["estimate"], curve["lower"], curve["upper"], observed_N=obs["N"],
                       observed=obs["value"], metric="pass", yscale="neglog", extrapolate_from=n.max())

# %%
sp.plot_backtest(backtest, level=0.9)

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
    print(pd.DataFrame({"N": TARGETS, "scalefit (from 100)": forecast.estimate, "lower": forecast.lower,
                        "upper": forecast.upper, "SABER conditional": pred.conditional, "observed (10,000)": truth}))
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
# ### Every mixing family on the same data
#
# The candidate families (and the zero-inflated Beta, two-component Beta mixture) side by side.

# %%
from scalefit.sampling import MIXING_MODELS, fit_mixing  # noqa: E402

families = ("beta", "zi_beta") if QUICK else MIXING_MODELS
fits = {m: fit_mixing(n, k, model=m) for m in families}
pd.DataFrame({m: {"AIC": f.aic, "population ASR@1000": f.population(1000.0), "converged": f.converged}
              for m, f in fits.items()}).T

# %% [markdown]
# ## Where to spend the next attempts: plan, sample, refit
#
# Uniform sampling spends most attempts on problems that are already solved many times over,
# while pass@N at a large N is decided by the rarely-solved ones. `plan` says how many further
# attempts each problem should get so that the forecast at N becomes as precise as possible
# under the fitted model; used in rounds (plan, sample, refit, plan again), each round learns
# from the last.
#
# We replay a log: a simulated population of problems with 2,000 recorded attempts each, of
# which a design may draw attempts without replacement, so the full log gives the truth. The
# start is a uniform round of 10 attempts per problem; then a further 30 per problem on average
# are spent in 3 planned rounds. After each round the model is refitted (the family chosen on the
# uniform start is kept: later budgets depend on outcomes, which the internal backtest's
# thinning cannot mimic) and the forecast at N = 1,000 with its 90% interval is recorded.

# %%
from scalefit.sampling import item_data, merge_attempts, plan  # noqa: E402

rng = np.random.default_rng(1)
I_LOG, LOG_ATTEMPTS, N_PLAN = 150, 2000, 1000
FIRST, PER_ITEM, ROUNDS = 10, 40, 3
p_true = rng.beta(0.2, 2.5, size=I_LOG)
k_log = rng.binomial(LOG_ATTEMPTS, p_true)  # the recorded log: successes among 2,000 attempts
truth = float(mean_pass_at_k(np.full(I_LOG, LOG_ATTEMPTS), k_log, N_PLAN))

k0 = rng.hypergeometric(k_log, LOG_ATTEMPTS - k_log, FIRST)  # the uniform start
left_n, left_k = np.full(I_LOG, LOG_ATTEMPTS - FIRST), k_log - k0  # what the log still holds


def replay(attempts):
    """Draw the planned attempts from what is left of each problem's log."""
    global left_n, left_k
    succ = rng.hypergeometric(left_k, left_n - left_k, attempts)
    left_n, left_k = left_n - attempts, left_k - succ
    return succ


data = item_data(FIRST, k0)
family = fit_bon(data, seed=0, select_bootstrap=0).model
budget_left = (PER_ITEM - FIRST) * I_LOG
history, plans = [], []
for r in range(ROUNDS + 1):
    fit_r = fit_bon(data, model=family, seed=0)
    fc_r = fit_r.predict([N_PLAN], num_bootstrap=NUM_BOOTSTRAP, seed=0)
    history.append({"round": r, "attempts": int(data.n.sum()), **fc_r.iloc[0][["estimate", "lower", "upper"]]})
    if r == ROUNDS:
        break
    pl = plan(data, budget_left, N_PLAN, rounds=ROUNDS - r, model=fit_r, max_attempts=left_n)
    plans.append(pl)
    a = pl.attempts
    data = merge_attempts(data, a, replay(a))
    budget_left -= int(a.sum())
history = pd.DataFrame(history).assign(width=lambda d: d["upper"] - d["lower"])
print(f"family {family}; truth pass@{N_PLAN} = {truth:.4f} (full log)")
history

# %% [markdown]
# The first round's plan: a few rows of its table (per problem: attempts and successes so far,
# the problem's forecast term and its posterior SD now and expected after the plan) and where
# the attempts went.

# %%
print(plans[0].summary())
plans[0].table.sort_values("attempts", ascending=False).head(8)

# %%
t0 = plans[0].table
cls = pd.DataFrame([{"successes": lab, "mean_attempts": t0.loc[sel, "attempts"].mean()}
                    for lab, sel in [("0", t0["k"] == 0), ("1", t0["k"] == 1), ("2-4", t0["k"].between(2, 4)),
                                     ("5+", t0["k"] >= 5)] if sel.any()])
rank = np.arange(1, len(t0) + 1)
sp.plot_plan(cls, sd_rank=rank, sd_now=np.sort(t0["sd_now"].to_numpy())[::-1],
             sd_after=np.sort(t0["sd_after"].to_numpy())[::-1])

# %% [markdown]
# The forecast at N = 1,000 after each round, against the truth from the full log, and the same
# total budget spent uniformly (40 attempts per problem) for comparison.

# %%
k_uni = np.random.default_rng(2).hypergeometric(k_log, LOG_ATTEMPTS - k_log, PER_ITEM)
fc_uni = fit_bon(item_data(PER_ITEM, k_uni), model=family, seed=0).predict([N_PLAN], num_bootstrap=NUM_BOOTSTRAP,
                                                                            seed=0)
sp.plot_rounds(history, truth=truth, metric="pass", N=N_PLAN, level=0.9,
               compare=("uniform, same budget", *(fc_uni[c].to_numpy() for c in ("estimate", "lower", "upper"))))

# %% [markdown]
# `sample_in_rounds(data, sampler, budget, N, rounds=3)` runs the same loop in one call (with
# `width=` as a stopping rule), and `scalefit bon plan DATA --budget B --N 1000 --rounds 3 -o
# plan.csv` writes the first round's plan for a counts file. A saved fit's report
# (`scalefit report`) shows the plan for a further budget as a table and a plot.

# %% [markdown]
# ## Groups that share items: pooled against independent forecasts
#
# The four Pythia sizes attempted the same 128 MATH problems, and a problem that is hard for one
# size tends to be hard for the others. The pooled model (`fit_groups`) fits each size on its own
# (its best-of-N model, chosen as above) and, next to it, a model with a shared item effect: how
# easy a problem is for every size, plus each size's own residual of the same family. An internal
# backtest (fit on a tenth of each problem's attempts, score the rate all of them show) compares
# the two per size, and `pool="auto"` uses the pooled forecast only where it wins by more than
# 1.645 standard errors of the gain.
#
# Said plainly: on these four sizes pooling loses overall. Over 5 subsamples of 100 attempts the
# pooled forecasts miss pass@1000 / pass@10000 by 5.58 / 12.90 percentage points, the per-size
# fits by 4.76 / 8.60 (README, "Groups that share items"; `benchmarks/study_pooled.py`). The
# automatic choice uses the pooled forecast only for the sizes where its internal backtest says
# pooling helps, but that backtest checks a 10x extrapolation and the forecasts below go to 100x:
# over the same subsamples it scored 5.91 / 10.87, also behind the per-size fits, which is why
# `--pool` is off by default. What the comparison below is good for: seeing both forecasts side by
# side, how much the sizes agree on which problems are hard (the sharing diagnostic), and why each
# size got the forecast it got. (Without `../shared/data`: four simulated groups on 128 shared
# items.)

# %%
from scalefit.report import pooled_record, save_pooled_record  # noqa: E402
from scalefit.sampling.pooled import fit_groups, pooled_from_frame  # noqa: E402

if monkeys.is_file():
    sizes = load_attempts(monkeys, n="n_samples", k="n_correct", item="problem_idx", groups=["model"])
    grouped_counts = subsample_counts(sizes, 100, seed=0)
    grouped_source = f"{monkeys} (4 Pythia sizes, 100 of 10,000 samples per problem)"
else:
    rng_g = np.random.default_rng(3)
    u_g = rng_g.normal(size=128)
    eta_g = np.array([[-4.0], [-3.0], [-2.0], [-1.0]]) + 1.5 * u_g + 0.8 * rng_g.normal(size=(4, 128))
    k_g = rng_g.binomial(100, 1 / (1 + np.exp(-eta_g)))
    grouped_counts = pd.DataFrame({"model": np.repeat(["g1", "g2", "g3", "g4"], 128), "item": np.tile(np.arange(128), 4),
                                   "n": 100, "k": k_g.ravel()})
    grouped_source = "simulated: 4 groups x 128 shared items, 100 attempts each"
# quick mode: the reference family only, one thinning and the SE of the gain from reweighted
# residuals (no refits: smaller, so it picks the pooled model more readily than the refitted SE)
grouped = fit_groups(pooled_from_frame(grouped_counts, ["model"]), pool="auto", seed=0,
                     candidates=("kumaraswamy",) if QUICK else None, repeats=1 if QUICK else 4,
                     select_bootstrap=0 if QUICK else 20)
print(grouped.summary())

# %% [markdown]
# The comparison as a report record: both forecasts with 90% intervals (`predict`, run once), the
# internal backtest that made the choice and the shared item-difficulty diagnostic. The same
# record renders as report pages (`build_report`), as `scalefit bon predict COUNTS --groups model
# --pool auto --N 1000,10000 -o pooled.json` followed by `scalefit report pooled.json` does.

# %%
pooled_rec = pooled_record(grouped, TARGETS, num_bootstrap=NUM_BOOTSTRAP, seed=0, source=grouped_source)
side = pd.DataFrame(pooled_rec["forecasts"]).pivot_table(index=["group", "N"], columns="method",
                                                         values=["estimate", "lower", "upper"])
side

# %%
pd.DataFrame(pooled_rec["choice"])[["group", "error_independent", "error_pooled", "gain", "gain_se", "chosen"]]

# %%
grouped.sharing

# %%
fig_fc = sp.plot_pooled_forecasts(pd.DataFrame(pooled_rec["forecasts"]), level=0.9)
fig_fc

# %%
from matplotlib.figure import Figure  # noqa: E402

fig_d = Figure(figsize=(7.0, 2.4), layout="constrained")
ax_gain, ax_share = fig_d.subplots(1, 2)
sp.plot_pooled_choice(grouped.scores, z=grouped.z, ax=ax_gain)
sp.plot_sharing(grouped.sharing, ax=ax_share)
fig_d

# %%
if full is not None:  # the 10,000 samples per problem give each size's truth
    truth_g = {m: mean_pass_at_k(g["n"].to_numpy(), g["k"].to_numpy(), TARGETS) for m, g in sizes.groupby("model")}
    side_truth = pd.DataFrame(pooled_rec["forecasts"]).assign(
        observed=lambda d: [truth_g[g][TARGETS.index(int(N))] for g, N in zip(d["group"], d["N"])])
    print(side_truth.pivot_table(index=["group", "N"], columns="method", values=["estimate", "observed"]))

# %%
pooled_path = save_pooled_record(pooled_rec, OUT / "notebook_pooled.json", overwrite=True)
pooled_info = build_report(pooled_path, OUT / "notebook_pooled.pdf", force=True)
print(f"wrote {pooled_info.path}: {pooled_info.n_pages} pages ({', '.join(pooled_info.page_titles[1:])})")

# %%
if QUICK:  # the test suite's temporary outputs
    import shutil

    shutil.rmtree(OUT, ignore_errors=True)
