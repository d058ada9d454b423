"""How much uniform budget does it take to halve the pass@10000 error on Pythia MATH? (accuracy)

Issue 14 asks a planned design to halve the pass@10000 error of 100 uniform samples per problem
at the same total budget.  This study measures what the *uniform* design reaches when it is given
more budget instead: it runs :func:`scalefit.sampling.backtest_counts` (attempts drawn without
replacement from each problem's 10,000, scalefit's default forecast, the fresh pass@N against the
unbiased pass@N of the full log) at several budgets per problem, on the same seeded repeats, and
prints the mean absolute error per budget and per model, with SABER-anchored beside it.

A planned design at 100 attempts per problem has, on every problem it gives at most 1,000
attempts (all but at most 12 of the 128), no more data than the uniform design at 1,000; so the
budget at which uniform sampling halves the error says how far the goal is from what this
budget holds.

Usage:  python benchmarks/study_budget_uniform.py [--budgets 100,200,300,500,1000,2000]
        [--repeats 10] [--seed 1]        (about 4 min on 2 cores)
Results are recorded in benchmarks/README.md ("How much budget halves the error").
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks._common import shared_data_dir  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budgets", default="100,200,300,500,1000,2000")
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--N", type=int, default=10_000)
    args = ap.parse_args(argv)

    import scalefit
    from scalefit.sampling import backtest_counts

    scalefit.enable_x64()

    path = shared_data_dir() / "repeated_sampling" / "pythia_math_final_counts.csv"
    raw = pd.read_csv(path)
    counts = raw.rename(columns={"n_samples": "n", "n_correct": "k", "problem_idx": "item"})[["model", "item", "n", "k"]]
    rows = []
    for budget in [int(b) for b in args.budgets.split(",")]:
        t0 = time.perf_counter()
        bt = backtest_counts(counts, budget, [args.N], repeats=args.repeats, seed=args.seed, groups=["model"],
                             estimators=("scalefit", "saber_anchored"), num_bootstrap=0)
        seconds = time.perf_counter() - t0
        tab = bt.rows
        for (est, model), g in tab.groupby(["estimator", "group"]):
            rows.append({"budget": budget, "estimator": est, "model": model,
                         "MAE_pp": 100 * g["abs_error"].mean(), "n": len(g)})
        for est, g in tab.groupby("estimator"):
            rows.append({"budget": budget, "estimator": est, "model": "all",
                         "MAE_pp": 100 * g["abs_error"].mean(), "n": len(g)})
        print(f"budget {budget:>5} per problem: {seconds:.0f} s", flush=True)
    out = pd.DataFrame(rows)
    wide = out.pivot_table(index=["estimator", "budget"], columns="model", values="MAE_pp")
    cols = ["all"] + [c for c in wide.columns if c != "all"]
    print(f"\npass@{args.N} MAE (pp) by uniform budget per problem; {args.repeats} repeats from seed {args.seed}:")
    with pd.option_context("display.width", 200):
        print(wide[cols].to_string(float_format=lambda v: f"{v:.2f}"))
    base = out[(out.estimator == "scalefit") & (out.model == "all")].set_index("budget")["MAE_pp"]
    first = int(base.index.min())
    half = base.loc[first] / 2
    reached = [int(b) for b, v in base.items() if v <= half]
    print(f"\nscalefit at {first} per problem: {base.loc[first]:.2f} pp; half of it: {half:.2f} pp; "
          f"reached by uniform sampling at: {reached or 'none of the budgets tried'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
