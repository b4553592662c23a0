"""Shannon's guessing game: the model's guesses are ranks in its distribution; Shannon's bounds from counts."""

from __future__ import annotations

import math

import numpy as np
import pytest
from test_generate import random_generator

from charlstm.guessing import model_play, round_from, shannon_bounds


@pytest.fixture(scope="module")
def docs(english_text) -> str:
    return english_text[:20_000]


def test_the_model_guesses_in_the_order_of_its_probabilities(docs):
    gen = random_generator(docs)
    context, target = docs[:40], docs[40:70]
    play = model_play(gen, context, target)
    probs = gen.probabilities(context + target)
    ids = gen.vocab.encode(context + target)
    for k, j in enumerate(range(40, 70)):
        order = list(np.argsort(-probs[j - 1], kind="stable"))
        assert play.guesses[k] == order.index(ids[j]) + 1  # how many guesses, likeliest first, until right
        assert play.bits[k] == pytest.approx(-math.log2(probs[j - 1][ids[j]]))
    assert play.bits_per_char == pytest.approx(np.mean(play.bits))
    with pytest.raises(ValueError):
        model_play(gen, "", target)


def test_shannons_bounds():
    assert shannon_bounds([1] * 20) == (0.0, 0.0)  # always right at once: nothing to learn
    lower, upper = shannon_bounds([1, 2, 3, 4] * 5)  # four equally likely outcomes
    assert lower == pytest.approx(2.0) and upper == pytest.approx(2.0)
    lower, upper = shannon_bounds([1, 1, 1, 2, 5])
    assert 0 < lower < upper
    q = {1: 0.6, 2: 0.2, 5: 0.2}  # by hand, from Shannon's formulas
    assert upper == pytest.approx(-sum(v * math.log2(v) for v in q.values()))
    by_hand = 2 * (0.2 - 0.0) * math.log2(2) + 4 * (0.0 - 0.2) * math.log2(4) + 5 * (0.2 - 0.0) * math.log2(5)
    assert lower == pytest.approx(by_hand)  # every i up to the largest, as Shannon wrote it
    assert shannon_bounds([]) == (0.0, 0.0)


def test_a_round_starts_after_a_space_and_fits_the_text():
    text = "word " * 100
    context, target = round_from(text, 123)
    assert len(target) == 50 and len(context) == 80 and target.startswith("word")
    context, target = round_from(text, 10_000)  # past the end: the last round that fits
    assert len(target) == 50 and (context + target) in text
