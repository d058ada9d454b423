"""The installed `scalefit` command (subprocess), including the Epoch Chinchilla file (T1.4a)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

EXE = shutil.which("scalefit", path=str(Path(sys.executable).parent)) or shutil.which("scalefit")


def run(*args, cwd=None, cache=None):
    env = dict(os.environ)
    if cache is not None:
        env["SCALEFIT_CACHE_DIR"] = str(cache)
    return subprocess.run([EXE, *map(str, args)], capture_output=True, text=True, cwd=cwd, env=env, timeout=600)


pytestmark = pytest.mark.skipif(EXE is None, reason="the `scalefit` console script is not installed")


@pytest.mark.shared_data
def test_cli_fit_epoch_chinchilla_reproduces_T1_4a(shared_data, tmp_path):
    out = tmp_path / "fit.json"
    r = run("fit", shared_data / "chinchilla_epoch" / "svg_extracted_data.csv", "--law", "chinchilla",
            "--drop-largest", "5", "-o", out, cache=tmp_path / "cache")
    assert r.returncode == 0, r.stderr
    assert "converged:" in r.stdout and "NOT CONVERGED" not in r.stdout
    d = json.loads(out.read_text())
    assert d["converged"] is True
    assert d["metadata"]["n_points"] == 240
    assert d["params"]["alpha"] == pytest.approx(0.347311, abs=0.002)
    assert d["params"]["beta"] == pytest.approx(0.367172, abs=0.002)
    assert d["natural_params"]["E"] == pytest.approx(1.81722, abs=0.002)

    r = run("predict", out, "--at", "N=7e10,D=1.4e12")
    assert r.returncode == 0, r.stderr
    assert "1.973" in r.stdout  # L(70B, 1.4T) from the refit
    r = run("optimal", out, "--C", "1e24")
    assert r.returncode == 0 and "tokens_per_param" in r.stdout

    # never overwrite without --force
    before = out.read_text()
    r = run("fit", shared_data / "chinchilla_epoch" / "svg_extracted_data.csv", "-o", out)
    assert r.returncode == 2 and "already exists" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert out.read_text() == before


@pytest.mark.parametrize(
    "content, needle",
    [
        ("N,D,value\n1e8,1e9,3.0\n2e8,2e9,nan\n3e8,3e9,2.8\n4e8,4e9,2.7\n5e8,5e9,2.6\n6e8,6e9,2.5\n7e8,7e9,2.4\n",
         "column `value` row 2: NaN"),  # rows of a file count from 1
        ("N,value\n1e8,3.0\n2e8,2.9\n3e8,2.8\n4e8,2.7\n5e8,2.6\n6e8,2.5\n7e8,2.4\n", "`D`"),
        ("N,D,value\n1e8,1e9,3.0\n-2e8,2e9,2.9\n3e8,3e9,2.8\n4e8,4e9,2.7\n5e8,5e9,2.6\n6e8,6e9,2.5\n7e8,7e9,2.4\n",
         "column `N` row 2: -2e8 is not positive"),
    ],
    ids=["nan-loss", "missing-column", "negative-N"],
)
def test_cli_malformed_file_gives_one_line_error(tmp_path, content, needle):
    f = tmp_path / "bad.csv"
    f.write_text(content)
    r = run("fit", f, "--law", "chinchilla")
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("scalefit: error:") and needle in lines[0], lines[0]
    assert "Traceback" not in r.stderr


def test_cli_usage_errors_are_one_line(tmp_path):
    r = run("fit")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1
    r = run("fit", tmp_path / "nope.csv")
    assert r.returncode == 2 and "does not exist" in r.stderr
    r = run("fit", tmp_path / "nope.csv", "--law", "chinchila")
    assert r.returncode == 2


def test_cli_laws_lists_formulas():
    r = run("laws")
    assert r.returncode == 0
    for name in ("chinchilla", "power_law", "kaplan_nd", "bnsl", "sigmoid", "error_link", "overtraining"):
        assert name in r.stdout
    assert "E + A/N^α + B/D^β" in r.stdout
    # sources point at the repository's docs pages, never at a file users do not have
    assert "docs/laws.md#chinchilla" in r.stdout and "METHODS" not in r.stdout


def test_cli_fit_power_law_on_bundled_data(tmp_path):
    data = Path(__file__).resolve().parents[1] / "scalefit" / "examples" / "power_law_synthetic.csv"
    out = tmp_path / "p.json"
    r = run("fit", data, "--law", "power_law", "--x", "N", "-o", out)
    assert r.returncode == 0, r.stderr
    r = run("predict", out, "--at", "N=1e11")
    assert r.returncode == 0 and "extrapolation" in r.stdout
    assert "warning: extrapolating more than 10x" in r.stdout


def test_cli_bayes_fit_runs_chains_in_parallel_on_cpu(tmp_path):
    """`fit --method bayes` in a fresh process gives each chain an XLA host device (parallel
    chains), unless XLA_FLAGS already sets a device count."""
    from conftest import REPO

    args = ("fit", REPO / "scalefit" / "examples" / "power_law_synthetic.csv", "--law", "power_law", "--x", "N", "--method", "bayes",
            "--draws", "60", "--warmup", "60", "--chains", "2")
    r = run(*args, cache=tmp_path / "cache")
    assert r.returncode == 0, r.stderr
    assert "2 chains x (60 warm-up + 60 draws), chain method `parallel`" in r.stdout
    # with XLA_FLAGS naming one device the CLI's JAX set-up leaves it alone, and the chains run
    # one after another; checked on the set-up itself in a fresh process (a second sampler run
    # would only repeat the compilation above for a one-device program)
    probe = ("import argparse, jax; from scalefit.cli import _setup_jax; "
             "_setup_jax(argparse.Namespace(method='bayes', chains=2, chain_method='auto')); "
             "from scalefit.bayes._nuts import chain_method_for; "
             "print(jax.local_device_count(), chain_method_for(2))")
    for flags, expected in (("--xla_force_host_platform_device_count=1", "1 sequential"), ("", "2 parallel")):
        env = dict(os.environ, XLA_FLAGS=flags, JAX_PLATFORMS="cpu")
        p = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, timeout=300)
        assert p.returncode == 0, p.stderr
        assert p.stdout.split() == expected.split(), (flags, p.stdout)


def test_cli_fast_parser_accepts_exactly_what_the_full_parser_accepts(tmp_path):
    """The core-only parser used for point fits never accepts an abbreviation that the full
    parser finds ambiguous (`--dr`: --drop-largest or --draws), and `--hel` prints help once."""
    from conftest import REPO

    data = REPO / "scalefit" / "examples" / "power_law_synthetic.csv"
    r = run("fit", data, "--law", "power_law", "--x", "N", "--dr", "5", cache=tmp_path / "cache")
    assert r.returncode == 2 and "ambiguous option: --dr" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = run("fit", data, "--hel")
    assert r.returncode == 0 and r.stdout.count("usage:") == 1 and "--method" in r.stdout


def test_program_cache_is_keyed_only_for_scalefits_own_laws():
    """A law factory registered from outside scalefit is not covered by the program cache's
    source hash, so it gets no cache key (its edits could otherwise reuse a stale program)."""
    from scalefit.laws._base import builtin_law_key as _law_key
    from scalefit.laws import get_law, register_law
    from scalefit.laws._base import _INSTANCES, _REGISTRY

    assert _law_key(get_law("chinchilla")) == ("chinchilla", ())
    builtin = _REGISTRY["power_law"]
    register_law("test_user_power_law")(lambda: builtin())  # defined here, outside scalefit
    try:
        assert _law_key(get_law("test_user_power_law")) is None
    finally:
        _REGISTRY.pop("test_user_power_law", None)
        for key in [k for k in _INSTANCES if k[0] == "test_user_power_law"]:
            _INSTANCES.pop(key)
