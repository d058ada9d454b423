"""The adaptive sampling planner (scalefit.sampling.plan): what it allocates, the preposterior
variance it optimises, forecasts from planned designs, and ``scalefit bon plan``."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import special as sp

from scalefit.errors import ArgumentError
from scalefit.sampling import fit_mixing, item_data, merge_attempts, plan, sample_in_rounds
from scalefit.sampling.plan import _continued_curves, _fresh_curves


def _items(seed=0, I=80, n=20):
    rng = np.random.default_rng(seed)
    k = rng.binomial(n, rng.beta(0.4, 3.0, size=I))
    k[:4] = n  # items whose every attempt succeeded
    return item_data(n, k)


def test_no_attempts_where_the_forecast_cannot_change_and_more_where_no_success():
    data = _items()
    p = plan(data, 4000, 10_000, model="beta")
    a = p.attempts
    assert 0 < a.sum() <= 4000
    # every attempt succeeded: at N = 10,000 the item is solved whatever comes next
    assert np.all(a[data.k == data.n] == 0)
    assert a[data.k == 0].mean() > a[(data.k > 0)].mean()
    assert np.all(a[data.k == 0] > 0)
    # continued run: an item already solved is decided; unsolved items get at most N - n more
    pc = plan(data, 4000, 500, model="beta", target="continued")
    ac = pc.attempts
    assert np.all(ac[data.k > 0] == 0)
    assert ac[data.k == 0].sum() > 0 and np.all(ac <= 500 - 20)
    # rounds: the first of R rounds spends 1/R of the budget
    assert plan(data, 4000, 10_000, model="beta", rounds=4).attempts.sum() <= 1000


def _beta_post(a, b, n, k):
    return a + k, b + n - k


def _log_beta_fail(a, b, m):
    """log E[(1 - p)^m] under Beta(a, b) (T2.3: the exact Beta failure curve)."""
    return sp.betaln(a, b + m) - sp.betaln(a, b)


def test_expected_posterior_variance_matches_the_exact_beta_computation():
    # T2.3: under a Beta population every quantity is a ratio of Beta functions, so the
    # preposterior variance can be enumerated exactly over the beta-binomial predictive.
    fit = fit_mixing(item_data(20, [0, 1, 3, 0, 7, 2, 0, 0, 12, 1, 0, 5]), model="beta", prior=False)
    a, b = fit.params["a"], fit.params["b"]
    data = item_data([20, 20, 60], [0, 2, 0])
    post = fit.item_posterior(data)
    N, ladder = 1000.0, np.array([0.0, 5.0, 30.0])  # m <= 40: the outcome is not coarsened
    mean, v = _fresh_curves(post, N, ladder)
    for i in range(data.size):
        a1, b1 = _beta_post(a, b, data.n[i], data.k[i])
        g1 = 1 - math.exp(_log_beta_fail(a1, b1, N))
        assert mean[i] == pytest.approx(g1, abs=2e-4)
        for j, m in enumerate(ladder.astype(int)):
            y = np.arange(m + 1)
            logpy = (sp.gammaln(m + 1) - sp.gammaln(y + 1) - sp.gammaln(m - y + 1)
                     + sp.betaln(a1 + y, b1 + m - y) - sp.betaln(a1, b1))
            a2, b2 = a1 + y, b1 + m - y
            e1 = 1 - np.exp(_log_beta_fail(a2, b2, N))
            e2 = 1 - 2 * np.exp(_log_beta_fail(a2, b2, N)) + np.exp(_log_beta_fail(a2, b2, 2 * N))
            exact = float(np.sum(np.exp(logpy) * (e2 - e1 ** 2)))
            # The grid (logit step 0.05) puts each item's term within ~5e-5 of the exact value
            # (measured against the closed form), so a variance of ~0.1 is good to ~2e-4.
            assert v[i, j] == pytest.approx(exact, abs=2e-4)
    # continued: exact formula (s - r) r / s with r = P(no success in the rest), s in the next m
    q, vc = _continued_curves(post, data, 200.0, ladder)
    for i in range(data.size):
        a1, b1 = _beta_post(a, b, data.n[i], data.k[i])
        if data.k[i] > 0:
            assert q[i] == 1.0 and np.all(vc[i] == 0)
            continue
        r = math.exp(_log_beta_fail(a1, b1, 200 - data.n[i]))
        for j, m in enumerate(ladder):
            s = math.exp(_log_beta_fail(a1, b1, m))
            assert vc[i, j] == pytest.approx((s - r) * r / s, abs=2e-4)



def _beta_start(seed: int, r: int, I: int):
    """Replay r: I items with rates from Beta(0.4, 4) and a uniform start of 8 attempts each (at
    least one success, so that a family can be fitted)."""
    rng = np.random.default_rng([seed, r])
    p_true = rng.beta(0.4, 4.0, size=I)
    data = item_data(8, rng.binomial(8, p_true))
    if not data.solved.any():
        data = item_data(8, np.r_[1, data.k[1:]])
    return rng, p_true, data

def test_planned_designs_give_unbiased_forecasts_and_covering_intervals():
    # Items from a Beta(0.4, 4) population; a uniform start of 8 attempts, then 2 planned rounds
    # of 16 attempts per item on average, then a fresh pass@200 forecast with 90% intervals
    # (bootstrap over items).  The allocation uses only outcomes already observed, so the fit
    # is unbiased as for a fixed design.
    R, I, N = 16, 60, 200.0
    errors, covered, widths = [], 0, []
    for r in range(R):
        rng, p_true, data = _beta_start(11, r, I)

        def sampler(a, rng=rng, p=p_true):
            return rng.binomial(a, p)

        res = sample_in_rounds(data, sampler, 16 * I, N, rounds=2, model="beta", num_bootstrap=40, seed=r)
        realised = float(np.mean(rng.random(I) < 1 - (1 - p_true) ** N))  # the fresh run being forecast
        est = res.forecast.estimate[0]
        errors.append(est - realised)
        covered += res.forecast.lower[0] <= realised <= res.forecast.upper[0]
        widths.append(res.forecast.upper[0] - res.forecast.lower[0])
        assert res.data.n.sum() == 8 * I + 16 * I  # the whole budget was spent
    errors = np.asarray(errors)
    # unbiased within Monte Carlo error: |mean| below 3.3 standard errors (99.9% two-sided)
    assert abs(errors.mean()) < 3.3 * errors.std(ddof=1) / math.sqrt(R)
    # 90% intervals: covered count inside the 99% band of Binomial(R, 0.9)
    from scipy.stats import binom

    lo, hi = binom.ppf(0.005, R, 0.9), binom.ppf(0.995, R, 0.9)
    assert lo <= covered <= hi, (covered, lo, hi)


def test_grouped_counts_share_one_budget_or_get_one_each():
    rng = np.random.default_rng(9)
    frame = pd.DataFrame({"model": np.repeat(["easy", "hard"], 40), "item": np.tile(np.arange(40), 2), "n": 20,
                          "k": np.r_[rng.binomial(20, rng.beta(2.0, 2.0, 40)), rng.binomial(20, rng.beta(0.3, 6.0, 40))]})
    frame.attrs["groups"] = ["model"]
    total = plan(frame, 2000, 1000, model="beta")
    per = total.table.groupby("model")["attempts"].sum()
    assert per.sum() <= 2000 and per["hard"] > per["easy"]  # the unsolved items are in the hard group
    each = plan(frame, 2000, 1000, model="beta", budget_scope="group")
    per2 = each.table.groupby("model")["attempts"].sum()
    assert per2["hard"] <= 2000 and per2["easy"] <= 2000 and per2.sum() > 2000 - 1
    assert list(each.groups["group"]) == ["model=easy", "model=hard"]

    # any model that gives per-item posteriors plugs in (here per-group fits behind for_group)
    class PerGroup:
        def __init__(self):
            self.fits = {m: fit_mixing(item_data(g["n"].to_numpy(), g["k"].to_numpy()), model="beta")
                         for m, g in frame.groupby("model")}

        def for_group(self, key):
            return self.fits[key["model"]]

    plugged = plan(frame, 2000, 1000, model=PerGroup())
    assert np.array_equal(plugged.attempts, total.attempts)


def test_stopping_rule_allocates_nothing_once_the_interval_is_narrow_enough():
    data = _items(seed=2)
    wide = plan(data, 1000, 1000, model="beta", width=0.9, num_bootstrap=20)
    assert wide.stop and wide.allocated == 0 and "stop" in wide.reason
    narrow = plan(data, 1000, 1000, model="beta", width=1e-4, num_bootstrap=20)
    assert not narrow.stop and narrow.allocated == 1000
    g = narrow.groups.iloc[0]
    assert g["upper"] - g["lower"] > 1e-4 and g["sd_after"] < g["sd_now"]


def test_merge_attempts_and_argument_errors():
    d = item_data([10, 10], [0, 1], first_success=[np.nan, 4.0])
    m = merge_attempts(d, [5, 0], [1, 0], first_success=[3.0, np.nan])
    assert m.n.tolist() == [15, 10] and m.k.tolist() == [1, 1] and m.first_success.tolist() == [13.0, 4.0]
    with pytest.raises(ArgumentError, match=r"`extra_budget` = 0 must be an integer >= 1"):
        plan(d, 0, 100, model="beta")
    with pytest.raises(ArgumentError, match=r"`target` = 'later'"):
        plan(d, 10, 100, model="beta", target="later")
    with pytest.raises(ArgumentError, match=r"`model` = 'gamma'"):
        plan(d, 10, 100, model="gamma")
    with pytest.raises(ArgumentError, match=r"`N` must be one finite budget >= 1"):
        plan(d, 10, 0.5, model="beta")
    with pytest.raises(ArgumentError, match=r"`width` = -1 must be a positive number"):
        plan(d, 10, 100, model="beta", width=-1)


# ------------------------------------------------------------------------------------ CLI


@pytest.fixture(scope="module")
def counts_csv(tmp_path_factory):
    rng = np.random.default_rng(3)
    rows = []
    for model in ("m1", "m2"):
        k = rng.binomial(30, rng.beta(0.4, 4.0, size=40))
        rows += [{"model": model, "problem": i, "n": 30, "k": int(c)} for i, c in enumerate(k)]
    path = tmp_path_factory.mktemp("plan") / "counts.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_cli_writes_the_plan_and_refuses_to_overwrite(counts_csv, tmp_path, capsys):
    from scalefit.cli import main

    out = tmp_path / "plan.csv"
    argv = ["bon", "plan", str(counts_csv), "--item", "problem", "--groups", "model", "--budget", "600", "--N", "1000",
            "--rounds", "2", "--model", "beta", "-o", str(out)]
    assert main(argv) == 0
    tab = pd.read_csv(out)
    assert set(tab.columns) >= {"model", "item", "n", "k", "attempts"} and len(tab) == 80
    assert 0 < tab["attempts"].sum() <= 300
    capsys.readouterr()
    assert main(argv) == 2  # the file exists now
    err = capsys.readouterr().err
    assert "already exists" in err and err.count("\n") == 1


@pytest.mark.parametrize("flags, message", [
    (["--budget", "0", "--N", "100"], "argument --budget: got '0'"),
    (["--budget", "x", "--N", "100"], "argument --budget: got 'x'"),
    (["--budget", "10", "--N", "0"], "argument --N: got '0'"),
    (["--budget", "10", "--N", "100", "--rounds", "0"], "argument --rounds: got '0'"),
    (["--budget", "10", "--N", "100", "--step", "1.5"], "argument --step: got '1.5'"),
    (["--budget", "10", "--N", "100", "--width", "0"], "argument --width: got '0'"),
    (["--budget", "10", "--N", "100", "--target", "later"], "argument --target: invalid choice"),
    (["--budget", "10", "--N", "100", "--budget-scope", "x"], "argument --budget-scope: invalid choice"),
    (["--budget", "10", "--N", "100", "--model", "gamma"], "`--model` = 'gamma'"),
    (["--budget", "10", "--N", "100", "--parameter-draws", "-2"], "argument --parameter-draws: got '-2'"),
    (["--budget", "10", "--N", "100", "--families", "all"], "argument --families: invalid choice: 'all'"),
    (["--N", "100"], "the following arguments are required: --budget"),
    (["--budget", "10", "--N", "100", "--width", "0.1", "--bootstrap", "0"], "`--bootstrap` = 0: the stopping rule `--width` needs"),
])
def test_cli_rejects_every_bad_argument_in_one_line(counts_csv, capsys, flags, message):
    from scalefit.cli import main

    assert main(["bon", "plan", str(counts_csv), "--item", "problem", "--groups", "model", *flags]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err


def test_backtest_with_a_planned_design_replays_the_same_total():
    from scalefit.sampling import backtest_counts

    rng = np.random.default_rng(4)
    k = rng.binomial(400, rng.beta(0.4, 4.0, size=40))
    counts = pd.DataFrame({"item": np.arange(40), "n": 400, "k": k})
    res = backtest_counts(counts, 20, [100, 400], repeats=1, estimators=("scalefit:beta",), num_bootstrap=20,
                          design="planned")
    rows = res.rows
    assert len(rows) == 2 and rows["detail"].str.contains("budgets 4..").all()
    assert np.all(np.isfinite(rows["predicted"])) and "planned" in res.method
    with pytest.raises(ArgumentError, match=r"`design` = 'planned' works with the scalefit estimators only"):
        backtest_counts(counts, 20, [100], design="planned", estimators=("saber_anchored",))
    with pytest.raises(ArgumentError, match=r"`design` = 'later'"):
        backtest_counts(counts, 20, [100], design="later")


def test_cli_backtest_design_flag(counts_csv, capsys):
    from scalefit.cli import main

    base = ["backtest", str(counts_csv), "--item", "problem", "--groups", "model", "--fit-budget", "10", "--N", "20"]
    assert main([*base, "--design", "random"]) == 2
    assert "argument --design: invalid choice" in capsys.readouterr().err
    assert main([*base, "--design", "planned", "--first"]) == 2
    err = capsys.readouterr().err
    assert "`--design planned` replays counts" in err and err.count("\n") == 1


def test_report_plan_page_reads_the_saved_fit_and_matches_plan():
    """The best-of-N report's plan (plan_record) is plan() on the saved fit, summarised: the same
    allocation, classes that add up, and a plan page drawn without fitting (the fitting-free
    rendering itself is checked for the whole report in test_report_layout.py)."""
    from scalefit.report.bestofn import plan_record
    from scalefit.sampling import fit_bon

    data = _items(seed=3, I=60)
    bon = fit_bon(data, model="beta", seed=0)
    rec = plan_record(bon, 1500, 2000.0, target="fresh")
    direct = plan(data, 1500, 2000.0, model=bon)
    assert rec["allocated"] == int(direct.attempts.sum()) <= 1500
    cls = pd.DataFrame(rec["by_successes"])
    assert cls["items"].sum() == data.size and cls["attempts"].sum() == rec["allocated"]
    # every attempt succeeded: nothing planned there; the unsolved class gets the most per item
    assert cls.loc[cls["successes"] == "20+", "attempts"].sum() == 0
    assert cls.loc[cls["successes"] == "0", "mean_attempts"].iloc[0] == cls["mean_attempts"].max()
    top = pd.DataFrame(rec["top"])
    assert np.all(np.diff(top["attempts"].to_numpy()) <= 0)
    assert np.all(direct.attempts[top["item"].to_numpy() - 1] == top["attempts"].to_numpy())
    curve = rec["sd_curve"]
    # sorted SDs; the plan cannot raise an item's expected variance (it is a conditional expectation)
    assert np.all(np.diff(curve["now"]) <= 0) and np.all(np.array(curve["after"]) <= np.array(curve["now"]) + 1e-12)
    assert rec["sd_after"] < rec["sd_now"]


def test_plan_and_round_plots_draw_and_reject_bad_frames():
    import matplotlib

    matplotlib.use("Agg")
    import scalefit.plots as splt

    cls = pd.DataFrame({"successes": ["0", "1", "2+"], "mean_attempts": [30.0, 5.0, 0.0]})
    fig = splt.plot_plan(cls, sd_rank=[1, 2, 3], sd_now=[0.3, 0.2, 0.1], sd_after=[0.2, 0.15, 0.1])
    assert len(fig.axes) == 2
    hist = pd.DataFrame({"round": [0, 1], "estimate": [0.8, 0.75], "lower": [0.7, 0.7], "upper": [0.9, 0.8]})
    fig = splt.plot_rounds(hist, truth=0.74, compare=("uniform", 0.76, 0.7, 0.85), N=1000, level=0.9)
    assert fig.axes[0].get_ylabel() == "pass@1000"
    with pytest.raises(ArgumentError, match="successes"):
        splt.plot_plan(pd.DataFrame({"k": [0]}))
    with pytest.raises(ArgumentError, match="round"):
        splt.plot_rounds(pd.DataFrame({"estimate": [0.5]}))


def test_population_part_matches_the_exact_two_population_computation():
    # T2.3 again: with two Beta populations (two draws of the population parameters, equally
    # likely), the forecast under each is a sum of Beta-function ratios and an item's m further
    # attempts have a beta-binomial predictive under each, so the variance of the forecast over
    # the two populations expected after seeing them can be enumerated exactly.
    from scalefit.sampling.plan import _population_curves

    fits = [fit_mixing(item_data(20, ks), model="beta", prior=False)
            for ks in ([0, 1, 3, 0, 7, 2, 0, 0, 12, 1, 0, 5], [0, 0, 1, 0, 2, 0, 0, 0, 4, 1, 0, 0])]
    data = item_data([20, 20, 60, 20], [0, 2, 0, 20])
    N = 100.0  # where the two populations' forecasts differ (by ~1.5 points: variance ~5e-5)
    draws = [f.item_posterior(data) for f in fits]
    post = [[_beta_post(f.params["a"], f.params["b"], data.n[i], data.k[i]) for i in range(data.size)] for f in fits]
    F = np.array([np.mean([1 - math.exp(_log_beta_fail(a1, b1, N)) for a1, b1 in pt]) for pt in post])
    for m in (5, 30):  # m <= 40: the outcome is not coarsened; a 2-point ladder is evaluated exactly
        V, U = _population_curves(draws, data, N, np.array([0.0, float(m)]), "fresh")
        # each term is within ~5e-5 of exact on the grid (see above), so the difference of the two
        # forecasts (~0.015) is good to ~0.7% and the variances (its square) to ~1.4%
        assert V == pytest.approx(np.var(F), rel=2e-2)
        y = np.arange(m + 1)
        for i in range(data.size):
            py = np.array([np.exp(sp.gammaln(m + 1) - sp.gammaln(y + 1) - sp.gammaln(m - y + 1)
                                  + sp.betaln(pt[i][0] + y, pt[i][1] + m - y) - sp.betaln(*pt[i])) for pt in post])
            w = py / py.sum(axis=0)  # the two populations reweighted by the outcome y
            mean_y = (w * F[:, None]).sum(axis=0)
            exact = float(np.sum(0.5 * py.sum(axis=0) * ((w * F[:, None] ** 2).sum(axis=0) - mean_y ** 2)))
            assert U[i, 1] == pytest.approx(exact, rel=2e-2, abs=1e-7)
        assert V > 1e-5 and np.all(U[:, 1] <= V)  # a conditional expectation of a variance cannot exceed it


def test_planning_with_parameter_draws_respects_budget_caps_and_decided_items():
    data = _items(seed=5, I=60)
    cap = np.where(np.arange(60) % 2 == 0, 15, 400)
    p = plan(data, 1200, 10_000, model="beta", parameter_draws=12, max_attempts=cap)
    a = p.attempts
    assert 0 < a.sum() <= 1200 and np.all(a <= cap)
    assert np.all(a[data.k == data.n] == 0)
    g = p.groups.iloc[0]
    assert g["sd_param_after"] < g["sd_param_now"]
    pc = plan(data, 1200, 500, model="beta", target="continued", parameter_draws=12)
    assert np.all(pc.attempts[data.k > 0] == 0)
    with pytest.raises(ArgumentError, match="parameter_draws"):
        plan(data, 100, 1000, model="beta", parameter_draws=-1)


def test_report_plan_budget_flag_is_checked_in_one_line(tmp_path, capsys):
    from scalefit.cli import main

    fit = tmp_path / "fit.json"
    fit.write_text("{}")
    assert main(["report", str(fit), "--plan-budget", "-5"]) == 2
    err = capsys.readouterr().err
    assert "argument --plan-budget: got '-5'" in err and err.count("\n") == 1, err


# ------------------------------------------------------------------------- tail families


class _Bump:
    """A stand-in tail family: every item's posterior of p is a logit-normal bump (SD 0.5 in
    logit p) around the given per-item centres, on the grid the real families use."""

    def __init__(self, name, centres, grid):
        u = sp.logit(grid[1:-1])
        lw = np.full((len(centres), grid.size), -np.inf)
        lw[:, 1:-1] = -0.5 * ((u[None, :] - sp.logit(np.asarray(centres))[:, None]) / 0.5) ** 2
        self.post = (grid, lw - sp.logsumexp(lw, axis=1, keepdims=True))
        self.model = name

    def item_posterior(self, data):
        return self.post


def test_family_mixture_puts_attempts_where_the_families_disagree():
    # 20 unsolved items (0 of 20). Family A puts every item near p = 1e-2; family B agrees on the
    # first 10 and puts the last 10 near p = 1e-4. Only the last 10 can tell A from B, and the
    # forecast of pass@100 differs between them by ~0.3 (0.63 against ~0.01 on half the items).
    grid = fit_mixing(item_data(20, [0, 1, 3, 0, 7]), model="beta").item_posterior(item_data(20, [0])).p
    data = item_data(20, np.zeros(20, int))
    A = _Bump("A", np.full(20, 1e-2), grid)
    B = _Bump("B", np.r_[np.full(10, 1e-2), np.full(10, 1e-4)], grid)
    one = plan(data, 400, 100, model=A).attempts
    # under one family the items are interchangeable: the budget is spread evenly (the greedy
    # funds whole hull segments, so halves differ by at most one item's share)
    assert abs(int(one[:10].sum()) - int(one[10:].sum())) <= one.max()
    both = plan(data, 400, 100, model=A, families=[A, B])
    a = both.attempts
    # Under B the last 10 items' own terms are nearly certain (~0.01), so the within-family part
    # alone would favour the first 10; the attempts go to the last 10 only because their outcome
    # discriminates between the families (a success within ~100 attempts is ~60x likelier under A).
    assert a[10:].sum() > 3 * a[:10].sum() and a.sum() <= 400
    g = both.groups.iloc[0]
    assert g["sd_param_now"] > 0.1 and g["sd_param_after"] < g["sd_param_now"]
    assert both.models["all items"] == "A + B" and "tail families A, B" in both.reason
    with pytest.raises(ArgumentError, match=r"`families` = 'all'"):
        plan(data, 400, 100, model=A, families="all")
    with pytest.raises(ArgumentError, match=r"`families` = 'plausible' needs a best-of-N fit"):
        plan(data, 400, 100, model=A, families="plausible")


def test_planned_designs_over_tail_families_stay_unbiased():
    # As above (Beta(0.4, 4) population, start of 8 attempts, then 16 per item on average, here in
    # one planned round, in steps of 4 attempts, to keep the test short), planned against the Beta and Kumaraswamy
    # families, the final family chosen by how well each predicted the planned attempts
    # (likelihood of outcomes given earlier data: valid under the adaptive design).
    R, I, N = 10, 60, 200.0
    errors = []
    for r in range(R):
        rng, p_true, data = _beta_start(12, r, I)
        res = sample_in_rounds(data, lambda a, rng=rng, p=p_true: rng.binomial(a, p), 16 * I, N, rounds=1,
                               model="beta", families=("beta", "kumaraswamy"), num_bootstrap=0, seed=r, step=4)
        errors.append(res.forecast.estimate[0] - float(np.mean(rng.random(I) < 1 - (1 - p_true) ** N)))
        assert res.data.n.sum() == 8 * I + 16 * I
        fam = res.families
        assert list(fam["family"]) == ["beta", "kumaraswamy"] and fam["weight"].sum() == pytest.approx(1.0)
        assert fam.loc[fam["chosen"], "family"].item() == res.fit.model
    errors = np.asarray(errors)
    # unbiased within Monte Carlo error: |mean| below 3.3 standard errors (99.9% two-sided)
    assert abs(errors.mean()) < 3.3 * errors.std(ddof=1) / math.sqrt(R)
