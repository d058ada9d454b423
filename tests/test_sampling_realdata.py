"""Repeated-sampling fits on the real public data in ../shared/data/repeated_sampling (T2.4/T2.5 on real data).

Large Language Monkeys (Pythia on 128 MATH problems, 10,000 samples each) and Best-of-N
Jailbreaking (Llama-3-8B-Instruct on 159 HarmBench behaviours; first batch of 60 attempts).
Reference facts from SOURCE.md: coverage at 10,000 samples 0.27 / 0.66 / 0.74 / 0.84 (70M, 410M,
1B, 6.9B); ASR@60 = 0.667, ASR@600 = 0.962, ASR@1020 = 0.975.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from scalefit.sampling import (
    asr_conditional,
    asr_exact,
    fit_beta_binomial,
    mean_pass_at_k,
    observed_asr,
    pass_at_k,
)

pytestmark = pytest.mark.shared_data


def test_T2_4_monkeys_pythia_coverage_and_beta_binomial_fits(shared_data):
    """T2.4 (real data): exact coverage@10k matches SOURCE.md; the Beta-Binomial MLE converges on
    n = 10,000 counts and its population ASR@10k is close to the observed coverage."""
    d = pd.read_csv(shared_data / "repeated_sampling" / "pythia_math_final_counts.csv")
    expected = {"Pythia 70M": 0.27, "Pythia 410M": 0.66, "Pythia 1B": 0.74, "Pythia 6.9B": 0.84}
    for model, cov in expected.items():
        g = d[d.model == model]
        n, c = g.n_samples.to_numpy(), g.n_correct.to_numpy()
        got = mean_pass_at_k(n, c, 10_000)
        assert got == pytest.approx(cov, abs=0.006)
        assert got == pytest.approx(np.mean(c > 0), abs=1e-15)  # k = n: solved at least once
        fit = fit_beta_binomial(n, c)
        assert fit.converged, (model, fit.message)
        assert float(asr_exact(10_000, fit.a, fit.b)) == pytest.approx(got, abs=0.02)
        # pass@k curve consistency: the fitted model tracks the unbiased estimate at k = 100
        assert float(asr_exact(100, fit.a, fit.b)) == pytest.approx(mean_pass_at_k(n, c, 100), abs=0.03)
        assert np.all(np.diff(pass_at_k(n[:3, None], c[:3, None], np.array([[1, 10, 100]])), axis=1) >= 0)


def test_T2_5_bon_jailbreak_first_batch(shared_data):
    """T2.5 (real data): ASR@60 = 0.667 from the fully observed first batch; the fit converges and
    the exact conditional estimator is within 0.07 of the realised ASR@600 and ASR@1020."""
    path = shared_data / "repeated_sampling" / "bon_llama3_8b_instruct_attempts.jsonl"
    rows = pd.DataFrame([json.loads(line) for line in path.open()])
    first = rows[rows.n < 60].groupby("i").flagged.sum().reindex(range(159)).to_numpy()
    assert observed_asr(first) == pytest.approx(0.667, abs=5e-4)
    fit = fit_beta_binomial(60, first)
    assert fit.converged and not fit.at_boundary
    first_success = rows[rows.flagged].groupby("i").n.min().reindex(range(159)).to_numpy()
    for N, realised in [(600, 0.962), (1020, 0.975)]:
        assert np.mean(first_success < N) == pytest.approx(realised, abs=5e-4)
        assert asr_conditional(N, 60, first, fit.a, fit.b) == pytest.approx(realised, abs=0.07)
