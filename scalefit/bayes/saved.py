"""Load any saved scalefit posterior by its ``format`` field."""

from __future__ import annotations

from pathlib import Path

from .._files import load_saved
from ..errors import ArgumentError
from .betabinom import BetaBinomialPosterior, HierarchicalBetaBinomialPosterior
from .mixing import HierarchicalMixingPosterior, MixingPosterior
from .passuntil import PassUntilPosterior
from .pooled import PooledPosterior
from .posterior import FORMAT, PosteriorFit

__all__ = ["load_posterior"]


def load_posterior(path: str | Path):
    """Load any scalefit posterior file (loss-law, Beta-Binomial, mixing-family, PassUntil or pooled
    best-of-N) by its ``format`` field."""

    def build(d):
        fmt = d.get("format")
        if fmt == FORMAT:
            return PosteriorFit.from_dict(d)
        for cls in (BetaBinomialPosterior, HierarchicalBetaBinomialPosterior, MixingPosterior,
                    HierarchicalMixingPosterior, PassUntilPosterior, PooledPosterior):
            if fmt == cls.FORMAT:
                return cls.from_dict(d)
        raise ArgumentError(f"not a scalefit posterior file (format {fmt!r})")

    return load_saved(path, build, what="posterior file")
