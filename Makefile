# The two commands of the README:
#   make demo   runs okta-hris demo (bundled Okta sandbox + embedded SQLite)
#   make test   creates a virtualenv from scratch and runs ruff, mypy and pytest
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test venv lint typecheck pytest bench clean crd

$(BIN)/okta-hris: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

venv: $(BIN)/okta-hris

demo: venv
	$(BIN)/okta-hris demo

lint: venv
	$(BIN)/ruff check operator tests bench
	$(BIN)/ruff format --check operator tests bench

typecheck: venv
	$(BIN)/mypy

pytest: venv
	$(BIN)/pytest $(PYTEST_ARGS)

test: venv lint typecheck pytest

crd: venv
	$(BIN)/python -m okta_hris.crd > crds/oktaintegrations.hris.dev.yaml
	cp crds/oktaintegrations.hris.dev.yaml charts/okta-hris-operator/crds/

bench: venv
	$(BIN)/python bench/sandbox_throughput.py
	$(BIN)/python bench/sync_10k.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
