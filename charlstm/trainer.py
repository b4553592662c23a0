"""The trainer: the Keras fit loop, held-out validation and divergence recovery, with a public hook.

It knows nothing of run folders, wording, time left or samples: whoever drives it (the training
job, a benchmark) subclasses `TrainerHook` and hears about every batch and every epoch; returning
True from a hook method stops training after the current batch. TensorFlow is imported only when
`fit` runs, so importing this module is cheap.
"""

from __future__ import annotations

import functools
import math
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from .config import TrainConfig
from .errors import ConfigError, CorpusError
from .text import Vocabulary
from .weights import Weights

MAX_DIVERGENCE_RETRIES = 3
LR_CUT = 0.3  # the learning rate is multiplied by this after each divergence
# Characters in one batch of the held-out check. It runs forward only, so its batches may be bigger than
# training's, but a forward pass holds every layer's output for the whole batch: 512 windows of 128 characters
# cost quality about 160 MB more at its peak than a text too short to fill one (docs/benchmarks.md, section 5).
VALIDATION_BATCH_CHARS = 16_384
# Held-out text checked after each epoch, at most: windows spread evenly over a longer one. A big text's full
# check would take seconds of a short time budget after every epoch for little more precision.
VALIDATION_MAX_CHARS = 200_000
LR_WARMUP = 0.03  # "budget" schedule: the share of the budget over which the rate rises to its full value,
LR_WARMUP_STEPS = 50  # ... and at least this many steps: RMSprop's running average of squared gradients starts
# at zero, so its first steps are several times larger than the rate says (a short budget's warm-up was too short)
LR_FLOOR = 0.01  # ... and the share of it left when the budget ends (a job may run a moment past its estimate)
# Settling: when the held-out score has not improved for `patience` epochs, a short text is being memorised, not
# learnt (a 50,000-character text's best epoch came after 28-54 of 320 readings in 150 s). The trainer goes back
# to the best model and lets the rate fall to LR_FLOOR over this share of the steps taken so far, then stops. A
# 50,000-character text then finishes in 30-60 s of its 150 with the score its best epoch had; on 300,000
# characters the fall found a better model (docs/tuning.md, rows S1-S18 and P1-P10).
SETTLE_SHARE = 0.5


def scheduled_lr(base: float, schedule: str, progress: float | None, step: int | None = None) -> float:
    """The learning rate when `progress` (0..1) of the training budget is spent, at this job's `step` (0-based).

    "budget": a short linear warm-up, then a linear fall to LR_FLOOR x base at the end. A rate
    that knows when training ends can take big steps early and settle into a minimum late;
    with a constant rate the last minutes of a short budget are spent bouncing around one.
    """
    if schedule == "constant" or progress is None:
        return base
    p = min(max(progress, 0.0), 1.0)
    warm = min(1.0, (p + LR_WARMUP / 10) / LR_WARMUP)
    if step is not None:
        warm = min(warm, (step + 1) / LR_WARMUP_STEPS)
    fall = 1.0 - (1.0 - LR_FLOOR) * max(0.0, p - LR_WARMUP) / (1.0 - LR_WARMUP)
    return base * warm * fall


def validation_config(config: TrainConfig, n_val: int) -> TrainConfig:
    """The settings the held-out check reads with: windows spread out so it covers VALIDATION_MAX_CHARS at most."""
    spread = math.ceil(n_val / VALIDATION_MAX_CHARS)
    return config.replace(stride=config.stride * spread) if spread > 1 else config


def validation_batch(config: TrainConfig) -> int:
    """Windows per batch of the held-out check: VALIDATION_BATCH_CHARS, whatever the sequence length."""
    return max(1, VALIDATION_BATCH_CHARS // config.seq_len)


def is_divergent(loss: float, recent: list[float]) -> bool:
    """NaN/inf, or a jump far above the recent typical loss (the seed went 1.30 -> 14.6 nats)."""
    if not math.isfinite(loss):
        return True
    if not recent:
        return loss > 50.0
    # Few batches yet: compare with the highest of them (an early blow-up, 4.4 -> 27, is caught at once).
    typical = float(np.median(recent[-50:])) if len(recent) >= 10 else max(recent)
    return loss > typical + max(1.5, typical)


@dataclass(frozen=True)
class FitPlan:
    """What the trainer settled on before the first batch."""

    steps_per_epoch: int
    train_text: str  # the part of the text trained on (samples take their prompts from it)
    has_validation: bool
    chars_per_step: int


@dataclass(frozen=True)
class EpochResult:
    epoch: int  # 1-based, counting earlier trainings of the same run
    train_loss: float
    val_loss: float | None
    learning_rate: float
    steps: int
    partial: bool
    improved: bool  # the best model so far (by validation loss, else training loss)


@dataclass(frozen=True)
class Settle:
    """The rate's last fall: from `lr` at step `start` to the floor `steps` steps later, then stop."""

    start: int
    steps: int
    lr: float
    floor: float

    def lr_at(self, step: int) -> float:
        done = min(1.0, (step - self.start) / self.steps)
        return self.lr + (self.floor - self.lr) * done

    def over(self, step: int) -> bool:
        return step >= self.start + self.steps


def settle_steps(steps: int, spent: float | None) -> int:
    """How many steps the last fall takes: SETTLE_SHARE of those taken so far, and no more than the budget leaves
    (at the pace so far; `spent` is the share of the budget used, None when there is no budget)."""
    wanted = SETTLE_SHARE * steps
    if spent is not None and 0 < spent < 1:
        wanted = min(wanted, steps * (1 - spent) / spent)
    return max(1, round(wanted))


class TrainerHook:
    """Override what you need. Methods run on the training thread, between batches."""

    def on_fit_start(self, plan: FitPlan) -> None:
        """The data and the model are ready; the first batch is next."""

    def on_epoch_start(self, epoch: int) -> None:
        """`epoch` is 1-based."""

    def on_batch(self, step: int, loss: float) -> bool:
        """One batch trained (`loss` in nats per character). Return True to stop after it."""
        return False

    def budget_spent(self) -> float | None:
        """How much of the training budget (0..1) is spent, for the learning-rate schedule; None: unknown."""
        return None

    def on_validation_start(self) -> None:
        """The epoch's training is done; the held-out text is being scored."""

    def on_epoch_end(self, result: EpochResult, trainer: Trainer) -> bool:
        """Save, sample, report here (`trainer.weights()` is the model now). Return True to stop."""
        return False

    def on_notice(self, text: str) -> None:
        """Something the user should read (the trainer recovered from a divergence)."""

    def on_settle(self, steps: int) -> None:
        """The held-out score stopped improving: training ends after `steps` more steps (the rate's last fall)."""


class Trainer:
    """Fit one model on one text. Thread-safe `stop()`; everything else on the training thread."""

    def __init__(
        self,
        config: TrainConfig,
        vocab: Vocabulary,
        text: str,
        *,
        initial_epoch: int = 0,
        checkpoint: tuple[Weights, dict | None] | None = None,
        best_loss: float = math.inf,
        strategy: str = "default",
    ):
        self.config, self.vocab, self.text = config, vocab, text
        self.initial_epoch = initial_epoch
        self.strategy = strategy
        self._checkpoint = checkpoint
        self._best, self._best_epoch = best_loss, initial_epoch if math.isfinite(best_loss) else 0
        self._stop = threading.Event()
        self.stop_reason: str | None = None
        self._recent: list[float] = []
        self._epoch_losses: list[float] = []
        self._divergences = 0
        self._lr_scale = 1.0  # lowered by LR_CUT after each divergence
        self._steps = 0  # steps this job has taken, for the warm-up
        self._since_best = 0  # epochs of this job since the held-out score last improved
        self._settle: Settle | None = None  # the final fall of the rate, once the score stopped improving

    def stop(self, reason: str = "user") -> None:
        """Stop after the current batch (from any thread)."""
        self.stop_reason = self.stop_reason or reason
        self._stop.set()

    @property
    def best_loss(self) -> float:
        return self._best

    @property
    def best_epoch(self) -> int:
        return self._best_epoch

    # --- the model ---------------------------------------------------------------------------------------
    def weights(self) -> Weights:
        weights: Weights = self._M.get_weights(self._model)
        return weights

    def optimizer_state(self) -> dict:
        state: dict = self._M.optimizer_state(self._model)
        return state

    # --- the fit ------------------------------------------------------------------------------------------
    def fit(self, hook: TrainerHook) -> str | None:
        """Train until the epochs are done or someone stops it; returns the stop reason (None = completed)."""
        import keras

        from . import data
        from . import model as M

        cfg = self.config
        keras.utils.set_random_seed(cfg.seed + self.initial_epoch)
        split = data.split_ids(self.vocab.encode(self.text), cfg.val_fraction)
        if data.window_count(len(split.train), cfg) == 0:
            raise CorpusError("The text is too short for one training sequence with these settings.")
        train_ds = data.make_dataset(split.train, cfg, training=True, seed=cfg.seed).repeat()
        has_val = cfg.val_fraction > 0 and data.window_count(len(split.val), cfg) > 0
        self._val_ds = (
            data.make_dataset(
                split.val, validation_config(cfg, len(split.val)), training=False, batch_size=validation_batch(cfg)
            )
            if has_val
            else None
        )
        steps = data.steps_per_epoch(len(split.train), cfg)
        self._build(M, data.window_count(len(split.train), cfg))
        self._best_state = (self.weights(), self.optimizer_state())
        chars_per_step = cfg.batch_size * cfg.seq_len
        hook.on_fit_start(FitPlan(steps, self.text[: len(split.train)], has_val, chars_per_step))
        if not self._stop.is_set():
            self._model.fit(
                train_ds,
                epochs=self.initial_epoch + cfg.epochs,
                initial_epoch=self.initial_epoch,
                steps_per_epoch=steps,
                callbacks=[self._callback(hook, steps)],
                verbose=0,
                shuffle=False,  # the dataset orders its own batches; Keras's default warned on every training
            )
        return self.stop_reason

    def _build(self, M: Any, windows: int) -> None:
        import tensorflow as tf

        from .distribute import make_strategy

        cfg = self.config
        strategy = make_strategy(self.strategy)
        replicas = strategy.num_replicas_in_sync
        if replicas > 1 and (cfg.batch_size % replicas or windows < cfg.batch_size):
            raise ConfigError(
                f"With {replicas} devices the batch size must be a multiple of {replicas} and no larger than the "
                f"number of training sequences; got batch size {cfg.batch_size}."
            )
        with strategy.scope():
            model = M.build_model(cfg, len(self.vocab))
            M.compile_model(model, cfg, metrics=[M.LastBatchLoss()])
            model.optimizer.build(model.trainable_variables)
        if self._checkpoint is not None:
            weights, opt_state = self._checkpoint
            M.set_weights(model, weights, cfg, len(self.vocab))
            if opt_state is not None:
                M.set_optimizer_state(model, opt_state)
        self._model, self._M = model, M
        self._val_step = tf.function(functools.partial(_sum_loss, model), autograph=False)

    def validate(self) -> float | None:
        """Mean loss per character on the held-out text (None without one)."""
        if self._val_ds is None:
            return None
        total, count = 0.0, 0.0
        for x, y in self._val_ds:
            s, n = self._val_step(x, y)
            total, count = total + float(s), count + float(n)
        return total / count if count else None

    def _callback(self, hook: TrainerHook, steps: int) -> Any:
        import keras

        trainer = self

        class Events(keras.callbacks.Callback):
            def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
                trainer._epoch_losses = []
                hook.on_epoch_start(epoch + 1)

            def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
                trainer._set_lr(hook)

            def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
                if trainer._after_batch(hook, float((logs or {})["batch_loss"])):
                    self.model.stop_training = True

            def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
                if trainer._end_epoch(hook, epoch + 1, steps):
                    self.model.stop_training = True

        return Events()

    def _set_lr(self, hook: TrainerHook) -> None:
        cfg = self.config
        if self._settle is not None:
            lr = self._settle.lr_at(self._steps)
        else:
            lr = scheduled_lr(cfg.learning_rate, cfg.lr_schedule, hook.budget_spent(), self._steps) * self._lr_scale
        self._steps += 1
        self._model.optimizer.learning_rate.assign(lr)

    def _after_batch(self, hook: TrainerHook, loss: float) -> bool:
        if is_divergent(loss, self._recent):
            return self._recover(hook, loss)
        self._recent.append(loss)
        del self._recent[:-100]
        self._epoch_losses.append(loss)
        if hook.on_batch(len(self._epoch_losses), loss):
            self.stop(self.stop_reason or "user")
        if self._settle is not None and self._settle.over(self._steps):
            self.stop("settled")
        return self._stop.is_set()

    def _restore_best(self) -> float:
        """Back to the best weights and optimizer state; returns the learning rate just before (the saved
        state holds a rate too, which the caller replaces)."""
        lr = float(self._model.optimizer.learning_rate.numpy())
        weights, opt_state = self._best_state
        self._M.set_weights(self._model, weights, self.config, len(self.vocab))
        self._M.set_optimizer_state(self._model, opt_state)
        return lr

    def _recover(self, hook: TrainerHook, loss: float) -> bool:
        """Divergence: go back to the best weights, then lower the learning rate or stop."""
        model = self._model
        lr = self._restore_best()
        self._divergences += 1
        best = f"epoch {self._best_epoch}" if self._best_epoch else "the start"
        shown = "NaN" if not math.isfinite(loss) else f"{loss:.2f}"
        where = f"step {len(self._epoch_losses) + 1} of this epoch"
        if self.config.on_divergence == "lower_lr" and self._divergences <= MAX_DIVERGENCE_RETRIES:
            self._lr_scale *= LR_CUT
            model.optimizer.learning_rate.assign(lr * LR_CUT)
            hook.on_notice(
                f"Training became unstable at {where} (loss {shown}). Went back to the best model "
                f"({best}) and lowered the learning rate from {lr:.3g} to {lr * LR_CUT:.3g}."
            )
            return False
        hook.on_notice(
            f"Training became unstable at {where} (loss {shown}) and was stopped. "
            f"The best model ({best}) is kept. Try a lower learning rate."
        )
        self.stop("diverged")
        return True

    def _end_epoch(self, hook: TrainerHook, epoch: int, steps: int) -> bool:
        if not self._epoch_losses:
            return True
        hook.on_validation_start()
        val_loss = self.validate()
        train_loss = float(np.mean(self._epoch_losses))
        measure = val_loss if val_loss is not None else train_loss
        improved = measure < self._best
        if improved:
            self._best, self._best_epoch = measure, epoch
            self._best_state = (self.weights(), self.optimizer_state())
        self._since_best = 0 if improved else self._since_best + 1
        result = EpochResult(
            epoch=epoch,
            train_loss=train_loss,
            val_loss=val_loss,
            learning_rate=float(self._model.optimizer.learning_rate.numpy()),
            steps=len(self._epoch_losses),
            partial=len(self._epoch_losses) < steps,
            improved=improved,
        )
        if hook.on_epoch_end(result, self):
            self.stop(self.stop_reason or "user")
        elif self._should_settle(val_loss):
            self._begin_settling(hook)
        return self._stop.is_set()

    def _should_settle(self, val_loss: float | None) -> bool:
        cfg = self.config
        return (
            self._settle is None
            and cfg.patience is not None
            and cfg.lr_schedule == "budget"
            and val_loss is not None
            and self._since_best >= cfg.patience
        )

    def _begin_settling(self, hook: TrainerHook) -> None:
        """The held-out score stopped improving: back to the best model, then the rate's last fall."""
        lr = self._restore_best()
        floor = self.config.learning_rate * LR_FLOOR * self._lr_scale
        steps = settle_steps(self._steps, hook.budget_spent())
        self._settle = Settle(self._steps, steps, max(lr, floor), floor)
        hook.on_settle(steps)


def _sum_loss(model: Any, x: Any, y: Any) -> Any:
    import keras
    from keras import ops

    logits = model(x, training=False)
    losses = keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True)
    return ops.sum(losses), ops.cast(ops.size(losses), "float32")
