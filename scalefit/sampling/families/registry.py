"""The mixing-family spec and its registry.

A :class:`MixingFamily` holds everything the engine (:mod:`scalefit.sampling.models`) needs to
fit, forecast with and sample the posterior of one distribution g of the per-item success
probability p: the parameters and their constraints, the prior, the start points, and the
log-kernel log E_g[p^k (1 - p)^(n - k)] of an observation row, given either in closed form
(``log_kernel``) or as the log masses of g on the shared logit grid (``log_masses``).  Nothing
outside a family's own module knows its name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import logit as jax_logit
from scipy import special as sp

from ..._solver import value_jacfwd_hessfwd
from ...errors import ArgumentError
from ._common import derivs_grid, derivs_grid_product, grid_aux, kernel_grid

__all__ = ["MixingFamily", "register_family", "unregister_family", "get_family", "available_families"]

# Unconstrained -> natural maps of the parameters (numpy for results, JAX inside programs).
_TO_NATURAL = {"log": (np.exp, jnp.exp), "logit": (sp.expit, jax.nn.sigmoid), "identity": (np.asarray, jnp.asarray)}
_TO_THETA = {"log": (np.log, jnp.log), "logit": (sp.logit, jax_logit), "identity": (np.asarray, jnp.asarray)}


@dataclass(frozen=True, eq=False)
class MixingFamily:
    """One family of mixing distributions g for the per-item success probability p.

    Parameters are fitted on an unconstrained scale ``theta``; ``transforms`` says how each maps
    to its natural value (``"log"``: natural = exp(theta), a positive parameter; ``"logit"``:
    expit(theta), a share in (0, 1); ``"identity"``).

    Attributes
    ----------
    name : str
    param_names : tuple of str
        Natural parameter names, in the order of ``theta``.
    transforms : tuple of str
        One of ``"log"``, ``"logit"``, ``"identity"`` per parameter.
    prior : callable
        ``prior(theta) -> -log density`` (up to a constant) on the unconstrained scale, in JAX.
    starts : callable
        ``starts(n, k, W) -> list of (D, P) arrays``: start points for D data sets given the
        distinct rows (n, k) and the row weights W (D, rows) (numpy).
    description : str
        One line, e.g. ``"p ~ Beta(a, b)"``.
    prior_text : str
        The prior in words.
    log_kernel : callable, optional
        ``log_kernel(theta, n, k) -> (rows,)``: log E_g[p^k (1 - p)^(n - k)] in closed form (JAX).
    log_masses : callable, optional
        ``log_masses(theta) -> (cells (C,), below, above)``: log masses of g on the cells of the
        shared logit grid and below / above it (JAX); the engine integrates on the grid.  Give
        exactly one of ``log_kernel`` and ``log_masses``.
    sampler_kernel : callable, optional
        ``sampler_kernel(theta, n, k) -> (rows,)``: the same log-kernel written for speed inside
        samplers (e.g. with ``gammaln``), used by the posteriors' models where ``log_kernel``'s
        cancellation-free form costs more than its accuracy is worth there (rounding ~1e-11 per
        row for n <= 1e5 moves no posterior; it would stall Newton's last step and spoil tail
        curves, which keep ``log_kernel``).  Closed-form families only; default ``log_kernel``.
    row_derivs : callable, optional
        ``row_derivs(theta, n, k, aux) -> (loglik (R,), gradient (P, R), Hessian (P, P, R))``;
        default: analytic for grid families, automatic differentiation otherwise.
    cell_masses : callable, optional
        ``cell_masses(params) -> (cells, below, above)`` (numpy, natural parameters): g on the
        logit grid for per-item posteriors; grid families default to ``log_masses``.
    canonical : callable, optional
        ``canonical(theta (..., P)) -> theta``: one representative of equivalent parameter
        vectors (label switching of mixture components).
    max_iter : int
        Newton iteration budget per start.
    """

    name: str
    param_names: tuple
    transforms: tuple
    prior: Callable
    starts: Callable
    description: str
    prior_text: str = ""
    log_kernel: Callable | None = None
    log_masses: Callable | None = None
    sampler_kernel: Callable | None = None
    row_derivs: Callable | None = None
    cell_masses: Callable | None = None
    canonical: Callable | None = None
    max_iter: int = 150

    def __post_init__(self):
        if not (isinstance(self.name, str) and self.name.isidentifier()):
            raise ArgumentError(f"family name {self.name!r} must be an identifier")
        object.__setattr__(self, "param_names", tuple(self.param_names))
        object.__setattr__(self, "transforms", tuple(self.transforms))
        if len(self.param_names) != len(self.transforms):
            raise ArgumentError(f"family {self.name!r}: {len(self.param_names)} parameter names but "
                                f"{len(self.transforms)} transforms")
        bad = [t for t in self.transforms if t not in _TO_NATURAL]
        if bad:
            raise ArgumentError(f"family {self.name!r}: transform {bad[0]!r} is not one of {', '.join(_TO_NATURAL)}")
        if (self.log_kernel is None) == (self.log_masses is None):
            raise ArgumentError(f"family {self.name!r}: give exactly one of `log_kernel` and `log_masses`")
        if self.sampler_kernel is not None and self.log_kernel is None:
            raise ArgumentError(f"family {self.name!r}: `sampler_kernel` goes with a closed-form `log_kernel`")

    @property
    def n_params(self) -> int:
        return len(self.param_names)

    @property
    def grid(self) -> bool:
        """Whether the family is integrated on the logit grid."""
        return self.log_masses is not None

    def aux(self, n, k) -> dict:
        """Per-row constants the kernel needs (grid likelihood weights; empty in closed form)."""
        return grid_aux(n, k) if self.grid else {}

    def kernel(self, theta, n, k, aux, *, sampler: bool = False):
        """log E_g[p^k (1 - p)^(n - k)] per row (JAX); ``aux`` from :meth:`aux` on the same rows
        (``sampler``: the family's :attr:`sampler_kernel` where it has one)."""
        if self.grid:
            return kernel_grid(self.log_masses(theta), aux)
        if sampler and self.sampler_kernel is not None:
            return self.sampler_kernel(theta, n, k)
        return self.log_kernel(theta, n, k)

    def derivs(self, theta, n, k, aux):
        """Per-row log-kernel with its gradient (P, R) and Hessian (P, P, R) in theta."""
        if self.row_derivs is not None:
            return self.row_derivs(theta, n, k, aux)
        if self.grid:
            if "table" in aux:  # a scaled_grid_table: one matrix product (fits re-check for floored rows)
                return derivs_grid_product(self.log_masses, theta, aux["table"], aux["kmax"])
            return derivs_grid(self.log_masses, theta, aux)
        ll, g, h = value_jacfwd_hessfwd(lambda t: self.log_kernel(t, n, k), theta)  # (R,), (R, P), (R, P, P)
        return ll, g.T, jnp.moveaxis(h, 0, -1)

    def to_natural(self, theta) -> dict:
        """Natural parameters (floats) of one unconstrained vector."""
        t = np.asarray(theta, float)
        return {nm: float(_TO_NATURAL[tr][0](t[i])) for i, (nm, tr) in enumerate(zip(self.param_names, self.transforms))}

    def natural_draws(self, theta):
        """Natural parameters of unconstrained vectors (..., P) as JAX arrays (...,) by name."""
        return {nm: _TO_NATURAL[tr][1](theta[..., i]) for i, (nm, tr) in enumerate(zip(self.param_names, self.transforms))}

    def to_theta(self, params) -> np.ndarray:
        """Unconstrained vector from natural parameters (a mapping by name)."""
        try:
            return np.array([_TO_THETA[tr][0](params[nm]) for nm, tr in zip(self.param_names, self.transforms)], float)
        except KeyError as exc:
            raise ArgumentError(f"`params` lacks {exc.args[0]!r} for model {self.name!r}") from None

    def theta_draws(self, params):
        """Unconstrained vectors (..., P) from natural parameters (JAX arrays (...,) by name):
        the inverse of :meth:`natural_draws`, for posteriors whose priors are on the natural scale."""
        return jnp.stack([_TO_THETA[tr][1](params[nm]) for nm, tr in zip(self.param_names, self.transforms)], -1)

    def grid_log_masses(self, theta) -> tuple:
        """g as log masses (cells (C,), below, above) on the logit grid (numpy)."""
        if self.cell_masses is not None:
            return self.cell_masses(self.to_natural(theta))
        if not self.grid:
            raise ArgumentError(f"family {self.name!r} defines no `cell_masses`, so it has no per-item posterior")
        cells, below, above = self.log_masses(jnp.asarray(theta, float))
        return np.asarray(cells), float(below), float(above)

    def canonicalise(self, theta) -> np.ndarray:
        theta = np.array(theta, float, copy=True)
        return theta if self.canonical is None else self.canonical(theta)


_REGISTRY: dict[str, MixingFamily] = {}


def register_family(family: MixingFamily, *, replace: bool = False) -> MixingFamily:
    """Make ``family`` available to every fitting, forecasting and posterior function by name."""
    if not isinstance(family, MixingFamily):
        raise ArgumentError(f"register_family needs a MixingFamily, got {type(family).__name__}")
    if family.name in _REGISTRY and not replace:
        raise ArgumentError(f"a mixing family named {family.name!r} is already registered (pass replace=True)")
    _REGISTRY[family.name] = family
    return family


def unregister_family(name: str) -> None:
    """Remove a registered family (e.g. a test's toy family)."""
    get_family(name)
    del _REGISTRY[name]


def get_family(name: str) -> MixingFamily:
    """The registered family called ``name`` (one-line error naming the known ones otherwise)."""
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise ArgumentError(f"`model` = {name!r} is not one of {', '.join(map(repr, _REGISTRY))}") from None


def available_families() -> tuple[str, ...]:
    """Names of the registered families, in registration order."""
    return tuple(_REGISTRY)
