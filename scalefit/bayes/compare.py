"""Model comparison for interpolation (PSIS-LOO) and extrapolation (leave-future-out).

docs/bayes.md#model-comparison: LOO measures interpolation; for extrapolation hold out the largest-scale runs,
refit on the rest and score the held-out points (log predictive density, ARE, coverage of the
50%/90% predictive intervals).  :func:`compare_laws` does both for several laws and recommends
the law with the best leave-future-out score among the fits whose diagnostics pass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import pandas as pd

from ..errors import ArgumentError
from ..laws import ScalingLaw, get_law
from ..sampling.holdout import split_future


from .diagnostics import LooResult, loo, pareto_k_threshold  # noqa: F401  (part of this module's API)


# ---------------------------------------------------------------------------- leave-future-out
def _scale(frame: pd.DataFrame, law: ScalingLaw, bound: Mapping[str, str], scale: str | None) -> np.ndarray:
    if scale is not None:
        if scale not in frame.columns:
            raise ArgumentError(f"`scale` column `{scale}` is not in the data")
        return frame[scale].to_numpy(np.float64)
    if not law.positive_inputs:
        raise ArgumentError(f"law `{law.name}` has no positive scale input; pass `scale=` (a column)")
    return np.prod(np.stack([frame[bound[n]].to_numpy(np.float64) for n in law.inputs]), axis=0)


@dataclass(frozen=True)
class LfoScore:
    """Leave-future-out score of one law: fit on the smaller scales, score the largest."""

    law: str
    n_train: int
    n_test: int
    elpd: float                       # sum over held-out points of log mean_s p(y_i | θ_s)
    elpd_pointwise: np.ndarray = field(repr=False)
    are: float                        # mean |y − predictive median| / y
    coverage50: float
    coverage90: float
    max_factor: float                 # largest extrapolation factor (scale / max training scale)
    converged: bool
    fit: Any = field(default=None, repr=False)


def leave_future_out(data, law: str | ScalingLaw, *, holdout: float = 0.2, scale: str | None = None,
                     inputs: Mapping[str, str] | None = None, target: str = "value", seed: int = 0,
                     **fit_kwargs) -> LfoScore:
    """Fit on all but the largest-scale ``holdout`` fraction of rows and score the held-out rows.

    The scale is the product of the law's inputs (N·D ∝ compute for Chinchilla; x for one input)
    unless ``scale`` names a column.  Scores use the posterior predictive of a new observation
    from a new run (docs/bayes.md#posterior-bands).
    """
    from ..fit.point import bind_inputs
    from ._lawmodel import observation_dist
    from .posterior import load_frame, fit_bayes

    law = get_law(law)
    frame, _ = load_frame(data, None)
    bound = bind_inputs(frame, law, inputs)
    s = _scale(frame, law, bound, scale)
    test = split_future(s, holdout, len(law.param_names) + 2)
    train, held = frame[~test], frame[test]
    fit_kwargs.setdefault("pad_to", len(frame))  # share the compiled program with a full-data fit
    post = fit_bayes(train, law, inputs=bound, target=target, seed=seed, **fit_kwargs)
    X = {n: held[bound[n]].to_numpy(np.float64) for n in law.inputs}
    y = held[target].to_numpy(np.float64)
    # log predictive density of each held-out point (natural scale of y), new run: u integrated by draws
    plan = post.plan
    coords = {k: jnp.asarray(v) for k, v in post.coordinate_draws().items()}
    nuis = {n: jnp.asarray(post.draws(n)) for n in plan.nuisance}
    rng = np.random.default_rng(seed)
    S = post.num_draws
    data_t = {"X": {k: jnp.asarray(v) for k, v in X.items()},
              "y_t": jnp.asarray(np.log(y) if plan.log_target else y), "run": jnp.zeros(len(y), dtype=jnp.int32)}
    if plan.run_effects:  # a new run: its effect is drawn from N(0, τ_run) per draw
        nuis["z_new"] = jnp.asarray(rng.standard_normal((S, 1)))

    def one(item):
        c, nz = item
        nz = dict(nz)
        if plan.run_effects:
            nz["u"] = nz["tau_run"] * nz["z_new"]
        lp = observation_dist(plan, c, nz, data_t).log_prob(data_t["y_t"])
        return lp - (data_t["y_t"] if plan.log_target else 0.0)

    lp = np.asarray(jax.lax.map(one, (coords, nuis), batch_size=min(512, S)))  # (S, m)
    elpd_i = np.asarray(jax.scipy.special.logsumexp(lp, axis=0)) - math.log(S)
    obs = post.observation_draws(X, seed=seed)
    med = np.median(obs, axis=0)
    q = np.quantile(obs, [0.25, 0.75, 0.05, 0.95], axis=0)
    cov50 = float(np.mean((y >= q[0]) & (y <= q[1])))
    cov90 = float(np.mean((y >= q[2]) & (y <= q[3])))
    return LfoScore(law.name, int((~test).sum()), int(test.sum()), float(elpd_i.sum()), elpd_i,
                    float(np.mean(np.abs(y - med) / np.abs(y))), cov50, cov90,
                    float(s[test].max() / s[~test].max()), post.converged, post)


# ---------------------------------------------------------------------------- comparison
@dataclass(frozen=True)
class LawComparison:
    """PSIS-LOO (interpolation) and leave-future-out (extrapolation) scores of several laws."""

    table: pd.DataFrame
    recommended: str | None
    reason: str
    holdout: float
    fits: Mapping[str, Any] = field(default_factory=dict, repr=False)
    lfo: Mapping[str, LfoScore] = field(default_factory=dict, repr=False)

    def summary(self) -> str:
        t = self.table
        lines = ["model comparison: PSIS-LOO measures interpolation; leave-future-out (LFO) scores "
                 f"extrapolation to the largest {100 * self.holdout:g}% of scales"]
        hdr = (f"{'law':<20}{'elpd_loo':>10}{'se':>8}{'bad_k':>7}{'weight':>8}   {'elpd_lfo':>10}{'se':>8}"
               f"{'ARE%':>7}{'cov50':>7}{'cov90':>7}{'factor':>8}  diagnostics")
        lines.append(hdr)
        for _, r in t.iterrows():
            lines.append(
                f"{r['law']:<20}{r['elpd_loo']:>10.2f}{r['se_loo']:>8.2f}{int(r['bad_k']):>7d}{r['loo_weight']:>8.3f}   "
                f"{r['elpd_lfo']:>10.2f}{r['se_lfo_diff']:>8.2f}{100 * r['are_lfo']:>7.2f}{r['cov50_lfo']:>7.2f}"
                f"{r['cov90_lfo']:>7.2f}{r['lfo_factor']:>8.2g}  {'pass' if r['converged'] else 'FAIL'}"
            )
        lines.append("(se of elpd_lfo is the SE of its difference to the best law; weight = LOO stacking weight)")
        lines.append(f"recommendation: {self.recommended or 'none'} — {self.reason}")
        return "\n".join(lines)


def compare_laws(data, laws: Sequence[str | ScalingLaw], *, holdout: float = 0.2, scale: str | None = None,
                 inputs: Mapping[str, str] | None = None, target: str = "value", seed: int = 0,
                 **fit_kwargs) -> LawComparison:
    """Fit each law to all data (PSIS-LOO, stacking weights) and leave-future-out (largest scales
    held out), and recommend the law that extrapolates best, provided its fits pass the diagnostics
    (otherwise no recommendation: the remedy is more draws, not a worse law).

    ``inputs`` may bind the inputs of several laws at once (``{"x": "C"}`` binds single-input
    laws; laws without an ``x`` input ignore it).
    """
    import warnings

    import arviz as az

    from .posterior import load_frame, fit_bayes

    if len(laws) < 1:
        raise ArgumentError("`laws` must name at least one law")
    laws = [get_law(l) for l in laws]
    names = [l.name for l in laws]
    if len(set(names)) != len(names):
        raise ArgumentError(f"`laws` lists a law twice: {names}")
    frame, _ = load_frame(data, None)
    fits, lfo, loos = {}, {}, {}
    for law in laws:
        inp = {k: v for k, v in (inputs or {}).items() if k in law.inputs} or None
        fits[law.name] = fit_bayes(frame, law, inputs=inp, target=target, seed=seed, **fit_kwargs)
        loos[law.name] = fits[law.name].loo()
        kw = dict(fit_kwargs)
        if fits[law.name].point_estimate is not None and "init" not in kw:
            kw["init"] = fits[law.name].point_estimate  # start near the optimum without another point fit
        lfo[law.name] = leave_future_out(frame, law, holdout=holdout, scale=scale, inputs=inp, target=target,
                                         seed=seed, **kw)
    if len(laws) > 1:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cmp = az.compare({n: fits[n].idata for n in names}, ic="loo", method="stacking")
        weights = {n: float(cmp.loc[n, "weight"]) for n in names}
    else:
        weights = {names[0]: 1.0}
    ok = {n: fits[n].converged and lfo[n].converged for n in names}
    ranked = sorted(names, key=lambda n: -lfo[n].elpd)
    best_any = ranked[0]
    rows = []
    for n in names:
        d = lfo[best_any].elpd_pointwise - lfo[n].elpd_pointwise
        se = float(np.sqrt(len(d)) * np.std(d, ddof=1)) if len(d) > 1 and n != best_any else 0.0
        rows.append({"law": n, "elpd_loo": loos[n].elpd, "se_loo": loos[n].se, "p_loo": loos[n].p_loo,
                     "bad_k": loos[n].n_bad_k, "loo_weight": weights[n], "elpd_lfo": lfo[n].elpd,
                     "se_lfo_diff": se, "are_lfo": lfo[n].are, "cov50_lfo": lfo[n].coverage50,
                     "cov90_lfo": lfo[n].coverage90, "lfo_factor": lfo[n].max_factor, "converged": ok[n]})
    table = pd.DataFrame(rows)
    if not ok[best_any]:
        # never recommend on the strength of a fit that failed its diagnostics, nor fall back to a
        # worse law because the better one needs more draws
        fails = "; ".join(f.status for f in (fits[best_any], lfo[best_any].fit) if not f.converged)
        return LawComparison(
            table, None,
            f"{best_any} has the best leave-future-out score but its fits failed the diagnostics ({fails}); "
            "rerun with more draws (--draws/--warmup) before choosing", holdout, fits, lfo)
    rec = best_any
    loo_best = max(names, key=lambda n: loos[n].elpd)
    parts = [f"best leave-future-out predictive density (elpd_lfo {lfo[rec].elpd:.2f}, ARE {100 * lfo[rec].are:.2f}%)"]
    if len(ranked) > 1:
        second = ranked[1]
        d = lfo[rec].elpd_pointwise - lfo[second].elpd_pointwise
        se = float(np.sqrt(len(d)) * np.std(d, ddof=1)) if len(d) > 1 else float("inf")
        diff = float(d.sum())
        if diff < 2 * se:
            parts.append(f"but not clearly better than {second} (difference {diff:.2f} < 2 SE = {2 * se:.2f}): "
                         "report both or stack them")
    if loo_best != rec:
        parts.append(f"PSIS-LOO prefers {loo_best} for interpolation; LOO does not measure extrapolation")
    return LawComparison(table, rec, "; ".join(parts), holdout, fits, lfo)
