#!/usr/bin/env python
"""Loading benchmark: time and peak memory of scalefit's loaders on large synthetic files.

    python benchmarks/bench_loading.py                 # all sizes (about 2-4 min on 2 cores)
    python benchmarks/bench_loading.py --quick         # skip the 10,000,000-line logs
    python benchmarks/bench_loading.py --only curves,counts

Not part of ``benchmarks/run.py`` (its sizes are chosen to show scaling, not a goal of the default
suite).  Files are written to a temporary folder that is removed afterwards, never into the
repository.  Each load runs in a fresh Python process so that its peak resident memory can be
read from ``getrusage``; the figure reported is the child's peak RSS minus the RSS of the same
process after ``import scalefit.io`` (so interpreter and library imports are not counted), and
the times cover the loader call only (reading, parsing, validation): wall clock, and CPU time
of all the child's threads (steadier on a shared machine; pyarrow may use several threads).

Cases (synthetic, seeded):

- ``curves``: a 1,000,000-row ``N,loss`` CSV through ``load_curves`` + ``validate_curves``
  (the loading half of issue 11's 10 s goal for a 1e6-row fit; target < 2 s);
- ``counts``: a 100,000-item ``item,n,k`` CSV through ``load_attempts``;
- ``log``: attempt logs of 1,000,000 and 10,000,000 lines (JSONL and CSV ``item,attempt,success``,
  100 attempts per item) through ``load_attempts`` (counts) -- time should grow in proportion.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as C  # noqa: E402

NAME = "loading"
CASES = ("curves", "counts", "log")

# Run in the child: import, note the RSS, time the call, print one JSON line.
_CHILD = r"""
import json, resource, sys, time
import scalefit.io as io
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
kind, path = sys.argv[1], sys.argv[2]
t0, c0 = time.perf_counter(), time.process_time()
if kind == "curves":
    frame = io.load_curves(path)
    io.validate_curves(frame, inputs=["N"])
elif kind == "counts":
    frame = io.load_attempts(path)
else:
    frame = io.load_attempts(path, item="item", attempt="attempt", success="success")
wall, cpu = time.perf_counter() - t0, time.process_time() - c0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"wall_s": wall, "cpu_s": cpu, "rows_out": len(frame), "peak_mib": peak / 1024, "extra_mib": (peak - base) / 1024}))
"""


def write_curves(path: Path, rows: int, rng) -> None:
    N = 10 ** rng.uniform(6, 11, rows)
    loss = 1.7 + 400 * N ** -0.3 * np.exp(rng.normal(0, 0.01, rows))
    np.savetxt(path, np.column_stack([N, loss]), delimiter=",", header="N,loss", comments="", fmt="%.9g")


def write_counts(path: Path, items: int, rng) -> None:
    n = np.full(items, 1000)
    k = rng.binomial(n, rng.beta(0.3, 2.0, items))
    np.savetxt(path, np.column_stack([np.arange(items), n, k]), delimiter=",", header="item,n,k",
               comments="", fmt="%d")


def write_log(path: Path, lines: int, rng, fmt: str, per_item: int = 100) -> None:
    """item, attempt, success with ``per_item`` attempts per item, written in 1e6-line chunks."""
    chunk = 1_000_000
    p = rng.beta(0.3, 2.0, lines // per_item + 1)
    with open(path, "w") as fh:
        if fmt == "csv":
            fh.write("item,attempt,success\n")
        for start in range(0, lines, chunk):
            idx = np.arange(start, min(start + chunk, lines))
            item, attempt = idx // per_item, idx % per_item
            success = (rng.random(len(idx)) < p[item]).astype(int)
            if fmt == "csv":
                body = "\n".join(f"{i},{a},{s}" for i, a, s in zip(item.tolist(), attempt.tolist(), success.tolist()))
            else:
                body = "\n".join(f'{{"item": {i}, "attempt": {a}, "success": {s}}}'
                                 for i, a, s in zip(item.tolist(), attempt.tolist(), success.tolist()))
            fh.write(body + "\n")


def measure(kind: str, path: Path) -> dict:
    proc = subprocess.run([sys.executable, "-c", _CHILD, kind, str(path)], capture_output=True, text=True,
                          cwd=str(C.REPO))
    if proc.returncode != 0:
        raise RuntimeError(f"loading {path.name} failed:\n{proc.stderr[-3000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["file_mib"] = path.stat().st_size / 2**20
    return out


def run(args, ctx: dict | None = None) -> list[dict]:
    rng = np.random.default_rng(args.seed)
    plan = []
    if "curves" in args.only:
        plan.append(("curves", "curves_1e6.csv", lambda p: write_curves(p, 1_000_000, rng)))
    if "counts" in args.only:
        plan.append(("counts", "counts_1e5.csv", lambda p: write_counts(p, 100_000, rng)))
    if "log" in args.only:
        sizes = (1_000_000,) if args.quick else (1_000_000, 10_000_000)
        for lines in sizes:
            for fmt in ("jsonl", "csv"):
                plan.append(("log", f"log_{lines:.0e}.{fmt}".replace("+0", ""),
                             lambda p, n=lines, f=fmt: write_log(p, n, rng, f)))
    results = []
    with tempfile.TemporaryDirectory(prefix="scalefit-bench-loading-") as tmp:
        for kind, name, write in plan:
            path = Path(tmp) / name
            write(path)
            rec = measure(kind, path)
            rec.update(case=name, kind=kind)
            results.append(rec)
            C.say(f"{name:<18} {rec['file_mib']:8.1f} MiB on disk  load {rec['wall_s']:6.2f} s (CPU {rec['cpu_s']:6.2f} s)  "
                  f"peak RSS {rec['peak_mib']:8.0f} MiB (+{rec['extra_mib']:.0f} MiB over imports)  "
                  f"-> {rec['rows_out']:,} rows")
            path.unlink()
    return results


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", default=",".join(CASES), help=f"comma-separated subset of {', '.join(CASES)}")
    p.add_argument("--quick", action="store_true", help="skip the 10,000,000-line attempt logs")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    args = p.parse_args(argv)
    args.only = [s.strip() for s in args.only.split(",") if s.strip()]
    bad = [s for s in args.only if s not in CASES]
    if bad:
        p.error(f"--only: unknown case(s) {bad}; choose from {', '.join(CASES)}")
    C.say(f"scalefit loading benchmark (cpu_count {os.cpu_count()}, load average {C.loadavg()})")
    results = run(args)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
