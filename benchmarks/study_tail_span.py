"""Coverage of best-of-N intervals with and without the tail span (``BonFit.predict(tails=...)``).

Simulated benchmarks whose true per-item success probabilities come from a known family; each
is fitted on a small budget with the default procedure (three candidates, internal backtest,
choice rule) and forecast at 10x that budget for the continued run; the realised rate of the
continued run (simulated from the true p) is covered or not by the 90% interval of
``tails="choice"`` (today's default) and ``tails="span"``.

    .venv/bin/python benchmarks/study_tail_span.py --datasets 10 --items 150 --budget 10
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import scalefit
from scalefit.sampling import fit_bon

TRUTHS = {
    "beta(0.4, 4)": lambda rng, I: rng.beta(0.4, 4.0, I),
    "kumaraswamy(0.35, 7)": lambda rng, I: (1 - (1 - rng.random(I)) ** (1 / 7.0)) ** (1 / 0.35),
    "logit-normal(-3, 2)": lambda rng, I: 1 / (1 + np.exp(-rng.normal(-3.0, 2.0, I))),
}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--datasets", type=int, default=10)
    ap.add_argument("--items", type=int, default=150)
    ap.add_argument("--budget", type=int, default=10)
    ap.add_argument("--factor", type=int, default=10)
    ap.add_argument("--bootstrap", type=int, default=100)
    ap.add_argument("--select-bootstrap", type=int, default=20)
    args = ap.parse_args(argv)
    scalefit.enable_x64()
    n, N = args.budget, args.budget * args.factor
    print(f"{args.datasets} data sets per truth, {args.items} items, fit on {n} attempts, continued rate at N = {N}, "
          f"90% intervals, {args.bootstrap} whole-procedure replicates")
    print(f"{'truth':<22} {'tails':<7} {'covered':>8} {'mean width':>11} {'mean |err|':>11}")
    for name, draw in TRUTHS.items():
        cov = {"choice": 0, "span": 0}
        width = {"choice": [], "span": []}
        err = []
        t0 = time.perf_counter()
        for d in range(args.datasets):
            rng = np.random.default_rng([7, d])
            p = draw(rng, args.items)
            k = rng.binomial(n, p)
            if k.sum() == 0:
                continue
            realised = np.mean((k > 0) | (rng.random(args.items) < 1 - (1 - p) ** (N - n)))
            bon = fit_bon(n, k, seed=d, select_bootstrap=args.select_bootstrap)
            for tails in cov:
                fc = bon.predict_forecast([N], target="continued", num_bootstrap=args.bootstrap, seed=d, tails=tails)
                cov[tails] += bool(fc.lower[0] <= realised <= fc.upper[0])
                width[tails].append(fc.upper[0] - fc.lower[0])
            err.append(abs(fc.estimate[0] - realised))
        for tails in cov:
            print(f"{name:<22} {tails:<7} {cov[tails]:>4}/{len(err):<3} {np.mean(width[tails]):>11.4f} {np.mean(err):>11.4f}")
        print(f"   ({time.perf_counter() - t0:.0f} s)", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
