"""Training jobs shared by every browser session of one server: who owns which, who trains, who waits.

Training is CPU-bound, so by default one job trains at a time (`CHARLSTM_MAX_TRAINING` raises the
cap). A job submitted while the trainer is busy waits in a first-in, first-out queue; its owner
sees its place in the line, and it starts by itself when a slot frees up. Jobs are keyed by their
run id (the run folder's name), so a page that lost its session (a browser reload) finds its job
again from the id in the URL. Every lookup names an owner (a random session token): a session
never sees another session's jobs.

Abandoned runs: nobody has to watch a job for it to end. Every job stops at its own budget
(epochs or seconds; the app always sets a finite one), and the registry stops any job that is
still training after `CHARLSTM_MAX_TRAINING_SECONDS` (default 4 hours) of wall-clock time.
Finished jobs stay listed for an hour (their runs stay on disk for good), then are forgotten. A run
that ends with nothing saved (left the queue, or stopped before its first step) is removed, so the
library holds no empty entries.

No Streamlit here: the app holds one `JobRegistry` per process; tests build their own.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from . import store
from .config import TrainConfig
from .errors import CharlstmError
from .training import Snapshot, TrainingJob

ENV_MAX_TRAINING = "CHARLSTM_MAX_TRAINING"
ENV_MAX_SECONDS = "CHARLSTM_MAX_TRAINING_SECONDS"
DEFAULT_MAX_TRAINING = 1
DEFAULT_MAX_SECONDS = 4 * 3600.0
KEEP_FINISHED_SECONDS = 3600.0
KEEP_FINISHED = 50


def _env_number(name: str, default: float, low: float) -> float:
    try:
        value = float(os.environ.get(name, ""))
    except ValueError:
        return default
    return value if value >= low else default


@dataclass(frozen=True)
class JobView:
    """What a page needs to know about one job, read in one go."""

    run_id: str
    run_dir: Path
    label: str
    state: str  # queued | running | finished | cancelled
    position: int  # 1-based place in the queue while queued, else 0
    running_now: int  # how many jobs are training on this server
    config: TrainConfig
    snapshot: Snapshot
    note: str | None  # something the registry did to the job (cancelled, stopped at the server's limit)

    @property
    def active(self) -> bool:
        return self.state in ("queued", "running")


class _Entry:
    def __init__(self, job: TrainingJob, owner: str, label: str):
        self.job, self.owner, self.label = job, owner, label
        self.run_id = job.run_dir.name
        self.submitted = time.time()
        self.started: float | None = None
        self.ended: float | None = None
        self.cancelled = False
        self.note: str | None = None

    @property
    def state(self) -> str:
        if self.cancelled:
            return "cancelled"
        if self.started is None:
            return "queued"
        return "finished" if self.ended is not None else "running"


class JobRegistry:
    """Thread-safe: any session thread may submit, look up and stop; jobs train on their own threads."""

    def __init__(self, max_running: int | None = None, max_seconds: float | None = None):
        self.max_running = max(1, int(max_running or _env_number(ENV_MAX_TRAINING, DEFAULT_MAX_TRAINING, 1)))
        self.max_seconds = float(max_seconds or _env_number(ENV_MAX_SECONDS, DEFAULT_MAX_SECONDS, 1.0))
        self._lock = threading.RLock()
        self._entries: dict[str, _Entry] = {}
        self._queue: deque[str] = deque()

    # --- submitting and stopping ---------------------------------------------------------------
    def submit(self, job: TrainingJob, owner: str, label: str | None = None) -> JobView:
        """Queue a created (or resumed) job; it starts at once when a training slot is free."""
        run_id = job.run_dir.name
        with self._lock:
            old = self._entries.get(run_id)
            if old is not None and old.state in ("queued", "running"):
                raise CharlstmError(f"{label or run_id} is already training or waiting to train.")
            self._entries[run_id] = _Entry(job, owner, label or run_id)
            self._queue.append(run_id)
            self._pump()
            return self._view(self._entries[run_id])

    def stop(self, run_id: str, owner: str) -> bool:
        """Stop a running job (it saves what it has learned) or take a waiting one out of the queue."""
        with self._lock:
            entry = self._entries.get(run_id)
            if entry is None or entry.owner != owner:
                return False
            if entry.state == "queued":
                self._queue.remove(run_id)
                entry.cancelled, entry.ended = True, time.time()
                entry.note = "Cancelled while waiting for the trainer; nothing was trained."
                self._discard_unstarted(entry.job)
                self._pump()
                return True
        entry.job.stop()
        return True

    def stop_all(self, timeout: float | None = 30.0) -> None:
        """Empty the queue and stop every running job (server shutdown, tests)."""
        with self._lock:
            for run_id in list(self._queue):
                entry = self._entries[run_id]
                self.stop(run_id, entry.owner)
            running = [e for e in self._entries.values() if e.state == "running"]
        for entry in running:
            entry.job.stop()
        for entry in running:
            entry.job.wait(timeout)

    # --- reading -------------------------------------------------------------------------------
    def get(self, run_id: str | None, owner: str) -> JobView | None:
        """The job with this run id if `owner` submitted it, else None."""
        with self._lock:
            self._pump()
            entry = self._entries.get(run_id or "")
            if entry is None or entry.owner != owner:
                return None
            return self._view(entry)

    def for_owner(self, owner: str) -> list[JobView]:
        """This owner's jobs, newest first."""
        with self._lock:
            self._pump()
            entries = [e for e in self._entries.values() if e.owner == owner]
            return [self._view(e) for e in sorted(entries, key=lambda e: e.submitted, reverse=True)]

    def active_for_others(self, owner: str) -> set[str]:
        """Run ids that other sessions are training or waiting to train (hidden from `owner`)."""
        with self._lock:
            return {e.run_id for e in self._entries.values() if e.owner != owner and e.state in ("queued", "running")}

    def is_active(self, run_id: str) -> bool:
        with self._lock:
            entry = self._entries.get(run_id)
            return entry is not None and entry.state in ("queued", "running")

    @property
    def running_count(self) -> int:
        with self._lock:
            return sum(1 for e in self._entries.values() if e.state == "running")

    @property
    def queued_count(self) -> int:
        with self._lock:
            return len(self._queue)

    # --- internals (call with the lock held) -----------------------------------------------------
    def _view(self, entry: _Entry) -> JobView:
        state = entry.state
        return JobView(
            run_id=entry.run_id,
            run_dir=entry.job.run_dir,
            label=entry.label,
            state=state,
            position=(self._queue.index(entry.run_id) + 1) if state == "queued" else 0,
            running_now=sum(1 for e in self._entries.values() if e.state == "running"),
            config=entry.job.config,
            snapshot=entry.job.snapshot(),
            note=entry.note,
        )

    def _pump(self) -> None:
        """Start waiting jobs, oldest first, while there are free slots; forget long-finished ones."""
        running = sum(1 for e in self._entries.values() if e.state == "running")
        while self._queue and running < self.max_running:
            entry = self._entries[self._queue.popleft()]
            entry.started = time.time()
            entry.job.start()
            threading.Thread(target=self._watch, args=(entry,), name=f"watch-{entry.run_id}", daemon=True).start()
            running += 1
        self._prune()

    def _watch(self, entry: _Entry) -> None:
        """Wait for a job to end (stopping it at the server's limit), then let the next one in."""
        if not entry.job.wait(self.max_seconds):
            entry.note = (
                f"Stopped at this server's limit of {self.max_seconds / 3600:g} hours per training; "
                "the best model so far is saved."
            )
            entry.job.stop()
            entry.job.wait()
        if getattr(entry.job.snapshot(), "stop_reason", None) == "user" and not _earned(entry.job.run_dir):
            entry.note = (entry.note + " " if entry.note else "") + "Nothing had been saved, so the run was removed."
            _discard(entry.job.run_dir)
        with self._lock:
            entry.ended = time.time()
            self._pump()

    def _prune(self) -> None:
        now = time.time()
        done = sorted(
            (e for e in self._entries.values() if e.ended is not None and e.state in ("finished", "cancelled")),
            key=lambda e: e.ended,
        )
        for i, entry in enumerate(done):
            if now - entry.ended > KEEP_FINISHED_SECONDS or i < len(done) - KEEP_FINISHED:
                del self._entries[entry.run_id]

    @staticmethod
    def _discard_unstarted(job: TrainingJob) -> None:
        """A job cancelled before it ran: a fresh run folder is removed, a resumed run is marked stopped."""
        run_dir = job.run_dir
        with contextlib.suppress(CharlstmError, OSError):
            epochs = len(store.read_jsonl(run_dir / "history.jsonl"))
            store.write_status(run_dir, "user", message="Cancelled before it started.", epochs=epochs)
        if not _earned(run_dir):
            _discard(run_dir)


def _earned(run_dir: Path) -> bool:
    """Whether a run folder holds anything training produced (history or weights)."""
    return any((run_dir / f).exists() for f in ("history.jsonl", "best.weights.npz", "last.weights.npz"))


def _discard(run_dir: Path) -> None:
    """Remove a run folder that holds nothing earned, so the library has no empty, unreadable entries."""
    with contextlib.suppress(CharlstmError, OSError):
        store.delete_run(run_dir, root=run_dir.parent)
