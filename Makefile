# Two commands do everything on a fresh machine:
#   make demo   install, build dist/ and run the demo server
#   make test   install the test dependencies (Chromium, PostgreSQL too), build, lint, run every test

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CHROMIUM ?= $(or $(P13N_CHROMIUM),/usr/bin/chromium)
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test build chromium postgresql

demo: $(VENV)/.server node_modules/.package-lock.json build
	$(BIN)/python -m sync_server serve --demo-traffic 20000

test: $(VENV)/.test node_modules/.package-lock.json build chromium postgresql
	$(BIN)/ruff check
	$(BIN)/python -m pytest --numprocesses 2 --dist loadgroup

build:
	$(BIN)/python build.py

chromium:
	@test -x "$(CHROMIUM)" || { echo "Installing Chromium for the browser tests…"; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium; }

# The storage and HTTP tests run on PostgreSQL too, in a throwaway cluster they start (tests/databases.py).
postgresql:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { echo "Installing PostgreSQL for the tests…"; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq postgresql; }

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.server: pyproject.toml $(VENV)/bin/python
	$(BIN)/pip install --quiet -e '.[server]'
	touch $@

$(VENV)/.test: pyproject.toml $(VENV)/bin/python
	$(BIN)/pip install --quiet -e '.[test,bench]'
	touch $@ $(VENV)/.server

node_modules/.package-lock.json: package-lock.json
	npm ci --no-audit --no-fund
