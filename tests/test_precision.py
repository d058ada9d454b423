"""Precision: library calls check float64 and raise with the fix; only `scalefit.enable_x64()`
(and the command line, which calls it) switch JAX's process-wide setting (docs/fitting.md#precision)."""

from __future__ import annotations

import contextlib

import jax
import numpy as np
import pandas as pd
import pytest

import scalefit
from scalefit.errors import PrecisionError, ScalefitError
from scalefit.sampling import fit_beta_binomial


@contextlib.contextmanager
def float32():
    """Run the body with JAX in float32, restoring the session's float64 afterwards."""
    jax.config.update("jax_enable_x64", False)
    try:
        yield
    finally:
        jax.config.update("jax_enable_x64", True)


FRAME = pd.DataFrame({"x": [1e6, 1e7, 1e8, 1e9], "value": [3.1, 2.6, 2.3, 2.1]})


@pytest.mark.parametrize("call", [
    lambda: scalefit.fit_law(FRAME, "power_law"),
    lambda: fit_beta_binomial(20, [0, 1, 3, 0, 7]),
], ids=["fit_law", "fit_beta_binomial"])
def test_library_call_in_float32_raises_with_the_fix_and_flips_nothing(call):
    with float32():
        with pytest.raises(PrecisionError) as exc:
            call()
        # the setting is untouched: no side effect on other JAX code in the process
        assert not jax.config.read("jax_enable_x64")
    msg = str(exc.value)
    assert isinstance(exc.value, ScalefitError)
    assert "scalefit.enable_x64()" in msg and "\n" not in msg


def test_enable_x64_switches_float64_on():
    with float32():
        scalefit.enable_x64()
        assert jax.config.read("jax_enable_x64")
        assert jax.numpy.asarray(1.0).dtype == np.float64
