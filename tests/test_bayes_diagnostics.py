"""Diagnostics that gate a posterior fit (METHODS.md §4.5), on synthetic draws with known defects."""

from __future__ import annotations

import numpy as np
import pytest

from scalefit.bayes import Diagnostics, Thresholds, compute_diagnostics
from scalefit.bayes._idata import build_idata


def _idata(shift=0.0, diverging=0, random_walk_energy=False, saturate=0.0, chains=4, draws=1000, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((chains, draws))
    x[0] += shift
    energy = rng.standard_normal((chains, draws))
    if random_walk_energy:
        energy = np.cumsum(0.05 * rng.standard_normal((chains, draws)), axis=1)
    div = np.zeros((chains, draws), bool)
    div.ravel()[:diverging] = True
    sat = rng.random((chains, draws)) < saturate
    stats = {"diverging": div, "energy": energy, "reached_max_treedepth": sat,
             "n_steps": np.where(sat, 1023, 7)}
    return build_idata({"alpha": x, "beta": rng.standard_normal((chains, draws))}, stats)


def test_healthy_draws_pass_every_check():
    d = compute_diagnostics(_idata(), ["alpha", "beta"])
    assert d.passed, d.summary()
    assert [c[0] for c in d.checks] == ["R-hat", "ESS", "divergences", "E-BFMI", "tree depth"]
    assert d.table.loc["alpha", "r_hat"] < 1.01 and d.table.loc["alpha", "ess_bulk"] > 2000
    assert d.status.startswith("diagnostics passed")
    assert "[PASS] R-hat" in d.summary()


def test_disagreeing_chains_fail_rhat_with_remedy():
    d = compute_diagnostics(_idata(shift=1.0), ["alpha", "beta"])
    assert not d.passed
    assert d.status.startswith("DIAGNOSTICS FAILED") and "exceeded for alpha" in d.status
    assert any("--warmup" in r for r in d.remedies)
    assert "[FAIL] R-hat" in d.summary() and "remedy:" in d.summary()


def test_divergences_low_bfmi_and_tree_depth_fail():
    d = compute_diagnostics(_idata(diverging=3), ["alpha"])
    assert [c[0] for c in d.checks if not c[1]] == ["divergences"]
    assert d.divergences == 3 and any("target_accept" in r for r in d.remedies)
    d = compute_diagnostics(_idata(random_walk_energy=True), ["alpha"])
    assert "E-BFMI" in [c[0] for c in d.checks if not c[1]] and min(d.bfmi) < 0.3
    d = compute_diagnostics(_idata(saturate=0.5), ["alpha"])
    assert "tree depth" in [c[0] for c in d.checks if not c[1]]


def test_few_draws_fail_ess_and_thresholds_are_configurable():
    d = compute_diagnostics(_idata(draws=60), ["alpha"])
    assert "ESS" in [c[0] for c in d.checks if not c[1]]
    d = compute_diagnostics(_idata(draws=60), ["alpha"], thresholds=Thresholds(ess_min=50))
    assert d.passed


def test_diagnostics_json_round_trip():
    d = compute_diagnostics(_idata(shift=1.0, diverging=2), ["alpha", "beta"])
    e = Diagnostics.from_dict(d.to_dict())
    assert e.passed == d.passed and e.checks == d.checks and e.divergences == 2
    np.testing.assert_allclose(e.table.to_numpy(), d.table.to_numpy())


@pytest.mark.parametrize("S, k", [(100, 0.5), (500, 1 - 1 / np.log10(500)), (1000, 2 / 3), (4000, 0.7)])
def test_pareto_k_threshold_is_sample_size_dependent(S, k):
    from scalefit.bayes import pareto_k_threshold

    assert pareto_k_threshold(S) == pytest.approx(k)
