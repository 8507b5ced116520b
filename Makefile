# The list of commands. `make run` and `make test` are the two a new machine needs.
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin

.PHONY: run test lint format bench clean vendor translations

$(BIN)/logcenter: pyproject.toml sdk/pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[test]" -e ./sdk
	touch $@

## Start Log Center on its SQLite default (http://127.0.0.1:8002)
run: $(BIN)/logcenter
	$(BIN)/logcenter serve

# The docs' JavaScript examples: npm packages pinned in tests/js, run by tests/test_docs_js.py.
tests/js/node_modules/.package-lock.json: tests/js/package.json tests/js/package-lock.json
	cd tests/js && npm ci --no-audit --no-fund --loglevel=error

# Debian's Chromium for the browser tests, driven by Playwright (whose own browser download does not work here).
/usr/bin/chromium:
	apt-get update -qq && apt-get install -y -qq chromium fonts-noto-cjk fonts-noto-color-emoji

# jq and curl for docs/forges-setup.md's CI deployment step (tests/webhooks/test_ci_example.py).
/usr/bin/jq:
	apt-get update -qq && apt-get install -y -qq jq curl

# pytest-xdist workers of `make test` (docs/development.md: a serial run is `pytest` alone).
TEST_WORKERS ?= 2

## Install everything and run the whole test suite (SQLite and PostgreSQL)
test: $(BIN)/logcenter tests/js/node_modules/.package-lock.json /usr/bin/chromium /usr/bin/jq
	$(BIN)/ruff check src tests sdk bench
	$(BIN)/mypy src
	$(BIN)/mypy --config-file sdk/pyproject.toml sdk/src/logcenter_sdk
	$(BIN)/pytest -n $(TEST_WORKERS)

lint: $(BIN)/logcenter
	$(BIN)/ruff format --check src tests sdk bench
	$(BIN)/ruff check src tests sdk bench
	$(BIN)/mypy src
	$(BIN)/mypy --config-file sdk/pyproject.toml sdk/src/logcenter_sdk

format: $(BIN)/logcenter
	$(BIN)/ruff format src tests sdk bench
	$(BIN)/ruff check --fix src tests sdk bench

## Ingest benchmark (see bench/README.md)
bench: $(BIN)/logcenter
	$(BIN)/python bench/ingest.py

## Refresh the web UI's browser files (htmx, uPlot) from the npm registry, pinned by version and integrity
vendor:
	scripts/vendor_web.sh

WEB = src/logcenter/web
## Extract the web UI's strings, merge them into the catalogues and compile them (the .mo files are committed)
translations: $(BIN)/logcenter
	cd $(WEB) && ../../../$(BIN)/pybabel extract -F babel.cfg -k _ -k gettext -k ngettext:1,2 --no-location \
		--omit-header -w 200 -o locale/messages.pot .
	$(BIN)/pybabel update -i $(WEB)/locale/messages.pot -d $(WEB)/locale -w 200
	$(BIN)/pybabel compile -d $(WEB)/locale --statistics

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
