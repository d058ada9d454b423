"""Every notebook in notebooks/ executes, on small settings, in a fresh Jupyter kernel.

Notebooks are jupytext percent-format scripts (``notebooks/NN_name.py``; open them in Jupyter
with jupytext, or convert with ``jupytext --to ipynb``).  The test converts each with jupytext
and runs it with nbclient in the ``python3`` kernel of this interpreter, with
``SCALEFIT_NOTEBOOK_QUICK=1`` so that each runs in well under a minute.  No committed outputs
are used or trusted.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

jupytext = pytest.importorskip("jupytext")
nbclient = pytest.importorskip("nbclient")

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("[0-9][0-9]_*.py"))


def test_the_four_notebooks_exist():
    stems = [p.stem for p in NOTEBOOKS]
    for expected in ("01_chinchilla", "02_best_of_n", "03_bayesian", "04_passuntil"):
        assert expected in stems, f"notebooks/{expected}.py is missing (have {stems})"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_executes(path, monkeypatch):
    monkeypatch.setenv("SCALEFIT_NOTEBOOK_QUICK", "1")
    monkeypatch.setenv("MPLBACKEND", "Agg")
    # share compiled programs with the rest of the test suite (see conftest.py)
    monkeypatch.setenv("JAX_COMPILATION_CACHE_DIR", str(REPO / ".jax_cache"))
    monkeypatch.setenv("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.5")
    nb = jupytext.read(path)
    assert nb.metadata.get("kernelspec", {}).get("name") == "python3"
    client = nbclient.NotebookClient(
        nb, kernel_name="python3", timeout=600, allow_errors=False,
        resources={"metadata": {"path": str(path.parent)}},
    )
    t0 = time.perf_counter()
    client.execute()  # raises CellExecutionError naming the failing cell
    elapsed = time.perf_counter() - t0
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    print(f"{path.name}: {elapsed:.1f} s")
