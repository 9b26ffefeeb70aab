# The two commands that matter: `make demo` starts everything, `make test` runs every test.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export DJANGO_SETTINGS_MODULE ?= dashboard.settings

.PHONY: demo test venv services browser migrate bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install --disable-pip-version-check -q --upgrade pip
	$(BIN)/pip install --disable-pip-version-check -q -e '.[sandbox,test]'
	touch $(STAMP)

venv: $(STAMP)

services:
	@bash scripts/services.sh

browser:
	@bash scripts/browser.sh

migrate: venv services
	$(BIN)/python manage.py migrate --noinput

demo: venv services
	$(BIN)/python -m dashboard.demo

test: venv services browser
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: venv services
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) staticfiles artifacts
