"""Speed of the pooled model's objective + gradient + Hessian (issue 13), simulated 7 groups x
159 items x 60 attempts (the shape of the jailbreak log), families kumaraswamy / beta /
logit-normal in turn.  Baseline in the same run: jax.hessian of the objective value (reverse-mode
gradient, forward-mode Hessian), jitted once.  Also times fit_pooled and a 200-replicate forecast.

    nice .venv/bin/python benchmarks/bench_pooled.py [G I n]
"""

import os
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

import scalefit
from scalefit.sampling import pooled as P


def timed(f, *a, reps=3):
    t = time.perf_counter()
    jax.block_until_ready(f(*a))
    first = time.perf_counter() - t
    t = time.perf_counter()
    for _ in range(reps):
        out = jax.block_until_ready(f(*a))
    return first, (time.perf_counter() - t) / reps, out


def main():
    scalefit.enable_x64()
    G, I, n = (int(a) for a in sys.argv[1:4]) if len(sys.argv) > 3 else (7, 159, 60)
    print("load average", os.getloadavg())
    rng = np.random.default_rng(0)
    u = rng.normal(size=I)
    eta = np.linspace(-4, 0, G)[:, None] + 1.5 * u[None] + rng.normal(size=(G, I))
    k = rng.binomial(n, 1 / (1 + np.exp(-eta)))
    data = P.pooled_data(np.full(k.shape, n), k)
    fams = tuple(P.POOLED_FAMILIES[g % 3] for g in range(G))
    _, codes = P._family_codes(fams, G)
    tables = P._tables(data.n, data.k)
    th = jnp.asarray(np.concatenate([P._independent_start(data.n, data.k, codes), np.zeros((G, 1))], 1).ravel())
    w = jnp.ones(I)
    c_new, t_new, (f, g, H) = timed(jax.jit(P._make_fgh(True, codes)), th, w, tables)

    def value(t):
        return P._fgh_value(t, w, tables, codes, True)

    c_v, t_v, _ = timed(jax.jit(value), th)
    c_h, t_h, H2 = timed(jax.jit(jax.hessian(value)), th)
    print(f"{G} groups x {I} items x {n} attempts")
    print(f"objective only               {t_v:8.4f} s  (compile {c_v:.1f} s)")
    print(f"f + grad + Hessian (new)     {t_new:8.4f} s  (compile {c_new:.1f} s)  {t_new / t_v:.1f}x the objective")
    print(f"jax.hessian of the objective {t_h:8.4f} s  (compile {c_h:.1f} s)  ratio baseline/new {t_h / t_new:.1f}")
    print(f"max |H_new - H_autodiff| {float(jnp.max(jnp.abs(H - H2))):.2g}")
    for label in ("cold", "warm"):
        t = time.perf_counter()
        fit = P.fit_pooled(data, families=fams)
        print(f"fit_pooled ({label}) {time.perf_counter() - t:.1f} s, converged {fit.converged}")
    for label in ("cold", "warm"):
        t = time.perf_counter()
        fit.forecast([600, 1020, 6000, 10020], num_bootstrap=200)
        print(f"forecast, 4 budgets, 200 replicates ({label}) {time.perf_counter() - t:.1f} s")


if __name__ == "__main__":
    main()
