"""Shared fixtures: small real corpora, tiny configs, one tiny trained run per session."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parent.parent
# The seed corpus beside the checkout (../shared/data), or where CHARLSTM_SHARED_DATA says: nowhere else.
SHARED_NIETZSCHE = Path(os.environ.get("CHARLSTM_SHARED_DATA") or ROOT.parent / "shared" / "data") / "nietzsche.txt"
IN_CI = os.environ.get("CI", "").lower() == "true"
# The files that take longest (a browser, a server, a cluster), in the order they start: with `make test`'s two
# processes (pytest-xdist, one file at a time each) the long ones start first and the many short ones fill in
# at the end, instead of one process finishing a long file alone.
LONGEST_FIRST = ("tests/e2e/", "tests/test_cluster.py", "tests/test_cli.py")


def pytest_collection_modifyitems(items):
    def rank(item) -> int:
        path = str(item.fspath).replace(os.sep, "/")
        return next((i for i, part in enumerate(LONGEST_FIRST) if f"/{part}" in path), len(LONGEST_FIRST))

    items.sort(key=rank)  # stable: each file keeps its own order


@pytest.fixture(scope="session")
def python_docs() -> bytes:
    """The built-in python-docs corpus, read once per test process (it parses the standard library: seconds)."""
    from charlstm.corpora import load_python_docs

    return load_python_docs()


@pytest.fixture(scope="session")
def english_text(python_docs) -> str:
    """About 60,000 characters of real English prose (Python's docstrings: offline, always there)."""
    return python_docs.decode("utf-8")[:60_000]


@pytest.fixture(scope="session")
def nietzsche_path() -> Path:
    """The shared seed corpus; skipped when absent, but required in CI."""
    if not SHARED_NIETZSCHE.is_file():
        if IN_CI:
            pytest.fail(f"CI must have {SHARED_NIETZSCHE}")
        pytest.skip(f"{SHARED_NIETZSCHE} is not present")
    return SHARED_NIETZSCHE


@pytest.fixture
def keras_home(tmp_path, monkeypatch, nietzsche_path) -> Path:
    """A Keras cache pre-filled with the seed corpus, so the real get_file path runs offline."""
    home = tmp_path / "keras"
    (home / "datasets").mkdir(parents=True)
    shutil.copy(nietzsche_path, home / "datasets" / "nietzsche.txt")
    monkeypatch.setenv("KERAS_HOME", str(home))
    return home


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    """A private models folder (CHARLSTM_HOME) for one test."""
    path = tmp_path / "charlstm-home"
    monkeypatch.setenv("CHARLSTM_HOME", str(path))
    return path


@pytest.fixture(scope="session")
def tiny_config():
    from run_factory import TINY

    return TINY


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory, english_text, tiny_config) -> Path:
    """One tiny model trained for two short epochs; tests that only read a run share it."""
    from charlstm.text import Corpus
    from charlstm.training import TrainingJob

    root = tmp_path_factory.mktemp("runs")
    job = TrainingJob.create(Corpus(english_text[:20_000], "docs", "paste"), tiny_config, root=root, name="tiny")
    snap = job.run()  # in this process (the studio would queue it on a Dask worker)
    assert snap.stop_reason == "completed", snap.message
    assert job.run_folder.status().state == "completed" and job.run_folder.has_model
    return job.run_dir
