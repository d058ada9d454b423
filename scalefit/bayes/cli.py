"""Command-line pieces for Bayesian fits, used by :mod:`scalefit.cli`.

* :func:`add_fit_arguments` adds ``--method {point,bayes}``, ``--draws``, ``--warmup``,
  ``--chains``, ``--target-accept``, ``--prior`` and ``--extrapolate`` to ``scalefit fit``;
  :func:`run_bayes_fit` runs ``scalefit fit ... --method bayes`` on the loaded frame.
* :func:`add_sampler_arguments` adds the sampler's flags (also to ``scalefit bon predict``).
* :func:`add_commands` registers ``scalefit compare DATA --laws a,b,c``.

Handlers return an exit code and raise :class:`~scalefit.errors.ScalefitError` subclasses for
bad input (the main CLI prints those on one line).
"""

from __future__ import annotations

import argparse
import re
import sys

from .._cliargs import COUNT, LEVEL, POSITIVE_INT, SEED, number_list
from .._files import check_input_path
from ..errors import ArgumentError

_PRIOR_RE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*([a-z_]+)\s*\(([^()]*)\)\s*$")


def parse_prior(text: str):
    """``NAME=DIST(ARGS)`` -> (name, Prior); e.g. ``alpha=lognormal(-1.2,0.5)``, ``e=floor(3,2)``,
    ``log_alpha=uniform(-7,2)`` on a log scale via ``alpha=loguniform(-7,2)``."""
    from ..params import PRIOR_DISTS, Prior

    m = _PRIOR_RE.match(text)
    if not m:
        raise ArgumentError(f"`--prior` expects NAME=DIST(ARGS), e.g. alpha=lognormal(-1.2,0.5); got {text!r}")
    name, dist, args = m.group(1), m.group(2), m.group(3)
    try:
        vals = [float(a) for a in args.split(",") if a.strip()]
    except ValueError:
        raise ArgumentError(f"`--prior` {text!r}: arguments must be numbers") from None
    if dist == "floor":
        return name, Prior.floor_fraction(*vals) if vals else Prior.floor_fraction()
    if dist == "loguniform":
        return name, Prior("uniform", tuple(vals), transform="exp")
    if dist not in PRIOR_DISTS:
        raise ArgumentError(
            f"`--prior` {text!r}: unknown distribution {dist!r}; use one of {', '.join(PRIOR_DISTS)}, floor, loguniform")
    return name, Prior(dist, tuple(vals))


def _note_given(namespace, action: argparse.Action, values) -> None:
    given = dict(getattr(namespace, "sampler_flags", None) or {})
    given[max(action.option_strings, key=len)] = values
    namespace.sampler_flags = given


class _SamplerFlag(argparse.Action):
    """Stores the value and notes the flag as given (``namespace.sampler_flags``), so that a
    command can refuse sampler settings it would otherwise ignore (:func:`check_sampler_flags`)."""

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, values)
        _note_given(namespace, self, values)


class _SamplerAppend(argparse.Action):
    """``--prior`` (repeatable): appends the value, and notes the flag as given like
    :class:`_SamplerFlag`."""

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, [*(getattr(namespace, self.dest, None) or []), values])
        _note_given(namespace, self, values)


def check_sampler_flags(args) -> None:
    """A one-line error when a Bayesian setting (``--draws``, ``--prior`` ...) was given without
    ``--method bayes``: a point fit would ignore it, and the user would believe it took effect."""
    given = getattr(args, "sampler_flags", None) or {}
    method = getattr(args, "method", "bayes")
    if given and method != "bayes":
        flag, value = next(iter(given.items()))
        if isinstance(value, (list, tuple)):
            value = ",".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value)
        raise ArgumentError(f"`{flag}` = {value} is a setting of --method bayes (got --method {method}), "
                            "which would ignore it")


def add_sampler_arguments(parser, *, with_method: bool, with_prior: bool = True, method_help: str | None = None) -> None:
    """Add the NUTS options (``--draws``, ``--warmup``, ``--chains``, ``--target-accept``,
    ``--chain-method``; ``--method {point,bayes}`` and ``--prior`` when asked) to ``parser``:
    every command that samples a posterior takes the same flags.  Given without
    ``--method bayes``, they are refused by :func:`check_sampler_flags`."""
    if with_method:
        parser.add_argument("--method", choices=["point", "bayes"], default="point",
                            help=method_help or "point fit (default) or Bayesian fit with NUTS")
    g = parser.add_argument_group("Bayesian fit (NUTS)")
    g.add_argument("--draws", action=_SamplerFlag, type=POSITIVE_INT, default=1000,
                   help="posterior draws per chain (default 1000)", api="num_samples")
    g.add_argument("--warmup", action=_SamplerFlag, type=POSITIVE_INT, default=1000,
                   help="warm-up iterations per chain (default 1000)", api="num_warmup")
    g.add_argument("--chains", action=_SamplerFlag, type=POSITIVE_INT, default=4, help="number of chains (default 4)",
                   api="num_chains")
    g.add_argument("--target-accept", action=_SamplerFlag, type=LEVEL, default=0.8, dest="target_accept",
                   api="target_accept", help="NUTS target acceptance probability (raise to 0.95 after divergences)")
    g.add_argument("--chain-method", action=_SamplerFlag, choices=["auto", "parallel", "vectorized", "sequential"],
                   default="auto", dest="chain_method",
                   help="how chains run: auto = parallel over devices when there are enough (set "
                        "XLA_FLAGS=--xla_force_host_platform_device_count=N on a CPU), else sequential "
                        "on a CPU and vectorized on an accelerator")
    if with_prior:
        g.add_argument("--prior", action=_SamplerAppend, metavar="NAME=DIST(ARGS)", api="priors",
                       help="override a prior, e.g. alpha=lognormal(-1.2,0.5), e=floor(3,2), "
                            "sigma=halfnormal(0.1) (repeatable)")


def add_fit_arguments(parser) -> None:
    """Add the Bayesian options to the ``scalefit fit`` parser."""
    add_sampler_arguments(parser, with_method=True)
    parser.add_argument("--extrapolate", action=_SamplerFlag, default=[1.0, 10.0, 100.0], metavar="F1,F2,...",
                        type=number_list(lo=0.0, lo_open=True),
                        help="--method bayes: extrapolation factors (x the largest fitted scale) for the band table")


def _priors_from(args):
    out = {}
    for spec in getattr(args, "prior", None) or []:
        name, p = parse_prior(spec)
        out[name] = p
    return out or None


def _assignments(text: str | None, argument: str) -> dict[str, str]:
    out = {}
    for part in [p for p in (text or "").split(",") if p.strip()]:
        if "=" not in part:
            raise ArgumentError(f"`{argument}` expects NAME=VALUE[,NAME=VALUE...], got {part!r}")
        k, v = part.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def _fmt(v: float) -> str:
    return f"{v:.6g}"


def bands_text(post, factors) -> str:
    """The posterior band table printed by the CLI."""
    if not post.law.positive_inputs:
        return ""
    tab = post.band_table(factors, level=0.9)
    lines = ["posterior predictive bands (mean curve: parameter uncertainty; new run: plus noise; 90% intervals)"]
    ins = list(post.law.inputs)
    hdr = f"{'factor':>8}" + "".join(f"{n:>12}" for n in ins) + \
        f"{'median':>11}{'q05':>11}{'q95':>11}{'new q05':>11}{'new q95':>11}"
    lines.append(hdr)
    for _, r in tab.iterrows():
        warn = "  <- beyond 10x: conditional on the law's form" if r.get("beyond_10x", False) else ""
        lines.append(f"{r['factor']:>7g}x" + "".join(f"{r[n]:>12.4g}" for n in ins)
                     + f"{r['median']:>11.5g}{r['q05']:>11.5g}{r['q95']:>11.5g}{r['obs_q05']:>11.5g}"
                     f"{r['obs_q95']:>11.5g}{warn}")
    scale = "scale (product of inputs; compute for N, D)" if len(ins) > 1 else f"input `{ins[0]}`"
    lines.append(f"factor = multiple of the largest fitted {scale}")
    return "\n".join(lines)


def allocation_text(post, factors) -> str:
    import numpy as np

    if post.law.allocation is None:
        return ""
    N = post.frame[post.inputs["N"]].to_numpy(np.float64)
    D = post.frame[post.inputs["D"]].to_numpy(np.float64)
    cmax = float(np.max(6 * N * D))
    Cs = [cmax * f for f in factors]
    tab = post.allocation(Cs)
    a = tab[tab["quantity"] == "allocation_a"].iloc[0]
    lines = [f"compute-optimal allocation (per draw): N_opt ∝ C^a, a = β/(α+β) = {_fmt(a['median'])} "
             f"[{_fmt(a['q05'])}, {_fmt(a['q95'])}]"]
    lines.append(f"{'C':>12}{'N_opt':>12}{'[90%]':>26}{'D/N':>9}{'[90%]':>18}")
    for c in Cs:
        n = tab[(tab["C"] == c) & (tab["quantity"] == "N_opt")].iloc[0]
        r = tab[(tab["C"] == c) & (tab["quantity"] == "tokens_per_param")].iloc[0]
        lines.append(f"{c:>12.3g}{n['median']:>12.4g}   [{n['q05']:.4g}, {n['q95']:.4g}]"
                     f"{r['median']:>9.3g}   [{r['q05']:.3g}, {r['q95']:.3g}]")
    return "\n".join(lines)


def run_bayes_fit(frame, args) -> int:
    """``scalefit fit DATA --method bayes``: fit, print parameters, diagnostics and bands, save JSON."""
    from .posterior import fit_bayes

    out = getattr(args, "output", None)
    force = bool(getattr(args, "force", False))
    if out:
        from .._files import check_output_path

        check_output_path(out, overwrite=force, argument="-o")
    inputs = _assignments(getattr(args, "input", None), "--input")
    if getattr(args, "x", None):
        inputs["x"] = args.x
    law = getattr(args, "law", "chinchilla")
    from ..laws import get_law, law_option

    law_options = law_option(law, "n_breaks", getattr(args, "breaks", None), "--breaks")
    fixed = {k: _float(v, "--fix") for k, v in _assignments(getattr(args, "fix", None), "--fix").items()}
    tied = _assignments(getattr(args, "tie", None), "--tie")
    factors = getattr(args, "extrapolate", None) or [1.0, 10.0, 100.0]
    law_obj = get_law(law, **(law_options or {}))
    inputs = {k: v for k, v in inputs.items() if k in law_obj.inputs} or None
    post = fit_bayes(
        frame, law_obj, inputs=inputs, target=getattr(args, "target", "value"), priors=_priors_from(args),
        fixed=fixed or None, tied=tied or None, num_warmup=getattr(args, "warmup", 1000),
        num_samples=getattr(args, "draws", 1000), num_chains=getattr(args, "chains", 4),
        target_accept=getattr(args, "target_accept", 0.8), seed=getattr(args, "seed", 0) or 0,
        source=str(getattr(args, "data", "")) or None, chain_method=_chain_method(args),
    )
    cmd = getattr(args, "_argv", None) or ("scalefit " + " ".join(sys.argv[1:]))
    post = post.with_metadata(command=cmd)
    print(post.summary())
    text = bands_text(post, factors)
    if text:
        print()
        print(text)
    alloc = allocation_text(post, factors)
    if alloc:
        print()
        print(alloc)
    if out:
        post.to_json(out, overwrite=force)
        print(f"wrote {out}")
    if not post.converged:
        print("warning: the posterior failed its diagnostics (see remedies above); do not use its bands yet",
              file=sys.stderr)
    return 0 if post.converged or not getattr(args, "strict", False) else 3


def _chain_method(args):
    m = getattr(args, "chain_method", "auto") or "auto"
    return None if m == "auto" else m


def _float(v: str, argument: str) -> float:
    try:
        return float(v)
    except ValueError:
        raise ArgumentError(f"`{argument}`: value {v!r} is not a number") from None


# ------------------------------------------------------------------------------ compare
def _cmd_compare(args) -> int:
    from ..io import load_curves
    from ..laws import available_laws
    from .compare import compare_laws

    laws = [s.strip() for s in (args.laws or "").split(",") if s.strip()]
    if len(laws) < 1:
        raise ArgumentError("`--laws` must name at least one law, e.g. --laws chinchilla,overtraining")
    unknown = [l for l in laws if l not in available_laws()]
    if unknown:
        raise ArgumentError(f"`--laws` names unknown law(s) {unknown}; available: {', '.join(available_laws())}")
    path = check_input_path(args.data)
    columns = _assignments(args.map, "--map") or None
    inputs = _assignments(args.input, "--input")
    if args.x:
        inputs["x"] = args.x
    schema = {"run", "N", "D", "C", "step", "value", "se", "metric"}
    keep = [c for c in dict.fromkeys(inputs.values()) if c not in schema and c not in (columns or {})]
    frame = load_curves(path, columns=columns, metric=args.metric, keep=keep or None)
    if args.drop_largest:
        if args.drop_largest < 0 or args.drop_largest >= len(frame):
            raise ArgumentError(f"`--drop-largest` = {args.drop_largest} must be in [0, {len(frame) - 1}]")
        thr = frame[args.target].sort_values(ascending=False).iloc[args.drop_largest - 1]
        frame = frame[frame[args.target] < thr]
    res = compare_laws(frame, laws, holdout=args.holdout, inputs=inputs or None, target=args.target,
                       seed=args.seed, num_warmup=args.warmup, num_samples=args.draws, num_chains=args.chains,
                       target_accept=args.target_accept, chain_method=_chain_method(args))
    print(res.summary())
    for name, fit in res.fits.items():
        if not fit.converged:
            print(f"{name}: {fit.status}")
            for r in fit.diagnostics.remedies:
                print(f"  remedy: {r}")
    return 0


def add_commands(subparsers) -> None:
    """Register ``scalefit compare`` on the main CLI's sub-parsers."""
    s = subparsers.add_parser("compare")
    s.add_argument("data", help="CSV, TSV, Parquet, JSON or JSONL file", api="source")
    s.add_argument("--laws", required=True, help="comma-separated law names, e.g. chinchilla,overtraining",
                   api="laws")
    s.add_argument("--x", help="column bound to single-variable laws' input x (e.g. N, D or C)")
    s.add_argument("--input", help="law input bindings, e.g. N=params,D=tokens", api="inputs")
    s.add_argument("--target", default="value", help="column to fit (default: value)", api="target")
    s.add_argument("--map", help="schema mappings, e.g. N=params,D=tokens,value=loss", api="columns")
    s.add_argument("--metric", help="metric name to keep or to read as the value column", api="metric")
    s.add_argument("--drop-largest", type=COUNT, default=0, metavar="K",
                   help="drop the K rows with the largest target value (Epoch's Chinchilla filter: 5)")
    s.add_argument("--holdout", type=LEVEL, default=0.2, api="holdout",
                   help="fraction of rows with the largest scale held out for leave-future-out (default 0.2)")
    s.add_argument("--seed", type=SEED, default=0, api="seed")
    add_sampler_arguments(s, with_method=False, with_prior=False)
    s.set_defaults(func=_cmd_compare)
