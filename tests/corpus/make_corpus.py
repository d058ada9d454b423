"""Write the malformed-input corpus of ``tests/test_corpus.py`` (run from anywhere; rewrites the
folders below next to this file).

``valid_fit.json`` (a power-law fit of six points, ``fit_law(..., "power_law")`` with its start
table cut to three rows) and ``valid_bon.json`` (``scalefit bon fit`` on twelve items with
``model="beta"``) are the well-formed bases; every file written here breaks one rule of a
saved fit, a counts table, a loss curve, an attempt log or a PassUntil table.
"""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _write(folder: str, name: str, content) -> None:
    path = HERE / folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif isinstance(content, str):
        path.write_text(content)
    else:
        path.write_text(json.dumps(content, indent=1, allow_nan=True))


def _mutated(base: dict, change) -> dict:
    d = copy.deepcopy(base)
    change(d)
    return d


def _set(path: str, value):
    def change(d):
        *head, last = path.split(".")
        for key in head:
            d = d[int(key)] if isinstance(d, list) else d[key]
        if isinstance(d, list):
            d[int(last)] = value
        else:
            d[last] = value
    return change


def _drop(key: str):
    return lambda d: d.pop(key)


# a JSON file of 3,000 nested lists: deeper than Python's JSON reader can follow
DEEP = "[" * 3000 + "]" * 3000
BINARY = bytes(range(256)) * 2


def fit_files(base: dict) -> dict:
    p = next(iter(base["params"]))
    return {
        "list.json": [base],
        "number.json": 3.5,
        "string.json": "scalefit.FitResult",
        "empty_object.json": {},
        "empty.json": "",
        "truncated.json": json.dumps(base)[:200],
        "deep.json": DEEP,
        "binary.json": BINARY,
        "no_params.json": _mutated(base, _drop("params")),
        "params_string.json": _mutated(base, _set("params", "abc")),
        "params_null.json": _mutated(base, _set("params", None)),
        "param_null.json": _mutated(base, lambda d: d["params"].update({k: None for k in d["params"]})),
        "param_string.json": _mutated(base, _set(f"params.{p}", "0.3")),
        "param_nan.json": _mutated(base, _set(f"params.{p}", float("nan"))),
        "param_inf.json": _mutated(base, _set(f"params.{p}", float("inf"))),
        "param_missing.json": _mutated(base, lambda d: d["params"].pop(p)),
        "param_unknown.json": _mutated(base, lambda d: d["params"].update(gamma=1.0)),
        "frame_string.json": _mutated(base, _set("frame", "bad")),
        "frame_list.json": _mutated(base, _set("frame", [[1, 2]])),
        "frame_ragged.json": _mutated(base, lambda d: d["frame"]["data"][0].append(9.9)),
        "frame_no_rows.json": _mutated(base, lambda d: d["frame"].update(data=[], index=[])),
        "frame_text_input.json": _mutated(base, lambda d: d["frame"]["data"][0].__setitem__(0, "1e6")),
        "frame_lacks_input.json": _mutated(base, lambda d: d["inputs"].update(x="tokens")),
        "no_format.json": _mutated(base, _drop("format")),
        "wrong_format.json": _mutated(base, _set("format", "scalefit.PosteriorFit2")),
        "newer_version.json": _mutated(base, _set("version", 99)),
        "unknown_law.json": _mutated(base, _set("law.name", "no_such_law")),
        "law_string.json": _mutated(base, _set("law", "power_law")),
        "bad_loss.json": _mutated(base, _set("loss", "cubic")),
        "negative_delta.json": _mutated(base, _set("delta", -1.0)),
        "converged_string.json": _mutated(base, _set("converged", "yes")),
        "n_starts_float.json": _mutated(base, _set("n_starts", 3.5)),
        "warnings_string.json": _mutated(base, _set("warnings", "none")),
        "starts_string.json": _mutated(base, _set("starts", "none")),
        "bootstrap_list.json": _mutated(base, _set("bootstrap", [1, 2])),
        "bootstrap_level.json": _mutated(base, _set("bootstrap", {
            "names": list(base["params"]), "draws": [[0.0] * len(base["params"])], "objective": [0.0],
            "converged": [True], "method": "case", "cluster": None, "seed": 0, "level": 1.5})),
        "several_problems.json": _mutated(base, lambda d: (d.pop("params"), d.update(delta="x", free=3))),
    }


def bon_files(base: dict) -> dict:
    fit = "groups.0.fit"
    return {
        "list.json": [base],
        "deep.json": DEEP,
        "binary.json": BINARY,
        "truncated.json": json.dumps(base)[:100],
        "no_format.json": _mutated(base, _drop("format")),
        "point_fit_format.json": _mutated(base, _set("format", "scalefit.FitResult")),
        "no_groups.json": _mutated(base, _drop("groups")),
        "empty_groups.json": _mutated(base, _set("groups", [])),
        "group_string.json": _mutated(base, _set("groups.0", "all")),
        "fit_null.json": _mutated(base, _set(f"{fit}", None)),
        "no_data.json": _mutated(base, lambda d: d["groups"][0]["fit"].pop("data")),
        "n_negative.json": _mutated(base, _set(f"{fit}.data.n.0", -1)),
        "k_string.json": _mutated(base, _set(f"{fit}.data.k.0", "3")),
        "k_above_n.json": _mutated(base, _set(f"{fit}.data.k.0", 10**6)),
        "lengths_differ.json": _mutated(base, lambda d: d["groups"][0]["fit"]["data"]["k"].pop()),
        "params_null.json": _mutated(base, lambda d: d["groups"][0]["fit"]["fits"]["beta"]["params"].update(a=None)),
        "theta_string.json": _mutated(base, _set(f"{fit}.fits.beta.theta", "0,1")),
        "model_unknown.json": _mutated(base, _set(f"{fit}.fits.beta.model", "gamma")),
        "chosen_not_fitted.json": _mutated(base, _set(f"{fit}.model", "kumaraswamy")),
        "repeats_zero.json": _mutated(base, _set(f"{fit}.repeats", 0)),
    }


COUNTS = {
    "header_only.csv": "item,n,k\n",
    "empty.csv": "",
    "k_text.csv": "item,n,k\n0,10,x\n1,10,2\n",
    "k_above_n.csv": "item,n,k\n0,10,11\n1,10,2\n",
    "n_negative.csv": "item,n,k\n0,-10,0\n1,10,2\n",
    "n_fraction.csv": "item,n,k\n0,10.5,1\n1,10,2\n",
    "k_nan.csv": "item,n,k\n0,10,nan\n1,10,2\n",
    "no_k_column.csv": "item,n,successes_typo\n0,10,1\n1,10,2\n",
    "binary.csv": BINARY,
    "list.json": "[1, 2, 3]",
    "broken.json": '{"item": [0, 1], "n": [10',
}

CURVES = {
    "empty.csv": "",
    "header_only.csv": "N,value\n",
    "value_text.csv": "N,value\n1e6,abc\n2e6,def\n3e6,ghi\n4e6,jkl\n",
    "n_negative.csv": "N,value\n1e6,3.0\n-2e6,2.9\n3e6,2.8\n4e6,2.7\n5e6,2.6\n6e6,2.5\n",
    "value_nan.csv": "N,value\n1e6,3.0\n2e6,nan\n3e6,2.8\n4e6,2.7\n5e6,2.6\n6e6,2.5\n",
    "no_value_column.csv": "N,score_typo\n1e6,3.0\n2e6,2.9\n3e6,2.8\n",
    "binary.csv": BINARY,
    "truncated.json": '[{"N": 1e6, "value": 3.0}, {"N": 2e6',
}

LOGS = {
    "empty.jsonl": "",
    "broken_line.jsonl": '{"item": 0, "success": true}\n{"item": 1, "success": tr\n',
    "not_objects.jsonl": "1\n2\n3\n",
    "success_text.jsonl": '{"item": 0, "success": "maybe"}\n{"item": 1, "success": "perhaps"}\n',
    "no_success.jsonl": '{"item": 0, "answer": "x"}\n{"item": 1, "answer": "y"}\n',
    "binary.jsonl": BINARY,
    "deep.jsonl": DEEP + "\n",
    "success_number.jsonl": '{"item": 0, "success": 7}\n{"item": 1, "success": 3}\n',
}

PASSUNTIL = {
    "successes_text.csv": "params,problem,n_correct,n_samples\n1e8,a,x,10\n1e8,b,y,10\n2e8,a,z,10\n2e8,b,w,10\n",
    "attempts_zero.csv": "params,problem,n_correct,n_samples\n1e8,a,0,0\n1e8,b,1,10\n2e8,a,1,10\n2e8,b,1,10\n",
    "successes_above.csv": "params,problem,n_correct,n_samples\n1e8,a,20,10\n1e8,b,1,10\n2e8,a,1,10\n2e8,b,1,10\n",
    "size_negative.csv": "params,problem,n_correct,n_samples\n-1e8,a,1,10\n1e8,b,1,10\n2e8,a,1,10\n2e8,b,1,10\n",
    "missing_column.csv": "params,problem,n_correct\n1e8,a,1\n2e8,a,1\n",
    "header_only.csv": "params,problem,n_correct,n_samples\n",
    "binary.csv": BINARY,
}


def main() -> None:
    fit = json.loads((HERE / "valid_fit.json").read_text())
    bon = json.loads((HERE / "valid_bon.json").read_text())
    for folder, files in (("fit_json", fit_files(fit)), ("bon_json", bon_files(bon)), ("counts", COUNTS),
                          ("curves", CURVES), ("logs", LOGS), ("passuntil", PASSUNTIL)):
        shutil.rmtree(HERE / folder, ignore_errors=True)
        for name, content in files.items():
            _write(folder, name, content)


if __name__ == "__main__":
    main()
