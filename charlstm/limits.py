"""The limits of a shared studio, each written once: disk per person, free disk, server work per page.

`charlstm.library.Library` is the one place a run is made, copied, imported or trained, and it asks
this module before each of them; memory per training is `estimate.check_memory`, asked there too. A
refusal is a `QuotaError`: a plain sentence with the numbers and what to do.

- **Disk per person** (`CHARLSTM_QUOTA_MB`, default 500 MB): every file of every run a person owns
  (texts, checkpoints, history, samples), plus what the next step would add, estimated before it starts.
- **Free disk on the machine**: nothing new is written when the models folder's disk would keep less
  than `MIN_FREE_DISK_BYTES`, whoever asks.
- **The server's work per page**: generation on the web server runs in NumPy, so its cost per rerun is
  bounded by the model's size: `generation_budget(config, vocab)` characters at most.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from pathlib import Path

from .config import TrainConfig
from .errors import CharlstmError
from .estimate import multiply_adds_per_char
from .run import MAX_SNAPSHOTS, Run
from .weights import parameter_count

ENV_QUOTA_MB = "CHARLSTM_QUOTA_MB"
DEFAULT_QUOTA_MB = 500.0
ENV_MIN_FREE_MB = "CHARLSTM_MIN_FREE_MB"  # tests lower it; an operator may raise it
DEFAULT_MIN_FREE_MB = 1000.0
# A training keeps two checkpoint sets (best and last), each the weights and an optimizer state of up
# to two numbers per weight (Adam); float32 throughout.
CHECKPOINT_NUMBERS_PER_WEIGHT = 2 * (1 + 2)
BYTES_PER_NUMBER = 4
SNAPSHOT_BYTES_PER_NUMBER = 2  # float16
RECORDS_ALLOWANCE_BYTES = 2_000_000  # history, samples, the live chart's losses: small, but not nothing
# The web server generates with NumPy on one core at about 3e9 multiply-adds a second (docs/benchmarks.md
# section 2): one page's generation may cost about 2 s of the server's CPU, however big the model.
SERVER_MULTIPLY_ADDS_PER_RERUN = 6e9


class QuotaError(CharlstmError):
    """A person's disk allowance, or the machine's free disk, would be exceeded."""


def _env_mb(name: str, default: float) -> float:
    try:
        value = float(os.environ.get(name, ""))
    except ValueError:
        return default
    return value if value >= 0 else default


def quota_bytes() -> int:
    return int(_env_mb(ENV_QUOTA_MB, DEFAULT_QUOTA_MB) * 1e6)


def min_free_bytes() -> int:
    return int(_env_mb(ENV_MIN_FREE_MB, DEFAULT_MIN_FREE_MB) * 1e6)


def megabytes(n: float) -> str:
    return f"{n / 1e6:,.1f} MB" if n < 10e6 else f"{n / 1e6:,.0f} MB"


def run_bytes(run: Run) -> int:
    """Every file in a run folder (hidden temporary files included: they are on the disk too)."""
    total = 0
    try:
        entries = list(os.scandir(run.path))
    except OSError:
        return 0
    for entry in entries:
        try:
            if entry.is_file(follow_symlinks=False):
                total += entry.stat(follow_symlinks=False).st_size
        except OSError:
            continue
    return total


def usage_bytes(runs: Iterable[Run]) -> int:
    return sum(run_bytes(run) for run in runs)


def training_bytes(config: TrainConfig, vocab_size: int, text_chars: int) -> int:
    """What a training of `config` may write: its text (UTF-8, up to 4 bytes a character), checkpoints, records."""
    numbers = parameter_count(config, vocab_size)
    checkpoints = numbers * CHECKPOINT_NUMBERS_PER_WEIGHT * BYTES_PER_NUMBER
    timelapse = numbers * MAX_SNAPSHOTS * SNAPSHOT_BYTES_PER_NUMBER  # the time-lapse's float16 snapshots
    return checkpoints + timelapse + text_chars + RECORDS_ALLOWANCE_BYTES


def check_room(used: int, adding: int, folder: Path, what: str) -> None:
    """Refuse `what` when it takes the person over their quota or the disk under its reserve."""
    quota = quota_bytes()
    if used + adding > quota:
        raise QuotaError(
            f"Not enough room for {what}: it needs about {megabytes(adding)}, and your models already use "
            f"{megabytes(used)} of the {megabytes(quota)} each person may keep here. Delete a model you no "
            "longer need on the Models page (or download it first), then try again."
        )
    free = _free_bytes(folder)
    if free is not None and free - adding < min_free_bytes():
        raise QuotaError(
            f"Not enough room for {what}: the disk this studio saves models on has only {megabytes(free)} "
            "free. Ask whoever runs the studio to free some space; nothing was written."
        )


def _free_bytes(folder: Path) -> int | None:
    """Free bytes on the disk that holds `folder` (or its nearest existing parent)."""
    path = Path(folder)
    while not path.exists() and path != path.parent:
        path = path.parent
    try:
        return shutil.disk_usage(path).free
    except OSError:
        return None


def generation_budget(config: TrainConfig, vocab_size: int) -> int:
    """The most characters the web server generates with this model in one page rerun."""
    return max(1, int(SERVER_MULTIPLY_ADDS_PER_RERUN // multiply_adds_per_char(config, vocab_size)))
