"""The time estimate before this machine has measured anything: a stand-in speed that follows the model's size."""

from __future__ import annotations

import pytest

from charlstm.config import preset_config
from charlstm.estimate import (
    TYPICAL_MAX_CHARS_PER_SEC,
    TYPICAL_WINDOW_CHARS_PER_SEC,
    estimate,
    multiply_adds_per_char,
    typical_speed,
)
from charlstm.weights import parameter_count


def test_the_work_per_character_is_the_kernels_not_the_embedding_or_biases():
    quick = preset_config("quick")
    work = multiply_adds_per_char(quick, 80)
    lstm = quick.embedding_dim * 4 * quick.units + quick.units * 4 * quick.units
    assert work == lstm + quick.units * 80
    assert work < parameter_count(quick, 80)


@pytest.mark.parametrize("change", [{"units": 384}, {"layers": 2}, {"embedding_dim": 128}])
def test_a_bigger_model_is_expected_to_train_fewer_characters_a_second(change):
    quick = preset_config("quick")
    assert typical_speed(quick.replace(**change)) < typical_speed(quick)


def test_the_stand_in_is_near_what_the_laptop_measured_for_each_preset():
    # docs/tuning.md and docs/benchmarks.md: quick about 75,000 characters a second, quality's kind about 13-16,000
    assert 60_000 < typical_speed(preset_config("quick")) < 90_000
    assert 10_000 < typical_speed(preset_config("quality")) < 25_000
    assert typical_speed(preset_config("quick", units=64)) == TYPICAL_MAX_CHARS_PER_SEC  # bound by each step's cost
    assert typical_speed(preset_config("classic")) == TYPICAL_WINDOW_CHARS_PER_SEC


def test_a_measured_speed_replaces_the_stand_in():
    quick = preset_config("quick")
    guessed = estimate(quick, 1_000_000, None)
    measured = estimate(quick, 1_000_000, 10_000.0)
    assert not guessed.measured and measured.measured
    assert measured.chars_per_sec == 10_000.0 and measured.readable_seconds > guessed.readable_seconds


def test_many_epochs_of_a_small_text_cost_their_epoch_ends():
    """50 epochs of a 2,500-character text were once estimated at "about 2 s" (they took 44 s on a busy machine)."""
    from charlstm.config import preset_config
    from charlstm.estimate import EPOCH_END_SECONDS, START_SECONDS, estimate

    config = preset_config("quick").replace(epochs=50, seconds=None)
    guess = estimate(config, 2_500, speed=65_000.0)
    assert guess.seconds >= START_SECONDS + 50 * EPOCH_END_SECONDS
    timed = estimate(preset_config("quick").replace(epochs=10_000), 2_500, speed=65_000.0)  # as the Train page asks
    assert timed.seconds == preset_config("quick").seconds  # a time limit still ends it first
