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


def test_the_measured_speed_is_read_from_models_of_the_same_shape_whatever_their_preset(tmp_path):
    """`quality` on a short text trains quick's model (sizing.too_short_for_big), so quick's trainings time it."""
    from run_factory import random_run

    from charlstm import sizing
    from charlstm.estimate import measured_speed
    from charlstm.run import EpochRecord, Run

    def trained_at(config, chars_per_sec: float) -> Run:
        run = Run(
            random_run(tmp_path, "abcdefgh " * 200, config.replace(units=8, embedding_dim=4), seed=len(config.preset))
        )
        run.append_epoch(EpochRecord(1, 2.0, 2.1, 3.0, 0.01, 10, 1.0, chars_per_sec, False))
        return run

    runs = [trained_at(preset_config("quick"), 90_000.0), trained_at(preset_config("quality"), 15_000.0)]
    quick_shape = preset_config("quick", units=8, embedding_dim=4)
    big_shape = preset_config("quality", units=8, embedding_dim=4)
    assert measured_speed(runs, quick_shape) == 90_000.0
    assert measured_speed(runs, big_shape) == 15_000.0
    assert measured_speed(runs, sizing.small(big_shape).replace(units=8, embedding_dim=4)) == 90_000.0
    assert measured_speed(runs, quick_shape.replace(units=16)) is None


def test_a_shape_never_trained_here_is_timed_by_this_machines_pace_on_others(tmp_path):
    """An outsider trained three models and the Train page still quoted a laptop's speed for every other shape."""
    from run_factory import random_run

    from charlstm.estimate import Speed, speed_here, typical_speed
    from charlstm.run import EpochRecord, Run

    quick = preset_config("quick", units=8, embedding_dim=4)
    run = Run(random_run(tmp_path, "abcdefgh " * 200, quick, seed=1))
    assert speed_here([run], quick) is None  # nothing trained yet: the laptop's speed, and the page says so
    twice_as_fast = 2 * typical_speed(quick)
    run.append_epoch(EpochRecord(1, 2.0, 2.1, 3.0, 0.01, 10, 1.0, twice_as_fast, False))
    assert speed_here([run], quick) == Speed(twice_as_fast, same_shape=True)
    wider = quick.replace(units=64)
    scaled = speed_here([run], wider)
    assert scaled == Speed(pytest.approx(2 * typical_speed(wider)), same_shape=False)
    guess = estimate(wider, 1_000_000, scaled)
    assert guess.measured and not guess.same_shape
    assert speed_here([run], preset_config("classic")) is None  # windows train at a pace of their own
    run.update_meta(epochs_brought=1)  # as if copied here with its one epoch: another machine's speed
    assert speed_here([run], quick) is None
