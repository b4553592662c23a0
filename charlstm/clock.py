"""A training's clock: its budget (time or epochs), how much of it is spent, and how far along it is.

One place does the arithmetic the learning-rate schedule, the time limit, the time-lapse and the progress
line all read: steps done of the steps planned, seconds used of the seconds allowed (a time limit runs
from the person's Start to finished, so the end of the last epoch has to fit inside it), and the training
speed. A training job (charlstm.training) feeds it the trainer's events; it keeps no state of its own.
"""

from __future__ import annotations

import threading
import time

MAX_WAIT_SHARE = 0.25  # of a time budget, at most this much may go on waiting for a worker to start
VALIDATION_SPEEDUP = 3.0  # checking held-out text runs forward only: about this much faster than training


class TrainingClock:
    """The budget of one training job and what is spent of it; safe to read from any thread."""

    def __init__(
        self,
        epochs: int,
        seconds: float | None,
        *,
        max_seconds: float | None = None,
        initial_epoch: int = 0,
        waiting_since: float | None = None,
        validation_chars: float = 0.0,
    ):
        limits = [s for s in (seconds, max_seconds) if s]
        self.budget: float | None = min(limits) if limits else None  # seconds, Start to finished; None: epochs
        self.epochs, self.initial_epoch = epochs, initial_epoch
        self._validation_chars = validation_chars  # held-out characters checked at each epoch's end
        self._waiting_since = waiting_since  # wall-clock time the person's wait began (their Start), if known
        self._lock = threading.Lock()
        self._t0 = self._batch_t = time.monotonic()
        self.epoch, self.step, self.steps_per_epoch = initial_epoch + 1, 0, 1
        self._chars_per_step, self.fitting = 0, False
        self._train_seconds, self._chars_done = 0.0, 0
        self.batches = 0  # batches this job has trained
        self._epoch_end_seconds: float | None = None  # how long the last epoch's end took
        self._checking_since: float | None = None
        self._spent = 0.0
        self._early_end: float | None = None  # seconds from Start when a settling trainer will stop

    # --- the trainer's events ------------------------------------------------------------------------------
    def waited(self) -> float:
        """Seconds the person already waited for this worker (it was starting up), counted in the budget.

        At most MAX_WAIT_SHARE of the budget: a worker that started very late still trains for most of it.
        """
        if self._waiting_since is None or self.budget is None:
            return 0.0
        return min(max(0.0, time.time() - self._waiting_since), MAX_WAIT_SHARE * self.budget)

    def start(self) -> None:
        """The job starts: its clock runs from the person's Start (see `waited`)."""
        waited = self.waited()
        with self._lock:
            self._t0 = time.monotonic() - waited

    def fit_started(self, steps_per_epoch: int, chars_per_step: int) -> None:
        with self._lock:
            self.steps_per_epoch, self._chars_per_step, self.fitting = steps_per_epoch, chars_per_step, True
            self._batch_t = time.monotonic()

    def epoch_started(self, epoch: int) -> None:
        with self._lock:
            self.epoch, self.step, self._batch_t = epoch, 0, time.monotonic()

    def batch_done(self, step: int) -> None:
        now = time.monotonic()
        with self._lock:
            self.step = step
            self.batches += 1
            self._train_seconds += now - self._batch_t
            self._chars_done += self._chars_per_step
            self._batch_t = now

    def checking_started(self) -> None:
        with self._lock:
            self._checking_since = time.monotonic()

    def epoch_ended(self) -> None:
        """The epoch's end (check, save, samples) is done: its measured cost is kept for the next budget."""
        with self._lock:
            if self._checking_since is not None:
                self._epoch_end_seconds, self._checking_since = time.monotonic() - self._checking_since, None

    def finish_early(self, steps: int) -> None:
        """The trainer will stop after `steps` more steps (it is settling): the progress line counts down to
        that end, at the pace of its steps and epoch ends so far. The budget and the rate's schedule stay."""
        with self._lock:
            per_step = self._train_seconds / max(1, self.batches)
            epoch_ends = steps / max(1, self.steps_per_epoch) * (self._epoch_end_seconds or 0.0)
            self._early_end = time.monotonic() - self._t0 + steps * per_step + epoch_ends

    def pause(self, seconds: float) -> None:
        """`seconds` that were not training (a benchmark scoring the model) leave the budget and speed alone."""
        with self._lock:
            self._t0 += seconds
            self._batch_t += seconds

    # --- what is spent -------------------------------------------------------------------------------------
    @property
    def elapsed(self) -> float:
        return time.monotonic() - self._t0

    @property
    def speed(self) -> float:
        """Characters trained on per second of training (checks and saves left out)."""
        with self._lock:
            return self._chars_done / self._train_seconds if self._train_seconds else 0.0

    @property
    def epoch_in_budget(self) -> int:
        """The epoch being trained, as the progress line counts it (never past the last planned one)."""
        return min(self.epoch, self.initial_epoch + self.epochs)

    @property
    def position(self) -> float:
        """Where training is, in epochs: 2.5 is halfway through the third."""
        with self._lock:
            return self.epoch - 1 + min(1.0, self.step / max(1, self.steps_per_epoch))

    def _step_share(self) -> float:
        """Steps done by this job of the steps its epochs plan (the one place this is worked out)."""
        done = (self.epoch - 1 - self.initial_epoch) * self.steps_per_epoch + self.step
        return done / max(1, self.epochs * self.steps_per_epoch)

    def _end_cost(self) -> float:
        """Seconds an epoch's end (validation, checkpoint, samples) takes: measured, else estimated."""
        if self._epoch_end_seconds is not None:
            checking_for = time.monotonic() - self._checking_since if self._checking_since else 0.0
            return max(0.0, self._epoch_end_seconds - checking_for)
        if not self.fitting or not self._chars_done:
            return 0.0
        return self._validation_chars / (VALIDATION_SPEEDUP * self._chars_done / max(self._train_seconds, 1e-9))

    def training_seconds(self) -> float | None:
        """Of the time budget, the seconds training may run: the last epoch's end fits after them."""
        with self._lock:
            return None if self.budget is None else max(1e-3, self.budget - self._end_cost())

    def out_of_time(self) -> bool:
        usable = self.training_seconds()
        return usable is not None and self.elapsed >= usable

    def spent(self) -> float:
        """The share of the budget spent (time or epochs, whichever is further); never goes back."""
        usable = self.training_seconds()
        with self._lock:
            spent = self._step_share()
            if usable is not None:
                spent = max(spent, (time.monotonic() - self._t0) / usable)
            # never back: the measured cost of an epoch's end moves the usable time a little either way
            self._spent = max(self._spent, spent)
            return self._spent

    def progress(self, active: bool, finished: bool) -> tuple[float, float | None]:
        """(share done for the progress bar, seconds left or None) while a job trains (`active`) or after."""
        with self._lock:
            fraction = self._step_share()
            elapsed = time.monotonic() - self._t0
            ends = [e for e in (self.budget, self._early_end) if e]
            end = min(ends) if ends else None  # seconds from Start: the time limit, or a settling trainer's end
            if end:
                fraction = max(fraction, elapsed / end if self.fitting else 0.0)
        fraction = 1.0 if finished else min(1.0, fraction)
        eta = None
        if active and fraction > 0.01:
            eta = max(0.0, end - elapsed) if end else max(0.0, elapsed * (1 - fraction) / fraction)
        return fraction, eta
