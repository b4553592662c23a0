"""Looking inside the LSTM: which cells follow which property of the text. Pure NumPy.

Two ideas from the literature, made small:
- Karpathy, Johnson & Fei-Fei (2015): some cells track quotes, brackets, the position in the line. We
  compute simple properties of the text (a small state machine per character) and rank every cell by how
  well its activation follows one of them (Pearson's r over the text).
- LSTMVis (Strobelt et al., 2018): select a span, keep the cells that are high over it and low around it,
  then find other places where those same cells are high together.

The activation shown is tanh(c) of the last layer for an LSTM (the cell state squashed to -1..1, as in the
paper) and h for a GRU (which has no separate cell state).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .generate import Trace

SENTENCE_ENDS = ".!?"
OPEN_BRACKETS, CLOSE_BRACKETS = "([{", ")]}"
QUOTES = '"“”'


def activations(trace: Trace, cell: str = "lstm", layer: int = -1) -> np.ndarray:
    """(characters, units) in -1..1: tanh(c) for an LSTM, h for a GRU."""
    acts: np.ndarray = np.tanh(trace.c[layer]) if cell == "lstm" else trace.h[layer].copy()
    return acts


# --- properties of the text, one number per character (the state after reading it) --------------------
def inside_quotes(text: str) -> np.ndarray:
    """1 between an opening and a closing double quote (the quote marks included)."""
    out, inside = np.zeros(len(text)), False
    for t, ch in enumerate(text):
        if ch == "“" or (ch == '"' and not inside):
            inside = True
            out[t] = 1
        elif ch in '"”' and inside:
            out[t], inside = 1, False
        else:
            out[t] = inside
    return out


def inside_brackets(text: str) -> np.ndarray:
    """How deep inside ( [ { the text is: 0 outside, 1 inside one pair, 2 inside two..."""
    out, depth = np.zeros(len(text)), 0
    for t, ch in enumerate(text):
        if ch in OPEN_BRACKETS:
            depth += 1
        out[t] = depth
        if ch in CLOSE_BRACKETS:
            depth = max(0, depth - 1)
    return out


def line_position(text: str) -> np.ndarray:
    """Characters since the last line break."""
    out, pos = np.zeros(len(text)), 0
    for t, ch in enumerate(text):
        pos = 0 if ch == "\n" else pos + 1
        out[t] = pos
    return out


def word_position(text: str) -> np.ndarray:
    """Letters since the start of the current word (0 on spaces and punctuation)."""
    out, pos = np.zeros(len(text)), 0
    for t, ch in enumerate(text):
        pos = pos + 1 if ch.isalpha() else 0
        out[t] = pos
    return out


def word_start(text: str) -> np.ndarray:
    """1 on the first letter of a word."""
    return np.array([ch.isalpha() and (t == 0 or not text[t - 1].isalpha()) for t, ch in enumerate(text)], float)


def after_full_stop(text: str) -> np.ndarray:
    """1 from a sentence's end (. ! ?) until the next letter: where a new sentence is about to start."""
    out, waiting = np.zeros(len(text)), False
    for t, ch in enumerate(text):
        if ch in SENTENCE_ENDS:
            waiting = True
        elif ch.isalpha():
            waiting = False
        out[t] = waiting
    return out


def _is(predicate: Callable[[str], bool]) -> Callable[[str], np.ndarray]:
    return lambda text: np.fromiter((predicate(ch) for ch in text), float, len(text))


@dataclass(frozen=True)
class Property:
    """A simple property of the text, named in plain words."""

    key: str
    label: str
    compute: Callable[[str], np.ndarray]
    needs_memory: bool = False  # True when it depends on earlier characters, not only on the one just read


PROPERTIES: tuple[Property, ...] = (
    Property("quotes", "inside quotes", inside_quotes, needs_memory=True),
    Property("brackets", "inside brackets", inside_brackets, needs_memory=True),
    Property("line", "position in the line", line_position, needs_memory=True),
    Property("word", "position in the word", word_position, needs_memory=True),
    Property("word_start", "start of a word", word_start),
    Property("sentence", "after a full stop", after_full_stop, needs_memory=True),
    Property("space", "a space", _is(str.isspace)),
    Property("upper", "upper case", _is(str.isupper)),
    Property("digit", "a digit", _is(str.isdigit)),
    Property("punct", "punctuation", _is(lambda ch: not ch.isalnum() and not ch.isspace())),
)
PROPERTY_BY_KEY = {p.key: p for p in PROPERTIES}


def property_table(text: str) -> np.ndarray:
    """(characters, properties), in the order of PROPERTIES."""
    return np.stack([p.compute(text) for p in PROPERTIES], axis=1) if text else np.zeros((0, len(PROPERTIES)))


def correlations(acts: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Pearson's r of every cell with every property: (units, properties). Constant columns give 0."""
    a = acts - acts.mean(axis=0)
    f = table - table.mean(axis=0)
    a_norm = np.sqrt((a * a).sum(axis=0))
    f_norm = np.sqrt((f * f).sum(axis=0))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (a.T @ f) / np.outer(a_norm, f_norm)
    table_r: np.ndarray = np.nan_to_num(r, nan=0.0, posinf=0.0, neginf=0.0)
    return table_r


@dataclass(frozen=True)
class CellMatch:
    """One cell and the property it follows best over a text."""

    cell: int
    key: str
    label: str
    r: float

    @property
    def strength(self) -> str:
        """The match in words (|r| >= 0.5 strong, >= 0.3 clear, else weak)."""
        size = abs(self.r)
        return "strong" if size >= 0.5 else "clear" if size >= 0.3 else "weak"

    @property
    def sentence(self) -> str:
        """E.g. 'Cell 42 is high inside quotes (strong match, r = +0.61)'."""
        way = "high" if self.r > 0 else "low"
        return f"Cell {self.cell} is {way} {self._phrase()} ({self.strength} match, r = {self.r:+.2f})"

    def _phrase(self) -> str:
        if self.key in ("line", "word"):
            return f"late in {'the line' if self.key == 'line' else 'a word'}"
        if self.key in ("space", "digit", "upper", "punct"):
            return f"on {self.label}" if self.key != "upper" else "on upper-case letters"
        return f"at {self.label}" if self.key == "word_start" else self.label


def rank_cells(acts: np.ndarray, text: str, top: int = 10, min_count: int = 3) -> list[CellMatch]:
    """Cells ranked by their best |r| with any property; a property seen fewer than `min_count` times is skipped."""
    table = property_table(text)
    present = (table != 0).sum(axis=0) >= min_count
    r = correlations(acts, table) * present
    best = np.abs(r).argmax(axis=1)
    score = np.abs(r[np.arange(r.shape[0]), best])
    order = np.argsort(-score, kind="stable")[:top]
    return [CellMatch(int(c), PROPERTIES[best[c]].key, PROPERTIES[best[c]].label, float(r[c, best[c]])) for c in order]


def best_for(acts: np.ndarray, text: str, key: str) -> CellMatch:
    """The cell that follows one named property best (by |r|)."""
    index = [p.key for p in PROPERTIES].index(key)
    r = correlations(acts, PROPERTIES[index].compute(text)[:, None])[:, 0]
    cell = int(np.abs(r).argmax())
    return CellMatch(cell, key, PROPERTIES[index].label, float(r[cell]))


# --- LSTMVis: select a span, find its cells, find where else they fire -----------------------------------
@dataclass(frozen=True)
class SpanCell:
    cell: int
    inside: float  # mean activation over the span
    around: float  # mean activation in the context before and after

    @property
    def contrast(self) -> float:
        return self.inside - self.around


def span_cells(
    acts: np.ndarray, start: int, end: int, threshold: float = 0.3, context: int = 10, top: int = 5
) -> list[SpanCell]:
    """Cells that are on (above `threshold`) over all of text[start:end] and lower around it, best contrast first."""
    n = acts.shape[0]
    start, end = max(0, start), min(n, end)
    if end <= start:
        return []
    span = acts[start:end]
    around_idx = np.r_[max(0, start - context) : start, end : min(n, end + context)]
    around = acts[around_idx].mean(axis=0) if len(around_idx) else np.zeros(acts.shape[1])
    on = np.asarray((span > threshold).all(axis=0))
    contrast = span.mean(axis=0) - around
    cells = [int(c) for c in np.argsort(-contrast, kind="stable") if on[c] and contrast[c] > 0][:top]
    return [SpanCell(c, float(span[:, c].mean()), float(around[c])) for c in cells]


def matches(acts: np.ndarray, cells: list[int], threshold: float = 0.3, min_length: int = 2) -> list[tuple[int, int]]:
    """Stretches (start, end) where every chosen cell is above `threshold` at once, longest first."""
    if not cells or acts.shape[0] == 0:
        return []
    on = (acts[:, cells] > threshold).all(axis=1).astype(np.int8)
    edges = np.diff(np.r_[0, on, 0])
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    runs = [(int(s), int(e)) for s, e in zip(starts, ends, strict=True) if e - s >= min_length]
    return sorted(runs, key=lambda se: (se[0] - se[1], se[0]))


def cells_by_spread(acts: np.ndarray, top: int = 16) -> list[int]:
    """The cells that vary most over a text (for a heatmap when nothing else is chosen)."""
    return [int(c) for c in np.argsort(-acts.std(axis=0), kind="stable")[:top]]
