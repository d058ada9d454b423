"""Mixing families for the per-item success probability, one module each, and their registry.

A new family is one module defining a :class:`MixingFamily` plus one call of
:func:`register_family` (docs/best_of_n.md#adding-a-mixing-family).
"""

from . import beta, beta_mix2, kumaraswamy, logit_normal, zi_beta
from .registry import MixingFamily, available_families, get_family, register_family, unregister_family

for _module in (beta, zi_beta, beta_mix2, logit_normal, kumaraswamy):
    register_family(_module.FAMILY)
del _module

__all__ = ["MixingFamily", "register_family", "unregister_family", "get_family", "available_families"]
