"""Readers for evaluation-tool logs (scalefit.io.evallogs through load_attempts).

Every test writes a small file in the tool's own layout (fields as the tool writes them), loads
it with the defaults, and checks the per-item counts against outcomes the test chose itself,
plus the stated reason ``attrs["read_as"]``.  Counts are integers, so equality is exact.
"""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pandas as pd
import pytest

from scalefit.errors import ArgumentError, DataValidationError
from scalefit.io import load_attempt_log, load_attempts

# --------------------------------------------------------------------------------------------
# lm-evaluation-harness


def _lm_line(doc_id, target, resps, filtered, metric_value, filt="none", metric="exact_match"):
    return {
        "doc_id": doc_id,
        "doc": {"question": f"Natalia sold clips to {doc_id} friends ...", "answer": f"... #### {target}"},
        "target": target,
        "arguments": {"gen_args_0": {"arg_0": f"Question: q{doc_id}\nAnswer:",
                                     "arg_1": {"until": ["Question:"], "do_sample": True, "temperature": 0.8}}},
        "resps": resps,
        "filtered_resps": filtered,
        "filter": filt,
        "metrics": [metric],
        "doc_hash": f"{doc_id:064x}",
        "prompt_hash": f"{doc_id + 1:064x}",
        "target_hash": f"{doc_id + 2:064x}",
        metric: metric_value,
    }


def _write_jsonl(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


# Which of 10 repeats answer correctly, per document: 9 of 60 correct, so pass@1 = 0.15, while
# the per-document majority is right for one document in six (0.1667).
REPEAT_FLAGS = [
    [1, 1, 1, 1, 1, 1, 0, 0, 0, 0],  # majority right
    [1, 1, 0, 0, 0, 0, 0, 0, 0, 0],
    [0, 1, 0, 0, 0, 0, 0, 0, 0, 0],
    [0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    [0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    [0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
]


def _repeat_records(*, keep_all: bool, per_repeat_metric: bool = False):
    records = []
    for doc, flags in enumerate(REPEAT_FLAGS):
        target = str(10 + doc)
        answers = [target if f else str(90 + j) for j, f in enumerate(flags)]
        resps = [[f"Let me think. ... The answer is {a}." for a in answers]]
        majority = int(sum(flags) > len(flags) / 2)
        if keep_all:
            filtered = [[f" {a}\n" for a in answers]]  # the filter keeps every repeat
        else:
            filtered = [target if majority else answers[-1]]  # a majority-vote filter: one answer
        value = flags if per_repeat_metric else float(majority)
        records.append(_lm_line(doc, target, resps, filtered, value, filt="maj@10" if not keep_all else "get-answer"))
    return records


def test_lm_eval_repeats_scored_one_by_one_from_filtered_resps(tmp_path):
    path = _write_jsonl(tmp_path / "samples_gsm8k_2024-05-01T12-00-00.jsonl", _repeat_records(keep_all=True))
    counts = load_attempts(path)
    assert counts["n"].tolist() == [10] * 6
    assert counts["k"].tolist() == [sum(f) for f in REPEAT_FLAGS]
    assert counts["k"].sum() / counts["n"].sum() == 9 / 60  # integer counts: the ratio is exact
    assert counts.attrs["read_as"].startswith("read as lm-evaluation-harness samples")
    assert "filtered_resps" in counts.attrs["read_as"] and "against `target`" in counts.attrs["read_as"]


def test_lm_eval_per_repeat_metric_list(tmp_path):
    records = _repeat_records(keep_all=False, per_repeat_metric=True)
    counts = load_attempts(_write_jsonl(tmp_path / "samples_gsm8k_2024.jsonl", records))
    assert counts["k"].tolist() == [sum(f) for f in REPEAT_FLAGS]
    assert "per-repeat `exact_match` lists" in counts.attrs["read_as"]


def test_lm_eval_aggregate_only_is_refused_with_the_fix(tmp_path):
    path = _write_jsonl(tmp_path / "samples_gsm8k_2024.jsonl", _repeat_records(keep_all=False))
    with pytest.raises(DataValidationError) as err:
        load_attempts(path)
    text = str(err.value)
    assert "\n" not in text
    assert "10 generations in `resps` (repeats: 10)" in text and "aggregate" in text
    assert "list of 10 per-repeat scores" in text and "repeats: 1" in text


def test_lm_eval_seeds_concatenated(tmp_path):
    rng = np.random.default_rng(3)
    flags = rng.random((3, 5)) < 0.4  # seeds x documents
    records = [_lm_line(d, "7", [["... 7" if flags[s, d] else "... 8"]], ["7" if flags[s, d] else "8"],
                        float(flags[s, d])) for s in range(3) for d in range(5)]
    path = _write_jsonl(tmp_path / "samples_seeds.jsonl", records)
    for kwargs in ({}, {"item": "doc_id", "success": "exact_match"}):
        counts = load_attempts(path, **kwargs)
        assert counts["n"].tolist() == [3] * 5
        assert counts["k"].tolist() == flags.sum(axis=0).tolist()
    assert "runs concatenated" in counts.attrs["read_as"]


def test_lm_eval_several_filters_need_a_group(tmp_path):
    records = [_lm_line(d, "7", [["7"]], ["7"], 1.0, filt=f)
               for d in range(3) for f in ("strict-match", "flexible-extract")]
    records[0]["exact_match"] = 0.0
    path = _write_jsonl(tmp_path / "samples_two_filters.jsonl", records)
    with pytest.raises(ArgumentError, match=r"2 filters \('strict-match', 'flexible-extract'\).*--groups filter"):
        load_attempts(path)
    counts = load_attempts(path, groups=["filter"])
    strict = counts[counts["filter"] == "strict-match"]
    assert strict["k"].tolist() == [0, 1, 1]


# --------------------------------------------------------------------------------------------
# Inspect AI

# (id, epoch, score value) -- 4 samples x 3 epochs
INSPECT_SCORES = {
    1: ["C", "C", "I"], 2: ["I", "I", "I"], 3: ["C", "P", "N"], 4: [1.0, 0, 0.5],
}


def _inspect_sample(sid, epoch, value):
    return {
        "id": sid, "epoch": epoch, "input": f"What is {sid} + {sid}?", "target": str(2 * sid),
        "messages": [{"role": "user", "content": f"What is {sid} + {sid}?"},
                     {"role": "assistant", "content": "ANSWER: 4"}],
        "output": {"model": "gpt-4o-mini", "choices": [{"message": {"role": "assistant", "content": "ANSWER: 4"},
                                                        "stop_reason": "stop"}]},
        "scores": {"match": {"value": value, "answer": "4", "explanation": "ANSWER: 4"}},
        "metadata": {}, "store": {},
    }


def _inspect_header():
    return {
        "version": 2, "status": "success",
        "eval": {"run_id": "abc", "created": "2024-09-01T10:00:00+00:00", "task": "arith", "task_id": "t1",
                 "task_version": 0, "dataset": {"name": "arith", "samples": 4}, "model": "openai/gpt-4o-mini",
                 "config": {"epochs": 3}},
        "plan": {"name": "plan", "steps": [{"solver": "generate", "params": {}}]},
        "results": {"total_samples": 12, "completed_samples": 12,
                    "scores": [{"name": "match", "scorer": "match", "metrics": {"accuracy": {"name": "accuracy",
                                                                                            "value": 0.4}}}]},
        "stats": {"started_at": "2024-09-01T10:00:00+00:00", "completed_at": "2024-09-01T10:01:00+00:00"},
    }


def _inspect_samples():
    return [_inspect_sample(sid, e + 1, v) for sid, values in INSPECT_SCORES.items() for e, v in enumerate(values)]


def _expected_k(partial_counts: bool):
    def ok(v):
        return v in ("C", 1.0) or (partial_counts and v in ("P", 0.5))
    return [sum(ok(v) for v in values) for values in INSPECT_SCORES.values()]


@pytest.fixture
def inspect_json(tmp_path):
    path = tmp_path / "2024-09-01T10-00-00_arith_abc.json"
    path.write_text(json.dumps({**_inspect_header(), "samples": _inspect_samples()}))
    return path


@pytest.fixture
def inspect_eval(tmp_path):
    path = tmp_path / "2024-09-01T10-00-00_arith_abc.eval"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("_journal/start.json", json.dumps({"version": 2, "eval": _inspect_header()["eval"]}))
        for s in _inspect_samples():
            archive.writestr(f"samples/{s['id']}_epoch_{s['epoch']}.json", json.dumps(s))
        summaries = [{"id": s["id"], "epoch": s["epoch"]} for s in _inspect_samples()]
        archive.writestr("summaries.json", json.dumps(summaries))
        archive.writestr("header.json", json.dumps(_inspect_header()))
    return path


@pytest.mark.parametrize("fixture", ["inspect_json", "inspect_eval"])
def test_inspect_epochs_are_attempts_and_partial_needs_a_rule(fixture, request):
    path = request.getfixturevalue(fixture)
    with pytest.raises(ArgumentError, match=r"`partial`: 2 scores .*partial='success', 'failure' or 'error'"):
        load_attempts(path)
    for rule, k in (("failure", _expected_k(False)), ("success", _expected_k(True))):
        counts = load_attempts(path, partial=rule)
        assert counts["item"].tolist() == [1, 2, 3, 4]
        assert counts["n"].tolist() == [3, 3, 3, 3]
        assert counts["k"].tolist() == k
    dropped = load_attempts(path, partial="error")
    assert dropped["n"].tolist() == [3, 3, 2, 2] and dropped["k"].tolist() == _expected_k(False)
    assert "Inspect AI" in counts.attrs["read_as"] and "EvalPlus" not in counts.attrs["read_as"]
    assert "counted as success" in counts.attrs["read_as"]
    log = load_attempt_log(path, partial="failure")
    assert log["attempt"].tolist() == [0, 1, 2] * 4


def test_inspect_several_scorers_and_a_bad_score(tmp_path):
    samples = _inspect_samples()[:3]
    for s in samples:
        s["scores"]["includes"] = {"value": "I"}
    path = tmp_path / "log.json"
    path.write_text(json.dumps({**_inspect_header(), "samples": samples}))
    with pytest.raises(ArgumentError, match=r"2 scorers \('match', 'includes'\).*--success match"):
        load_attempts(path)
    assert load_attempts(path, success="includes")["k"].tolist() == [0]
    samples[1]["scores"]["match"]["value"] = "maybe"
    path.write_text(json.dumps({**_inspect_header(), "samples": samples}))
    with pytest.raises(DataValidationError, match=r"sample 1 epoch 2: `scores.match.value` = 'maybe' is not a score"):
        load_attempts(path, success="match")


def test_partial_and_tests_refused_where_they_do_not_apply(inspect_json):
    with pytest.raises(ArgumentError, match=r"`tests` = 'base' applies to EvalPlus"):
        load_attempts(inspect_json, partial="failure", tests="base")


# --------------------------------------------------------------------------------------------
# EvalPlus and human-eval

EVALPLUS = {  # task -> [(base_status, plus_status) per sample]
    "HumanEval/0": [("pass", "pass"), ("pass", "fail"), ("fail", "fail")],
    "HumanEval/1": [("pass", "fail"), ("pass", "fail"), ("pass", "pass")],
    "HumanEval/2": [("fail", "fail"), ("fail", "fail"), ("fail", "fail")],
}


def test_evalplus_tests_choice_is_stated(tmp_path):
    data = {"date": "2024-05-01 12:00", "hash": "d41d8cd9",
            "eval": {task: [{"task_id": task, "solution": "def f():\n    return 1\n", "base_status": b,
                             "plus_status": p, "base_fail_tests": [], "plus_fail_tests": []} for b, p in samples]
                     for task, samples in EVALPLUS.items()}}
    path = tmp_path / "eval_results.json"
    path.write_text(json.dumps(data))
    plus = load_attempts(path)
    assert plus["k"].tolist() == [sum(b == p == "pass" for b, p in s) for s in EVALPLUS.values()]
    assert "tests=plus (default)" in plus.attrs["read_as"]
    base = load_attempts(path, tests="base")
    assert base["k"].tolist() == [sum(b == "pass" for b, _ in s) for s in EVALPLUS.values()]
    assert "tests=base" in base.attrs["read_as"]
    assert base["n"].tolist() == [3, 3, 3]


def test_humaneval_results_jsonl(tmp_path):
    rows = [("HumanEval/0", True), ("HumanEval/0", False), ("HumanEval/1", False), ("HumanEval/1", False)]
    path = _write_jsonl(tmp_path / "samples.jsonl_results.jsonl",
                        [{"task_id": t, "completion": "    return 1\n", "result": "passed" if ok else "failed: ",
                          "passed": ok} for t, ok in rows])
    counts = load_attempts(path)
    assert counts["n"].tolist() == [2, 2] and counts["k"].tolist() == [1, 0]
    assert counts.attrs["read_as"].startswith("read as human-eval results")


def test_simple_evals_allresults_has_no_per_example_outcomes(tmp_path):
    path = tmp_path / "mmlu_gpt-4o-mini_allresults.json"
    path.write_text(json.dumps({"score": 0.81, "metrics": {"score:std": 0.39}, "htmls": ["<p>...</p>"],
                                "convos": [[{"role": "user", "content": "..."}]], "metadata": {}}))
    with pytest.raises(DataValidationError, match=r"OpenAI simple-evals.*not an outcome per example") as err:
        load_attempts(path)
    assert "\n" not in str(err.value)


# --------------------------------------------------------------------------------------------
# best-of-N logs


def _until_success_log(rng, items=12, batch=5, cap=40):
    """A batched sample-until-success log: (records, first success per item or None)."""
    records, first = [], []
    p = rng.beta(0.4, 3.0, size=items)
    for i in range(items):
        hit = None
        n = 0
        while n < cap:
            flags = rng.random(batch) < p[i]
            for j, f in enumerate(flags):
                records.append({"i": i, "behavior_id": f"behaviour_{i}", "n": n + j, "flagged": bool(f)})
                if f and hit is None:
                    hit = n + j + 1
            n += batch
            if hit is not None:
                break
        first.append(hit)
    return records, first


def test_batched_until_success_detected_from_the_data(tmp_path):
    rng = np.random.default_rng(11)
    records, first = _until_success_log(rng)
    assert sum(f is not None and f <= 35 for f in first) >= 2  # the rule needs early stops to be seen
    path = _write_jsonl(tmp_path / "bon_attempts.jsonl", records)
    counts = load_attempts(path)
    assert counts.attrs["columns"]["item"] == "behavior_id"
    assert counts["batch_size"].unique().tolist() == [5]
    want = [np.nan if f is None else float(f) for f in first]
    np.testing.assert_array_equal(counts["first_success"].to_numpy(), want)
    assert "sample-until-success" in counts.attrs["read_as"] and "batch size 5" in counts.attrs["read_as"]
    # read as fixed budgets only when asked; ASR@5 from the censored layout is the truth
    fixed = load_attempts(path, "long")
    assert "first_success" not in fixed.columns
    assert np.mean(counts["first_success"] <= 5) == np.mean([f is not None and f <= 5 for f in first])


@pytest.mark.parametrize("log", [
    # one smaller budget: every short item has a success, but nothing shows sampling went on
    {"a": [0, 0, 0, 0], "b": [0, 1], "c": [1, 0], "d": [0, 0, 1, 1]},
    # two smaller budgets; item c kept sampling after a success in its first batch of 2
    {"a": [0] * 6, "b": [0, 1], "c": [1, 0, 0, 0], "d": [0, 0, 1, 1, 0, 0]},
])
def test_ragged_fixed_budgets_are_not_mistaken_for_until_success(tmp_path, log):
    records = [{"task_id": t, "passed": bool(v)} for t, flags in log.items() for v in flags]
    counts = load_attempts(_write_jsonl(tmp_path / "ragged.jsonl", records))
    assert "first_success" not in counts.columns
    assert counts["n"].tolist() == [len(f) for f in log.values()]


def test_nested_per_behaviour_log_is_flattened(tmp_path):
    rng = np.random.default_rng(5)
    records, _ = _until_success_log(rng, items=6)
    flat = pd.DataFrame(records)
    nested = [{"behavior_id": b, "attempts": [{"n": int(r.n), "flagged": bool(r.flagged)} for r in g.itertuples()]}
              for b, g in flat.groupby("behavior_id", sort=False)]
    a = load_attempts(_write_jsonl(tmp_path / "flat.jsonl", records), "long", item="behavior_id", attempt="n")
    b = load_attempts(_write_jsonl(tmp_path / "nested.jsonl", nested), "long", attempt="n")
    pd.testing.assert_frame_equal(a[["item", "n", "k"]], b[["item", "n", "k"]])
    b_auto = load_attempts(tmp_path / "nested.jsonl", attempt="n")
    assert b_auto.attrs["read_as"].startswith("read as a nested per-item log")
    flags = [{"sample_id": i, "jailbroken": [bool(v) for v in row]} for i, row in enumerate([[0, 1, 0], [0, 0, 0]])]
    c = load_attempts(_write_json(tmp_path / "flags.json", flags))
    assert c["item"].tolist() == [0, 1] and c["k"].tolist() == [1, 0]


def _write_json(path, data):
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize("name", ["behavior_id", "i", "doc_id", "task_id", "sample_id", "id"])
def test_common_item_names(tmp_path, name):
    frame = pd.DataFrame({name: [0, 0, 1], "success": [1, 0, 1]})
    counts = load_attempts(frame)
    assert counts.attrs["columns"]["item"] == name and counts["k"].tolist() == [1, 1]


def test_real_jailbreak_log_loads_with_its_stopping_rule(shared_data):
    counts = load_attempts(shared_data / "repeated_sampling" / "bon_llama3_8b_instruct_attempts.jsonl")
    assert counts["batch_size"].unique().tolist() == [60]
    # SOURCE.md: ASR@60 = 0.667 (2 of 3 behaviours broken in the first batch), exact from the log
    assert np.mean(counts["first_success"] <= 60) == pytest.approx(0.667, abs=5e-4)  # SOURCE.md rounds to 3 places


# --------------------------------------------------------------------------------------------
# fitters take the loader's output as is


def test_fitters_accept_the_loaded_frame(tmp_path):
    from scalefit.sampling import fit_bon, fit_mixing

    rng = np.random.default_rng(2)
    k = rng.binomial(20, rng.beta(0.5, 4.0, size=40))
    path = tmp_path / "counts.csv"
    pd.DataFrame({"problem": range(40), "n_samples": 20, "n_correct": k}).to_csv(path, index=False)
    counts = load_attempts(path)
    direct = fit_mixing(20, k, model="beta")
    from_frame = fit_mixing(counts, model="beta")
    assert from_frame.params == direct.params  # the same numbers reach the same optimiser
    bon = fit_bon(counts, model="beta")
    assert bon.model == "beta" and bon.fits["beta"].converged
    from scalefit.sampling import fit_beta_binomial

    assert fit_beta_binomial(counts).a == fit_beta_binomial(20, k).a  # same counts, same optimiser
    grouped = pd.DataFrame({"model": ["a", "a", "b"], "item": [0, 1, 0], "n": 5, "k": [1, 0, 2]})
    grouped = load_attempts(grouped, groups=["model"])
    for fitter in (lambda c: fit_mixing(c, model="beta"), fit_beta_binomial):
        with pytest.raises(ArgumentError, match=r"2 groups of `model`"):
            fitter(grouped)


def test_cli_states_how_the_file_was_read(inspect_json, capsys):
    from scalefit.cli import main

    assert main(["passk", str(inspect_json), "--partial", "failure", "--k", "1"]) == 0
    assert "read as an Inspect AI JSON log" in capsys.readouterr().err


def test_cli_one_line_error_for_a_log_without_outcomes(tmp_path, capsys):
    from scalefit.cli import main

    path = _write_json(tmp_path / "gpqa_o1_allresults.json",
                       {"score": 0.7, "metrics": {}, "htmls": [], "convos": [], "metadata": {}})
    assert main(["passk", str(path), "--k", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "simple-evals" in err and "Traceback" not in err


def test_inspect_errored_sample_is_named(tmp_path):
    samples = _inspect_samples()[:3]
    samples[2]["scores"] = {}
    samples[2]["error"] = {"message": "RateLimitError: too many requests", "traceback": "..."}
    path = _write_json(tmp_path / "log.json", {**_inspect_header(), "samples": samples})
    with pytest.raises(DataValidationError, match=r"sample 1 epoch 3: no `scores.match.value` \(it errored: "
                                                   r"'RateLimitError"):
        load_attempts(path, success="match")


def test_until_success_detected_per_group(tmp_path):
    rng = np.random.default_rng(4)
    records, firsts = [], []
    for model in ("m1", "m2"):
        recs, first = _until_success_log(rng, items=10, batch=4, cap=24 if model == "m1" else 40)
        records += [{**r, "model": model} for r in recs]
        firsts += [np.nan if f is None else float(f) for f in first]
    counts = load_attempts(_write_jsonl(tmp_path / "two_models.jsonl", records), groups=["model"])
    assert counts["batch_size"].unique().tolist() == [4]
    np.testing.assert_array_equal(counts["first_success"].to_numpy(), firsts)
