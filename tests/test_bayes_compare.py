"""Model comparison for extrapolation (PSIS-LOO and leave-future-out) and the Bayesian CLI pieces
(`scalefit fit --method bayes` via :func:`scalefit.bayes.cli.run_bayes_fit`, `scalefit compare`).

All fits here share one small synthetic data set and one sampler configuration, so the compiled
NUTS programs are reused across tests (2 chains x 400 + 1000, sequential chains)."""

from __future__ import annotations

import argparse
import json
import math

import numpy as np
import pandas as pd
import pytest

import scalefit
from scalefit.bayes import PosteriorFit, Prior, compare_laws
from scalefit.bayes.cli import add_commands, add_fit_arguments, parse_prior, run_bayes_fit
from scalefit.bayes.compare import split_future
from scalefit._cliargs import OneLineParser, UsageError
from scalefit.errors import ArgumentError

scalefit.enable_x64()

SAMPLER = dict(num_warmup=400, num_samples=1000, num_chains=2, chain_method="sequential")


@pytest.fixture(scope="module")
def curve():
    """A loss curve that bends towards a floor: L = 1.8 + 40 x^-0.3, 0.2% noise, 4 decades."""
    rng = np.random.default_rng(7)
    x = np.geomspace(1e6, 1e10, 20)
    y = (1.8 + 40 * x**-0.3) * np.exp(0.002 * rng.standard_normal(x.size))
    return pd.DataFrame({"x": x, "value": y})


@pytest.fixture(scope="module")
def comparison(curve):
    return compare_laws(curve, ["power_law", "power_law_no_floor"], holdout=0.25, seed=0, **SAMPLER)


def test_split_future_holds_out_the_largest_scales():
    s = np.array([5.0, 1.0, 3.0, 4.0, 2.0, 5.0])
    assert list(split_future(s, 0.2, 2)) == [True, False, False, False, False, True]  # ties held out together
    with pytest.raises(ArgumentError, match="leaves fewer than 5"):
        split_future(s, 0.5, 5)
    with pytest.raises(ArgumentError, match="`holdout` = 1.5"):
        split_future(s, 1.5, 2)


def test_compare_recommends_the_law_that_extrapolates(comparison):
    t = comparison.table.set_index("law")
    assert list(t.index) == ["power_law", "power_law_no_floor"]
    lfo = comparison.lfo["power_law"]
    assert (lfo.n_train, lfo.n_test) == (15, 5) and lfo.max_factor == pytest.approx(10 ** (20 / 19))
    # the floorless law keeps falling and misses the held-out points; the floor law does not
    assert t.loc["power_law", "elpd_lfo"] > t.loc["power_law_no_floor", "elpd_lfo"]
    assert t.loc["power_law", "are_lfo"] < t.loc["power_law_no_floor", "are_lfo"]
    assert t.loc["power_law", "cov90_lfo"] >= 0.6 > t.loc["power_law_no_floor", "cov90_lfo"]
    assert comparison.recommended == "power_law"
    assert t["loo_weight"].sum() == pytest.approx(1.0)
    assert np.isfinite(t["elpd_loo"]).all()
    text = comparison.summary()
    assert "leave-future-out" in text and "recommendation: power_law" in text and "PSIS-LOO" in text


def _fit_args(tmp_path, **over):
    p = OneLineParser()
    p.add_argument("data")
    p.add_argument("--law", default="chinchilla")
    p.add_argument("--x")
    p.add_argument("--input")
    p.add_argument("--target", default="value")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("-o", "--output")
    p.add_argument("--force", action="store_true")
    p.add_argument("--strict", action="store_true")
    add_fit_arguments(p)
    argv = [str(tmp_path / "curve.csv"), "--law", "power_law", "--method", "bayes", "--warmup", "400", "--draws", "1000",
            "--chains", "2", "--chain-method", "sequential"]
    for k, v in over.items():
        argv += [f"--{k.replace('_', '-')}"] + ([] if v is True else [str(v)])
    return p.parse_args(argv)


def test_cli_bayes_fit_prints_table_diagnostics_bands_and_saves(curve, tmp_path, capsys, comparison):
    curve.to_csv(tmp_path / "curve.csv", index=False)
    out = tmp_path / "post.json"
    args = _fit_args(tmp_path, output=out)
    assert args.method == "bayes"
    assert run_bayes_fit(curve, args) == 0
    text = capsys.readouterr().out
    for needle in ("Bayesian, NUTS", "median", "q05", "q95", "90% central credible intervals", "[PASS] R-hat",
                   "[PASS] divergences", "posterior predictive bands", "10x", "beyond 10x", f"wrote {out}"):
        assert needle in text, needle
    post = PosteriorFit.from_json(out)
    assert post.settings["num_chains"] == 2 and post.converged
    assert json.loads(out.read_text())["format"] == "scalefit.PosteriorFit"
    with pytest.raises(ArgumentError, match="already exists; refusing to overwrite"):
        run_bayes_fit(curve, args)
    assert run_bayes_fit(curve, _fit_args(tmp_path, output=out, force=True)) == 0


def test_cli_reports_failed_diagnostics_with_remedies(curve, tmp_path, capsys):
    args = _fit_args(tmp_path, warmup=20, draws=20, strict=True)
    code = run_bayes_fit(curve, args)
    captured = capsys.readouterr()
    assert "[FAIL] ESS" in captured.out and "remedy: too few effective draws" in captured.out
    assert "NOT CONVERGED: DIAGNOSTICS FAILED" in captured.out
    assert "failed its diagnostics" in captured.err
    assert code == 3


def test_cli_prior_option_and_errors(curve, tmp_path):
    name, p = parse_prior("alpha=lognormal(-1.2,0.5)")
    assert name == "alpha" and p == Prior.lognormal(-1.2, 0.5)
    assert parse_prior("e=floor(3,2)")[1] == Prior.floor_fraction(3, 2)
    assert parse_prior("alpha=loguniform(-7,2)")[1] == Prior.uniform(-7, 2, transform="exp")
    with pytest.raises(ArgumentError, match="expects NAME=DIST"):
        parse_prior("alpha~normal(0,1)")
    with pytest.raises(ArgumentError, match="unknown distribution 'cauchy'"):
        parse_prior("alpha=cauchy(0,1)")
    with pytest.raises(UsageError, match=r"argument --extrapolate: got '-10' in '1,-10'; expected .* > 0"):
        _fit_args(tmp_path, extrapolate="1,-10")  # rejected while parsing, before any fit


def test_cli_compare_command(curve, tmp_path, capsys, comparison):
    path = tmp_path / "curve.csv"
    curve.to_csv(path, index=False)
    root = OneLineParser(prog="scalefit")
    sub = root.add_subparsers(dest="command", parser_class=OneLineParser)
    add_commands(sub)
    args = root.parse_args(["compare", str(path), "--laws", "power_law,power_law_no_floor", "--x", "x",
                            "--holdout", "0.25", "--warmup", "400", "--draws", "1000", "--chains", "2",
                            "--chain-method", "sequential"])
    assert args.func(args) == 0
    text = capsys.readouterr().out
    assert "elpd_loo" in text and "elpd_lfo" in text and "recommendation: power_law" in text
    bad = root.parse_args(["compare", str(path), "--laws", "power_law,nope"])
    with pytest.raises(ArgumentError, match=r"unknown law\(s\) \['nope'\]"):
        bad.func(bad)
    missing = root.parse_args(["compare", str(tmp_path / "absent.csv"), "--laws", "power_law"])
    with pytest.raises(ArgumentError, match="does not exist"):
        missing.func(missing)
    assert math.isfinite(comparison.table["elpd_lfo"].iloc[0])


def test_run_effects_for_checkpoint_data():
    """Checkpoint data (several rows per run) get run random effects automatically (METHODS §4.1):
    τ_run is recovered and a new run's band is wider than the mean-curve band."""
    rng = np.random.default_rng(3)
    runs, steps = 8, 6
    u = rng.normal(0.0, 0.02, runs)
    rows = []
    for r in range(runs):
        for D in np.geomspace(1e8, 1e11, steps) * (1 + r / 10):
            L = (1.7 + 300 * D**-0.28) * np.exp(u[r] + 0.002 * rng.standard_normal())
            rows.append({"run": f"run{r}", "D": D, "value": L})
    df = pd.DataFrame(rows)
    # the floor is held at its true value and the noise is Gaussian: this test is about the run effects
    post = scalefit.bayes.fit_bayes(df, "power_law", inputs={"x": "D"}, seed=1, fixed={"e": math.log(1.7)},
                                    likelihood="normal",
                                    priors={"tau_run": Prior.halfnormal(0.05)}, **SAMPLER)
    assert post.run_effects and len(post.run_labels) == runs
    assert post.runs_centered  # six checkpoints per run: centred effects (the data pin each one down)
    assert post.idata.posterior["u_run"].shape[-1] == runs
    lo, hi = np.quantile(post.draws("tau_run"), [0.05, 0.95])
    assert lo < np.std(u, ddof=1) < hi and lo > 0.005
    band = post.predict(D=[1e12])
    assert (band["obs_q95"] - band["obs_q05"]).iloc[0] > 1.5 * (band["q95"] - band["q05"]).iloc[0]
    assert post.converged, post.status
    back = PosteriorFit.from_json(post.to_json())
    np.testing.assert_allclose(back.idata.log_likelihood["y"].values, post.idata.log_likelihood["y"].values)


def test_options_fit_into_the_main_cli_parser():
    """`scalefit`'s own parser carries the Bayesian `fit` options and the `compare` command."""
    from scalefit.cli import build_parser

    root = build_parser()
    sub = next(a for a in root._actions if isinstance(a, argparse._SubParsersAction))
    assert "compare" in sub.choices
    args = root.parse_args(["fit", "data.csv", "--law", "chinchilla", "--method", "bayes", "--draws", "200",
                            "--chains", "2", "--prior", "alpha=lognormal(-1.2,0.5)", "-o", "out.json"])
    assert (args.method, args.draws, args.warmup, args.chains, args.prior) == \
        ("bayes", 200, 1000, 2, ["alpha=lognormal(-1.2,0.5)"])
    args = root.parse_args(["compare", "data.csv", "--laws", "chinchilla,overtraining"])
    assert args.laws == "chinchilla,overtraining" and args.holdout == 0.2
