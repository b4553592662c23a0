"""Training settings: presets, range checks with plain messages, strict loading from JSON."""

from __future__ import annotations

import dataclasses
import json
import math
import os

import pytest

from charlstm.config import PRESETS, SEED_TEMPERATURES, TrainConfig, preset_config
from charlstm.errors import ConfigError
from charlstm.sampling import MAX_TEMPERATURE


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_validate(name):
    config = PRESETS[name].config
    assert config.validated() is config
    assert config.preset == name
    assert preset_config(name) == config
    assert PRESETS[name].description


def test_classic_preset_is_the_seed():
    c = PRESETS["classic"].config
    assert c.lowercase is True
    assert c.mode == "window"
    assert (c.seq_len, c.stride) == (60, 3)
    assert (c.cell, c.layers, c.units) == ("lstm", 1, 128)
    assert c.embedding_dim == 0  # one-hot input
    assert c.dropout == 0.0
    assert c.optimizer == "rmsprop"
    assert c.learning_rate == 0.01
    assert c.lr_schedule == "constant"  # the seed never changed its rate
    assert c.clipnorm is None
    assert c.batch_size == 128
    assert c.sample_temperatures == (0.2, 0.5, 1.0, 1.2)
    assert c.sample_length == 400


def test_an_unknown_learning_rate_schedule_is_refused_with_the_choices():
    assert preset_config("quick").lr_schedule == "budget"
    with pytest.raises(ConfigError, match="lr_schedule must be one of budget, constant"):
        preset_config("quick", lr_schedule="cosine")


def test_seed_temperatures():
    assert SEED_TEMPERATURES == (0.2, 0.5, 1.0, 1.2)


def test_preset_config_overrides_are_checked():
    assert preset_config("quick", units=64).units == 64
    with pytest.raises(ConfigError, match="units"):
        preset_config("quick", units=0)
    with pytest.raises(ConfigError, match="nonsense"):
        preset_config("nonsense")


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("units", 0),
        ("units", 100_000),
        ("units", 32.5),
        ("units", True),
        ("learning_rate", -0.01),
        ("learning_rate", 0.0),
        ("learning_rate", math.nan),
        ("learning_rate", math.inf),
        ("batch_size", 0),
        ("seq_len", 1),
        ("stride", 0),
        ("layers", 4),
        ("epochs", 0),
        ("dropout", math.nan),
        ("dropout", 0.95),
        ("val_fraction", -0.1),
        ("clipnorm", math.nan),
        ("clipnorm", 0.0),
        ("seconds", 0.0),
        ("seconds", math.inf),
        ("mode", "nonsense"),
        ("cell", "transformer"),
        ("optimizer", "lion"),
        ("on_divergence", "panic"),
        ("embedding_dim", -1),
        ("sample_length", -5),
        ("max_chars", 10),
        ("steps_per_epoch", 0),
    ],
)
def test_out_of_range_values_name_the_setting(setting, value):
    config = TrainConfig().replace(**{setting: value})
    with pytest.raises(ConfigError) as err:
        config.validated()
    assert setting in str(err.value)
    assert repr(value) in str(err.value) or str(value) in str(err.value)


@pytest.mark.parametrize("temps", [(), (0.5,) * 9, (-0.1,), (math.nan,), (MAX_TEMPERATURE + 1,)])
def test_sample_temperatures_are_checked(temps):
    """One range of temperatures everywhere: the samples', generation's (sampling.MAX_TEMPERATURE)."""
    with pytest.raises(ConfigError, match=r"(?i)temperature"):
        TrainConfig(sample_temperatures=temps).validated()
    assert TrainConfig(sample_temperatures=(0.0, MAX_TEMPERATURE)).validated()


def test_defaults_are_the_quick_preset_and_valid():
    assert TrainConfig() == PRESETS["quick"].config
    TrainConfig().validated()


def test_to_dict_from_dict_round_trip():
    for preset in PRESETS.values():
        d = preset.config.to_dict()
        assert json.loads(json.dumps(d)) == d  # plain JSON
        assert TrainConfig.from_dict(json.loads(json.dumps(d))) == preset.config
    custom = TrainConfig(cell="gru", layers=2, units=48, seconds=None, clipnorm=None, sample_temperatures=(0.0, 2.0))
    assert TrainConfig.from_dict(json.loads(json.dumps(custom.to_dict()))) == custom


def test_from_dict_accepts_a_partial_dict_and_ints_for_floats():
    config = TrainConfig.from_dict({"units": 32, "learning_rate": 1, "sample_temperatures": [1, 0.5]})
    assert config.units == 32
    assert config.learning_rate == 1
    assert config.sample_temperatures == (1.0, 0.5)


def test_from_dict_refuses_unknown_keys():
    with pytest.raises(ConfigError, match="custom_objects"):
        TrainConfig.from_dict({**TrainConfig().to_dict(), "custom_objects": {"x": "y"}})


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("units", "128"),
        ("units", 12.0),
        ("units", None),
        ("lowercase", 1),
        ("cell", ["lstm"]),
        ("learning_rate", "0.01"),
        ("learning_rate", True),
        ("epochs", None),
        ("sample_temperatures", "0.5"),
        ("sample_temperatures", [0.5, "hot"]),
    ],
)
def test_from_dict_refuses_wrong_types(key, value):
    with pytest.raises(ConfigError) as err:
        TrainConfig.from_dict({**TrainConfig().to_dict(), key: value})
    assert key in str(err.value)


def test_from_dict_refuses_non_objects():
    for bad in ([], "config", None, 3):
        with pytest.raises(ConfigError):
            TrainConfig.from_dict(bad)


def test_from_dict_checks_ranges_too():
    with pytest.raises(ConfigError, match="units"):
        TrainConfig.from_dict({"units": 0})


def test_optional_settings_accept_none():
    d = {**TrainConfig().to_dict(), "clipnorm": None, "seconds": None, "max_chars": None, "steps_per_epoch": None}
    config = TrainConfig.from_dict(d)
    assert config.clipnorm is None and config.seconds is None


def test_min_corpus_chars_leaves_room_for_validation():
    config = TrainConfig(seq_len=100, val_fraction=0.1)
    need = config.min_corpus_chars()
    val_part = round(need * config.val_fraction)
    assert val_part >= config.seq_len + 2
    assert need - val_part >= config.seq_len + 2
    assert TrainConfig(seq_len=100, val_fraction=0.0).min_corpus_chars() == 102


def test_configs_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        TrainConfig().units = 5  # type: ignore[misc]


@pytest.mark.parametrize(
    "preset", ["[click](http://evil)", "![x](y.png)", "a\nb", "quick\ud800", "", "x" * 33, "Quick"]
)
def test_a_preset_name_from_a_file_is_a_plain_word(preset):
    """The preset is shown on pages and names Keras layers: nothing else may ride in on it (issue 9)."""
    with pytest.raises(ConfigError, match="preset"):
        TrainConfig.from_dict({**TrainConfig().to_dict(), "preset": preset})


# --- memory: an estimate checked before a job starts (issue 9, item 6) ----------------------------------
def test_the_presets_fit_in_a_small_machine_and_the_estimate_errs_high():
    from charlstm.estimate import MEMORY_OVERHEAD_BYTES, check_memory, estimate_memory_bytes

    for preset in PRESETS.values():  # Nietzsche: about 600,000 characters, 85 different ones
        need = check_memory(preset.config, 85, 600_000, limit=2_000_000_000)
        assert need == estimate_memory_bytes(preset.config, 85, 600_000)
    # docs/benchmarks.md measured the quick preset at up to 246 MB above the TensorFlow import (section 5)
    assert 246e6 < estimate_memory_bytes(preset_config("quick"), 85, 600_000) < 1e9
    assert estimate_memory_bytes(preset_config("quick"), 85, 0) > MEMORY_OVERHEAD_BYTES


def test_settings_that_cannot_fit_are_refused_with_the_reason():
    from charlstm.estimate import check_memory

    absurd = TrainConfig(batch_size=4096, seq_len=1000, units=2048, layers=3)
    with pytest.raises(ConfigError) as err:
        check_memory(absurd, 85, 600_000, limit=16_000_000_000)
    message = str(err.value)
    for words in ("GB of memory", "16 GB", "activations", "batch size 4,096", "Lower the batch size"):
        assert words in message, message
    one_hot = TrainConfig(embedding_dim=0, batch_size=1024, seq_len=1000)
    with pytest.raises(ConfigError, match="output layer"):
        check_memory(one_hot, 10_000, 600_000, limit=16_000_000_000)


def test_the_estimate_grows_with_every_size_setting():
    from charlstm.estimate import estimate_memory_bytes

    base = TrainConfig()
    need = estimate_memory_bytes(base, 85, 600_000)
    for change in ({"batch_size": 256}, {"seq_len": 200}, {"units": 512}, {"layers": 2}, {"embedding_dim": 0}):
        assert estimate_memory_bytes(base.replace(**change), 85, 600_000) > need, change
    assert estimate_memory_bytes(base, 10_000, 600_000) > need
    assert estimate_memory_bytes(base, 85, 60_000_000) > need
    assert estimate_memory_bytes(base.replace(max_chars=1000), 85, 60_000_000) < need


def test_a_short_text_for_its_time_is_said_to_end_sooner():
    """A text read dozens of times in its budget settles (patience) and finishes early: the estimate says
    "at most", not "about"; a long text, the seed's constant rate and patience off keep the whole budget."""
    from charlstm.estimate import SOONER_AFTER_READINGS, epoch_chars, estimate

    quick, speed = preset_config("quick"), 75_000.0
    assert estimate(quick, 50_000, speed).may_end_sooner  # a diary: read hundreds of times in 150 s
    assert not estimate(quick, 10_000_000, speed).may_end_sooner
    assert not estimate(quick.replace(patience=None), 50_000, speed).may_end_sooner
    assert not estimate(preset_config("classic"), 50_000, speed).may_end_sooner
    edge = epoch_chars(quick, 1_000_000) / speed
    assert quick.seconds / edge < SOONER_AFTER_READINGS  # 1 M characters: about 12 readings, no early end
    assert not estimate(quick, 1_000_000, speed).may_end_sooner


def test_the_memory_limit_comes_from_the_environment_or_the_machine(monkeypatch):
    from charlstm.estimate import MEMORY_LIMIT_ENV, check_memory, memory_limit_bytes

    monkeypatch.setenv(MEMORY_LIMIT_ENV, "100")
    assert memory_limit_bytes() == 100_000_000
    with pytest.raises(ConfigError, match="100 MB"):
        check_memory(TrainConfig(), 85, 600_000)
    monkeypatch.setenv(MEMORY_LIMIT_ENV, "lots")
    with pytest.raises(ConfigError, match=MEMORY_LIMIT_ENV):
        memory_limit_bytes()
    monkeypatch.delenv(MEMORY_LIMIT_ENV)
    assert 100_000_000 < memory_limit_bytes() < os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
