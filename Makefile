# chatgate: every target installs what it needs into .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: install run test lint types fmt cov bench cluster clean

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
	$(BIN)/lint-imports

types: $(STAMP)
	$(BIN)/mypy

fmt: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

cov: $(STAMP)
	$(BIN)/pytest --cov --cov-report=term-missing

## A small fanout and chat run against gateways started here; prints each summary.
## Bigger runs: .venv/bin/chatgate bench --help (and docs/performance.md).
bench: $(STAMP)
	$(BIN)/chatgate bench fanout --rooms 10 --members 10 --rate 2000 --duration 5
	$(BIN)/chatgate bench chat --pairs 20 --inboxes 2 --rate 100 --duration 5

## Three gateways + a Redis Cluster + PostgreSQL on this machine, until Ctrl-C.
cluster: $(STAMP)
	$(BIN)/python -m bench.cluster

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache .coverage htmlcov
