"""The :class:`ScalingLaw` abstraction and the law registry.

A law is a pure JAX function ``fn(theta, X)`` of a dict of fit coordinates ``theta`` and a dict of
raw input arrays ``X`` (``{"N": ..., "D": ...}``) that returns the prediction in the law's
*target space*: ``log y`` for loss laws (evaluated with log-sum-exp, never by taking the log of
a sum), or ``y`` itself for links such as accuracy vs loss.  The law is closed over by the jitted
objective; only arrays cross ``jax.jit``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import jax
import jax.numpy as jnp
import numpy as np

from ..errors import ArgumentError
from ..params import ParamSpec

LawFn = Callable[[Mapping[str, Any], Mapping[str, Any]], Any]


@jax.custom_jvp
def lse3(t0, t1, t2):
    """log(e^t0 + e^t1 + e^t2), elementwise, as one log-sum-exp.

    Its derivative is the softmax weights (a ``custom_jvp``), which costs three exponentials and
    one division per element, where nested ``logaddexp`` and its autodiff cost two to three
    times as many transcendental operations.  Values agree with nested ``logaddexp`` to ~1e-15.
    """
    m = jnp.maximum(jnp.maximum(t0, t1), t2)
    m = jnp.where(jnp.isfinite(m), m, 0.0)
    return m + jnp.log(jnp.exp(t0 - m) + jnp.exp(t1 - m) + jnp.exp(t2 - m))


@lse3.defjvp
def _lse3_jvp(primals, tangents):
    t0, t1, t2 = primals
    d0, d1, d2 = tangents
    m = jnp.maximum(jnp.maximum(t0, t1), t2)
    m = jnp.where(jnp.isfinite(m), m, 0.0)
    e0, e1, e2 = jnp.exp(t0 - m), jnp.exp(t1 - m), jnp.exp(t2 - m)
    s = e0 + e1 + e2
    return m + jnp.log(s), (e0 * d0 + e1 * d1 + e2 * d2) / s


@dataclass(frozen=True)
class VarPro:
    """Variable-projection initialiser (docs/fitting.md#the-varpro-start).

    For fixed values of the ``nonlinear`` coordinates the law's mean is a non-negative linear
    combination ``y = Φ(θ_nl, X) @ c``; the coefficients ``c`` are the natural values of the
    ``linear`` coordinates (which are their logarithms, e.g. ``e = log E``).
    """

    linear: tuple[str, ...]
    nonlinear: tuple[str, ...]
    basis: Callable[[Any, Mapping[str, Any]], Any]
    grid: tuple[np.ndarray, ...]


@dataclass(frozen=True)
class ScalingLaw:
    """A scaling law: a pure log-space JAX function plus its parameter spec.

    Parameters
    ----------
    name
        Registry name (``"chinchilla"``).
    title
        Short name for people (reports, plots): ``"Chinchilla"``; the registry name when empty.
    inputs
        Names of the law's inputs (``("N", "D")``); bound to data columns at fit time.
    params
        The :class:`~scalefit.params.ParamSpec` of fit coordinates.
    fn
        ``fn(theta, X) -> prediction`` in target space.
    formula
        Human-readable formula for ``scalefit laws`` and reports.
    target
        ``"log"`` if ``fn`` returns ``log y`` (loss laws), ``"linear"`` if it returns ``y``.
    positive_inputs
        Whether inputs must be > 0 (logs are taken).
    grid_fn
        Optional data-dependent start grid ``grid_fn(X, y) -> (S, P)`` over all parameters.
    grid_batch_fn
        Optional vectorised ``grid_fn`` for many curves at once (batch fits):
        ``grid_batch_fn(X, y, valid) -> (G, S, P)`` with inputs, targets and the validity mask
        of shape (G, n). Without it, batch fits build the grid curve by curve.
    allocation
        For laws with a compute-optimal frontier (C = 6ND): a map from the law's fit
        coordinates to the Chinchilla coordinates ``a, b, e, alpha, beta`` (see
        :func:`scalefit.allocation_constants`); None for laws without one.
    varpro
        Optional :class:`VarPro` initialiser.
    default_loss
        Objective used when the caller does not choose one.
    source
        Paper / section the law comes from.
    options
        Constructor options needed to rebuild the law from JSON (``{"n_breaks": 1}``).
    """

    name: str
    inputs: tuple[str, ...]
    params: ParamSpec
    fn: LawFn
    formula: str
    target: str = "log"
    positive_inputs: bool = True
    grid_fn: Callable[[Mapping[str, np.ndarray], np.ndarray], np.ndarray] | None = None
    grid_batch_fn: Callable[[Mapping[str, np.ndarray], np.ndarray, np.ndarray], np.ndarray] | None = None
    allocation: Callable[[Mapping[str, float]], dict] | None = None
    varpro: VarPro | None = None
    default_loss: str = "huber"
    source: str = ""
    description: str = ""
    options: Mapping[str, Any] = field(default_factory=dict)
    title: str = ""

    def __post_init__(self):
        if self.target not in ("log", "linear"):
            raise ArgumentError(f"`target` = {self.target!r} must be 'log' or 'linear'")
        object.__setattr__(self, "inputs", tuple(self.inputs))

    @property
    def display_name(self) -> str:
        """:attr:`title`, or the registry name for laws without one."""
        return self.title or self.name

    @property
    def param_names(self) -> tuple[str, ...]:
        return self.params.names

    def start_grid(self, X: Mapping[str, np.ndarray], y: np.ndarray) -> np.ndarray:
        """Default multi-start grid over all parameters (shape ``(S, P)``)."""
        if self.grid_fn is not None:
            return np.asarray(self.grid_fn(X, y), dtype=np.float64)
        return self.params.grid()

    def input_arrays(self, at, columns: Mapping[str, str], frame=None) -> dict[str, np.ndarray]:
        """The law's inputs as float arrays from ``at``: a DataFrame (a column named as the input,
        or as in ``columns``, input -> the data's column), a mapping of input -> values
        (broadcast together), or None (the fitted ``frame``'s columns).  Shared by every result
        that predicts from a law (point fits and posteriors).

        >>> from scalefit.laws import get_law
        >>> get_law("chinchilla").input_arrays({"N": [1e9, 2e9], "tokens": 1e12}, {"D": "tokens"})["D"]
        array([1.e+12, 1.e+12])
        """
        import pandas as pd

        names = self.inputs
        if at is None:
            return {n: frame[columns[n]].to_numpy(np.float64) for n in names}
        if isinstance(at, pd.DataFrame):
            out = {}
            for n in names:
                col = n if n in at.columns else columns.get(n)
                if col not in at.columns:
                    raise ArgumentError(
                        f"`at` lacks a column for input `{n}` (looked for `{n}` and `{columns.get(n)}`)")
                out[n] = at[col].to_numpy(np.float64)
            return out
        if isinstance(at, Mapping):
            out = {}
            for n in names:
                key = n if n in at else columns.get(n)
                if key not in at:
                    raise ArgumentError(f"`at` lacks a value for input `{n}`; got keys {sorted(at)}")
                out[n] = np.atleast_1d(np.asarray(at[key], dtype=np.float64))
            shape = np.broadcast_shapes(*(v.shape for v in out.values()))
            return {k: np.broadcast_to(v, shape).ravel() for k, v in out.items()}
        raise ArgumentError(f"`at` must be a DataFrame, a mapping or None, got {type(at).__name__}")

    def evaluate(self, params: Mapping[str, float], **inputs) -> np.ndarray:
        """Evaluate the law on the natural scale (``y``, not ``log y``).

        >>> import scalefit; scalefit.enable_x64()
        >>> from scalefit.laws import get_law
        >>> law = get_law("chinchilla")
        >>> import math
        >>> p = dict(a=math.log(406.4), b=math.log(410.7), e=math.log(1.69), alpha=0.34, beta=0.28)
        >>> round(float(law.evaluate(p, N=70e9, D=1.4e12)[0]), 6)
        1.936645
        """
        import jax.numpy as jnp

        from .._config import require_x64

        require_x64()
        missing = [n for n in self.param_names if n not in params]
        if missing:
            raise ArgumentError(f"law `{self.name}` needs parameters {missing}")
        absent = [n for n in self.inputs if n not in inputs]
        if absent:
            raise ArgumentError(f"law `{self.name}` needs inputs {list(self.inputs)}; missing {absent}")
        arrs = [np.atleast_1d(np.asarray(inputs[k], dtype=np.float64)) for k in self.inputs]
        shape = np.broadcast_shapes(*(a.shape for a in arrs))
        X = {k: jnp.asarray(np.broadcast_to(a, shape)) for k, a in zip(self.inputs, arrs)}
        theta = {k: jnp.asarray(float(params[k])) for k in self.param_names}
        out = self.fn(theta, X)
        out = jnp.exp(out) if self.target == "log" else out
        return np.asarray(out)

    def describe(self) -> str:
        lines = [f"{self.name}: {self.formula}"]
        if self.description:
            lines.append(f"  {self.description}")
        lines.append("  parameters: " + ", ".join(
            f"{p.name}" + (f" (= log {p.natural})" if p.natural else "") for p in self.params
        ))
        lines.append("  inputs: " + ", ".join(self.inputs))
        if self.source:
            lines.append(f"  source: {self.source}")
        return "\n".join(lines)


_REGISTRY: dict[str, Callable[..., ScalingLaw]] = {}
_INSTANCES: dict[tuple, ScalingLaw] = {}


def register_law(name: str):
    """Decorator registering a law factory under ``name``."""

    def deco(factory: Callable[..., ScalingLaw]):
        _REGISTRY[name] = factory
        return factory

    return deco


def get_law(law: str | ScalingLaw, **options) -> ScalingLaw:
    """Return a law by registry name (with options) or pass a :class:`ScalingLaw` through."""
    if isinstance(law, ScalingLaw):
        if options:
            raise ArgumentError("options can only be given with a law name, not a ScalingLaw")
        return law
    if not isinstance(law, str) or law not in _REGISTRY:
        raise ArgumentError(
            f"unknown law `{law}`; available: {', '.join(sorted(_REGISTRY))}"
        )
    key = (law, tuple(sorted(options.items())))
    try:
        hash(key)
    except TypeError:
        raise ArgumentError(f"law options must be simple values, got {options}") from None
    if key not in _INSTANCES:
        # one instance per (name, options): compiled fits are cached per law instance
        try:
            _INSTANCES[key] = _REGISTRY[law](**options)
        except TypeError as exc:
            raise ArgumentError(f"bad options {options} for law `{law}`: {exc}") from None
    return _INSTANCES[key]


def available_laws() -> list[str]:
    return sorted(_REGISTRY)


def builtin_law_key(law):
    """A process-independent name for an instance of one of scalefit's own laws (None for laws
    whose code lives outside scalefit: user factories registered with ``register_law`` are not
    covered by the source hash of the program cache)."""
    for key, inst in _INSTANCES.items():
        if inst is law:
            factory = _REGISTRY.get(key[0])
            module = getattr(factory, "__module__", "") or ""
            return key if module.startswith("scalefit.laws.") else None
    return None


def saved_law(checker, law, version: int, noun: str):
    """Check a saved record's ``version`` (not newer than ``version``) and, unless ``law`` is
    given, rebuild the saved law from ``law.name`` / ``law.options``; -> the law (None when it
    cannot be built).  ``checker`` is the record's :class:`scalefit._files` checker, which
    collects the problems for one message."""
    saved = checker.get("version", "int", required=False, default=version)
    if saved > version:
        checker.problem(f"`version` {saved} was written by a newer scalefit (this one reads {version})")
    if law is not None:
        return law
    name = checker.get("law.name", "str")
    opts = dict(checker.get("law.options", "object?", required=False) or {})
    if name is not None and opts.pop("custom", False):
        raise ArgumentError(f"{noun} of user-defined law `{name}`: pass `law=` to load it")
    if name is not None:
        try:
            return get_law(name, **opts)
        except (ArgumentError, TypeError, ValueError) as exc:
            checker.problem(f"`law` {name!r} with options {opts} cannot be built ({' '.join(str(exc).split())})")
    return None
