"""Per-run training-log exports (wandb-style) -> one tidy frame, and preprocessing verbs.

``load_runs`` reads one file per run (CSV, TSV, JSONL, JSON or Parquet; column sets may differ
between files), names each run after its file, attaches the per-run constants of a run table
(``N``, tokens per step, family, ...), derives ``D`` (a tokens column, or step x tokens per
step) and ``C = 6 N D``, and returns one row per (run, step) with every metric as its own
column under the name written in the export (``train/loss``, ``eval/hellaswag/acc``, ...).

Verbs on that frame: :func:`smooth_runs` (moving average within each run),
:func:`drop_first` (drop the first fraction of each run's steps) and :func:`final_checkpoints`
(the final checkpoint of each run, or the mean of its last ``k``).  See docs/data.md.
"""

from __future__ import annotations

import glob as _glob
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import ArgumentError, DataValidationError, ScalefitError
from ._read import FILE_FORMATS, file_format, read_file

#: step columns recognised in an export, in order of preference
STEP_ALIASES = ("_step", "step", "global_step", "trainer/global_step", "Step", "iteration")
#: token-count columns recognised in an export (tokens seen so far at that step)
TOKEN_ALIASES = ("tokens", "_tokens", "train/tokens", "tokens_seen", "throughput/total_tokens", "num_tokens")
#: parameter-count columns recognised in the run table
N_ALIASES = ("N", "params", "n_params", "num_params", "parameters", "non_embedding_params")
#: tokens-per-step columns recognised in the run table
TPS_ALIASES = ("tokens_per_step", "batch_tokens", "tokens_per_batch")
#: wandb bookkeeping columns that are never metrics
_SYSTEM = ("_runtime", "_timestamp", "_wandb")


def _files(source) -> list[Path]:
    if isinstance(source, (str, os.PathLike)):
        text = str(source)
        if _glob.has_magic(text):
            files = sorted(Path(p) for p in _glob.glob(text) if Path(p).is_file())
            if not files:
                raise ArgumentError(f"`paths`: no file matches the pattern '{text}'")
            return files
        path = Path(text)
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.is_file() and _is_table(p))
            if not files:
                raise ArgumentError(f"`paths`: the directory '{text}' holds no {'/'.join(FILE_FORMATS)} files")
            return files
        if not path.is_file():
            raise ArgumentError(f"`paths`: no such file or directory: '{text}'")
        return [path]
    if isinstance(source, Sequence) and source and all(isinstance(p, (str, os.PathLike)) for p in source):
        out = [p for s in source for p in _files(s)]
        return out
    raise ArgumentError(f"`paths` must be a path, a glob or a list of paths, got {type(source).__name__}")


def _is_table(path: Path) -> bool:
    try:
        file_format(path)
        return True
    except ScalefitError:
        return False


def _run_table(runs, key: str) -> pd.DataFrame:
    if runs is None:
        return pd.DataFrame({key: pd.Series([], dtype=str)})
    if isinstance(runs, Mapping):
        rows = []
        for rid, consts in runs.items():
            if not isinstance(consts, Mapping):
                raise ArgumentError(f"`runs` entry `{rid}` must map constant names to values, got {consts!r}")
            rows.append({key: str(rid), **consts})
        return pd.DataFrame(rows)
    if isinstance(runs, (str, os.PathLike)):
        table = read_file(Path(runs))
        where = f"run table '{runs}'"
    elif isinstance(runs, pd.DataFrame):
        table = runs.reset_index(drop=True)
        where = "`runs`"
    else:
        raise ArgumentError(f"`runs` must be a table, a path or a mapping run -> constants, got {type(runs).__name__}")
    if key not in table.columns:
        raise ArgumentError(f"{where} has no run-id column `{key}` (columns: {', '.join(map(str, table.columns))}); "
                            "pass run_key=...")
    table = table.copy()
    table[key] = table[key].astype(str)
    dup = table[key][table[key].duplicated()].tolist()
    if dup:
        raise ArgumentError(f"{where}: run `{dup[0]}` appears more than once")
    return table


def read_frame(path) -> pd.DataFrame:
    """Read one table file (CSV/TSV/JSONL/JSON/Parquet, optionally compressed) as it is."""
    path = Path(path)
    if not path.is_file():
        raise ArgumentError(f"no such file: '{path}'")
    return read_file(path)


def _pick(columns, explicit, aliases, what, argname):
    if explicit is not None:
        return explicit if explicit in columns else None
    for a in aliases:
        if a in columns:
            return a
    return None


def load_runs(
    paths,
    runs=None,
    *,
    run_key: str = "run",
    run_id: str = "stem",
    step: str | None = None,
    tokens: str | None = None,
    n_column: str | None = None,
    tokens_per_step: str | None = None,
    metrics: Sequence[str] | None = None,
    derived: Mapping[str, Mapping[str, float] | Sequence[str]] | None = None,
    format: str = "auto",
) -> pd.DataFrame:
    """Read per-run exports and a run table into one frame: a row per (run, step).

    Parameters
    ----------
    paths
        A file, a directory (every CSV/TSV/JSONL/JSON/Parquet file in it), a glob
        (``"logs/*.csv"``) or a list of these; one file per run.
    runs
        Per-run constants: a DataFrame or file with a ``run_key`` column, or a mapping
        ``run id -> {"N": ..., "tokens_per_step": ..., "family": ...}``.  Every column is
        attached to the run's rows.
    run_id
        ``"stem"`` (default): a run is named after its file without the suffix
        (``logs/190M-1x.csv`` -> ``190M-1x``); otherwise the name of a column of the export that
        holds the run id (one value per file).
    step, tokens
        Export columns of the step and of the tokens seen; recognised by default from
        ``_step``/``step``/``global_step``/... and ``tokens``/``train/tokens``/... .
    n_column, tokens_per_step
        Run-table (or export) columns holding ``N`` and the tokens per step; recognised by
        default from ``N``/``params``/... and ``tokens_per_step``/``batch_tokens``.
        ``D`` is the tokens column where the export has one, else ``step x tokens_per_step``.
    metrics
        Metric columns to keep (default: every other numeric column, wandb's ``_runtime`` and
        ``_timestamp`` excluded).  A name found in no file is an error; a metric missing from
        some files is NaN there.
    derived
        New metric columns as weighted means of others: ``{"mmlu": {"eval/mmlu_stem": 3,
        "eval/mmlu_humanities": 2}}`` (weights are normalised) or a list of columns (equal
        weights).  NaN where any component is missing.

    Returns
    -------
    DataFrame with ``run``, the run-table constants, ``N``, ``D``, ``C``, ``step`` and the
    metrics, sorted by run and step; ``attrs["files"]`` maps run id -> file.

    Examples
    --------
    >>> # frame = load_runs("exports/*.csv", runs={"190M-1x": {"N": 1.9e8, "tokens_per_step": 4e6}})
    >>> # final = final_checkpoints(drop_first(frame, 0.1), last=3)
    """
    files = _files(paths)
    table = _run_table(runs, run_key)
    pieces, origin = [], {}
    for path in files:
        raw = read_file(path, format)
        if run_id == "stem":
            name = path.name
            for suffix in (".gz", ".bz2", ".xz"):
                name = name[: -len(suffix)] if name.endswith(suffix) else name
            rid = name.rsplit(".", 1)[0]
        else:
            if run_id not in raw.columns:
                raise DataValidationError([f"'{path}' has no run-id column `{run_id}`"], source=str(path))
            ids = raw[run_id].dropna().astype(str).unique()
            if len(ids) != 1:
                raise DataValidationError([f"'{path}': column `{run_id}` holds {len(ids)} run ids "
                                           f"({', '.join(ids[:3])}); one file must hold one run"], source=str(path))
            rid = ids[0]
            raw = raw.drop(columns=[run_id])
        if rid in origin:
            raise ArgumentError(f"run `{rid}` comes from two files: '{origin[rid]}' and '{path}'")
        origin[rid] = str(path)
        sc = _pick(raw.columns, step, STEP_ALIASES, "step", "step")
        if sc is None:
            raise DataValidationError([f"'{path}' has no step column "
                                       + (f"`{step}`" if step else f"(looked for {', '.join(STEP_ALIASES)})")
                                       + f"; columns: {', '.join(map(str, raw.columns))}"], source=str(path))
        raw = raw.rename(columns={sc: "step"})
        tc = _pick(raw.columns, tokens, TOKEN_ALIASES, "tokens", "tokens")
        if tc is not None:
            raw = raw.rename(columns={tc: "__tokens"})
        raw = raw[[c for c in raw.columns if not str(c).startswith(_SYSTEM)]]
        step_vals = pd.to_numeric(raw["step"], errors="coerce")
        if step_vals.isna().any():
            pos = int(np.flatnonzero(step_vals.isna().to_numpy())[0])
            raise DataValidationError([f"'{path}' column `{sc}` row {pos}: {raw['step'].iloc[pos]!r} is not a step"],
                                      source=str(path))
        raw["step"] = step_vals.astype(np.float64)
        # wandb logs train and eval metrics in separate rows of the same step: merge them
        raw = raw.groupby("step", sort=True, as_index=False).first()
        raw.insert(0, "run", rid)
        pieces.append(raw)
    frame = pd.concat(pieces, ignore_index=True, sort=False)

    # ------------------------------------------------------------ run constants
    if len(table.columns) > 1 or runs is not None:
        unknown = sorted(set(frame["run"]) - set(table[run_key]))
        if unknown:
            raise ArgumentError(f"`runs` has no row for run `{unknown[0]}` (file '{origin[unknown[0]]}')"
                                + (f" and {len(unknown) - 1} more" if len(unknown) > 1 else ""))
        consts = table.rename(columns={run_key: "run"})
        clash = [c for c in consts.columns if c != "run" and c in frame.columns]
        if clash:
            raise ArgumentError(f"run-table column `{clash[0]}` is also a column of the exports; rename one of them")
        frame = frame.merge(consts, on="run", how="left")

    nc = _pick(frame.columns, n_column, N_ALIASES, "N", "n_column")
    if nc is None:
        raise ArgumentError(f"no parameter-count column for `N`"
                            + (f" `{n_column}`" if n_column else f" (looked for {', '.join(N_ALIASES)})")
                            + " in the run table or the exports; pass runs=... with one")
    if nc != "N":
        frame = frame.rename(columns={nc: "N"})
    frame["N"] = _numeric(frame["N"], nc)
    tps = _pick(frame.columns, tokens_per_step, TPS_ALIASES, "tokens per step", "tokens_per_step")
    D = pd.Series(np.nan, index=frame.index)
    if "__tokens" in frame.columns:
        D = _numeric(frame["__tokens"], tokens or "tokens")
    if tps is not None:
        D = D.fillna(frame["step"] * _numeric(frame[tps], tps))
    if D.isna().any():
        bad = frame.loc[D.isna(), "run"].iloc[0]
        raise ArgumentError(f"run `{bad}` (file '{origin[bad]}'): no tokens column and no tokens-per-step "
                            f"constant to derive `D` from (looked for {', '.join(TOKEN_ALIASES)} and "
                            f"{', '.join(TPS_ALIASES)}); pass tokens=... or tokens_per_step=...")
    frame["D"] = D.astype(np.float64)
    frame["C"] = 6.0 * frame["N"] * frame["D"]
    frame = frame.drop(columns=[c for c in ("__tokens",) if c in frame.columns])

    # ------------------------------------------------------------ metrics
    reserved = {"run", "N", "D", "C", "step", *table.columns}
    candidates = [c for c in frame.columns if c not in reserved]
    if metrics is None:
        keep = [c for c in candidates if pd.api.types.is_numeric_dtype(frame[c])]
    else:
        keep = list(metrics)
        missing = [m for m in keep if m not in frame.columns]
        if missing:
            raise ArgumentError(f"`metrics` names `{missing[0]}`, found in no export "
                                f"(metrics present: {', '.join(map(str, candidates))})")
        for m in keep:
            frame[m] = _numeric(frame[m], m)
    for name, spec in (derived or {}).items():
        if name in frame.columns:
            raise ArgumentError(f"`derived` name `{name}` is already a column; pick another name")
        weights = {c: 1.0 for c in spec} if not isinstance(spec, Mapping) else {c: float(w) for c, w in spec.items()}
        missing = [c for c in weights if c not in frame.columns]
        if missing:
            raise ArgumentError(f"`derived` metric `{name}` uses `{missing[0]}`, found in no export")
        total = sum(weights.values())
        if not weights or total <= 0 or any(w < 0 for w in weights.values()):
            raise ArgumentError(f"`derived` metric `{name}` needs non-negative weights with a positive sum")
        frame[name] = sum(w * _numeric(frame[c], c) for c, w in weights.items()) / total
        keep.append(name)
    consts = [c for c in table.columns if c not in (run_key, nc, "N")]
    cols = ["run", *consts, "N", "D", "C", "step", *[k for k in keep if k not in consts]]
    out = frame[list(dict.fromkeys(cols))].sort_values(["run", "step"], kind="stable").reset_index(drop=True)
    out.attrs["files"] = origin
    return out


def _numeric(series: pd.Series, column: str) -> pd.Series:
    vals = pd.to_numeric(series, errors="coerce")
    bad = vals.isna() & series.notna()
    if bad.any():
        pos = int(np.flatnonzero(bad.to_numpy())[0])
        raise ArgumentError(f"column `{column}` row {pos}: {series.iloc[pos]!r} is not a number")
    return vals.astype(np.float64)


def _check_frame(frame: pd.DataFrame, columns) -> list[str]:
    if not isinstance(frame, pd.DataFrame):
        raise ArgumentError(f"`frame` must be a DataFrame from load_runs, got {type(frame).__name__}")
    for c in ("run", "step"):
        if c not in frame.columns:
            raise ArgumentError(f"`frame` has no `{c}` column; build it with load_runs")
    if columns is None:
        return []
    columns = [columns] if isinstance(columns, str) else list(columns)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ArgumentError(f"`columns` names `{missing[0]}`, not in the frame")
    return columns


def smooth_runs(frame: pd.DataFrame, columns: str | Sequence[str], window: int) -> pd.DataFrame:
    """Centred moving average of ``columns`` over ``window`` consecutive steps within each run.

    Ends of a run average the available neighbours; missing values are skipped."""
    columns = _check_frame(frame, columns)
    if not isinstance(window, (int, np.integer)) or window < 1:
        raise ArgumentError(f"`window` = {window!r} must be an integer >= 1")
    out = frame.sort_values(["run", "step"], kind="stable").copy()
    for c in columns:
        out[c] = out.groupby("run", sort=False)[c].transform(
            lambda s: s.rolling(int(window), center=True, min_periods=1).mean())
    return out.loc[frame.index] if out.index.equals(frame.index) else out


def drop_first(frame: pd.DataFrame, fraction: float) -> pd.DataFrame:
    """Drop each run's rows with ``step <= fraction x`` its final step (warm-up checkpoints)."""
    _check_frame(frame, None)
    if not 0 <= float(fraction) < 1:
        raise ArgumentError(f"`fraction` = {fraction!r} must lie in [0, 1)")
    last = frame.groupby("run", sort=False)["step"].transform("max")
    keep = frame["step"] > float(fraction) * last if fraction > 0 else pd.Series(True, index=frame.index)
    return frame.loc[keep]


def final_checkpoints(frame: pd.DataFrame, last: int = 1, columns: str | Sequence[str] | None = None) -> pd.DataFrame:
    """One row per run: its final checkpoint, with ``columns`` (default: every numeric column
    other than ``N``, ``D``, ``C``, ``step``) averaged over the run's last ``last`` non-missing
    values.  ``N``, ``D``, ``C`` and ``step`` are those of the final checkpoint."""
    columns = _check_frame(frame, columns)
    if not isinstance(last, (int, np.integer)) or last < 1:
        raise ArgumentError(f"`last` = {last!r} must be an integer >= 1")
    ordered = frame.sort_values(["run", "step"], kind="stable")
    out = ordered.groupby("run", sort=False).tail(1).set_index("run")
    if not columns:
        columns = [c for c in frame.columns if c not in ("run", "N", "D", "C", "step")
                   and pd.api.types.is_numeric_dtype(frame[c])]
    g = ordered.groupby("run", sort=False)
    for c in columns:
        out[c] = g[c].apply(lambda s: s.dropna().tail(int(last)).mean())
    return out.reset_index()[list(frame.columns)]
