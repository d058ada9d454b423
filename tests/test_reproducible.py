"""Reproducible outputs: the same input, seed and lock give byte-identical JSON and PDF files from
two fresh processes on one machine.

What makes this hold: saved results record versions, seed, data hash, data source and the command,
but no wall-clock time (no ``created`` date, no sampler run time); the PDF carries no
CreationDate/ModDate (matplotlib writes none when they are ``None``) and no random ids; JSON keys
are written in a fixed order.  Each pipeline runs in its own interpreter (fresh JAX, fresh
compilation or a load from the persistent cache, fresh hash seed), in its own folder with the same
relative output names, so that the recorded command is the same.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO

PIPELINES = {
    # a point fit and its report
    "fit": [["fit", str(REPO / "scalefit" / "examples" / "power_law_synthetic.csv"), "--law", "power_law", "--x", "N",
             "-o", "fit.json"],
            ["report", "fit.json", "-o", "fit.pdf"]],
    # a best-of-N fit (model selection with its own bootstrap, seeded) and its report; fewer
    # replicates than the defaults (200 and 100) run every seeded step at a third of the cost
    "bon": [["bon", "fit", str(REPO / "scalefit" / "examples" / "bon_synthetic_counts.csv"), "-o", "bon.json",
             "--bootstrap", "40", "--select-bootstrap", "20"],
            ["report", "bon.json", "-o", "bon.pdf"]],
}
OUTPUTS = {"fit": ("fit.json", "fit.pdf"), "bon": ("bon.json", "bon.pdf")}


def _run_pipeline(steps, folder: Path) -> None:
    folder.mkdir()
    # one fresh interpreter runs every step of the pipeline through the CLI's entry point
    code = ("import sys\nfrom scalefit.cli import main\n"
            f"for argv in {steps!r}:\n"
            "    rc = main(argv)\n"
            "    if rc:\n"
            "        sys.exit(rc)\n")
    env = dict(os.environ)
    env.pop("PYTHONHASHSEED", None)  # each process draws its own hash seed (set iteration order)
    env.setdefault("SCALEFIT_CACHE_DIR", str(REPO / ".jax_cache"))
    out = subprocess.run([sys.executable, "-c", code], cwd=folder, env=env, capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]


@pytest.mark.parametrize("name", list(PIPELINES))
def test_two_fresh_processes_write_identical_files(name, tmp_path):
    first, second = tmp_path / "first", tmp_path / "second"
    _run_pipeline(PIPELINES[name], first)
    _run_pipeline(PIPELINES[name], second)
    for fname in OUTPUTS[name]:
        a, b = (first / fname).read_bytes(), (second / fname).read_bytes()
        assert len(a) > 1000, fname
        if a != b:
            at = next(i for i, (x, y) in enumerate(zip(a, b)) if x != y) if len(a) == len(b) else min(len(a), len(b))
            pytest.fail(f"{fname} differs between two runs at byte {at}: {a[max(0, at - 80):at + 80]!r} vs "
                        f"{b[max(0, at - 80):at + 80]!r}")
    assert b"/CreationDate" not in (first / OUTPUTS[name][1]).read_bytes()
