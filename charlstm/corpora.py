"""Built-in corpora: the seed's Nietzsche text, and one that needs no network at all.

Nietzsche is downloaded once from the seed's address and cached where the seed's `keras.utils.get_file`
keeps it (`$KERAS_HOME/datasets/`), checked against its known SHA-256. One downloader serves the
command line and the studio, and needs no TensorFlow (the studio's server never imports it).

The offline corpus is assembled at run time from the docstrings of Python's standard library: real
English prose that every install already has, so nothing third-party is committed to this repository.
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import os
import re
import sysconfig
import tempfile
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .errors import CorpusError
from .text import Corpus, decode_bytes, join_texts, read_corpus

NIETZSCHE_URL = "https://s3.amazonaws.com/text-datasets/nietzsche.txt"
NIETZSCHE_SHA256 = "23cf69874ab69d3d256099ab530ea4be24d47d9675b673bcc67cbcd6298ec647"
NIETZSCHE_FILE = "nietzsche.txt"  # the name the seed's keras.utils.get_file gives it in the cache
DOWNLOAD_TIMEOUT = 30
PYDOCS_MIN_CHARS = 500_000


def keras_cache_path(filename: str) -> Path:
    """Where `keras.utils.get_file` keeps a download (honours $KERAS_HOME like Keras does)."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "datasets" / filename


def nietzsche_is_cached() -> bool:
    return keras_cache_path(NIETZSCHE_FILE).is_file()


def read_cached_nietzsche() -> bytes | None:
    """The cached Nietzsche text when the cache holds the right file (its SHA-256 checked), else None."""
    try:
        data = keras_cache_path(NIETZSCHE_FILE).read_bytes()
    except OSError:
        return None
    return data if hashlib.sha256(data).hexdigest() == NIETZSCHE_SHA256 else None


def download_nietzsche(progress: Callable[[int, int | None], None] | None = None) -> bytes:
    """Download Nietzsche into the cache, reporting (bytes so far, total) as they come; returns the text's bytes.

    The file is checked against its known SHA-256 before it is put in place, so the cache never holds a
    half or damaged file. The messages name no path: a studio visitor is not the server's administrator.
    """
    target = keras_cache_path(NIETZSCHE_FILE)
    digest, chunks, done, tmp_name = hashlib.sha256(), [], 0, None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with (
            urllib.request.urlopen(NIETZSCHE_URL, timeout=DOWNLOAD_TIMEOUT) as response,
            tempfile.NamedTemporaryFile(dir=target.parent, prefix=".nietzsche-", delete=False) as out,
        ):
            tmp_name = out.name
            total = int(response.headers.get("Content-Length") or 0) or None
            while chunk := response.read(64 * 1024):
                out.write(chunk)
                digest.update(chunk)
                chunks.append(chunk)
                done += len(chunk)
                if progress is not None:
                    progress(done, total)
        if digest.hexdigest() != NIETZSCHE_SHA256:
            raise CorpusError(
                "The downloaded Nietzsche text is not the expected file (it may be damaged). Try again later; "
                "meanwhile Python's documentation, your own files or a pasted text work without a connection."
            )
        os.replace(tmp_name, target)
        tmp_name = None
    except CorpusError:
        raise
    except Exception as exc:  # network errors come in many types; all mean the same to a user
        raise CorpusError(
            f"Could not download the Nietzsche text ({_reason(exc)}): this computer cannot reach the internet "
            "right now. Python's documentation, your own files or a pasted text work without a connection."
        ) from None
    finally:
        if tmp_name:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)
    return b"".join(chunks)


def load_nietzsche() -> bytes:
    """The seed's corpus for the command line and the API: the cache, or one download (about 600 KB)."""
    cached = read_cached_nietzsche()
    if cached is not None:
        return cached
    try:
        return download_nietzsche()
    except CorpusError as exc:  # on the command line, the person is the administrator: say where it goes
        raise CorpusError(
            f"{exc} Or download {NIETZSCHE_URL} yourself and save it as {keras_cache_path(NIETZSCHE_FILE)} "
            "(the 'python-docs' corpus needs no download)."
        ) from None


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
