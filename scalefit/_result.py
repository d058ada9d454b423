"""The face every scalefit result shows (point fit, bootstrap, batch, posteriors, best-of-N).

One protocol, defined here once and mixed into every result class (see docs/results.md):

* ``summary()`` -> :class:`Summary`: a ``str`` (the plain-text report, printed as before) that a
  notebook renders as an HTML table (``_repr_html_``, every value escaped);
* ``repr(result)``: one short line, ``<FitResult chinchilla: 5 params, converged, 42 points>``;
* ``param_table(level=0.9)`` -> DataFrame with ``parameter``, ``estimate``, ``lower``, ``upper``
  (``lower``/``upper`` NaN where the result has no interval);
* ``predict(..., level=0.9)`` -> DataFrame with the inputs and ``estimate``, ``lower``, ``upper``
  and ``extrapolation`` (see each class for the inputs it takes and for when the interval columns
  are absent);
* ``converged`` and ``message`` (a readable verdict);
* ``to_json(path=None)`` / ``from_json(source)``;
* ``plot(ax=None)`` -> matplotlib Figure, drawn by :func:`scalefit.plots.plot_result`
  (matplotlib is imported only then).

Names follow docs/naming.md: the point value is ``estimate``, the interval ``lower``/``upper``
at a two-sided ``level`` (default :data:`LEVEL`).
"""

from __future__ import annotations

import html
import math
from pathlib import Path

import numpy as np
import pandas as pd

from ._files import atomic_write_text, json_text

#: default two-sided interval level of every protocol method (docs/naming.md)
LEVEL = 0.9

#: columns of every ``param_table`` (more may follow them)
PARAM_COLUMNS = ("parameter", "estimate", "lower", "upper")

#: columns every ``predict`` adds after the inputs (``lower``/``upper`` only with an interval)
PREDICT_COLUMNS = ("estimate", "lower", "upper", "extrapolation")

#: longest ``repr`` of a result
REPR_CHARS = 200


class Summary(str):
    """A result's plain-text report (a ``str``, so it prints and compares as text) that a
    Jupyter notebook shows as an HTML table.

    Attributes
    ----------
    title : str
        The result's one-line description (its ``repr``).
    table : pandas.DataFrame or None
        The table the HTML view shows (usually ``param_table()``).
    """

    title: str
    table: pd.DataFrame | None

    def __new__(cls, text: str, *, title: str = "", table: pd.DataFrame | None = None):
        obj = super().__new__(cls, text)
        obj.title = str(title)
        obj.table = table
        return obj

    def _repr_html_(self) -> str:
        parts = ['<div class="scalefit-summary">']
        if self.title:
            parts.append(f"<p><strong>{html.escape(self.title)}</strong></p>")
        if self.table is not None and len(self.table):
            parts.append(self.table.to_html(index=False, escape=True, na_rep="", float_format=_fmt_cell,
                                            border=0, classes="scalefit-table"))
        parts.append("<details><summary>full report</summary><pre>"
                     + html.escape(str(self)) + "</pre></details></div>")
        return "\n".join(parts)


def _fmt_cell(v) -> str:
    return f"{v:.6g}"


def check_level(level) -> float:
    """``level`` as a float strictly inside (0, 1), or the one-line error naming it."""
    from .errors import ArgumentError

    try:
        value = float(level)
    except (TypeError, ValueError):
        raise ArgumentError(f"`level` = {level!r} must be a number strictly between 0 and 1") from None
    if not 0.0 < value < 1.0:
        raise ArgumentError(f"`level` = {value:g} must lie strictly between 0 and 1")
    return value


def quantile_interval(draws, level: float, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Equal-tailed interval at ``level`` over ``axis`` of ``draws`` (NaN draws ignored)."""
    tail = (1.0 - check_level(level)) / 2.0
    d = np.asarray(draws, dtype=np.float64)
    return np.nanquantile(d, tail, axis=axis), np.nanquantile(d, 1.0 - tail, axis=axis)


def verdict(converged: bool, message: str) -> str:
    return ("converged" if converged else "NOT converged") + (f": {message}" if message else "")


class ResultProtocol:
    """Shared behaviour of every result class; each class provides:

    * ``_repr_text()``: what follows the class name in ``repr`` (a few words);
    * ``_summary_text(**options)``: the plain-text report (what ``summary()`` returned before);
    * ``param_table(level)``, ``predict(...)``, ``converged`` and ``message`` (a readable
      verdict; a field or a property, so it is not defined here);
    * ``to_dict()`` and a ``from_dict(d)`` classmethod (for the default JSON methods), and
      ``JSON_WHAT`` naming the file kind in error messages.
    """

    JSON_WHAT = "saved result"

    # ------------------------------------------------------------------ display
    def _repr_text(self) -> str:  # pragma: no cover - every class overrides
        return verdict(bool(self.converged), "")

    def __repr__(self) -> str:
        text = f"<{type(self).__name__} {self._repr_text()}>"
        if len(text) > REPR_CHARS:
            text = text[:REPR_CHARS - 4] + "...>"
        return text

    def summary(self, *args, **options) -> Summary:
        """Plain-text report (a ``str``) that renders as an HTML table in a notebook.

        Arguments are those of the class's report (e.g. ``level`` for posteriors)."""
        text = self._summary_text(*args, **options)
        return Summary(text, title=repr(self), table=self._summary_table(*args, **options))

    def _summary_table(self, *args, **options) -> pd.DataFrame | None:
        level = args[0] if args else options.get("level", LEVEL)
        return self.param_table(level=level)

    def _repr_html_(self) -> str:
        return self.summary()._repr_html_()

    # ------------------------------------------------------------------ JSON
    def to_json(self, path: str | Path | None = None, *, overwrite: bool = False) -> str:
        """JSON text of :meth:`to_dict`; with ``path`` also written atomically (never
        overwriting an existing file unless ``overwrite=True``)."""
        text = json_text(clean_json(self.to_dict()))
        if path is not None:
            atomic_write_text(path, text, overwrite=overwrite, argument="path")
        return text

    @classmethod
    def from_json(cls, source):
        """Load from a JSON file path or JSON text; errors name the file."""
        from ._files import load_saved

        return load_saved(source, cls.from_dict, what=cls.JSON_WHAT)

    # ------------------------------------------------------------------ plot
    def plot(self, ax=None, **options):
        """Draw the result (see :func:`scalefit.plots.plot_result`); returns the Figure."""
        from .plots import plot_result  # the display layer, imported only when drawing

        return plot_result(self, ax=ax, **options)


def clean_json(obj):
    """JSON-safe copy: NaN/inf -> None, numpy scalars and arrays -> Python."""
    if isinstance(obj, dict):
        return {str(k): clean_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [clean_json(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return clean_json(obj.tolist())
    if isinstance(obj, (np.floating, float)):
        v = float(obj)
        return v if math.isfinite(v) else None
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj


def frame_to_dict(df: pd.DataFrame) -> dict:
    """A small DataFrame as ``{"columns": [...], "data": [[...], ...]}`` (JSON-safe)."""
    return clean_json({"columns": [str(c) for c in df.columns], "data": df.to_numpy(dtype=object).tolist()})


def frame_from_dict(d) -> pd.DataFrame:
    df = pd.DataFrame(d["data"], columns=d["columns"])
    for c in df.columns:  # None (saved NaN/inf) back to NaN in numeric columns
        if df[c].dtype == object:
            conv = pd.to_numeric(df[c], errors="coerce")
            if conv.notna().sum() == df[c].notna().sum():
                df[c] = conv.astype(np.float64)
    return df


__all__ = ["LEVEL", "PARAM_COLUMNS", "PREDICT_COLUMNS", "ResultProtocol", "Summary", "check_level",
           "quantile_interval", "clean_json", "frame_to_dict", "frame_from_dict"]
