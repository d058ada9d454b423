"""A new mixing family is one spec plus one registry call (scalefit.sampling.families).

The toy family is the Beta in its mean / concentration parametrisation, written from scratch
in a few lines as a user would (closed-form log-kernel, no derivatives: the engine falls back to
automatic differentiation).  Being a reparametrisation of the built-in ``beta`` family, its
maximum likelihood must reproduce that family's fit exactly (invariance of the MLE), which is the
cross-check of everything the engine does with a spec it has never seen (T2.4-style MLE).
"""

from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import scalefit
from scalefit.bayes import HierarchicalMixingPosterior, MixingPosterior, Thresholds, fit_hierarchical_mixing, \
    fit_mixing_bayes
from scalefit.sampling import (available_families, fit_bon, fit_mixing, item_data, register_family,
                               unregister_family)

scalefit.enable_x64()


# The toy family is the code block of docs/best_of_n.md "Adding a mixing family", run as is (so
# the documentation stays true); its registry call is left to the fixture.
DOC = Path(__file__).resolve().parents[1] / "docs" / "best_of_n.md"


def _doc_block() -> str:
    text = DOC.read_text()
    section = text[text.index("### Adding a mixing family"):]
    return section[section.index("```python\n") + len("```python\n"):section.index("```\n", section.index("```python"))]


_NS: dict = {}
exec(_doc_block().replace("register_family(BETA_MC)\n", ""), _NS)  # noqa: S102 - our own docs
BETA_MC = _NS["BETA_MC"]
mean_concentration_kernel = _NS["mean_concentration_kernel"]

M_TRUE, C_TRUE, N_ATT, ITEMS = 0.2, 3.0, 40, 300


@pytest.fixture
def toy():
    register_family(BETA_MC)
    yield BETA_MC
    unregister_family("beta_mc")


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(12)
    p = rng.beta(M_TRUE * C_TRUE, (1 - M_TRUE) * C_TRUE, size=ITEMS)
    return item_data(N_ATT, rng.binomial(N_ATT, p))


def test_docs_block_registers_the_family():
    assert "register_family(BETA_MC)\n" in _doc_block()  # the line the fixture runs
    ns: dict = {}
    exec(_doc_block(), ns)  # noqa: S102 - our own docs
    try:
        assert "beta_mc" in available_families()
    finally:
        unregister_family("beta_mc")


def test_registry_lists_and_removes_the_toy(toy):
    assert "beta_mc" in available_families()
    assert "beta_mc" in scalefit.sampling.MIXING_MODELS  # the compatibility name follows the registry
    with pytest.raises(scalefit.errors.ArgumentError, match="already registered"):
        register_family(BETA_MC)


def test_toy_is_not_visible_outside_its_fixture():
    assert "beta_mc" not in available_families()
    with pytest.raises(scalefit.errors.ArgumentError, match="beta_mc"):
        fit_mixing(20, [0, 1, 2], model="beta_mc")


def test_mle_recovers_and_equals_the_builtin_beta(toy, data):
    fit = fit_mixing(data, model="beta_mc", prior=False)
    assert fit.converged, fit.message
    # Invariance of the MLE: the same model as `beta`, so a = m c and b = (1 - m) c and the same
    # maximised log-likelihood.  Both fits stop at a mean-gradient norm below 1e-9 with a curvature
    # of order 0.1-1 per item, so the optima agree to ~1e-8 relative; 1e-6 leaves room for that.
    ref = fit_mixing(data, model="beta", prior=False)
    m, c = fit.params["m"], fit.params["c"]
    assert m * c == pytest.approx(ref.params["a"], rel=1e-6)
    assert (1 - m) * c == pytest.approx(ref.params["b"], rel=1e-6)
    assert fit.loglik == pytest.approx(ref.loglik, rel=1e-9)
    # Recovery: within 4 standard errors (observed information of the toy's own likelihood) of
    # the truth; 4 SE fails with probability < 1e-4 per parameter if the fit were right.
    rows_n, rows_k = jnp.asarray(data.n, float), jnp.asarray(data.k, float)
    hess = jax.hessian(lambda t: jnp.sum(mean_concentration_kernel(t, rows_n, rows_k)))(jnp.asarray(fit.theta))
    se = np.sqrt(np.diag(np.linalg.inv(-np.asarray(hess))))
    truth = np.array([np.log(M_TRUE / (1 - M_TRUE)), np.log(C_TRUE)])
    assert np.all(np.abs(fit.theta - truth) < 4 * se), (fit.theta, truth, se)


def test_forecast_and_internal_backtest(toy, data):
    bon = fit_bon(data, candidates=("beta", "beta_mc"), repeats=1, select_bootstrap=0, seed=3)
    assert set(bon.scores["model"]) == {"beta", "beta_mc"}
    row = bon.scores.set_index("model").loc["beta_mc"]
    assert row["converged"]
    # the internal backtest scored the toy; it is the same model as the reference up to the weak
    # priors, which move 300 items' fits by a fraction of an SE: the SE of a predicted rate over
    # 300 items is at most sqrt(0.25 / 300) = 0.029, so the two errors differ by well under 0.01
    assert np.isfinite(row["internal_error"]) and row["internal_error"] >= 0
    assert abs(row["gain_vs_reference"]) < 0.01
    # public forecast path at 10x the observed budget
    fixed = fit_bon(data, model="beta_mc")
    got = fixed.predict(10 * N_ATT, num_bootstrap=0)["estimate"].iloc[0]
    assert got == pytest.approx(fixed.fit.predict_values(data, 10 * N_ATT), rel=1e-12)
    # same model as `beta`: without priors the two forecasts agree to the fits' precision (1e-6)
    mle_toy = fit_mixing(data, model="beta_mc", prior=False).predict_values(data, 10 * N_ATT)
    mle_beta = fit_mixing(data, model="beta", prior=False).predict_values(data, 10 * N_ATT)
    assert mle_toy == pytest.approx(mle_beta, rel=1e-6)
    assert got > np.mean(data.k > 0)  # more attempts solve more items


def test_posterior_from_the_same_spec(toy, data, tmp_path):
    post = fit_mixing_bayes(data, model="beta_mc", num_warmup=300, num_samples=300, num_chains=2, seed=1,
                            progress=False, thresholds=Thresholds(rhat_max=1.05, ess_min=100.0))
    # 600 draws: R-hat below 1.05 and 100 effective draws are what a short run of a 2-parameter,
    # well-identified posterior must reach; no divergences
    assert post.converged, post.status
    # the mode of this posterior is the prior=True point fit; with 300 items the posterior is
    # close to normal, so its median lies within a fraction of a posterior SD of the mode
    # (skewness O(1/sqrt(items)) ~ 0.1 SD plus Monte-Carlo error ~ SD / sqrt(ESS) < 0.1 SD)
    mode = fit_mixing(data, model="beta_mc").theta
    th = post.draws("theta")
    assert np.all(np.abs(np.median(th, axis=0) - mode) < 0.3 * th.std(axis=0))
    tab = post.predict([N_ATT, 10 * N_ATT])
    assert np.all(tab["q05"] <= tab["median"]) and np.all(tab["median"] <= tab["q95"])
    # the result protocol's columns name the same summary: estimate = median, interval = 90% ends
    np.testing.assert_array_equal(tab["estimate"], tab["median"])
    np.testing.assert_array_equal(tab[["lower", "upper"]].to_numpy(), tab[["q05", "q95"]].to_numpy())
    back = MixingPosterior.from_json(post.to_json())
    np.testing.assert_array_equal(back.draws("m"), post.draws("m"))  # JSON keeps draws exactly
    # a saved file is read by the one loader of posterior files, which picks the class by format
    post.to_json(tmp_path / "mixing.json")
    loaded = scalefit.bayes.load_posterior(tmp_path / "mixing.json")
    assert type(loaded) is MixingPosterior
    np.testing.assert_array_equal(loaded.draws("theta"), post.draws("theta"))


def test_hierarchical_posterior_from_the_same_spec(toy, tmp_path):
    rng = np.random.default_rng(5)
    groups = {name: item_data(N_ATT, rng.binomial(N_ATT, rng.beta(m * C_TRUE, (1 - m) * C_TRUE, size=100)))
              for name, m in (("hard", 0.1), ("easy", 0.4))}
    post = fit_hierarchical_mixing(groups, model="beta_mc", num_warmup=150, num_samples=150, num_chains=2, seed=2,
                                   progress=False)
    m = post.draws("m")  # (draws, groups)
    assert m.shape == (post.num_draws, 2)
    # the group means differ by 0.3 while each is known to ~0.02 (100 items x 40 attempts): every
    # draw must order them, whatever the shrinkage towards the population mean
    assert np.mean(m[:, 0] < m[:, 1]) > 0.99
    pred = post.predict(N_ATT).set_index("group")["median"]
    assert pred["hard"] < pred["easy"]
    back = HierarchicalMixingPosterior.from_json(post.to_json())
    assert back.groups == ("hard", "easy")
    np.testing.assert_array_equal(back.draws("theta"), post.draws("theta"))
    post.to_json(tmp_path / "hier.json")
    loaded = scalefit.bayes.load_posterior(tmp_path / "hier.json")
    assert type(loaded) is HierarchicalMixingPosterior and loaded.groups == ("hard", "easy")
