"""The Python API keeps compiled programs on disk like the CLI does (issue 15), with an opt-out."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCRIPT = """
import jax, scalefit
scalefit.enable_x64()
frame = scalefit.load_curves(scalefit.examples.path("power_law_synthetic.csv"))
fit = scalefit.fit_law(frame, "power_law", inputs={"x": "N"})
print("CACHE", jax.config.jax_compilation_cache_dir)
"""


def _run(cache_value):
    env = {k: v for k, v in os.environ.items() if k != "SCALEFIT_CACHE_DIR"}
    env["SCALEFIT_CACHE_DIR"] = str(cache_value)
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, cwd=REPO,
                         timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout.split("CACHE", 1)[1].strip()


def test_a_fit_from_python_fills_the_persistent_cache(tmp_path):
    folder = tmp_path / "cache"
    assert _run(folder) == str(folder)
    assert any(folder.iterdir()), "no compiled program was written to the cache"


def test_the_cache_can_be_switched_off(tmp_path):
    assert _run("off") == "None"
