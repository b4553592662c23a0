"""A training's live view (state, the line a person reads, notices, new batch losses) and its lease's heartbeat.

The run folder is the one progress channel (the command line, the studio and the tests read it, in this
process or another), so the view is written there, at most every FLUSH_SECONDS while batches run and at
once when something a person waits for changes (Stop pressed, a check begins, an epoch ends).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable

from .clock import TrainingClock
from .run import HEARTBEAT_SECONDS, Progress, Run

FLUSH_SECONDS = 0.5  # how often the live progress and batch losses reach the run folder

# A job's states: preparing -> running -> (stopping) -> finished. The run folder shows "running" until the
# final status is written, which tells a reader the job has ended.
PREPARING, RUNNING, STOPPING, FINISHED = "preparing", "running", "stopping", "finished"
TRAINING = "Training…"  # the words of a training that goes as planned: the page shows no caption for them


class LiveView:
    """What a running job shows; safe to update from the training thread and the thread that stops it."""

    def __init__(self, run: Run, clock: TrainingClock, epochs: int):
        self._run, self._clock, self._epochs = run, clock, epochs
        self._lock = threading.Lock()
        self.state, self.message = PREPARING, "Preparing the data…"
        self._notices: list[str] = []
        self._unflushed: list[float] = []
        self._last_flush = time.monotonic()

    def change(self, message: str, state: str | None = None, *, only_from: tuple[str, ...] = ()) -> bool:
        """Say `message` (and move to `state`), only while the job is in one of `only_from` when given."""
        with self._lock:
            if only_from and self.state not in only_from:
                return False
            self.state, self.message = state or self.state, message
            return True

    def add_loss(self, loss: float) -> None:
        with self._lock:
            self._unflushed.append(loss)

    def add_notice(self, text: str) -> None:
        with self._lock:
            self._notices.append(text)
        self.flush(force=True)

    def progress(self) -> Progress:
        """The progress line as the run folder keeps it."""
        finished = self.state == FINISHED
        fraction, eta = self._clock.progress(active=self.state in (RUNNING, STOPPING), finished=finished)
        return Progress(
            state=RUNNING if finished else self.state,
            message=self.message,
            epoch=self._clock.epoch_in_budget,
            epochs=self._epochs,
            step=self._clock.step,
            steps_per_epoch=self._clock.steps_per_epoch,
            fraction=fraction,
            eta_seconds=eta,
            chars_per_sec=self._clock.speed,
            elapsed=self._clock.elapsed,
            notices=tuple(self._notices),
        )

    def flush(self, force: bool = False) -> None:
        """Progress and new batch losses to the run folder, at most every FLUSH_SECONDS unless `force`."""
        now = time.monotonic()
        if not force and now - self._last_flush < FLUSH_SECONDS:
            return
        self._last_flush = now
        with self._lock:
            losses, self._unflushed = self._unflushed, []
            progress = self.progress()
        with contextlib.suppress(OSError):  # the live view only; the next epoch's save reports a full disk
            self._run.append_batch_losses(losses)
            self._run.write_progress(progress)


class Heartbeat:
    """Renews a job's lease on its run folder while it lives, so a killed process is noticed by its lease running out.

    A worker watching its parent (`watch_parent`) calls `orphaned` once when the studio that started it stops.
    """

    def __init__(self, run: Run, done: threading.Event, orphaned: Callable[[], None], watch_parent: bool = False):
        self._run, self._done, self._orphaned = run, done, orphaned
        self._parent_pid = os.getppid() if watch_parent else None
        self._thread = threading.Thread(target=self._beat, name=f"lease-{run.id}", daemon=True)

    def start(self) -> None:
        self._run.renew_lease()
        self._thread.start()

    def _beat(self) -> None:
        while not self._done.wait(HEARTBEAT_SECONDS):
            if self._parent_pid is not None and os.getppid() != self._parent_pid:
                self._parent_pid = None
                self._orphaned()
            with contextlib.suppress(OSError):  # a full disk: the job itself reports it at its next save
                self._run.renew_lease()
