# Réemploi — the two front-door commands are `make demo` and `make test`.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test install services lint typecheck unit clean

$(STAMP): pyproject.toml setup.py
	@bash scripts/bootstrap-python.sh $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

## make demo: the main job on embedded defaults (in-process broker, SQLite, simulated readers)
demo: $(STAMP)
	$(VENV)/bin/reemploi-demo

## make services: install the real services the tests start (Mosquitto, PostgreSQL, InfluxDB…)
services:
	@for script in scripts/install-*.sh; do echo "==> $$script"; bash "$$script" || exit 1; done

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	PYTHONPATH=core:server:gateway:provisioning $(VENV)/bin/lint-imports

typecheck: $(STAMP)
	PYTHONPATH=core:server:gateway:provisioning $(VENV)/bin/mypy

## make test: install what the tests need, then run every check and every test
test: $(STAMP) services lint typecheck
	$(VENV)/bin/pytest

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
