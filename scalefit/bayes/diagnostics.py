"""MCMC diagnostics that gate a posterior fit (docs/bayes.md#diagnostics), computed with ArviZ.

* rank-normalised split R-hat <= 1.01 for every parameter and key derived quantity (``az.rhat``);
* bulk- and tail-ESS >= 400 in total (``az.ess``), with the MCSE of the median (``az.mcse``);
* zero divergent transitions after warm-up;
* E-BFMI >= 0.3 in every chain (``az.bfmi``);
* no systematic saturation of the maximum tree depth (at most 10% of transitions).

A fit that fails any check says so in its ``status`` with a remedy for each failure.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Thresholds:
    rhat_max: float = 1.01
    ess_min: float = 400.0
    divergences_max: int = 0
    bfmi_min: float = 0.3
    treedepth_max_fraction: float = 0.10

    def to_dict(self) -> dict:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


@dataclass(frozen=True)
class Diagnostics:
    """Convergence diagnostics of a posterior fit.

    Attributes
    ----------
    table : DataFrame
        One row per checked quantity: ``r_hat``, ``ess_bulk``, ``ess_tail``, ``mcse_median``.
    divergences : int
        Divergent transitions after warm-up (all chains).
    bfmi : tuple of float
        E-BFMI per chain.
    treedepth_fraction : float
        Fraction of transitions that reached the maximum tree depth.
    num_chains, num_draws : int
    checks : tuple of (name, passed, detail, remedy)
        Every check with its verdict.
    """

    table: pd.DataFrame = field(repr=False)
    divergences: int
    bfmi: tuple
    treedepth_fraction: float
    num_chains: int
    num_draws: int
    thresholds: Thresholds
    checks: tuple

    @property
    def passed(self) -> bool:
        return all(c[1] for c in self.checks)

    @property
    def failures(self) -> list[str]:
        return [c[2] for c in self.checks if not c[1]]

    @property
    def remedies(self) -> list[str]:
        return [c[3] for c in self.checks if not c[1] and c[3]]

    @property
    def status(self) -> str:
        if self.passed:
            return (f"diagnostics passed: R-hat <= {self.thresholds.rhat_max}, ESS >= {self.thresholds.ess_min:g}, "
                    f"{self.divergences} divergences, E-BFMI >= {self.thresholds.bfmi_min}")
        return "DIAGNOSTICS FAILED: " + "; ".join(self.failures)

    def summary(self) -> str:
        lines = [f"diagnostics ({self.num_chains} chains x {self.num_draws} draws):"]
        for name, ok, detail, remedy in self.checks:
            lines.append(f"  [{'PASS' if ok else 'FAIL'}] {name}: {detail}")
            if not ok and remedy:
                lines.append(f"         remedy: {remedy}")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {
            "table": {"index": list(self.table.index), "columns": list(self.table.columns),
                      "data": self.table.to_numpy().tolist()},
            "divergences": int(self.divergences), "bfmi": [float(b) for b in self.bfmi],
            "treedepth_fraction": float(self.treedepth_fraction), "num_chains": int(self.num_chains),
            "num_draws": int(self.num_draws), "thresholds": self.thresholds.to_dict(),
            "checks": [list(c) for c in self.checks],
        }

    @classmethod
    def from_dict(cls, d: Mapping) -> "Diagnostics":
        t = d["table"]
        table = pd.DataFrame(t["data"], index=t["index"], columns=t["columns"], dtype=float)
        return cls(table, int(d["divergences"]), tuple(d["bfmi"]), float(d["treedepth_fraction"]),
                   int(d["num_chains"]), int(d["num_draws"]), Thresholds(**d["thresholds"]),
                   tuple((c[0], bool(c[1]), c[2], c[3]) for c in d["checks"]))


def _fmt_names(names: Sequence[str], limit: int = 4) -> str:
    names = list(names)
    more = f" (+{len(names) - limit} more)" if len(names) > limit else ""
    return ", ".join(names[:limit]) + more


def compute_diagnostics(idata, var_names: Sequence[str], *, thresholds: Thresholds | None = None) -> Diagnostics:
    """Run the gating checks (docs/bayes.md#diagnostics) on ``idata`` for ``var_names`` (parameters and key derived quantities)."""
    import arviz as az

    th = thresholds or Thresholds()
    post = idata.posterior
    n_chains, n_draws = int(post.sizes["chain"]), int(post.sizes["draw"])
    var_names = [v for v in var_names if v in post.data_vars]
    rhat = az.rhat(idata, var_names=var_names)
    ess_b = az.ess(idata, var_names=var_names, method="bulk")
    ess_t = az.ess(idata, var_names=var_names, method="tail")
    mcse = az.mcse(idata, var_names=var_names, method="median")
    rows = {}
    for v in var_names:
        r, b, t, m = (np.atleast_1d(np.asarray(x[v])) for x in (rhat, ess_b, ess_t, mcse))
        if r.size == 1:
            rows[v] = (float(r[0]), float(b[0]), float(t[0]), float(m[0]))
        else:
            for j in range(r.size):
                rows[f"{v}[{j}]"] = (float(r.ravel()[j]), float(b.ravel()[j]), float(t.ravel()[j]), float(m.ravel()[j]))
    table = pd.DataFrame.from_dict(rows, orient="index", columns=["r_hat", "ess_bulk", "ess_tail", "mcse_median"])

    ss = idata.sample_stats
    div = int(np.asarray(ss["diverging"]).sum()) if "diverging" in ss else 0
    bfmi = tuple(float(b) for b in np.atleast_1d(az.bfmi(idata))) if "energy" in ss else ()
    depth_frac = float(np.mean(np.asarray(ss["reached_max_treedepth"]))) if "reached_max_treedepth" in ss else 0.0

    checks = []
    # R-hat needs at least two chains (split R-hat works with one, but cannot see disagreeing chains)
    bad_r = table.index[~(table["r_hat"] <= th.rhat_max)].tolist()
    rmax = float(table["r_hat"].max()) if len(table) else float("nan")
    checks.append((
        "R-hat", not bad_r,
        f"max {rmax:.4f} (threshold {th.rhat_max})" + (f" exceeded for {_fmt_names(bad_r)}" if bad_r else ""),
        "chains disagree: run longer warm-up and more draws (--warmup, --draws); if R-hat stays high the "
        "chains sit in different modes: inspect traces, tighten weakly identified priors or fix parameters",
    ))
    ess_min = float(np.nanmin(table[["ess_bulk", "ess_tail"]].to_numpy())) if len(table) else float("nan")
    bad_e = table.index[~((table["ess_bulk"] >= th.ess_min) & (table["ess_tail"] >= th.ess_min))].tolist()
    checks.append((
        "ESS", not bad_e,
        f"min bulk/tail ESS {ess_min:.0f} (threshold {th.ess_min:g})" + (f" too low for {_fmt_names(bad_e)}" if bad_e else ""),
        "too few effective draws: increase --draws (ESS grows about linearly) or --chains",
    ))
    checks.append((
        "divergences", div <= th.divergences_max,
        f"{div} divergent transition(s) after warm-up",
        "raise target_accept (e.g. 0.95 or 0.99); if divergences persist reparameterise (switch run "
        "effects between centred and non-centred, tighter priors) - a posterior with divergences may be biased",
    ))
    if bfmi:
        low = [i for i, b in enumerate(bfmi) if not b >= th.bfmi_min]
        checks.append((
            "E-BFMI", not low,
            "min {:.2f} (threshold {})".format(min(bfmi), th.bfmi_min) + (f", low in chain(s) {low}" if low else ""),
            "the sampler explores the energy distribution poorly: lengthen warm-up or reparameterise "
            "(heavy tails, funnels between scales and effects)",
        ))
    checks.append((
        "tree depth", depth_frac <= th.treedepth_max_fraction,
        f"{100 * depth_frac:.1f}% of transitions hit the maximum tree depth",
        "increase max_tree_depth or reparameterise strongly correlated parameters",
    ))
    return Diagnostics(table, div, bfmi, depth_frac, n_chains, n_draws, th, tuple(checks))


# ---------------------------------------------------------------------------- PSIS-LOO
def pareto_k_threshold(num_draws: int) -> float:
    """Sample-size-dependent Pareto-k threshold min(1 − 1/log10 S, 0.7) (Vehtari et al. 2024)."""
    return min(1.0 - 1.0 / math.log10(max(num_draws, 11)), 0.7)


@dataclass(frozen=True)
class LooResult:
    """PSIS-LOO estimate with Pareto-k diagnostics (``az.loo``)."""

    elpd: float
    se: float
    p_loo: float
    pareto_k: np.ndarray = field(repr=False)
    k_threshold: float
    n_bad_k: int

    @property
    def reliable(self) -> bool:
        return self.n_bad_k == 0

    @property
    def message(self) -> str:
        if self.reliable:
            return f"all Pareto k < {self.k_threshold:.2f}"
        return (f"{self.n_bad_k} point(s) with Pareto k >= {self.k_threshold:.2f}: their LOO terms are unreliable "
                "(refit without them or use K-fold)")


def loo(idata, *, pointwise: bool = True) -> LooResult:
    """PSIS-LOO with ArviZ, applying the sample-size-dependent Pareto-k threshold explicitly."""
    import warnings

    import arviz as az

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # arviz warns at k > 0.7 only; the threshold is applied below
        res = az.loo(idata, pointwise=pointwise)
    S = int(idata.posterior.sizes["chain"] * idata.posterior.sizes["draw"])
    k = np.asarray(res.pareto_k) if pointwise else np.array([])
    thr = pareto_k_threshold(S)
    return LooResult(float(res.elpd_loo), float(res.se), float(res.p_loo), k, thr, int(np.sum(k >= thr)))
