"""The naming table (docs/naming.md) applied: the table's names are the primary ones and each
older name still works, as a keyword that warns (DeprecationWarning) or as a column beside its
replacement with the same values; files saved by 0.1 keep loading."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from scalefit.errors import ArgumentError
from scalefit.sampling import asr_budget_exact, saber_budget_anchored, saber_budget_plugin


@pytest.mark.parametrize("func, args", [(asr_budget_exact, dict(a=0.4, b=4.0)),
                                        (saber_budget_plugin, dict(a=0.4, b=4.0)),
                                        (saber_budget_anchored, dict(n=100, asr_at_n=0.7, a=0.4))])
def test_tau_is_a_deprecated_name_of_rate(func, args):
    new = func(rate=0.95, **args)
    with pytest.warns(DeprecationWarning, match="`tau` is deprecated, use `rate`"):
        old = func(tau=0.95, **args)
    assert old == new  # the same call: the keyword is only renamed
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the table's name never warns
        assert func(0.95, *args.values()) == new
    with pytest.raises(ArgumentError, match="give `rate` only"):
        func(rate=0.9, tau=0.95, **args)


def test_rate_errors_name_rate():
    with pytest.raises(ArgumentError, match="`rate`"):
        saber_budget_plugin(1.5, 0.4, 4.0)


def test_budget_forecast_saved_by_0_1_gets_its_rate_column():
    from scalefit.sampling.bonfit import BudgetForecast

    old = {"table": {"target_rate": [0.5, 0.9], "estimate": [120.0, "inf"], "lower": [80.0, 900.0],
                     "upper": [200.0, "inf"]},
           "level": 0.9, "target": "fresh", "model": "beta", "num_bootstrap": 40, "seed": 0}
    bf = BudgetForecast.from_dict(old)
    t = bf.predict()
    assert list(t.columns[:4]) == ["rate", "estimate", "lower", "upper"]
    np.testing.assert_array_equal(t["rate"], t["target_rate"])
    assert np.isinf(t["estimate"].iloc[1])
    assert "rate 0.9: N = inf" in str(bf.summary())


def test_plot_sampling_curve_takes_the_table_names():
    import inspect

    from scalefit.plots import plot_sampling_curve

    params = inspect.signature(plot_sampling_curve).parameters
    assert "estimate" in params and "rate" in params
    assert "prediction" not in params and "target_value" not in params  # deprecated keywords only
