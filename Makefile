# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export DEBUG ?= 1
# make serve binds 127.0.0.1:$(PORT) unless BIND is set (make serve PORT=8001).
PORT ?= 8000
BIND ?= 127.0.0.1:$(PORT)

.PHONY: install demo test serve decisions worker beat bench lint format db-stop clean

# The server and, as its own distribution, the client package
# (clients/python, docs/LITELLM.md), both editable.
$(STAMP): pyproject.toml clients/python/pyproject.toml | .env
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]' -e './clients/python[litellm]'
	touch $(STAMP)

# Local settings for every command run in this checkout (config/settings.py
# reads .env): written once, never overwritten, git-ignored.
.env:
	@$(PYTHON) -c 'import secrets; print("# Local settings, written by make (git-ignored). Production sets its own\n# environment: see .env.example.\nDEBUG=1\nSECRET_KEY=" + secrets.token_urlsafe(50))' > $@
	@echo "wrote .env for local runs: DEBUG=1 and a random SECRET_KEY"

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python manage.py demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

serve: $(STAMP)
	$(BIN)/python manage.py migrate --no-input
	@echo "serving on http://$(BIND) (another port: make serve PORT=8001, or BIND=host:port)"
	BIND=$(BIND) $(BIN)/gunicorn --config config/gunicorn.py config.wsgi

decisions: $(STAMP)
	$(BIN)/python manage.py decisions_store

worker: $(STAMP)
	$(BIN)/python manage.py broker_check --for 'make worker'
	$(BIN)/celery -A config worker --loglevel INFO

beat: $(STAMP)
	$(BIN)/python manage.py broker_check --for 'make beat'
	$(BIN)/celery -A config beat --loglevel INFO

bench: $(STAMP)
	$(BIN)/python -m bench.ingest

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

db-stop:
	test ! -d .pgdata || $(BIN)/python -c "from pathlib import Path; from config.embedded_db import embedded_database_stop as stop; stop(Path('.pgdata'))"

clean: db-stop
	rm -rf $(VENV) .pgdata .pgdata-run
