"""Fitting the model to the text and the time: what the studio chooses for a person, and why, in one place.

A setting left to the studio is None in the settings a person asks for (today: `dropout`, in `quick`); it is
decided here when a run is planned (`store.plan_run`), from how many times the time limit lets the model read
the text, and the run folder keeps the value chosen. A short text read hundreds of times is learnt and then
memorised: dropout keeps the model from leaning on any one of its signals, which slows memorising more than
learning. A long text read a dozen times is still being learnt when the time ends, and dropout only slows that.

The rule comes from measurements (docs/tuning.md, rows P11-P22 and W1-W8), 150-s trainings of `quick` on the
first 50,000, 300,000, 600,000 and 1,200,000 characters of German verse, Python source and Nietzsche. Even a
text read only a dozen times gains from some dropout when its held-out part differs from what the model trains
on (1.2 M characters of source code: 0.08 nats), and loses nothing where it does not (all of Nietzsche).
"""

from __future__ import annotations

import dataclasses

from .config import PRESETS, TrainConfig
from .estimate import estimate

# (readings at least, dropout): the first row whose readings the text reaches. A reading is one pass over the
# training text at a 2-core laptop's speed, within the time limit (or the epochs, without one).
DROPOUT_BY_READINGS = ((150, 0.5), (10, 0.3), (0, 0.0))

# A text the bigger model would read this many times in its time is too short for it: it memorises the text
# (docs/benchmarks.md section 8: 15 minutes of `quality` on 50,000 characters scored worse than 150 s of
# `quick`). Such a text gets the small model, which learns it in a minute or two and settles.
SHORT_FOR_BIG_READINGS = 150
BIG, SMALL = PRESETS["quality"].config, PRESETS["quick"].config
# The settings that make the bigger model bigger (its shape and how it is fed and stepped), not its time
SHAPE = tuple(
    f.name
    for f in dataclasses.fields(TrainConfig)
    if f.name not in ("preset", "epochs", "seconds") and getattr(BIG, f.name) != getattr(SMALL, f.name)
)


def readings(config: TrainConfig, n_chars: int) -> float:
    """How many times the budget lets the model read a text of `n_chars` characters (a laptop's speed, so the
    same text and settings get the same choice on every machine)."""
    return estimate(config, n_chars, speed=None).readings


def dropout_for(reads: float) -> float:
    return next(dropout for at_least, dropout in DROPOUT_BY_READINGS if reads >= at_least)


def too_short_for_big(config: TrainConfig, n_chars: int) -> bool:
    """The bigger preset's own model, unchanged by the person, on a text it would only memorise in its time."""
    untouched = all(getattr(config, name) == getattr(BIG, name) for name in SHAPE)
    return config.preset == BIG.preset and untouched and readings(config, n_chars) >= SHORT_FOR_BIG_READINGS


def small(config: TrainConfig) -> TrainConfig:
    """`config` with the small model's shape (its time and everything else kept)."""
    return config.replace(**{name: getattr(SMALL, name) for name in SHAPE})


def fitted(config: TrainConfig, n_chars: int) -> TrainConfig:
    """`config` with every setting left to the studio decided for this text (the rest as given)."""
    if too_short_for_big(config, n_chars):
        config = small(config)
    if config.dropout is None:
        config = config.replace(dropout=dropout_for(readings(config, n_chars)))
    return config


def why(config: TrainConfig, n_chars: int) -> str | None:
    """The choice `fitted` makes, in a sentence or two a newcomer can read; None when nothing is left to choose."""
    smaller = ""
    if too_short_for_big(config, n_chars):
        smaller = (
            f"Your text is short for this time: the bigger model would read it about "
            f"{readings(config, n_chars):,.0f} times and memorise it, so the studio trains the smaller model "
            "of quick, which learns it in a minute or two and then finishes. "
        )
        config = small(config)
    if config.dropout is not None:
        return smaller.strip() or None
    reads = readings(config, n_chars)
    times = f"about {reads:,.0f} times" if reads >= 2 else "about once"
    chosen = dropout_for(reads)
    if chosen:
        return smaller + (
            f"Your text will be read {times} in this time, so the model switches off {chosen:.0%} of its "
            "signals at random while it trains (dropout): it then learns the text's patterns instead of "
            "memorising its sentences."
        )
    return smaller + (
        f"Your text will be read {times} in this time, too few to memorise it: no dropout (it would slow learning)."
    )
