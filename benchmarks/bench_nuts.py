"""Benchmark: NUTS on the Chinchilla law, scalefit (numpyro) vs PyMC, same model, same run.

Model (docs/bayes.md#model): log L_i ~ StudentT(ν, LSE(a − α log N_i, b − β log D_i, e), σ) on
Epoch's 240 points, with the §4.2 priors in their own parameterisation:
log A_ref, log B_ref ~ Normal(log(0.3·median L), 1) (a = log A_ref + α·log N_ref, N_ref = geometric
mean of N; same for b with D), E = u·L_min with u ~ Beta(3, 2), α, β ~ LogNormal(log 0.3, 0.5),
σ ~ HalfNormal(0.05), ν ~ Gamma(2, 0.1) truncated to ν > 1.

Both samplers: 4 chains x 1000 warm-up + 1000 draws, started at the T1.4a point estimate.
Reported: bulk/tail ESS (ArviZ, the same function for both) of α and β, wall time of the sampling
call, ESS per second and the ratio scalefit / PyMC.  Each sampler is run twice: the first run
includes compilation (JAX/XLA; PyTensor C code), the second shows steady-state sampling speed
(compiled programs cached).  The headline ratio uses the second runs.

scalefit runs its chains in ``parallel`` on 4 host devices (this script sets
``XLA_FLAGS=--xla_force_host_platform_device_count=4`` before JAX is imported, which is what
users should do on a CPU) and, for reference, ``vectorized`` on the same devices; both with
scalefit's default dense mass matrix, and ``parallel`` once more with a diagonal one (PyMC's
default) for a like-for-like sampler.  PyMC runs in a child process of this script that never
imports JAX (forking a process that holds JAX's threads can deadlock), with its chains in
``cores`` worker processes (the number of CPUs, at most the number of chains).

PyMC is not a scalefit dependency: ``pip install pymc`` to run the comparison; without it the
script prints scalefit's numbers and says that the baseline is missing.

Usage: python benchmarks/bench_nuts.py [--draws 1000] [--warmup 1000] [--chains 4] [--repeats 2]
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=4")

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SCALEFIT_SHARED_DATA", REPO.parent / "shared" / "data"))
T14A = dict(a=6.16925, b=7.67016, e=0.597307, alpha=0.347311, beta=0.367172)


def load_epoch():
    import scalefit

    frame = scalefit.load_curves(SHARED / "chinchilla_epoch" / "svg_extracted_data.csv")
    thr = np.sort(frame["value"].to_numpy())[-5]
    return frame[frame["value"] < thr].reset_index(drop=True)


def ess_of(idata, names=("alpha", "beta")):
    import arviz as az

    bulk = az.ess(idata, var_names=list(names), method="bulk")
    tail = az.ess(idata, var_names=list(names), method="tail")
    return {n: (float(bulk[n]), float(tail[n])) for n in names}


def run_scalefit(frame, args, chain_method, seed, dense_mass=True):
    from scalefit.bayes import fit_bayes

    t0 = time.perf_counter()
    post = fit_bayes(frame, "chinchilla", init=T14A, num_warmup=args.warmup, num_samples=args.draws,
                     num_chains=args.chains, seed=seed, chain_method=chain_method, progress=False,
                     dense_mass=dense_mass)
    total = time.perf_counter() - t0
    return post, post.settings["seconds"], total


def run_pymc(frame, args, seed, init_method="jitter+adapt_diag"):
    import pymc as pm
    import pytensor.tensor as pt

    N = frame["N"].to_numpy(np.float64)
    D = frame["D"].to_numpy(np.float64)
    L = frame["value"].to_numpy(np.float64)
    lN, lD, lL = np.log(N), np.log(D), np.log(L)
    lN_ref, lD_ref = float(lN.mean()), float(lD.mean())
    loc = math.log(0.3 * float(np.median(L)))
    log_ymin = float(np.log(L.min()))
    with pm.Model() as model:
        a_ref = pm.Normal("a_ref", loc, 1.0)
        b_ref = pm.Normal("b_ref", loc, 1.0)
        u = pm.Beta("E_frac", 3.0, 2.0)
        alpha = pm.LogNormal("alpha", math.log(0.3), 0.5)
        beta = pm.LogNormal("beta", math.log(0.3), 0.5)
        sigma = pm.HalfNormal("sigma", 0.05)
        nu = pm.Truncated("nu", pm.Gamma.dist(alpha=2.0, beta=0.1), lower=1.0)
        a = a_ref + alpha * lN_ref
        b = b_ref + beta * lD_ref
        e = pt.log(u) + log_ymin
        terms = pt.stack([a - alpha * lN, b - beta * lD, pt.ones_like(lN) * e])
        mu = pt.logsumexp(terms, axis=0)
        pm.StudentT("y", nu=nu, mu=mu, sigma=sigma, observed=lL)
    init = {"a_ref": T14A["a"] - T14A["alpha"] * lN_ref, "b_ref": T14A["b"] - T14A["beta"] * lD_ref,
            "E_frac": min(math.exp(T14A["e"] - log_ymin), 0.98), "alpha": T14A["alpha"], "beta": T14A["beta"],
            "sigma": 0.005, "nu": 5.0}
    cores = min(args.chains, os.cpu_count() or 1)
    t0 = time.perf_counter()
    with model:
        idata = pm.sample(draws=args.draws, tune=args.warmup, chains=args.chains, cores=cores, initvals=init,
                          random_seed=seed, progressbar=False, compute_convergence_checks=False,
                          target_accept=0.8, init=init_method)
    seconds = time.perf_counter() - t0
    return idata, seconds, cores


def pymc_child(args) -> int:
    """Run PyMC ``args.repeats`` times and print one JSON line per run (no JAX in this process)."""
    import json
    import warnings

    import arviz as az
    import pandas as pd

    warnings.filterwarnings("ignore")
    frame = pd.read_csv(args.frame)
    import pymc

    for init_method, label in (("jitter+adapt_diag", ""), ("jitter+adapt_full", " dense")):
        for rep in range(args.repeats):
            idata, sec, cores = run_pymc(frame, args, seed=rep, init_method=init_method)
            ess = ess_of(idata)
            div = int(np.asarray(idata.sample_stats["diverging"]).sum())
            rhat = max(float(az.rhat(idata, var_names=["alpha"])["alpha"]),
                       float(az.rhat(idata, var_names=["beta"])["beta"]))
            print(json.dumps({"name": f"PyMC {pymc.__version__} ({cores} processes){label}", "rep": rep,
                              "seconds": sec, "ess": ess, "div": div, "rhat": rhat}), flush=True)
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--warmup", type=int, default=1000)
    ap.add_argument("--chains", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=2, help="runs per sampler (the first includes compilation)")
    ap.add_argument("--skip-vectorized", action="store_true")
    ap.add_argument("--pymc-child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--frame", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.pymc_child:
        return pymc_child(args)

    import json
    import subprocess
    import tempfile

    import jax

    import scalefit

    scalefit.enable_x64()
    frame = load_epoch()
    load = os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3
    print(f"Chinchilla law, {len(frame)} Epoch points; {args.chains} chains x ({args.warmup} warm-up + "
          f"{args.draws} draws); {jax.local_device_count()} JAX devices, {os.cpu_count()} CPUs; "
          f"load average {load[0]:.1f}")
    rows = []

    configs = [("parallel", True)] + ([] if args.skip_vectorized else [("vectorized", True)]) + [("parallel", False)]
    for method, dense in configs:
        for rep in range(args.repeats):
            post, sec, total = run_scalefit(frame, args, method, seed=rep, dense_mass=dense)
            ess = ess_of(post.idata)
            name = f"scalefit/numpyro {post.settings['chain_method']}" + ("" if dense else " diag")
            rows.append((name, rep, sec, ess, post.diagnostics.divergences,
                         float(post.diagnostics.table["r_hat"].max())))
            print(f"  {name:<32} run {rep}: {sec:7.2f} s sampling ({total:.2f} s with setup); "
                  f"ESS bulk α {ess['alpha'][0]:.0f}, β {ess['beta'][0]:.0f}; "
                  f"divergences {post.diagnostics.divergences}", flush=True)

    pymc_rows = []
    try:
        import importlib.util

        have_pymc = importlib.util.find_spec("pymc") is not None
    except Exception:  # noqa: BLE001
        have_pymc = False
    if not have_pymc:
        print("  PyMC is not installed (pip install pymc): no baseline to compare against")
    else:
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "epoch240.csv")
            frame[["N", "D", "value"]].to_csv(path, index=False)
            cmd = [sys.executable, __file__, "--pymc-child", "--frame", path, "--draws", str(args.draws),
                   "--warmup", str(args.warmup), "--chains", str(args.chains), "--repeats", str(args.repeats)]
            env = {k: v for k, v in os.environ.items() if k != "XLA_FLAGS"}
            proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
            for line in proc.stdout.splitlines():
                if line.startswith("{"):
                    d = json.loads(line)
                    pymc_rows.append((d["name"], d["rep"], d["seconds"], {k: tuple(v) for k, v in d["ess"].items()},
                                      d["div"], d["rhat"]))
                    print(f"  {d['name']:<32} run {d['rep']}: {d['seconds']:7.2f} s; ESS bulk α "
                          f"{d['ess']['alpha'][0]:.0f}, β {d['ess']['beta'][0]:.0f}; divergences {d['div']}",
                          flush=True)
            if proc.returncode != 0 or not pymc_rows:
                print("  PyMC run failed: " + " ".join(proc.stderr.strip().splitlines()[-3:]))

    print()
    print(f"{'sampler':<38}{'run':>4}{'seconds':>9}{'ESS/s α':>10}{'ESS/s β':>10}{'tail/s α':>10}{'tail/s β':>10}"
          f"{'div':>5}{'R-hat':>7}")
    for name, rep, sec, ess, div, rhat in rows + pymc_rows:
        print(f"{name:<38}{rep:>4}{sec:>9.2f}{ess['alpha'][0] / sec:>10.1f}{ess['beta'][0] / sec:>10.1f}"
              f"{ess['alpha'][1] / sec:>10.1f}{ess['beta'][1] / sec:>10.1f}{div:>5}{rhat:>7.3f}")
    if pymc_rows:
        last, first = {}, {}
        for name, rep, sec, ess, _, _ in rows + pymc_rows:
            last[name] = (sec, ess)  # the last run of each sampler (compiled programs cached)
            first.setdefault(name, (sec, ess))
        print()

        def rate(v, k):
            return v[1][k][0] / v[0]

        pairs = []
        for s_name in dict.fromkeys(r[0] for r in rows):
            for p_name in dict.fromkeys(r[0] for r in pymc_rows):
                pairs.append((s_name, p_name))
        for s_name, p_name in pairs:
            ra, rb = (rate(last[s_name], k) / rate(last[p_name], k) for k in ("alpha", "beta"))
            ra1, rb1 = (rate(first[s_name], k) / rate(first[p_name], k) for k in ("alpha", "beta"))
            print(f"ratio {s_name} / {p_name} (bulk ESS per second, compiled): α {ra:.2f}x, β {rb:.2f}x "
                  f"(first runs incl. compilation: α {ra1:.2f}x, β {rb1:.2f}x)")
        print("goal: >= 8x (scalefit's default: dense mass matrix, parallel chains; PyMC's default: diagonal)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
