"""Argument parsing shared by every ``scalefit`` command.

* :class:`OneLineParser`: usage errors are one line (``scalefit passk: argument --level: ...``).
* Value types (:func:`number`, :func:`number_list`, :data:`LEVEL`, :data:`SEED` ...) check a flag's
  value while parsing, so a bad value is rejected before any work with the flag and the value
  named.
* Errors raised by the Python API name its arguments in backticks (item, format=); a command
  declares which API names its flags stand for (``add_argument("--n-col", api="n")``) and
  :func:`cli_wording` rewrites such an error in the command's own terms (--n-col).  Every
  flag's ``dest`` is also recognised in the keyword form (batch_size= -> --batch-size); a bare
  name is rewritten only where declared and where it is the subject of the message, since a
  bare name in backticks may also be a column of the user's file.
"""

from __future__ import annotations

import argparse
import math
import re
from typing import Callable, Mapping

__all__ = ["OneLineParser", "UsageError", "cli_wording", "number", "number_list", "LEVEL", "SEED", "POSITIVE_INT",
           "COUNT", "POSITIVE"]


class UsageError(Exception):
    """A command line argparse rejects (printed as one line, exit code 2)."""


def _display(action: argparse.Action) -> str:
    if action.option_strings:
        return max(action.option_strings, key=len)
    return str(action.metavar or action.dest.upper())


class OneLineParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line and whose ``add_argument`` accepts
    ``api=NAME`` or ``api=(NAME, ...)``: the Python API's names for the flag's value.

    The parsed namespace carries ``flag_names`` (name -> (flag, bare)) of the command that
    ran, for :func:`cli_wording`."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.flag_names: dict[str, tuple[str, bool]] = {}
        self.set_defaults(flag_names=self.flag_names)

    def error(self, message):
        raise UsageError(f"{self.prog}: {message} (see `{self.prog} --help`)")

    def _note(self, action: argparse.Action, api) -> argparse.Action:
        flag = _display(action)
        if action.dest not in (argparse.SUPPRESS, "help"):
            self.flag_names.setdefault(action.dest, (flag, False))
        for name in (api,) if isinstance(api, str) else tuple(api):
            self.flag_names[name] = (flag, True)
        return action

    def add_argument(self, *args, api=(), **kwargs):
        return self._note(super().add_argument(*args, **kwargs), api)

    def add_argument_group(self, *args, **kwargs):
        group = super().add_argument_group(*args, **kwargs)
        add = group.add_argument

        def add_argument(*a, api=(), **kw):
            return self._note(add(*a, **kw), api)

        group.add_argument = add_argument
        return group


#: a backticked name: keyword form (`item=`), or bare where it is the subject of the message
#: (its start, after "; ") or takes a value (`level` = 1.5, `source`: ...); a bare name
#: elsewhere, e.g. in a list of the file's columns, is left alone
_NAME = re.compile(r"`([A-Za-z_][A-Za-z0-9_]*)(=?)`")
_SUBJECT_BEFORE = re.compile(r"(^|;\s*)$")
_SUBJECT_AFTER = re.compile(r"^(\s?=|:)")


def cli_wording(message: str, flags: Mapping[str, tuple[str, bool]] | None) -> str:
    """``message`` with the API's argument names replaced by the command's flags.

    >>> flags = {"item": ("--item", True), "batch_size": ("--batch-size", False), "loss": ("--loss", False)}
    >>> cli_wording("`item` names no column; name it with `item=` or `batch_size=`; available: `item`, `loss`", flags)
    '`--item` names no column; name it with `--item` or `--batch-size`; available: `item`, `loss`'
    """
    if not flags:
        return message

    def swap(m: re.Match) -> str:
        entry = flags.get(m.group(1))
        if entry is None:
            return m.group(0)
        keyword = bool(m.group(2))
        subject = entry[1] and (_SUBJECT_BEFORE.search(m.string[:m.start()]) is not None
                                or _SUBJECT_AFTER.match(m.string[m.end():]) is not None)
        return f"`{entry[0]}`" if keyword or subject else m.group(0)

    return _NAME.sub(swap, message)


# ------------------------------------------------------------------------------ value types
def _bounds_text(lo, hi, lo_open, hi_open) -> str:
    def g(x) -> str:
        return str(x) if isinstance(x, int) else f"{x:g}"

    if lo is not None and hi is not None:
        if lo_open and hi_open:
            return f"strictly between {g(lo)} and {g(hi)}"
        return f"in [{g(lo)}, {g(hi)}]"
    if lo is not None:
        return f"{'>' if lo_open else '>='} {g(lo)}"
    if hi is not None:
        return f"{'<' if hi_open else '<='} {g(hi)}"
    return "finite"


def _parse_one(text: str, integer: bool):
    """-> the number, or None.  Integers may be written 1e3 (an integral float)."""
    text = str(text).strip()
    try:
        return int(text) if integer else float(text)
    except ValueError:
        pass
    if integer:
        try:
            v = float(text)
        except ValueError:
            return None
        return int(v) if math.isfinite(v) and v.is_integer() else None
    return None


def number(*, integer: bool = False, lo=None, hi=None, lo_open: bool = False, hi_open: bool = False,
           what: str | None = None) -> Callable[[str], float]:
    """An argparse ``type=`` accepting one finite number in the given range."""
    desc = what or f"{'an integer' if integer else 'a number'} {_bounds_text(lo, hi, lo_open, hi_open)}"

    def ok(v) -> bool:
        if v is None or not math.isfinite(v):
            return False
        if lo is not None and (v < lo or (lo_open and v == lo)):
            return False
        return not (hi is not None and (v > hi or (hi_open and v == hi)))

    def parse(text: str):
        v = _parse_one(text, integer)
        if not ok(v):
            raise argparse.ArgumentTypeError(f"got {text!r}; expected {desc}")
        return v

    parse.__name__ = desc
    parse.ok = ok  # type: ignore[attr-defined]
    return parse


def number_list(*, integer: bool = False, lo=None, hi=None, lo_open: bool = False, hi_open: bool = False,
                what: str | None = None) -> Callable[[str], list]:
    """An argparse ``type=`` for comma-separated numbers, each checked like :func:`number`."""
    one = number(integer=integer, lo=lo, hi=hi, lo_open=lo_open, hi_open=hi_open)
    desc = what or (f"comma-separated {'integers' if integer else 'numbers'} "
                    f"{_bounds_text(lo, hi, lo_open, hi_open)}")

    def parse(text: str) -> list:
        parts = [p.strip() for p in str(text).split(",")]
        values = [_parse_one(p, integer) for p in parts]
        bad = next((p for p, v in zip(parts, values) if not one.ok(v)), None)  # type: ignore[attr-defined]
        if bad is not None or not parts:
            shown = f"{bad!r} in {text!r}" if len(parts) > 1 else repr(text)
            raise argparse.ArgumentTypeError(f"got {shown}; expected {desc}")
        return values

    parse.__name__ = desc
    return parse


LEVEL = number(lo=0.0, hi=1.0, lo_open=True, hi_open=True)
SEED = number(integer=True, lo=0, hi=2**32 - 1)
POSITIVE_INT = number(integer=True, lo=1)
COUNT = number(integer=True, lo=0)
POSITIVE = number(lo=0.0, lo_open=True)


def _replicates(text: str) -> int:
    """Bootstrap replicates behind percentile intervals: 0 (no intervals) or at least 20."""
    value = COUNT(text)
    if 0 < value < 20:
        raise argparse.ArgumentTypeError(f"got {text!r}; expected 0 (no intervals) or an integer >= 20")
    return value


REPLICATES = _replicates


def parse_assignments(text: str, argument: str) -> dict[str, str]:
    """``"a=1,b=2"`` -> ``{"a": "1", "b": "2"}``; a part without ``=`` is an error naming ``argument``."""
    from .errors import ArgumentError

    out = {}
    for part in [p for p in text.split(",") if p.strip()]:
        if "=" not in part:
            raise ArgumentError(f"`{argument}` expects NAME=VALUE[,NAME=VALUE...], got {part!r}")
        k, v = part.split("=", 1)
        out[k.strip()] = v.strip()
    return out
