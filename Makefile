# Everything runs from a virtualenv in .venv that these targets create.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# make run gets a virtualenv of its own with only what the example site needs.
RUN_VENV := .venv-run
# nox finds the interpreters of the test matrix (3.10 to 3.13) among pyenv's.
PYENV_ROOT ?= $(shell pyenv root 2>/dev/null || echo $(HOME)/.pyenv)
MATRIX_PATH := $(subst $(eval) ,:,$(wildcard $(PYENV_ROOT)/versions/3.1[0-3]*/bin))
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test lint typecheck docs pytest matrix bench bench-deps system-deps clean

# The package with its published extras, and the project's own tools (requirements/).
DEV_INSTALL := -e '.[redis,rq,celery,otel]' -r requirements/dev.txt

$(VENV)/.installed: setup.cfg pyproject.toml $(wildcard requirements/*.txt)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(DEV_INSTALL)
	touch $@

$(RUN_VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(RUN_VENV)
	$(RUN_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(RUN_VENV)/bin/python -m pip install --quiet -e .
	touch $@

## Run the example site on http://127.0.0.1:5000 (no WeChat credentials needed).
run: $(RUN_VENV)/.installed
	$(RUN_VENV)/bin/flask --app example_app run --host $(HOST) --port $(PORT)

## Lint, type-check, build the docs and run the whole test suite (installs what it needs).
test: $(VENV)/.installed system-deps lint typecheck docs pytest

lint: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

typecheck: $(VENV)/.installed
	$(BIN)/mypy

## The documentation, into docs/_build/html; any warning fails the build.
docs: $(VENV)/.installed
	$(BIN)/sphinx-build -q -W --keep-going -b html docs docs/_build/html

pytest: $(VENV)/.installed
	$(BIN)/pytest

## The test suite on Python 3.10 to 3.13 and on the minimum dependency versions (nox).
matrix: $(VENV)/.installed system-deps
	PATH="$(MATRIX_PATH):$$PATH" $(BIN)/nox $(NOXFLAGS)

# The benches also need wechatpy and gunicorn (requirements/bench.txt), wrk and redis-server.
$(VENV)/.bench-installed: $(VENV)/.installed setup.cfg requirements/bench.txt
	$(BIN)/python -m pip install --quiet $(DEV_INSTALL) -r requirements/bench.txt
	touch $@

## Every benchmark and its targets (options: make bench BENCH_ARGS="--rounds 5 --duration 10").
bench: $(VENV)/.bench-installed bench-deps
	$(BIN)/python bench/client.py
	$(BIN)/python -m bench $(BENCH_ARGS)

bench-deps:
	@missing=""; \
	command -v wrk >/dev/null 2>&1 || [ -x /usr/bin/wrk ] || missing="$$missing wrk"; \
	command -v redis-server >/dev/null 2>&1 || [ -x /usr/bin/redis-server ] || missing="$$missing redis-server"; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi

## System packages the tests use: a real redis-server for the multi-process tests,
## Chromium and its driver for the browser test.
system-deps:
	@missing=""; \
	command -v redis-server >/dev/null 2>&1 || [ -x /usr/bin/redis-server ] || missing="$$missing redis-server"; \
	command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	command -v chromedriver >/dev/null 2>&1 || [ -x /usr/bin/chromedriver ] || missing="$$missing chromium-driver"; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		$(SUDO) apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	fi

clean:
	rm -rf $(VENV) $(RUN_VENV) .nox build dist *.egg-info .mypy_cache .ruff_cache .hypothesis docs/_build
