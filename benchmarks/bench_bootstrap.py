"""Benchmark 2: 1,000 case-resampling bootstrap replicates of the Chinchilla fit.

scalefit: ``bootstrap(fit, 1000, seed=0)``: multinomial count weights, every replicate refitted
from the point estimate by the vmapped L-BFGS (one compiled program).

Baseline: a loop of ``scipy.optimize.minimize(method="L-BFGS-B")`` refits with the *same* count
weights (``numpy.random.default_rng(seed).multinomial(n, [1/n]*n, size=R)``, checked against
scalefit's weights), from the same point estimate, on the summed Huber objective divided by δ²
with ftol = 1e-15, gtol = 1e-10 (tolerances that converge: with scipy's defaults and the
unscaled objective the refits barely move and the SDs come out 8-38x too small, DESIGN.md §5).

Agreement: bootstrap SDs of (α, β, E, log A, log B) over the replicates both ran (goal: within 5%).
"""

from __future__ import annotations

import numpy as np

import _common as C

NAME = "bootstrap"
QUICK_REPLICATES = 150

#: reported SDs: label -> function of the (R, 5) draws in (a, b, e, alpha, beta) order
SD_QUANTITIES = {
    "alpha": lambda d: d[:, 3],
    "beta": lambda d: d[:, 4],
    "E": lambda d: np.exp(d[:, 2]),
    "log A": lambda d: d[:, 0],
    "log B": lambda d: d[:, 1],
}


def case_weights(n_rows: int, n_replicates: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.multinomial(n_rows, np.full(n_rows, 1.0 / n_rows), size=n_replicates).astype(np.float64)


def sds(draws: np.ndarray) -> dict:
    return {k: float(np.std(f(draws), ddof=1)) for k, f in SD_QUANTITIES.items()}


def run(args, ctx: dict) -> list[C.Row]:
    import scalefit

    frame = ctx.get("chinchilla_frame")
    if frame is None:
        frame = C.load_chinchilla(C.chinchilla_csv(args.data))
    fit = ctx.get("chinchilla_fit")
    if fit is None:
        fit = scalefit.fit_law(frame, "chinchilla")
    R = int(args.replicates)
    seed = int(args.seed)
    repeats = 2 if args.quick else max(3, args.repeats)

    W = case_weights(len(frame), R, seed)
    try:  # the weights scalefit draws internally must be these
        from scalefit.fit.bootstrap import resample_weights

        same_weights = bool(np.array_equal(resample_weights(len(frame), R, seed=seed), W))
    except ImportError:  # pragma: no cover - private helper moved
        same_weights = None

    # ---------------------------------------------------------------- scalefit
    load0 = C.loadavg()
    t_first, _, res = C.timed(lambda: scalefit.bootstrap(fit, R, seed=seed, progress=False))
    times, cpus = [], []
    for _ in range(repeats):
        t, c, res = C.timed(lambda: scalefit.bootstrap(fit, R, seed=seed, progress=False))
        times.append(t)
        cpus.append(c)
    t_sf, c_sf = C.median(times), C.median(cpus)
    boot = res.bootstrap
    C.say(f"[{NAME}] scalefit {R} replicates: first call {t_first:.2f} s (incl. compilation); warm "
          f"{', '.join(f'{t:.2f}' for t in times)} s (median {t_sf:.2f} s wall, {c_sf:.2f} s CPU); "
          f"{boot.n_converged} converged")

    # ---------------------------------------------------------------- scipy loop
    n_sp = min(R, QUICK_REPLICATES) if args.quick else R
    obj = C.ChinchillaHuber(frame["N"].to_numpy(), frame["D"].to_numpy(), frame["value"].to_numpy())
    x0 = np.array([fit.params[n] for n in C.CHINCHILLA_NAMES])
    C.say(f"[{NAME}] scipy L-BFGS-B refits of {n_sp} of {R} replicates"
          f"{' (time extrapolated linearly)' if n_sp < R else ''} ...")
    draws_sp = np.empty((n_sp, 5))
    status = np.empty(n_sp, int)
    nit = np.empty(n_sp, int)
    def loop():
        for r in range(n_sp):
            out = C.scipy_lbfgsb(obj.with_weights(W[r]), x0)
            draws_sp[r], status[r], nit[r] = out.x, out.status, out.nit

    t_sp_run, c_sp_run, _ = C.timed(loop)
    t_sp, c_sp = t_sp_run * R / n_sp, c_sp_run * R / n_sp
    load1 = C.loadavg()
    C.say(f"[{NAME}] scipy: {t_sp_run:.1f} s wall ({c_sp_run:.1f} s CPU) for {n_sp} refits"
          + (f" -> {t_sp:.0f} s extrapolated to {R}" if n_sp < R else "")
          + f"; median iterations {np.median(nit):.0f}")

    # ---------------------------------------------------------------- agreement
    sp_ok = np.isfinite(draws_sp).all(axis=1) & (status != 1)  # 1: iteration/evaluation limit
    both = boot.converged[:n_sp] & sp_ok
    d_sf = boot.draws[:n_sp][both]
    d_sp = draws_sp[both]
    sd_sf, sd_sp = sds(d_sf), sds(d_sp)
    rel = {k: C.rel_diff(sd_sf[k], sd_sp[k]) for k in sd_sf}
    worst = max(rel.values())
    C.say(f"[{NAME}] SDs over {int(both.sum())} common replicates (scalefit / scipy): "
          + "; ".join(f"{k} {sd_sf[k]:.4g} / {sd_sp[k]:.4g}" for k in sd_sf)
          + f"; max rel. diff {worst:.1e}")

    details = {
        "n_replicates": R, "seed": seed, "same_weights_as_scalefit": same_weights,
        "scalefit_first_call_s": t_first, "scalefit_warm_s": times, "scalefit_warm_cpu_s": cpus,
        "scipy_cpu_s": c_sp, "scalefit_n_converged": boot.n_converged,
        "scipy_replicates_run": n_sp, "scipy_extrapolated": n_sp < R, "scipy_time_run_s": t_sp_run,
        "scipy_time_s": t_sp, "scipy_median_iterations": float(np.median(nit)),
        "scipy_status_counts": {int(k): int(v) for k, v in zip(*np.unique(status, return_counts=True))},
        "n_common": int(both.sum()), "sd_scalefit": sd_sf, "sd_scipy": sd_sp, "sd_rel_diff": rel,
        "max_abs_draw_diff": np.max(np.abs(d_sf - d_sp), axis=0) if len(d_sf) else None,
        "sd_scalefit_all_replicates": sds(boot.good()), "loadavg_before_after": [load0, load1],
    }
    note = f"scipy L-BFGS-B x{R}" + (" (extrapolated)" if n_sp < R else "")
    return [C.Row(f"2  bootstrap, {R} replicates", t_sf, t_sp, ">= 10x", t_sp / t_sf >= 10,
                  f"SDs of α,β,E,logA,logB: max rel. diff {worst:.1e} (goal <= 5%)", worst <= 0.05, note,
                  c_sf, c_sp, details=details)]
