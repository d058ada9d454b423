"""`scalefit chain`: fit (N, D) -> intermediate -> target on a table and predict held-out runs."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._cliargs import parse_assignments
from .errors import ArgumentError


def add_commands(sub) -> None:
    s = sub.add_parser("chain", help="two chained laws: (N, D) -> intermediate metric -> target metric")
    s.add_argument("data", help="table with one row per checkpoint (or per run): run, N, D, metrics")
    s.add_argument("--step1", default="chinchilla", help="law of (N, D) for the intermediate (default chinchilla)")
    s.add_argument("--step2", default="sigmoid", help="link from intermediate to target (sigmoid, error_link)")
    s.add_argument("--intermediate", required=True, metavar="COLUMN", help="intermediate metric (e.g. task loss)")
    s.add_argument("--target", required=True, metavar="COLUMN",
                   help="target metric; `1-COLUMN` fits one minus a column (error from accuracy)")
    s.add_argument("--map", help="rename source columns to run/N/D/step, e.g. run=name,N=params,D=tokens")
    s.add_argument("--where", action="append", metavar="COLUMN=VALUE",
                   help="keep only rows whose source column equals VALUE, e.g. --where dataset=rpj (repeatable: "
                        "every condition must hold; numeric columns compare as numbers)")
    s.add_argument("--anchor", action="append",
                   help="fixed row kept in every replicate, e.g. loss=0,acc=1 (repeatable)")
    s.add_argument("--last", type=int, default=1, help="average step 1's intermediate over the last K checkpoints")
    s.add_argument("--holdout-min-N", type=float, metavar="N",
                   help="hold out runs with N >= this value: fit on the rest, predict them, print relative errors")
    s.add_argument("--at", action="append", help="prediction point N=...,D=... (repeatable)")
    s.add_argument("--method", choices=("bootstrap", "bayes"), default="bootstrap",
                   help="intervals from a paired run bootstrap plus each step's residual noise (default), or "
                        "from NUTS posteriors of both steps with their likelihood noise")
    s.add_argument("--bootstrap", type=int, default=1000, metavar="R", help="paired replicates (default 1000; 0: none)")
    s.add_argument("--level", type=float, default=0.9, help="interval level (default 0.9)")
    s.add_argument("--backtest", action="store_true", help="also refit without the largest model size and predict it")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("-o", "--output", help="save the chain as JSON for `scalefit report` (never overwrites without --force)")
    s.add_argument("--force", action="store_true", help="allow overwriting --output")
    s.set_defaults(func=run_chain)


def _pairs(text: str, flag: str) -> dict[str, str]:
    return parse_assignments(text, f"--{flag}")


def _number(v: str, flag: str, name: str) -> float:
    try:
        return float(v)
    except ValueError:
        raise ArgumentError(f"`--{flag}`: value of `{name}` = {v!r} is not a number") from None


def select_rows(frame: pd.DataFrame, conditions: list[str], source: str) -> pd.DataFrame:
    """The rows of ``frame`` meeting every ``COLUMN=VALUE`` condition (``--where``); a numeric
    column compares as numbers, any other as text.  One-line errors name the column and value."""
    keep = np.ones(len(frame), dtype=bool)
    for text in conditions:
        for col, value in _pairs(text, "where").items():
            if col not in frame.columns:
                raise ArgumentError(f"`--where`: column `{col}` is not in '{source}' "
                                    f"(columns: {', '.join(map(str, frame.columns))})")
            series = frame[col]
            if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
                match = series.to_numpy(dtype=float) == _number(value, "where", col)
            else:
                match = series.astype(str).str.strip().to_numpy() == value
            if not match.any():
                seen = pd.unique(series.astype(str))
                shown = ", ".join(seen[:8]) + (", ..." if len(seen) > 8 else "")
                raise ArgumentError(f"`--where`: no row of '{source}' has `{col}` = {value!r} (values: {shown})")
            keep &= match
    if not keep.any():
        raise ArgumentError(f"`--where`: no row of '{source}' meets every condition ({'; '.join(conditions)})")
    return frame[keep]


def run_chain(args) -> int:
    from ._files import check_output_path
    from .chain import fit_chain
    from .io.runs import read_frame

    if args.output:
        check_output_path(args.output, overwrite=args.force, argument="-o")

    frame = read_frame(args.data)
    if args.where:
        frame = select_rows(frame, args.where, args.data)
    if args.map:
        ren = {src: dst for dst, src in _pairs(args.map, "map").items()}
        missing = [c for c in ren if c not in frame.columns]
        if missing:
            raise ArgumentError(f"`--map` names column `{missing[0]}`, not in '{args.data}'")
        frame = frame.rename(columns=ren)
    target = args.target
    if target not in frame.columns and target.startswith("1-") and target[2:] in frame.columns:
        frame[target] = 1.0 - pd.to_numeric(frame[target[2:]], errors="coerce")
    for flag, col in (("intermediate", args.intermediate), ("target", target)):
        if col not in frame.columns:
            raise ArgumentError(f"`--{flag}` column `{col}` is not in '{args.data}' "
                                f"(columns: {', '.join(map(str, frame.columns))})")
    for col in ("run", "N", "D"):
        if col not in frame.columns:
            raise ArgumentError(f"'{args.data}' has no `{col}` column; map one with --map {col}=COLUMN")
    anchors = [{k: _number(v, "anchor", k) for k, v in _pairs(a, "anchor").items()} for a in (args.anchor or [])]
    train, held = frame, frame.iloc[:0]
    if args.holdout_min_N is not None:
        held = frame[frame["N"] >= args.holdout_min_N]
        train = frame[frame["N"] < args.holdout_min_N]
        if held.empty:
            raise ArgumentError(f"`--holdout-min-N` = {args.holdout_min_N:g} holds out no run "
                                f"(largest N is {frame['N'].max():g})")
    res = fit_chain(train, args.step1, args.step2, intermediate=args.intermediate, target=target,
                    anchor=anchors or None, last=args.last, method=args.method, num_bootstrap=args.bootstrap,
                    seed=args.seed, level=args.level, backtest=args.backtest)
    print(res.summary())
    if not held.empty:
        if "step" in held.columns:
            from .io import final_checkpoints

            held = final_checkpoints(held, last=args.last, columns=[args.intermediate, target])
        pred = res.predict(held["N"].to_numpy(), held["D"].to_numpy())
        print(f"held-out runs (N >= {args.holdout_min_N:g}):")
        inside = 0
        for (_, row), (_, p) in zip(held.iterrows(), pred.iterrows()):
            line = (f"  {row['run']}: N={row['N']:.3g} D={row['D']:.3g}  {args.intermediate} {row[args.intermediate]:.4g}"
                    f" pred {p[args.intermediate]:.4g} ({p[args.intermediate] / row[args.intermediate] - 1:+.2%});  "
                    f"{target} {row[target]:.4g} pred {p['prediction']:.4g} ({p['prediction'] / row[target] - 1:+.2%})")
            if "lower" in p:
                ok = p["lower"] <= row[target] <= p["upper"]
                inside += ok
                line += f" {args.level:.0%} [{p['lower']:.4g}, {p['upper']:.4g}] {'inside' if ok else 'OUTSIDE'}"
            if p["extrapolation"]:
                line += f" ({p['extrapolation']})"
            print(line)
        if "lower" in pred.columns:
            print(f"inside their {args.level:.0%} interval: {inside}/{len(held)}")
    for at in args.at or []:
        pt = {k: _number(v, "at", k) for k, v in _pairs(at, "at").items()}
        if set(pt) != {"N", "D"}:
            raise ArgumentError(f"`--at` needs N=...,D=..., got {at!r}")
        p = res.predict(pt["N"], pt["D"]).iloc[0]
        line = f"at N={pt['N']:.3g} D={pt['D']:.3g}: {args.intermediate} {p[args.intermediate]:.4g}, {target} {p['prediction']:.4g}"
        if "lower" in p:
            line += f" {args.level:.0%} [{p['lower']:.4g}, {p['upper']:.4g}]"
        print(line)
    if res.backtest is not None:
        print("backtest runs (refitted without the largest size):")
        for _, b in res.backtest.iterrows():
            line = f"  {b['run']}: {target} {b['observed']:.4g} pred {b['prediction']:.4g} ({b['relative_error']:+.2%})"
            if "inside" in b:
                line += f" [{b['lower']:.4g}, {b['upper']:.4g}] {'inside' if b['inside'] else 'OUTSIDE'}"
            print(line)
    if args.output:
        res.to_json(args.output, overwrite=args.force)
        print(f"saved chain to {args.output} (render with `scalefit report {args.output}`)")
    return 0
