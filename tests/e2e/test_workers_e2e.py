"""Training in worker processes, seen from the browser: the server stays free of TensorFlow, and faults are survived.

- Every page, a training and the playground, while the server process never maps TensorFlow.
- A worker SIGKILLed mid-training: the page says "interrupted" within 15 s, and a new training starts.
- The web server SIGKILLed while an external Dask cluster trains: a restarted server reattaches.
- The web server SIGKILLed with its embedded cluster: the training ends with it and reads "interrupted".
"""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path

import pytest
from e2e_helpers import (
    WRITTEN,
    key,
    nav,
    open_app,
    shot,
    start_training,
    streamlit_process,
    tiny_settings,
    use_pasted_text,
    wait_idle,
)
from helpers import dask_cluster, pid_gone, trainer_pid, wait_for

from charlstm.run import Run

INTERRUPTED_WITHIN_MS = 15_000


def maps_tensorflow(pid: int) -> bool:
    """Whether a process has TensorFlow's shared library loaded (what `import tensorflow` leaves behind)."""
    return "libtensorflow" in Path(f"/proc/{pid}/maps").read_text()


def the_run(home: Path) -> Run:
    runs = wait_for(lambda: [p for p in (home / "runs").glob("*") if p.is_dir()], 30, what="a run folder")
    return Run(max(runs, key=lambda p: p.stat().st_mtime))


def open_studio(browser, url: str):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.base_url = url
    return context, page


def train_tiny(page, text: str, minutes: str = "3") -> None:
    open_app(page)
    use_pasted_text(page, text)
    nav(page, "Train")
    tiny_settings(page, minutes=minutes)
    start_training(page)
    page.wait_for_selector("[data-testid=stVegaLiteChart]", timeout=90_000)


def test_no_tensorflow_in_the_server_and_a_killed_worker(browser, tmp_path, english_text):
    home = tmp_path / "home"
    with streamlit_process(home) as (url, server):
        context, page = open_studio(browser, url)
        train_tiny(page, english_text[:15_000])
        run = the_run(home)
        worker = trainer_pid(run)
        assert worker != server.pid
        assert maps_tensorflow(worker)  # the probe sees TensorFlow where it is
        assert not maps_tensorflow(server.pid)
        wait_for(lambda: run.has_model, 90, what="a first epoch")

        os.kill(worker, signal.SIGKILL)
        page.get_by_text(re.compile("was interrupted")).first.wait_for(timeout=INTERRUPTED_WITHIN_MS)
        shot(page, "train-interrupted")

        # the slot is free again: a new training starts and learns
        page.locator(f"{key('train_new')} button").click()
        wait_idle(page)
        start_training(page)
        page.wait_for_selector("[data-testid=stVegaLiteChart]", timeout=90_000)
        page.locator(f"{key('train_stop')} button").click()
        page.get_by_text(re.compile("Stopped by you")).first.wait_for(timeout=60_000)

        for title in ("Generate", "Models", "Corpus", "Train"):
            nav(page, title)
        nav(page, "Generate")
        page.wait_for_selector(WRITTEN)
        assert not maps_tensorflow(server.pid)  # every page, a training and the playground: still none
        context.close()


@pytest.fixture
def external_cluster(tmp_path):
    """`dask scheduler` + one `dask worker` with a training slot and the preload, as the README shows."""
    with dask_cluster(workers=1) as address:
        yield address


def test_a_restarted_server_reattaches_to_a_job_on_an_external_cluster(
    browser, tmp_path, english_text, external_cluster
):
    home = tmp_path / "home"
    cluster = {"CHARLSTM_SCHEDULER": external_cluster, "CHARLSTM_ALLOW_OPEN_SCHEDULER": "1"}  # loopback, tests only
    context = browser.new_context(viewport={"width": 1400, "height": 1000})  # one browser: its cookie is its key
    with streamlit_process(home, env=cluster, log_name="first.log", check_log=False) as (url, server):
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.base_url = url
        train_tiny(page, english_text[:15_000], minutes="2")
        path_and_query = page.url[len(url) :]
        assert "run=" in path_and_query and "s=" not in path_and_query  # no key in a link people share
        run = the_run(home)
        server.kill()  # SIGKILL: no clean-up of any kind
        server.wait()
        epochs = len(run.history())
    wait_for(lambda: len(run.history()) > epochs, 30, 0.2, what="an epoch trained after the studio died")
    assert run.status().state == "running"  # the cluster trains on without the studio

    with streamlit_process(home, env=cluster, log_name="second.log") as (url, _server):
        stranger, strange_page = open_studio(browser, url)  # someone who got the link
        strange_page.goto(url + path_and_query)
        wait_idle(strange_page, 90_000)
        strange_page.get_by_text("no model of yours at this address").first.wait_for()
        assert strange_page.locator(f"{key('train_stop')} button").count() == 0
        stranger.close()

        page = context.new_page()  # a new tab of the same browser, after the restart
        page.goto(url + path_and_query)
        wait_idle(page, 90_000)
        page.wait_for_selector(f"{key('train_stop')} button", timeout=30_000)  # reattached: it can be stopped
        page.get_by_text(re.compile(r"Epoch \d+ · step")).first.wait_for(timeout=30_000)
        page.locator(f"{key('train_stop')} button").click()
        page.get_by_text(re.compile("Stopped by you")).first.wait_for(timeout=60_000)
        context.close()


def test_the_embedded_cluster_ends_with_a_killed_server(browser, tmp_path, english_text):
    home = tmp_path / "home"
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    with streamlit_process(home, log_name="first.log", check_log=False) as (url, server):
        page = context.new_page()
        page.set_default_timeout(30_000)
        page.base_url = url
        train_tiny(page, english_text[:15_000])
        path_and_query = page.url[len(url) :]
        run = the_run(home)
        worker = trainer_pid(run)
        server.kill()
        server.wait()
    wait_for(lambda: run.status().state == "interrupted", 30, what="the orphaned training to end")
    wait_for(lambda: pid_gone(worker), 30, what="the orphaned worker to exit")

    with streamlit_process(home, log_name="second.log") as (url, _server):
        page = context.new_page()
        page.goto(url + path_and_query)
        wait_idle(page, 90_000)
        page.get_by_text(re.compile("interrupted")).first.wait_for(timeout=30_000)
        context.close()
