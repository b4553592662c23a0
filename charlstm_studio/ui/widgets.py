"""Widgets and texts the pages share: plain-word help, text display, kept widget values (the sidebar: sidebar.py)."""

from __future__ import annotations

import math
import re
import unicodedata

import streamlit as st

from . import state

HELP = {
    "temperature": (
        "**Temperature** is how adventurous the model is when it picks the next character. "
        "Low values (0.2) play safe: the likeliest characters, often repeating itself. "
        "1 is the model exactly as it learned. Above 1 it takes more risks: more surprises, more "
        "made-up words. 0 always takes the single likeliest character."
    ),
    "loss": (
        "**Loss** measures how surprised the model is by the real next character; it falls as the model "
        "learns. It is measured on the text the model trains on and on a held-out part it never trains "
        "on. If the held-out loss stops falling while the training loss keeps falling, the model has "
        "started to memorise instead of learning."
    ),
    "bpc": (
        "**Bits per character** is the loss in a unit you can picture: how many yes/no questions the "
        "model still needs, on average, to guess the next character. Blind guessing among 64 characters "
        "needs 6; a good model of English gets below 2. Lower is better."
    ),
    "seed": (
        "The **random seed** fixes the dice the model rolls for each character: the same seed and settings "
        "write the same text again. Change it (or press New sample) for another text."
    ),
    "epoch": "An **epoch** is one read through the whole training text.",
    "step": (
        "A **training step** reads a handful of pieces of your text at once (a batch), guesses every next "
        "character in them, and nudges the model's numbers towards better guesses. An epoch is many steps."
    ),
    "top_k": (
        "**Top-k** keeps only the k likeliest next characters and never picks the others. Try 3 with a high "
        "temperature: adventurous, but no more odd letters. 0 is off."
    ),
    "top_p": (
        "**Top-p** keeps only the likeliest next characters that together make up this share of the chance, "
        "so it keeps few when the model is sure and many when it is not. Try 0.9. 1 is off."
    ),
    "no_repeat": (
        "The **loop guard** never lets the text write N characters in a row that it already holds, which "
        'breaks loops like "the the the" at low temperatures. Try 8 with temperature 0.2. 0 is off.'
    ),
    "sequences": (
        "**Training sequences** are the pieces of the text the model practises on, one at a time: it reads "
        "each piece and guesses every next character."
    ),
}
TOOLTIP = {topic: text.replace("**", "") for topic, text in HELP.items()}  # a help= tooltip: plain text


_MARKDOWN_SPECIALS = re.compile(r"([\\`*_\[\]<>#|~$&])")
_LIST_START = re.compile(r"^(\d*)([-+.)])")  # "- x", "+ x", "1. x" at the start would make a list
# Streamlit also rewrites *text* after parsing: ":material/x:" icons, ":smile:" emoji, ":red[...]" colours,
# and bare "https://...", "www.x" and "a@b.c" become links. A word joiner (U+2060: invisible, no line break)
# where those begin keeps them from matching, and leaves a colon before a space as it is.
_TEXT_LEVEL = re.compile(r"(?<=[:@])(?=[\w/+-])|(?<=www)(?=\.)", re.IGNORECASE)
WORD_JOINER = "\u2060"


def md(text: object) -> str:
    """Text from users, files or bundles, made safe to show where Streamlit renders Markdown: it shows as text.

    Names and messages become one line (line breaks and other control characters are spaces), Markdown's
    special characters are escaped, and Streamlit's own text-level syntax is broken up invisibly. So
    `[link](...)`, `![image](...)`, `*`, `# heading`, `1. list`, `<tags>`, `&entities;`, `$math$`,
    `:emoji:`, bare URLs and line breaks all show as typed.
    """
    one_line = "".join(" " if unicodedata.category(ch) in ("Cc", "Cs", "Zl", "Zp") else ch for ch in str(text))
    escaped = _MARKDOWN_SPECIALS.sub(r"\\\1", _TEXT_LEVEL.sub(WORD_JOINER, one_line.strip()))
    return _LIST_START.sub(r"\1\\\2", escaped)


def help_box(*topics: str, title: str = "What do these words mean?") -> None:
    with st.expander(title, icon=":material/help:"):
        for topic in topics:
            st.markdown(HELP[topic])


def keep(key: str, default) -> str:
    """Let a widget keep its value when the user visits another page and comes back.

    Streamlit drops a widget's key when its page is not drawn; the value is copied to a plain key
    by `remember` and put back here before the widget is drawn. Returns the key.
    """
    if key not in st.session_state:
        st.session_state[key] = st.session_state.get(f"_keep_{key}", default)
    return key


def remember(*keys: str) -> None:
    for key in keys:
        if key in st.session_state:
            st.session_state[f"_keep_{key}"] = st.session_state[key]


def text_block(text: str, height: int | None = None) -> None:
    """Text shown exactly as written (no Markdown), wrapped, with a copy button; scrolls past `height` px."""
    st.code(text, language=None, wrap_lines=True, height=height or "content")


def duration(seconds: float | None) -> str:
    if seconds is None or not math.isfinite(seconds):
        return "unknown"
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def corpus_title(name: str) -> str:
    return state.builtin_title(name)
