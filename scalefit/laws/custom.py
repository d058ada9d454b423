"""User-defined laws from a Python function and a parameter spec (no string ``eval``)."""

from __future__ import annotations

from typing import Callable, Iterable, Mapping

from ..errors import ArgumentError
from ..params import Param, ParamSpec
from ._base import ScalingLaw


def define_law(
    name: str,
    fn: Callable[[Mapping, Mapping], object],
    *,
    inputs: Iterable[str],
    params: Iterable[Param] | ParamSpec,
    formula: str = "",
    target: str = "log",
    default_loss: str = "huber",
    positive_inputs: bool = True,
    description: str = "",
) -> ScalingLaw:
    """Build a :class:`ScalingLaw` from a JAX-traceable function.

    ``fn(theta, X)`` receives a dict of fit coordinates and a dict of input arrays and returns
    the prediction in target space (``log y`` when ``target="log"``).  Every parameter needs
    ``starts`` for the default multi-start grid (or pass ``starts=`` to :func:`scalefit.fit_law`).

    Example
    -------
    >>> import jax.numpy as jnp
    >>> from scalefit import define_law, Param
    >>> law = define_law(
    ...     "my_power", lambda t, X: t["a"] - t["alpha"] * jnp.log(X["x"]), inputs=["x"],
    ...     params=[Param("a", natural="A", starts=(0.0, 2.0)), Param("alpha", starts=(0.1, 0.5))])
    >>> law.param_names
    ('a', 'alpha')
    """
    if not callable(fn):
        raise ArgumentError(f"`fn` must be callable, got {type(fn).__name__}")
    spec = params if isinstance(params, ParamSpec) else ParamSpec(tuple(params))
    return ScalingLaw(
        name=name,
        inputs=tuple(inputs),
        params=spec,
        fn=fn,
        formula=formula or f"user-defined law `{name}`",
        target=target,
        default_loss=default_loss,
        positive_inputs=positive_inputs,
        description=description,
        options={"custom": True},
    )
