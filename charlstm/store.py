"""The models folder: where runs live, how new ones are checked, named, written, listed and removed.

One run is one folder, and `charlstm.run.Run` owns every file inside it. This module only knows
the folder of runs: `$CHARLSTM_HOME/runs/` (default `~/.charlstm/runs/`). Names users type go
through `slugify`, so no name can point outside the models folder.
"""

from __future__ import annotations

import math
import os
import re
import time
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from . import sizing
from .config import TrainConfig
from .errors import BundleError, CharlstmError, CorpusError
from .estimate import check_memory
from .generate import Generator
from .identity import OPERATOR
from .run import EpochRecord, Run, RunSummary, summarize
from .text import Corpus, Vocabulary, check_trainable, check_vocabulary_size, prepare_text

__all__ = ["Run", "RunSummary", "summarize"]


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
    """A fresh, unique, empty run folder under root, named by time and a slug of `name`."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    base = f"{time.strftime('%Y%m%d-%H%M%S')}-{slugify(name)}"
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


def run_folders(root: Path | None = None) -> list[Run]:
    """Every run folder under root (hidden and temporary folders excluded)."""
    root = Path(root or runs_root())
    if not root.is_dir():
        return []
    return [Run(p) for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]


def list_runs(root: Path | None = None) -> list[RunSummary]:
    """Every run under root, newest first; damaged ones are listed with their error."""
    return sorted((summarize(r) for r in run_folders(root)), key=lambda s: s.created, reverse=True)


def delete_run(run_dir: Path, root: Path | None = None) -> None:
    """Delete a run folder; refuses anything that is not a run in the models folder, or a run training now."""
    root = Path(root or runs_root())
    if not inside(root, run_dir) or Path(run_dir).resolve().parent != root.resolve():
        raise CharlstmError(f"Refusing to delete {run_dir}: it is not a model in {root}.")
    run = Run(run_dir)
    busy = run.busy_message()
    if busy is not None:
        raise CharlstmError(f"{busy} Then delete it.")
    run.remove()


def load_generator(run_dir: Path, tag: str | None = None) -> Generator:
    """A NumPy generator from a run's best (or named) checkpoint; no TensorFlow involved."""
    run = Run(run_dir)
    if not run.path.is_dir():
        raise BundleError(f"{run.path} is not a run folder. Train a model first, or check the path.")
    config, vocab = run.config(), run.vocab()
    tag = tag or run.best_tag()
    if tag is None or not run.has_checkpoint(tag):
        raise BundleError(f"{run.name} has no saved model yet (no epoch has finished).")
    weights, _ = run.load_checkpoint(tag)
    return Generator(weights, config, vocab)


# --- a new run: checked first, written second ---------------------------------------------------------------
@dataclass(frozen=True)
class RunPlan:
    """A text and settings that passed every check, before anything is written (so limits can be asked first)."""

    text: str
    config: TrainConfig
    vocab: Vocabulary
    corpus: str


def plan_run(corpus: Corpus, config: TrainConfig) -> RunPlan:
    """Check a text and settings for a new training: length, vocabulary and memory (no TensorFlow)."""
    config = config.validated()
    text = prepare_text(corpus.text, config.lowercase)
    if config.max_chars:
        text = text[: config.max_chars]
    check_trainable(text, config.min_corpus_chars())
    config = sizing.fitted(config, len(text))  # what the person left to the studio, chosen for this text
    vocab = Vocabulary.from_text(text)
    check_vocabulary_size(len(vocab))
    check_memory(config, len(vocab), len(text))  # before anything is written or queued
    return RunPlan(text, config, vocab, corpus.name)


def write_run(
    plan: RunPlan, *, owner: str, root: Path | None = None, name: str | None = None, run_dir: Path | None = None
) -> Run:
    """Write a planned run's folder; on failure nothing half-written stays behind."""
    root = Path(root or runs_root())
    path = None
    try:
        if run_dir is None:
            path = new_run_dir(root, name or f"{plan.corpus}-{plan.config.preset}")
        else:
            path = Path(run_dir)
            if path.exists() and any(path.iterdir()):
                raise CharlstmError(f"{path} already exists and is not empty; choose a new folder.")
            path.mkdir(parents=True, exist_ok=True)
        return Run.create(
            path,
            name=name or f"{plan.corpus} ({plan.config.preset})",
            corpus=plan.corpus,
            config=plan.config,
            vocab=plan.vocab,
            text=plan.text,
            owner=owner,
        )
    except OSError as exc:
        if path is not None and run_dir is None:
            Run(path).remove()
        raise CharlstmError(
            f"Could not write to the models folder {root} ({exc.strerror or exc}). "
            "Check that the disk has space and the folder is writable, or set CHARLSTM_HOME to another folder."
        ) from None


def new_run(
    corpus: Corpus,
    config: TrainConfig,
    *,
    root: Path | None = None,
    name: str | None = None,
    run_dir: Path | None = None,
    owner: str = OPERATOR,
) -> tuple[Run, str]:
    """Check a text and settings and write a new run folder for them (the command line's and the API's way)."""
    plan = plan_run(corpus, config)
    return write_run(plan, owner=owner, root=root, name=name, run_dir=run_dir), plan.text


def text_for(run: Run, corpus: Corpus) -> str:
    """A text a run can continue on: prepared as its settings say, minus characters its vocabulary lacks."""
    config, vocab = run.config(), run.vocab()
    text = vocab.known_only(prepare_text(corpus.text, config.lowercase))
    check_trainable(text, config.min_corpus_chars())
    return text


def save_text_for(run: Run, corpus: Corpus, text: str | None = None) -> None:
    """Give a run a new training text (an imported model has none; a copy may continue on another).

    `text` is `text_for(run, corpus)` when the caller has it already (the library measures it first).
    """
    text = text_for(run, corpus) if text is None else text
    try:
        run.set_text(text)
        run.update_meta(corpus=corpus.name)  # the library names the text it learns now
    except OSError as exc:
        raise CharlstmError(
            f"Could not write to {run.name} ({exc.strerror or exc}). Free disk space or make the folder "
            "writable, then continue training; nothing saved so far was changed."
        ) from None


# --- a run trained further ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Continuation:
    """What a job needs to train a run further, checked like a new run (text, vocabulary, memory)."""

    text: str
    config: TrainConfig  # the run's settings, with this training's budget
    vocab: Vocabulary
    history: list[EpochRecord]  # the epochs the checkpoint it starts from holds
    checkpoint: str | None  # the tag it starts from; None: from scratch (no epoch has finished)
    best_loss: float  # the best score so far on the text it trains on now (inf: none yet)


def plan_continuation(run: Run, epochs: int | None = None, seconds: float | None = None) -> Continuation:
    """Check that `run` can train `epochs` more (or for `seconds`), from its latest checkpoint."""
    config, vocab, text = run.config(), run.vocab(), run.text()
    if text is None:
        raise CorpusError(
            f"{run.name} has no saved training text (it was imported). Continue it with a text: give text "
            "files or --builtin on the command line, or continue it in the studio on the text you chose."
        )
    tag = run.resume_tag()
    done = run.checkpoint_epoch(tag) if tag else 0
    history = [h for h in run.history() if done is None or h.epoch <= done]
    overrides: dict = {"epochs": epochs or config.epochs}
    if seconds is not None:
        overrides["seconds"] = seconds
    config = config.replace(**overrides).validated()
    check_trainable(text, config.min_corpus_chars())
    check_memory(config, len(vocab), len(text))  # a continued bundle is checked like a new run
    since = run.text_since_epoch()  # a score on another text is not comparable: the best starts afresh
    prior = [h.val_loss if h.val_loss is not None else h.loss for h in history if h.epoch > since]
    return Continuation(text, config, vocab, history, tag, min(prior) if prior else math.inf)


def open_to_continue(run_dir: Path, corpus: Corpus | None = None) -> Run:
    """The run in `run_dir`, free to train (no job holds it), on `corpus` when one is given."""
    run = Run(run_dir)
    if not run.path.is_dir():
        raise CharlstmError(f"{run.path} is not a run folder.")
    busy = run.busy_message()  # names the process that holds it, or says it waits in the queue
    if busy is not None:
        raise CharlstmError(busy)
    if corpus is not None:
        save_text_for(run, corpus)
    return run
