# Every target that needs tools sets up .venv first when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.hearth-setup

.PHONY: setup demo test lint typecheck unit e2e bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m pip install --quiet --upgrade --target typings 'micropython-esp32-stubs==1.29.*'
	touch $(STAMP)

demo: setup
	$(BIN)/python -m host_tools.demo

lint: setup
	$(BIN)/ruff check .

typecheck: setup
	$(BIN)/pyright -p firmware/pyrightconfig.json
	$(BIN)/pyright

unit: setup
	$(BIN)/pytest -q tests/firmware tests/host

e2e: setup
	$(BIN)/pytest -q tests/e2e

test: lint typecheck
	$(BIN)/pytest -q tests

bench: setup
	$(BIN)/python -m bench.run

clean:
	rm -rf build state .pytest_cache
