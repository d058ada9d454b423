"""Goal check of the chained fit on Gadre et al.'s over-training runs.

Per training set (C4, RedPajama, RefinedWeb): fit N, D -> C4 validation loss (`overtraining`,
Gadre's single-exponent law) -> average top-1 error over the 46 downstream tasks (`error_link`)
on the small-compute grid (the four smallest configurations, every token multiplier), predict
the held-out 1.4B runs and the 6.9B run, and print per run the relative error and whether the
observed error lies in the 90% prediction interval for a new run (paired bootstrap + residual
noise of both steps), next to the narrower interval of the chained curve alone.  Also runs the
leave-largest-rung-out backtest (refit without the 411M rung, predict it, same interval
construction): the internal coverage check a user can compute on their own ladder.  Times
the whole chain (point fits + 1,000 paired replicates), cold (first call, includes
compilation) and warm, as wall and CPU seconds.

    .venv/bin/python benchmarks/chain_gadre.py [path/to/shared/data] [n_replicates]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

import scalefit

scalefit.enable_x64()


def main(root: Path, n_rep: int = 1000) -> None:
    d = pd.read_csv(root / "gadre_overtraining" / "derived" / "gadre_models_flat.csv")
    d = d.rename(columns={"name": "run", "params": "N", "tokens": "D", "loss__c4_val": "c4_loss"})
    d["error"] = 1.0 - d["downstream_mean_acc_raw"]
    big = d.model_cfg.isin(["open_lm_1b", "open_lm_7b"])
    inside = inside_curve = total = bt_in = bt_total = 0
    rel, bt_rel = [], []
    for ds in ("c4_original", "rpj", "rw_original"):
        train = d[(d.dataset == ds) & ~big]
        test = d[(d.dataset == ds) & big]
        for label in ("cold", "warm"):
            t0, c0 = time.perf_counter(), time.process_time()
            res = scalefit.fit_chain(train, "overtraining", "error_link", intermediate="c4_loss", target="error",
                                     num_bootstrap=n_rep, seed=0, level=0.9)
            pred = res.predict(test.N.to_numpy(), test.D.to_numpy())
            print(f"[{ds}] chain with {n_rep} paired replicates ({label}): {time.perf_counter() - t0:.2f} s wall, "
                  f"{time.process_time() - c0:.2f} s CPU")
        bt = scalefit.fit_chain(train, "overtraining", "error_link", intermediate="c4_loss", target="error",
                                num_bootstrap=n_rep, seed=0, level=0.9, backtest=True).backtest
        print(res.summary())
        for (_, row), (_, p) in zip(test.iterrows(), pred.iterrows()):
            r_loss = p["c4_loss"] / row.c4_loss - 1
            r_err = p["prediction"] / row.error - 1
            ok = p["lower"] <= row.error <= p["upper"]
            ok_curve = p["mean_lower"] <= row.error <= p["mean_upper"]
            inside += ok
            inside_curve += ok_curve
            total += 1
            rel.append(abs(r_err))
            print(f"  {row.model_cfg:>10} M={row.chinchilla_multiplier:>4g}: loss {row.c4_loss:.4f} pred "
                  f"{p['c4_loss']:.4f} ({r_loss:+.2%}); error {row.error:.4f} pred {p['prediction']:.4f} "
                  f"({r_err:+.2%}) 90% new-run [{p['lower']:.4f}, {p['upper']:.4f}] {'inside' if ok else 'OUTSIDE'}"
                  f"; curve only [{p['mean_lower']:.4f}, {p['mean_upper']:.4f}] {'inside' if ok_curve else 'outside'}")
        print("  " + scalefit.chain.backtest_line(bt))
        for _, b in bt.iterrows():
            print(f"    backtest {b['run']}: error {b['observed']:.4f} pred {b['prediction']:.4f} "
                  f"({b['relative_error']:+.2%}) [{b['lower']:.4f}, {b['upper']:.4f}] "
                  f"{'inside' if b['inside'] else 'OUTSIDE'}")
        bt_in += int(bt["inside"].sum())
        bt_total += len(bt)
        bt_rel.extend(np.abs(bt["relative_error"]))
    print(f"held-out runs inside their 90% new-run interval: {inside}/{total} (curve-only interval: "
          f"{inside_curve}/{total}); mean |rel. error| of top-1 error {np.mean(rel):.2%}")
    print(f"leave-largest-rung-out backtest: {bt_in}/{bt_total} inside their 90% new-run interval; "
          f"mean |rel. error| {np.mean(bt_rel):.2%}")


if __name__ == "__main__":
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1].parent / "shared" / "data"
    main(root, int(sys.argv[2]) if len(sys.argv) > 2 else 1000)
