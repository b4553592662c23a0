"""The seed's exact method (Deep Learning with Python, 8.1), in Keras 3 spelling: the baseline.

One-hot windows of 60 characters every 3 characters, one target per window, LSTM(128) + softmax,
RMSprop(0.01), `model.fit(x, y, batch_size=128, epochs=1)` once per epoch, and a generation loop
that re-encodes the window and calls `model.predict` for every character. Only measurement is
added around it: a callback that keeps the clock, evaluates (off the clock) and stops at the budget.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from charlstm.sampling import seed_sample

MAXLEN = 60
STEP = 3
BATCH_SIZE = 128


@dataclass
class SeedData:
    x: np.ndarray  # (n, 60, V) bool
    y: np.ndarray  # (n, V) bool
    chars: list[str]
    char_indices: dict[str, int]


def vectorize(text: str, chars: list[str] | None = None) -> SeedData:
    """The seed's data preparation, line for line (`chars` lets the held-out tail share the vocabulary)."""
    sentences = []
    next_chars = []
    for i in range(0, len(text) - MAXLEN, STEP):
        sentences.append(text[i : i + MAXLEN])
        next_chars.append(text[i + MAXLEN])
    chars = chars if chars is not None else sorted(set(text))
    char_indices = {char: chars.index(char) for char in chars}
    x = np.zeros((len(sentences), MAXLEN, len(chars)), dtype=bool)
    y = np.zeros((len(sentences), len(chars)), dtype=bool)
    for i, sentence in enumerate(sentences):
        for t, char in enumerate(sentence):
            x[i, t, char_indices[char]] = 1
        y[i, char_indices[next_chars[i]]] = 1
    return SeedData(x, y, chars, char_indices)


def onehot_bytes(n_chars: int, vocab_size: int) -> int:
    """Bytes of the seed's x and y (bool) for a text of `n_chars` characters."""
    n = len(range(0, n_chars - MAXLEN, STEP))
    return n * MAXLEN * vocab_size + n * vocab_size


def build_model(vocab_size: int):
    """LSTM(128) + Dense(softmax), compiled exactly as the seed did."""
    import keras
    from keras import layers

    model = keras.Sequential(
        [keras.Input((MAXLEN, vocab_size)), layers.LSTM(128), layers.Dense(vocab_size, activation="softmax")]
    )
    model.compile(loss="categorical_crossentropy", optimizer=keras.optimizers.RMSprop(learning_rate=0.01))
    return model


@dataclass
class Point:
    """The common validation measure at one moment of training (clock excludes evaluation)."""

    seconds: float
    cpu_seconds: float
    steps: int
    nats: float


@dataclass
class SeedRun:
    budget: float
    curve: list[Point] = field(default_factory=list)
    epoch_losses: list[float] = field(default_factory=list)  # Keras' mean training loss per epoch
    first_epoch_running: list[float] = field(default_factory=list)  # logs["loss"] after each batch of epoch 1
    steps: int = 0
    stop_reason: str = ""
    train_seconds: float = 0.0


def train(
    model,
    data: SeedData,
    budget: float,
    evaluate: Callable[[object], float],
    eval_every: float,
    marks: tuple[float, ...] = (),
    stop_at: float | None = None,
) -> SeedRun:
    """Fit one epoch at a time, as the seed did, until `budget` training seconds or `stop_at` nats.

    The validation measure is taken every `eval_every` training seconds, at each `marks` second,
    after each epoch and at the end; the time it takes is excluded from the clock.
    """
    run = SeedRun(budget)
    watch = _Stopwatch(run, evaluate, eval_every, marks, stop_at)
    callback = _fit_callback(watch)
    while not run.stop_reason:
        model.fit(data.x, data.y, batch_size=BATCH_SIZE, epochs=1, callbacks=[callback], verbose=0)
    run.train_seconds = watch.clock()[0]
    return run


class _Stopwatch:
    """Training seconds with the validation measure taken off, and when that measure is next due.

    This is all the benchmark adds to the seed's loop: every contender is compared on the time it
    spent training, never on the time spent measuring it.
    """

    def __init__(
        self,
        run: SeedRun,
        evaluate: Callable[[object], float],
        eval_every: float,
        marks: tuple[float, ...],
        stop_at: float | None,
    ) -> None:
        self.run, self.evaluate, self.eval_every, self.stop_at = run, evaluate, eval_every, stop_at
        self.t0, self.cpu0 = time.monotonic(), time.process_time()
        self.excluded = {"wall": 0.0, "cpu": 0.0}
        self.pending = sorted(m for m in marks if m < run.budget)
        self.next_eval = eval_every

    def clock(self) -> tuple[float, float]:
        """Wall and CPU seconds of training so far."""
        return (
            time.monotonic() - self.t0 - self.excluded["wall"],
            time.process_time() - self.cpu0 - self.excluded["cpu"],
        )

    def due(self, wall: float) -> bool:
        """Whether a regular measure or a `marks` second has come."""
        return wall >= self.next_eval or bool(self.pending and wall >= self.pending[0])

    def checkpoint(self, model) -> None:
        """Measure off the clock, record the point, move the next due times past it; note `stop_at` reached."""
        run = self.run
        wall, cpu = self.clock()
        w0, c0 = time.monotonic(), time.process_time()
        nats = self.evaluate(model)
        self.excluded["wall"] += time.monotonic() - w0
        self.excluded["cpu"] += time.process_time() - c0
        run.curve.append(Point(wall, cpu, run.steps, nats))
        while self.next_eval <= wall:
            self.next_eval += self.eval_every
        while self.pending and self.pending[0] <= wall:
            self.pending.pop(0)
        if self.stop_at is not None and nats <= self.stop_at:
            run.stop_reason = f"reached {self.stop_at} nats"


def _fit_callback(watch: _Stopwatch):
    """The Keras callback around the seed's `fit`: counts steps, keeps its losses, measures when due, stops."""
    import keras

    run = watch.run

    class Clock(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            run.steps += 1
            if not run.epoch_losses:
                run.first_epoch_running.append(float(logs["loss"]))
            wall, _ = watch.clock()
            if wall >= run.budget:
                run.stop_reason = run.stop_reason or "time"
                watch.checkpoint(self.model)
            elif watch.due(wall):
                watch.checkpoint(self.model)
            if run.stop_reason:
                self.model.stop_training = True

        def on_epoch_end(self, epoch, logs=None):
            run.epoch_losses.append(float(logs["loss"]))
            if not run.stop_reason and (not run.curve or run.curve[-1].steps != run.steps):
                watch.checkpoint(self.model)

    return Clock()


def generate(model, data: SeedData, seed_text: str, temperature: float, n: int, rng=np.random) -> str:
    """The seed's generation loop: re-encode the 60-char window and `model.predict` per character."""
    chars, char_indices = data.chars, data.char_indices
    generated_text = seed_text
    out = []
    for _ in range(n):
        sampled = np.zeros((1, MAXLEN, len(chars)))
        for t, char in enumerate(generated_text):
            sampled[0, t, char_indices[char]] = 1.0
        preds = model.predict(sampled, verbose=0)[0]
        next_index = seed_sample(preds, temperature, rng)
        next_char = chars[next_index]
        generated_text += next_char
        generated_text = generated_text[1:]
        out.append(next_char)
    return "".join(out)


def to_charlstm_weights(model) -> dict[str, np.ndarray]:
    """The seed's network is the classic preset's: its arrays under charlstm's `.npz` names."""
    lstm, dense = (layer for layer in model.layers)
    kernel, recurrent, bias = lstm.get_weights()
    out_kernel, out_bias = dense.get_weights()
    return {
        "rnn0/kernel": kernel,
        "rnn0/recurrent_kernel": recurrent,
        "rnn0/bias": bias,
        "logits/kernel": out_kernel,
        "logits/bias": out_bias,
    }
