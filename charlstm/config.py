"""Every training setting in one dataclass, the three presets, and range checks with plain messages."""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field

from .errors import ConfigError
from .sampling import check_temperature

SEED_TEMPERATURES = (0.2, 0.5, 1.0, 1.2)
LN2 = math.log(2)  # nats per bit: bits per character = nats / LN2
OPTIMIZERS = ("adam", "rmsprop", "sgd")
# "budget": the learning rate rises over the first few percent of the budget, then falls linearly to near zero as
# the budget (time or epochs) runs out, as in "budgeted training" (Li et al., ICLR 2020). "constant": the seed's way.
LR_SCHEDULES = ("budget", "constant")
MAX_SEED = 2**31 - 1
# Every numeric setting's range, (lowest, highest): checked here and used as the studio's widget bounds.
RANGES: dict[str, tuple[float, float]] = {
    "seq_len": (2, 1000),
    "stride": (1, 10_000),
    "layers": (1, 3),
    "units": (4, 2048),
    "embedding_dim": (0, 1024),
    "batch_size": (1, 4096),
    "epochs": (1, 100_000),
    "sample_length": (0, 10_000),
    "seed": (0, MAX_SEED),
    "steps_per_epoch": (1, 10_000_000),
    "max_chars": (1000, 10**10),
    "dropout": (0.0, 0.9),
    "val_fraction": (0.0, 0.5),
    "learning_rate": (1e-7, 100.0),
    "seconds": (1.0, 7 * 24 * 3600.0),
    "patience": (1, 10_000),
}
OPTIONAL = ("steps_per_epoch", "max_chars", "seconds", "patience", "dropout")  # None: no limit (dropout: chosen)
PRESET_NAME = re.compile(r"[a-z0-9_-]{1,32}")


@dataclass(frozen=True)
class TrainConfig:
    """What to train and how. Defaults are the `quick` preset.

    quick was tuned side by side with a plain baseline on four kinds of text (prose, technical English,
    source code, German verse and jokes; bench/kinds.py, docs/benchmarks.md section 5), never on one:
    in 150 s on 2 cores, 192 units fed 128 x 64 characters a step beat 128 units (too small) and 256
    (too slow to see enough text), and RMSprop beat Adam. A rate that falls to zero by the end lets
    the start take big steps: peaks of 0.01, 0.02 and 0.03 gave 1.483, 1.402 and 1.376 nats on
    Nietzsche (docs/tuning.md). A constant rate at quick's size was not measured.
    """

    preset: str = "quick"
    # data
    lowercase: bool = False
    mode: str = "sequence"  # "sequence": a target at every position; "window": the seed's one per window
    seq_len: int = 64
    stride: int = 64
    val_fraction: float = 0.1
    max_chars: int | None = None
    # model
    cell: str = "lstm"
    layers: int = 1
    units: int = 192
    embedding_dim: int = 32  # 0 = one-hot input, as in the seed
    dropout: float | None = None  # None: chosen for the text and the time when the run is planned (sizing.py)
    # optimisation
    optimizer: str = "rmsprop"
    learning_rate: float = 0.03
    lr_schedule: str = "budget"
    clipnorm: float | None = 1.0
    batch_size: int = 128
    epochs: int = 100
    seconds: float | None = 150.0
    steps_per_epoch: int | None = None
    on_divergence: str = "lower_lr"  # or "stop"
    # With the falling rate: epochs without a better held-out score before the trainer goes back to its best
    # model and ends with a short fall of the rate (trainer.SETTLE_SHARE); None trains to the limit.
    patience: int | None = 10
    seed: int = 1337
    # samples shown after every epoch
    sample_temperatures: tuple[float, ...] = SEED_TEMPERATURES
    sample_length: int = 400

    def replace(self, **changes) -> TrainConfig:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["sample_temperatures"] = list(self.sample_temperatures)
        return d

    @classmethod
    def from_dict(cls, data: dict) -> TrainConfig:
        """Strict: unknown keys or wrong types are refused (configs may come from strangers' files)."""
        if not isinstance(data, dict):
            raise ConfigError("The training settings must be a JSON object.")
        names = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - set(names))
        if unknown:
            raise ConfigError(f"Unknown training settings: {', '.join(unknown)}.")
        values = {}
        for key, value in data.items():
            if key == "sample_temperatures":
                if not isinstance(value, list | tuple) or not all(_is_number(t) for t in value):
                    raise ConfigError("sample_temperatures must be a list of numbers.")
                value = tuple(float(t) for t in value)
            elif not _type_ok(names[key], value):
                raise ConfigError(f"The setting {key!r} has the wrong type ({type(value).__name__}).")
            values[key] = value
        return cls(**values).validated()

    def validated(self) -> TrainConfig:
        """Return self, or raise ConfigError saying which setting is out of range and what is allowed."""
        if not isinstance(self.preset, str) or not PRESET_NAME.fullmatch(self.preset):
            # shown in pages and used in Keras layer names: a short plain word, never Markdown or broken text
            raise ConfigError(
                f"preset must be a short name of lowercase letters, digits, - or _ (got {self.preset!r})."
            )
        _choice("mode", self.mode, ("sequence", "window"))
        _choice("cell", self.cell, ("lstm", "gru"))
        _choice("optimizer", self.optimizer, OPTIMIZERS)
        _choice("lr_schedule", self.lr_schedule, LR_SCHEDULES)
        _choice("on_divergence", self.on_divergence, ("lower_lr", "stop"))
        for name, (low, high) in RANGES.items():
            value = getattr(self, name)
            if value is None and name in OPTIONAL:
                continue
            check = _int_range if isinstance(low, int) and not isinstance(low, bool) else _float_range
            check(name, value, low, high)
        if self.clipnorm is not None:
            _float_range("clipnorm", self.clipnorm, 1e-3, 1e6)
        if not self.sample_temperatures or len(self.sample_temperatures) > 8:
            raise ConfigError("Give between 1 and 8 sample temperatures.")
        for t in self.sample_temperatures:
            check_temperature(t)  # the one range of temperatures (sampling.MAX_TEMPERATURE)
        return self

    def min_corpus_chars(self) -> int:
        """The shortest text these settings can train on: a window for training and one to validate."""
        need = self.seq_len + 2
        if self.val_fraction > 0:
            return math.ceil(need / self.val_fraction) + 1
        return need


def _is_number(v) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _type_ok(f: dataclasses.Field, value) -> bool:
    kind = str(f.type)
    if value is None:
        return "None" in kind
    if kind.startswith("int"):
        return isinstance(value, int) and not isinstance(value, bool)
    if kind.startswith("float"):
        return _is_number(value)
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "str":
        return isinstance(value, str)
    return False


def _choice(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(f"{name} must be one of {', '.join(allowed)} (got {value!r}).")


def _int_range(name: str, value: int, low: float, high: float) -> None:  # bounds from RANGES (whole numbers)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise ConfigError(f"{name} must be a whole number from {low:,} to {high:,} (got {value!r}).")


def _float_range(name: str, value: float, low: float, high: float) -> None:
    if not _is_number(value) or not math.isfinite(value) or not low <= value <= high:
        raise ConfigError(f"{name} must be a number from {low:g} to {high:g} (got {value!r}).")


@dataclass(frozen=True)
class Preset:
    name: str
    description: str
    config: TrainConfig = field(repr=False)


PRESETS: dict[str, Preset] = {
    "quick": Preset(
        "quick",
        "Fast start: real-looking words within a minute, done in 2.5 minutes at most. Best for trying things out.",
        TrainConfig(),
    ),
    "classic": Preset(
        "classic",
        "The original 2017 Keras example, unchanged: lowercase text, slow, for comparison.",
        TrainConfig(
            preset="classic",
            lowercase=True,
            mode="window",
            seq_len=60,
            stride=3,
            units=128,
            embedding_dim=0,
            optimizer="rmsprop",
            learning_rate=0.01,
            lr_schedule="constant",
            clipnorm=None,
            batch_size=128,
            epochs=60,
            seconds=None,
            patience=None,
            dropout=0.0,
        ),
    ),
    "quality": Preset(
        "quality",
        "Best writing this computer can learn in about 15 minutes: a bigger model, trained longer.",
        TrainConfig(
            preset="quality",
            # quick's recipe (RMSprop, a rate that falls to zero by the end) with about 4x its weights for 6x
            # its time. Two layers with dropout between them, because a short text is seen dozens of times in
            # 15 minutes: one wider layer (384 units) trains faster but memorises Nietzsche, and dropout 0.3
            # learns too slowly (docs/tuning.md, rows Q1-Q3)
            layers=2,
            units=256,
            embedding_dim=48,
            dropout=0.2,
            optimizer="rmsprop",
            learning_rate=0.02,
            seq_len=128,
            stride=128,
            batch_size=64,
            epochs=1000,
            seconds=900.0,
        ),
    ),
}


def preset_config(name: str, **overrides) -> TrainConfig:
    """A preset's settings with some changed; every value is range-checked."""
    try:
        base = PRESETS[name].config
    except KeyError:
        raise ConfigError(f"Unknown preset {name!r}; choose one of {', '.join(PRESETS)}.") from None
    return base.replace(**overrides).validated()
