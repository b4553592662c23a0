"""Ready-made models shipped with the studio, so the playground works before anyone has trained.

They live in `assets/models/` as weights-only bundles (`<name>.zip`, made by `make starter-models`),
each beside a model card (`<name>.md`, and the same facts as `<name>.json`). They are read-only: the
studio and the CLI unpack a bundle once per process into a private temporary folder and read it from
there; "Copy to continue training" imports the bundle into the user's own models folder. An installed
charlstm (`pip install .`) carries them as package data in `charlstm/starter_models/`.

A starter is named `starter:<name>` wherever a model folder is accepted (e.g. `generate starter:nietzsche`).
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

from .errors import BundleError


def _shipped_dir() -> Path:
    """Installed (`pip install .`): charlstm/starter_models/; in a checkout: assets/models/ beside charlstm/."""
    package = Path(__file__).resolve().parent
    installed = package / "starter_models"
    return installed if installed.is_dir() else package.parent / "assets" / "models"


STARTERS_DIR = _shipped_dir()
PREFIX = "starter:"


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


SPECS: tuple[StarterSpec, ...] = (
    StarterSpec("nietzsche", "nietzsche", "Nietzsche (ready-made)"),
    StarterSpec("python-docs", "python-docs", "Python's documentation (ready-made)"),
)


@dataclass(frozen=True)
class Starter:
    """A starter model that is present on disk, with its card."""

    name: str
    title: str
    bundle: Path
    card: dict

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
    """The starter models whose bundle exists, in the order of SPECS."""
    out = []
    for spec in SPECS:
        path = bundle_path(spec.name, root)
        if path.is_file():
            out.append(Starter(spec.name, spec.title, path, _read_card(card_path(spec.name, root))))
    return out


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


def resolve_model(arg: str | Path) -> Path:
    """For the CLI: `starter:<name>` becomes its unpacked folder; anything else is a run folder path."""
    return starter_dir(str(arg)) if is_ref(arg) else Path(arg)


def copy_to_library(ref_or_name: str, root: Path | None = None) -> Path:
    """Copy a starter into the user's models folder (an ordinary, trainable model); returns the new folder."""
    from .bundle import import_bundle

    starter = get_starter(ref_or_name)
    return import_bundle(starter.bundle, root=root, name=f"{starter.title.removesuffix(' (ready-made)')} (copy)")
