# perfbook — two commands on a fresh machine:  make run   and   make test
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
FAULT ?=
STAMP := $(VENV)/.installed
CORE := .venv-core

.PHONY: run test venv test-deps test-core test-node system-deps lint clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/pip install -q --disable-pip-version-check -e '.[all,test]'
	touch $(STAMP)

venv: $(STAMP)

## run: set up, start the lab under light traffic, triage it (FAULT=name to inject one), stop it (KEEP=1 keeps it)
run: venv
	bash scripts/system-deps.sh lab
	$(BIN)/perfbook lab demo $(if $(FAULT),--fault $(FAULT)) $(if $(KEEP),--keep)

## system-deps: the server binaries the tests start privately (PostgreSQL, Redis, Podman)
system-deps:
	bash scripts/system-deps.sh

## test-node: the npm packages of the Express test service (express-prom-bundle), from its lockfile
EXPRESS := tests/apps/express
$(EXPRESS)/node_modules/.package-lock.json: $(EXPRESS)/package-lock.json
	cd $(EXPRESS) && npm ci --no-audit --no-fund --prefer-offline --loglevel=error

test-node: system-deps $(EXPRESS)/node_modules/.package-lock.json

test-deps: venv system-deps test-node

## test-core: the unit tests on a core install (no lab, docker or plot extras): triage must not need them
$(CORE)/.installed: pyproject.toml
	test -x $(CORE)/bin/python || $(PY) -m venv $(CORE)
	$(CORE)/bin/pip install -q --disable-pip-version-check -e '.[test]'
	touch $@

test-core: $(CORE)/.installed
	$(CORE)/bin/pytest -q -p no:cacheprovider tests/unit

## test: install what the tests need and run the whole suite (unit, integration, hostile, then e2e one by one)
test: test-deps test-core
	$(BIN)/ruff format --check src tests bench
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy  # src/perfbook, as [tool.mypy] in pyproject.toml says
	$(BIN)/pytest -q --doctest-modules src/perfbook tests/unit tests/integration
	$(BIN)/pytest -q tests/hostile  # every command against input meant to hurt (docs/safety.md)
	$(BIN)/pytest -q tests/e2e || [ $$? -eq 5 ]  # 5: no e2e scenario collected

lint: venv
	$(BIN)/ruff format --check src tests bench
	$(BIN)/ruff check src tests bench

clean:
	rm -rf $(VENV) $(CORE) build dist src/*.egg-info .pytest_cache
