# carewatch: every command a developer or CI needs. Only python3 and make are assumed;
# uv is installed into .tools/ on first use if it is not already on the PATH.
SHELL := /bin/bash
UV_VERSION := 0.13.9
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
HOST ?= 127.0.0.1
PORT ?= 8000
# Python keeps its compiled modules: the test suite starts dozens of `python -m app`
# processes, and a machine that sets PYTHONDONTWRITEBYTECODE would have each of them
# compile every module from source again (seconds apiece).
unexport PYTHONDONTWRITEBYTECODE

.PHONY: install run migrate demo test lint typecheck pytest bench clean frontend screenshots

.tools/bin/uv:
	python3 -m venv .tools
	.tools/bin/pip install --quiet uv==$(UV_VERSION)

install: $(if $(findstring .tools,$(UV)),.tools/bin/uv)  ## install locked dependencies into .venv
	$(UV) sync --frozen --python python3.11 --compile-bytecode

migrate: install  ## apply migrations (SQLite under ./var/ unless CAREWATCH_DATABASE_URL says otherwise)
	$(UV) run --frozen python -m app migrate

run: migrate  ## serve http://127.0.0.1:8000 (API docs at /docs)
	$(UV) run --frozen python -m app serve --host $(HOST) --port $(PORT)

demo: migrate  ## seed the demo council (and print how to sign in as each role)
	$(UV) run --frozen python -m app demo

.PHONY: import-template
import-template: install  ## write a blank tracker workbook for `python -m app import` (OUT=file.xlsx)
	$(UV) run --frozen python -m app import-template --out $(or $(OUT),carewatch-tracker.xlsx)

.PHONY: user
user: migrate  ## create a user: make user EMAIL=you@council.gov.uk ROLE=admin [NAME="Your Name"]; asks for the password (or reads it from stdin)
	@test -n "$(EMAIL)" -a -n "$(ROLE)" || \
	  { echo 'usage: make user EMAIL=you@council.gov.uk ROLE=admin|manager|officer|safeguarding|viewer [NAME="Your Name"]' >&2; exit 2; }
	@$(UV) run --frozen python -m app users create --email '$(EMAIL)' --role '$(ROLE)' $(if $(NAME),--name '$(NAME)')

lint: install  ## ruff, ruff format --check and the import contracts
	$(UV) run --frozen ruff check app tests alembic bench
	$(UV) run --frozen ruff format --check app tests alembic bench
	$(UV) run --frozen lint-imports --no-logo  # the import rule of DESIGN.md (contracts in pyproject.toml)

typecheck: install
	$(UV) run --frozen mypy

pytest: install
	$(UV) run --frozen pytest -q

test: lint typecheck pytest  ## ruff, mypy and the whole suite (PostgreSQL too if TEST_DATABASE_URL is set)

bench: install  ## build the national-scale dataset and measure (writes docs/PERFORMANCE.md)
	$(UV) run --frozen python -m bench.run

frontend:  ## refresh the vendored GOV.UK Frontend, Swagger UI and axe-core files from package-lock.json
	npm ci --no-audit --no-fund --ignore-scripts  # swagger-ui-dist's analytics hook never runs
	rm -rf app/web/static/govuk && mkdir -p app/web/static/govuk tests/web/vendor
	cp node_modules/govuk-frontend/dist/govuk/govuk-frontend.min.css \
	   node_modules/govuk-frontend/dist/govuk/govuk-frontend.min.js app/web/static/govuk/
	cp -r node_modules/govuk-frontend/dist/govuk/assets app/web/static/govuk/assets
	cp node_modules/govuk-frontend/package.json app/web/static/govuk/VERSION.json
	cp node_modules/axe-core/axe.min.js tests/web/vendor/axe.min.js
	rm -rf app/web/static/swagger-ui && mkdir -p app/web/static/swagger-ui
	cp node_modules/swagger-ui-dist/{swagger-ui-bundle.js,swagger-ui.css,favicon-32x32.png,LICENSE} \
	   app/web/static/swagger-ui/
	cp node_modules/swagger-ui-dist/package.json app/web/static/swagger-ui/VERSION.json

screenshots: install  ## drive the pages in Chromium and save docs/screenshots/*.png
	CAREWATCH_SCREENSHOTS=1 CAREWATCH_REQUIRE_BROWSER=1 $(UV) run --frozen pytest -q tests/web/test_browser.py

clean:
	rm -rf .venv .tools var .pytest_cache .mypy_cache .ruff_cache
