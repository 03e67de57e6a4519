# Portal en línea — the two commands a newcomer needs: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
export PYTHONWARNINGS := ignore
export PYTHONDONTWRITEBYTECODE := 1
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: run test test-fast lint format bench setup venv services clean help

help:
	@echo "make run    - set up everything and start the portal (http://127.0.0.1:8000)"
	@echo "make test   - set up everything and run the whole suite"
	@echo "make bench  - benchmarks (writes docs/benchmarks.md)"
	@echo "make lint   - ruff check and format check"

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt -c constraints.txt
	@touch $@

setup: venv
	$(PY) -m scripts.portal setup

run: venv
	$(PY) -m scripts.portal run

services:
	@bash scripts/ensure_services.sh

lint: venv
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: venv
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

# The whole suite on SQLite, then the service tests again on PostgreSQL (one database per test).
test: venv services lint
	$(PY) -m pytest tests
	$(PY) -m pytest tests/service --db-backend postgres

test-fast: venv
	$(PY) -m pytest tests/unit tests/service -x -q

bench: venv services
	$(PY) -m scripts.bench

clean:
	rm -rf var/*.db var/*.db-* var/mail var/cache
