"""The copy detector: every stretch of >= N characters found word for word in the training text, and nothing else."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from charlstm import copies
from charlstm.copies import MIN_COPY, Copies, CopyIndex, Stretch, codes, gram_for
from charlstm.errors import ConfigError

ALL = 10**9  # check every candidate: the index's cap must not matter where the test compares with brute force


def brute_force(train: str, generated: str, n: int) -> list[tuple[int, int]]:
    """Mark every n-character window of `generated` that occurs in `train`; merge what is marked into runs."""
    covered = [False] * len(generated)
    for i in range(len(generated) - n + 1):
        if generated[i : i + n] in train:
            covered[i : i + n] = [True] * n
    runs, i = [], 0
    while i < len(generated):
        if covered[i]:
            j = i
            while j < len(generated) and covered[j]:
                j += 1
            runs.append((i, j))
            i = j
        else:
            i += 1
    return runs


def spans(found: Copies) -> list[tuple[int, int]]:
    return [(s.start, s.end) for s in found.stretches]


def assert_true_copies(train: str, generated: str, found: Copies) -> None:
    """Every stretch really is there: its first N characters at its source, each character inside an N-window of
    the stretch that occurs in the training text."""
    n = found.min_len
    for s in found.stretches:
        assert s.end - s.start >= n
        assert train[s.source : s.source + n] == generated[s.start : s.start + n]
        covered = set()
        for i in range(s.start, s.end - n + 1):
            if generated[i : i + n] in train:
                covered.update(range(i, i + n))
        assert covered == set(range(s.start, s.end))


@pytest.fixture(scope="module")
def train(english_text) -> str:
    return english_text[:30_000]


@pytest.fixture(scope="module")
def index(train) -> CopyIndex:
    return CopyIndex.build(train)


def test_three_spliced_stretches_are_found_exactly(train, index):
    assert "\x01" not in train and "\x02" not in train  # separators that can never extend a copy
    rng = random.Random(1)

    def noise(n: int) -> str:
        return "".join(rng.choice("\x01\x02") for _ in range(n))

    pieces = [(1_000, 37), (12_345, 120), (25_000, 20), (7_000, 19)]  # (where in the training text, how long)
    generated, expected = noise(15), []
    for where, length in pieces:
        start = len(generated)
        generated += train[where : where + length] + noise(rng.randint(1, 30))
        if length >= MIN_COPY:
            expected.append((start, start + length))
    found = index.find(generated)
    assert spans(found) == expected  # the 19-character copy is not marked at N = 20
    assert spans(found) == brute_force(train, generated, MIN_COPY)
    assert [s.source for s in found.stretches] == [1_000, 12_345, 25_000]
    assert found.copied_chars == 37 + 120 + 20
    assert found.copied_share == pytest.approx(177 / len(generated))
    assert found.mask().sum() == 177 and found.mask()[expected[1][0] : expected[1][1]].all()


def test_a_stretch_is_maximal_on_both_sides(train, index):
    generated = "##" + train[5_000:5_060] + "~~"
    assert spans(index.find(generated)) == [(2, 62)]
    # Without the separators the copy runs on as far as the neighbours still agree with the training text.
    around = train[4_990:5_070]
    assert spans(index.find(around)) == [(0, 80)]
    assert index.find(around).copied_share == 1.0


def test_overlapping_and_touching_copies_are_merged():
    u, v, w = "the quick brown fox ", "jumps over the lazy ", "dog and runs away fast"
    train = u + v + "|" + v + w  # u+v and v+w occur, u+v+w does not
    index = CopyIndex.build(train, 20)
    generated = u + v + w
    assert generated not in train
    assert spans(index.find(generated)) == [(0, len(generated))] == brute_force(train, generated, 20)
    touching = "abcdefghijklmnopqrstuvwxyz" + "|" + "0123456789ABCDEFGHIJKLMN"
    index = CopyIndex.build(touching, 20)
    glued = "abcdefghijklmnopqrstuvwxyz" + "0123456789ABCDEFGHIJKLMN"  # two copies side by side: one stretch
    found = index.find(glued)
    assert spans(found) == [(0, len(glued))] and found.stretches[0].source == 0


def test_empty_and_short_texts():
    index = CopyIndex.build("a" * 100)
    assert index.find("") == Copies((), 0, MIN_COPY)
    assert index.find("").copied_share == 0.0
    assert spans(index.find("a" * 19)) == []
    assert spans(index.find("a" * 20)) == [(0, 20)]
    for tiny in ("", "abc", "a" * 11):
        assert spans(CopyIndex.build(tiny).find("a" * 50)) == []
    assert len(CopyIndex.build("")) == 0


def test_unicode_beyond_one_byte():
    train = "Ünïcödé text: 日本語の文章をここに書きます。そしてもっと長くします🙂🙃 and the end"
    generated = "xx" + train[14:44] + "yy" + train[-25:]
    found = CopyIndex.build(train).find(generated)
    assert spans(found) == brute_force(train, generated, MIN_COPY) == [(2, 32), (34, 59)]
    assert_true_copies(train, generated, found)
    # A one-byte index, a generated text with characters it cannot hold: never a match on them.
    latin = CopyIndex.build("plain ascii text, long enough to hold one copy of twenty")
    assert codes("plain ascii").dtype == np.uint8 and codes("日本").dtype == np.dtype("<u2")
    assert codes("🙂").dtype == np.dtype("<u4") and codes("🙂").tolist() == [0x1F642]
    assert spans(latin.find("plain ascii 日text, long enough")) == []  # 17 characters after the 日
    assert spans(latin.find("plain ascii text, lo日ng enough")) == [(0, 20)]


@pytest.mark.parametrize("seed", range(8))
def test_random_texts_match_brute_force(seed):
    rng = random.Random(seed)
    alphabet = rng.choice(["ab", "abc ", "abcdefgh ", "aé☃𝄞b"])
    train = "".join(rng.choice(alphabet) for _ in range(rng.randint(50, 600)))
    n = rng.choice([8, 9, 12, 20, 25])
    generated = "".join(rng.choice(alphabet) for _ in range(80))
    for _ in range(3):
        at, length, where = rng.randrange(len(train)), rng.randint(5, 40), rng.randint(0, len(generated))
        generated = generated[:where] + train[at : at + length] + generated[where:]
    found = CopyIndex.build(train, n, max_candidates=ALL).find(generated)
    assert spans(found) == brute_force(train, generated, n)
    assert_true_copies(train, generated, found)


@settings(max_examples=150, deadline=None)
@given(
    data=st.data(),
    alphabet=st.sampled_from(["ab", "ab c", "abcdefghij ", "aé日🙂"]),
    n=st.sampled_from([8, 10, 20]),
)
def test_any_text_matches_brute_force(data, alphabet, n):
    train = data.draw(st.text(alphabet, max_size=300))
    pieces = data.draw(
        st.lists(
            st.text(alphabet, max_size=15)
            | st.tuples(st.integers(0, 300), st.integers(1, 40)).map(lambda t: train[t[0] : t[0] + t[1]]),
            max_size=8,
        )
    )
    generated = "".join(pieces)
    found = CopyIndex.build(train, n, max_candidates=ALL).find(generated)
    assert spans(found) == brute_force(train, generated, n)
    assert_true_copies(train, generated, found)


@pytest.mark.parametrize("seed", range(4))
def test_hash_collisions_never_mark_a_non_copy(monkeypatch, seed):
    """With a 2-bit hash, nearly every lookup is a collision: only the check against the characters stands."""
    monkeypatch.setattr(copies, "HASH_BITS", 2)
    rng = random.Random(seed)
    train = "".join(rng.choice("abcd ") for _ in range(2_000))
    generated = "".join(rng.choice("abcd ") for _ in range(200)) + train[700:760] + "abcd" * 10
    index = CopyIndex.build(train, 20, max_candidates=ALL)
    assert len(set(index._hash.tolist())) <= 4
    found = index.find(generated)
    assert spans(found) == brute_force(train, generated, 20)
    assert any(start <= 200 < end for start, end in spans(found))
    assert_true_copies(train, generated, found)


def test_the_candidate_cap_and_what_it_can_miss():
    # One k-character piece ("x" * 12) in 300 different contexts, and the copy's true source is the last of them.
    rng = random.Random(0)
    contexts = ["".join(rng.choice("abcdefghij") for _ in range(8)) for _ in range(300)]
    train = "".join(f"{c}{'x' * 12}{c[::-1]}|" for c in contexts)
    k, s = gram_for(12)
    assert k == 8 and s == 5
    last = contexts[-1]
    generated = f"{last[-2:]}{'x' * 12}{last[::-1][:4]}"  # 18 characters: only pieces of x's and near them
    exact = brute_force(train, generated, 12)
    assert exact == [(0, 18)]
    assert spans(CopyIndex.build(train, 12, max_candidates=ALL).find(generated)) == exact
    assert spans(CopyIndex.build(train, 12, max_candidates=1).find(generated)) != exact  # the documented limit
    # A passage repeated many times is found even when one candidate per piece is checked: every one is a source.
    repeated = "|".join(f"{i}: the same sentence, said again and again" for i in range(500))
    found = CopyIndex.build(repeated, max_candidates=1).find("## the same sentence, said again ##")
    assert spans(found) == [(2, 33)]


def test_sizes_and_settings():
    text = "0123456789" * 1_000
    index = CopyIndex.build(text)
    k, s = gram_for(MIN_COPY)
    assert (k, s) == (12, 9) and k + s - 1 == MIN_COPY
    anchors = (len(text) - k) // s + 1
    assert index.nbytes == len(text) + anchors * 8  # one byte per character, a 4-byte hash and position per anchor
    assert len(index) == len(text)
    for bad in (7, 1001, 2.5, "20", None, True):
        with pytest.raises(ConfigError, match="from 8 to 1,000"):
            CopyIndex.build(text, bad)
    for n in (8, 9, 13, 20, 21, 40, 1000):
        k, s = gram_for(n)
        assert 1 <= k <= n and s >= 1 and k + s - 1 == n


def test_results_are_plain_values(index, train):
    found = index.find(train[:50])
    assert found.stretches == (Stretch(0, 50, 0),)
    assert isinstance(found.stretches[0].start, int) and isinstance(found.copied_share, float)
