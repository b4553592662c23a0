"""Temperature reweighting and drawing: the seed's maths, without its numerical traps."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from charlstm.errors import ConfigError
from charlstm.sampling import check_temperature, draw, reweight, seed_sample, softmax

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
