"""A training job: runs the trainer for one run folder and writes everything it learns there as it goes.

The job is what a Dask worker (charlstm.worker), the command line and the benchmarks run. It
turns the trainer's events into the run folder's files: the lease (renewed by a heartbeat thread,
so a killed process is noticed), the live progress and per-batch losses, the history line after
every epoch, the best and last checkpoints with the optimizer state, the samples, the time-lapse's
snapshots, the final status and its wording. A stopped, crashed or diverged run keeps its best model.

The run folder is the one progress channel: the command line, the studio and the tests all read it
(`Run.progress()`, `Run.batch_losses()`, `Run.history()`, `Run.status()`), in this process or another.
The budget's arithmetic is the clock's (charlstm.clock).
"""

from __future__ import annotations

import contextlib
import math
import os
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
from .errors import CharlstmError, CorpusError
from .estimate import check_memory
from .generate import Generator
from .identity import OPERATOR
from .run import HEARTBEAT_SECONDS, EpochRecord, EpochSamples, Progress, Request, Run
from .store import new_run, save_text_for
from .text import Corpus, Vocabulary, check_trainable
from .timelapse import TimeLapse
from .trainer import LR_CUT, EpochResult, FitPlan, Trainer, TrainerHook, is_divergent

__all__ = ["LR_CUT", "MAX_WAIT_SHARE", "EpochRecord", "EpochSamples", "Outcome", "TrainingJob", "is_divergent"]

SNAPSHOT_LOSS_BATCHES = 20  # a time-lapse point's loss: the mean of the batches just before it
FLUSH_SECONDS = 0.5  # how often the live progress and batch losses reach the run folder

FINAL_MESSAGES = {
    "completed": "Finished {all}{n} epoch{s}.",
    "time": "Reached the time limit after {n} epoch{s}.",
    "user": "Stopped by you after {n} epoch{s}.",
    "diverged": "Stopped because training became unstable.",
    "interrupted": "Interrupted: the studio that started this training stopped, after {n} epoch{s}.",
}


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


class TrainingJob(TrainerHook):
    """Train one model into one run folder. Make one with `create`, `resume` or `from_request`."""

    def __init__(
        self,
        run: Run,
        text: str,
        config: TrainConfig,
        vocab: Vocabulary,
        *,
        history: list[EpochRecord] | None = None,
        checkpoint: str | None = None,
        strategy: str = "default",
        max_seconds: float | None = None,
        watch_parent: bool = False,
        waiting_since: float | None = None,
    ):
        self.run_folder, self.text, self.config, self.vocab = run, text, config, vocab
        self.strategy = strategy
        self.max_seconds = max_seconds  # the server's cap on one training, on top of the config's budget
        self._checkpoint = checkpoint
        self._watch_parent = watch_parent  # a worker whose parent died was orphaned by a studio that stopped
        self._parent_pid = os.getppid()
        self._lock = threading.Lock()
        self._done = threading.Event()  # not Thread.join: a Ctrl+C inside join corrupts is_alive() on 3.11
        self._thread: threading.Thread | None = None
        self._trainer: Trainer | None = None
        self._stop_requested = threading.Event()
        self._history: list[EpochRecord] = list(history or [])
        self.initial_epoch = self._history[-1].epoch if self._history else 0
        self.clock = TrainingClock(
            config.epochs,
            config.seconds,
            max_seconds=max_seconds,
            initial_epoch=self.initial_epoch,
            waiting_since=waiting_since,
            validation_chars=len(text) * config.val_fraction,
        )
        self._recent: list[float] = []  # the last batch losses, for the time-lapse's points
        self._unflushed: list[float] = []
        self._notices: list[str] = []
        self._state, self._message = "preparing", "Preparing the data…"
        self._stop_reason: str | None = None
        self._error_message: str | None = None
        self.outcome: Outcome | None = None  # once it has ended: why, in words that need no run folder
        self._last_flush = time.monotonic()
        self._plan: FitPlan | None = None
        self._timelapse = TimeLapse(run)
        since = run.text_since_epoch()  # a score on another text is not comparable: the best starts afresh
        prior = [h.val_loss if h.val_loss is not None else h.loss for h in self._history if h.epoch > since]
        self._best = min(prior) if prior else math.inf

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
        return cls(run, text, run.config(), run.vocab(), strategy=strategy)

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
        run = Run(run_dir)
        if not run.path.is_dir():
            raise CharlstmError(f"{run.path} is not a run folder.")
        busy = run.busy_message()  # names the process that holds it, or says it waits in the queue
        if busy is not None:
            raise CharlstmError(busy)
        if corpus is not None:
            save_text_for(run, corpus)
        return cls.for_run(run, epochs=epochs, seconds=seconds, strategy=strategy)

    @classmethod
    def for_run(
        cls,
        run: Run,
        *,
        epochs: int | None = None,
        seconds: float | None = None,
        strategy: str = "default",
        max_seconds: float | None = None,
        watch_parent: bool = False,
        waiting_since: float | None = None,
    ) -> TrainingJob:
        """A job that continues `run` (or starts it, if no epoch has finished yet)."""
        config, vocab, text = run.config(), run.vocab(), run.text()
        if text is None:
            raise CorpusError(
                f"{run.name} has no saved training text (it was imported). Continue it with a text: give text "
                "files or --builtin on the command line, or continue it in the studio on the text you chose."
            )
        tag = run.resume_tag()
        done = run.checkpoint_epoch(tag) if tag else 0
        history = [h for h in run.history() if done is None or h.epoch <= done]
        overrides: dict = {"epochs": epochs or config.epochs}
        if seconds is not None:
            overrides["seconds"] = seconds
        config = config.replace(**overrides).validated()
        check_trainable(text, config.min_corpus_chars())
        check_memory(config, len(vocab), len(text))  # a continued bundle is checked like a new run
        return cls(
            run,
            text,
            config,
            vocab,
            history=history,
            checkpoint=tag,
            strategy=strategy,
            max_seconds=max_seconds,
            watch_parent=watch_parent,
            waiting_since=waiting_since,
        )

    @classmethod
    def from_request(
        cls, run: Run, request: Request, watch_parent: bool = True, free_since: float = 0.0
    ) -> TrainingJob:
        """The job a worker runs for a request the studio (or `charlstm train --scheduler`) queued.

        The person's wait counts from Start, or from when this worker became free for it (`free_since`,
        the end of the training before it): starting the worker is part of the wait, other people's
        trainings ahead in the queue are not.
        """
        more = request.action == "continue"  # a new run trains with its own settings' budget
        return cls.for_run(
            run,
            epochs=request.epochs if more else None,
            seconds=request.seconds if more else None,
            strategy=request.strategy,
            max_seconds=request.max_seconds,
            watch_parent=watch_parent,
            waiting_since=max(request.submitted, free_since),
        )

    # --- control, from any thread ----------------------------------------------------------------------
    def start(self) -> TrainingJob:
        self._thread = threading.Thread(target=self.run, name=f"train-{self.run_folder.id}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Ask the job to stop; it finishes the current batch, evaluates and saves, then ends.

        The run folder says "stopping" at once (the live view is written now, not at the next flush)."""
        self._stop_requested.set()
        with self._lock:
            if self._state in ("preparing", "running"):
                self._state, self._message = "stopping", "Stopping after this batch…"
        if self._trainer is not None:
            self._trainer.stop("user")
        self._flush(force=True)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job has finished (or `timeout` seconds); True when it has."""
        if self._thread is None and not self._done.is_set():
            return True
        return self._done.wait(timeout)

    @property
    def alive(self) -> bool:
        return self._thread is not None and not self._done.is_set()

    def off_the_clock(self, fn: Callable[[dict], Any]) -> Any:
        """Call `fn` with the model's current weights; the time it takes is not training time.

        For benchmarks that score the model between batches: call it from a hook method (on the
        training thread, after `on_fit_start`). The time `fn` takes counts neither toward the time
        budget nor toward the elapsed time and characters per second the job reports.
        """
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

    def _progress(self) -> Progress:
        finished = self._state == "finished"
        fraction, eta = self.clock.progress(active=self._state in ("running", "stopping"), finished=finished)
        return Progress(
            state="running" if finished else self._state,
            message=self._message,
            epoch=self.clock.epoch_in_budget,
            epochs=self.initial_epoch + self.config.epochs,
            step=self.clock.step,
            steps_per_epoch=self.clock.steps_per_epoch,
            fraction=fraction,
            eta_seconds=eta,
            chars_per_sec=self.clock.speed,
            elapsed=self.clock.elapsed,
            notices=tuple(self._notices),
        )

    # --- the work --------------------------------------------------------------------------------------
    def run(self) -> Outcome:
        """Train to the end (epochs, time budget, Stop or divergence); never raises."""
        heartbeat = threading.Thread(target=self._heartbeat, name=f"lease-{self.run_folder.id}", daemon=True)
        self.clock.start()  # the time budget is what the person waits, from Start: preparing included
        try:
            self.run_folder.clear_live()
            self.run_folder.renew_lease()
            self.run_folder.write_status("running", "Preparing the data.", epochs=len(self._history))
            heartbeat.start()
            self._train()
        except CharlstmError as exc:
            self._finish("error", str(exc))
        except OSError as exc:
            self._finish("error", self._disk_message(exc))
        except KeyboardInterrupt:  # run() called on the main thread and interrupted mid-batch
            self._finish("user")
        except Exception as exc:  # a bug: keep the details in the run folder, tell the user plainly
            self.run_folder.write_error_log(traceback.format_exc())
            self._finish(
                "error",
                f"Training failed unexpectedly ({type(exc).__name__}: {exc}). "
                "Details are in error.log in the run folder; the best model so far is kept.",
            )
        finally:
            with self._lock:
                self.outcome = Outcome(self.run_dir, self._stop_reason or "error", self._message)
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

    def _heartbeat(self) -> None:
        """Renew the lease while the job lives; a worker orphaned by its studio stops and says so."""
        while not self._done.wait(HEARTBEAT_SECONDS):
            if self._watch_parent and os.getppid() != self._parent_pid:
                self._stop_reason = "interrupted"
                if self._trainer is not None:
                    self._trainer.stop("interrupted")
            with contextlib.suppress(OSError):  # a full disk: the job itself reports it at its next save
                self.run_folder.renew_lease()

    def _disk_message(self, exc: OSError) -> str:
        return (
            f"Could not save to {self.run_folder.name} ({exc.strerror or exc}). Training stopped; "
            f"everything saved up to epoch {len(self._history)} is kept. "
            "Free disk space or make the folder writable, then continue training."
        )

    # --- trainer events (on the training thread) --------------------------------------------------
    def on_fit_start(self, plan: FitPlan) -> None:
        self._plan = plan
        self.clock.fit_started(plan.steps_per_epoch, plan.chars_per_step)  # the clock runs from Start: run()
        with self._lock:
            if self._state == "preparing":
                self._state, self._message = "running", "Training…"
        self._flush(force=True)

    def on_epoch_start(self, epoch: int) -> None:
        self.clock.epoch_started(epoch)

    def on_batch(self, step: int, loss: float) -> bool:
        self.clock.batch_done(step)
        with self._lock:
            self._recent = [*self._recent[-(SNAPSHOT_LOSS_BATCHES - 1) :], loss]
            self._unflushed.append(loss)
        if self.run_folder.stop_requested():  # every batch (one stat): Stop ends the job within one batch
            self.stop()
        if self.clock.out_of_time() and self._stop_reason is None:
            self._stop_reason = "time"
        spent = self.clock.spent()
        if self._timelapse.due(spent):
            self._snapshot(spent)
        self._flush()
        return self._stop_requested.is_set() or self._stop_reason is not None

    def _snapshot(self, spent: float | None) -> None:
        """One point of the time-lapse (the weights now); a failed write costs only that point."""
        if self._trainer is None:
            return
        clock = self.clock
        at_epoch = clock.epoch - 1 + min(1.0, clock.step / max(1, clock.steps_per_epoch))
        with self._lock:
            recent = self._recent or [math.nan]
        loss = sum(recent) / len(recent)
        with contextlib.suppress(OSError, ValueError):
            self._timelapse.take(spent or 0.0, at_epoch, loss if math.isfinite(loss) else 0.0, self._trainer.weights())

    def on_validation_start(self) -> None:
        self.clock.checking_started()
        with self._lock:
            self._message = "Checking the model on held-out text…"
        self._flush(force=True)

    def on_notice(self, text: str) -> None:
        with self._lock:
            self._notices.append(text)
        self._flush(force=True)

    def on_epoch_end(self, result: EpochResult, trainer: Trainer) -> bool:
        """Checkpoint, history, samples, status: in this order, each one whole."""
        record = EpochRecord(
            epoch=result.epoch,
            loss=result.train_loss,
            val_loss=result.val_loss,
            val_bpc=result.val_loss / LN2 if result.val_loss is not None else None,
            learning_rate=result.learning_rate,
            steps=result.steps,
            seconds=self.clock.elapsed,
            chars_per_sec=self.clock.speed,
            partial=result.partial,
        )
        weights, opt_state = trainer.weights(), trainer.optimizer_state()
        run = self.run_folder
        try:
            run.save_checkpoint("last", weights, opt_state, result.epoch)
            if result.improved:
                run.save_checkpoint("best", weights, opt_state, result.epoch)
                self._best = trainer.best_loss
            run.append_epoch(record)
            text = self._plan.train_text if self._plan else self.text
            run.append_samples(epoch_samples(self.config, self.vocab, text, result.epoch, weights))
            run.write_status("running", "Training.", epochs=result.epoch, best_val_loss=self._best)
        except OSError as exc:
            self._stop_reason, self._error_message = "error", self._disk_message(exc)
            return True
        self.clock.epoch_ended()
        with self._lock:
            self._history.append(record)
            if self._state == "running":
                self._message = "Training…"
        self._flush(force=True)
        return self._stop_reason is not None

    def _flush(self, force: bool = False) -> None:
        """Progress and new batch losses to the run folder, at most every FLUSH_SECONDS."""
        now = time.monotonic()
        if not force and now - self._last_flush < FLUSH_SECONDS:
            return
        self._last_flush = now
        with self._lock:
            losses, self._unflushed = self._unflushed, []
            progress = self._progress()
        with contextlib.suppress(OSError):  # the live view only; the next epoch's save reports a full disk
            self.run_folder.append_batch_losses(losses)
            self.run_folder.write_progress(progress)

    def _finish(self, reason: str, message: str | None = None) -> None:
        reason = "error" if self._stop_reason == "error" else reason
        trainer, validated = self._trainer, bool(self._plan and self._plan.has_validation)
        best_epoch = trainer.best_epoch if trainer is not None else 0
        best = self._best if trainer is not None else None
        done = len(self._history) - self.initial_epoch
        message = message or self._error_message or final_message(reason, done, best, best_epoch, validated)
        state = "interrupted" if reason == "interrupted" else reason
        with contextlib.suppress(OSError, CharlstmError):  # nothing more can be saved; the lease runs out
            self.run_folder.add_trained_seconds(self.clock.elapsed)
        with contextlib.suppress(OSError):
            self.run_folder.write_status(state, message, epochs=len(self._history), best_val_loss=self._best)
            self.run_folder.clear_stop()
        with self._lock:
            self._state, self._stop_reason, self._message = "finished", reason, message
        self._flush(force=True)
