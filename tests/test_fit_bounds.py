"""Convergence verdicts at parameter bounds (KKT), bootstrap drop accounting and refusal,
fixed rows in every replicate, and weighted / duplicated rows in ``fit_batch``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import scalefit
from scalefit import bootstrap, fit_batch, fit_law, get_law
from scalefit.errors import ArgumentError, ConvergenceError


def _ladder_with_anchor(seed=0, t_true=0.95):
    """Checkpoints of 5 runs mapped through a falling sigmoid, plus the anchor loss 0 -> acc 1.

    The anchor pulls the offset ``t`` past its upper bound 1: the optimum of the bounded problem
    sits on ``t = 1`` with the gradient pointing outward (a true on-bound optimum)."""
    rng = np.random.default_rng(seed)
    rows = []
    for r, N in enumerate([2e8, 4e8, 7e8, 1e9, 1.3e9]):
        for s in range(1, 11):
            L = 1.0 + 30 * (N * s * 1e8) ** -0.12 + rng.normal(0, 0.01)
            acc = -0.7 / (1 + np.exp(-3 * (L - 1.8))) + t_true + rng.normal(0, 0.01)
            rows.append(dict(run=f"r{r}", L=L, value=acc))
    rows.append(dict(run="anchor", L=0.0, value=1.0))
    return pd.DataFrame(rows)


def test_optimum_on_a_bound_is_converged_and_reported():
    df = _ladder_with_anchor()
    res = fit_law(df, "sigmoid")
    assert res.params["t"] == 1.0  # projected onto the bound exactly
    assert res.converged, res.status
    assert "on a bound for ['t']" in res.status
    # every polished start finds the same optimum (not a solver stop that depends on the start)
    assert res.n_agree >= 2


def test_stop_at_a_bound_with_a_large_projected_gradient_is_not_converged():
    # start on the lower bound of `t` with 2 iterations: the gradient there points inward
    # (the data want t near 0.95), so the optimality conditions fail
    df = _ladder_with_anchor().iloc[:-1]
    res = fit_law(df, "sigmoid", starts=np.array([[-0.7, np.log(3.0), 1.8, 0.0]]), screen_iters=1,
                  max_iter=2, n_polish=1, varpro=False)
    assert not res.converged
    assert "iteration limit" in res.status


def test_stationary_verdict_uses_the_free_subspace_decrement():
    from scalefit.fit.point import stationary

    # decrement relative to max(1, |f|): 1e-12 of f=1e3 passes, 1e-3 fails, inf (saddle) fails
    assert list(stationary(np.array([1e-9, 1.0, np.inf]), np.array([1e3, 1e3, 1e3]))) == [True, False, False]


def test_bootstrap_keeps_fixed_rows_and_reports_bounds():
    df = _ladder_with_anchor()
    fit = fit_law(df, "sigmoid")
    anchor = (df.run == "anchor").to_numpy()
    from importlib import import_module

    bmod = import_module("scalefit.fit.bootstrap")
    W = bmod.resample_weights(len(df), 300, seed=1, clusters=df.run.to_numpy(), fixed=anchor)
    assert np.all(W[:, anchor] == 1.0)
    # the other rows are resampled as whole runs: 5 runs x 10 checkpoints per replicate
    assert np.all(W[:, ~anchor].sum(axis=1) == 50)
    res = bootstrap(fit, 300, cluster="run", fixed_rows=anchor, seed=1)
    b = res.bootstrap
    assert b.fixed_rows == (len(df) - 1,)
    assert b.n_converged == 300 and not b.dropped, b.describe()
    assert b.on_bound.get("t", 0) > 0
    assert "replicates kept" in b.describe()


def test_bootstrap_refuses_when_too_many_replicates_are_dropped():
    df = _ladder_with_anchor()
    fit = fit_law(df, "sigmoid")
    # an iteration budget of 1 leaves (almost) every replicate away from its optimum
    with pytest.raises(ConvergenceError, match="replicates kept.*dropped"):
        bootstrap(fit, 50, cluster="run", max_iter=1, seed=0)
    with pytest.raises(ArgumentError, match="max_dropped"):
        bootstrap(fit, 50, max_dropped=1.5)


def _power_curves(seed=0):
    rng = np.random.default_rng(seed)
    law = get_law("power_law")
    rows = []
    for c in range(3):
        x = np.geomspace(1e6, 1e9, 9)
        y = law.evaluate(dict(a=np.log(30.0 + 10 * c), alpha=0.3, e=np.log(1.5)), x=x) * np.exp(rng.normal(0, 0.01, 9))
        rows.append(pd.DataFrame({"curve": f"c{c}", "x": x, "value": y}))
    return pd.concat(rows, ignore_index=True)


def test_fit_batch_weights_equal_duplicated_rows():
    frame = _power_curves()
    rng = np.random.default_rng(3)
    counts = rng.integers(0, 4, len(frame)).astype(float)
    counts[frame.groupby("curve").head(5).index] += 1  # keep >= 5 distinct rows per curve
    weighted = fit_batch(frame, "power_law", by="curve", weights=counts)
    dup = frame.loc[frame.index.repeat(counts.astype(int))]
    with pytest.raises(scalefit.DataValidationError, match="duplicate"):
        fit_batch(dup, "power_law", by="curve")
    duplicated = fit_batch(dup, "power_law", by="curve", allow_duplicates=True)
    assert weighted.n_converged == 3 and duplicated.n_converged == 3
    a = weighted.table.set_index("curve")
    b = duplicated.table.set_index("curve")
    for p in ("a", "alpha", "e"):
        # the two objectives are the same function of the parameters (up to summation order):
        # both optima agree to the solver's tolerance on a well-conditioned 3-parameter fit
        np.testing.assert_allclose(a[p], b[p], rtol=1e-6, atol=1e-8)
    # and a weighted single fit agrees with the batch
    one = fit_law(frame[frame.curve == "c1"], "power_law", weights=counts[frame.curve == "c1"])
    assert a.loc["c1", "alpha"] == pytest.approx(one.params["alpha"], rel=1e-6)
    with pytest.raises(ArgumentError, match="weights"):
        fit_batch(frame, "power_law", by="curve", weights=-counts)
