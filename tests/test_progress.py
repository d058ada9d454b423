"""Progress bars: shown in a Jupyter kernel and on a terminal, quiet when piped or under tests."""

from __future__ import annotations

import os

import nbformat
from nbclient import NotebookClient

from scalefit.fit._progress import progress_enabled


def test_quiet_under_tests_and_when_piped():
    assert "PYTEST_CURRENT_TEST" in os.environ
    assert progress_enabled() is False
    assert progress_enabled(True) is True


def test_a_notebook_kernel_counts_as_interactive():
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(
        "import os; os.environ.pop('PYTEST_CURRENT_TEST', None)\n"
        "from scalefit.fit._progress import progress_enabled, _in_notebook\n"
        "print(_in_notebook(), progress_enabled())")]
    NotebookClient(nb, timeout=300, kernel_name="python3").execute()
    assert nb.cells[0].outputs[0]["text"].strip() == "True True"
