"""Chained fits (N, D) -> intermediate -> target: composition, paired bootstrap with fixed
anchor rows, backtest, and the Gadre goal data when present."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import scalefit
from scalefit import fit_chain, get_law
from scalefit.errors import ArgumentError

TRUE1 = dict(a=np.log(300.0), b=np.log(900.0), e=np.log(1.8), alpha=0.32)
TRUE2 = dict(s=-0.7, log_k=np.log(4.0), L0=2.9, t=0.95)


def _ladder(seed=0, noise_loss=0.003, noise_acc=0.005):
    """4 sizes x 3 token multipliers, 5 checkpoints per run, losses from the over-training law
    and accuracies from a falling sigmoid of the loss."""
    rng = np.random.default_rng(seed)
    law1, law2 = get_law("overtraining"), get_law("sigmoid")
    rows = []
    for N in (2e7, 6e7, 2e8, 6e8):
        for m in (10, 20, 80):
            for frac in (0.2, 0.4, 0.6, 0.8, 1.0):
                D = m * N * frac
                L = law1.evaluate(TRUE1, N=N, D=D)[0] * np.exp(rng.normal(0, noise_loss))
                acc = law2.evaluate(TRUE2, L=L)[0] + rng.normal(0, noise_acc)
                rows.append(dict(run=f"N{N:.0e}-m{m}", N=N, D=D, step=frac * 1000, loss=L, acc=acc))
    return pd.DataFrame(rows)


def test_chain_prediction_is_the_composition_of_the_two_fits():
    df = _ladder()
    res = fit_chain(df, "overtraining", "sigmoid", intermediate="loss", target="acc")
    assert res.step1.converged and res.step2.converged
    # step 1 sees one row per run (its final checkpoint), step 2 every checkpoint
    assert len(res.step1.frame) == 12 and len(res.step2.frame) == 60
    N, D = np.array([2e9, 7e9]), np.array([4e10, 1.4e11])
    out = res.predict(N, D)
    mid = res.step1.law.evaluate(res.step1.params, N=N, D=D)
    want = res.step2.law.evaluate(res.step2.params, L=mid)
    # the same float64 operations in the same order: equal to rounding
    np.testing.assert_allclose(out["loss"], mid, rtol=1e-13)
    np.testing.assert_allclose(out["prediction"], want, rtol=1e-13)
    # far below the fitted losses the link is extrapolated, and the output says so
    far = res.predict(1e13, 1e15)
    assert far["extrapolation"].iloc[0].startswith("below fitted range")


def test_paired_bootstrap_keeps_anchor_in_every_replicate(monkeypatch):
    import scalefit.chain as chain

    seen = []
    real = chain.bootstrap

    def spy(fit, **kw):
        seen.append((fit, kw))
        return real(fit, **kw)

    monkeypatch.setattr(chain, "bootstrap", spy)
    df = _ladder(seed=1)
    res = fit_chain(df, "overtraining", "sigmoid", intermediate="loss", target="acc",
                    anchor={"loss": 0.0, "acc": 1.0}, n_replicates=200, seed=3)
    (f1, kw1), (f2, kw2) = seen
    W1, W2 = kw1["weights"], kw2["weights"]
    anchor = f2.frame["run"].str.startswith("__anchor").to_numpy()
    assert anchor.sum() == 1 and np.all(W2[:, anchor] == 1.0)     # fixed row in every replicate
    assert res.step2.bootstrap.fixed_rows == tuple(np.flatnonzero(anchor))
    # paired: replicate r gives each run the same count in both steps
    for run in f1.frame["run"]:
        c1 = W1[:, np.flatnonzero(f1.frame["run"].to_numpy() == run)[0]]
        rows2 = np.flatnonzero(f2.frame["run"].to_numpy() == run)
        assert np.all(W2[:, rows2] == c1[:, None])
    # whole runs are drawn: 12 runs per replicate
    assert np.all(W1.sum(axis=1) == 12)
    assert res.kept.sum() >= 190  # at most the stated 5% may be dropped (else ConvergenceError)
    out = res.predict(2e9, 4e10)
    assert out["lower"].iloc[0] <= out["prediction"].iloc[0] <= out["upper"].iloc[0]
    assert out["loss_lower"].iloc[0] < out["loss_upper"].iloc[0]


def test_backtest_and_bad_input():
    df = _ladder(seed=2, noise_loss=1e-4, noise_acc=1e-4)
    res = fit_chain(df, "overtraining", "sigmoid", intermediate="loss", target="acc", backtest=True)
    bt = res.backtest
    assert set(bt["N"]) == {6e8} and len(bt) == 3
    # nearly noise-free data from the fitted model family: the held-out rung is predicted to
    # well under 1% (noise 1e-4 in loss and accuracy, one rung of extrapolation)
    assert np.all(np.abs(bt["relative_error"]) < 0.01), bt
    with pytest.raises(ArgumentError, match="`target` column `accuracy`"):
        fit_chain(df, intermediate="loss", target="accuracy")
    with pytest.raises(ArgumentError, match="`anchor`"):
        fit_chain(df, "overtraining", "sigmoid", intermediate="loss", target="acc", anchor={"loss": 0.0})


def test_cli_chain_bad_column_is_a_one_line_error(tmp_path, capsys):
    from scalefit.cli import main

    path = tmp_path / "ladder.csv"
    _ladder().to_csv(path, index=False)
    rc = main(["chain", str(path), "--intermediate", "task_loss", "--target", "acc"])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "`--intermediate` column `task_loss`" in err and len(err.splitlines()) == 1
