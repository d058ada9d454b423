"""Write the saved results that ``tests/test_result_protocol.py`` and the report tests load (run
from anywhere; rewrites ``results/`` next to this file; ``python make_results.py PooledPosterior``
rewrites only the named files).

Sampling five small posteriors, a batch fit and a two-step chain costs ~100 s of compilation on
2 cores (the pooled posterior alone ~40 s), loading them ~4 s; the protocol tests check shapes,
so they load these files (which also checks that saved results keep loading).  Each posterior is a real NUTS run on tiny
settings (one chain, 40 warm-up steps, 40 draws): far too short to converge, and the tests do
not need it to.  The chain's start tables are cut to three rows per step to keep the file small
(nothing the protocol reads uses them).
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd

import scalefit

HERE = Path(__file__).resolve().parent / "results"
TINY = dict(num_warmup=40, num_samples=40, num_chains=1, chain_method="sequential", seed=0, progress=False)


def pooled_posterior():
    """Pooled best-of-N posterior (tests/test_report_pooled_posterior.py): 2 groups x 30 shared
    items x 20 attempts, logit-normal residuals with a shared item effect, the point fit's start;
    one chain of 40 draws, so its diagnostics fail (the report's banner is tested on it)."""
    from scalefit.bayes import fit_pooled_bayes
    from scalefit.sampling.pooled import pooled_data

    rng = np.random.default_rng(4)
    u = rng.normal(size=30)
    eta = np.array([-2.0, -1.0])[:, None] + u[None, :] + rng.normal(size=(2, 30))
    k = rng.binomial(20, 1.0 / (1.0 + np.exp(-eta)))
    data = pooled_data(np.full((2, 30), 20), k, groups=["m0", "m1"])
    nuts = {key: TINY[key] for key in ("num_warmup", "num_samples", "num_chains")}
    post = fit_pooled_bayes(data, nuts=nuts, seed=0, progress=False, chain_method="sequential")
    return post.with_metadata(command="tests/corpus/make_results.py", source="simulated (make_results.py)")


def main(names=None) -> None:
    from scalefit.bayes import fit_bayes, fit_beta_binomial_bayes, fit_hierarchical_beta_binomial, fit_passuntil_bayes

    scalefit.enable_x64()
    HERE.mkdir(exist_ok=True)
    if names:  # only the named files (the others keep their bytes)
        makers = {"PooledPosterior": pooled_posterior}
        unknown = sorted(set(names) - set(makers))
        if unknown:
            raise SystemExit(f"cannot write {unknown} alone; known: {sorted(makers)} (or no name: all files)")
        for name in names:
            makers[name]().to_json(HERE / f"{name}.json", overwrite=True)
        return
    law = scalefit.get_law("power_law")
    x = np.geomspace(1e6, 1e9, 12)
    y = law.evaluate(dict(a=math.log(40.0), alpha=0.3, e=math.log(1.5)), x=x)
    y = y * np.exp(np.random.default_rng(0).normal(0, 0.01, x.size))
    posts = {"PosteriorFit": fit_bayes(pd.DataFrame({"x": x, "value": y}), "power_law", likelihood="normal", **TINY)}
    rng = np.random.default_rng(1)
    k = rng.binomial(20, rng.beta(0.4, 3.0, 40))
    posts["BetaBinomialPosterior"] = fit_beta_binomial_bayes(20, k, **TINY)
    counts = pd.DataFrame({"model": np.repeat(["m0", "m1"], 20), "item": np.tile(np.arange(20), 2), "n": 20, "k": k})
    posts["HierarchicalBetaBinomialPosterior"] = fit_hierarchical_beta_binomial(counts, ["model"], **TINY)
    N = np.repeat([1e8, 1e9, 1e10], 2)
    posts["PassUntilPosterior"] = fit_passuntil_bayes(N, [2] * 6, [400, 300, 60, 50, 9, 8], **TINY)
    posts["PooledPosterior"] = pooled_posterior()
    for name, post in posts.items():
        post.to_json(HERE / f"{name}.json", overwrite=True)

    frame = pd.concat([pd.DataFrame({"curve": f"c{g}", "x": x, "value": y * (1 + 0.2 * g)}) for g in range(2)])
    scalefit.fit_batch(frame, "power_law", by="curve").to_json(HERE / "BatchFitResult.json", overwrite=True)

    from scalefit.chain import fit_chain

    law1, law2 = scalefit.get_law("overtraining"), scalefit.get_law("sigmoid")
    rows = []
    for N in (2e7, 6e7, 2e8, 6e8):   # the ladder of tests/test_chain.py, final checkpoints only
        for m in (10, 20, 80):
            D = m * N
            L = law1.evaluate(dict(a=np.log(300.0), b=np.log(900.0), e=np.log(1.8), alpha=0.32), N=N, D=D)[0]
            L *= np.exp(rng.normal(0, 0.005))
            acc = law2.evaluate(dict(s=-0.7, log_k=np.log(4.0), L0=2.9, t=0.95), L=L)[0] + rng.normal(0, 0.005)
            rows.append(dict(run=f"N{N:.0e}-m{m}", N=N, D=D, step=1000, loss=L, acc=acc))
    chain = fit_chain(pd.DataFrame(rows), "overtraining", "sigmoid", intermediate="loss", target="acc")
    record = chain.to_dict()
    for step in ("step1", "step2"):
        starts = record[step]["starts"]
        starts["data"], starts["index"] = starts["data"][:3], starts["index"][:3]
    (HERE / "ChainResult.json").write_text(json.dumps(record, indent=1, allow_nan=False))


if __name__ == "__main__":
    main(sys.argv[1:])
