"""Small pure helpers for the corpus page (no Streamlit, no TensorFlow), kept next to the UI that uses them."""

from __future__ import annotations

from dataclasses import dataclass

from charlstm.config import TrainConfig
from charlstm.data import train_length, window_count
from charlstm.errors import CorpusError
from charlstm.text import Corpus, decode_bytes, join_texts, size_text

# All files of one upload together. Streamlit holds uploads in the server's memory for the session, and the
# decoded text takes up to 4 bytes a character more; the per-file limit alone allows any number of 50 MB files.
MAX_UPLOAD_TOTAL_BYTES = 100_000_000
MAX_PASTE_CHARS = 2_000_000  # the browser stops the paste box here: a longer text is better uploaded as a file


def upload_limits(per_file_mb: int) -> str:
    """The upload rules in words, for the upload box."""
    return f"Up to {per_file_mb} MB per file and {size_text(MAX_UPLOAD_TOTAL_BYTES)} in all."


def training_sequences(n_chars: int, config: TrainConfig) -> int:
    """How many training sequences `config` makes from a text of `n_chars` characters.

    The held-out tail is cut off as `charlstm.data.split_ids` does (without building the ids).
    """
    if config.max_chars:
        n_chars = min(n_chars, config.max_chars)
    return window_count(train_length(n_chars, config.val_fraction), config)


def _too_much(count: int, total: int) -> str:
    return (
        f"These {count} files are {size_text(total)} together; the studio takes at most "
        f"{size_text(MAX_UPLOAD_TOTAL_BYTES)} of text at once. Upload fewer or smaller files (the text in use "
        "has not changed)."
    )


@dataclass(frozen=True)
class Uploaded:
    """The result of reading some uploaded files: a corpus from the good ones, a message per bad one."""

    corpus: Corpus | None
    errors: tuple[str, ...]
    warnings: tuple[str, ...]


def corpus_from_files(files: list[tuple[str, bytes]]) -> Uploaded:
    """Decode every file; bad ones are reported by name and left out, good ones become one corpus.

    Files over MAX_UPLOAD_TOTAL_BYTES together are refused as a whole, before any is decoded.
    """
    total = sum(len(data) for _, data in files)
    if total > MAX_UPLOAD_TOTAL_BYTES:
        return Uploaded(None, (_too_much(len(files), total),), ())
    texts, names, errors, warnings = [], [], [], []
    for name, data in files:
        try:
            decoded = decode_bytes(data, name=name)
        except CorpusError as exc:
            errors.append(str(exc))
            continue
        if not decoded.text.strip():
            errors.append(f"{name} is empty (or only spaces and line breaks). Choose a file with text in it.")
            continue
        texts.append(decoded.text)
        names.append(name)
        warnings.extend(decoded.warnings)
    if not texts:
        return Uploaded(None, tuple(errors), tuple(warnings))
    corpus = Corpus(join_texts(texts), " + ".join(names), "files", tuple(warnings))
    return Uploaded(corpus, tuple(errors), tuple(warnings))
