"""The run folder: every file of one trained model, and the only channel between a trainer and a page.

A training job may run in a Dask worker on another machine, the studio may restart, a browser may
reload: all of them see the same truth because everything about a run is in its folder, and every
reader and writer goes through the `Run` type below. Nothing else in charlstm names these files.

    meta.json             display name, corpus name, owner, creation time
    config.json           the TrainConfig
    vocab.json            the characters
    corpus.txt            the exact training text, so a run can be continued anywhere
    request.json          a training asked for and not started yet (the run is "queued")
    request.started.json  the request once a trainer claimed it, naming that process (it is "starting")
    status.json           running / completed / time / user / diverged / error / interrupted
    lease.json            renewed every few seconds by the process that trains, which it names; expired,
                          or that process gone from this machine = interrupted
    stop                  present = the owner asked the trainer to stop (checked every batch)
    progress.json         the live view: epoch, step, speed, time left, notices
    batches.txt           one training loss per line, for the live chart
    history.jsonl         one line per epoch, appended and fsynced
    samples.jsonl         the samples written after each epoch
    {best,last}.*.npz     checkpoints (weights, optimizer state) and {best,last}.json, written last with
                          each file's SHA-256, which makes a checkpoint a set that is whole or absent

Writes are atomic (a temporary file, fsync, rename, then fsync of the folder); appends are fsynced
lines. Everything read back is checked field by field, because a run may come from a stranger's
bundle: a line that does not hold what it should is dropped, never trusted.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, TypeGuard

import numpy as np

from .config import LN2, RANGES, TrainConfig
from .distribute import STRATEGIES
from .errors import BundleError, CharlstmError, ConfigError
from .identity import check_owner
from .text import Vocabulary
from .weights import Weights, check_weights, load_npz, npz_bytes, parameter_count

LEASE_SECONDS = 10.0  # a trainer that has not renewed its lease for this long is gone
HEARTBEAT_SECONDS = 2.0  # how often a trainer renews it
START_GRACE_SECONDS = 120.0  # a claimed request counts as "running" this long before the first lease
CHECKPOINT_TAGS = ("best", "last")
FINAL_REASONS = ("completed", "time", "user", "diverged", "error")
ACTIVE_STATES = ("queued", "running")
NO_LEASE = "interrupted"  # the state of a run whose trainer stopped renewing its lease

META, CONFIG, VOCAB, CORPUS = "meta.json", "config.json", "vocab.json", "corpus.txt"
TEXT_SINCE = "text_since_epoch"  # in meta.json: the epochs up to it were trained on another text
TRAINED_SECONDS = "trained_seconds"  # in meta.json: every training of the run, Start to finished, added up
EPOCHS_BROUGHT = "epochs_brought"  # in meta.json: epochs an imported or copied model had trained elsewhere
REQUEST, STARTED, STATUS, LEASE, STOP = "request.json", "request.started.json", "status.json", "lease.json", "stop"
PROGRESS, BATCHES, HISTORY, SAMPLES, ERROR_LOG = (
    "progress.json",
    "batches.txt",
    "history.jsonl",
    "samples.jsonl",
    "error.log",
)
SNAPSHOTS = "snapshots.jsonl"  # the time-lapse: one line per kept snapshot, each with its weights file
MAX_SNAPSHOTS = 20  # snapshots a run keeps of its training; more are thinned, keeping first and last
MIN_SNAPSHOTS = 2  # snapshots a time-lapse needs to show anything: a start and an end
SIGNATURE_FILES = (META, CONFIG, VOCAB, STATUS, HISTORY, REQUEST, "best.json", "last.json", "best.weights.npz")

# Bounds on what a record may hold, each far beyond anything a trainer writes: a line outside them is
# damaged or forged and is dropped like any other bad line, before its numbers reach arithmetic that fails.
# MAX_EPOCH also keeps the trainer's seed legal: Trainer.fit seeds Keras with cfg.seed + initial_epoch, at
# most MAX_SEED + MAX_EPOCH = 2**31 + 999,999, below 2**32 - 1, the largest seed NumPy takes (a history
# line with epoch 10**30 once made every Continue fail). tests/test_run_integrity.py checks the sum.
MAX_EPOCH = 1_000_000
MAX_STEPS = 10**12  # steps in one epoch: a whole pass over the largest text (10**10 characters) and more
MAX_SECONDS = 10 * 365.25 * 24 * 3600  # ten years: any duration, budget or time left
MAX_TIMESTAMP = 253_402_300_799.0  # 9999-12-31 23:59:59 UTC, the last moment `datetime` can show
MAX_CHARS_PER_SEC = 1e12
MAX_LOSS = 1e6  # nats per character; guessing at random costs ln(vocabulary size), about 12 at most
MAX_LEARNING_RATE = RANGES["learning_rate"][1]  # the schedule never goes above the configured rate


# --- records ------------------------------------------------------------------------------------------------
def _finite(value: Any) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _whole(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _within(value: Any, low: float, high: float) -> TypeGuard[float]:
    """A finite number from `low` to `high`: every number read back has bounds, not only a type."""
    return _finite(value) and low <= value <= high


def _count(value: Any, low: int, high: int) -> TypeGuard[int]:
    """A whole number from `low` to `high` (epochs, steps)."""
    return _whole(value) and low <= value <= high


@dataclass(frozen=True)
class EpochRecord:
    """One line of history.jsonl. Losses are nats per character; bpc = nats / ln 2."""

    epoch: int
    loss: float
    val_loss: float | None
    val_bpc: float | None
    learning_rate: float
    steps: int
    seconds: float
    chars_per_sec: float
    partial: bool

    @classmethod
    def from_dict(cls, d: Any) -> EpochRecord | None:
        """A record only if every field has the right type and every number is within its bounds; else None."""
        if not isinstance(d, dict) or set(d) != {f.name for f in fields(cls)}:
            return None
        counts_ok = _count(d["epoch"], 1, MAX_EPOCH) and _count(d["steps"], 0, MAX_STEPS)
        numbers_ok = all(
            (d[name] is None and name in OPTIONAL_RECORD_FIELDS) or _within(d[name], *bounds)
            for name, bounds in RECORD_BOUNDS.items()
        )
        if not (counts_ok and numbers_ok and isinstance(d["partial"], bool)):
            return None
        return cls(**d)


RECORD_BOUNDS: dict[str, tuple[float, float]] = {
    "loss": (0.0, MAX_LOSS),
    "val_loss": (0.0, MAX_LOSS),
    "val_bpc": (0.0, MAX_LOSS / LN2),
    "learning_rate": (0.0, MAX_LEARNING_RATE),
    "seconds": (0.0, MAX_SECONDS),
    "chars_per_sec": (0.0, MAX_CHARS_PER_SEC),
}
OPTIONAL_RECORD_FIELDS = ("val_loss", "val_bpc")  # None: the run holds no text back for a check


@dataclass(frozen=True)
class EpochSamples:
    epoch: int
    prompt: str
    samples: tuple[tuple[float, str], ...]  # (temperature, text), all from `prompt`

    def to_dict(self) -> dict:
        pairs = [{"temperature": t, "text": s} for t, s in self.samples]
        return {"epoch": self.epoch, "prompt": self.prompt, "samples": pairs}

    @classmethod
    def from_dict(cls, d: Any) -> EpochSamples | None:
        if not isinstance(d, dict) or not _count(d.get("epoch"), 1, MAX_EPOCH) or not isinstance(d.get("prompt"), str):
            return None
        raw = d.get("samples")
        if not isinstance(raw, list):
            return None
        pairs = []
        for item in raw:
            if (
                not isinstance(item, dict)
                or not _finite(item.get("temperature"))
                or not isinstance(item.get("text"), str)
            ):
                return None
            pairs.append((float(item["temperature"]), item["text"]))
        return cls(d["epoch"], d["prompt"], tuple(pairs))


@dataclass(frozen=True)
class SnapshotRecord:
    """One point of a run's time-lapse: the weights as they were `at_epoch` (2.5: halfway through epoch 3)."""

    number: int  # the order snapshots were taken in; names the weights file
    at_epoch: float
    loss: float  # the training loss then (nats per character, the recent batches' mean)

    @classmethod
    def from_dict(cls, d: Any) -> SnapshotRecord | None:
        if not isinstance(d, dict) or set(d) != {f.name for f in fields(cls)}:
            return None
        if not (_count(d["number"], 0, MAX_STEPS) and _within(d["at_epoch"], 0.0, MAX_EPOCH)):
            return None
        return cls(d["number"], float(d["at_epoch"]), float(d["loss"])) if _within(d["loss"], 0.0, MAX_LOSS) else None


def thinned(records: list[SnapshotRecord], keep: int = MAX_SNAPSHOTS) -> list[SnapshotRecord]:
    """At most `keep` records, first and last always kept: drop, one at a time, the one whose neighbours are
    closest together, so the points stay spread over the whole training however long it grew."""
    kept = sorted(records, key=lambda r: r.number)
    while len(kept) > max(2, keep):
        spans = [kept[i + 1].at_epoch - kept[i - 1].at_epoch for i in range(1, len(kept) - 1)]
        del kept[1 + spans.index(min(spans))]
    return kept


@dataclass(frozen=True)
class Progress:
    """The live view of a training, rewritten a few times a second by the trainer."""

    state: str = "preparing"  # preparing | running | stopping
    message: str = "Preparing the data…"
    epoch: int = 1
    epochs: int = 1
    step: int = 0
    steps_per_epoch: int = 1
    fraction: float = 0.0
    eta_seconds: float | None = None
    chars_per_sec: float = 0.0
    elapsed: float = 0.0
    notices: tuple[str, ...] = ()

    @classmethod
    def from_dict(cls, d: Any) -> Progress:
        if not isinstance(d, dict):
            return cls()
        out: dict[str, Any] = {}
        for f in fields(cls):
            value = d.get(f.name)
            default = getattr(cls(), f.name)
            if f.name == "notices":
                notices = value if isinstance(value, list) else []
                out[f.name] = tuple(notices) if all(isinstance(n, str) for n in notices) else ()
            elif isinstance(default, str):
                out[f.name] = value if isinstance(value, str) else default
            elif isinstance(default, int) and not isinstance(default, bool):
                out[f.name] = value if _count(value, *PROGRESS_BOUNDS[f.name]) else default
            else:
                out[f.name] = float(value) if _within(value, *PROGRESS_BOUNDS[f.name]) else default
        return cls(**out)


PROGRESS_BOUNDS: dict[str, tuple[Any, Any]] = {
    "epoch": (1, MAX_EPOCH),
    "epochs": (1, MAX_EPOCH),
    "step": (0, MAX_STEPS),
    "steps_per_epoch": (1, MAX_STEPS),  # a page divides by it
    "fraction": (0.0, 1.0),
    "eta_seconds": (0.0, MAX_SECONDS),
    "chars_per_sec": (0.0, MAX_CHARS_PER_SEC),
    "elapsed": (0.0, MAX_SECONDS),
}


@dataclass(frozen=True)
class Request:
    """A training asked for and not started: what to do, for whom, for how long."""

    token: str
    owner: str
    action: str  # new | continue
    epochs: int | None = None
    seconds: float | None = None
    max_seconds: float | None = None
    strategy: str = "default"  # see charlstm/distribute.py
    submitted: float = field(default_factory=time.time)

    @classmethod
    def from_dict(cls, d: Any) -> Request | None:
        """A request only if every field has the right type and every number is within its bounds; else None.

        The bounds are the physical ones; the settings' own ranges are checked when the job is made,
        which reports a wrong one in the run instead of dropping the request unseen.
        """
        try:
            req = cls(**d)
        except TypeError:
            return None
        ok = isinstance(req.token, str) and isinstance(req.owner, str) and req.action in ("new", "continue")
        ok = ok and req.strategy in STRATEGIES
        ok = ok and (req.epochs is None or _count(req.epochs, 1, MAX_EPOCH))
        ok = ok and _within(req.submitted, 0.0, MAX_TIMESTAMP)
        ok = ok and all(v is None or _within(v, 0.0, MAX_SECONDS) for v in (req.seconds, req.max_seconds))
        return req if ok else None


@dataclass(frozen=True)
class Status:
    """Where a run stands, with the lease and the queue taken into account."""

    state: str  # queued | running | interrupted | completed | time | user | diverged | error | unknown
    message: str = ""
    epochs: int = 0
    best_val_loss: float | None = None
    owner: str = ""
    updated: float = 0.0

    @property
    def active(self) -> bool:
        return self.state in ACTIVE_STATES


# --- who trains a run: the lease's process, and whether it still exists -------------------------------------
@dataclass(frozen=True)
class Holder:
    """The process that trains a run (from its lease) or has claimed it and is starting (from the claim).

    A record from an older charlstm has no `pid_ns` or `started`: only its time tells whether it holds.
    """

    host: str
    until: float  # the lease (or the start's grace) runs out then, unless renewed
    since: float | None = None  # when this process took the run
    pid: int | None = None
    pid_ns: str = ""  # the PID namespace: two containers may share a host name, never a namespace
    started: int | None = None  # the process's start, clock ticks after boot: a reused PID has another
    starting: bool = False  # a claim: the process is still importing TensorFlow

    @classmethod
    def from_dict(cls, d: Any, starting: bool = False) -> Holder | None:
        """The holder a lease or claim names; None if the record does not say until when."""
        if not isinstance(d, dict) or not _finite(d.get("until")):
            return None
        host, since, pid_ns = d.get("host"), d.get("since"), d.get("pid_ns")
        return cls(
            host=host if isinstance(host, str) else "",
            until=float(d["until"]),
            since=float(since) if _within(since, 0.0, MAX_TIMESTAMP) else None,
            pid=d["pid"] if _count(d.get("pid"), 1, MAX_PID) else None,
            pid_ns=pid_ns if isinstance(pid_ns, str) else "",
            started=d["started"] if _count(d.get("started"), 0, MAX_TICKS) else None,
            starting=starting,
        )

    def alive(self) -> bool:
        """It holds the run: its lease runs and, when it is on this machine, its process still exists.

        The process check only ever shortens a lease: a killed trainer frees its run at once, and a
        live process that stopped renewing (hung, or finished without a word) still loses it in time.
        """
        return self.until > time.time() and not (self.on_this_machine() and _process_gone(self))

    def on_this_machine(self) -> bool:
        """Whether its PID means a process here: same host name and PID namespace, on a system with os.kill(pid, 0)."""
        here = os.name == "posix" and self.host == socket.gethostname()
        return here and self.pid is not None and self.pid_ns == _pid_namespace()

    def describe(self) -> str:
        """'process 1234 on host X, since 14:02:11': how every refusal names who trains a run."""
        names = (f"process {self.pid}" if self.pid else "", f"on host {self.host}" if self.host else "")
        who = " ".join(part for part in names if part)
        when = f"since {_clock(self.since)}" if self.since is not None else ""
        return ", ".join(part for part in (who, when) if part)


MAX_PID = 2**22  # Linux's highest possible process id (PID_MAX_LIMIT); other systems stay below it
MAX_TICKS = 2**64 - 1  # a process's start time in /proc is an unsigned 64-bit count of clock ticks
GONE_STATES = ("Z", "X")  # /proc's zombie and dead: ended, only not yet reaped by the parent


def _clock(timestamp: float) -> str:
    """A time as a person reads it in a message: the time of day, with the date unless it is today."""
    moment = time.localtime(timestamp)
    same_day = time.strftime("%Y-%m-%d", moment) == time.strftime("%Y-%m-%d")
    return time.strftime("%H:%M:%S" if same_day else "%Y-%m-%d %H:%M:%S", moment)


def _pid_namespace() -> str:
    """This process's PID namespace ('' where the system has none to show)."""
    try:
        return os.readlink("/proc/self/ns/pid")
    except OSError:
        return ""


def _proc_stat(pid: int) -> tuple[str, int] | None:
    """The state letter and start time (field 22, clock ticks after boot) of process `pid`; None without /proc."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            after_name = fh.read().rsplit(")", 1)[1].split()  # the name may hold spaces and parentheses
        return after_name[0], int(after_name[19])
    except (OSError, IndexError, ValueError):
        return None


def _process_gone(holder: Holder) -> bool:
    """Whether the holder's process (on this machine) has ended, or its PID now belongs to a newer process.

    False whenever it cannot tell: then the lease's time decides, as for a trainer on another host.
    """
    if holder.pid is None:
        return False
    try:
        os.kill(holder.pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        pass  # it exists, under another user
    except (OSError, OverflowError):
        return False
    stat = _proc_stat(holder.pid)
    if stat is None:
        return False
    state, started = stat
    return state in GONE_STATES or (holder.started is not None and started != holder.started)


def _holder_record(until: float, since: float) -> dict:
    """This process as a lease or a claim names it, so a reader on this machine can tell when it is gone."""
    pid = os.getpid()
    stat = _proc_stat(pid)
    return {
        "until": until,
        "since": since,
        "pid": pid,
        "host": socket.gethostname(),
        "pid_ns": _pid_namespace(),
        "started": stat[1] if stat else None,
    }


# --- atomic, durable file writes --------------------------------------------------------------------------
def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_atomic(path: Path, data: bytes, durable: bool = True) -> None:
    """Write a whole file or nothing: a temporary file, fsync, rename, fsync the folder."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    if durable:
        _fsync_dir(path.parent)


def _json_bytes(obj: Any) -> bytes:
    """JSON as UTF-8; a lone surrogate (which UTF-8 cannot hold) becomes '?', never an error."""
    return json.dumps(obj, ensure_ascii=False, indent=1).encode("utf-8", "replace")


def write_json(path: Path, obj: Any, durable: bool = True) -> None:
    write_atomic(path, _json_bytes(obj), durable)


def read_json(path: Path) -> Any:
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BundleError(f"{path.name} is missing from the model {path.parent.name}.") from None
    except (OSError, ValueError) as exc:
        raise BundleError(f"{path.name} in the model {path.parent.name} is unreadable ({exc}).") from None


def append_line(path: Path, line: str, durable: bool = True) -> None:
    """Append one line; a line torn by an earlier crash is closed first, never glued onto."""
    data = (line + "\n").encode("utf-8", "replace")
    with open(path, "a+b") as fh:
        if fh.seek(0, os.SEEK_END) > 0:
            fh.seek(-1, os.SEEK_END)
            if fh.read(1) != b"\n":
                data = b"\n" + data
        fh.write(data)
        if durable:
            fh.flush()
            os.fsync(fh.fileno())


def read_jsonl(path: Path) -> list[Any]:
    """Every line that parses as JSON; torn or damaged lines are skipped."""
    try:
        lines = Path(path).read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return []
    out = []
    for line in lines:
        with contextlib.suppress(ValueError):
            out.append(json.loads(line))
    return out


def _snapshot_name(number: int) -> str:
    return f"snapshot-{number:04d}.weights.npz"


# --- checkpoint files and their hashes -------------------------------------------------------------------
CHECKPOINT_PARTS = ("weights", "optimizer")  # each a {tag}.{part}.npz
CHECKPOINT_READ_TRIES = 3  # a trainer may save a new set while it is read: then it is read again
CHECKPOINT_READ_PAUSE = 0.05  # seconds between those tries: a set's files are written in well under it
HASH_CACHE_SIZE = 4096  # file versions whose hash a process remembers: a few for each run in the library
FileKey = tuple[str, int, int, int]  # path, inode, size, mtime in ns: one version of one file

_hashes: dict[FileKey, str] = {}
_hashes_lock = threading.Lock()


def _file_key(path: Path, st: os.stat_result) -> FileKey:
    return (str(path), st.st_ino, st.st_size, st.st_mtime_ns)


def _stat_key(path: Path) -> FileKey | None:
    try:
        return _file_key(path, path.stat())
    except OSError:
        return None


def file_sha256(path: Path) -> tuple[str, FileKey]:
    """The SHA-256 of a file and the version it is of; each version is hashed once per process.

    The library checks every run's checkpoints each time it lists them, and hashing a 100 MB file
    every time would make it crawl. A changed file has another key (an atomic write makes a new
    inode, an edit in place a new mtime or size), so the cache never hides a change. The key comes
    from the open file, so it belongs to exactly the bytes hashed.
    """
    with open(path, "rb") as fh:
        key = _file_key(path, os.fstat(fh.fileno()))
        with _hashes_lock:
            digest = _hashes.get(key)
        if digest is None:
            digest = hashlib.file_digest(fh, "sha256").hexdigest()
            with _hashes_lock:
                _hashes[key] = digest
                while len(_hashes) > HASH_CACHE_SIZE:
                    del _hashes[next(iter(_hashes))]  # the oldest first
    return digest, key


# --- the run ------------------------------------------------------------------------------------------------
class Run:
    """One run folder. Cheap to make: it reads files only when asked."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Run) and other.path == self.path

    def __hash__(self) -> int:
        return hash(self.path)

    @property
    def id(self) -> str:
        """The folder's name: what the URL, the queue and the pages call this run."""
        return self.path.name

    def file(self, name: str) -> Path:
        return self.path / name

    # --- what the run is ------------------------------------------------------------------------------
    @classmethod
    def create(
        cls,
        path: Path,
        *,
        name: str,
        corpus: str,
        config: TrainConfig,
        vocab: Vocabulary,
        text: str | None,
        owner: str,
        extra_meta: dict | None = None,
    ) -> Run:
        """Write what a run holds before its first epoch into the empty folder `path`.

        A run always has an owner (`charlstm.identity`): who may list, open, change and export it.
        """
        run = cls(path)
        meta = {
            "name": name,
            "corpus": corpus,
            "owner": check_owner(owner),
            "created": time.time(),
            **(extra_meta or {}),
        }
        write_json(run.file(META), meta)
        write_json(run.file(CONFIG), config.to_dict())
        write_atomic(run.file(VOCAB), vocab.to_json().encode("utf-8", "replace"))
        if text is not None:
            run.set_text(text)
        return run

    def meta(self) -> dict:
        meta = read_json(self.file(META))
        if not isinstance(meta, dict):
            raise BundleError(f"meta.json in {self.id} is not a JSON object.")
        return meta

    @property
    def name(self) -> str:
        with contextlib.suppress(CharlstmError):
            name = self.meta().get("name")
            if isinstance(name, str) and name.strip():
                return name
        return self.id

    @property
    def owner(self) -> str:
        """Who made this run ('' only for runs from before every run had an owner: nobody's in the studio)."""
        with contextlib.suppress(CharlstmError):
            owner = self.meta().get("owner", "")
            return owner if isinstance(owner, str) else ""
        return ""

    def update_meta(self, **changes: Any) -> None:
        write_json(self.file(META), {**self.meta(), **changes})

    def add_trained_seconds(self, seconds: float) -> None:
        """A training of this run ended after `seconds` (a history line only knows its own training's clock)."""
        self.update_meta(**{TRAINED_SECONDS: self.trained_seconds() + max(0.0, seconds)})

    def trained_seconds(self) -> float:
        """Seconds all its trainings took, Start to finished; 0 for a run from before this was kept."""
        with contextlib.suppress(CharlstmError):
            seconds = self.meta().get(TRAINED_SECONDS, 0.0)
            return float(seconds) if _within(seconds, 0.0, MAX_SECONDS * MAX_EPOCH) else 0.0
        return 0.0

    def epochs_brought(self) -> int:
        """Epochs of its history trained before it came here (an import or a copy): `trained_seconds` has none."""
        with contextlib.suppress(CharlstmError):
            epochs = self.meta().get(EPOCHS_BROUGHT, 0)
            return epochs if isinstance(epochs, int) and not isinstance(epochs, bool) and epochs > 0 else 0
        return 0

    def config(self) -> TrainConfig:
        try:
            return TrainConfig.from_dict(read_json(self.file(CONFIG)))
        except ConfigError as exc:
            raise BundleError(f"config.json in {self.id} does not hold valid settings: {exc}") from None

    def vocab(self) -> Vocabulary:
        try:
            return Vocabulary.from_json(self.file(VOCAB).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise BundleError(f"vocab.json is missing from the model {self.id}.") from None

    @property
    def has_text(self) -> bool:
        return self.file(CORPUS).is_file()

    def text(self) -> str | None:
        """The saved training text, or None (an imported model has none)."""
        try:
            return self.file(CORPUS).read_text(encoding="utf-8")
        except FileNotFoundError:
            return None

    def text_opening(self, chars: int) -> str | None:
        """The first `chars` characters of the training text, or None: enough to take a prompt from without
        reading a text of 100 MB."""
        try:
            with self.file(CORPUS).open(encoding="utf-8", errors="replace") as f:
                return f.read(chars)
        except FileNotFoundError:
            return None

    def text_version(self) -> float:
        """Changes whenever the training text does (a cache key for what is worked out from it); 0: no text."""
        try:
            return self.file(CORPUS).stat().st_mtime
        except OSError:
            return 0.0

    def set_text(self, text: str) -> None:
        """The text to train on. A different text than before starts a new chapter: see `text_since_epoch`."""
        changed = self.earned() and self.text() != text
        write_atomic(self.file(CORPUS), text.encode("utf-8", "replace"))
        if changed:
            history = self.history()
            self.update_meta(**{TEXT_SINCE: history[-1].epoch if history else 0})

    def text_since_epoch(self) -> int:
        """The last epoch trained on another text (0: all on this one). Losses before it are not comparable."""
        with contextlib.suppress(CharlstmError):
            since = self.meta().get(TEXT_SINCE, 0)
            return since if _count(since, 0, MAX_EPOCH) else 0
        return 0

    # --- the queue and the trainer's lease --------------------------------------------------------
    def write_request(self, request: Request) -> None:
        """Queue a training; a Stop left from an earlier one does not apply to it."""
        self.clear_stop()
        write_json(self.file(REQUEST), asdict(request))

    def request(self) -> Request | None:
        try:
            return Request.from_dict(json.loads(self.file(REQUEST).read_text(encoding="utf-8")))
        except (OSError, ValueError):
            return None

    def claim_request(self, token: str) -> Request | None:
        """The trainer takes the request (an atomic rename): exactly one of claim and `withdraw` wins.

        The claim then names this process, so a trainer killed while it starts frees the run at once.
        """
        request = self.request()
        if request is None or request.token != token:
            return None
        try:
            os.replace(self.file(REQUEST), self.file(STARTED))
        except FileNotFoundError:
            return None
        now = time.time()
        claim = {**asdict(request), "holder": _holder_record(now + START_GRACE_SECONDS, now)}
        try:
            write_json(self.file(STARTED), claim, durable=False)
        except OSError:
            with contextlib.suppress(OSError):
                os.utime(self.file(STARTED))  # the start time: until the trainer writes a status, it is "starting"
        return request

    def _claim(self) -> Holder | None:
        """Who claimed the request last (its start's grace period as its lease); None if nobody did."""
        try:
            started = self.file(STARTED).stat().st_mtime
            record = json.loads(self.file(STARTED).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        holder = Holder.from_dict(record.get("holder") if isinstance(record, dict) else None, starting=True)
        if holder is None:  # a claim by an older charlstm: only its time is known
            holder = Holder(host="", until=started + START_GRACE_SECONDS, since=started, starting=True)
        return holder

    def withdraw_request(self) -> bool:
        """Leave the queue: True if the request was still waiting (so no training will start)."""
        try:
            self.file(REQUEST).unlink()
        except FileNotFoundError:
            return False
        _fsync_dir(self.path)
        return True

    def renew_lease(self) -> None:
        """Hold the run for LEASE_SECONDS more, naming this process; `since` stays from its own earlier lease."""
        now = time.time()
        write_json(self.file(LEASE), _holder_record(now + LEASE_SECONDS, self._held_since(now)), durable=False)

    def _held_since(self, now: float) -> float:
        """When this process took the run: from its own lease if that still runs, else now."""
        held = self._lease()
        if held is None or held.since is None or held.pid != os.getpid() or not held.on_this_machine():
            return now
        return held.since if held.alive() else now

    def _lease(self) -> Holder | None:
        try:
            return Holder.from_dict(json.loads(self.file(LEASE).read_text(encoding="utf-8")))
        except (OSError, ValueError):
            return None

    def lease_alive(self) -> bool:
        """A trainer holds the run: its lease runs and (on this machine) its process exists."""
        lease = self._lease()
        return lease is not None and lease.alive()

    def holder(self) -> Holder | None:
        """Who trains this run now: the process of its live lease, or the one starting it; None if nobody."""
        state, _, updated = self._stored_status()
        return self._holder(state, updated)

    def _holder(self, stored_state: str, status_updated: float) -> Holder | None:
        """The lease's process while the stored status says running, else a claim newer than the status."""
        lease = self._lease() if stored_state == "running" else None
        if lease is not None and lease.alive():
            return lease
        claim = self._claim()
        if claim is None or claim.since is None or claim.since <= status_updated or not claim.alive():
            return None
        return claim

    def busy_message(self) -> str | None:
        """Why this run cannot be trained, continued or deleted now, naming who holds it; None when nothing does.

        Every caller that refuses an active run says it in these words, so a person learns which process
        to stop, or that it is only waiting in the queue.
        """
        holder = self.holder()
        if holder is not None:
            who = holder.describe()
            return f"{self.name} is training now{f' ({who})' if who else ''}; stop it first, or wait for it to finish."
        if self.file(REQUEST).exists():
            return f"{self.name} is waiting to train; stop it first, or wait for it to finish."
        return None

    def request_stop(self) -> None:
        write_atomic(self.file(STOP), b"stop\n", durable=False)

    def stop_requested(self) -> bool:
        return self.file(STOP).exists()

    def clear_stop(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.file(STOP).unlink()

    # --- status --------------------------------------------------------------------------------------
    def write_status(
        self, state: str, message: str = "", epochs: int | None = None, best_val_loss: float | None = None
    ) -> None:
        record = {
            "state": state,
            "message": message,
            "epochs": len(self.history()) if epochs is None else epochs,
            "best_val_loss": best_val_loss if best_val_loss is None or math.isfinite(best_val_loss) else None,
            "updated": time.time(),
        }
        write_json(self.file(STATUS), record)

    def _raw_status(self) -> dict:
        try:
            raw = json.loads(self.file(STATUS).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return raw if isinstance(raw, dict) else {}

    def _stored_status(self, raw: dict | None = None) -> tuple[str, str, float]:
        """The state, message and time the trainer last wrote, as they are in status.json."""
        raw = self._raw_status() if raw is None else raw
        state, message, updated = raw.get("state"), raw.get("message"), raw.get("updated")
        return (
            state if isinstance(state, str) else "unknown",
            message if isinstance(message, str) else "",
            float(updated) if _within(updated, 0.0, MAX_TIMESTAMP) else 0.0,
        )

    def status(self) -> Status:
        """The stored status, read with the queue and the lease: a silent or dead trainer means 'interrupted'."""
        raw = self._raw_status()
        state, message, updated = self._stored_status(raw)
        holder = self._holder(state, updated)
        if holder is not None and holder.starting:
            state, message = "running", "Starting."
        elif holder is None and state == "running":
            state, message = NO_LEASE, INTERRUPTED_MESSAGE
        if state != "running" and self.file(REQUEST).exists():
            state, message = "queued", "Waiting for a free trainer."
        best = raw.get("best_val_loss")
        return Status(
            state=state,
            message=message,
            epochs=raw["epochs"] if _count(raw.get("epochs"), 0, MAX_EPOCH) else 0,
            best_val_loss=float(best) if _within(best, 0.0, MAX_LOSS) else None,
            owner=self.owner,
            updated=updated,
        )

    # --- live progress -----------------------------------------------------------------------------
    def write_progress(self, progress: Progress) -> None:
        write_json(self.file(PROGRESS), asdict(progress), durable=False)

    def progress(self) -> Progress:
        try:
            return Progress.from_dict(json.loads(self.file(PROGRESS).read_text(encoding="utf-8")))
        except (OSError, ValueError):
            return Progress()

    def append_batch_losses(self, losses: Iterable[float]) -> None:
        """Per-batch losses for the live chart; not fsynced (a crash may lose the last second of them)."""
        lines = "".join(f"{loss:.5g}\n" for loss in losses)
        if lines:
            with open(self.file(BATCHES), "a", encoding="utf-8") as fh:
                fh.write(lines)

    def batch_losses(self) -> list[float]:
        try:
            lines = self.file(BATCHES).read_text(encoding="utf-8", errors="replace").split()
        except FileNotFoundError:
            return []
        out = []
        for line in lines:
            with contextlib.suppress(ValueError):
                value = float(line)
                if math.isfinite(value):
                    out.append(value)
        return out

    def clear_live(self) -> None:
        """A new training of this run starts with an empty live view."""
        for name in (PROGRESS, BATCHES):
            with contextlib.suppress(FileNotFoundError):
                self.file(name).unlink()

    # --- history and samples -------------------------------------------------------------------------
    def append_epoch(self, record: EpochRecord) -> None:
        append_line(self.file(HISTORY), json.dumps(asdict(record)))

    def history(self) -> list[EpochRecord]:
        return [r for r in map(EpochRecord.from_dict, read_jsonl(self.file(HISTORY))) if r is not None]

    def append_samples(self, samples: EpochSamples) -> None:
        append_line(self.file(SAMPLES), json.dumps(samples.to_dict(), ensure_ascii=False))

    def samples(self) -> list[EpochSamples]:
        return [s for s in map(EpochSamples.from_dict, read_jsonl(self.file(SAMPLES))) if s is not None]

    def write_error_log(self, text: str) -> None:
        with contextlib.suppress(OSError):
            write_atomic(self.file(ERROR_LOG), text.encode("utf-8", "replace"))

    # --- the time-lapse -------------------------------------------------------------------------------
    def save_snapshot(self, at_epoch: float, loss: float, weights: Weights) -> SnapshotRecord:
        """Keep the weights as they are now (float16: half the disk, and a time-lapse needs no more), then
        thin the snapshots to MAX_SNAPSHOTS. Weights first, then the list: a crash leaves a file nobody lists."""
        records = self.snapshots()
        record = SnapshotRecord(1 + max((r.number for r in records), default=-1), round(at_epoch, 4), loss)
        half = {k: np.asarray(v).astype(np.float16) for k, v in weights.items()}
        write_atomic(self.file(_snapshot_name(record.number)), npz_bytes(half), durable=False)
        kept = thinned([*records, record])
        lines = "".join(json.dumps(asdict(r)) + "\n" for r in kept)
        write_atomic(self.file(SNAPSHOTS), lines.encode("utf-8"), durable=False)
        for dropped in {r.number for r in records} - {r.number for r in kept}:
            with contextlib.suppress(OSError):
                self.file(_snapshot_name(dropped)).unlink()
        return record

    def snapshots(self) -> list[SnapshotRecord]:
        """The time-lapse's points, oldest first: only those whose weights file is there."""
        records = [r for r in map(SnapshotRecord.from_dict, read_jsonl(self.file(SNAPSHOTS))) if r is not None]
        return sorted((r for r in records if self.file(_snapshot_name(r.number)).is_file()), key=lambda r: r.number)

    def load_snapshot(self, number: int) -> Weights:
        """One snapshot's weights, checked like any checkpoint and widened back to float32."""
        weights = {k: v.astype(np.float32) for k, v in load_npz(self.file(_snapshot_name(number))).items()}
        check_weights(weights, self.config(), len(self.vocab()))
        return weights

    # --- checkpoints ----------------------------------------------------------------------------------
    def save_checkpoint(self, tag: str, weights: Weights, optimizer: dict | None, epoch: int) -> None:
        """Weights and optimizer state first, then the manifest: a crash leaves the old set or the new one.

        The manifest holds each file's SHA-256: every epoch of one model has files of the same sizes, so
        sizes alone would take new weights, the previous optimizer state and the old manifest for one set.
        It keeps the sizes too, for readers from before the hashes.
        """
        parts = {"weights": weights, "optimizer": optimizer}
        files, sizes, hashes = {}, {}, {}
        for part, arrays in parts.items():
            if arrays is None:
                continue
            name, data = f"{tag}.{part}.npz", npz_bytes(arrays)
            write_atomic(self.file(name), data)
            files[part], sizes[name], hashes[name] = name, len(data), hashlib.sha256(data).hexdigest()
        manifest = {"epoch": epoch, "files": files, "sizes": sizes, "sha256": hashes}
        write_json(self.file(f"{tag}.json"), manifest)

    def _manifest(self, tag: str) -> dict | None:
        try:
            manifest = json.loads(self.file(f"{tag}.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return manifest if isinstance(manifest, dict) else None

    def _checked_files(self, tag: str) -> dict[str, FileKey] | None:
        """The files of the whole checkpoint set `tag`, each with the version that was checked; None if not whole.

        A manifest with hashes must match every file's SHA-256; one from before the hashes, their sizes;
        weights without any manifest (an older run, a bundle) stand alone, with the optimizer state if any.
        """
        manifest = self._manifest(tag)
        if manifest is not None and "sha256" in manifest:
            return self._hashed_files(tag, manifest)
        if manifest is not None:
            return self._sized_files(tag, manifest)
        if self.file(f"{tag}.json").exists():  # a manifest that does not read: the set is torn
            return None
        keys = {name: _stat_key(self.file(name)) for name in _part_names(tag)}
        found = {name: key for name, key in keys.items() if key is not None}
        return found if f"{tag}.weights.npz" in found else None

    def _hashed_files(self, tag: str, manifest: dict) -> dict[str, FileKey] | None:
        """A set saved with hashes: whole if every file it lists has the SHA-256 its manifest says."""
        hashes, files = manifest.get("sha256"), manifest.get("files")
        if not isinstance(hashes, dict) or not isinstance(files, dict):
            return None
        listed = {name for name in files.values() if isinstance(name, str)}
        if set(hashes) != listed or len(listed) != len(files) or not listed <= set(_part_names(tag)):
            return None
        if f"{tag}.weights.npz" not in listed:
            return None
        keys = {}
        for name, expected in hashes.items():
            try:
                digest, keys[name] = file_sha256(self.file(name))
            except OSError:
                return None
            if digest != expected:
                return None
        return keys

    def _sized_files(self, tag: str, manifest: dict) -> dict[str, FileKey] | None:
        """A set saved before the hashes: whole if every file has the size its manifest says."""
        sizes = manifest.get("sizes")
        if not isinstance(sizes, dict) or not set(sizes) <= set(_part_names(tag)):
            return None
        keys = {name: _stat_key(self.file(name)) for name in {*sizes, f"{tag}.weights.npz"}}
        found = {name: key for name, key in keys.items() if key is not None}
        if len(found) < len(keys) or any(found[name][2] != size for name, size in sizes.items()):
            return None
        return found

    def has_checkpoint(self, tag: str) -> bool:
        """A whole checkpoint: its manifest matches the files (or, for older runs and bundles, weights alone)."""
        return self._checked_files(tag) is not None

    def checkpoint_epoch(self, tag: str) -> int | None:
        """The epoch a checkpoint was saved after (0 for an imported model with no history); None if unknown."""
        manifest = self._manifest(tag)
        epoch = manifest.get("epoch") if manifest else None
        return epoch if _count(epoch, 0, MAX_EPOCH) else None

    def best_tag(self) -> str | None:
        """The checkpoint to generate with: 'best' if whole, else 'last', else None."""
        return next((tag for tag in CHECKPOINT_TAGS if self.has_checkpoint(tag)), None)

    def resume_tag(self) -> str | None:
        """The checkpoint to continue from: the latest whole one."""
        return next((tag for tag in reversed(CHECKPOINT_TAGS) if self.has_checkpoint(tag)), None)

    @property
    def has_model(self) -> bool:
        return self.best_tag() is not None

    def load_checkpoint(self, tag: str) -> tuple[Weights, dict | None]:
        """The weights and optimizer state of a whole set: checked, read, then found unchanged.

        A trainer may save the next epoch's set meanwhile (new files replace old ones by rename); the
        files are then read again, so the arrays returned are always the ones that were checked.
        """
        for attempt in range(CHECKPOINT_READ_TRIES):
            checked = self._checked_files(tag)
            if checked is not None:
                loaded = self._load_parts(tag, checked)
                if all(_stat_key(self.file(name)) == key for name, key in checked.items()):
                    return loaded
            if attempt + 1 < CHECKPOINT_READ_TRIES:
                time.sleep(CHECKPOINT_READ_PAUSE)
        raise BundleError(f"The model {self.id} has no complete '{tag}' checkpoint.")

    def _load_parts(self, tag: str, checked: dict[str, FileKey]) -> tuple[Weights, dict | None]:
        weights = load_npz(self.file(f"{tag}.weights.npz"))
        optimizer_name = f"{tag}.optimizer.npz"
        return weights, load_npz(self.file(optimizer_name)) if optimizer_name in checked else None

    def weights_mtime(self) -> float:
        """Changes whenever a new best model is saved (a cache key for generators)."""
        tag = self.best_tag()
        if tag is None:
            return 0.0
        with contextlib.suppress(OSError):
            return self.file(f"{tag}.weights.npz").stat().st_mtime
        return 0.0

    def signature(self) -> tuple:
        """Changes whenever what the library shows changes (a cache key for summaries).

        A lease that runs out changes no file, so whether it is alive is part of the key.
        """
        out: list[tuple[int, int] | bool | None] = [self.lease_alive()]
        for name in SIGNATURE_FILES:
            try:
                st = self.file(name).stat()
                out.append((st.st_mtime_ns, st.st_size))
            except OSError:
                out.append(None)
        return tuple(out)

    # --- changing and removing -------------------------------------------------------------------------
    def rename(self, new_name: str) -> None:
        name = new_name.strip()
        if not name or len(name) > 80:
            raise CharlstmError("A model name must have 1 to 80 characters.")
        try:
            self.update_meta(name=name)
        except OSError as exc:
            raise CharlstmError(
                f"Could not save the new name ({exc.strerror or exc}); the old name is kept. "
                "Check that the disk has space and the models folder is writable."
            ) from None

    def earned(self) -> bool:
        """Whether training produced anything here yet (history or a checkpoint)."""
        return bool(self.history()) or any(self.file(f"{t}.weights.npz").exists() for t in CHECKPOINT_TAGS)

    def remove(self) -> None:
        try:
            shutil.rmtree(self.path)
        except FileNotFoundError:
            return
        except OSError as exc:
            raise CharlstmError(
                f"Could not delete {self.name} ({exc.strerror or exc}); the models folder may be read-only."
            ) from None

    def files(self) -> Iterator[Path]:
        return (p for p in self.path.iterdir() if p.is_file())


def _part_names(tag: str) -> tuple[str, ...]:
    """The files a checkpoint set `tag` may have."""
    return tuple(f"{tag}.{part}.npz" for part in CHECKPOINT_PARTS)


INTERRUPTED_MESSAGE = (
    "This training was interrupted (the process that trained it stopped). Everything up to the last "
    "finished epoch is kept; you can continue it from the Models page."
)


# --- the library's view of a run --------------------------------------------------------------------------
@dataclass(frozen=True)
class RunSummary:
    """One row of the model library."""

    path: Path
    name: str
    corpus: str
    preset: str
    parameters: int
    epochs: int
    val_loss: float | None
    val_bpc: float | None
    created: float
    state: str
    owner: str = ""
    error: str | None = None

    @property
    def readable(self) -> bool:
        return self.error is None

    @property
    def run(self) -> Run:
        return Run(self.path)


def summarize(run: Run) -> RunSummary:
    """What the library shows of a run; a damaged run is listed with the reason instead of failing."""
    try:
        meta, config, vocab = run.meta(), run.config(), run.vocab()
        history = run.history()
        since = run.text_since_epoch()  # a score on the text it trained on before is not its score now
        vals = [h.val_loss for h in history if h.val_loss is not None and h.epoch > since]
        best = min(vals) if vals else None
        status = run.status()
        tag = run.best_tag()
        if tag is None and not status.active:
            raise BundleError("no saved weights")
        if tag is not None:  # a damaged weights file shows here, not later on the Generate page
            check_weights(run.load_checkpoint(tag)[0], config, len(vocab))
        created = meta.get("created")
        return RunSummary(
            path=run.path,
            name=run.name,
            corpus=str(meta.get("corpus", "?")),
            preset=config.preset,
            parameters=parameter_count(config, len(vocab)),
            epochs=len(history),
            val_loss=best,
            val_bpc=best / LN2 if best is not None else None,
            created=float(created) if _finite(created) else run.path.stat().st_mtime,
            state=status.state,
            owner=run.owner,
        )
    except (CharlstmError, KeyError, TypeError, ValueError, OSError) as exc:
        mtime = run.path.stat().st_mtime if run.path.exists() else 0.0
        return RunSummary(
            run.path,
            run.id,
            "?",
            "?",
            0,
            0,
            None,
            None,
            mtime,
            "unreadable",
            owner=run.owner,
            error=f"This model is unreadable: {str(exc).rstrip('.')}",
        )
