"""A training's time-lapse: snapshots of the weights as it learns, and the texts they write.

The samples after each epoch start from a new prompt with new random numbers, so two epochs cannot be
compared, and once training is over the story is gone. A run therefore keeps up to `run.MAX_SNAPSHOTS`
snapshots of its weights (float16, in the run folder, counted in the person's quota). A job takes one each
time another twentieth of its budget is spent (time or epochs, whichever is further, as its learning-rate
schedule counts), from its first batch (noise) to its end, so a 30-second and a 30-minute training both get
their twenty points. A continued run adds its own and the run thins them evenly.

`frames` writes the same prompt with the same random numbers from every snapshot: the text grows from
noise to words, and only the weights differ.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from .generate import Generator
from .run import Run, SnapshotRecord
from .sampling import check_temperature

SNAPSHOT_POINTS = 20  # snapshots one job takes, evenly over its budget (the first at its first batch)
SNAPSHOT_LOSS_BATCHES = 20  # a snapshot's loss: the mean of the batches just before it


class TimeLapse:
    """When a job keeps a snapshot: at its first batch, then each time another 1/points of its budget is spent.

    Used from the training thread only."""

    def __init__(self, run: Run, points: int = SNAPSHOT_POINTS):
        self.run, self.points = run, points
        self._next: float | None = 0.0  # the share of the budget at which the next snapshot is due
        self._recent: deque[float] = deque(maxlen=SNAPSHOT_LOSS_BATCHES)
        self.last_at: float | None = None

    def add_loss(self, loss: float) -> None:
        """A batch's loss: a snapshot is labelled with the mean of the last few."""
        self._recent.append(loss)

    def due(self, spent: float | None) -> bool:
        return self._next is not None and spent is not None and spent >= self._next

    def take(self, spent: float, at_epoch: float, weights) -> None:
        """Keep a snapshot now; the next one is due at the next 1/points of the budget."""
        loss = sum(self._recent) / len(self._recent) if self._recent else 0.0
        self.run.save_snapshot(at_epoch, loss if math.isfinite(loss) else 0.0, weights)
        self.last_at = at_epoch
        self._next = (math.floor(spent * self.points) + 1) / self.points


@dataclass(frozen=True)
class Frame:
    snapshot: SnapshotRecord
    text: str


def frame(run: Run, number: int, prompt: str, length: int, seed: int, temperature: float = 0.5) -> str:
    """What snapshot `number` of a run writes after `prompt`, with the random numbers of `seed`."""
    gen = Generator(run.load_snapshot(number), run.config(), run.vocab())
    return gen.generate(prompt, [check_temperature(temperature)], length, seed=seed)[0].text


def frames(run: Run, prompt: str, length: int, seed: int, temperature: float = 0.5) -> list[Frame]:
    """The same prompt and random numbers written by every snapshot of a run, oldest first."""
    return [Frame(r, frame(run, r.number, prompt, length, seed, temperature)) for r in run.snapshots()]
