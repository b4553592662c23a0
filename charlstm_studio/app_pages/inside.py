"""Inside the LSTM: which cells of the network follow quotes, brackets, the line, the words.

Widget keys (for tests and the browser suite):
    inside_model    selectbox      which model (the same list as the playground)
    inside_source   radio          a slice of the model's text / a text it writes / your own text
    inside_start    slider         where the slice starts (the held-out end of the text by default)
    inside_length   slider         how many characters to look at
    inside_typed    text_area      your own text
    inside_cell     selectbox      the cell that colours the text (the best-ranked one first)
    inside_span     slider         a stretch of the text: which cells are on over it, and where else they are

Everything here is NumPy over the generator's own step (charlstm.inside); no TensorFlow in the server.
"""

import numpy as np
import streamlit as st

from charlstm import inside
from charlstm.charts import activation_html, activation_legend_html, cell_heatmap, cell_ranking_chart
from charlstm.errors import CharlstmError
from charlstm.generate import Generator, Trace
from charlstm.run import Run
from charlstm_studio.ui import state, widgets

SOURCES = ("A slice of its training text", "A text it writes", "Your own text")
HEATMAP_CHARS, HEATMAP_CELLS, SEARCH_CHARS = 300, 12, 6000
DEFAULT_TEXT = 'He said: "The (old) rules are gone." Then he left.\nNobody followed him (not even the dog).'


@st.cache_data(show_spinner="Reading the text through the network…", max_entries=16)
def trace_of(model_id: str, mtime: float, text: str) -> Trace:
    """h and c after every character (cached per model, its weights' time, and text)."""
    return state.generator(model_id).trace(text)


def traced(model_id: str, run: Run, text: str) -> Trace:
    return trace_of(model_id, run.weights_mtime(), text)


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


def choose_model() -> tuple[str, Run, Generator] | None:
    own = state.usable_runs()
    starters = {s.ref: s.title for s in state.starter_models()}
    names = {r.path.name: r.name for r in own} | starters
    if not names:
        st.info("There is no model to look inside yet. Train one on the Train page.")
        return None
    if st.session_state.get("inside_model") not in names:
        st.session_state["inside_model"] = state.playground_default([r.path.name for r in own], list(starters))
    model_id = st.selectbox("Model", list(names), key="inside_model", format_func=names.get)
    try:
        run = state.model_run(model_id)
        return model_id, run, state.generator(model_id)
    except CharlstmError as exc:
        st.error(f"This model cannot be used: {widgets.md(exc)}")
        return None


def choose_text(model_id: str, gen: Generator, corpus: str | None) -> tuple[str, str | None]:
    """The text to look at, and the text to search for other matches (the model's own, when known)."""
    options = SOURCES if corpus else SOURCES[1:]
    if st.session_state.get("_inside_model_seen") != model_id:  # another model: start from its own text again
        st.session_state["_inside_model_seen"] = model_id
        st.session_state["inside_source"] = options[0]
    source = st.radio("Text", options, key="inside_source", horizontal=True)
    if source == SOURCES[0]:
        held_out = int(len(corpus) * (1 - gen.config.val_fraction))
        length = st.slider("Characters", 200, 2000, 600, step=100, key="inside_length")
        last = max(0, len(corpus) - length)
        start = st.slider("Start at character", 0, last, min(held_out, last), key="inside_start")
        st.caption("By default the slice comes from the end of the text that training held out (never trained on).")
        return corpus[start : start + length], corpus[held_out : held_out + SEARCH_CHARS]
    if source == SOURCES[1]:
        length = st.slider("Characters", 200, 2000, 600, step=100, key="inside_length")
        return gen.generate("\n", [0.5], length, seed=1)[0].text, corpus and corpus[-SEARCH_CHARS:]
    typed = st.text_area("Your text", key="inside_typed", value=DEFAULT_TEXT, height=100, max_chars=5000)
    return typed, corpus and corpus[-SEARCH_CHARS:]


def ranking(acts: np.ndarray, text: str) -> list[inside.CellMatch]:
    st.subheader("Cells worth a look")
    st.caption(
        "Each cell is compared with simple properties of the text (inside quotes, inside brackets, position in the "
        "line, start of a word, after a full stop, upper case, digits...). r near +1 or -1: it follows closely."
    )
    ranked = inside.rank_cells(acts, text, top=8)
    st.altair_chart(cell_ranking_chart(ranked), width="stretch")
    for match in ranked[:5]:
        st.markdown(f"- {widgets.md(match.sentence)}")
    return ranked


def one_cell(acts: np.ndarray, text: str, ranked: list[inside.CellMatch]) -> int:
    st.subheader("The text, coloured by one cell")
    order = [m.cell for m in ranked] + [c for c in range(acts.shape[1]) if c not in {m.cell for m in ranked}]
    labels = {m.cell: f"cell {m.cell}: {m.label} (r = {m.r:+.2f})" for m in ranked}
    if st.session_state.get("inside_cell") not in order:
        st.session_state["inside_cell"] = order[0]
    cell = st.selectbox("Cell", order, key="inside_cell", format_func=lambda c: labels.get(c, f"cell {c}"))
    st.html(activation_html(text, acts[:, cell]))
    st.html(activation_legend_html())
    cells = list(dict.fromkeys([cell, *[m.cell for m in ranked], *inside.cells_by_spread(acts)]))[:HEATMAP_CELLS]
    st.altair_chart(cell_heatmap(acts[:HEATMAP_CHARS], text[:HEATMAP_CHARS], cells), width="stretch")
    st.caption(f"The first {min(len(text), HEATMAP_CHARS)} characters; hover to see each character and value.")
    return cell


def select_span(acts: np.ndarray, text: str, search: tuple[np.ndarray, str, str]) -> None:
    """LSTMVis's idea: pick a stretch, keep the cells high over it and low around it, find them elsewhere."""
    st.subheader("Select a stretch of text, find its cells")
    if len(text) < 4:
        return
    default = (min(5, len(text) - 2), min(15, len(text) - 1))
    start, end = st.slider("Characters", 0, len(text), default, key="inside_span")
    st.code(text[start:end] or " ", language=None, wrap_lines=True)
    found = inside.span_cells(acts, start, end)
    if not found:
        st.info("No cell is on over all of this stretch and lower around it. Try a shorter or another stretch.")
        return
    for c in found:
        st.markdown(f"- cell {c.cell}: {c.inside:+.2f} over the stretch, {c.around:+.2f} around it")
    cells = [c.cell for c in found[:3]]
    search_acts, search_text, where = search
    runs = inside.matches(search_acts, cells)[:8]
    st.markdown(f"**Where else cells {', '.join(map(str, cells))} are on together in {where}**")
    if not runs:
        st.caption("Nowhere else: this pattern is rare.")
    for s, e in runs:
        a, b = max(0, s - 30), min(len(search_text), e + 30)
        st.html(activation_html(search_text[a:b], search_acts[a:b, cells[0]], marks=[(s - a, e - a)]))


def page() -> None:
    st.title("Inside the LSTM")
    st.caption(
        "Each of the network's cells holds one number that changes as it reads. A few of them learn something you "
        "can name: whether a quote is open, how long the line is. Red: high, blue: low."
    )
    chosen = choose_model()
    if chosen is None:
        return
    model_id, run, gen = chosen
    corpus = model_text(run, model_id)
    text, search_text = choose_text(model_id, gen, corpus)
    if len(text.strip()) < 2:
        st.info("Give the model a text of at least a few characters to read.")
        return
    trace = traced(model_id, run, text)
    acts = inside.activations(trace, gen.config.cell)
    ranked = ranking(acts, trace.text)
    one_cell(acts, trace.text, ranked)
    if search_text:
        search_trace = traced(model_id, run, search_text)
        search = (inside.activations(search_trace, gen.config.cell), search_trace.text, "the model's text")
    else:
        search = (acts, trace.text, "this text")
    select_span(acts, trace.text, search)


page()
