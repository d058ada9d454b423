"""Shared pieces of the posterior results (status, draws, tables, JSON): the scaling-law
posterior and the repeated-sampling ones."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from .._files import atomic_write_text
from .._result import LEVEL, ResultProtocol, check_level, clean_json
from ..errors import ArgumentError
from ..params import Prior
from . import _idata
from .diagnostics import Diagnostics


def qname(p: float) -> str:
    """Column name of a quantile: 0.05 -> 'q05', 0.975 -> 'q975', 0.5 -> 'q50'."""
    digits = f"{p:.6f}".split(".")[1].rstrip("0") or "0"
    return "q" + (digits + "0" if len(digits) == 1 else digits)


def level_quantiles(levels: Sequence[float]) -> list[float]:
    out = []
    for lv in levels:
        if not 0 < lv < 1:
            raise ArgumentError(f"`levels` must lie in (0, 1), got {lv!r}")
        out += [0.5 - lv / 2, 0.5 + lv / 2]
    return out


def quantile_columns(draws: np.ndarray, levels: Sequence[float], prefix: str = "") -> dict[str, np.ndarray]:
    """Median and central-interval quantiles over axis 0 of per-draw values (never transformed)."""
    qs = [0.5] + level_quantiles(levels)
    vals = np.quantile(draws, qs, axis=0)
    out = {f"{prefix}median": vals[0]}
    for q, v in zip(qs[1:], vals[1:]):
        out[f"{prefix}{qname(q)}"] = v
    return out


def interval_columns(out: pd.DataFrame, level: float, prefix: str = "") -> pd.DataFrame:
    """``out`` (with ``median`` and the central quantile columns of ``level``, as written by
    :func:`quantile_columns`) with the protocol's ``estimate`` (the posterior median), ``lower``
    and ``upper`` (the central credible interval at ``level``) appended."""
    lo, hi = level_quantiles([check_level(level)])
    out = out.copy()
    out["estimate"] = out[f"{prefix}median"].to_numpy()
    out["lower"] = out[f"{prefix}{qname(lo)}"].to_numpy()
    out["upper"] = out[f"{prefix}{qname(hi)}"].to_numpy()
    return out


#: columns the protocol adds to a posterior parameter table (dropped from the text reports,
#: which keep their 0.1 layout)
PROTOCOL_COLUMNS = ["estimate", "lower", "upper"]


class PosteriorMixin(ResultProtocol):
    """Needs attributes ``idata``, ``diagnostics``, ``settings``, ``metadata`` and ``FORMAT``."""

    FORMAT = ""
    JSON_WHAT = "posterior file"

    @property
    def message(self) -> str:
        """The diagnostics' verdict (same as ``status``)."""
        return self.status

    def _verdict(self) -> str:
        return "converged" if self.converged else "NOT converged"

    @property
    def converged(self) -> bool:
        """All diagnostics passed (docs/bayes.md#diagnostics)."""
        return self.diagnostics.passed

    @property
    def status(self) -> str:
        return self.diagnostics.status

    @property
    def num_draws(self) -> int:
        post = self.idata.posterior
        return int(post.sizes["chain"] * post.sizes["draw"])

    def draws(self, name: str) -> np.ndarray:
        post = self.idata.posterior
        if name not in post.data_vars:
            raise ArgumentError(f"no posterior quantity `{name}`; have {sorted(map(str, post.data_vars))}")
        a = np.asarray(post[name].values)
        return a.reshape((-1,) + a.shape[2:])

    def _table(self, names: Sequence[str], level: float, labels: Mapping[str, Sequence[str]] | None = None) -> pd.DataFrame:
        """Per quantity: median, mean, SD, central interval, R-hat, ESS, then the protocol's
        ``estimate`` (median), ``lower``, ``upper``."""
        lo, hi = level_quantiles([level])
        diag = self.diagnostics.table
        rows = []
        for n in names:
            d = self.draws(n)
            cols = [d] if d.ndim == 1 else [d[:, j] for j in range(d.shape[1])]
            for j, c in enumerate(cols):
                key = n if d.ndim == 1 else f"{n}[{j}]"
                label = key if labels is None or n not in labels else f"{n}[{labels[n][j]}]"
                rows.append({"parameter": label, "median": np.median(c), "mean": np.mean(c), "sd": np.std(c),
                             qname(lo): np.quantile(c, lo), qname(hi): np.quantile(c, hi),
                             "r_hat": diag["r_hat"].get(key, np.nan), "ess_bulk": diag["ess_bulk"].get(key, np.nan)})
        return interval_columns(pd.DataFrame(rows), level)

    def _table_text(self, level: float) -> str:
        """The parameter table as the text reports print it (0.1 layout)."""
        tab = self.param_table(level).drop(columns=PROTOCOL_COLUMNS)
        return tab.to_string(index=False, float_format=lambda v: f"{v:.5g}")

    def _groups_json(self) -> dict:
        return {"posterior": _idata.group_to_json(self.idata.posterior),
                "sample_stats": _idata.group_to_json(self.idata.sample_stats)}

    def _verdict_lines(self) -> list[str]:
        """The closing lines of every text summary: the diagnostics, then the verdict."""
        return [self.diagnostics.summary(), ("converged: " if self.converged else "NOT CONVERGED: ") + self.status]

    def _json_record(self, fields: Mapping) -> dict:
        """The JSON record: format and version, then ``fields``, then the draws, diagnostics,
        settings and metadata every posterior file carries (read back by :func:`record_draws`
        and :func:`record_tail`)."""
        return clean_json({
            "format": self.FORMAT, "version": 1, **fields, **self._groups_json(),
            "diagnostics": self.diagnostics.to_dict(), "settings": dict(self.settings), "metadata": dict(self.metadata),
        })


def priors_to_json(priors: Mapping[str, Prior]) -> dict:
    return {k: v.to_dict() for k, v in priors.items()}


def priors_from_json(d: Mapping) -> dict[str, Prior]:
    return {k: Prior.from_dict(v) for k, v in d.items()}


def record_draws(d: Mapping) -> tuple:
    """The posterior and sample-stats groups of a posterior JSON record."""
    return _idata.group_from_json(d["posterior"]), _idata.group_from_json(d["sample_stats"])


def record_tail(d: Mapping) -> tuple:
    """The diagnostics, settings and metadata of a posterior JSON record (the trailing
    constructor arguments of every posterior result)."""
    return Diagnostics.from_dict(d["diagnostics"]), dict(d["settings"]), dict(d.get("metadata") or {})

    def to_json(self, path: str | Path | None = None, *, overwrite: bool = False) -> str:
        """JSON text; with ``path`` also written atomically (never overwriting unless asked)."""
        text = json.dumps(self.to_dict(), allow_nan=False)
        if path is not None:
            atomic_write_text(path, text, overwrite=overwrite, argument="path")
        return text

    @classmethod
    def from_json(cls, source):
        from .._files import read_json

        d = read_json(source, what="posterior file")
        if d.get("format") != cls.FORMAT:
            raise ArgumentError(f"not a {cls.FORMAT} file (format {d.get('format')!r})")
        return cls.from_dict(d)
