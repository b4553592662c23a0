"""The NumPy generator: same probabilities as the Keras model, reproducible sampling, scoring."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest

from charlstm import store
from charlstm.config import TrainConfig
from charlstm.errors import BundleError, ConfigError
from charlstm.generate import MAX_LENGTH, Generator, check_length, opening_words
from charlstm.run import Run
from charlstm.sampling import Sampling, softmax
from charlstm.text import Vocabulary
from charlstm.weights import expected_shapes

TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def docs(english_text) -> str:
    return english_text[:20_000]


def noisy_keras_weights(model, scale: float = 0.05, seed: int = 0) -> dict[str, np.ndarray]:
    """The model's own initial weights plus small noise: realistic sizes, nothing special about them."""
    from charlstm import model as M

    rng = np.random.default_rng(seed)
    return {k: (v + rng.normal(0, scale, v.shape)).astype(np.float32) for k, v in M.get_weights(model).items()}


def keras_probabilities(model, vocab: Vocabulary, text: str) -> np.ndarray:
    ids = vocab.encode(text).astype(np.int32)[None]
    return softmax(np.asarray(model(ids), dtype=np.float64))


@pytest.mark.parametrize(
    "config",
    [
        TrainConfig(cell="lstm", layers=1, units=32, embedding_dim=8),
        TrainConfig(cell="gru", layers=2, units=32, embedding_dim=8),
        TrainConfig(cell="lstm", layers=2, units=16, embedding_dim=0),
    ],
    ids=["lstm", "gru-2-layers", "lstm-2-layers-one-hot"],
)
def test_generator_matches_keras_in_sequence_mode(config, docs):
    from charlstm import model as M

    vocab = Vocabulary.from_text(docs)
    model = M.build_model(config, len(vocab))
    weights = noisy_keras_weights(model)
    M.set_weights(model, weights, config, len(vocab))
    prompt = docs[1000:1200]
    ours = Generator(weights, config, vocab).probabilities(prompt)
    theirs = keras_probabilities(model, vocab, prompt)[0]
    assert ours.shape == theirs.shape == (200, len(vocab))
    assert np.abs(ours - theirs).max() <= TOLERANCE
    # The comparison is sharp: other weights give clearly different probabilities.
    other = Generator(noisy_keras_weights(model, seed=1), config, vocab).probabilities(prompt)
    assert np.abs(other - theirs).max() > 100 * TOLERANCE


def test_generator_matches_keras_with_trained_weights(trained_run):
    from charlstm import model as M

    run = Run(trained_run)
    config, vocab = run.config(), run.vocab()
    weights, _ = run.load_checkpoint("best")
    model = M.build_model(config, len(vocab))
    M.set_weights(model, weights, config, len(vocab))
    prompt = run.text()[500:700]
    ours = store.load_generator(trained_run).probabilities(prompt)
    theirs = keras_probabilities(model, vocab, prompt)[0]
    assert np.abs(ours - theirs).max() <= TOLERANCE


def test_generator_matches_keras_in_classic_window_mode(docs):
    from charlstm import model as M
    from charlstm.config import PRESETS

    text = docs.lower()
    config = PRESETS["classic"].config.replace(units=32)
    vocab = Vocabulary.from_text(text)
    model = M.build_model(config, len(vocab))
    weights = noisy_keras_weights(model, seed=3)
    M.set_weights(model, weights, config, len(vocab))
    prompt = text[3000:3200]
    ours = Generator(weights, config, vocab).probabilities(prompt)
    for n in (1, 2, 3, 17, 59, 60, 61, 128, 199, 200):  # the window model gives the last position only
        theirs = keras_probabilities(model, vocab, prompt[:n])[0]
        assert theirs.shape == (len(vocab),)
        assert np.abs(ours[n - 1] - theirs).max() <= TOLERANCE, n


# --- sampling from a generator (NumPy only, no TensorFlow) ------------------------------------------
def random_generator(text: str, seed: int = 0, **overrides) -> Generator:
    config = TrainConfig(units=24, embedding_dim=8, **overrides)
    vocab = Vocabulary.from_text(text)
    rng = np.random.default_rng(seed)
    weights = {
        name: rng.normal(0, 0.4, shape).astype(np.float32)
        for name, shape in expected_shapes(config, len(vocab)).items()
    }
    return Generator(weights, config, vocab)


@pytest.fixture(scope="module")
def gen(docs) -> Generator:
    return random_generator(docs)


def test_same_seed_same_text_other_seed_other_text(gen):
    a = gen.generate("The ", [1.0], length=200, seed=7)[0]
    b = gen.generate("The ", [1.0], length=200, seed=7)[0]
    c = gen.generate("The ", [1.0], length=200, seed=8)[0]
    assert a.text == b.text
    np.testing.assert_array_equal(a.probs, b.probs)
    assert a.text != c.text
    assert len(a.text) == 200


def test_temperatures_share_random_numbers(gen):
    prompt = "Return the"
    samples = gen.generate(prompt, [0.0, 1.0, 1.0, 0.5], length=120, seed=11)
    assert [s.temperature for s in samples] == [0.0, 1.0, 1.0, 0.5]
    assert samples[1].text == samples[2].text
    np.testing.assert_array_equal(samples[1].probs, samples[2].probs)
    assert gen.generate(prompt, [1.0], length=120, seed=11)[0].text == samples[1].text
    assert gen.generate(prompt, [0.5], length=120, seed=11)[0].text == samples[3].text
    assert len({s.text for s in samples}) == 3


def test_temperature_zero_is_greedy_decoding(gen):
    prompt = "Return the"
    greedy = gen.generate(prompt, [0.0, 1.0], length=80, seed=3)[0].text
    assert len(set(greedy)) > 1  # not a degenerate model
    # Independently: every greedy character is the argmax of the model's distribution after the text before it.
    p = gen.probabilities(prompt + greedy)
    for i, ch in enumerate(greedy):
        assert gen.vocab.chars[int(p[len(prompt) - 1 + i].argmax())] == ch
    assert gen.generate(prompt, [0.0], length=80, seed=99)[0].text == greedy  # no randomness at T = 0


def test_sample_probs_are_the_models_probabilities(gen):
    prompt = "It is"
    sample = gen.generate(prompt, [0.7], length=60, seed=5)[0]
    p = gen.probabilities(prompt + sample.text)
    ids = gen.vocab.encode(sample.text)
    expected = p[np.arange(len(prompt) - 1, len(prompt) - 1 + 60), ids]
    np.testing.assert_allclose(sample.probs, expected, rtol=1e-5)


def test_stream_yields_the_same_text_as_generate(gen):
    pieces = list(gen.stream("The ", temperature=0.8, length=150, seed=21))
    assert len(pieces) == 150
    assert all(isinstance(ch, str) and len(ch) == 1 for ch, _ in pieces)
    assert all(0.0 < p <= 1.0 for _, p in pieces)
    sample = gen.generate("The ", [0.8], length=150, seed=21)[0]
    assert "".join(ch for ch, _ in pieces) == sample.text
    np.testing.assert_allclose([p for _, p in pieces], sample.probs)


def test_top_k_limits_choices(gen):
    prompt = "The "
    sample = gen.generate(prompt, [1.0], length=100, seed=2, top_k=1)[0]
    assert sample.text == gen.generate(prompt, [0.0], length=100)[0].text  # top-1 is greedy
    wide = gen.generate(prompt, [5.0], length=200, seed=2, top_k=3)[0]
    p = gen.probabilities(prompt + wide.text)
    for i, ch in enumerate(wide.text):
        top3 = np.argsort(p[len(prompt) - 1 + i])[-3:]
        assert gen.vocab.id_of(ch) in top3
    with pytest.raises(ConfigError, match="top-k"):
        gen.generate(prompt, [1.0], length=10, top_k=0)


def test_unseen_prompt_characters_do_not_raise(gen):
    assert "☃" not in gen.vocab and "\u00a7" not in gen.vocab
    cleaned, unknown = gen.prepare_prompt("snow☃man §")
    assert unknown == ["☃", "\u00a7"]
    sample = gen.generate("snow☃man §", [1.0], length=30, seed=0)[0]
    assert len(sample.text) == 30
    assert sample.text == gen.generate(cleaned, [1.0], length=30, seed=0)[0].text
    assert len(list(gen.stream("☃☃☃", length=5, seed=0))) == 5
    assert np.isclose(gen.next_distribution("☃").sum(), 1.0)


def test_empty_prompt_works(gen):
    sample = gen.generate("", [0.5, 1.0], length=40, seed=1)
    assert all(len(s.text) == 40 for s in sample)
    assert gen.prepare_prompt("") == ("\n", [])
    no_newline = random_generator("abc def", seed=1)
    assert no_newline.prepare_prompt("") == (" ", [])
    assert len(no_newline.generate("", length=5, seed=0)[0].text) == 5


def test_check_length():
    assert check_length(0) == (0, None)
    assert check_length(400) == (400, None)
    assert check_length(np.int64(12)) == (12, None)
    length, note = check_length(10**9)
    assert length == MAX_LENGTH
    assert "capped" in note and "1,000,000,000" in note
    for bad in (-1, 2.5, "10", None, True):
        with pytest.raises(ConfigError, match="Length"):
            check_length(bad)


def test_length_zero_and_negative(gen):
    samples = gen.generate("The", [0.0, 1.0], length=0, seed=1)
    assert [s.text for s in samples] == ["", ""]
    assert all(s.probs.shape == (0,) for s in samples)
    assert list(gen.stream("The", length=0)) == []
    with pytest.raises(ConfigError):
        gen.generate("The", [1.0], length=-5)


def test_absurd_length_is_capped(gen):
    sample = gen.generate("x", [1.0], length=MAX_LENGTH + 5, seed=0)[0]
    assert len(sample.text) == MAX_LENGTH


@pytest.mark.parametrize("bad", [-1.0, math.nan, math.inf])
def test_bad_temperatures_are_refused(gen, bad):
    with pytest.raises(ConfigError, match="Temperature"):
        gen.generate("The", [1.0, bad], length=5)
    with pytest.raises(ConfigError, match="Temperature"):
        list(gen.stream("The", temperature=bad, length=5))
    with pytest.raises(ConfigError, match="Temperature"):
        gen.next_distribution("The", bad)
    with pytest.raises(ConfigError):
        gen.generate("The", [], length=5)


def test_next_distribution_follows_temperature(gen):
    p1 = gen.next_distribution("The", 1.0)
    np.testing.assert_allclose(p1, gen.probabilities("The")[-1], rtol=1e-6)
    p0 = gen.next_distribution("The", 0.0)
    assert p0.max() == 1.0 and p0.argmax() == p1.argmax()


def test_generator_refuses_weights_that_do_not_fit(docs):
    config = TrainConfig(units=24, embedding_dim=8)
    vocab = Vocabulary.from_text(docs)
    shapes = expected_shapes(config, len(vocab) + 1)
    weights = {k: np.zeros(s, np.float32) for k, s in shapes.items()}
    with pytest.raises(BundleError, match="do not fit"):
        Generator(weights, config, vocab)


# --- scoring ------------------------------------------------------------------------------------------
def test_score_is_mean_negative_log_likelihood(gen):
    text = "Return the value of the"
    score = gen.score(text)
    p = gen.probabilities(text)
    ids = gen.vocab.encode(text)
    nll = -np.log(p[np.arange(len(text) - 1), ids[1:]])
    assert score.chars == len(text) - 1
    assert score.skipped == 0
    assert score.nats == pytest.approx(nll.mean(), rel=1e-5)
    assert score.bpc == pytest.approx(score.nats / math.log(2))


def test_score_skips_unknown_characters(gen):
    plain = gen.score("Return the value")
    with_unknown = gen.score("Return☃ the☃ value")
    assert with_unknown.skipped == 2
    assert with_unknown.nats == pytest.approx(plain.nats)
    with pytest.raises(ConfigError, match="two characters"):
        gen.score("☃☃☃R")


def test_score_of_long_text_is_chunked_from_fresh_states(gen, docs):
    from charlstm.generate import SCORE_CHUNK

    text = (docs * 3)[: 2 * SCORE_CHUNK + 500]
    whole = gen.score(text)
    parts = [gen.score(text[i : i + SCORE_CHUNK]) for i in range(0, len(text), SCORE_CHUNK)]
    assert whole.chars == sum(p.chars for p in parts) == len(text) - 3
    expected = sum(p.nats * p.chars for p in parts) / whole.chars
    assert whole.nats == pytest.approx(expected, rel=1e-9)
    assert math.isfinite(whole.bpc)


def test_a_trained_model_scores_its_text_lower_than_shuffled_text(trained_run):
    gen = store.load_generator(trained_run)
    text = (trained_run / "corpus.txt").read_text(encoding="utf-8")[:6000]
    chars = list(text)
    random.Random(0).shuffle(chars)
    real, shuffled = gen.score(text), gen.score("".join(chars))
    assert math.isfinite(real.bpc) and math.isfinite(shuffled.bpc)
    assert real.bpc == pytest.approx(real.nats / math.log(2))
    assert real.nats < shuffled.nats
    assert real.nats < math.log(len(gen.vocab))  # better than knowing nothing


def test_lowercase_model_scores_and_generates_from_mixed_case(docs):
    gen = random_generator(docs.lower(), seed=4)
    assert gen.score("Return The Value").skipped == 0
    assert gen.score("Return The Value").nats == pytest.approx(gen.score("return the value").nats)
    assert gen.generate("HELLO", length=10, seed=1)[0].text == gen.generate("hello", length=10, seed=1)[0].text


# --- top-p and the loop guard in generation: issue 18 ------------------------------------------------------
def repeats_written(prompt: str, text: str, n: int) -> list[int]:
    """Positions i of `text` where the n characters ending at i already occurred in the text before i."""
    full = prompt + text
    out = []
    for i in range(len(text)):
        j = len(prompt) + i
        if j + 1 >= n and full[j - n + 1 : j + 1] in full[:j]:
            out.append(i)
    return out


def everything_was_banned(gen: Generator, prompt: str, text: str, i: int, n: int, allowed) -> bool:
    """Whether every allowed character would have repeated an n-gram at position i: the only excuse for a repeat."""
    before = (prompt + text)[: len(prompt) + i]
    return all(before[len(before) - n + 1 :] + c in before for c in allowed)


@pytest.mark.parametrize("n", [3, 5, 8])
def test_the_loop_guard_writes_no_n_gram_twice(gen, n):
    prompt = "The value of the"
    rows = [Sampling(0.0), Sampling(0.0, no_repeat=n), Sampling(0.8, no_repeat=n), Sampling(1.0, top_k=5, no_repeat=n)]
    plain, *guarded = gen.generate(prompt, rows, length=300, seed=4)
    assert len(repeats_written(prompt, plain.text, n)) > 100  # unguarded greedy text loops: the check can fail
    for s in guarded:
        assert s.fell_back.shape == (300,)
        for i in repeats_written(prompt, s.text, n):
            assert s.fell_back[i], (s.sampling, i)
        assert s.fell_back.sum() < 75  # most steps were guarded (a guard that always gave way would pass the rest)
        for i in np.flatnonzero(s.fell_back):  # each fallback was forced: every character it could have taken repeats
            p = gen.probabilities(prompt + s.text)[len(prompt) - 1 + i]
            allowed = gen.vocab.chars if s.sampling.top_k is None else [gen.vocab.chars[j] for j in np.argsort(p)[-5:]]
            assert everything_was_banned(gen, prompt, s.text, i, n, allowed)
    assert plain.fell_back.sum() == 0


def test_the_loop_guard_gives_way_when_every_character_is_banned(docs):
    tiny = random_generator("ab ba ab", seed=2)  # three characters: with n = 2 every pair is soon written
    prompt = "ab"
    s = tiny.generate(prompt, [Sampling(1.0, no_repeat=2)], length=60, seed=1)[0]
    assert len(s.text) == 60  # never stuck
    made = repeats_written(prompt, s.text, 2)
    assert made and set(made) == set(np.flatnonzero(s.fell_back))
    for i in made:
        assert everything_was_banned(tiny, prompt, s.text, i, 2, tiny.vocab.chars)
    for i in set(range(60)) - set(made):
        assert not everything_was_banned(tiny, prompt, s.text, i, 2, tiny.vocab.chars)


@pytest.mark.parametrize(
    "setting",
    [Sampling(0.9, top_p=0.8), Sampling(1.2, top_k=8, top_p=0.9, no_repeat=4), Sampling(0.0, no_repeat=6)],
    ids=["top-p", "all", "greedy-guarded"],
)
def test_same_prompt_seed_and_settings_same_text_streamed_or_not(gen, setting):
    a = gen.generate("The ", [setting], length=200, seed=3)[0]
    assert a.text == gen.generate("The ", [setting], length=200, seed=3)[0].text
    streamed = list(gen.stream("The ", setting, length=200, seed=3))
    assert "".join(ch for ch, _ in streamed) == a.text
    np.testing.assert_allclose([p for _, p in streamed], a.probs)
    as_keywords = {"top_k": setting.top_k, "top_p": setting.top_p, "no_repeat": setting.no_repeat}
    assert gen.generate("The ", [setting.temperature], 200, seed=3, **as_keywords)[0].text == a.text
    assert "".join(ch for ch, _ in gen.stream("The ", setting.temperature, 200, 3, **as_keywords)) == a.text
    if setting.temperature > 0:
        assert gen.generate("The ", [setting], length=200, seed=4)[0].text != a.text


def test_rows_with_different_settings_share_random_numbers(gen):
    prompt = "Return the"
    rows = [Sampling(1.0, top_p=0.9), Sampling(0.7, no_repeat=5), Sampling(1.0, top_p=0.9), Sampling(1.0), 0.5]
    samples = gen.generate(prompt, rows, length=150, seed=11)
    assert samples[0].text == samples[2].text
    assert [s.sampling for s in samples] == [*rows[:4], Sampling(0.5)]
    assert [s.temperature for s in samples] == [1.0, 0.7, 1.0, 1.0, 0.5]
    for row, s in zip(rows, samples, strict=True):
        alone = gen.generate(prompt, [row], length=150, seed=11)[0]
        assert alone.text == s.text
        np.testing.assert_allclose(alone.probs, s.probs, rtol=1e-5)  # float32 round-off differs with the batch
    assert samples[3].text == gen.generate(prompt, [1.0], length=150, seed=11)[0].text  # as before issue 18
    assert len({s.text for s in samples}) == 4


def nucleus(probs: np.ndarray, p: float) -> set[int]:
    """The smallest set of likeliest characters whose probabilities add up to p or more."""
    order = np.argsort(-probs, kind="stable")
    size = int(np.searchsorted(np.cumsum(probs[order]), p)) + 1
    return set(order[:size].tolist())


def test_top_p_picks_only_from_the_nucleus(gen):
    prompt = "It is"
    picked = gen.generate(prompt, [Sampling(1.0, top_p=0.5), Sampling(1.0)], length=200, seed=2)
    outside = []
    for s in picked:
        p = gen.probabilities(prompt + s.text)
        ids = gen.vocab.encode(s.text)
        outside.append(sum(ids[i] not in nucleus(p[len(prompt) - 1 + i], 0.5) for i in range(200)))
    assert outside[0] == 0
    assert outside[1] > 20  # without top-p the same random numbers leave the nucleus: the check is sharp


def test_next_distribution_shows_what_a_setting_leaves(gen):
    prompt = "the cat sat on the mat"
    model = gen.probabilities(prompt)[-1]
    guarded = gen.next_distribution(prompt, 1.0, no_repeat=3)  # "at " was written twice: " " is banned
    space = gen.vocab.id_of(" ")
    expected = model.copy()
    expected[space] = 0.0
    np.testing.assert_allclose(guarded, expected / expected.sum(), rtol=1e-5)
    top3 = gen.next_distribution(prompt, Sampling(0.5, top_k=3))
    assert set(np.flatnonzero(top3)) == set(np.argsort(model)[-3:].tolist())
    nucleus_only = gen.next_distribution(prompt, Sampling(1.0, top_p=0.5))
    assert set(np.flatnonzero(nucleus_only)) == nucleus(model, 0.5)
    greedy = gen.next_distribution(prompt, Sampling(0.0, no_repeat=3))
    assert greedy.max() == 1.0 and greedy.argmax() == np.argmax(np.where(np.arange(len(model)) == space, -1, model))


def test_settings_are_checked_and_not_given_twice(gen):
    with pytest.raises(ConfigError, match="top-p"):
        gen.generate("The", [1.0], length=5, top_p=1.5)
    with pytest.raises(ConfigError, match="no-repeat"):
        list(gen.stream("The", 1.0, length=5, no_repeat=1))
    with pytest.raises(ConfigError, match="top-p"):
        gen.next_distribution("The", Sampling(1.0, top_p=0))
    with pytest.raises(TypeError, match="inside each Sampling"):
        gen.generate("The", [Sampling(1.0)], length=5, top_p=0.9)
    plain = gen.generate("The", [1.0], length=5, seed=0)[0]
    assert plain.sampling == Sampling(1.0) and plain.fell_back.tolist() == [False] * 5


# --- cell surgery (issue 21) ----------------------------------------------------------------------------
@pytest.mark.parametrize("cell_type", ["lstm", "gru"])
def test_a_pinned_cell_holds_its_value_and_no_pin_changes_nothing(docs, cell_type):
    from charlstm.generate import Pin
    from charlstm.inside import activations

    gen = random_generator(docs, cell=cell_type, layers=2)
    plain = gen.generate("the ", [0.8, 0.0], 120, seed=4)
    assert [s.text for s in gen.pinned().generate("the ", [0.8, 0.0], 120, seed=4)] == [s.text for s in plain]
    for value in (0.0, 1.0, -1.0, 0.4):
        pinned = gen.pinned(Pin(cell=3, value=value))
        acts = activations(pinned.trace("the quick brown fox, then the rest of it"), cell_type)
        expected = np.clip(value, -Pin.HIGHEST, Pin.HIGHEST)
        np.testing.assert_allclose(acts[:, 3], expected, atol=1e-6)  # at every character
        assert not np.allclose(acts[:, 4], expected)  # only that cell
    changed = gen.pinned(Pin(cell=3, value=1.0), Pin(cell=5, value=-1.0)).generate("the ", [0.8], 120, seed=4)
    assert changed[0].text != plain[0].text  # random weights: holding two cells changes what it writes
    assert gen.generate("the ", [0.8], 120, seed=4)[0].text == plain[0].text  # the original is untouched


def test_a_pin_outside_the_model_is_a_plain_error(gen):
    from charlstm.generate import Pin

    for pin in (Pin(cell=10_000, value=1.0), Pin(cell=0, value=2.0), Pin(cell=0, value=1.0, layer=5)):
        with pytest.raises(ConfigError, match="pinned cell must be one of the model"):
            gen.pinned(pin)


# --- one step of the LSTM, explained (issue 21) ------------------------------------------------------------
def test_the_explained_step_is_the_step_the_model_takes(docs):
    """The gates taken apart put the memory and the output back together exactly as the generator's own step."""
    gen = random_generator(docs, layers=2)
    text = "the quick brown fox"
    steps = gen.explain(text)
    trace = gen.trace(text)
    np.testing.assert_allclose(steps["c"], trace.c[-1], atol=1e-6)
    np.testing.assert_allclose(steps["h"], trace.h[-1], atol=1e-6)
    np.testing.assert_allclose(steps["c_before"][1:], trace.c[-1][:-1], atol=1e-6)  # each step starts where one ended
    recombined = steps["forget"] * steps["c_before"] + steps["input"] * steps["candidate"]
    np.testing.assert_allclose(recombined, steps["c"], atol=1e-6)
    for gate in ("input", "forget", "output"):
        assert ((steps[gate] > 0) & (steps[gate] < 1)).all()  # gates are shares: how much is written, kept, shown
    np.testing.assert_allclose(steps["next"], gen.probabilities(text), atol=1e-6)


def test_the_explained_step_matches_the_keras_layer(docs):
    """Against Keras: the NumPy gates rebuild the memory and output Keras's own LSTM layer computes."""
    keras = pytest.importorskip("keras")
    from charlstm import model as M

    config = TrainConfig(units=16, embedding_dim=8, layers=1)
    vocab = Vocabulary.from_text(docs)
    net = M.build_model(config, len(vocab))
    weights = noisy_keras_weights(net, scale=0.3)
    M.set_weights(net, weights, config, len(vocab))
    text = "a quiet morning"
    steps = Generator(weights, config, vocab).explain(text)
    embedded = net.get_layer("embedding")(vocab.encode(text)[None].astype("int32"))
    twin = keras.layers.LSTM(16, return_sequences=True, return_state=True)
    twin(embedded)  # built, then given the trained layer's weights
    twin.set_weights(net.get_layer("rnn0").get_weights())
    outputs, _, memory = twin(embedded)
    np.testing.assert_allclose(steps["h"], np.asarray(outputs)[0], atol=1e-5)
    np.testing.assert_allclose(steps["c"][-1], np.asarray(memory)[0], atol=1e-5)


def test_a_prompt_from_a_persons_own_text_is_its_first_line_of_three_words():
    assert opening_words("MY DIARY\n12 May\n\n  Today   I\tplanted beans.\n") == "Today I planted "
    assert opening_words("def f(x):\n    return x  # twice\n") == "return x # "
    assert opening_words("one two\nthree\n") == "" == opening_words("")
    assert opening_words("Ein Mann ging", words=2) == "Ein Mann "


def test_a_prompt_is_looked_for_only_near_the_start():
    """The Train page names a pasted text by its first words on every rerun: a 2 MB paste is not split into lines."""
    from charlstm.generate import OPENING_CHARS

    assert opening_words("x\n" * OPENING_CHARS + "far too late here") == ""
