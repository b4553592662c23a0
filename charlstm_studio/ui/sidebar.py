"""The sidebar on every page: the current text, the current model, and this session's trainings."""

from __future__ import annotations

import streamlit as st

from charlstm.errors import CharlstmError
from charlstm.run import Run, Status

from . import pages, state, widgets

NO_MODEL = "None yet: train one, or pick one under Models."
STATE_ICONS = {
    "queued": ":material/hourglass_top:",
    "running": ":material/directions_run:",
}


def training_line(run: Run, status: Status) -> str:
    """One line about a training that runs or waits, for the sidebar."""
    if status.state == "queued":
        place = state.library().place(run.id)
        return f"waiting for a free trainer (number {place.position} in the queue)."
    progress = run.progress()
    if progress.state == "preparing":
        return "preparing the data…"
    return f"epoch {progress.epoch} · {progress.fraction:.0%}"


def model_name() -> str:
    """The playground's model, one of yours or a ready-made one."""
    model = state.model_in_use()
    try:
        return state.model_run(model).name if model else NO_MODEL
    except CharlstmError:
        return NO_MODEL


def show() -> None:
    """Current corpus, current model and this session's trainings."""
    with st.sidebar:
        corpus = state.corpus()
        st.markdown("**Text to train on**")  # not the text of the model below (a ready-made one has its own)
        st.caption(f"{widgets.md(widgets.corpus_title(corpus.name))} · {len(corpus.text):,} characters")
        st.markdown("**Model to play with**")
        st.caption(widgets.md(model_name()))
        active = bool(state.my_active_runs())

        @st.fragment(run_every=2.0 if active else None)
        def trainings() -> None:
            shown = state.my_active_runs()
            if not shown:
                return
            st.markdown("**Training**")
            for run, status in shown[:3]:
                icon = STATE_ICONS.get(status.state, ":material/radio_button_unchecked:")
                st.caption(f"{icon} {widgets.md(run.name)}: {widgets.md(training_line(run, status))}")
            st.page_link(pages.TRAIN, label="Open the Train page", icon=":material/monitoring:")

        trainings()
        if state.signed_in():
            st.button("Sign out", on_click=st.logout, key="sign_out")
        state.remember_browser()
