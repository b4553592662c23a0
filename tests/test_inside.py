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
    assert by_cell[7].strength == "strong" and "inside quotes" in by_cell[7].sentence
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
    acts[3:5, 5] = 0.8  # on over part of the span only
    found = inside.span_cells(acts, 3, 6, threshold=0.3, context=5)
    assert [c.cell for c in found] == [2]
    assert found[0].contrast == pytest.approx(1.3)
    assert inside.matches(acts, [2], threshold=0.3) == [(3, 6), (13, 16)]
    assert inside.matches(acts, [], threshold=0.3) == []
    assert inside.span_cells(acts, 5, 5) == []


def test_real_model_activations_are_in_range(gen, english_text):
    trace = gen.trace(english_text[:500])
    acts = inside.activations(trace, gen.config.cell)
    assert acts.shape == (len(trace.text), gen.config.units)
    assert np.abs(acts).max() <= 1 and acts.std() > 0.01
    ranked = inside.rank_cells(acts, trace.text, top=3)
    assert len(ranked) == 3 and abs(ranked[0].r) >= abs(ranked[-1].r)
    assert inside.cells_by_spread(acts, top=4)[0] == int(acts.std(axis=0).argmax())
