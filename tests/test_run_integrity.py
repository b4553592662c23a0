"""Issue 16, items 9, 10, 12: hashed checkpoint sets, bounded records, and a killed trainer freeing its run at once."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
from helpers import default_sigint, wait_for
from run_factory import TINY as TINY_MODEL
from run_factory import cli_settings, random_run

from charlstm import run as run_module
from charlstm.config import MAX_SEED
from charlstm.errors import BundleError, CharlstmError
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
    assert job.initial_epoch == 1 and job.clock.epoch == 2  # continues after epoch 1


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


# === item 12: a killed trainer frees its run at once =============================================================
ROOT = Path(__file__).resolve().parent.parent
TINY = cli_settings(TINY_MODEL.replace(units=16, seq_len=20, stride=20, sample_length=40))


def python(code: str, *args: str, **kwargs) -> subprocess.Popen:
    """A real child process running `code` with `args` (sys.argv[1:]), this checkout importable."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-c", textwrap.dedent(code), *args]
    return subprocess.Popen(command, env=env, cwd=ROOT, preexec_fn=default_sigint, **kwargs)


LEASE_HOLDER = """
    import sys, time
    from charlstm.run import Run
    run = Run(sys.argv[1])
    run.write_status("running", "Training.")
    while True:
        run.renew_lease()
        time.sleep(0.2)
"""


def hold_lease(run: Run) -> subprocess.Popen:
    """A real process that holds the run's lease, as a trainer does."""
    proc = python(LEASE_HOLDER, str(run.path))
    wait_for(lambda: (h := run.holder()) is not None and h.pid == proc.pid, timeout=60, what="the child's lease")
    return proc


@pytest.fixture
def run(tmp_path, english_text, tiny_config) -> Run:
    return Run(random_run(tmp_path, english_text[:20_000], tiny_config))


def test_a_killed_lease_holder_is_interrupted_at_once(run):
    proc = hold_lease(run)
    try:
        assert run.status().state == "running"
        os.kill(proc.pid, signal.SIGKILL)
        os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOWAIT)  # dead, not reaped: a zombie is gone too
        assert run.status().state == "interrupted" and run.holder() is None
        proc.wait()
        assert run.status().state == "interrupted" and run.busy_message() is None
        assert time.time() < json.loads(run.file("lease.json").read_text())["until"]  # the lease alone says alive
    finally:
        proc.kill()
        proc.wait()


def test_the_refusal_names_the_process_host_and_time(run):
    proc = hold_lease(run)
    try:
        with pytest.raises(CharlstmError) as refused:
            TrainingJob.resume(run.path, epochs=1)
        message = str(refused.value)
        assert f"process {proc.pid} on host {socket.gethostname()}, since " in message
        assert message.startswith(f"{run.name} is training now") and "stop it first" in message
    finally:
        proc.kill()
        proc.wait()


def write_lease(run: Run, **fields) -> None:
    lease = {"until": time.time() + 60, "since": time.time(), "pid": 4_000_000, "host": socket.gethostname()}
    run.file("lease.json").write_text(json.dumps({**lease, **fields}))


def test_a_lease_elsewhere_holds_until_it_expires(run):
    run.write_status("running", "Training.")
    gone = python("pass")
    gone.wait()
    write_lease(run, pid=gone.pid, host="another-machine", pid_ns="pid:[1]")  # its PID means nothing here
    assert run.status().state == "running" and "another-machine" in (run.busy_message() or "")
    write_lease(run, pid=gone.pid, host="another-machine", until=time.time() - 1)
    assert run.status().state == "interrupted"
    if run_module._pid_namespace():  # Linux: a lease without one is from an older charlstm, only its time tells
        write_lease(run, pid=gone.pid)
        assert run.status().state == "running"


def test_a_reused_pid_does_not_hold_the_run(run):
    run.write_status("running", "Training.")
    run.renew_lease()  # this process: alive
    lease = json.loads(run.file("lease.json").read_text())
    assert lease["pid"] == os.getpid() and run.status().state == "running"
    if lease["started"] is None:
        pytest.skip("no /proc here: a PID's start time cannot be told")
    write_lease(run, pid=os.getpid(), pid_ns=lease["pid_ns"], started=lease["started"] + 1)
    assert run.status().state == "interrupted"


def test_the_lease_keeps_when_it_was_taken(run):
    run.write_status("running", "Training.")
    run.renew_lease()
    first = run.holder()
    time.sleep(0.01)
    run.renew_lease()
    again = run.holder()
    assert first is not None and again is not None and again.since == first.since and again.until > first.until


CLAIMER = """
    import sys
    from charlstm.run import Run
    print(Run(sys.argv[1]).claim_request("tok") is not None, flush=True)
    sys.stdin.read()  # then it starts: imports TensorFlow, for a while
"""


def test_a_claim_by_a_dead_process_is_not_starting(run):
    run.write_status("completed", "Finished all 1 epoch.", epochs=1)
    run.write_request(Request(token="tok", owner="o", action="continue", epochs=1))
    claimer = python(CLAIMER, str(run.path), stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert claimer.stdout is not None and claimer.stdout.readline().strip() == b"True"
        assert (run.status().state, run.status().message) == ("running", "Starting.")
        assert f"process {claimer.pid}" in (run.busy_message() or "")
    finally:
        claimer.kill()
        claimer.wait()
    assert run.status().state == "completed"  # not "Starting." for two minutes


def test_a_claim_from_an_older_charlstm_counts_by_its_time(run):
    run.write_status("completed", "Finished.", epochs=1)
    claim = run.file("request.started.json")
    claim.write_text(json.dumps({"token": "t", "owner": "o", "action": "new"}))
    now = time.time() + 1  # claimed after the status was written (file times may lag the clock by a tick)
    os.utime(claim, (now, now))
    assert run.status().state == "running" and run.holder() is not None


# --- end to end: the real command line ---------------------------------------------------------------------
def test_kill_9_of_charlstm_train_then_resume_straight_away(tmp_path, english_text):
    corpus = tmp_path / "docs.txt"
    corpus.write_text(english_text[:15_000], encoding="utf-8")
    out = tmp_path / "runs" / "killed"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CHARLSTM_HOME": str(tmp_path / "home")}
    train = [sys.executable, "-m", "charlstm", "train", str(corpus), *TINY, "--epochs", "100000", "--out", str(out)]
    proc = subprocess.Popen(
        train, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=ROOT, preexec_fn=default_sigint
    )
    killed = Run(out)

    def trained_an_epoch() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"the trainer ended early: {proc.stderr.read() if proc.stderr else ''}")
        return bool(killed.history())

    try:
        wait_for(trained_an_epoch, timeout=300, what="the first epoch of `charlstm train`")
        proc.kill()  # SIGKILL: nothing of the trainer runs after this
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert json.loads(killed.file("lease.json").read_text())["until"] > time.time()  # the lease alone: "running"
    assert killed.status().state == "interrupted"
    resume = [sys.executable, "-m", "charlstm", "resume", str(out), "--epochs", "1", "--json"]
    resumed = subprocess.run(
        resume, capture_output=True, text=True, env=env, cwd=ROOT, timeout=300, preexec_fn=default_sigint
    )
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout.strip().splitlines()[-1])["stopped"] == "completed"
    assert killed.status().state == "completed"
