# The two commands: `make run` (the product, with the demo brand) and `make test` (everything CI checks).
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test lint bench install lock vendor messages clean

$(STAMP): requirements.lock
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.lock
	@touch $(STAMP)

install: $(STAMP) vendor

vendor: $(STAMP)
	@$(PY) -m scrm.vendor

run: install
	$(PY) -m scrm.launcher

# PYTEST_WORKERS=2 make test: two pytest-xdist workers, each with its own test database
# (test_<name>_gwN) and Redis database (the named one + N, see scrm/settings_test.py); the real-process
# tests (marked slow) all run on one worker (tests/conftest.py). Only with a named PostgreSQL and Redis
# (the embedded ones are one server per data folder), so two workers when both URLs are set (as .ci/run
# sets them) and serial otherwise. Measured on a quiet 2-core machine, 2026-12-04: 1468 tests in 703 s on
# two workers against 1,179 s serial.
PYTEST_WORKERS ?= $(if $(and $(DATABASE_URL),$(REDIS_URL)),2,0)

test: install
	$(VENV)/bin/ruff check .
	$(PY) manage.py makemigrations --check --dry-run
	$(PY) -m pytest -n $(PYTEST_WORKERS) --dist loadgroup

lint: test
	$(VENV)/bin/mypy scrm contacts channels campaigns analytics todos offers journeys referrals

bench: install
	$(PY) -m bench.run_all

# Re-resolve requirements.in into the pinned lock file.
lock:
	rm -rf /tmp/scrm-lock && $(PYTHON) -m venv /tmp/scrm-lock
	/tmp/scrm-lock/bin/pip install --quiet -r requirements.in
	( echo "# Pinned versions of everything in requirements.in (regenerate: make lock). Installed by make."; \
	  /tmp/scrm-lock/bin/pip freeze ) > requirements.lock

messages: install
	$(PY) manage.py makemessages -l en --no-wrap --ignore=.venv --ignore=staticfiles --ignore=static --ignore=bench --ignore=tests
	$(PY) -m scrm.po_fill
	$(PY) manage.py compilemessages --ignore=.venv

clean:
	rm -rf $(VENV) staticfiles static/vendor
