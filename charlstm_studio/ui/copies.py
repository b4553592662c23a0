"""Is it writing or reciting? The copy detector on the pages: which text a model trained on, indexed once.

A model's training text is its run's own text (the part before the held-out end, which it never trained on),
or, for a ready-made model, the built-in text it was made from. A model shared without its text has nothing
to compare with, and the pages then say nothing about copies. The index (`charlstm.copies`) is kept per
model, for a few models at a time: about two bytes a character of training text (docs/benchmarks.md, section 6).
"""

from __future__ import annotations

import streamlit as st

from charlstm import starters
from charlstm.copies import MIN_COPY, Copies, CopyIndex
from charlstm.corpora import BUILTINS, read_cached_nietzsche
from charlstm.data import train_length
from charlstm.errors import CharlstmError
from charlstm.run import EpochSamples, Run
from charlstm.text import prepare_text

from . import state

INDEXES_KEPT = 3  # models whose training-text index stays in memory (a 10 MB text takes 18 MB)


def _trained_text(model_id: str, run: Run) -> str | None:
    """The characters the model trained on, as it read them (lowercased for a lowercase model)."""
    config = run.config()
    if starters.is_ref(model_id):
        builtin = starters.get_starter(model_id).card.get("text")  # the built-in text it was made from
        if builtin not in BUILTINS or (builtin == "nietzsche" and read_cached_nietzsche() is None):
            return None  # a shared model without its text, or Nietzsche not downloaded here: nothing to compare
        text = prepare_text(state.builtin_corpus(builtin).text, config.lowercase)
    else:
        text = run.text()
        if text is None:
            return None
    if config.max_chars:
        text = text[: config.max_chars]
    return text[: train_length(len(text), config.val_fraction)]


@st.cache_resource(show_spinner="Reading its training text, to find what it copies…", max_entries=INDEXES_KEPT)
def _index(model_id: str, version: float, _run: Run) -> CopyIndex | None:
    """One model's index, rebuilt when its training text changes (a copy continued on a new text)."""
    text = _trained_text(model_id, _run)
    return CopyIndex.build(text) if text else None


def copies_in(model_id: str, generated: str, run: Run | None = None) -> Copies | None:
    """The stretches of `generated` found word for word in the model's training text; None if it has none here.

    `run` is the model's run when the page has it already (the Train page's own run)."""
    try:
        run = run or state.model_run(model_id)
        index = _index(model_id, run.text_version(), run)
    except CharlstmError:
        return None
    return None if index is None else index.find(generated)


@st.cache_data(show_spinner=False, max_entries=4096)
def _share(model_id: str, version: float, epoch: int, texts: tuple[str, ...], _run: Run) -> float | None:
    """The copied share of one epoch's samples together (cached: the Train page redraws every second)."""
    found = [copies_in(model_id, t, _run) for t in texts]
    if any(c is None for c in found) or not texts:
        return None
    return sum(c.copied_chars for c in found if c) / max(1, sum(c.length for c in found if c))


def copied_shares(run: Run, samples: list[EpochSamples]) -> list[tuple[int, float]]:
    """(epoch, share of its samples copied word for word from the training text), for the epochs it can tell."""
    version = run.text_version()
    out = []
    for entry in samples:
        share = _share(run.id, version, entry.epoch, tuple(t for _, t in entry.samples), run)
        if share is not None:
            out.append((entry.epoch, share))
    return out


def copy_words(copies: Copies) -> str:
    """One plain sentence: how much of the text is recited."""
    if not copies.stretches:
        return f"Nothing here is copied from its training text (no stretch of {MIN_COPY} or more characters)."
    n = len(copies.stretches)
    return (
        f"**{copies.copied_share:.0%} of this text is copied word for word from its training text** "
        f"({n} stretch{'es' if n != 1 else ''} of {MIN_COPY} or more characters, underlined in purple). "
        "A model that recites has memorised its text; a higher temperature or a bigger text makes it write more "
        "of its own."
    )
