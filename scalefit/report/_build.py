"""Assemble sections into one deterministic multi-page PDF."""

from __future__ import annotations

import hashlib
import io
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from .._files import atomic_write_bytes, check_output_path, read_json_file, require_object
from ..errors import ArgumentError
from ..plots._style import style
from ._layout import Flow, decorate, display_path
from ._registry import RenderContext, Section, get_renderer


@dataclass(frozen=True)
class ReportInfo:
    """What :func:`build_report` made: the PDF bytes, where it was written, its pages and the
    warnings of every section."""

    pdf: bytes = field(repr=False)
    path: Path | None
    page_titles: tuple[str, ...]
    sections: tuple[str, ...]
    warnings: tuple[str, ...]

    @property
    def n_pages(self) -> int:
        return len(self.page_titles)


def _version() -> str:
    try:
        from .. import __version__

        return str(__version__)
    except Exception:  # pragma: no cover
        return "unknown"


def _load_input(item) -> tuple[dict, str, str]:
    """-> (record, source label, sha256 of the file bytes)."""
    if isinstance(item, (str, Path)):
        record, data = read_json_file(item, what="report input")
        return require_object(record, f"report input '{item}'"), str(item), hashlib.sha256(data).hexdigest()
    if isinstance(item, Mapping):
        return dict(item), "<object>", ""
    if hasattr(item, "to_dict"):
        return dict(item.to_dict()), f"<{type(item).__name__}>", ""
    raise ArgumentError(
        f"report inputs must be JSON file paths, dicts or results with to_dict(); got {type(item).__name__}"
    )


def _check_targets(targets) -> tuple[dict[str, float], ...]:
    if targets is None:
        return ()
    if isinstance(targets, Mapping):
        targets = [targets]
    out = []
    for t in targets:
        if not isinstance(t, Mapping) or not t:
            raise ArgumentError(f"each target must be a non-empty mapping like {{'N': 7e10, 'D': 1.4e12}}; got {t!r}")
        row = {}
        for k, v in t.items():
            try:
                fv = float(v)
            except (TypeError, ValueError):
                raise ArgumentError(f"target `{k}` = {v!r} is not a number") from None
            if not math.isfinite(fv):
                raise ArgumentError(f"target `{k}` = {v!r} must be finite")
            row[str(k)] = fv
        out.append(row)
    return tuple(out)


def _cover(title: str, sections: Sequence[Section], inputs: Sequence[tuple[str, str]]) -> Flow:
    flow = Flow(section="")
    flow.new_page("Cover: summary, warnings and provenance")
    flow.heading(title, level=0, keep_with=0.3)
    flow.paragraph(
        f"Built by scalefit {_version()} from saved results only: nothing was refitted to make this report. "
        "Each part below gives a plain-language summary, the warnings a reader must weigh, and the provenance "
        "of the numbers; the pages that follow hold the tables, plots and diagnostics.",
        size=9, color="0.25",
    )
    rows = [(f"input {i + 1}" if len(inputs) > 1 else "input",
             display_path(src) + (f"  (SHA-256 {sha[:16]}…)" if sha else "")) for i, (src, sha) in enumerate(inputs)]
    flow.kv(rows)
    for sec in sections:
        flow.heading(sec.title, level=1, keep_with=1.6)
        flow.status_box(sec.warnings, sec.checks or ["No warnings."], warning_note=": read before using these numbers")
        flow.heading("Summary", level=2, keep_with=0.6)
        flow.paragraph(sec.summary)
        if sec.provenance:
            flow.heading("Provenance", level=2, keep_with=0.6)
            flow.kv(sec.provenance)
    flow.page_titles[:] = ["Cover: summary, warnings and provenance"] + ["Cover (continued)"] * (len(flow.pages) - 1)
    return flow


def render_pages(title: str, sections: Sequence[Section], inputs: Sequence[tuple[str, str]] = ()) -> list[tuple[Any, str]]:
    """Cover page + every section's pages, decorated (header, footer, page numbers): a list of
    (matplotlib Figure, page title) in report order."""
    with style():
        cover = _cover(title, sections, inputs)
        pages: list[tuple[Any, str, str]] = [(f, "", t) for f, t in zip(cover.pages, cover.page_titles)]
        for sec in sections:
            titles = list(sec.page_titles) + [""] * (len(sec.pages) - len(sec.page_titles))
            pages += [(f, sec.title, t or sec.title) for f, t in zip(sec.pages, titles)]
        total = len(pages)
        left = f"scalefit {_version()} report · {title}"
        for i, (fig, sec_title, _) in enumerate(pages, start=1):
            decorate(fig, page=i, total=total, left=left, section=sec_title)
    return [(fig, t) for fig, _, t in pages]


def render_pdf(title: str, sections: Sequence[Section], inputs: Sequence[tuple[str, str]] = ()) -> tuple[bytes, list[str]]:
    """Cover page + every section's pages -> PDF bytes (deterministic) and the page titles."""
    from matplotlib.backends.backend_pdf import PdfPages

    pages = render_pages(title, sections, inputs)
    with style():
        buf = io.BytesIO()
        meta = {
            "Title": title,
            "Creator": f"scalefit {_version()}",
            "Producer": f"scalefit {_version()} (matplotlib)",
            "CreationDate": None,
            "ModDate": None,
        }
        with PdfPages(buf, metadata=meta) as pdf:
            for fig, _ in pages:
                pdf.savefig(fig)
    return buf.getvalue(), [t for _, t in pages]


def build_report(inputs, output: str | Path | None = None, *, targets=None, budgets=None,
                 title: str | None = None, force: bool = False, options: Mapping[str, Any] | None = None) -> ReportInfo:
    """Build a PDF report from saved results (never refits).

    Parameters
    ----------
    inputs : path, dict or result, or a list of them
        Saved result JSON files (``scalefit fit -o``), parsed records, or result objects with
        ``to_dict()``.  Each record's ``format`` field selects its renderer
        (:func:`register_renderer`).
    output : path, optional
        PDF to write (atomically; never over an existing file unless ``force=True``).  Without
        it the PDF is only returned in :attr:`ReportInfo.pdf`.
    targets : mapping or list of mappings, optional
        Prediction targets, e.g. ``{"N": 7e10, "D": 1.4e12}`` (a best-of-N curve: ``{"N": 1e4}``).
    budgets : list of float, optional
        Compute budgets (FLOPs) for the compute-optimal section of Chinchilla-type fits.
    title : str, optional
    force : bool
        Allow overwriting ``output``.

    Returns
    -------
    ReportInfo

    Examples
    --------
    >>> # build_report("fit.json", "reports/fit.pdf", targets={"N": 7e10, "D": 1.4e12})
    """
    if isinstance(inputs, (str, Path, Mapping)) or hasattr(inputs, "to_dict"):
        inputs = [inputs]
    inputs = list(inputs)
    if not inputs:
        raise ArgumentError("`inputs` is empty: give at least one saved result")
    if output is not None:
        output = Path(output)
        if output.suffix.lower() != ".pdf":
            raise ArgumentError(f"`output` = '{output}' must end in .pdf")
        check_output_path(output, overwrite=force, argument="output")
    tgts = _check_targets(targets)
    try:
        buds = tuple(float(b) for b in (budgets or ()))
    except (TypeError, ValueError):
        raise ArgumentError(f"`budgets` = {budgets!r} must be numbers (FLOPs)") from None
    if any(not (math.isfinite(b) and b > 0) for b in buds):
        raise ArgumentError(f"`budgets` = {list(buds)} must be finite and > 0")

    title, sections, sources = _sections(inputs, tgts, buds, options, title)
    pdf, page_titles = render_pdf(title, sections, sources)
    if output is not None:
        atomic_write_bytes(output, pdf, overwrite=force, argument="output")
    warnings = tuple(w for s in sections for w in s.warnings)
    return ReportInfo(pdf=pdf, path=output, page_titles=tuple(page_titles),
                      sections=tuple(s.title for s in sections), warnings=warnings)


def report_pages(inputs, *, targets=None, budgets=None, title: str | None = None,
                 options: Mapping[str, Any] | None = None) -> list[tuple[Any, str]]:
    """The pages :func:`build_report` would write, as (matplotlib Figure, page title) pairs
    (e.g. to save them as PNG or to inspect their artists)."""
    if isinstance(inputs, (str, Path, Mapping)) or hasattr(inputs, "to_dict"):
        inputs = [inputs]
    title, sections, sources = _sections(list(inputs), _check_targets(targets),
                                         tuple(float(b) for b in (budgets or ())), options, title)
    return render_pages(title, sections, sources)


def _sections(inputs, tgts, buds, options, title):
    loaded = [_load_input(item) for item in inputs]
    sections: list[Section] = []
    with style():
        for record, source, sha in loaded:
            fmt = record.get("format") if isinstance(record, dict) else None
            if not fmt:
                raise ArgumentError(f"report input '{source}' has no `format` field; is it a scalefit result?")
            try:
                renderer = get_renderer(fmt)
            except ArgumentError as exc:
                raise ArgumentError(f"report input '{source}': {exc}") from None
            ctx = RenderContext(source=source, sha256=sha, targets=tgts, budgets=buds, options=dict(options or {}))
            out = renderer(record, ctx)
            sections += [out] if isinstance(out, Section) else list(out)
    if title is None:
        names = [Path(s).name if s and not s.startswith("<") else s for _, s, _ in loaded]
        title = "scalefit report: " + ", ".join(names)
    return title, sections, [(s, h) for _, s, h in loaded]
