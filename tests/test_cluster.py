"""Training on real Dask clusters: the embedded LocalCluster and an external scheduler with two workers.

Faults that must be survived: a worker SIGKILLed mid-training (the run reads "interrupted" within
15 s, keeps its checkpoint, continues, frees the slot, and another owner's training notices
nothing), and a job that raises (the error is in the run folder in plain words, the slot is freed).
Every job here is a tiny model that trains in seconds, in a real worker process.
"""

from __future__ import annotations

import os
import signal
import sys
import time

import pytest
from helpers import dask_cluster, trainer_pid, wait_for

from charlstm.cluster import ENV_ALLOW_OPEN
from charlstm.errors import CharlstmError
from charlstm.jobs import JobQueue
from charlstm.run import LEASE_SECONDS, Run
from charlstm.store import new_run
from charlstm.text import Corpus

FAULT_NOTICED_SECONDS = 15.0


@pytest.fixture(scope="module")
def cluster_config(tiny_config):
    """Small epochs, so the first checkpoint comes within seconds, and a time limit as a safety net. No settling:
    a tiny model on 20,000 characters stops improving within seconds and would end before the tests look."""
    return tiny_config.replace(steps_per_epoch=15, epochs=100_000, seconds=90.0, patience=None)


@pytest.fixture(scope="module")
def embedded(tmp_path_factory):
    """The studio's default: a LocalCluster of two worker processes (one training slot each)."""
    queue = JobQueue(root=tmp_path_factory.mktemp("cluster-runs"), workers=2)
    # Both workers joined before the first test: Dask gives a job to a worker that has joined and keeps it
    # there, so two jobs sent while a busy machine still starts the second worker would train one by one.
    queue.client().wait_for_workers(2, timeout=180)
    yield queue
    queue.close()


def queue_run(queue: JobQueue, text: str, config, owner: str, name: str) -> Run:
    run, _ = new_run(Corpus(text, name, "paste"), config, root=queue.root, name=name, owner=owner)
    queue.submit(run, owner)
    return run


def test_the_studios_cluster_is_closed(embedded):
    """Only the studio holds the certificate of its cluster (test_cluster_security.py shows the refusals)."""
    client = embedded.client()
    assert client.scheduler.address.startswith("tls://")
    assert all(worker.startswith("tls://") for worker in client.scheduler_info()["workers"])


def test_workers_join_warm(embedded):
    """Each worker imported Keras before it joined (cluster.WORKER_PRELOAD), with nothing left to run.

    A worker that warmed up by a task looked busier to Dask than one training, and Dask hands a task that needs
    the training slot at once to the worker it judges least busy: two trainings waited on one worker while the
    other's slot stood free (seen in CI; dask/distributed#8177). The two-job tests below rely on this.
    """
    client = embedded.client()
    assert all(client.run(lambda: "keras" in sys.modules).values())
    assert not any(client.processing().values())


def test_a_killed_worker_reads_interrupted_keeps_its_checkpoint_and_continues(embedded, english_text, cluster_config):
    text = english_text[:20_000]
    victim = queue_run(embedded, text, cluster_config.replace(seconds=600.0), "alice", "victim")  # killed long before
    # trains on through the kill, however long the victim's first epoch took on a busy machine: stopped below
    bystander = queue_run(embedded, text, cluster_config.replace(seconds=600.0), "bob", "bystander")
    wait_for(
        lambda: len(victim.history()) >= 1 and victim.status().state == "running",
        180,
        0.2,
        what=lambda: f"a first epoch of the victim: {victim.status().state}, {bystander.status().state}",
    )
    epochs_before = len(victim.history())

    os.kill(trainer_pid(victim), signal.SIGKILL)
    killed = time.monotonic()
    wait_for(lambda: victim.status().state == "interrupted", FAULT_NOTICED_SECONDS, what="'interrupted'")
    assert time.monotonic() - killed <= FAULT_NOTICED_SECONDS
    assert victim.has_checkpoint("last") and victim.has_checkpoint("best")
    assert victim.status().message  # the page has words to show

    # the other owner's training, on the other worker, goes on undisturbed: it learns more epochs, and stops
    # cleanly when its owner asks
    seen = len(bystander.history())
    wait_for(lambda: len(bystander.history()) > seen, 60, 0.2, what="a bystander's epoch after the kill")
    assert bystander.status().state == "running"

    # Continue works from the kept checkpoint, on the restarted worker, while the bystander trains on. (Dask
    # retries the killed job on the bystander's worker, where it waits; the Continue must not wait behind it.)
    embedded.submit(victim, "alice", action="continue", epochs=1)
    wait_for(lambda: not victim.status().active, 120, what="the continued run to finish")
    assert victim.status().state == "completed", victim.status().message
    history = victim.history()
    assert history[-1].epoch > epochs_before
    assert [h.epoch for h in history] == sorted({h.epoch for h in history})  # no epoch counted twice

    assert bystander.status().state == "running"
    assert embedded.stop(bystander) == "stopping"
    wait_for(lambda: not bystander.status().active, 60, what="the bystander to stop")
    assert bystander.status().state == "user"


def test_a_job_that_raises_says_why_and_frees_the_slot(embedded, english_text, cluster_config):
    text = english_text[:20_000]
    broken, _ = new_run(Corpus(text, "broken", "paste"), cluster_config, root=embedded.root, owner="carol")
    broken.file("corpus.txt").unlink()  # the worker will find no text to train on
    embedded.submit(broken, "carol")
    wait_for(lambda: broken.status().state == "error", 60, what="the error")
    assert "no saved training text" in broken.status().message
    after = queue_run(embedded, text, cluster_config.replace(epochs=1), "carol", "after")
    wait_for(lambda: not after.status().active, 120, what="the next job")
    assert after.status().state == "completed", after.status().message


def test_a_training_waiting_for_a_slot_takes_the_first_that_frees(embedded, english_text, cluster_config):
    """Three trainings, two slots: the third starts when the short one ends, while the long one trains on.

    Dask hands a waiting training to a worker at once, perhaps the long one's; its work stealing must then move
    it to the worker that frees first, or the third would wait for the long training's end.
    """
    text = english_text[:20_000]
    long = queue_run(embedded, text, cluster_config.replace(seconds=600.0), "ivy", "long")  # stopped below
    short = queue_run(embedded, text, cluster_config.replace(seconds=20.0), "jack", "short")  # ends by its time
    both = (long, short)
    wait_for(lambda: all(r.status().state == "running" for r in both), 120, 0.2, what="two trainings at once")
    third = queue_run(embedded, text, cluster_config.replace(epochs=1), "kim", "third")
    wait_for(lambda: not third.status().active, 180, what=lambda: f"the third: {third.status().state}")
    assert third.status().state == "completed", third.status().message
    assert long.status().state == "running"  # the third did not wait for it
    assert embedded.stop(long) == "stopping"
    wait_for(lambda: not long.status().active, 60, what="the long training to stop")


def test_leaving_the_queue_and_stopping(embedded, english_text, cluster_config):
    """An owner's second job waits for the first; leaving the queue removes it; Stop ends the first."""
    text = english_text[:20_000]
    first = queue_run(embedded, text, cluster_config, "dave", "first")
    second = queue_run(embedded, text, cluster_config, "dave", "second")
    wait_for(lambda: first.status().state == "running", 60, what="the first job to train")
    time.sleep(1.0)
    assert second.status().state == "queued"  # one training per owner at a time, even with a free worker
    assert embedded.stop(second) == "left"
    assert not second.path.exists()  # nothing had been trained: nothing is kept
    assert embedded.stop(first) == "stopping"
    wait_for(lambda: not first.status().active, 60, what="Stop")
    assert first.status().state == "user"


def test_owner_and_server_limits(tmp_path, english_text, cluster_config):
    queue = JobQueue(root=tmp_path, max_queued=2)  # no cluster needed: limits are read from the run folders
    for i in range(3):
        run, _ = new_run(Corpus(english_text[:20_000], "t", "paste"), cluster_config, root=tmp_path, owner="erin")
        run.write_request(_request("erin", i))
    with pytest.raises(Exception, match="most one person can have"):
        queue.check_limits("erin")
    with pytest.raises(Exception, match="queue is full"):
        queue.check_limits("frank")


def _request(owner: str, i: int):
    from charlstm.run import Request

    return Request(token=f"t{i}", owner=owner, action="new")


def test_an_open_external_scheduler_is_refused(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV_ALLOW_OPEN, raising=False)
    with pytest.raises(CharlstmError, match="is open: anyone who can reach its port"):
        JobQueue(root=tmp_path, scheduler="tcp://127.0.0.1:9").client()


def test_an_external_cluster_trains_two_jobs_at_once(tmp_path, english_text, cluster_config, monkeypatch):
    """`dask scheduler` and two `dask worker --resources train=1 --preload charlstm.worker` processes on loopback.

    They listen on plain tcp:// on 127.0.0.1, so the studio needs the opt-in for an open scheduler; the
    README's TLS recipe is tested in test_cluster_security.py.
    """
    monkeypatch.setenv(ENV_ALLOW_OPEN, "1")
    with dask_cluster(workers=2) as address:
        queue = JobQueue(root=tmp_path, scheduler=address)
        wait_for(lambda: _workers(queue) == 2, 180, what="two workers, warm (their preload imports Keras)")
        # Both train until stopped once seen side by side: on two busy cores, a short budget could end the first
        # job before the second had read its text (seen in CI: the two ran one after the other, each for 60 s).
        config = cluster_config.replace(seconds=600.0)
        runs = [queue_run(queue, english_text[:20_000], config, owner, owner) for owner in ("gina", "hugo")]
        watched = [Sightings(run) for run in runs]
        wait_for(
            lambda: Sightings.overlap(watched),
            240,
            0.2,
            what=lambda: f"both jobs training at once: {[w.states for w in watched]}",
        )
        assert trainer_pid(runs[0]) != trainer_pid(runs[1])
        wait_for(lambda: all(r.has_model for r in runs), 60, 0.2, what="a saved model of each")
        assert [queue.stop(r) for r in runs] == ["stopping", "stopping"]
        wait_for(lambda: not any(r.status().active for r in runs), 60, what="both jobs to stop")
        assert [r.status().state for r in runs] == ["user", "user"]
        queue.close()


class Sightings:
    """When a poller saw a run training. On two busy cores a poll can miss a moment where both trained (a
    status read while a lease is renewed): two jobs trained at once when each was seen training after the
    other was first seen so."""

    def __init__(self, run: Run):
        self.run, self.running, self.states = run, [], set()

    def look(self) -> None:
        status = self.run.status()
        self.states.add((status.state, status.message[:40]))
        if status.state == "running":
            self.running.append(time.monotonic())

    @staticmethod
    def overlap(watched: list[Sightings]) -> bool:
        for w in watched:
            w.look()
        if not all(w.running for w in watched):
            return False
        return max(w.running[0] for w in watched) < min(w.running[-1] for w in watched)


def _workers(queue: JobQueue) -> int:
    try:
        return len(queue.client().scheduler_info()["workers"])
    except Exception:
        return 0


def test_a_lease_that_runs_out_reads_interrupted(tmp_path, english_text, tiny_config):
    run, _ = new_run(Corpus(english_text[:20_000], "t", "paste"), tiny_config, root=tmp_path)
    run.write_status("running", "Training.")
    assert run.status().state == "interrupted"  # no lease at all: nobody trains it
    run.renew_lease()
    assert run.status().state == "running"
    lease = run.file("lease.json")
    os.utime(lease)
    import json

    lease.write_text(json.dumps({"until": time.time() - 1, "pid": 1, "host": "x"}))
    assert run.status().state == "interrupted"  # PID 1 is alive, but the lease, not the PID, decides
    assert LEASE_SECONDS <= FAULT_NOTICED_SECONDS
