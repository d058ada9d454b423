"""Benchmark: Beta-Binomial maximum likelihood on 100,000 items, scalefit vs saber-risk.

scalefit: ``scalefit.sampling.fit_beta_binomial`` (items with equal (n, k) collapsed into a count
histogram; damped Newton with the analytic score and Hessian in JAX, float64), and for reference
the batched engine ``fit_mixing(..., model="beta", prior=False)``.  Timed after one warm-up call
(compilation excluded; report both).

Baseline, in the same run: ``saber.fitting.fit_beta_binomial_MLE`` of the ``saber-risk`` package
(the SABER authors' reference code: scipy L-BFGS-B on the summed ``scipy.stats.betabinom.logpmf``
over all items, from (0.5, 2), default tolerances).  Because scipy's defaults can stop early on a
summed objective of size ~1e5 (DESIGN.md §5), a second baseline runs the same objective with
tolerances that converge (ftol = 1e-15, gtol = 1e-10), so that the speed ratio is against a
baseline that reaches the same optimum.

Agreement goal: a and b within 1e-4 relative.  Speed goal: >= 10x.

Usage:  python benchmarks/bench_betabinom.py [--items 100000] [--n 100] [--repeats 5] [--seed 0]
        [--heterogeneous]
saber-risk is optional (``pip install saber-risk``); without it only scalefit is timed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _time(fn, repeats: int):
    out = None
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return out, statistics.median(times), times


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=100_000)
    ap.add_argument("--n", type=int, default=100, help="attempts per item")
    ap.add_argument("--heterogeneous", action="store_true", help="n_i uniform on [n/2, 2n]")
    ap.add_argument("--a", type=float, default=0.4)
    ap.add_argument("--b", type=float, default=4.0)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    import scalefit

    scalefit.enable_x64()
    from scalefit.sampling import fit_beta_binomial, fit_mixing

    rng = np.random.default_rng(args.seed)
    K = args.items
    n = rng.integers(args.n // 2, 2 * args.n + 1, size=K) if args.heterogeneous else np.full(K, args.n)
    k = rng.binomial(n, rng.beta(args.a, args.b, size=K))
    print(f"data: {K} items, n = {'U[%d, %d]' % (args.n // 2, 2 * args.n) if args.heterogeneous else args.n}, "
          f"truth Beta({args.a}, {args.b}), {len(np.unique(np.stack([n, k]), axis=1).T)} distinct (n, k) pairs")

    t0 = time.perf_counter()
    fit_beta_binomial(n, k)
    first = time.perf_counter() - t0
    sf, t_sf, _ = _time(lambda: fit_beta_binomial(n, k), args.repeats)
    print(f"scalefit fit_beta_binomial: a = {sf.a:.10g}, b = {sf.b:.10g}, converged {sf.converged}; "
          f"median {t_sf * 1e3:.2f} ms over {args.repeats} (first call incl. compilation {first:.2f} s)")
    fit_mixing(n, k, model="beta", prior=False)
    mx, t_mx, _ = _time(lambda: fit_mixing(n, k, model="beta", prior=False), args.repeats)
    print(f"scalefit fit_mixing(beta):  a = {mx.params['a']:.10g}, b = {mx.params['b']:.10g}; "
          f"median {t_mx * 1e3:.2f} ms")

    try:
        from saber.fitting import fit_beta_binomial_MLE
    except ImportError:
        print("saber-risk is not installed (pip install saber-risk): baseline skipped")
        return 0
    from scipy.optimize import minimize
    from scipy.stats import betabinom

    reps = max(1, min(args.repeats, 3))
    (sa, sb), t_saber, _ = _time(lambda: fit_beta_binomial_MLE(k, n.astype(float)), reps)

    def converged_baseline():
        kf, nf = k.astype(float), n.astype(float)

        def nll(par):
            a, b = np.exp(par)
            return -np.sum(betabinom.logpmf(kf, nf, a, b))

        res = minimize(nll, np.log([0.5, 2.0]), method="L-BFGS-B",
                       options={"ftol": 1e-15, "gtol": 1e-10, "maxiter": 10_000, "maxfun": 20_000})
        return tuple(np.exp(res.x))

    (ca, cb), t_conv, _ = _time(converged_baseline, reps)

    def rel(x, y):
        return abs(x / y - 1.0)

    print(f"saber-risk fit_beta_binomial_MLE (defaults): a = {sa:.10g}, b = {sb:.10g}; median {t_saber:.3f} s "
          f"over {reps}")
    print(f"  same objective, converging tolerances:      a = {ca:.10g}, b = {cb:.10g}; median {t_conv:.3f} s")
    print()
    print(f"agreement scalefit vs saber-risk defaults:  |da|/a = {rel(sf.a, sa):.2e}, |db|/b = {rel(sf.b, sb):.2e}")
    print(f"agreement scalefit vs converged baseline:   |da|/a = {rel(sf.a, ca):.2e}, |db|/b = {rel(sf.b, cb):.2e}")
    agree = max(rel(sf.a, sa), rel(sf.b, sb)) <= 1e-4
    agree_c = max(rel(sf.a, ca), rel(sf.b, cb)) <= 1e-4
    print(f"speed ratio vs saber-risk defaults: {t_saber / t_sf:.0f}x; vs converged baseline: {t_conv / t_sf:.0f}x")
    print(f"goal (>= 10x, a and b within 1e-4): defaults {'MET' if agree and t_saber / t_sf >= 10 else 'NOT MET'}"
          f" (agreement {'yes' if agree else 'no'}); converged baseline "
          f"{'MET' if agree_c and t_conv / t_sf >= 10 else 'NOT MET'} (agreement {'yes' if agree_c else 'no'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
