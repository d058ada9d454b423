"""Readers for the logs that evaluation tools write, as one row per attempt.

Each reader recognises its format from the file's content (not only its name) and returns an
:class:`EvalLog`: a frame with one row per attempt, the names of its item, attempt and success
columns, and a one-line ``reason`` ("read as <format>: <why>") that the loaders keep in
``frame.attrs["read_as"]`` and the CLI prints.  :func:`scalefit.io.load_attempts` and
:func:`scalefit.io.load_attempt_log` call :func:`read_eval_log` first and fall back to plain
tables when it returns None.

=================================  ==========================================================
format                             what is read
=================================  ==========================================================
lm-evaluation-harness samples      ``samples_<task>_<date>.jsonl``: one line per document
                                   (``doc_id``, ``resps``, ``filtered_resps``, ``target``, the
                                   metric); ``repeats: k`` scored per generation
Inspect AI                         ``.json`` and ``.eval`` (zip) logs: samples with ``id``,
                                   ``epoch`` and ``scores.<scorer>.value``; epochs are attempts
EvalPlus                           ``eval_results.json``: ``base_status`` / ``plus_status``
human-eval                         ``*_results.jsonl``: ``task_id`` and ``passed``
nested per-item logs               records holding their attempts as a list
OpenAI simple-evals                ``*_allresults.json``: refused, no per-example outcomes
=================================  ==========================================================

:func:`until_success_batch` recognises, from an attempt log alone, a batched
sample-until-success run (every item stops right after the batch holding its first success).
See ``docs/data.md``.
"""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import math
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ArgumentError, DataValidationError
from ._aliases import ATTEMPT_ALIASES
from ._problems import cap_messages, fmt_value
from ._read import split_suffix

__all__ = ["EvalLog", "read_eval_log", "until_success_batch", "PARTIAL_RULES", "TEST_SETS"]

#: How an Inspect "P" (partial credit) score is counted: an attempt that succeeded, failed, or
#: errored (left out).
PARTIAL_RULES = ("success", "failure", "error")

#: EvalPlus test sets: "base" (the original tests) or "plus" (base and the extra tests).
TEST_SETS = ("base", "plus")

#: The EvalPlus test set used when none is chosen.
DEFAULT_TESTS = "plus"

_OPEN = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}


@dataclass
class EvalLog:
    """Attempts read from an evaluation tool's log.

    ``frame`` has one row per attempt, in attempt order within each item; ``columns`` maps
    ``item`` / ``success`` (and ``attempt`` where the log numbers its attempts) to columns of
    ``frame``; ``reason`` says which format was read and why.
    """

    frame: pd.DataFrame
    columns: dict[str, str]
    format: str
    reason: str
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------------------------
# entry point


def read_eval_log(
    path: Path,
    layout: str = "auto",
    *,
    data: Any = None,
    item: str | None = None,
    success: str | None = None,
    groups: list[str] | None = None,
    partial: str | None = None,
    tests: str | None = None,
) -> EvalLog | None:
    """The attempts of an evaluation log, or None when ``path`` is no log this module knows.

    Parameters
    ----------
    path : Path
        One file.
    layout : str
        ``"auto"`` (decide from the content), ``"lm_eval"``, ``"inspect"`` or ``"humaneval"``
        (human-eval or EvalPlus); ``"long"`` / ``"jsonl"`` read nested per-item records only; any
        other layout returns None.
    data : object, optional
        The file's parsed JSON when the caller already read it (``.json`` files).
    item, success : str, optional
        The user's item field and success metric / scorer (lm-evaluation-harness metric such as
        ``exact_match``; Inspect scorer name).
    groups : list of str, optional
        Grouping columns the caller will use (an lm-evaluation-harness file holding several
        filters needs ``filter`` among them).
    partial : {"success", "failure", "error"}, optional
        How Inspect "P" scores (and numeric scores strictly between 0 and 1) count.
    tests : {"base", "plus"}, optional
        EvalPlus test set (default ``"plus"``: base and plus tests must both pass).

    Raises
    ------
    ArgumentError, DataValidationError
        A recognised log that cannot give per-attempt outcomes as asked, with the reason and
        the option that fixes it.
    """
    if partial is not None and partial not in PARTIAL_RULES:
        raise ArgumentError(f"`partial` must be one of {', '.join(map(repr, PARTIAL_RULES))}, got {partial!r}")
    if tests is not None and tests not in TEST_SETS:
        raise ArgumentError(f"`tests` must be one of {', '.join(map(repr, TEST_SETS))}, got {tests!r}")
    if layout not in ("auto", "lm_eval", "inspect", "humaneval", "long", "jsonl"):
        return None
    suffix, _ = split_suffix(path)
    if layout in ("long", "jsonl"):  # per-attempt layouts: only nested records need a reader
        records = _records(path, suffix, data)
        return _nested(records, path) if records and _nested_field([r for _, r in records]) is not None else None
    opts = dict(item=item, success=success, groups=list(groups or []), partial=partial, tests=tests)
    if suffix == ".eval":
        return _inspect(_inspect_zip_samples(path), path, "an Inspect AI .eval log (zip archive with samples/)", **opts)
    if suffix == ".json":
        if data is None:
            data = _read_json(path)
        return _from_json(data, path, layout, **opts)
    if suffix in (".jsonl", ".ndjson"):
        first = _first_record(path)
        if first is None:
            return None
        if _is_lm_eval(first) or layout == "lm_eval":
            return _lm_eval(_jsonl_records(path), path, **opts)
        if _is_humaneval(first):
            return _humaneval(_jsonl_records(path), path)
        if layout == "auto" and _nested_field([first]) is not None:
            return _nested(_jsonl_records(path), path)
    return None


def _from_json(data: Any, path: Path, layout: str, **opts) -> EvalLog | None:
    if isinstance(data, dict):
        if _is_simple_evals(data, path):
            raise DataValidationError(
                [f"'{path}' is an OpenAI simple-evals results file: it holds aggregate scores "
                 f"({', '.join(k for k in ('score', 'metrics') if k in data)}) and rendered conversations, "
                 "not an outcome per example, so no per-item success counts can be read from it; "
                 "log each example's outcome (one JSONL line with `item` and `success` per attempt) instead"],
                source=str(path))
        if _is_inspect(data):
            samples = data.get("samples")
            if not isinstance(samples, list) or not samples:
                raise DataValidationError(
                    [f"'{path}' is an Inspect AI log without samples (`samples` is "
                     f"{'empty' if isinstance(samples, list) else 'missing'}); it holds only aggregate "
                     "results: rerun with sample logging on (the default; not --no-log-samples)"],
                    source=str(path))
            return _inspect(samples, path, "an Inspect AI JSON log (`eval` header with `task`, `samples` with "
                                           "`scores`)", **opts)
        if _is_evalplus(data):
            return _evalplus(data["eval"], path, opts["tests"])
    if isinstance(data, list) and data and all(isinstance(r, dict) for r in data):
        if _is_lm_eval(data[0]) or layout == "lm_eval":
            return _lm_eval([(i + 1, r) for i, r in enumerate(data)], path, **opts)
        if layout == "auto" and _nested_field(data) is not None:
            return _nested([(i + 1, r) for i, r in enumerate(data)], path)
    return None


# --------------------------------------------------------------------------------------------
# file reading


def _open(path: Path, mode: str = "rt"):
    _, compression = split_suffix(path)
    opener = _OPEN.get(compression, open) if compression else open
    return opener(path, mode, encoding="utf-8")


def _read_json(path: Path) -> Any:
    try:
        with _open(path) as handle:
            return json.load(handle)
    except json.JSONDecodeError as err:
        raise DataValidationError([f"cannot read '{path}' as JSON: line {err.lineno} column {err.colno}: {err.msg}"],
                                  source=str(path)) from None
    except RecursionError:
        raise DataValidationError([f"cannot read '{path}' as JSON: nested too deeply"], source=str(path)) from None
    except (OSError, UnicodeDecodeError, EOFError, lzma.LZMAError) as err:
        raise DataValidationError([f"cannot read '{path}' as JSON: {err}"], source=str(path)) from None


def _first_record(path: Path) -> dict | None:
    """The first JSONL line as an object, or None when it is not one (the table readers report it)."""
    try:
        with _open(path) as handle:
            for line in handle:
                if line.strip():
                    record = json.loads(line)
                    return record if isinstance(record, dict) else None
    except (OSError, UnicodeDecodeError, EOFError, lzma.LZMAError, json.JSONDecodeError, RecursionError):
        return None  # the table readers report what is wrong with the file
    return None


def _records(path: Path, suffix: str, data: Any) -> list[tuple[int, dict]] | None:
    """(number, object) of a JSON list of objects or a JSONL file, else None."""
    if suffix in (".jsonl", ".ndjson"):  # read every line only when the first one is nested
        first = _first_record(path)
        return _jsonl_records(path) if first is not None and _nested_field([first]) is not None else None
    if suffix == ".json":
        data = _read_json(path) if data is None else data
        if isinstance(data, list) and data and all(isinstance(r, dict) for r in data):
            return [(i + 1, r) for i, r in enumerate(data)]
    return None


def _jsonl_records(path: Path) -> list[tuple[int, dict]]:
    """(line number, object) for every non-blank line; every bad line is reported."""
    records: list[tuple[int, dict]] = []
    problems: list[str] = []
    try:
        with _open(path) as handle:
            for no, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as err:
                    problems.append(f"line {no}: invalid JSON ({err.msg})")
                    continue
                except RecursionError:
                    problems.append(f"line {no}: nested too deeply")
                    continue
                if not isinstance(record, dict):
                    problems.append(f"line {no}: expected a JSON object, got {type(record).__name__}")
                    continue
                records.append((no, record))
    except (OSError, UnicodeDecodeError, EOFError, lzma.LZMAError) as err:
        raise DataValidationError([f"cannot read '{path}' as JSONL: {err}"], source=str(path)) from None
    if problems:
        shown = cap_messages(problems, lambda k: f"and {k} more bad lines")
        raise DataValidationError([f"cannot read '{path}' as JSONL: " + "; ".join(shown)], source=str(path))
    return records


def _frame(columns: dict[str, list], path: Path) -> pd.DataFrame:
    frame = pd.DataFrame(columns)
    if len(frame) == 0:
        raise DataValidationError([f"'{path}' holds no attempts"], source=str(path))
    return frame


def _flag(value: object) -> float | None:
    """1.0 / 0.0 for a success flag (bool, 0/1), None otherwise."""
    if isinstance(value, (bool, np.bool_)):
        return float(value)
    if isinstance(value, (int, float)) and not (isinstance(value, float) and math.isnan(value)) and value in (0, 1):
        return float(value)
    return None


def _raise(problems: list[str], path: Path, what: str) -> None:
    if problems:
        raise DataValidationError(cap_messages(problems, lambda k: f"and {k} more {what}"), source=str(path))


# --------------------------------------------------------------------------------------------
# lm-evaluation-harness


def _is_lm_eval(record: dict) -> bool:
    return "doc_id" in record and ("filtered_resps" in record or "resps" in record)


def _generations(record: dict) -> list | None:
    """The generations of a one-request document (``resps`` = [[g1, ..., gk]]), else None."""
    resps = record.get("resps")
    if isinstance(resps, list) and len(resps) == 1 and isinstance(resps[0], list) \
            and all(isinstance(g, str) for g in resps[0]):
        return resps[0]
    return None


def _lm_metric(records: list[tuple[int, dict]], success: str | None, path: Path) -> str:
    if success is not None:
        missing = [no for no, r in records if success not in r]
        if missing:
            raise ArgumentError(
                f"`success` = {success!r} is not a field of line {missing[0]} of '{path}' (lm-evaluation-harness "
                f"metrics there: {', '.join(map(repr, records[0][1].get('metrics') or [])) or 'none listed'})")
        return success
    first = records[0][1]
    listed = [m for m in (first.get("metrics") or []) if isinstance(m, str) and m in first]
    candidates = listed or [m for m in ("exact_match", "acc", "pass@1") if m in first]
    if not candidates:
        raise ArgumentError(
            f"`success`: line {records[0][0]} of '{path}' (lm-evaluation-harness samples) names no metric; "
            "pass the per-document metric with success= (--success), e.g. exact_match")
    return candidates[0]


def _lm_eval(records, path: Path, *, item, success, groups, partial, tests) -> EvalLog:
    if not records:
        raise DataValidationError([f"'{path}' holds no attempts"], source=str(path))
    item = item or "doc_id"
    metric = _lm_metric(records, success, path)
    filters = list(dict.fromkeys(str(r.get("filter")) for _, r in records if "filter" in r))
    if len(filters) > 1 and "filter" not in groups:
        raise ArgumentError(
            f"'{path}' holds results of {len(filters)} filters ({', '.join(map(repr, filters))}), one line per "
            "document and filter; fit them apart with groups=['filter'] (--groups filter) or keep one filter's lines")
    items, outcomes, filter_col = [], [], []
    problems: list[str] = []
    per_repeat = {"list": 0, "filtered": 0}
    repeats_seen: set[int] = set()
    for no, record in records:
        if item not in record:
            problems.append(f"line {no}: no `{item}` field")
            continue
        value = record.get(metric)
        gens = _generations(record)
        reps = len(gens) if gens is not None else 1
        repeats_seen.add(reps)
        if isinstance(value, list):
            flags = [_flag(v) for v in value]
            if len(value) != reps or None in flags:
                problems.append(f"line {no}: `{metric}` = {fmt_value(value)} is not a list of {reps} 0/1 scores "
                                f"(one per generation in `resps`)")
                continue
            per_repeat["list"] += reps > 1
        elif reps == 1:
            flags = [_flag(value)]
            if flags[0] is None:
                problems.append(f"line {no}: `{metric}` = {fmt_value(value)} is not a success flag (0/1, true/false)")
                continue
        else:
            flags = _score_filtered(record, reps, metric)
            if flags is None:
                raise DataValidationError(
                    [f"line {no} (`doc_id` {fmt_value(record.get('doc_id'))}) holds {reps} generations in `resps` "
                     f"(repeats: {reps}) but `{metric}` = {fmt_value(value)} is one aggregate score for all of them "
                     f"(filter {record.get('filter', 'none')!r} reduced them to "
                     f"{len(record.get('filtered_resps') or [])} answer); per-generation outcomes cannot be "
                     f"recovered from this file: log `{metric}` as a list of {reps} per-repeat scores, keep every "
                     "repeat in `filtered_resps` (a filter without take_first or majority_vote) with the exact_match "
                     "metric, or run repeats: 1 once per seed and concatenate the samples files"],
                    source=str(path))
            per_repeat["filtered"] += 1
        items.extend([record[item]] * len(flags))
        outcomes.extend(f == 1.0 for f in flags)
        filter_col.extend([record.get("filter")] * len(flags))
    _raise(problems, path, "bad lines")
    columns = {item: items, metric: outcomes}
    if filters:
        columns["filter"] = filter_col
    frame = _frame(columns, path)
    how = [f"`{metric}` per document"]
    if per_repeat["list"]:
        how.append(f"repeats scored one by one from the per-repeat `{metric}` lists")
    if per_repeat["filtered"]:
        how.append("repeats scored one by one: each answer in `filtered_resps` against `target` "
                   "(exact match, surrounding whitespace ignored)")
    if len(set(map(str, items))) < len(items) and max(repeats_seen) == 1:
        how.append(f"lines repeating a `{item}` are further attempts (runs concatenated), in line order")
    reason = ("read as lm-evaluation-harness samples: lines hold `doc_id`, `resps` and `filtered_resps`; "
              + "; ".join(how))
    return EvalLog(frame, {"item": item, "success": metric}, "lm_eval", reason)


def _score_filtered(record: dict, reps: int, metric: str) -> list[float] | None:
    """Per-repeat exact-match outcomes from ``filtered_resps`` = [[a1, ..., ak]], else None."""
    if metric != "exact_match":
        return None
    filtered = record.get("filtered_resps")
    if not (isinstance(filtered, list) and len(filtered) == 1 and isinstance(filtered[0], list)
            and len(filtered[0]) == reps):
        return None
    target = record.get("target")
    targets = target if isinstance(target, list) else [target]
    wanted = {str(t).strip() for t in targets if t is not None}
    return [float(str(answer).strip() in wanted) for answer in filtered[0]]


# --------------------------------------------------------------------------------------------
# Inspect AI


def _is_inspect(data: dict) -> bool:
    header = data.get("eval")
    return isinstance(header, dict) and "task" in header and ("samples" in data or "status" in data)


def _inspect_zip_samples(path: Path) -> list[dict]:
    try:
        with zipfile.ZipFile(path) as archive:
            names = sorted(n for n in archive.namelist() if n.startswith("samples/") and n.endswith(".json"))
            if not names:
                raise DataValidationError(
                    [f"'{path}' is an Inspect AI .eval log without samples (no samples/*.json entries); it holds "
                     "only aggregate results: rerun with sample logging on (the default; not --no-log-samples)"],
                    source=str(path))
            samples = []
            for name in names:
                try:
                    samples.append(json.loads(archive.read(name).decode("utf-8")))
                except (json.JSONDecodeError, UnicodeDecodeError) as err:
                    raise DataValidationError([f"cannot read '{path}' entry {name} as JSON: {err}"],
                                              source=str(path)) from None
    except (zipfile.BadZipFile, OSError) as err:
        raise DataValidationError([f"cannot read '{path}' as an Inspect AI .eval log (a zip archive): {err}"],
                                  source=str(path)) from None
    return samples


def _inspect_score(value: object) -> tuple[float | None, bool]:
    """(0/1 outcome or None, partial?) of one Inspect score value."""
    if isinstance(value, str):
        text = value.strip().upper()
        if text == "C":
            return 1.0, False
        if text in ("I", "N"):  # incorrect; no answer
            return 0.0, False
        if text == "P":
            return None, True
        return None, False
    flag = _flag(value)
    if flag is not None:
        return flag, False
    if isinstance(value, (int, float)) and 0 < value < 1:
        return None, True
    return None, False


def _inspect(samples: list, path: Path, what: str, *, item, success, groups, partial, tests) -> EvalLog:
    scorers = list(dict.fromkeys(name for s in samples if isinstance(s, dict)
                                 for name in (s.get("scores") or {})))
    if success is None:
        if len(scorers) != 1:
            raise ArgumentError(
                f"`success`: '{path}' has scores from {len(scorers) or 'no'} scorers"
                + (f" ({', '.join(map(repr, scorers))}); choose one with success= (--success), e.g. "
                   f"--success {scorers[0]}" if scorers else "; nothing to count as success"))
        success = scorers[0]
    elif success not in scorers:
        raise ArgumentError(f"`success` = {success!r} is not a scorer of '{path}' (scorers: "
                            f"{', '.join(map(repr, scorers)) or 'none'})")
    ids, epochs, outcomes = [], [], []
    problems: list[str] = []
    partial_at: list[str] = []
    dropped = 0
    for s in samples:
        where = f"sample {fmt_value(s.get('id'))} epoch {fmt_value(s.get('epoch', 1))}"
        if s.get("id") is None:
            problems.append(f"{where}: no `id`")
            continue
        score = (s.get("scores") or {}).get(success)
        if not isinstance(score, dict) or "value" not in score:
            error = s.get("error")
            message = error.get("message", error) if isinstance(error, dict) else error
            why = f" (it errored: {str(message)[:60]!r})" if error else ""
            problems.append(f"{where}: no `scores.{success}.value`{why}")
            continue
        value, is_partial = _inspect_score(score["value"])
        if is_partial:
            partial_at.append(where)
            if partial is None:
                continue
            if partial == "error":
                dropped += 1
                continue
            value = 1.0 if partial == "success" else 0.0
        if value is None:
            problems.append(f"{where}: `scores.{success}.value` = {fmt_value(score['value'])} is not a score "
                            "(C, I, P, N, true/false or a number in [0, 1])")
            continue
        ids.append(s["id"])
        epochs.append(s.get("epoch", 1))
        outcomes.append(value == 1.0)
    _raise(problems, path, "samples without a usable score")
    if partial_at and partial is None:
        raise ArgumentError(
            f"`partial`: {len(partial_at)} scores of scorer {success!r} in '{path}' give partial credit ('P' or a "
            f"value between 0 and 1; first at {partial_at[0]}); choose how they count with partial='success', "
            "'failure' or 'error' (--partial success|failure|error; 'error' leaves those attempts out)")
    frame = _frame({"id": ids, "epoch": epochs, success: outcomes}, path)
    reason = (f"read as {what}: item `id`, attempt `epoch`, success `scores.{success}.value` "
              "(C = success; I and N = failure")
    if partial_at:
        reason += (f"; {len(partial_at)} partial scores counted as {partial}" if partial != "error"
                   else f"; {dropped} partial scores left out")
    reason += ")"
    return EvalLog(frame, {"item": "id", "attempt": "epoch", "success": success}, "inspect", reason)


# --------------------------------------------------------------------------------------------
# EvalPlus and human-eval


def _is_evalplus(data: dict) -> bool:
    results = data.get("eval")
    return isinstance(results, dict) and bool(results) and all(isinstance(v, (list, dict)) for v in results.values())


def _status_pass(status: object) -> bool:
    return str(status).strip().lower() in ("pass", "success", "passed")


def _evalplus(results: dict, path: Path, tests: str | None) -> EvalLog:
    chosen = tests or DEFAULT_TESTS
    items, passed = [], []
    problems: list[str] = []
    for task_id, entry in results.items():
        if isinstance(entry, dict) and "base" in entry:  # older layout: lists of [status, details]
            base = [b[0] if isinstance(b, list) else b for b in entry.get("base") or []]
            plus = [p[0] if isinstance(p, list) else p for p in entry.get("plus") or []] if "plus" in entry else None
        else:
            samples = entry if isinstance(entry, list) else [entry]
            base = [s.get("base_status") if isinstance(s, dict) else None for s in samples]
            plus = [s.get("plus_status") if isinstance(s, dict) else None for s in samples]
            if all(p is None for p in plus):
                plus = None
        if any(b is None for b in base):
            problems.append(f"task {task_id!r}: a sample has no `base_status`")
            continue
        if chosen == "plus":
            if plus is None or len(plus) != len(base) or any(p is None for p in plus):
                problems.append(f"task {task_id!r}: no `plus_status` for every sample (tests='plus' needs the plus "
                                "tests; pass tests='base' (--tests base) for the original tests alone)")
                continue
            ok = [_status_pass(b) and _status_pass(p) for b, p in zip(base, plus)]
        else:
            ok = [_status_pass(b) for b in base]
        items.extend([task_id] * len(ok))
        passed.extend(ok)
    _raise(problems, path, "tasks")
    frame = _frame({"task_id": items, "passed": passed}, path)
    rule = ("tests=plus" + (" (default)" if tests is None else "") + ": a sample passes when both its base and its "
            "plus tests pass; tests=base counts the original tests alone") if chosen == "plus" else \
        "tests=base: a sample passes when its base tests pass (the plus tests are ignored)"
    reason = f"read as EvalPlus eval_results.json: `eval` maps each task to its samples; {rule}"
    return EvalLog(frame, {"item": "task_id", "success": "passed"}, "evalplus", reason)


def _is_humaneval(record: dict) -> bool:
    return "task_id" in record and "passed" in record


def _humaneval(records, path: Path) -> EvalLog:
    problems = [f"line {no}: no `task_id`" for no, r in records if "task_id" not in r]
    problems += [f"line {no}: `passed` = {fmt_value(r.get('passed'))} is not true/false"
                 for no, r in records if _flag(r.get("passed")) is None]
    _raise(problems, path, "bad lines")
    frame = _frame({"task_id": [r["task_id"] for _, r in records],
                    "passed": [_flag(r["passed"]) == 1.0 for _, r in records]}, path)
    reason = ("read as human-eval results: lines hold `task_id` and `passed` (one line per sample, "
              "attempts in line order)")
    return EvalLog(frame, {"item": "task_id", "success": "passed"}, "humaneval", reason)


def _is_simple_evals(data: dict, path: Path) -> bool:
    named = path.name.lower().endswith("_allresults.json")
    shaped = "score" in data and "metrics" in data and ("htmls" in data or "convos" in data)
    return shaped or (named and "score" in data)


# --------------------------------------------------------------------------------------------
# nested per-item logs


_ID_NAMES = frozenset(ATTEMPT_ALIASES["item"])


def _nested_field(records: list[dict]) -> str | None:
    """The one field that holds a list of attempts (objects or 0/1 flags) in every record."""
    def attempts_list(v: object) -> bool:
        return isinstance(v, list) and bool(v) and (all(isinstance(a, dict) for a in v)
                                                    or all(_flag(a) is not None for a in v))

    # a list under an id-like name is a malformed id (reported by the loaders), never attempts
    names = [k for k, v in records[0].items() if attempts_list(v) and str(k).lower() not in _ID_NAMES]
    names = [k for k in names if all(attempts_list(r.get(k)) for r in records)]
    return names[0] if len(names) == 1 else None


def _nested(records, path: Path) -> EvalLog:
    name = _nested_field([r for _, r in records])
    if name is None:
        raise DataValidationError([f"'{path}': not every record holds its attempts as a list in the same field"],
                                  source=str(path))
    rows: list[dict] = []
    flags = not isinstance(records[0][1][name][0], dict)
    for _, record in records:
        parent = {k: v for k, v in record.items() if k != name and not isinstance(v, (list, dict))}
        for attempt in record[name]:
            rows.append({**parent, name: attempt} if flags else {**parent, **attempt})
    frame = pd.DataFrame.from_records(rows)
    reason = (f"read as a nested per-item log: each record holds its attempts as a list under `{name}`; "
              "flattened to one row per attempt (item fields copied to each)")
    return EvalLog(frame, {"success": name} if flags else {}, "nested", reason)


# --------------------------------------------------------------------------------------------
# batched sample-until-success logs


def until_success_batch(log: pd.DataFrame, groups: list[str]) -> tuple[int, str] | None:
    """(batch size, reason) when an attempt log looks sampled until the first success, else None.

    ``log`` is the tidy attempt log (``item``, ``attempt``, ``success``; rows of an item in
    attempt order).  The rule: every item that got fewer attempts than the most any item of its
    group got has a success and stopped exactly at the end of the batch of ``B`` attempts that
    holds its first success, and so does every other item with a success (or it reached the
    cap).  ``B`` is the greatest common divisor of the early stops.  The early stops must take at
    least two values (some item went on past a batch without success, then stopped), so that a
    fixed-budget log where some items got one smaller budget is not mistaken for one.
    """
    if len(log) == 0:
        return None
    keys = [*groups, "item"]
    by_item = log.groupby(keys, sort=False, dropna=False)
    code = by_item.ngroup().to_numpy()
    n = np.bincount(code).astype(np.int64)
    position = by_item.cumcount().to_numpy() + 1
    hit = log["success"].to_numpy(dtype=bool)
    first = np.full(len(n), np.inf)
    np.minimum.at(first, code[hit], position[hit].astype(float))
    if groups:
        firsts = log.drop_duplicates(keys)[groups].reset_index(drop=True)
        cap = pd.Series(n).groupby([firsts[g] for g in groups], sort=False, dropna=False).transform("max").to_numpy()
    else:
        cap = np.full(len(n), n.max())
    solved = np.isfinite(first)
    early = n < cap
    if (early & ~solved).any() or len(np.unique(n[early])) < 2:
        return None
    batch = int(np.gcd.reduce(n[early]))
    stop = np.minimum(np.ceil(first[solved] / batch) * batch, cap[solved])
    if not np.array_equal(stop, n[solved]):
        return None
    reason = (f"read as a batched sample-until-success log, detected from the data: each of the {int(solved.sum())} "
              f"items with a success stopped at the end of the {batch}-attempt batch holding its first success "
              f"({int(early.sum())} stopped before the most attempts any item got, {int(cap.max())}); loaded with "
              f"batch size {batch} and the cap inferred as that maximum (pass --batch-size/--cap to set them, or "
              "--format long to read fixed budgets)")
    return batch, reason
