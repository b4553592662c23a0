"""Issue 16, items 9 and 10: hashed checkpoint sets and bounded records."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict

import numpy as np
import pytest
from run_factory import random_run

from charlstm import run as run_module
from charlstm.config import MAX_SEED
from charlstm.errors import BundleError
from charlstm.run import (
    MAX_EPOCH,
    MAX_LOSS,
    MAX_SECONDS,
    EpochRecord,
    EpochSamples,
    Progress,
    Request,
    Run,
)
from charlstm.training import TrainingJob

GOOD = EpochRecord(1, 2.0, 1.9, 1.9 / np.log(2), 0.004, 10, 3.0, 1000.0, False)


def arrays(value: float) -> dict[str, np.ndarray]:
    """Arrays of one fixed shape: every epoch's checkpoint files have the same sizes."""
    return {"w": np.full((4, 8), value, np.float32)}


# === item 10: records have bounds ================================================================================
def test_the_seed_bound_holds():
    assert MAX_SEED + MAX_EPOCH <= 2**32 - 1
    np.random.seed(MAX_SEED + MAX_EPOCH)  # Trainer.fit's largest seed is legal


@pytest.mark.parametrize(
    "change",
    [
        {"epoch": 10**30},
        {"epoch": MAX_EPOCH + 1},
        {"steps": 10**30},
        {"seconds": MAX_SECONDS * 2},
        {"loss": 1e300},
        {"val_loss": MAX_LOSS * 2},
        {"learning_rate": 1e9},
        {"chars_per_sec": 1e300},
    ],
)
def test_a_history_line_out_of_bounds_is_dropped(tmp_path, change):
    run = Run(tmp_path)
    run.append_epoch(GOOD)
    run.file("history.jsonl").open("a").write(json.dumps({**asdict(GOOD), **change}) + "\n")
    assert run.history() == [GOOD]


def test_a_large_bounded_history_line_is_kept(tmp_path):
    run = Run(tmp_path)
    big = EpochRecord(MAX_EPOCH, MAX_LOSS, None, None, 100.0, 10**9, 3e8, 1e9, True)
    run.append_epoch(big)
    assert run.history() == [big]


def test_requests_samples_progress_and_manifests_are_bounded(tmp_path):
    ok = {"token": "t", "owner": "o", "action": "continue", "epochs": 5, "seconds": 60.0, "submitted": 1.7e9}
    assert Request.from_dict(ok) is not None
    for change in ({"epochs": 10**30}, {"epochs": 0}, {"seconds": 1e300}, {"max_seconds": -1.0}, {"submitted": 1e300}):
        assert Request.from_dict({**ok, **change}) is None, change
    sample = {"epoch": 10**30, "prompt": "a", "samples": []}
    assert EpochSamples.from_dict(sample) is None and EpochSamples.from_dict({**sample, "epoch": 3}) is not None
    progress = Progress.from_dict({"epoch": 10**30, "steps_per_epoch": 0, "fraction": 7.0, "elapsed": 1e300})
    assert (progress.epoch, progress.steps_per_epoch, progress.fraction, progress.elapsed) == (1, 1, 0.0, 0.0)
    run = Run(tmp_path)
    run.save_checkpoint("last", arrays(1.0), None, epoch=0)  # an imported model: no epoch trained here
    assert run.checkpoint_epoch("last") == 0
    manifest = json.loads(run.file("last.json").read_text())
    run.file("last.json").write_text(json.dumps({**manifest, "epoch": 10**30}))
    assert run.checkpoint_epoch("last") is None


@pytest.mark.parametrize("manifest", [True, False])
def test_continue_after_a_poisoned_history_line(tmp_path, english_text, tiny_config, manifest):
    run = Run(random_run(tmp_path, english_text[:20_000], tiny_config))  # 'best' saved after epoch 1
    if not manifest:  # an imported model's weights alone: the checkpoint names no epoch, history decides
        run.file("best.json").unlink()
    run.append_epoch(GOOD)
    run.file("history.jsonl").open("a").write(json.dumps({**asdict(GOOD), "epoch": 10**30}) + "\n")
    job = TrainingJob.for_run(run, epochs=1)
    snapshot = job.snapshot()
    assert [h.epoch for h in snapshot.history] == [1] and snapshot.epoch == 2  # continues after epoch 1


# === item 9: a checkpoint set is whole by its hashes ============================================================
@pytest.fixture
def two_sets(tmp_path) -> Run:
    """'best' saved after epoch 1, 'last' after epoch 2: files of the same sizes, different bytes."""
    run = Run(tmp_path)
    run.save_checkpoint("best", arrays(1.0), arrays(10.0), epoch=1)
    run.save_checkpoint("last", arrays(2.0), arrays(20.0), epoch=2)
    for part in ("weights", "optimizer"):
        assert run.file(f"best.{part}.npz").stat().st_size == run.file(f"last.{part}.npz").stat().st_size
    return run


def test_a_whole_set_loads_with_its_epoch(two_sets):
    weights, optimizer = two_sets.load_checkpoint("best")
    assert weights["w"][0, 0] == 1.0 and optimizer is not None and optimizer["w"][0, 0] == 10.0
    assert two_sets.checkpoint_epoch("best") == 1 and two_sets.checkpoint_epoch("last") == 2
    manifest = json.loads(two_sets.file("last.json").read_text())
    assert set(manifest["sha256"]) == {"last.weights.npz", "last.optimizer.npz"}
    assert (two_sets.best_tag(), two_sets.resume_tag()) == ("best", "last")


@pytest.mark.parametrize(("torn", "other"), [("best", "last"), ("last", "best")])
def test_a_torn_set_of_equal_sizes_is_refused_and_the_other_used(two_sets, torn, other):
    # The next epoch's weights landed over this set; its manifest and optimizer state are still the old ones.
    shutil.copyfile(two_sets.file(f"{other}.weights.npz"), two_sets.file(f"{torn}.weights.npz"))
    assert not two_sets.has_checkpoint(torn)
    with pytest.raises(BundleError, match=f"no complete '{torn}'"):
        two_sets.load_checkpoint(torn)
    assert two_sets.best_tag() == other and two_sets.resume_tag() == other
    assert two_sets.load_checkpoint(other)[0]["w"][0, 0] == (1.0 if other == "best" else 2.0)


def test_each_file_version_is_hashed_once_and_a_change_is_still_seen(tmp_path, monkeypatch):
    run = Run(tmp_path)
    run.save_checkpoint("last", arrays(1.0), None, epoch=1)
    calls = []
    real = run_module.hashlib.file_digest
    monkeypatch.setattr(run_module.hashlib, "file_digest", lambda *a: calls.append(1) or real(*a))
    assert all(run.has_checkpoint("last") for _ in range(5))
    assert len(calls) == 1  # the library may ask every second: one hash per version of the file
    path = run.file("last.weights.npz")
    before = path.stat()
    with open(path, "r+b") as fh:  # bit rot in place: same inode, same size, other bytes, a new mtime
        fh.seek(-8, os.SEEK_END)
        fh.write(b"\x00" * 8)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000_000))
    assert not run.has_checkpoint("last") and len(calls) == 2
    run.save_checkpoint("last", arrays(1.0), None, epoch=1)
    assert run.has_checkpoint("last")
    before = path.stat()
    with open(path, "ab") as fh:  # a longer file with its old mtime put back: the size alone tells
        fh.write(b"tail")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert not run.has_checkpoint("last")


def test_sets_from_before_the_hashes_still_count(tmp_path):
    run = Run(tmp_path)
    run.save_checkpoint("last", arrays(1.0), arrays(2.0), epoch=3)
    manifest = json.loads(run.file("last.json").read_text())
    del manifest["sha256"]  # as charlstm wrote them before: sizes only
    run.file("last.json").write_text(json.dumps(manifest))
    weights, optimizer = run.load_checkpoint("last")
    assert weights["w"][0, 0] == 1.0 and optimizer is not None and run.checkpoint_epoch("last") == 3
    run.file("last.json").unlink()  # a bundle's or an older run's weights alone
    run.file("last.optimizer.npz").unlink()
    assert run.has_checkpoint("last") and run.load_checkpoint("last")[1] is None


@pytest.mark.parametrize(
    "manifest",
    [
        {"epoch": 1, "files": {"weights": ["last.weights.npz"]}, "sha256": {}},
        {"epoch": 1, "files": {"weights": "last.weights.npz"}, "sha256": []},
        {"epoch": 1, "files": {"weights": "../meta.json"}, "sha256": {"../meta.json": "0" * 64}},
        {"epoch": 1, "files": {"optimizer": "last.optimizer.npz"}, "sha256": {"last.optimizer.npz": "0" * 64}},
    ],
)
def test_a_strange_manifest_is_a_torn_set_not_an_error(tmp_path, manifest):
    run = Run(tmp_path)
    run.save_checkpoint("last", arrays(1.0), arrays(2.0), epoch=1)
    run.file("last.json").write_text(json.dumps(manifest))
    assert not run.has_checkpoint("last") and run.resume_tag() is None


def test_a_set_saved_while_it_is_read_is_read_again(tmp_path, monkeypatch):
    run = Run(tmp_path)
    run.save_checkpoint("last", arrays(1.0), arrays(10.0), epoch=1)
    real, reads = run_module.load_npz, []

    def load_while_a_trainer_saves(path):
        if not reads:  # the next epoch's set replaces this one between the check and the read
            run.save_checkpoint("last", arrays(2.0), arrays(20.0), epoch=2)
        reads.append(path)
        return real(path)

    monkeypatch.setattr(run_module, "load_npz", load_while_a_trainer_saves)
    weights, optimizer = run.load_checkpoint("last")
    assert weights["w"][0, 0] == 2.0 and optimizer is not None and optimizer["w"][0, 0] == 20.0
    assert len(reads) == 4  # the first read was not of the set that was checked: it was read again
