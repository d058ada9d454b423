"""Shared test fixtures.

Real public datasets live in ``../shared/data`` beside the checkout (never copied into this
repository).  Tests that need them take the ``shared_data`` fixture: where the folder is
absent they skip with a clear reason, except under CI (``CI=true``) where a missing folder is a
failure, so that they can never skip silently.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import scalefit

scalefit.enable_x64()

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("SCALEFIT_SHARED_DATA", REPO.parent / "shared" / "data"))


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Path to ``../shared/data``; skip (locally) or fail (under CI=true) when it is missing."""
    if not SHARED_DATA.is_dir():
        msg = (
            f"real datasets not found at {SHARED_DATA}: place the shared/ folder beside the "
            "checkout or set SCALEFIT_SHARED_DATA"
        )
        if _in_ci():
            pytest.fail(msg + " (CI=true: these tests must not skip)")
        pytest.skip(msg)
    return SHARED_DATA
