"""How long a training takes on this computer: one estimate, from speeds measured here, used everywhere.

The speed is the characters per second that finished trainings on this machine reached (each
epoch's record keeps it), for the same kind of training. A model of another shape trained here tells
this machine's pace against a 2-core laptop's, and the laptop's speed for this shape is scaled by it.
Before any training has finished, the laptop's speed (docs/benchmarks.md) stands in, and the words say so.
"""

from __future__ import annotations

import math
import os
import statistics
from collections.abc import Iterable
from dataclasses import dataclass

from .config import TrainConfig
from .errors import CharlstmError, ConfigError
from .run import Run
from .weights import expected_shapes, gate_count, parameter_count

# Until this machine has measured its own speed, a 2-core laptop's stands in (docs/tuning.md). A sequence
# model's speed follows its size: the laptop does about 14e9 multiply-adds a second for every model size
# measured (quick's LSTM(192) trains 75,000 characters a second, LSTM(384) 21,000), and a small model is held
# back by each step's fixed cost instead (the 128-unit baseline: about 110,000). The seed's windows: measured.
TYPICAL_MULTIPLY_ADDS_PER_SEC = 14e9
TYPICAL_MAX_CHARS_PER_SEC = 110_000.0
TYPICAL_WINDOW_CHARS_PER_SEC = 25_000.0
TYPICAL_VOCAB = 80  # characters in a typical text; the estimate is made before the vocabulary is
# Characters trained on before the samples look like words (a model at about 2.3 bits per character):
# a quick model on Nietzsche gets there after about 1.5 M; the seed's one-target windows need many more.
READABLE_AFTER_CHARS = {"sequence": 1_500_000, "window": 30_000_000}
RECENT_RUNS = 5
# What a training costs beyond reading its text, measured on a 2-core machine (2026-12-03, the quick preset on
# a 2,500-character text, 12 epochs of one step each): 3.2 s before the first epoch ends (preparing the data,
# building the model, tracing its first step), then 0.14-0.22 s at each epoch's end (checkpoints, samples, the
# time-lapse). A small text trained for many epochs is mostly this: 50 epochs of it once read "about 2 s".
START_SECONDS = 3.0
EPOCH_END_SECONDS = 0.16
# A text read more often than this in its budget is usually learnt sooner: the held-out score of a 50,000- or
# 300,000-character text stopped improving after 18-54 readings (docs/tuning.md), and with `patience` the
# training then settles and finishes early.
SOONER_AFTER_READINGS = 60


@dataclass(frozen=True)
class Speed:
    """Characters a second this machine trains a model at."""

    chars_per_sec: float
    same_shape: bool  # False: from this machine's pace on models of other shapes (scaled by their work)


@dataclass(frozen=True)
class Estimate:
    seconds: float  # the whole training, validation and samples included
    readable_seconds: float  # until the samples look like words
    chars_per_sec: float
    measured: bool  # False: a typical laptop's speed, not this machine's
    same_shape: bool  # measured on models of this shape (False: scaled from others, or not measured)
    readings: float  # how many times the training reads the text in that time
    may_end_sooner: bool  # the text is short for the time: it will likely settle and finish early


# What sets the speed of a training: the network's shape and how it is fed, never the preset's name (a
# `quality` training on a short text trains quick's model, at quick's speed: sizing.too_short_for_big)
SPEED_FIELDS = ("mode", "cell", "layers", "units", "embedding_dim", "seq_len", "batch_size")


def same_speed(a: TrainConfig, b: TrainConfig) -> bool:
    return all(getattr(a, name) == getattr(b, name) for name in SPEED_FIELDS)


def _trained_speeds(runs: Iterable[Run]) -> list[tuple[float, TrainConfig, float]]:
    """(when, settings, characters a second) of each run trained here, oldest first.

    A copy or an import not trained further here is left out: its speed is another machine's."""
    speeds = []
    for run in runs:
        try:
            config = run.config()
        except CharlstmError:  # an unreadable run says nothing about speed
            continue
        history = run.history()
        if len(history) > run.epochs_brought() and history[-1].chars_per_sec > 0:
            speeds.append((run.path.stat().st_mtime, config, history[-1].chars_per_sec))
    return sorted(speeds, key=lambda s: s[0])


def measured_speed(runs: Iterable[Run], config: TrainConfig) -> float | None:
    """The median speed of the latest trainings here of a model shaped and fed as `config`'s."""
    recent = [speed for _, theirs, speed in _trained_speeds(runs) if same_speed(theirs, config)][-RECENT_RUNS:]
    return statistics.median(recent) if recent else None


def speed_here(runs: Iterable[Run], config: TrainConfig) -> Speed | None:
    """This machine's speed for `config`: measured on its shape, else scaled from its pace on other shapes
    (an outsider's three trainings left every other shape at the laptop's speed); None before any training."""
    speeds = _trained_speeds(runs)
    same = [speed for _, theirs, speed in speeds if same_speed(theirs, config)][-RECENT_RUNS:]
    if same:
        return Speed(statistics.median(same), same_shape=True)
    paces = [speed / typical_speed(theirs) for _, theirs, speed in speeds if theirs.mode == config.mode]
    if not paces:
        return None
    return Speed(typical_speed(config) * statistics.median(paces[-RECENT_RUNS:]), same_shape=False)


def epoch_chars(config: TrainConfig, n_chars: int) -> float:
    """Characters one epoch trains on, counted as the trainer counts them (batch x sequence per step)."""
    train = n_chars * (1.0 - config.val_fraction)
    per_epoch = train if config.mode == "sequence" else train / max(1, config.stride) * config.seq_len
    if config.steps_per_epoch:
        per_epoch = min(per_epoch, config.steps_per_epoch * config.batch_size * config.seq_len)
    return per_epoch


def multiply_adds_per_char(config: TrainConfig, vocab_size: int = TYPICAL_VOCAB) -> int:
    """The forward pass's work per character: every kernel weight is used once (embeddings are looked up)."""
    kernels = [shape for name, shape in expected_shapes(config, vocab_size).items() if name.endswith("kernel")]
    return sum(math.prod(shape) for shape in kernels)


def typical_speed(config: TrainConfig) -> float:
    """Characters a second a 2-core laptop trains `config` at: the stand-in until this machine has measured."""
    if config.mode == "window":
        return TYPICAL_WINDOW_CHARS_PER_SEC
    return min(TYPICAL_MAX_CHARS_PER_SEC, TYPICAL_MULTIPLY_ADDS_PER_SEC / multiply_adds_per_char(config))


def estimate(config: TrainConfig, n_chars: int, speed: Speed | float | None) -> Estimate:
    """The time a training of `config` on `n_chars` characters takes at `speed` (or a typical one).

    A plain number is a speed measured on this shape."""
    if isinstance(speed, int | float):
        speed = Speed(float(speed), same_shape=True)
    chars_per_sec = speed.chars_per_sec if speed else typical_speed(config)
    per_epoch = epoch_chars(config, n_chars) / chars_per_sec
    checking = per_epoch * config.val_fraction / 3.0  # validation runs forward only: about 3x faster
    seconds = START_SECONDS + config.epochs * (per_epoch + checking + EPOCH_END_SECONDS)
    if config.seconds:
        seconds = min(seconds, config.seconds)  # the budget is Start to finished, the last check included
    readable = READABLE_AFTER_CHARS[config.mode] / chars_per_sec
    readings = max(0.0, seconds - START_SECONDS) / (per_epoch + checking + EPOCH_END_SECONDS)
    settles = config.patience is not None and config.lr_schedule == "budget" and config.val_fraction > 0
    sooner = settles and readings > SOONER_AFTER_READINGS
    same_shape = speed is not None and speed.same_shape
    return Estimate(seconds, readable, chars_per_sec, speed is not None, same_shape, readings, sooner)


# --- memory: checked before a job starts, so settings that cannot fit are refused with the reason ---------
MEMORY_LIMIT_ENV = "CHARLSTM_MAX_TRAINING_MEMORY_MB"
# TensorFlow's runtime, tf.data buffers and temporaries beyond what the formulas count: the quick preset
# measured 232-246 MB above the TensorFlow import on four texts (docs/benchmarks.md, section 5).
MEMORY_OVERHEAD_BYTES = 256_000_000
_FLOAT = 4  # float32
_KEPT = 2  # backpropagation keeps forward values and their gradients, and TF makes temporaries

_ADVICE = {
    "activations": "Lower the batch size, the sequence length, the number of units or the number of layers.",
    "output layer": "Lower the batch size or the sequence length (the text's many different characters cost "
    "memory at every position).",
    "input": "Use an embedding (embedding_dim above 0) or lower the batch size or the sequence length.",
    "weights and optimizer": "Use fewer units or fewer layers.",
    "text": "Use a shorter text (max_chars).",
}


def memory_parts(config: TrainConfig, vocab_size: int, n_chars: int) -> dict[str, int]:
    """Bytes that training these settings on `n_chars` characters needs, by what needs them.

    An estimate that errs high: per time step an LSTM keeps its gates, cell and output for
    backpropagation; the output layer keeps logits and their gradients at every position (one
    position per window in window mode); weights are counted four times (weights, gradients and
    Adam's two moments).
    """
    positions = config.batch_size * config.seq_len
    per_step = (gate_count(config.cell) + 3) * config.units * config.layers
    outputs = positions if config.mode == "sequence" else config.batch_size
    chars = min(n_chars, config.max_chars or n_chars)
    return {
        "activations": positions * per_step * _FLOAT * _KEPT,
        "output layer": outputs * vocab_size * _FLOAT * (_KEPT + 1),
        "input": positions * (config.embedding_dim or vocab_size) * _FLOAT * _KEPT,
        "weights and optimizer": parameter_count(config, vocab_size) * _FLOAT * 4,
        "text": chars * 6,  # the text as Python holds it (up to 4 bytes a character) and its ids
    }


def estimate_memory_bytes(config: TrainConfig, vocab_size: int, n_chars: int) -> int:
    """The memory a training job with these settings needs, above the TensorFlow import."""
    return MEMORY_OVERHEAD_BYTES + sum(memory_parts(config, vocab_size, n_chars).values())


def memory_limit_bytes() -> int:
    """How much one training job may use: $CHARLSTM_MAX_TRAINING_MEMORY_MB, else half this computer's memory."""
    raw = os.environ.get(MEMORY_LIMIT_ENV, "").strip()
    if raw:
        try:
            return int(float(raw) * 1_000_000)
        except ValueError:
            raise ConfigError(f"{MEMORY_LIMIT_ENV} must be a number of megabytes (got {raw!r}).") from None
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2


def check_memory(config: TrainConfig, vocab_size: int, n_chars: int, limit: int | None = None) -> int:
    """Refuse settings whose estimated memory is over the limit, saying what needs it and what to change.

    Returns the estimate in bytes, for pages that want to show it.
    """
    limit = memory_limit_bytes() if limit is None else limit
    need = estimate_memory_bytes(config, vocab_size, n_chars)
    if need > limit:
        parts = memory_parts(config, vocab_size, n_chars)
        biggest = max(parts, key=parts.__getitem__)
        raise ConfigError(
            f"These settings would need about {_gigabytes(need)} of memory to train, more than the "
            f"{_gigabytes(limit)} one training may use here. Most of it is for the {biggest} "
            f"(batch size {config.batch_size:,} x sequence length {config.seq_len:,} x {config.layers} "
            f"layer(s) of {config.units:,} units, {vocab_size:,} different characters). {_ADVICE[biggest]}"
        )
    return need


def _gigabytes(n: int) -> str:
    if n < 1e9:
        return f"{n / 1e6:,.0f} MB"
    return f"{n / 1e9:,.1f} GB" if n < 10e9 else f"{n / 1e9:,.0f} GB"
