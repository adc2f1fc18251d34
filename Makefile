# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint install clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(BIN)/.installed

# Creates the venv, installs, migrates a SQLite file, seeds demo data and serves on :8000.
# Channels and webhooks may point at receivers on this machine (a local SMTP catcher).
demo: $(BIN)/.installed
	AMENDS_COOKIE_SECURE=false AMENDS_OUTBOUND_ALLOW_PRIVATE=true \
		$(BIN)/amends demo --host 127.0.0.1 --port 8000

# The whole suite; database tests also run on PostgreSQL when AMENDS_TEST_POSTGRES_URL is set
# and on Citus when AMENDS_TEST_CITUS_URL is set (a coordinator whose workers are added).
# Two processes (one per CPU of the CI machine), each taking whole files (a module's server and browser stay in one);
# `make test TEST_PROCESSES=0` runs it in one.
TEST_PROCESSES ?= 2
test: $(BIN)/.installed
	$(BIN)/pytest -n $(TEST_PROCESSES) --dist loadfile

lint: $(BIN)/.installed
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy src

clean:
	rm -rf $(VENV) amends.db amends.db-wal amends.db-shm demo-outbox
