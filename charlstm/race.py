"""A training race: two settings trained on one text, judged at equal training time.

A person changes one setting (units, layers, LSTM or GRU, learning rate, sequence length) and starts both
trainings together. On a machine with one training worker they take turns; with two or more they train side
by side. Either way each history line records the seconds since its own training began, so comparing the
held-out score each had reached by the same number of seconds is fair: the winner is the better model at the
time the shorter of the two trainings ran.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .config import LN2, TrainConfig
from .run import EpochRecord

# What a race may change: the setting's field, its words, and the values offered besides the current one.
CHANGES: dict[str, tuple[str, tuple]] = {
    "units": ("units per layer", (64, 128, 256, 384, 512)),
    "layers": ("layers", (1, 2, 3)),
    "cell": ("cell type", ("lstm", "gru")),
    "learning_rate": ("learning rate", (0.001, 0.003, 0.01, 0.03, 0.1)),
    "seq_len": ("sequence length", (32, 64, 100, 128, 200)),
}


@dataclass(frozen=True)
class RaceResult:
    seconds: float  # the training time both had reached
    bpc: tuple[float, float]  # each one's best held-out bits per character by then
    winner: int | None  # 0 or 1; None when they tie


def challenger(config: TrainConfig, field: str, value) -> TrainConfig:
    """The second contender: the first one's settings with one changed (checked like any settings)."""
    if field not in CHANGES:
        raise ValueError(f"a race changes one of {', '.join(CHANGES)}")
    changed = {field: value}
    if field == "seq_len" and config.mode == "sequence":
        changed["stride"] = value  # a sequence model reads its text in pieces of its own length
    return config.replace(**changed).validated()


def best_by(history: list[EpochRecord], seconds: float) -> float | None:
    """The best held-out bits per character among the epochs that ended within `seconds` of training."""
    scores = [(h.val_loss if h.val_loss is not None else h.loss) / LN2 for h in history if h.seconds <= seconds]
    return min(scores) if scores else None


def race_result(
    first: list[EpochRecord], second: list[EpochRecord], time_limit: float | None = None
) -> RaceResult | None:
    """Both contenders judged at the training time both reached; None until that time holds an epoch of each
    (one that ended its first epoch after the other's last has nothing to be compared with yet).

    `time_limit`: both ran out this same time limit. Each is then judged on its whole training: the last epoch
    of each ends at the limit, a moment before or after it (the last epoch's check runs when time is up), and a
    busy machine could otherwise leave a slow contender's only epoch a moment after the other's last.
    """
    if not first or not second:
        return None
    seconds = time_limit or min(first[-1].seconds, second[-1].seconds)
    judged_by = math.inf if time_limit else seconds
    a, b = best_by(first, judged_by), best_by(second, judged_by)
    if a is None or b is None:
        return None
    return RaceResult(seconds, (a, b), None if a == b else 0 if a < b else 1)
