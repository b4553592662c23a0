"""Guess the next character: Shannon's game against the model, on text it never trained on."""

from __future__ import annotations

from studio_helpers import has, make_run, new_app, texts

from charlstm import guessing
from charlstm.store import load_generator

GUESS = "app_pages/guess.py"


def type_guess(at, char: str) -> None:
    at.text_input(key="guess_input").input(char)
    at.button(key="guess_submit").click().run()


def test_a_round_counts_your_guesses_beside_the_models(runs_root):
    run = make_run(runs_root)
    at = new_app(GUESS)
    assert not at.exception
    game = at.session_state["_guess_game"]
    text = load_generator(run).vocab.clean_prompt((run / "corpus.txt").read_text(encoding="utf-8"))[0]
    assert (game["context"] + game["target"]) in text and len(game["target"]) == guessing.ROUND_CHARS
    target = game["target"]
    type_guess(at, target[0])  # right at once: 1 guess
    wrong = "q" if target[1] != "q" else "z"
    type_guess(at, wrong)  # wrong, then right: 2 guesses
    type_guess(at, target[1])
    at.button(key="guess_tell").click().run()  # given up: counts as the most
    assert at.session_state["_guess_game"]["done"] == [1, 2, 10]
    model = guessing.model_play(load_generator(run), game["context"], target)
    shown = " ".join(texts(at, "markdown"))
    assert "Shannon's bounds (below) come after 10 characters" in shown  # 3 characters say nothing yet
    assert f"{sum(model.bits[:3]) / 3:.2f} bits per character" in shown
    assert [m.value for m in at.metric] == [f"{13 / 3:.2f}", f"{sum(model.guesses[:3]) / 3:.2f}"]
    board = next(h.proto.body for h in at.get("html") if "you: 1, the model:" in h.proto.body)
    assert board.count("<b>") == 3  # the three characters found so far, the next one a box
    told_won = model.guesses[2] > 10
    assert ("rgba(214,39,40" in board.split("you: 10")[1][:200]) != told_won  # a told character is never a win
    for _ in range(7):
        at.button(key="guess_tell").click().run()
    low, high = sorted(guessing.shannon_bounds([1, 2] + [10] * 8))
    assert f"your guesses mean **{low:.1f} to {high:.1f} bits per character**" in " ".join(texts(at, "markdown"))


def test_a_round_ends_and_a_new_one_starts(runs_root):
    make_run(runs_root)
    at = new_app(GUESS)
    for _ in range(3):  # the button, a few times ...
        at.button(key="guess_tell").click().run()
    game = at.session_state["_guess_game"]
    told = game["done"][0]  # a character told counts as the most guesses
    assert game["done"] == [told] * 3 and len(game["target"]) == guessing.ROUND_CHARS
    # ... the same answers up to the last character
    last = guessing.ROUND_CHARS - 1
    at.session_state["_guess_game"] = {**game, "done": [told] * last, "told": [True] * last}
    at.button(key="guess_tell").click().run()
    assert any("Round over" in s for s in texts(at, "success")) and not has(at, "button", "guess_tell")
    at.button(key="guess_new_round").click().run()
    assert at.session_state["_guess_game"]["done"] == [] and has(at, "button", "guess_tell")


def test_a_link_names_the_model_it_plays(runs_root):
    """`?m=` picks the model here as on Generate, and the address names the model being played."""
    first, second = make_run(runs_root, name="first"), make_run(runs_root, name="second", seed=1)
    for wanted in (first.name, second.name):
        at = new_app(GUESS, query={"m": wanted})
        assert at.selectbox(key="guess_model").value == wanted and at.query_params["m"] == wanted
    at.selectbox(key="guess_model").set_value(first.name).run()
    assert at.query_params["m"] == first.name


def test_the_page_says_whether_the_stretch_was_trained_on(runs_root):
    """A diary of a few paragraphs has no held-out end long enough for a round: the stretch is trained text, and
    the page says so (it once claimed every stretch was text the model never trained on)."""
    from studio_helpers import TEXT

    for copies, words in ((5, "text the model trained on"), (100, "never trained on")):
        run = make_run(runs_root, name=f"{copies} copies", text=TEXT * copies)
        at = new_app(GUESS, query={"m": run.name})
        for _ in range(20):  # every round: a random stretch once crossed into a short text's held-out end (CI)
            assert at.session_state["_guess_game"]["source"] == ("held out" if copies == 100 else "trained")
            assert any(words in c for c in texts(at, "caption")), texts(at, "caption")
            at.button(key="guess_new_round").click().run()
