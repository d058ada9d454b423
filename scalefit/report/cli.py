"""``scalefit report``: build a PDF from saved fits.  Wired into :mod:`scalefit.cli` with
``add_commands(subparsers)``; the handler returns an exit code and raises
:class:`~scalefit.errors.ScalefitError` subclasses on bad input (one-line errors)."""

from __future__ import annotations

from pathlib import Path

from ..errors import ArgumentError


def _parse_at(spec: str) -> dict[str, float]:
    out = {}
    for part in [p for p in spec.split(",") if p.strip()]:
        if "=" not in part:
            raise ArgumentError(f"`--at` expects NAME=VALUE[,NAME=VALUE...], got {part!r}")
        k, v = part.split("=", 1)
        try:
            out[k.strip()] = float(v)
        except ValueError:
            raise ArgumentError(f"`--at`: value of `{k.strip()}` = {v.strip()!r} is not a number") from None
    if not out:
        raise ArgumentError("`--at` is empty; e.g. --at N=7e10,D=1.4e12")
    return out


def _parse_budgets(text: str | None) -> list[float]:
    if not text:
        return []
    out = []
    for part in [p for p in text.split(",") if p.strip()]:
        try:
            out.append(float(part))
        except ValueError:
            raise ArgumentError(f"`--C`: {part.strip()!r} is not a number (FLOPs)") from None
    return out


def handle_report(args) -> int:
    from . import build_report

    inputs = list(args.inputs)
    for p in inputs:
        if not Path(p).is_file():
            raise ArgumentError(f"`FIT` = '{p}' does not exist")
    output = args.output
    if output is None:
        output = Path("reports") / (Path(inputs[0]).stem + ".pdf")
        output.parent.mkdir(parents=True, exist_ok=True)
    targets = [_parse_at(s) for s in (args.at or [])]
    options = {}
    if args.rate is not None:
        if not 0 < args.rate < 1:
            raise ArgumentError(f"`--rate` = {args.rate!r} must lie strictly between 0 and 1")
        options["rate"] = args.rate
    if args.level is not None:
        if not 0 < args.level < 1:
            raise ArgumentError(f"`--level` = {args.level!r} must lie strictly between 0 and 1")
        options["level"] = args.level
    if args.bootstrap is not None:
        if args.bootstrap != 0 and args.bootstrap < 20:
            raise ArgumentError(f"`--bootstrap` = {args.bootstrap} must be 0 (no intervals) or at least 20")
        options["bootstrap"] = args.bootstrap
    options["metric"] = args.metric
    options["command"] = getattr(args, "_argv", None)
    info = build_report(inputs, output, targets=targets or None, budgets=_parse_budgets(args.C) or None,
                        title=args.title, force=args.force, options=options)
    print(f"wrote {info.path} ({info.n_pages} pages: {', '.join(info.sections)})")
    for w in info.warnings:
        print(f"warning: {' '.join(w.split())}")
    return 0


def add_commands(subparsers) -> None:
    """Register ``report`` on the CLI's subparsers."""
    s = subparsers.add_parser(
        "report", help="build a PDF report from saved fits (no refitting)",
        description="Build a multi-page PDF from saved results (scalefit fit -o, best-of-N curve records): "
                    "summary, warnings, provenance, tables, plots and diagnostics.",
    )
    s.add_argument("inputs", nargs="+", metavar="FIT", help="saved result JSON file(s)")
    s.add_argument("-o", "--output", help="PDF to write (default reports/<first input>.pdf); never overwritten "
                                          "without --force")
    s.add_argument("--at", action="append", metavar="NAME=VALUE,...",
                   help="prediction target, e.g. N=7e10,D=1.4e12 (repeatable; the first is the headline)")
    s.add_argument("--C", metavar="FLOPS", help="compute budgets for the compute-optimal section, comma-separated")
    s.add_argument("--title", help="report title")
    g = s.add_argument_group("best-of-N fits (scalefit bon fit -o): forecasts are made when the report is built")
    g.add_argument("--rate", type=float, help="target pass@N / ASR@N whose budget N is reported, e.g. 0.9")
    g.add_argument("--level", type=float, help="interval level (default 0.9)")
    g.add_argument("--bootstrap", type=int, help="bootstrap replicates behind the intervals (default 200)")
    g.add_argument("--metric", choices=["pass", "ASR"], default="pass", help="wording: pass@N or ASR@N")
    s.add_argument("--force", action="store_true", help="allow overwriting the output PDF")
    s.set_defaults(func=handle_report)
