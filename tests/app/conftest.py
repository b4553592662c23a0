"""App tests: Streamlit's AppTest drives charlstm_studio/app.py in this process, against a private models folder.

Every test gets its own CHARLSTM_HOME and an empty Keras cache. Trainings run on the studio's Dask
cluster (`charlstm_studio.ui.state.jobs()`, one per test session, started on first use and closed at the end, its
worker processes with it); every training still waiting or running after a test is stopped and
awaited, so the next test finds the workers free. Helpers the tests share are in studio_helpers.py.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import pytest
from helpers import pid_gone, wait_for


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/app/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.app)


@pytest.fixture(scope="session", autouse=True)
def studio_config():
    """The studio's own settings (charlstm_studio/.streamlit/config.toml) in this process, as its server has them.

    `charlstm studio` gets them because Streamlit reads the config file beside the main script; AppTest runs
    the app in this process, where Streamlit looks only in the current folder and in ~/.streamlit.
    """
    from streamlit import config

    path = Path(__file__).resolve().parents[2] / "charlstm_studio" / ".streamlit" / "config.toml"
    for section, options in tomllib.loads(path.read_text(encoding="utf-8")).items():
        for name, value in options.items():
            config.set_option(f"{section}.{name}", value)


@pytest.fixture(scope="session", autouse=True)
def studio_cluster():
    """The studio's job queue for the whole session; closed at the end, and its workers must be gone.

    One worker, so one training at a time whatever the machine: the queue tests rely on it.
    """
    before = os.environ.get("CHARLSTM_WORKERS")
    os.environ["CHARLSTM_WORKERS"] = "1"
    yield
    if before is None:
        os.environ.pop("CHARLSTM_WORKERS", None)
    else:
        os.environ["CHARLSTM_WORKERS"] = before
    if not _studio_used:
        return  # no test drove the studio: no cluster to close (and none to start now)
    from charlstm_studio.ui import state

    queue = state.jobs()
    with queue._lock:  # held while the cluster starts (in the studio's background thread): wait for it
        started = queue._client is not None
    pids = queue.worker_pids() if started else []
    queue.close()
    state.jobs.clear()
    wait_for(lambda: all(pid_gone(p) for p in pids), timeout=30, what=f"the Dask workers {pids} to exit")


_studio_used = False


@pytest.fixture(autouse=True)
def studio_home(request, tmp_path, monkeypatch) -> Path:
    """A private models folder and an empty Keras cache (the offline corpus is the default).

    A module that sets `USES_STUDIO = False` (test_jobs.py: its own cluster) does not start the studio's.
    """
    global _studio_used
    home = tmp_path / "home"
    monkeypatch.setenv("CHARLSTM_HOME", str(home))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    if not getattr(request.module, "USES_STUDIO", True):
        yield home
        return
    _studio_used = True
    from charlstm import store
    from charlstm_studio.ui import state

    queue = state.jobs()  # process-wide (st.cache_resource): it must look at this test's models folder
    monkeypatch.setattr(queue, "root", store.runs_root())
    state._corpora.clear()  # the text each browser chose last: most tests play the same browser (studio_helpers.ME)
    yield home
    stop_all(store.runs_root())


def stop_all(root: Path, timeout: float = 120.0) -> None:
    """Leave the queue or stop every run under `root`, and wait until none trains or waits."""
    from charlstm import store
    from charlstm_studio.ui import state

    def unsettled() -> list[str]:
        left = []
        for run in store.run_folders(root):
            status = run.status()  # a run claimed by a worker that has not started yet reads as running
            if status.active:
                state.jobs().stop(run)  # asked again each time: a Stop can land just before the job starts
                left.append(f"{run.id}: {status.state}")
        return left

    wait_for(lambda: not unsettled(), timeout=timeout, every=0.25, what=lambda: f"trainings to end: {unsettled()}")


@pytest.fixture
def runs_root(studio_home) -> Path:
    from charlstm.store import runs_root

    return runs_root()
