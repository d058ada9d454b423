"""``beta``: p ~ Beta(a, b) (the SABER / Schaeffer model); tail g(p) ~ p^(a-1)."""

from __future__ import annotations

import numpy as np

from ._common import beta_cell_masses, beta_derivs, beta_kernel, beta_sampler_kernel, moments, pair_params
from .registry import MixingFamily


def _starts(n, k, W):
    mu, s = moments(n, k, W)
    lmu, l1mu = np.log(mu), np.log1p(-mu)
    return [np.stack([lmu + np.log(s), l1mu + np.log(s)], 1),
            np.stack([lmu + np.log(2.0), l1mu + np.log(2.0)], 1)]


FAMILY = MixingFamily(
    name="beta", description="p ~ Beta(a, b)", **pair_params([("a", "b")]), starts=_starts,
    log_kernel=lambda t, n, k: beta_kernel(t[0], t[1], n, k),
    sampler_kernel=lambda t, n, k: beta_sampler_kernel(t[0], t[1], n, k),
    row_derivs=lambda t, n, k, aux: beta_derivs(t, n, k),
    cell_masses=lambda p: beta_cell_masses(p["a"], p["b"]),
)
