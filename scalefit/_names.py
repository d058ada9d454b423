"""Older public names that keep working (docs/naming.md): a keyword renamed to the naming
table's name still accepts its old spelling, with a :class:`DeprecationWarning`."""

from __future__ import annotations

import functools
import warnings

from .errors import ArgumentError


def renamed_args(**renames: str):
    """Decorator: keyword ``old=value`` of the decorated function is passed on as ``new=value``
    (``renames`` maps old -> new) with a DeprecationWarning; both at once is an
    :class:`~scalefit.errors.ArgumentError`.  The signature shows the new names only.

    >>> @renamed_args(tau="rate")
    ... def budget(rate):
    ...     return rate
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     budget(tau=0.5), caught[0].category.__name__
    (0.5, 'DeprecationWarning')
    """
    def decorate(func):
        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            for old, new in renames.items():
                if old in kwargs:
                    if new in kwargs:
                        raise ArgumentError(f"give `{new}` only (`{old}` is its deprecated name)")
                    warnings.warn(f"{func.__name__}: `{old}` is deprecated, use `{new}` (docs/naming.md)",
                                  DeprecationWarning, stacklevel=2)
                    kwargs[new] = kwargs.pop(old)
            return func(*args, **kwargs)

        return wrapper

    return decorate
