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

# share compiled programs between test processes (xdist workers) and runs
import jax  # noqa: E402

jax.config.update("jax_compilation_cache_dir", str(Path(__file__).resolve().parents[1] / ".jax_cache"))
jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.5)

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("SCALEFIT_SHARED_DATA", REPO.parent / "shared" / "data"))


# xdist already runs one test process per core: grouped best-of-N work in the tests runs one group
# at a time (tests that check the threads set SCALEFIT_THREADS themselves)
os.environ.setdefault("SCALEFIT_THREADS", "1")

#: the slowest test files (seconds on 2 cores, `--durations` of 2026-12-06), run first: `make
#: test` hands whole files to its 2 workers in collection order, so a long file collected last
#: (the notebooks: about 4 minutes) would leave one worker idle at the end
SLOW_FILES = ("test_notebooks.py", "test_chain.py", "test_bayes_betabinom.py", "test_cli.py", "test_bayes_compare.py",
              "test_batch.py", "test_pooled.py", "test_reproducible.py", "test_bayes_pooled.py", "test_fit_bounds.py",
              "test_sampling_censored.py", "test_bayes_calibration.py", "test_report_layout.py", "test_fit_recovery.py",
              "test_install.py", "test_report_posterior.py", "test_devices.py", "test_family_registry.py")


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(SLOW_FILES)}
    items.sort(key=lambda item: rank.get(item.path.name, len(SLOW_FILES)))  # stable: file order kept otherwise


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


class _CompileCounter:
    """Counts XLA compilations (``jax.log_compiles``) inside a ``with`` block."""

    def __init__(self):
        import logging

        self.messages: list[str] = []
        counter = self

        class _Handler(logging.Handler):
            def emit(self, record):
                msg = record.getMessage()
                if "ompiling" in msg:
                    counter.messages.append(msg)

        self._handler = _Handler()

    def __enter__(self):
        import logging

        self._ctx = jax.log_compiles()
        self._ctx.__enter__()
        logging.getLogger("jax").addHandler(self._handler)
        return self

    def __exit__(self, *exc):
        import logging

        logging.getLogger("jax").removeHandler(self._handler)
        self._ctx.__exit__(*exc)
        return False


@pytest.fixture
def count_compiles():
    return _CompileCounter
