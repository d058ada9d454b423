"""Every user-controlled input of issue 11's list gets a one-line user error from the CLI: exit
code 2, one line on stderr naming the flag or file and the bad value, never "internal error".

``main()`` runs in-process (a subprocess costs seconds of imports); the few subprocess checks
are for ``--version`` / ``--help`` and the exit code of the installed command."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scalefit.cli import main

CORPUS = Path(__file__).resolve().parent / "corpus"
VALID_FIT = CORPUS / "valid_fit.json"
VALID_BON = CORPUS / "valid_bon.json"


def user_error(argv, capsys) -> str:
    """Run ``scalefit ARGV``; assert exit 2 and one stderr line without "internal error"; -> it."""
    code = main([str(a) for a in argv])
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1, err
    assert "internal error" not in err and "Traceback" not in err
    return lines[0]


def saved(tmp_path, base: Path, change, name="fit.json") -> Path:
    """A copy of a valid saved fit changed by ``change(record) -> record``."""
    path = tmp_path / name
    out = change(json.loads(base.read_text()))
    path.write_text(out if isinstance(out, str) else json.dumps(out))
    return path


def _set(key, value):
    def change(d):
        d[key] = value
        return d
    return change


def _drop(key):
    def change(d):
        d.pop(key)
        return d
    return change


def _null_params(d):
    d["params"] = {k: None for k in d["params"]}
    return d


FIT_CASES = {  # name -> (change of a valid point fit, what the message must say)
    "list": (lambda d: [d], "holds a list, not a JSON object"),
    "no params": (_drop("params"), "missing `params`"),
    "string params": (_set("params", "abc"), "`params` must be an object, got 'abc'"),
    "null params": (_set("params", None), "`params` must be an object, got null"),
    "null param values": (_null_params, "must be a finite number, got null"),
    "bad frame": (_set("frame", "bad"), "`frame` must be an object, got 'bad'"),
    "deep nesting": (lambda d: "[" * 5000 + "]" * 5000, "nests lists/objects too deeply"),
}

COMMANDS_READING_A_FIT = {
    "predict": lambda p: ["predict", p, "--at", "x=1e9"],
    "optimal": lambda p: ["optimal", p, "--C", "1e20"],
    "report": lambda p: ["report", p, "-o", p.with_suffix(".pdf")],
}


@pytest.mark.parametrize("command", list(COMMANDS_READING_A_FIT))
@pytest.mark.parametrize("case", list(FIT_CASES))
def test_malformed_point_fit_json(case, command, tmp_path, capsys):
    change, needle = FIT_CASES[case]
    path = saved(tmp_path, VALID_FIT, change)
    msg = user_error(COMMANDS_READING_A_FIT[command](path), capsys)
    assert needle in msg and "fit.json" in msg


def test_binary_fit_file(tmp_path, capsys):
    path = tmp_path / "fit.json"
    path.write_bytes(bytes(range(256)))
    for argv in (["predict", path, "--at", "x=1"], ["bon", "predict", "--fit", path, "--N", "10"],
                 ["report", path, "-o", tmp_path / "r.pdf"]):
        msg = user_error(argv, capsys)
        assert "fit.json" in msg and "is not a text file (byte 128 is not UTF-8)" in msg


def test_null_params_are_rejected_on_load_not_predicted_as_nan(tmp_path, capsys):
    path = saved(tmp_path, VALID_FIT, _null_params)
    msg = user_error(["predict", path, "--at", "x=1e9"], capsys)
    names = list(json.loads(VALID_FIT.read_text())["params"])
    # every problem in one message: each parameter is named
    assert f"{len(names)} problems in fit file" in msg
    assert all(f"`params.{n}` must be a finite number, got null" in msg for n in names)


BON_CASES = {
    "list": (lambda d: [d], "holds a list, not a JSON object"),
    "no groups": (_drop("groups"), "missing `groups`"),
    "string data": (lambda d: (d["groups"][0]["fit"].__setitem__("data", "x"), d)[1],
                    "`groups[0].fit.data` must be an object, got 'x'"),
    "null parameter": (lambda d: (d["groups"][0]["fit"]["fits"]["beta"]["params"].__setitem__("a", None), d)[1],
                       "`groups[0].fit.fits.beta.params.a` must be a finite number, got null"),
    "deep nesting": (lambda d: "[" * 5000 + "]" * 5000, "nests lists/objects too deeply"),
}


@pytest.mark.parametrize("case", list(BON_CASES))
def test_malformed_best_of_n_fit_json(case, tmp_path, capsys):
    change, needle = BON_CASES[case]
    path = saved(tmp_path, VALID_BON, change, "bon.json")
    msg = user_error(["bon", "predict", "--fit", path, "--N", "100", "--bootstrap", "0"], capsys)
    assert needle in msg and "`--fit` file" in msg and "bon.json" in msg
    msg = user_error(["report", path, "-o", tmp_path / "r.pdf"], capsys)
    assert needle in msg and "bon.json" in msg


def test_optimal_C_not_a_number(capsys):
    msg = user_error(["optimal", VALID_FIT, "--C", "abc"], capsys)
    assert "argument --C: got 'abc'" in msg


def test_bon_predict_N_overflows_to_infinity(capsys):
    msg = user_error(["bon", "predict", "--fit", VALID_BON, "--N", "1e400"], capsys)
    assert "argument --N: got '1e400'" in msg and "finite" in msg


def test_header_only_counts_file_for_passk(tmp_path, capsys):
    path = tmp_path / "counts.csv"
    path.write_text("item,n,k\n")
    msg = user_error(["passk", path, "--k", "1"], capsys)
    assert "counts.csv" in msg and "no data rows" in msg


@pytest.mark.parametrize("argv", [
    ["predict", "DIR", "--at", "x=1"],
    ["optimal", "DIR", "--C", "1e20"],
    ["report", "DIR", "-o", "OUT"],
    ["bon", "predict", "--fit", "DIR", "--N", "10"],
    ["bon", "budget", "--fit", "DIR", "--rate", "0.5"],
])
def test_directory_given_for_a_saved_fit(argv, tmp_path, capsys):
    folder = tmp_path / "folder"
    folder.mkdir()
    msg = user_error([folder if a == "DIR" else tmp_path / "r.pdf" if a == "OUT" else a for a in argv], capsys)
    assert f"'{folder}' is a directory" in msg


@pytest.mark.parametrize("argv", [
    ["fit", "DIR", "--law", "power_law", "--x", "N"],
    ["passk", "DIR", "--k", "1"],
    ["bon", "fit", "DIR"],
    ["backtest", "DIR", "--fit-budget", "2", "--N", "10"],
    ["passuntil", "DIR", "--size", "s", "--instance", "i", "--successes", "r", "--attempts", "n"],
    ["compare", "DIR", "--laws", "power_law"],
])
def test_directory_given_for_a_data_file(argv, tmp_path, capsys):
    """Data commands read a folder of JSON logs; an empty folder is a one-line error naming it."""
    folder = tmp_path / "folder"
    folder.mkdir()
    msg = user_error([folder if a == "DIR" else a for a in argv], capsys)
    assert str(folder) in msg and "`DATA`" in msg


@pytest.mark.parametrize("argv", [
    ["fit", "CURVE", "--law", "power_law", "--x", "N", "-o", "DIR"],
    ["fit", "CURVE", "--law", "power_law", "--x", "N", "-o", "DIR", "--force"],
    ["bon", "fit", "COUNTS", "-o", "DIR"],
    ["report", VALID_FIT, "-o", "DIR"],
])
def test_directory_given_for_an_output(argv, tmp_path, capsys):
    folder = tmp_path / "out.pdf"  # a folder named like the file the command would write
    folder.mkdir()
    curve = tmp_path / "curve.csv"
    curve.write_text("N,value\n1e6,3\n2e6,2.9\n4e6,2.8\n8e6,2.7\n")
    counts = tmp_path / "counts.csv"
    counts.write_text("item,n,k\n0,10,1\n1,10,0\n")
    subst = {"DIR": folder, "CURVE": curve, "COUNTS": counts}
    msg = user_error([subst.get(a, a) if isinstance(a, str) else a for a in argv], capsys)
    assert f"'{folder}' is a directory" in msg and ("`-o`" in msg or "`--output`" in msg)


def test_passuntil_string_successes(tmp_path, capsys):
    path = tmp_path / "pu.csv"
    path.write_text("params,problem,n_correct,n_samples\n1e8,a,x,10\n1e8,b,1,10\n2e8,a,1,10\n2e8,b,1,10\n"
                    "3e8,a,1,10\n3e8,b,1,10\n")
    msg = user_error(["passuntil", path, "--size", "params", "--instance", "problem", "--successes", "n_correct",
                      "--attempts", "n_samples"], capsys)
    # file rows count from 1 (the first data row after the header)
    assert "column `n_correct` row 1" in msg and "'x'" in msg


def test_bon_fit_with_a_trillion_attempts_per_item(tmp_path, capsys):
    path = tmp_path / "counts.csv"
    path.write_text("item,n,k\n" + "".join(f"{i},1000000000000,{i % 2}\n" for i in range(20)))
    msg = user_error(["bon", "fit", path], capsys)
    assert "item 0 has 1000000000000 attempts" in msg and "`--model`" in msg and "model=" not in msg


def test_bnsl_breaks_zero_is_rejected_naming_the_flag(tmp_path, capsys):
    msg = user_error(["fit", tmp_path / "any.csv", "--law", "bnsl", "--breaks", "0", "--x", "N"], capsys)
    assert "argument --breaks: got '0'" in msg


def test_breaks_for_another_law(tmp_path, capsys):
    curve = tmp_path / "curve.csv"
    curve.write_text("N,value\n1e6,3\n2e6,2.9\n4e6,2.8\n8e6,2.7\n")
    msg = user_error(["fit", curve, "--law", "power_law", "--breaks", "2", "--x", "N"], capsys)
    assert "`--breaks` = 2 applies only to the law bnsl (got power_law)" in msg
    # the same check guards the Bayesian path (it used to drop the flag silently there)
    msg = user_error(["fit", curve, "--law", "power_law", "--breaks", "2", "--x", "N", "--method", "bayes"], capsys)
    assert "`--breaks` = 2 applies only to the law bnsl (got power_law)" in msg


_FIT = ["fit", "CURVE", "--law", "power_law", "--x", "N"]
_SAMPLER = [("--draws", "50", "50"), ("--warmup", "20", "20"), ("--chains", "2", "2"),
            ("--target-accept", "0.9", "0.9"), ("--chain-method", "sequential", "sequential")]


@pytest.mark.parametrize("command, flag, value, shown", [
    *[(_FIT, *case) for case in _SAMPLER],
    (_FIT + ["--method", "point"], "--prior", "alpha=lognormal(0,1)", "alpha=lognormal(0,1)"),
    (_FIT, "--extrapolate", "2,20", "2,20"),
    *[(["bon", "predict", "COUNTS", "--N", "100"], *case) for case in _SAMPLER],
])
def test_bayesian_settings_without_method_bayes_are_refused(command, flag, value, shown, capsys):
    """A sampler setting given to a point fit would be ignored silently: it is refused in one
    line naming the flag and the value, before any data are read (the files do not exist)."""
    msg = user_error(command + [flag, value], capsys)
    assert msg.endswith(f"`{flag}` = {shown} is a setting of --method bayes (got --method point), "
                        "which would ignore it"), msg


def test_repeated_prior_flags_accumulate_with_method_bayes():
    """--prior stays repeatable while it is also noted as given (the check above)."""
    from scalefit.cli import build_parser

    args = build_parser().parse_args(["fit", "x.csv", "--law", "power_law", "--method", "bayes",
                                      "--prior", "alpha=lognormal(-1,1)", "--prior", "e=floor(3,2)"])
    assert args.prior == ["alpha=lognormal(-1,1)", "e=floor(3,2)"]
    assert args.sampler_flags == {"--prior": "e=floor(3,2)"}
    assert build_parser().parse_args(["fit", "x.csv", "--law", "power_law"]).prior is None


def test_api_argument_names_are_worded_as_flags(tmp_path, capsys):
    """The loader says `name it with `item=``; the CLI says `--item`."""
    path = tmp_path / "log.jsonl"
    path.write_text('{"q": 0, "answer": "x"}\n{"q": 1, "answer": "y"}\n')
    msg = user_error(["passk", path, "--k", "1", "--format", "long"], capsys)
    assert "name it with `--item`" in msg and "item=" not in msg
    assert msg.startswith("scalefit: error: `--item`:")
    assert "available: `q`, `answer`" in msg  # the file's own column names are left alone
    msg = user_error(["passk", path, "--k", "1"], capsys)
    assert "pass `--format`" in msg and "`--n-col`" in msg and "format=" not in msg


@pytest.mark.parametrize("argv, flag, value", [
    (["passk", "D", "--k", "1", "--level", "1.5"], "--level", "1.5"),
    (["passk", "D", "--k", "1", "--bootstrap", "-3"], "--bootstrap", "-3"),
    (["passk", "D", "--k", "0"], "--k", "0"),
    (["passk", "D", "--k", "1,2.5"], "--k", "2.5"),
    (["bon", "predict", "--fit", "F", "--N", "-5"], "--N", "-5"),
    (["bon", "predict", "--fit", "F", "--N", "100", "--level", "0"], "--level", "0"),
    (["bon", "budget", "--fit", "F", "--rate", "1.2"], "--rate", "1.2"),
    (["bon", "fit", "D", "--repeats", "0"], "--repeats", "0"),
    (["bon", "fit", "D", "--fraction", "1"], "--fraction", "1"),
    (["backtest", "D", "--fit-budget", "0", "--N", "10"], "--fit-budget", "0"),
    (["backtest", "D", "--fit-budget", "5", "--N", "10", "--repeats", "-1"], "--repeats", "-1"),
    (["fit", "D", "--seed", "-1"], "--seed", "-1"),
    (["fit", "D", "--bootstrap", "-3"], "--bootstrap", "-3"),
    (["fit", "D", "--level", "95"], "--level", "95"),
    (["fit", "D", "--delta", "0"], "--delta", "0"),
    (["fit", "D", "--drop-largest", "-2"], "--drop-largest", "-2"),
    (["fit", "D", "--method", "bayes", "--chains", "0"], "--chains", "0"),
    (["fit", "D", "--method", "bayes", "--target-accept", "1"], "--target-accept", "1"),
    (["compare", "D", "--laws", "power_law", "--holdout", "1.5"], "--holdout", "1.5"),
    (["passuntil", "D", "--size", "s", "--instance", "i", "--successes", "r", "--attempts", "n", "--bootstrap", "0"],
     "--bootstrap", "0"),
    (["report", "F", "--level", "-0.1"], "--level", "-0.1"),
    (["bon", "fit", "D", "--bootstrap", "5"], "--bootstrap", "5"),
    (["report", "F", "--C", "1e24,-1"], "--C", "-1"),
])
def test_out_of_range_values_name_the_flag_and_value(argv, flag, value, capsys):
    msg = user_error([str(VALID_FIT) if a in ("D", "F") else a for a in argv], capsys)
    assert f"argument {flag}: got '{value}'" in msg


def test_version_and_help_are_fast_and_import_no_jax():
    code = ("import sys, time; t = time.perf_counter(); from scalefit.cli import main; "
            "r = main(['--version']); h = main(['--help']); "
            "print(r, h, 'jax' in sys.modules, round(time.perf_counter() - t, 3))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    lines = out.stdout.strip().splitlines()
    import scalefit

    assert lines[0] == f"scalefit {scalefit.__version__}"
    assert "report" in out.stdout and "passk" in out.stdout and "compare" in out.stdout  # every command listed
    code_v, code_h, jax_loaded, _seconds = lines[-1].split()
    assert (code_v, code_h, jax_loaded) == ("0", "0", "False")


EXE = shutil.which("scalefit", path=str(Path(sys.executable).parent))


@pytest.mark.skipif(EXE is None, reason="the `scalefit` console script is not installed")
def test_installed_command_exit_codes(tmp_path):
    env = dict(os.environ)
    t0 = time.perf_counter()
    r = subprocess.run([EXE, "--help"], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0 and "usage: scalefit" in r.stdout
    help_seconds = time.perf_counter() - t0
    # a loose bound: the measured time is ~0.2 s; JAX alone takes several seconds to import
    assert help_seconds < 3.0, help_seconds
    folder = tmp_path / "d"
    folder.mkdir()
    r = subprocess.run([EXE, "predict", str(folder), "--at", "x=1"], capture_output=True, text=True, env=env,
                       timeout=600)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "is a directory" in r.stderr
