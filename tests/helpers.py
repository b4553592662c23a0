"""Waiting for something that happens in another thread or process: one helper, with a timeout."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from charlstm.cluster import WORKER_PRELOAD


def wait_for(
    predicate: Callable[[], Any], timeout: float = 60.0, every: float = 0.05, what: Callable[[], str] | str = ""
) -> Any:
    """Call `predicate` until it returns something true (and return that); fail after `timeout` seconds.

    `what` (a string, or a function giving one) says what was awaited, for the failure message.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            detail = what() if callable(what) else what
            raise AssertionError(f"timed out after {timeout:g} s waiting{': ' + detail if detail else ''}")
        time.sleep(every)


def pid_gone(pid: int) -> bool:
    """Whether process `pid` has exited (a zombie, not reaped yet by its parent, counts as exited)."""
    import os

    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def dask_cluster(workers: int) -> Iterator[str]:
    """`dask scheduler` and `workers` x `dask worker` on loopback, with the README's training slot and preload.

    Yields the scheduler's address; every process is stopped on the way out.
    """
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    dask = str(Path(sys.executable).parent / "dask")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    quiet: dict[str, Any] = {"env": env, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    procs = [subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", str(port)], **quiet)]
    worker_args = ["--nworkers", "1", "--nthreads", "1", "--resources", "train=1", "--preload", WORKER_PRELOAD]
    try:
        procs += [subprocess.Popen([dask, "worker", address, *worker_args], **quiet) for _ in range(workers)]
        yield address
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


def trainer_pid(run: Any) -> int:
    """The process that trains a run, from its lease (waiting for the first one)."""
    import json

    lease = wait_for(lambda: run.file("lease.json").is_file() and run.file("lease.json"), 90, what="a lease")
    return int(json.loads(lease.read_text())["pid"])


@contextlib.contextmanager
def serving(
    command: list[str], port: int, *, cwd: Path, env: dict, log_path: Path
) -> Iterator[tuple[str, subprocess.Popen]]:
    """Run a studio command (`charlstm studio --port N`) until it answers /_stcore/health; stop it on the way out.

    Yields the base URL and the process. Its output goes to `log_path`, for the caller to read afterwards.
    """
    import urllib.request

    url = f"http://127.0.0.1:{port}"
    with open(log_path, "w") as log:
        server = subprocess.Popen(command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)

        def healthy() -> bool:
            assert server.poll() is None, f"{command[0]} exited with {server.returncode}"
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                    return response.read().decode().strip() == "ok"
            except OSError:
                return False

        try:
            wait_for(healthy, 90, 0.3, what=f"{url}/_stcore/health")
            yield url, server
        finally:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()


def default_sigint() -> None:
    """`preexec_fn` for a child that must stop on Ctrl+C however the suite was started.

    A shell's background job (`nohup make test &`, some CI runners) starts with SIGINT ignored, and
    children inherit that; Python then never installs its KeyboardInterrupt handler. Reset it first.
    """
    import signal

    signal.signal(signal.SIGINT, signal.SIG_DFL)


def copy_run(run_dir: Path, tmp_path: Path) -> Path:
    """A copy of a shared run (a session fixture) that one test may change."""
    dest = tmp_path / "runs" / run_dir.name
    shutil.copytree(run_dir, dest)
    return dest
