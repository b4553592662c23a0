"""The benchmark corpus: the seed's Nietzsche text, lowercased, with its last 10% held out.

Looked for in $BENCH_NIETZSCHE, else $CHARLSTM_SHARED_DATA/nietzsche.txt (default ../shared/data), then in the
Keras cache through `charlstm.corpora.load_nietzsche` (which reads the cache and never downloads when the file
is there).
When neither has it, the Nietzsche-only sections are skipped with the reason below.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .common import ROOT

# BENCH_NIETZSCHE points at another copy (a path that does not exist simulates its absence); else the shared
# data folder, $CHARLSTM_SHARED_DATA as the tests read it (default ../shared/data)
SHARED_NIETZSCHE = Path(
    os.environ.get("BENCH_NIETZSCHE")
    or Path(os.environ.get("CHARLSTM_SHARED_DATA") or ROOT.parent / "shared" / "data") / "nietzsche.txt"
)
VAL_FRACTION = 0.1
NO_NIETZSCHE = (
    f"the Nietzsche corpus is not available: neither {SHARED_NIETZSCHE} nor the Keras cache "
    "($KERAS_HOME/datasets/nietzsche.txt) holds it. Download it once (Corpus page, or "
    "`python -m charlstm train --builtin nietzsche ...`) and run the benchmarks again."
)


@dataclass(frozen=True)
class BenchText:
    """The lowercased text every contender sees, and where the held-out tail starts."""

    text: str
    source: str

    @property
    def cut(self) -> int:
        """Same rule as `charlstm.data.split_ids`, so charlstm jobs hold out exactly this tail."""
        return len(self.text) - round(len(self.text) * VAL_FRACTION)

    @property
    def train(self) -> str:
        return self.text[: self.cut]

    @property
    def heldout(self) -> str:
        return self.text[self.cut :]


def shown_path(path: Path) -> str:
    """A path as the report writes it: relative to the checkout when beside it (../shared/...), never a machine's."""
    try:
        return os.path.relpath(path.resolve(), ROOT)
    except ValueError:  # another drive (Windows): no relative form
        return path.name


def nietzsche_bytes() -> tuple[bytes, str] | None:
    """The raw corpus and where it came from, or None when it is nowhere on this machine."""
    if SHARED_NIETZSCHE.is_file():
        return SHARED_NIETZSCHE.read_bytes(), shown_path(SHARED_NIETZSCHE)
    from charlstm.corpora import keras_cache_path, load_nietzsche, nietzsche_is_cached

    if nietzsche_is_cached():
        return load_nietzsche(), str(keras_cache_path("nietzsche.txt"))
    return None


def load_bench_text() -> BenchText | None:
    """Nietzsche decoded like charlstm does and lowercased like the seed did; None when absent."""
    from charlstm.text import decode_bytes

    found = nietzsche_bytes()
    if found is None:
        return None
    data, source = found
    return BenchText(decode_bytes(data, "nietzsche").text.lower(), source)


def scaled_text(n_chars: int, base: str | None = None) -> str:
    """Real text repeated to `n_chars` characters (Nietzsche, else Python's docstrings)."""
    if base is None:
        bench = load_bench_text()
        if bench is not None:
            base = bench.text
        else:
            from charlstm.corpora import load_python_docs

            base = load_python_docs().decode("utf-8").lower()
    reps, rest = divmod(n_chars, len(base))
    return "".join([base] * reps + [base[:rest]])  # one allocation: no second copy at the peak
