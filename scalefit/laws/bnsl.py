"""Broken neural scaling laws (Caballero et al. 2022; docs/laws.md#broken-neural-scaling-laws).

y(x) = a + b·x^(−c0)·Π_i (1 + (x/d_i)^(1/f_i))^(−c_i·f_i), evaluated in log space as
log(y − a) = log b − c0·log x − Σ_i c_i·f_i·softplus((log x − log d_i)/f_i)
and log y = logaddexp(log a, log(y − a)).
"""

from __future__ import annotations

import itertools
import math

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import ArgumentError
from ..params import DataRef, Param, ParamSpec, Prior
from ._base import ScalingLaw, register_law


def bnsl_log_reducible(t, logx, n_breaks: int):
    out = t["log_b"] - t["c0"] * logx
    for i in range(1, n_breaks + 1):
        f = jnp.exp(t[f"log_f{i}"])
        out = out - t[f"c{i}"] * f * jax.nn.softplus((logx - t[f"log_d{i}"]) / f)
    return out


@register_law("bnsl")
def bnsl(n_breaks: int = 1) -> ScalingLaw:
    """Broken power law with ``n_breaks`` breaks (default 1)."""
    if not isinstance(n_breaks, int) or n_breaks < 1 or n_breaks > 5:
        raise ArgumentError(f"`n_breaks` = {n_breaks!r} must be an integer from 1 to 5")

    def fn(t, X):
        logx = jnp.log(X["x"])
        return jnp.logaddexp(t["log_a"], bnsl_log_reducible(t, logx, n_breaks))

    # Default priors (docs/bayes.md#default-priors): floor a = u·y_min, u ~ Beta(3, 2); c0 ~ LogNormal(log 0.1, 1);
    # c_i ~ Normal(0, 1); f_i ~ LogNormal(log 0.3, 1) (i.e. log f_i ~ Normal(log 0.3, 1));
    # log d_i ~ Uniform(log x_min − 1, log x_max + 3); b through y − a at the reference scale
    # (before the breaks' factors, hence the wider scale 2).
    params = [
        Param("log_a", "log a", natural="a", doc="limit value", prior=Prior.floor_fraction(3.0, 2.0)),
        Param("log_b", "log b", natural="b", doc="offset on log-log axes",
              prior=Prior.reference_amplitude("x", "c0", fraction=0.3, scale=2.0)),
        Param("c0", "c0", doc="initial log-log slope of y − a", prior=Prior.lognormal(math.log(0.1), 1.0)),
    ]
    for i in range(1, n_breaks + 1):
        params += [
            Param(f"c{i}", f"c{i}", doc=f"change of slope at break {i}", prior=Prior.normal(0.0, 1.0)),
            Param(f"log_d{i}", f"log d{i}", natural=f"d{i}", doc=f"location of break {i}",
                  prior=Prior.uniform(DataRef("log_x_min", "x", -1.0), DataRef("log_x_max", "x", 3.0))),
            Param(f"log_f{i}", f"log f{i}", natural=f"f{i}", doc=f"sharpness of break {i} (smaller = sharper)",
                  prior=Prior.normal(math.log(0.3), 1.0)),
        ]
    spec = ParamSpec(tuple(params))

    def grid(X, y):
        logx = np.log(np.asarray(X["x"], dtype=np.float64))
        y = np.asarray(y, dtype=np.float64)
        lo, hi = float(logx.min()), float(logx.max())
        ymin = float(y.min())
        a_vals = [math.log(max(f * ymin, 1e-12)) for f in (1e-3, 0.3, 0.7, 0.95)]
        c0_vals = (0.0, 0.1, 0.5)
        ci_vals = (0.5, 2.0, 6.0)
        d_vals = list(np.linspace(lo, hi, 5)[1:-1]) + [hi + 0.5 * (hi - lo) + 0.1]
        f_vals = (math.log(0.05), math.log(0.3), math.log(1.0))
        rows = []
        for la, c0, ci, ld, lf in itertools.product(a_vals, c0_vals, ci_vals, d_vals, f_vals):
            theta = {"log_a": la, "c0": c0}
            # match b at the smallest x, where the breaks have little effect
            red0 = max(float(y[np.argmin(logx)]) - math.exp(la), 1e-3 * float(y[np.argmin(logx)]))
            theta["log_b"] = math.log(red0) + c0 * lo
            for i in range(1, n_breaks + 1):
                theta[f"c{i}"] = ci
                theta[f"log_d{i}"] = ld + (i - 1) * 0.5 * (hi - lo)
                theta[f"log_f{i}"] = lf
            rows.append([theta[n] for n in spec.names])
        return np.array(rows, dtype=np.float64)

    return ScalingLaw(
        name="bnsl",
        title="broken neural scaling law",
        inputs=("x",),
        params=spec,
        fn=fn,
        formula="y = a + b·x^(−c0)·Π_i (1 + (x/d_i)^(1/f_i))^(−c_i·f_i)",
        grid_fn=grid,
        default_loss="squared",
        source="Caballero et al. 2022, Eq. 1; docs/laws.md#broken-neural-scaling-laws",
        description=f"broken neural scaling law with {n_breaks} break(s)",
        options={"n_breaks": n_breaks},
    )
