"""The model fitted to the text and the time: what is left to the studio is chosen when a run is planned."""

from __future__ import annotations

import pytest

from charlstm import sizing
from charlstm.config import TrainConfig, preset_config
from charlstm.store import plan_run
from charlstm.text import Corpus

MOST = max(d for _, d in sizing.DROPOUT_BY_READINGS)


def test_a_short_text_gets_dropout_and_a_long_one_none():
    quick = preset_config("quick", epochs=10_000)  # as the studio asks: the time limit ends it
    assert quick.dropout is None  # left to the studio
    short, long = sizing.fitted(quick, 50_000), sizing.fitted(quick, 10_000_000)
    assert short.dropout == MOST and long.dropout == 0.0
    assert sizing.readings(quick, 50_000) > 100 > 2 > sizing.readings(quick, 10_000_000)
    assert short.replace(dropout=None) == quick  # nothing else changes


def test_the_more_often_a_text_is_read_the_more_dropout():
    chosen = [sizing.dropout_for(r) for r in (0, 5, 30, 60, 100, 300, 3000)]
    assert chosen == sorted(chosen) and chosen[0] == 0.0 and chosen[-1] == MOST


@pytest.mark.parametrize("name", ["classic", "quality"])
def test_a_setting_given_is_kept(name):
    config = preset_config(name)
    n_chars = 600_000 if name == "quality" else 50_000  # (a shorter text gets the small model: below)
    assert config.dropout is not None and sizing.fitted(config, n_chars) == config
    assert sizing.why(config, n_chars) is None  # nothing chosen, nothing to explain
    no_dropout = preset_config("quick", dropout=0.0)
    assert sizing.fitted(no_dropout, 5_000).dropout == 0.0  # asked for by name: kept, however short the text


def test_the_planned_run_keeps_what_was_chosen(english_text):
    quick = preset_config("quick", epochs=10_000)
    plan = plan_run(Corpus(english_text[:50_000], "diary", "paste"), quick)
    assert plan.config.dropout == MOST  # the run folder keeps the value, so a continuation trains the same model
    assert TrainConfig.from_dict(plan.config.to_dict()) == plan.config


def test_the_reason_reads_as_a_sentence():
    quick = preset_config("quick", epochs=10_000)
    short, long = sizing.why(quick, 50_000), sizing.why(quick, 10_000_000)
    assert "dropout" in short and f"{MOST:.0%}" in short and "times" in short
    assert "about once" in long and "no dropout" in long


def test_a_text_too_short_for_the_bigger_model_gets_the_small_one_and_its_time():
    """15 minutes of `quality` memorise 50,000 characters (benchmarks section 8): the studio trains quick's model
    for that time instead (it settles within minutes), and says so; a longer text keeps the bigger model."""
    quality = preset_config("quality", epochs=10_000)
    short, long = sizing.fitted(quality, 50_000), sizing.fitted(quality, 600_000)
    quick = preset_config("quick")
    assert (short.layers, short.units, short.batch_size) == (quick.layers, quick.units, quick.batch_size)
    assert short.seconds == quality.seconds and short.preset == "quality" and short.dropout == MOST
    assert long == quality  # its own model and its own dropout
    assert "the smaller model of quick" in sizing.why(quality, 50_000)
    assert sizing.why(quality, 600_000) is None


def test_the_bigger_model_changed_by_the_person_is_kept_on_any_text():
    wider = preset_config("quality", epochs=10_000, units=300)
    assert sizing.fitted(wider, 50_000) == wider and sizing.why(wider, 50_000) is None
