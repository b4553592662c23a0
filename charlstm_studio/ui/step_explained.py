"""One step of the LSTM, explained with the real model (Inside the LSTM's last section).

The classic picture of an LSTM cell (colah, 2015) with this model's own numbers in it: at the character a
person picks, each cell keeps a share of its memory (the forget gate), writes a share of a new candidate
(the input gate), and shows a share of the result (the output gate). The numbers come from
`Generator.explain`, the generator's own step taken apart, tested against Keras's LSTM layer.
"""

from __future__ import annotations

import html

import numpy as np
import streamlit as st

from charlstm.errors import CharlstmError
from charlstm.generate import Generator

from .charts import activation_color, activation_html, char_label, char_symbol

AT = "inside_step_at"
SHOWN_CELLS = 4  # cells drawn as diagrams: the ones worth a look
GATES = (("forget", "kept"), ("input", "written"), ("output", "shown"))


@st.cache_data(show_spinner=False, max_entries=16)
def _explained(version: str, text: str, _gen: Generator) -> dict[str, np.ndarray]:
    return _gen.explain(text)


def _move(by: int, last: int) -> None:
    st.session_state[AT] = int(min(last, max(0, st.session_state.get(AT, 0) + by)))


def _box(label: str, value: float, share: bool = False) -> str:
    """A number in a coloured box: gates (shares, 0 to 1) in grey to red, values (-1 to 1) blue to red."""
    colour = activation_color(2 * value - 1 if share else value)
    number = f"{value:.2f}" if share else f"{value:+.2f}"  # a share is never negative: no sign
    return (
        f'<div style="display:inline-block; min-width:5.5em; margin:2px; padding:4px 6px; border-radius:6px; '
        f'background:{colour}; color:#111; text-align:center"><small>{label}</small><br><b>{number}</b></div>'
    )


def _cell_row(cell: int, step: dict[str, np.ndarray], t: int) -> str:
    """memory before -> x kept -> + written x candidate -> memory after -> x shown -> output, for one cell."""
    v = {name: float(values[t, cell]) for name, values in step.items() if name != "next"}
    arrow = '<span style="margin:0 4px">→</span>'
    return (
        f"<div style='margin:6px 0'><b>Cell {cell}</b><br>"
        + _box("memory before", v["c_before"])
        + arrow
        + _box("× kept (forget)", v["forget"], share=True)
        + '<span style="margin:0 4px">+</span>'
        + _box("written (input)", v["input"], share=True)
        + _box("× candidate", v["candidate"])
        + arrow
        + _box("memory after", v["c"])
        + arrow
        + _box("squashed to −1…1", float(np.tanh(v["c"])))
        + arrow
        + _box("× shown (output)", v["output"], share=True)
        + arrow
        + _box("its output", v["h"])
        + "</div>"
    )


def _strip(values: np.ndarray) -> str:
    """Every cell's value at this step as one row of small squares (shares mapped so 0.5 is white)."""
    squares = "".join(
        f'<span title="cell {k}: {v:.2f}" style="display:inline-block; width:7px; height:14px; '
        f'background:{activation_color(2 * v - 1)}"></span>'
        for k, v in enumerate(values)
    )
    return f'<div style="line-height:0; overflow-x:auto">{squares}</div>'


def explained_step(gen: Generator, text: str, cells: list[int], version: str) -> None:
    """The section: pick a character, see the step that reads it, cell by cell, then what comes out."""
    st.subheader("One step of the LSTM, explained")
    st.caption(
        "At every character each cell does three things with its memory: it **keeps** a share of it (the forget "
        "gate, 0 = forget all, 1 = keep all), **writes** a share of something new (the input gate times the "
        "candidate), and **shows** a share of the result to the next layer (the output gate). Its memory can "
        "grow well past 1; it is squashed into −1…+1 before the share is shown. Here are this model's real "
        "numbers at one character."
    )
    if gen.config.cell != "lstm":
        st.info("This model uses GRU cells, which have other gates; the step is explained for LSTM models.")
        return
    try:
        step = _explained(version, text, gen)
    except CharlstmError as exc:
        st.warning(f"The step cannot be shown: {exc}")
        return
    last = len(step["c"]) - 1
    st.session_state[AT] = int(min(last, max(0, st.session_state.get(AT, min(40, last)))))
    back, where, forward = st.columns([1, 3, 1], vertical_alignment="bottom")
    back.button("◀ back", key="inside_step_back", on_click=_move, args=(-1, last), width="stretch")
    where.number_input("Character number (on a computer, the arrow keys step too)", 0, last, key=AT)
    forward.button("forward ▶", key="inside_step_forward", on_click=_move, args=(1, last), width="stretch")
    t = int(st.session_state[AT])
    st.html(
        '<div style="font-family:monospace; white-space:pre-wrap">'
        + html.escape(text[max(0, t - 40) : t])
        + f'<b style="background:#ffd54f; padding:0 2px">{html.escape(char_symbol(text[t]))}</b>'
        + f'<span style="color:#999">{html.escape(text[t + 1 : t + 20])}</span></div>'
    )
    st.html("".join(_cell_row(c, step, t) for c in cells[:SHOWN_CELLS]))
    for gate, word in GATES:
        st.markdown(f"**{gate.capitalize()} gate of every cell** ({word}: blue 0, white 0.5, red 1)")
        st.html(_strip(step[gate][t]))
    nxt = step["next"][t]
    top = np.argsort(-nxt)[:5]
    guesses = ", ".join(f"“{char_label(gen.vocab.chars[int(i)])}” {nxt[i]:.0%}" for i in top)
    st.markdown(f"**What comes out**: the likeliest next characters after this step: {html.escape(guesses)}.")
    cell = cells[0]
    st.markdown(
        f"**Where does cell {cell} forget?** The text coloured by its forget gate: blue where it drops its memory "
        "(the gate near 0), red where it keeps it (near 1)."
    )
    st.html(activation_html(text, 2 * step["forget"][:, cell] - 1))
