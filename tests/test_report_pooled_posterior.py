"""PDF reports of saved pooled best-of-N posteriors (``scalefit.PooledPosterior``): the forecast
table prints the numbers of ``PooledPosterior.predict`` (credible and realised-rate intervals) at
the stated budgets, failed sampler diagnostics (METHODS.md §4.5) are a banner on every page of
the section, and ``scalefit report FILE`` renders the file.

The posterior is the small saved one of tests/corpus/make_results.py (2 groups x 30 items x 20
attempts, one chain of 40 draws: its R-hat and ESS fail), so no sampler runs here.
"""

from __future__ import annotations

import copy
import io
import json
import shutil
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

pypdf = pytest.importorskip("pypdf")

import scalefit  # noqa: E402
from scalefit.bayes import PooledPosterior, load_posterior  # noqa: E402
from scalefit.cli import main  # noqa: E402
from scalefit.plots._style import fmt_factor, fmt_num  # noqa: E402
from scalefit.report import RenderContext, available_formats, build_report, get_renderer  # noqa: E402

SAVED = Path(__file__).resolve().parent / "corpus" / "results" / "PooledPosterior.json"
LEVEL = 0.9  # the report's default credible level


def pdf_pages(data: bytes) -> list[str]:
    reader = pypdf.PdfReader(io.BytesIO(data))
    return [" ".join((p.extract_text() or "").split()) for p in reader.pages]


def table_cells(post: PooledPosterior, N) -> list[str]:
    """The forecast table's rows as they must print: group, N, mean, median, CrI, realised."""
    pred = post.predict(N, target="fresh", levels=(LEVEL,), seed=0)
    iv = lambda a, b: f"[{fmt_num(a, 4)}, {fmt_num(b, 4)}]"  # noqa: E731
    return [" ".join([str(r["group"]), fmt_num(r["N"], 5), fmt_num(r["mean"], 4), fmt_num(r["estimate"], 4),
                      iv(r["lower"], r["upper"]), iv(r["realised_lower"], r["realised_upper"])])
            for _, r in pred.iterrows()]


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    scalefit.enable_x64()
    d = tmp_path_factory.mktemp("pooled_posterior_report")
    path = d / "post.json"
    shutil.copyfile(SAVED, path)
    info = build_report([path], d / "post.pdf")
    return {"path": path, "info": info, "text": pdf_pages(info.pdf), "post": PooledPosterior.from_json(path)}


def test_renderer_is_registered_and_the_saved_file_is_a_pooled_posterior():
    assert "scalefit.PooledPosterior" in available_formats()
    assert isinstance(load_posterior(SAVED), PooledPosterior)


def test_report_pages_and_cover(report):
    info, text, post = report["info"], report["text"], report["post"]
    assert info.path.exists() and info.pdf.startswith(b"%PDF")
    assert info.sections == ("Pooled best-of-N posterior (post.json)",)
    for title in ("Pooled posterior: pass@N per group", "Pooled posterior: parameters and shared difficulty",
                  "Diagnostics"):
        assert title in info.page_titles
    cover = text[0]
    # the cover says, in words, what was sampled and how much
    assert f"{len(post.groups)} groups on {post.data.shape[1]} shared items" in cover
    for g, fam in zip(post.groups, post.families):
        assert f"{g}: {fam}" in cover
    assert f"{post.num_draws} NUTS draws" in cover
    body = " ".join(text[1:])
    for heading in ("Posterior of the group parameters", "Shared item difficulty", "Sampler checks",
                    "R-hat and ESS per quantity"):
        assert heading in body


def test_forecast_table_prints_predict_at_the_stated_default_budgets(report):
    post, text = report["post"], " ".join(report["text"])
    n_max = int(np.max((post.data.n + post.data.extra)[post.data.present]))
    # no budget requested: the most attempts per item, 10x and 100x it, said on the page
    assert f"N = {n_max} (the most attempts per item), 10× and 100× it" in text
    for row in table_cells(post, [n_max, 10 * n_max, 100 * n_max]):
        assert row in text, row
    # 100x the attempts is beyond the 10x limit: an extrapolation warning on the cover
    assert any(w.startswith(f"Extrapolation {fmt_factor(100.0)} beyond the observed {n_max} attempts")
               for w in report["info"].warnings)
    # the parameter and sharing tables print param_table / sharing (medians to 4 and 3 digits)
    tab = post.param_table(LEVEL)
    for _, r in tab.iterrows():
        assert f"{r['parameter']} {fmt_num(r['median'], 4)}" in text
    sh = post.sharing(LEVEL)
    for _, r in sh.iterrows():
        assert f"{r['group']} {r['family']} {fmt_num(r['median'], 3)} {fmt_num(r['mean'], 3)}" in text


def test_failed_diagnostics_are_a_banner_on_every_page(report):
    post, info, text = report["post"], report["info"], report["text"]
    # one chain of 40 draws: split R-hat needs two chains and the ESS is far below 400 (§4.5)
    assert not post.converged
    failed = [c[0] for c in post.diagnostics.checks if not c[1]]
    assert "R-hat" in failed and "ESS" in failed
    for page in text[1:]:
        assert "DIAGNOSTICS FAILED" in page
    assert "WARNING: the sampler's diagnostics FAILED" in text[0]
    assert any(w.startswith("DIAGNOSTICS FAILED (ESS)") for w in info.warnings)


def test_no_banner_when_the_diagnostics_passed(report):
    # the same draws with every check marked passed: the banner and the warnings must go (the
    # failing file's banner is checked above)
    record = json.loads(SAVED.read_text())
    ok = copy.deepcopy(record)
    ok["diagnostics"]["checks"] = [[c[0], True, c[2], c[3]] for c in record["diagnostics"]["checks"]]
    good = get_renderer("scalefit.PooledPosterior")(ok, RenderContext(source="ok.json"))
    assert good.banner is None
    assert not any("DIAGNOSTICS FAILED" in w for w in good.warnings)
    assert "diagnostics passed" in good.summary and "FAILED" not in good.summary


def test_cli_report_at_requested_budgets(report, tmp_path, capsys):
    out = tmp_path / "cli.pdf"
    assert main(["report", str(report["path"]), "-o", str(out), "--at", "N=50", "--at", "N=500"]) == 0
    assert "wrote" in capsys.readouterr().out
    text = " ".join(pdf_pages(out.read_bytes()))
    assert "shown at the requested budgets" in text
    for row in table_cells(report["post"], [50, 500]):
        assert row in text, row
    # --rate belongs to best-of-N fits: a one-line error, exit code 2
    assert main(["report", str(report["path"]), "-o", str(tmp_path / "x.pdf"), "--rate", "0.9"]) == 2
    assert "--rate" in capsys.readouterr().err
