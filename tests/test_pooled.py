"""The pooled best-of-N model for groups that share items (scalefit.sampling.pooled).

Simulated data only (T-numbers: the pooled model is new; the independent reduction is checked
against the logit-normal family of T-tests on mixing models).
"""

import numpy as np
import pandas as pd
import pytest

import scalefit
from scalefit.errors import ArgumentError
from scalefit.sampling import fit_mixing
from scalefit.sampling.pooled import _laplace_cov, fit_groups, fit_pooled, pooled_data

scalefit.enable_x64()

MU = np.array([-2.0, -0.5, 0.5])
S = np.array([1.5, 1.0, 2.0])
SIG = np.array([0.5, 0.8, 0.4])


# every test uses 3 groups x 120 items and (but for the reduction test) the logit-normal
# residual: one set of compiled shapes for the whole file
I_ITEMS = 120


def _simulate(rng, I, n, mu=MU, s=S, sig=SIG):
    u = rng.normal(size=I)
    eta = mu[:, None] + s[:, None] * u[None, :] + sig[:, None] * rng.normal(size=(len(mu), I))
    p = 1.0 / (1.0 + np.exp(-eta))
    return u, rng.binomial(n, p)


MISSING = 10  # group 0 never attempted the first 10 items


@pytest.fixture(scope="module")
def fit30():
    """One pooled fit shared by the tests below (a fit and its compiled programs are the slow
    part): 30 attempts per item, items missing from group 0.  Returns (u, n, k, fit)."""
    rng = np.random.default_rng(7)
    u, k = _simulate(rng, I_ITEMS, 30)
    n = np.full(k.shape, 30)
    n[0, :MISSING] = 0
    k[0, :MISSING] = 0
    fit = fit_pooled(pooled_data(n, k))
    return u, n, k, fit


def test_recovers_group_and_item_effects(fit30):
    u, _, _, fit = fit30
    assert fit.converged, fit.message
    # standard errors from the observed information (inverse Hessian of the penalised nll)
    se = np.sqrt(np.diag(_laplace_cov(fit))).reshape(3, 3)
    truth = np.stack([MU, np.log(SIG), np.log(S)], axis=1)  # (mu, log sigma, log s) per group
    # 4 SE: a two-sided normal tail of 6e-5 per parameter (9 parameters), so a correct fit fails
    # with probability < 1e-3 while a bias of a few SE is caught (items missing from a group
    # only widen that group's SEs; the z-scores stay standard normal)
    z = (fit.theta - truth) / se
    assert np.all(np.abs(z) < 4.0), z
    # item effects: posterior means standardised by posterior SDs have mean square ~ 1 (the
    # posterior is calibrated when the model is right); chi^2_120 / 120 lies in [0.66, 1.42] with
    # probability > 0.999 -- widened to [0.55, 1.6] for the plug-in of fitted group parameters
    eff = fit.item_effects()
    ms = np.mean(((eff["mean"] - u) / eff["sd"]) ** 2)
    assert 0.55 < ms < 1.6, ms


@pytest.mark.parametrize("family", ["logit_normal", "kumaraswamy"])
def test_reduces_to_independent_fits(family):
    """With the shared effect switched off the pooled model is G independent fits of the residual
    family: same grid kernels, same masses, same priors, so the optimum agrees with fit_mixing to
    the solvers' gradient tolerance (1e-9 on the mean nll; parameters to ~1e-6 given curvature O(1))."""
    rng = np.random.default_rng(3)
    _, k = _simulate(rng, I_ITEMS, 30)
    data = pooled_data(np.full(k.shape, 30), k)
    fit = fit_pooled(data, shared=False, families=(family,) * 3)
    assert fit.converged
    for g in range(3):
        ref = fit_mixing(30, k[g], model=family)
        np.testing.assert_allclose(fit.theta[g], ref.theta, atol=1e-5)
        for N in (100, 1000):
            mine = fit.rates(N)[g]
            theirs = float(np.mean(ref.predict_values(scalefit.sampling.item_data(30, k[g]), N)))
            # same kernels and parameters equal to ~1e-6: rates agree far below 1e-5
            np.testing.assert_allclose(mine, theirs, atol=1e-5)


def test_missing_items_and_bad_input(fit30):
    _, n, k, fit = fit30
    assert fit.converged
    p = fit.probabilities(1000, "continued")
    assert np.all(np.isnan(p[0, :MISSING])) and np.all(np.isfinite(p[0, MISSING:]))
    assert np.all(np.isfinite(p[1:]))
    fresh = fit.probabilities(1000)  # fresh forecasts exist for every item, from the shared effect
    assert np.all(np.isfinite(fresh))
    with pytest.raises(ArgumentError, match="exceeds"):
        pooled_data(n, n + 1)
    with pytest.raises(ArgumentError, match="at least 2 groups"):
        pooled_data(n[:1], k[:1])
    with pytest.raises(ArgumentError, match="pool"):
        fit_groups(pooled_data(n, k), pool="maybe")


def _per_budget_reference(fit, thetas, N, target):
    """The forecast chances by the route the one-pass forecast replaced: for each budget its own
    kernel pass over every parameter set, the item posterior ratio formed in numpy."""
    from scalefit.sampling import pooled as P

    data = fit.data
    base = P._log_kernels(thetas, P._tables(data.n, data.k), fit.codes, True)  # (T, G, I, Q)
    ext = P._log_kernels(thetas, P._tables(data.n, data.k, P._extra_failures(data, N, target)), fit.codes, True)
    A = P._LOG_WU[None, None, :] + base.sum(axis=1)
    lz = P._lse(A, axis=2)
    lf = P._lse(A[:, None] - base + ext, axis=3)
    return P._finish_prob(-np.expm1(np.minimum(lf - lz[:, None, :], 0.0)), data, N, target)


def test_one_pass_forecast_matches_per_budget_passes(fit30):
    """All replicates and budgets in one compiled pass give the numbers of one kernel pass per
    budget (the previous path): the same products and log-sum-exps in another order, so they
    agree to rounding -- 1e-12 on chances is ~1000x the float64 rounding of log-sum-exps over 61
    nodes of O(10) log-likelihoods, and far below any difference a forecast could show.  The
    replicates' parameters are the one-step refits by construction (checked against the formula)
    and the interval ends, quantiles of the same indicator draws averaged in another array
    layout, agree to the rounding of a mean of 0/1 values (1e-12)."""
    from scalefit.sampling import pooled as P
    from scalefit.sampling.bonfit import item_resamples

    _, n, k, fit = fit30  # items missing from a group
    assert fit.converged, fit.message
    Ns, B = [100.0, 3000.0], 16
    mult = item_resamples(I_ITEMS, B, 3)
    g, H, pg, ph = (np.asarray(a) for a in P._pieces_fn(True, fit.codes)(fit.theta.ravel(), P._tables(n, k)))
    for target in ("fresh", "continued"):
        rep = fit.replicates(Ns, target=target, num_bootstrap=B, seed=3, verdict=target == "fresh")
        # one exact Newton step from the fit on each resample's penalised likelihood (with the
        # full data's Hessian where the resample's is not negative definite)
        assert not rep.refitted.any()
        for b in range(B):
            Hb = H.sum(axis=0) if rep.full_hessian[b] else np.einsum("i,ijk->jk", mult[b], H)
            assert rep.full_hessian[b] == (np.linalg.eigvalsh(np.einsum("i,ijk->jk", mult[b], H) - ph).max() >= 0)
            step = np.linalg.solve(Hb - ph, mult[b] @ g - pg)
            np.testing.assert_allclose(rep.thetas[b].ravel(), fit.theta.ravel() - step, rtol=0, atol=1e-12)
        est, lo, hi = fit.forecast(Ns, target=target, num_bootstrap=B, seed=3)
        u = np.random.default_rng([3, 1]).random((B,) + k.shape)
        for j, N in enumerate(Ns):
            ref = _per_budget_reference(fit, rep.thetas, N, target)
            np.testing.assert_allclose(rep.probabilities[:, j], ref, rtol=0, atol=1e-12)
            point = _per_budget_reference(fit, fit.theta[None], N, target)[0]
            np.testing.assert_allclose(rep.point[j], point, rtol=0, atol=1e-12)
            np.testing.assert_allclose(fit.probabilities(N, target), point, rtol=0, atol=1e-12)
            np.testing.assert_allclose(est[:, j], fit.rates(N, target), rtol=0, atol=1e-12)
            rates = np.nanmean(np.where(fit.data.present[None], (u < ref).astype(float), np.nan), axis=2)
            np.testing.assert_allclose(lo[:, j], np.quantile(rates, 0.05, axis=0), rtol=0, atol=1e-12)
            np.testing.assert_allclose(hi[:, j], np.quantile(rates, 0.95, axis=0), rtol=0, atol=1e-12)
        if target == "fresh":
            # the verdict is the Newton decrement left after the step, in standard errors
            assert np.array_equal(rep.converged, rep.decrement <= 0.25)
            assert np.all(np.isfinite(rep.decrement))


@pytest.mark.slow
def test_choice_keeps_independent_without_shared_difficulty():
    """Items drawn independently per group (no shared difficulty; each group's item rates have
    the marginal law of the pooled simulation above, logit-normal with SD sqrt(s^2 + sigma^2)):
    the pooled model has nothing to add, and the choice rule (gain > 1.645 SE of the gain over
    item resamples, judged by the internal backtest at a 10x extrapolation: n // 10 attempts ->
    n) keeps every group's own model.  Both candidates use the generating family (logit-normal)
    as the residual, so they differ only by the shared item effect.  (Measured 2026-12-06 on
    beta-distributed rates with the default candidates: the 4x backtest picked the pooled model
    for every group, a gain of 0.0016 against its SE of 0.0009; the 10x backtest kept every
    group's own model.  The logit-normal residual here shares the compiled programs of the other
    tests, which the beta family's did not: 90 s of compilation.)"""
    rng = np.random.default_rng(21)
    I, n = I_ITEMS, 40
    eta = MU[:, None] + np.hypot(S, SIG)[:, None] * rng.normal(size=(3, I))
    k = rng.binomial(n, 1.0 / (1.0 + np.exp(-eta)))
    gb = fit_groups(pooled_data(np.full(k.shape, n), k), select_bootstrap=0, repeats=2,
                    candidates=("logit_normal",))
    assert set(gb.choice.values()) == {"independent"}, gb.scores
    # the sharing diagnostic sees (almost) nothing shared: its 90% interval reaches below 0.5
    assert np.all(gb.sharing["lower_90"] < 0.5), gb.sharing


COVERAGE_SETS = 16


@pytest.mark.slow
def test_interval_coverage_on_simulated_pooled_data():
    """90% intervals (item bootstrap: one-step refits on item resamples drawn jointly across
    groups, all replicates and budgets in one pass) for the realised pass@300 of a fresh run (10x
    the fit budget of 30), data simulated from the pooled model: 16 data sets x 3 groups = 48
    intervals, 100 replicates each.  Under correct coverage the count of covering intervals is
    Binomial(48, 0.9): the coverage estimate has standard error sqrt(0.9 x 0.1 / 48) = 0.043, and
    the test fails below the binomial's 0.5% quantile, 37 of 48 (0.77, 3.0 SE under 0.9):
    P(X <= 36) = 0.002 for a correct construction, while one covering 80% fails with probability
    0.24, one covering 70% with 0.82 and one covering 60% with 0.99.  (The 3 groups of a data set
    share items, which correlates their hits a little; the margin of a 0.2% false-failure rate
    leaves room for that.)"""
    from scipy.stats import binom

    hits = 0
    total = 0
    for rep in range(COVERAGE_SETS):
        rng = np.random.default_rng([40, rep])
        u = rng.normal(size=I_ITEMS)
        eta = MU[:, None] + S[:, None] * u[None, :] + SIG[:, None] * rng.normal(size=(3, I_ITEMS))
        p = 1.0 / (1.0 + np.exp(-eta))
        k = rng.binomial(30, p)
        fit = fit_pooled(pooled_data(np.full(k.shape, 30), k))
        assert fit.converged, fit.message
        est, lo, hi = fit.forecast([300], num_bootstrap=100, seed=rep)
        realised = np.mean(rng.random(p.shape) < -np.expm1(300 * np.log1p(-p)), axis=1)
        hits += int(np.sum((lo[:, 0] <= realised) & (realised <= hi[:, 0])))
        total += 3
    lo_band = binom.ppf(0.005, total, 0.9)
    print(f"covered {hits} of {total}")
    assert lo_band <= hits, (hits, total)


def test_cli_pool_flags_give_one_line_errors(tmp_path, capsys):
    """Bad --pool use: a one-line error and exit code 2, before any fitting."""
    from scalefit.cli import main

    rng = np.random.default_rng(1)
    rows = [{"model": m, "problem_idx": i, "n_samples": 50, "n_correct": int(c)}
            for m in ("a", "b") for i, c in enumerate(rng.binomial(50, rng.beta(0.5, 4, size=30)))]
    path = tmp_path / "counts.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    base = ["bon", "predict", str(path), "--item", "problem_idx", "--n-col", "n_samples", "--k-col", "n_correct",
            "--N", "500"]
    assert main(base + ["--pool", "maybe"]) == 2
    err = capsys.readouterr().err
    assert "--pool" in err and err.count("\n") == 1
    one = tmp_path / "one.csv"
    pd.DataFrame(rows[:30]).to_csv(one, index=False)
    assert main([base[0], base[1], str(one)] + base[3:] + ["--pool", "auto"]) == 2  # no --groups
    err = capsys.readouterr().err
    assert "`--pool` = auto needs `--groups`" in err and err.count("\n") == 1
    assert main(base + ["--groups", "model", "--pool", "on", "--model", "beta"]) == 2
    assert "drop `--model`" in capsys.readouterr().err


def _until_success_log(rng, p, batch, cap):
    """Counts of a sample-until-success log: every (group, item) attempted in batches of
    ``batch`` until the batch holding its first success, at most ``cap`` attempts.  Returns the
    counts n, k, the first-success attempts (NaN: none) and the full attempt record."""
    record = rng.random(p.shape + (cap,)) < p[..., None]
    hit = record.any(axis=-1)
    first = np.where(hit, np.argmax(record, axis=-1) + 1.0, np.nan)
    n = np.where(hit, np.minimum(cap, np.ceil(np.nan_to_num(first, nan=1.0) / batch) * batch), cap).astype(int)
    k = np.array([[record[g, i, : n[g, i]].sum() for i in range(p.shape[1])] for g in range(p.shape[0])])
    return n, k, first, record


def test_until_success_logs_cut_at_first_attempts():
    """Sample-until-success logs (batches of 10, cap 100): the stopping rule is ignorable for the
    likelihood, so the pooled fit uses the counts as they are, but thinning them at random would
    not be (a broken item's last batch holds a success by construction).  The choice's internal
    backtest therefore cuts every item at its first m = n_g // 10 attempts, as the per-group
    backtest does, where n_g is the fewest attempts made on an unsolved item (here the cap: the
    log decides every item's truth there; a solved item's batch end would waste the log);
    checked against the full attempt record, and the per-group fits inside fit_groups see the
    log as sample-until-success."""
    from scalefit.sampling.holdout import is_until_success
    from scalefit.sampling.pooled import _choice_splits, pooled_from_frame

    rng = np.random.default_rng(5)
    u = rng.normal(size=I_ITEMS)
    p = 1.0 / (1.0 + np.exp(-(MU[:, None] + S[:, None] * u + SIG[:, None] * rng.normal(size=(3, I_ITEMS)))))
    n, k, first, record = _until_success_log(rng, p, 10, 100)
    frame = pd.DataFrame({"model": np.repeat(["a", "b", "c"], I_ITEMS), "item": np.tile(np.arange(I_ITEMS), 3),
                          "n": n.ravel(), "k": k.ravel(), "first_success": first.ravel(),
                          "batch_size": 10, "cap": 100, "censored": ~np.isfinite(first.ravel()) & (n.ravel() < 100)})
    data = pooled_from_frame(frame, ["model"])
    assert data.until_success and np.array_equal(np.isfinite(data.first_success), np.isfinite(first))
    sp = _choice_splits(data, 10, repeats=4, seed=0)
    assert sp.ms.shape[0] == 1  # the cut is deterministic: one split, whatever `repeats`
    for g in range(3):
        open_ = ~np.isfinite(first[g])
        n_g = n[g][open_].min() if open_.any() else n[g].max()
        m = n_g // 10
        cut = record[g, :, :m]
        solved = cut.any(axis=1)
        # solved in the first m attempts: observed up to the first success, one success
        assert np.array_equal(sp.ks[0, g], solved.astype(int))
        assert np.array_equal(sp.ms[0, g], np.where(solved, np.argmax(cut, axis=1) + 1, m))
        assert np.array_equal(sp.truth[g], record[g, :, :n_g].any(axis=1).astype(float))
        assert np.all(sp.budget[g] == n_g)
    gb = fit_groups(data, pool="on", select_bootstrap=0, repeats=1, candidates=("logit_normal",))
    assert all(is_until_success(b.data) for b in gb.independent.values())
    assert gb.pooled.converged, gb.pooled.message
    assert np.all(np.isfinite(gb.scores[["error_independent", "error_pooled"]].to_numpy()))
    # a first success that is not an attempt with a success: one line naming the argument
    bad = first.copy()
    bad[0, np.flatnonzero(np.isfinite(first[0]))[0]] = 1000.0
    with pytest.raises(ArgumentError, match="`first_success` = 1000"):
        pooled_data(n, k, first_success=bad)


def test_cli_pool_until_success_log_with_batch_likelihood(batch_log, tmp_path, capsys):
    """(d) A sample-until-success attempt log pooled at batch granularity (`--likelihood batch`:
    only the batch of each first success) runs end to end and names each group's choice (the
    log of the tests above, so that the compiled programs are shared; no bootstrap, to keep it
    short); `--likelihood first_success` is still refused in one line, before any fitting, and
    so is a bad batch size (the loader's one-line error)."""
    from scalefit.cli import main

    frame, _, _, _, record = batch_log
    n = frame["n"].to_numpy().reshape(3, I_ITEMS)
    g, i, a = np.nonzero(np.arange(record.shape[2])[None, None, :] < n[..., None])
    path = tmp_path / "log.csv"
    pd.DataFrame({"model": np.array(list("abc"))[g], "item": i, "attempt": a + 1,
                  "success": record[g, i, a].astype(int)}).to_csv(path, index=False)
    base = ["bon", "predict", str(path), "--groups", "model", "--pool", "auto", "--N", "1000", "--batch-size", "10",
            "--cap", "100"]
    assert main(base + ["--likelihood", "batch", "--candidates", "logit_normal", "--select-bootstrap", "0",
                        "--repeats", "1", "--bootstrap", "0"]) == 0
    out = capsys.readouterr().out
    for m in "abc":
        assert any(line.startswith(f"{m}: pooled -- ") or line.startswith(f"{m}: independent -- ")
                   for line in out.splitlines()), out
    assert main(base + ["--likelihood", "first_success"]) == 2
    lines = capsys.readouterr().err.splitlines()  # the loader's notes on the log's layout, then the error
    assert "Traceback" not in "".join(lines)
    assert lines[-1].startswith("scalefit: error: `--likelihood` = first_success")
    assert main(base[:-4] + ["--batch-size", "0", "--likelihood", "batch"]) == 2
    err = capsys.readouterr().err
    assert "--batch-size" in err and "Traceback" not in err and err.strip().count("\n") == 0


def test_sharing_gradient_is_finite_at_extreme_kumaraswamy_shapes():
    """The sharing diagnostic's Wald interval needs the gradient of logit(shared share) =
    2 log s - log v in the group's parameters.  At a Kumaraswamy residual with b = 263 (as a fit
    to a sample-until-success log gave) reverse mode returned NaN, and with it a NaN interval;
    the gradient must be finite and match central differences (step 1e-5: truncation ~1e-10 of
    the curvature, rounding ~1e-16 / 1e-5 of the value; 1e-6 relative leaves room for both)."""
    import jax.numpy as jnp

    from scalefit.sampling.pooled import _FAMILY_CODE, _logit_share_fn

    fn = _logit_share_fn((_FAMILY_CODE["kumaraswamy"],))
    th = np.array([[0.612, 5.570, 0.315]])
    est, grad = (np.asarray(a) for a in fn(jnp.asarray(th)))
    assert np.all(np.isfinite(grad))
    h = 1e-5
    fd = [(float(fn(jnp.asarray(th + h * e))[0][0]) - float(fn(jnp.asarray(th - h * e))[0][0])) / (2 * h)
          for e in np.eye(3)[:, None, :]]
    np.testing.assert_allclose(grad[0], fd, rtol=1e-6, atol=1e-8)


# --------------------------------------------------------------------------------------------
# batch-censored rows (a sample-until-success log read at batch granularity)


def test_batch_censored_rows_leave_ordinary_tables_alone_and_match_a_direct_likelihood():
    """(a) Rows with extra = 0 (and the data tables of a PooledData without censored rows) are
    the ordinary rows, number for number (array_equal: the same computation, not a tolerance).
    (b) A censored row (no success in n, at least one in the next w) gets the likelihood
    (1 - p)^n - (1 - p)^(n + w) on the grid, checked against the same difference formed in
    60-digit decimal arithmetic at nodes from p = 7e-13 (where the float64 difference of the
    two powers would lose 5 of its 16 digits) to p = 1 - 1e-7.  The grid value is
    n log(1 - p) + log(1 - (1 - p)^w) with log(1 - p) from log-expit (a few ulps, relative) and
    the second term by expm1 (relative accuracy kept however small w p is): |error| <= a few
    ulps of |n log(1 - p)| <= 20 x 16.2, i.e. ~1e-13 absolute on the log; 1e-11 leaves room for
    the table's scaling by the row's maximum (one more rounding of a number of that size)."""
    from decimal import Decimal, getcontext

    from scalefit.sampling import pooled as P
    from scalefit.sampling.families._common import GRID_NODES

    rng = np.random.default_rng(4)
    n = rng.integers(0, 40, size=(2, 12))
    k = np.minimum(rng.binomial(n, 0.3), n)
    k[:, 0] = 1
    n[:, 0] = np.maximum(n[:, 0], 1)
    plain = pooled_data(n, k)
    zero = pooled_data(n, k, extra=np.zeros_like(n))
    old, new = P._tables(n, k), P._data_tables(zero)
    assert all(np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(old, new))
    # and each item's row is its own (n, k) likelihood on the grid, built here item by item
    from scalefit.sampling.families._common import grid_aux, scaled_grid_table

    Lt, z, o, kmax, index = (np.asarray(a) for a in old)
    for g in range(2):
        ref, ref_max = scaled_grid_table(grid_aux(n[g].astype(float), k[g].astype(float)))
        rows = index[g]
        np.testing.assert_array_equal(np.concatenate([Lt[g, rows], z[g, rows, None], o[g, rows, None]], 1), ref)
        np.testing.assert_array_equal(kmax[g, rows], ref_max)
    assert all(np.array_equal(np.asarray(a), np.asarray(b)) for a, b in zip(old, P._data_tables(plain)))
    for N in (50, 400):  # the forecast rows of ordinary data: the data plus N - n failures as before
        rows = P._forecast_rows(plain, N, "continued")
        assert np.array_equal(rows[2], P._extra_failures(plain, N, "continued")) and not np.any(rows[3])

    # (b) rows (n, w): (20, 10), (0, 10) (solved in the first batch), (35, 5); k = 0
    cn = np.array([[20, 0, 35], [1, 1, 1]])
    ck = np.array([[0, 0, 0], [1, 1, 1]])
    cw = np.array([[10, 10, 5], [0, 0, 0]])
    Lt, zero_lump, one_lump, kmax, index = (np.asarray(a) for a in P._tables(cn, ck, 0.0, cw))
    getcontext().prec = 60
    nodes = [0, 200, 500, 560, 600, 700, 880]  # u = -28, -18, -3, 0, 2, 7, 16
    for i in range(3):
        r = index[0, i]
        for c in nodes:
            q = 1 / (1 + Decimal(float(GRID_NODES[c])).exp())  # 1 - p at the node
            direct = float((q ** int(cn[0, i]) - q ** int(cn[0, i] + cw[0, i])).ln())
            grid = kmax[0, r] + np.log(Lt[0, r, c])
            assert abs(grid - direct) < 1e-11, (i, c, grid, direct)
        # p = 0 cannot give a success in the interval; p = 1 gives it at once (only for n = 0)
        assert zero_lump[0, r] == 0.0
        assert (one_lump[0, r] > 0) == (cn[0, i] == 0)
    # bad input: one line naming the argument and the value
    with pytest.raises(ArgumentError, match=r"^`extra` = 10 with `k` = 1: .*\(group 1, item 0\)$"):
        pooled_data(cn, ck, extra=np.full(cn.shape, 10))
    for bad, shown in ((-1, "-1 is below the smallest allowed value 0"), (2.5, "2.5 is not an integer count"),
                       (np.nan, "nan is not an integer count")):
        w = cw.astype(float)
        w[0, 1] = bad
        with pytest.raises(ArgumentError, match=rf"^`extra` = {shown}$"):
            pooled_data(cn, ck, extra=w)
    with pytest.raises(ArgumentError, match=r"^`extra` \(shape \(3,\)\)"):
        pooled_data(cn, ck, extra=cw[0])
    with pytest.raises(ArgumentError, match=r"^`first_success` = 20 is not an attempt"):
        pooled_data(cn, ck, extra=cw, first_success=np.where(cw > 0, 20.0, np.nan), until_success=False)


@pytest.fixture(scope="module")
def batch_log():
    """A pooled sample-until-success log: 3 groups x 120 items, batches of 10, cap 100, item
    rates lower than the other tests' (MU - 3) so that every group leaves items unbroken and
    breaks items in many batches.  Returns (frame, attempts data, batch-censored data, p, record)."""
    from scalefit.sampling.pooled import pooled_from_frame

    rng = np.random.default_rng(11)
    u = rng.normal(size=I_ITEMS)
    p = 1.0 / (1.0 + np.exp(-(MU[:, None] - 3.0 + S[:, None] * u + SIG[:, None] * rng.normal(size=(3, I_ITEMS)))))
    n, k, first, record = _until_success_log(rng, p, 10, 100)
    frame = pd.DataFrame({"model": np.repeat(["a", "b", "c"], I_ITEMS), "item": np.tile(np.arange(I_ITEMS), 3),
                          "n": n.ravel(), "k": k.ravel(), "first_success": first.ravel(), "batch_size": 10,
                          "cap": 100, "censored": ~np.isfinite(first.ravel()) & (n.ravel() < 100)})
    return (frame, pooled_from_frame(frame, ["model"]), pooled_from_frame(frame, ["model"], likelihood="batch"),
            p, record)


def test_batch_censored_fit_recovers_the_attempts_fit(batch_log):
    """(c) The same log fitted with every attempt and with only the batch of each first success:
    the batch fit uses less information (the position within the batch and the successes after
    the first are dropped), so its estimates scatter around the attempts fit's.  For nested
    efficient estimators the difference has variance Var(batch) - Var(attempts) <= Var(batch)
    (Hausman), so |difference| / SE(batch) is at most standard normal in scale: 4 SE (observed
    information) is a two-sided 6e-5 tail per parameter, < 1e-3 over the 9; the same bound
    for pass@N at 10x and 100x the batch size with the SD of 40 one-step bootstrap replicates
    of the batch fit as its SE (the replicates' SD is itself uncertain by ~1/sqrt(2 x 40) = 11%,
    which 4 SE absorbs)."""
    from scalefit.sampling.pooled import _laplace_cov, fit_pooled, pooled_chances

    frame, da, db, p, record = batch_log
    assert np.array_equal(db.solved, np.isfinite(da.first_success)) and np.any(db.extra > 0)
    assert np.any((db.n == 0) & (db.extra > 0)) and np.any(~db.solved)  # first-batch breaks and unbroken items
    fa, fb = fit_pooled(da), fit_pooled(db)
    assert fa.converged and fb.converged, (fa.message, fb.message)
    se = np.sqrt(np.diag(_laplace_cov(fb))).reshape(fb.theta.shape)
    z = (fb.theta - fa.theta) / se
    assert np.all(np.abs(z) < 4.0), z
    N = [55, 100, 1000]
    rep = fb.replicates(N, num_bootstrap=40, seed=1, verdict=False)  # one pass: the fit and its replicates
    sd = np.std(np.mean(rep.probabilities, axis=3), axis=0, ddof=1)  # (J, G)
    ra = np.mean(pooled_chances(fa.theta[None], fa.data, N, families=fa.families)[0], axis=2)
    rb = np.mean(rep.point, axis=2)
    assert np.all(np.abs(ra - rb)[1:] < 4.0 * sd[1:]), (ra, rb, sd)
    # continued within the observed budget: the log decides it (first successes known)
    cont = pooled_chances(fb.theta[None], db, N[:1], target="continued", families=fb.families)[0, 0]
    np.testing.assert_array_equal(np.mean(cont, axis=1), record[:, :, :55].any(axis=2).mean(axis=1))


def test_batch_censored_pooled_reduces_to_per_group_batch_fits(batch_log):
    """(c) With the shared effect switched off, the pooled model on batch-censored rows is G
    independent fits (as test_reduces_to_independent_fits for counts): each group's parameters
    agree with fit_bon on until_success_items(..., "batch") for the same family to the solvers'
    tolerance (1e-5, as there), and so do fresh pass@N and the continued chance of items whose
    interval straddles the budget -- given their data without first successes, the model's
    E[(1-p)^n - (1-p)^N] / E[(1-p)^n - (1-p)^(n+w)] on both sides."""
    from scalefit.sampling import fit_bon, item_data, until_success_items
    from scalefit.sampling.pooled import fit_pooled

    frame, _, db, _, _ = batch_log
    fit = fit_pooled(db, shared=False)
    assert fit.converged, fit.message
    # the same rows without first successes: continued chances come from the model
    blind = pooled_data(db.n, db.k, extra=db.extra)
    bfit = fit.__class__(blind, fit.theta, False, fit.objective, fit.converged, fit.grad_norm, fit.families)
    # the choice's internal backtest cannot cut an interval whose first success it does not see
    with pytest.raises(ArgumentError, match=r"^`data` holds batch-censored rows \(`extra` > 0\) without first"):
        fit_groups(blind)
    # a frame's `extra` column gives the same rows
    from scalefit.sampling.pooled import pooled_from_frame

    cols = pd.DataFrame({"model": np.repeat(list("abc"), I_ITEMS), "item": np.tile(np.arange(I_ITEMS), 3),
                         "n": db.n.ravel(), "k": db.k.ravel(), "extra": db.extra.ravel()})
    again = pooled_from_frame(cols, ["model"])
    assert np.array_equal(again.extra, db.extra) and np.array_equal(again.n, db.n) and not again.until_success
    N = 55
    straddle = (db.extra > 0) & (db.n < N) & (N < db.n + db.extra)
    assert straddle.sum() >= 3
    pc = bfit.probabilities(N, "continued")
    for g, m in enumerate("abc"):
        items = until_success_items(frame[frame["model"] == m], "batch")
        ref = fit_bon(items, model="logit_normal").fit
        np.testing.assert_allclose(fit.theta[g], ref.theta, atol=1e-5)
        np.testing.assert_allclose(fit.rates(1000)[g], np.mean(ref.predict_values(items, 1000)), atol=1e-5)
        plain = item_data(items.n, items.k, extra=items.extra)
        theirs = ref.solve_probabilities(plain, N, target="continued")
        np.testing.assert_allclose(pc[g], theirs, atol=1e-5)
        assert np.all((pc[g][straddle[g]] > 0) & (pc[g][straddle[g]] < 1))
