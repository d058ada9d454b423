"""Command-line commands for repeated sampling: ``passk``, ``bon fit|predict|budget``,
``passuntil`` and ``backtest``.

The main ``scalefit`` CLI wires them in with ``add_commands(subparsers)``; every handler is
``handler(args) -> int``, prints its results and raises :class:`scalefit.errors.ScalefitError`
subclasses on bad input (printed as one line by the main CLI, exit code 2).  For use before the
wiring, ``python -m scalefit.sampling.cli ...`` runs the same commands.

Examples
--------
::

    scalefit passk pythia_math_final_counts.csv --groups model --k 1,10,100
    scalefit bon fit pythia_math_final_counts.csv --groups model -o fit.json
    scalefit bon predict --fit fit.json --N 1000,10000
    scalefit bon budget --fit fit.json --rate 0.9
    scalefit backtest pythia_math_final_counts.csv --groups model --fit-budget 100 --N 1000,10000 --repeats 5
    scalefit backtest bon_llama3_8b_instruct_attempts.jsonl --item i --attempt n --success flagged \\
        --first --fit-budget 60 --N 600,1020
    scalefit passuntil pythia_checkpoints_math_counts.csv --size params --instance problem_idx \\
        --successes n_correct --attempts n_samples --final-only train_tokens
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ArgumentError

__all__ = ["add_commands", "main"]

_FILE_FORMAT = "scalefit.bon-file/1"


# --------------------------------------------------------------------------------------------
# argument helpers


def _floats(text: str, argument: str) -> list[float]:
    out = []
    for part in [p.strip() for p in str(text).split(",") if p.strip()]:
        try:
            out.append(float(part))
        except ValueError:
            raise ArgumentError(f"`{argument}` = {part!r} is not a number (expected a comma-separated list)") from None
    if not out:
        raise ArgumentError(f"`{argument}` is empty (expected a comma-separated list of numbers)")
    return out


def _names(text: str | None) -> list[str]:
    return [p.strip() for p in (text or "").split(",") if p.strip()]


def _add_loader(p: argparse.ArgumentParser, *, data_required: bool = True) -> None:
    if data_required:
        p.add_argument("data", help="counts (CSV/TSV/Parquet/JSON) or an attempt log (JSONL, long, matrix)")
    else:
        p.add_argument("data", nargs="?", help="data file (or use --fit)")
    g = p.add_argument_group("data loading")
    g.add_argument("--format", default="auto",
                   choices=["auto", "counts", "long", "matrix", "jsonl", "humaneval", "until_success", "lm_eval",
                            "inspect"])
    g.add_argument("--groups", help="grouping columns, comma-separated (e.g. model); each group is fitted separately")
    g.add_argument("--item", help="item id column / JSON field")
    g.add_argument("--attempt", help="attempt index column (attempt logs)")
    g.add_argument("--success", help="success flag column (attempt logs)")
    g.add_argument("--n-col", dest="n_col", help="attempts column (counts)")
    g.add_argument("--k-col", dest="k_col", help="successes column (counts)")
    g.add_argument("--batch-size", dest="batch_size", type=int,
                   help="sample-until-success log: attempts per batch (sampling stops after the batch with the first success)")
    g.add_argument("--cap", type=int, help="sample-until-success log: most attempts per item")
    g.add_argument("--partial", choices=["success", "failure", "error"],
                   help="Inspect AI logs: count partial-credit scores ('P') as success, failure, or leave them out")
    g.add_argument("--tests", choices=["base", "plus"],
                   help="EvalPlus eval_results.json: base tests only, or base and plus tests (default plus)")
    g.add_argument("--likelihood", default="attempts", choices=["attempts", "first_success", "batch"],
                   help="sample-until-success logs: use every recorded attempt (default), only the first-success "
                        "attempt, or only the batch of the first success")


def _load(args) -> pd.DataFrame:
    from ..io.attempts import load_attempts

    if not args.data:
        raise ArgumentError("`DATA` is required (or pass --fit FILE)")
    if not Path(args.data).exists():
        raise ArgumentError(f"`DATA` = '{args.data}' does not exist")
    frame = load_attempts(args.data, args.format, item=args.item, attempt=args.attempt, success=args.success,
                          n=args.n_col, k=args.k_col, groups=_names(args.groups) or None,
                          batch_size=args.batch_size, cap=args.cap, partial=args.partial, tests=args.tests)
    if frame.attrs.get("read_as"):
        print(f"note: {args.data}: {frame.attrs['read_as']}", file=sys.stderr)
    return frame


def _group_iter(frame: pd.DataFrame):
    groups = list(frame.attrs.get("groups") or [])
    if not groups:
        yield {}, frame
        return
    for key, g in frame.groupby(groups, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        yield {c: (v.item() if hasattr(v, "item") else v) for c, v in zip(groups, key)}, g


def _label(key: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in key.items()) if key else "all items"


def _is_until(frame: pd.DataFrame) -> bool:
    return "first_success" in frame.columns


def _items(frame: pd.DataFrame, likelihood: str):
    from .censored import until_success_items
    from .models import item_data

    if _is_until(frame):
        return until_success_items(frame, likelihood)
    return item_data(frame["n"].to_numpy(), frame["k"].to_numpy())


def _check_level(level: float) -> float:
    if not 0.0 < float(level) < 1.0:
        raise ArgumentError(f"`--level` = {level} must lie strictly between 0 and 1")
    return float(level)


# --------------------------------------------------------------------------------------------
# passk


def _cmd_passk(args) -> int:
    from .censored import asr_from_log
    from .passk import pass_at_k_interval

    level = _check_level(args.level)
    ks = _floats(args.k, "--k")
    frame = _load(args)
    for key, g in _group_iter(frame):
        print(f"== {_label(key)}: {len(g)} items")
        if _is_until(g):
            tab = asr_from_log(g, ks)
            print("sample-until-success log: the rate within k attempts read from first successes "
                  "(Chen's estimator would be biased by the stopping rule)")
            for row in tab.itertuples():
                status = "exact" if row.exact else f"{row.undetermined} item(s) censored before k: bounds only"
                print(f"  k = {row.N:>8g}  rate {row.lower:.4f}" + ("" if row.exact else f"..{row.upper:.4f}")
                      + f"  ({status})")
            continue
        n, c = g["n"].to_numpy(), g["k"].to_numpy()
        too_big = [k for k in ks if k > n.min()]
        if too_big:
            raise ArgumentError(
                f"`--k` = {too_big[0]:g} exceeds the smallest budget n = {int(n.min())} of {_label(key)}; "
                "pass@k beyond the data needs a model: use `scalefit bon predict`"
            )
        bad = [k for k in ks if k < 1 or k != int(k)]
        if bad:
            raise ArgumentError(f"`--k` = {bad[0]:g} must be a positive integer")
        iv = pass_at_k_interval(n, c, np.asarray(ks, dtype=np.int64), level=level,
                                num_samples=args.bootstrap, seed=args.seed)
        print(f"unbiased pass@k (Chen et al.), {level:.0%} bootstrap interval over items ({args.bootstrap} replicates)")
        for k, e, lo, hi in zip(ks, np.atleast_1d(iv.estimate), np.atleast_1d(iv.lower), np.atleast_1d(iv.upper)):
            print(f"  k = {k:>8g}  pass@k {e:.4f}  [{lo:.4f}, {hi:.4f}]")
    return 0


# --------------------------------------------------------------------------------------------
# bon fit / predict / budget


def _fit_groups(args):
    from .bonfit import DEFAULT_CANDIDATES, fit_bon

    frame = _load(args)
    cands = tuple(_names(args.candidates)) or DEFAULT_CANDIDATES
    out = []
    for key, g in _group_iter(frame):
        data = _items(g, args.likelihood)
        bon = fit_bon(data, model=args.model, candidates=cands, fraction=args.fraction, repeats=args.repeats,
                      seed=args.seed, z=args.z, select_bootstrap=args.select_bootstrap)
        out.append((key, bon))
    return out, frame


def _read_fit_file(path: str):
    from .bonfit import BonFit

    p = Path(path)
    if not p.exists():
        raise ArgumentError(f"`--fit` = '{path}' does not exist")
    try:
        obj = json.loads(p.read_text())
    except json.JSONDecodeError as exc:
        raise ArgumentError(f"`--fit` = '{path}' is not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(obj, dict) or obj.get("format") != _FILE_FORMAT:
        raise ArgumentError(f"`--fit` = '{path}' is not a file written by `scalefit bon fit -o`")
    return [(dict(entry["group"]), BonFit.from_dict(entry["fit"])) for entry in obj["groups"]]


def _fits_for(args):
    if args.fit and args.data:
        raise ArgumentError("give either `DATA` or `--fit FILE`, not both")
    if args.fit:
        return _read_fit_file(args.fit)
    return _fit_groups(args)[0]


def _cmd_bon_fit(args) -> int:
    from .._files import atomic_write_text

    if args.output and Path(args.output).exists() and not args.force:
        raise ArgumentError(f"`-o` = '{args.output}' already exists; refusing to overwrite it (use --force)")
    fits, frame = _fit_groups(args)
    for key, bon in fits:
        print(f"== {_label(key)}")
        print(bon.summary())
    if args.output:
        doc = {"format": _FILE_FORMAT, "source": str(args.data), "groups": [
            {"group": key, "fit": bon.to_dict()} for key, bon in fits]}
        atomic_write_text(args.output, json.dumps(doc, indent=1), overwrite=args.force, argument="-o")
        print(f"wrote {args.output}")
    return 0


def _cmd_bon_predict(args) -> int:
    level = _check_level(args.level)
    Ns = _floats(args.N, "--N")
    for key, bon in _fits_for(args):
        fc = bon.predict(Ns, target=args.target, level=level, num_bootstrap=args.bootstrap, seed=args.seed)
        print(f"== {_label(key)}")
        print(fc.summary())
    return 0


def _cmd_bon_budget(args) -> int:
    level = _check_level(args.level)
    rates = _floats(args.rate, "--rate")
    for key, bon in _fits_for(args):
        bf = bon.budget(rates, target=args.target, level=level, num_bootstrap=args.bootstrap, seed=args.seed)
        print(f"== {_label(key)}")
        print(bf.summary())
    return 0


# --------------------------------------------------------------------------------------------
# passuntil


def _cmd_passuntil(args) -> int:
    from .passuntil_holdout import passuntil_holdout

    level = _check_level(args.level)
    path = Path(args.data)
    if not path.exists():
        raise ArgumentError(f"`DATA` = '{args.data}' does not exist")
    frame = _read_any(path)
    if args.final_only:
        if args.final_only not in frame.columns:
            raise ArgumentError(f"`--final-only` = {args.final_only!r} is not a column")
        if args.size not in frame.columns:
            raise ArgumentError(f"`--size` = {args.size!r} is not a column")
        last = frame.groupby(args.size)[args.final_only].transform("max")
        frame = frame[frame[args.final_only] == last]
    res = passuntil_holdout(frame, size=args.size, instance=args.instance, successes=args.successes,
                            attempts=args.attempts, holdout=args.holdout, level=level,
                            num_samples=args.bootstrap, seed=args.seed)
    print(res.summary())
    return 0


def _read_any(path: Path) -> pd.DataFrame:
    from ..io._read import read_file

    try:
        frame = read_file(path)
    except Exception as exc:  # noqa: BLE001 - reported as one line
        from ..errors import ScalefitError

        if isinstance(exc, ScalefitError):
            raise
        raise ArgumentError(f"`DATA` = '{path}' could not be read ({type(exc).__name__}: {exc})") from None
    if not isinstance(frame, pd.DataFrame):
        raise ArgumentError(f"`DATA` = '{path}' is not a table")
    return frame


# --------------------------------------------------------------------------------------------
# backtest


def _cmd_backtest(args) -> int:
    from ..io.attempts import load_attempt_log
    from .backtest import DEFAULT_ESTIMATORS, backtest_counts, backtest_log

    level = _check_level(args.level)
    Ns = _floats(args.N, "--N")
    ests = tuple(_names(args.estimators)) or DEFAULT_ESTIMATORS
    cands = tuple(_names(args.candidates)) or None
    if not Path(args.data).exists():
        raise ArgumentError(f"`DATA` = '{args.data}' does not exist")
    common = dict(level=level, estimators=ests, num_bootstrap=args.bootstrap, seed=args.seed, candidates=cands,
                  fraction=args.fraction, internal_repeats=args.internal_repeats,
                  select_bootstrap=args.select_bootstrap)
    if args.first:
        fmt = args.format if args.format not in ("counts", "until_success") else "auto"
        log = load_attempt_log(args.data, fmt, item=args.item, attempt=args.attempt, success=args.success,
                               groups=_names(args.groups) or None, partial=args.partial, tests=args.tests)
        if log.attrs.get("read_as"):
            print(f"note: {args.data}: {log.attrs['read_as']}", file=sys.stderr)
        res = backtest_log(log, args.fit_budget, Ns, target=args.target or "continued", **common)
    else:
        frame = _load(args)
        if _is_until(frame):
            raise ArgumentError(
                "the data is a sample-until-success log: its attempts are not exchangeable, so drawing a "
                "subsample is biased; use --first (fit on each item's first attempts)"
            )
        res = backtest_counts(frame, args.fit_budget, Ns, repeats=args.repeats, target=args.target or "fresh",
                              **common)
    print(res.report())
    return 0


# --------------------------------------------------------------------------------------------
# registration


def _add_model_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("model choice")
    g.add_argument("--model", default="auto",
                   help="auto (internal backtest, default) or one of kumaraswamy, beta, logit_normal, zi_beta, beta_mix2")
    g.add_argument("--candidates", help="candidate models for --model auto, comma-separated; the first is the reference")
    g.add_argument("--fraction", type=int, default=4, help="internal backtest: fit on n_i // FRACTION attempts (default 4)")
    g.add_argument("--repeats", type=int, default=4, help="internal backtest: random thinnings (default 4)")
    g.add_argument("--z", type=float, default=1.645,
                   help="leave the reference model only for an internal-backtest gain of more than Z standard errors (default 1.645)")
    g.add_argument("--select-bootstrap", dest="select_bootstrap", type=int, default=100,
                   help="item resamples for the SE of the gain (default 100; 0: jackknife, faster)")
    g.add_argument("--seed", type=int, default=0)


def _add_forecast_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--fit", help="a fit written by `scalefit bon fit -o` (instead of DATA)")
    p.add_argument("--target", default="fresh", choices=["fresh", "continued"],
                   help="fresh: a new run of N attempts per item (default); continued: the observed attempts count towards N")
    p.add_argument("--level", type=float, default=0.9, help="interval level (default 0.9)")
    p.add_argument("--bootstrap", type=int, default=200,
                   help="bootstrap replicates of the whole procedure for the intervals (default 200; 0: none)")


def add_commands(subparsers) -> None:
    """Register ``passk``, ``bon`` (``fit``, ``predict``, ``budget``), ``passuntil`` and ``backtest``
    on an argparse sub-parser collection (its ``parser_class`` is used for every new parser)."""
    s = subparsers.add_parser("passk", help="unbiased pass@k of repeated-sampling data (k <= attempts)")
    _add_loader(s)
    s.add_argument("--k", required=True, help="budgets, comma-separated (e.g. 1,10,100)")
    s.add_argument("--level", type=float, default=0.95, help="interval level (default 0.95)")
    s.add_argument("--bootstrap", type=int, default=2000, help="bootstrap replicates over items (default 2000)")
    s.add_argument("--seed", type=int, default=0)
    s.set_defaults(func=_cmd_passk)

    bon = subparsers.add_parser("bon", help="best-of-N / pass@N forecasts beyond the observed budget")
    bsub = bon.add_subparsers(dest="bon_command", metavar="{fit,predict,budget}", parser_class=type(bon))
    bsub.required = True

    s = bsub.add_parser("fit", help="fit the candidate models, run the internal backtest, report the choice")
    _add_loader(s)
    _add_model_options(s)
    s.add_argument("-o", "--output", help="write the fit as JSON (never overwrites without --force)")
    s.add_argument("--force", action="store_true", help="allow overwriting --output")
    s.set_defaults(func=_cmd_bon_fit)

    s = bsub.add_parser("predict", help="forecast pass@N (ASR@N) with intervals")
    _add_loader(s, data_required=False)
    _add_model_options(s)
    _add_forecast_options(s)
    s.add_argument("--N", required=True, help="budgets, comma-separated (e.g. 1000,10000)")
    s.set_defaults(func=_cmd_bon_predict)

    s = bsub.add_parser("budget", help="attempts per item needed for target pass rates")
    _add_loader(s, data_required=False)
    _add_model_options(s)
    _add_forecast_options(s)
    s.add_argument("--rate", required=True, help="target rates, comma-separated (e.g. 0.9,0.95)")
    s.set_defaults(func=_cmd_bon_budget)

    s = subparsers.add_parser("passuntil", help="PassUntil task law: predict a held-out model size")
    s.add_argument("data", help="table with one row per (model size, instance)")
    s.add_argument("--size", required=True, help="model size column (e.g. params)")
    s.add_argument("--instance", required=True, help="instance id column")
    s.add_argument("--successes", required=True, help="successes column")
    s.add_argument("--attempts", required=True, help="attempts column")
    s.add_argument("--final-only", dest="final_only", metavar="COLUMN",
                   help="keep, for each size, only the rows with the largest COLUMN (e.g. train_tokens: final checkpoints)")
    s.add_argument("--holdout", type=float, help="size to predict (default: the largest)")
    s.add_argument("--level", type=float, default=0.9)
    s.add_argument("--bootstrap", type=int, default=2000, help="bootstrap replicates over instances (default 2000)")
    s.add_argument("--seed", type=int, default=0)
    s.set_defaults(func=_cmd_passuntil)

    s = subparsers.add_parser("backtest", help="fit on a small budget per item, compare forecasts with the full log")
    _add_loader(s)
    s.add_argument("--fit-budget", dest="fit_budget", type=int, required=True, help="attempts per item to fit on")
    s.add_argument("--N", required=True, help="budgets to forecast, comma-separated")
    s.add_argument("--first", action="store_true",
                   help="attempt log: fit on each item's first attempts (default: draw without replacement from counts)")
    s.add_argument("--repeats", type=int, default=5, help="independent subsamples (default 5)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--level", type=float, default=0.9)
    s.add_argument("--bootstrap", type=int, default=200, help="bootstrap replicates for scalefit's intervals")
    s.add_argument("--estimators", help="comma-separated (default scalefit,saber_anchored; also saber_plugin, "
                                        "saber_fit, naive, scalefit:MODEL)")
    s.add_argument("--candidates", help="candidate models of scalefit's default")
    s.add_argument("--fraction", type=int, default=4, help="internal backtest thinning factor")
    s.add_argument("--internal-repeats", dest="internal_repeats", type=int, default=4)
    s.add_argument("--select-bootstrap", dest="select_bootstrap", type=int, default=100,
                   help="item resamples for the SE of the internal-backtest gain (default 100)")
    s.add_argument("--target", choices=["fresh", "continued"],
                   help="default: fresh for counts, continued for --first")
    s.set_defaults(func=_cmd_backtest)


# --------------------------------------------------------------------------------------------
# standalone entry point (python -m scalefit.sampling.cli)


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise _UsageError(f"{self.prog}: {message}")


def main(argv=None) -> int:
    """Run one command (one-line errors, exit code 2 on bad input)."""
    import scalefit
    from ..errors import ScalefitError

    parser = _Parser(prog="scalefit")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)
    add_commands(sub)
    try:
        args = parser.parse_args(argv)
        if not getattr(args, "command", None):
            parser.print_help()
            return 2
        scalefit.enable_x64()
        return int(args.func(args) or 0)
    except _UsageError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except ScalefitError as exc:
        print("scalefit: error: " + " ".join(str(exc).split()), file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
