# chatgate: every target installs what it needs into .venv first, from the lock.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Every package of the development and test environment (the dev extra, the build backend, uv),
# pinned with hashes, so that a fresh clone installs what CI tested; `make lock` refreshes it.
LOCK := .ci/requirements-dev.lock
LOCKED := $(VENV)/.locked-$(shell cksum < $(LOCK) | cut -d' ' -f1)
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml $(LOCK) | cksum | cut -d' ' -f1)

# The web surfaces (gateway/web): TypeScript sources, built by esbuild into gateway/web/dist,
# which is committed and served by the gateway, so `make run` never needs Node. The tools come
# from gateway/web/package-lock.json (npm ci, again only when the lock changes; no install
# scripts: esbuild's binary comes in its platform package).
WEB := gateway/web
NODE_STAMP := $(WEB)/node_modules/.installed-$(shell cksum < $(WEB)/package-lock.json | cut -d' ' -f1)

.PHONY: install run test lint types fmt cov bench bench-node cluster lock clean web web-test web-check

# The stamps are named by checksum, so what changes them is the content of the lock and of
# pyproject.toml, not a new mtime (`make lock` rewrites the lock even when nothing changed).
# A new lock gets a new .venv, so nothing from the old one stays. Wheels only, every one checked
# against its hash: nothing is built, so no unpinned build dependency is downloaded either.
$(LOCKED):
	$(PYTHON) -m venv --clear $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes --only-binary :all: -r $(LOCK)
	touch $@

# The project itself, editable, built by the locked hatchling with nothing downloaded: if
# pyproject.toml asks for something the lock does not have, this fails.
$(STAMP): $(LOCKED)
	$(BIN)/python -m pip install --quiet --no-index --no-build-isolation -e '.[dev]' || { \
	    echo "make: pyproject.toml asks for more than $(LOCK) has: run make lock" >&2; exit 1; }
	rm -f $(VENV)/.installed-*
	touch $@

install: $(STAMP)

## Start the gateway on 127.0.0.1:8000 (SQLite under ./data, in-process broker).
run: $(STAMP)
	$(BIN)/chatgate serve

## Lint, type-check and run the whole suite (what CI runs), the web unit tests and bundle check included.
## The suite runs on TEST_WORKERS pytest-xdist workers, a test module's tests on one of them,
## the long modules first (tests/conftest.py orders them; xdist keeps that order)
## (TEST_WORKERS=0: in this process, as a plain `.venv/bin/pytest` does).
TEST_WORKERS ?= 2
test: lint types web-test web-check bench-node
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder

$(NODE_STAMP): $(WEB)/package-lock.json
	cd $(WEB) && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	rm -f $(WEB)/node_modules/.installed-*
	touch $@

## Rebuild the committed web bundles (gateway/web/dist) from their sources; commit the result.
web: $(NODE_STAMP)
	cd $(WEB) && node build.mjs

## Check the web sources' format (prettier), types (tsc, strict), and run their unit tests.
web-test: $(NODE_STAMP)
	cd $(WEB) && node_modules/.bin/prettier --check --log-level=warn .
	cd $(WEB) && node_modules/.bin/tsc -p tsconfig.json && node_modules/.bin/tsc -p sdk/tests/tsconfig.json && node_modules/.bin/tsc -p widget/tests/tsconfig.json
	cd $(WEB) && node build.mjs --tests && node --test .build/tests/

## Fail when the committed bundles are not what their sources build.
web-check: $(NODE_STAMP)
	@out=$$(mktemp -d) && trap 'rm -rf "$$out"' EXIT && \
	(cd $(WEB) && node build.mjs --out "$$out") && \
	if ! diff -rq $(WEB)/dist "$$out"; then \
	    echo "make: $(WEB)/dist differs from a fresh build of its sources: run make web and commit $(WEB)/dist" >&2; \
	    exit 1; \
	fi

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

types: $(STAMP)
	$(BIN)/mypy

fmt: $(STAMP) $(NODE_STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .
	cd $(WEB) && node_modules/.bin/prettier --write --log-level=warn .

cov: $(STAMP)
	$(BIN)/pytest --cov --cov-report=term-missing

## A small fanout and chat run against gateways started here; prints each summary.
## Bigger runs: .venv/bin/chatgate bench --help (and docs/performance.md).
bench: $(STAMP)
	$(BIN)/chatgate bench fanout --rooms 10 --members 10 --rate 2000 --duration 5
	$(BIN)/chatgate bench chat --pairs 20 --inboxes 2 --rate 100 --duration 5

## The socket.io baseline's packages (bench/baselines/socketio), from its lock (npm ci, no install
## scripts), when node exists and they are missing or older than the lock; chatgate bench compare
## installs them on demand too.
bench-node: $(STAMP)
	$(BIN)/python -m bench.baselines.node

## Three gateways + a Redis Cluster + PostgreSQL on this machine, until Ctrl-C.
cluster: $(STAMP)
	$(BIN)/python -m bench.cluster

## Refresh the lock to the newest releases that pyproject.toml allows, on purpose, and commit
## it. `make lock UPGRADE=` keeps every pin and only resolves what pyproject.toml changed;
## `make lock UPGRADE='-P redis'` upgrades one package.
UPGRADE ?= --upgrade
lock: $(LOCKED)
	$(BIN)/uv pip compile pyproject.toml --extra dev --group build --group lock --universal \
	    --generate-hashes $(UPGRADE) --custom-compile-command 'make lock' --quiet -o $(LOCK)

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache .coverage htmlcov
	rm -rf $(WEB)/node_modules $(WEB)/.build bench/baselines/socketio/node_modules
