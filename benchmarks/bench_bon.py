"""Speed of the per-group best-of-N path (`fit_bon` + `predict_forecast`): this tree against a
baseline commit, in the same run, each in its own process.

Two workloads: the shipped example (`scalefit/examples/bon_synthetic_counts.csv`, one group of
200 items x 100 attempts) and simulated counts of the jailbreak log's shape (7 groups x 159
items x 60 attempts, each group fitted on its own as `scalefit bon predict --groups model` does).
Each process fits once to compile and then times a second, warm pass (wall and CPU time), with
the defaults (select_bootstrap 100, 200 forecast replicates, budgets 600 / 1020 / 6000 / 10020),
and prints its estimates so that the two trees' forecasts can be compared.

    OPENBLAS_NUM_THREADS=1 .venv/bin/python benchmarks/bench_bon.py [--baseline 3db1065] [--groups 7]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUDGETS = [600, 1020, 6000, 10020]

WORKER = r"""
import json, sys, time
import numpy as np, pandas as pd
import scalefit
scalefit.enable_x64()
from scalefit.sampling import fit_bon

def workload(name, groups):
    out = {}
    for label in ("cold", "warm"):
        t, c = time.perf_counter(), time.process_time()
        est = []
        for n, k in groups:
            b = fit_bon(n, k)
            f = b.predict_forecast(BUDGETS, num_bootstrap=200, seed=0)
            est.append(f.table[["estimate", "lower", "upper"]].to_numpy().tolist())
        out[label] = (time.perf_counter() - t, time.process_time() - c)
    out["estimates"] = est
    return out

BUDGETS = json.loads(sys.argv[2])
spec = json.loads(sys.argv[1])
ex = pd.read_csv(spec["example"])
res = {"example": workload("example", [(ex["n"].to_numpy(), ex["k"].to_numpy())])}
rng = np.random.default_rng(0)
G, I, n = spec["groups"], 159, 60
u = rng.normal(size=I)
eta = np.linspace(-4, 0, G)[:, None] + 1.5 * u[None] + rng.normal(size=(G, I))
k = rng.binomial(n, 1 / (1 + np.exp(-eta)))
res["groups"] = workload("groups", [(np.full(I, n), k[g]) for g in range(G)])
print("RESULT " + json.dumps(res))
"""


def run_tree(path: Path, groups: int) -> dict:
    env = dict(os.environ, PYTHONPATH=str(path), SCALEFIT_CACHE_DIR="off")
    spec = json.dumps({"example": str(ROOT / "scalefit" / "examples" / "bon_synthetic_counts.csv"), "groups": groups})
    out = subprocess.run([sys.executable, "-c", WORKER, spec, json.dumps(BUDGETS)], env=env, cwd=str(path),
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out.split("RESULT ", 1)[1])


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--baseline", default="3db1065", help="git commit of the baseline tree (default: %(default)s)")
    ap.add_argument("--groups", type=int, default=7)
    args = ap.parse_args()
    print("load average", os.getloadavg())
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "baseline"
        base.mkdir()
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.baseline, "scalefit"], capture_output=True,
                                 check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(base)], input=archive, check=True)
        results = {}
        for name, path in (("baseline", base), ("this tree", ROOT)):
            t = time.perf_counter()
            results[name] = run_tree(path, args.groups)
            print(f"{name}: done in {time.perf_counter() - t:.0f} s", flush=True)
    for work, label in (("example", "example (1 group, 200 items x 100)"),
                        ("groups", f"simulated {args.groups} groups x 159 items x 60")):
        b, n = results["baseline"][work], results["this tree"][work]
        print(f"\n{label}: fit_bon + 200-replicate forecast at {len(BUDGETS)} budgets")
        for phase in ("cold", "warm"):
            print(f"  {phase}: baseline {b[phase][0]:6.1f} s wall {b[phase][1]:6.1f} s CPU | this tree "
                  f"{n[phase][0]:6.1f} s wall {n[phase][1]:6.1f} s CPU | ratio (CPU) {b[phase][1] / n[phase][1]:.2f}x")
        diff = max(abs(x - y) for ge, gn in zip(b["estimates"], n["estimates"]) for re, rn in zip(ge, gn)
                   for x, y in zip(re, rn))
        print(f"  largest difference of an estimate or interval end: {diff:.2g}")


if __name__ == "__main__":
    main()
