# gex-pipeline: `make run` starts the stack, `make test` runs every check. Both set up .venv first.
PYTHON ?= $(shell command -v python3.11 >/dev/null 2>&1 && echo python3.11 || echo python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup run serve test lint format bench upgrade-check clean-venv

setup: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

run: setup
	$(BIN)/gex-pipeline up

serve: setup
	$(BIN)/gex-pipeline serve

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: lint
	DAGSTER_HOME=$$(mktemp -d) $(BIN)/dagster definitions validate -w workspace.yaml
	$(BIN)/python -m pytest

# The ingest benchmark needs a load generator that is not the bottleneck (wrk); installed here when
# missing and possible (root with apt-get), else the benchmark says so and prints no server figures.
bench: setup
	@command -v wrk >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 \
		&& apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; } || true
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	$(BIN)/python -m benchmarks

# The newest Dagster the registry offers, in a scratch venv: definitions snapshot + time-lapse test.
upgrade-check:
	bash scripts/upgrade_check.sh

clean-venv:
	rm -rf $(VENV)
