"""The demo report (`make demo`): fits the bundled data, saves the fits and writes demo.pdf."""

from __future__ import annotations

import io
import json

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402

pypdf = pytest.importorskip("pypdf")

from scalefit.errors import ArgumentError  # noqa: E402
from scalefit.report import build_demo_report  # noqa: E402


@pytest.mark.slow
def test_demo_report(tmp_path):
    out = build_demo_report(tmp_path, num_bootstrap=20, num_bon_bootstrap=100, verbose=False)
    pdf = out["pdf"]
    assert pdf == tmp_path / "demo.pdf" and pdf.is_file()
    assert out["fit"].is_file() and out["bon"].is_file()
    assert json.loads(out["fit"].read_text())["format"] == "scalefit.FitResult"
    assert json.loads(out["bon"].read_text())["format"] == "scalefit.report.BestOfNCurve"
    titles = [t for t in out["page_titles"] if "(continued)" not in t]
    assert titles == ["Cover: summary, warnings and provenance", "Parameters, predictions and fit quality",
                      "Extrapolation to the target", "Residuals", "Compute-optimal frontier", "Diagnostics",
                      "Best-of-N: model, predictions and budget", "ASR@N curve and backtest"]
    reader = pypdf.PdfReader(io.BytesIO(pdf.read_bytes()))
    assert len(reader.pages) == out["pages"]
    text = " ".join(" ".join((p.extract_text() or "").split()) for p in reader.pages[:2])
    p = out["chinchilla_prediction"]
    assert f"predicts loss = {p['prediction']:.4g}" in text
    assert f"of {p['lower']:.4g} to {p['upper']:.4g}" in text
    t = out["bon_target"]
    assert f"ASR@1000 = {t['prediction']:.3f}" in text
    # the demo's fit is the real thing: close to the generating parameters
    assert 1.9 < p["prediction"] < 2.05 and p["lower"] < p["prediction"] < p["upper"]
    with pytest.raises(ArgumentError, match="demo outputs already exist"):
        build_demo_report(tmp_path, verbose=False)
