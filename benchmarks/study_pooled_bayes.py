"""NUTS posterior of the pooled model on the Pythia final-checkpoint counts (4 sizes x 128 MATH
problems, 10,000 samples each): fit on 100 samples per problem, forecast pass@1000 / pass@10000
and compare with the point fit (plug-in and its bootstrap interval) and with the full-data
unbiased pass@N.

    OPENBLAS_NUM_THREADS=1 nice -n 10 .venv/bin/python benchmarks/study_pooled_bayes.py \
        --warmup 1000 --draws 1000 --chains 4 --family kumaraswamy
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

import scalefit

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "repeated_sampling"
if not DATA.exists():
    DATA = Path("/work/shared/data/repeated_sampling")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--warmup", type=int, default=1000)
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--chains", type=int, default=4)
    ap.add_argument("--family", default="kumaraswamy")
    ap.add_argument("--budget", type=int, default=100, help="samples per problem kept for the fit")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    scalefit.enable_x64()
    from scalefit.bayes.pooled import fit_pooled_bayes
    from scalefit.io import load_attempts
    from scalefit.io.attempts import subsample_counts
    from scalefit.sampling.passk import mean_pass_at_k
    from scalefit.sampling.pooled import fit_pooled, pooled_from_frame

    fr = load_attempts(DATA / "pythia_math_final_counts.csv", item="problem_idx", n="n_samples", k="n_correct",
                       groups=["model"])
    Ns = np.array([1000.0, 10000.0])
    groups = sorted(fr["model"].unique())
    truth = {g: np.atleast_1d(mean_pass_at_k(d["n"].to_numpy(), d["k"].to_numpy(), Ns.astype(np.int64)))
             for g, d in fr.groupby("model")}
    subs = [subsample_counts(fr[fr["model"] == g], args.budget, seed=np.random.default_rng([0, args.seed]))
            for g in groups]
    data = pooled_from_frame(pd.concat(subs, ignore_index=True), ["model"])
    fams = (args.family,) * data.shape[0]
    t0 = time.perf_counter()
    fit = fit_pooled(data, families=fams)
    t_map = time.perf_counter() - t0
    est, lo, hi = fit.forecast(Ns, num_bootstrap=200, seed=args.seed)
    t0 = time.perf_counter()
    post = fit_pooled_bayes(fit, nuts=dict(num_warmup=args.warmup, num_samples=args.draws, num_chains=args.chains),
                            seed=args.seed)
    t_nuts = time.perf_counter() - t0
    t0 = time.perf_counter()
    pred = post.predict(Ns, seed=args.seed)
    t_pred = time.perf_counter() - t0
    ss = post.idata.sample_stats
    print(f"data {data.shape}, families {fams}; MAP fit {t_map:.1f} s ({fit.message}); NUTS {args.chains} chains x "
          f"({args.warmup} + {args.draws}): {t_nuts:.1f} s (sampler {post.metadata['seconds']:.1f} s), "
          f"mean leapfrog steps {float(ss['n_steps'].mean()):.1f}, step size {float(ss['step_size'].mean()):.3f}; "
          f"forecast of all draws {t_pred:.1f} s")
    print(post.summary())
    rows = []
    for g, name in enumerate(data.groups):
        for j, NN in enumerate(Ns):
            r = pred[(pred.group == name) & (pred.N == NN)].iloc[0]
            rows.append({"group": name, "N": int(NN), "truth": truth[name][j], "map_est": est[g, j],
                         "map_lo": lo[g, j], "map_hi": hi[g, j], "post_mean": r["mean"], "post_median": r["median"],
                         "cred_lo": r["lower"], "cred_hi": r["upper"], "real_lo": r["realised_lower"],
                         "real_hi": r["realised_upper"]})
    tab = pd.DataFrame(rows)
    print(tab.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    for NN in Ns.astype(int):
        t = tab[tab.N == NN]
        print(f"pass@{NN}: MAE (points) MAP {100 * np.mean(np.abs(t.map_est - t.truth)):.2f}, posterior mean "
              f"{100 * np.mean(np.abs(t.post_mean - t.truth)):.2f}; "
              f"bias MAP {100 * np.mean(t.map_est - t.truth):+.2f}, "
              f"posterior {100 * np.mean(t.post_mean - t.truth):+.2f}; truth inside: MAP bootstrap "
              f"{int(np.sum((t.map_lo <= t.truth) & (t.truth <= t.map_hi)))}/{len(t)}, credible (realised) "
              f"{int(np.sum((t.real_lo <= t.truth) & (t.truth <= t.real_hi)))}/{len(t)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
