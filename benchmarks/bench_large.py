"""Benchmark: ``scalefit fit`` on a 1,000,000-row loss-curve file, in a fresh process.

Writes ``big.csv`` (columns ``N, loss``: 1,000 log-spaced sizes from 1e6 to 1e10, 1,000 noisy
repeats each, loss = (1.7 + 400 N^-0.3) x lognormal(0.01), seed 0) to a temporary folder, then
runs ``scalefit fit big.csv --law power_law --x N -o fit.json`` twice with a fresh
``SCALEFIT_CACHE_DIR`` (cold: traces and compiles; warm: served by the caches) and reports each
run's wall time, CPU time and the children's peak RSS (``getrusage(RUSAGE_CHILDREN)``; a fresh
process per run, so the first figure is the cold run's and the second the larger of the two).
Goal (issue 11): under 10 s and 1.5 GB on 2 cores.

For scale, ``scipy.optimize.curve_fit`` fits the same law (least squares on the natural scale,
a single start at the data-generating values, so an easier problem than scalefit's multi-start
Huber fit on log residuals) to the same points in this process; the ratio of wall times is
printed.

Run: ``.venv/bin/python benchmarks/bench_large.py [--rows 1000000]``.
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

import _common as C


def write_curve(path: Path, rows: int, sizes: int = 1000) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    N = np.repeat(np.geomspace(1e6, 1e10, sizes), rows // sizes)
    loss = (1.7 + 400.0 * N ** -0.3) * np.exp(0.01 * rng.standard_normal(N.size))
    np.savetxt(path, np.column_stack([N, loss]), delimiter=",", header="N,loss", comments="", fmt="%.17g")
    return N, loss


def scalefit_command(csv: Path, out: Path) -> list[str]:
    exe = Path(sys.executable).with_name("scalefit")
    base = [str(exe)] if exe.exists() else [sys.executable, "-c", "import sys; from scalefit.cli import main; sys.exit(main())"]
    return base + ["fit", str(csv), "--law", "power_law", "--x", "N", "-o", str(out), "--force"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    args = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="scalefit-bench-large-"))
    try:
        csv, out = tmp / "big.csv", tmp / "fit.json"
        N, loss = write_curve(csv, args.rows)
        env = C.user_env()
        env["SCALEFIT_CACHE_DIR"] = str(tmp / "cache")
        cmd = scalefit_command(csv, out)
        runs = []
        for label in ("cold cache", "warm cache"):
            wall, cpu, proc = C.run_child(cmd, env)
            rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
            runs.append((label, wall, cpu, rss_mb, proc.stdout))
        fit = json.loads(out.read_text())
        verdict = re.search(r"^(converged|NOT CONVERGED).*$", runs[-1][4], re.M)

        from scipy.optimize import curve_fit

        def law(x, E, A, alpha):
            return E + A * x ** -alpha

        t_sp, c_sp, (popt, _) = C.timed(lambda: curve_fit(law, N, loss, p0=(1.7, 400.0, 0.3)))
        C.say(f"[large] {args.rows} rows, `scalefit fit big.csv --law power_law --x N -o fit.json`, "
              f"load average {C.loadavg()}")
        for label, wall, cpu, rss, _ in runs:
            C.say(f"  {label}: {wall:.2f} s wall, {cpu:.2f} s CPU, peak RSS so far {rss:.0f} MB")
        C.say(f"  verdict: {verdict.group(0) if verdict else '?'}")
        C.say(f"  natural params: {fit['natural_params']}; JSON {out.stat().st_size / 1e6:.2f} MB "
              f"(frame saved as {'a summary' if fit['frame'].get('summary') else 'rows'})")
        C.say(f"  scipy curve_fit (one start, least squares): {t_sp:.2f} s wall, {c_sp:.2f} s CPU, "
              f"E={popt[0]:.5g} A={popt[1]:.5g} alpha={popt[2]:.5g}")
        C.say(f"  ratio scalefit (warm) / curve_fit wall: {runs[-1][1] / t_sp:.1f}x")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
