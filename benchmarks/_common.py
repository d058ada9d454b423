"""Shared pieces of the benchmark suite: data location, the Chinchilla data, the numpy Huber
objective used by the scipy baselines, timing helpers and result records.

Nothing here is imported by scalefit or its tests; the suite is run by hand (see README.md).
"""

from __future__ import annotations

import itertools
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parent

#: Huber threshold of Hoffmann et al.'s objective (docs/laws.md#chinchilla)
DELTA = 1e-3

#: T1.4a reference optimum (docs/laws.md#chinchilla): best unscaled summed Huber objective
T14A_OBJECTIVE = 1.0182740e-3

#: scipy L-BFGS-B options for the baselines.  The objective handed to scipy is the summed Huber
#: loss divided by delta**2 (values ~1e3, gradients O(1)-O(1e6)), so scipy's relative ftol,
#: measured against max(|f|, 1), is a real relative tolerance; with the unscaled objective
#: (~1e-3) L-BFGS-B stops almost at once (DESIGN.md §5, docs/laws.md#chinchilla).  These match
#: T1.4a's recipe (ftol <= 1e-15) with gtol at scalefit's value and generous iteration limits.
SCIPY_LBFGSB_OPTIONS = {"ftol": 1e-15, "gtol": 1e-10, "maxiter": 10_000, "maxfun": 20_000}

#: Hoffmann App. D.2 grid (docs/laws.md#chinchilla), written out here independently of scalefit
HOFFMANN_AXES = {
    "alpha": (0.0, 0.5, 1.0, 1.5, 2.0),
    "beta": (0.0, 0.5, 1.0, 1.5, 2.0),
    "e": (-1.0, -0.5, 0.0, 0.5, 1.0),
    "a": (0.0, 5.0, 10.0, 15.0, 20.0, 25.0),
    "b": (0.0, 5.0, 10.0, 15.0, 20.0, 25.0),
}

CHINCHILLA_NAMES = ("a", "b", "e", "alpha", "beta")


# --------------------------------------------------------------------------- data
def shared_data_dir() -> Path:
    """``$SCALEFIT_SHARED_DATA`` or ``../shared/data`` beside the checkout (as the tests use)."""
    env = os.environ.get("SCALEFIT_SHARED_DATA")
    return Path(env) if env else REPO.parent / "shared" / "data"


def chinchilla_csv(override: str | os.PathLike | None = None) -> Path:
    """Epoch's digitised Chinchilla file (never copied into the repository)."""
    path = Path(override) if override else shared_data_dir() / "chinchilla_epoch" / "svg_extracted_data.csv"
    if not path.is_file():
        raise SystemExit(
            f"benchmarks: Chinchilla data not found at {path}; place the shared/ folder beside the "
            "checkout, set SCALEFIT_SHARED_DATA=/path/to/shared/data, or pass --data FILE"
        )
    return path


def load_chinchilla(path: Path):
    """The 240-point Epoch set: every row with loss strictly below the 5th-largest loss.

    Loaded with ``scalefit.load_curves`` (which derives D = C/(6N)); returns the filtered frame.
    """
    import scalefit

    frame = scalefit.load_curves(path)
    threshold = frame["value"].sort_values(ascending=False).iloc[4]
    frame = frame[frame["value"] < threshold].reset_index(drop=True)
    if len(frame) != 240:
        raise SystemExit(f"benchmarks: expected 240 Chinchilla points after Epoch's filter, got {len(frame)}")
    # D must be C/(6N) (docs/laws.md#chinchilla); check rather than trust the loader
    if not np.allclose(frame["D"].to_numpy(), frame["C"].to_numpy() / (6.0 * frame["N"].to_numpy()), rtol=1e-12):
        raise SystemExit("benchmarks: D != C/(6N) in the loaded Chinchilla frame")
    return frame


def hoffmann_grid() -> np.ndarray:
    """(4500, 5) starts in (a, b, e, alpha, beta) order, Hoffmann's loop order alpha>beta>e>a>b."""
    rows = [
        (a, b, e, al, be)
        for al, be, e, a, b in itertools.product(
            HOFFMANN_AXES["alpha"], HOFFMANN_AXES["beta"], HOFFMANN_AXES["e"], HOFFMANN_AXES["a"],
            HOFFMANN_AXES["b"],
        )
    ]
    return np.asarray(rows, dtype=np.float64)


# --------------------------------------------------------------------------- numpy objective
class ChinchillaHuber:
    """Summed Huber objective of log residuals for L = E + A/N^α + B/D^β, divided by δ².

    ``f(x) = Σ_i w_i ρ_δ(μ_i − log L_i) / δ²`` with ``μ_i = LSE(a − α log N_i, b − β log D_i, e)``
    and the analytic gradient of docs/laws.md#chinchilla (softmax weights times ψ_δ).  Calling the
    object returns ``(f, grad)`` as scipy's ``jac=True`` expects.
    """

    def __init__(self, N, D, L, delta: float = DELTA, weights=None):
        self.lN = np.log(np.asarray(N, dtype=np.float64))
        self.lD = np.log(np.asarray(D, dtype=np.float64))
        self.lL = np.log(np.asarray(L, dtype=np.float64))
        self.delta = float(delta)
        self.w = None if weights is None else np.asarray(weights, dtype=np.float64)

    def with_weights(self, weights) -> "ChinchillaHuber":
        out = object.__new__(ChinchillaHuber)
        out.lN, out.lD, out.lL, out.delta = self.lN, self.lD, self.lL, self.delta
        out.w = np.asarray(weights, dtype=np.float64)
        return out

    def __call__(self, x):
        a, b, e, alpha, beta = x
        t1 = a - alpha * self.lN
        t2 = b - beta * self.lD
        m = np.maximum(np.maximum(t1, t2), e)
        e1 = np.exp(t1 - m)
        e2 = np.exp(t2 - m)
        e3 = np.exp(e - m)
        s = e1 + e2 + e3
        u = (m + np.log(s) - self.lL) / self.delta       # residual / δ
        au = np.abs(u)
        rho = np.where(au <= 1.0, 0.5 * u * u, au - 0.5)  # ρ_δ(r)/δ²
        psi = np.clip(u, -1.0, 1.0) / self.delta           # ψ_δ(r)/δ²
        if self.w is not None:
            rho = rho * self.w
            psi = psi * self.w
        psi = psi / s
        g1 = psi * e1                                      # ψ · softmax weight of the N term
        g2 = psi * e2
        grad = np.array([g1.sum(), g2.sum(), (psi * e3).sum(), -(g1 @ self.lN), -(g2 @ self.lD)])
        return float(rho.sum()), grad


def scipy_lbfgsb(fun: ChinchillaHuber, x0):
    from scipy.optimize import minimize

    return minimize(fun, np.asarray(x0, dtype=np.float64), jac=True, method="L-BFGS-B",
                    options=SCIPY_LBFGSB_OPTIONS)


# --------------------------------------------------------------------------- timing & records
def now() -> float:
    return time.perf_counter()


def timed(fn: Callable[[], Any]) -> tuple[float, float, Any]:
    """(wall seconds, CPU seconds of this process, result) of ``fn()``.

    The machine these figures come from is shared, so wall times carry other processes' load;
    CPU time (all threads of this process) is reported beside it as a steadier cross-check.
    """
    c0, t0 = time.process_time(), time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, time.process_time() - c0, out


def run_child(cmd, env, cwd=None):
    """Run a subprocess; returns (wall seconds, CPU seconds of the child, CompletedProcess)."""
    import resource
    import subprocess

    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=str(cwd or REPO))
    wall = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    if proc.returncode != 0:
        raise RuntimeError(f"`{' '.join(map(str, cmd))}` failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return wall, cpu, proc


def median(xs) -> float:
    return float(statistics.median(xs))


def loadavg() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:  # pragma: no cover
        return None


def rel_diff(a: float, b: float) -> float:
    return abs(a - b) / max(abs(a), abs(b), 1e-300)


@dataclass
class Row:
    """One line of the summary table (plus details for the JSON output)."""

    benchmark: str
    scalefit_s: float | None
    baseline_s: float | None
    goal: str
    speed_ok: bool | None
    agreement: str
    agreement_ok: bool | None
    baseline_note: str = ""
    scalefit_cpu_s: float | None = None
    baseline_cpu_s: float | None = None
    details: dict = field(default_factory=dict)

    @property
    def ratio(self) -> float | None:
        return self.baseline_s / self.scalefit_s if self.scalefit_s and self.baseline_s else None

    @property
    def ratio_cpu(self) -> float | None:
        return self.baseline_cpu_s / self.scalefit_cpu_s if self.scalefit_cpu_s and self.baseline_cpu_s else None

    @property
    def met(self) -> str:
        checks = [c for c in (self.speed_ok, self.agreement_ok) if c is not None]
        if not checks:
            return "n/a"
        if all(checks):
            return "yes"
        what = []
        if self.speed_ok is False:
            what.append("speed")
        if self.agreement_ok is False:
            what.append("agreement")
        return "NO (" + ", ".join(what) + ")"

    def to_dict(self) -> dict:
        return {
            "benchmark": self.benchmark, "scalefit_s": self.scalefit_s, "baseline_s": self.baseline_s,
            "baseline_note": self.baseline_note, "ratio": self.ratio, "scalefit_cpu_s": self.scalefit_cpu_s,
            "baseline_cpu_s": self.baseline_cpu_s, "ratio_cpu": self.ratio_cpu, "goal": self.goal, "met": self.met,
            "speed_ok": self.speed_ok, "agreement": self.agreement, "agreement_ok": self.agreement_ok,
            "details": _jsonable(self.details),
        }


def _jsonable(obj):
    """JSON-safe copy (the result protocol's cleaning: NaN/inf -> None, numpy -> Python)."""
    from scalefit._result import clean_json

    return clean_json(obj)


def fmt_s(x: float | None) -> str:
    if x is None:
        return "—"
    if x >= 100:
        return f"{x:.0f} s"
    if x >= 10:
        return f"{x:.1f} s"
    return f"{x:.2f} s"


def table(rows: list[list[str]], headers: list[str]) -> str:
    cells = [headers] + rows
    widths = [max(len(str(r[i])) for r in cells) for i in range(len(headers))]
    line = "  ".join("-" * w for w in widths)
    out = ["  ".join(str(h).ljust(w) for h, w in zip(headers, widths)), line]
    for r in rows:
        out.append("  ".join(str(c).ljust(w) for c, w in zip(r, widths)))
    return "\n".join(out)


def say(*args, **kwargs) -> None:
    print(*args, **kwargs, flush=True)


def user_env() -> dict:
    """The environment ``run.py`` started with (without the BLAS thread limits it added)."""
    import json

    env = dict(os.environ)
    for var, value in json.loads(env.pop("SCALEFIT_BENCH_USER_ENV", "{}")).items():
        if value is None:
            env.pop(var, None)
        else:
            env[var] = value
    return env


def child_env() -> dict:
    """Environment for the cold-fit child: the user's environment, no persistent JAX cache."""
    env = user_env()
    env["JAX_ENABLE_COMPILATION_CACHE"] = "false"
    env.pop("JAX_COMPILATION_CACHE_DIR", None)
    env["PYTHONPATH"] = os.pathsep.join([str(HERE)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    return env


def python() -> str:
    return sys.executable
