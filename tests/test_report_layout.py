"""Rendered report pages a reviewer can read, and reports that only read saved results.

1. Every page of the demo report (a Chinchilla fit with its bootstrap, the best-of-N record of
   the demo), of a posterior report and of a saved best-of-N fit (``scalefit bon fit -o``) is
   drawn with matplotlib's Agg renderer; every text artist that is actually drawn gives its
   window extent, and no two boxes may overlap, no box may leave the page, and no box inside a
   plot area may sit on a data line or marker of its own axes (line paths and marker centres
   transformed to display coordinates; legend entries, on their own frame, are exempt).
2. Rendering calls no fitting function: every fitting and bootstrap entry point is replaced by
   one that raises, and the three reports still render, with the cover's claim that nothing was
   refitted.

The fits are small (few starts and replicates): the layout does not depend on how many
replicates stand behind an interval.
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.collections import LineCollection, PathCollection  # noqa: E402
from matplotlib.text import Text  # noqa: E402
from matplotlib.transforms import Bbox  # noqa: E402

import scalefit  # noqa: E402
import scalefit.bayes  # noqa: E402
from scalefit.report import build_report  # noqa: E402
from scalefit.report import demo as demo_mod  # noqa: E402
from scalefit.report._build import report_pages  # noqa: E402
from scalefit.report._layout import MARGIN_L, MARGIN_R  # noqa: E402
from scalefit.report.bestofn import saved_bon_record, save_bon_curve, with_plan  # noqa: E402
from scalefit.sampling import BonFit, fit_bon  # noqa: E402
from scalefit.sampling.bonfit import BON_FILE_FORMAT  # noqa: E402

from conftest import REPO  # noqa: E402

EX = REPO / "scalefit" / "examples"
SMALL_GRID = {"a": [3.0, 6.0], "b": [5.0, 8.0], "e": [0.0, 0.5], "alpha": [0.2, 0.5], "beta": [0.2, 0.5]}
# Overlap allowance in pixels at 100 dpi: glyph boxes are computed from font metrics and rounded
# to whole pixels by the renderer, so two boxes that merely touch may share up to one pixel.
TOUCH_PX = 1.0


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    d = tmp_path_factory.mktemp("layout")
    frame = scalefit.load_curves(EX / "chinchilla_synthetic.csv")
    fit = scalefit.fit_law(frame, "chinchilla", starts=SMALL_GRID, source="scalefit/examples/chinchilla_synthetic.csv")
    fit = scalefit.bootstrap(fit, 20, seed=0, progress=False).with_metadata(command="scalefit demo")
    fit.to_json(d / "demo_chinchilla_fit.json")

    counts = pd.read_csv(EX / "bon_synthetic_counts.csv")
    bon = fit_bon(counts["n"].to_numpy(), counts["k"].to_numpy(), seed=0, select_bootstrap=0)
    # the sampling plan travels with the forecast, as `scalefit bon fit -o` saves it
    bon = with_plan(bon.with_forecast(num_bootstrap=20, backtest=10, select_bootstrap=0), 600)
    # the demo's best-of-N record, read from the saved forecast (as bon_record does)
    rec = saved_bon_record(bon, targets=demo_mod.BON_TARGETS, budget_target=demo_mod.BON_BUDGET_TARGET, level=0.9,
                           metric="ASR", title="Best-of-N: ASR@N from 100 attempts per problem",
                           source="scalefit/examples/bon_synthetic_counts.csv", command="scalefit demo")
    save_bon_curve(rec, d / "demo_bon_curve.json")
    # a `scalefit bon fit -o` file
    doc = {"format": BON_FILE_FORMAT, "source": "scalefit/examples/bon_synthetic_counts.csv",
           "groups": [{"group": {}, "fit": bon.to_dict()}]}
    import json

    (d / "bon.json").write_text(json.dumps(doc))

    post = scalefit.bayes.fit_bayes(frame := scalefit.load_curves(EX / "power_law_synthetic.csv"), "power_law",
                                    inputs={"x": "N"}, num_warmup=150, num_samples=150, num_chains=2, seed=0,
                                    progress=False, source="scalefit/examples/power_law_synthetic.csv")
    post.to_json(d / "posterior.json")
    del frame
    return d


REPORTS = {
    "demo": lambda d: dict(inputs=[d / "demo_chinchilla_fit.json", d / "demo_bon_curve.json"],
                           targets=[demo_mod.CHINCHILLA_TARGET], budgets=demo_mod.BUDGETS, title=demo_mod.TITLE),
    "posterior": lambda d: dict(inputs=[d / "posterior.json"], targets=[{"N": 1e11}]),
    "bestofn": lambda d: dict(inputs=[d / "bon.json"], options={"rate": 0.9, "metric": "ASR"}),
    # a saved pooled best-of-N posterior (tests/corpus/make_results.py; its diagnostics fail, so
    # every page also carries the banner)
    "pooled_posterior": lambda d: dict(inputs=[Path(__file__).resolve().parent / "corpus" / "results"
                                               / "PooledPosterior.json"]),
}


def drawn_text_boxes(fig, dpi: float = 100.0):
    """(text, bbox) of every text artist the Agg renderer actually draws on ``fig``."""
    drawn = []
    orig = Text.draw

    def draw(self, renderer):
        orig(self, renderer)
        if self.get_visible() and self.get_text().strip():
            drawn.append((self, self.get_window_extent(renderer)))

    fig.set_dpi(dpi)
    canvas = FigureCanvasAgg(fig)
    Text.draw = draw
    try:
        canvas.draw()
    finally:
        Text.draw = orig
    return drawn


def layout_problems(fig, margins: tuple[float, float] | None = None) -> list[str]:
    """Overlapping text boxes, and boxes leaving the page or (``margins``: left and right, in
    inches) the text column between the side margins."""
    boxes = drawn_text_boxes(fig)
    W, H = fig.bbox.width, fig.bbox.height
    lo, hi = (0.0, W) if margins is None else (margins[0] * fig.dpi, W - margins[1] * fig.dpi)
    out = []
    for t, bb in boxes:
        if bb.x0 < lo - TOUCH_PX or bb.y0 < -TOUCH_PX or bb.x1 > hi + TOUCH_PX or bb.y1 > H + TOUCH_PX:
            out.append(f"leaves the {'page' if margins is None else 'text column'}: {t.get_text()!r} at "
                       f"x {bb.x0:.0f}..{bb.x1:.0f} of {lo:.0f}..{hi:.0f} px")
    for (t1, b1), (t2, b2) in itertools.combinations(boxes, 2):
        w = min(b1.x1, b2.x1) - max(b1.x0, b2.x0)
        h = min(b1.y1, b2.y1) - max(b1.y0, b2.y0)
        if w > TOUCH_PX and h > TOUCH_PX:
            out.append(f"overlap {w:.0f}x{h:.0f} px: {t1.get_text()!r} and {t2.get_text()!r}")
    return out + data_problems(fig, boxes)


def _no_style(value) -> bool:
    return value is None or str(value) in ("None", "none", "", " ")


def data_problems(fig, boxes) -> list[str]:
    """Text boxes (the part inside their axes' plot area) that a data line crosses or a marker
    touches.  Lines are the axes' Line2D paths and line collections (error bars) in display
    coordinates; markers are the line vertices and scatter offsets, grown by half the marker size."""
    out = []
    px_per_pt = fig.dpi / 72.0
    for t, bb in boxes:
        ax = t.axes
        if ax is None:
            continue
        legend = ax.get_legend()
        if legend is not None and any(t is x for x in legend.get_texts()):
            continue
        inner = Bbox.intersection(bb, ax.bbox)
        if inner is None or inner.width <= 2 * TOUCH_PX or inner.height <= 2 * TOUCH_PX:
            continue  # tick labels, axis labels and titles lie outside the plot area
        box = Bbox.from_extents(inner.x0 + TOUCH_PX, inner.y0 + TOUCH_PX, inner.x1 - TOUCH_PX, inner.y1 - TOUCH_PX)
        hits = []
        for line in ax.get_lines():
            if not line.get_visible() or len(line.get_xydata()) == 0:
                continue
            path = line.get_transform().transform_path(line.get_path())
            if not _no_style(line.get_linestyle()) and path.intersects_bbox(box, filled=False):
                hits.append(f"line {line.get_label()!r}")
            elif not _no_style(line.get_marker()):
                r = line.get_markersize() * px_per_pt / 2
                if _points_in(path.vertices, box, r):
                    hits.append(f"markers of {line.get_label()!r}")
        for coll in ax.collections:
            if isinstance(coll, LineCollection) and coll.get_visible():  # error bars
                tr = coll.get_transform()
                if any(tr.transform_path(path).intersects_bbox(box, filled=False) for path in coll.get_paths()):
                    hits.append(f"segments of {coll.get_label()!r}")
            if isinstance(coll, PathCollection) and coll.get_visible() and len(coll.get_offsets()):
                pts = coll.get_offset_transform().transform(coll.get_offsets())
                sizes = coll.get_sizes()
                r = np.sqrt(sizes.max() if len(sizes) else 36.0) * px_per_pt / 2
                if _points_in(pts, box, r):
                    hits.append(f"markers of {coll.get_label()!r}")
        if hits:
            out.append(f"text on data: {t.get_text()!r} on {', '.join(hits)}")
    return out


def _points_in(points: np.ndarray, box, r: float) -> bool:
    p = np.asarray(points, float)
    p = p[np.all(np.isfinite(p), axis=1)]
    return bool(np.any((p[:, 0] > box.x0 - r) & (p[:, 0] < box.x1 + r) & (p[:, 1] > box.y0 - r) & (p[:, 1] < box.y1 + r)))


@pytest.mark.parametrize("name", list(REPORTS))
def test_no_text_overlaps_or_leaves_the_page(inputs, name, request):
    pages = report_pages(**REPORTS[name](inputs))
    assert len(pages) >= 3
    problems = []
    for i, (fig, title) in enumerate(pages, start=1):
        problems += [f"{name} page {i} ({title}): {p}" for p in layout_problems(fig, (MARGIN_L, MARGIN_R))]
        if request.config.getoption("verbose") > 1:  # pytest -vv: keep the pages to look at
            fig.savefig(f"/tmp/layout-{name}-{i}.png", dpi=70)
    assert not problems, "\n".join(problems[:40])


def test_overlap_check_finds_an_overlap():
    """The check itself can fail: two texts drawn on top of each other, one off the page."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4, 3))
    fig.text(0.1, 0.5, "first label")
    fig.text(0.12, 0.5, "second label")
    fig.text(0.95, 0.5, "off the page edge")
    probs = layout_problems(fig)
    assert any("overlap" in p for p in probs) and any("leaves the page" in p for p in probs)


def test_text_on_data_check_finds_a_line_and_a_marker():
    """The data check can fail: a label drawn across a plotted line, one on a scatter marker, and
    one in an empty corner (not reported)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(4, 3))
    ax = fig.add_axes((0.15, 0.15, 0.8, 0.8))
    ax.plot([0, 1], [0, 1], label="diagonal")
    ax.errorbar([0.2], [0.8], yerr=[0.1], fmt="none", label="bar")
    ax.scatter([0.8], [0.2], s=40, label="point")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.text(0.5, 0.5, "on the line", ha="center", va="center")
    ax.text(0.8, 0.2, "on the marker", ha="center", va="center")
    ax.text(0.2, 0.8, "on the bar", ha="center", va="center")
    ax.text(0.45, 0.03, "corner")
    probs = data_problems(fig, drawn_text_boxes(fig))
    assert any("'on the line'" in p and "diagonal" in p for p in probs)
    assert any("'on the marker'" in p and "point" in p for p in probs)
    assert any("'on the bar'" in p for p in probs)
    assert not any("corner" in p for p in probs)


# ---------------------------------------------------------------------------------------------
# reports read results; they never fit

FITTING = ("fit_bon", "forecast", "bootstrap", "fit_law", "fit_batch", "fit_rows", "fit_bayes", "run_nuts",
           "fit_beta_binomial", "fit_beta_binomial_bayes", "fit_passuntil_bayes", "fit_chain", "damped_newton",
           "_solve_prob", "_solve_budget", "plan", "plan_record", "with_plan", "sample_in_rounds")
BONFIT_METHODS = ("predict", "budget", "with_forecast", "_bootstrap_fits", "_bootstrap_draws")


def _refuse(name):
    def fail(*args, **kwargs):
        raise AssertionError(f"the report called {name}")

    return fail


def test_rendering_fits_nothing(inputs, monkeypatch):
    import types

    import scalefit.sampling.pooled as pooled_mod

    solve_prob = pooled_mod._solve_prob  # before it is refused below

    for mod in [m for k, m in list(sys.modules.items()) if k.startswith("scalefit") and m is not None]:
        for name in FITTING:
            if isinstance(getattr(mod, name, None), types.FunctionType):
                monkeypatch.setattr(mod, name, _refuse(f"{mod.__name__}.{name}"))
    for name in BONFIT_METHODS:
        monkeypatch.setattr(BonFit, name, _refuse(f"BonFit.{name}"))
    from scalefit.sampling.models import MixingFit

    for name in ("solve_probabilities", "population", "predict", "predict_values", "item_posterior"):
        monkeypatch.setattr(MixingFit, name, _refuse(f"MixingFit.{name}"))
    for name, spec in REPORTS.items():  # every page built (the PDF writer only serialises them)
        if name == "pooled_posterior":
            # a saved posterior holds parameter draws, not forecasts: pass@N is computed from the
            # draws (the per-item chances of each draw, _solve_prob), as a loss-law posterior's
            # report evaluates the law at its draws; fitting and sampling stay refused
            monkeypatch.setattr(pooled_mod, "_solve_prob", solve_prob)
        pages = report_pages(**spec(inputs))
        cover = " ".join(t.get_text() for t in pages[0][0].texts)
        assert "nothing was refitted" in cover, name
        if name == "bestofn":  # the plan page is drawn from the plan saved with the fit
            text = " ".join(t.get_text() for fig, _ in pages for t in fig.texts)
            assert "Sampling plan for a further 600 attempts" in text


def test_an_old_bon_fit_without_forecast_is_refused_with_the_fix(inputs, tmp_path):
    import json

    from scalefit.errors import ArgumentError

    doc = json.loads((inputs / "bon.json").read_text())
    del doc["groups"][0]["fit"]["forecast"]
    old = tmp_path / "old.json"
    old.write_text(json.dumps(doc))
    with pytest.raises(ArgumentError, match=r"saved without its forecast.*re-save it with `scalefit bon fit"):
        build_report(old)
