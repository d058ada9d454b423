"""Progress bars that show in a terminal or a notebook and stay quiet when piped or under tests."""

from __future__ import annotations

import contextlib
import os
import sys


def progress_enabled(enabled: bool | None = None) -> bool:
    if enabled is not None:
        return bool(enabled)
    if os.environ.get("SCALEFIT_PROGRESS", "").lower() in {"0", "false", "no"}:
        return False
    if "PYTEST_CURRENT_TEST" in os.environ:
        return False
    return _in_notebook() or bool(getattr(sys.stderr, "isatty", lambda: False)())


def _in_notebook() -> bool:
    """True inside a Jupyter kernel (where stderr is no terminal but tqdm.auto draws a widget)."""
    shell = sys.modules.get("IPython")
    if shell is None:
        return False
    try:
        ip = shell.get_ipython()
    except Exception:  # noqa: BLE001 - an IPython without a running shell
        return False
    return ip is not None and "IPKernelApp" in getattr(ip, "config", {})


class _Null:
    def update(self, n=1):
        pass


@contextlib.contextmanager
def progress_bar(total: int, desc: str, enabled: bool | None = None):
    if not progress_enabled(enabled):
        yield _Null()
        return
    from tqdm.auto import tqdm

    bar = tqdm(total=total, desc=desc, leave=False, file=sys.stderr)
    try:
        yield bar
    finally:
        bar.close()
