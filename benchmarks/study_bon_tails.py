"""Accuracy study (not a speed benchmark): how far each tail model extrapolates pass@N on real logs.

Why scalefit's default best-of-N forecast misses the 4-point goal at pass@10000 on Large Language
Monkeys (Pythia on 128 MATH problems), and what would and would not close the gap.  Everything is
seeded and read from ``../shared/data/repeated_sampling`` (never copied into the repository).

Part A -- per family, point forecasts.  For each Pythia model and seeded repeat r (the same
subsamples as ``scalefit backtest --seed 0``: ``default_rng([0, r])``), draw ``fit_budget``
of each problem's 10,000 samples without replacement, fit every mixing family of
:mod:`scalefit.sampling.models` (weak priors, as the default uses), and compare the fresh-run
forecast of pass@N with the unbiased pass@N of all 10,000 samples.  Printed: mean absolute error
and bias in percentage points, overall and per model.

Part B -- the oracle floor.  The same subsamples, but the distribution of per-problem success
probability is taken as known (the empirical rates c_i / 10,000 of the very problems): the
forecast of each problem is its posterior-weighted pass@N.  What is left is the error that no
tail model can remove (the realised sampling of which problems showed a success).

Part C -- a second data set at 10x.  ``pythia_checkpoints_math_counts.csv`` (intermediate Pythia
checkpoints, adaptive sample counts): every checkpoint with >= 1,000 samples for every problem
and >= 20 problems ever solved is backtested with ``scalefit.sampling.backtest_counts`` (fit on
100, forecast pass@1000; scalefit's default, the plain Beta and SABER-anchored).  The adaptive
sample counts make the reference pass@1000 slightly less exact than in Part A.

Usage:  python benchmarks/study_bon_tails.py [--fit-budgets 30,100] [--repeats 5] [--skip-c]
Results of a run are recorded in benchmarks/README.md ("Best-of-N tail study").
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks._common import shared_data_dir  # noqa: E402

FAMILIES = ("kumaraswamy", "beta", "beta_mix2", "zi_beta", "logit_normal")


def _subsample(n, c, m, r):
    from scalefit.sampling.holdout import thin_counts

    return thin_counts(n, c, m, np.random.default_rng([0, r]))  # the draws of backtest repeat r, seed 0


def part_a(frame: pd.DataFrame, fit_budget: int, Ns, repeats: int) -> pd.DataFrame:
    from scalefit.sampling import fit_mixing, item_data, mean_pass_at_k

    rows = []
    for model, g in frame.groupby("model"):
        n, c = g["n_samples"].to_numpy(), g["n_correct"].to_numpy()
        truth = np.atleast_1d(mean_pass_at_k(n, c, np.asarray(Ns, np.int64)))
        for r in range(repeats):
            data = item_data(np.full(len(n), fit_budget), _subsample(n, c, fit_budget, r))
            for fam in FAMILIES:
                fit = fit_mixing(data, model=fam)
                for j, NN in enumerate(Ns):
                    pred = float(np.mean(fit.solve_probabilities(data, NN, target="fresh")))
                    rows.append({"group": model, "repeat": r, "family": fam, "N": NN, "converged": fit.converged,
                                 "error_pp": 100 * (pred - truth[j])})
    return pd.DataFrame(rows)


def part_b(frame: pd.DataFrame, fit_budget: int, Ns, repeats: int) -> pd.DataFrame:
    from scipy import special as sp

    from scalefit.sampling import pass_at_k

    rows = []
    for model, g in frame.groupby("model"):
        n, c = g["n_samples"].to_numpy(), g["n_correct"].to_numpy()
        # per-problem pass@N of the full log (unbiased estimator), the truth being averaged
        per_item = np.stack([pass_at_k(n, c, NN) for NN in Ns])
        p = c / n
        for r in range(repeats):
            k = _subsample(n, c, fit_budget, r)
            with np.errstate(divide="ignore", invalid="ignore"):
                ll = sp.xlogy(k[:, None], p[None, :]) + sp.xlog1py(fit_budget - k[:, None], -p[None, :])
            w = np.exp(ll - ll.max(axis=1, keepdims=True))
            w /= w.sum(axis=1, keepdims=True)
            for j, NN in enumerate(Ns):
                pred = float(np.mean(w @ per_item[j]))
                rows.append({"group": model, "repeat": r, "family": "oracle g", "N": NN, "converged": True,
                             "error_pp": 100 * (pred - per_item[j].mean())})
    return pd.DataFrame(rows)


def _table(res: pd.DataFrame) -> str:
    mae = res.assign(ae=res["error_pp"].abs()).pivot_table(index="family", columns="N", values="ae", aggfunc="mean")
    bias = res.pivot_table(index="family", columns="N", values="error_pp", aggfunc="mean")
    per = res.assign(ae=res["error_pp"].abs()).pivot_table(index=["family", "N"], columns="group", values="ae",
                                                            aggfunc="mean")
    out = pd.concat({"MAE_pp": mae, "bias_pp": bias}, axis=1)
    return (out.to_string(float_format=lambda v: f"{v:.2f}") + "\n\nMAE per model (pp):\n"
            + per.to_string(float_format=lambda v: f"{v:.1f}"))


def part_c(path: Path) -> str:
    from scalefit.io import load_attempts
    from scalefit.sampling import backtest_counts

    frame = load_attempts(path, item="problem_idx", n="n_samples", k="n_correct", groups=["model_nickname"])
    by = frame.groupby("model_nickname")
    keep = [m for m, g in by if g["n"].min() >= 1000 and int((g["k"] > 0).sum()) >= 20]
    sub = frame[frame["model_nickname"].isin(keep)].copy()
    sub.attrs = dict(frame.attrs)
    res = backtest_counts(sub, 100, [1000], repeats=1, groups=["model_nickname"],
                          estimators=("scalefit", "scalefit:beta", "saber_anchored"), num_bootstrap=200)
    return f"{len(keep)} checkpoints: {', '.join(keep)}\n" + res.summary.to_string(
        index=False, float_format=lambda v: f"{v:.2f}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fit-budgets", default="30,100")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--skip-c", action="store_true", help="skip Part C (about a minute on 2 cores)")
    args = ap.parse_args(argv)

    import scalefit

    scalefit.enable_x64()
    base = shared_data_dir() / "repeated_sampling"
    final = base / "pythia_math_final_counts.csv"
    if not final.is_file():
        raise SystemExit(f"study_bon_tails: {final} not found (set SCALEFIT_SHARED_DATA)")
    frame = pd.read_csv(final)
    for fb in (int(v) for v in args.fit_budgets.split(",")):
        Ns = sorted({10 * fb, 100 * fb, 10_000} & set(range(fb + 1, 10_001)))
        t0 = time.perf_counter()
        res = pd.concat([part_a(frame, fb, Ns, args.repeats), part_b(frame, fb, Ns, args.repeats)])
        print(f"== Parts A+B: fit on {fb} of 10,000 samples per problem, {args.repeats} repeats x 4 models "
              f"({time.perf_counter() - t0:.0f} s); {int((~res['converged']).sum())} fits not converged")
        print(_table(res))
        print()
    if not args.skip_c:
        t0 = time.perf_counter()
        text = part_c(base / "pythia_checkpoints_math_counts.csv")
        print(f"== Part C: checkpoints, fit on 100, forecast pass@1000 ({time.perf_counter() - t0:.0f} s)")
        print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
