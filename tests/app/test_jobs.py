"""The job queue on a real Dask LocalCluster: trainings run in worker processes, one per owner at a time,
leaving the queue, stopping, and the limits (per owner and for the whole server).

One cluster of two workers serves the whole module (starting one takes seconds); every test gets its
own models folder, and every training it leaves behind is stopped and awaited.
"""

from __future__ import annotations

import os

import pytest
from helpers import pid_gone, wait_for
from run_factory import TINY as TINY_MODEL
from run_factory import random_run

from charlstm import store
from charlstm.config import TrainConfig
from charlstm.errors import CharlstmError
from charlstm.jobs import OWNER_MAX_WAITING, JobQueue
from charlstm.run import EpochRecord, Run, read_json
from charlstm.store import new_run
from charlstm.text import Corpus

USES_STUDIO = False  # tests/app/conftest.py: this module brings its own cluster, not the studio's
TEXT = "The quick brown fox jumps over the lazy dog, and the lazy dog sleeps on in the sun. " * 60
TINY = TINY_MODEL.replace(steps_per_epoch=4, epochs=1)
LONG = TINY.replace(epochs=10_000, seconds=120.0)  # trains until stopped (the time limit is a safety net)
FINAL = ("completed", "time", "user", "diverged", "error", "interrupted")
TIMEOUT = 180.0  # a first training also waits for its worker to import TensorFlow


@pytest.fixture(scope="module")
def queue(tmp_path_factory):
    """Two training workers: enough to show that an owner's second job waits while someone else's trains."""
    q = JobQueue(root=tmp_path_factory.mktemp("runs"), workers=2)
    pids = q.worker_pids()  # starts the cluster
    assert len(pids) == 2 and os.getpid() not in pids
    yield q
    q.close()

    wait_for(lambda: all(pid_gone(p) for p in pids), timeout=30, what=f"the Dask workers {pids} to exit")


@pytest.fixture
def root(queue, tmp_path, monkeypatch):
    path = tmp_path / "runs"
    path.mkdir()
    monkeypatch.setattr(queue, "root", path)
    yield path

    def active() -> list[str]:  # nothing this test started may keep a worker busy
        left = [run for run in store.run_folders(path) if run.status().active]
        for run in left:
            queue.stop(run)  # asked again each time: a Stop can land just before the job starts
        return [run.id for run in left]

    wait_for(lambda: not active(), timeout=TIMEOUT, every=0.25, what=lambda: f"trainings to end: {active()}")


def fresh(root, name: str, config: TrainConfig = TINY, owner: str = "alice") -> Run:
    run, _ = new_run(Corpus(TEXT, "fox", "paste"), config, root=root, name=name, owner=owner)
    return run


def state_of(run: Run) -> str:
    return run.status().state


def wait_state(run: Run, states: tuple[str, ...], timeout: float = TIMEOUT) -> str:
    return wait_for(
        lambda: state_of(run) if state_of(run) in states else None,
        timeout=timeout,
        every=0.1,
        what=lambda: f"{run.name} to be {states} (it is {state_of(run)})",
    )


def test_a_job_trains_in_a_worker_process_and_writes_its_run(queue, root):
    run = fresh(root, "bob's", owner="bob")
    queue.submit(run, "bob", action="new")
    assert wait_state(run, FINAL) == "completed", run.status().message
    assert [h.epoch for h in run.history()] == [1] and run.history()[0].steps == 4
    assert run.has_model and len(run.samples()) == 1
    assert read_json(run.file("lease.json"))["pid"] in queue.worker_pids()  # trained in a worker, not here
    assert read_json(run.file("lease.json"))["pid"] != os.getpid()
    # A finished run can be continued; the worker trains it from its last checkpoint.
    queue.submit(run, "bob", action="continue", epochs=1)
    assert wait_state(run, FINAL) == "completed", run.status().message
    assert [h.epoch for h in run.history()] == [1, 2]
    assert run.status().epochs == 2


def test_an_owners_second_job_waits_while_the_first_trains_and_leaving_the_queue(queue, root):
    first = fresh(root, "first", LONG)
    queue.submit(first, "alice")
    wait_state(first, ("running",))
    with pytest.raises(CharlstmError, match=r"is training now|is waiting to train"):
        queue.submit(first, "alice")

    second = fresh(root, "second")  # a new run: leaving the queue removes it
    queue.submit(second, "alice")
    earlier = random_run(root, TEXT, TINY, name="earlier", owner="alice")  # a continued run keeps its past
    continued = Run(earlier)
    continued.append_epoch(EpochRecord(1, 2.0, 2.1, 3.0, 0.004, 4, 1.0, 100.0, False))
    continued.write_status("user", "Stopped by you after 1 epoch.", epochs=1, best_val_loss=2.1)
    queue.submit(continued, "alice", action="continue", epochs=1)

    # Someone else's job starts on the free worker at once; alice's wait for hers.
    other = fresh(root, "bob's", owner="bob")
    queue.submit(other, "bob")
    assert wait_state(other, FINAL) == "completed", other.status().message
    assert state_of(first) == "running"
    assert (state_of(second), state_of(continued)) == ("queued", "queued")
    active = queue.owner_active("alice")
    assert sorted(r.id for r, _ in active) == sorted([first.id, second.id, continued.id])
    assert {r.id: s.state for r, s in active}[first.id] == "running"
    assert queue.owner_active("bob") == []
    assert (queue.place(second).position, queue.place(continued).position) == (1, 2)
    assert queue.place(second).training_now == 1

    # Leaving the queue: the new run is removed, the continued one keeps its earlier state.
    assert queue.stop(second) == "left"
    assert not second.path.exists()
    assert queue.stop(continued) == "left"
    status = continued.status()
    assert status.state == "user" and status.epochs == 1 and "Stopped by you" in status.message
    assert [h.epoch for h in continued.history()] == [1]

    # Stopping the training one: it ends after its batch and keeps what it learned.
    assert queue.stop(first) == "stopping"
    assert wait_state(first, FINAL, timeout=60) == "user", first.status().message
    assert first.has_model
    # The withdrawn jobs, whose turn came now, did nothing.
    last = queue._last["alice"]
    wait_for(last.done, timeout=60, what="alice's last job to be done")
    assert last.result() == {"run": continued.id, "state": "cancelled"}
    assert continued.status().state == "user" and len(continued.history()) == 1
    assert not second.path.exists()


def test_limits_one_training_two_waiting_per_owner_and_a_full_server_queue(queue, root, monkeypatch):
    first = fresh(root, "first", LONG)
    queue.submit(first, "alice")
    wait_state(first, ("running",))
    waiting = [fresh(root, f"waiting {i}") for i in range(OWNER_MAX_WAITING)]
    for run in waiting:
        queue.submit(run, "alice")
    assert [state_of(r) for r in waiting] == ["queued"] * OWNER_MAX_WAITING
    extra = fresh(root, "one too many")
    with pytest.raises(CharlstmError, match="already have 3 trainings"):
        queue.submit(extra, "alice")
    assert state_of(extra) == "unknown" and not extra.file("request.json").exists()  # not queued
    queue.check_limits("bob")  # another owner may still queue

    monkeypatch.setattr(queue, "max_queued", OWNER_MAX_WAITING)  # the server's queue is full now
    with pytest.raises(CharlstmError, match="queue is full"):
        queue.check_limits("bob")
    bobs = fresh(root, "bob's", owner="bob")
    with pytest.raises(CharlstmError, match="queue is full"):
        queue.submit(bobs, "bob")
    assert state_of(bobs) == "unknown"

    assert queue.stop(waiting[0]) == "left"  # a place is free again
    queue.check_limits("bob")
    queue.check_limits("alice")
