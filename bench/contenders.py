"""The contenders of the several-kinds benchmark, each trained the way its user would, on the clock.

A contender gets a text (the first 90% of a benchmark text) and a budget in seconds that runs from
Start to finished, as a user waits: data preparation, validation, samples and checkpoints count.
It returns the weights a user would be left with, in charlstm's `.npz` names, and the settings that
describe its network, so that every contender is scored by the same code: `Generator.score`, what
`charlstm score` runs (each character given everything before it, in 20,000-character chunks).

- `seed`: the seed's method (bench/seed.py), one-hot windows of 60 every 3, LSTM(128), RMSprop(0.01).
- `baseline`: the plain 20-line model the issue names: Embedding(32) + LSTM(128) with a target at every
  position, sequences of 60, batch 128, RMSprop(0.01) with clipnorm 1, 10% held out for validation.
- any charlstm preset, trained by `TrainingJob` exactly as the studio's worker trains it.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from charlstm.config import TrainConfig, preset_config
from charlstm.data import split_ids
from charlstm.text import Vocabulary

BASELINE = TrainConfig(  # the plain baseline's network, described for the scorer (it trains without charlstm)
    preset="baseline",
    seq_len=60,
    stride=60,
    units=128,
    embedding_dim=32,
    optimizer="rmsprop",
    learning_rate=0.01,
    lr_schedule="constant",
    batch_size=128,
)


@dataclass
class Trained:
    """What a contender leaves its user with."""

    weights: dict[str, np.ndarray]
    config: TrainConfig
    vocab: Vocabulary
    steps: int
    chars_fed: int
    epochs: int
    detail: str = ""
    curve: tuple[tuple[float, float | None, float], ...] = ()  # per epoch: training loss, validation loss, rate


def train(contender: str, text: str, budget: float, overrides: dict[str, Any], started: float) -> Trained:
    """Train `contender` on `text`; `started` is when the user pressed Start (time.monotonic())."""
    if contender == "seed":
        return _seed(text, budget, started)
    if contender == "baseline":
        return _baseline(text, budget, started)
    return _preset(contender, text, budget, overrides)


def _seed(text: str, budget: float, started: float) -> Trained:
    import keras

    from . import seed

    keras.utils.set_random_seed(1337)
    data = seed.vectorize(text)
    model = seed.build_model(len(data.chars))
    left = budget - (time.monotonic() - started)  # the seed's one-hot preparation is part of the wait
    run = seed.train(model, data, budget=max(left, 1.0), evaluate=lambda m: float("nan"), eval_every=1e9)
    config = preset_config("classic", lowercase=False)
    trained = Trained(
        seed.to_charlstm_weights(model), config, Vocabulary(data.chars), run.steps, 0, len(run.epoch_losses)
    )
    trained.chars_fed = run.steps * seed.BATCH_SIZE * seed.MAXLEN
    return trained


def _sequences(ids: np.ndarray, length: int) -> tuple[np.ndarray, np.ndarray]:
    n = (len(ids) - 1) // length
    return ids[: n * length].reshape(n, length), ids[1 : n * length + 1].reshape(n, length)


def _baseline(text: str, budget: float, started: float) -> Trained:
    """The plain baseline, written as a newcomer would write it from the Keras docs."""
    import keras
    from keras import layers

    keras.utils.set_random_seed(1337)
    vocab = Vocabulary.from_text(text)
    ids = vocab.encode(text).astype(np.int32)
    split = split_ids(ids, BASELINE.val_fraction)  # the same held-out tail as every contender
    x, y = _sequences(split.train, BASELINE.seq_len)
    val = _sequences(split.val, BASELINE.seq_len)
    model = keras.Sequential(
        [
            keras.Input((None,), dtype="int32"),
            layers.Embedding(len(vocab), BASELINE.embedding_dim, name="embedding"),
            layers.LSTM(BASELINE.units, return_sequences=True, name="rnn0"),
            layers.Dense(len(vocab), name="logits"),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.RMSprop(learning_rate=BASELINE.learning_rate, clipnorm=BASELINE.clipnorm),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    clock = _deadline_callback(started + budget)
    model.fit(x, y, batch_size=BASELINE.batch_size, epochs=100_000, validation_data=val, callbacks=[clock], verbose=0)
    from charlstm.model import get_weights

    fed = clock.steps * BASELINE.batch_size * BASELINE.seq_len
    return Trained(get_weights(model), BASELINE, vocab, clock.steps, fed, clock.epochs)


def _deadline_callback(deadline: float):  # a class made on demand: Keras is imported late
    import keras

    class Deadline(keras.callbacks.Callback):
        """Stop at the deadline, as a plain script with a time limit would."""

        steps = epochs = 0

        def on_train_batch_end(self, batch, logs=None):
            self.steps += 1
            if time.monotonic() >= deadline:
                self.model.stop_training = True

        def on_epoch_end(self, epoch, logs=None):
            self.epochs += 1

    return Deadline()


def _preset(name: str, text: str, budget: float, overrides: dict[str, Any]) -> Trained:
    """A charlstm preset trained by the same job a studio worker runs; the user keeps its best epoch."""
    from charlstm.text import Corpus
    from charlstm.training import TrainingJob

    config = preset_config(name, **{"seconds": float(budget), "epochs": 100_000, **overrides})
    with tempfile.TemporaryDirectory(prefix="charlstm-kinds-") as tmp:
        job = TrainingJob.create(Corpus(text, "bench", "files"), config, root=tmp)
        snap = job.run()
        if snap.stop_reason not in ("time", "completed"):
            raise RuntimeError(f"{name} ended with {snap.stop_reason}: {snap.message}")
        weights, _ = job.run_folder.load_checkpoint(job.run_folder.best_tag())
        steps = sum(h.steps for h in snap.history)
        fed = steps * config.batch_size * config.seq_len
        detail = f"best epoch {min(snap.history, key=lambda h: h.val_loss or h.loss).epoch} of {len(snap.history)}"
        curve = tuple((h.loss, h.val_loss, h.learning_rate) for h in snap.history)
        return Trained(weights, job.config, job.vocab, steps, fed, len(snap.history), detail, curve)
