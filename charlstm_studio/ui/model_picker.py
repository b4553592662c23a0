"""Choosing a model on a page that reads with it (Inside the LSTM, the guessing game), and the text it learned.

Generate has its own picker (it describes each model's score and state); these pages only need the model.
Every picker names its model in the address (`?m=`), so that a copied link opens the same model, when the
browser that opens it may use it.
"""

from __future__ import annotations

from collections.abc import Collection

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


MODEL_PARAM = "m"  # the address names the model a page plays with


def follow_address(key: str, allowed: Collection[str]) -> None:
    """Once per session and picker: the model a copied link names, if this browser may use it; else say so.

    Someone else's model (or one deleted since) is never shown: the picker keeps its own choice.
    """
    done = f"_{key}_address_read"
    if st.session_state.get(done):
        return
    st.session_state[done] = True
    wanted = st.query_params.get(MODEL_PARAM)
    if wanted in allowed:
        st.session_state[key] = wanted
    elif MODEL_PARAM in st.query_params:
        state.not_yours_notice()


def show_in_address(model_id: str) -> None:
    if st.query_params.get(MODEL_PARAM) != model_id:
        st.query_params[MODEL_PARAM] = model_id


def choose_model(key: str, none_yet: str) -> tuple[str, Run, Generator] | None:
    """Your models (newest first), then the ready-made ones; the one Generate uses is picked first."""
    own = state.usable_runs()
    starters = {s.ref: s.title for s in state.starter_models()}
    names = {r.path.name: r.name for r in own} | starters
    follow_address(key, names)
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
    show_in_address(model_id)
    try:
        run = state.model_run(model_id)
        return model_id, run, state.generator(model_id)
    except CharlstmError as exc:
        st.error(f"This model cannot be used: {widgets.md(exc)}")
        return None
