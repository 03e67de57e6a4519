# Portal en línea — the two commands a newcomer needs: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
export PYTHONDONTWRITEBYTECODE := 1
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: run test test-fast lint format bench capacity setup venv system services clean help

help:
	@echo "make run    - set up everything and start the portal (http://127.0.0.1:8000)"
	@echo "make test   - set up everything (Debian packages too) and run the whole suite (about 20 min)"
	@echo "make test-fast - unit tests and the quick service tests (< 2 min)"
	@echo "make bench  - benchmarks (writes docs/benchmarks.md)"
	@echo "make capacity - the month-start morning under locust, new vs old A/B, ~6 min (writes docs/capacity.md)"
	@echo "make lint   - ruff check and format check, mypy, import contracts (lint-imports)"

venv: $(VENV)/.installed

# the runtime (requirements.txt, all the image installs) and the tools of development
$(VENV)/.installed: requirements.txt requirements-dev.txt constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt -c constraints.txt
	@touch $@

setup: venv
	$(PY) -m scripts.portal setup

run: venv
	$(PY) -m scripts.portal run

# Debian packages of the tests (chromium, PDF libraries, broker, database, faketime): installs
# what is missing when root, else says in one line what to run; quick when all is there.
system:
	@bash scripts/ensure_system.sh

services:
	@bash scripts/ensure_services.sh

# mypy checks the files pyproject.toml names: services and gateway, strictly the domains and services/common
lint: venv
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy
	$(VENV)/bin/lint-imports

format: venv
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

# pytest commands two at a time (scripts/run_tests.py): every test once on SQLite, and the tests marked
# `pg` (outcome can differ on PostgreSQL) once more there. Logs: var/test-logs/.
test: system venv services lint
	$(PY) -m scripts.run_tests

# Unit tests and the service tests that need no real processes: see scripts/run_tests.py.
test-fast: venv services
	$(PY) -m scripts.run_tests --fast

bench: venv services
	$(PY) -m bench

# locust plays members' mornings on the new portal and the old one, A/B (bench/capacity.py); bounded to 7 min
capacity: venv services
	$(PY) -m bench.capacity

clean:
	rm -rf var/*.db var/*.db-* var/mail var/cache
