# Two entry points for a fresh machine: `make run` and `make test`. Both create .venv when
# missing, install everything (torch 2.13.0 CPU first), and assemble the bundled model.
PYTHON ?= python3.11
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed
# llama.cpp is compiled here for this CPU (-march=native), but without its AMX kernels: a CPU can
# report AMX that its kernel or hypervisor does not let a process use (seen: SIGILL on the first
# batched prompt; `rag setup` checks). --no-cache-dir, or pip reuses a wheel built without the flags.
LLAMA_CFLAGS ?= $(if $(filter x86_64,$(shell uname -m)),-mno-amx-tile -mno-amx-int8 -mno-amx-bf16)
LLAMA_CPP    = llama-cpp-python==$(shell sed -n 's/.*"llama-cpp-python[^=]*==\([0-9.]*\)".*/\1/p' pyproject.toml)

.PHONY: install run test test-fast lint bench eval browser-deps

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0
	CMAKE_ARGS="-DCMAKE_C_FLAGS='$(LLAMA_CFLAGS)' -DCMAKE_CXX_FLAGS='$(LLAMA_CFLAGS)'" \
		$(BIN)/python -m pip install --quiet --no-cache-dir '$(LLAMA_CPP)'
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
