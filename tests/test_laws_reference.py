"""Closed-form reference values for the loss-curve laws (METHODS.md §1)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from scalefit import compute_for_loss, compute_optimal, get_law
from scalefit.allocation import allocation_constants
from scalefit.laws import overtraining_cm_params, overtraining_loss_cm

LOG = math.log


def printed(x: float, ref: float, sig: int = 6) -> bool:
    """``x`` equals ``ref`` at the ``sig`` significant digits the METHODS table prints."""
    return float(f"{x:.{sig - 1}e}") == pytest.approx(ref, rel=1e-12)


def test_T1_2a_kaplan_L_of_N():
    law = get_law("kaplan_n")
    got = law.evaluate({"log_xc": LOG(8.8e13), "alpha": 0.076}, x=[1e8, 1e9, 1e10])
    np.testing.assert_allclose(got, [2.829963, 2.375640, 1.994255], atol=1e-6)
    direct = (8.8e13 / np.array([1e8, 1e9, 1e10])) ** 0.076
    np.testing.assert_allclose(got, direct, rtol=1e-12)


def test_T1_2b_kaplan_L_of_D():
    law = get_law("kaplan_d")
    got = law.evaluate({"log_xc": LOG(5.4e13), "alpha": 0.095}, x=[1e9, 1e10, 1e11])
    np.testing.assert_allclose(got, [2.815642, 2.262442, 1.817931], atol=1e-6)


def test_T1_2c_kaplan_joint_direct_and_lse_forms_agree():
    law = get_law("kaplan_nd")
    p = {"log_Nc": LOG(6.4e13), "log_Dc": LOG(1.8e13), "alpha_N": 0.076, "alpha_D": 0.103}
    N = np.array([1e9, 1e8, 1.5e9])
    D = np.array([2e10, 1e9, 2.3e10])
    got = law.evaluate(p, N=N, D=D)
    np.testing.assert_allclose(got, [2.373882, 2.956734, 2.310064], atol=1e-6)
    direct = ((6.4e13 / N) ** (0.076 / 0.103) + 1.8e13 / D) ** 0.103
    np.testing.assert_allclose(got, direct, rtol=1e-12)


def test_T1_2d_kaplan_L_of_C_min_in_pf_days():
    law = get_law("kaplan_c")
    got = law.evaluate({"log_xc": LOG(3.1e8), "alpha": 0.050}, x=[1.0])
    assert abs(got[0] - 2.658080) < 1e-6


HOFF_ROUNDED = dict(E=1.69, A=406.4, B=410.7, alpha=0.34, beta=0.28)
HOFF_TEX = dict(E=math.exp(0.5267228), A=math.exp(6.0073404), B=math.exp(6.0179186), alpha=0.33917084, beta=0.2849083)
BESIROGLU = dict(E=1.8172, A=482.01, B=2085.43, alpha=0.3478, beta=0.3658)


@pytest.mark.parametrize(
    "tid, params, C, G, a, N_opt, D_opt, DN, L",
    [
        ("T1.5a", HOFF_ROUNDED, 5.76e23, 1.34471, 0.451613, 3.21899e10, 2.98231e12, 92.647, 1.930748),
        ("T1.5b", HOFF_TEX, 5.76e23, 1.30005, 0.456526, 4.03609e10, 2.37854e12, 58.932, 1.918412),
        ("T1.5c", BESIROGLU, 5.76e23, 0.11963, 0.512612, 7.22487e10, 1.32874e12, 18.391, 1.974441),
        ("T1.5d", BESIROGLU, 1e24, 0.11963, 0.512612, 9.58607e10, 1.73863e12, 18.137, 1.959712),
    ],
)
def test_T1_5_compute_optimal_allocation(tid, params, C, G, a, N_opt, D_opt, DN, L):
    k = allocation_constants(params)
    row = compute_optimal(params, C).iloc[0]
    # the table prints 5-7 significant digits: values must agree at the printed precision
    assert printed(k["G"], G, 6), (tid, k["G"])
    assert printed(k["a"], a, 6), (tid, k["a"])
    assert printed(row.N_opt, N_opt, 6), (tid, row.N_opt)
    assert printed(row.D_opt, D_opt, 6), (tid, row.D_opt)
    assert printed(row.tokens_per_param, DN, 5), (tid, row.tokens_per_param)
    assert printed(row.loss, L, 7), (tid, row.loss)
    # round trip C(L*(C)) = C to 1e-10
    assert compute_for_loss(params, row.loss)[0] == pytest.approx(C, rel=1e-10)


def test_T1_5_numeric_minimisation_matches_closed_form():
    """T1.5 (row d): a bounded 1-D minimisation along 6ND = C reproduces N_opt to 1e-6."""
    from scipy.optimize import minimize_scalar

    p, C = BESIROGLU, 1e24

    def reducible(logN):
        N = math.exp(logN)
        return p["A"] * N ** -p["alpha"] + p["B"] * (C / (6 * N)) ** -p["beta"]

    r = minimize_scalar(reducible, bounds=(LOG(1e9), LOG(1e13)), method="bounded",
                        options={"xatol": 1e-12})
    assert math.exp(r.x) == pytest.approx(compute_optimal(p, C).N_opt[0], rel=1e-6)
    assert compute_optimal(p, C).N_opt[0] == pytest.approx(9.58607e10, rel=1e-6)


def test_T1_5_loss_values_at_named_models():
    law = get_law("chinchilla")

    def theta(q):
        return dict(a=LOG(q["A"]), b=LOG(q["B"]), e=LOG(q["E"]), alpha=q["alpha"], beta=q["beta"])

    got = law.evaluate(theta(HOFF_ROUNDED), N=[70e9, 280e9], D=[1.4e12, 300e9])
    np.testing.assert_allclose(got, [1.936645, 1.993258], atol=1e-6)
    assert law.evaluate(theta(BESIROGLU), N=70e9, D=1.4e12)[0] == pytest.approx(1.973882, abs=1e-6)


def test_T1_6a_bnsl_three_breaks_closed_form():
    law = get_law("bnsl", n_breaks=3)
    c = (0.05, 0.49, -0.811, 2.1)
    d = (3e6, 1e14, 2e20)
    f = (1.1, 1.425, 0.05)
    p = {"log_a": LOG(1e-3), "log_b": LOG(4.66e3), "c0": c[0]}
    for i in range(3):
        p[f"c{i + 1}"] = c[i + 1]
        p[f"log_d{i + 1}"] = LOG(d[i])
        p[f"log_f{i + 1}"] = LOG(f[i])
    x = np.array([1.0, 1e7, 1e15, 1e22, 1e25])
    got = law.evaluate(p, x=x)
    expected = [4659.9977523, 987.64330515, 0.44170526380, 8.6267505673e-3, 1.0000248507e-3]
    np.testing.assert_allclose(got, expected, rtol=1e-9)
    reducible = 4.66e3 * x ** -c[0]
    for i in range(3):
        reducible = reducible * (1 + (x / d[i]) ** (1 / f[i])) ** (-c[i + 1] * f[i])
    np.testing.assert_allclose(got, 1e-3 + reducible, rtol=1e-10)


def test_T1_8a_overtraining_N_D_and_C_M_forms_agree():
    E, A, B, alpha = 1.8, 300.0, 500.0, 0.30
    law = get_law("overtraining")
    cm = overtraining_cm_params(E, A, B, alpha)
    for C, M, expected in [(1e20, 20.0, 2.8325609677), (1e21, 640.0, 2.7081356646)]:
        N = math.sqrt(C / (6 * M))
        D = math.sqrt(C * M / 6)
        nd = law.evaluate(dict(a=LOG(A), b=LOG(B), e=LOG(E), alpha=alpha), N=N, D=D)[0]
        cmv = float(overtraining_loss_cm(C, M, E=cm["E"], a=cm["a"], b=cm["b"], eta=cm["eta"]))
        assert nd == pytest.approx(expected, rel=1e-10)
        assert cmv == pytest.approx(expected, rel=1e-10)


def test_T1_8b_gadre_error_link():
    law = get_law("error_link")
    got = law.evaluate(dict(eps=0.85, log_k=LOG(2.0), log_gamma=LOG(0.9)), L=3.0)[0]
    assert got == pytest.approx(0.7155889745, rel=1e-9)


def test_T1_8d_olmo_sigmoid():
    law = get_law("sigmoid")
    got = law.evaluate(dict(s=-0.75, log_k=LOG(3.0), L0=0.9, t=1.0), L=0.8)[0]
    assert got == pytest.approx(0.6808318876, rel=1e-9)
