# The README's commands. Everything installs into .venv on first use.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DATA_DIR ?= $(CURDIR)/data
export MUSICREC_DATA_DIR ?= $(DATA_DIR)
export DAGSTER_HOME ?= $(DATA_DIR)/dagster_home
UI_HOST ?= 127.0.0.1
UI_PORT ?= 3000
API_HOST ?= 127.0.0.1
API_PORT ?= 8000

.PHONY: install demo test lint format ui api bench clean

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/musicrec demo

test: install lint
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

$(DAGSTER_HOME)/dagster.yaml: | install
	$(BIN)/musicrec init-home

ui: install $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/dagster dev -w workspace.yaml -h $(UI_HOST) -p $(UI_PORT)

api: install
	$(BIN)/musicrec api --host $(API_HOST) --port $(API_PORT)

clean:
	rm -rf $(DATA_DIR)/warehouse $(DATA_DIR)/serving $(DATA_DIR)/artifacts $(DATA_DIR)/reports
