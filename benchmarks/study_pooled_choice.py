"""Does the pooled-vs-own choice's internal backtest see where pooling loses? (issue 13)

The default choice (``fit_groups(choice_fraction=10)``) fits both models on n // 10 attempts per
item and scores the continued rate at n.  On the Pythia checkpoints it picked pooled for 7 of
15 groups, and pooled lost at pass@1000 in all 7.  That check compares the two models at a tenth
of the user's data, where borrowing strength from other groups is worth most; here the same
check at half the data (``choice_fraction=2``: n // 2 -> n) is set beside it, per group, with
the realised point-forecast errors of both models (the benchmark's truth is used only to score,
never to choose).  Same subsamples as study_pooled.py (seed [0, repeat] per group).

    OPENBLAS_NUM_THREADS=1 nice -n 15 .venv/bin/python benchmarks/study_pooled_choice.py [--part A|B] [--repeat 0]
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import pandas as pd

import scalefit

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
from study_pooled import DATA  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--part", choices=("A", "B"), default="B")
    ap.add_argument("--repeat", type=int, default=0)
    ap.add_argument("--fractions", default="10,2")
    args = ap.parse_args(argv)
    scalefit.enable_x64()
    from scalefit.io import load_attempts
    from scalefit.io.attempts import subsample_counts
    from scalefit.sampling.passk import mean_pass_at_k
    from scalefit.sampling.pooled import fit_groups, pooled_from_frame

    if args.part == "A":
        fr = load_attempts(DATA / "pythia_math_final_counts.csv", item="problem_idx", n="n_samples", k="n_correct",
                           groups=["model"])
        group, Ns = "model", np.array([1000.0, 10000.0])
    else:
        fr = load_attempts(DATA / "pythia_checkpoints_math_counts.csv", item="problem_idx", n="n_samples",
                           k="n_correct", groups=["model_nickname"])
        keep = [m for m, g in fr.groupby("model_nickname") if g["n"].min() >= 1000 and int((g["k"] > 0).sum()) >= 20]
        fr, group, Ns = fr[fr["model_nickname"].isin(keep)].copy(), "model_nickname", np.array([1000.0])
    r = args.repeat
    subs = [subsample_counts(fr[fr[group] == g], 100, seed=np.random.default_rng([0, r])) for g in sorted(fr[group].unique())]
    subs = [s for s in subs if (s["k"] > 0).any()]
    data = pooled_from_frame(pd.concat(subs, ignore_index=True), [group])
    truth = {g: np.atleast_1d(mean_pass_at_k(d["n"].to_numpy(), d["k"].to_numpy(), Ns.astype(np.int64)))
             for g, d in fr.groupby(group)}
    tables = []
    pred = None
    for frac in (int(f) for f in args.fractions.split(",")):
        t0 = time.perf_counter()
        gb = fit_groups(data, select_bootstrap=0, seed=r, choice_fraction=frac)
        if pred is None:
            pred = gb.predict(Ns, num_bootstrap=0, independent_bootstrap=0)
        sc = gb.scores[["group", "gain", "gain_se", "chosen"]].rename(
            columns={"gain": f"gain_{frac}x", "gain_se": f"se_{frac}x", "chosen": f"choice_{frac}x"})
        tables.append(sc.set_index("group"))
        print(f"choice_fraction={frac}: {time.perf_counter() - t0:.0f} s", flush=True)
    out = pd.concat(tables, axis=1)
    for j, N in enumerate(Ns):
        for m in ("pooled", "independent"):
            est = pred[(pred["method"] == m) & (pred["N"] == N)].set_index("group")["estimate"]
            out[f"ae_{m[:4]}@{int(N)}"] = [100 * abs(est[g] - truth[g][j]) for g in out.index]
    print(f"Part {args.part}, repeat {r}: internal gain (own - pooled error; > 1.645 SE picks pooled) per "
          "extrapolation, and realised abs. errors (pp) of the point forecasts")
    with pd.option_context("display.width", 200):
        print(out.to_string(float_format=lambda v: f"{v:.4f}" if abs(v) < 1 else f"{v:.1f}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
