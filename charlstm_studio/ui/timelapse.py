"""How it learned: a scrubber over a run's time-lapse, shared by the Generate and Train pages.

Every point writes the same start with the same random numbers (`charlstm.timelapse`), so moving the
slider changes only how far the model had learned; the point is marked on the loss curve.
"""

from __future__ import annotations

import streamlit as st

from charlstm import timelapse
from charlstm.errors import CharlstmError
from charlstm.generate import Generator
from charlstm.run import MIN_SNAPSHOTS, Run

from . import widgets
from .charts import timelapse_chart

FRAME_LENGTH = 300  # characters each moment writes: enough to see words appear, quick for twenty snapshots


@st.cache_data(show_spinner=False, max_entries=256)
def _frame(_run: Run, run_dir: str, number: int, prompt: str, seed: int, temperature: float) -> str:
    """One moment's text (cached: scrubbing back and forth redraws at once). The key holds the run's folder
    (`_run` itself is not hashed), and only its owner's pages reach a run, through the library."""
    return timelapse.frame(_run, number, prompt, FRAME_LENGTH, seed, temperature)


def how_it_learned(run: Run, prompt: str, temperature: float, seed: int, key: str) -> None:
    """The scrubber, the text at the chosen moment and the moment on the loss curve; nothing for a run
    without a time-lapse (one trained before there were time-lapses, or imported without one)."""
    shots = run.snapshots()
    if len(shots) < MIN_SNAPSHOTS:
        return
    st.subheader("How it learned")
    st.caption(
        "The same start and the same random numbers, written by this model as it was at different moments of "
        "its training. Move the slider: the text grows from noise to words, and only what the model had "
        "learned by then changes."
    )
    chosen = st.select_slider(
        "Moment of its training",
        options=range(len(shots)),
        value=len(shots) - 1,
        format_func=lambda i: f"epoch {shots[i].at_epoch:.1f}",
        key=key,
    )
    try:
        text = _frame(run, str(run.path), shots[chosen].number, prompt, seed, temperature)
    except CharlstmError as exc:
        st.warning(f"That moment cannot be read: {widgets.md(exc)}")
        return
    widgets.text_block(prompt + text)
    st.altair_chart(timelapse_chart(run.history(), shots, chosen), width="stretch")


@st.cache_resource(show_spinner=False, max_entries=8)
def _snapshot_generator(run_dir: str, number: int, _run: Run) -> Generator:
    return Generator(_run.load_snapshot(number), _run.config(), _run.vocab())


def pick_moment(run: Run, gen: Generator, key: str) -> tuple[Generator, str]:
    """On Inside: the model as it was at one moment of its training (the model kept, by default), so a person
    can see when a cell appeared. Returns the generator and a name for caches ("" for the model kept)."""
    shots = run.snapshots()
    if len(shots) < MIN_SNAPSHOTS:
        return gen, ""
    kept = len(shots)  # the last option: the model kept, its best weights
    chosen = st.select_slider(
        "Moment of its training",
        options=range(kept + 1),
        value=kept,
        format_func=lambda i: "the model kept" if i == kept else f"epoch {shots[i].at_epoch:.1f}",
        key=key,
        help="Look inside the model as it was earlier in its training: when did a cell start to follow quotes?",
    )
    if chosen == kept:
        return gen, ""
    try:
        return _snapshot_generator(str(run.path), shots[chosen].number, run), f"snapshot {shots[chosen].number}"
    except CharlstmError as exc:
        st.warning(f"That moment cannot be read ({widgets.md(exc)}); the model kept is shown.")
        return gen, ""
