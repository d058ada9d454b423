"""A wheel installed into a clean environment works from an unrelated folder (issue 15: install anywhere).

The wheel is built once from this checkout; the clean environment gets scalefit from the wheel
alone (its dependencies are borrowed from the test environment through a ``.pth`` line, so no
download is needed), and every command runs from an empty temporary folder, so nothing in the
checkout can be found by accident.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def _run(args, cwd, env=None, timeout=600):
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, cwd=cwd, env=env, timeout=timeout)


@pytest.fixture(scope="module")
def clean_env(tmp_path_factory):
    root = tmp_path_factory.mktemp("install")
    wheels = root / "wheels"
    out = _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                "-w", wheels, REPO], cwd=root)
    assert out.returncode == 0, out.stderr
    (wheel,) = wheels.glob("scalefit-*.whl")
    env_dir = root / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    py = env_dir / "bin" / "python"
    site = Path(_run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], cwd=root).stdout.strip())
    # dependencies only: the test environment's site-packages as a plain path (its .pth files,
    # among them the editable hook for this checkout, are not processed from there)
    (site / "_scalefit_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    out = _run([sys.executable, "-m", "pip", "--python", py, "install", "--quiet", "--no-deps", wheel], cwd=root)
    assert out.returncode == 0, out.stderr
    elsewhere = root / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["SCALEFIT_CACHE_DIR"] = str(REPO / ".jax_cache")  # the suite's compilation cache
    return {"py": py, "bin": env_dir / "bin", "cwd": elsewhere, "env": env, "wheel": wheel}


def test_the_installed_package_is_the_wheel_not_the_checkout(clean_env):
    out = _run([clean_env["py"], "-c", "import scalefit; print(scalefit.__file__)"], clean_env["cwd"], clean_env["env"])
    assert out.returncode == 0, out.stderr
    assert str(REPO) not in out.stdout and "site-packages" in out.stdout


def test_version_from_any_folder(clean_env):
    out = _run([clean_env["bin"] / "scalefit", "--version"], clean_env["cwd"], clean_env["env"])
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"scalefit {_version()}"


def test_examples_are_in_the_wheel(clean_env):
    code = ("from scalefit import examples; import pandas as pd; "
            "print(sum(len(pd.read_csv(examples.path(n))) for n in examples.NAMES))")
    out = _run([clean_env["py"], "-c", code], clean_env["cwd"], clean_env["env"])
    assert out.returncode == 0, out.stderr
    expected = sum(len(_read(n)) for n in ("chinchilla_synthetic.csv", "power_law_synthetic.csv",
                                             "bon_synthetic_counts.csv"))
    assert int(out.stdout) == expected


def test_demo_from_any_folder(clean_env):
    out = _run([clean_env["bin"] / "scalefit", "demo"], clean_env["cwd"], clean_env["env"])
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    pdf = clean_env["cwd"] / "reports" / "demo.pdf"
    assert pdf.is_file() and pdf.read_bytes()[:5] == b"%PDF-"
    assert out.stdout.count("demo.pdf") == 1, out.stdout  # said once, not twice


def _version() -> str:
    import scalefit

    return scalefit.__version__


def _read(name):
    import pandas as pd

    return pd.read_csv(REPO / "scalefit" / "examples" / name)
