"""The run folder's one owner: records checked field by field, whole-or-absent checkpoints, atomic writes, the queue."""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict

import numpy as np
import pytest

from charlstm.errors import BundleError
from charlstm.jobs import JobQueue
from charlstm.run import EpochRecord, Request, Run, write_atomic
from charlstm.store import new_run
from charlstm.text import Corpus

GOOD = EpochRecord(1, 2.0, 1.9, 1.9 / math.log(2), 0.004, 10, 3.0, 1000.0, False)


@pytest.fixture
def run(tmp_path, english_text, tiny_config) -> Run:
    made, _ = new_run(Corpus(english_text[:20_000], "docs", "paste"), tiny_config, root=tmp_path, owner="me")
    return made


@pytest.mark.parametrize(
    "change",
    [
        {"loss": None},  # the null loss that once crashed snapshot()
        {"loss": float("nan")},
        {"val_loss": "1.2"},
        {"epoch": 1.5},
        {"epoch": 0},
        {"partial": "no"},
        {"steps": True},
        {"extra": 1},
    ],
)
def test_a_history_line_that_does_not_validate_is_dropped(run, change):
    run.append_epoch(GOOD)
    bad = {**asdict(GOOD), **change}
    run.file("history.jsonl").open("a").write(json.dumps(bad) + "\n")
    assert run.history() == [GOOD]


def test_samples_and_progress_from_strangers_are_checked(run):
    run.file("samples.jsonl").write_text(
        '{"epoch": 1, "prompt": "a", "samples": [{"temperature": 1, "text": "b"}]}\n'
        '{"epoch": 2, "prompt": "a", "samples": [{"temperature": null, "text": "b"}]}\n'
        '{"epoch": "3", "prompt": "a", "samples": []}\n[1, 2]\n'
    )
    assert [s.epoch for s in run.samples()] == [1]
    run.file("progress.json").write_text('{"epoch": "x", "fraction": null, "notices": [1], "message": 5}')
    progress = run.progress()
    assert progress.epoch == 1 and progress.fraction == 0.0 and progress.notices == () and progress.message


def test_a_checkpoint_is_whole_or_absent(run, tiny_config):
    weights = {"w": np.ones(3, np.float32)}
    run.save_checkpoint("last", weights, {"m": np.zeros(2, np.float32)}, epoch=1)
    assert run.has_checkpoint("last") and run.checkpoint_epoch("last") == 1
    # a crash between the weights and the manifest of the next epoch: the sizes no longer match
    np.savez(run.file("last.optimizer.npz"), m=np.zeros(50, np.float32))
    assert not run.has_checkpoint("last")
    with pytest.raises(BundleError, match="no complete"):
        run.load_checkpoint("last")


def test_writes_are_atomic_and_leave_no_temporary_files(run, monkeypatch):
    path = run.file("meta.json")
    before = path.read_bytes()

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(OSError):
        write_atomic(path, b"half")
    assert path.read_bytes() == before
    assert not [p for p in run.path.iterdir() if p.name.endswith(".tmp")]


def test_a_lone_surrogate_is_written_escaped_not_an_error(run):
    run.update_meta(name="bad \ud800 name")
    assert run.name == "bad ? name"


def test_leaving_the_queue_after_continue_keeps_the_finished_status(run, tmp_path):
    run.write_status("completed", "Finished all 2 epochs.", epochs=2)
    run.write_request(Request(token="abc", owner="me", action="continue", epochs=1))
    assert run.status().state == "queued"
    assert JobQueue(root=tmp_path).stop(run) == "left"
    status = run.status()
    assert (status.state, status.message) == ("completed", "Finished all 2 epochs.")
    assert run.path.exists()


def test_leaving_the_queue_of_a_new_run_removes_it(run, tmp_path):
    run.write_request(Request(token="abc", owner="me", action="new"))
    assert JobQueue(root=tmp_path).stop(run) == "left"
    assert not run.path.exists()


def test_claiming_and_leaving_the_queue_cannot_both_win(run):
    run.write_request(Request(token="abc", owner="me", action="new"))
    assert run.claim_request("wrong") is None  # another submission's token
    assert run.claim_request("abc") is not None
    assert run.withdraw_request() is False  # too late: it started
    assert run.status().state == "running"  # claimed: starting, before its first lease
    assert run.claim_request("abc") is None  # a retry after a crash does not train again


def test_a_run_belongs_to_its_owner(run):
    assert run.owner == "me"
    assert Run(run.path).status().owner == "me"
