"""Reliability in a real browser against a real server (docs/reliability.md).

The server here runs with the studio's own .streamlit/config.toml (no --address, so the default address is
the one users get) and an upload limit of 1 MB (STREAMLIT_SERVER_MAX_UPLOAD_SIZE), so "over the limit" needs no
big file.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import urllib.request

import psutil
import pytest
from e2e_helpers import ROOT, assert_no_traceback, open_expander, streamlit_server, wait_idle
from helpers import free_port, wait_for

LIMIT_MB = 1


@pytest.fixture(scope="module")
def limited_server(tmp_path_factory):
    home = tmp_path_factory.mktemp("e2e-reliability-home")
    with streamlit_server(home, env={"STREAMLIT_SERVER_MAX_UPLOAD_SIZE": str(LIMIT_MB)}) as (url, port):
        yield url, port


@pytest.fixture
def limited_page(browser, limited_server):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    pg = context.new_page()
    pg.set_default_timeout(30_000)
    pg.goto(limited_server[0] + "/corpus")
    wait_idle(pg, 90_000)
    yield pg
    context.close()


def test_a_text_over_the_upload_limit_is_refused_before_the_app_reads_it(limited_page):
    page = limited_page
    page.get_by_role("tab", name="Upload files").click()
    assert page.get_by_text(f"Up to {LIMIT_MB} MB per file").first.is_visible()
    before = page.locator("h2").first.inner_text()
    dropzone = page.locator(".st-key-corpus_upload [data-testid=stFileUploaderDropzoneInput]")
    big = b"All work and no play makes Jack a dull boy.\n" * (LIMIT_MB * 1024 * 1024 // 44 + 1000)
    dropzone.set_input_files(files=[{"name": "huge-log.txt", "mimeType": "text/plain", "buffer": big}])
    page.get_by_text(f"File must be {LIMIT_MB:.1f}MB or smaller").first.wait_for(timeout=15_000)
    wait_idle(page)
    assert page.locator("h2").first.inner_text() == before  # the text in use did not change
    assert "huge-log" not in page.locator("h2").first.inner_text()


def test_a_bundle_over_the_upload_limit_is_refused_with_the_limit(limited_page):
    page = limited_page
    page.locator("[data-testid=stSidebarNavLink]", has_text="Models").click()
    wait_idle(page)
    open_expander(page, "Add a model from a file")  # seen open: a message inside a closed one is hidden
    dropzone = page.locator(".st-key-models_upload [data-testid=stFileUploaderDropzoneInput]")
    blob = b"PK" + bytes(range(256)) * (LIMIT_MB * 1024 * 1024 // 256 + 2000)
    dropzone.set_input_files(files=[{"name": "model.zip", "mimeType": "application/zip", "buffer": blob}])
    uploader = page.locator(".st-key-models_upload")
    uploader.get_by_text("Error").first.wait_for(timeout=15_000)
    assert f"File must be {LIMIT_MB:.1f}MB or smaller" in uploader.inner_text()


def _own_address() -> str | None:
    """This machine's address on its main network interface (no packet is sent), if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("10.255.255.255", 1))
            address = s.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") or address == "0.0.0.0" else address


def test_the_server_answers_on_localhost_only(limited_server):
    _, port = limited_server
    with socket.create_connection(("127.0.0.1", port), timeout=5):
        pass
    address = _own_address()
    if address is None:
        pytest.skip("this machine has no network address besides localhost")
    with pytest.raises(OSError), socket.create_connection((address, port), timeout=5):
        pass


def _tensorflow_loaded(proc: psutil.Process) -> bool:
    """Whether a process has TensorFlow's libraries mapped: a training worker that joined warm."""
    try:
        return any("tensorflow" in m.path for m in proc.memory_maps())
    except psutil.Error:
        return False


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
            return response.read().decode().strip() == "ok"
    except OSError:
        return False


def test_a_ctrl_c_ends_the_studio_and_its_training_cluster_without_a_traceback(browser, tmp_path):
    """A Ctrl+C in a terminal signals its whole process group: each worker, caught closing, logged a traceback."""
    port, log_path = free_port(), tmp_path / "server.log"
    env = {**os.environ, "CHARLSTM_HOME": str(tmp_path / "home"), "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "charlstm", "studio", "--port", str(port)]
    with open(log_path, "w") as log:  # a process group of its own, as a terminal gives `make run`
        studio = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    family: list[psutil.Process] = []
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: _answers(url), 90, 0.3, what="the studio's health check")
        page = browser.new_page()
        page.goto(url + "/train")  # the first page starts the training cluster
        wait_idle(page, 90_000)
        server = psutil.Process(studio.pid)
        wait_for(
            lambda: any(_tensorflow_loaded(p) for p in server.children(recursive=True)),
            120,
            0.5,
            what="a training worker with TensorFlow loaded",
        )
        family = server.children(recursive=True)
        page.close()
        os.killpg(studio.pid, signal.SIGINT)  # what Ctrl+C does
        studio.wait(60)
        wait_for(
            lambda: not any(p.is_running() and p.status() != psutil.STATUS_ZOMBIE for p in family),
            60,
            0.5,
            what="the cluster's processes to end",
        )
    finally:
        for proc in [psutil.Process(studio.pid), *family] if studio.poll() is None else family:
            with contextlib.suppress(psutil.Error):
                proc.kill()
    assert_no_traceback(log_path.read_text(errors="replace"))  # Dask's own heartbeat race excepted, as everywhere
