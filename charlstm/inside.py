"""Looking inside the LSTM: which cells follow which property of the text. Pure NumPy.

Two ideas from the literature, made small:
- Karpathy, Johnson & Fei-Fei (2015): some cells track quotes, brackets, the position in the line. We
  compute simple properties of the text (a small state machine per character) and rank every cell by how
  well its activation follows one of them (Pearson's r over the text).
- LSTMVis (Strobelt et al., 2018): select a span, keep the cells that are high over it and low around it,
  then find other places where those same cells are high together. Here a person types a few words (or
  picks a suggested stretch) instead of dragging a range, and a cell counts when it is clearly higher over
  the stretch than over the rest of the text: many cells are on almost everywhere, and "on over the span"
  alone would pick those and then find them "everywhere else" too.

The activation shown is tanh(c) of the last layer for an LSTM (the cell state squashed to -1..1, as in the
paper) and h for a GRU (which has no separate cell state).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Sequence
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


# What a cell that follows each property keeps track of, where the property holds, and where it does not:
# the words of a sentence like "Cell 17 follows whether a quote is open: it is high inside quotes and low outside".
PLAIN_WORDS: dict[str, tuple[str, str, str]] = {
    "quotes": ("whether a quote is open", "inside quotes", "outside"),
    "brackets": ("whether a bracket is open", "inside brackets", "outside"),
    "line": ("how far along the line it is", "late in a line", "near its start"),
    "word": ("how far into a word it is", "late in a long word", "near a word's start"),
    "word_start": ("where words start", "on a word's first letter", "elsewhere"),
    "sentence": ("where sentences end", "after . ! or ? until the next word", "elsewhere"),
    "space": ("spaces", "on spaces and line breaks", "on other characters"),
    "upper": ("capital letters", "on capitals", "on other characters"),
    "digit": ("digits", "on digits", "on other characters"),
    "punct": ("punctuation", "on punctuation marks", "on letters and spaces"),
}


@dataclass(frozen=True)
class Property:
    """A simple property of the text, named in plain words (see PLAIN_WORDS) for someone new to statistics."""

    key: str
    label: str
    compute: Callable[[str], np.ndarray]
    needs_memory: bool = False  # True when it depends on earlier characters, not only on the one just read

    @property
    def what(self) -> str:
        return PLAIN_WORDS[self.key][0]

    @property
    def high(self) -> str:
        return PLAIN_WORDS[self.key][1]

    @property
    def low(self) -> str:
        return PLAIN_WORDS[self.key][2]


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
        """The match in one word: |r| >= 0.7 close, >= 0.5 good, >= 0.3 rough, else weak."""
        size = abs(self.r)
        return "close" if size >= 0.7 else "good" if size >= 0.5 else "rough" if size >= 0.3 else "weak"

    @property
    def short(self) -> str:
        """What the cell keeps track of, e.g. 'follows whether a quote is open' (for a list of cells)."""
        prop = PROPERTY_BY_KEY[self.key]
        return f"{'follows' if prop.needs_memory else 'reacts to'} {prop.what}"

    @property
    def sentence(self) -> str:
        """Plain words, no statistics: 'Cell 17 follows whether a quote is open: it is high inside quotes and
        low outside (a close match)'. The number behind it is in `detail`."""
        prop = PROPERTY_BY_KEY[self.key]
        first, second = ("high", "low") if self.r > 0 else ("low", "high")
        where = f"it is {first} {prop.high} and {second} {prop.low}"
        return f"Cell {self.cell} {self.short}: {where} (a {self.strength} match)"

    @property
    def detail(self) -> str:
        """The statistic for those who want it: 'cell 17 and inside quotes: r = +0.82'."""
        return f"cell {self.cell} and {self.label}: r = {self.r:+.2f}"


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


# --- LSTMVis: pick a stretch, find its cells, find where else they fire ---------------------------------
MAX_STRETCH = 80  # characters a person may type to pick a stretch: a few words, not a paragraph
_QUOTE_CLASSES = {'"': '["“”]', "“": '["“”]', "”": '["“”]', "'": "['‘’]", "‘": "['‘’]", "’": "['‘’]"}
_SHOWN_SPACES = str.maketrans({"⏎": " ", "␣": " ", "⇥": " "})  # symbols the page draws for invisible characters


def _query_pattern(query: str) -> re.Pattern[str] | None:
    """A regex for typed words: any run of spaces or line breaks matches any other, straight and curly quotes
    match each other, and case is ignored. Words copied from the coloured text (with ⏎ for a line break) work."""
    words = query.translate(_SHOWN_SPACES).split()
    if not words:
        return None
    parts = ["".join(_QUOTE_CLASSES.get(ch, re.escape(ch)) for ch in word) for word in words]
    return re.compile(r"\s+".join(parts), re.IGNORECASE)


def find_stretch(text: str, query: str) -> tuple[int, int] | None:
    """(start, end) of the first place the typed words occur in the text, or None.

    Typing is how a person picks a stretch on any screen (a range slider over hundreds of characters took
    24 key presses for one sentence); so case and the kind of white space between words do not matter.
    """
    pattern = _query_pattern(query)
    found = pattern.search(text) if pattern else None
    return (found.start(), found.end()) if found else None


def closest_stretch(text: str, query: str, cutoff: float = 0.6) -> tuple[int, int] | None:
    """The stretch of the text that looks most like words that are not in it (a typo, another spelling).

    Compares the query with a window of its own length at every word start (difflib's ratio, case and
    white space ignored); None when nothing is at least `cutoff` alike.
    """
    wanted = " ".join(query.translate(_SHOWN_SPACES).lower().split())
    flat = re.sub(r"\s", " ", text.lower())  # the same length as the text, so positions carry over
    if not wanted:
        return None
    matcher = difflib.SequenceMatcher(autojunk=False)
    matcher.set_seq2(wanted)
    best, where = cutoff, None
    for word in re.finditer(r"\S+", flat):
        start = word.start()
        matcher.set_seq1(flat[start : start + len(wanted)])
        if matcher.real_quick_ratio() > best and matcher.quick_ratio() > best and matcher.ratio() > best:
            best, where = matcher.ratio(), start
    return None if where is None else _whole_words(flat, where, where + len(wanted))


def _whole_words(flat: str, start: int, end: int) -> tuple[int, int]:
    """Widen the end to the end of its word and drop trailing spaces, so the offer reads as words."""
    end = min(end, len(flat))
    while end < len(flat) and flat[end] != " " and end - start < MAX_STRETCH:
        end += 1
    return start, len(flat[start:end].rstrip()) + start


@dataclass(frozen=True)
class Suggestion:
    """A stretch offered with one click: what it is ('a quote'), where, and the words that find it again."""

    kind: str
    start: int
    end: int
    query: str


SUGGESTIONS: tuple[tuple[str, str], ...] = (
    ("a quote", r'["“][^"“”]{1,60}["”]'),
    ("a bracket", r"[(\[{][^()\[\]{}]{1,60}[)\]}]"),
    ("a line end", r"\w{1,20}[^\w\n]{0,3}\n[ \t]*\w{1,20}"),
    ("a long word", r"\b[^\W\d_]{9,30}\b"),
)


def suggested_stretches(text: str) -> list[Suggestion]:
    """One stretch of each kind the text has (the first quote, bracket, line end and long word).

    Those are the places where memory cells show best (Karpathy et al. found quote and bracket cells).
    Each suggestion's words lead `find_stretch` back to exactly that place; one that would land on an
    earlier copy of the same words is left out.
    """
    found = []
    for kind, pattern in SUGGESTIONS:
        match = re.search(pattern, text)
        if match is None:
            continue
        query = " ".join(match.group().split())
        if find_stretch(text, query) == (match.start(), match.end()):
            found.append(Suggestion(kind, match.start(), match.end(), query))
    return found


@dataclass(frozen=True)
class SpanCell:
    """A cell that is higher over a stretch than over the rest of the text."""

    cell: int
    inside: float  # mean activation over the stretch
    outside: float  # mean activation over the rest of the text

    @property
    def contrast(self) -> float:
        return self.inside - self.outside

    @property
    def level(self) -> float:
        """Halfway between its two means: above it, the cell is about as high as over the stretch."""
        return (self.inside + self.outside) / 2

    @property
    def how_much(self) -> str:
        """The contrast in words (activations run from -1 to +1, so 0.8 is a large step)."""
        size = self.contrast
        return "much higher" if size >= 0.8 else "clearly higher" if size >= 0.5 else "a little higher"

    @property
    def sentence(self) -> str:
        return f"Cell {self.cell} is {self.how_much} on the stretch than in the rest of the text"


def span_cells(acts: np.ndarray, start: int, end: int, top: int = 5, min_contrast: float = 0.25) -> list[SpanCell]:
    """Cells that fire more over text[start:end] than over the rest of the text, largest difference first.

    Ranked by contrast (mean over the stretch minus mean elsewhere), not by being on: in a trained LSTM many
    cells are near +1 almost everywhere, so "on over the stretch" finds them for any stretch and then matches
    them everywhere. A cell whose contrast is below `min_contrast` is not returned at all.
    """
    n = acts.shape[0]
    start, end = max(0, start), min(n, end)
    if end <= start or end - start >= n:
        return []
    rest = np.ones(n, bool)
    rest[start:end] = False
    inside, outside = acts[start:end].mean(axis=0), acts[rest].mean(axis=0)
    contrast = inside - outside
    order = np.argsort(-contrast, kind="stable")[:top]
    return [SpanCell(int(c), float(inside[c]), float(outside[c])) for c in order if contrast[c] >= min_contrast]


def matches(
    acts: np.ndarray, cells: Sequence[int], levels: Sequence[float] | float | None = None, min_length: int = 2
) -> list[tuple[int, int]]:
    """Stretches (start, end) where every chosen cell is above its own level at once, longest first.

    `levels` are per cell (or one for all); by default a cell's mean plus one standard deviation over
    `acts`, i.e. unusually high for that cell. The page passes each span cell's `level`: about as high as
    over the stretch. A plain fixed threshold would match always-on cells everywhere.
    """
    if not len(cells) or acts.shape[0] == 0:
        return []
    chosen = acts[:, list(cells)]
    bar = chosen.mean(axis=0) + chosen.std(axis=0) if levels is None else np.asarray(levels, dtype=float)
    on = (chosen > bar).all(axis=1).astype(np.int8)
    edges = np.diff(np.r_[0, on, 0])
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    runs = [(int(s), int(e)) for s, e in zip(starts, ends, strict=True) if e - s >= min_length]
    return sorted(runs, key=lambda se: (se[0] - se[1], se[0]))


def cells_by_spread(acts: np.ndarray, top: int = 16) -> list[int]:
    """The cells that vary most over a text (for a heatmap when nothing else is chosen)."""
    return [int(c) for c in np.argsort(-acts.std(axis=0), kind="stable")[:top]]


# --- cell surgery: what to try on the cells the ranking found ----------------------------------------
@dataclass(frozen=True)
class SurgeryTry:
    """A suggested experiment: hold `cell` at `value` while the model writes after `prompt`, and see."""

    cell: int
    value: float  # 1 high, -1 low, 0 off
    prompt: str
    question: str  # what to look for, in plain words


# For a property: the prompt that opens it, what pinning the cell "as inside it" should do, and what
# switching it off should break. Properties without an entry get the generic try (switch it off).
_TRIES = {
    "quotes": ('He said: "', "Pin cell {cell} as if a quote were open: does it ever close the quote?"),
    "brackets": ("the result (", "Pin cell {cell} as if a bracket were open: does it ever close the bracket?"),
    "line": (None, "Switch off cell {cell}, which follows how far along the line it is: do lines still end?"),
    "sentence": (None, "Switch off cell {cell}, which follows where sentences end: do sentences still end?"),
    "word": (None, "Switch off cell {cell}, which follows how far into a word it is: do words still end?"),
}
PINNED_OPEN = ("quotes", "brackets")  # properties whose cell is pinned "as inside", not switched off


def surgery_tries(ranked: list[CellMatch], default_prompt: str, limit: int = 3) -> list[SurgeryTry]:
    """Experiments worth a click, from the cells the ranking found (the best match of each property first)."""
    tries, seen = [], set()
    for match in ranked:
        if match.key in seen or match.key not in _TRIES:
            continue
        seen.add(match.key)
        prompt, question = _TRIES[match.key]
        inside_sign = 1.0 if match.r > 0 else -1.0  # high inside quotes when r > 0, low when r < 0
        value = inside_sign if match.key in PINNED_OPEN else 0.0
        tries.append(SurgeryTry(match.cell, value, prompt or default_prompt, question.format(cell=match.cell)))
    return tries[:limit]


def first_difference(a: str, b: str) -> int | None:
    """Where two texts written from the same start first differ (None: they do not)."""
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return i
    return None if len(a) == len(b) else min(len(a), len(b))
