"""Turn bytes from a file, an upload or a paste into clean text, and text into ids.

Users hand us anything: UTF-8 with or without a BOM, UTF-16, Windows cp1252, a PDF renamed to
.txt. Decoding is explicit and every fallback is reported, so the app can say what it did.
"""

from __future__ import annotations

import codecs
import json
import os
import stat
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import CorpusError

# Characters that are legitimate in prose even though Unicode calls them control characters.
_TEXT_CONTROLS = {"\n", "\t", "\f", "\v", "\r"}
_MAX_CONTROL_SHARE = 0.01

# The largest text file read from disk (checked before reading). A 200 MB text is hours of
# training on a laptop; a bigger file is almost always a log or a dump, not a corpus.
MAX_CORPUS_BYTES = 200_000_000
# The most distinct characters a model learns. Chinese and Japanese prose use 2,000-7,000;
# above 10,000 a text is usually several scripts or binary data, and the output layer gets huge.
MAX_VOCAB = 10_000


@dataclass(frozen=True)
class DecodedText:
    """A decoded corpus plus what we had to do to get it (shown to the user)."""

    text: str
    encoding: str
    warnings: tuple[str, ...] = field(default_factory=tuple)


def decode_bytes(data: bytes, name: str = "the text") -> DecodedText:
    """Decode bytes as UTF-8 (BOM dropped), UTF-16 with a BOM, else cp1252/Latin-1 with a warning.

    Binary data (NUL bytes, many control characters) is refused with a message naming `name`.
    Line endings are normalised to LF.
    """
    warnings: list[str] = []
    if data.startswith(codecs.BOM_UTF8):
        text, encoding = data[len(codecs.BOM_UTF8) :].decode("utf-8", errors="strict"), "utf-8-sig"
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text, encoding = data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError as exc:
            raise CorpusError(
                f"{name} starts like UTF-16 text but is damaged ({exc.reason}). Save it again as UTF-8 and retry."
            ) from None
    else:
        if b"\x00" in data:
            raise _binary_error(name)
        try:
            text, encoding = data.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            try:
                text, encoding = data.decode("cp1252"), "cp1252"
            except UnicodeDecodeError:
                text, encoding = data.decode("latin-1"), "latin-1"
            warnings.append(
                f"{name} is not UTF-8; it was read as {encoding} (Windows/Western European). "
                "If some letters look wrong, save the file as UTF-8 and upload it again."
            )
    if "\x00" in text or _control_share(text) > _MAX_CONTROL_SHARE:
        raise _binary_error(name)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return DecodedText(text=text, encoding=encoding, warnings=tuple(warnings))


def _binary_error(name: str) -> CorpusError:
    return CorpusError(
        f"{name} looks like a binary file (an image, PDF or program), not plain text. "
        "Export or copy the text into a .txt file and use that instead."
    )


def _control_share(text: str) -> float:
    if not text:
        return 0.0
    sample = text[:200_000]
    controls = sum(1 for ch in sample if ch not in _TEXT_CONTROLS and unicodedata.category(ch) in ("Cc", "Cs"))
    return controls / len(sample)


def read_corpus(path: str | Path, max_bytes: int | None = None) -> DecodedText:
    """Read and decode one corpus file, with messages that name the file.

    A file larger than `max_bytes` (default MAX_CORPUS_BYTES) is refused before it is read.
    """
    path = Path(path)
    limit = MAX_CORPUS_BYTES if max_bytes is None else max_bytes
    try:
        info = os.stat(path)
        if stat.S_ISDIR(info.st_mode):
            raise IsADirectoryError
        if not stat.S_ISREG(info.st_mode):  # /dev/zero or a named pipe would be read for ever
            raise CorpusError(f"{path} is not a regular file (it is a device or a pipe); give a .txt file instead.")
        if info.st_size > limit:
            raise _too_big(path, info.st_size, limit)
        with open(path, "rb") as fh:
            data = fh.read(limit + 1)  # a file that grows while it is read still stops at the limit
        if len(data) > limit:
            raise _too_big(path, len(data), limit)
    except FileNotFoundError:
        raise CorpusError(f"File not found: {path}. Check the path and try again.") from None
    except IsADirectoryError:
        raise CorpusError(f"{path} is a folder; give a .txt file instead.") from None
    except OSError as exc:
        raise CorpusError(f"Could not read {path}: {exc.strerror}.") from None
    return decode_bytes(data, name=path.name)


def _too_big(path: Path, size: int, limit: int) -> CorpusError:
    return CorpusError(
        f"{path.name} is {size_text(size)}; the largest text charlstm reads is {size_text(limit)}. "
        "Use a part of it (for example its first 50 MB in a new .txt file) and try again."
    )


def size_text(n: int) -> str:
    """A byte count as people read it: 512 KB, 3.2 MB, 120 MB."""
    if n < 1_000_000:
        return f"{n / 1000:,.0f} KB"
    return f"{n / 1_000_000:,.1f} MB" if n < 10_000_000 else f"{n / 1_000_000:,.0f} MB"


def join_texts(texts: list[str]) -> str:
    """Several files become one corpus, separated by a blank line."""
    return "\n\n".join(t.strip("\n") for t in texts)


def prepare_text(text: str, lowercase: bool) -> str:
    """The exact text the model sees (the classic preset lowercases, as the seed did)."""
    return text.lower() if lowercase else text


PASTED = "paste"  # a Corpus.source: the person pasted it (its name is "pasted text", whatever it holds)
SHORT_TEXT_CHARS = 10_000  # below it `quick` kept 2.3-2.6 nats (jumbled words); 1.8-2.3 from 10,000 to 20,000
CHARS_PER_PAGE = 2_000  # a book's page, to say a text's length in words a person pictures


def short_text_advice(chars: int) -> str | None:
    """What to tell a person whose text trains a model that only jumbles it (docs/benchmarks.md, section 8's
    short texts); None for a text long enough. It trains all the same: a short text is allowed, just weak."""
    if chars >= SHORT_TEXT_CHARS:
        return None
    pages = chars // CHARS_PER_PAGE
    length = f"about {pages} page{'s' if pages != 1 else ''}" if pages else "less than a page"
    return (
        f"This text is short: {chars:,} characters, {length}. From so little, a model learns letters and short "
        "words, but mostly writes jumbled text or repeats yours. For writing that reads like the text, give it "
        f"at least {SHORT_TEXT_CHARS:,} characters (about {SHORT_TEXT_CHARS // CHARS_PER_PAGE} pages). Or copy a "
        "ready-made model on the Models page and continue it on this text: it already knows how words look, "
        "and picks up your text's style."
    )


def check_trainable(text: str, min_chars: int) -> None:
    """Refuse texts that cannot make one training window plus a validation part."""
    stripped = text.strip()
    if not stripped:
        what = "empty" if not text else "only spaces and line breaks"
        raise CorpusError(f"The text is {what}. Choose a file or paste some text with words in it.")
    if len(text) < min_chars:
        raise CorpusError(
            f"The text is too short: {len(text):,} characters, but these settings need at least "
            f"{min_chars:,} (one training sequence plus a validation part). Add more text, or pick a "
            "shorter sequence length."
        )


def check_vocabulary_size(size: int, limit: int = MAX_VOCAB) -> None:
    """Refuse texts with more distinct characters than a model can sensibly learn (MAX_VOCAB)."""
    if size > limit:
        raise CorpusError(
            f"The text uses {size:,} different characters; a model learns at most {limit:,} "
            "(enough for Chinese or Japanese). So many usually means several scripts or binary data mixed in: "
            "keep only the part of the text you want the model to write like, and try again."
        )


@dataclass(frozen=True)
class CorpusStats:
    """What the corpus page shows."""

    chars: int
    unique_chars: int
    lines: int
    words: int
    top_chars: list[tuple[str, int]]


def corpus_stats(text: str, top: int = 40) -> CorpusStats:
    counts = Counter(text)
    return CorpusStats(
        chars=len(text),
        unique_chars=len(counts),
        lines=text.count("\n") + (1 if text and not text.endswith("\n") else 0),
        words=len(text.split()),
        top_chars=counts.most_common(top),
    )


class Vocabulary:
    """Sorted characters <-> integer ids; saved as JSON next to the model."""

    def __init__(self, chars: list[str] | str):
        chars = list(chars)
        if not chars or len(set(chars)) != len(chars) or any(len(c) != 1 for c in chars):
            raise CorpusError("A vocabulary must be a list of distinct single characters.")
        if chars != sorted(chars):
            raise CorpusError("A vocabulary must be sorted.")
        if any(unicodedata.category(c) == "Cs" for c in chars):  # cannot be saved as UTF-8
            raise CorpusError("A vocabulary must hold real characters (it has a broken half of a UTF-16 pair).")
        self.chars: list[str] = chars
        self._index = {c: i for i, c in enumerate(chars)}
        self._lookup = np.full(max(map(ord, chars)) + 1, -1, dtype=np.int32)
        self._lookup[[ord(c) for c in chars]] = np.arange(len(chars), dtype=np.int32)

    @classmethod
    def from_text(cls, text: str) -> Vocabulary:
        return cls(sorted(set(text)))

    def __len__(self) -> int:
        return len(self.chars)

    def __contains__(self, ch: str) -> bool:
        return ch in self._index

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocabulary) and other.chars == self.chars

    def id_of(self, ch: str) -> int:
        return self._index[ch]

    @property
    def id_dtype(self) -> type:
        """The smallest integer type that holds every id (ids of a 100 MB corpus stay small)."""
        return np.uint8 if len(self) <= 256 else np.uint16 if len(self) <= 65536 else np.int32

    def encode(self, text: str, chunk: int = 1 << 20) -> np.ndarray:
        """Ids of a text made only of known characters (use `clean_prompt` for user input).

        Works in 1M-character chunks, so encoding a 100 MB corpus needs little beyond the ids.
        """
        out: np.ndarray = np.empty(len(text), dtype=self.id_dtype)
        for start in range(0, len(text), chunk):
            piece = text[start : start + chunk]
            codes = np.frombuffer(piece.encode("utf-32-le"), dtype=np.uint32)
            ids = self._lookup[np.minimum(codes, self._lookup.size - 1)]
            bad = (ids < 0) | (codes >= self._lookup.size)
            if bad.any():
                raise KeyError(piece[int(np.argmax(bad))])
            out[start : start + len(piece)] = ids
        return out

    def decode(self, ids) -> str:
        return "".join(self.chars[int(i)] for i in ids)

    def unknown_chars(self, text: str) -> list[str]:
        """Characters of `text` the model never saw, in order of first appearance."""
        return list(dict.fromkeys(c for c in text if c not in self._index))

    def known_only(self, text: str) -> str:
        """`text` without the characters the model never saw (to score or train on the rest)."""
        return "".join(c for c in text if c in self._index)

    def clean_prompt(self, prompt: str, replace_with: str | None = " ") -> tuple[str, list[str]]:
        """Make a prompt usable: unseen characters are replaced (or dropped) and reported.

        Lowercase-only models get a lowercased prompt first, so "Hello" works on the classic preset.
        """
        if not any(c.isupper() for c in self.chars):
            prompt = prompt.lower()
        prompt = prompt.replace("\r\n", "\n").replace("\r", "\n")
        unknown = self.unknown_chars(prompt)
        if not unknown:
            return prompt, []
        substitute = replace_with if replace_with and replace_with in self._index else ""
        cleaned = "".join(c if c in self._index else substitute for c in prompt)
        return cleaned, unknown

    def to_json(self) -> str:
        return json.dumps({"chars": self.chars}, ensure_ascii=False)

    @classmethod
    def from_json(cls, data: str) -> Vocabulary:
        try:
            obj = json.loads(data)
            chars = obj["chars"]
        except (ValueError, KeyError, TypeError, RecursionError):
            raise CorpusError("The vocabulary file is not valid JSON with a 'chars' list.") from None
        if not isinstance(chars, list) or not all(isinstance(c, str) for c in chars):
            raise CorpusError("The vocabulary file must list characters as strings.")
        if len(chars) > MAX_VOCAB:  # the cap training applies; checked before anything is built from it
            raise CorpusError(f"The vocabulary lists {len(chars):,} characters; a model learns at most {MAX_VOCAB:,}.")
        return cls(chars)


@dataclass(frozen=True)
class Corpus:
    """A decoded training text and where it came from (shown in the app and saved with a run)."""

    text: str
    name: str
    source: str  # "builtin", "files" or "paste"
    warnings: tuple[str, ...] = ()
