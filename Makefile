# PIPO: `make run` starts it on http://127.0.0.1:8000, `make test` runs the whole suite.
# Both set up everything first (a .venv with the pinned requirements, the migrations).

PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: run test setup setup-dev migrate lint format status clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# torch first, alone: pip then takes the CPU build, never a multi-gigabyte CUDA one.
$(VENV)/.runtime: requirements.txt | $(VENV)/bin/python
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -r requirements.txt torch==2.13.0
	touch $@

$(VENV)/.dev: requirements-dev.txt $(VENV)/.runtime
	$(PY) -m pip install --quiet -r requirements-dev.txt torch==2.13.0
	touch $@

setup: $(VENV)/.runtime

setup-dev: $(VENV)/.dev

migrate: setup
	$(PY) manage.py migrate --noinput

run: migrate
	@echo "PIPO is starting on http://$(HOST):$(PORT)  (Ctrl-C stops the web server and the worker)"
	PIPO_HOST=$(HOST) PIPO_PORT=$(PORT) $(VENV)/bin/honcho start -f Procfile

test: setup-dev
	$(PY) -m pytest $(PYTEST_ARGS)

lint: setup-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: setup-dev
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

status: setup
	$(PY) manage.py pipo_status

clean:
	rm -rf $(VENV)
