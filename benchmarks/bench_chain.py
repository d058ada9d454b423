"""Benchmark: the whole two-step chain with 1,000 paired replicates against a scipy loop.

Data: Gadre et al.'s over-training runs (C4 training set, the four smallest sizes, 31 runs).
The chain: N, D -> C4 validation loss (`overtraining`: Huber loss on log loss, delta = 1e-3)
-> average top-1 error (`error_link`, least squares), as in benchmarks/chain_gadre.py.

scalefit: ``fit_chain(train, "overtraining", "error_link", num_bootstrap=1000)`` then ``predict``
at the 3 held-out runs: point fits (multi-start), both steps' 1,000 paired replicates (one
batched program per step), new-run intervals.  Timed cold (the first call in this process,
including JAX compilation) and warm (median of 3 later calls).

Baseline (same run, same weights): the same point estimates as starts, then per replicate
``scipy.optimize.minimize(L-BFGS-B)`` on the weighted Huber objective of step 1 (analytic
gradient, benchmarks/_common.py's objective with alpha = beta; ftol 1e-15, gtol 1e-10) and
``scipy.optimize.least_squares`` on the weighted residuals of step 2 (analytic Jacobian), each
from the point estimate, with the same multinomial run counts as scalefit's replicates; then
the paired chained predictions.  The baseline does no multi-start point fit (it is handed
scalefit's optimum), so it is a lower bound on a from-scratch scipy chain.

Agreement: the 5%/95% quantiles of the chained curve over the replicates at the held-out
runs (relative difference; the two optimisers stop at slightly different points).

    nice .venv/bin/python benchmarks/bench_chain.py [path/to/shared/data] [n_replicates] [--no-baseline]

"Cold" is the first call in the process: it includes JAX compilation unless scalefit's
persistent compilation cache already holds the programs (run with ``SCALEFIT_CACHE_DIR=off``
for a compile-inclusive figure).
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

import _common as C
import scalefit

scalefit.enable_x64()


class OvertrainingHuber(C.ChinchillaHuber):
    """The Chinchilla Huber objective with one shared exponent: x = (a, b, e, alpha)."""

    def with_weights(self, weights) -> "OvertrainingHuber":
        out = super().with_weights(weights)
        out.__class__ = OvertrainingHuber
        return out

    def __call__(self, x):
        a, b, e, al = x
        f, g = super().__call__((a, b, e, al, al))
        return f, np.array([g[0], g[1], g[2], g[3] + g[4]])


def link(p, L):
    eps, lk, lg = p
    return eps - np.exp(lk - np.exp(lg) * L)


def link_jac(p, L):
    eps, lk, lg = p
    t = np.exp(lk - np.exp(lg) * L)
    return np.column_stack([np.ones_like(L), -t, t * np.exp(lg) * L])


def scipy_chain(res, train, test, W1, W2):
    from scipy.optimize import least_squares

    f1, f2 = res.step1, res.step2
    rows1 = f1.frame
    obj = OvertrainingHuber(rows1["N"], rows1["D"], rows1["c4_loss"])
    x1 = np.array([f1.params[k] for k in ("a", "b", "e", "alpha")])
    x2 = np.array([f2.params[k] for k in ("eps", "log_k", "log_gamma")])
    L2, y2 = f2.frame["c4_loss"].to_numpy(), f2.frame["error"].to_numpy()
    lNt, lDt = np.log(test["N"].to_numpy()), np.log(test["D"].to_numpy())
    preds, ok = [], []
    for w1, w2 in zip(W1, W2):
        r1 = C.scipy_lbfgsb(obj.with_weights(w1), x1)
        sw = np.sqrt(w2)
        r2 = least_squares(lambda p: sw * (link(p, L2) - y2), x2, jac=lambda p: sw[:, None] * link_jac(p, L2),
                           method="trf", xtol=1e-15, ftol=1e-15, gtol=1e-12)
        a, b, e, al = r1.x
        mid = np.exp(np.logaddexp(np.logaddexp(a - al * lNt, b - al * lDt), e))
        preds.append(link(r2.x, mid))
        ok.append(r1.success and r2.success)
    return np.array(preds), np.array(ok)


def main(root: Path, n_rep: int = 1000, baseline: bool = True) -> None:
    d = pd.read_csv(root / "gadre_overtraining" / "derived" / "gadre_models_flat.csv")
    d = d.rename(columns={"name": "run", "params": "N", "tokens": "D", "loss__c4_val": "c4_loss"})
    d["error"] = 1.0 - d["downstream_mean_acc_raw"]
    big = d.model_cfg.isin(["open_lm_1b", "open_lm_7b"])
    train = d[(d.dataset == "c4_original") & ~big]
    test = d[(d.dataset == "c4_original") & big]

    def chain():
        r = scalefit.fit_chain(train, "overtraining", "error_link", intermediate="c4_loss", target="error",
                               num_bootstrap=n_rep, seed=0)
        return r, r.predict(test.N.to_numpy(), test.D.to_numpy())

    cold_wall, cold_cpu, (res, pred) = C.timed(chain)
    warm = [C.timed(chain)[:2] for _ in range(3)]
    warm_wall, warm_cpu = statistics.median(w for w, _ in warm), statistics.median(c for _, c in warm)

    if not baseline:
        print(f"scalefit fit_chain + predict ({n_rep} replicates): cold {cold_wall:.2f} s wall, {cold_cpu:.2f} s CPU; "
              f"warm {warm_wall:.2f} s wall, {warm_cpu:.2f} s CPU")
        return
    # the replicates' weights, rebuilt as fit_chain draws them (checked below)
    runs = pd.unique(res.step2.frame["run"])
    rng = np.random.default_rng(0)
    counts = rng.multinomial(len(runs), np.full(len(runs), 1.0 / len(runs)), size=n_rep).astype(np.float64)
    pos = {r: i for i, r in enumerate(runs)}
    W1 = counts[:, [pos[r] for r in res.step1.frame["run"]]]
    W2 = counts[:, [pos[r] for r in res.step2.frame["run"]]]
    base_wall, base_cpu, (bpred, bok) = C.timed(lambda: scipy_chain(res, train, test, W1, W2))

    both = res.kept.copy()
    ours = res.draws(test.N.to_numpy(), test.D.to_numpy())["target"]
    ours = ours[both[res.kept]]
    theirs = bpred[both]
    q = [0.05, 0.95]
    qa, qb = np.quantile(ours, q, axis=0), np.quantile(theirs, q, axis=0)
    agree = float(np.max(np.abs(qa / qb - 1)))
    print(f"data: {len(train)} runs (c4_original, 4 smallest sizes); {n_rep} paired replicates; "
          f"load average {C.loadavg()}")
    print(f"scalefit fit_chain + predict, cold (first call, incl. compilation): {cold_wall:.2f} s wall, "
          f"{cold_cpu:.2f} s CPU")
    print(f"scalefit fit_chain + predict, warm (median of 3):                  {warm_wall:.2f} s wall, "
          f"{warm_cpu:.2f} s CPU")
    print(f"scipy loop (L-BFGS-B + least_squares per replicate, no point fits): {base_wall:.2f} s wall, "
          f"{base_cpu:.2f} s CPU")
    print(f"ratio scipy / scalefit: warm {base_wall / warm_wall:.1f}x wall, {base_cpu / warm_cpu:.1f}x CPU; "
          f"cold {base_wall / cold_wall:.1f}x wall, {base_cpu / cold_cpu:.1f}x CPU")
    print(f"replicates kept: scalefit {int(res.kept.sum())}/{n_rep}; scipy reports success in "
          f"{int(bok.sum())}/{n_rep} (L-BFGS-B flags 'abnormal termination' when ftol=1e-15 cannot be met in float64); "
          f"over all replicates the 5%/95% quantiles of the chained curve at the {len(test)} held-out runs agree to {agree:.2e} (relative)")
    print(f"goal: whole chain with {n_rep} replicates <= 20 s on 2 cores: cold {cold_wall:.1f} s -> "
          f"{'met' if cold_wall <= 20 else 'NOT met'}")


if __name__ == "__main__":
    argv = [a for a in sys.argv[1:] if a != "--no-baseline"]
    root = Path(argv[0]) if argv else C.shared_data_dir()
    main(root, int(argv[1]) if len(argv) > 1 else 1000, baseline="--no-baseline" not in sys.argv)
