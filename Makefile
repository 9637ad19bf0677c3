# `make demo` and `make test` work on a fresh machine: they create .venv and install what they need,
# at the exact versions in constraints.txt (the ones CI tested; `make lock` writes it anew).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CONSTRAINTS := constraints.txt

.PHONY: demo test smoke lint lock clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.demo-installed: pyproject.toml $(CONSTRAINTS) | $(BIN)/python
	$(BIN)/python -m pip install --quiet --constraint $(CONSTRAINTS) --editable .
	touch $@

$(VENV)/.test-installed: pyproject.toml $(CONSTRAINTS) | $(BIN)/python
	$(BIN)/python -m pip install --quiet --constraint $(CONSTRAINTS) --editable '.[test]'
	touch $@ $(VENV)/.demo-installed

demo: $(VENV)/.demo-installed
	$(BIN)/relay demo

test: $(VENV)/.test-installed
	$(BIN)/pytest

# The production path: build the wheel, install it without the test extras into a clean venv,
# and run api, worker and scheduler on PostgreSQL + Redis and PostgreSQL + RabbitMQ.
smoke: $(VENV)/.test-installed
	$(BIN)/pytest -m smoke tests/smoke

lint: $(VENV)/.test-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Pin every dependency (main and the test extra) for every platform, from pyproject.toml.
# Pins still allowed stay as they are; `make lock LOCK_FLAGS=--upgrade` takes the newest.
lock: | $(BIN)/python
	$(BIN)/python -m pip install --quiet 'uv>=0.5'
	$(BIN)/uv pip compile pyproject.toml --extra test --universal --python-version 3.11 \
		--custom-compile-command 'make lock' --quiet $(LOCK_FLAGS) --output-file $(CONSTRAINTS)

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
