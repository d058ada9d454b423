"""Immutable result of a point fit, with prediction and JSON round trip."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd

from .._files import atomic_write_text
from .._result import LEVEL, ResultProtocol, check_level, clean_json
from ..errors import ArgumentError
from ..laws import ScalingLaw, get_law
from ..laws._base import saved_law
from .replicates import BootstrapResult

FORMAT_VERSION = 1

#: prefix of ``FitResult.status`` when the data do not identify the parameters
UNIDENTIFIED = "unidentified: "


#: JSON-safe copy of a record (NaN/inf -> None, numpy -> Python); the one implementation


#: a fitted table of more rows than this is saved as a summary (row count, per-column range,
#: SHA-256 of the fitted columns) plus a sample of rows, not row by row
EMBED_ROWS = 100_000

#: rows in that sample (seed 0), plus the rows holding each numeric column's minimum and maximum
SAMPLE_ROWS = 2_000


def frame_to_json(df: pd.DataFrame, hashed: list | None = None) -> dict:
    summary = None
    if len(df) > EMBED_ROWS:
        from ..io import frame_hash

        numeric = [c for c in df.columns if pd.api.types.is_numeric_dtype(df[c].dtype)]
        keep = set(np.random.default_rng(0).choice(len(df), SAMPLE_ROWS, replace=False).tolist())
        for c in numeric:
            keep.update((int(np.argmin(df[c].to_numpy())), int(np.argmax(df[c].to_numpy()))))
        summary = {"rows": len(df), "sampled_rows": len(keep), "sample_seed": 0,
                   "hashed_columns": list(hashed or df.columns), "sha256": frame_hash(df, list(hashed or df.columns)),
                   "min": {c: df[c].min() for c in numeric}, "max": {c: df[c].max() for c in numeric}}
        df = df.iloc[sorted(keep)]
    d = df.to_dict(orient="split")
    out = {"columns": list(d["columns"]), "index": list(d["index"]), "data": d["data"]}
    if summary is not None:
        out["summary"] = summary
    return clean_json(out)


def frame_from_json(d: Mapping) -> pd.DataFrame:
    df = pd.DataFrame(d["data"], columns=d["columns"], index=d.get("index"))
    if d.get("summary"):
        df.attrs["summary"] = dict(d["summary"])
    return df


@dataclass(frozen=True, repr=False)
class FitResult(ResultProtocol):
    """Result of :func:`scalefit.fit_law`. Frozen; build a new one rather than mutating.

    Attributes
    ----------
    law : ScalingLaw
    params : dict
        Every fit coordinate (free, fixed and tied) at the best start.
    free, fixed, tied
        Which coordinates were optimised, held fixed (with values), or tied to another.
    inputs : dict
        Law input -> data column it was bound to.
    target : str
        Data column that was fitted.
    objective, objective_scaled : float
        Best objective, unscaled (as published, e.g. Hoffmann's summed Huber) and as optimised
        (divided by ``delta**2``).
    converged : bool
        The convergence check passed (see ``status`` and ``warnings``): the optimiser reached a
        stationary point, the estimate is finite in float64, and the data identify the
        parameters (see :attr:`identified`).
    status : str
        Readable verdict of the convergence check; starts with ``"unidentified: "`` when the
        data cannot determine the parameters.
    warnings : tuple of str
        Concerns that do not void the fit (few agreeing starts, estimate on a bound, ...).
    n_starts, n_agree : int
        Starts run, and polished starts within 1e-6 relative of the best objective.
    starts : DataFrame
        One row per start: origin, initial values, stage reached, iterations, status, objective
        and final values.
    frame : DataFrame
        The exact rows that were fitted.  A fit loaded from JSON of more than ``EMBED_ROWS``
        rows holds a sample of them, with the row count, ranges and SHA-256 of the fitted
        columns in ``frame.attrs["summary"]`` (see :attr:`n_points`).
    metadata : dict
        Versions, seed, objective, data hash, command (no wall-clock time: the same
        input, seed and lock give a byte-identical file).
    """

    law: ScalingLaw
    params: Mapping[str, float]
    free: tuple[str, ...]
    fixed: Mapping[str, float]
    tied: Mapping[str, str]
    inputs: Mapping[str, str]
    target: str
    loss: str
    delta: float
    asymmetry: float
    objective: float
    objective_scaled: float
    converged: bool
    status: str
    warnings: tuple[str, ...]
    n_starts: int
    n_agree: int
    n_iter: int
    grad_norm: float
    starts: pd.DataFrame = field(repr=False)
    frame: pd.DataFrame = field(repr=False)
    metadata: Mapping[str, Any] = field(default_factory=dict, repr=False)
    bootstrap: Any = field(default=None, repr=False)

    JSON_WHAT = "fit file"

    # ----------------------------------------------------------------- views
    def _repr_text(self) -> str:
        boot = "" if self.bootstrap is None else f", bootstrap x{self.bootstrap.n_replicates}"
        state = "converged" if self.converged else ("unidentified" if not self.identified else "NOT converged")
        return f"{self.law.name}: {len(self.free)} free params, {state}, {self.n_points} points{boot}"

    @property
    def message(self) -> str:
        """Readable verdict of the convergence check (same as ``status``)."""
        return self.status

    @property
    def identified(self) -> bool:
        """False when the data cannot determine the parameters (a flat target, a single or too few
        distinct inputs, a rank-deficient fit); ``status`` then gives the reason and
        ``converged`` is False."""
        return not self.status.startswith(UNIDENTIFIED)

    @property
    def natural_params(self) -> dict[str, float]:
        """Parameters on the natural scale (``A = e^a``, ``E = e^e``, exponents as is)."""
        return self.law.params.natural_values(self.params)

    @property
    def n_points(self) -> int:
        """Rows that were fitted (``frame`` holds only a sample of them when the fit was loaded
        from a file that saved a large table as a summary; see ``frame.attrs["summary"]``)."""
        summary = self.frame.attrs.get("summary")
        return int(summary["rows"]) if summary else len(self.frame)

    def param_table(self, level: float = LEVEL) -> pd.DataFrame:
        """One row per law parameter: ``parameter``, ``estimate``, ``lower``, ``upper`` (fit
        coordinates; the interval is the bootstrap percentile interval at ``level``, NaN
        without a bootstrap), the same on the natural scale (``natural_estimate``,
        ``natural_lower``, ``natural_upper``), and ``symbol``, ``value`` (= ``estimate``,
        kept for older callers), ``natural``, ``natural_value``, ``role``."""
        level = check_level(level)
        boot = None
        if self.bootstrap is not None:
            boot = self.bootstrap.table(self.law, self.params, level).set_index("parameter")
        rows = []
        for p in self.law.params:
            v = float(self.params[p.name])
            role = "free" if p.name in self.free else ("fixed" if p.name in self.fixed else f"tied to {self.tied.get(p.name)}")
            b = boot.loc[p.name] if boot is not None else None
            nan = float("nan")
            rows.append({
                "parameter": p.name, "estimate": v,
                "lower": nan if b is None else float(b["lower"]), "upper": nan if b is None else float(b["upper"]),
                "natural_estimate": p.to_natural(v),
                "natural_lower": nan if b is None else float(b["natural_lower"]),
                "natural_upper": nan if b is None else float(b["natural_upper"]),
                "symbol": p.symbol, "value": v,
                "natural": p.natural or p.name, "natural_value": p.to_natural(v), "role": role,
            })
        out = pd.DataFrame(rows)
        out.attrs["level"] = level
        return out

    def _summary_table(self) -> pd.DataFrame:
        tab = self.param_table(LEVEL if self.bootstrap is None else self.bootstrap.level)
        cols = ["parameter", "estimate", "natural", "natural_estimate", "role"]
        if self.bootstrap is not None:
            cols[3:3] = ["natural_lower", "natural_upper"]
        return tab[cols]

    def _summary_text(self) -> str:
        """Plain-text report: law, parameter table, objective and convergence verdict."""
        lines = [f"law: {self.law.name}   {self.law.formula}"]
        sampled = self.frame.attrs.get("summary")
        lines.append(
            f"data: {self.n_points} points"
            + (f" (saved as a summary; {len(self.frame)} sampled rows kept)" if sampled else "")
            + f", target `{self.target}`, inputs "
            + ", ".join(f"{k}=`{v}`" for k, v in self.inputs.items())
        )
        lines.append(f"loss: {self.loss} (delta={self.delta:g}) on {self.law.target}-scale residuals")
        tab = self.param_table()
        w = max(len(s) for s in tab["parameter"]) + 2
        if self.bootstrap is None:
            lines.append(f"{'parameter':<{w}}{'value':>16}   {'natural':<8}{'natural value':>16}  role")
            for _, r in tab.iterrows():
                lines.append(
                    f"{r['parameter']:<{w}}{r['value']:>16.8g}   {r['natural']:<8}{r['natural_value']:>16.8g}  {r['role']}"
                )
        else:
            b = self.bootstrap
            bt = b.table(self.law, self.params).set_index("parameter")
            lines.append(f"{'parameter':<{w}}{'value':>14}{'boot SD':>11}   {'natural':<8}{'natural value':>14}"
                         f"{'boot SD':>11}  {b.level:.0%} interval (natural)")
            for _, r in tab.iterrows():
                q = bt.loc[r["parameter"]]
                lines.append(
                    f"{r['parameter']:<{w}}{r['value']:>14.7g}{q['sd']:>11.3g}   {r['natural']:<8}"
                    f"{r['natural_value']:>14.7g}{q['natural_sd']:>11.3g}  "
                    f"[{q['natural_lower']:.5g}, {q['natural_upper']:.5g}]"
                )
            lines.append(f"bootstrap: {b.describe()} "
                         f"({b.method} resampling{', by `' + b.cluster + '`' if b.cluster else ''}, seed {b.seed})")
        lines.append(f"objective: {self.objective:.10g} (scaled {self.objective_scaled:.10g})")
        lines.append(
            f"starts: {self.n_starts} run, {self.n_agree} polished starts agree with the best; "
            f"{self.n_iter} iterations; |grad| = {self.grad_norm:.2e}"
        )
        if self.converged:
            lines.append("converged: " + self.status)
        elif not self.identified:
            lines.append("NOT CONVERGED (UNIDENTIFIED): " + self.status[len(UNIDENTIFIED):])
        else:
            lines.append("NOT CONVERGED: " + self.status)
        for w_ in self.warnings:
            lines.append(f"warning: {w_}")
        return "\n".join(lines)

    def __str__(self) -> str:  # pragma: no cover - thin
        return str(self.summary())

    # ------------------------------------------------------------ prediction
    def _input_arrays(self, at) -> dict[str, np.ndarray]:
        return self.law.input_arrays(at, self.inputs, self.frame)

    def predict(self, at=None, *, level: float | None = None, **inputs) -> pd.DataFrame:
        """Predict at ``at`` (DataFrame or mapping of input -> values) or keyword inputs.

        Returns a DataFrame with the law's inputs, ``prediction`` (natural scale),
        ``estimate`` (the same values: the protocol name, docs/results.md; ``prediction`` is
        kept for older callers and is deprecated) and ``extrapolation`` (how far beyond the
        fitted data: the largest ratio of an input to its fitted maximum, or for several inputs
        of their product to the largest fitted product if larger; > 1 means beyond the data;
        see ``scalefit._extrapolation``).  A fit with a bootstrap adds ``lower``/``upper`` (the
        percentile interval of the curve at ``level``; default the level the bootstrap was run
        with) and ``se``; a fit without one has no interval, so those columns are absent (fit
        with ``bootstrap=`` to get them).

        >>> # res.predict(N=7e10, D=1.4e12)
        """
        if inputs:
            if at is not None:
                raise ArgumentError("give `at` or keyword inputs, not both")
            at = inputs
        if level is not None:
            check_level(level)
        X = self._input_arrays(at)
        for n, v in X.items():
            bad = ~np.isfinite(v) | ((v <= 0) if self.law.positive_inputs else False)
            if np.any(bad):
                raise ArgumentError(f"`at`: input `{n}` = {float(v[np.argmax(bad)])!r} is invalid (must be finite"
                                    + (" and > 0)" if self.law.positive_inputs else ")"))
        pred = self.law.evaluate(self.params, **X)
        out = pd.DataFrame(X)
        out["prediction"] = np.asarray(pred, dtype=np.float64)
        out["estimate"] = out["prediction"].to_numpy()
        if self.law.positive_inputs:
            from .._extrapolation import extrapolation_factor

            fitted = {n: self.frame[self.inputs[n]].to_numpy(np.float64) for n in self.law.inputs}
            out["extrapolation"] = extrapolation_factor(fitted, X)
        if self.bootstrap is not None:
            out = self.bootstrap.add_prediction_intervals(self, out, X, level=level)
        return out

    def residuals(self) -> pd.DataFrame:
        """Fitted frame with ``prediction`` and ``residual`` (target space, pred − obs)."""
        pred = self.predict()["estimate"].to_numpy()
        y = self.frame[self.target].to_numpy(np.float64)
        out = self.frame.copy()
        out["prediction"] = pred
        out["residual"] = np.log(pred) - np.log(y) if self.law.target == "log" else pred - y
        return out

    # ------------------------------------------------------------------ JSON
    def to_dict(self) -> dict:
        law_opts = dict(self.law.options)
        return clean_json({
            "format": "scalefit.FitResult",
            "version": FORMAT_VERSION,
            "law": {"name": self.law.name, "options": law_opts},
            "params": dict(self.params),
            "natural_params": self.natural_params,
            "free": list(self.free),
            "fixed": dict(self.fixed),
            "tied": dict(self.tied),
            "inputs": dict(self.inputs),
            "target": self.target,
            "loss": self.loss,
            "delta": self.delta,
            "asymmetry": self.asymmetry,
            "objective": self.objective,
            "objective_scaled": self.objective_scaled,
            "converged": self.converged,
            "status": self.status,
            "warnings": list(self.warnings),
            "n_starts": self.n_starts,
            "n_agree": self.n_agree,
            "n_iter": self.n_iter,
            "grad_norm": self.grad_norm,
            "metadata": dict(self.metadata),
            "frame": frame_to_json(self.frame, list(dict.fromkeys([*self.inputs.values(), self.target]))),
            "starts": frame_to_json(self.starts),
            "bootstrap": None if self.bootstrap is None else self.bootstrap.to_dict(),
        })

    def to_json(self, path: str | Path | None = None, *, overwrite: bool = False) -> str:
        """Serialise to JSON text; with ``path`` also write it atomically (never overwriting
        an existing file unless ``overwrite=True``)."""
        text = json.dumps(self.to_dict(), indent=1, allow_nan=False)
        if path is not None:
            atomic_write_text(path, text, overwrite=overwrite, argument="path")
        return text

    @classmethod
    def from_dict(cls, d: Mapping, *, law: ScalingLaw | None = None) -> "FitResult":
        """Rebuild from :meth:`to_dict` output (format version 1, as written since scalefit 0.1).

        The record is checked against the format first (types, required keys, finite
        parameters, the law's inputs bound to columns of the saved frame); every problem is
        listed in one :class:`~scalefit.errors.DataValidationError`."""
        law = _check_record(d, law)
        boot = None
        if d.get("bootstrap"):
            boot = BootstrapResult.from_dict(d["bootstrap"])
        f = lambda v: float("nan") if v is None else float(v)  # noqa: E731
        return cls(
            law=law,
            params={k: float(v) for k, v in d["params"].items()},
            free=tuple(d["free"]),
            fixed={k: float(v) for k, v in d["fixed"].items()},
            tied=dict(d["tied"]),
            inputs=dict(d["inputs"]),
            target=d["target"],
            loss=d["loss"],
            delta=float(d["delta"]),
            asymmetry=float(d["asymmetry"]),
            objective=f(d["objective"]),
            objective_scaled=f(d["objective_scaled"]),
            converged=bool(d["converged"]),
            status=d["status"],
            warnings=tuple(d["warnings"]),
            n_starts=int(d["n_starts"]),
            n_agree=int(d["n_agree"]),
            n_iter=int(d["n_iter"]),
            grad_norm=f(d["grad_norm"]),
            starts=frame_from_json(d["starts"]),
            frame=frame_from_json(d["frame"]),
            metadata=dict(d.get("metadata") or {}),
            bootstrap=boot,
        )

    @classmethod
    def from_json(cls, source: str | Path, *, law: ScalingLaw | None = None) -> "FitResult":
        """Load from a JSON file path or a JSON string; errors name the file."""
        from .._files import load_saved

        return load_saved(source, lambda d: cls.from_dict(d, law=law), what="fit file")

    def with_metadata(self, **extra) -> "FitResult":
        md = dict(self.metadata)
        md.update(extra)
        return replace(self, metadata=md)


def _check_record(d, law: ScalingLaw | None) -> ScalingLaw:
    """Check a saved point fit against format version 1; -> its law.  Raises one
    :class:`~scalefit.errors.DataValidationError` listing every problem."""
    from .._files import RecordCheck
    from .objective import LOSSES

    c = RecordCheck(d, "fit record")
    fmt = c.get("format", "str")
    if fmt is not None and fmt != "scalefit.FitResult":
        raise ArgumentError(f"not a scalefit fit file (`format` is {fmt!r}, expected 'scalefit.FitResult')")
    law = saved_law(c, law, FORMAT_VERSION, "fit")
    params = c.get("params", "object[number]")
    free = c.get("free", "list[str]")
    fixed = c.get("fixed", "object[number]")
    tied = c.get("tied", "object[str]")
    inputs = c.get("inputs", "object[str]")
    target = c.get("target", "str")
    loss = c.get("loss", "str")
    if loss is not None and loss not in LOSSES:
        c.problem(f"`loss` = {loss!r} is not one of {', '.join(LOSSES)}")
    delta = c.get("delta", "number")
    if delta is not None and delta <= 0:
        c.problem(f"`delta` = {delta!r} must be > 0")
    c.get("asymmetry", "number")
    for key in ("objective", "objective_scaled", "grad_norm"):
        c.get(key, "number?")  # null: not finite when saved (a failed fit)
    c.get("converged", "bool")
    c.get("status", "str")
    c.get("warnings", "list[str]")
    for key in ("n_starts", "n_agree", "n_iter"):
        c.get(key, "count")
    c.get("metadata", "object?", required=False)
    frame = c.frame("frame")
    c.frame("starts")
    boot = c.sub("bootstrap") if c.record.get("bootstrap") is not None else None
    if boot is not None:
        names = boot.get("names", "list[str]")
        draws = boot.get("draws", "list[list[number?]]")  # null: a replicate that failed
        if names is not None and draws is not None and any(len(r) != len(names) for r in draws):
            boot.problem(f"`bootstrap.draws` rows must hold {len(names)} values (one per name)")
        boot.get("objective", "list[number?]")
        boot.get("converged", "list[bool]")
        boot.get("method", "str")
        boot.get("cluster", "str?", required=False)
        boot.get("seed", "int")
        level = boot.get("level", "number")
        if level is not None and not 0 < level < 1:
            boot.problem(f"`bootstrap.level` = {level!r} must lie strictly between 0 and 1")
    if law is not None and params is not None:
        names = list(law.param_names)
        missing = [n for n in names if n not in params]
        extra = [n for n in params if n not in names]
        if missing or extra:
            c.problem(f"`params` must hold the {law.name} parameters {names}"
                      + (f"; missing {missing}" if missing else "") + (f"; unknown {extra}" if extra else ""))
        for key, group in (("free", free), ("fixed", fixed), ("tied", tied)):
            unknown = [n for n in (group or ()) if n not in names]
            if unknown:
                c.problem(f"`{key}` names unknown parameter(s) {unknown}; the {law.name} law has {names}")
    if law is not None and inputs is not None:
        unbound = [n for n in law.inputs if n not in inputs]
        if unbound:
            c.problem(f"`inputs` does not bind the {law.name} input(s) {unbound}")
        if frame is not None:
            cols = list(frame["columns"])
            needed = [inputs[n] for n in law.inputs if n in inputs] + ([target] if target is not None else [])
            absent = [col for col in needed if col not in cols]
            if absent:
                c.problem(f"`frame` lacks the column(s) {absent} named by `inputs`/`target`")
            elif not frame["data"]:
                c.problem("`frame` holds no rows")
            else:
                for col in needed:
                    j = cols.index(col)
                    bad = next((i for i, row in enumerate(frame["data"]) if not _finite_number(row[j])), None)
                    if bad is not None:
                        c.problem(f"`frame` column {col!r} row {bad} = {frame['data'][bad][j]!r} is not a finite number")
    c.done()
    return law


def _finite_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
