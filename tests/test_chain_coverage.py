"""Recovery and interval coverage of the chained fit on simulated ladders with known two-step
parameters (T9-style calibration check of the paired bootstrap with residual noise).

Each simulated ladder: 5 model sizes x 3 token multipliers, 2 checkpoints per run; loss from
the over-training law with log-normal noise, error from Gadre's error link of that loss plus
normal noise.  The chain is fitted with a few paired replicates per ladder and asked for the
90% interval of (a) what a new run at 4x the largest size reports and (b) the chained curve
there; over independent ladders the number of hits is Binomial(n, coverage) and a correct
90% interval lands in the central 99% band of Binomial(n, 0.9)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import binom

from scalefit import fit_chain, get_law

TRUE1 = dict(a=np.log(300.0), b=np.log(900.0), e=np.log(1.8), alpha=0.32)
TRUE2 = dict(eps=0.9, log_k=np.log(3.0), log_gamma=np.log(1.2))
SD_LOSS, SD_ERR = 0.01, 0.004
N_NEW, D_NEW = 2e9, 4e10
LEVEL = 0.9


def _ladder(rng):
    law1, law2 = get_law("overtraining"), get_law("error_link")
    rows = []
    for N in (2e7, 5e7, 1e8, 2e8, 5e8):
        for m in (5, 20, 80):
            for frac in (0.5, 1.0):
                D = m * N * frac
                L = law1.evaluate(TRUE1, N=N, D=D)[0] * np.exp(rng.normal(0, SD_LOSS))
                err = law2.evaluate(TRUE2, L=L)[0] + rng.normal(0, SD_ERR)
                rows.append(dict(run=f"N{N:.0e}-m{m}", N=N, D=D, step=frac, loss=L, err=err))
    return pd.DataFrame(rows)


def test_chain_recovers_known_parameters_and_its_intervals_cover():
    law1, law2 = get_law("overtraining"), get_law("error_link")
    L_true = law1.evaluate(TRUE1, N=N_NEW, D=D_NEW)[0]
    curve_true = law2.evaluate(TRUE2, L=L_true)[0]
    n_sim = 40
    hits_new = hits_curve = hits_alpha = 0
    alphas = []
    for s in range(n_sim):
        rng = np.random.default_rng(1000 + s)
        df = _ladder(rng)
        # the new run's own noise, drawn like the ladder's
        L_new = L_true * np.exp(rng.normal(0, SD_LOSS))
        y_new = law2.evaluate(TRUE2, L=L_new)[0] + rng.normal(0, SD_ERR)
        res = fit_chain(df, "overtraining", "error_link", intermediate="loss", target="err",
                        num_bootstrap=100, seed=s, level=LEVEL)
        assert res.step1.converged and res.step2.converged
        p = res.predict(N_NEW, D_NEW).iloc[0]
        hits_new += p["lower"] <= y_new <= p["upper"]
        hits_curve += p["mean_lower"] <= curve_true <= p["mean_upper"]
        a = res.step1.bootstrap.param("alpha")
        lo, hi = np.quantile(a, [(1 - LEVEL) / 2, 1 - (1 - LEVEL) / 2])
        hits_alpha += lo <= TRUE1["alpha"] <= hi
        alphas.append(res.step1.params["alpha"])
    # central 99% band of Binomial(40, 0.9): a correct 90% interval fails this 1% of the time
    lo_band, hi_band = binom.ppf(0.005, n_sim, LEVEL), binom.ppf(0.995, n_sim, LEVEL)
    for name, hits in (("new run", hits_new), ("chained curve", hits_curve), ("alpha", hits_alpha)):
        assert lo_band <= hits <= hi_band, (name, hits, n_sim)
    # recovery: the mean estimate of alpha over 40 ladders is within 3 standard errors of the
    # truth (its spread over ladders gives the standard error; no bias is expected at this noise)
    alphas = np.asarray(alphas)
    assert abs(alphas.mean() - TRUE1["alpha"]) < 3 * alphas.std(ddof=1) / np.sqrt(n_sim), alphas
