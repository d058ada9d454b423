# scalefit — two commands: `make demo` and `make test` (each sets itself up from the lock).
#   make lock         re-resolve requirements.lock (every direct and transitive dependency, hashed,
#                     one version set for Python 3.11-3.13 on every platform) from pyproject.toml
#   make test-latest  run the suite against the newest versions pyproject's bounds allow
#                     (its own environment, .venv-latest), to find drift on purpose
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
LATEST := .venv-latest
TOOLS  := .venv-tools
UV_VERSION := 0.13.9

.PHONY: demo test setup clean bench lock test-latest

$(STAMP): pyproject.toml requirements.lock
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --no-deps --require-hashes -r requirements.lock
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/scalefit demo

test: $(STAMP)
	$(PY) -m pytest -q -n 2 --dist loadfile

bench: $(STAMP)
	$(PY) benchmarks/run.py

lock:
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet uv==$(UV_VERSION)
	printf 'setuptools>=68\nwheel\n' | $(TOOLS)/bin/uv pip compile pyproject.toml - --extra test \
	    --universal --fork-strategy fewest --python-version 3.11 --generate-hashes --no-header \
	    --upgrade -o requirements.lock

test-latest:
	rm -rf $(LATEST)
	$(PYTHON) -m venv $(LATEST)
	$(LATEST)/bin/python -m pip install --quiet --upgrade pip
	$(LATEST)/bin/python -m pip install --quiet --upgrade --upgrade-strategy eager -e ".[test]"
	$(LATEST)/bin/python -m pip freeze --exclude-editable
	$(LATEST)/bin/python -m pytest -q -n 2 --dist loadfile

clean:
	rm -rf $(VENV) $(LATEST) $(TOOLS) .pytest_cache .hypothesis
