"""Sharding across devices: results on 4 virtual CPU devices equal those on one device."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

SCRIPT = textwrap.dedent(
    """
    import json, math, os, sys
    import numpy as np, pandas as pd, jax
    import scalefit
    scalefit.enable_x64()
    from scalefit import fit_law, bootstrap, fit_batch, get_law
    law = get_law("chinchilla")
    N = np.repeat(np.geomspace(1e7, 1e10, 6), 5); D = np.tile(np.geomspace(1e9, 1e12, 5), 6)
    theta = dict(a=math.log(482.0), b=math.log(2085.0), e=math.log(1.817), alpha=0.348, beta=0.366)
    y = law.evaluate(theta, N=N, D=D) * np.exp(np.random.default_rng(0).normal(0, 0.003, N.size))
    frame = pd.DataFrame({"N": N, "D": D, "value": y})
    fit = fit_law(frame, "chinchilla")
    boot = bootstrap(fit, 24, seed=3, block_size=24).bootstrap
    curves = []
    rng = np.random.default_rng(1)
    for c in range(10):
        x = np.geomspace(1e6, 1e9, 8)
        curves.append(pd.DataFrame({"curve": c, "x": x,
                                    "value": (1.5 + rng.uniform(20, 60) * x ** -0.3) * np.exp(rng.normal(0, 0.002, 8))}))
    batch = fit_batch(pd.concat(curves), "power_law", by="curve")
    print(json.dumps({"devices": jax.device_count(), "params": fit.params, "objective": fit.objective_scaled,
                      "boot": boot.draws.tolist(), "batch": batch.table[["a", "alpha", "e"]].to_numpy().tolist()}))
    """
)


def _run(n_devices: int) -> dict:
    env = dict(os.environ)
    env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={n_devices}"
    env["JAX_PLATFORMS"] = "cpu"
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, timeout=900,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_four_virtual_devices_give_the_same_results_as_one():
    one, four = _run(1), _run(4)
    assert one["devices"] == 1 and four["devices"] == 4
    for k, v in one["params"].items():
        assert four["params"][k] == pytest.approx(v, rel=1e-12, abs=1e-14)
    assert four["objective"] == pytest.approx(one["objective"], rel=1e-13)
    np.testing.assert_allclose(four["boot"], one["boot"], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(four["batch"], one["batch"], rtol=1e-10, atol=1e-12)
