"""A training job: runs in a background thread, reports snapshots, writes its run folder as it goes.

The UI and the CLI both drive this one class. They call `start()` (or `run()`), read
`snapshot()` whenever they like, and call `stop()`. Everything the job learns is on disk as soon
as it is known: the history line after every epoch, the best and the last checkpoint with the
optimizer state, the samples. A stopped, crashed or diverged run keeps its best model.
"""

from __future__ import annotations

import contextlib
import functools
import math
import random
import threading
import time
import traceback
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from . import store
from .config import TrainConfig
from .errors import CharlstmError, ConfigError, CorpusError
from .generate import Generator
from .text import Corpus, Vocabulary, check_trainable, check_vocabulary_size, prepare_text

LN2 = math.log(2)
MAX_DIVERGENCE_RETRIES = 3
LR_CUT = 0.3
BATCH_LOSS_KEEP = 20_000


@dataclass(frozen=True)
class EpochRecord:
    """One line of history.jsonl. Losses are nats per character; bpc = nats / ln 2."""

    epoch: int
    loss: float
    val_loss: float | None
    val_bpc: float | None
    learning_rate: float
    steps: int
    seconds: float
    chars_per_sec: float
    partial: bool


@dataclass(frozen=True)
class EpochSamples:
    epoch: int
    prompt: str
    samples: tuple[tuple[float, str], ...]  # (temperature, text), all from `prompt`


@dataclass(frozen=True)
class Snapshot:
    """A consistent copy of a job's progress, safe to read from any thread."""

    run_dir: Path
    state: str  # preparing | running | stopping | finished
    stop_reason: str | None  # completed | time | user | diverged | error
    message: str
    epoch: int
    epochs: int
    step: int
    steps_per_epoch: int
    progress: float
    eta_seconds: float | None
    chars_per_sec: float
    elapsed: float
    batch_losses: tuple[float, ...]
    history: tuple[EpochRecord, ...]
    samples: tuple[EpochSamples, ...]
    notices: tuple[str, ...]
    best_val_loss: float | None

    @property
    def finished(self) -> bool:
        return self.state == "finished"


def is_divergent(loss: float, recent: list[float]) -> bool:
    """NaN/inf, or a jump far above the recent typical loss (the seed went 1.30 -> 14.6 nats)."""
    if not math.isfinite(loss):
        return True
    if not recent:
        return loss > 50.0
    # Few batches yet: compare with the highest of them (an early blow-up, 4.4 -> 27, is caught at once).
    typical = float(np.median(recent[-50:])) if len(recent) >= 10 else max(recent)
    return loss > typical + max(1.5, typical)


class TrainingJob:
    """Train one model into one run folder. Create with `TrainingJob.create` or `.resume`."""

    def __init__(
        self,
        run_dir: Path,
        text: str,
        config: TrainConfig,
        vocab: Vocabulary,
        *,
        history: list[EpochRecord] | None = None,
        checkpoint: str | None = None,
        strategy: str = "default",
    ):
        self.run_dir, self.text, self.config, self.vocab = Path(run_dir), text, config, vocab
        self.strategy = strategy  # see charlstm/distribute.py
        self._checkpoint = checkpoint
        self._lock = threading.Lock()
        self._stop_requested = threading.Event()
        self._done = threading.Event()  # not Thread.join: a Ctrl+C inside join corrupts is_alive() on 3.11
        self._thread: threading.Thread | None = None
        self._history: list[EpochRecord] = list(history or [])
        self._initial_epoch = len(self._history)
        self._samples: list[EpochSamples] = []
        self._batch_losses: list[float] = []
        self._notices: list[str] = []
        self._state, self._stop_reason, self._message = "preparing", None, "Preparing the data…"
        self._epoch = self._initial_epoch
        self._step = 0
        self._steps_per_epoch = 1
        self._t0 = time.monotonic()
        self._train_seconds = 0.0
        self._chars_done = 0
        prior = [h.val_loss if h.val_loss is not None else h.loss for h in self._history]
        self._best = min(prior) if prior else math.inf
        self._best_epoch = (prior.index(self._best) + 1) if prior else 0
        self._val_ds = None
        self._error_message: str | None = None
        self._divergences = 0
        self._epoch_losses: list[float] = []
        self._batch_t = time.monotonic()

    # --- construction ----------------------------------------------------------------------------
    @classmethod
    def create(
        cls,
        corpus: Corpus,
        config: TrainConfig,
        root: Path | None = None,
        name: str | None = None,
        run_dir: Path | None = None,
        strategy: str = "default",
    ) -> TrainingJob:
        """Check the text and settings, write a new run folder, return a job ready to start."""
        config = config.validated()
        text = prepare_text(corpus.text, config.lowercase)
        if config.max_chars:
            text = text[: config.max_chars]
        check_trainable(text, config.min_corpus_chars())
        vocab = Vocabulary.from_text(text)
        check_vocabulary_size(len(vocab))
        root = Path(root or store.runs_root())
        try:
            if run_dir is None:
                run_dir = store.new_run_dir(root, name or f"{corpus.name}-{config.preset}")
            else:
                run_dir = Path(run_dir)
                if run_dir.exists() and any(run_dir.iterdir()):
                    raise CharlstmError(f"{run_dir} already exists and is not empty; choose a new folder.")
                run_dir.mkdir(parents=True, exist_ok=True)
            store.write_run_files(
                run_dir,
                name=name or f"{corpus.name} ({config.preset})",
                corpus=corpus.name,
                config=config,
                vocab=vocab,
                text=text,
            )
            store.write_status(run_dir, "running", message="Preparing the data.")
        except OSError as exc:
            raise CharlstmError(
                f"Could not write to the models folder {root} ({exc.strerror or exc}). "
                "Check that the disk has space and the folder is writable, or set CHARLSTM_HOME to another folder."
            ) from None
        return cls(run_dir, text, config, vocab, strategy=strategy)

    @classmethod
    def resume(
        cls,
        run_dir: Path,
        epochs: int | None = None,
        seconds: float | None = None,
        corpus: Corpus | None = None,
        strategy: str = "default",
    ) -> TrainingJob:
        """Continue a run from its last checkpoint (optimizer state included) for more epochs."""
        run_dir = Path(run_dir)
        if not run_dir.is_dir():
            raise CharlstmError(f"{run_dir} is not a run folder.")
        if store.read_status(run_dir).get("state") == "running":
            raise CharlstmError(f"{run_dir.name} is still training in another process; stop it first.")
        config, vocab = store.load_config(run_dir), store.load_vocab(run_dir)
        if corpus is not None:
            text = prepare_text(corpus.text, config.lowercase)
            unknown = set(vocab.unknown_chars(text))
            if unknown:  # a new text may hold characters this model has no slot for
                text = "".join(c for c in text if c not in unknown)
        else:
            try:
                text = (run_dir / "corpus.txt").read_text(encoding="utf-8")
            except FileNotFoundError:
                raise CorpusError(
                    f"{run_dir.name} has no saved training text (it was imported). "
                    "Continue it with a corpus: give text files or --builtin."
                ) from None
        history = _read_history(run_dir)
        overrides: dict = {"epochs": epochs or config.epochs}
        if seconds is not None:
            overrides["seconds"] = seconds
        config = config.replace(**overrides).validated()
        check_trainable(text, config.min_corpus_chars())
        tag = "last" if (run_dir / "last.weights.npz").exists() else store.best_tag(run_dir)
        job = cls(run_dir, text, config, vocab, history=history, checkpoint=tag, strategy=strategy)
        try:
            store.write_status(run_dir, "running", message="Resuming.")
        except OSError as exc:
            raise CharlstmError(
                f"Could not write to {run_dir} ({exc.strerror or exc}). Free disk space or make the folder "
                "writable, then continue training; nothing saved so far was changed."
            ) from None
        return job

    # --- control, from any thread --------------------------------------------------------------
    def start(self) -> TrainingJob:
        self._thread = threading.Thread(target=self.run, name=f"train-{self.run_dir.name}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Ask the job to stop; it finishes the current batch, evaluates and saves, then ends."""
        self._stop_requested.set()
        with self._lock:
            if self._state == "running":
                self._state, self._message = "stopping", "Stopping after this batch…"

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job has finished (or `timeout` seconds); True when it has."""
        if self._thread is None and not self._done.is_set():
            return True
        return self._done.wait(timeout)

    @property
    def alive(self) -> bool:
        return self._thread is not None and not self._done.is_set()

    def snapshot(self) -> Snapshot:
        with self._lock:
            elapsed = time.monotonic() - self._t0
            total_steps = max(1, self.config.epochs * self._steps_per_epoch)
            done_steps = (self._epoch - self._initial_epoch) * self._steps_per_epoch + self._step
            progress = done_steps / total_steps
            if self.config.seconds:
                progress = max(progress, self._train_seconds / self.config.seconds)
            progress = min(1.0, progress) if self._state != "finished" else 1.0
            eta = None
            if self._state in ("running", "stopping") and progress > 0.01:
                eta = max(0.0, elapsed * (1 - progress) / progress)
            return Snapshot(
                run_dir=self.run_dir,
                state=self._state,
                stop_reason=self._stop_reason,
                message=self._message,
                epoch=min(self._epoch + 1, self._initial_epoch + self.config.epochs),
                epochs=self._initial_epoch + self.config.epochs,
                step=self._step,
                steps_per_epoch=self._steps_per_epoch,
                progress=progress,
                eta_seconds=eta,
                chars_per_sec=self._chars_done / self._train_seconds if self._train_seconds else 0.0,
                elapsed=elapsed,
                batch_losses=tuple(self._batch_losses),
                history=tuple(self._history),
                samples=tuple(self._samples),
                notices=tuple(self._notices),
                best_val_loss=self._best if math.isfinite(self._best) else None,
            )

    # --- the work, on the job's thread -----------------------------------------------------------
    def run(self) -> Snapshot:
        """Train to the end (epochs, time budget, Stop or divergence); never raises."""
        try:
            self._train()
        except CharlstmError as exc:
            self._finish("error", str(exc))
        except OSError as exc:
            self._finish("error", self._disk_message(exc))
        except KeyboardInterrupt:  # run() called on the main thread and interrupted mid-batch
            self._finish("user")
        except Exception as exc:  # a bug: keep the details in the run folder, tell the user plainly
            with contextlib.suppress(OSError):
                (self.run_dir / "error.log").write_text(traceback.format_exc(), encoding="utf-8")
            self._finish(
                "error",
                f"Training failed unexpectedly ({type(exc).__name__}: {exc}). "
                "Details are in error.log in the run folder; the best model so far is kept.",
            )
        finally:
            self._done.set()
        return self.snapshot()

    def _disk_message(self, exc: OSError) -> str:
        return (
            f"Could not save to {self.run_dir} ({exc.strerror or exc}). Training stopped; "
            f"everything saved up to epoch {len(self._history)} is kept. "
            "Free disk space or make the folder writable, then continue training."
        )

    def _train(self) -> None:
        import keras
        import tensorflow as tf

        from . import data
        from . import model as M
        from .distribute import make_strategy

        cfg = self.config
        keras.utils.set_random_seed(cfg.seed + self._initial_epoch)
        ids = self.vocab.encode(self.text)
        split = data.split_ids(ids, cfg.val_fraction)
        if data.window_starts(len(split.train), cfg) == 0:
            raise CorpusError("The text is too short for one training sequence with these settings.")
        train_ds = data.make_dataset(split.train, cfg, training=True, seed=cfg.seed).repeat()
        has_val = cfg.val_fraction > 0 and data.window_starts(len(split.val), cfg) > 0
        val_ds = data.make_dataset(split.val, cfg, training=False, batch_size=512) if has_val else None
        self._train_text = self.text[: len(split.train)]
        steps = data.steps_per_epoch(len(split.train), cfg)

        strategy = make_strategy(self.strategy)
        replicas = strategy.num_replicas_in_sync
        if replicas > 1 and (cfg.batch_size % replicas or data.window_starts(len(split.train), cfg) < cfg.batch_size):
            raise ConfigError(
                f"With {replicas} devices the batch size must be a multiple of {replicas} and no larger than the "
                f"number of training sequences; got batch size {cfg.batch_size}."
            )
        with strategy.scope():
            model = M.build_model(cfg, len(self.vocab))
            M.compile_model(model, cfg, metrics=[M.LastBatchLoss()])
            model.optimizer.build(model.trainable_variables)
        if self._checkpoint:
            weights, opt_state = store.load_checkpoint(self.run_dir, self._checkpoint)
            M.set_weights(model, weights, cfg, len(self.vocab))
            if opt_state is not None:
                M.set_optimizer_state(model, opt_state)
        self._model, self._M = model, M
        self._best_state = (M.get_weights(model), M.optimizer_state(model))
        self._val_ds = val_ds
        self._val_step = tf.function(functools.partial(self._sum_loss, model), autograph=False)
        with self._lock:
            self._steps_per_epoch = steps
            self._state, self._message = "running", "Training…"
            self._t0 = time.monotonic()
        if self._stop_requested.is_set():
            self._stop_reason = "user"
        else:
            model.fit(
                train_ds,
                epochs=self._initial_epoch + cfg.epochs,
                initial_epoch=self._initial_epoch,
                steps_per_epoch=steps,
                callbacks=[_monitor(self)],
                verbose=0,
            )
        self._finish(self._stop_reason or "completed")

    @staticmethod
    def _sum_loss(model, x, y):
        import keras
        from keras import ops

        logits = model(x, training=False)
        losses = keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True)
        return ops.sum(losses), ops.cast(ops.size(losses), "float32")

    def _validate(self) -> float | None:
        if self._val_ds is None:
            return None
        total, count = 0.0, 0.0
        for x, y in self._val_ds:
            s, n = self._val_step(x, y)
            total, count = total + float(s), count + float(n)
        return total / count if count else None

    # called by _Monitor -------------------------------------------------------------------------
    def _begin_epoch(self, epoch: int) -> None:
        with self._lock:
            self._epoch, self._step = epoch, 0
        self._epoch_losses = []
        self._batch_t = time.monotonic()

    def _after_batch(self, loss: float) -> bool:
        """Record one batch; returns True when training must stop now."""
        now = time.monotonic()
        cfg = self.config
        if is_divergent(loss, self._batch_losses):
            return self._recover(loss)
        with self._lock:
            self._step += 1
            self._batch_losses.append(loss)
            if len(self._batch_losses) > BATCH_LOSS_KEEP:
                del self._batch_losses[: len(self._batch_losses) - BATCH_LOSS_KEEP]
            self._train_seconds += now - self._batch_t
            self._chars_done += cfg.batch_size * cfg.seq_len
        self._epoch_losses.append(loss)
        self._batch_t = now
        if self._stop_requested.is_set():
            self._stop_reason = self._stop_reason or "user"
        elif cfg.seconds and time.monotonic() - self._t0 >= cfg.seconds:
            self._stop_reason = "time"
        return self._stop_reason is not None

    def _recover(self, loss: float) -> bool:
        """Divergence: go back to the best weights, then lower the learning rate or stop."""
        model, M = self._model, self._M
        weights, opt_state = self._best_state
        lr = float(model.optimizer.learning_rate.numpy())  # before the restore: the state holds a learning rate too
        M.set_weights(model, weights, self.config, len(self.vocab))
        M.set_optimizer_state(model, opt_state)
        self._divergences += 1
        where = f"epoch {self._epoch + 1}, step {self._step + 1}"
        best = f"epoch {self._best_epoch}" if self._best_epoch else "the start"
        shown = "NaN" if not math.isfinite(loss) else f"{loss:.2f}"
        if self.config.on_divergence == "lower_lr" and self._divergences <= MAX_DIVERGENCE_RETRIES:
            model.optimizer.learning_rate.assign(lr * LR_CUT)
            note = (
                f"Training became unstable at {where} (loss {shown}). Went back to the best model "
                f"({best}) and lowered the learning rate from {lr:.3g} to {lr * LR_CUT:.3g}."
            )
            stop = False
        else:
            note = (
                f"Training became unstable at {where} (loss {shown}) and was stopped. "
                f"The best model ({best}) is kept. Try a lower learning rate."
            )
            self._stop_reason, stop = "diverged", True
        with self._lock:
            self._notices.append(note)
        return stop

    def _end_epoch(self, epoch: int) -> bool:
        """Evaluate, checkpoint, sample, append history. Returns True to stop training."""
        if not self._epoch_losses:
            return True
        _cfg, M, model = self.config, self._M, self._model
        with self._lock:
            self._message = "Checking the model on held-out text…"
        val_loss = self._validate()
        train_loss = float(np.mean(self._epoch_losses))
        record = EpochRecord(
            epoch=epoch + 1,
            loss=train_loss,
            val_loss=val_loss,
            val_bpc=val_loss / LN2 if val_loss is not None else None,
            learning_rate=float(model.optimizer.learning_rate.numpy()),
            steps=len(self._epoch_losses),
            seconds=time.monotonic() - self._t0,
            chars_per_sec=self._chars_done / self._train_seconds if self._train_seconds else 0.0,
            partial=len(self._epoch_losses) < self._steps_per_epoch,
        )
        weights, opt_state = M.get_weights(model), M.optimizer_state(model)
        measure = val_loss if val_loss is not None else train_loss
        try:
            store.save_checkpoint(self.run_dir, "last", weights, opt_state)
            if measure < self._best:
                store.save_checkpoint(self.run_dir, "best", weights, opt_state)
                self._best, self._best_epoch = measure, epoch + 1
                self._best_state = (weights, opt_state)
            store.append_jsonl(self.run_dir / "history.jsonl", asdict(record))
            samples = self._make_samples(epoch + 1, weights)
            store.append_jsonl(
                self.run_dir / "samples.jsonl",
                {
                    "epoch": samples.epoch,
                    "prompt": samples.prompt,
                    "samples": [{"temperature": t, "text": s} for t, s in samples.samples],
                },
            )
            store.write_status(self.run_dir, "running", epochs=epoch + 1, best_val_loss=self._best)
        except OSError as exc:
            self._stop_reason = "error"
            self._error_message = self._disk_message(exc)
            return True
        with self._lock:
            self._history.append(record)
            self._samples.append(samples)
            self._message = "Training…"
        return self._stop_reason is not None

    def _make_samples(self, epoch: int, weights) -> EpochSamples:
        """Samples at every preset temperature from one prompt taken from the training text."""
        rng = random.Random(self.config.seed * 1000 + epoch)
        text = self._train_text
        width = min(60, self.config.seq_len, max(1, len(text) - 1))
        start = rng.randrange(0, max(1, len(text) - width))
        prompt = text[start : start + width]
        gen = Generator(weights, self.config, self.vocab)
        out = gen.generate(
            prompt, self.config.sample_temperatures, self.config.sample_length, seed=rng.randrange(2**31)
        )
        return EpochSamples(epoch, prompt, tuple((s.temperature, s.text) for s in out))

    def _finish(self, reason: str, message: str | None = None) -> None:
        reason = reason if self._stop_reason != "error" else "error"
        message = message or self._error_message or self._final_message(reason)
        with contextlib.suppress(OSError):
            store.write_status(
                self.run_dir,
                reason,
                message=message,
                epochs=len(self._history),
                best_val_loss=self._best if math.isfinite(self._best) else None,
            )
        with self._lock:
            self._state, self._stop_reason, self._message = "finished", reason, message

    def _final_message(self, reason: str) -> str:
        n = len(self._history) - self._initial_epoch
        best = ""
        if math.isfinite(self._best):
            kind = "validation" if self._val_ds is not None else "training"
            best = (
                f" Best {kind} loss {self._best / LN2:.3f} bits per character "
                f"(epoch {self._best_epoch}); that model is saved."
            )
        return {
            "completed": f"Finished all {n} epochs.",
            "time": f"Reached the time limit after {n} epochs.",
            "user": f"Stopped by you after {n} epochs.",
            "diverged": "Stopped because training became unstable.",
        }.get(reason, "Finished.") + best


def _read_history(run_dir: Path) -> list[EpochRecord]:
    """history.jsonl as records; lines with other fields (an imported run's) are skipped."""
    names = set(EpochRecord.__dataclass_fields__)
    return [EpochRecord(**h) for h in store.read_jsonl(run_dir / "history.jsonl") if set(h) == names]


def _monitor(job: TrainingJob):
    """A Keras callback that forwards batches and epochs to the job and stops `fit` when told."""
    import keras

    class Monitor(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            job._begin_epoch(epoch)

        def on_train_batch_end(self, batch, logs=None):
            if job._after_batch(float(logs["batch_loss"])):
                self.model.stop_training = True

        def on_epoch_end(self, epoch, logs=None):
            if job._end_epoch(epoch):
                self.model.stop_training = True

    return Monitor()
