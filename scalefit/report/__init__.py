"""PDF reports built from saved results only (never refitting).

``build_report(inputs, output)`` renders each saved result (FitResult JSON, best-of-N curve
records, and any format with a registered renderer) into a section and assembles a
deterministic multi-page PDF: a cover page with each result's plain-language summary, its
warnings shown prominently and its provenance, then each section's tables, plots and
diagnostics.  The same inputs give a byte-identical PDF; an existing file is never overwritten
without ``force=True``.

Extending: a new result type registers ``renderer(record, context) -> Section`` under its JSON
``format`` with :func:`register_renderer` (see :mod:`scalefit.report._registry` for a worked
example) and builds its pages with :class:`Flow`.

Public API
----------
- :func:`build_report`, :class:`ReportInfo`, :func:`report_pages` (the pages as Figures)
- :func:`register_renderer`, :func:`unregister_renderer`, :func:`get_renderer`,
  :func:`available_formats`, :class:`Section`, :class:`RenderContext`, :class:`Flow`
- best-of-N records: :func:`make_bon_curve`, :func:`save_bon_curve`, :data:`BON_FORMAT`,
  :func:`saved_bon_record` (from a fit saved with its forecast), :func:`bon_record`,
  :func:`read_bon_record` (any readable record version in the current layout)
- pooled best-of-N comparisons (groups that share items): :func:`pooled_record` (from a
  :class:`~scalefit.sampling.pooled.GroupedBon`), :func:`save_pooled_record`,
  :func:`read_pooled_record`, :data:`POOLED_FORMAT`
- saved posteriors render by their format too: loss-law posteriors (``scalefit.PosteriorFit``)
  and pooled best-of-N posteriors (``scalefit.PooledPosterior``, :mod:`.pooled_posterior`)
- the demo: :func:`build_demo_report`

Example
-------
>>> # from scalefit.report import build_report
>>> # build_report(["fit.json"], "reports/fit.pdf", targets={"N": 7e10, "D": 1.4e12})
"""

from ._build import ReportInfo, build_report, render_pdf, report_pages
from ._layout import Flow
from ._registry import (
    RenderContext,
    Section,
    available_formats,
    get_renderer,
    register_renderer,
    unregister_renderer,
)
from .bestofn import FORMAT as BON_FORMAT
from .bestofn import bon_record, make_bon_curve, read_bon_record, save_bon_curve, saved_bon_record
from .pooled import FORMAT as POOLED_FORMAT
from .pooled import pooled_record, read_pooled_record, save_pooled_record
# the built-in renderers register themselves on import; importing any part of scalefit.report runs this
from . import chain as _chain, fitresult as _fitresult, posterior as _posterior  # noqa: F401,E402
from . import pooled_posterior as _pooled_posterior  # noqa: F401,E402

__all__ = [
    "build_report",
    "render_pdf",
    "report_pages",
    "ReportInfo",
    "register_renderer",
    "unregister_renderer",
    "get_renderer",
    "available_formats",
    "Section",
    "RenderContext",
    "Flow",
    "make_bon_curve",
    "bon_record",
    "saved_bon_record",
    "read_bon_record",
    "save_bon_curve",
    "BON_FORMAT",
    "pooled_record",
    "save_pooled_record",
    "read_pooled_record",
    "POOLED_FORMAT",
    "build_demo_report",
]


def __getattr__(name):  # the demo pulls in the fitting layer; load it on first use
    if name == "build_demo_report":
        from .demo import build_demo_report

        return build_demo_report
    raise AttributeError(name)
