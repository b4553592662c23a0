"""The job registry: training cap, FIFO queue, owners, cancelling, the server's time limit (no TensorFlow)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from charlstm import store
from charlstm.config import TrainConfig
from charlstm.jobs import JobRegistry


class FakeJob:
    """Quacks like TrainingJob: runs on a thread until stopped (or `finish()`ed)."""

    def __init__(self, run_dir: Path):
        self.run_dir, self.config = run_dir, TrainConfig()
        self._stop, self._done = threading.Event(), threading.Event()
        self.started = False

    def start(self):
        self.started = True
        threading.Thread(target=self._run, daemon=True).start()
        return self

    def _run(self):
        self._stop.wait()
        store.write_status(self.run_dir, "user")  # as TrainingJob does when it ends
        self._done.set()

    def stop(self):
        self._stop.set()

    finish = stop

    def wait(self, timeout=None):
        return self._done.wait(timeout) if self.started else True

    @property
    def alive(self):
        return self.started and not self._done.is_set()

    def snapshot(self):
        return SimpleNamespace(started=self.started, stop_reason="user" if self._done.is_set() else None)


@pytest.fixture
def make_job(tmp_path):
    root = tmp_path / "runs"

    def make(name: str = "run") -> FakeJob:
        run_dir = store.new_run_dir(root, name)
        store.write_status(run_dir, "running", message="Preparing the data.")
        return FakeJob(run_dir)

    return make


def wait_until(condition, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


def test_one_trains_the_next_waits_in_order_and_starts_by_itself(make_job):
    reg = JobRegistry(max_running=1)
    a, b, c = make_job("a"), make_job("b"), make_job("c")
    va = reg.submit(a, "alice")
    vb = reg.submit(b, "bob")
    vc = reg.submit(c, "carol")
    assert (va.state, vb.state, vc.state) == ("running", "queued", "queued")
    assert (vb.position, vc.position) == (1, 2)
    assert vb.running_now == 1
    assert a.started and not b.started
    a.finish()
    wait_until(lambda: b.started)
    assert reg.get(b.run_dir.name, "bob").state == "running"
    assert reg.get(c.run_dir.name, "carol").position == 1
    assert reg.get(a.run_dir.name, "alice").state == "finished"
    reg.stop_all(timeout=5)


def test_cap_comes_from_the_environment(monkeypatch, make_job):
    monkeypatch.setenv("CHARLSTM_MAX_TRAINING", "2")
    reg = JobRegistry()
    assert reg.max_running == 2
    views = [reg.submit(make_job(n), "o") for n in "abc"]
    assert [v.state for v in views] == ["running", "running", "queued"]
    reg.stop_all(timeout=5)
    monkeypatch.setenv("CHARLSTM_MAX_TRAINING", "not a number")
    assert JobRegistry().max_running == 1


def test_sessions_never_see_each_others_jobs(make_job):
    reg = JobRegistry(max_running=1)
    a = make_job("a")
    reg.submit(a, "alice")
    assert reg.get(a.run_dir.name, "bob") is None
    assert reg.for_owner("bob") == []
    assert [v.run_id for v in reg.for_owner("alice")] == [a.run_dir.name]
    assert reg.active_for_others("bob") == {a.run_dir.name}
    assert reg.active_for_others("alice") == set()
    assert reg.stop(a.run_dir.name, "bob") is False
    assert a.alive
    reg.stop_all(timeout=5)


def test_leaving_the_queue_removes_an_untrained_run_and_lets_the_next_in(make_job):
    reg = JobRegistry(max_running=1)
    a, b, c = make_job("a"), make_job("b"), make_job("c")
    for job, owner in ((a, "alice"), (b, "bob"), (c, "carol")):
        reg.submit(job, owner)
    assert reg.stop(b.run_dir.name, "bob")
    view = reg.get(b.run_dir.name, "bob")
    assert view.state == "cancelled" and "nothing was trained" in view.note
    assert not b.run_dir.exists()  # a fresh folder with nothing in it is not left in the library
    assert reg.get(c.run_dir.name, "carol").position == 1
    reg.stop_all(timeout=5)


def test_cancelling_a_queued_resume_keeps_the_run(make_job):
    reg = JobRegistry(max_running=1)
    a, b = make_job("a"), make_job("b")
    (b.run_dir / "history.jsonl").write_text('{"epoch": 1}\n')
    (b.run_dir / "best.weights.npz").write_bytes(b"")
    reg.submit(a, "alice")
    reg.submit(b, "bob")
    reg.stop(b.run_dir.name, "bob")
    assert b.run_dir.is_dir()
    assert store.read_status(b.run_dir)["state"] == "user"
    reg.stop_all(timeout=5)


def test_a_job_cannot_be_submitted_twice_while_active(make_job):
    reg = JobRegistry(max_running=1)
    a = make_job("a")
    reg.submit(a, "alice")
    with pytest.raises(Exception, match="already training"):
        reg.submit(a, "alice")
    reg.stop_all(timeout=5)


def test_the_server_limit_stops_a_job_that_runs_too_long(make_job):
    reg = JobRegistry(max_running=1, max_seconds=1.0)
    a, b = make_job("a"), make_job("b")
    reg.submit(a, "alice")
    reg.submit(b, "bob")
    wait_until(lambda: not a.alive, timeout=10)
    assert "limit" in reg.get(a.run_dir.name, "alice").note
    wait_until(lambda: b.started)  # and the next one got its turn
    reg.stop_all(timeout=5)


def test_a_job_stopped_before_its_first_step_leaves_no_empty_run(make_job):
    reg = JobRegistry(max_running=1)
    early, trained = make_job("early"), make_job("trained")
    (trained.run_dir / "last.weights.npz").write_bytes(b"")
    reg.submit(early, "alice")
    reg.stop(early.run_dir.name, "alice")
    wait_until(lambda: reg.get(early.run_dir.name, "alice").state == "finished")
    assert not early.run_dir.exists()
    assert "Nothing had been saved" in reg.get(early.run_dir.name, "alice").note
    reg.submit(trained, "alice")
    reg.stop(trained.run_dir.name, "alice")
    wait_until(lambda: reg.get(trained.run_dir.name, "alice").state == "finished")
    assert trained.run_dir.is_dir()  # what was earned stays
