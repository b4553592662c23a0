"""Inside the LSTM: which cells of the network follow quotes, brackets, the line, the words.

Written for a teacher or a curious person, not a programmer: every label says what it shows in plain words,
each term (cell, activation, held-out text) is explained where it first appears, and statistics (r) stay in
an expander for those who want them.

Widget keys (for tests and the browser suite):
    inside_model        selectbox   which model (the same list as the playground)
    inside_moment       select_slider  the model as it was at one moment of its training (your models)
    inside_source       radio       a slice of the model's text / a text it writes / your own text
    inside_start        slider      where the slice starts (the held-out end of the text by default)
    inside_length       slider      how many characters to look at
    inside_typed        text_area   your own text
    inside_cell         selectbox   the cell that colours the text (the best-ranked one first)
    inside_text         component   the coloured text; selecting characters in it picks the stretch
    inside_find         text_input  a few words of the text: the stretch whose cells are found
    inside_suggest_<i>  button      one click fills inside_find with a suggested stretch (a quote, a bracket...)
    inside_closest      button      when the words are not in the text: use the closest words instead
    inside_cut_cell     selectbox   cell surgery: the cell to change (the coloured one first)
    inside_cut_how      radio       pin it high / pin it low / switch it off
    inside_cut_prompt   text_input  the start both texts continue
    inside_cut_try_<i>  button      one click sets up a suggested experiment
    inside_step_at      number_input  one step explained: the character whose step is shown (arrow keys step)
    inside_step_back    button        the character before
    inside_step_forward button        the character after

Everything here is NumPy over the generator's own step (charlstm.inside); no TensorFlow in the server.
"""

import numpy as np
import streamlit as st

from charlstm import inside
from charlstm.generate import Generator, Pin, Trace
from charlstm.run import Run
from charlstm_studio.ui import widgets
from charlstm_studio.ui.charts import (
    activation_html,
    activation_legend_html,
    cell_heatmap,
    cell_ranking_chart,
    difference_html,
)
from charlstm_studio.ui.model_picker import choose_model, model_text
from charlstm_studio.ui.selectable import selectable_html
from charlstm_studio.ui.step_explained import explained_step
from charlstm_studio.ui.timelapse import pick_moment

SOURCES = ("A slice of its training text", "A text it writes", "Your own text")
HEATMAP_CELLS, SEARCH_CHARS = 8, 6000
HEATMAP_BEFORE, HEATMAP_AFTER, HEATMAP_MAX = 8, 8, 36  # characters around a stretch in the chart
DEFAULT_TEXT = 'He said: "The (old) rules are gone." Then he left.\nNobody followed him (not even the dog).'
FIND = "inside_find"
PICKED = "_inside_picked"  # (start, end, hash of the text): the characters a person selected in the text

INTRO = (
    "The network reads text one character at a time. As it reads, it keeps a row of numbers in its "
    "memory: these are its **cells**. Each cell's number, its **activation**, moves between −1 (low, blue) "
    "and +1 (high, red) after every character. Most cells look like noise. A few learn something you can "
    "name, such as *a quote is open*. This page helps you find them."
)
HELD_OUT = (
    "The slice starts in the **held-out text**: the last part of the text, which the model never trained on. "
    "So what you see is what it learned, not what it memorised."
)
MEASURED = (
    "For each cell and each property, we compute a *correlation* (r) over the text. r = +1: the cell rises "
    "exactly when the property does. r = −1: it falls exactly then. r = 0: no link at all. We call it a close "
    "match beyond ±0.7, a good one beyond ±0.5, a rough one beyond ±0.3. The bars show r without its sign."
)


@st.cache_data(show_spinner="Reading the text through the network…", max_entries=16)
def trace_of(model_id: str, version: str, text: str, _gen: Generator) -> Trace:
    """h and c after every character (cached per model, its weights' version, and text)."""
    return _gen.trace(text)


def traced(model_id: str, run: Run, text: str, gen: Generator, moment: str) -> Trace:
    return trace_of(model_id, f"{run.weights_mtime()}/{moment}", text, gen)


def choose_text(model_id: str, gen: Generator, corpus: str | None) -> tuple[str, str | None, int | None]:
    """The text to look at, the text to search for other matches (the model's own, when known), and where the
    first sits in the second (so "where else" can leave out the stretch itself), if it does."""
    options = SOURCES if corpus else SOURCES[1:]
    if st.session_state.get("_inside_model_seen") != model_id:  # another model: start from its own text again
        st.session_state["_inside_model_seen"] = model_id
        st.session_state["inside_source"] = options[0]
    source = st.radio(
        "Text for it to read", options, key="inside_source", horizontal=True, help="We watch its cells as it reads."
    )
    if source == SOURCES[0] and corpus:
        return slice_of(corpus, gen)
    if source == SOURCES[1]:
        length = st.slider("How many characters", 200, 2000, 600, step=100, key="inside_length")
        return gen.generate("\n", [0.5], length, seed=1)[0].text, corpus and corpus[-SEARCH_CHARS:], None
    typed = st.text_area("Your text", key="inside_typed", value=DEFAULT_TEXT, height=100, max_chars=5000)
    return typed, corpus and corpus[-SEARCH_CHARS:], None


def slice_of(corpus: str, gen: Generator) -> tuple[str, str, int | None]:
    """A slice of the training text, from the held-out part by default; the held-out part is searched."""
    held_out = int(len(corpus) * (1 - gen.config.val_fraction))
    length = st.slider("How many characters", 200, 2000, 600, step=100, key="inside_length")
    last = max(0, len(corpus) - length)
    start = st.slider("Start at character number", 0, last, min(held_out, last), key="inside_start")
    where = f"Characters {start:,} to {start + length:,} of {len(corpus):,}. "  # the slider has no 1,000s commas
    if start >= held_out:
        st.caption(where + HELD_OUT)
    else:  # a short text's held-out part is shorter than the slice: say which part the model trained on
        trained = min(held_out, start + length) - start
        st.caption(
            f"{where}The first {trained:,} characters of this slice are text the model **trained on** (it may have "
            f"memorised them); the held-out text, which it never trained on, starts at character {held_out:,}."
        )
    offset = start - held_out if 0 <= start - held_out < SEARCH_CHARS else None
    return corpus[start : start + length], corpus[held_out : held_out + SEARCH_CHARS], offset


def ranking(acts: np.ndarray, text: str) -> list[inside.CellMatch]:
    """The cells that follow a nameable property of the text best, in sentences; r only in the expander."""
    st.subheader("Cells worth a look")
    st.caption(
        f"We compared each of the model's {acts.shape[1]} cells with simple things about the text: is a quote "
        "open, is a bracket open, how far along the line are we, is this a space, a capital, a digit. These cells "
        "follow one of them most closely."
    )
    ranked = inside.rank_cells(acts, text, top=8)
    st.altair_chart(cell_ranking_chart(ranked), width="stretch")
    for match in ranked[:5]:
        st.markdown(f"- {widgets.md(match.sentence)}")
    with st.expander("How is this measured?"):
        st.markdown(MEASURED)
        st.markdown("\n".join(f"- {widgets.md(m.detail)}" for m in ranked))
    return ranked


def one_cell(acts: np.ndarray, text: str, ranked: list[inside.CellMatch]) -> int:
    st.subheader("The text, coloured by one cell")
    order = [m.cell for m in ranked] + [c for c in range(acts.shape[1]) if c not in {m.cell for m in ranked}]
    labels = {m.cell: f"Cell {m.cell} · {m.short}" for m in ranked}
    if st.session_state.get("inside_cell") not in order:
        st.session_state["inside_cell"] = order[0]
    cell = st.selectbox(
        "Cell",
        order,
        key="inside_cell",
        format_func=lambda c: labels.get(c, f"Cell {c}"),
        help="The best-matching cells come first; any other cell is further down the list.",
    )
    selectable_html(activation_html(text, acts[:, cell]), key="inside_text", on_pick=lambda a, b: _pick(text, a, b))
    st.html(activation_legend_html())
    st.caption(
        "Each character is coloured by the cell's activation just after reading it. Hover (on a computer) to see the "
        "number; "
        "select a few characters (drag over them, or hold a finger on a phone) to find the cells that follow them."
    )
    return cell


def _pick(text: str, start: int, end: int) -> None:
    """The selection's callback: that exact stretch (a few words), shown in the stretch box too."""
    start, end = max(0, start), min(len(text), end, start + inside.MAX_STRETCH)
    if end - start < 1 or not text[start:end].strip():
        return
    st.session_state[PICKED] = (start, end, hash(text))
    st.session_state[FIND] = " ".join(text[start:end].split())


def _use_words(words: str) -> None:
    """A button's callback: put words in the stretch box (before it is drawn again)."""
    st.session_state[FIND] = words


def suggestion_buttons(suggestions: list[inside.Suggestion]) -> None:
    """One click per kind of stretch: phones need no typing, and quotes and brackets show memory cells best."""
    if not suggestions:
        return
    st.caption("Or try one of these:")
    with st.container(horizontal=True):
        for i, s in enumerate(suggestions):
            shown = s.query if len(s.query) <= 24 else s.query[:22] + "…"
            label = f"{s.kind}: {widgets.md(shown)}"
            st.button(label, key=f"inside_suggest_{i}", on_click=_use_words, args=(s.query,))


def choose_stretch(text: str) -> tuple[int, int] | None:
    """A stretch picked by typing a few of its words, or by one click on a suggestion."""
    st.subheader("Pick a stretch of text, find its cells")
    st.caption(
        "A stretch is a few characters in a row. We look for the cells that are clearly higher on it than in "
        "the rest of the text, then for other places where those cells are high."
    )
    suggestions = inside.suggested_stretches(text)
    default = suggestions[0].query if suggestions else " ".join(text.split()[:2])
    if st.session_state.get("_inside_find_text") != hash(text):  # a new text: keep typed words only if found
        st.session_state["_inside_find_text"] = hash(text)
        if inside.find_stretch(text, st.session_state.get(FIND, "")) is None:
            st.session_state[FIND] = default
    query = st.text_input(
        "Select a few characters in the text above, or type a few of its words",
        key=FIND,
        max_chars=inside.MAX_STRETCH,
        placeholder="for example: the first",
        help="Capital letters and line breaks do not matter. The first place the words appear is used.",
    )
    suggestion_buttons(suggestions)
    picked = st.session_state.get(PICKED)
    if picked and picked[2] == hash(text) and " ".join(text[picked[0] : picked[1]].split()) == query:
        return picked[0], picked[1]  # the very characters selected (the same words may come earlier too)
    return located(text, query or "")


def located(text: str, query: str) -> tuple[int, int] | None:
    """Where the words are; or a plain message, and the closest words to use instead."""
    if not query.strip():
        st.info("Select a few characters in the text above, type a few of its words, or click a suggestion.")
        return None
    found = inside.find_stretch(text, query)
    if found is not None:
        return found
    st.warning(f"“{widgets.md(query)}” is not in the text above. Copy a few words from it, or pick a suggestion.")
    closest = inside.closest_stretch(text, query)
    if closest is not None:
        words = " ".join(text[closest[0] : closest[1]].split())
        st.button(
            f"Use the closest words: “{widgets.md(words)}”", key="inside_closest", on_click=_use_words, args=(words,)
        )
    return None


def stretch_cells(
    acts: np.ndarray, text: str, stretch: tuple[int, int], ranked: list[inside.CellMatch]
) -> list[inside.SpanCell]:
    """The cells that fire more on the stretch, in sentences; their numbers only in an expander."""
    start, end = stretch
    found = inside.span_cells(acts, start, end)
    if not found:
        st.info("No cell is clearly higher on this stretch than in the rest of the text. Try another stretch.")
        return found
    what = {m.cell: m.short for m in ranked}
    st.markdown(f"**Cells that fire more on “{widgets.md(' '.join(text[start:end].split()))}”**")
    for c in found:
        also = f" It also {what[c.cell]}." if c.cell in what else ""
        st.markdown(f"- {widgets.md(c.sentence + '.' + also)}")  # one piece: a space at an edge would be lost
    with st.expander("The numbers behind this"):
        numbers = (f"- Cell {c.cell}: {c.inside:+.2f} on the stretch, {c.outside:+.2f} in the rest" for c in found)
        st.markdown("On average, from −1 to +1:\n" + "\n".join(numbers))
    return found


def stretch_heatmap(acts: np.ndarray, text: str, stretch: tuple[int, int], rows: list[int]) -> None:
    """The stretch and a few characters around it, every character and every cell named (fits a phone)."""
    start, end = stretch
    a = max(0, start - HEATMAP_BEFORE)
    b = min(len(text), max(end + HEATMAP_AFTER, a + 2 * HEATMAP_BEFORE), a + HEATMAP_MAX)
    rows = list(dict.fromkeys(rows))[:HEATMAP_CELLS]
    st.altair_chart(cell_heatmap(acts[a:b], text[a:b], rows, offset=a, stretch=(start - a, end - a)), width="stretch")
    st.caption("The stretch is in bold red, with a few characters around it. ␣ is a space, ⏎ a line break.")


def where_else(found: list[inside.SpanCell], search: tuple[np.ndarray, str, str], skip: tuple[int, int] | None) -> None:
    """LSTMVis's second step: other places where the stretch's cells are all about as high as on it."""
    top = found[:3]
    cells = [c.cell for c in top]
    search_acts, search_text, where = search
    runs = [r for r in inside.matches(search_acts, cells, [c.level for c in top]) if not _overlaps(r, skip)][:8]
    many = len(cells) > 1
    st.markdown(f"**Where else {'these cells are' if many else 'this cell is'} high**")
    st.caption(
        f"Places in {where} where {_cells_phrase(cells)} {'are all' if many else 'is'} about as high as on your "
        f"stretch. The place is underlined; the colours are cell {cells[0]}'s."
    )
    if not runs:
        st.caption("Nowhere else: this pattern is rare.")
    for s, e in runs:
        a, b = max(0, s - 30), min(len(search_text), e + 30)
        st.html(activation_html(search_text[a:b], search_acts[a:b, cells[0]], marks=[(s - a, e - a)]))


def _cells_phrase(cells: list[int]) -> str:
    """'cell 5' or 'cells 5, 9 and 12'."""
    if len(cells) == 1:
        return f"cell {cells[0]}"
    return f"cells {', '.join(map(str, cells[:-1]))} and {cells[-1]}"


def _overlaps(run: tuple[int, int], other: tuple[int, int] | None) -> bool:
    return other is not None and run[0] < other[1] and other[0] < run[1]


def search_space(
    model: tuple[str, Run, Generator, str],
    search_text: str | None,
    own: tuple[np.ndarray, str],
    offset: int | None,
) -> tuple[tuple[np.ndarray, str, str], int | None]:
    """Where "where else" looks: the model's held-out text when known, else the text on the page (at offset 0)."""
    model_id, run, gen, moment = model
    if not search_text:
        return (*own, "this text"), 0
    search_trace = traced(model_id, run, search_text, gen, moment)
    return (
        inside.activations(search_trace, gen.config.cell),
        search_trace.text,
        "the text it never trained on",
    ), offset


HOW = {"Pin it high": 1.0, "Pin it low": -1.0, "Switch it off": 0.0}
SURGERY_LENGTH, SURGERY_SEED, SURGERY_TEMPERATURE = 300, 1, 0.5


def _set_try(t: inside.SurgeryTry) -> None:
    """A suggestion's callback: its cell, what to do and its start, before the widgets are drawn again."""
    st.session_state["inside_cut_cell"] = t.cell
    st.session_state["inside_cut_how"] = next(k for k, v in HOW.items() if v == t.value)
    st.session_state["inside_cut_prompt"] = t.prompt


def surgery(gen: Generator, ranked: list[inside.CellMatch], cell: int, text: str) -> None:
    """Cell surgery: one cell held at one value while the model writes, beside the text written without it."""
    st.subheader("Cell surgery: change one cell while it writes")
    st.caption(
        "Hold one cell at one value at every step and compare what the model writes with and without the change: "
        "the same start and the same random numbers, so only the cell makes the difference."
    )
    default_prompt = " ".join(text.split()[:4]).lstrip("-–—,.;:!?)]} ") + " "
    tries = inside.surgery_tries(ranked, default_prompt)
    if tries:
        st.caption("Try one of these (it sets the cell, what to do and the start below):")
    for i, t in enumerate(tries):
        st.button(t.question, key=f"inside_cut_try_{i}", on_click=_set_try, args=(t,), icon=":material/science:")
    units = gen.config.units
    if st.session_state.get("inside_cut_cell") not in range(units):
        st.session_state["inside_cut_cell"] = cell
    c1, c2 = st.columns([1, 2])
    chosen = c1.selectbox("Cell", range(units), key="inside_cut_cell", format_func=lambda c: f"Cell {c}")
    how = c2.radio("What to do with it", list(HOW), key="inside_cut_how", horizontal=True)
    st.session_state.setdefault("inside_cut_prompt", default_prompt)  # set here, not as value=: a try sets it too
    prompt = st.text_input("Start of both texts", key="inside_cut_prompt", max_chars=200)
    cleaned, _ = gen.prepare_prompt(prompt)
    args = (cleaned, [SURGERY_TEMPERATURE], SURGERY_LENGTH)
    before = gen.generate(*args, seed=SURGERY_SEED)[0].text
    after = gen.pinned(Pin(int(chosen), HOW[how])).generate(*args, seed=SURGERY_SEED)[0].text
    differ = inside.first_difference(before, after)
    left, right = st.columns(2)
    with left:
        st.markdown("**Without the change**")
        st.html(difference_html(cleaned, before, differ))
    with right:
        st.markdown(f"**Cell {chosen}: {how}**")
        st.html(difference_html(cleaned, after, differ))
    st.caption(
        "The same text on both sides: this cell changes nothing the model writes here."
        if differ is None
        else f"The texts part after {differ} characters (marked): from there on, the change made the difference."
    )


def page() -> None:
    st.title("Inside the LSTM")
    st.markdown(INTRO)
    chosen = choose_model("inside_model", "There is no model to look inside yet. Train one on the Train page.")
    if chosen is None:
        return
    model_id, run, gen = chosen
    gen, moment = pick_moment(run, gen, key="inside_moment")
    corpus = model_text(run, model_id)
    text, search_text, offset = choose_text(model_id, gen, corpus)
    if len(text.strip()) < 2:
        st.info("Give the model a text of at least a few characters to read.")
        return
    trace = traced(model_id, run, text, gen, moment)
    acts = inside.activations(trace, gen.config.cell)
    ranked = ranking(acts, trace.text)
    cell = one_cell(acts, trace.text, ranked)
    stretch = choose_stretch(trace.text)
    if stretch is not None:
        found = stretch_cells(acts, trace.text, stretch, ranked)
        stretch_heatmap(acts, trace.text, stretch, [*(c.cell for c in found), cell, *(m.cell for m in ranked)])
        if found:
            search, offset = search_space((model_id, run, gen, moment), search_text, (acts, trace.text), offset)
            where_else(found, search, None if offset is None else (stretch[0] + offset, stretch[1] + offset))
    surgery(gen, ranked, cell, trace.text)
    cells = [cell, *(m.cell for m in ranked if m.cell != cell)]
    explained_step(gen, trace.text, cells, version=f"{model_id}/{run.weights_mtime()}/{moment}")


page()
