"""`scalefit demo` / `make demo`: the main job on bundled example data.

Fits the Chinchilla law the Hoffmann way to the bundled ``chinchilla_synthetic.csv``
(:mod:`scalefit.examples`, generated from known parameters), prints the parameter table with its convergence
verdict, the prediction at a 70B-parameter / 1.4T-token run, and the compute-optimal
allocation at 1e24 FLOPs, next to the true values.
"""

from __future__ import annotations

from pathlib import Path

from . import examples


def run_demo(output: str | None = None, force: bool = False) -> int:
    """Fit the bundled data, print the results and write ``reports/demo.pdf``.

    The demo's own outputs (``demo.pdf`` and the fit JSON files next to it) are regenerated on
    every run; other files are never touched.
    """
    from .allocation import allocation_constants, compute_optimal
    from .fit import FitResult
    from .report.demo import build_demo_report

    truth = examples.truth()
    out_dir = Path(output) if output else Path("reports")
    out_dir.mkdir(parents=True, exist_ok=True)
    info = build_demo_report(out_dir, force=True)

    res = FitResult.from_json(info["fit"])
    print()
    print("== Chinchilla L(N, D) on scalefit/examples/chinchilla_synthetic.csv (Huber on log residuals, 4,500-start grid)")
    print(res.summary())
    t = truth["chinchilla_synthetic.csv"]
    nat = res.natural_params
    print("truth vs fit: " + ", ".join(f"{k} {t[k]:g} vs {nat[k]:.4g}" for k in ("E", "A", "B", "alpha", "beta")))
    pred = res.predict(N=70e9, D=1.4e12)
    true_L = t["E"] + t["A"] * 70e9 ** (-t["alpha"]) + t["B"] * 1.4e12 ** (-t["beta"])
    band = ""
    if "lower" in pred:
        band = f" [{pred['lower'][0]:.4f}, {pred['upper'][0]:.4f}] ({res.bootstrap.level:.0%} bootstrap)"
    print(f"prediction at N=7e10, D=1.4e12: L = {pred['prediction'][0]:.4f}{band}; true {true_L:.4f}; "
          f"{pred['extrapolation'][0]:.1f}x beyond the fitted data")
    k = allocation_constants(res)
    opt = compute_optimal(res, 1e24).iloc[0]
    tk = allocation_constants(t)
    print(f"compute-optimal at 1e24 FLOPs: N = {opt.N_opt:.3g}, D = {opt.D_opt:.3g}, "
          f"{opt.tokens_per_param:.1f} tokens/param, L* = {opt.loss:.4f}; "
          f"N_opt ∝ C^{k['a']:.3f} (true C^{tk['a']:.3f})")
    return 0 if res.converged else 3
