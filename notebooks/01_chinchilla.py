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
# # Chinchilla from scratch
#
# Fit the Chinchilla law $L(N, D) = E + A/N^\alpha + B/D^\beta$ the way Hoffmann et al. did
# (Huber loss on log residuals, a multi-start grid), bootstrap it for intervals, derive the
# compute-optimal frontier, and write a PDF report from the saved fit.
#
# Set `SCALEFIT_NOTEBOOK_QUICK=1` to run on small settings (the test suite does): a small start
# grid, 20 bootstrap replicates, bundled synthetic data, outputs in a temporary folder.

# %%
import os
import tempfile
from pathlib import Path

import scalefit
import scalefit.plots as sp
from scalefit.report import build_report

scalefit.enable_x64()
QUICK = os.environ.get("SCALEFIT_NOTEBOOK_QUICK", "").lower() not in ("", "0", "false", "no")
ROOT = next(p for p in [Path.cwd(), *Path.cwd().parents] if (p / "scalefit" / "examples" / "chinchilla_synthetic.csv").is_file())
SHARED = Path(os.environ.get("SCALEFIT_SHARED_DATA", ROOT.parent / "shared" / "data"))
OUT = Path(tempfile.mkdtemp(prefix="scalefit-nb-")) if QUICK else ROOT / "reports"  # reports/*.pdf, *.json are git-ignored
OUT.mkdir(parents=True, exist_ok=True)
print(f"quick mode: {QUICK}; outputs in {OUT}")

# %% [markdown]
# ## Data
#
# With the real datasets beside the checkout (`../shared/data`), use Epoch AI's 245 digitised
# Chinchilla runs and drop the 5 largest losses, as Besiroglu et al. did; otherwise (and in quick
# mode) use the bundled synthetic isoFLOP data, generated from known parameters.

# %%
epoch = SHARED / "chinchilla_epoch" / "svg_extracted_data.csv"
if epoch.is_file() and not QUICK:
    frame = scalefit.load_curves(epoch)
    frame = frame[frame.value < frame.value.nlargest(5).min()]
    source = str(epoch)
else:
    source = "scalefit/examples/chinchilla_synthetic.csv"
    frame = scalefit.load_curves(ROOT / source)
print(f"{len(frame)} runs from {source}")
frame.head()

# %% [markdown]
# ## Point fit
#
# `fit_law` runs every start of the grid for a few L-BFGS steps, polishes the best 32 to float64
# precision and checks convergence. Quick mode uses a 32-start grid instead of Hoffmann's 4,500.

# %%
quick_grid = {"a": [3.0, 6.0], "b": [5.0, 8.0], "e": [0.0, 0.5], "alpha": [0.2, 0.5], "beta": [0.2, 0.5]}
fit = scalefit.fit_law(frame, "chinchilla", source=source, **({"starts": quick_grid} if QUICK else {}))
print(fit.summary())

# %%
TARGET = {"N": 70e9, "D": 1.4e12}          # Chinchilla 70B: 70B parameters, 1.4T tokens
fit.predict(**TARGET)

# %% [markdown]
# ## Bootstrap
#
# Resample the runs with replacement and refit each replicate (one vmapped computation). The
# percentile intervals cover the noise in the measurements, not a wrong functional form.

# %%
fit = scalefit.bootstrap(fit, 20 if QUICK else 1000, seed=0, progress=False)
fit.bootstrap.table(fit.law, fit.params)[["parameter", "natural", "natural_estimate", "natural_lower", "natural_upper"]]

# %%
prediction = fit.predict(**TARGET)
prediction

# %% [markdown]
# ## Compute-optimal frontier
#
# Minimising the law subject to $C = 6ND$ gives $N_{opt} \propto C^{a}$ and $D_{opt} \propto C^{b}$.
# The intervals come from each bootstrap replicate's own allocation.

# %%
BUDGETS = [5.76e23, 1e24]
print(scalefit.allocation_constants(fit))
scalefit.compute_optimal(fit, BUDGETS)

# %%
scalefit.allocation_intervals(fit, 1e24)

# %% [markdown]
# ## Plots
#
# Every plot function takes the fit (it never refits) and returns a matplotlib Figure.

# %%
sp.plot_extrapolation(fit, TARGET)

# %%
sp.plot_compute_frontier(fit, budgets=BUDGETS)

# %%
sp.plot_residuals(fit)

# %% [markdown]
# ## Report
#
# Save the fit and build the PDF from the saved file alone (what `scalefit report` does).

# %%
fit_path = OUT / "notebook_chinchilla_fit.json"
fit.to_json(fit_path, overwrite=True)
info = build_report(fit_path, OUT / "notebook_chinchilla.pdf", targets=TARGET, budgets=BUDGETS, force=True)
print(f"wrote {info.path}: {info.n_pages} pages")
for i, title in enumerate(info.page_titles, 1):
    print(f"  {i}. {title}")
assert info.n_pages >= 5

# %%
if QUICK:  # the test suite's temporary outputs
    import shutil

    shutil.rmtree(OUT, ignore_errors=True)
