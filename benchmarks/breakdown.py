#!/usr/bin/env python
"""Where scalefit's time goes: the measurements behind README.md's "Where the time goes".

    python benchmarks/breakdown.py            # all parts (~3 min on 2 cores)
    python benchmarks/breakdown.py fit lse    # some of: fit, lse, compile, batch

Diagnostics, not benchmarks: they reach into scalefit's private modules (``scalefit.fit.point``,
``scalefit.fit._lbfgs``) and may need updating when those change.  CPU seconds are reported
beside wall seconds because the machine is shared.

- ``fit``: the warm Chinchilla fit split into VarPro start, screening and polishing.
- ``lse``: cost of one screening lane-iteration with the old nested ``logaddexp`` objective,
  with scalefit's single 3-term log-sum-exp whose ``custom_jvp`` returns the softmax weights
  (the gradient in docs/laws.md#chinchilla; ``scalefit.laws._base.lse3``), and with a trivial objective.
- ``compile``: a cold process's first fit split into VarPro, tracing, XLA compilation and run,
  with the 4,501 starts as they are and padded to a multiple of ``chunk_size`` (4,608).
- ``batch``: host-side start-grid construction in ``fit_batch`` against a vectorised grid.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

import _common as C  # noqa: E402


def _median_timing(fn, n=3):
    fn()
    runs = [C.timed(fn)[:2] for _ in range(n)]
    return float(np.median([r[0] for r in runs])), float(np.median([r[1] for r in runs]))


def part_fit(frame):
    import jax.numpy as jnp
    import scalefit
    from scalefit.fit import point
    from scalefit.laws import get_law

    law = get_law("chinchilla")
    X = {"N": jnp.asarray(frame["N"].to_numpy()), "D": jnp.asarray(frame["D"].to_numpy())}
    y = jnp.log(jnp.asarray(frame["value"].to_numpy()))
    w = jnp.ones(len(frame))
    rows = {
        "fit_law, defaults": lambda: scalefit.fit_law(frame, "chinchilla"),
        "fit_law, varpro=False": lambda: scalefit.fit_law(frame, "chinchilla", varpro=False),
        "fit_law, varpro=False, max_iter=1 (screening only)":
            lambda: scalefit.fit_law(frame, "chinchilla", varpro=False, max_iter=1),
        "VarPro start alone": lambda: point._varpro_start(law, law.param_names, X, y, w),
    }
    for name, fn in rows.items():
        wall, cpu = _median_timing(fn)
        C.say(f"[fit] {name}: {wall:.2f} s wall, {cpu:.2f} s CPU")


def _nested_law():
    """The Chinchilla law as it was before scalefit switched to ``lse3``: nested logaddexp."""
    import jax.numpy as jnp
    from scalefit.laws import get_law

    def fn(t, X):
        return jnp.logaddexp(jnp.logaddexp(t["a"] - t["alpha"] * jnp.log(X["N"]),
                                           t["b"] - t["beta"] * jnp.log(X["D"])), t["e"])

    return dataclasses.replace(get_law("chinchilla"), fn=fn)


def part_lse(frame):
    import jax
    import jax.numpy as jnp
    from scalefit.fit import _lbfgs
    from scalefit.fit.objective import make_objective
    from scalefit.laws import get_law

    data = {"X": {"N": jnp.asarray(frame["N"].to_numpy()), "D": jnp.asarray(frame["D"].to_numpy())},
            "y": jnp.log(jnp.asarray(frame["value"].to_numpy())), "w": jnp.ones(len(frame)), "fixed": jnp.zeros(0)}
    lo, hi = jnp.full(5, -jnp.inf), jnp.full(5, jnp.inf)
    starts = jnp.asarray(C.hoffmann_grid()[:17 * 256])

    def screen(vg):
        f = jax.jit(lambda X0: jax.lax.map(
            lambda x0: _lbfgs.minimize(vg, x0, data, lower=lo, upper=hi, max_iter=20, gtol=0.0, ftol=0.0),
            X0, batch_size=256))
        st = f(starts)
        jax.block_until_ready(st)
        wall, cpu = _median_timing(lambda: jax.block_until_ready(f(starts)))
        its = float(np.asarray(f(starts).it).sum())
        return cpu, its, np.asarray(st.f)

    import scalefit

    laws = {"nested logaddexp (old law)": _nested_law(), "3-term LSE + custom_jvp (scalefit's law)": get_law("chinchilla")}
    values = {}
    for name, law in laws.items():
        obj = make_objective(law, free=law.param_names, fixed=(), tied=(), loss="huber", delta=C.DELTA, asymmetry=0.5)
        vg = jax.value_and_grad(obj)
        values[name] = jax.jit(jax.vmap(lambda x: vg(x, data)))(starts)
        cpu, its, _ = screen(vg)
        C.say(f"[lse] {name}: {cpu:.2f} s CPU for {its:.0f} lane-iterations = {cpu / its * 1e6:.1f} us each")
    (fa, ga), (fb, gb) = (tuple(np.asarray(v) for v in val) for val in values.values())
    ok = np.isfinite(fa) & np.all(np.isfinite(ga), axis=1)
    gscale = np.maximum(np.abs(ga[ok]).max(axis=1, keepdims=True), 1e-300)
    C.say(f"[lse] objective and gradient at {int(ok.sum())} grid starts, max relative difference: "
          f"{np.max(np.abs(fa[ok] - fb[ok]) / np.abs(fa[ok])):.1e} (f), "
          f"{np.max(np.abs(ga[ok] - gb[ok]) / gscale):.1e} (grad)")
    cpu, its, _ = screen(lambda x, d: (0.5 * jnp.sum(x * x), x))
    C.say(f"[lse] trivial objective (L-BFGS bookkeeping only): {cpu / its * 1e6:.1f} us per lane-iteration")
    for name, law in laws.items():
        wall, cpu = _median_timing(lambda: scalefit.fit_law(frame, law))
        fit = scalefit.fit_law(frame, law)
        C.say(f"[lse] whole fit_law with {name}: {wall:.2f} s wall, {cpu:.2f} s CPU; objective {fit.objective:.12e}")
        wall, cpu = _median_timing(lambda: scalefit.bootstrap(fit, 1000, seed=0, progress=False))
        sd = np.std(scalefit.bootstrap(fit, 1000, seed=0, progress=False).bootstrap.good(), axis=0, ddof=1)
        C.say(f"[lse] bootstrap(1000) with {name}: {wall:.2f} s wall, {cpu:.2f} s CPU; SDs (a, b, e, alpha, beta) "
              + " ".join(f"{v:.6f}" for v in sd))


_COMPILE_CHILD = r"""
import json, sys, time
import jax, jax.numpy as jnp, numpy as np
jax.config.update("jax_enable_compilation_cache", False)
import scalefit
scalefit.enable_x64()
sys.path.insert(0, sys.argv[1])
import _common as C
from scalefit.fit import point
from scalefit.laws import get_law
frame = C.load_chinchilla(C.chinchilla_csv(sys.argv[2]))
law = get_law("chinchilla")
out = {}
w, c, prob = C.timed(lambda: point._prepare(frame, law, inputs=None, target="value", fixed=None, tied=None,
                                            weights=None, starts=None, varpro=True, source=None))
out["varpro_compile_and_run"] = [w, c]
pad = int(sys.argv[3])
if pad:
    prob.x0s = np.vstack([prob.x0s, np.repeat(prob.x0s[-1:], pad, axis=0)])
solver = point.solver_for(prob, "huber", 1e-3, 0.5, point.Schedule(32, 20, 3000, 1e-10, 1e-15, 256), batched=False)
args = (jnp.asarray(prob.x0s), prob.data, jnp.asarray(prob.lower), jnp.asarray(prob.upper))
w, c, low = C.timed(lambda: solver.lower(*args)); out["trace_and_lower"] = [w, c]
w, c, comp = C.timed(lambda: low.compile()); out["xla_compile"] = [w, c]
w, c, _ = C.timed(lambda: jax.block_until_ready(comp(*args))); out["run"] = [w, c]
out["n_starts"] = len(prob.x0s)
print(json.dumps(out))
"""


def part_compile(csv):
    for pad in (0, 4608 - 4501):
        proc = subprocess.run([sys.executable, "-c", _COMPILE_CHILD, str(C.HERE), str(csv), str(pad)],
                              capture_output=True, text=True, env=C.child_env())
        if proc.returncode:
            raise RuntimeError(proc.stderr[-2000:])
        rec = json.loads(proc.stdout.strip().splitlines()[-1])
        parts = ", ".join(f"{k} {v[0]:.2f}/{v[1]:.2f} s" for k, v in rec.items() if isinstance(v, list))
        C.say(f"[compile] {rec['n_starts']} starts (wall/CPU): {parts}")


def part_batch():
    import bench_batch as B
    import scalefit
    from scalefit.fit.point import start_matrix
    from scalefit.laws import get_law

    scalefit.enable_x64()
    G = 10_000
    _, lx, ly, _ = B.make_curves(G, 0)
    law = get_law("power_law")
    x, y = np.exp(lx), np.exp(ly)
    wall, cpu, _ = C.timed(lambda: [start_matrix(law, None, {"x": x[g]}, y[g], ("a", "alpha", "e"))
                                    for g in range(G)])
    C.say(f"[batch] fit_batch's per-group start grids for {G} curves: {wall:.2f} s wall, {cpu:.2f} s CPU "
          f"({cpu / G * 1e6:.0f} us per curve)")
    wall, cpu, _ = C.timed(lambda: B.power_grid(lx, ly))
    C.say(f"[batch] the same grid vectorised over all curves (bench_batch.power_grid): {wall * 1e3:.0f} ms")


def main(argv=None):
    parts = (argv if argv is not None else sys.argv[1:]) or ["fit", "lse", "compile", "batch"]
    import scalefit

    scalefit.enable_x64()
    csv = C.chinchilla_csv(None)
    frame = C.load_chinchilla(csv)
    C.say(f"load average {C.loadavg()}")
    for p in parts:
        if p == "fit":
            part_fit(frame)
        elif p == "lse":
            part_lse(frame)
        elif p == "compile":
            part_compile(csv)
        elif p == "batch":
            part_batch()
        else:
            raise SystemExit(f"unknown part {p!r}; choose from fit, lse, compile, batch")
    C.say(f"load average {C.loadavg()}")


if __name__ == "__main__":
    main()
