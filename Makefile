# vizcore: `make run` starts the app, `make test` runs the whole suite. Both create .venv first and
# install vizcore itself into it (editable), so .venv/bin/vizcore is the command line.
# `make e2e` runs only the browser test; `make browser-deps` installs the Chromium it drives.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PORT ?= 8501
# Test processes: two keep both cores of a small machine busy (each loads TensorFlow, about 1.5 GB).
TEST_WORKERS ?= 2
# The address the start-up line shows. Set, so Streamlit prints one URL instead of looking up this
# machine's public IP on the internet (a 2 s wait and a warning when offline); where the server
# listens does not change.
HOST ?= localhost
# Debian's packages; the browser test (tests/browser.py) and bench/cold_start.py use these paths.
BROWSER_FILES := /usr/bin/chromium /usr/bin/chromedriver
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

RUNTIME_STAMP := $(VENV)/.runtime-installed
DEV_STAMP := $(VENV)/.dev-installed
BENCH_STAMP := $(VENV)/.bench-installed

.PHONY: run test e2e browser-deps bench clean-cache clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# pyproject.toml reads its dependencies from requirements.txt: installing the project installs them.
$(RUNTIME_STAMP): requirements.txt pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(DEV_STAMP): tests/requirements.txt $(RUNTIME_STAMP)
	$(BIN)/python -m pip install --quiet -r tests/requirements.txt
	touch $@

$(BENCH_STAMP): bench/requirements.txt $(RUNTIME_STAMP)
	$(BIN)/python -m pip install --quiet -r bench/requirements.txt
	touch $@

# Two malloc arenas: the memory of many sessions' threads comes back after a burst (vizcore/models/batching.py).
run: $(RUNTIME_STAMP)
	MALLOC_ARENA_MAX=$${MALLOC_ARENA_MAX:-2} $(BIN)/python -m streamlit run app.py --server.port $(PORT) --browser.serverAddress $(HOST)

test: $(DEV_STAMP)
	$(BIN)/python -m pytest -c tests/pytest.ini --rootdir=. -n $(TEST_WORKERS) --dist loadfile tests

e2e: browser-deps $(DEV_STAMP)
	$(BIN)/python -m pytest -c tests/pytest.ini --rootdir=. tests/test_browser.py

browser-deps:
	@if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then \
		echo "browser-deps: $(BROWSER_FILES) are installed"; \
	elif command -v apt-get >/dev/null 2>&1; then \
		$(SUDO) apt-get update && $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium chromium-driver; \
	else \
		echo "browser-deps: apt-get not found; install Chromium and its matching chromedriver as $(BROWSER_FILES)" >&2; \
		exit 1; \
	fi

bench: $(BENCH_STAMP)
	@for script in bench/*.py; do echo "== $$script"; $(BIN)/python $$script || exit 1; done

clean-cache:
	rm -rf "$${VIZCORE_CACHE_DIR:-$$HOME/.cache/vizcore}"

clean:
	rm -rf $(VENV) .pytest_cache vizcore.egg-info build
