"""Ready-made models shipped with the studio, so the playground works before anyone has trained.

They live in `assets/models/` as weights-only bundles with their time-lapse (`<name>.zip`, made by
`make starter-models`), each beside a model card (`<name>.md`, and the same facts as `<name>.json`). They
are read-only: the studio and the CLI unpack a bundle once per process into a private temporary folder and read it from
there; "Copy to continue training" imports the bundle into the user's own models folder. An installed
charlstm (`pip install .`) carries them as package data in `charlstm/starter_models/`.

A starter is named `starter:<name>` wherever a model folder is accepted (e.g. `generate starter:nietzsche`).
Models the operator shares with every visitor (`charlstm share RUN_DIR`) join them from
`$CHARLSTM_HOME/shared/`: whitelisted exports, so no text and no owner travel with them.
"""

from __future__ import annotations

import atexit
import functools
import json
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import BundleError

if TYPE_CHECKING:
    from .run import Run


def _shipped_dir() -> Path:
    """Installed (`pip install .`): charlstm/starter_models/; in a checkout: assets/models/ beside charlstm/."""
    package = Path(__file__).resolve().parent
    installed = package / "starter_models"
    return installed if installed.is_dir() else package.parent / "assets" / "models"


STARTERS_DIR = _shipped_dir()
PREFIX = "starter:"
SHARED_FOLDER = "shared"


@dataclass(frozen=True)
class StarterSpec:
    """How one starter model is made: which built-in text, and a fixed, reproducible training budget."""

    name: str
    builtin: str
    title: str
    epochs: int = 15
    steps_per_epoch: int = 100
    seed: int = 1337
    preset: str = "quick"
    prompt: str = ""  # how the playground starts its text: words this text often begins with


SPECS: tuple[StarterSpec, ...] = (
    StarterSpec("nietzsche", "nietzsche", "Nietzsche (ready-made)", prompt="The meaning of "),
    StarterSpec("python-docs", "python-docs", "Python's documentation (ready-made)", prompt="Return the "),
)


@dataclass(frozen=True)
class Starter:
    """A starter model that is present on disk, with its card."""

    name: str
    title: str
    bundle: Path
    card: dict
    prompt: str = ""  # the playground's first words for it (a shared model has none: it starts a line)

    @property
    def ref(self) -> str:
        """How the CLI and the pages name it: `starter:<name>`."""
        return PREFIX + self.name

    @property
    def card_text(self) -> str:
        """The model card in Markdown (empty when the card file is missing)."""
        path = self.bundle.with_suffix(".md")
        return path.read_text(encoding="utf-8") if path.is_file() else ""


def starters_root() -> Path:
    """assets/models, or $CHARLSTM_STARTERS (tests point it at an empty folder to see a bare studio)."""
    return Path(os.environ.get("CHARLSTM_STARTERS") or STARTERS_DIR)


def bundle_path(name: str, root: Path | None = None) -> Path:
    return Path(root or starters_root()) / f"{name}.zip"


def card_path(name: str, root: Path | None = None) -> Path:
    return Path(root or starters_root()) / f"{name}.json"


def list_starters(root: Path | None = None) -> list[Starter]:
    """The starter models whose bundle exists, in the order of SPECS, then the operator's shared ones."""
    out = []
    for spec in SPECS:
        path = bundle_path(spec.name, root)
        if path.is_file():
            out.append(Starter(spec.name, spec.title, path, _read_card(card_path(spec.name, root)), spec.prompt))
    return out + shared_models(root)


def shared_dir() -> Path:
    """Where `charlstm share` puts the operator's models for every visitor: $CHARLSTM_HOME/shared/."""
    from .store import default_home

    return default_home() / SHARED_FOLDER


def shared_models(root: Path | None = None) -> list[Starter]:
    """Models the operator shared on purpose (weights-only bundles; not while tests point at other starters)."""
    folder = shared_dir()
    if root is not None or not folder.is_dir():
        return []
    taken = {spec.name for spec in SPECS}
    found = []
    for path in sorted(folder.glob("*.zip")):
        if path.stem not in taken and path.is_file():
            card = _read_card(path.with_suffix(".json"))
            title = card.get("title") if isinstance(card.get("title"), str) else path.stem
            found.append(Starter(path.stem, f"{title} (shared)", path, card))
    return found


def _read_card(path: Path) -> dict:
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return card if isinstance(card, dict) else {}


def is_ref(text: str | Path) -> bool:
    return str(text).startswith(PREFIX)


def get_starter(ref_or_name: str, root: Path | None = None) -> Starter:
    """The starter named `starter:<name>` (or just `<name>`); a plain error lists the ones there are."""
    name = str(ref_or_name).removeprefix(PREFIX)
    found = {s.name: s for s in list_starters(root)}
    if name not in found:
        known = ", ".join(PREFIX + n for n in found) or "none are installed (run: make starter-models)"
        raise BundleError(f"There is no ready-made model called {name!r}. Ready-made models: {known}.")
    return found[name]


_lock = threading.Lock()


@functools.cache
def _scratch() -> Path:
    """One private folder per process for unpacked starters, removed when the process ends."""
    path = Path(tempfile.mkdtemp(prefix="charlstm-starters-"))
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


@functools.cache
def _unpacked(bundle: Path, mtime_ns: int) -> Path:
    from .bundle import import_bundle  # checks every entry of the bundle like any other import

    return import_bundle(bundle, root=_scratch())  # the folder is named after the file, the model keeps its name


def starter_dir(ref_or_name: str, root: Path | None = None) -> Path:
    """A read-only run folder for a starter (unpacked once per process; never in the models folder)."""
    starter = get_starter(ref_or_name, root)
    with _lock:
        return _unpacked(starter.bundle, starter.bundle.stat().st_mtime_ns)


def starter_run(ref_or_name: str, root: Path | None = None) -> Run:
    """A starter's read-only run (its weights, settings and card; no training text)."""
    from .run import Run

    return Run(starter_dir(ref_or_name, root))


def resolve_model(arg: str | Path) -> Path:
    """For the CLI: `starter:<name>` becomes its unpacked folder; anything else is a run folder path."""
    return starter_dir(str(arg)) if is_ref(arg) else Path(arg)


def copy_to_library(ref_or_name: str, root: Path, owner: str) -> Path:
    """Copy a starter into `owner`'s models (an ordinary, trainable model); returns the new folder.

    Called by `charlstm.library.Library.copy_starter`, which checks the owner's room first.
    """
    from .bundle import import_bundle

    starter = get_starter(ref_or_name)
    name = f"{starter.title.removesuffix(' (ready-made)').removesuffix(' (shared)')} (copy)"
    return import_bundle(starter.bundle, root=root, name=name, owner=owner)


def share(run_dir: Path, title: str | None = None) -> Path:
    """Put a model on the shelf every visitor sees (the operator's choice): a whitelisted export, no text."""
    from .bundle import export_bundle
    from .run import Run, write_json
    from .store import slugify

    run = Run(run_dir)
    shown = (title or run.name).strip()[:80] or run.id
    folder = shared_dir()
    folder.mkdir(parents=True, exist_ok=True)
    stem = slugify(shown, "shared-model")
    if stem in {spec.name for spec in SPECS}:
        stem = f"shared-{stem}"
    bundle = export_bundle(run.path, folder / f"{stem}.zip", timelapse=True)  # visitors see how it learned
    write_json(bundle.with_suffix(".json"), {"title": shown})
    return bundle
