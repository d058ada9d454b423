"""Benchmark 1: the 4,500-start Hoffmann-grid Chinchilla fit (Huber, δ = 1e-3) on Epoch's data.

scalefit: ``fit_law(frame, "chinchilla")`` with its defaults (4,500 grid starts + 1 VarPro start,
20 L-BFGS iterations each, best 32 polished to tight tolerance).

Baseline: a plain loop of ``scipy.optimize.minimize(method="L-BFGS-B")`` over the same 4,500
starts, each run to convergence with the analytic gradient of the summed Huber objective
(written in numpy from docs/laws.md#chinchilla), objective divided by δ², ftol = 1e-15, gtol = 1e-10,
maxiter = 10,000 (see ``_common.SCIPY_LBFGSB_OPTIONS``); the best objective is kept.

Timings:
- scalefit excluding compilation: median of repeated calls in this process after a warm-up call;
- scalefit including compilation: the first ``fit_law`` call in a fresh Python process (a
  subprocess) with JAX's persistent compilation cache disabled, median over several processes.

Run alone: ``python benchmarks/run.py --only chinchilla``.  This file is also the child program
of the cold measurement (``--cold-child CSV``).
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np

import _common as C

NAME = "chinchilla"
QUICK_STARTS = 300


def _cold_child(csv: str) -> None:
    t0 = time.perf_counter()
    import jax

    jax.config.update("jax_enable_compilation_cache", False)  # a truly cold compile
    import scalefit

    scalefit.enable_x64()
    frame = C.load_chinchilla(C.Path(csv))
    t1, c1 = time.perf_counter(), time.process_time()
    fit = scalefit.fit_law(frame, "chinchilla")
    t2, c2 = time.perf_counter(), time.process_time()
    print(json.dumps({"setup_s": t1 - t0, "first_fit_s": t2 - t1, "first_fit_cpu_s": c2 - c1,
                      "objective": fit.objective, "converged": bool(fit.converged)}))


def cold_runs(csv, n: int) -> list[dict]:
    out = []
    for _ in range(n):
        wall, cpu, proc = C.run_child([C.python(), __file__, "--cold-child", str(csv)], C.child_env())
        rec = json.loads(proc.stdout.strip().splitlines()[-1])
        rec["process_wall_s"] = wall
        rec["process_cpu_s"] = cpu
        out.append(rec)
    return out


def scipy_loop(frame, starts: np.ndarray):
    obj = C.ChinchillaHuber(frame["N"].to_numpy(), frame["D"].to_numpy(), frame["value"].to_numpy())
    fs = np.empty(len(starts))
    xs = np.empty_like(starts)
    nit = np.empty(len(starts), int)
    status = np.empty(len(starts), int)

    def loop():
        for i, x0 in enumerate(starts):
            res = C.scipy_lbfgsb(obj, x0)
            fs[i], xs[i], nit[i], status[i] = res.fun, res.x, res.nit, res.status

    wall, cpu, _ = C.timed(loop)
    return wall, cpu, fs, xs, nit, status


def run(args, ctx: dict) -> list[C.Row]:
    import scalefit

    csv = C.chinchilla_csv(args.data)
    frame = C.load_chinchilla(csv)
    ctx["chinchilla_frame"] = frame
    repeats = 2 if args.quick else max(3, args.repeats)
    n_cold = 1 if args.quick else max(3, args.repeats)
    C.say(f"[{NAME}] {len(frame)} points from {csv}")

    # ---------------------------------------------------------------- scalefit, warm
    load0 = C.loadavg()
    t_first, _, fit = C.timed(lambda: scalefit.fit_law(frame, "chinchilla"))
    warm, warm_cpu = [], []
    for _ in range(repeats):
        t, c, fit = C.timed(lambda: scalefit.fit_law(frame, "chinchilla"))
        warm.append(t)
        warm_cpu.append(c)
    ctx["chinchilla_fit"] = fit
    t_warm, c_warm = C.median(warm), C.median(warm_cpu)
    C.say(f"[{NAME}] scalefit: first call in this process {t_first:.2f} s; warm calls "
          f"{', '.join(f'{t:.2f}' for t in warm)} s (median {t_warm:.2f} s wall, {c_warm:.2f} s CPU); "
          f"objective {fit.objective:.10e}, converged={fit.converged}")

    # ---------------------------------------------------------------- scalefit, cold process
    cold = cold_runs(csv, n_cold)
    t_cold = C.median([c["first_fit_s"] for c in cold])
    c_cold = C.median([c["first_fit_cpu_s"] for c in cold])
    firsts = ", ".join(f"{c['first_fit_s']:.2f}" for c in cold)
    walls = ", ".join(f"{c['process_wall_s']:.2f}" for c in cold)
    C.say(f"[{NAME}] scalefit cold (fresh process, no persistent cache): first fit_law {firsts} s "
          f"(median {t_cold:.2f} s); process wall {walls} s")

    # ---------------------------------------------------------------- scipy loop
    grid = C.hoffmann_grid()
    sf_grid = fit.starts.loc[fit.starts["origin"] == "grid", [f"{n}_init" for n in C.CHINCHILLA_NAMES]].to_numpy()
    same_grid = sf_grid.shape == grid.shape and np.array_equal(np.unique(sf_grid, axis=0), np.unique(grid, axis=0))
    if args.quick:
        rng = np.random.default_rng(args.seed)
        idx = np.sort(rng.choice(len(grid), QUICK_STARTS, replace=False))
    else:
        idx = np.arange(len(grid))
    C.say(f"[{NAME}] scipy L-BFGS-B loop over {len(idx)} of {len(grid)} starts "
          f"({'seeded random subset, time extrapolated linearly' if args.quick else 'all starts'}) ...")
    t_sp_run, c_sp_run, fs, xs, nit, status = scipy_loop(frame, grid[idx])
    extrap = len(grid) / len(idx)
    t_sp, c_sp = t_sp_run * extrap, c_sp_run * extrap
    load1 = C.loadavg()
    kbest = int(np.argmin(fs))
    f_sp = float(fs[kbest]) * C.DELTA**2
    x_sp = xs[kbest]
    x_sf = np.array([fit.params[n] for n in C.CHINCHILLA_NAMES])
    rd = C.rel_diff(f_sp, fit.objective)
    n_at_best = int(np.sum(fs * C.DELTA**2 <= f_sp * (1 + 1e-9)))
    C.say(f"[{NAME}] scipy: {t_sp_run:.1f} s wall ({c_sp_run:.1f} s CPU) for {len(idx)} starts"
          + (f" -> {t_sp:.0f} s extrapolated to {len(grid)}" if args.quick else "")
          + f"; best objective {f_sp:.10e}; median iterations {np.median(nit):.0f}, max {nit.max()}; "
            f"{n_at_best} starts within 1e-9 of the best")

    details = {
        "n_points": len(frame), "n_starts_scalefit": int(fit.n_starts), "scipy_starts_run": int(len(idx)),
        "scipy_extrapolated": bool(args.quick), "scipy_time_run_s": t_sp_run, "scipy_time_s": t_sp,
        "scipy_cpu_s": c_sp, "scalefit_warm_cpu_s": warm_cpu,
        "scalefit_first_call_in_process_s": t_first, "scalefit_warm_s": warm, "scalefit_cold": cold,
        "scalefit_objective": fit.objective, "scipy_objective": f_sp, "objective_rel_diff": rd,
        "scalefit_params": dict(zip(C.CHINCHILLA_NAMES, x_sf)), "scipy_params": dict(zip(C.CHINCHILLA_NAMES, x_sp)),
        "max_abs_param_diff": float(np.max(np.abs(x_sf - x_sp))),
        "t14a_objective_rel_diff": C.rel_diff(fit.objective, C.T14A_OBJECTIVE),
        "scipy_median_iterations": float(np.median(nit)), "scipy_status_counts": {
            int(k): int(v) for k, v in zip(*np.unique(status, return_counts=True))},
        "scipy_starts_at_best": n_at_best, "same_start_grid": bool(same_grid),
        "scalefit_converged": bool(fit.converged), "loadavg_before_after": [load0, load1],
        "scipy_options": C.SCIPY_LBFGSB_OPTIONS,
    }
    note = "scipy L-BFGS-B x4500" + (" (extrapolated)" if args.quick else "")
    agree = f"rel. diff of best objectives {rd:.1e} (goal <= 1e-9)"
    agree_ok = rd <= 1e-9
    return [
        C.Row("1a Chinchilla 4,500-start fit, excl. compilation", t_warm, t_sp, ">= 20x", t_sp / t_warm >= 20,
              agree, agree_ok, note, c_warm, c_sp, details=details),
        C.Row("1b same, incl. compilation (fresh process)", t_cold, t_sp, ">= 5x", t_sp / t_cold >= 5,
              agree, agree_ok, note, c_cold, c_sp, details={"cold": cold}),
    ]


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--cold-child":
        _cold_child(sys.argv[2])
    else:
        raise SystemExit("run benchmarks via `python benchmarks/run.py --only chinchilla`")
