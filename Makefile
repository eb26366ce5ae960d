# seqlens: `make demo` sets up and runs the whole batch path; `make test` sets up and runs the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
ARTIFACTS ?= seqlens-demo

.PHONY: setup demo dashboard airflow test test-jax lint browser-deps clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q uv
	$(BIN)/uv pip install --python $(BIN)/python -c constraints.txt -e ".[dev,jax]"
	touch $(STAMP)

setup: $(STAMP)

demo: $(STAMP)
	$(BIN)/seqlens demo --output $(ARTIFACTS)
	$(BIN)/seqlens dashboard --artifacts $(ARTIFACTS)

dashboard: $(STAMP)
	$(BIN)/seqlens dashboard --artifacts $(ARTIFACTS)

# One run of the nightly DAG, in-process (`airflow dags test`), into $(ARTIFACTS)/airflow.
AIRFLOW_ENV := AIRFLOW_HOME=$(CURDIR)/.airflow AIRFLOW__CORE__LOAD_EXAMPLES=False \
	AIRFLOW__CORE__DAGS_FOLDER=$(CURDIR)/airflow_dags
AIRFLOW_DATE ?= $(shell date -u +%Y-%m-%d)
airflow: $(STAMP)
	$(AIRFLOW_ENV) $(BIN)/airflow db migrate
	$(AIRFLOW_ENV) $(BIN)/airflow dags test seqlens_batch_training $(AIRFLOW_DATE) \
		--conf '{"artifacts_root": "$(abspath $(ARTIFACTS))/airflow"}'

browser-deps:
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then \
		if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium chromium-driver >/dev/null; \
	fi

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/lint-imports

test: $(STAMP) browser-deps
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -n 2 --dist loadfile --no-loadscope-reorder -q
	KERAS_BACKEND=jax $(BIN)/python -m pytest -n 2 --dist loadfile --no-loadscope-reorder -q -m keras_backend

clean:
	rm -rf $(VENV) $(ARTIFACTS)

lock:
	$(BIN)/uv pip compile pyproject.toml --extra dev --extra jax --python-version 3.11 -o constraints.txt
