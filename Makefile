# vizcore: `make run` starts the app, `make test` runs the whole suite. Both create .venv first.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8501

RUNTIME_STAMP := $(VENV)/.runtime-installed
DEV_STAMP := $(VENV)/.dev-installed
BENCH_STAMP := $(VENV)/.bench-installed

.PHONY: run test bench clean-cache clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(RUNTIME_STAMP): requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

$(DEV_STAMP): tests/requirements.txt $(RUNTIME_STAMP)
	$(BIN)/python -m pip install --quiet -r tests/requirements.txt
	touch $@

$(BENCH_STAMP): bench/requirements.txt $(RUNTIME_STAMP)
	$(BIN)/python -m pip install --quiet -r bench/requirements.txt
	touch $@

run: $(RUNTIME_STAMP)
	$(BIN)/python -m streamlit run app.py --server.port $(PORT)

test: $(DEV_STAMP)
	$(BIN)/python -m pytest -c tests/pytest.ini --rootdir=. tests

bench: $(BENCH_STAMP)
	@for script in bench/*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean-cache:
	rm -rf "$${VIZCORE_CACHE_DIR:-$$HOME/.cache/vizcore}"

clean:
	rm -rf $(VENV) .pytest_cache
