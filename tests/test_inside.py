"""Inside the LSTM: per-character states from the generator, text properties, cell ranking, span search."""

from __future__ import annotations

import numpy as np
import pytest

from charlstm import inside
from charlstm.store import load_generator


@pytest.fixture(scope="module")
def gen(trained_run):
    return load_generator(trained_run)


def test_trace_is_the_generation_step(gen, english_text):
    """The states after the last character are the ones generation carries; surprise is the score."""
    text = english_text[:300]
    trace = gen.trace(text)
    state, _ = gen._feed(gen.vocab.encode(trace.text))
    assert trace.h.shape == (gen.config.layers, len(trace.text), gen.config.units)
    np.testing.assert_allclose(trace.h[-1, -1], state[-1][0][0], atol=1e-6)
    np.testing.assert_allclose(trace.c[-1, -1], state[-1][1][0], atol=1e-6)
    assert trace.surprise[0] == 0
    assert np.mean(trace.surprise[1:]) == pytest.approx(gen.score(text).bpc, rel=1e-6)
    other = gen.trace(english_text[300:600])
    assert np.abs(other.c[-1] - trace.c[-1][: len(other.text)]).max() > 0.05  # a different text, other states


def test_trace_reads_unknown_characters_as_spaces(gen):
    trace = gen.trace("a€b")
    assert trace.text == "a b" and trace.c.shape[1] == 3


def test_quotes_brackets_lines_and_sentences():
    text = 'say "hi (x[y]) " ok.\nNo'
    q = inside.inside_quotes(text)
    assert [text[i] for i in np.flatnonzero(q)] == list('"hi (x[y]) "')
    depth = inside.inside_brackets(text)
    assert depth[text.index("x")] == 1 and depth[text.index("y]")] == 2 and depth[text.index("k")] == 0
    line = inside.line_position(text)
    assert line[text.index("\n")] == 0 and line[text.index("N")] == 1 and line[3] == 4
    stop = inside.after_full_stop(text)
    assert stop[text.index(".")] == 1 and stop[text.index("\n")] == 1 and stop[text.index("N")] == 0
    assert list(inside.word_start("ab cd")) == [1, 0, 0, 1, 0]
    assert list(inside.word_position("ab cd")) == [1, 2, 0, 1, 2]


def test_ranking_finds_a_planted_cell():
    """Random cells plus one that follows the quotes: that one comes first, named as quotes, r > 0.9."""
    rng = np.random.default_rng(0)
    text = ('He said "yes, (maybe) now" and left. ' * 40)[:1200]
    acts = rng.uniform(-1, 1, (len(text), 32))
    acts[:, 7] = 0.8 * inside.inside_quotes(text) - 0.4 + rng.normal(0, 0.1, len(text))
    acts[:, 3] = -0.01 * inside.line_position(text) + rng.normal(0, 0.05, len(text))
    ranked = inside.rank_cells(acts, text, top=5)
    assert {(m.cell, m.key) for m in ranked[:2]} == {(7, "quotes"), (3, "line")}
    by_cell = {m.cell: m for m in ranked}
    assert by_cell[7].r > 0.9 and by_cell[3].r < -0.9
    assert by_cell[7].strength == "close"
    assert by_cell[7].sentence == (
        "Cell 7 follows whether a quote is open: it is high inside quotes and low outside (a close match)"
    )
    assert by_cell[3].sentence.startswith("Cell 3 follows how far along the line it is: it is low late in a line")
    assert "r =" not in by_cell[7].sentence and by_cell[7].detail.startswith("cell 7 and inside quotes: r = +0.9")
    assert all(abs(m.r) < 0.3 for m in ranked[2:])
    assert inside.best_for(acts, text, "quotes").cell == 7


def test_a_missing_property_is_never_a_match():
    text = "no digits here at all " * 20
    acts = np.random.default_rng(1).normal(size=(len(text), 8))
    assert all(m.key != "digit" for m in inside.rank_cells(acts, text, top=8))
    assert not np.isnan(inside.correlations(acts, inside.property_table(text))).any()


def test_span_cells_and_where_else_they_fire():
    """A cell on over 'abc' and off elsewhere is found from the span and matched at the other 'abc'."""
    text = "xx abc yy zz abc ww"
    acts = np.full((len(text), 6), -0.5)
    acts[:, 4] = 0.9  # on everywhere: no contrast, must not be chosen
    for start in (3, 13):
        acts[start : start + 3, 2] = 0.8
    acts[3:5, 5] = 0.8  # on over part of the span only: a smaller contrast
    found = inside.span_cells(acts, 3, 6)
    assert [c.cell for c in found] == [2, 5]
    assert found[0].contrast == pytest.approx(0.8 - (0.8 * 3 - 0.5 * 13) / 16)
    assert inside.matches(acts, [2], [found[0].level]) == [(3, 6), (13, 16)]
    assert inside.matches(acts, [2]) == [(3, 6), (13, 16)]  # by default: unusually high for the cell itself
    assert inside.matches(acts, [], 0.3) == []
    assert inside.span_cells(acts, 5, 5) == []


def test_contrast_ranks_a_stretch_cell_above_an_always_on_one():
    """Cell 0 is high only over the stretch; cell 1 is high everywhere (higher than cell 0, even over the stretch).

    Ranking by being on would pick cell 1 and then match it everywhere; ranking by contrast (inside minus the
    rest of the text) picks cell 0 and leaves cell 1 out, and its matches are the stretch and its twin only.
    """
    rng = np.random.default_rng(3)
    acts = rng.uniform(-0.2, 0.2, (200, 4))
    acts[:, 1] = 0.95 + rng.uniform(-0.02, 0.02, 200)
    acts[50:60, 0] = 0.7
    acts[150:160, 0] = 0.7
    found = inside.span_cells(acts, 50, 60)
    assert found[0].cell == 0 and 1 not in [c.cell for c in found]
    assert found[0].how_much == "clearly higher" and "rest of the text" in found[0].sentence
    assert inside.matches(acts, [0], [found[0].level]) == [(50, 60), (150, 160)]
    assert len(inside.matches(acts, [1], 0.3)) == 1  # a plain threshold: the always-on cell is "on" everywhere
    assert inside.span_cells(acts, 0, 200) == []  # the whole text has no rest to compare with


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("the OLD rules", (10, 23)),  # case does not matter
        ('gone."   then', (28, 39)),  # nor how many spaces
        ("left. nobody", (43, 55)),  # a space in the query matches a line break
        ("left.⏎Nobody", (43, 55)),  # as copied from the coloured text, where ⏎ stands for a line break
        ("“The old", (9, 17)),  # curly and straight quotes match each other
        ("  him  ", (65, 68)),  # the first occurrence; spaces around the words are ignored
        ("dragon", None),
        ("   ", None),
        ("", None),
    ],
)
def test_find_stretch(query, expected):
    text = 'He said: "The old rules are gone." Then he left.\nNobody followed him (not even the dog).'
    assert inside.find_stretch(text, query) == expected


def test_closest_stretch_offers_words_that_are_there():
    text = "Nobody followed him (not even the dog).\nThe dog stayed."
    start, end = inside.closest_stretch(text, "nobdy folowed")
    assert text[start:end] == "Nobody followed"
    start, end = inside.closest_stretch(text, "THE DOG STAIED")
    assert text[start:end] == "The dog stayed."
    assert inside.closest_stretch(text, "qqqqqqqq") is None and inside.closest_stretch(text, "") is None


def test_suggested_stretches_are_found_again_by_their_words():
    text = 'He said: "The (old) rules are gone." Then he left.\nNobody followed him (not even the dog).'
    suggestions = inside.suggested_stretches(text)
    assert [(s.kind, text[s.start : s.end]) for s in suggestions] == [
        ("a quote", '"The (old) rules are gone."'),
        ("a bracket", "(old)"),
        ("a line end", "left.\nNobody"),
    ]
    for s in suggestions:
        assert inside.find_stretch(text, s.query) == (s.start, s.end) and "\n" not in s.query
    assert [s.kind for s in inside.suggested_stretches("Extraordinarily plain")] == ["a long word"]
    assert inside.suggested_stretches("") == []


def test_real_model_activations_are_in_range(gen, english_text):
    trace = gen.trace(english_text[:500])
    acts = inside.activations(trace, gen.config.cell)
    assert acts.shape == (len(trace.text), gen.config.units)
    assert np.abs(acts).max() <= 1 and acts.std() > 0.01
    ranked = inside.rank_cells(acts, trace.text, top=3)
    assert len(ranked) == 3 and abs(ranked[0].r) >= abs(ranked[-1].r)
    assert inside.cells_by_spread(acts, top=4)[0] == int(acts.std(axis=0).argmax())
