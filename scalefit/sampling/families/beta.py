"""``beta``: p ~ Beta(a, b) (the SABER / Schaeffer model); tail g(p) ~ p^(a-1)."""

from __future__ import annotations

import numpy as np

from ._common import BETA_PAIR_PRIOR_TEXT, beta_cell_masses, beta_derivs, beta_kernel, moments, prior_beta_pair
from .registry import MixingFamily


def _starts(n, k, W):
    mu, s = moments(n, k, W)
    lmu, l1mu = np.log(mu), np.log1p(-mu)
    return [np.stack([lmu + np.log(s), l1mu + np.log(s)], 1),
            np.stack([lmu + np.log(2.0), l1mu + np.log(2.0)], 1)]


FAMILY = MixingFamily(
    name="beta",
    param_names=("a", "b"),
    transforms=("log", "log"),
    prior=lambda t: prior_beta_pair(t[0], t[1]),
    starts=_starts,
    description="p ~ Beta(a, b)",
    prior_text=f"{BETA_PAIR_PRIOR_TEXT}  (docs/bayes.md#default-priors widened x2)",
    log_kernel=lambda t, n, k: beta_kernel(t[0], t[1], n, k),
    row_derivs=lambda t, n, k, aux: beta_derivs(t, n, k),
    cell_masses=lambda p: beta_cell_masses(p["a"], p["b"]),
)
