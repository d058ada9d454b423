"""Registry of report renderers, keyed by the ``format`` field of a saved result's JSON.

A renderer turns one saved result (the parsed JSON dict) into a :class:`Section`: a title, a
plain-language summary for the cover page, warnings, provenance, and its pages.  The report
builder looks the renderer up by the record's ``format`` (``"scalefit.FitResult"`` for point
fits), so new result types (Bayesian posterior fits, best-of-N model fits, backtests) plug in
without touching the builder::

    from scalefit.report import Flow, Section, register_renderer

    def render_posterior(record, context):
        fit = PosteriorFit.from_dict(record)            # rebuild the result; never refit
        flow = Flow(section=f"Posterior fit: {context.source}",
                    banner=None if fit.converged else "R-hat > 1.01: chains disagree")
        flow.heading("Posterior fit")
        flow.table(fit.summary_table())                 # any DataFrame of strings/numbers
        axes = flow.axes_grid(3.5, 1, 2)                # Axes laid out on the page
        scalefit.plots.plot_posterior_marginals(fit.idata, axes=axes.ravel())
        return Section(title="Posterior fit", summary="...", warnings=[...],
                       provenance=[("data", "...")], pages=flow.pages,
                       page_titles=flow.page_titles, banner=flow.banner)

    register_renderer("scalefit.PosteriorFit", render_posterior)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

from ..errors import ArgumentError


@dataclass
class RenderContext:
    """What a renderer gets besides the record.

    Attributes
    ----------
    source : str
        Where the record came from (file path as given, or ``"<object>"``).
    sha256 : str
        SHA-256 of the file's bytes ("" for in-memory records).
    targets : tuple of dict
        Requested prediction targets (``--at``), e.g. ``({"N": 7e10, "D": 1.4e12},)``; each
        renderer uses those that name its inputs.
    budgets : tuple of float
        Requested compute budgets in FLOPs (``--C``) for compute-optimal sections.
    options : dict
        Free-form renderer options.
    """

    source: str = "<object>"
    sha256: str = ""
    targets: tuple[dict[str, float], ...] = ()
    budgets: tuple[float, ...] = ()
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class Section:
    """One result's part of a report (what a renderer returns).

    Attributes
    ----------
    title : str
        Heading on the cover page (e.g. ``"Chinchilla fit (fit.json)"``).
    summary : str
        One plain-language paragraph: what was fitted, the prediction at the target with its
        interval, and whether to trust it.
    pages : list of matplotlib Figure
        The section's pages (A4, usually built with :class:`~scalefit.report.Flow`).
    warnings : list of str
        Problems a reader must see (non-convergence, failed R-hat, extrapolation > 10x,
        boundary estimates); shown prominently on the cover page.
    checks : list of str
        Checks that passed, shown on the cover when there is no warning.
    provenance : list of (str, str)
        Data file and hash, command, versions, seed, date ... (cover page).
    banner : str, optional
        A severe problem repeated on top of each of the section's pages.
    page_titles : list of str
        One title per page (for the report's page list).
    """

    title: str
    summary: str
    pages: list = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)
    provenance: list[tuple[str, str]] = field(default_factory=list)
    banner: str | None = None
    page_titles: list[str] = field(default_factory=list)


Renderer = Callable[[Mapping[str, Any], RenderContext], "Section | Sequence[Section]"]

_RENDERERS: dict[str, Renderer] = {}


def register_renderer(format_name: str, renderer: Renderer | None = None, *, replace: bool = False):
    """Register ``renderer(record, context) -> Section | list[Section]`` for records whose
    ``format`` field is ``format_name``.  Usable as a decorator::

        @register_renderer("scalefit.PosteriorFit")
        def render(record, context): ...

    Registering a format twice raises unless ``replace=True``.
    """
    if not isinstance(format_name, str) or not format_name:
        raise ArgumentError(f"`format_name` must be a non-empty string, got {format_name!r}")

    def deco(fn: Renderer) -> Renderer:
        if not callable(fn):
            raise ArgumentError(f"`renderer` for `{format_name}` must be callable")
        if format_name in _RENDERERS and not replace and _RENDERERS[format_name] is not fn:
            raise ArgumentError(f"a renderer for `{format_name}` is already registered (pass replace=True)")
        _RENDERERS[format_name] = fn
        return fn

    return deco if renderer is None else deco(renderer)


def unregister_renderer(format_name: str) -> None:
    _RENDERERS.pop(format_name, None)


def get_renderer(format_name: str) -> Renderer:
    if format_name not in _RENDERERS:
        raise ArgumentError(
            f"no report renderer for format `{format_name}`; registered: {', '.join(available_formats())}"
        )
    return _RENDERERS[format_name]


def available_formats() -> list[str]:
    return sorted(_RENDERERS)
