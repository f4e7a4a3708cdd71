# Two entry points for a fresh machine: `make run` and `make test`. Both create .venv when
# missing, install everything (torch 2.13.0 CPU first), and assemble the bundled model.
PYTHON ?= python3.11
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed

.PHONY: install run test test-fast lint bench eval browser-deps

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/rag setup
	@touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/rag ui

browser-deps:
	@command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null)

test: install browser-deps
	$(BIN)/ruff check .
	$(BIN)/python -m pytest

test-fast: install
	$(BIN)/ruff check .
	$(BIN)/python -m pytest -m logic -q

bench: install
	$(BIN)/python -m bench.run

eval: install
	$(BIN)/rag eval
