"""Inside the LSTM page: ranking in plain words, one cell colouring the text, a stretch picked by typing or by
one click, its cells, the heatmap around it, where else they fire, and the text sources."""

from __future__ import annotations

import json
import re

import pytest
from studio_helpers import TEXT, has, make_run, new_app, texts

from charlstm import inside
from charlstm.store import load_generator
from charlstm_studio.ui.charts import activation_color
from charlstm_studio.ui.widgets import md

INSIDE = "app_pages/inside.py"


@pytest.fixture
def no_starters(monkeypatch, tmp_path):
    monkeypatch.setenv("CHARLSTM_STARTERS", str(tmp_path / "none"))


def coloured(at) -> str:
    """The text coloured by one cell: the HTML the selectable-text component is given (activation titles)."""
    bodies = [json.loads(c.proto.json)["html"] for c in at.get("bidi_component")]
    return next(b for b in bodies if 'title="+' in b or 'title="-' in b)


def backgrounds(body: str) -> list[str]:
    return re.findall(r"background: (rgb\(\d+,\d+,\d+\))", body)


def main_texts(at) -> list[str]:
    """What a reader sees without opening an expander: markdown, captions, messages, the cell list's labels."""
    hidden = {str(m.value) for e in at.expander for m in e.markdown}
    shown = [m for m in texts(at, "markdown") if m not in hidden]
    messages = [t for kind in ("caption", "info", "warning", "subheader") for t in texts(at, kind)]
    return shown + messages + [str(o) for o in at.selectbox(key="inside_cell").options]


def cell_lines(at) -> list[int]:
    """The cells listed for the stretch, in the order shown ('- Cell 17 is much higher on the stretch...')."""
    return [int(m.split()[2]) for m in texts(at, "markdown") if "on the stretch than" in m]


def test_nothing_to_look_inside(no_starters):
    at = new_app(INSIDE)
    assert any("no model to look inside" in t for t in texts(at, "info"))


def test_ranking_cell_colouring_and_heatmap_match_the_model(runs_root, no_starters):
    run = make_run(runs_root)
    at = new_app(INSIDE)
    assert not at.exception
    assert len(at.get("vega_lite_chart")) >= 2  # the ranking and the heatmap
    gen = load_generator(run)
    corpus = (run / "corpus.txt").read_text(encoding="utf-8")
    start = at.slider(key="inside_start").value
    trace = gen.trace(corpus[start : start + 600])
    acts = inside.activations(trace, gen.config.cell)
    ranked = inside.rank_cells(acts, trace.text, top=8)
    assert at.selectbox(key="inside_cell").value == ranked[0].cell
    assert any(md(ranked[0].sentence) in m for m in texts(at, "markdown"))
    assert not [t for t in main_texts(at) if "r =" in t or "|r|" in t]  # the statistics stay in the expander
    assert any("r = " in m for e in at.expander for m in texts(e, "markdown"))
    first = backgrounds(coloured(at))
    assert first == [activation_color(v) for v in acts[:, ranked[0].cell]]
    other = ranked[1].cell
    at.selectbox(key="inside_cell").set_value(other).run()
    assert backgrounds(coloured(at)) == [activation_color(v) for v in acts[:, other]] != first


def test_a_typed_stretch_is_found_and_a_random_model_has_no_cell_for_it(runs_root, no_starters):
    run = make_run(runs_root)
    typed = 'a "quoted" (bit) of text, then more text'
    at = new_app(INSIDE)
    at.radio(key="inside_source").set_value("Your own text").run()
    at.text_area(key="inside_typed").input(typed).run()
    assert not at.exception
    assert "quoted" in "".join(re.findall(r">([^<])</span>", coloured(at)))
    gen = load_generator(run)
    trace = gen.trace(typed)  # the test model knows no quotes or brackets: it reads them as spaces
    assert inside.find_stretch(trace.text, at.text_input(key="inside_find").value)  # a stretch from the start
    at.text_input(key="inside_find").input("TEXT,   then").run()  # case and spaces do not matter
    acts = inside.activations(trace, gen.config.cell)
    start = typed.index("text, then")
    expected = inside.span_cells(acts, start, start + len("text, then"))
    assert expected == [] and cell_lines(at) == []  # random weights: no cell stands out
    assert any("No cell is clearly higher on this stretch" in t for t in texts(at, "info"))
    heatmap = json.loads(at.get("vega_lite_chart")[-1].proto.spec)  # every column named by its character
    assert '"t", "e", "x", "t", ",", "␣", "t", "h", "e", "n"' in heatmap["encoding"]["x"]["axis"]["labelExpr"]


def test_words_that_are_not_there_get_a_plain_message_and_the_closest_words(runs_root, no_starters):
    make_run(runs_root)
    at = new_app(INSIDE)
    at.radio(key="inside_source").set_value("Your own text").run()
    at.text_area(key="inside_typed").input("nobody followed him, not even the dog.").run()
    at.text_input(key="inside_find").input("nobdy folowed").run()
    assert not at.exception
    assert any("is not in the text above" in t for t in texts(at, "warning"))
    assert not cell_lines(at)
    at.button(key="inside_closest").click().run()
    assert at.text_input(key="inside_find").value == "nobody followed"
    assert not texts(at, "warning") and not at.exception


def test_a_suggested_stretch_is_one_click(runs_root, no_starters):
    make_run(runs_root, text=(TEXT + 'He said: "Not (quite) yet." Nobody did.\n') * 20)  # knows quotes, brackets
    at = new_app(INSIDE)
    at.radio(key="inside_source").set_value("Your own text").run()
    text = 'He said: "The old rules are gone." Then he (quietly) left.\nNobody followed him.'
    at.text_area(key="inside_typed").input(text).run()
    labels = [b.label for b in at.button if (b.key or "").startswith("inside_suggest_")]
    assert [label.split(":")[0] for label in labels] == ["a quote", "a bracket", "a line end"]
    at.button(key="inside_suggest_1").click().run()
    assert at.text_input(key="inside_find").value == "(quietly)"
    assert not at.exception


def test_a_generated_text_source(runs_root, no_starters):
    make_run(runs_root)
    at = new_app(INSIDE)
    at.radio(key="inside_source").set_value("A text it writes").run()
    assert not at.exception and has(at, "selectbox", "inside_cell")
    assert len(backgrounds(coloured(at))) == at.slider(key="inside_length").value


def test_typing_a_stretch_lists_its_cells_in_words_and_finds_them_again(python_docs):
    """Python's documentation starter on its own held-out text: the stretch's cells and their matches, recomputed."""
    from charlstm.starters import starter_dir

    at = new_app(INSIDE)
    at.selectbox(key="inside_model").set_value("starter:python-docs").run()
    assert at.radio(key="inside_source").value == "A slice of its training text"
    at.text_input(key="inside_find").input("the bound").run()
    assert not at.exception
    gen = load_generator(starter_dir("python-docs"))
    corpus = python_docs.decode("utf-8")
    start, length = at.slider(key="inside_start").value, at.slider(key="inside_length").value
    assert f"Characters {start:,} to {start + length:,} of {len(corpus):,}." in " ".join(texts(at, "caption"))
    text = corpus[start : start + length]
    acts = inside.activations(gen.trace(text), "lstm")
    where = inside.find_stretch(text, "the bound")
    found = inside.span_cells(acts, *where)
    assert cell_lines(at) == [c.cell for c in found]
    assert found, "no cell for this stretch: choose another in the test"
    assert any("Cells that fire more on “the bound”" in m for m in texts(at, "markdown"))
    assert any(md(found[0].sentence) in m for m in texts(at, "markdown"))  # "Cell 12 is much higher on the..."
    assert not [t for t in main_texts(at) if "r =" in t or "+0." in t or "-0." in t]  # numbers: in expanders
    held = int(len(corpus) * (1 - gen.config.val_fraction))
    search = inside.activations(gen.trace(corpus[held : held + 6000]), "lstm")
    top = found[:3]
    skip = (where[0] + start - held, where[1] + start - held)
    runs = [
        (s, e)
        for s, e in inside.matches(search, [c.cell for c in top], [c.level for c in top])
        if e <= skip[0] or s >= skip[1]
    ][:8]
    underlined = [h for h in at.get("html") if "underline" in h.proto.body]
    assert len(underlined) == len(runs) > 0


def test_the_playground_and_inside_pages_never_import_tensorflow(tmp_path):
    """In a fresh process (this one may have imported TF for other tests): both pages on a ready-made model."""
    import subprocess
    import sys
    from pathlib import Path

    script = (
        "import sys; sys.path[:0] = ['tests/app', 'tests']\n"
        "from studio_helpers import new_app\n"
        "at = new_app('app_pages/generate.py')\n"
        "at.switch_page('app_pages/inside.py').run()\n"
        "assert not at.exception and at.get('vega_lite_chart')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')))\n"
    )
    root = Path(__file__).resolve().parents[2]
    env = {"PATH": "/usr/bin:/bin", "CHARLSTM_HOME": str(tmp_path / "home"), "KERAS_HOME": str(tmp_path / "k")}
    command = [sys.executable, "-c", script]
    done = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_selected_characters_are_the_stretch_even_when_the_words_come_earlier_too(runs_root, no_starters):
    """A selection in the text (the component's callback sets these two keys) picks those very characters."""
    make_run(runs_root)
    typed = "the cat sat. the dog ran."
    at = new_app(INSIDE)
    at.radio(key="inside_source").set_value("Your own text").run()
    at.text_area(key="inside_typed").input(typed).run()
    second = typed.rindex("the")
    at.session_state["_inside_picked"] = (second, second + 3, hash(typed))
    at.session_state["inside_find"] = "the"
    at.run()
    assert not at.exception
    labels = json.loads(at.get("vega_lite_chart")[-1].proto.spec)["encoding"]["x"]["axis"]["labelExpr"]
    assert '"d", "o", "g"' in labels and '"c", "a", "t"' not in labels
    at.text_input(key="inside_find").input("THE").run()  # typed words: the first place they appear
    labels = json.loads(at.get("vega_lite_chart")[-1].proto.spec)["encoding"]["x"]["axis"]["labelExpr"]
    assert '"c", "a", "t"' in labels


def test_cell_surgery_writes_beside_the_unchanged_text_and_marks_where_they_part(runs_root, no_starters):
    from charlstm.generate import Pin

    run = make_run(runs_root)
    at = new_app(INSIDE)
    assert not at.exception
    gen = load_generator(run)
    at.text_input(key="inside_cut_prompt").input("The ").run()
    at.selectbox(key="inside_cut_cell").set_value(5).run()
    at.radio(key="inside_cut_how").set_value("Pin it high").run()
    assert not at.exception
    before = gen.generate("The ", [0.5], 300, seed=1)[0].text
    after = gen.pinned(Pin(5, 1.0)).generate("The ", [0.5], 300, seed=1)[0].text
    bodies = [h.proto.body for h in at.get("html") if "<b>The </b>" in h.proto.body]
    assert len(bodies) == 2
    plain = [re.sub(r"<[^>]+>", "", b) for b in bodies]
    assert plain == ["The " + before, "The " + after]  # the same start and random numbers, the cell held high
    if before != after:
        assert all("rgba(214, 39, 40" in b for b in bodies)  # where they part is marked on both sides
        assert any("The texts part after" in c for c in texts(at, "caption"))


def test_surgery_suggestions_come_from_the_cells_found():
    from charlstm.inside import CellMatch, first_difference, surgery_tries

    ranked = [CellMatch(7, "quotes", "q", -0.8), CellMatch(9, "line", "l", 0.6), CellMatch(2, "quotes", "q", 0.5)]
    tries = surgery_tries(ranked, "start ")
    assert [(t.cell, t.value, t.prompt) for t in tries] == [(7, -1.0, 'He said: "'), (9, 0.0, "start ")]
    assert "close the quote" in tries[0].question and "lines still end" in tries[1].question
    assert first_difference("abcd", "abXd") == 2 and first_difference("ab", "ab") is None
    assert first_difference("ab", "abc") == 2


def test_a_slice_of_a_short_text_says_which_part_the_model_trained_on(runs_root, no_starters):
    """A short text's held-out end is shorter than the slice: never claim the slice is all held out."""
    make_run(runs_root, text=TEXT * 8)
    at = new_app(INSIDE)
    captions = " ".join(texts(at, "caption"))
    assert "text the model **trained on**" in captions and "So what you see is what it learned" not in captions


def test_inside_can_look_at_an_earlier_moment_of_the_training(runs_root, no_starters):
    """A run with a time-lapse: the cells as they were at a snapshot, traced by that snapshot's weights."""
    import numpy as np

    from charlstm.generate import Generator
    from charlstm.run import Run

    run = Run(make_run(runs_root))
    best, _ = run.load_checkpoint("best")
    rng = np.random.default_rng(5)
    run.save_snapshot(0.1, 3.0, {k: rng.normal(0, 1.0, v.shape).astype(np.float32) for k, v in best.items()})
    run.save_snapshot(1.0, 2.0, best)
    at = new_app(INSIDE)
    assert at.select_slider(key="inside_moment").value == 2  # the model kept, first
    kept = coloured(at)
    at.select_slider(key="inside_moment").set_value(0).run()
    assert not at.exception
    early = Generator(run.load_snapshot(0), run.config(), run.vocab())
    start = at.slider(key="inside_start").value
    corpus = run.text()
    acts = inside.activations(early.trace(corpus[start : start + 600]), "lstm")
    cell = at.selectbox(key="inside_cell").value
    assert backgrounds(coloured(at)) == [activation_color(v) for v in acts[:, cell]] != backgrounds(kept)


def test_one_step_is_explained_with_the_models_own_numbers(runs_root, no_starters):
    """The diagram's numbers are the model's own step at the character picked; back and forward move it."""
    run = make_run(runs_root)
    at = new_app(INSIDE)
    assert not at.exception
    at.radio(key="inside_source").set_value("Your own text").run()
    at.text_area(key="inside_typed").input("the morning was quiet, then the dog barked").run()
    at.number_input(key="inside_step_at").set_value(4).run()
    at.button(key="inside_step_forward").click().run()
    assert at.number_input(key="inside_step_at").value == 5
    gen = load_generator(run)
    step = gen.explain("the morning was quiet, then the dog barked")
    cell = at.selectbox(key="inside_cell").value
    diagram = next(h.proto.body for h in at.get("html") if f"<b>Cell {cell}</b>" in h.proto.body)
    for name in ("c_before", "candidate", "c", "h"):
        assert f"<b>{step[name][5, cell]:+.2f}</b>" in diagram, name
    for name in ("forget", "input", "output"):  # shares, 0 to 1
        assert f"<b>{step[name][5, cell]:.2f}</b>" in diagram, name
    nxt = step["next"][5]
    assert any(f"{nxt.max():.0%}" in m for m in texts(at, "markdown") if m.startswith("**What comes out**"))
