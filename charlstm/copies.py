"""Is it writing or reciting? Marks the stretches of a generated text found word for word in the training text.

A stretch is copied when it is at least `min_len` characters long (MIN_COPY = 20 by default) and occurs, exactly,
somewhere in the training text. `CopyIndex.build(text)` indexes the training text once (seconds for 100 MB);
`index.find(generated)` then marks every copied stretch of a generated text (milliseconds for 2,000 characters).

Give `build` the text the model actually trained on: for a model trained lowercase, the lowercased text (its samples
are lowercase too); comparisons are exact, character for character, in any script (code points, not bytes).

How it works, and why it finds every copy. Let k = `gram` (12 for min_len 20) and s = min_len - k + 1 (9). The index
holds a hash of the k characters starting at every s-th position of the training text (the "anchors"), sorted; that
is about 1/s of an entry per character. Any stretch of min_len characters of the training text, wherever it starts,
contains one anchor whose k characters lie wholly inside it (among any s consecutive positions one is a multiple of
s). So for every k-character piece of the generated text we look its hash up among the anchors, and for each anchor
found check, against the real characters, every min_len-window of the generated text that would put that anchor in
its first s positions. A hash collision can only add a candidate that fails this check: it never marks a non-copy.
The copied stretches are the union of the windows that pass.

The one limit: a k-character piece that starts very many anchors (more than MAX_CANDIDATES, e.g. twelve spaces in
indented text, or "of the same " in a big corpus) is checked against its first MAX_CANDIDATES anchors in the text
only. A copy is then missed only when every anchor inside it is that common and its true source is not among those
checked: in practice a short stock phrase; a copy of a passage repeated many times is still found (every place
checked is a source), and a longer copy almost always holds a rarer piece.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .errors import ConfigError

MIN_COPY = 20  # characters: shorter shared stretches are common phrases, not recitation
MIN_COPY_RANGE = (8, 1000)
MAX_CANDIDATES = 64  # anchors checked per k-character piece of the generated text (see the module docstring)
MAX_GRAM = 12
HASH_BITS = 32  # bits of each anchor's hash kept in the index; a test lowers it to force collisions
_CHUNK = 1 << 20  # anchors hashed at a time (bounds the memory of `build`), and candidates checked at a time
_BASE = np.uint64(0x100000001B3)
_MIX = np.uint64(0xFF51AFD7ED558CCD)


class Stretch(NamedTuple):
    """Characters [start, end) of the generated text are copied; its first min_len characters are at `source` in the
    training text (the whole stretch follows on from there when it was copied in one piece)."""

    start: int
    end: int
    source: int


@dataclass(frozen=True)
class Copies:
    """What `CopyIndex.find` found in one generated text."""

    stretches: tuple[Stretch, ...]  # in order, none overlapping or touching
    length: int  # characters in the generated text
    min_len: int

    @property
    def copied_chars(self) -> int:
        return sum(s.end - s.start for s in self.stretches)

    @property
    def copied_share(self) -> float:
        """The share of the generated text inside a copied stretch, from 0 to 1 (0 for an empty text)."""
        return self.copied_chars / self.length if self.length else 0.0

    def mask(self) -> np.ndarray:
        """One bool per character of the generated text: True where it is copied."""
        out = np.zeros(self.length, dtype=bool)
        for s in self.stretches:
            out[s.start : s.end] = True
        return out


def check_min_len(min_len) -> int:
    low, high = MIN_COPY_RANGE
    if isinstance(min_len, bool) or not isinstance(min_len, int | np.integer) or not low <= min_len <= high:
        raise ConfigError(
            f"A copy must be a whole number of characters from {low} to {high:,} long to be marked (got {min_len!r}); "
            f"{MIN_COPY} is a good start: shorter stretches are mostly common phrases."
        )
    return int(min_len)


def gram_for(min_len: int) -> tuple[int, int]:
    """(k, s): the length of an anchor's piece and the spacing of anchors, with k + s - 1 = min_len."""
    k = min(MAX_GRAM, min_len // 2 + 2)
    return k, min_len - k + 1


def codes(text: str) -> np.ndarray:
    """The code points of a text in the narrowest unsigned type that holds them, straight from one encoding."""
    try:
        return np.frombuffer(text.encode("latin-1"), dtype=np.uint8)
    except UnicodeEncodeError:
        pass
    utf16 = text.encode("utf-16-le", "surrogatepass")
    if len(utf16) == 2 * len(text):  # nothing beyond the Basic Multilingual Plane
        return np.frombuffer(utf16, dtype="<u2")
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")


def _hashes(pieces: np.ndarray) -> np.ndarray:
    """A HASH_BITS-bit hash of each row of code points (rows, k), as uint64: polynomial, then mixed."""
    h = np.zeros(len(pieces), dtype=np.uint64)
    for i in range(pieces.shape[1]):
        h *= _BASE
        h += pieces[:, i]
    h ^= h >> np.uint64(33)
    h *= _MIX
    h ^= h >> np.uint64(33)
    out: np.ndarray = h >> np.uint64(64 - HASH_BITS)
    return out


class CopyIndex:
    """Anchored k-character hashes of one training text; see the module docstring. Build it with `build`."""

    def __init__(self, text_codes: np.ndarray, min_len: int, hashes: np.ndarray, anchors: np.ndarray, cap: int):
        self.min_len = min_len
        self.gram, self.spacing = gram_for(min_len)
        self.max_candidates = cap
        self._text = text_codes
        self._hash = hashes  # sorted
        self._anchor = anchors  # anchor number (position // spacing), in text order within one hash

    @classmethod
    def build(cls, text: str, min_len: int = MIN_COPY, max_candidates: int = MAX_CANDIDATES) -> CopyIndex:
        """Index a training text: the text as it was trained on (lowercased for a lowercase model)."""
        min_len = check_min_len(min_len)
        k, s = gram_for(min_len)
        text_codes = codes(text)
        if len(text_codes) >= 2**32 * s:
            raise ConfigError("The training text is too long to search for copies (over 4 billion anchors).")
        count = (len(text_codes) - k) // s + 1 if len(text_codes) >= k else 0
        keys = np.empty(count, dtype=np.uint64)  # hash in the high 32 bits, anchor number in the low: one sort
        for first in range(0, count, _CHUNK):
            last = min(count, first + _CHUNK)
            pieces = np.lib.stride_tricks.sliding_window_view(text_codes[first * s : (last - 1) * s + k], k)[::s]
            keys[first:last] = (_hashes(pieces) << np.uint64(32)) | np.arange(first, last, dtype=np.uint64)
        keys.sort()
        anchors = keys.astype(np.uint32)  # the low 32 bits; in place below, so no second 8-byte array at the peak
        keys >>= np.uint64(32)
        return cls(text_codes, min_len, keys.astype(np.uint32), anchors, max_candidates)

    @property
    def nbytes(self) -> int:
        """Memory the index holds: the training text's code points and the sorted anchors."""
        return int(self._text.nbytes + self._hash.nbytes + self._anchor.nbytes)

    def __len__(self) -> int:
        """Characters in the training text."""
        return len(self._text)

    def find(self, generated: str) -> Copies:
        """Every stretch of `generated` of at least min_len characters found word for word in the training text."""
        g = codes(generated)
        n, k = len(g), self.gram
        window_count = n - self.min_len + 1
        if window_count <= 0 or not len(self._hash):
            return Copies((), n, self.min_len)
        found = np.full(window_count, -1, dtype=np.int64)  # per window start: a training position, or -1
        wanted = _hashes(np.lib.stride_tricks.sliding_window_view(g, k)).astype(np.uint32)
        lo = np.searchsorted(self._hash, wanted, side="left")
        limit = np.minimum(np.searchsorted(self._hash, wanted, side="right") - lo, self.max_candidates)
        checked = 0  # candidates checked so far per piece: 1, then 2, 4, ... more where a window is still open
        while checked < limit.max():
            upto = max(1, 2 * checked)
            take = np.clip(limit - checked, 0, upto - checked) * self._open(found)
            at = np.repeat(np.arange(len(take)), take)  # one row per (generated piece, anchor) candidate
            entry = np.repeat(lo + checked, take) + np.arange(len(at)) - np.repeat(np.cumsum(take) - take, take)
            for first in range(0, len(at), _CHUNK // 16):
                rows = slice(first, first + _CHUNK // 16)
                self._check(g, at[rows], self._anchor[entry[rows]].astype(np.int64) * self.spacing, found)
            checked = upto
        return Copies(_stretches(found, self.min_len), n, self.min_len)

    def _open(self, found: np.ndarray) -> np.ndarray:
        """Per piece of the generated text: 1 if a window it could still prove copied is not found yet, else 0."""
        s, last = self.spacing, len(found) - 1
        pieces = np.arange(last + s)  # piece j can prove the windows j - s + 1 .. j
        running = np.concatenate([[0], np.cumsum(found >= 0)])
        a, b = np.maximum(pieces - s + 1, 0), np.minimum(pieces, last)
        still_open: np.ndarray = (running[b + 1] - running[a]) < (b - a + 1)
        return still_open.astype(np.int64)

    def _check(self, g: np.ndarray, at: np.ndarray, anchor: np.ndarray, found: np.ndarray) -> None:
        """Against the real characters: for each candidate (generated piece at `at`, training anchor at `anchor`),
        the windows that put the anchor at their offset d = 0..s-1 and match throughout; record them in `found`."""
        s, size = self.spacing, self.min_len
        offsets = np.arange(-(s - 1), size)  # every character any of those windows covers, relative to the anchor
        gi, ti = at[:, None] + offsets, anchor[:, None] + offsets
        inside = (gi >= 0) & (gi < len(g)) & (ti >= 0) & (ti < len(self._text))
        same = inside & (g[np.clip(gi, 0, len(g) - 1)] == self._text[np.clip(ti, 0, len(self._text) - 1)])
        misses = np.zeros((len(at), len(offsets) + 1), dtype=np.int32)
        np.cumsum(~same, axis=1, out=misses[:, 1:])
        left = (s - 1) - np.arange(s)  # the column where the window with anchor offset d begins
        good = misses[:, left + size] == misses[:, left]
        row, d = np.nonzero(good)
        found[at[row] - d] = anchor[row] - d


def _stretches(found: np.ndarray, size: int) -> tuple[Stretch, ...]:
    """Merge the matching windows (found >= 0 at their start) into maximal stretches."""
    starts = found >= 0
    if not starts.any():
        return ()
    n = len(found) + size - 1
    running = np.concatenate([[0], np.cumsum(starts)])  # windows started up to each position
    pos = np.arange(n)
    covered = running[np.minimum(pos, len(found) - 1) + 1] - running[np.maximum(pos - size + 1, 0)] > 0
    edges = np.flatnonzero(np.diff(np.concatenate([[False], covered, [False]]).astype(np.int8)))
    return tuple(Stretch(int(a), int(b), int(found[a])) for a, b in zip(edges[::2], edges[1::2], strict=True))
