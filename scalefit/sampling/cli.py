"""Command-line commands for repeated sampling: ``passk``, ``bon fit|predict|budget|plan``,
``passuntil`` and ``backtest``.

The main ``scalefit`` CLI wires them in with ``add_commands(subparsers)``; every handler is
``handler(args) -> int``, prints its results and raises :class:`scalefit.errors.ScalefitError`
subclasses on bad input (printed as one line by the main CLI, exit code 2).

Examples
--------
::

    scalefit passk pythia_math_final_counts.csv --groups model --k 1,10,100
    scalefit bon fit pythia_math_final_counts.csv --groups model -o fit.json
    scalefit bon predict --fit fit.json --N 1000,10000
    scalefit bon budget --fit fit.json --rate 0.9
    scalefit bon predict pythia_math_final_counts.csv --groups model --pool auto --N 1000,10000 -o pooled.json
    scalefit bon plan pythia_math_final_counts.csv --groups model --budget 10000 --N 10000 --rounds 3 -o plan.csv
    scalefit backtest pythia_math_final_counts.csv --groups model --fit-budget 100 --N 1000,10000 --repeats 5
    scalefit backtest bon_llama3_8b_instruct_attempts.jsonl --item i --attempt n --success flagged \\
        --first --fit-budget 60 --N 600,1020
    scalefit passuntil pythia_checkpoints_math_counts.csv --size params --instance problem_idx \\
        --successes n_correct --attempts n_samples --final-only train_tokens
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from .._cliargs import COUNT, LEVEL, POSITIVE_INT, REPLICATES, SEED, number, number_list
from .._files import check_input_path
from .._threads import map_in_threads
from ..errors import ArgumentError
from ._common import TAILS

__all__ = ["add_commands"]


# --------------------------------------------------------------------------------------------
# argument helpers


def _names(text: str | None) -> list[str]:
    return [p.strip() for p in (text or "").split(",") if p.strip()]


def _add_loader(p: argparse.ArgumentParser, *, data_required: bool = True) -> None:
    if data_required:
        p.add_argument("data", help="counts (CSV/TSV/Parquet/JSON) or an attempt log (JSONL, long, matrix)",
                       api="source")
    else:
        p.add_argument("data", nargs="?", help="data file (or use --fit)", api="source")
    g = p.add_argument_group("data loading")
    g.add_argument("--format", default="auto",
                   choices=["auto", "counts", "long", "matrix", "jsonl", "humaneval", "until_success", "lm_eval",
                            "inspect"], api="format")
    g.add_argument("--groups", help="grouping columns, comma-separated (e.g. model); each group is fitted separately",
                   api="groups")
    g.add_argument("--item", help="item id column / JSON field", api="item")
    g.add_argument("--attempt", help="attempt index column (attempt logs)", api="attempt")
    g.add_argument("--success", help="success flag column (attempt logs)", api="success")
    g.add_argument("--n-col", dest="n_col", help="attempts column (counts)", api="n")
    g.add_argument("--k-col", dest="k_col", help="successes column (counts)", api="k")
    g.add_argument("--batch-size", dest="batch_size", type=POSITIVE_INT, api="batch_size",
                   help="sample-until-success log: attempts per batch (sampling stops after the batch with the first success)")
    g.add_argument("--cap", type=POSITIVE_INT, api="cap", help="sample-until-success log: most attempts per item")
    g.add_argument("--partial", choices=["success", "failure", "error"], api="partial",
                   help="Inspect AI logs: count partial-credit scores ('P') as success, failure, or leave them out")
    g.add_argument("--tests", choices=["base", "plus"], api="tests",
                   help="EvalPlus eval_results.json: base tests only, or base and plus tests (default plus)")
    g.add_argument("--likelihood", default="attempts", choices=["attempts", "first_success", "batch"],
                   help="sample-until-success logs: use every recorded attempt (default), only the first-success "
                        "attempt, or only the batch of the first success")


def _load(args) -> pd.DataFrame:
    from ..io.attempts import load_attempts

    if not args.data:
        raise ArgumentError("`DATA` is required (or pass --fit FILE)")
    check_input_path(args.data)
    frame = load_attempts(args.data, args.format, item=args.item, attempt=args.attempt, success=args.success,
                          n=args.n_col, k=args.k_col, groups=_names(args.groups) or None,
                          batch_size=args.batch_size, cap=args.cap, partial=args.partial, tests=args.tests)
    if frame.empty:
        raise ArgumentError(f"`DATA` = '{args.data}' holds no items (only a header?)")
    if frame.attrs.get("read_as"):
        print(f"note: {args.data}: {frame.attrs['read_as']}", file=sys.stderr)
    if frame.attrs.get("attempt_order") and "first_success" not in frame.columns:
        print(f"note: {args.data}: attempt order from {frame.attrs['attempt_order']} (continued forecasts judge "
              "an item with more than N attempts on its first N)", file=sys.stderr)
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
    from .censored import as_item_data

    return as_item_data(frame, likelihood=likelihood)


# --------------------------------------------------------------------------------------------
# passk


def _cmd_passk(args) -> int:
    from .censored import asr_from_log
    from .passk import pass_at_k_interval

    level, ks = args.level, args.k
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

    def fit(group):
        key, g = group
        return key, fit_bon(_items(g, args.likelihood), model=args.model, candidates=cands, fraction=args.fraction,
                            repeats=args.repeats, seed=args.seed, z=args.z, select_bootstrap=args.select_bootstrap)

    return map_in_threads(fit, _group_iter(frame)), frame


def _read_fit_file(path: str):
    """The (group, BonFit) pairs of a ``scalefit bon fit -o`` file, every format problem listed."""
    from .._files import load_saved

    from .bonfit import bon_file_fits

    return load_saved(path, bon_file_fits, what="`--fit` file")


def _fits_for(args):
    if args.fit and args.data:
        raise ArgumentError("give either `DATA` or `--fit FILE`, not both")
    if args.fit:
        return _read_fit_file(args.fit)
    return _fit_groups(args)[0]


def _cmd_bon_fit(args) -> int:
    from .._files import atomic_write_text

    if args.output:
        from .._files import check_output_path

        check_output_path(args.output, overwrite=args.force, argument="-o")
    fits, frame = _fit_groups(args)
    for key, bon in fits:
        print(f"== {_label(key)}")
        print(bon.summary())
    if args.output:
        from .._files import json_text
        from .bonfit import BON_FILE_FORMAT

        # the forecast (and its interval draws, and the external backtest) travel with the fit, so
        # that `scalefit report` renders the file without fitting
        bt = True if args.backtest is None else (args.backtest or False)
        fits = [(key, bon.with_forecast(target=args.target, num_bootstrap=args.bootstrap, backtest=bt,
                                        select_bootstrap=args.select_bootstrap))
                for key, bon in fits]
        if args.plan_budget != 0:  # and so does the sampling plan of the report's plan page
            from ..report.bestofn import with_plan

            fits = [(key, with_plan(bon, args.plan_budget)) for key, bon in fits]
        doc = {"format": BON_FILE_FORMAT, "source": str(args.data), "groups": [
            {"group": key, "fit": bon.to_dict()} for key, bon in fits]}
        atomic_write_text(args.output, json_text(doc), overwrite=args.force, argument="-o")
        print(f"wrote {args.output}")
    return 0


def _cmd_bon_predict(args) -> int:
    level, Ns = args.level, args.N
    if args.method == "bayes":
        _check_bayes_options(args)
    else:
        from ..bayes.cli import check_sampler_flags

        check_sampler_flags(args)
    if args.bootstrap is None:  # left unset (None) so that --method bayes can refuse an explicit one
        args.bootstrap = 200
    if args.output and args.pool == "off":
        raise ArgumentError(f"`-o` = '{args.output}' saves the pooled comparison and needs --pool auto or on (per-group "
                            "forecasts: scalefit bon fit DATA -o FILE, then scalefit report FILE)")
    if args.pool != "off":
        if args.tails is not None:
            raise ArgumentError(f"argument --tails: '{args.tails}' applies to per-group fits (--pool off); the "
                                f"pooled model (--pool {args.pool}) has its own intervals")
        return _pooled_predict(args)
    fits = _fits_for(args)
    forecasts = map_in_threads(lambda kb: kb[1].predict_forecast(
        Ns, target=args.target, level=level, num_bootstrap=args.bootstrap, seed=args.seed, tails=args.tails or "span"),
        fits)
    for (key, _), fc in zip(fits, forecasts):
        print(f"== {_label(key)}")
        print(fc.summary())
    return 0


def _pooled_predict(args) -> int:
    """`bon predict --pool auto|on`: every group fitted on its own and pooled, side by side."""
    from .bonfit import DEFAULT_CANDIDATES
    from .pooled import fit_groups, pooled_from_frame

    if args.fit:
        raise ArgumentError("`--pool` needs DATA (a saved `--fit` holds per-group fits only)")
    if args.output:
        from .._files import check_output_path

        check_output_path(args.output, overwrite=args.force, argument="-o")
    if args.model != "auto":
        raise ArgumentError(f"`--pool` = {args.pool} compares against the automatic choice; drop `--model` = {args.model}")
    frame = _load(args)
    groups = list(frame.attrs.get("groups") or [])
    if not groups:
        raise ArgumentError(f"`--pool` = {args.pool} needs `--groups` (e.g. --groups model): it pools groups")
    if _is_until(frame) and args.likelihood == "first_success":
        raise ArgumentError(f"`--likelihood` = {args.likelihood}: the pooled model reads a sample-until-success log "
                            "with --likelihood attempts or batch, or use --pool off")
    data = pooled_from_frame(frame, groups, likelihood=args.likelihood)
    cands = tuple(_names(args.candidates)) or DEFAULT_CANDIDATES
    fit = fit_groups(data, pool=args.pool, candidates=cands, fraction=args.fraction, repeats=args.repeats,
                     seed=args.seed, z=args.z, select_bootstrap=args.select_bootstrap)
    if args.method == "bayes":
        return _pooled_posterior(args, fit)
    print(fit.summary())
    if args.output:  # the record holds the forecast below, so `scalefit report FILE` renders it without fitting
        from ..report.pooled import pooled_record, save_pooled_record

        record = pooled_record(fit, args.N, target=args.target, level=args.level, num_bootstrap=args.bootstrap,
                               seed=args.seed, source=str(args.data), command=getattr(args, "_argv", None))
        pred = pd.DataFrame(record["forecasts"])
    else:
        pred = fit.predict(args.N, target=args.target, level=args.level, num_bootstrap=args.bootstrap, seed=args.seed)
    pred["chosen"] = np.where(pred["chosen"], "<-", "")
    print(f"\npass@N ({args.target} run), {args.level:.0%} intervals (pooled: bootstrap over items drawn jointly across groups, one-step refits; "
          "independent: whole-procedure bootstrap):")
    with pd.option_context("display.width", 200, "display.max_rows", 10_000):
        print(pred.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    if args.output:
        save_pooled_record(record, args.output, overwrite=args.force)
        print(f"wrote {args.output} (render it with: scalefit report {args.output} -o PDF)")
    return 0


def _check_bayes_options(args) -> None:
    """`bon predict --method bayes`: the options that cannot go with it, each a one-line error."""
    if args.pool != "on":
        why = ("--pool auto chooses pooled or independent per group, while the posterior is that of the "
               "pooled model for every group") if args.pool == "auto" else "it samples the pooled model's posterior"
        raise ArgumentError(f"`--method` = bayes needs --pool on (got --pool {args.pool}): {why}")
    if args.bootstrap is not None:
        raise ArgumentError(f"`--bootstrap` = {args.bootstrap} is for point forecasts; `--method` = bayes reports "
                            "posterior credible intervals (set --draws and --chains instead)")


def _pooled_posterior(args, grouped) -> int:
    """`bon predict --pool on --method bayes`: NUTS over the pooled model's group parameters,
    started at the point fit ``grouped.pooled``; prints the posterior, its diagnostics and pass@N
    with credible intervals, and saves the posterior with -o."""
    from ..bayes import fit_pooled_bayes

    point = grouped.pooled
    fams = ", ".join(f"{g}: {f}" for g, f in zip(point.data.groups, point.families))
    print(f"pooled point fit (the chains start at it): {point.message}; residual family per group "
          f"(each group's own choice): {fams}")
    nuts = dict(num_warmup=args.warmup, num_samples=args.draws, num_chains=args.chains,
                target_accept=args.target_accept)
    post = fit_pooled_bayes(point, nuts=nuts, seed=args.seed,
                            chain_method=None if args.chain_method == "auto" else args.chain_method)
    post = post.with_metadata(command=getattr(args, "_argv", None) or "scalefit " + " ".join(sys.argv[1:]),
                              source=str(args.data))
    print(f"NUTS: {args.chains} chain(s) x ({args.warmup} warm-up + {args.draws} draws), chains "
          f"{post.settings['chain_method']}, {post.metadata['seconds']:.1f} s\n")
    print(post.summary(args.level))
    pred = post.predict(args.N, target=args.target, levels=(args.level,), seed=args.seed)
    pred = pred[["group", "N", "mean", "estimate", "lower", "upper", "realised_lower", "realised_upper"]].copy()
    pred["N"] = [f"{v:g}" for v in pred["N"]]
    print(f"\npass@N ({args.target} run), posterior mean and median (estimate) of the expected rate, "
          f"{args.level:.0%} credible intervals: lower/upper for the expected rate (parameter uncertainty), "
          "realised_lower/upper for the rate the run will realise (plus every item's own outcome):")
    with pd.option_context("display.width", 200, "display.max_rows", 10_000):
        print(pred.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    if args.output:
        post.to_json(args.output, overwrite=args.force)
        print(f"wrote {args.output} (read it back with scalefit.bayes.load_posterior; render it with: "
              f"scalefit report {args.output} -o PDF)")
    if not post.converged:
        print("warning: the posterior failed its diagnostics (see the remedies above); do not use its "
              "intervals yet", file=sys.stderr)
    return 0


def _cmd_bon_budget(args) -> int:
    level, rates = args.level, args.rate
    for key, bon in _fits_for(args):
        bf = bon.budget(rates, target=args.target, level=level, num_bootstrap=args.bootstrap, seed=args.seed)
        print(f"== {_label(key)}")
        print(bf.summary())
    return 0


def _cmd_bon_plan(args) -> int:
    from .._files import atomic_write_text, check_output_path
    from .plan import plan

    if args.output:
        check_output_path(args.output, overwrite=args.force, argument="-o")
    frame = _load(args)
    if _is_until(frame) and args.target == "fresh":
        print("note: a sample-until-success log; its items stop at their first success, so consider "
              "--target continued", file=sys.stderr)
    fit_options = dict(candidates=tuple(_names(args.candidates)) or None, fraction=args.fraction,
                       repeats=args.repeats, z=args.z, select_bootstrap=args.select_bootstrap)
    if fit_options["candidates"] is None:
        del fit_options["candidates"]
    res = plan(frame, args.budget, args.N, target=args.target, rounds=args.rounds, model=args.model,
               budget_scope=args.budget_scope, step=args.step, width=args.width, level=args.level,
               num_bootstrap=args.bootstrap, seed=args.seed, fit_options=fit_options, likelihood=args.likelihood,
               parameter_draws=args.parameter_draws, families=args.families)
    print(res.summary())
    if args.output:
        atomic_write_text(args.output, res.table.to_csv(index=False), overwrite=args.force, argument="-o")
        print(f"wrote {args.output}")
    else:
        show = res.table[res.table["attempts"] > 0]
        with pd.option_context("display.width", 160, "display.max_rows", 60):
            print(show.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
    return 0


# --------------------------------------------------------------------------------------------
# passuntil


def _cmd_passuntil(args) -> int:
    from .passuntil_holdout import passuntil_holdout

    level = args.level
    path = check_input_path(args.data)
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
    if frame.empty:
        raise ArgumentError(f"`DATA` = '{path}' holds no rows (only a header?)")
    return frame


# --------------------------------------------------------------------------------------------
# backtest


def _cmd_backtest(args) -> int:
    from ..io.attempts import load_attempt_log
    from .backtest import DEFAULT_ESTIMATORS, backtest_counts, backtest_log

    level, Ns = args.level, args.N
    ests = tuple(_names(args.estimators)) or DEFAULT_ESTIMATORS
    if args.pool:
        if args.first:
            raise ArgumentError("`--pool` works on counts backtests (without --first) for now")
        ests = tuple(dict.fromkeys(ests + ("pooled", "pooled_auto")))
    cands = tuple(_names(args.candidates)) or None
    check_input_path(args.data)
    common = dict(level=level, estimators=ests, num_bootstrap=args.bootstrap, seed=args.seed, candidates=cands,
                  fraction=args.fraction, internal_repeats=args.internal_repeats,
                  select_bootstrap=args.select_bootstrap)
    if args.first and args.design == "planned":
        raise ArgumentError("`--design planned` replays counts (draws without replacement); it does not apply "
                            "to --first")
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
                              design=args.design, **common)
    print(res.report())
    return 0


# --------------------------------------------------------------------------------------------
# registration


_BUDGETS = number_list(lo=1.0, what="comma-separated finite budgets >= 1")


def _add_model_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("model choice")
    g.add_argument("--model", default="auto", api="model",
                   help="auto (internal backtest, default) or one of kumaraswamy, beta, logit_normal, zi_beta, beta_mix2")
    g.add_argument("--candidates", help="candidate models for --model auto, comma-separated; the first is the reference",
                   api="candidates")
    g.add_argument("--fraction", type=number(integer=True, lo=2), default=4, api="fraction",
                   help="internal backtest: fit on n_i // FRACTION attempts (default 4)")
    g.add_argument("--repeats", type=POSITIVE_INT, default=4, help="internal backtest: random thinnings (default 4)",
                   api="repeats")
    g.add_argument("--z", type=number(lo=0.0), default=1.645, api="z",
                   help="leave the reference model only for an internal-backtest gain of more than Z standard errors (default 1.645)")
    g.add_argument("--select-bootstrap", dest="select_bootstrap", type=COUNT, default=100, api="select_bootstrap",
                   help="item resamples for the SE of the gain (default 100; 0: jackknife, faster)")
    g.add_argument("--seed", type=SEED, default=0, api="seed")


def _add_forecast_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--fit", help="a fit written by `scalefit bon fit -o` (instead of DATA)")
    p.add_argument("--target", default="fresh", choices=["fresh", "continued"], api="target",
                   help="fresh: a new run of N attempts per item (default); continued: the observed attempts count towards N")
    p.add_argument("--level", type=LEVEL, default=0.9, help="interval level (default 0.9)", api="level")
    p.add_argument("--bootstrap", type=COUNT, default=200, api="num_bootstrap",
                   help="bootstrap replicates of the whole procedure for the intervals (default 200; 0: none)")


def add_commands(subparsers) -> None:
    """Register ``passk``, ``bon`` (``fit``, ``predict``, ``budget``), ``passuntil`` and ``backtest``
    on an argparse sub-parser collection (its ``parser_class`` is used for every new parser; the
    main CLI supplies the commands' one-line help)."""
    s = subparsers.add_parser("passk")
    _add_loader(s)
    s.add_argument("--k", required=True, type=number_list(integer=True, lo=1),
                   help="budgets, comma-separated positive integers (e.g. 1,10,100)")
    s.add_argument("--level", type=LEVEL, default=0.95, help="interval level (default 0.95)", api="level")
    s.add_argument("--bootstrap", type=POSITIVE_INT, default=2000, help="bootstrap replicates over items (default 2000)",
                   api="num_samples")
    s.add_argument("--seed", type=SEED, default=0, api="seed")
    s.set_defaults(func=_cmd_passk)

    bon = subparsers.add_parser("bon")
    bsub = bon.add_subparsers(dest="bon_command", metavar="{fit,predict,budget,plan}", parser_class=type(bon))
    bsub.required = True

    s = bsub.add_parser("fit", help="fit the candidate models, run the internal backtest, report the choice")
    _add_loader(s)
    _add_model_options(s)
    s.add_argument("-o", "--output", help="write the fit as JSON with its forecast, so that `scalefit report` needs "
                                          "no refit (never overwrites without --force)", api="path")
    s.add_argument("--bootstrap", type=REPLICATES, default=200, api="num_bootstrap",
                   help="with -o: whole-procedure bootstrap replicates saved for the forecast's intervals "
                        "(default 200; 0: none)")
    s.add_argument("--backtest", type=COUNT, default=None, metavar="M", api="backtest",
                   help="with -o: external backtest on M attempts per item (default n_min // 10 when the "
                        "counts allow; 0: none)")
    s.add_argument("--target", default="fresh", choices=["fresh", "continued"], api="target",
                   help="with -o: the saved forecast's target; fresh: a new run of N attempts per item (default); "
                        "continued: the observed attempts count towards N")
    s.add_argument("--plan-budget", type=COUNT, default=None, metavar="B", api="plan_budget",
                   help="with -o: further attempts the saved sampling plan spends, aimed at 10x the largest observed "
                        "budget (default: as many as were made; 0: no plan); `scalefit report` shows it")
    s.add_argument("--force", action="store_true", help="allow overwriting --output")
    s.set_defaults(func=_cmd_bon_fit)

    s = bsub.add_parser("predict", help="forecast pass@N (ASR@N) with intervals")
    _add_loader(s, data_required=False)
    _add_model_options(s)
    _add_forecast_options(s)
    s.add_argument("--N", required=True, type=_BUDGETS, help="budgets, comma-separated (e.g. 1000,10000)",
                   api=("N", "targets"))
    s.add_argument("--pool", default="off", choices=["auto", "on", "off"], api="pool",
                   help="groups sharing items (needs --groups): auto fits a pooled model next to each group's own "
                        "and uses it where the internal backtest says it is better; on: always; off (default)")
    s.add_argument("--tails", default=None, choices=list(TAILS), api="tails",
                   help="span (default): intervals also span every tail family the internal backtest cannot "
                        "reject; choice: the whole procedure's interval with its model choice alone")
    s.add_argument("-o", "--output", api="path",
                   help="with --pool auto|on: save the pooled comparison (both forecasts, the choice's internal "
                        "backtest, the shared item difficulty) as JSON for `scalefit report`; with --method bayes: "
                        "the posterior as JSON (scalefit.bayes.load_posterior reads it); never overwrites "
                        "without --force")
    s.add_argument("--force", action="store_true", help="allow overwriting --output")
    from ..bayes.cli import add_sampler_arguments

    add_sampler_arguments(s, with_method=True, with_prior=False, method_help=(
        "point (default) or bayes: the posterior of the pooled model by NUTS (needs --pool on; slow: "
        "minutes to an hour, see docs/bayes.md); on a CPU each chain gets its own XLA device and the "
        "chains run in parallel"))
    s.set_defaults(func=_cmd_bon_predict, bootstrap=None)

    s = bsub.add_parser("budget", help="attempts per item needed for target pass rates")
    _add_loader(s, data_required=False)
    _add_model_options(s)
    _add_forecast_options(s)
    s.add_argument("--rate", required=True, type=number_list(lo=0.0, hi=1.0, lo_open=True, hi_open=True),
                   help="target rates, comma-separated (e.g. 0.9,0.95)", api="rate")
    s.set_defaults(func=_cmd_bon_budget)

    s = bsub.add_parser("plan", help="how many further attempts each item should get for a sharper pass@N")
    _add_loader(s)
    _add_model_options(s)
    s.add_argument("--budget", required=True, type=POSITIVE_INT, api="extra_budget",
                   help="further attempts to spend (all rounds; all groups unless --budget-scope group)")
    s.add_argument("--N", required=True, type=number(lo=1.0, what="one finite budget >= 1"), api="N",
                   help="the budget whose pass@N forecast should become precise (e.g. 10000)")
    s.add_argument("--rounds", type=POSITIVE_INT, default=1, api="rounds",
                   help="rounds the budget is spread over; this plans the first (default 1)")
    s.add_argument("--target", default="fresh", choices=["fresh", "continued"], api="target",
                   help="fresh: a new run of N attempts per item (default); continued: the observed attempts count towards N")
    s.add_argument("--budget-scope", dest="budget_scope", default="total", choices=["total", "group"],
                   api="budget_scope", help="one budget across groups (default) or --budget for each group")
    s.add_argument("--step", type=POSITIVE_INT, default=1, api="step",
                   help="plan attempts in multiples of STEP (e.g. a batch size; default 1)")
    s.add_argument("--width", type=number(lo=0.0, lo_open=True), api="width",
                   help="stopping rule: plan nothing once the interval at N is no wider than WIDTH")
    s.add_argument("--level", type=LEVEL, default=0.9, help="interval level for --width (default 0.9)", api="level")
    s.add_argument("--bootstrap", type=COUNT, default=200, api="num_bootstrap",
                   help="bootstrap replicates for the --width interval (default 200)")
    s.add_argument("--parameter-draws", type=COUNT, default=0, api="parameter_draws", metavar="T",
                   help="also count the population parameters' uncertainty with T bootstrap refits (default 0: off)")
    s.add_argument("--families", default="chosen", choices=["chosen", "plausible"], api="families",
                   help="plan under the chosen tail family (default) or the mixture of the tails the internal "
                        "backtest cannot reject, valuing attempts also for telling them apart")
    s.add_argument("-o", "--output", help="write the plan as CSV (never overwrites without --force)", api="path")
    s.add_argument("--force", action="store_true", help="allow overwriting --output")
    s.set_defaults(func=_cmd_bon_plan)

    s = subparsers.add_parser("passuntil")
    s.add_argument("data", help="table with one row per (model size, instance)", api="source")
    s.add_argument("--size", required=True, help="model size column (e.g. params)", api="size")
    s.add_argument("--instance", required=True, help="instance id column", api="instance")
    s.add_argument("--successes", required=True, help="successes column", api="successes")
    s.add_argument("--attempts", required=True, help="attempts column", api="attempts")
    s.add_argument("--final-only", dest="final_only", metavar="COLUMN",
                   help="keep, for each size, only the rows with the largest COLUMN (e.g. train_tokens: final checkpoints)")
    s.add_argument("--holdout", type=number(lo=0.0, lo_open=True), help="size to predict (default: the largest)",
                   api="holdout")
    s.add_argument("--level", type=LEVEL, default=0.9, api="level")
    s.add_argument("--bootstrap", type=POSITIVE_INT, default=2000, api="num_samples",
                   help="bootstrap replicates over instances (default 2000)")
    s.add_argument("--seed", type=SEED, default=0, api="seed")
    s.set_defaults(func=_cmd_passuntil)

    s = subparsers.add_parser("backtest")
    _add_loader(s)
    s.add_argument("--fit-budget", dest="fit_budget", type=number(integer=True, lo=2), required=True,
                   help="attempts per item to fit on (>= 2)", api="fit_budget")
    s.add_argument("--N", required=True, type=_BUDGETS, help="budgets to forecast, comma-separated", api="N")
    s.add_argument("--first", action="store_true",
                   help="attempt log: fit on each item's first attempts (default: draw without replacement from counts)")
    s.add_argument("--repeats", type=POSITIVE_INT, default=5, help="independent subsamples (default 5)", api="repeats")
    s.add_argument("--seed", type=SEED, default=0, api="seed")
    s.add_argument("--level", type=LEVEL, default=0.9, api="level")
    s.add_argument("--bootstrap", type=COUNT, default=200, help="bootstrap replicates for scalefit's intervals",
                   api="num_bootstrap")
    s.add_argument("--estimators", help="comma-separated (default scalefit,saber_anchored; also saber_plugin, "
                                        "saber_fit, naive, scalefit:MODEL)", api="estimators")
    s.add_argument("--candidates", help="candidate models of scalefit's default", api="candidates")
    s.add_argument("--fraction", type=number(integer=True, lo=2), default=4, help="internal backtest thinning factor",
                   api="fraction")
    s.add_argument("--internal-repeats", dest="internal_repeats", type=POSITIVE_INT, default=4,
                   api="internal_repeats")
    s.add_argument("--select-bootstrap", dest="select_bootstrap", type=COUNT, default=100, api="select_bootstrap",
                   help="item resamples for the SE of the internal-backtest gain (default 100)")
    s.add_argument("--target", choices=["fresh", "continued"], api="target",
                   help="default: fresh for counts, continued for --first")
    s.add_argument("--design", choices=["uniform", "planned"], default="uniform", api="design",
                   help="uniform: FIT_BUDGET attempts per item (default); planned: the same total, a uniform first "
                        "round of FIT_BUDGET // 5 then 3 rounds chosen by the sampling planner (scalefit estimators)")
    s.add_argument("--pool", action="store_true",
                   help="counts with --groups: add the pooled model and the internal choice (pooled_auto) to the estimators")
    s.set_defaults(func=_cmd_backtest)
