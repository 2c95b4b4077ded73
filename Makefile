# Each target is a thin call; the logic lives in scripts/ and the `smsguard` CLI.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup run test lint format bench bench-quick screenshots clean

$(STAMP): pyproject.toml
	scripts/setup-venv.sh "$(PYTHON)" "$(VENV)"
	touch $(STAMP)

setup: $(STAMP)

# Starts the gateway on its embedded defaults: shipped rules, sandbox provider, a private redis-server.
run: setup
	scripts/ensure-system-deps.sh redis
	$(BIN)/smsguard dev

test: setup
	scripts/ensure-system-deps.sh redis redis-cli chromium promtool
	$(BIN)/pytest --cov=gateway --cov-branch --cov-report=term $(PYTEST_ARGS)

# Refreshes the README's pictures (docs/img) from the browser tests.
screenshots: setup
	scripts/ensure-system-deps.sh redis chromium
	SMSGUARD_README_SCREENSHOTS=1 $(BIN)/pytest -m browser

lint: setup
	$(BIN)/ruff check gateway tests scripts bench deploy
	$(BIN)/ruff format --check gateway tests scripts bench deploy
	$(BIN)/mypy

format: setup
	$(BIN)/ruff format gateway tests scripts bench deploy
	$(BIN)/ruff check --fix gateway tests scripts bench deploy

bench: setup
	scripts/ensure-system-deps.sh redis wrk
	$(BIN)/python -m bench.run $(BENCH_ARGS)

bench-quick: setup
	scripts/ensure-system-deps.sh redis wrk
	$(BIN)/python -m bench.run --quick $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .run .pytest_cache .mypy_cache .ruff_cache
