"""Choosing a model on a page that reads with it (Inside the LSTM, the guessing game), and the text it learned.

Generate has its own picker (it describes each model's score and state); these pages only need the model.
"""

from __future__ import annotations

import streamlit as st

from charlstm.errors import CharlstmError
from charlstm.generate import Generator
from charlstm.run import Run

from . import state, widgets


def model_text(run: Run, model_id: str) -> str | None:
    """The model's training text: its own, or the built-in text of a ready-made model."""
    own = run.text()
    if own is not None:
        return own
    card = next((s.card for s in state.starter_models() if s.ref == model_id), {})
    builtin = card.get("text")
    if builtin == "python-docs" or (builtin == "nietzsche" and state.default_builtin() == "nietzsche"):
        return state.builtin_corpus(builtin).text  # never a download here: that would need Keras
    return None


def choose_model(key: str, none_yet: str) -> tuple[str, Run, Generator] | None:
    """Your models (newest first), then the ready-made ones; the one Generate uses is picked first."""
    own = state.usable_runs()
    starters = {s.ref: s.title for s in state.starter_models()}
    names = {r.path.name: r.name for r in own} | starters
    if not names:
        st.info(none_yet)
        return None
    if st.session_state.get(key) not in names:
        st.session_state[key] = state.playground_default([r.path.name for r in own], list(starters))
    model_id = st.selectbox(
        "Model",
        list(names),
        key=key,
        format_func=names.__getitem__,
        help="Your models first, then the ready-made ones.",
    )
    if model_id is None:
        return None
    try:
        run = state.model_run(model_id)
        return model_id, run, state.generator(model_id)
    except CharlstmError as exc:
        st.error(f"This model cannot be used: {widgets.md(exc)}")
        return None
