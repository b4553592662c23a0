# charlstm: `make run` opens the studio, `make test` runs every test. Both create .venv when missing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8501

# Dependencies: pyproject.toml (what charlstm needs); constraints.txt (the exact versions tested, used here and in CI).
INSTALL := $(PY) -m pip install -q -c constraints.txt

.PHONY: run test test-fast fuzz lint constraints bench bench-quick bench-machine bench-quality bench-grid bench-device starter-models inside-report clean

$(VENV)/.runtime: pyproject.toml requirements.txt constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(INSTALL) -r requirements.txt
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(INSTALL) -r requirements-dev.txt
	touch $@

# The studio: `charlstm studio` (installed into .venv by the step above), with charlstm_studio/.streamlit/config.toml.
run: $(VENV)/.runtime
	$(VENV)/bin/charlstm studio --port $(PORT)

# Two test processes (pytest-xdist), each test file kept in one: its module fixtures (a cluster, a server) are
# made once, and the tests that wait on trainings and browsers overlap. `pytest` alone runs them one by one.
TEST_WORKERS ?= 2
test: $(VENV)/.dev
	$(PY) -m pytest -q -n $(TEST_WORKERS) --dist loadfile

test-fast: $(VENV)/.dev
	$(PY) -m pytest -q -m "not e2e"

# The property-based tests with many more examples (minutes); `make test` runs them briefly.
fuzz: $(VENV)/.dev
	CHARLSTM_FUZZ_PROFILE=fuzz $(PY) -m pytest -q tests/test_fuzz.py

# The checks CI runs besides the tests (.ci/run): lint, formatting, and types of the core (settings in pyproject.toml).
lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy charlstm

# After an upgrade that passes make test and make lint: pin the versions now in .venv as the tested set.
constraints: $(VENV)/.dev
	{ sed -n '/^#/p' constraints.txt; $(PY) -m pip freeze --exclude-editable | grep -iv '^charlstm'; } > constraints.txt.new
	mv constraints.txt.new constraints.txt

bench: $(VENV)/.dev
	$(PY) -m bench --full

bench-quick: $(VENV)/.dev
	$(PY) -m bench --quick

# How close to the machine: product rates of this CPU, each preset's share, XLA and threads tried (~5 min)
bench-machine: $(VENV)/.dev
	$(PY) -m bench.machine --out docs/bench-runs/machine.json

# quality's 15 minutes on each of the four kinds of text, beside quick and the plain baseline (~75 min)
bench-quality: $(VENV)/.dev
	$(PY) -m bench --quality --sections kinds

# The grid (issue 19): 3 kinds x 4 sizes x 30 s / 150 s / 15 min; quick beside the baseline, quality beside quick
# (hours, on a quiet machine)
bench-grid: $(VENV)/.dev
	$(PY) -m bench.grid --log docs/bench-runs/grid.jsonl

# Training through a Dask worker on whatever it has (a GPU when one is there): quick 150 s, quality 15 min (~20 min)
bench-device: $(VENV)/.dev
	$(PY) -m bench.device --out docs/bench-runs/device.json

# The ready-made models in assets/models/ (about 10-15 minutes on 2 cores; fixed seeds and step budgets).
starter-models: $(VENV)/.runtime
	$(PY) tools/make_starter_models.py

# docs/inside.md: what the cell ranking finds in the Nietzsche starter on held-out text, and its speed.
inside-report: $(VENV)/.runtime
	$(PY) tools/inside_report.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache build dist charlstm.egg-info
