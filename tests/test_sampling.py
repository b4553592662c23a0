"""Temperature reweighting and drawing: the seed's maths, without its numerical traps."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from charlstm.errors import ConfigError
from charlstm.sampling import (
    LoopGuard,
    Sampler,
    Sampling,
    banned_after,
    check_temperature,
    draw,
    filtered,
    reweight,
    seed_sample,
    softmax,
)

RNG = np.random.default_rng(42)
LOGITS = RNG.normal(0, 2, size=57)


def seed_reweight(preds: np.ndarray, temperature: float) -> np.ndarray:
    """The seed's formula, written out directly: exp(log p / T), normalised."""
    a = np.exp(np.log(preds) / temperature)
    return a / a.sum()


@pytest.mark.parametrize("temperature", [0.2, 0.5, 1.0, 1.2, 3.0])
def test_reweight_equals_the_seed_formula(temperature):
    p = np.exp(LOGITS) / np.exp(LOGITS).sum()
    expected = seed_reweight(p, temperature)
    got = reweight(LOGITS, temperature)
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-15)
    # Logits and log-probabilities differ by a constant; the answer must not change.
    np.testing.assert_allclose(reweight(np.log(p), temperature), expected, rtol=1e-10, atol=1e-15)


def test_reweight_works_on_batches():
    batch = RNG.normal(size=(3, 10))
    out = reweight(batch, 0.7)
    for row, logits in zip(out, batch, strict=True):
        np.testing.assert_allclose(row, reweight(logits, 0.7))
    np.testing.assert_allclose(out.sum(axis=-1), 1.0)


def test_temperature_zero_is_one_hot_argmax():
    out = reweight(LOGITS, 0)
    assert out.sum() == 1.0
    assert out[np.argmax(LOGITS)] == 1.0
    assert np.count_nonzero(out) == 1
    batch = RNG.normal(size=(4, 9))
    np.testing.assert_array_equal(reweight(batch, 0.0).argmax(axis=-1), batch.argmax(axis=-1))
    np.testing.assert_array_equal(reweight(batch, 0.0).sum(axis=-1), 1.0)


@pytest.mark.parametrize(
    "logits", [LOGITS, LOGITS * 1e4, np.array([1e300, -1e300, 5.0]), np.array([800.0, 0.0, -800.0])]
)
def test_tiny_temperature_is_argmax_without_overflow(logits):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            out = reweight(logits, 1e-6)
    assert np.isfinite(out).all()
    assert out.argmax() == logits.argmax()
    assert out.max() == pytest.approx(1.0)


def test_huge_logits_are_fine():
    logits = np.array([1000.0, 999.0, -1000.0])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        out = reweight(logits, 1.0)
    e = math.exp(-1.0)
    np.testing.assert_allclose(out, [1 / (1 + e), e / (1 + e), 0.0], atol=1e-12)


def test_seed_formula_would_fail_where_reweight_does_not():
    # The seed takes log(p) of a softmax that underflowed to 0: a warning and -inf.
    p = softmax(np.array([0.0, -800.0]))
    assert p[1] == 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_allclose(reweight(np.array([0.0, -800.0]), 0.5), [1.0, 0.0])


@pytest.mark.parametrize("bad", [-0.1, -5, math.nan, math.inf, -math.inf, "hot", None, 101])
def test_bad_temperatures_raise_config_error(bad):
    with pytest.raises(ConfigError, match=r"[Tt]emperature"):
        check_temperature(bad)
    with pytest.raises(ConfigError, match=r"[Tt]emperature"):
        reweight(LOGITS, bad)


@pytest.mark.parametrize("good", [0, 0.0, 0.2, 1, "1.5", 100])
def test_good_temperatures_pass(good):
    assert check_temperature(good) == float(good)


@pytest.mark.parametrize("k", [1, 3, 10])
def test_top_k_keeps_only_k_nonzero(k):
    out = reweight(LOGITS, 1.0, top_k=k)
    assert np.count_nonzero(out) == k
    top = set(np.argsort(LOGITS)[-k:])
    assert set(np.nonzero(out)[0]) == top
    np.testing.assert_allclose(out.sum(), 1.0)
    kept = np.array(sorted(top))
    np.testing.assert_allclose(out[kept], softmax(LOGITS[kept]))


def test_top_k_at_or_above_vocab_size_changes_nothing():
    np.testing.assert_allclose(reweight(LOGITS, 0.8, top_k=57), reweight(LOGITS, 0.8))
    np.testing.assert_allclose(reweight(LOGITS, 0.8, top_k=500), reweight(LOGITS, 0.8))


def test_top_k_with_temperature_zero_is_still_argmax():
    out = reweight(LOGITS, 0.0, top_k=5)
    assert out.argmax() == LOGITS.argmax() and out.sum() == 1.0


def test_draw_is_inverse_cdf():
    probs = np.array([[0.1, 0.2, 0.3, 0.4]] * 5)
    u = np.array([0.0, 0.05, 0.15, 0.5, 0.999])
    np.testing.assert_array_equal(draw(probs, u), [0, 0, 1, 2, 3])
    # Never an index past the end, even for u = 1 or rows that do not sum exactly to one.
    assert draw(np.array([[0.3, 0.3, 0.3]]), np.array([1.0]))[0] == 2


def test_draw_never_picks_zero_probability():
    probs = np.array([[0.0, 0.5, 0.0, 0.5, 0.0]] * 1000)
    picks = draw(probs, np.random.default_rng(0).random(1000))
    assert set(picks.tolist()) == {1, 3}


def test_draw_frequencies_follow_the_probabilities():
    p = reweight(LOGITS[:6], 1.0)
    u = np.random.default_rng(1).random(200_000)
    picks = draw(np.broadcast_to(p, (len(u), 6)), u)
    freq = np.bincount(picks, minlength=6) / len(u)
    np.testing.assert_allclose(freq, p, atol=0.005)


def test_same_uniforms_across_temperatures():
    temps = [0.0, 0.2, 0.5, 1.0, 1.2]
    rows = np.stack([reweight(LOGITS, t) for t in temps])
    u = np.full(len(temps), 0.37)
    picks = draw(rows, u)
    for i, t in enumerate(temps):
        assert picks[i] == draw(reweight(LOGITS, t)[None], np.array([0.37]))[0]
    assert picks[0] == LOGITS.argmax()
    # With a shared uniform a higher temperature moves the pick away from the mode, never in a random way:
    # the same uniform at the same temperature always gives the same character.
    assert (draw(rows, u) == picks).all()


def test_seed_sample_is_the_seeds_function():
    p = reweight(LOGITS, 1.0)
    for t in (0.2, 0.5, 1.0, 1.2):
        # The seed: preds = log(preds)/T; exp; normalise; rng.multinomial(1, preds, 1); argmax.
        expected_rng, rng = np.random.RandomState(7), np.random.RandomState(7)
        q = np.exp(np.log(p.astype("float64")) / t)
        q = q / q.sum()
        expected = [int(np.argmax(expected_rng.multinomial(1, q, 1))) for _ in range(50)]
        assert [seed_sample(p, t, rng=rng) for _ in range(50)] == expected


def test_seed_sample_tolerates_zero_probabilities():
    p = np.array([0.0, 1.0, 0.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert seed_sample(p, 0.5, rng=np.random.RandomState(0)) == 1


def test_softmax_rows_sum_to_one():
    z = RNG.normal(size=(5, 8)) * 100
    s = softmax(z)
    np.testing.assert_allclose(s.sum(axis=-1), 1.0)
    assert (s >= 0).all()


# --- top-p, top-k + top-p, the loop guard: issue 18 -------------------------------------------------------
def nucleus_by_sorting(probs: np.ndarray, p: float) -> set[int]:
    """The smallest set of likeliest characters with mass >= p, by walking the sorted list (ties: lower id first)."""
    kept, mass = set(), 0.0
    for i in sorted(range(len(probs)), key=lambda i: (-probs[i], i)):
        if kept and mass >= p:
            break
        kept.add(i)
        mass += probs[i]
    return kept


def renormalised(probs: np.ndarray, kept: set[int]) -> np.ndarray:
    out = np.zeros_like(probs)
    idx = np.array(sorted(kept))
    out[idx] = probs[idx] / probs[idx].sum()
    return out


HAND = np.array([0.06, 0.4, 0.1, 0.25, 0.04, 0.15])  # sorted: 0.4, 0.25, 0.15, 0.1, 0.06, 0.04


@pytest.mark.parametrize(
    ("p", "kept"),
    [(0.1, {1}), (0.39, {1}), (0.5, {1, 3}), (0.7, {1, 3, 5}), (0.85, {1, 3, 5, 2}), (0.95, {1, 3, 5, 2, 0})],
)
def test_top_p_on_a_hand_made_distribution(p, kept):
    assert nucleus_by_sorting(HAND, p) == kept  # the reference itself, checked by hand
    out = filtered(np.log(HAND), Sampling(1.0, top_p=p))
    assert set(np.flatnonzero(out)) == kept
    np.testing.assert_allclose(out, renormalised(HAND, kept), rtol=1e-12)


def test_top_p_stops_as_soon_as_the_mass_reaches_p():
    halves = np.log([0.125, 0.5, 0.125, 0.25])  # exact in binary: the sums hit 0.5 and 0.75 exactly
    assert set(np.flatnonzero(filtered(halves, Sampling(1.0, top_p=0.5)))) == {1}
    assert set(np.flatnonzero(filtered(halves, Sampling(1.0, top_p=0.75)))) == {1, 3}
    assert set(np.flatnonzero(filtered(halves, Sampling(1.0, top_p=0.76)))) == {0, 1, 3}  # ties: lower id first


@pytest.mark.parametrize("seed", range(20))
def test_top_p_matches_sorting_at_any_temperature(seed):
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 3, size=int(rng.integers(2, 80)))
    t, p = float(rng.choice([0.3, 0.7, 1.0, 1.6])), float(rng.uniform(0.05, 0.99))
    tempered = softmax(logits / t)  # top-p works on the tempered distribution
    kept = nucleus_by_sorting(tempered, p)
    out = filtered(logits, Sampling(t, top_p=p))
    assert set(np.flatnonzero(out)) == kept
    np.testing.assert_allclose(out, renormalised(tempered, kept), rtol=1e-9, atol=1e-300)


def test_a_cooler_temperature_leaves_a_smaller_nucleus():
    sizes = [np.count_nonzero(filtered(LOGITS, Sampling(t, top_p=0.9))) for t in (0.3, 0.7, 1.0, 2.0)]
    assert sizes == sorted(sizes) and sizes[0] < sizes[-1]


@pytest.mark.parametrize(("k", "p", "t"), [(5, 0.5, 1.0), (10, 0.9, 0.7), (3, 0.99, 2.0), (57, 0.8, 1.0), (1, 0.5, 1)])
def test_top_k_then_top_p_on_what_top_k_left(k, p, t):
    top = set(np.argsort(LOGITS)[-k:].tolist())
    after_k = renormalised(softmax(LOGITS / t), top)
    kept = nucleus_by_sorting(after_k, p)
    out = filtered(LOGITS, Sampling(t, top_k=k, top_p=p))
    assert set(np.flatnonzero(out)) == kept and kept <= top
    np.testing.assert_allclose(out, renormalised(after_k, kept), rtol=1e-9)


def test_temperature_zero_is_the_argmax_of_what_remains():
    best, second = np.argsort(LOGITS)[::-1][:2]
    assert filtered(LOGITS, Sampling(0.0), banned={best}).argmax() == second
    assert filtered(LOGITS, Sampling(0.0, top_k=5), banned={best}).max() == 1.0
    # At T = 0 top-p keeps only the likeliest character, so a guard that bans it gives way.
    out = filtered(LOGITS, Sampling(0.0, top_p=0.9), banned={best})
    assert out[best] == 1.0 and out.sum() == 1.0


def guard_by_search(text: str, n: int, alphabet: str) -> set[str]:
    """Characters c for which the last n-1 characters + c already occur in the text."""
    if len(text) < n - 1:
        return set()
    tail = text[len(text) - (n - 1) :]
    return {c for c in alphabet if tail + c in text}


def test_the_loop_guard_on_a_small_example():
    text, alphabet = "the cat sat on the mat", "acehmnost "
    ids = [alphabet.index(c) for c in text]
    banned = {alphabet[i] for i in banned_after(ids, 3)}
    assert banned == {" "} == guard_by_search(text, 3, alphabet)  # "at " was written twice; "at" ends the text
    assert {alphabet[i] for i in banned_after(ids, 2)} == {" ", "h"} == guard_by_search(text, 2, alphabet)
    assert set(banned_after(ids, 5)) == set()  # " mat" never occurred before
    assert set(banned_after(ids, None)) == set(banned_after(ids, 0)) == set()


@pytest.mark.parametrize("n", [2, 3, 4, 6])
def test_the_loop_guard_kept_up_to_date_equals_a_search_at_every_step(n):
    rng = np.random.default_rng(n)
    alphabet = "abc "
    text = "".join(rng.choice(list(alphabet), size=300))
    guard = LoopGuard(n)
    for j in range(len(text)):
        assert {alphabet[i] for i in guard.banned()} == guard_by_search(text[:j], n, alphabet), j
        guard.push(alphabet.index(text[j]))


def test_the_guard_removes_exactly_the_banned_and_renormalises():
    out = filtered(LOGITS, Sampling(1.0), banned={3, 7, 11})
    expected = softmax(LOGITS)
    expected[[3, 7, 11]] = 0.0
    np.testing.assert_allclose(out, expected / expected.sum(), rtol=1e-12)


def test_when_the_guard_bans_everything_left_the_step_is_unguarded():
    top3 = set(np.argsort(LOGITS)[-3:].tolist())
    unguarded = filtered(LOGITS, Sampling(1.0, top_k=3))
    np.testing.assert_array_equal(filtered(LOGITS, Sampling(1.0, top_k=3), banned=top3), unguarded)
    np.testing.assert_array_equal(filtered(LOGITS, Sampling(1.0), banned=set(range(57))), reweight(LOGITS, 1.0))
    # The sampler says which rows gave way. The vocabulary is "ab", the text "aaba": with n = 2, "a" was followed by
    # both "a" and "b", so everything is banned; with n = 3, "ba" was never followed by anything.
    sampler = Sampler([Sampling(1.0, no_repeat=2), Sampling(1.0, no_repeat=3)], 2, [0, 0, 1, 0])
    ids, fell_back = sampler.pick(np.array([[1.0, 0.0], [1.0, 0.0]]), 0.1)
    assert fell_back.tolist() == [True, False]
    assert ids.tolist() == [0, 0]


def test_the_sampler_shares_one_uniform_across_rows():
    rows = [Sampling(1.0), Sampling(1.0, top_p=0.8), Sampling(0.7, top_k=5, no_repeat=3), Sampling(0.0), Sampling(1.0)]
    logits = np.stack([LOGITS] * len(rows))
    for u in (0.01, 0.37, 0.99):
        ids, _ = Sampler(rows, 57, [1, 2, 3]).pick(logits, u)
        for r, row in enumerate(rows):
            assert ids[r] == Sampler([row], 57, [1, 2, 3]).pick(logits[:1], u)[0][0]
        assert ids[0] == ids[4] == draw(reweight(LOGITS, 1.0)[None], np.array([u]))[0]
        assert ids[3] == LOGITS.argmax()


def test_the_plain_path_equals_the_general_one():
    """The fast path (temperature only) and the filtered path must pick the same characters."""
    rng = np.random.default_rng(5)
    logits = rng.normal(0, 2, size=(6, 40))
    temps = [0.0, 0.2, 0.5, 1.0, 1.2, 3.0]
    plain = Sampler([Sampling(t) for t in temps], 40)
    general = Sampler([Sampling(t, top_k=40) for t in temps], 40)  # top-k of the whole vocabulary: a no-op
    for u in rng.random(200):
        np.testing.assert_array_equal(plain.pick(logits, u)[0], general.pick(logits, u)[0])


def test_filtered_works_on_a_batch():
    batch = RNG.normal(size=(4, 12))
    setting = Sampling(0.8, top_k=6, top_p=0.7)
    out = filtered(batch, setting, banned={0})
    for row, logits in zip(out, batch, strict=True):
        np.testing.assert_array_equal(row, filtered(logits, setting, banned={0}))


@pytest.mark.parametrize(
    ("setting", "words"),
    [
        (Sampling(top_k=0), ["top-k", "1 or more"]),
        (Sampling(top_k=2.5), ["top-k", "whole number"]),
        (Sampling(top_k=True), ["top-k"]),
        (Sampling(top_p=0), ["top-p", "above 0 and at most 1"]),
        (Sampling(top_p=1.5), ["top-p", "at most 1"]),
        (Sampling(top_p=math.nan), ["top-p"]),
        (Sampling(top_p="lots"), ["top-p"]),
        (Sampling(no_repeat=1), ["no-repeat", "from 2 to 200", "0 for off"]),
        (Sampling(no_repeat=201), ["no-repeat", "from 2 to 200"]),
        (Sampling(no_repeat=-3), ["no-repeat"]),
        (Sampling(no_repeat=4.5), ["no-repeat", "whole number"]),
        (Sampling(temperature=-1), ["Temperature"]),
    ],
)
def test_bad_settings_say_what_is_allowed(setting, words):
    with pytest.raises(ConfigError) as err:
        setting.checked()
    for word in words:
        assert word in str(err.value)


def test_off_is_spelled_one_way():
    assert Sampling(0.5, top_k=None, top_p=1, no_repeat=0).checked() == Sampling(0.5)
    assert Sampling(0.5).checked().plain
    assert Sampling("0.5", np.int64(4), 0.9, 8.0).checked() == Sampling(0.5, 4, 0.9, 8)
    assert Sampling(0.8, 40, 0.9, 8).label == "T 0.8, top-k 40, top-p 0.9, no repeat 8"
    assert Sampling(0).label == "T 0"
