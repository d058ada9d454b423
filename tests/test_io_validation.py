"""validate_curves (one test per message) and frame_hash."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scalefit.errors import ArgumentError, DataValidationError
from scalefit.io import frame_hash, load_curves, validate_curves


def _frame(**changes) -> pd.DataFrame:
    data = {
        "run": [f"r{i}" for i in range(8)],
        "N": [1e8, 2e8, 4e8, 8e8, 1e8, 2e8, 4e8, 8e8],
        "D": [2e9, 2e9, 2e9, 2e9, 8e9, 8e9, 8e9, 8e9],
        "value": [3.4, 3.2, 3.0, 2.9, 3.1, 2.9, 2.7, 2.6],
        "task": ["a", "a", "a", "a", "b", "b", "b", "b"],
    }
    data.update(changes)
    return pd.DataFrame(data)


def test_valid_frame_passes():
    validate_curves(_frame(), inputs=["N", "D"], law="chinchilla", num_params=5)


def test_missing_column_lists_present_columns():
    with pytest.raises(DataValidationError, match=r"missing column `C` \(present: `run`, `N`, `D`, `value`, `task`\)"):
        validate_curves(_frame(), inputs=["N", "C"])


def test_several_missing_columns():
    with pytest.raises(DataValidationError, match=r"missing columns `C`, `step`"):
        validate_curves(_frame(), inputs=["C", "step"])


def test_non_numeric_value():
    with pytest.raises(DataValidationError, match=r"column `N` row 4: 'abc' is not numeric"):
        validate_curves(_frame(N=[1e8, 2e8, 4e8, 8e8, "abc", 2e8, 4e8, 8e8]), inputs=["N", "D"])


def test_nan():
    values = [3.4, 3.2, 3.0, 2.9, 3.1, 2.9, np.nan, 2.6]
    with pytest.raises(DataValidationError, match=r"column `value` row 6: NaN$"):
        validate_curves(_frame(value=values), inputs=["N", "D"])


def test_inf():
    with pytest.raises(DataValidationError, match=r"column `D` row 0: inf"):
        validate_curves(_frame(D=[np.inf] + [2e9] * 7), inputs=["N", "D"])


def test_non_positive_input():
    with pytest.raises(DataValidationError, match=r"column `N` row 3: -5 is not positive \(logs are taken\)"):
        validate_curves(_frame(N=[1e8, 2e8, 4e8, -5, 1e8, 2e8, 4e8, 8e8]), inputs=["N", "D"])


def test_zero_input():
    with pytest.raises(DataValidationError, match=r"column `D` row 1: 0 is not positive \(logs are taken\)"):
        validate_curves(_frame(D=[2e9, 0.0] + [2e9] * 6), inputs=["N", "D"])


def test_non_positive_target_when_logs_are_taken():
    values = [3.4, 3.2, 3.0, 2.9, 3.1, 2.9, 2.7, -0.5]
    with pytest.raises(DataValidationError, match=r"column `value` row 7: -0.5 is not positive \(logs are taken\)"):
        validate_curves(_frame(value=values), inputs=["N", "D"])
    validate_curves(_frame(value=values), inputs=["N", "D"], log_target=False)


def test_extra_positive_column():
    frame = _frame().assign(se=[0.1] * 7 + [0.0])
    with pytest.raises(DataValidationError, match=r"column `se` row 7: 0 is not positive \(must be positive\)"):
        validate_curves(frame, inputs=["N", "D"], positive=["se"])


def test_duplicate_rows():
    frame = _frame(N=[1e8, 2e8, 4e8, 8e8, 1e8, 1e8, 4e8, 8e8], D=[2e9] * 8,
                   value=[3.4, 3.1, 3.0, 2.9, 3.1, 3.1, 2.7, 2.6])
    with pytest.raises(DataValidationError, match=r"duplicate rows 4 and 5: N=1e8, D=2e9, value=3.1$"):
        validate_curves(frame, inputs=["N", "D"])


def test_duplicate_rows_three_times():
    frame = _frame(N=[1e8] * 3 + [8e8] * 5, D=[2e9] * 8, value=[3.4] * 3 + [3.0, 2.9, 2.8, 2.7, 2.6])
    with pytest.raises(DataValidationError, match=r"duplicate rows 0, 1 and 2: N=1e8, D=2e9, value=3.4"):
        validate_curves(frame, inputs=["N", "D"])


def test_rows_equal_in_other_groups_are_not_duplicates():
    frame = _frame(N=[1e8, 2e8, 4e8, 8e8] * 2, D=[2e9] * 8, value=[3.4, 3.2, 3.0, 2.9] * 2)
    validate_curves(frame, inputs=["N", "D"], groups=["task"])
    with pytest.raises(DataValidationError, match=r"duplicate rows 0 and 4"):
        validate_curves(frame, inputs=["N", "D"])


def test_too_few_points_for_a_law():
    with pytest.raises(DataValidationError,
                       match=r"law `chinchilla` has 5 free parameters and needs at least 6 points, got 4$"):
        validate_curves(_frame().iloc[:4], inputs=["N", "D"], law="chinchilla", num_params=5)


def test_too_few_points_with_min_points():
    with pytest.raises(DataValidationError, match=r"too few points: need at least 10, got 8$"):
        validate_curves(_frame(), inputs=["N", "D"], min_points=10)


def test_too_few_points_per_group():
    frame = _frame().iloc[:6]
    with pytest.raises(DataValidationError,
                       match=r"^1 problem: group task=b: law `power` has 2 free parameters and needs at least 3 "
                             r"points, got 2$"):
        validate_curves(frame, inputs=["N"], law="power", num_params=2, groups=["task"])


def test_missing_group_column():
    with pytest.raises(DataValidationError, match=r"missing column `family`"):
        validate_curves(_frame(), inputs=["N"], groups=["family"], min_points=2)


def test_repeated_problems_are_capped():
    frame = pd.DataFrame({"N": [-1.0] * 20, "value": np.linspace(1, 2, 20)})
    with pytest.raises(DataValidationError) as info:
        validate_curves(frame, inputs=["N"])
    assert info.value.problems == [
        "column `N` row 0: -1 is not positive (logs are taken)",
        "column `N` row 1: -1 is not positive (logs are taken)",
        "column `N` row 2: -1 is not positive (logs are taken)",
        "column `N`: and 17 more rows that are not positive",
    ]
    assert str(info.value).startswith("4 problems: ")


def test_every_problem_is_reported_in_one_error():
    frame = pd.DataFrame({
        "N": [1e8, "abc", 3e8, -5.0, 1e8],
        "D": [2e9, 2e9, np.nan, 4e9, 2e9],
        "value": [3.1, 3.0, 2.9, np.inf, 3.1],
    })
    with pytest.raises(DataValidationError) as info:
        validate_curves(frame, inputs=["N", "D", "C"], law="chinchilla", num_params=5)
    assert info.value.problems == [
        "missing column `C` (present: `N`, `D`, `value`)",
        "column `N` row 1: 'abc' is not numeric",
        "column `N` row 3: -5 is not positive (logs are taken)",
        "column `D` row 2: NaN",
        "column `value` row 3: inf",
        "law `chinchilla` has 5 free parameters and needs at least 6 points, got 5",
    ]
    message = str(info.value)
    assert message.startswith("6 problems: ") and "\n" not in message


def test_rows_are_source_rows_of_a_loaded_table():
    source = pd.DataFrame({"N": [1e8, 2e8, 3e8, -4e8], "metric": ["loss", "acc", "loss", "loss"],
                           "value": [3.0, 0.5, 2.9, 2.8]})
    frame = load_curves(source, filter_metric="loss")
    with pytest.raises(DataValidationError, match=r"column `N` row 3: -4e8 is not positive"):
        validate_curves(frame, inputs=["N"])


def test_source_is_named_in_the_error(tmp_path):
    path = tmp_path / "runs.csv"
    pd.DataFrame({"N": [1e8, -1.0], "loss": [3.0, 2.0]}).to_csv(path, index=False)
    with pytest.raises(DataValidationError, match=rf"^1 problem in {re.escape(str(path))}: column `N` row 2: -1 "):
        validate_curves(load_curves(path), inputs=["N"])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"inputs": []}, r"`inputs` must name at least one column"),
        ({"inputs": ["N"], "num_params": -1}, r"`num_params` must be a non-negative integer, got -1"),
        ({"inputs": ["N"], "min_points": 2.5}, r"`min_points` must be a non-negative integer, got 2.5"),
        ({"inputs": ["N"], "target": 3}, r"`target` must be a column name, got 3"),
        ({"inputs": [1, 2]}, r"`inputs` must be a list of column names"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ArgumentError, match=message):
        validate_curves(_frame(), **kwargs)


# ---------------------------------------------------------------------------------- properties


@settings(max_examples=50, deadline=None)
@given(st.data())
def test_every_bad_cell_is_reported(data):
    rows = data.draw(st.integers(4, 15))
    frame = pd.DataFrame({
        "N": np.geomspace(1e7, 1e10, rows),
        "D": np.geomspace(1e9, 1e11, rows)[::-1].copy(),
        "value": np.linspace(4.0, 2.0, rows),
    }).astype(object)
    kinds = {"word": ("'zz'", "is not numeric"), "nan": ("NaN", None), "neg": ("-2", "is not positive")}
    cells = data.draw(st.dictionaries(st.tuples(st.sampled_from(["N", "D", "value"]), st.integers(0, rows - 1)),
                                      st.sampled_from(sorted(kinds)), min_size=1, max_size=3))
    for (column, row), kind in cells.items():
        frame.at[row, column] = {"word": "zz", "nan": np.nan, "neg": -2.0}[kind]
    with pytest.raises(DataValidationError) as info:
        validate_curves(frame, inputs=["N", "D"])
    text = str(info.value)
    for (column, row), kind in cells.items():
        shown, tail = kinds[kind]
        expected = f"column `{column}` row {row}: {shown}" + (f" {tail}" if tail else "")
        assert expected in text


# ---------------------------------------------------------------------------------- frame_hash


def test_frame_hash_is_pinned():
    frame = pd.DataFrame({"N": [1e8, 2e8], "D": [2e9, 4e9], "value": [3.1, 2.9], "run": ["a", "b"]})
    assert frame_hash(frame, ["N", "D", "value", "run"]) == frame_hash(frame.copy(), ["N", "D", "value", "run"])
    # Pinned so that a change of the hashing scheme is a deliberate decision (old results
    # would no longer match their data).
    assert frame_hash(frame, ["N", "value"]) == "ac8f0032ad75c631cf422fbca8ddb17da785e57b40109c4b9ad04ffb96a4c982"


def test_frame_hash_ignores_index_and_storage_type():
    frame = pd.DataFrame({"N": [100, 200], "value": [3.0, 2.0]})
    other = frame.astype({"N": "float64"}).set_axis([10, 11])
    assert frame_hash(frame, ["N", "value"]) == frame_hash(other, ["N", "value"])


def test_frame_hash_sees_values_order_and_columns():
    frame = pd.DataFrame({"N": [1.0, 2.0], "value": [3.0, 2.0]})
    base = frame_hash(frame, ["N", "value"])
    assert frame_hash(frame.assign(value=[3.0, 2.0000000001]), ["N", "value"]) != base
    assert frame_hash(frame.iloc[::-1], ["N", "value"]) != base
    assert frame_hash(frame, ["value", "N"]) != base
    assert frame_hash(frame, ["N"]) != base
    assert frame_hash(frame.rename(columns={"N": "D"}), ["D", "value"]) != base


def test_frame_hash_of_nan_and_negative_zero_is_stable():
    a = pd.DataFrame({"x": [0.0, np.nan]})
    b = pd.DataFrame({"x": [-0.0, float("nan")]})
    assert frame_hash(a, ["x"]) == frame_hash(b, ["x"])


def test_frame_hash_of_text_columns():
    a = pd.DataFrame({"run": ["ab", "c"]})
    b = pd.DataFrame({"run": ["a", "bc"]})
    assert frame_hash(a, ["run"]) != frame_hash(b, ["run"])


def test_frame_hash_missing_column():
    with pytest.raises(ArgumentError, match=r"`columns` names `C`, not in the frame \(present: `N`\)"):
        frame_hash(pd.DataFrame({"N": [1.0]}), ["C"])
