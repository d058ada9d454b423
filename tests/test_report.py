"""PDF reports from saved results: expected pages, key numbers in the text, prominent warnings,
deterministic bytes, no silent overwrite, the renderer registry and the CLI command."""

from __future__ import annotations

import io
import re
import shutil
import subprocess

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

pypdf = pytest.importorskip("pypdf")

import scalefit  # noqa: E402
from scalefit._cliargs import OneLineParser, UsageError  # noqa: E402
from scalefit.errors import ArgumentError, ScalefitError  # noqa: E402
from scalefit.io import load_curves  # noqa: E402
from scalefit.plots._style import fmt_factor, fmt_num  # noqa: E402
from scalefit.report import (  # noqa: E402
    Flow,
    Section,
    available_formats,
    build_report,
    make_bon_curve,
    register_renderer,
    save_bon_curve,
    unregister_renderer,
)
from scalefit.report.cli import add_commands  # noqa: E402

from conftest import REPO  # noqa: E402

SMALL_GRID = {"a": [3.0, 6.0], "b": [5.0, 8.0], "e": [0.0, 0.5], "alpha": [0.2, 0.5], "beta": [0.2, 0.5]}
TARGET = {"N": 7e10, "D": 1.4e12}


def pdf_pages(data: bytes) -> list[str]:
    reader = pypdf.PdfReader(io.BytesIO(data))
    return [" ".join((p.extract_text() or "").split()) for p in reader.pages]


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("report_inputs")
    frame = load_curves(REPO / "scalefit" / "examples" / "chinchilla_synthetic.csv")
    fit = scalefit.fit_law(frame, "chinchilla", starts=SMALL_GRID, source="scalefit/examples/chinchilla_synthetic.csv")
    boot = scalefit.bootstrap(fit, 20, seed=0, progress=False).with_metadata(command="scalefit fit test")
    boot.to_json(d / "chinchilla.json")
    bad = scalefit.fit_law(frame, "chinchilla", starts={k: v[:1] for k, v in SMALL_GRID.items()}, max_iter=3,
                           screen_iters=1, n_polish=1, varpro=False, source="scalefit/examples/chinchilla_synthetic.csv")
    assert not bad.converged
    bad.to_json(d / "nonconverged.json")
    counts = pd.read_csv(REPO / "scalefit" / "examples" / "bon_synthetic_counts.csv")
    record = make_bon_curve(counts["n"], counts["k"], targets=[1000], budget_target=0.9, backtest_attempts=10,
                            num_samples=100, seed=0, source="scalefit/examples/bon_synthetic_counts.csv")
    save_bon_curve(record, d / "bon.json")
    return {"dir": d, "fit": boot, "chinchilla": d / "chinchilla.json", "bad": d / "nonconverged.json",
            "bon": d / "bon.json", "record": record}


@pytest.fixture(scope="module")
def chinchilla_report(files):
    out = files["dir"] / "chinchilla.pdf"
    info = build_report(files["chinchilla"], out, targets=TARGET, budgets=[5.76e23, 1e24])
    return info, out


def test_chinchilla_report_has_the_expected_pages(chinchilla_report):
    info, out = chinchilla_report
    assert out.is_file()
    pages = pdf_pages(out.read_bytes())
    assert len(pages) == info.n_pages
    expected = ["Cover: summary, warnings and provenance", "Parameters, predictions and fit quality",
                "Extrapolation to the target", "Residuals", "Compute-optimal frontier", "Diagnostics"]
    titles = [t for t in info.page_titles if "(continued)" not in t]
    assert titles == expected
    for title, text in zip(info.page_titles, pages):
        heading = title.split(":")[0].replace(" (continued)", "")
        if not title.startswith(("Cover", "Parameters")):
            assert heading in text, (title, text[:200])
    assert all(f"page {i} of {len(pages)}" in p for i, p in enumerate(pages, 1))


def test_chinchilla_summary_states_prediction_and_interval(files, chinchilla_report):
    _, out = chinchilla_report
    cover = pdf_pages(out.read_bytes())[0]
    row = files["fit"].predict(TARGET).iloc[0]
    p, lo, hi = (fmt_num(row[c], 4) for c in ("prediction", "lower", "upper"))
    assert re.search(rf"predicts loss = {re.escape(p)}, with a 90% bootstrap percentile interval .*? of "
                     rf"{re.escape(lo)} to {re.escape(hi)}", cover), cover
    assert "N = 7.0e10 parameters, D = 1.4e12 tokens" in cover
    # provenance: data file and hash, command, versions, seed; no wall-clock date (reproducible files)
    md = files["fit"].metadata
    assert "created" not in md and "created" not in cover
    for needle in ("scalefit/examples/chinchilla_synthetic.csv", md["data_hash"], "scalefit fit test", "scalefit 0.1.0",
                   "seed 0"):
        assert needle in cover or needle.replace("seed ", "seed") in cover.replace("seed 0", "seed0"), needle
    # 7e10 parameters on 1.4e12 tokens is ~200x the compute N*D of the largest fitted run (the one
    # extrapolation factor of every fit path, docs/fitting.md#extrapolation): a warning, not "checks passed"
    ext = float(files["fit"].predict(TARGET)["extrapolation"].iloc[0])
    assert ext > 10 and f"Extrapolation {fmt_factor(ext)} beyond the fitted data" in cover
    assert "checks passed" not in cover


def test_chinchilla_tables_hold_the_key_numbers(files, chinchilla_report):
    _, out = chinchilla_report
    text = " ".join(pdf_pages(out.read_bytes())[1:3])
    fit = files["fit"]
    table = fit.bootstrap.table(fit.law, fit.params).set_index("parameter")
    for name in ("alpha", "beta"):
        r = table.loc[name]
        assert fmt_num(r["natural_estimate"], 5) in text
        assert f"[{fmt_num(r['natural_lower'], 4)}, {fmt_num(r['natural_upper'], 4)}]" in text
    opt = scalefit.compute_optimal(fit, 1e24).iloc[0]
    assert fmt_num(opt["N_opt"], 3) in text and fmt_num(opt["loss"], 4) in text


@pytest.fixture(scope="module")
def nonconverged_report(files):
    return build_report(files["bad"])  # no target requested: the default one is used


def test_report_is_deterministic_and_has_no_timestamp(files, nonconverged_report):
    again = build_report(files["bad"]).pdf
    assert again == nonconverged_report.pdf
    assert b"/CreationDate" not in again and b"/ModDate" not in again


def test_never_overwrites_without_force(files, chinchilla_report):
    _, out = chinchilla_report
    before = out.read_bytes()
    with pytest.raises(ArgumentError, match="already exists; refusing to overwrite"):
        build_report(files["bon"], out)
    assert out.read_bytes() == before
    info = build_report(files["bon"], files["dir"] / "bon_over.pdf")
    info2 = build_report(files["bon"], info.path, force=True)
    assert info2.path.read_bytes() == info.pdf == info2.pdf  # and deterministic
    with pytest.raises(ArgumentError, match="must end in .pdf"):
        build_report(files["bon"], files["dir"] / "x.png")


def test_nonconverged_fit_shows_the_warning_prominently(nonconverged_report):
    info = nonconverged_report
    pages = pdf_pages(info.pdf)
    assert any(w.startswith("NOT CONVERGED") for w in info.warnings)
    assert "warnings: read before using these numbers" in pages[0]
    assert "NOT CONVERGED: the best start reached the iteration limit" in pages[0]
    assert "WARNING: the optimiser did NOT converge" in pages[0]
    # the banner repeats on every page of the section
    for text in pages[1:]:
        assert "read this first" in text and "NOT CONVERGED" in text
    assert any("No uncertainty interval" in w for w in info.warnings)
    assert "No target was requested (use --at)" in pages[0]


def _section(path, **ctx):
    """Render one section without drawing the PDF (fast): warnings and summary only."""
    import json

    from scalefit.report import RenderContext, get_renderer

    record = json.loads(path.read_text())
    return get_renderer(record["format"])(record, RenderContext(source=str(path), **ctx))


def test_extrapolation_beyond_10x_is_a_warning(files):
    far = {"N": 1e12, "D": 2e13}
    f = fmt_factor(float(files["fit"].predict(far)["extrapolation"].iloc[0]))
    sec = _section(files["chinchilla"], targets=(far,))
    assert any(w.startswith(f"Extrapolation {f} beyond the fitted data") for w in sec.warnings), sec.warnings
    assert f"{f} beyond the fitted data" in sec.summary and "strong assumption" in sec.summary
    # inside the data: the largest fitted run itself
    fr, inp = files["fit"].frame, files["fit"].inputs
    i = int(np.argmax(fr[inp["N"]].to_numpy(float) * fr[inp["D"]].to_numpy(float)))
    inside = {"N": float(fr[inp["N"]].iloc[i]), "D": float(fr[inp["D"]].iloc[i])}
    sec = _section(files["chinchilla"], targets=(inside,))
    assert not sec.warnings and any("extrapolation at most" in c for c in sec.checks), sec.warnings


def test_boundary_estimate_is_a_warning(files):
    import json

    record = json.loads(files["chinchilla"].read_text())
    record["warnings"] = ["estimate on a bound for ['alpha']; the law may not describe the data there"]
    path = files["dir"] / "boundary.json"
    path.write_text(json.dumps(record))
    sec = _section(path, targets=({"N": 1e9, "D": 2e10},))  # inside the data: the bound is the only warning
    assert sec.warnings == ["Estimate on a bound for ['alpha']; the law may not describe the data there"]
    assert "1 warning above qualifies these numbers" in sec.summary


def test_best_of_n_report(files):
    info = build_report(files["bon"])
    pages = pdf_pages(info.pdf)
    rec = files["record"]
    t = rec["targets"][0]
    cover = pages[0]
    assert (f"it predicts ASR@1000 = {t['prediction']:.3f} for these problems, with a 90% interval of "
            f"{t['lower']:.3f} to {t['upper']:.3f}") in cover
    assert f"takes about N = {fmt_num(rec['budget']['N'], 3)} attempts" in cover
    assert "scalefit/examples/bon_synthetic_counts.csv" in cover and rec["metadata"]["data_hash"] in cover
    assert info.page_titles[1:] == ("Best-of-N: model, predictions and budget", "ASR@N curve and backtest")
    assert "Backtest" in pages[1] and "held-out empirical" in pages[1]
    # a target inside the saved curve can be requested; one outside it is refused
    info = build_report(files["bon"], targets={"N": 5000})
    assert "ASR@5000 =" in pdf_pages(info.pdf)[0]
    with pytest.raises(ArgumentError, match="outside the saved curve"):
        build_report(files["bon"], targets={"N": 1e9})


def test_bon_record_validates_and_is_json(files):
    rec = files["record"]
    assert rec["format"] == "scalefit.report.BestOfNCurve" and rec["version"] == 1
    assert all(r["lower"] <= r["predicted"] <= r["upper"] for r in rec["backtest"]["rows"])
    curve = rec["curve"]
    assert np.all(np.diff(curve["prediction"]) >= 0) and np.all(np.array(curve["lower"]) <= curve["prediction"])
    with pytest.raises(ArgumentError, match="`targets` must be >= the largest observed attempts 100"):
        make_bon_curve([100, 100, 100], [0, 3, 50], targets=[50])
    with pytest.raises(ArgumentError, match="lacks field"):
        build_report({"format": "scalefit.report.BestOfNCurve", "metric": "ASR"})


# ------------------------------------------------------------------------------ registry
def test_renderer_registry_hook():
    fmt = "test.Dummy"

    def render(record, ctx):
        flow = Flow(section="Dummy result")
        flow.new_page("Dummy page")
        flow.heading("Dummy page")
        flow.table(pd.DataFrame({"quantity": ["answer"], "value": [str(record["value"])]}))
        return Section(title="Dummy result", summary=f"The answer is {record['value']}.",
                       warnings=["R-hat 1.2 > 1.01 for alpha"], pages=flow.pages, page_titles=flow.page_titles)

    register_renderer(fmt, render)
    try:
        assert fmt in available_formats() and "scalefit.FitResult" in available_formats()
        with pytest.raises(ArgumentError, match="already registered"):
            register_renderer(fmt, lambda r, c: None)
        info = build_report({"format": fmt, "value": 42}, title="dummy")
        pages = pdf_pages(info.pdf)
        assert info.page_titles == ("Cover: summary, warnings and provenance", "Dummy page")
        assert "The answer is 42." in pages[0] and "R-hat 1.2 > 1.01 for alpha" in pages[0]
        assert "42" in pages[1]
    finally:
        unregister_renderer(fmt)
    with pytest.raises(ArgumentError, match="no report renderer for format `test.Dummy`; registered: "):
        build_report({"format": fmt, "value": 42})
    with pytest.raises(ArgumentError, match="has no `format` field"):
        build_report({"value": 1})


# ------------------------------------------------------------------------------ CLI
@pytest.fixture(scope="module")
def parser():
    p = OneLineParser(prog="scalefit")
    add_commands(p.add_subparsers(dest="command", parser_class=OneLineParser))
    return p


def test_cli_report(files, parser, capsys):
    out = files["dir"] / "cli.pdf"
    args = parser.parse_args(["report", str(files["bon"]), "-o", str(out), "--at", "N=5000", "--title", "CLI test"])
    assert args.func(args) == 0
    printed = capsys.readouterr().out
    assert f"wrote {out} (3 pages" in printed and "warning: Extrapolation 50×" in printed
    assert "CLI test" in pdf_pages(out.read_bytes())[0]
    with pytest.raises(ArgumentError, match="already exists"):
        args.func(args)
    args = parser.parse_args(["report", str(files["bon"]), "-o", str(out), "--force"])
    assert args.func(args) == 0


@pytest.mark.parametrize("argv, message", [
    (["report", "missing.json", "-o", "x.pdf"], "`FIT` = 'missing.json' does not exist"),
    (["report", "{bon}", "-o", "{dir}/y.pdf", "--at", "N"], "`--at` expects NAME=VALUE"),
    (["report", "{bon}", "-o", "{dir}/y.pdf", "--at", "N=abc"], "is not a number"),
    (["report", "{bon}", "-o", "{dir}/y.pdf", "--C", "lots"], "argument --C: got 'lots'"),  # while parsing
    (["report", "{bon}", "-o", "{dir}/nodir/y.pdf"], "does not exist"),
])
def test_cli_report_errors(files, parser, argv, message):
    argv = [a.format(bon=files["bon"], dir=files["dir"]) for a in argv]
    with pytest.raises((ScalefitError, UsageError), match=re.escape(message)):
        args = parser.parse_args(argv)
        args.func(args)


def test_invalid_inputs(files, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ArgumentError, match="is not valid JSON"):
        build_report(bad)
    with pytest.raises(ArgumentError, match="must be JSON file paths, dicts or results"):
        build_report([3.5])


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="pdftoppm (poppler-utils) not installed")
def test_pages_render_to_png(chinchilla_report, tmp_path):
    _, out = chinchilla_report
    subprocess.run(["pdftoppm", "-r", "40", "-png", "-f", "1", "-l", "3", str(out), str(tmp_path / "p")], check=True)
    pngs = sorted(tmp_path.glob("p-*.png"))
    assert len(pngs) == 3 and all(p.stat().st_size > 5000 for p in pngs)
