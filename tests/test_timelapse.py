"""The time-lapse: a run keeps up to twenty snapshots of its weights, spread over its training; every snapshot
writes the same prompt with the same random numbers, so only what the model learned differs."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import copy_run

from charlstm.generate import Generator
from charlstm.run import MAX_SNAPSHOTS, Run, SnapshotRecord, thinned
from charlstm.text import Corpus
from charlstm.timelapse import SNAPSHOT_POINTS, frames
from charlstm.training import TrainingJob


def records(points: list[float]) -> list[SnapshotRecord]:
    return [SnapshotRecord(i, at, 1.0) for i, at in enumerate(points)]


def test_thinning_keeps_first_and_last_and_spreads_the_rest():
    kept = thinned(records([i / 4 for i in range(60)]))  # 60 points, evenly spaced
    assert len(kept) == MAX_SNAPSHOTS
    assert kept[0].at_epoch == 0 and kept[-1].at_epoch == 59 / 4
    gaps = np.diff([r.at_epoch for r in kept])
    assert gaps.max() <= 2.5 * gaps.min()  # no crowd at one end, no hole at the other
    crowded = thinned(records([0.0, 0.01, 0.02, 0.03, 5.0, 10.0]), keep=4)
    assert [r.at_epoch for r in crowded] == [0.0, 0.03, 5.0, 10.0]  # the crowd near the start is thinned


def test_a_training_keeps_a_spread_time_lapse_whose_last_point_is_its_end(tmp_path, english_text, tiny_config):
    config = tiny_config.replace(epochs=3, sample_length=0)
    job = TrainingJob.create(Corpus(english_text[:20_000], "docs", "paste"), config, root=tmp_path)
    assert job.run().stop_reason == "completed"
    run = job.run_folder
    shots = run.snapshots()
    assert 3 <= len(shots) <= SNAPSHOT_POINTS + 1
    at = [s.at_epoch for s in shots]
    assert at == sorted(at) and at[0] < 0.2 and at[-1] == pytest.approx(3.0)  # from noise to the end
    assert shots[0].loss > shots[-1].loss  # it learned
    last, _ = run.load_checkpoint("last")
    final = run.load_snapshot(shots[-1].number)
    for name, values in last.items():
        np.testing.assert_allclose(final[name], values, rtol=2e-3, atol=2e-3)  # float16 of the end weights
    written = sorted(p.name for p in run.path.glob("snapshot-*.weights.npz"))
    assert len(written) == len(shots)  # no file beyond the list


def test_frames_write_the_same_start_with_the_same_random_numbers(trained_run, tmp_path, english_text):
    run_dir = copy_run(trained_run, tmp_path)
    job = TrainingJob.resume(run_dir, epochs=2)
    assert job.run().stop_reason == "completed"
    run = Run(run_dir)
    shots = run.snapshots()
    out = frames(run, "The ", 80, seed=7, temperature=0.5)
    assert [f.snapshot for f in out] == shots
    direct = Generator(run.load_snapshot(shots[-1].number), run.config(), run.vocab())
    assert out[-1].text == direct.generate("The ", [0.5], 80, seed=7)[0].text
    assert out[0].text != out[-1].text
    assert frames(run, "The ", 80, seed=7, temperature=0.5) == out  # the same every time


def test_continuing_adds_points_and_the_run_thins_them(trained_run, tmp_path):
    run_dir = copy_run(trained_run, tmp_path)
    totals = [Run(run_dir).trained_seconds()]
    for _ in range(3):
        assert TrainingJob.resume(run_dir, epochs=1).run().stop_reason == "completed"
        totals.append(Run(run_dir).trained_seconds())
    assert totals == sorted(totals) and totals[0] > 0 and len(set(totals)) == 4  # each training adds its time
    run = Run(run_dir)
    shots = run.snapshots()
    assert len(shots) == MAX_SNAPSHOTS  # four trainings took far more than twenty
    assert shots[0].at_epoch < 0.2 and shots[-1].at_epoch == pytest.approx(5.0)
    assert len(list(run.path.glob("snapshot-*.weights.npz"))) == MAX_SNAPSHOTS  # dropped files are deleted
