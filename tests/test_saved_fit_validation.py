"""Property tests (hypothesis) over the saved-fit readers and the CLI's argument parsing.

Each generated case is malformed by construction (a required key removed, a value of another
JSON type, a non-finite number, an out-of-range flag value ...), and each must raise the
package's own error (:class:`~scalefit.errors.ScalefitError`, or the CLI's usage error) with a
message naming the key, file or flag.  Parsing and validation only: no fit runs here.  About
800 generated cases per run (the ``max_examples`` below)."""

from __future__ import annotations

import copy
import json
import math
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scalefit._cliargs import UsageError
from scalefit.errors import ScalefitError
from scalefit.fit import FitResult
from scalefit.sampling import BonFit

CORPUS = Path(__file__).resolve().parent / "corpus"
FIT = json.loads((CORPUS / "valid_fit.json").read_text())
BON = json.loads((CORPUS / "valid_bon.json").read_text())["groups"][0]["fit"]

def fast(n: int):
    """``n`` examples, no per-example deadline (a shared CI machine may be slow)."""
    return settings(max_examples=n, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _kind(v) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, (int, float)):
        return "number"
    return {str: "str", list: "list", dict: "object"}[type(v)]


SCALARS = {
    "null": st.none(),
    "bool": st.booleans(),
    "number": st.one_of(st.integers(-10**6, 10**6), st.floats(allow_nan=False, allow_infinity=False)),
    "str": st.text(max_size=8),
}
JSON = st.recursive(st.one_of(*SCALARS.values()),
                    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=4), inner,
                                                                                           max_size=3)),
                    max_leaves=6)


def other_kind(value, *, null_ok: bool = False):
    """JSON values of another kind than ``value`` (a non-finite number in place of a number)."""
    kind = _kind(value)
    out = JSON.filter(lambda v: _kind(v) != kind and not (null_ok and v is None))
    if kind == "number":
        out = st.one_of(out, st.sampled_from([math.nan, math.inf, -math.inf]))
    return out


# keys of a saved point fit that may be absent (older files), or are not read (natural_params:
# recomputed from params), or may be null
FIT_OPTIONAL = {"version", "metadata", "bootstrap", "natural_params"}
FIT_NULLABLE = {"objective", "objective_scaled", "grad_norm"}
FIT_KEYS = sorted(k for k in FIT if k not in FIT_OPTIONAL)


def _raises_naming(build, record, needle: str):
    with pytest.raises(ScalefitError) as info:
        build(record)
    assert needle in str(info.value), (needle, str(info.value))
    assert "\n" not in str(info.value)


@fast(150)
@given(key=st.sampled_from(FIT_KEYS), data=st.data())
def test_point_fit_with_a_key_of_the_wrong_type(key, data):
    record = copy.deepcopy(FIT)
    record[key] = data.draw(other_kind(FIT[key], null_ok=key in FIT_NULLABLE))
    _raises_naming(FitResult.from_dict, record, f"`{key}")


@fast(60)
@given(keys=st.sets(st.sampled_from(FIT_KEYS), min_size=1, max_size=4))
def test_point_fit_missing_keys_are_all_listed(keys):
    record = {k: v for k, v in copy.deepcopy(FIT).items() if k not in keys}
    if "format" in keys:  # without its format a record is not recognised as a fit at all
        _raises_naming(FitResult.from_dict, record, "`format`")
        return
    with pytest.raises(ScalefitError) as info:
        FitResult.from_dict(record)
    for k in keys:
        assert f"missing `{k}" in str(info.value)  # `law` is reported as `law.name`


PARAMS = sorted(FIT["params"])


@fast(100)
@given(name=st.sampled_from(PARAMS), data=st.data())
def test_point_fit_parameter_not_a_finite_number(name, data):
    record = copy.deepcopy(FIT)
    record["params"][name] = data.draw(other_kind(1.0))
    _raises_naming(FitResult.from_dict, record, f"`params.{name}`")


@fast(60)
@given(part=st.sampled_from(["columns", "data", "index"]), data=st.data())
def test_point_fit_frame_parts_of_the_wrong_type(part, data):
    record = copy.deepcopy(FIT)
    record["frame"][part] = data.draw(other_kind([]))
    _raises_naming(FitResult.from_dict, record, "`frame")


@fast(60)
@given(row=st.integers(0, len(FIT["frame"]["data"]) - 1), data=st.data())
def test_point_fit_frame_input_cell_not_a_number(row, data):
    record = copy.deepcopy(FIT)
    j = record["frame"]["columns"].index(record["inputs"]["x"])
    record["frame"]["data"][row][j] = data.draw(other_kind(1.0))
    _raises_naming(FitResult.from_dict, record, f"row {row}")


BON_KEYS = sorted(k for k in BON if k != "metadata")
DATA_LISTS = ["n", "k", "extra", "attempts"]


@fast(100)
@given(key=st.sampled_from([k for k in BON_KEYS if k != "format"]), data=st.data())
def test_best_of_n_fit_with_a_key_of_the_wrong_type(key, data):
    record = copy.deepcopy(BON)
    record[key] = data.draw(other_kind(BON[key]))
    _raises_naming(BonFit.from_dict, record, f"`{key}")


@fast(80)
@given(column=st.sampled_from(DATA_LISTS), i=st.integers(0, len(BON["data"]["n"]) - 1),
       bad=st.one_of(st.integers(max_value=-1), st.floats(allow_nan=True).filter(lambda v: not float(v).is_integer()),
                     st.text(max_size=5), st.none(), st.booleans()))
def test_best_of_n_counts_not_integers(column, i, bad):
    record = copy.deepcopy(BON)
    record["data"][column][i] = bad
    _raises_naming(BonFit.from_dict, record, f"`data.{column}[{i}]`")


@fast(60)
@given(content=st.one_of(st.binary(max_size=64), st.text(max_size=64).map(str.encode),
                         JSON.map(lambda v: json.dumps(v).encode())))
def test_any_file_content_is_a_user_error_naming_the_file(content):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "saved.json"
        path.write_bytes(content)
        with pytest.raises(ScalefitError) as info:
            FitResult.from_json(path)
        assert str(path) in str(info.value)


# ------------------------------------------------------------------------------ CLI parsing
@pytest.fixture(scope="module")
def parser():
    from scalefit.cli import build_parser

    return build_parser()


def _not_a_number(text: str) -> bool:
    try:
        return not math.isfinite(float(text))
    except ValueError:
        return True


NOT_NUMBERS = st.one_of(st.text(min_size=1, max_size=8).filter(lambda t: "," not in t and _not_a_number(t)),
                        st.sampled_from(["nan", "inf", "-inf", "1e400", "", "0x10"]))
NEGATIVE = st.integers(max_value=-1).map(str)
FRACTIONAL = st.floats(allow_nan=False, allow_infinity=False).filter(lambda v: not v.is_integer()).map(repr)

#: (command line before the flag, flag, strategy of values that flag must refuse)
FLAG_CASES = [
    (["passk", "d.csv", "--k", "1"], "--level", st.one_of(NOT_NUMBERS, st.floats(min_value=1.0).map(repr),
                                                           st.floats(max_value=0.0).map(repr))),
    (["passk", "d.csv", "--k", "1"], "--bootstrap", st.one_of(NOT_NUMBERS, NEGATIVE, FRACTIONAL, st.just("0"))),
    (["passk", "d.csv", "--k", "1"], "--seed", st.one_of(NOT_NUMBERS, NEGATIVE, FRACTIONAL,
                                                          st.integers(min_value=2**32).map(str))),
    (["bon", "fit", "d.csv"], "--repeats", st.one_of(NOT_NUMBERS, NEGATIVE, FRACTIONAL, st.just("0"))),
    (["bon", "fit", "d.csv"], "--fraction", st.one_of(NOT_NUMBERS, NEGATIVE, st.sampled_from(["0", "1", "2.5"]))),
    (["bon", "predict", "--fit", "f.json"], "--N", st.one_of(NOT_NUMBERS, NEGATIVE, st.just("0.5"))),
    (["backtest", "d.csv", "--N", "10"], "--fit-budget", st.one_of(NOT_NUMBERS, NEGATIVE, st.sampled_from(["0", "1"]))),
    (["fit", "d.csv"], "--delta", st.one_of(NOT_NUMBERS, st.floats(max_value=0.0).map(repr))),
    (["fit", "d.csv"], "--breaks", st.one_of(NOT_NUMBERS, NEGATIVE, FRACTIONAL, st.just("0"))),
    (["fit", "d.csv", "--method", "bayes"], "--chains", st.one_of(NOT_NUMBERS, NEGATIVE, st.just("0"))),
    (["optimal", "f.json"], "--C", st.one_of(NOT_NUMBERS, st.floats(max_value=0.0).map(repr))),
    (["bon", "fit", "d.csv"], "--bootstrap", st.one_of(NOT_NUMBERS, NEGATIVE, st.integers(1, 19).map(str))),
]


@fast(150)
@given(case=st.sampled_from(range(len(FLAG_CASES))), data=st.data())
def test_bad_flag_values_are_refused_while_parsing(parser, case, data):
    head, flag, values = FLAG_CASES[case]
    value = data.draw(values)
    with pytest.raises(UsageError) as info:
        parser.parse_args(head + [f"{flag}={value}"])
    msg = str(info.value)
    assert f"argument {flag}: got " in msg and "\n" not in msg
    assert repr(value) in msg
