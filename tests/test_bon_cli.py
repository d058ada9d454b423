"""The repeated-sampling commands (scalefit.sampling.cli): passk, bon fit|predict|budget,
passuntil, backtest -- through an argparse harness like the main CLI's (one-line errors)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from scalefit._cliargs import OneLineParser
from scalefit.errors import ArgumentError
from scalefit.cli import main
from scalefit.sampling.cli import add_commands


class _Usage(Exception):
    pass


class _Parser(OneLineParser):
    def error(self, message):
        raise _Usage(message)


def run(argv):
    parser = _Parser(prog="scalefit")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)
    add_commands(sub)
    args = parser.parse_args([str(a) for a in argv])
    return args.func(args)


@pytest.fixture(scope="module")
def counts_csv(tmp_path_factory):
    rng = np.random.default_rng(7)
    rows = []
    for model, (a, b) in {"m1": (0.3, 6.0), "m2": (0.5, 5.0)}.items():
        p = (1 - (1 - rng.random(64)) ** (1 / b)) ** (1 / a)
        k = rng.binomial(200, p)
        rows += [{"model": model, "problem_idx": i, "n_samples": 200, "n_correct": int(c)} for i, c in enumerate(k)]
    path = tmp_path_factory.mktemp("cli") / "counts.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_passk_prints_unbiased_pass_at_k_per_group(counts_csv, capsys):
    assert run(["passk", counts_csv, "--groups", "model", "--k", "1,10,100", "--bootstrap", "200"]) == 0
    out = capsys.readouterr().out
    assert "== model=m1" in out and "== model=m2" in out
    assert out.count("pass@k") >= 6
    with pytest.raises(ArgumentError, match=r"`--k` = 1000 exceeds the smallest budget n = 200"):
        run(["passk", counts_csv, "--groups", "model", "--k", "1000"])


def test_bon_fit_writes_json_then_predict_and_budget_read_it(counts_csv, tmp_path, capsys):
    out = tmp_path / "fit.json"
    # 20 replicates and no external backtest: this test is about the file, not the intervals
    assert run(["bon", "fit", counts_csv, "--groups", "model", "--select-bootstrap", "20", "--bootstrap", "20",
                "--backtest", "0", "-o", out]) == 0
    text = capsys.readouterr().out
    assert "chosen:" in text and f"wrote {out}" in text
    doc = json.loads(out.read_text())
    assert doc["format"] == "scalefit.bon-file/1" and [g["group"] for g in doc["groups"]] == [{"model": "m1"}, {"model": "m2"}]
    for g in doc["groups"]:  # the forecast travels with the fit: 20 replicates on the budget grid
        fc = g["fit"]["forecast"]
        assert fc["num_bootstrap"] == 20 and len(fc["solved"]) == 20 and len(fc["solved"][0]) == len(fc["N"])
        assert fc["backtest"] is None and "not requested" in fc["backtest_note"]
    with pytest.raises(ArgumentError, match=r"already exists; refusing to overwrite"):
        run(["bon", "fit", counts_csv, "-o", out])
    assert run(["bon", "predict", "--fit", out, "--N", "1000,4000", "--bootstrap", "20"]) == 0
    text = capsys.readouterr().out
    assert text.count("N =       1000") == 2 and "90% intervals" in text
    assert run(["bon", "budget", "--fit", out, "--rate", "0.5", "--bootstrap", "0"]) == 0
    assert "rate 0.5: N =" in capsys.readouterr().out


def test_bon_predict_from_data_with_a_fixed_model(counts_csv, capsys):
    assert run(["bon", "predict", counts_csv, "--groups", "model", "--model", "beta", "--N", "2000",
                "--bootstrap", "0", "--target", "continued"]) == 0
    out = capsys.readouterr().out
    assert "requested explicitly" in out and "continued run" in out


def test_groups_run_side_by_side_with_the_same_output(counts_csv, capsys, monkeypatch):
    """Per-group fits and forecasts run in threads (one group per core); every group computes
    exactly what it computes alone, so the printed output is identical, byte for byte, with one
    thread and with two.  A bad SCALEFIT_THREADS is a one-line error naming it."""
    argv = ["bon", "predict", counts_csv, "--groups", "model", "--model", "beta", "--N", "2000",
            "--bootstrap", "20", "--target", "continued"]
    outs = []
    for threads in ("1", "2"):
        monkeypatch.setenv("SCALEFIT_THREADS", threads)
        assert run(argv) == 0
        outs.append(capsys.readouterr().out)
    assert outs[0] == outs[1] and outs[0].index("== model=m1") < outs[0].index("== model=m2")
    monkeypatch.setenv("SCALEFIT_THREADS", "two")
    assert main([str(a) for a in argv]) == 2
    err = capsys.readouterr().err
    assert err == "scalefit: error: SCALEFIT_THREADS = 'two' is not a positive integer\n"


def test_grouped_backtest_is_the_same_with_two_threads(counts_csv, capsys, monkeypatch):
    """The backtest runs one task per (group, repeat) side by side: with one thread and with
    two, the printed tables are identical byte for byte (each task computes what it computes
    alone; the output keeps the tasks' order)."""
    argv = ["backtest", counts_csv, "--item", "problem_idx", "--n-col", "n_samples", "--k-col", "n_correct",
            "--groups", "model", "--fit-budget", "40", "--N", "200", "--repeats", "2", "--candidates",
            "beta,kumaraswamy", "--select-bootstrap", "20", "--bootstrap", "20"]
    outs = []
    for threads in ("1", "2"):
        monkeypatch.setenv("SCALEFIT_THREADS", threads)
        assert run(argv) == 0
        outs.append(capsys.readouterr().out)
    assert outs[0] == outs[1]
    assert "m1" in outs[0] and "m2" in outs[0]


def test_map_in_threads_keeps_order_and_raises_the_first_failure(monkeypatch):
    from scalefit._threads import map_in_threads

    monkeypatch.setenv("SCALEFIT_THREADS", "3")
    assert map_in_threads(lambda x: x * x, range(7)) == [x * x for x in range(7)]

    def fail(x):
        if x in (2, 4):
            raise ArgumentError(f"item {x}")
        return x

    with pytest.raises(ArgumentError, match="item 2"):
        map_in_threads(fail, range(6))


def test_errors_name_the_argument(counts_csv, tmp_path):
    with pytest.raises(ArgumentError, match=r"`DATA` = '.*nope.csv' does not exist"):
        run(["bon", "fit", tmp_path / "nope.csv"])
    with pytest.raises(_Usage, match=r"argument --N: got 'ten'; expected"):
        run(["bon", "predict", counts_csv, "--N", "ten"])
    with pytest.raises(ArgumentError, match=r"give either `DATA` or `--fit FILE`"):
        run(["bon", "predict", counts_csv, "--fit", counts_csv, "--N", "10"])
    with pytest.raises(ArgumentError, match=r"`--fit` file '.*bad.json': .* not a file written by `scalefit bon fit -o`"):
        bad = tmp_path / "bad.json"
        bad.write_text("{}")
        run(["bon", "predict", "--fit", bad, "--N", "10"])
    with pytest.raises(_Usage):
        run(["bon"])  # the sub-subcommand is required


def test_standalone_main_prints_one_line_errors(counts_csv, capsys, tmp_path):
    assert main(["bon", "fit", str(tmp_path / "missing.csv")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("scalefit: error: `DATA` =") and err.count("\n") == 1


def test_backtest_on_counts_prints_rows_and_summary(counts_csv, capsys):
    assert run(["backtest", counts_csv, "--groups", "model", "--fit-budget", "50", "--N", "100,200",
                "--repeats", "1", "--bootstrap", "20", "--estimators", "scalefit:kumaraswamy,saber_anchored,naive"]) == 0
    out = capsys.readouterr().out
    assert "summary (percentage points):" in out
    assert "scalefit:kumaraswamy" in out and "saber_anchored" in out and "MAE_pp" in out
    with pytest.raises(ArgumentError, match=r"`N` = 800 must lie in \(50, 200\]"):
        run(["backtest", counts_csv, "--groups", "model", "--fit-budget", "50", "--N", "800", "--repeats", "1"])


@pytest.mark.shared_data
def test_passuntil_demonstration_on_pythia_checkpoints(shared_data, capsys):
    """Issue item 7: predict the 6.9B final checkpoint from the smaller sizes' final checkpoints.

    Realised PassUntil rate at 6.9B (mean of per-instance success fractions, 300B tokens):
    0.0070108.  The law over-predicts it (instance-level ~0.02, dataset-level ~0.016): the rate
    of this series saturates between 2.8B and 6.9B (0.0069 at 2.8B, 200B tokens), which a
    power law in N cannot represent -- the demonstration shows the failure mode honestly."""
    from scalefit.sampling import passuntil_holdout

    path = shared_data / "repeated_sampling" / "pythia_checkpoints_math_counts.csv"
    assert run(["passuntil", path, "--size", "params", "--instance", "problem_idx", "--successes", "n_correct",
                "--attempts", "n_samples", "--final-only", "train_tokens", "--bootstrap", "500"]) == 0
    out = capsys.readouterr().out
    assert "realised rate at 6.9e+09: 0.0070108" in out
    d = pd.read_csv(path)
    final = d[d.groupby("params").train_tokens.transform("max") == d.train_tokens]
    res = passuntil_holdout(final, size="params", instance="problem_idx", successes="n_correct",
                            attempts="n_samples", num_samples=500)
    assert res.holdout_size == 6.9e9 and list(res.fit_sizes) == [1.4e7, 7e7, 1.6e8, 4.1e8, 1e9, 1.4e9, 2.8e9]
    assert res.realised == pytest.approx(0.0070108, rel=1e-4)
    # dataset-level law: OLS of log(-log PU) on log N over the sizes with 0 < PU < 1
    t = res.table[(res.table["size"] < 6.9e9) & (res.table["rate"] > 0)]
    slope, icpt = np.polyfit(np.log(t["size"]), np.log(-np.log(t["rate"])), 1)
    assert res.task.estimate == pytest.approx(np.exp(-np.exp(icpt + slope * np.log(6.9e9))), rel=1e-9)
    assert 1.5 < res.task_ratio < 3.5 and 1.5 < res.instance_ratio < 4.0
    assert res.instance.lower > res.realised  # the instance-level interval misses: model-form error


@pytest.mark.shared_data
def test_backtest_jailbreak_first_60_attempts(shared_data, capsys):
    """Done-when (jailbreak): fit on the first 60 attempts, ASR@600 and ASR@1020 against the
    log's exact values 0.9623 and 0.9748."""
    path = shared_data / "repeated_sampling" / "bon_llama3_8b_instruct_attempts.jsonl"
    assert run(["backtest", path, "--item", "i", "--attempt", "n", "--success", "flagged", "--first",
                "--fit-budget", "60", "--N", "600,1020", "--bootstrap", "40", "--select-bootstrap", "20"]) == 0
    out = capsys.readouterr().out
    assert "0.9623" in out and "0.9748" in out
    assert "scalefit" in out and "saber_anchored" in out
