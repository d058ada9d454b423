"""Page layout for PDF reports: a flowing A4 document built from matplotlib Figures.

:class:`Flow` places headings, wrapped paragraphs, key-value lists, booktabs tables, coloured
boxes and figure blocks top to bottom and starts a new page when one is full.  Text is measured
with the embedded font, so wrapping and pagination are exact and deterministic.  Renderers of
new result types use it to build their pages (see :mod:`scalefit.report`).
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.patches import Rectangle
from matplotlib.textpath import TextToPath

from ..plots._style import PALETTE

PAGE_W, PAGE_H = 8.27, 11.69           # A4 portrait, inches
MARGIN_L, MARGIN_R = 0.8, 0.8
MARGIN_T, MARGIN_B = 0.85, 0.8
TEXT_W = PAGE_W - MARGIN_L - MARGIN_R

BODY = 9.5
SMALL = 8.0
TABLE = 8.5
LINE = 1.38                           # line height as a multiple of the font size

BOX_STYLES = {
    "warning": {"face": "#FBE3D6", "edge": PALETTE["vermillion"], "title": "#8A2E00"},
    "ok": {"face": "#E0F2EC", "edge": PALETTE["green"], "title": "#00563F"},
    "note": {"face": "#EAF2FA", "edge": PALETTE["blue"], "title": "#003E66"},
}

_T2P = TextToPath()


def display_path(path) -> str:
    """A file path as a report shows it: relative to the working folder when it is an absolute
    path (``/home/me/run/data/x.csv`` -> ``data/x.csv``, or ``../other/x.csv``); anything else
    (a relative path, ``<object>``, a URL, None) unchanged."""
    import os

    text = "" if path is None else str(path)
    if not text or not os.path.isabs(text):
        return text
    try:
        return os.path.relpath(text)
    except ValueError:  # another drive (Windows)
        return text


def text_width(text: str, size: float, weight: str = "normal", style: str = "normal",
               family: str = "DejaVu Sans") -> float:
    """Width of ``text`` in points when set in the report font."""
    if not text:
        return 0.0
    prop = FontProperties(family=family, size=size, weight=weight, style=style)
    w, _, _ = _T2P.get_text_width_height_descent(text, prop, ismath=False)
    return float(w)


#: Raster renderers (Agg: PNG, screen) hint glyphs, which widens a line by up to ~4.3% at 70-150
#: dpi over the outline metrics that :func:`text_width` measures; lines are wrapped to leave that room.
HINTING_ROOM = 1.05


def wrap(text: str, width_pt: float, size: float, weight: str = "normal", style: str = "normal") -> list[str]:
    """Greedy word wrap by measured width (with :data:`HINTING_ROOM`); explicit newlines are kept."""
    width_pt = width_pt / HINTING_ROOM
    out: list[str] = []
    for para in str(text).split("\n"):
        words = para.split(" ")
        line = ""
        for w in words:
            trial = w if not line else f"{line} {w}"
            if text_width(trial, size, weight, style) <= width_pt or not line:
                line = trial
            else:
                out.append(line)
                line = w
        out.append(line)
    return out


class Flow:
    """A flowing document: call ``heading``/``paragraph``/``table``/... and read ``pages``.

    Parameters
    ----------
    section : str
        Section title shown in the header of every page of this flow.
    banner : str, optional
        A severe problem (e.g. "NOT CONVERGED: ...") shown in a red box on top of every page.

    Examples
    --------
    >>> flow = Flow("My result")
    >>> flow.heading("Overview")
    >>> flow.paragraph("One plain-language paragraph.")
    >>> flow.table(pd.DataFrame({"parameter": ["a"], "value": ["1.0"]}))
    >>> len(flow.pages)
    1
    """

    def __init__(self, section: str = "", banner: str | None = None):
        self.section = section
        self.banner = banner
        self.pages: list[Figure] = []
        self.page_titles: list[str] = []
        self._fig: Figure | None = None
        self._dirty = False
        self.y = MARGIN_T

    # ------------------------------------------------------------------ geometry
    @property
    def fig(self) -> Figure:
        if self._fig is None:
            self.new_page()
        return self._fig

    def _fx(self, x_in: float) -> float:
        return x_in / PAGE_W

    def _fy(self, y_in: float) -> float:
        return 1.0 - y_in / PAGE_H

    @property
    def remaining(self) -> float:
        """Inches left on the current page."""
        return PAGE_H - MARGIN_B - self.y if self._fig is not None else PAGE_H - MARGIN_B - MARGIN_T

    def new_page(self, title: str | None = None) -> Figure:
        """Start a page; without ``title`` an overflow page is titled after the previous one
        ("... (continued)")."""
        fig = Figure(figsize=(PAGE_W, PAGE_H))
        if title is None and self.page_titles and self.page_titles[-1]:
            title = self.page_titles[-1].replace(" (continued)", "") + " (continued)"
        self.pages.append(fig)
        self.page_titles.append(title or "")
        self._fig = fig
        self.y = MARGIN_T
        if self.banner:
            self._box([self.banner], "warning", title="⚠ read this first", size=BODY)
            self.y += 0.05
        self._dirty = False
        return fig

    def _need(self, h: float) -> None:
        if self._fig is None or self.y + h > PAGE_H - MARGIN_B + 1e-9:
            self.new_page()
        self._dirty = True

    def page_break(self, title: str | None = None) -> None:
        """Start a new page unless the current one is still empty."""
        if self._fig is None or self._dirty:
            self.new_page(title)
        elif title:
            self.page_titles[-1] = title

    def _title_page(self, text: str) -> None:
        if self.page_titles and not self.page_titles[-1]:
            self.page_titles[-1] = text

    # ------------------------------------------------------------------ text
    def space(self, h: float = 0.1) -> None:
        self.y += h

    def heading(self, text: str, level: int = 1, keep_with: float = 0.9) -> None:
        """Heading; ``level`` 0 (document title), 1 (section) or 2 (subsection).  It is moved to
        a new page when fewer than ``keep_with`` inches would follow it."""
        size = {0: 17.0, 1: 13.0, 2: 10.5}[level]
        lh = size * 1.45 / 72
        self._need(lh + keep_with)
        if self.y > MARGIN_T + 0.01:
            self.y += 0.08 if level else 0.0
        fig = self.fig
        for line in wrap(text, TEXT_W * 72, size, "bold"):
            fig.text(self._fx(MARGIN_L), self._fy(self.y), line, fontsize=size, fontweight="bold", va="top",
                     ha="left", color="black" if level < 2 else "0.15")
            self.y += lh
        if level <= 1:
            fig.add_artist(_hline(self, self.y - 0.04, 0.8 if level == 1 else 1.2))
            self.y += 0.04
        self._title_page(text)

    def paragraph(self, text: str, size: float = BODY, color: str = "black", style: str = "normal",
                  weight: str = "normal", indent: float = 0.0, after: float = 0.08) -> None:
        """Wrapped paragraph (explicit newlines kept)."""
        width = (TEXT_W - indent) * 72
        lh = size * LINE / 72
        for line in wrap(text, width, size, weight, style):
            self._need(lh)
            self.fig.text(self._fx(MARGIN_L + indent), self._fy(self.y), line, fontsize=size, color=color,
                          style=style, weight=weight, va="top", ha="left")
            self.y += lh
        self.y += after

    def caption(self, text: str) -> None:
        self.paragraph(text, size=SMALL, color="0.25", style="italic", after=0.12)

    def bullets(self, items: Sequence[str], size: float = BODY, color: str = "black") -> None:
        lh = size * LINE / 72
        for item in items:
            lines = wrap(item, (TEXT_W - 0.22) * 72, size)
            for j, line in enumerate(lines):
                self._need(lh)
                if j == 0:
                    self.fig.text(self._fx(MARGIN_L + 0.05), self._fy(self.y), "•", fontsize=size, va="top",
                                  color=color)
                self.fig.text(self._fx(MARGIN_L + 0.22), self._fy(self.y), line, fontsize=size, va="top",
                              color=color)
                self.y += lh
        self.y += 0.06

    def kv(self, rows: Sequence[tuple[str, str]], key_width: float = 1.55, size: float = TABLE) -> None:
        """Key-value list (provenance, settings); long values wrap under themselves."""
        lh = size * LINE / 72
        for key, value in rows:
            lines = wrap(str(value), (TEXT_W - key_width) * 72, size)
            for j, line in enumerate(lines):
                self._need(lh)
                if j == 0:
                    self.fig.text(self._fx(MARGIN_L), self._fy(self.y), str(key), fontsize=size, va="top",
                                  color="0.3", weight="bold")
                self.fig.text(self._fx(MARGIN_L + key_width), self._fy(self.y), line, fontsize=size, va="top")
                self.y += lh
        self.y += 0.08

    def _box(self, lines: Sequence[str], kind: str, title: str | None, size: float) -> None:
        st = BOX_STYLES[kind]
        pad = 0.1
        lh = size * LINE / 72
        wrapped: list[tuple[str, bool]] = []
        if title:
            wrapped += [(t, True) for t in wrap(title, (TEXT_W - 2 * pad) * 72, size + 0.5, "bold")]
        for line in lines:
            wrapped += [(t, False) for t in wrap(line, (TEXT_W - 2 * pad - 0.1) * 72, size)]
        # split across pages when taller than what is left
        while wrapped:
            if self._fig is None:
                self.new_page()
            room = int((PAGE_H - MARGIN_B - self.y - 2 * pad) / lh)
            if room < min(3, len(wrapped)):  # too little room left: continue on a fresh page
                self.new_page()
                room = max(int((PAGE_H - MARGIN_B - self.y - 2 * pad) / lh), 1)
            chunk, wrapped = wrapped[:room], wrapped[room:]
            h = len(chunk) * lh + 2 * pad
            fig = self.fig
            fig.add_artist(Rectangle((self._fx(MARGIN_L), self._fy(self.y + h)), TEXT_W / PAGE_W, h / PAGE_H,
                                     transform=fig.transFigure, facecolor=st["face"], edgecolor=st["edge"],
                                     linewidth=1.4, zorder=0))
            fig.add_artist(Rectangle((self._fx(MARGIN_L), self._fy(self.y + h)), 0.06 / PAGE_W, h / PAGE_H,
                                     transform=fig.transFigure, facecolor=st["edge"], edgecolor="none", zorder=1))
            yy = self.y + pad
            for text, is_title in chunk:
                fig.text(self._fx(MARGIN_L + pad + (0 if is_title else 0.1)), self._fy(yy), text,
                         fontsize=size + (0.5 if is_title else 0), weight="bold" if is_title else "normal",
                         color=st["title"] if is_title else "black", va="top", zorder=2)
                yy += lh
            self.y += h + 0.1
            if wrapped:
                self.new_page()

    def box(self, lines: Sequence[str], kind: str = "note", title: str | None = None, size: float = BODY) -> None:
        """Coloured box: ``kind`` "warning" (vermillion), "ok" (green) or "note" (blue)."""
        if kind not in BOX_STYLES:
            raise ValueError(f"`kind` = {kind!r} must be one of {sorted(BOX_STYLES)}")
        self._box(list(lines), kind, title, size)
        self._dirty = True

    def status_box(self, warnings: Sequence[str], checks: Sequence[str], *, warning_note: str = "") -> None:
        """The verdict box of a section: its warnings (vermillion, counted in the title, followed by
        ``warning_note``) or, when there are none, the checks that passed (green)."""
        if warnings:
            n = len(warnings)
            self.box(warnings, kind="warning", title=f"⚠ {n} warning{'s' if n != 1 else ''}{warning_note}")
        else:
            self.box(checks, kind="ok", title="✓ checks passed")

    # ------------------------------------------------------------------ tables
    def table(self, df: pd.DataFrame, *, align: Sequence[str] | None = None, size: float = TABLE,
              note: str | None = None, min_size: float = 6.5) -> None:
        """Booktabs-style table of the frame's values as strings.

        Numeric-looking columns are right-aligned unless ``align`` ("l"/"r"/"c" per column)
        says otherwise; the font shrinks (down to ``min_size``) to fit the text width, and long
        tables continue on the next page under a repeated header.
        """
        cols = [str(c) for c in df.columns]
        cells = [[("" if v is None else str(v)) for v in row] for row in df.itertuples(index=False)]
        if align is None:
            align = ["l"] + ["r"] * (len(cols) - 1)
        pad = 0.14 * 72
        while True:
            widths = [max([text_width(c, size, "bold")] + [text_width(r[j], size) for r in cells]) + pad
                      for j, c in enumerate(cols)]
            if sum(widths) <= TEXT_W * 72 or size <= min_size:
                break
            size = max(min_size, size - 0.5)
        lh = size * 1.5 / 72
        x0 = MARGIN_L
        xs = np.concatenate([[0.0], np.cumsum(widths)]) / 72 + x0
        total_w = min(sum(widths) / 72, TEXT_W)

        def rule(y, lw):
            self.fig.add_artist(_hline(self, y, lw, x0, x0 + total_w))

        def header():
            rule(self.y, 1.0)
            self.y += 0.05
            for j, c in enumerate(cols):
                self._cell(c, xs[j], xs[j + 1], align[j], size, bold=True)
            self.y += lh
            rule(self.y - 0.02, 0.6)
            self.y += 0.03

        self._need(2 * lh + 0.2)
        header()
        for r in cells:
            if self.y + lh > PAGE_H - MARGIN_B:
                rule(self.y, 1.0)
                self.new_page()
                header()
            for j, v in enumerate(r):
                self._cell(v, xs[j], xs[j + 1], align[j], size)
            self.y += lh
        rule(self.y, 1.0)
        self.y += 0.08
        if note:
            self.paragraph(note, size=SMALL - 0.5, color="0.3", after=0.1)
        else:
            self.y += 0.06

    def _cell(self, text, x_left, x_right, al, size, bold=False):
        pad = 0.07
        if al == "r":
            x, ha = x_right - pad, "right"
        elif al == "c":
            x, ha = (x_left + x_right) / 2, "center"
        else:
            x, ha = x_left + pad, "left"
        self.fig.text(self._fx(x), self._fy(self.y), text, fontsize=size, va="top", ha=ha,
                      weight="bold" if bold else "normal")

    # ------------------------------------------------------------------ figures
    def block(self, height: float, draw: Callable[[Figure, tuple[float, float, float, float]], None]) -> None:
        """Reserve ``height`` inches and call ``draw(fig, rect)`` with the block's rectangle
        ``(left, bottom, width, height)`` in figure fractions."""
        self._need(height)
        rect = (self._fx(MARGIN_L), self._fy(self.y + height), TEXT_W / PAGE_W, height / PAGE_H)
        draw(self.fig, rect)
        self.y += height + 0.05

    def axes_grid(self, height: float, nrows: int = 1, ncols: int = 1, *, left: float = 0.65, right: float = 0.1,
                  bottom: float = 0.5, top: float = 0.25, wspace: float = 0.45, hspace: float = 0.6,
                  width_ratios=None) -> np.ndarray:
        """Reserve ``height`` inches and return an ``(nrows, ncols)`` array of Axes laid out in it,
        leaving ``left``/``right``/``bottom``/``top`` inches for tick and axis labels."""
        self._need(height)
        fig = self.fig
        gs = fig.add_gridspec(
            nrows, ncols,
            left=self._fx(MARGIN_L + left), right=self._fx(PAGE_W - MARGIN_R - right),
            top=self._fy(self.y + top), bottom=self._fy(self.y + height - bottom),
            wspace=wspace, hspace=hspace, width_ratios=width_ratios,
        )
        axes = np.empty((nrows, ncols), dtype=object)
        for i in range(nrows):
            for j in range(ncols):
                axes[i, j] = fig.add_subplot(gs[i, j])
        self.y += height + 0.05
        return axes


def _hline(flow: Flow, y_in: float, lw: float, x0: float | None = None, x1: float | None = None):
    from matplotlib.lines import Line2D

    x0 = MARGIN_L if x0 is None else x0
    x1 = PAGE_W - MARGIN_R if x1 is None else x1
    return Line2D([x0 / PAGE_W, x1 / PAGE_W], [flow._fy(y_in)] * 2, transform=flow.fig.transFigure,
                  color="black", linewidth=lw)


def decorate(fig: Figure, *, page: int, total: int, left: str, section: str) -> None:
    """Header (section) and footer (report, page i of n) on one page."""
    y_head = 1.0 - 0.45 / PAGE_H
    y_foot = 0.42 / PAGE_H
    if section:
        fig.text(MARGIN_L / PAGE_W, y_head, section, fontsize=7.5, color="0.4", va="bottom", ha="left")
    fig.text(MARGIN_L / PAGE_W, y_foot, left, fontsize=7.5, color="0.4", va="top", ha="left")
    fig.text(1.0 - MARGIN_R / PAGE_W, y_foot, f"page {page} of {total}", fontsize=7.5, color="0.4", va="top",
             ha="right")
