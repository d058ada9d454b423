"""Every Python block in README.md runs as written (from a fresh folder beside ``shared/``), and the
README's layout block matches the package's folders."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _python_blocks() -> list[str]:
    text = (REPO / "README.md").read_text()
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def test_readme_has_python_blocks():
    assert _python_blocks(), "README.md lost its Python example"


@pytest.mark.shared_data
@pytest.mark.slow
@pytest.mark.parametrize("index", range(len(_python_blocks())))
def test_readme_python_block_runs(index, shared_data, tmp_path):
    # the README's paths are relative to a working folder that has ../shared/data beside it
    work = tmp_path / "work"
    work.mkdir()
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "data").symlink_to(shared_data, target_is_directory=True)
    script = work / "block.py"
    script.write_text(_python_blocks()[index])
    env = {k: v for k, v in os.environ.items()}
    env["SCALEFIT_CACHE_DIR"] = str(REPO / ".jax_cache")
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=work, env=env,
                         timeout=900)
    assert out.returncode == 0, out.stderr[-3000:]
    assert (work / "fit.json").is_file() or "to_json" not in script.read_text()


def test_readme_layout_names_every_module_and_package():
    """The README's layout block names every top-level module and subpackage of scalefit/ (and
    nothing that does not exist), so the map a reader gets matches the folders."""
    text = (REPO / "README.md").read_text()
    block = text[text.index("scalefit/                 layers, lowest first"):]
    block = block[:block.index("```")]
    named = set(re.findall(r"(?<![\w/.])([a-z_][\w]*(?:\.py|/))", block))
    pkg = REPO / "scalefit"
    actual = {p.name for p in pkg.glob("*.py") if p.name != "__init__.py"}
    actual |= {p.name + "/" for p in pkg.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    actual |= {p.name + "/" for p in (pkg / "sampling").iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    top_level = {"scalefit/", "tests/", "notebooks/", "benchmarks/", "docs/"}
    assert actual - named == set(), "modules the README layout does not name"
    # other names (files inside a package, e.g. examples/generate.py) must exist somewhere below
    missing = {n for n in named - actual - top_level if not any(pkg.rglob(n.rstrip("/")))}
    assert missing == set(), "names in the README layout that are not in scalefit/"
