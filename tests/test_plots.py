"""Plot functions render with Agg, draw into given Axes, never touch global state, and refuse bad
input with messages that name the argument."""

from __future__ import annotations

import io
import warnings

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import PolyCollection  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

import scalefit  # noqa: E402
import scalefit.plots as sp  # noqa: E402
from scalefit.errors import ArgumentError  # noqa: E402
from scalefit.io import load_curves  # noqa: E402
from scalefit.plots._style import fmt_num  # noqa: E402

from conftest import REPO  # noqa: E402

SMALL_GRID = {"a": [3.0, 6.0], "b": [5.0, 8.0], "e": [0.0, 0.5], "alpha": [0.2, 0.5], "beta": [0.2, 0.5]}
TARGET = {"N": 7e10, "D": 1.4e12}


def render(fig) -> bytes:
    assert isinstance(fig, Figure)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=60)
    data = buf.getvalue()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 2000
    return data


def bands(ax) -> list:
    return [c for c in ax.collections if isinstance(c, PolyCollection)]


@pytest.fixture(scope="module")
def chin():
    frame = load_curves(REPO / "scalefit" / "examples" / "chinchilla_synthetic.csv")
    fit = scalefit.fit_law(frame, "chinchilla", starts=SMALL_GRID, source="scalefit/examples/chinchilla_synthetic.csv")
    return fit, scalefit.bootstrap(fit, 20, seed=0, progress=False)


@pytest.fixture(scope="module")
def power():
    frame = load_curves(REPO / "scalefit" / "examples" / "power_law_synthetic.csv")
    fit = scalefit.fit_law(frame, "power_law", inputs={"x": "N"})
    return fit, scalefit.bootstrap(fit, 20, seed=0, progress=False)


# ------------------------------------------------------------------------------ fits
def test_extrapolation_chinchilla_has_band_target_and_log_axes(chin):
    _, boot = chin
    fig = sp.plot_extrapolation(boot, TARGET)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert "FLOPs" in ax.get_xlabel() and ax.get_ylabel() == "loss"
    assert bands(ax), "the bootstrap band is missing"
    x_hi = ax.get_xlim()[1]
    assert x_hi >= 6 * TARGET["N"] * TARGET["D"]
    pred = boot.predict(TARGET).iloc[0]
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any(t.startswith(f"target: {fmt_num(pred['prediction'], 4)} [") for t in legend), legend
    assert any("bootstrap interval" in t for t in legend)
    assert len(fig.axes) == 2  # plot + colour bar (tokens per parameter)
    render(fig)


def test_extrapolation_without_bootstrap_has_no_band(chin):
    fit, _ = chin
    fig = sp.plot_extrapolation(fit, TARGET)
    assert not bands(fig.axes[0])
    render(fig)


def test_extrapolation_one_input_law_and_given_ax(power):
    _, boot = power
    fig = Figure()
    ax1, ax2 = fig.subplots(1, 2)
    out = sp.plot_extrapolation(boot, {"x": 1e11}, ax=ax2)
    assert out is fig
    assert ax2.get_xscale() == "log" and "parameters" in ax2.get_xlabel()
    assert not ax1.lines and ax2.lines and bands(ax2)
    # targets may name the bound column instead of the law input
    sp.plot_extrapolation(boot, [{"N": 1e10}, {"N": 1e11}])
    render(fig)


def test_extrapolation_draws_a_posterior_through_its_predict():
    """A posterior's predict() gives the protocol's estimate/lower/upper (docs/results.md): the
    plot draws its band with no translation (a saved tiny posterior, tests/corpus/make_results.py)."""
    from pathlib import Path

    from scalefit.bayes import PosteriorFit

    post = PosteriorFit.from_json(Path(__file__).resolve().parent / "corpus" / "results" / "PosteriorFit.json")
    fig = sp.plot_extrapolation(post, {"x": 1e11}, level=0.95)
    ax = fig.axes[0]
    assert bands(ax)
    assert any("95% posterior interval" in t.get_text() for t in ax.get_legend().get_texts())


def test_extrapolation_needs_the_protocol_estimate(power):
    _, boot = power

    class OldStyle:
        law, inputs, target, frame = boot.law, boot.inputs, boot.target, boot.frame

        def predict(self, at):
            return boot.predict(at).drop(columns="estimate")

    with pytest.raises(ArgumentError, match="expected `estimate`"):
        sp.plot_extrapolation(OldStyle(), {"x": 1e11})


def test_extrapolation_rejects_targets_without_inputs(chin):
    _, boot = chin
    with pytest.raises(ArgumentError, match="lacks a value for input `D`"):
        sp.plot_extrapolation(boot, {"N": 7e10})
    with pytest.raises(ArgumentError, match="`fit` must be a FitResult"):
        sp.plot_extrapolation(object())


def test_residuals_parity_marginals_and_starts(chin):
    fit, boot = chin
    fig = sp.plot_residuals(boot)
    assert len([a for a in fig.axes if a.get_visible()]) == 3  # N, D, fitted value
    assert "log(pred/obs)" in fig.axes[0].get_ylabel()
    render(fig)
    render(sp.plot_parity(boot))
    fig = sp.plot_bootstrap_marginals(boot)
    assert len([a for a in fig.axes if a.get_visible()]) == 5
    render(fig)
    with pytest.raises(ArgumentError, match="no bootstrap"):
        sp.plot_bootstrap_marginals(fit)
    render(sp.plot_start_objectives(fit))


def test_compute_frontier(chin, power):
    _, boot = chin
    fig = sp.plot_compute_frontier(boot, budgets=[5.76e23, 1e24])
    a1, a2 = fig.axes[:2]
    assert a1.get_xscale() == a2.get_xscale() == "log"
    assert bands(a1) and bands(a2)
    assert "FLOPs" in a1.get_xlabel()
    render(fig)
    with pytest.raises(ArgumentError, match="Chinchilla-type"):
        sp.plot_compute_frontier(power[0])


# ------------------------------------------------------------------------------ sampling
N = np.geomspace(100, 1e4, 30)
PRED = 1 - 0.3 * (N / 100) ** -0.35


def test_sampling_curve_from_arrays_and_frame():
    fig = sp.plot_sampling_curve(N, PRED, PRED - 0.03, np.minimum(PRED + 0.03, 1.0), observed_N=[1, 10, 100],
                                 observed=[0.1, 0.4, 0.7], observed_lower=[0.05, 0.3, 0.6],
                                 observed_upper=[0.15, 0.5, 0.8], model_N=np.geomspace(1, 1e4, 50),
                                 model=np.linspace(0.1, 0.95, 50), budget=1500, budget_interval=(900, 3000),
                                 rate=0.9, targets=pd.DataFrame({"N": [1000], "estimate": [0.87],
                                                                         "lower": [0.85], "upper": [0.89]}),
                                 extrapolate_from=100, level=0.95)
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.get_ylabel() == "ASR@N"
    assert bands(ax)
    legend = " | ".join(t.get_text() for t in ax.get_legend().get_texts())
    assert "budget N = 1500" in legend and "target: ASR@1000 = 0.870 [0.850, 0.890]" in legend
    render(fig)
    frame = pd.DataFrame({"N": N, "prediction": PRED, "lower": PRED - 0.02, "upper": PRED + 0.01})
    fig = sp.plot_sampling_curve(frame, metric="pass", yscale="neglog")
    assert fig.axes[0].get_yscale() == "log" and "pass@N" in fig.axes[0].get_ylabel()
    render(fig)


def test_sampling_curve_validates():
    with pytest.raises(ArgumentError, match="`lower` has 3 values; expected 30"):
        sp.plot_sampling_curve(N, PRED, [0.1, 0.2, 0.3], PRED)
    with pytest.raises(ArgumentError, match="`N` must hold finite values > 0"):
        sp.plot_sampling_curve(-N, PRED)
    with pytest.raises(ArgumentError, match="`yscale`"):
        sp.plot_sampling_curve(N, PRED, yscale="logit")


def test_backtest_parity_and_curve():
    df = pd.DataFrame({"N": [20, 50, 100], "predicted": [0.45, 0.55, 0.62], "lower": [0.4, 0.5, 0.56],
                       "upper": [0.5, 0.6, 0.7], "empirical": [0.47, 0.58, 0.75]})
    fig = sp.plot_backtest(df, level=0.95)
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "empirical outside interval" in legend  # 0.75 > 0.70
    render(fig)
    render(sp.plot_backtest(df, kind="curve"))
    with pytest.raises(ArgumentError, match=r"lacks column\(s\) \['empirical'\]"):
        sp.plot_backtest(df.drop(columns="empirical"))


def test_passuntil_plot():
    Ns = np.array([1e8, 3e8, 1e9, 3e9, 1e10])
    pu = np.exp(-np.exp(8.9 - 0.35 * np.log(Ns)))
    grid = np.geomspace(1e8, 3e10, 40)
    fit = np.exp(-np.exp(8.9 - 0.35 * np.log(grid)))
    fig = sp.plot_passuntil(Ns, pu, lower=pu * 0.5, upper=np.minimum(pu * 1.5, 0.99), fit_N=grid, fit=fit,
                            fit_lower=fit * 0.7, fit_upper=np.minimum(fit * 1.3, 0.999), target_N=3e10, level=0.95)
    assert fig.axes[0].get_ylabel() == "F = log(−log PU)" and bands(fig.axes[0])
    render(fig)
    fig = sp.plot_passuntil(Ns, loglog=np.log(-np.log(pu)), scale="pu")
    assert fig.axes[0].get_yscale() == "log"
    render(fig)
    with pytest.raises(ArgumentError, match="exactly one of `pu` and `loglog`"):
        sp.plot_passuntil(Ns)


# ------------------------------------------------------------------------------ posterior
@pytest.fixture(scope="module")
def idata():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        import arviz as az
    rng = np.random.default_rng(0)
    post = {"alpha": rng.normal(0.34, 0.02, (2, 200)), "beta": rng.normal(0.28, 0.02, (2, 200)),
            "E": rng.normal(1.8, 0.05, (2, 200)), "curve": rng.normal(2.0, 0.1, (2, 200, 3))}
    stats = {"diverging": rng.random((2, 200)) < 0.02}
    return az.from_dict(posterior=post, sample_stats=stats)


def test_posterior_marginals_pairs_trace(idata):
    fig = sp.plot_posterior_marginals(idata, ref_val={"alpha": 0.34})
    assert len([a for a in fig.axes if a.get_visible()]) == 3  # scalars only by default
    render(fig)
    fig = sp.plot_posterior_pairs(idata, ["alpha", "beta"])
    assert len(fig.axes) == 3  # two marginals and one joint panel (arviz drops the empty corner)
    render(fig)
    fig = sp.plot_posterior_trace(idata, ["alpha", "E"])
    assert len(fig.axes) == 4
    render(fig)


def test_posterior_plots_validate(idata):
    with pytest.raises(ArgumentError, match=r"`var_names` \['gamma'\] not in the posterior"):
        sp.plot_posterior_marginals(idata, ["gamma"])
    with pytest.raises(ArgumentError, match="`idata` must be an arviz InferenceData"):
        sp.plot_posterior_pairs({"alpha": [1, 2]})


# ------------------------------------------------------------------------------ style
def test_plots_leave_global_state_alone(power):
    before = dict(matplotlib.rcParams)
    backend = matplotlib.get_backend()
    sp.plot_extrapolation(power[1], {"x": 1e11})
    sp.plot_sampling_curve(N, PRED)
    assert matplotlib.get_backend() == backend
    changed = {k for k, v in matplotlib.rcParams.items() if k in before and before[k] != v}
    assert not changed


def test_palette_is_okabe_ito():
    assert sp.PALETTE["blue"] == "#0072B2" and sp.PALETTE["vermillion"] == "#D55E00"
    with sp.style():
        cycle = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]
    assert set(cycle) <= set(sp.PALETTE.values())
