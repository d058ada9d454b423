"""Shared pieces of the posterior results (status, draws, tables, JSON): the scaling-law
posterior and the repeated-sampling ones."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from .._files import atomic_write_text
from ..errors import ArgumentError
from . import _idata


class PosteriorMixin:
    """Needs attributes ``idata``, ``diagnostics``, ``settings``, ``metadata`` and ``FORMAT``."""

    FORMAT = ""

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
        from .posterior import level_quantiles, qname

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
        return pd.DataFrame(rows)

    def _groups_json(self) -> dict:
        return {"posterior": _idata.group_to_json(self.idata.posterior),
                "sample_stats": _idata.group_to_json(self.idata.sample_stats)}

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
