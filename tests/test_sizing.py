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
    assert config.dropout is not None and sizing.fitted(config, 50_000) == config
    assert sizing.why(config, 50_000) is None  # nothing chosen, nothing to explain
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
