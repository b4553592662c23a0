"""Small shared pieces: section results, targets, timing helpers, the machine description."""

from __future__ import annotations

import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import psutil

from charlstm.config import LN2 as LN2  # re-exported: one ln 2 for the package and the benchmarks

MIB = 2**20  # bytes per MiB: RSS and array sizes are reported in MiB
ROOT = Path(__file__).resolve().parent.parent


@dataclass
class Target:
    """One claim from the issue, checked against a measured value."""

    name: str
    value: float | None  # None: not measured (the section or contender was skipped)
    op: str  # "<=" or ">="
    threshold: float
    unit: str = ""
    lower_bound: bool = False  # `value` is only a lower bound (e.g. the seed never got there)
    cause: str = ""  # said plainly when missed

    @property
    def met(self) -> bool | None:
        if self.value is None or not math.isfinite(self.value):
            return None
        met = self.value <= self.threshold if self.op == "<=" else self.value >= self.threshold
        if self.lower_bound and not met:
            return None  # a lower bound below the target says nothing either way
        return met

    @property
    def gap(self) -> float | None:
        if self.met is None or self.met:
            return None
        return self.value - self.threshold

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "met": self.met, "gap": self.gap}


@dataclass
class Table:
    title: str
    columns: list[str]
    rows: list[list[Any]]
    note: str = ""


@dataclass
class Section:
    """What one benchmark section hands to the report."""

    key: str
    title: str
    status: str = "ok"  # ok | skipped | error
    reason: str = ""
    tables: list[Table] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["targets"] = [t.to_dict() for t in self.targets]
        return d


def skipped(key: str, title: str, reason: str) -> Section:
    return Section(key, title, status="skipped", reason=reason)


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def timed_median(fn: Callable[[], Any], repeats: int) -> tuple[float, list[float]]:
    """Median wall seconds of `repeats` calls of fn, and every time."""
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return median(times), times


def rss_mb() -> float:
    return psutil.Process().memory_info().rss / 2**20


def import_tensorflow() -> dict[str, float]:
    """Import TensorFlow/Keras first, as both the seed and charlstm's training do; report the cost."""
    before = rss_mb()
    t = time.perf_counter()
    import keras  # noqa: F401
    import tensorflow  # noqa: F401

    return {"rss_python_mb": before, "rss_after_import_mb": rss_mb(), "import_seconds": time.perf_counter() - t}


def reset_peak() -> None:
    """Start VmHWM afresh from the current RSS (Linux: write 5 to /proc/self/clear_refs)."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
            fh.write("5")
    except OSError:
        pass


def peak_rss_mb() -> float:
    """This process's peak resident memory so far, in MiB.

    VmHWM from /proc/self/status on Linux: unlike `ru_maxrss`, it starts afresh in a new program
    (Linux carries `ru_maxrss` over from the parent across fork and exec).
    """
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def fmt(value: float | None, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{value:,.{digits}f}"


def machine_info() -> dict[str, Any]:
    """CPU, cores, RAM, load and library versions: enough to judge the numbers."""
    import numpy as np

    cpu = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    info: dict[str, Any] = {
        "cpu": cpu,
        "logical_cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "ram_gb": round(psutil.virtual_memory().total / 1e9, 1),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "numpy": np.__version__,
        "platform": platform.platform(),
    }
    try:
        import keras
        import tensorflow as tf

        info["tensorflow"] = tf.__version__
        info["keras"] = keras.__version__
    except ImportError:  # pragma: no cover - the package needs TF anyway
        pass
    return info


def run_worker(task: str, args: dict[str, Any] | None = None, env: dict[str, str] | None = None, timeout: float = 900):
    """Run one `bench.worker` task in a fresh Python process and return its RESULT (a dict)."""
    full_env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(ROOT), **(env or {})}
    proc = subprocess.run(
        [sys.executable, "-m", "bench.worker", task, json.dumps(args or {})],
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
    raise RuntimeError(f"worker {task} failed (exit {proc.returncode}): " + " | ".join(tail))
