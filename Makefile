# Tend: the two commands a newcomer needs are `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# Exact versions, with hashes, of everything Tend and its tests install (pip-compile from
# pyproject.toml; `make lock` renews them). requirements.lock is the image's subset.
LOCK   := requirements-dev.lock
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml $(LOCK) | cksum | cut -d' ' -f1)

HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test lint typecheck check migrate worker demo bench soak clean lock i18n

$(STAMP): pyproject.toml $(LOCK)
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Tend needs Python 3.11 or newer (set PYTHON=...)")'
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e .
	rm -f $(VENV)/.installed-* && touch $@

venv: $(STAMP)

# A new database gets the demo (two couples and their coach) so there is something to see;
# DEMO=0 serves it empty. `tend demo` refuses with TEND_ENV=production.
DEMO ?= 1
run: $(STAMP)
	$(BIN)/tend migrate
	$(if $(filter 1,$(DEMO)),$(BIN)/tend demo --if-empty --base-url http://$(HOST):$(PORT))
	$(BIN)/tend serve --host $(HOST) --port $(PORT)

migrate: $(STAMP)
	$(BIN)/tend migrate

worker: $(STAMP)
	$(BIN)/tend worker

# Two couples with weeks of bids and their coach, in the database `make run` serves.
demo: $(STAMP)
	$(BIN)/tend migrate
	$(BIN)/tend demo $(DEMO_ARGS)

# Two test processes (pytest-xdist), a test file each at a time: most tests wait on a
# database, a server or a push, so two cores do nearly twice the work. TEST_WORKERS=0: one.
# The slowest files go first (tests/conftest.py, SLOW_FILES_FIRST).
TEST_WORKERS ?= 2
test: $(STAMP)
	$(BIN)/pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check app tests bench
	$(BIN)/ruff format --check app tests bench
	$(BIN)/lint-imports

typecheck: $(STAMP)
	$(BIN)/mypy

check: lint typecheck test

# Renew both lock files from pyproject.toml (newest versions its ranges allow); commit them.
PIP_COMPILE = $(BIN)/pip-compile --quiet --generate-hashes --strip-extras --allow-unsafe \
	--no-emit-index-url --no-emit-find-links --upgrade
lock: $(STAMP)
	$(BIN)/pip install --quiet pip-tools
	$(PIP_COMPILE) -o requirements.lock pyproject.toml
	$(PIP_COMPILE) --extra dev -o requirements-dev.lock pyproject.toml

# Languages (README, "Languages"): gather the messages from app/ into the template, merge
# them into each language's catalogue (new ones arrive empty, to translate), and compile the
# .mo files the app reads and the wheel ships. Commit the .pot, .po and .mo files.
I18N_DIR := app/i18n/locale
i18n: $(STAMP)
	$(BIN)/pybabel -q extract -F babel.cfg --no-location --sort-output \
		--project Tend --version 1 --add-comments TRANSLATORS: -o $(I18N_DIR)/tend.pot .
	$(BIN)/pybabel -q update -D tend -i $(I18N_DIR)/tend.pot -d $(I18N_DIR) \
		--no-fuzzy-matching --ignore-obsolete
	$(BIN)/pybabel compile -D tend -d $(I18N_DIR) --statistics

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis

# Benchmarks (docs/benchmarks.md). PostgreSQL too when TEND_BENCH_POSTGRES_URL is set;
# e.g. make bench BENCH_ARGS="writes --backend postgresql", make soak SOAK_ARGS="--minutes 0.5".
bench: $(STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

soak: $(STAMP)
	$(BIN)/python -m bench.soak $(SOAK_ARGS)
