"""Speed of the pooled model (issue 13) on simulated data of the jailbreak log's shape: 7 groups x
159 items x 60 attempts, residual families kumaraswamy / beta / logit-normal in turn.

Forecast with intervals (4 budgets, 200 item-bootstrap replicates): the current code path against
the previous one (``--baseline``, default 62308d2: 200 x (1 fit + 4 budgets) kernel passes), loaded
from git into the same process, cold (first call: compiles) and warm, with the ratio and the largest
difference between the two paths' estimates and interval ends.  ``--derivatives`` also times the
objective + gradient + Hessian against jax.hessian of the objective (jitted once).

    SCALEFIT_CACHE_DIR=off nice .venv/bin/python benchmarks/bench_pooled.py [--G 7 --I 159 --n 60]

Measured 2026-12-06 (2 cores shared, load average 3-5, compilation cache off), forecast with 200
replicates: baseline 206.0 s cold / 84.8 s warm, new 32.0 s cold / 4.6 s warm (6.4x / 18.3x);
largest difference estimate 2.2e-16, lower 0, upper 0.00031 (the 5 of 200 resamples whose own
Hessian is not negative definite now step with the full data's instead of a solver refit).
Verdict: 1 of 200 one-step replicates within 0.25 SE of its resample's optimum (median Newton
decrement 1.23 SE).
"""

import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

import scalefit
from scalefit.sampling import pooled as P

BUDGETS = [600, 1020, 6000, 10020]


def timed(f, *a, reps=3):
    t = time.perf_counter()
    jax.block_until_ready(f(*a))
    first = time.perf_counter() - t
    t = time.perf_counter()
    for _ in range(reps):
        out = jax.block_until_ready(f(*a))
    return first, (time.perf_counter() - t) / reps, out


def baseline_module(ref: str):
    """scalefit/sampling/pooled.py as of git ``ref``, imported as a sibling module of the package."""
    root = Path(__file__).resolve().parents[1]
    src = subprocess.run(["git", "-C", str(root), "show", f"{ref}:scalefit/sampling/pooled.py"],
                         capture_output=True, text=True, check=True).stdout
    path = Path(tempfile.mkdtemp()) / "pooled_baseline.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location("scalefit.sampling._pooled_baseline", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


def derivatives(data, fams):
    G, I = data.shape
    _, codes = P._family_codes(fams, G)
    tables = P._tables(data.n, data.k)
    th = jnp.asarray(np.concatenate([P._independent_start(data.n, data.k, codes), np.zeros((G, 1))], 1).ravel())
    w = jnp.ones(I)
    c_new, t_new, (f, g, H) = timed(jax.jit(P._make_fgh(True, codes)), th, w, tables)

    def value(t):
        return P._fgh_value(t, w, tables, codes, True)

    c_v, t_v, _ = timed(jax.jit(value), th)
    c_h, t_h, H2 = timed(jax.jit(jax.hessian(value)), th)
    print(f"objective only               {t_v:8.4f} s  (compile {c_v:.1f} s)")
    print(f"f + grad + Hessian (new)     {t_new:8.4f} s  (compile {c_new:.1f} s)  {t_new / t_v:.1f}x the objective")
    print(f"jax.hessian of the objective {t_h:8.4f} s  (compile {c_h:.1f} s)  ratio baseline/new {t_h / t_new:.1f}")
    print(f"max |H_new - H_autodiff| {float(jnp.max(jnp.abs(H - H2))):.2g}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--G", type=int, default=7)
    ap.add_argument("--I", type=int, default=159)
    ap.add_argument("--n", type=int, default=60)
    ap.add_argument("--replicates", type=int, default=200)
    ap.add_argument("--baseline", default="62308d2")
    ap.add_argument("--derivatives", action="store_true")
    ap.add_argument("--refit", action="store_true", help="also time refit=True (replicates failing the verdict refitted)")
    args = ap.parse_args()
    scalefit.enable_x64()
    G, I, n, B = args.G, args.I, args.n, args.replicates
    print("load average", os.getloadavg(), "| compilation cache", os.environ.get("SCALEFIT_CACHE_DIR", "default"))
    rng = np.random.default_rng(0)
    u = rng.normal(size=I)
    eta = np.linspace(-4, 0, G)[:, None] + 1.5 * u[None] + rng.normal(size=(G, I))
    k = rng.binomial(n, 1 / (1 + np.exp(-eta)))
    data = P.pooled_data(np.full(k.shape, n), k)
    fams = tuple(P.POOLED_FAMILIES[g % 3] for g in range(G))
    print(f"{G} groups x {I} items x {n} attempts, {B} replicates, budgets {BUDGETS}")
    if args.derivatives:
        derivatives(data, fams)
    for label in ("cold", "warm"):
        t = time.perf_counter()
        fit = P.fit_pooled(data, families=fams)
        print(f"fit_pooled ({label}) {time.perf_counter() - t:.1f} s, converged {fit.converged}")
    old = baseline_module(args.baseline)
    ofit = old.PooledFit(old.pooled_data(data.n, data.k), fit.theta, True, fit.objective, fit.converged,
                         fit.grad_norm, fams)
    times, results = {}, {}
    for name, f in (("baseline", ofit), ("new", fit)):
        for label in ("cold", "warm"):
            t = time.perf_counter()
            results[name] = f.forecast(BUDGETS, num_bootstrap=B, seed=0)
            times[name, label] = time.perf_counter() - t
            print(f"forecast, {len(BUDGETS)} budgets, {B} replicates, {name} ({label}) {times[name, label]:.1f} s",
                  flush=True)
    for label in ("cold", "warm"):
        print(f"ratio baseline / new ({label}): {times['baseline', label] / times['new', label]:.1f}x")
    diffs = [float(np.max(np.abs(a - b))) for a, b in zip(results["baseline"], results["new"])]
    print("max |difference| estimate / lower / upper: " + " / ".join(f"{d:.2g}" for d in diffs))
    rep = fit.replicates(BUDGETS, num_bootstrap=B, seed=0)
    dec = rep.decrement[np.isfinite(rep.decrement)]
    print(f"verdict: {int(rep.converged.sum())} of {B} one-step replicates within 0.25 SE of their optimum "
          f"(Newton decrement median {np.median(dec):.2f}, 90th percentile {np.quantile(dec, 0.9):.2f}); "
          f"{int(rep.full_hessian.sum())} stepped with the full data's Hessian (their own not negative definite)")
    if args.refit:
        for label in ("cold", "warm"):
            t = time.perf_counter()
            res = fit.forecast(BUDGETS, num_bootstrap=B, seed=0, refit=True)
            print(f"forecast with refit=True ({label}) {time.perf_counter() - t:.1f} s; max |interval change| "
                  f"{max(float(np.max(np.abs(a - b))) for a, b in zip(res[1:], results['new'][1:])):.3f}")


if __name__ == "__main__":
    main()
