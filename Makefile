# liqkit — developer commands. `make help` lists them.
SHELL := /bin/bash
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
SHARED ?= ../shared
# the hot modules are compiled (mypyc): re-install when they change, or a stale build would shadow them
HOT := liqkit/quoting.py liqkit/risk.py liqkit/engine/core.py liqkit/engine/state.py liqkit/engine/intents.py \
       liqkit/engine/ids.py liqkit/engine/records.py liqkit/engine/execution.py liqkit/engine/latency.py \
       liqkit/venues/sim/exchange.py liqkit/venues/sim/timeline.py liqkit/backtest/driver.py liqkit/domain/filters.py

.DEFAULT_GOAL := help
.PHONY: help test lint format bench chaos dashboard backtest lab clean

help: ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(BIN)/python:
	@$(PY) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "liqkit needs Python >= 3.11 (found " + sys.version.split()[0] + "); set PY=python3.11")'
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml setup.py $(HOT) | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@ $(VENV)/.dashboard

install: $(VENV)/.installed ## create .venv and install liqkit with its dev tools (compiles the hot path)

test: $(VENV)/.installed ## run the whole test suite
	$(BIN)/python -m pytest -n auto -q
	$(BIN)/python -m pytest --nbval-lax notebooks/research.ipynb -p no:xdist -q

lint: $(VENV)/.installed ## ruff (lint + format check) and mypy
	$(BIN)/ruff check liqkit tests bench
	$(BIN)/ruff format --check liqkit tests bench
	$(BIN)/mypy
	@# the hot path as pip's isolated build sees it (mypy alone, no pydantic): what would fail CI's install
	$(BIN)/mypy --no-site-packages $(HOT)

format: $(VENV)/.installed ## format and fix what ruff can
	$(BIN)/ruff format liqkit tests bench
	$(BIN)/ruff check --fix liqkit tests bench

bench: $(VENV)/.installed ## benchmarks: backtest loop vs the naive reference, decision latency, the service under load
	$(BIN)/python bench/run_bench.py --shared $(SHARED)
	$(BIN)/python bench/sweep_bench.py
	$(BIN)/python bench/service_bench.py --seconds 60
	$(BIN)/python bench/dashboard_bench.py
	$(BIN)/python bench/order_entry_bench.py --ed25519

# the dashboard needs only the notebook extra (the dev install above is a superset and stamps this too)
$(VENV)/.dashboard: pyproject.toml setup.py $(HOT) | $(BIN)/python
	@echo "make dashboard: installing liqkit with its notebook extra (Voila, ipywidgets, plotly) into $(VENV); the first time takes a few minutes: pip downloads them and compiles liqkit's hot path with mypyc"
	$(BIN)/python -m pip install -e '.[notebook]'
	@touch $@

dashboard: $(VENV)/.dashboard ## the operations dashboard (Voila, token) on a liqkit service: prints its URL
	$(BIN)/liqkit dashboard

chaos: $(VENV)/.installed ## every Binance fault, then a long seeded mixed run: one line of figures
	$(BIN)/python -m liqkit.venues.binance_server.chaos --seconds 60 --seed 7

backtest: $(VENV)/.installed ## backtest on the real BTCUSDT recording shipped with liqkit (simulated exchange)
	$(BIN)/liqkit backtest --data liqkit/data/samples

lab: $(VENV)/.installed ## JupyterLab on 127.0.0.1
	$(BIN)/python -m pip install --quiet -e '.[dev,notebook]'
	$(BIN)/jupyter lab --ip 127.0.0.1 --no-browser

clean: ## remove the venv, build products and caches
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis
	find liqkit -name '*.so' -delete; rm -f *__mypyc*.so
