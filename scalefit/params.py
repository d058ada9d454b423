"""Parameter specifications shared by point fits and Bayesian fits.

A :class:`Param` describes one *fit coordinate* of a law: the value the optimiser moves.
Positive quantities are fitted on the log scale (docs/laws.md#conventions): the Chinchilla amplitude
``A`` is fitted as ``a = log A`` and reported both ways.  Bounds are given in fit coordinates
and are enforced by projection inside the optimiser; a fit that ends on a bound is flagged.

Each :class:`Param` may carry a :class:`Prior` (docs/bayes.md#default-priors) used by the Bayesian fits of
:mod:`scalefit.bayes`; point fits ignore it.  A prior is a small frozen spec (a distribution
name, its arguments and a *transform* from the prior's own variable to the fit coordinate), so
that a prior on a natural quantity (``E = u·L_min``, the reducible loss at the reference scale)
drives a fit coordinate (``e = log E``, ``a = log A``) without any Jacobian bookkeeping: the
Bayesian model samples the prior's variable and computes the coordinate deterministically.
Arguments may depend on the data through :class:`DataRef` (resolved when a fit starts).

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
from dataclasses import dataclass, field, replace
from typing import Callable, Iterable, Mapping

import numpy as np

from .errors import ArgumentError

#: Distributions a :class:`Prior` can name, with the number of arguments each takes.
PRIOR_DISTS: dict[str, tuple[str, ...]] = {
    "normal": ("loc", "scale"),
    "lognormal": ("loc", "scale"),
    "halfnormal": ("scale",),
    "beta": ("concentration1", "concentration0"),
    "uniform": ("low", "high"),
    "gamma": ("concentration", "rate"),
    "student_t": ("df", "loc", "scale"),
    "exponential": ("rate",),
    "flat": (),
}

#: Maps from a prior's variable ``v`` to the fit coordinate ``θ`` it drives.
#:
#: ``identity``          θ = v
#: ``exp``               θ = exp(v)          (prior on the log of a natural-scale coordinate)
#: ``log``               θ = log(v)          (prior on the natural quantity of a log coordinate)
#: ``floor``             θ = log(v · y_min)  (floor as a fraction v ∈ (0, 1) of the smallest observation)
#: ``reference``         θ = v + θ[exponent] · log x_ref[input]
#:                       (v = log of the term at the reference scale x_ref = geometric mean of
#:                       the input, docs/bayes.md#model: ``a = log A_ref + α log x_ref``)
#: ``kaplan_reference``  θ = log x_ref[input] + v / θ[exponent]
#:                       (v = log of the loss at x_ref for Kaplan's (x_c/x)^α form)
PRIOR_TRANSFORMS: tuple[str, ...] = ("identity", "exp", "log", "floor", "reference", "kaplan_reference")

#: Data summaries a :class:`DataRef` can name; ``*_x_*`` summaries need ``input``.
DATA_SUMMARIES: tuple[str, ...] = (
    "log_y_min", "log_y_median", "y_min", "y_max", "y_median", "y_sd",
    "log_x_min", "log_x_max", "log_x_ref", "x_median",
)


@dataclass(frozen=True)
class DataRef:
    """A prior argument computed from the data when a Bayesian fit starts.

    The value is ``summary(data) + offset``: e.g. ``DataRef("log_y_median", offset=math.log(0.3))``
    is log(0.3 · median observed loss).  Summaries of an input (``log_x_min``, ``log_x_max``,
    ``log_x_ref`` = mean log x, ``x_median``) name the law input in ``input``.

    >>> DataRef("log_x_max", input="N", offset=3.0).describe()
    'log_x_max(N) + 3'
    """

    summary: str
    input: str | None = None
    offset: float = 0.0

    def __post_init__(self):
        if self.summary not in DATA_SUMMARIES:
            raise ArgumentError(f"`summary` = {self.summary!r} is not one of {', '.join(DATA_SUMMARIES)}")
        if ("_x_" in self.summary or self.summary.startswith("x_")) and not self.input:
            raise ArgumentError(f"data summary `{self.summary}` needs `input` (the law input it refers to)")
        object.__setattr__(self, "offset", float(self.offset))

    def resolve(self, summaries: Mapping[str, float]) -> float:
        key = self.summary if self.input is None else f"{self.summary}:{self.input}"
        if key not in summaries:
            raise ArgumentError(f"prior argument needs the data summary `{key}`, which is not available")
        return float(summaries[key]) + self.offset

    def describe(self) -> str:
        name = self.summary if self.input is None else f"{self.summary}({self.input})"
        if self.offset == 0:
            return name
        return f"{name} {'+' if self.offset > 0 else '-'} {abs(self.offset):.4g}"

    def to_dict(self) -> dict:
        return {"ref": self.summary, "input": self.input, "offset": self.offset}


def _arg_from_json(v):
    if isinstance(v, Mapping):
        return DataRef(v["ref"], v.get("input"), v.get("offset", 0.0))
    return float(v)


@dataclass(frozen=True)
class Prior:
    """A prior for one fit coordinate (or a likelihood parameter) of a Bayesian fit.

    Parameters
    ----------
    dist
        Distribution of the prior's variable ``v``: one of :data:`PRIOR_DISTS`
        (``"flat"`` is the improper uniform density on the real line).
    args
        Its arguments in the order of :data:`PRIOR_DISTS` (numbers or :class:`DataRef`).
    transform
        How the coordinate follows from ``v`` (:data:`PRIOR_TRANSFORMS`).
    input, exponent
        For the ``reference`` transforms: the law input whose reference scale is used and the
        exponent coordinate that multiplies its log.
    low
        Optional lower truncation of ``v`` (e.g. the Student-t ν > 1).

    Build priors with the constructors (``Prior.lognormal(math.log(0.3), 0.5)``,
    ``Prior.floor_fraction()``, ``Prior.reference_amplitude("N", "alpha")`` ...).

    >>> import math
    >>> Prior.lognormal(math.log(0.3), 0.5).describe()
    'LogNormal(-1.204, 0.5)'
    >>> Prior.floor_fraction().describe()
    'E = u·y_min, u ~ Beta(3, 2)'
    """

    dist: str
    args: tuple = ()
    transform: str = "identity"
    input: str | None = None
    exponent: str | None = None
    low: float | None = None

    def __post_init__(self):
        if self.dist not in PRIOR_DISTS:
            raise ArgumentError(f"prior `dist` = {self.dist!r} is not one of {', '.join(PRIOR_DISTS)}")
        args = tuple(a if isinstance(a, DataRef) else float(a) for a in self.args)
        need = PRIOR_DISTS[self.dist]
        if len(args) != len(need):
            raise ArgumentError(
                f"prior {self.dist!r} takes {len(need)} argument(s) ({', '.join(need) or 'none'}), got {len(args)}"
            )
        for name, a in zip(need, args):
            if isinstance(a, float) and not math.isfinite(a):
                raise ArgumentError(f"prior {self.dist!r}: `{name}` = {a} is not finite")
            if isinstance(a, float) and name in ("scale", "rate", "concentration", "concentration1",
                                                 "concentration0", "df") and not a > 0:
                raise ArgumentError(f"prior {self.dist!r}: `{name}` = {a} must be > 0")
        if self.dist == "uniform" and all(isinstance(a, float) for a in args) and not args[0] < args[1]:
            raise ArgumentError(f"prior 'uniform': `low` = {args[0]} must be below `high` = {args[1]}")
        if self.transform not in PRIOR_TRANSFORMS:
            raise ArgumentError(
                f"prior `transform` = {self.transform!r} is not one of {', '.join(PRIOR_TRANSFORMS)}"
            )
        if self.transform in ("reference", "kaplan_reference") and not (self.input and self.exponent):
            raise ArgumentError(f"a {self.transform!r} prior needs `input` and `exponent`")
        if self.low is not None:
            object.__setattr__(self, "low", float(self.low))
        object.__setattr__(self, "args", args)

    # ---------------------------------------------------------------- constructors
    @classmethod
    def normal(cls, loc, scale, **kw) -> "Prior":
        return cls("normal", (loc, scale), **kw)

    @classmethod
    def lognormal(cls, loc, scale, **kw) -> "Prior":
        """``v ~ LogNormal(loc, scale)``: ``log v ~ Normal(loc, scale)``."""
        return cls("lognormal", (loc, scale), **kw)

    @classmethod
    def halfnormal(cls, scale, **kw) -> "Prior":
        return cls("halfnormal", (scale,), **kw)

    @classmethod
    def beta(cls, a, b, **kw) -> "Prior":
        return cls("beta", (a, b), **kw)

    @classmethod
    def uniform(cls, low, high, **kw) -> "Prior":
        return cls("uniform", (low, high), **kw)

    @classmethod
    def gamma(cls, concentration, rate, **kw) -> "Prior":
        return cls("gamma", (concentration, rate), **kw)

    @classmethod
    def student_t(cls, df, loc, scale, **kw) -> "Prior":
        return cls("student_t", (df, loc, scale), **kw)

    @classmethod
    def exponential(cls, rate, **kw) -> "Prior":
        return cls("exponential", (rate,), **kw)

    @classmethod
    def flat(cls, **kw) -> "Prior":
        """Improper flat prior on the real line (posterior must be proper through the data)."""
        return cls("flat", (), **kw)

    @classmethod
    def floor_fraction(cls, a: float = 3.0, b: float = 2.0) -> "Prior":
        """Floor ``E = u·y_min`` with ``u ~ Beta(a, b)`` for a log-floor coordinate (docs/bayes.md#default-priors)."""
        return cls("beta", (a, b), transform="floor")

    @classmethod
    def reference_amplitude(cls, input: str, exponent: str, *, fraction: float = 0.3,
                            scale: float = 1.0) -> "Prior":
        """``log A_ref ~ Normal(log(fraction · median y), scale)`` for a log amplitude ``a``.

        ``A_ref = A·x_ref^(−α)`` is the term's value at the reference scale (geometric mean of the
        input), so ``a = log A_ref + α·log x_ref`` (docs/bayes.md#model).
        """
        return cls("normal", (DataRef("log_y_median", offset=math.log(fraction)), scale),
                   transform="reference", input=input, exponent=exponent)

    @classmethod
    def kaplan_reference(cls, input: str, exponent: str, *, scale: float = 1.0) -> "Prior":
        """Kaplan ``(x_c/x)^α``: ``log L(x_ref) ~ Normal(log median y, scale)``;
        ``log x_c = log x_ref + log L(x_ref)/α``."""
        return cls("normal", (DataRef("log_y_median"), scale), transform="kaplan_reference",
                   input=input, exponent=exponent)

    # ---------------------------------------------------------------- helpers
    @property
    def is_data_dependent(self) -> bool:
        return any(isinstance(a, DataRef) for a in self.args) or self.transform in (
            "floor", "reference", "kaplan_reference")

    def resolved(self, summaries: Mapping[str, float]) -> "Prior":
        """Copy with every :class:`DataRef` argument replaced by its value."""
        args = tuple(a.resolve(summaries) if isinstance(a, DataRef) else a for a in self.args)
        return replace(self, args=args)

    def widened(self, factor: float) -> "Prior":
        """Copy with the scale multiplied by ``factor`` (prior-sensitivity checks, docs/bayes.md#default-priors).

        Normal/log-normal/half-normal/Student-t scales and exponential/gamma scales (1/rate) are
        multiplied; a uniform interval is widened about its centre; Beta and flat priors are
        returned unchanged (they have no scale).
        """
        if not factor > 0:
            raise ArgumentError(f"`factor` = {factor} must be > 0")
        a = list(self.args)
        if self.dist in ("normal", "lognormal"):
            a[1] = _scale_arg(a[1], factor)
        elif self.dist == "halfnormal":
            a[0] = _scale_arg(a[0], factor)
        elif self.dist == "student_t":
            a[2] = _scale_arg(a[2], factor)
        elif self.dist in ("exponential",):
            a[0] = _scale_arg(a[0], 1.0 / factor)
        elif self.dist == "gamma":
            a[1] = _scale_arg(a[1], 1.0 / factor)
        elif self.dist == "uniform" and all(isinstance(x, float) for x in a):
            c, h = 0.5 * (a[0] + a[1]), 0.5 * (a[1] - a[0]) * factor
            a = [c - h, c + h]
        return replace(self, args=tuple(a))

    def describe(self) -> str:
        names = {"normal": "Normal", "lognormal": "LogNormal", "halfnormal": "HalfNormal", "beta": "Beta",
                 "uniform": "Uniform", "gamma": "Gamma", "student_t": "StudentT", "exponential": "Exponential",
                 "flat": "Flat"}
        args = ", ".join(a.describe() if isinstance(a, DataRef) else f"{a:.4g}" for a in self.args)
        d = f"{names[self.dist]}({args})"
        if self.low is not None:
            d += f" truncated > {self.low:g}"
        if self.transform == "floor":
            return f"E = u·y_min, u ~ {d}"
        if self.transform == "reference":
            return f"log ref ~ {d}, coord = log ref + {self.exponent}·log x_ref({self.input})"
        if self.transform == "kaplan_reference":
            return f"log L(x_ref) ~ {d}, coord = log x_ref({self.input}) + log L(x_ref)/{self.exponent}"
        if self.transform == "exp":
            return f"log(coord) ~ {d}"
        if self.transform == "log":
            return f"exp(coord) ~ {d}"
        return d

    def to_dict(self) -> dict:
        return {
            "dist": self.dist,
            "args": [a.to_dict() if isinstance(a, DataRef) else a for a in self.args],
            "transform": self.transform, "input": self.input, "exponent": self.exponent, "low": self.low,
        }

    @classmethod
    def from_dict(cls, d: Mapping) -> "Prior":
        return cls(d["dist"], tuple(_arg_from_json(a) for a in d.get("args", ())),
                   transform=d.get("transform", "identity"), input=d.get("input"),
                   exponent=d.get("exponent"), low=d.get("low"))


def _scale_arg(a, factor):
    if isinstance(a, DataRef):  # pragma: no cover - scales are numbers in every default prior
        raise ArgumentError("cannot widen a prior whose scale comes from the data")
    return a * factor


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
    prior
        Optional :class:`Prior` for Bayesian fits (:mod:`scalefit.bayes`); ignored by point fits.
    """

    name: str
    symbol: str = ""
    lower: float = -math.inf
    upper: float = math.inf
    starts: tuple[float, ...] = ()
    natural: str | None = None
    units: str = ""
    doc: str = ""
    prior: Prior | None = None

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
        if self.prior is not None and not isinstance(self.prior, Prior):
            raise ArgumentError(f"parameter `{self.name}`: `prior` must be a scalefit Prior, got {type(self.prior).__name__}")

    @property
    def is_log(self) -> bool:
        return self.natural is not None

    def to_natural(self, value: float) -> float:
        if not self.is_log:
            return float(value)
        with np.errstate(over="ignore"):  # e^710 and beyond: inf, which callers check
            return float(np.exp(value))


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

    def priors(self) -> dict[str, "Prior | None"]:
        """Each parameter's default prior (``None`` where the law defines none)."""
        return {p.name: p.prior for p in self.params}

    def natural_values(self, values: Mapping[str, float]) -> dict[str, float]:
        """Map fit coordinates to natural-scale quantities (``a`` -> ``A = e^a``)."""
        out: dict[str, float] = {}
        for p in self.params:
            if p.name in values:
                key = p.natural or p.name
                out[key] = p.to_natural(values[p.name])
        return out


GridFn = Callable[[Mapping[str, np.ndarray], np.ndarray], np.ndarray]
