"""Every file of the malformed-input corpus (tests/corpus/, written by make_corpus.py) is
answered by the command that reads it with exit code 2 and ONE line on stderr (naming the file
for saved results), never with "internal error" or a traceback.  In-process ``main()`` keeps this fast."""

from __future__ import annotations

from pathlib import Path

import pytest

from scalefit.cli import main

CORPUS = Path(__file__).resolve().parent / "corpus"

#: folder -> the command lines that read its files (FILE is replaced by the file's path)
COMMANDS = {
    "fit_json": [["predict", "FILE", "--at", "N=1e9"], ["optimal", "FILE", "--C", "1e20"],
                 ["report", "FILE", "-o", "OUT"]],
    "bon_json": [["bon", "predict", "--fit", "FILE", "--N", "100", "--bootstrap", "0"],
                 ["bon", "budget", "--fit", "FILE", "--rate", "0.5", "--bootstrap", "0"],
                 ["report", "FILE", "-o", "OUT"]],
    "counts": [["passk", "FILE", "--k", "1", "--bootstrap", "20"]],
    "curves": [["fit", "FILE", "--law", "power_law", "--x", "N"]],
    "logs": [["passk", "FILE", "--k", "1", "--bootstrap", "20"]],
    "passuntil": [["passuntil", "FILE", "--size", "params", "--instance", "problem", "--successes", "n_correct",
                   "--attempts", "n_samples", "--bootstrap", "20"]],
}

#: saved results: their errors name the file (data files' errors name columns, rows and values)
SAVED = ("fit_json", "bon_json")

CASES = [(folder, path.name, cmd) for folder, cmds in COMMANDS.items()
         for path in sorted((CORPUS / folder).iterdir()) for cmd in cmds]


def test_the_corpus_holds_at_least_60_files():
    files = [p for folder in COMMANDS for p in (CORPUS / folder).iterdir()]
    assert len(files) >= 60


def run_main(argv, capsys) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize("folder, name, command", CASES,
                         ids=[f"{c[2][0]}{'-' + c[2][1] if c[2][0] == 'bon' else ''}:{c[0]}/{c[1]}" for c in CASES])
def test_malformed_input_is_one_line_user_error(folder, name, command, tmp_path, capsys):
    path = CORPUS / folder / name
    argv = [str(path) if a == "FILE" else str(tmp_path / "out.pdf") if a == "OUT" else a for a in command]
    code, out, err = run_main(argv, capsys)
    lines = err.strip().splitlines()
    assert code == 2, (code, out, err)
    assert len(lines) == 1, err
    assert lines[0].startswith("scalefit: error: "), err
    assert "internal error" not in err and "Traceback" not in err
    if folder in SAVED:
        assert name in lines[0], f"the message does not name the file: {err}"
    assert not (tmp_path / "out.pdf").exists()


@pytest.mark.parametrize("command", [
    ["predict", "FIT", "--at", "N=1e9"],
    ["bon", "predict", "--fit", "BON", "--N", "100", "--bootstrap", "0"],
])
def test_the_valid_bases_are_accepted(command, capsys):
    """The corpus files fail because of what each one breaks: their bases load and predict."""
    argv = [str(CORPUS / "valid_fit.json") if a == "FIT" else str(CORPUS / "valid_bon.json") if a == "BON" else a
            for a in command]
    code, out, err = run_main(argv, capsys)
    assert code == 0, err
    assert err == ""
