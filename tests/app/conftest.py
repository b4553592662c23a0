"""App tests: Streamlit's AppTest drives app.py in this process, against a private models folder.

Every test gets its own CHARLSTM_HOME and an empty Keras cache; every job still running after a
test is stopped. Helpers the tests share are in studio_helpers.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/app/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.app)


@pytest.fixture(autouse=True)
def studio_home(tmp_path, monkeypatch) -> Path:
    """A private models folder and an empty Keras cache (the offline corpus is the default)."""
    home = tmp_path / "home"
    monkeypatch.setenv("CHARLSTM_HOME", str(home))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    yield home
    from ui.state import registry

    registry().stop_all(timeout=60)


@pytest.fixture
def runs_root(studio_home) -> Path:
    from charlstm.store import runs_root

    return runs_root()
