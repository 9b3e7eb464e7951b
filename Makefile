# The README names two commands: `make demo` and `make test`.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test install frontend services lint serve bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

install: $(BIN)/.installed

frontend/dist/index.html: frontend/package.json frontend/package-lock.json $(shell find frontend/src -type f 2>/dev/null) frontend/index.html
	cd frontend && npm ci --no-audit --no-fund && npm run build

frontend: frontend/dist/index.html

## make demo: install, start API + embedded worker (SQLite, local folder, filesystem broker),
## run the bundled CHAOS sample through the REST API, print Dice, keep serving.
demo: install frontend
	$(BIN)/elsnet demo --port $${PORT:-8000} --preset $${PRESET:-fast}

## make test: install what the tests need, start PostgreSQL/Redis if needed, run the suite.
test: install frontend services
	$(BIN)/python -m pytest -q -ra

services:
	bash scripts/start-services.sh

serve: install frontend
	$(BIN)/elsnet serve

lint: install
	$(BIN)/ruff check api worker store elsnet_core tests elsnet_cli.py demo.py dicom_geometry.py
	$(BIN)/mypy api worker store elsnet_core demo.py elsnet_cli.py dicom_geometry.py

clean:
	rm -rf .elsnet frontend/dist
