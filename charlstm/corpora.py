"""Built-in corpora: the seed's Nietzsche text, and one that needs no network at all.

Nietzsche comes through `keras.utils.get_file`, exactly like the seed, so it is downloaded once
and cached under `$KERAS_HOME/datasets/`. The offline corpus is assembled at run time from the
docstrings of Python's standard library: real English prose that every install already has, so
nothing third-party is committed to this repository.
"""

from __future__ import annotations

import ast
import os
import re
import sysconfig
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .errors import CorpusError
from .text import Corpus, decode_bytes, join_texts, read_corpus

NIETZSCHE_URL = "https://s3.amazonaws.com/text-datasets/nietzsche.txt"
NIETZSCHE_SHA256 = "23cf69874ab69d3d256099ab530ea4be24d47d9675b673bcc67cbcd6298ec647"
PYDOCS_MIN_CHARS = 500_000


def keras_cache_path(filename: str) -> Path:
    """Where `keras.utils.get_file` keeps a download (honours $KERAS_HOME like Keras does)."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "datasets" / filename


def nietzsche_is_cached() -> bool:
    return keras_cache_path("nietzsche.txt").is_file()


def load_nietzsche() -> bytes:
    """The seed's corpus; downloads it once (about 600 KB) and then reads the cache."""
    from keras.utils import get_file  # lazy: TensorFlow is slow to import

    try:
        # cache_dir explicitly: Keras reads $KERAS_HOME only once, when it is first imported.
        cache = keras_cache_path("nietzsche.txt").parent.parent
        path = get_file("nietzsche.txt", origin=NIETZSCHE_URL, file_hash=NIETZSCHE_SHA256, cache_dir=str(cache))
    except Exception as exc:  # network errors come in many types; all mean the same to a user
        raise CorpusError(
            f"Could not download the Nietzsche corpus ({_reason(exc)}). Check the internet "
            f"connection, or download {NIETZSCHE_URL} yourself and save it as "
            f"{keras_cache_path('nietzsche.txt')}; or use the offline 'python-docs' corpus or your own text."
        ) from None
    return Path(path).read_bytes()


def _reason(exc: Exception) -> str:
    """The first line of an error, short enough for one line of a message."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."


def _docstring_paragraphs(source: str) -> list[str]:
    """Prose paragraphs of a module's docstrings: no doctest lines or indented code blocks."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return []
    out = []
    for node in ast.walk(tree):
        if not isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        doc = ast.get_docstring(node)
        if not doc or len(doc) < 80:
            continue
        kept = [ln for ln in doc.splitlines() if not ln.startswith((" ", "\t", ">>>", "..."))]
        paragraph = re.sub(r"\n{3,}", "\n\n", "\n".join(kept)).strip()
        if len(paragraph) >= 80:
            out.append(paragraph)
    return out


def load_python_docs(min_chars: int = PYDOCS_MIN_CHARS) -> bytes:
    """Docstrings of the standard library's modules, in a fixed order (no imports, no network)."""
    root = Path(sysconfig.get_paths()["stdlib"])
    files = sorted(root.glob("*.py")) + sorted(root.glob("*/*.py"))
    paragraphs: list[str] = []
    for path in files:
        if "test" in path.parts[-2] or path.name.startswith("test"):
            continue
        try:
            source = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        paragraphs.extend(_docstring_paragraphs(source))
    text = "\n\n".join(paragraphs)
    if len(text) < min_chars:
        raise CorpusError(
            f"This Python installation has only {len(text):,} characters of standard-library "
            "docstrings (it may be a stripped build). Use the Nietzsche corpus or your own text."
        )
    return text.encode("utf-8")


@dataclass(frozen=True)
class BuiltinCorpus:
    name: str
    title: str
    description: str
    load: Callable[[], bytes]
    needs_network: bool


BUILTINS: dict[str, BuiltinCorpus] = {
    "nietzsche": BuiltinCorpus(
        "nietzsche",
        "Nietzsche (the classic)",
        "About 600,000 characters of Nietzsche in English, the corpus of the classic Keras example. "
        "Downloaded once (600 KB), then cached.",
        load_nietzsche,
        needs_network=True,
    ),
    "python-docs": BuiltinCorpus(
        "python-docs",
        "Python's documentation (offline)",
        "The explanations written inside Python's own standard library, about 1.2 million characters "
        "of technical English. Always available, no download.",
        load_python_docs,
        needs_network=False,
    ),
}


def load_builtin(name: str) -> bytes:
    try:
        corpus = BUILTINS[name]
    except KeyError:
        raise CorpusError(
            f"There is no built-in corpus called {name!r}. Choose one of: {', '.join(BUILTINS)}."
        ) from None
    return corpus.load()


def load_corpus(paths: list[str] | tuple[str, ...] = (), builtin: str | None = None) -> Corpus:
    """Files and/or a built-in corpus, decoded and joined into one training text."""
    texts: list[str] = []
    names: list[str] = []
    warnings: list[str] = []
    if builtin:
        texts.append(decode_bytes(load_builtin(builtin), name=builtin).text)
        names.append(builtin)
    for path in paths:
        decoded = read_corpus(path)
        texts.append(decoded.text)
        names.append(Path(path).name)
        warnings.extend(decoded.warnings)
    if not texts:
        raise CorpusError("No text given: name one or more .txt files, or a built-in corpus with --builtin.")
    source = "builtin" if builtin and not paths else "files"
    return Corpus(join_texts(texts), " + ".join(names), source, tuple(warnings))
