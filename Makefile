# xueji — one-command developer loop. Needs only Python >= 3.11; uv is bootstrapped into .tools/ if missing.
SHELL := /bin/bash
PYTHON ?= python3
PORT ?= 8000
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
PY := .venv/bin/python
STUDENTS ?= 300

.PHONY: run dev collectstatic prepare test test-sqlite test-postgres lint bench install clean

.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet uv

install: $(UV)
	$(UV) sync --frozen --quiet

## run: serve the way production does (gunicorn, DEBUG off, hashed static files, one task worker, the
## scheduler) on http://127.0.0.1:$(PORT)/ after migrating, loading the calendar and (outside production)
## seeding the demo region once. Ctrl-C stops all of them.
run: prepare collectstatic
	env -u XUEJI_DEBUG PORT=$(PORT) $(PY) manage.py serve

## dev: Django's development server with DEBUG on and auto-reload (no task worker: run `manage.py db_worker`)
dev: prepare
	XUEJI_DEBUG=1 $(PY) manage.py runserver 127.0.0.1:$(PORT)

prepare: install
	$(PY) manage.py migrate --noinput -v0
	$(PY) manage.py load_calendar
	$(PY) manage.py oidc_key
	$(PY) manage.py data_keys encrypt --if-needed
	@if [ "$${XUEJI_ENV:-}" = "production" ]; then echo "XUEJI_ENV=production: no demo data"; \
	else $(PY) manage.py seed --students $(STUDENTS) && $(PY) manage.py seed_dropouts && $(PY) manage.py seed_verification && $(PY) manage.py seed_checks && $(PY) manage.py seed_guardian && $(PY) manage.py seed_changes && $(PY) manage.py seed_oversight && $(PY) manage.py certificate_keys ensure --province 440000; fi
	$(PY) manage.py statistics_rebuild

## collectstatic: hashed, compressed copies of the static files under staticfiles/ (served by WhiteNoise)
collectstatic: install
	env -u XUEJI_DEBUG $(PY) manage.py collectstatic --noinput -v0

## test: the whole suite (browser tests, tests/e2e/, included where Chromium can be installed); DATABASE_URL
## picks the DB. COVERAGE=1 measures branch coverage too (CI's SQLite leg; data in var/coverage/, read it with
## `.venv/bin/coverage report`); without it nothing is traced, so the plain run is no slower.
test: install
	@bash scripts/ensure-chromium.sh || echo "Chromium unavailable: browser tests will be skipped"
	$(if $(filter 1,$(COVERAGE)),@mkdir -p var/coverage)
	$(PY) -m $(if $(filter 1,$(COVERAGE)),coverage run -m )pytest -q -p no:cacheprovider $(PYTEST_ARGS)

lint: install
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy xueji config
	.venv/bin/lint-imports
	.venv/bin/pre-commit validate-config .pre-commit-config.yaml
	@bad=$$(grep -rlE 'playwright|/usr/bin/chromium' tests --include='*.py' | grep -v '^tests/e2e/' || true); \
	  if [ -n "$$bad" ]; then echo "browser tests belong under tests/e2e/ (one setup): $$bad"; exit 1; fi
	@bad=$$(grep -rlE 'except +\(?[A-Za-z., ]*NoReverseMatch' tests --include='*.py' || true); \
	  if [ -n "$$bad" ]; then echo "a renamed URL must fail a test, not skip it: $$bad"; exit 1; fi
	$(PY) manage.py check
	$(PY) manage.py makemigrations --check --dry-run
	$(PY) scripts/check_translations.py

bench: install
	$(PY) bench/bench_import.py --rows $${ROWS:-100000}
	$(PY) bench/bench_seed.py $${ROWS:-100000}
	$(PY) bench/bench_promotion.py $${ROWS:-100000}
	$(PY) bench/bench_school_list.py $${ROWS:-100000}
	$(PY) bench/bench_search.py $${ROWS:-100000}
	$(PY) bench/bench_statistics.py $${ROWS:-100000}
	$(PY) bench/bench_http.py $${ROWS:-100000}

clean:
	rm -rf var/ .pytest_cache .mypy_cache .ruff_cache
