"""Pooled vs independent best-of-N forecasts on the visible Pythia logs (issue 13).

Part A: pythia_math_final_counts.csv, 4 sizes fitted together, 100 of 10,000 samples per problem
(drawn without replacement, the subsamples of `scalefit backtest`: seed [0, repeat] per group),
5 repeats, forecast pass@1000 / pass@10000 (fresh) against the unbiased pass@N of the full log.
Part B: the 19 intermediate checkpoints of pythia_checkpoints_math_counts.csv (>= 1,000 samples
for every problem, >= 20 problems ever solved), 100 -> pass@1000, 1 repeat by default; checkpoints with no
success in the 100 samples are left out of every estimator (undefined).  ``--b-repeats`` /
``--b-first`` run more Part B repeats (seeds [0, r] as in Part A), e.g. in separate processes.

Estimators: ``pooled`` (the pooled model with each group's own residual family, 200 bootstrap
replicates over items drawn jointly across groups), ``auto`` (per group, the pooled or the
group's own model as the internal backtest chose), ``independent`` (fit_bon per group, 100
whole-procedure replicates), ``saber_anchored``.  Wall and CPU seconds per repeat are printed.

    nice .venv/bin/python benchmarks/study_pooled.py [--repeats 5] [--skip-a] [--skip-b]
        [--b-repeats 1] [--b-first 0]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

import scalefit

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "repeated_sampling"
if not DATA.exists():
    DATA = Path("/work/shared/data/repeated_sampling")


def run(frame: pd.DataFrame, group: str, fit_budget: int, Ns, repeats: int, first: int = 0) -> pd.DataFrame:
    from scalefit.io.attempts import subsample_counts
    from scalefit.sampling.backtest import _predict_all
    from scalefit.sampling.passk import mean_pass_at_k
    from scalefit.sampling.pooled import fit_groups, pooled_from_frame

    Ns = np.asarray(Ns, float)
    groups = sorted(frame[group].unique())
    truth = {g: np.atleast_1d(mean_pass_at_k(d["n"].to_numpy(), d["k"].to_numpy(), Ns.astype(np.int64)))
             for g, d in frame.groupby(group)}
    rows = []
    for r in range(first, first + repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        subs = [subsample_counts(frame[frame[group] == g], fit_budget, seed=np.random.default_rng([0, r]))
                for g in groups]
        subs = [s for s in subs if (s["k"] > 0).any()]  # no success: undefined for every estimator
        data = pooled_from_frame(pd.concat(subs, ignore_index=True), [group])
        fit = fit_groups(data, select_bootstrap=0, seed=r)
        pred = fit.predict(Ns, num_bootstrap=200, seed=r, independent_bootstrap=100)
        for row in pred.itertuples():
            est = "pooled" if row.method == "pooled" else "independent"
            base = dict(repeat=r, group=row.group, N=row.N, predicted=row.estimate, lower=row.lower, upper=row.upper,
                        truth=truth[row.group][list(Ns).index(row.N)])
            rows.append(dict(base, estimator=est))
            if row.chosen:
                rows.append(dict(base, estimator="auto", detail=fit.choice[row.group]))
        for s in subs:
            g = s[group].iloc[0]
            for p in _predict_all(s["n"].to_numpy(), s["k"].to_numpy(), Ns, ("saber_anchored",), target="fresh",
                                  level=0.9, num_bootstrap=0, seed=r, candidates=None, fraction=4, repeats=4):
                rows.append(dict(repeat=r, group=g, N=p["N"], predicted=p["predicted"], lower=p["lower"],
                                 upper=p["upper"], truth=truth[g][list(Ns).index(p["N"])], estimator="saber_anchored"))
        print(f"  repeat {r}: {time.perf_counter() - t0:.0f} s wall, {time.process_time() - c0:.0f} s CPU; choice "
              f"{', '.join(f'{g}: {c}' for g, c in fit.choice.items())}", flush=True)
        print(fit.sharing.to_string(index=False, float_format=lambda v: f"{v:.3f}"), flush=True)
        print(fit.scores.to_string(index=False, float_format=lambda v: f"{v:.4f}"), flush=True)
        # running summary: what has finished counts even if a later repeat does not
        done = pd.DataFrame(rows)
        print(f"  after {r + 1 - first} repeat(s):", flush=True)
        print(summarise(done).to_string(index=False, float_format=lambda v: f"{v:.2f}"), flush=True)
        per = done.assign(ae=100 * (done["predicted"] - done["truth"]).abs()).pivot_table(
            index=["estimator", "N"], columns="group", values="ae", aggfunc="mean")
        print(per.to_string(float_format=lambda v: f"{v:.1f}"), flush=True)
    return pd.DataFrame(rows)


def summarise(res: pd.DataFrame) -> pd.DataFrame:
    res = res.assign(err=100 * (res["predicted"] - res["truth"]),
                     cov=np.where(np.isfinite(res["lower"]), (res["lower"] <= res["truth"]) & (res["truth"] <= res["upper"]),
                                  np.nan))
    out = res.groupby(["estimator", "N"]).agg(MAE_pp=("err", lambda e: np.nanmean(np.abs(e))),
                                              bias_pp=("err", "mean"), coverage=("cov", "mean"),
                                              n=("err", "size")).reset_index()
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--skip-b", action="store_true")
    ap.add_argument("--skip-a", action="store_true")
    ap.add_argument("--b-repeats", type=int, default=1, help="repeats of Part B (default 1)")
    ap.add_argument("--b-first", type=int, default=0, help="first repeat (seed) of Part B, to add repeats later")
    args = ap.parse_args(argv)
    scalefit.enable_x64()
    from scalefit.io import load_attempts

    if not args.skip_a:
        t0 = time.perf_counter()
        fr = load_attempts(DATA / "pythia_math_final_counts.csv", item="problem_idx", n="n_samples", k="n_correct",
                           groups=["model"])
        res = run(fr, "model", 100, [1000, 10000], args.repeats)
        print(f"== Part A: Pythia final, fit on 100, {args.repeats} repeats ({time.perf_counter() - t0:.0f} s)")
        print(summarise(res).to_string(index=False, float_format=lambda v: f"{v:.2f}"))
        per = res.assign(ae=100 * (res["predicted"] - res["truth"]).abs()).pivot_table(
            index=["estimator", "N"], columns="group", values="ae", aggfunc="mean")
        print(per.to_string(float_format=lambda v: f"{v:.1f}"), flush=True)
    if not args.skip_b:
        t0 = time.perf_counter()
        fr = load_attempts(DATA / "pythia_checkpoints_math_counts.csv", item="problem_idx", n="n_samples",
                           k="n_correct", groups=["model_nickname"])
        by = fr.groupby("model_nickname")
        keep = [m for m, g in by if g["n"].min() >= 1000 and int((g["k"] > 0).sum()) >= 20]
        sub = fr[fr["model_nickname"].isin(keep)].copy()
        res = run(sub, "model_nickname", 100, [1000], args.b_repeats, args.b_first)
        print(f"== Part B: {len(keep)} checkpoints, fit on 100 -> pass@1000, repeats {args.b_first}.."
              f"{args.b_first + args.b_repeats - 1} ({time.perf_counter() - t0:.0f} s)")
        print(summarise(res).to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
