"""The ``scalefit`` command line. Thin: parses, calls the public API, prints one-line errors.

Errors a user can cause are printed as ONE line on stderr (``scalefit: error: ...``) with exit
code 2; unexpected failures print one line with exit code 1.  ``--debug`` shows tracebacks.
"""

from __future__ import annotations

import os
import sys

from ._cliargs import COUNT, LEVEL, POSITIVE, POSITIVE_INT, SEED, OneLineParser, UsageError, cli_wording, number_list

EXIT_USAGE = 2
EXIT_INTERNAL = 1


def _setup_jax(args=None) -> None:
    """float64 plus JAX's persistent compilation cache (compile once across CLI runs).

    For ``fit --method bayes`` on a CPU, one XLA host device per chain (unless ``XLA_FLAGS``
    already sets a device count) so that the chains run in parallel rather than vectorised:
    4 chains on Epoch's Chinchilla data sample ~6x faster on 2 cores (benchmarks/README.md)."""
    os.environ.setdefault("JAX_PLATFORMS", os.environ.get("JAX_PLATFORMS", ""))
    import jax

    from ._config import enable_x64

    enable_x64()
    chains = getattr(args, "chains", 1) or 1
    if (getattr(args, "method", None) == "bayes" and chains > 1
            and getattr(args, "chain_method", "auto") in ("auto", "parallel")
            and "xla_force_host_platform_device_count" not in os.environ.get("XLA_FLAGS", "")):
        try:  # only possible before JAX's backends start (not when main() runs inside a session)
            jax.config.update("jax_num_cpu_devices", int(chains))
        except Exception:  # noqa: BLE001 - then chains are vectorised, as without this
            pass
    from ._config import use_compilation_cache

    use_compilation_cache()


def _parse_assignments(text: str, argument: str) -> dict[str, str]:
    from ._cliargs import parse_assignments

    return parse_assignments(text, argument)


def _floats(d: dict[str, str], argument: str) -> dict[str, float]:
    from .errors import ArgumentError

    out = {}
    for k, v in d.items():
        try:
            out[k] = float(v)
        except ValueError:
            raise ArgumentError(f"`{argument}`: value of `{k}` = {v!r} is not a number") from None
    return out


# ------------------------------------------------------------------------------ commands
def _cmd_laws(args) -> int:
    from .laws import available_laws, get_law

    for name in available_laws():
        print(get_law(name).describe())
        print()
    print("Formulas, losses, start grids and reference values: docs/laws.md; how fits run and what their "
          "convergence status means: docs/fitting.md")
    return 0


def _use_host_cores() -> None:
    """With SCALEFIT_HOST_DEVICES=K, expose K XLA CPU devices so that fits and bootstraps shard
    across host cores (results do not depend on the device count).  Only possible before JAX
    creates its CPU backend, which no `fit` code path has done yet when this runs; a device
    count already in XLA_FLAGS wins.  Opt-in: on a busy 2-core machine a Chinchilla fit on 2
    devices took more CPU and wall time (3.6 s vs 2.7 s) than on one."""
    flags = os.environ.get("XLA_FLAGS", "")
    if "xla_force_host_platform_device_count" in flags or not os.environ.get("SCALEFIT_HOST_DEVICES"):
        return
    try:
        n = int(os.environ["SCALEFIT_HOST_DEVICES"])
    except ValueError:
        return
    if n > 1:
        os.environ["XLA_FLAGS"] = f"{flags} --xla_force_host_platform_device_count={n}".strip()


def _load_for_fit(args):
    from .errors import ArgumentError
    from ._files import check_input_path
    from .io import load_curves

    columns = {}
    for key in ("N", "D", "C", "value", "run", "step", "se"):
        v = getattr(args, f"col_{key}")
        if v:
            columns[key] = v
    for k, v in _parse_assignments(args.map or "", "--map").items():
        columns[k] = v
    path = check_input_path(args.data)
    frame = load_curves(path, columns=columns or None, metric=args.metric)
    if args.drop_largest:
        if args.drop_largest < 0 or args.drop_largest >= len(frame):
            raise ArgumentError(f"`--drop-largest` = {args.drop_largest} must be in [0, {len(frame) - 1}]")
        target = args.target
        # Epoch's filter (docs/data.md#validation): keep rows strictly below the K-th largest value
        thr = frame[target].sort_values(ascending=False).iloc[args.drop_largest - 1]
        frame = frame[frame[target] < thr]
    return frame


def _cmd_fit(args) -> int:
    from .fit import _export

    if getattr(args, "method", "point") != "bayes":  # bayes: one CPU device per chain (_setup_jax)
        _use_host_cores()
    # a fresh process would otherwise re-trace the solver on every run (~1 s); see fit/_export.py
    from ._config import cache_dir

    folder = cache_dir()
    if folder is not None:
        _export.enable(str(folder))
    try:
        return _fit_command(args)
    finally:
        _export.enable(None)  # only this command uses the cache, not later calls in the same process


def _fit_command(args) -> int:
    from .fit import fit_law

    if args.output:
        from ._files import check_output_path

        check_output_path(args.output, overwrite=args.force, argument="-o")
    if getattr(args, "sampler_flags", None):  # --draws etc. without --method bayes
        from .bayes.cli import check_sampler_flags

        check_sampler_flags(args)
    frame = _load_for_fit(args)
    if getattr(args, "method", "point") == "bayes":
        if args.bootstrap:
            from .errors import ArgumentError

            raise ArgumentError("`--bootstrap` is for point fits; `--method bayes` reports posterior intervals")
        from .bayes.cli import run_bayes_fit

        return run_bayes_fit(frame, args)
    from .laws import law_option

    law_options = law_option(args.law, "n_breaks", args.breaks, "--breaks")
    inputs = dict(_parse_assignments(args.input or "", "--input"))
    if args.x:
        inputs["x"] = args.x
    fixed = _floats(_parse_assignments(args.fix or "", "--fix"), "--fix")
    tied = _parse_assignments(args.tie or "", "--tie")
    res = fit_law(
        frame, args.law, inputs=inputs or None, target=args.target, loss=args.loss, delta=args.delta,
        fixed=fixed or None, tied=tied or None, seed=args.seed, source=str(args.data),
        law_options=law_options,
    )
    res = res.with_metadata(command=args._argv)
    if args.bootstrap:
        from .fit import bootstrap

        res = bootstrap(res, args.bootstrap, cluster=args.cluster, seed=args.seed, level=args.level)
    print(res.summary())
    if res.bootstrap is not None and res.law.allocation is not None:
        import pandas as pd

        from .fit import allocation_intervals

        with pd.option_context("display.float_format", "{:.5g}".format, "display.width", 160):
            print(f"compute-optimal allocation at C = {args.target_compute:g} FLOPs "
                  f"({res.bootstrap.level:.0%} bootstrap percentile intervals):")
            print(allocation_intervals(res, args.target_compute).drop(columns=["level", "C"]).to_string(index=False))
    if args.output:
        res.to_json(args.output, overwrite=args.force)
        print(f"wrote {args.output}")
    return 0 if res.converged or not args.strict else 3


def _cmd_predict(args) -> int:
    import pandas as pd

    from ._extrapolation import EXTRAPOLATION_WARN
    from .errors import ArgumentError
    from .fit import FitResult

    res = FitResult.from_json(args.fit)
    rows = []
    for spec in args.at or []:
        rows.append(_floats(_parse_assignments(spec, "--at"), "--at"))
    if not rows:
        raise ArgumentError("`--at` is required, e.g. --at N=7e10,D=1.4e12")
    frames = [res.predict(r) for r in rows]
    # the printed table keeps its 0.1 layout: `prediction` only (`estimate` holds the same values)
    out = pd.concat(frames, ignore_index=True).drop(columns="estimate")
    with pd.option_context("display.float_format", "{:.6g}".format, "display.width", 160):
        print(out.to_string(index=False))
    if "extrapolation" in out and (out["extrapolation"] > EXTRAPOLATION_WARN).any():
        print(f"warning: extrapolating more than {EXTRAPOLATION_WARN:g}x beyond the fitted data (largest ratio of an "
              "input, or of the inputs' product, to the fitted rows'); the band is conditional on the law")
    if not res.converged:
        print(f"warning: the fit did not converge: {res.status}")
    return 0


def _cmd_optimal(args) -> int:
    import pandas as pd

    from .allocation import allocation_constants, compute_optimal
    from .fit import FitResult

    res = FitResult.from_json(args.fit)
    Cs = args.C
    k = allocation_constants(res)
    print(f"allocation exponents: N_opt ∝ C^{k['a']:.4f}, D_opt ∝ C^{k['b']:.4f}")
    with pd.option_context("display.float_format", "{:.6g}".format, "display.width", 160):
        print(compute_optimal(res, Cs).to_string(index=False))
    return 0


def _cmd_demo(args) -> int:
    from .demo import run_demo

    return run_demo(output=args.output, force=args.force)


# ------------------------------------------------------------------------------ parser
#: commands whose parsers need no optional sub-package (see :func:`_parse_fast`)
_CORE_COMMANDS = ("fit", "laws", "predict", "optimal")

#: one-line help of the commands registered by sub-packages, in the order `--help` lists them;
#: the single source of that text (the top-level help lists them without importing anything)
_COMMAND_HELP = {
    "report": "build a PDF report from saved fits (no refitting)",
    "passk": "unbiased pass@k of repeated-sampling data (k <= attempts)",
    "bon": "best-of-N / pass@N forecasts beyond the observed budget",
    "passuntil": "PassUntil task law: predict a held-out model size",
    "backtest": "fit on a small budget per item, compare forecasts with the full log",
    "compare": "compare laws: PSIS-LOO (interpolation) and leave-future-out (extrapolation)",
    "demo": "run the main job on bundled example data",
}


def _version() -> str:
    from . import __version__

    return f"scalefit {__version__}"


class _ExactParser(OneLineParser):
    """The core-only parser: no abbreviated options, so that it never accepts a prefix the full
    parser would find ambiguous (anything not matched exactly is left to the full parser)."""

    def __init__(self, *a, **kw):
        kw["allow_abbrev"] = False
        super().__init__(*a, **kw)


class _HelpedSubparsers:
    """Wraps the sub-parser collection so that sub-packages' top-level commands take their
    one-line help from :data:`_COMMAND_HELP`."""

    def __init__(self, sub):
        self._sub = sub

    def add_parser(self, name, **kw):
        kw.setdefault("help", _COMMAND_HELP.get(name))
        return self._sub.add_parser(name, **kw)


def build_parser(core_only: bool = False, *, listing: bool = False):
    """The full parser; ``core_only`` leaves out the registrations that import optional
    sub-packages (report, sampling, bayes: ~2 s of imports), for :func:`_parse_fast`;
    ``listing`` (with ``core_only``) adds those commands as empty stubs so that the top-level
    ``--help`` lists every command without importing anything."""
    cls = _ExactParser if core_only else OneLineParser
    p = cls(prog="scalefit", description="Fit and extrapolate scaling laws.")
    p.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    p.add_argument("--version", action="version", version=_version(), help="print the version and exit")
    sub = p.add_subparsers(dest="command", parser_class=cls)

    s = sub.add_parser("laws", help="list available laws with their formulas")
    s.set_defaults(func=_cmd_laws)

    s = sub.add_parser("fit", help="fit a law to a data file and print the parameter table")
    s.add_argument("data", help="CSV, TSV, Parquet, JSON or JSONL file", api="source")
    s.add_argument("--law", default="chinchilla", help="law name (see `scalefit laws`)", api="law")
    for key, helptext in (("N", "parameters"), ("D", "training tokens"), ("C", "training FLOPs"),
                          ("value", "measured loss/metric"), ("run", "run id"), ("step", "checkpoint step"),
                          ("se", "standard error")):
        s.add_argument(f"--{key}", dest=f"col_{key}", metavar="COLUMN", help=f"source column holding {helptext}")
    s.add_argument("--map", help="more schema mappings, e.g. N=params,D=tokens", api="columns")
    s.add_argument("--metric", help="metric name to keep or to read as the value column", api="metric")
    s.add_argument("--x", help="column bound to a single-variable law's input x (e.g. N, D or C)")
    s.add_argument("--input", help="law input bindings, e.g. L=loss", api="inputs")
    s.add_argument("--target", default="value", help="column to fit (default: value)", api="target")
    s.add_argument("--loss", choices=["huber", "squared", "absolute", "asymmetric"], help="objective")
    s.add_argument("--delta", type=POSITIVE, default=1e-3, help="Huber delta / residual scale (default 1e-3)",
                   api="delta")
    s.add_argument("--fix", help="fix parameters, e.g. alpha=0.34,beta=0.28", api="fixed")
    s.add_argument("--tie", help="tie parameters, e.g. beta=alpha", api="tied")
    s.add_argument("--breaks", type=POSITIVE_INT, help="number of breaks for --law bnsl (>= 1)", api="n_breaks")
    s.add_argument("--drop-largest", type=COUNT, default=0, metavar="K",
                   help="drop the K rows with the largest target value (Epoch's Chinchilla filter: 5)")
    s.add_argument("--bootstrap", type=COUNT, default=0, metavar="R", api=("num_bootstrap", "n_replicates"),
                   help="bootstrap R replicates (case resampling, or by --cluster) and report intervals")
    s.add_argument("--cluster", metavar="COLUMN", help="resample whole clusters (e.g. run) in the bootstrap",
                   api="cluster")
    s.add_argument("--level", type=LEVEL, default=0.9, help="interval level (default 0.9)", api="level")
    s.add_argument("--target-compute", type=POSITIVE, default=1e24, metavar="C",
                   help="compute budget for the allocation table of Chinchilla-type fits (default 1e24)")
    s.add_argument("--seed", type=SEED, default=0, api="seed")
    s.add_argument("-o", "--output", help="write the fit as JSON (never overwrites without --force)", api="path")
    s.add_argument("--force", action="store_true", help="allow overwriting --output")
    s.add_argument("--strict", action="store_true", help="exit with code 3 if the fit did not converge")
    if not core_only:
        from .bayes.cli import add_fit_arguments as _add_bayes_fit_arguments

        _add_bayes_fit_arguments(s)
    s.set_defaults(func=_cmd_fit)

    s = sub.add_parser("predict", help="predict from a saved fit")
    s.add_argument("fit", help="fit JSON written by `scalefit fit -o`")
    s.add_argument("--at", action="append", help="input values, e.g. N=7e10,D=1.4e12 (repeatable)", api="at")
    s.set_defaults(func=_cmd_predict)

    s = sub.add_parser("optimal", help="compute-optimal N, D and loss for compute budgets (Chinchilla-type fits)")
    s.add_argument("fit")
    s.add_argument("--C", required=True, type=number_list(lo=0.0, lo_open=True),
                   help="compute budgets in FLOPs, comma-separated (finite, > 0)")
    s.set_defaults(func=_cmd_optimal)

    if core_only:
        for name, text in _COMMAND_HELP.items() if listing else ():
            sub.add_parser(name, help=text, add_help=False)
        return p

    helped = _HelpedSubparsers(sub)
    from .report.cli import add_commands as _add_report

    _add_report(helped)

    from .chain_cli import add_commands as _add_chain

    _add_chain(sub)

    from .bayes.cli import add_commands as _add_bayes
    from .sampling.cli import add_commands as _add_sampling

    _add_sampling(helped)
    _add_bayes(helped)

    s = helped.add_parser("demo")
    s.add_argument("-o", "--output", default=None, help="where to write outputs (default reports/)")
    s.add_argument("--force", action="store_true")
    s.set_defaults(func=_cmd_demo)
    return p


def _parse_fast(raw: list[str]):
    """Parse with the core parser when that is enough (a core command, no option it does not
    know, no help request): a point fit then skips importing the optional sub-packages.
    Returns None whenever the full parser must decide (including every error)."""
    if not raw or any(t == "-h" or t.startswith("--h") for t in raw):
        return None
    try:
        args, extra = build_parser(core_only=True).parse_known_args(raw)
    except (UsageError, SystemExit):
        return None
    if extra or getattr(args, "command", None) not in _CORE_COMMANDS:
        return None
    return args


def _top_level(raw: list[str]) -> bool:
    """No command, or only top-level options (``--help``, ``--version``): answered by the
    core parser with the command listing, importing neither JAX nor a sub-package."""
    return all(t.startswith("-") for t in raw)


def _input_paths(args) -> str:
    """The command's file arguments as the user wrote them (for errors about their content)."""
    names = []
    for key in ("data", "fit", "inputs"):
        value = getattr(args, key, None)
        names += [v for v in (value if isinstance(value, list) else [value]) if isinstance(v, str)]
    return ", ".join(f"'{n}'" for n in names) or "the input"


def _user_error(exc: BaseException, args) -> str | None:
    """The one-line message for an error the user's input caused, None for a bug.

    Package errors (:class:`~scalefit.errors.ScalefitError`) name what is wrong, with the API's
    argument names replaced by this command's flags; failures to read or write a file and
    content Python cannot decode or hold are reported against the file(s) given."""
    from .errors import ArgumentError, ScalefitError

    if isinstance(exc, ScalefitError):
        msg = str(exc)
        if isinstance(exc, ArgumentError):
            msg = cli_wording(msg, getattr(args, "flag_names", None))
        return msg
    if isinstance(exc, OSError) and exc.filename is not None:
        return f"cannot use '{exc.filename}': {exc.strerror or type(exc).__name__}"
    if isinstance(exc, UnicodeDecodeError):
        return f"{_input_paths(args)}: not UTF-8 text (byte {exc.start}); save the file as UTF-8"
    if isinstance(exc, RecursionError):
        return f"{_input_paths(args)}: nested too deeply to read"
    return None


def main(argv: list[str] | None = None) -> int:
    raw = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in raw
    args = None
    try:
        if _top_level(raw):
            parser = build_parser(core_only=True, listing=True)
            parser.parse_args(raw)  # --help and --version print and exit here
            parser.print_help()
            return EXIT_USAGE
        args = _parse_fast(raw) or build_parser().parse_args(raw)
        args._argv = "scalefit " + " ".join(raw)
        _setup_jax(args)
        return int(args.func(args) or 0)
    except UsageError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_USAGE
    except SystemExit as exc:  # argparse after --help / --version
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    except Exception as exc:  # noqa: BLE001 - the CLI boundary
        if debug:
            raise
        msg = _user_error(exc, args)
        if msg is not None:
            print(f"scalefit: error: {' '.join(msg.split())}", file=sys.stderr)
            return EXIT_USAGE
        msg = " ".join(f"{type(exc).__name__}: {exc}".split())
        print(f"scalefit: internal error: {msg} (rerun with --debug for a traceback)", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
