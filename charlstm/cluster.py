"""The embedded training cluster: a Dask LocalCluster in a process of its own, tied to the studio's life.

    python -m charlstm.cluster --workers 2

prints the scheduler's address on its first line, then keeps the cluster up until its standard
input closes, which happens when the process that started it ends, however it ends (even
SIGKILL). Then its workers stop, and a training they ran reads "interrupted" from its run folder.

Why a process of its own: worker processes are started with multiprocessing's "spawn", which
re-imports the parent's main module. Inside the studio (`streamlit run .../app.py`) that module is the app, which
would start a cluster of its own in every worker. Here the main module is this small file.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading

from .errors import CharlstmError
from .worker import THREADS_ENV

TRAIN_RESOURCE = "train"  # each worker offers one training slot
START_TIMEOUT_SECONDS = 120.0


def serve(workers: int) -> None:
    """Start the cluster, print its address, and run until stdin reaches end-of-file."""
    from distributed import LocalCluster

    threads = max(1, (os.cpu_count() or 1) // workers)
    cluster = LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        resources={TRAIN_RESOURCE: 1},
        env={THREADS_ENV: str(threads)},
    )
    print(cluster.scheduler_address, flush=True)
    sys.stdin.read()  # returns when the studio that started us ends
    cluster.close(timeout=10)


def start(workers: int) -> tuple[subprocess.Popen, str]:
    """Start `python -m charlstm.cluster` and return it with the scheduler address it printed."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "charlstm.cluster", "--workers", str(workers)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    found: list[str] = []
    stdout = proc.stdout
    assert stdout is not None  # stdout=PIPE
    reader = threading.Thread(target=lambda: found.append(stdout.readline().strip()), daemon=True)
    reader.start()
    reader.join(START_TIMEOUT_SECONDS)
    if not found or not found[0].startswith("tcp://"):
        proc.kill()
        raise CharlstmError(
            "The built-in training cluster did not start (no scheduler address within "
            f"{START_TIMEOUT_SECONDS:g} s). Check the server's console for the reason."
        )
    return proc, found[0]


def stop(proc: subprocess.Popen, timeout: float = 20.0) -> None:
    """Close the cluster's stdin (it shuts down), then make sure it is gone."""
    if proc.stdin is not None and not proc.stdin.closed:
        proc.stdin.close()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m charlstm.cluster", description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=1)
    serve(max(1, parser.parse_args().workers))


if __name__ == "__main__":
    main()
