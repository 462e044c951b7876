# The two commands of the README:
#   make demo   runs okta-hris demo (bundled Okta sandbox + embedded SQLite)
#   make test   creates a virtualenv from scratch and runs ruff, mypy and pytest
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test venv lint typecheck pytest bench clean crd lock

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
	$(BIN)/python -m okta_hris.crd --chart > charts/okta-hris-operator/templates/crd-oktaintegrations.yaml

# The image's pinned, hashed dependencies (requirements*.lock), re-resolved for Linux x86_64 and
# aarch64; LOCK_ARGS=--upgrade takes the newest releases.
lock: venv
	$(BIN)/python -m tests.image.relock $(LOCK_ARGS)

bench: venv
	$(BIN)/python bench/sandbox_throughput.py
	$(BIN)/python bench/sync_10k.py
	$(BIN)/python bench/operator_memory.py --users 10000 --concurrency 1,2,4

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
