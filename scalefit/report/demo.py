"""The demo report: fit the bundled example data and write ``reports/demo.pdf``.

Chinchilla L(N, D) on ``scalefit/examples/chinchilla_synthetic.csv`` (Hoffmann's fit, then a bootstrap)
and a best-of-N prediction of ASR@N from the 100 attempts per problem in
``scalefit/examples/bon_synthetic_counts.csv`` (scalefit's default model: candidates chosen by an internal
backtest, bootstrap intervals that refit the whole procedure, the budget for 90% and an
external backtest from 10 attempts).  Both results are saved as JSON next to the PDF, which is then
built from those files alone, exactly as ``scalefit report`` would.
"""

from __future__ import annotations

import time
from pathlib import Path

from .. import examples
from .._names import renamed_args
from ..errors import ArgumentError

CHINCHILLA_TARGET = {"N": 70e9, "D": 1.4e12}       # Chinchilla 70B
BUDGETS = (5.76e23, 1e24)                           # Chinchilla's compute, and 1e24 FLOPs
BON_TARGETS = (1000.0,)
BON_BUDGET_TARGET = 0.9
TITLE = "scalefit demo: a Chinchilla loss law and a best-of-N prediction"


@renamed_args(n_replicates="num_bootstrap", num_samples="num_bon_bootstrap")
def build_demo_report(output_dir: str | Path | None = None, force: bool = False, *, num_bootstrap: int = 200,
                      num_bon_bootstrap: int = 200, progress: bool | None = False, verbose: bool = True) -> dict:
    """Fit the bundled example data, save the fits and write ``demo.pdf``.

    Parameters
    ----------
    output_dir : path, optional
        Where to write ``demo.pdf``, ``demo_chinchilla_fit.json`` and ``demo_bon_curve.json``
        (default: ``reports/`` in the current folder).
    force : bool
        Overwrite existing outputs; without it an existing output is an error.
    num_bootstrap : int
        Bootstrap replicates of the Chinchilla fit (deprecated name: ``n_replicates``).
    num_bon_bootstrap : int
        Bootstrap replicates behind the best-of-N intervals (whole procedure refitted in each;
        deprecated name: ``num_samples``).

    Returns
    -------
    dict
        Paths (``pdf``, ``fit``, ``bon``), ``pages``, ``warnings``, the headline numbers and
        ``seconds`` taken.
    """
    import pandas as pd

    from ..fit import bootstrap, fit_law
    from ..io import load_curves
    from . import build_report
    from ..sampling import fit_bon
    from .bestofn import bon_record, save_bon_curve

    n_replicates, num_samples = num_bootstrap, num_bon_bootstrap
    t0 = time.perf_counter()
    chin_csv, bon_csv = examples.path("chinchilla_synthetic.csv"), examples.path("bon_synthetic_counts.csv")
    out = Path(output_dir) if output_dir is not None else Path("reports")
    out.mkdir(parents=True, exist_ok=True)
    pdf, fit_path, bon_path = out / "demo.pdf", out / "demo_chinchilla_fit.json", out / "demo_bon_curve.json"
    if not force:
        existing = [str(p) for p in (pdf, fit_path, bon_path) if p.exists()]
        if existing:
            raise ArgumentError(f"demo outputs already exist ({', '.join(existing)}); refusing to overwrite them "
                                "(use --force)")

    def say(msg):
        if verbose:
            print(msg, flush=True)

    rel = lambda p: f"scalefit/examples/{p.name}"  # noqa: E731 - the same label wherever scalefit is installed
    say(f"== Chinchilla L(N, D) on {rel(chin_csv)}: Hoffmann's 4,500-start fit, then {n_replicates} bootstrap replicates")
    frame = load_curves(chin_csv)
    fit = fit_law(frame, "chinchilla", source=rel(chin_csv))
    fit = bootstrap(fit, n_replicates, seed=0, progress=progress)
    fit = fit.with_metadata(command="scalefit demo")
    fit.to_json(fit_path, overwrite=force)
    pred = fit.predict(CHINCHILLA_TARGET).iloc[0]
    say(f"   L(N=7e10, D=1.4e12) = {pred['prediction']:.4f}  [{pred['lower']:.4f}, {pred['upper']:.4f}]; "
        f"{'converged' if fit.converged else 'NOT CONVERGED'}; wrote {fit_path}")

    say(f"== Best-of-N on {rel(bon_csv)}: model chosen by internal backtest, ASR@N forecast, budget and backtest")
    counts = pd.read_csv(bon_csv)
    bon = fit_bon(counts["n"].to_numpy(), counts["k"].to_numpy(), seed=0)
    say(f"   chosen model: {bon.model} ({bon.reason})")
    record = bon_record(bon, targets=BON_TARGETS, budget_target=BON_BUDGET_TARGET, backtest_attempts=10,
                        num_bootstrap=num_samples, level=0.9, metric="ASR",
                        title="Best-of-N: ASR@N from 100 attempts per problem", source=rel(bon_csv),
                        command="scalefit demo")
    save_bon_curve(record, bon_path, overwrite=force)
    t = record["targets"][0]
    say(f"   ASR@{t['N']:.0f} = {t['prediction']:.4f}  [{t['lower']:.4f}, {t['upper']:.4f}]; wrote {bon_path}")

    info = build_report([fit_path, bon_path], pdf, targets=[CHINCHILLA_TARGET], budgets=BUDGETS, title=TITLE,
                        force=force)
    secs = time.perf_counter() - t0
    say(f"wrote {pdf} ({info.n_pages} pages) in {secs:.0f} s")
    return {"pdf": pdf, "fit": fit_path, "bon": bon_path, "pages": info.n_pages, "page_titles": info.page_titles,
            "warnings": info.warnings, "chinchilla_prediction": dict(pred), "bon_target": t, "seconds": secs}
