"""One person's models: the only door through which the studio lists, opens, makes, trains and exports runs.

A `Library` is bound to one owner (`charlstm.identity`) when it is made, once per page run. Every method
takes run ids, not folders, and opens them through `open`, which finds only this owner's runs: a
stranger's id, a ready-made model's folder or a path reads as "not among your models". Every run it
makes carries the owner, so forgetting it is not possible; every training it starts passes the same
limits (`charlstm.limits`, `config.check_memory`, the queue's per-person counts) whether it is new,
continued, imported or copied. The pages never touch `Run` folders, `bundle`, `store` writes or the
queue directly (tests/test_package.py checks that).
"""

from __future__ import annotations

import contextlib
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from . import bundle, limits, starters, store
from .config import TrainConfig
from .errors import CharlstmError
from .estimate import Speed, check_memory, speed_here
from .identity import check_owner
from .run import Run, Status
from .text import Corpus

if TYPE_CHECKING:  # the queue imports Dask; a Library that only reads never needs it
    from .jobs import JobQueue, QueuePlace

RUN_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,119}$")  # a run folder's name, never a path
NAME_LIMIT = 80


class NotYours(CharlstmError):
    """A run id that is not one of this owner's runs (or no run at all: the two read the same)."""


class Library:
    """The runs of one owner in one models folder, and everything that may be done with them."""

    def __init__(self, owner: str, queue: JobQueue | None = None, root: Path | None = None):
        self.owner = check_owner(owner)
        self.root = Path(root or store.runs_root())
        self._queue = queue

    def __repr__(self) -> str:
        return f"Library(owner={self.owner!r}, root={str(self.root)!r})"

    # --- seeing ---------------------------------------------------------------------------------------
    def runs(self) -> list[Run]:
        """This owner's runs (unsorted; summaries sort them)."""
        return [run for run in store.run_folders(self.root) if run.owner == self.owner]

    def find(self, run_id: object) -> Run | None:
        """The run with this id if it is this owner's, else None."""
        if not isinstance(run_id, str) or not RUN_ID_RE.match(run_id):
            return None
        run = Run(self.root / run_id)
        if not run.path.is_dir() or not store.inside(self.root, run.path) or run.owner != self.owner:
            return None
        return run

    def open(self, run_id: object) -> Run:
        run = self.find(run_id)
        if run is None:
            raise NotYours(
                "That model is not among your models: it may have been deleted, or it belongs to someone "
                "else. Pick one of yours on the Models page."
            )
        return run

    def usage(self) -> int:
        """Bytes this owner's runs take on disk (counted against `limits.quota_bytes()`)."""
        return limits.usage_bytes(self.runs())

    def active(self) -> list[tuple[Run, Status]]:
        """This owner's trainings that run or wait now, oldest first."""
        return self.queue.owner_active(self.owner)

    def place(self, run_id: str) -> QueuePlace:
        return self.queue.place(self.open(run_id))

    def speed(self, config: TrainConfig) -> Speed | None:
        """Characters a second that trainings on this machine reached (anyone's: only a speed is read)."""
        return speed_here(store.run_folders(self.root), config)

    # --- making --------------------------------------------------------------------------------------
    def _make_room(self, adding: int, what: str, replacing: Run | None = None) -> None:
        used = self.usage() - (limits.run_bytes(replacing) if replacing is not None else 0)
        limits.check_room(used, adding, self.root, what)

    def create(self, corpus: Corpus, config: TrainConfig, name: str | None = None) -> Run:
        """A new run of this owner's for `corpus` and `config`, checked in full before anything is written."""
        plan = store.plan_run(corpus, config)
        self._make_room(limits.training_bytes(plan.config, len(plan.vocab), len(plan.text)), "a new model")
        run = store.write_run(plan, owner=self.owner, root=self.root, name=_label(name))
        self._distinct_name(run)
        return run

    def upload(self, data: bytes) -> Run:
        """A model from a bundle file (anyone's export), as a new run of this owner's."""
        self._make_room(bundle.unpacked_bytes(data), "this model file")
        run = Run(bundle.import_bundle(data, self.root, owner=self.owner))
        self._distinct_name(run)
        return run

    def copy_starter(self, ref: str) -> Run:
        """A ready-made (or shared) model copied into this owner's models, to continue training it."""
        starter = starters.get_starter(ref)
        self._make_room(bundle.unpacked_bytes(starter.bundle), "a copy of this model")
        run = Run(starters.copy_to_library(starter.ref, self.root, self.owner))
        self._distinct_name(run)
        return run

    def _distinct_name(self, run: Run) -> None:
        """A new model whose name is taken among this owner's gets "(2)", "(3)"... so the two can be told apart."""
        taken = {other.name for other in self.runs() if other != run}
        name, n = run.name, 2
        if name not in taken:
            return
        while f"{name} ({n})" in taken:
            n += 1
        run.rename(f"{name} ({n})"[-NAME_LIMIT:])

    # --- training ------------------------------------------------------------------------------------
    @property
    def queue(self) -> JobQueue:
        if self._queue is None:
            raise RuntimeError("This Library was made without a job queue; pass one to train or stop.")
        return self._queue

    def start_new(self, corpus: Corpus, config: TrainConfig, name: str | None = None) -> Run:
        """Create a run and queue its training; if it cannot be queued, nothing is left behind."""
        self.queue.check_limits(self.owner)  # before the text is written: a full queue costs no disk
        run = self.create(corpus, config, name)
        try:
            self._submit(run, action="new")
        except CharlstmError:
            run.remove()
            raise
        return run

    def start_race(self, corpus: Corpus, configs: tuple[TrainConfig, TrainConfig], names: tuple[str, str]) -> list[Run]:
        """Two trainings of one text, queued together; they count as two of this owner's trainings."""
        self.queue.check_limits(self.owner, starting=2)
        runs = [self.create(corpus, config, name) for config, name in zip(configs, names, strict=True)]
        try:
            for run in runs:
                self._submit(run, action="new")
        except CharlstmError:
            for run in runs:
                with contextlib.suppress(CharlstmError):
                    self.queue.stop(run)
                run.remove()
            raise
        return runs

    def continue_training(self, run_id: str, epochs: int, seconds: float | None, corpus: Corpus | None = None) -> Run:
        """Queue more training of one of this owner's runs, on `corpus` if given (or if it has no text)."""
        run = self.open(run_id)
        busy = run.busy_message()
        if busy is not None:
            raise CharlstmError(busy)
        if corpus is not None or not run.has_text:
            if corpus is None:
                raise CharlstmError(f"{run.name} has no training text of its own: choose a text to continue it on.")
            text = store.text_for(run, corpus)
            self._make_room(len(text.encode("utf-8", "replace")), "this text")
            store.save_text_for(run, corpus, text)
        self._submit(run, action="continue", epochs=epochs, seconds=seconds)
        return run

    def _submit(self, run: Run, *, action: str, epochs: int | None = None, seconds: float | None = None) -> None:
        """The one place a training starts: memory, disk and queue limits, then the queue."""
        config, vocab, text = run.config(), run.vocab(), run.text() or ""
        if epochs is not None:
            config = config.replace(epochs=epochs)
        check_memory(config, len(vocab), len(text))
        self._make_room(limits.training_bytes(config, len(vocab), len(text)), "this training", replacing=run)
        self.queue.submit(run, self.owner, action=action, epochs=epochs, seconds=seconds)

    def stop(self, run_id: str) -> str:
        """Leave the queue or stop after the current batch; returns 'left' or 'stopping'."""
        return self.queue.stop(self.open(run_id))

    # --- changing and sharing ------------------------------------------------------------------------------
    def rename(self, run_id: str, new_name: str) -> None:
        self.open(run_id).rename(new_name)

    def delete(self, run_id: str) -> None:
        run = self.open(run_id)
        store.delete_run(run.path, self.root)

    def export(self, run_id: str, timelapse: bool = False) -> bytes:
        """The model as a bundle's bytes (a whitelist: no owner, no text, no samples, no paths), with the
        snapshots of its training when asked."""
        run = self.open(run_id)
        with tempfile.TemporaryDirectory() as tmp:
            return bundle.export_bundle(run.path, Path(tmp) / "model.zip", timelapse=timelapse).read_bytes()


def _label(name: str | None) -> str | None:
    cleaned = bundle.clean_text(name or "", NAME_LIMIT)
    return cleaned or None
