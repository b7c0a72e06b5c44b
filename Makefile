# The two commands: `make start` runs the service set, `make test` the whole test suite.
# Both create the virtual environment and install the project first when needed.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: start dev test lint format bench

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

start: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho start

dev: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/honcho -f Procfile.dev start

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP)
	for script in startup engine llm_local queue dashboard chat; do \
		PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python benchmarks/$$script.py || exit 1; \
	done
