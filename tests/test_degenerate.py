"""Degenerate data are flagged, never silently fitted (issue 11, item 4).

Each case either raises the package's own error naming what the user wrote, or returns a fit
whose verdict is "not converged" with the reason in ``status``, which ``scalefit fit`` prints
and the report puts on its warning banner.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import scalefit
from scalefit.cli import main
from scalefit.errors import ArgumentError, ScalefitError
from scalefit.fit import FitResult, fit_law
from scalefit.sampling import fit_beta_binomial, fit_bon, pass_at_k_interval

scalefit.enable_x64()

SIZES = np.array([1e6, 1e7, 1e8, 1e9, 1e10])


def _curve(N, loss):
    return pd.DataFrame({"N": np.asarray(N, float), "loss": np.asarray(loss, float)})


def _csv(tmp_path, frame, name="curve.csv"):
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return str(path)


def _fit(frame):
    return fit_law(frame, "power_law", inputs={"x": "N"}, target="loss")


# --------------------------------------------------------------------------- point fits
def test_flat_target_is_unidentified_with_the_column_and_value():
    res = _fit(_curve(SIZES, [2.5] * 5))
    assert not res.converged and not res.identified
    assert "`loss`" in res.status and "2.5" in res.status and "flat" in res.status


def test_single_distinct_input_is_unidentified():
    res = _fit(_curve([1e8] * 5, [2.5, 2.6, 2.4, 2.55, 2.45]))
    assert not res.converged and not res.identified
    assert "`N`" in res.status and "single distinct value (1e+08)" in res.status


def test_fewer_distinct_inputs_than_free_parameters_is_unidentified():
    # power_law has 3 free parameters (a, alpha, e); 2 distinct sizes fit exactly a 1-D family
    res = _fit(_curve([1e8, 1e8, 1e9, 1e9, 1e8], [2.5, 2.6, 2.4, 2.3, 2.45]))
    assert not res.converged and not res.identified
    assert "only 2 distinct values" in res.status and "3 free parameters" in res.status


def test_fixing_a_parameter_makes_two_sizes_enough():
    # with `e` fixed, 2 free parameters and 3 distinct sizes: identified (the check counts free ones)
    frame = _curve([1e8, 1e9, 1e10] * 2, np.array([2.5, 2.3, 2.2, 2.51, 2.29, 2.21]))
    res = fit_law(frame, "power_law", inputs={"x": "N"}, target="loss", fixed={"e": 0.5})
    assert res.identified, res.status


def test_rank_deficient_chinchilla_design_is_unidentified():
    # 3 sizes x 2 token counts: 6 distinct points for 5 free parameters, so the count check passes,
    # but E + A/N^alpha + B/D^beta on a 3 x 2 grid is an additive table with 3 + 2 - 1 = 4 degrees
    # of freedom: the Jacobian has rank 4 < 5 at any estimate
    N, D = np.meshgrid([1e8, 1e9, 1e10], [1e10, 1e11])
    N, D = N.ravel(), D.ravel()
    rng = np.random.default_rng(0)
    loss = (1.7 + 400 * N ** -0.34 + 410 * D ** -0.28) * np.exp(0.01 * rng.standard_normal(N.size))
    res = fit_law(pd.DataFrame({"N": N, "D": D, "value": loss}), "chinchilla")
    assert not res.converged and not res.identified, res.status
    assert "rank-deficient" in res.status or "do not change" in " ".join(res.warnings)


def test_well_posed_fit_stays_identified():
    rng = np.random.default_rng(1)
    N = np.geomspace(1e6, 1e10, 12)
    loss = (1.7 + 400 * N ** -0.3) * np.exp(0.01 * rng.standard_normal(N.size))
    res = _fit(_curve(N, loss))
    assert res.converged and res.identified, res.status


def test_overflowing_magnitudes_are_flagged_without_numpy_warnings():
    N = [1e290, 2e290, 4e290, 8e290, 1.6e291]
    loss = [1e299, 5e298, 3e298, 2e298, 1.5e298]
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # a raw numpy warning would fail here
        res = _fit(_curve(N, loss))
        text = res.summary()
    assert not res.converged
    assert "overflow" in res.status and "rescale" in res.status
    assert "NOT CONVERGED" in text


def test_unidentified_verdict_survives_json(tmp_path):
    res = _fit(_curve([1e8] * 5, [2.5, 2.6, 2.4, 2.55, 2.45]))
    back = FitResult.from_json(res.to_json())
    assert not back.converged and not back.identified and back.status == res.status


# --------------------------------------------------------------------------- CLI
@pytest.mark.parametrize("N, loss, needle", [
    (SIZES, [2.5] * 5, "column `loss` has the same value (2.5)"),
    ([1e8] * 5, [2.5, 2.6, 2.4, 2.55, 2.45], "input column `N` has a single distinct value"),
])
def test_cli_fit_prints_the_unidentified_verdict(tmp_path, capsys, N, loss, needle):
    path = _csv(tmp_path, _curve(N, loss))
    assert main(["fit", path, "--law", "power_law", "--x", "N"]) == 0
    out = capsys.readouterr().out
    assert "NOT CONVERGED (UNIDENTIFIED)" in out and needle in out
    # --strict turns the verdict into a failing exit code
    assert main(["fit", path, "--law", "power_law", "--x", "N", "--strict"]) == 3


def test_report_banner_shows_the_unidentified_reason(tmp_path):
    pytest.importorskip("pypdf")
    import matplotlib

    matplotlib.use("Agg")
    from scalefit.report.fitresult import fit_warnings

    res = _fit(_curve(SIZES, [2.5] * 5))
    warns, _ = fit_warnings(res, pd.DataFrame())
    assert any("UNIDENTIFIED" in w and "`loss`" in w for w in warns)


# --------------------------------------------------------------------------- best-of-N / pass@k
def test_pass_at_k_interval_on_a_single_item_is_an_error():
    with pytest.raises(ArgumentError, match="only 1 problem"):
        pass_at_k_interval([20], [5], 4)


def test_bon_fit_on_a_single_item_is_an_error():
    with pytest.raises(ArgumentError, match="only 1 item"):
        fit_bon([100], [7], select_bootstrap=0)


def test_bon_fit_when_every_attempt_succeeded_is_an_error():
    with pytest.raises(ArgumentError, match="every attempt"):
        fit_bon([50] * 20, [50] * 20, select_bootstrap=0)


def test_beta_binomial_on_a_single_item_is_not_converged():
    fit = fit_beta_binomial([20], [5])
    assert not fit.converged and "single problem" in fit.message


def test_cli_passk_and_bon_fit_on_a_single_item_are_user_errors(tmp_path, capsys):
    path = _csv(tmp_path, pd.DataFrame({"item": [0], "n": [100], "k": [7]}), "one.csv")
    for argv in (["passk", path, "--k", "1,10"], ["bon", "fit", path]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert err.startswith("scalefit: error:") and "only 1" in err and "Traceback" not in err


def test_cli_bon_fit_when_every_attempt_succeeded_is_a_user_error(tmp_path, capsys):
    path = _csv(tmp_path, pd.DataFrame({"item": range(10), "n": [50] * 10, "k": [50] * 10}), "all.csv")
    assert main(["bon", "fit", path]) == 2
    assert "every attempt" in capsys.readouterr().err


def test_errors_are_scalefit_errors():
    assert issubclass(ArgumentError, ScalefitError)
