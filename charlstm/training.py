"""A training job: runs the trainer for one run folder and writes everything it learns there as it goes.

The job is what a Dask worker (charlstm.worker), the command line and the benchmarks run. It
turns the trainer's events into the run folder's files: the lease (renewed by a heartbeat thread,
so a killed process is noticed), the live progress and per-batch losses, the history line after
every epoch, the best and last checkpoints with the optimizer state, the samples, the time-lapse's
snapshots, the final status and its wording. A stopped, crashed or diverged run keeps its best model.

The run folder is the one progress channel: the command line, the studio and the tests all read it
(`Run.progress()`, `Run.batch_losses()`, `Run.history()`, `Run.status()`), in this process or another.
The job has helpers with one job each: the budget's arithmetic is the clock's (charlstm.clock), the
live progress line the live view's (charlstm.live), the snapshots the time-lapse's (charlstm.timelapse),
and what a continued run starts from the store's (`store.plan_continuation`).
"""

from __future__ import annotations

import contextlib
import math
import random
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .clock import MAX_WAIT_SHARE, TrainingClock
from .config import LN2, TrainConfig
from .errors import CharlstmError
from .generate import Generator
from .identity import OPERATOR
from .live import FINISHED, PREPARING, RUNNING, STOPPING, TRAINING, Heartbeat, LiveView
from .run import EpochRecord, EpochSamples, Run
from .store import Continuation, new_run, open_to_continue, plan_continuation
from .text import Corpus, Vocabulary
from .timelapse import TimeLapse
from .trainer import LR_CUT, EpochResult, FitPlan, Trainer, TrainerHook, is_divergent

__all__ = ["LR_CUT", "MAX_WAIT_SHARE", "EpochRecord", "EpochSamples", "Outcome", "TrainingJob", "is_divergent"]

FINAL_MESSAGES = {
    "completed": "Finished {all}{n} epoch{s}.",
    "settled": "Finished after {n} epoch{s}: it had stopped improving on text it never trained on, so it went back "
    "to its best model and let the learning rate fall.",
    "time": "Reached the time limit after {n} epoch{s}.",
    "user": "Stopped by you after {n} epoch{s}.",
    "diverged": "Stopped because training became unstable.",
    "interrupted": "Interrupted: the studio that started this training stopped, after {n} epoch{s}.",
}

# The progress line once a training settles (the held-out score stopped improving): the run ends soon, on purpose
SETTLING_WORDS = (
    "Finishing: no better on text it never trained on for {patience} epochs, so it has learnt what this text can "
    "teach. It went back to its best model (epoch {best}) and takes smaller and smaller steps to end."
)
UNEXPECTED = (
    "Training failed unexpectedly ({kind}: {exc}). Details are in error.log in the run folder; the best model so "
    "far is kept."
)


@dataclass(frozen=True)
class Outcome:
    """How a job ended. What it did is in its run folder, read through these properties (not copied)."""

    run_dir: Path
    stop_reason: str  # completed | time | user | diverged | error | interrupted
    message: str

    @property
    def history(self) -> list[EpochRecord]:
        return Run(self.run_dir).history()

    @property
    def batch_losses(self) -> list[float]:
        return Run(self.run_dir).batch_losses()

    @property
    def notices(self) -> tuple[str, ...]:
        return Run(self.run_dir).progress().notices


def plural(n: int) -> str:
    return "" if n == 1 else "s"


def final_message(reason: str, epochs: int, best: float | None, best_epoch: int, validated: bool) -> str:
    """The last words of a training: why it ended after how many epochs, and the best model it keeps."""
    kept = ""
    if best is not None and math.isfinite(best):
        on = "text it never trained on" if validated else "its training text"
        kept = f" Its best: {best / LN2:.3f} bits per character on {on} (epoch {best_epoch}); that model is kept."
    words = FINAL_MESSAGES.get(reason, "Finished.")
    return words.format(n=epochs, s=plural(epochs), all="all " if epochs > 1 else "") + kept


def epoch_samples(config: TrainConfig, vocab: Vocabulary, text: str, epoch: int, weights: dict) -> EpochSamples:
    """Samples at every preset temperature from one prompt taken from the training text (seeded by the epoch)."""
    rng = random.Random(config.seed * 1000 + epoch)
    width = min(60, config.seq_len, max(1, len(text) - 1))
    start = rng.randrange(0, max(1, len(text) - width))
    prompt = text[start : start + width]
    gen = Generator(weights, config, vocab)
    out = gen.generate(prompt, config.sample_temperatures, config.sample_length, seed=rng.randrange(2**31))
    return EpochSamples(epoch, prompt, tuple((s.temperature, s.text) for s in out))


def epoch_record(result: EpochResult, clock: TrainingClock) -> EpochRecord:
    """The history line of an epoch that just ended."""
    return EpochRecord(
        epoch=result.epoch,
        loss=result.train_loss,
        val_loss=result.val_loss,
        val_bpc=result.val_loss / LN2 if result.val_loss is not None else None,
        learning_rate=result.learning_rate,
        steps=result.steps,
        seconds=clock.elapsed,
        chars_per_sec=clock.speed,
        partial=result.partial,
    )


def disk_message(run: Run, epochs: int, exc: OSError) -> str:
    """What a person reads when the run folder cannot be written: nothing saved is lost, and what to do."""
    return (
        f"Could not save to {run.name} ({exc.strerror or exc}). Training stopped; "
        f"everything saved up to epoch {epochs} is kept. "
        "Free disk space or make the folder writable, then continue training."
    )


def save_epoch(
    run: Run, record: EpochRecord, weights: dict, opt_state: dict, improved: bool, samples: EpochSamples, best: float
) -> None:
    """What an epoch leaves in its run folder: checkpoint, history, samples, status, in this order, each one whole."""
    run.save_checkpoint("last", weights, opt_state, record.epoch)
    if improved:
        run.save_checkpoint("best", weights, opt_state, record.epoch)
    run.append_epoch(record)
    run.append_samples(samples)
    run.write_status("running", "Training.", epochs=record.epoch, best_val_loss=best)


class TrainingJob(TrainerHook):
    """Train one model into one run folder. Make one with `create`, `resume` or `for_run`."""

    def __init__(
        self,
        run: Run,
        plan: Continuation,
        *,
        strategy: str = "default",
        max_seconds: float | None = None,
        watch_parent: bool = False,
        waiting_since: float | None = None,
    ):
        self.run_folder, self.text, self.config, self.vocab = run, plan.text, plan.config, plan.vocab
        self.strategy = strategy
        self._checkpoint = plan.checkpoint
        self._watch_parent = watch_parent  # a worker whose parent died was orphaned by a studio that stopped
        self._done = threading.Event()  # not Thread.join: a Ctrl+C inside join corrupts is_alive() on 3.11
        self._thread: threading.Thread | None = None
        self._trainer: Trainer | None = None
        self._stop_requested = threading.Event()
        self._history: list[EpochRecord] = list(plan.history)
        self.initial_epoch = self._history[-1].epoch if self._history else 0
        self.clock = TrainingClock(  # max_seconds: the server's cap on one training, on top of the config's budget
            self.config.epochs,
            self.config.seconds,
            max_seconds=max_seconds,
            initial_epoch=self.initial_epoch,
            waiting_since=waiting_since,
            validation_chars=len(self.text) * self.config.val_fraction,
        )
        self.live = LiveView(run, self.clock, self.initial_epoch + self.config.epochs)
        self._stop_reason: str | None = None
        self._error_message: str | None = None
        self.outcome: Outcome | None = None  # once it has ended: why, in words that need no run folder
        self._plan: FitPlan | None = None
        self._timelapse = TimeLapse(run)
        self._best = plan.best_loss
        self._words = TRAINING  # what the progress line says while it trains (settling changes it)

    @property
    def run_dir(self) -> Path:
        return self.run_folder.path

    # --- construction ------------------------------------------------------------------------------------
    @classmethod
    def create(
        cls,
        corpus: Corpus,
        config: TrainConfig,
        root: Path | None = None,
        name: str | None = None,
        run_dir: Path | None = None,
        strategy: str = "default",
        owner: str = OPERATOR,
    ) -> TrainingJob:
        """Check the text and settings, write a new run folder, return a job ready to start."""
        run, text = new_run(corpus, config, root=root, name=name, run_dir=run_dir, owner=owner)
        return cls(run, Continuation(text, run.config(), run.vocab(), [], None, math.inf), strategy=strategy)

    @classmethod
    def resume(
        cls,
        run_dir: Path,
        epochs: int | None = None,
        seconds: float | None = None,
        corpus: Corpus | None = None,
        strategy: str = "default",
    ) -> TrainingJob:
        """Continue a run from its latest checkpoint (optimizer state included) for more epochs."""
        run = open_to_continue(run_dir, corpus)
        return cls.for_run(run, epochs=epochs, seconds=seconds, strategy=strategy)

    @classmethod
    def for_run(
        cls, run: Run, *, epochs: int | None = None, seconds: float | None = None, **options: Any
    ) -> TrainingJob:
        """A job that continues `run` (or starts it, if no epoch has finished yet); `options` as `__init__`'s."""
        return cls(run, plan_continuation(run, epochs, seconds), **options)

    # --- control, from any thread ----------------------------------------------------------------------
    def start(self) -> TrainingJob:
        self._thread = threading.Thread(target=self.run, name=f"train-{self.run_folder.id}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Ask the job to stop; it finishes the current batch, evaluates and saves, then ends.

        The run folder says "stopping" at once (the live view is written now, not at the next flush)."""
        self._stop_requested.set()
        self.live.change("Stopping after this batch…", STOPPING, only_from=(PREPARING, RUNNING))
        if self._trainer is not None:
            self._trainer.stop("user")
        self.live.flush(force=True)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job has finished (or `timeout` seconds); True when it has."""
        if self._thread is None and not self._done.is_set():
            return True
        return self._done.wait(timeout)

    @property
    def alive(self) -> bool:
        return self._thread is not None and not self._done.is_set()

    def off_the_clock(self, fn: Callable[[dict], Any]) -> Any:
        """Call `fn` with the model's current weights, off the clock: for benchmarks that score the model
        between batches, from a hook method (the training thread, after `on_fit_start`)."""
        if self._trainer is None:
            raise RuntimeError("off_the_clock() is for hook methods, once the model is built.")
        started = time.monotonic()
        try:
            return fn(self._trainer.weights())
        finally:
            self.clock.pause(time.monotonic() - started)

    def budget_spent(self) -> float | None:
        """The share of the budget spent (time or epochs, whichever is further), for the learning-rate schedule."""
        return self.clock.spent()

    # --- the work --------------------------------------------------------------------------------------
    def run(self) -> Outcome:
        """Train to the end (epochs, time budget, Stop or divergence); never raises."""
        heartbeat = Heartbeat(self.run_folder, self._done, self._orphaned, self._watch_parent)
        self.clock.start()  # the time budget is what the person waits, from Start: preparing included
        try:
            self.run_folder.clear_live()
            heartbeat.start()
            self.run_folder.write_status("running", "Preparing the data.", epochs=len(self._history))
            self._train()
        except CharlstmError as exc:
            self._finish("error", str(exc))
        except OSError as exc:
            self._finish("error", disk_message(self.run_folder, len(self._history), exc))
        except KeyboardInterrupt:  # run() called on the main thread and interrupted mid-batch
            self._finish("user")
        except Exception as exc:  # a bug: keep the details in the run folder, tell the user plainly
            self.run_folder.write_error_log(traceback.format_exc())
            self._finish("error", UNEXPECTED.format(kind=type(exc).__name__, exc=exc))
        finally:
            self.outcome = Outcome(self.run_dir, self._stop_reason or "error", self.live.message)
            self._done.set()
        return self.outcome

    def _train(self) -> None:
        checkpoint = self.run_folder.load_checkpoint(self._checkpoint) if self._checkpoint else None
        self._trainer = Trainer(
            self.config,
            self.vocab,
            self.text,
            initial_epoch=self.initial_epoch,
            checkpoint=checkpoint,
            best_loss=self._best,
            strategy=self.strategy,
        )
        if self._stop_requested.is_set():
            self._trainer.stop("user")
        reason = self._trainer.fit(self)
        if self._history and self._timelapse.last_at != self._history[-1].epoch:
            self._snapshot(1.0)  # the time-lapse ends where the training did
        self._finish(self._stop_reason or reason or "completed")

    def _orphaned(self) -> None:
        """The studio that started this worker stopped: end the training, saying so."""
        self._stop_reason = "interrupted"
        if self._trainer is not None:
            self._trainer.stop("interrupted")

    # --- trainer events (on the training thread) --------------------------------------------------
    def on_fit_start(self, plan: FitPlan) -> None:
        self._plan = plan
        self.clock.fit_started(plan.steps_per_epoch, plan.chars_per_step)  # the clock runs from Start: run()
        self.live.change(self._words, RUNNING, only_from=(PREPARING,))
        self.live.flush(force=True)

    def on_epoch_start(self, epoch: int) -> None:
        self.clock.epoch_started(epoch)

    def on_settle(self, steps: int) -> None:
        """Good news, said as the progress line's words (not a warning): the rest is a short, planned finish."""
        self.clock.finish_early(steps)
        best = self._trainer.best_epoch if self._trainer is not None else 0
        self._words = SETTLING_WORDS.format(patience=self.config.patience, best=best)
        self.live.change(self._words, only_from=(RUNNING,))

    def on_batch(self, step: int, loss: float) -> bool:
        self.clock.batch_done(step)
        self.live.add_loss(loss)
        self._timelapse.add_loss(loss)
        if self.run_folder.stop_requested():  # every batch (one stat): Stop ends the job within one batch
            self.stop()
        if self.clock.out_of_time() and self._stop_reason is None:
            self._stop_reason = "time"
        spent = self.clock.spent()
        if self._timelapse.due(spent):
            self._snapshot(spent)
        self.live.flush()
        return self._stop_requested.is_set() or self._stop_reason is not None

    def _snapshot(self, spent: float) -> None:
        """One point of the time-lapse (the weights now); a failed write costs only that point."""
        if self._trainer is not None:
            with contextlib.suppress(OSError, ValueError):
                self._timelapse.take(spent, self.clock.position, self._trainer.weights())

    def on_validation_start(self) -> None:
        self.clock.checking_started()
        self.live.change("Checking the model on held-out text…")
        self.live.flush(force=True)

    def on_notice(self, text: str) -> None:
        self.live.add_notice(text)

    def on_epoch_end(self, result: EpochResult, trainer: Trainer) -> bool:
        """Save the epoch (`save_epoch`); a failed save stops the job with the disk's words."""
        record = epoch_record(result, self.clock)
        weights = trainer.weights()
        text = self._plan.train_text if self._plan else self.text
        try:
            samples = epoch_samples(self.config, self.vocab, text, result.epoch, weights)
            best = trainer.best_loss if result.improved else self._best
            save_epoch(self.run_folder, record, weights, trainer.optimizer_state(), result.improved, samples, best)
            self._best = best
        except OSError as exc:
            self._stop_reason, self._error_message = "error", disk_message(self.run_folder, len(self._history), exc)
            return True
        self.clock.epoch_ended()
        self._history.append(record)
        self.live.change(self._words, only_from=(RUNNING,))
        self.live.flush(force=True)
        return self._stop_reason is not None

    def _finish(self, reason: str, message: str | None = None) -> None:
        reason = "error" if self._stop_reason == "error" else reason
        trainer, validated = self._trainer, bool(self._plan and self._plan.has_validation)
        best_epoch = trainer.best_epoch if trainer is not None else 0
        best = self._best if trainer is not None else None
        done = len(self._history) - self.initial_epoch
        message = message or self._error_message or final_message(reason, done, best, best_epoch, validated)
        state = "completed" if reason == "settled" else reason  # settled: completed, said in its own words
        with contextlib.suppress(OSError, CharlstmError):  # nothing more can be saved; the lease runs out
            self.run_folder.add_trained_seconds(self.clock.elapsed)
        with contextlib.suppress(OSError):
            self.run_folder.write_status(state, message, epochs=len(self._history), best_val_loss=self._best)
            self.run_folder.clear_stop()
        self._stop_reason = state
        self.live.change(message, FINISHED)
        self.live.flush(force=True)
