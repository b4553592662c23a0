"""Texts of several kinds for judging presets: each one cased as a user would give it, last 10% scored.

Presets tuned on one text win on that text. These four differ in what a character model must
learn and in size: English prose (Nietzsche, about 600,000 characters), technical English (the
docstrings of Python's standard library), source code (the standard library's own `.py` files)
and German verse, jokes and dialogue (Debian's `fortunes-de`, kept short: a diary-sized text).
Every one is on this machine offline or comes with a package; a missing one is skipped with the
command that installs it.
"""

from __future__ import annotations

import functools
import sysconfig
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from charlstm.text import decode_bytes

from .corpus import SHARED_NIETZSCHE, BenchText

FORTUNES_DE = Path("/usr/share/games/fortunes/de")
MAX_SOURCE_CHARS = 1_200_000  # the standard library holds far more; this keeps the seed's one-hot arrays < 3 GB
GERMAN_CHARS = 300_000  # the short text of the four: where a big model overfits first
LIBRARY_CHARS = 10_000_000  # the grid's corpus-sized text (issue 19): python-source's text, then far more of it


@dataclass(frozen=True)
class KindText(BenchText):
    """One benchmark text: `train` (the first 90%) is what contenders get, `heldout` what they are scored on."""

    key: str = ""
    title: str = ""


def _nietzsche() -> tuple[str, str]:
    if not SHARED_NIETZSCHE.is_file():
        raise FileNotFoundError(f"{SHARED_NIETZSCHE} is missing (set $CHARLSTM_SHARED_DATA or $BENCH_NIETZSCHE)")
    return decode_bytes(SHARED_NIETZSCHE.read_bytes(), "nietzsche").text, str(SHARED_NIETZSCHE)


def _python_docs() -> tuple[str, str]:
    from charlstm.corpora import load_python_docs

    return load_python_docs().decode("utf-8"), "charlstm's python-docs corpus (standard-library docstrings)"


def _stdlib_source(limit: int, packages: bool) -> str:
    """The standard library's own source, top-level modules first, in name order (the same text every time);
    with `packages`, its packages' modules follow, so a longer text begins with the shorter one."""
    root = Path(sysconfig.get_paths()["stdlib"])
    paths = sorted(root.glob("*.py"))
    if packages:
        paths += sorted(p for p in root.rglob("*.py") if p.parent != root and "site-packages" not in p.parts)
    parts, size = [], 0
    for path in paths:
        source = path.read_text(encoding="utf-8", errors="replace")
        parts.append(source)
        size += len(source) + 1  # and the newline that joins it
        if size > limit:
            break
    return "\n".join(parts)[:limit]


def _python_source() -> tuple[str, str]:
    root = sysconfig.get_paths()["stdlib"]
    return _stdlib_source(MAX_SOURCE_CHARS, packages=False), f"{root}/*.py in name order"


def _python_library() -> tuple[str, str]:
    root = sysconfig.get_paths()["stdlib"]
    text = _stdlib_source(LIBRARY_CHARS, packages=True)
    return text, f"{root}/*.py, then its packages' .py files, in name order"


def _german() -> tuple[str, str]:
    if not FORTUNES_DE.is_dir():
        raise FileNotFoundError(f"{FORTUNES_DE} is missing: `apt-get install fortunes-de`")
    files = [p for p in sorted(FORTUNES_DE.iterdir()) if p.is_file() and not p.is_symlink() and p.suffix == ""]
    files = [p for p in files if p.name != "asciiart"]  # pictures, not language
    text = "\n".join(decode_bytes(p.read_bytes(), p.name).text for p in files)
    return text[:GERMAN_CHARS], f"Debian fortunes-de ({FORTUNES_DE}, {len(files)} files in name order)"


LOADERS: dict[str, tuple[str, Callable[[], tuple[str, str]]]] = {
    "nietzsche": ("English prose (Nietzsche, cased)", _nietzsche),
    "python-docs": ("technical English (Python docstrings)", _python_docs),
    "python-source": ("source code (Python standard library)", _python_source),
    "german": ("German verse, jokes and dialogue (fortunes-de)", _german),
}


# Texts only the grid asks for by name (too long for section 5, whose seed would need tens of GB of one-hot arrays)
LONG_LOADERS: dict[str, tuple[str, Callable[[], tuple[str, str]]]] = {
    "python-library": ("source code (Python standard library with its packages)", _python_library),
}


@functools.cache  # a text is read once a process (the grid asks each one's length for every size)
def load_kind(key: str) -> KindText:
    title, load = {**LOADERS, **LONG_LOADERS}[key]
    text, source = load()
    return KindText(text, source, key=key, title=title)


def load_kinds(keys: tuple[str, ...] | None = None) -> tuple[list[KindText], dict[str, str]]:
    """The texts found, and for each one missing, why."""
    found, missing = [], {}
    for key in keys or tuple(LOADERS):
        try:
            found.append(load_kind(key))
        except (OSError, ValueError) as exc:
            missing[key] = str(exc)
    return found, missing
