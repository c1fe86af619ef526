# tracegraph — the README's two commands are `make demo` and `make test`.
SHELL := /bin/bash
VENV ?= .venv
PYTHON ?= $(shell command -v python3.11 || command -v python3)
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# our packages (pyproject.toml): their docstring examples run with the tests (--doctest-modules)
PACKAGES := ontology shapes graph quality ingest tracegraph api bench

.PHONY: format-check help system-deps install explorer demo test test-fast lint neo4j-launcher neo4j-start neo4j-stop bench-load clean

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk -F':.*?## ' '{printf "  %-16s %s\n", $$1, $$2}'

system-deps: ## install the Debian packages the tests need (tools/debian-packages.txt)
	tools/system-deps

install: $(STAMP) ## create .venv and install tracegraph with its pinned dependencies

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

explorer: ## build the explorer page's front end (npm ci, vendor files into api/explorer/vendor)
	tools/build-explorer

demo: install explorer ## (re)generate the demo plant in data/demo (no other store is touched) and serve it (prints the URL)
	$(BIN)/tracegraph demo --reset

neo4j-launcher: ## build the Neo4j test-server launcher (Maven, neo4j-harness)
	tools/neo4j-test-server build

neo4j-start: neo4j-launcher ## start a local Neo4j test server (URI in .cache/neo4j/uri)
	tools/neo4j-test-server start

neo4j-stop: ## stop the local Neo4j test server
	tools/neo4j-test-server stop

lint: install ## ruff and mypy --strict on our packages
	$(BIN)/ruff check .
	$(BIN)/mypy

format-check: install ## ruff format --check (not yet part of lint: the tree is not formatted yet)
	$(BIN)/ruff format --check .

test: system-deps install explorer neo4j-launcher lint ## install everything and run the whole suite on both engines
	tools/run-tests

test-fast: install ## unit tests and the packages' docstring examples, no services
	$(BIN)/pytest -q tests/unit $(PACKAGES)

bench-load: install ## generate MD-S and time `tracegraph load` into a fresh SQLite store
	bench/load.sh

clean: ## remove generated data, caches and the venv
	rm -rf data test-output explorer/node_modules api/explorer/vendor .cache .pytest_cache .mypy_cache .ruff_cache $(VENV)
