"""A benchmark's worker process ends with the benchmark that started it (bench/worker.py).

A killed benchmark once left its worker training for 15 minutes beside the next measurement, which then ran
at half speed without a word (docs/tuning.md, rows M13-M15). Real processes, killed as `pkill` kills them.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
WORKER = (  # says "watching" once it watches (on the parent's stdout, which it shares)
    "from bench.worker import end_with_parent; import time; end_with_parent(0.1); "
    "print('watching', flush=True); time.sleep(60)"
)
PARENT = (
    "import subprocess, sys, time; "
    f"child = subprocess.Popen([sys.executable, '-c', {WORKER!r}]); "
    "print(child.pid, flush=True); time.sleep(60)"
)


def test_a_worker_ends_when_its_benchmark_is_killed():
    parent = subprocess.Popen([sys.executable, "-c", PARENT], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    child = psutil.Process(int(parent.stdout.readline()))
    try:
        assert parent.stdout.readline().strip() == "watching", "the worker did not start"  # killed only after
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(10)
        gone, _ = psutil.wait_procs([child], timeout=10)
        assert gone, "the worker outlived its benchmark"
    finally:
        for proc in (parent, child):
            with contextlib.suppress(ProcessLookupError, psutil.NoSuchProcess):
                proc.kill()
