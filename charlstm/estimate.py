"""How long a training takes on this computer: one estimate, from speeds measured here, used everywhere.

The speed is the characters per second that finished trainings on this machine reached (each
epoch's record keeps it), for the same kind of training; before any training has finished, a
speed measured on a 2-core laptop (docs/benchmarks.md) stands in, and the words say so.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from dataclasses import dataclass

from .config import TrainConfig
from .errors import CharlstmError
from .run import Run
from .weights import expected_shapes

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


@dataclass(frozen=True)
class Estimate:
    seconds: float  # the whole training, validation and samples included
    readable_seconds: float  # until the samples look like words
    chars_per_sec: float
    measured: bool  # False: a typical laptop's speed, not this machine's


def measured_speed(runs: Iterable[Run], config: TrainConfig) -> float | None:
    """The median speed of the latest trainings here with the same preset and mode."""
    speeds = []
    for run in runs:
        try:
            theirs = run.config()
        except CharlstmError:  # an unreadable run says nothing about speed
            continue
        if (theirs.preset, theirs.mode) != (config.preset, config.mode):
            continue
        history = run.history()
        if history and history[-1].chars_per_sec > 0:
            speeds.append((run.path.stat().st_mtime, history[-1].chars_per_sec))
    recent = sorted(speeds)[-RECENT_RUNS:]
    return statistics.median(s[1] for s in recent) if recent else None


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


def estimate(config: TrainConfig, n_chars: int, speed: float | None) -> Estimate:
    """The time a training of `config` on `n_chars` characters takes at `speed` (or a typical one)."""
    chars_per_sec = speed or typical_speed(config)
    per_epoch = epoch_chars(config, n_chars) / chars_per_sec
    checking = per_epoch * config.val_fraction / 3.0  # validation runs forward only: about 3x faster
    seconds = config.epochs * (per_epoch + checking)
    if config.seconds:
        seconds = min(seconds, config.seconds)  # the budget is Start to finished, the last check included
    readable = READABLE_AFTER_CHARS[config.mode] / chars_per_sec
    return Estimate(seconds, readable, chars_per_sec, speed is not None)
