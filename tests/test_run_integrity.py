"""Issue 16, item 10: every number in a record has bounds, so a forged line cannot break a Continue."""

from __future__ import annotations

import json
from dataclasses import asdict

import numpy as np
import pytest
from run_factory import random_run

from charlstm.config import MAX_SEED
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
