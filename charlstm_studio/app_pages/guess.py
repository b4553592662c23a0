"""Guess the next character: Shannon's guessing game (1951), played against the model.

A stretch of text the model never trained on is revealed one character at a time; the person guesses each
character until right. The model plays the same characters: its number of guesses is the character's rank
in its distribution. After each character and at the end: guesses per character for both, the bits per
character Shannon's bounds give for each, and the model's own bits per character on the same text. Where the
person needed fewer guesses than the model, and where more, is marked in the text.

Widget keys (for tests and the browser suite):
    guess_model      selectbox     which model plays (yours, then the ready-made ones)
    guess_input      text_input    one character: your guess (in a form that empties after each guess)
    guess_submit     form button   guess
    guess_newline    button        guess a line break (a phone keyboard cannot type one into the box)
    guess_tell       button        give up on this character (it counts as MAX_GUESSES guesses)
    guess_new_round  button        another stretch of text
    guess_typed      text_area     your own text, when the model has none of its own here
"""

import html
import random

import streamlit as st

from charlstm import guessing
from charlstm.generate import Generator
from charlstm.run import Run
from charlstm.text import Vocabulary
from charlstm_studio.ui import widgets
from charlstm_studio.ui.charts import char_label
from charlstm_studio.ui.model_picker import choose_model, model_text

GAME = "_guess_game"  # the round being played: its text and every guess so far
MAX_GUESSES = 10  # a character not found in this many guesses is told, and counts as this many
MIN_FOR_BOUNDS = 10  # characters found before Shannon's bounds mean anything (one character gives nonsense)


ROUND_SOURCE = {  # where a round's stretch comes from, in the words the page shows under the board
    "held out": "This stretch is from the part of its text the model never trained on.",
    "trained": "Its text is too short to keep a part aside for this game: this stretch is text the model trained "
    "on, so it may know it by heart. Train on a longer text for a fair game.",
    "yours": "This stretch is from the text you gave.",
}


def new_round(model_id: str, vocab: Vocabulary, text: str, seed: int | None = None, yours: bool = False) -> None:
    """A stretch of the held-out end of the model's text, as the model reads it: the model never trained on it,
    unless the text is too short to have a held-out end long enough (the page then says so)."""
    cleaned, _ = vocab.clean_prompt(text)
    held_out = int(len(cleaned) * 0.9)
    rng = random.Random(seed)
    need = guessing.ROUND_CHARS + guessing.CONTEXT_CHARS
    if len(cleaned) - held_out > need + 40:  # room in the held-out end: the round is text it never trained on
        low, high = held_out, len(cleaned) - guessing.ROUND_CHARS
    else:  # none: trained text, all of it (a stretch across the border would be neither, and said as one)
        low, high = guessing.CONTEXT_CHARS, min(held_out, len(cleaned)) - guessing.ROUND_CHARS
    start = rng.randrange(low, max(low + 1, high))
    context, target = guessing.round_from(cleaned, start)
    st.session_state[GAME] = {
        "model": model_id,
        "source": "yours" if yours else "held out" if start >= held_out else "trained",
        "context": context,
        "target": target,
        "done": [],
        "told": [],
        "tries": 0,
    }


def guess(char: str) -> None:
    """A form's or a button's callback: one guess at the next character."""
    game = st.session_state.get(GAME)
    if not game or len(game["done"]) >= len(game["target"]) or not char:
        return
    game["tries"] += 1
    right = char == game["target"][len(game["done"])]
    if right or game["tries"] >= MAX_GUESSES:
        game["done"].append(game["tries"] if right else MAX_GUESSES)
        game["told"].append(not right)
        game["tries"] = 0


def guess_typed() -> None:
    guess(st.session_state.get("guess_input", "")[:1])


def tell() -> None:
    game = st.session_state.get(GAME)
    if game and len(game["done"]) < len(game["target"]):
        game["done"].append(MAX_GUESSES)
        game["told"].append(True)
        game["tries"] = 0


def board(game: dict, model: guessing.ModelPlay) -> str:
    """The start, the characters found so far (green where you needed fewer guesses than the model, red where
    more), and a box where the next one goes."""
    parts = [f'<span style="color: #777">{html.escape(game["context"])}</span>']
    for k, yours in enumerate(game["done"]):
        theirs = model.guesses[k]
        colour = {1: "rgba(44,160,44,0.3)", -1: "rgba(214,39,40,0.25)"}.get(who_won(game, model, k), "none")
        shown = "⏎\n" if game["target"][k] == "\n" else html.escape(game["target"][k])
        parts.append(
            f'<span title="you: {yours}, the model: {theirs}" style="background: {colour}"><b>{shown}</b></span>'
        )
    if len(game["done"]) < len(game["target"]):
        parts.append('<span style="border: 2px solid #d62728; padding: 0 0.3em">?</span>')
    return (
        '<div style="font-family: monospace; white-space: pre-wrap; line-height: 1.8; padding: 0.5rem; '
        'border: 1px solid rgba(128,128,128,0.3); border-radius: 0.5rem">' + "".join(parts) + "</div>"
    )


def who_won(game: dict, model: guessing.ModelPlay, k: int) -> int:
    """1: you found character k in fewer guesses than the model; -1: it did (or you were told); 0: a tie."""
    yours, theirs = game["done"][k], model.guesses[k]
    if game["told"][k]:
        return -1 if theirs <= MAX_GUESSES else 0
    return 1 if yours < theirs else -1 if yours > theirs else 0


def scores(game: dict, model: guessing.ModelPlay) -> None:
    """Guesses per character and Shannon's bounds, for you and the model, on the characters found so far."""
    n = len(game["done"])
    if not n:
        return
    mine, theirs = game["done"], list(model.guesses[:n])
    c1, c2 = st.columns(2)
    c1.metric("You: guesses per character", f"{sum(mine) / n:.2f}")
    c2.metric("The model: guesses per character", f"{sum(theirs) / n:.2f}")
    these = "this character" if n == 1 else f"these {n} characters"
    own = f"The model's own measure on {these}: **{sum(model.bits[:n]) / n:.2f} bits per character**."
    if n >= MIN_FOR_BOUNDS:
        you, it = (sorted(guessing.shannon_bounds(g)) for g in (mine, theirs))
        st.markdown(
            f"By Shannon's bounds, your guesses mean **{you[0]:.1f} to {you[1]:.1f} bits per character**, the "
            f"model's **{it[0]:.1f} to {it[1]:.1f}**. {own}"
        )
    else:
        st.markdown(f"Shannon's bounds (below) come after {MIN_FOR_BOUNDS} characters. {own}")
    better = sum(1 for k in range(n) if who_won(game, model, k) == 1)
    worse = sum(1 for k in range(n) if who_won(game, model, k) == -1)
    st.caption(
        f"You needed fewer guesses than the model on {better} of {n} characters (green) and more on {worse} (red). "
        "Bits per character: how many yes/no questions the next character still needs; fewer is better. "
        "Shannon's bounds turn how often a player needs 1, 2, 3… guesses into the lowest and the highest number "
        "of bits per character those guesses allow: the truth lies between. Shannon found about 1 bit per "
        "character for English read by people who know it well."
    )


def play(model_id: str, run: Run, gen: Generator) -> None:
    text = model_text(run, model_id)
    yours = text is None
    if yours:
        st.caption("This model came without its text: give it a text of yours to play on (a few paragraphs).")
        text = st.text_area("Your text", key="guess_typed", height=120, max_chars=20_000)
        if len(text) < guessing.ROUND_CHARS + guessing.CONTEXT_CHARS + 10:
            st.info("Paste a text of at least a few lines to play on.")
            return
    game = st.session_state.get(GAME)
    if (
        st.button("New round", key="guess_new_round", icon=":material/refresh:")
        or not game
        or game["model"] != model_id
    ):
        new_round(model_id, gen.vocab, text, yours=yours)
        game = st.session_state[GAME]
    model = guessing.model_play(gen, game["context"], game["target"])
    st.html(board(game, model))
    st.caption(ROUND_SOURCE[game.get("source", "held out")])
    done = len(game["done"])
    if done < len(game["target"]):
        tries = f" ({game['tries']} wrong so far)" if game["tries"] else ""
        st.markdown(f"**Character {done + 1} of {len(game['target'])}**{tries}: what comes next?")
        with st.form("guess_form", clear_on_submit=True, border=False):
            st.text_input("Your guess (one character; a space is a space)", key="guess_input", max_chars=1)
            st.form_submit_button("Guess", key="guess_submit", on_click=guess_typed, type="primary")
        c1, c2 = st.columns(2)
        c1.button("Guess a line break (⏎)", key="guess_newline", on_click=guess, args=("\n",))
        c2.button(f"Tell me (counts as {MAX_GUESSES} guesses)", key="guess_tell", on_click=tell)
    else:
        st.success("Round over. Press New round to play another stretch.")
    scores(game, model)
    if done:
        last = game["target"][done - 1]
        told = game["told"][-1]
        yours = f"you were told it (it counts as {MAX_GUESSES})" if told else f"you needed {game['done'][-1]}"
        st.caption(
            f"The last character was “{widgets.md(char_label(last))}”: {yours}; the model {model.guesses[done - 1]}."
        )


st.title("Guess the next character")
st.markdown(
    "In 1951 Claude Shannon measured how predictable English is by having people guess a text **one letter at a "
    "time**, until right. Play his game against the model: it reads the same text and 'guesses' in the order of "
    "its probabilities."
)
chosen = choose_model("guess_model", "There is no model to play against yet. Train one on the Train page.")
if chosen is not None:
    play(*chosen)
