# chatgate: every target installs what it needs into .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: install run test lint types fmt cov cluster clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-*
	touch $(STAMP)

install: $(STAMP)

## Start the gateway on 127.0.0.1:8000 (SQLite under ./data, in-process broker).
run: $(STAMP)
	$(BIN)/chatgate serve

## Lint, type-check and run the whole suite (what CI runs).
test: lint types
	$(BIN)/pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

types: $(STAMP)
	$(BIN)/mypy

fmt: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

cov: $(STAMP)
	$(BIN)/pytest --cov --cov-report=term-missing

## Three gateways + a Redis Cluster + PostgreSQL on this machine, until Ctrl-C.
cluster: $(STAMP)
	$(BIN)/python -m bench.cluster

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache .coverage htmlcov
