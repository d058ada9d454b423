#!/usr/bin/env python
"""scalefit benchmark suite (not part of the test suite).

    python benchmarks/run.py                      # all four benchmarks, full size (6-10 min on 2 cores)
    python benchmarks/run.py --quick              # scipy loops on seeded subsets, extrapolated (2-3 min)
    python benchmarks/run.py --only chinchilla,cli --json results.json

Benchmarks: ``chinchilla`` (4,500-start Hoffmann-grid fit), ``bootstrap`` (1,000 replicates),
``batch`` (10,000 power-law curves), ``cli`` (``scalefit fit`` end to end).  Each prints its
measurements as it goes; a summary table follows at the end.  See README.md for the method and
the figures measured so far.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

BENCHMARKS = ("chinchilla", "bootstrap", "batch", "cli")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--only", default=",".join(BENCHMARKS),
                   help=f"comma-separated subset of {', '.join(BENCHMARKS)} (default: all)")
    p.add_argument("--quick", action="store_true",
                   help="time the scipy loops on seeded subsets and extrapolate linearly (marked in the output)")
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON")
    p.add_argument("--data", metavar="CSV", help="Epoch's svg_extracted_data.csv (default: "
                   "$SCALEFIT_SHARED_DATA or ../shared/data/chinchilla_epoch/ beside the checkout)")
    p.add_argument("--repeats", type=int, default=3, help="timed repetitions of the cheap measurements (median)")
    p.add_argument("--seed", type=int, default=0, help="seed of subsets, bootstrap weights and synthetic curves")
    p.add_argument("--replicates", type=int, default=1000, help="bootstrap replicates (benchmark 2)")
    p.add_argument("--curves", type=int, default=10_000, help="synthetic curves (benchmark 3)")
    p.add_argument("--sweep", action="store_true", help="benchmark 3: also time a sweep of fit_batch settings")
    p.add_argument("--profile", action="store_true", help="benchmark 3: time breakdown of one fit_batch call")
    p.add_argument("--blas-threads", type=int, default=1, metavar="K",
                   help="BLAS/OpenMP threads for numpy/scipy (set before numpy is imported; default 1)")
    p.add_argument("--host-devices", type=int, default=None, metavar="K",
                   help="expose K XLA CPU devices (XLA_FLAGS=--xla_force_host_platform_device_count=K) so that "
                        "scalefit shards work across cores; default: JAX's default (one CPU device)")
    args = p.parse_args(argv)
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    bad = [s for s in only if s not in BENCHMARKS]
    if bad:
        p.error(f"--only: unknown benchmark(s) {bad}; choose from {', '.join(BENCHMARKS)}")
    args.only = only
    return args


def environment() -> dict:
    import importlib.metadata as md

    import jax

    info = {
        "date_utc": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(), "platform": platform.platform(), "cpu_count": os.cpu_count(),
        "jax_devices": [str(d) for d in jax.devices()], "XLA_FLAGS": os.environ.get("XLA_FLAGS", ""),
        "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS", ""),
    }
    for pkg in ("scalefit", "jax", "jaxlib", "numpy", "scipy"):
        try:
            info[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            info[pkg] = "not installed"
    try:
        with open("/proc/cpuinfo") as fh:
            names = [ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")]
        info["cpu"] = names[0] if names else platform.processor()
    except OSError:
        info["cpu"] = platform.processor()
    return info


def main(argv=None) -> int:
    args = parse_args(argv)
    # Small dense problems (L-BFGS-B's 5x5 and m=10 matrices, curve_fit's 8x3 Jacobians) only lose
    # from a multi-threaded BLAS: on a busy 2-core machine OpenBLAS's thread hand-offs made the scipy
    # loops 3-50x slower and erratic.  One BLAS thread is the baseline's best case (README.md).
    # Child processes (the cold fit, the CLI runs) get the user's own values back (_common.user_env).
    blas_vars = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")
    os.environ["SCALEFIT_BENCH_USER_ENV"] = json.dumps({v: os.environ.get(v) for v in blas_vars})
    for var in blas_vars:
        os.environ[var] = str(args.blas_threads)
    if args.host_devices:
        flags = os.environ.get("XLA_FLAGS", "")
        os.environ["XLA_FLAGS"] = f"{flags} --xla_force_host_platform_device_count={args.host_devices}".strip()

    import _common as C
    import scalefit

    scalefit.enable_x64()
    env = environment()
    C.say("scalefit benchmarks — " + ", ".join(f"{k} {env[k]}" for k in
                                                 ("date_utc", "scalefit", "jax", "numpy", "scipy", "cpu_count")))
    mode = "QUICK (scipy loops on subsets, extrapolated)" if args.quick else "full"
    C.say(f"devices: {env['jax_devices']}; cpu: {env['cpu']}; mode: {mode}")

    import bench_batch
    import bench_bootstrap
    import bench_chinchilla
    import bench_cli

    modules = {"chinchilla": bench_chinchilla, "bootstrap": bench_bootstrap, "batch": bench_batch, "cli": bench_cli}
    ctx: dict = {}
    rows = []
    for name in BENCHMARKS:
        if name in args.only:
            C.say(f"\n=== {name} ===")
            rows.extend(modules[name].run(args, ctx))

    C.say("\n=== summary (times are medians; ratio = baseline / scalefit) ===")
    body = [[r.benchmark, C.fmt_s(r.scalefit_s),
             C.fmt_s(r.baseline_s) + (" *" if "extrapolated" in r.baseline_note else ""),
             "—" if r.ratio is None else f"{r.ratio:.1f}x", "—" if r.ratio_cpu is None else f"{r.ratio_cpu:.1f}x",
             r.goal, r.met, r.agreement] for r in rows]
    C.say(C.table(body, ["benchmark", "scalefit", "baseline", "ratio", "CPU ratio", "goal", "met?", "agreement"]))
    C.say("ratio: of wall-clock medians (the goals are judged on it); CPU ratio: of CPU-time medians (all "
          "threads of the process), steadier when other processes load the machine")
    C.say("baselines: " + "; ".join(f"{r.benchmark.split()[0]} = {r.baseline_note}" for r in rows if r.baseline_note))
    if any("extrapolated" in r.baseline_note for r in rows):
        C.say("* baseline time extrapolated linearly from a seeded subset (see the per-benchmark lines above)")

    if args.json:
        payload = {"environment": env, "argv": sys.argv, "quick": args.quick, "results": [r.to_dict() for r in rows]}
        Path(args.json).write_text(json.dumps(payload, indent=2, default=str))
        C.say(f"results written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
