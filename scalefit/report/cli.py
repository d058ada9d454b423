"""``scalefit report``: build a PDF from saved fits.  Wired into :mod:`scalefit.cli` with
``add_commands(subparsers)``; the handler returns an exit code and raises
:class:`~scalefit.errors.ScalefitError` subclasses on bad input (one-line errors)."""

from __future__ import annotations

from pathlib import Path

from .._cliargs import COUNT, LEVEL, number_list
from .._files import check_input_path
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


def handle_report(args) -> int:
    from . import build_report

    inputs = list(args.inputs)
    for p in inputs:
        check_input_path(p, argument="FIT")
    output = args.output
    if output is None:
        output = Path("reports") / (Path(inputs[0]).stem + ".pdf")
        if not output.parent.exists():
            output.parent.mkdir(parents=True)
    targets = [_parse_at(s) for s in (args.at or [])]
    options = {}
    for key in ("rate", "level", "plan_budget"):
        if getattr(args, key) is not None:
            options[key] = getattr(args, key)
    options["metric"] = args.metric
    options["command"] = getattr(args, "_argv", None)
    info = build_report(inputs, output, targets=targets or None, budgets=args.C,
                        title=args.title, force=args.force, options=options)
    print(f"wrote {info.path} ({info.n_pages} pages: {', '.join(info.sections)})")
    for w in info.warnings:
        print(f"warning: {' '.join(w.split())}")
    return 0


def add_commands(subparsers) -> None:
    """Register ``report`` on the CLI's subparsers."""
    s = subparsers.add_parser(
        "report", description="Build a multi-page PDF from saved results (scalefit fit -o, scalefit bon fit -o, pooled "
                    "comparisons from scalefit bon predict --pool auto -o, pooled posteriors from scalefit bon predict --pool on "
                    "--method bayes -o, best-of-N curve records): "
                    "summary, warnings, provenance, tables, plots and diagnostics.",
    )
    s.add_argument("inputs", nargs="+", metavar="FIT", help="saved result JSON file(s)", api="inputs")
    s.add_argument("-o", "--output", api="output", help="PDF to write (default reports/<first input>.pdf); never overwritten "
                                          "without --force")
    s.add_argument("--at", action="append", metavar="NAME=VALUE,...",
                   help="prediction target, e.g. N=7e10,D=1.4e12 (repeatable; the first is the headline)")
    s.add_argument("--C", metavar="FLOPS", type=number_list(lo=0.0, lo_open=True), api="budgets",
                   help="compute budgets for the compute-optimal section, comma-separated")
    s.add_argument("--title", help="report title")
    g = s.add_argument_group("best-of-N fits (scalefit bon fit -o): read from the forecast saved with the fit")
    g.add_argument("--rate", type=LEVEL, api="rate", help="target pass@N / ASR@N whose budget N is reported, e.g. 0.9")
    g.add_argument("--level", type=LEVEL, api="level", help="interval level (default 0.9)")
    g.add_argument("--metric", choices=["pass", "ASR"], default="pass", help="wording: pass@N or ASR@N")
    g.add_argument("--plan-budget", type=COUNT, api="plan_budget", metavar="B",
                   help="0 leaves out the sampling-plan page; the plan is saved with the fit "
                        "(scalefit bon fit --plan-budget B -o), so any other B must match the saved one")
    s.add_argument("--force", action="store_true", help="allow overwriting the output PDF")
    s.set_defaults(func=handle_report)
