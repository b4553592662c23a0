# charlstm: `make run` opens the studio, `make test` runs every test. Both create .venv when missing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8501

.PHONY: run test test-fast fuzz lint bench bench-quick starter-models inside-report clean

$(VENV)/.runtime: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

run: $(VENV)/.runtime
	$(PY) -m streamlit run app.py --server.address 127.0.0.1 --server.port $(PORT)

test: $(VENV)/.dev
	$(PY) -m pytest -q

test-fast: $(VENV)/.dev
	$(PY) -m pytest -q -m "not e2e"

# The property-based tests with many more examples (minutes); `make test` runs them briefly.
fuzz: $(VENV)/.dev
	CHARLSTM_FUZZ_PROFILE=fuzz $(PY) -m pytest -q tests/test_fuzz.py

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

bench: $(VENV)/.dev
	$(PY) -m bench --full

bench-quick: $(VENV)/.dev
	$(PY) -m bench --quick

# The ready-made models in assets/models/ (about 10-15 minutes on 2 cores; fixed seeds and step budgets).
starter-models: $(VENV)/.runtime
	$(PY) tools/make_starter_models.py

# docs/inside.md: what the cell ranking finds in the Nietzsche starter on held-out text, and its speed.
inside-report: $(VENV)/.runtime
	$(PY) tools/inside_report.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
