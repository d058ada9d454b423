"""`scalefit bon predict DATA --groups G --pool on --method bayes`: the pooled model's posterior
from the command line (scalefit.sampling.cli, scalefit.bayes.pooled).

Wiring only: one tiny, deliberately short run (1 chain, 40 + 40 iterations; its diagnostics
fail, which exercises the warning path), the saved file read back by load_posterior, and the
refusals.  The sampler's correctness is tested in test_bayes_pooled.py (§4.5 diagnostics).
"""

from __future__ import annotations

import contextlib
import io

import jax
import numpy as np
import pandas as pd
import pytest

import scalefit
from scalefit.bayes import PooledPosterior, load_posterior
from scalefit.cli import main

scalefit.enable_x64()
# start JAX's CPU backend now: main() would otherwise split it into one device per chain for the
# rest of this test process (it does so only before the backend exists)
jax.devices()

N_LIST = [100, 1000]
# 1 chain x (40 warm-up + 40 draws): the cheapest run that still adapts a step size; logit-normal
# residuals only (--candidates) and no bootstrap of the family choice (--select-bootstrap 0)
ARGS = ["--groups", "model", "--pool", "on", "--method", "bayes", "--chains", "1", "--warmup", "40", "--draws",
        "40", "--candidates", "logit_normal", "--select-bootstrap", "0", "--N", ",".join(map(str, N_LIST)),
        "--target", "continued", "--seed", "3"]


def _run(argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def counts_csv(tmp_path_factory):
    """2 models x 40 shared problems x 20 attempts, logit p = mu_model + u_problem + noise."""
    rng = np.random.default_rng(5)
    u = rng.normal(size=40)
    rows = []
    for model, mu in (("m1", -2.0), ("m2", -0.8)):
        k = rng.binomial(20, 1.0 / (1.0 + np.exp(-(mu + u + rng.normal(size=40)))))
        rows += [{"model": model, "problem_idx": i, "n_samples": 20, "n_correct": int(c)} for i, c in enumerate(k)]
    path = tmp_path_factory.mktemp("pooled_cli") / "counts.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def cli_run(counts_csv):
    path = counts_csv.parent / "posterior.json"
    code, out, err = _run(["bon", "predict", counts_csv, *ARGS, "-o", path])
    return code, out, err, path


def _printed_forecasts(out: str) -> pd.DataFrame:
    """The pass@N table as printed (the lines after its header)."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.split()[:3] == ["group", "N", "mean"])
    rows = []
    for line in lines[start + 1:]:
        parts = line.split()
        if len(parts) != 8 or parts[0] not in ("m1", "m2"):
            break
        rows.append([parts[0]] + [float(p) for p in parts[1:]])
    return pd.DataFrame(rows, columns=lines[start].split())


def test_prints_posterior_sharing_diagnostics_and_forecasts(cli_run):
    code, out, err, _ = cli_run
    assert code == 0, err
    assert "1 chain(s) x (40 warm-up + 40 draws)" in out
    for group in ("m1", "m2"):
        for q in ("param_1", "param_2", "log_s", "shared_share"):
            assert f"{q}[{group}]" in out
    assert "shared share of the item variance:" in out
    assert "diagnostics (1 chains x 40 draws):" in out and "] divergences" in out  # PASS or FAIL: 40 draws decide nothing
    # one chain has no R-hat, so the verdict fails, and the command says so on stderr
    assert "[FAIL] R-hat" in out and "NOT CONVERGED" in out
    assert "warning: the posterior failed its diagnostics" in err
    tab = _printed_forecasts(out)
    assert list(tab["group"]) == ["m1", "m1", "m2", "m2"] and list(tab["N"]) == N_LIST * 2
    # credible intervals hold their medians; more attempts never lower a continued rate
    assert np.all((tab["lower"] <= tab["estimate"]) & (tab["estimate"] <= tab["upper"]))
    assert np.all(tab.groupby("group")["estimate"].diff().dropna() >= 0)


def test_saved_posterior_is_the_printed_one(cli_run):
    code, out, _, path = cli_run
    assert code == 0 and f"wrote {path}" in out
    post = load_posterior(path)
    assert isinstance(post, PooledPosterior) and post.groups == ("m1", "m2")
    assert post.num_draws == 40 and post.settings["num_chains"] == 1 and post.settings["num_warmup"] == 40
    assert "--method bayes" in post.metadata["command"] and post.metadata["source"].endswith("counts.csv")
    assert post.families == ("logit_normal", "logit_normal")
    # the file's forecasts (same seed for the realised draws) are the printed ones, up to the
    # 4 decimals printed (half a unit of the last digit, plus float slack)
    again = post.predict(N_LIST, target="continued", levels=(0.9,), seed=3)
    printed = _printed_forecasts(out)
    for col in ("mean", "estimate", "lower", "upper", "realised_lower", "realised_upper"):
        np.testing.assert_allclose(printed[col], again[col], rtol=0, atol=5.1e-5, err_msg=col)


def test_existing_output_is_refused_before_sampling(cli_run, counts_csv):
    _, _, _, path = cli_run
    before = path.read_bytes()
    code, out, err = _run(["bon", "predict", counts_csv, *ARGS, "-o", path])
    assert code == 2 and out == ""
    assert err.strip() == (f"scalefit: error: `-o` = '{path}' already exists; refusing to overwrite it "
                           "(use --force / overwrite=True)")
    assert path.read_bytes() == before


@pytest.mark.parametrize("extra, needle", [
    (["--pool", "off"], "`--method` = bayes needs --pool on (got --pool off)"),
    (["--pool", "auto"], "`--method` = bayes needs --pool on (got --pool auto)"),
    (["--bootstrap", "50"], "`--bootstrap` = 50 is for point forecasts"),
    (["--tails", "choice"], "argument --tails: 'choice' applies to per-group fits"),
    (["--model", "beta"], "drop `--model` = beta"),
    (["--draws", "0"], "argument --draws: got '0'"),
    (["--warmup", "2.5"], "argument --warmup: got '2.5'"),
    (["--chains", "-1"], "argument --chains: got '-1'"),
    (["--target-accept", "1.5"], "argument --target-accept: got '1.5'"),
    (["--seed", "0.5"], "argument --seed: got '0.5'"),
    (["--method", "mcmc"], "argument --method: invalid choice: 'mcmc'"),
])
def test_bad_arguments_are_one_line_errors(counts_csv, extra, needle):
    code, out, err = _run(["bon", "predict", counts_csv, *ARGS, *extra])  # a later flag wins over ARGS'
    lines = err.strip().splitlines()
    assert code == 2 and out == "" and len(lines) == 1, err
    assert lines[0].startswith("scalefit") and needle in lines[0], lines[0]


def test_needs_data_not_a_saved_fit(tmp_path):
    code, _, err = _run(["bon", "predict", "--fit", tmp_path / "fit.json", *ARGS])
    assert code == 2 and "`--pool` needs DATA" in err and len(err.strip().splitlines()) == 1
