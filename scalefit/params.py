"""Parameter specifications shared by point fits and (later) Bayesian fits.

A :class:`Param` describes one *fit coordinate* of a law: the value the optimiser moves.
Positive quantities are fitted on the log scale (METHODS.md §0.2): the Chinchilla amplitude
``A`` is fitted as ``a = log A`` and reported both ways.  Bounds are given in fit coordinates
and are enforced by projection inside the optimiser; a fit that ends on a bound is flagged.

Example
-------
>>> from scalefit.params import Param, ParamSpec
>>> spec = ParamSpec((Param("a", "log A", natural="A", starts=(0.0, 5.0)),
...                   Param("alpha", "α", lower=0.0, starts=(0.1, 0.5))))
>>> spec.names
('a', 'alpha')
>>> spec.grid().shape
(4, 2)
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Callable, Iterable, Mapping

import numpy as np

from .errors import ArgumentError


@dataclass(frozen=True)
class Param:
    """One fit coordinate of a law.

    Parameters
    ----------
    name
        Identifier used in code, results and JSON (``a``, ``alpha``, ``log_Nc`` ...).
    symbol
        Display form for tables (``log A``, ``α``).
    lower, upper
        Bounds in fit coordinates (``-inf``/``inf`` for none).
    starts
        Default values of this coordinate in the multi-start grid (the grid is their
        Cartesian product unless the law supplies its own grid function).
    natural
        Name of the natural-scale quantity when the coordinate is a logarithm
        (``natural="A"`` means ``A = exp(a)``); ``None`` when the coordinate is itself natural.
    units, doc
        Free text for tables and ``scalefit laws``.
    """

    name: str
    symbol: str = ""
    lower: float = -math.inf
    upper: float = math.inf
    starts: tuple[float, ...] = ()
    natural: str | None = None
    units: str = ""
    doc: str = ""

    def __post_init__(self):
        if not self.name.isidentifier():
            raise ArgumentError(f"`name` = {self.name!r} is not a valid identifier")
        if not self.lower < self.upper:
            raise ArgumentError(
                f"parameter `{self.name}`: `lower` = {self.lower} must be below `upper` = {self.upper}"
            )
        object.__setattr__(self, "starts", tuple(float(s) for s in self.starts))
        if not self.symbol:
            object.__setattr__(self, "symbol", self.name)

    @property
    def is_log(self) -> bool:
        return self.natural is not None

    def to_natural(self, value: float) -> float:
        return float(np.exp(value)) if self.is_log else float(value)


@dataclass(frozen=True)
class ParamSpec:
    """An ordered collection of :class:`Param` with grid and bound helpers."""

    params: tuple[Param, ...]
    _index: Mapping[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "params", tuple(self.params))
        names = [p.name for p in self.params]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ArgumentError(f"duplicate parameter names {dup}")
        object.__setattr__(self, "_index", {n: i for i, n in enumerate(names)})

    def __iter__(self):
        return iter(self.params)

    def __len__(self):
        return len(self.params)

    def __getitem__(self, name: str) -> Param:
        try:
            return self.params[self._index[name]]
        except KeyError:
            raise ArgumentError(
                f"unknown parameter `{name}`; this law has {list(self.names)}"
            ) from None

    def __contains__(self, name: str) -> bool:
        return name in self._index

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params)

    def index(self, name: str) -> int:
        self[name]  # raises a readable error for unknown names
        return self._index[name]

    def bounds(self, names: Iterable[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
        names = self.names if names is None else tuple(names)
        lo = np.array([self[n].lower for n in names], dtype=np.float64)
        hi = np.array([self[n].upper for n in names], dtype=np.float64)
        return lo, hi

    def grid(self, names: Iterable[str] | None = None) -> np.ndarray:
        """Cartesian product of each parameter's ``starts`` (shape ``(S, P)``)."""
        names = self.names if names is None else tuple(names)
        axes = []
        for n in names:
            p = self[n]
            if not p.starts:
                raise ArgumentError(f"parameter `{n}` has no default start values; pass `starts=`")
            axes.append(p.starts)
        return np.array(list(itertools.product(*axes)), dtype=np.float64).reshape(-1, len(names))

    def natural_values(self, values: Mapping[str, float]) -> dict[str, float]:
        """Map fit coordinates to natural-scale quantities (``a`` -> ``A = e^a``)."""
        out: dict[str, float] = {}
        for p in self.params:
            if p.name in values:
                key = p.natural or p.name
                out[key] = p.to_natural(values[p.name])
        return out


GridFn = Callable[[Mapping[str, np.ndarray], np.ndarray], np.ndarray]
