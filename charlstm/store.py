"""Runs on disk: one folder per trained model, written as training goes, readable forever.

A run directory holds:
    meta.json          display name, corpus name, creation time (the library's listing)
    config.json        the TrainConfig
    vocab.json         the characters
    corpus.txt         the exact training text, so a run can be resumed anywhere
    status.json        running / completed / time / user / diverged / error, with the process id
    history.jsonl      one line per epoch, appended and fsynced: a crash loses at most one epoch
    samples.jsonl      the samples written after each epoch
    best.weights.npz   the best model so far (plus best.optimizer.npz to resume from it)
    last.weights.npz   the latest model (plus last.optimizer.npz)

Everything is JSON or `.npz` read with `allow_pickle=False`. Names users type go through
`slugify`, so no name can point outside the models folder.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from .config import TrainConfig
from .errors import BundleError, CharlstmError, ConfigError
from .generate import Generator
from .text import Vocabulary
from .weights import Weights, check_weights, load_npz, parameter_count, save_npz

FINAL_STATES = ("completed", "time", "user", "diverged", "error")


def default_home() -> Path:
    """The data folder: $CHARLSTM_HOME, else ~/.charlstm."""
    return Path(os.environ.get("CHARLSTM_HOME") or Path.home() / ".charlstm")


def runs_root(home: Path | None = None) -> Path:
    return Path(home or default_home()) / "runs"


def slugify(name: str, fallback: str = "model") -> str:
    """A safe folder name: letters, digits, dots, dashes; never '..', never a path."""
    name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip(".-_")[:48]
    return slug or fallback


def new_run_dir(root: Path, name: str) -> Path:
    """A fresh, unique run folder under root, named by time and a slug of `name`."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    base = f"{stamp}-{slugify(name)}"
    for n in range(1000):
        path = root / (base if n == 0 else f"{base}-{n}")
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
    raise CharlstmError(f"Could not create a new run folder in {root}.")


def inside(root: Path, path: Path) -> bool:
    root, path = Path(root).resolve(), Path(path).resolve()
    return path != root and root in path.parents


# --- small, crash-safe file helpers -------------------------------------------------------------
def write_json(path: Path, obj) -> None:
    """Atomic: write a temporary file, fsync, rename."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(obj, fh, ensure_ascii=False, indent=1)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def read_json(path: Path):
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BundleError(f"{Path(path).name} is missing from {Path(path).parent}.") from None
    except (OSError, ValueError) as exc:
        raise BundleError(f"{Path(path).name} in {Path(path).parent} is unreadable ({exc}).") from None


def append_jsonl(path: Path, obj) -> None:
    """One line per record, flushed to disk before returning."""
    data = (json.dumps(obj, ensure_ascii=False) + "\n").encode("utf-8")
    with open(path, "a+b") as fh:
        if fh.seek(0, os.SEEK_END) > 0:
            fh.seek(-1, os.SEEK_END)
            if fh.read(1) != b"\n":  # a line torn by a crash: start a fresh line, do not glue onto it
                data = b"\n" + data
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def read_jsonl(path: Path) -> list[dict]:
    """All complete records; a line torn by a crash at the end is ignored."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    out = []
    for line in lines:
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def write_run_files(
    run_dir: Path, *, name: str, corpus: str, config: TrainConfig, vocab: Vocabulary, text: str
) -> None:
    """What a run folder holds before its first epoch: meta, settings, vocabulary, the training text."""
    run_dir = Path(run_dir)
    write_json(run_dir / "meta.json", {"name": name, "corpus": corpus, "created": time.time()})
    write_json(run_dir / "config.json", config.to_dict())
    (run_dir / "vocab.json").write_text(vocab.to_json(), encoding="utf-8")
    (run_dir / "corpus.txt").write_text(text, encoding="utf-8")


# --- checkpoints --------------------------------------------------------------------------------
def save_checkpoint(run_dir: Path, tag: str, weights: Weights, optimizer: dict | None = None) -> None:
    save_npz(Path(run_dir) / f"{tag}.weights.npz", weights)
    if optimizer is not None:
        save_npz(Path(run_dir) / f"{tag}.optimizer.npz", optimizer)


def load_checkpoint(run_dir: Path, tag: str) -> tuple[Weights, dict | None]:
    run_dir = Path(run_dir)
    weights = load_npz(run_dir / f"{tag}.weights.npz")
    opt_path = run_dir / f"{tag}.optimizer.npz"
    optimizer = load_npz(opt_path) if opt_path.exists() else None
    return weights, optimizer


def best_tag(run_dir: Path) -> str:
    """'best' when a best checkpoint exists, else 'last'."""
    return "best" if (Path(run_dir) / "best.weights.npz").exists() else "last"


# --- reading a run -------------------------------------------------------------------------------
def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_status(run_dir: Path) -> dict:
    """status.json, with a run whose process died marked 'interrupted'."""
    try:
        status = read_json(Path(run_dir) / "status.json")
    except BundleError:
        return {"state": "unknown"}
    if status.get("state") == "running":
        same_host = status.get("host") == socket.gethostname()
        if same_host and not pid_alive(int(status.get("pid", -1))):
            status = {**status, "state": "interrupted"}
    return status


def write_status(run_dir: Path, state: str, **fields) -> None:
    write_json(
        Path(run_dir) / "status.json",
        {"state": state, "pid": os.getpid(), "host": socket.gethostname(), "updated": time.time(), **fields},
    )


def load_config(run_dir: Path) -> TrainConfig:
    try:
        return TrainConfig.from_dict(read_json(Path(run_dir) / "config.json"))
    except ConfigError as exc:
        raise BundleError(f"config.json in {Path(run_dir).name} does not hold valid settings: {exc}") from None


def load_vocab(run_dir: Path) -> Vocabulary:
    path = Path(run_dir) / "vocab.json"
    try:
        return Vocabulary.from_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BundleError(f"vocab.json is missing from {run_dir}.") from None


def load_generator(run_dir: Path, tag: str | None = None) -> Generator:
    """A NumPy generator from a run's best (or named) checkpoint; no TensorFlow involved."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise BundleError(f"{run_dir} is not a run folder. Train a model first, or check the path.")
    config, vocab = load_config(run_dir), load_vocab(run_dir)
    tag = tag or best_tag(run_dir)
    if not (run_dir / f"{tag}.weights.npz").exists():
        raise BundleError(f"{run_dir.name} has no saved model yet (no epoch has finished).")
    weights, _ = load_checkpoint(run_dir, tag)
    return Generator(weights, config, vocab)


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
    error: str | None = None

    @property
    def readable(self) -> bool:
        return self.error is None


def summarize(run_dir: Path) -> RunSummary:
    run_dir = Path(run_dir)
    try:
        meta = read_json(run_dir / "meta.json")
        config, vocab = load_config(run_dir), load_vocab(run_dir)
        history = read_jsonl(run_dir / "history.jsonl")
        vals = [h["val_loss"] for h in history if h.get("val_loss") is not None]
        best = min(vals) if vals else None
        has_weights = any((run_dir / f"{t}.weights.npz").exists() for t in ("best", "last"))
        state = read_status(run_dir).get("state", "unknown")
        if not has_weights and state not in ("running",):
            raise BundleError("no saved weights")
        if has_weights:  # a damaged weights file shows here, not later on the Generate page
            check_weights(load_npz(run_dir / f"{best_tag(run_dir)}.weights.npz"), config, len(vocab))
        return RunSummary(
            path=run_dir,
            name=str(meta.get("name", run_dir.name)),
            corpus=str(meta.get("corpus", "?")),
            preset=config.preset,
            parameters=parameter_count(config, len(vocab)),
            epochs=len(history),
            val_loss=best,
            val_bpc=best / 0.6931471805599453 if best is not None else None,
            created=float(meta.get("created", run_dir.stat().st_mtime)),
            state=state,
        )
    except (CharlstmError, KeyError, TypeError, ValueError, OSError) as exc:
        return RunSummary(
            run_dir,
            run_dir.name,
            "?",
            "?",
            0,
            0,
            None,
            None,
            run_dir.stat().st_mtime if run_dir.exists() else 0.0,
            "unreadable",
            error=f"This model is unreadable: {exc}",
        )


def list_runs(root: Path | None = None) -> list[RunSummary]:
    """Every run under root, newest first; damaged ones are listed with their error."""
    root = Path(root or runs_root())
    if not root.is_dir():
        return []
    runs = [summarize(p) for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]
    return sorted(runs, key=lambda r: r.created, reverse=True)


def rename_run(run_dir: Path, new_name: str) -> None:
    name = new_name.strip()
    if not name or len(name) > 80:
        raise CharlstmError("A model name must have 1 to 80 characters.")
    meta_path = Path(run_dir) / "meta.json"
    meta = read_json(meta_path)
    try:
        write_json(meta_path, {**meta, "name": name})
    except OSError as exc:
        raise CharlstmError(
            f"Could not save the new name in {Path(run_dir).name} ({exc.strerror or exc}); its old name is kept. "
            "Check that the disk has space and the models folder is writable."
        ) from None


def delete_run(run_dir: Path, root: Path | None = None) -> None:
    """Delete a run folder; refuses anything that is not a folder inside the models folder."""
    root = Path(root or runs_root())
    if not inside(root, run_dir) or Path(run_dir).resolve().parent != root.resolve():
        raise CharlstmError(f"Refusing to delete {run_dir}: it is not a model in {root}.")
    if read_status(run_dir).get("state") == "running":
        raise CharlstmError("This model is still training. Stop it first, then delete it.")
    try:
        shutil.rmtree(run_dir)
    except OSError as exc:
        raise CharlstmError(
            f"Could not delete {Path(run_dir).name} ({exc.strerror or exc}); the models folder may be read-only."
        ) from None
