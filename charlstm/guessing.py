"""Shannon's guessing game: how predictable a text is, measured by guessing its next character.

Shannon (1951, "Prediction and Entropy of Printed English") had people guess the next letter of a text
until they were right, and turned the number of guesses into bounds on the text's entropy. Here a person
plays against the model: the model's number of guesses for a character is that character's rank in its
distribution (1: its likeliest), the guesses it would make in order.

From the share q_i of characters found at the i-th guess, Shannon's bounds on the bits per character are

    lower = sum_i i * (q_i - q_{i+1}) * log2(i)        upper = -sum_i q_i * log2(q_i)

The model's own bits per character on the same characters (-log2 of the probability it gave each) sit
between them when it is a good predictor, which is what makes the comparison readable.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .generate import Generator

ROUND_CHARS = 50  # characters a round reveals, one at a time
CONTEXT_CHARS = 80  # characters shown before them, as the start both players read


@dataclass(frozen=True)
class ModelPlay:
    """How the model plays the characters of a round."""

    guesses: tuple[int, ...]  # per character: its rank in the model's distribution (1 = first guess)
    bits: tuple[float, ...]  # per character: -log2 of the probability the model gave it

    @property
    def bits_per_char(self) -> float:
        return float(np.mean(self.bits)) if self.bits else 0.0


def model_play(gen: Generator, context: str, target: str) -> ModelPlay:
    """The model's guesses for each character of `target`, having read `context` and the target before it.

    Both strings must hold only characters the model knows (`Vocabulary.clean_prompt` makes them so)."""
    text = context + target
    if not context or not target:
        raise ValueError("a round needs a start to read and characters to guess")
    probs = gen.probabilities(text)  # row t: the distribution of the character after text[: t + 1]
    ids = gen.vocab.encode(text)
    guesses, bits = [], []
    for j in range(len(context), len(text)):
        p = probs[j - 1]
        truth = p[ids[j]]
        guesses.append(int((p > truth).sum()) + 1)  # the characters it finds likelier come first
        bits.append(float(-math.log2(max(truth, 1e-12))))
    return ModelPlay(tuple(guesses), tuple(bits))


def shannon_bounds(guesses: Sequence[int]) -> tuple[float, float]:
    """(lower, upper) bits per character implied by the numbers of guesses (Shannon 1951, eq. 17)."""
    if not guesses:
        return 0.0, 0.0
    counts = Counter(int(g) for g in guesses)
    top = max(counts)
    q = [counts.get(i, 0) / len(guesses) for i in range(1, top + 2)]  # q[i - 1] = share found at guess i
    upper = -sum(qi * math.log2(qi) for qi in q if qi > 0)
    lower = sum(i * (q[i - 1] - q[i]) * math.log2(i) for i in range(2, top + 1))
    return lower, upper


def round_from(text: str, start: int, length: int = ROUND_CHARS, context: int = CONTEXT_CHARS) -> tuple[str, str]:
    """(the start both read, the characters to guess) from `text` at `start`, moved to begin after a space."""
    start = max(context, min(start, len(text) - length))
    space = text.find(" ", start, start + 40)
    start = space + 1 if space != -1 and space + 1 + length <= len(text) else start
    return text[start - context : start], text[start : start + length]
