"""A training race: one setting changed, judged at the training time both contenders reached."""

from __future__ import annotations

import math

import pytest

from charlstm.config import preset_config
from charlstm.errors import CharlstmError
from charlstm.jobs import JobQueue
from charlstm.library import Library
from charlstm.race import best_by, challenger, race_result
from charlstm.run import EpochRecord, Run
from charlstm.text import Corpus


def record(epoch: int, seconds: float, val_bpc: float) -> EpochRecord:
    val = val_bpc * math.log(2)
    return EpochRecord(epoch, val + 0.1, val, val_bpc, 0.01, 10, seconds, 1000.0, False)


def test_the_challenger_changes_one_setting():
    quick = preset_config("quick")
    assert challenger(quick, "units", 64).units == 64 and challenger(quick, "units", 64).cell == quick.cell
    longer = challenger(quick, "seq_len", 128)
    assert longer.seq_len == longer.stride == 128  # a sequence model reads pieces of its own length
    with pytest.raises(ValueError):
        challenger(quick, "optimizer", "sgd")


def test_the_race_is_judged_at_the_time_both_reached():
    fast = [record(1, 10, 3.0), record(2, 20, 2.5), record(3, 30, 2.2), record(4, 40, 2.0)]
    slow = [record(1, 25, 2.4), record(2, 50, 2.1)]
    assert best_by(fast, 25) == pytest.approx(2.5) and best_by(slow, 10) is None
    result = race_result(fast, slow)
    assert result.seconds == 40  # the shorter training's time: slow's second epoch ended later
    assert result.bpc == (pytest.approx(2.0), pytest.approx(2.4)) and result.winner == 0
    assert race_result(fast, []) is None
    assert race_result([record(1, 5, 2.0)], [record(1, 5, 2.0)]).winner is None  # a tie
    # the slower one's first epoch ended after the faster one's last: nothing to compare with yet, not a tie
    assert race_result([record(1, 0.9, 3.0)], [record(1, 1.1, 2.9), record(2, 2.0, 2.5)]) is None


def test_two_that_ran_out_one_time_limit_are_judged_on_their_whole_training():
    """The last epoch of each ends at the limit, a moment either side of it: a slow contender whose only epoch
    ended just after the other's last is still judged, on everything it did within the limit."""
    slow, fast = [record(1, 18.4, 2.9)], [record(1, 9, 3.1), record(2, 18.1, 2.8)]
    assert race_result(slow, fast) is None  # judged by time alone: the slow one had nothing by 18.1 s
    result = race_result(slow, fast, time_limit=18)
    assert result.seconds == 18 and result.bpc == (pytest.approx(2.9), pytest.approx(2.8)) and result.winner == 1


def test_a_race_counts_as_two_trainings_and_leaves_nothing_when_refused(tmp_path, english_text):
    root = tmp_path / "runs"
    alice = Library("browser-alice", JobQueue(root=root), root)  # never connected: refusals come first
    corpus = Corpus(english_text[:20_000], "t", "paste")
    config = preset_config("quick").replace(units=16, embedding_dim=8)
    busy = [alice.create(corpus, config, f"busy {i}") for i in range(2)]
    for run in busy:
        run.write_status("queued", "Waiting.")
    with pytest.raises(CharlstmError, match="trainings running or waiting"):
        alice.start_race(corpus, (config, challenger(config, "units", 32)), ("a", "b"))
    assert sorted(r.name for r in alice.runs()) == ["busy 0", "busy 1"]  # nothing half-made
    assert all(isinstance(r, Run) for r in busy)
