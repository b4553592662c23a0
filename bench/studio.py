"""The real studio for section 4: `charlstm studio`, Chromium through Playwright, process memory, run folders.

Nothing here measures by itself; `bench.app_response` strings these pieces into the measurements.
The server runs with a private CHARLSTM_HOME, so the run folders it makes are the only ones there.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from charlstm.run import PROGRESS, STATUS, Run

from .browser import CHROMIUM, CHROMIUM_ARGS, key, nav, open_expander, wait_idle  # noqa: F401 (the bench's clicks)
from .common import ROOT

MIB = 2**20
CHART = "[data-testid=stVegaLiteChart]"
CODE = "[data-testid=stCode]"
ENDED = re.compile("Stopped by you|Reached the time limit")


def browser_missing() -> str | None:
    """Why the browser measurements cannot run here, or None."""
    if not os.path.exists(CHROMIUM):
        return f"Debian chromium is not installed ({CHROMIUM}; apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -r requirements-dev.txt)"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode}")
        with contextlib.suppress(OSError), urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
            if r.read().decode().strip() == "ok":
                return
        time.sleep(0.2)
    raise TimeoutError("streamlit did not become healthy")


@dataclass
class Server:
    url: str
    proc: subprocess.Popen
    launched: float  # time.perf_counter() when the process was started
    runs: Path


@contextlib.contextmanager
def streamlit_server(home: Path, env: dict[str, str]) -> Iterator[Server]:
    """`python -m charlstm studio` (a free port, the studio's config: headless, localhost) with CHARLSTM_HOME=home."""
    port = _free_port()
    home.mkdir(parents=True, exist_ok=True)
    full_env = {**os.environ, **env, "CHARLSTM_HOME": str(home), "PYTHONPATH": str(ROOT)}
    with open(home / "server.log", "w") as log:
        launched = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "charlstm", "studio", "--port", str(port)],
            cwd=ROOT,
            env=full_env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_healthy(url, proc)
            yield Server(url, proc, launched, home / "runs")
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


# --- memory of the server, the cluster process and the workers ------------------------------------------
def _rss_mb(proc: psutil.Process) -> float:
    try:
        return proc.memory_info().rss / MIB
    except psutil.Error:
        return 0.0


def peak_mb(pid: int) -> float | None:
    """VmHWM of a live process (its peak resident memory so far)."""
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return None


def memory(server_pid: int) -> dict[str, float | list[float]]:
    """RSS of the server process alone, of the cluster process (scheduler + nannies), and of each worker."""
    server = psutil.Process(server_pid)
    out: dict[str, float | list[float]] = {"server": _rss_mb(server), "cluster": 0.0, "workers": []}
    with contextlib.suppress(psutil.Error):
        for child in server.children():
            if "charlstm.cluster" not in " ".join(child.cmdline()):
                continue
            out["cluster"] = _rss_mb(child)
            for worker in child.children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    if "resource_tracker" not in " ".join(worker.cmdline()):
                        out["workers"].append(_rss_mb(worker))
    return out


@dataclass
class MemoryLog:
    """Memory samples of the studio's processes, by phase (idle, training, playground, ...)."""

    server_pid: int
    samples: dict[str, list[dict]] = field(default_factory=dict)

    def sample(self, phase: str) -> None:
        self.samples.setdefault(phase, []).append({"t": time.perf_counter(), **memory(self.server_pid)})

    def sample_for(self, phase: str, seconds: float, every: float = 0.5) -> None:
        end = time.perf_counter() + seconds
        while True:
            self.sample(phase)
            if time.perf_counter() >= end:
                return
            time.sleep(every)


# --- run folders, watched from outside -------------------------------------------------------------------
class RunWatch:
    """Times, from `t0`, when a new run folder gets its status (the worker started), progress and first loss."""

    def __init__(self, runs: Path, t0: float, timeout: float = 240.0):
        self.runs, self.t0, self.timeout = runs, t0, timeout
        self.known = {p.name for p in runs.glob("*")} if runs.is_dir() else set()
        self.times: dict[str, float] = {}
        self.run: Run | None = None
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while time.perf_counter() - self.t0 < self.timeout and "first_loss" not in self.times:
            if self.run is None and self.runs.is_dir():
                fresh = [p for p in self.runs.iterdir() if p.is_dir() and p.name not in self.known]
                self.run = Run(fresh[0]) if fresh else None
            if self.run is not None:
                self._mark("status", self.run.file(STATUS).is_file())
                self._mark("fit_start", self.run.file(PROGRESS).is_file())
                self._mark("first_loss", bool(self.run.batch_losses()))
            time.sleep(0.02)

    def _mark(self, name: str, seen: bool) -> None:
        if seen and name not in self.times:
            self.times[name] = time.perf_counter() - self.t0

    def wait(self) -> dict[str, float]:
        self._thread.join(self.timeout + 5)
        if "first_loss" not in self.times:
            raise RuntimeError(f"no batch loss in the run folder within {self.timeout:.0f} s of Start ({self.times})")
        return dict(self.times)


# --- a user's clicks ----------------------------------------------------------------------------------------


def open_app(page, url: str) -> None:
    page.goto(url)
    wait_idle(page, 120_000)


def stop_training(page, timeout: float = 240_000) -> None:
    """Stop (unless it ended already) and wait for the end: a partial epoch is validated and saved."""
    stop = page.locator(f"{key('train_stop')} button")
    if stop.count():
        stop.click()
    page.get_by_text(ENDED).first.wait_for(timeout=timeout)
    wait_idle(page)


def new_run(page) -> None:
    page.locator(f"{key('train_new')} button").click()
    wait_idle(page)
    page.locator(f"{key('train_start')} button").wait_for()


def code_text(page) -> str:
    return page.locator(CODE).first.inner_text()
