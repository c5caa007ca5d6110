# Every target that needs tools sets up .venv first when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# TEST_JOBS=2 runs test files two at a time (a file's boards and fixtures stay in one
# worker): about 10 min instead of 17, as the suite mostly waits on real-time virtual
# boards. Not the default: at two at a time on 2 cores, a few timing tests (step counts
# at the end of a move, a MAVLink ack) failed in one full run of three.
TEST_JOBS ?= 0
STAMP := $(VENV)/.hearth-setup

.PHONY: setup interp labgrid demo test lint typecheck unit e2e peer bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m pip install --quiet --upgrade --target typings 'micropython-esp32-stubs==1.28.*'
	touch $(STAMP)

# The ESP32-faithful MicroPython (32-bit unix port, variant hearth_esp32), cached in
# build/interp/: built once, a few seconds to minutes; HEARTH_INTERP=unix64 skips it.
interp: setup
	@if [ "$$HEARTH_INTERP" != unix64 ]; then $(BIN)/python -m host_tools.interp build >/dev/null; fi

# labgrid (coordinator, exporter, labgrid-client) in a venv of its own: its pip install
# brings pyserial-labgrid, which replaces the `serial` module hearth's venv uses.
# hearth runs its labgrid-client (host_tools/labgrid.py); tests/e2e/test_labgrid.py
# runs its coordinator and exporter.
LABGRID_VENV := .venv-labgrid
LABGRID_STAMP := $(LABGRID_VENV)/.hearth-labgrid

labgrid: $(LABGRID_STAMP)

$(LABGRID_STAMP):
	$(PYTHON) -m venv $(LABGRID_VENV)
	$(LABGRID_VENV)/bin/python -m pip install --quiet 'labgrid==26.0.*'
	touch $(LABGRID_STAMP)

demo: setup interp
	$(BIN)/python -m host_tools.demo

lint: setup
	$(BIN)/ruff check .

typecheck: setup
	$(BIN)/pyright -p firmware/pyrightconfig.json
	$(BIN)/pyright

unit: setup interp
	$(BIN)/pytest -q tests/firmware tests/host

e2e: setup interp labgrid
	$(BIN)/pytest -q tests/e2e

test: lint typecheck interp labgrid
	$(BIN)/pytest -q tests -n $(TEST_JOBS) --dist loadfile

# MicroPython's own suites against virtual boards (tests/peer): `make test` runs their
# quick subset; this runs all of mpremote's scripts and a larger run-tests.py subset.
peer: setup interp
	HEARTH_PEER=full $(BIN)/pytest -q tests/peer

bench: setup interp labgrid
	$(BIN)/python -m bench.run

clean:
	rm -rf state .pytest_cache
	find build -mindepth 1 -maxdepth 1 ! -name interp -exec rm -rf {} + 2>/dev/null || true
