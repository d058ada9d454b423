"""The pooled best-of-N comparison's saved record and report pages (issue 13, item 5):
`scalefit bon predict COUNTS --groups model --pool auto -o FILE` writes the record, `scalefit
report FILE` renders it; from Python, `pooled_record(GroupedBon, N)` + `build_report`.

Simulated counts from the pooled model, one fit for the whole file with the settings of
tests/test_pooled.py's choice test (3 groups x 120 items, 40 attempts each, the logit-normal family, 2
thinnings, no refitted SE), so that the suite compiles its programs once."""

from __future__ import annotations

import io
import json

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

pypdf = pytest.importorskip("pypdf")

from scalefit.cli import main  # noqa: E402
from scalefit.errors import ArgumentError  # noqa: E402
from scalefit.report import build_report, read_pooled_record, save_pooled_record  # noqa: E402

N_ATT, I_ITEMS = 40, 120
BUDGETS = [400, 4000]
B = 20  # bootstrap replicates: enough to form intervals, small for CI
PAGES = ["Cover: summary, warnings and provenance", "Pooled vs independent forecasts",
         "Which forecast each group uses, and why", "Shared item difficulty"]


def _text(pdf: bytes) -> list[str]:
    return [" ".join((p.extract_text() or "").split()) for p in pypdf.PdfReader(io.BytesIO(pdf)).pages]


def _counts(path):
    rng = np.random.default_rng(11)
    mu, s, sig = np.array([-4.0, -2.5, -1.5]), np.array([1.5, 1.0, 2.0]), np.array([0.5, 0.8, 0.4])
    u = rng.normal(size=I_ITEMS)
    eta = mu[:, None] + s[:, None] * u[None, :] + sig[:, None] * rng.normal(size=(3, I_ITEMS))
    k = rng.binomial(N_ATT, 1.0 / (1.0 + np.exp(-eta)))
    rows = [{"model": m, "problem_idx": i, "n_samples": N_ATT, "n_correct": int(k[g, i])}
            for g, m in enumerate(("m1", "m2", "m3")) for i in range(I_ITEMS)]
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


ARGS = ["--item", "problem_idx", "--n-col", "n_samples", "--k-col", "n_correct", "--groups", "model"]


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """One pooled fit for the file, through the CLI: `bon predict --pool auto -o` (the record is
    built by `pooled_record`, the Python API the notebook uses)."""
    d = tmp_path_factory.mktemp("pooled_report")
    csv = _counts(d / "counts.csv")
    out = d / "pooled.json"
    argv = ["bon", "predict", str(csv), *ARGS, "--pool", "auto", "--N", ",".join(map(str, BUDGETS)),
            "--bootstrap", str(B), "--candidates", "logit_normal", "--select-bootstrap", "0", "--repeats", "2", "-o", str(out)]
    assert main(argv) == 0
    return d, csv, json.loads(out.read_text()), out


def test_record_round_trips_and_holds_the_choice(saved, capsys):
    d, _, rec, path = saved
    assert rec["format"] == "scalefit.report.PooledBestOfN" and rec["version"] == 1
    assert rec["metadata"]["command"].startswith("scalefit bon predict")
    # read back and saved again: the same bytes (float64 numbers as Python writes them round-trip)
    again = save_pooled_record(read_pooled_record(rec, "x"), d / "again.json")
    assert again.read_bytes() == path.read_bytes()
    choice = {r["group"]: r["chosen"] for r in rec["choice"]}
    assert sorted(choice) == ["m1", "m2", "m3"]
    # every (group, N) has one pooled and one independent row; exactly one is chosen, as the choice says
    fc = pd.DataFrame(rec["forecasts"])
    for (g, _), sub in fc.groupby(["group", "N"]):
        assert sorted(sub["method"]) == ["independent", "pooled"]
        assert sub.loc[sub["chosen"], "method"].tolist() == [choice[g]]
        assert np.all(sub["lower"] <= sub["upper"])  # intervals of the realised rate: the expected one may lie outside
    # the auto rule as stated: pooled exactly where the gain exceeds z SE
    for r in rec["choice"]:
        assert (r["chosen"] == "pooled") == (r["gain"] > rec["z"] * r["gain_se"]), r
    with pytest.raises(ArgumentError, match=r"lacks field\(s\) \['choice'\]"):
        read_pooled_record({k: v for k, v in rec.items() if k != "choice"}, "broken.json")
    with pytest.raises(ArgumentError, match="already exists"):
        save_pooled_record(rec, path)


def test_report_pages_titles_and_numbers(saved, capsys):
    d, _, rec, path = saved
    info = build_report(path, d / "pooled.pdf")  # what `scalefit report FILE -o PDF` calls
    assert list(info.page_titles) == PAGES and (d / "pooled.pdf").read_bytes() == info.pdf
    pages = _text(info.pdf)
    n_pooled = sum(r["chosen"] == "pooled" for r in rec["choice"])
    assert f"uses the pooled forecast for {n_pooled} of 3 groups" in pages[0]
    # 4000 = 100x the 40 attempts: the cover warns
    assert any("Extrapolation 100×" in w for w in info.warnings) and "Extrapolation 100×" in pages[0]
    from scalefit.plots._style import fmt_num

    for r in rec["forecasts"]:
        assert fmt_num(r["estimate"], 4) in pages[1]
    for r in rec["choice"]:
        assert r["group"] in pages[2] and fmt_num(r["gain"], 3) in pages[2]
    for r in rec["sharing"]["rows"]:
        assert f"[{fmt_num(r['lower'], 3)}, {fmt_num(r['upper'], 3)}]" in pages[3]
    # --at picks saved budgets (the record as a dict: the Python route); others are refused in one line
    only = _text(build_report(rec, targets={"N": 400}).pdf)[1]
    assert "4000" not in only.split("Chosen:")[0]
    with pytest.raises(ArgumentError, match="holds forecasts at N = 400, 4000 only"):
        build_report(rec, targets={"N": 1000})


def test_bad_input_is_one_line_exit_2(saved, tmp_path, capsys):
    d, csv, rec, path = saved
    existing = tmp_path / "pooled.json"
    existing.write_text("{}")
    base = ["bon", "predict", str(csv), *ARGS, "--N", "400"]
    # an existing output without --force: refused before any fitting
    assert main(base + ["--pool", "auto", "-o", str(existing)]) == 2
    err = capsys.readouterr().err
    assert "`-o`" in err and str(existing) in err and "already exists" in err and err.count("\n") == 1
    assert main(base + ["-o", str(tmp_path / "new.json")]) == 2  # --pool off: nothing pooled to save
    err = capsys.readouterr().err
    assert "needs --pool auto or on" in err and err.count("\n") == 1
    # a record of an unknown version, rendered
    bad = tmp_path / "v99.json"
    bad.write_text(json.dumps(dict(rec, version=99)))
    assert main(["report", str(bad), "-o", str(tmp_path / "v99.pdf")]) == 2
    err = capsys.readouterr().err
    assert "version 99" in err and "v99.json" in err and err.count("\n") == 1
    # a level the record was not saved with
    assert main(["report", str(path), "--level", "0.8", "-o", str(tmp_path / "l.pdf")]) == 2
    err = capsys.readouterr().err
    assert "`--level` = 0.8" in err and err.count("\n") == 1
