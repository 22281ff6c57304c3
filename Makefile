# The two commands a newcomer needs:
#   make run    set everything up and run a region (and, later, a local cluster)
#   make test   the whole test suite, with its own private PostgreSQL
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test venv system-deps test-deps lint compose-config clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

# Debian packages the region needs to run (PostgreSQL server binaries).
system-deps:
	@tools/system-deps.sh run

# Debian packages the tests drive as real peers.
test-deps:
	@tools/system-deps.sh test

run: venv system-deps
	@tools/run-dev.sh

test: venv system-deps test-deps
	$(BIN)/pytest $(PYTEST_ARGS)

lint: venv
	$(BIN)/ruff check region cluster rpc power bench tools

compose-config:
	docker-compose config --quiet

clean:
	-tools/pgcluster.py stop .run/pg
	rm -rf .run $(VENV)
