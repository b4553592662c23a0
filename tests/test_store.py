"""Runs on disk: listing, damaged runs, rename, delete, safe names, the status of runs whose trainer is gone."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from charlstm import store
from charlstm.errors import BundleError, CharlstmError
from charlstm.run import LEASE_SECONDS, Request, Run, read_json, write_json


def make_runs(trained_run: Path, root: Path, created: dict[str, float]) -> dict[str, Path]:
    """Copies of a real trained run under root, with chosen names and creation times."""
    out = {}
    for name, when in created.items():
        dest = root / f"run-{name}"
        shutil.copytree(trained_run, dest)
        Run(dest).update_meta(name=name, created=when)
        out[name] = dest
    return out


def test_default_home_and_runs_root(home):
    assert store.default_home() == home
    assert store.runs_root() == home / "runs"
    assert store.list_runs() == []  # no folder yet: nothing, and no error


def test_list_runs_newest_first(trained_run, tmp_path, tiny_config):
    root = tmp_path / "runs"
    make_runs(trained_run, root, {"old": 1000.0, "newest": 3000.0, "middle": 2000.0})
    (root / ".hidden").mkdir()
    (root / "stray-file.txt").write_text("not a run")
    runs = store.list_runs(root)
    assert [r.name for r in runs] == ["newest", "middle", "old"]
    first = runs[0]
    assert first.readable and first.error is None
    assert first.state == "completed"
    assert first.preset == tiny_config.preset
    assert first.epochs == 2
    history = Run(trained_run).history()
    assert first.val_loss == pytest.approx(min(h.val_loss for h in history))
    assert first.val_bpc == pytest.approx(first.val_loss / np.log(2))
    weights, _ = Run(trained_run).load_checkpoint("best")
    assert first.parameters == sum(a.size for a in weights.values())


@pytest.mark.parametrize(
    "damage",
    ["garbage-weights", "truncated-weights", "wrong-shape-weights", "bad-config-json", "bad-config-values", "no-vocab"],
)
def test_a_damaged_run_is_listed_as_unreadable_and_the_others_still_work(trained_run, tmp_path, damage):
    root = tmp_path / "runs"
    runs = make_runs(trained_run, root, {"good": 1000.0, "broken": 2000.0})
    broken = runs["broken"]
    if damage == "garbage-weights":  # bit rot in an older run (no manifests: a hashed set falls back instead)
        size = (broken / "best.weights.npz").stat().st_size
        (broken / "best.weights.npz").write_bytes((b"this is not a zip file at all " * size)[:size])
        for tag in ("best", "last"):
            (broken / f"{tag}.json").unlink()
        (broken / "last.weights.npz").unlink()
    elif damage == "truncated-weights":  # an older run (no manifests) whose weights file was cut short
        data = (broken / "best.weights.npz").read_bytes()
        (broken / "best.weights.npz").write_bytes(data[: len(data) // 2])
        for tag in ("best", "last"):
            (broken / f"{tag}.json").unlink()
        (broken / "last.weights.npz").unlink()
    elif damage == "wrong-shape-weights":
        weights, optimizer = Run(broken).load_checkpoint("best")
        weights["logits/bias"] = np.zeros(3, np.float32)
        Run(broken).save_checkpoint("best", weights, optimizer, epoch=2)
    elif damage == "bad-config-json":
        (broken / "config.json").write_text("{not json", encoding="utf-8")
    elif damage == "bad-config-values":
        config = json.loads((broken / "config.json").read_text())
        (broken / "config.json").write_text(json.dumps({**config, "units": 0}), encoding="utf-8")
    else:
        (broken / "vocab.json").unlink()
    listed = {r.path.name: r for r in store.list_runs(root)}
    assert set(listed) == {"run-good", "run-broken"}
    bad = listed["run-broken"]
    assert not bad.readable
    assert bad.state == "unreadable"
    reason = {  # the error names what is wrong (pages and the CLI put "unreadable" in front of it)
        "garbage-weights": "best.weights.npz is unreadable",
        "truncated-weights": "best.weights.npz is unreadable",
        "wrong-shape-weights": "do not fit the vocabulary and settings",
        "bad-config-json": "config.json in the model run-broken is unreadable",
        "bad-config-values": "config.json in run-broken does not hold valid settings",
        "no-vocab": "vocab.json is missing",
    }[damage]
    assert bad.error and reason in bad.error
    assert listed["run-good"].readable
    with pytest.raises(BundleError):
        store.load_generator(broken)
    gen = store.load_generator(runs["good"])
    assert len(gen.generate("The ", length=20, seed=0)[0].text) == 20


def test_a_torn_best_checkpoint_falls_back_to_the_last_one(trained_run, tmp_path):
    root = tmp_path / "runs"
    run = make_runs(trained_run, root, {"torn": 1.0})["torn"]
    data = (run / "best.weights.npz").read_bytes()
    (run / "best.weights.npz").write_bytes(data[: len(data) // 2])  # sizes no longer match best.json
    assert Run(run).best_tag() == "last"
    (summary,) = store.list_runs(root)
    assert summary.readable
    gen = store.load_generator(run)
    assert len(gen.generate("The ", length=10, seed=0)[0].text) == 10
    (run / "last.weights.npz").unlink()
    (summary,) = store.list_runs(root)
    assert not summary.readable and "no saved weights" in summary.error
    with pytest.raises(BundleError, match="no saved model yet"):
        store.load_generator(run)


def test_a_run_still_training_without_weights_is_listed(tmp_path, trained_run):
    root = tmp_path / "runs"
    run = make_runs(trained_run, root, {"fresh": 1.0})["fresh"]
    for tag in ("best", "last"):
        (run / f"{tag}.weights.npz").unlink()
    Run(run).write_status("running")
    Run(run).renew_lease()  # its trainer is alive
    (summary,) = store.list_runs(root)
    assert summary.readable and summary.state == "running"
    with pytest.raises(BundleError, match="no saved model yet"):
        store.load_generator(run)
    (run / "lease.json").unlink()
    Run(run).write_request(Request(token="t", owner="", action="new"))  # waiting for a trainer
    (summary,) = store.list_runs(root)
    assert summary.readable and summary.state == "queued"
    Run(run).withdraw_request()
    Run(run).write_status("user")
    (summary,) = store.list_runs(root)
    assert not summary.readable


def test_load_generator_refuses_what_is_not_a_run(tmp_path):
    with pytest.raises(BundleError, match="not a run folder"):
        store.load_generator(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(BundleError, match=r"config\.json is missing"):
        store.load_generator(tmp_path / "empty")


def test_rename(trained_run, tmp_path):
    root = tmp_path / "runs"
    run = make_runs(trained_run, root, {"before": 1.0})["before"]
    Run(run).rename("  My Nietzsche model  ")
    assert store.list_runs(root)[0].name == "My Nietzsche model"
    assert Run(run).meta()["created"] == 1.0  # the rest of meta is kept
    for bad in ("", "   ", "x" * 81):
        with pytest.raises(CharlstmError, match="1 to 80"):
            Run(run).rename(bad)
    assert store.list_runs(root)[0].name == "My Nietzsche model"


def test_delete_removes_a_run(trained_run, tmp_path):
    root = tmp_path / "runs"
    runs = make_runs(trained_run, root, {"keep": 1.0, "drop": 2.0})
    store.delete_run(runs["drop"], root)
    assert not runs["drop"].exists()
    assert [r.name for r in store.list_runs(root)] == ["keep"]


def test_delete_refuses_anything_outside_the_root(trained_run, tmp_path):
    root = tmp_path / "runs"
    runs = make_runs(trained_run, root, {"keep": 1.0})
    outside = tmp_path / "precious"
    outside.mkdir()
    (outside / "thesis.txt").write_text("years of work")
    nested = runs["keep"] / "sub"
    nested.mkdir()
    link = root / "link-to-precious"
    link.symlink_to(outside, target_is_directory=True)
    for target in (outside, root, tmp_path, root / ".." / "precious", link, nested, Path("/")):
        with pytest.raises(CharlstmError, match="Refusing to delete"):
            store.delete_run(target, root)
    assert (outside / "thesis.txt").read_text() == "years of work"
    assert nested.is_dir() and runs["keep"].is_dir()


def test_delete_refuses_a_run_that_is_training(trained_run, tmp_path):
    root = tmp_path / "runs"
    run = make_runs(trained_run, root, {"busy": 1.0})["busy"]
    Run(run).write_status("running")
    Run(run).renew_lease()  # its trainer is alive
    with pytest.raises(CharlstmError, match="is training now"):
        store.delete_run(run, root)
    assert run.is_dir()
    (run / "lease.json").unlink()
    Run(run).write_request(Request(token="t", owner="", action="continue"))  # waiting to train
    with pytest.raises(CharlstmError, match="is waiting to train; stop it first"):
        store.delete_run(run, root)
    assert run.is_dir()
    assert Run(run).withdraw_request()
    store.delete_run(run, root)  # a run whose trainer is gone (interrupted) may be deleted
    assert not run.exists()


@pytest.mark.parametrize("name", ["../../etc", "/abs", "..", ".", "", "a/../../b", "..\\..\\windows", "~/x", "名前"])
def test_slugify_cannot_escape(name, tmp_path):
    slug = store.slugify(name)
    assert slug and "/" not in slug and "\\" not in slug
    assert slug not in (".", "..") and not slug.startswith(".")
    root = tmp_path / "runs"
    run = store.new_run_dir(root, name)
    assert run.parent == root
    assert run.resolve().parent == root.resolve()
    assert store.inside(root, run)


def test_slugify_keeps_readable_names():
    assert store.slugify("Nietzsche (classic)") == "Nietzsche-classic"
    assert store.slugify("café crème") == "cafe-creme"
    assert len(store.slugify("x" * 500)) <= 48
    assert store.slugify("...", fallback="run") == "run"


def test_new_run_dirs_are_unique(tmp_path):
    dirs = {store.new_run_dir(tmp_path, "same") for _ in range(5)}
    assert len(dirs) == 5 and all(d.is_dir() for d in dirs)


def test_a_running_status_without_a_live_lease_reads_as_interrupted(tmp_path):
    run = Run(tmp_path)
    run.write_status("running", "Training.", epochs=3)
    assert run.status().state == "interrupted"  # no lease was ever taken
    run.renew_lease()
    status = run.status()
    assert status.state == "running" and status.active and status.epochs == 3
    assert status.message == "Training."
    # The trainer stopped renewing its lease (killed, machine gone): once it runs out, the run is interrupted.
    lease = read_json(run.file("lease.json"))
    assert lease["until"] > time.time() + LEASE_SECONDS / 2
    write_json(run.file("lease.json"), {**lease, "until": time.time() - 0.1})
    status = run.status()
    assert status.state == "interrupted" and not status.active
    assert status.epochs == 3 and "interrupted" in status.message
    assert json.loads(run.file("status.json").read_text())["state"] == "running"  # derived, never rewritten
    for garbage in ("{torn", '{"until": "soon"}', '{"until": NaN}', "[]"):
        run.file("lease.json").write_text(garbage)
        assert run.status().state == "interrupted", garbage
    # Finished states do not depend on the lease.
    run.write_status("completed", "Finished.", epochs=3)
    assert run.status().state == "completed"
    run.renew_lease()
    assert run.status().state == "completed"


def test_a_request_makes_a_run_queued_until_it_is_claimed_or_withdrawn(tmp_path):
    run = Run(tmp_path)
    run.write_status("user", "Stopped by you after 2 epochs.", epochs=2)
    run.write_request(Request(token="abc", owner="alice", action="continue", epochs=3))
    assert run.status().state == "queued" and run.status().active
    assert run.claim_request("wrong token") is None
    assert run.status().state == "queued"
    claimed = run.claim_request("abc")
    assert claimed is not None and claimed.epochs == 3 and claimed.owner == "alice"
    status = run.status()  # claimed: no longer waiting, starting (the trainer has not written a status yet)
    assert status.state == "running" and status.active and status.epochs == 2
    assert not run.withdraw_request()  # too late to leave the queue
    assert run.claim_request("abc") is None  # a retried task finds nothing to do
    run.write_status("user", "Stopped by you after 2 epochs.", epochs=2)  # what the trainer wrote at its end
    assert run.status().state == "user"
    run.write_request(Request(token="def", owner="alice", action="continue"))
    assert run.withdraw_request()
    assert run.claim_request("def") is None  # left the queue: no training starts
    status = run.status()
    assert status.state == "user" and status.epochs == 2


def test_status_without_a_file(tmp_path):
    run = Run(tmp_path)
    assert run.status().state == "unknown" and not run.status().active
    (tmp_path / "status.json").write_text("{torn")
    assert run.status().state == "unknown"
    (tmp_path / "status.json").write_text('["not", "an", "object"]')
    assert run.status().state == "unknown" and run.status().epochs == 0


def test_json_helpers_are_atomic_and_strict(tmp_path):
    path = tmp_path / "x.json"
    write_json(path, {"name": "café", "n": 1})
    assert read_json(path) == {"name": "café", "n": 1}
    assert os.listdir(tmp_path) == ["x.json"]  # no temporary file left behind
    path.write_text("{oops")
    with pytest.raises(BundleError, match="unreadable"):
        read_json(path)
    with pytest.raises(BundleError, match="missing"):
        read_json(tmp_path / "nope.json")


def test_checkpoints_round_trip(tmp_path):
    run = Run(tmp_path)
    assert run.best_tag() is None and not run.has_model
    weights = {"a/kernel": np.arange(6, dtype=np.float32).reshape(2, 3)}
    run.save_checkpoint("best", weights, {"v0000": np.array(5)}, epoch=4)
    assert (tmp_path / "best.json").is_file()  # the manifest
    loaded, opt = run.load_checkpoint("best")
    np.testing.assert_array_equal(loaded["a/kernel"], weights["a/kernel"])
    assert int(opt["v0000"]) == 5
    assert run.best_tag() == "best" and run.checkpoint_epoch("best") == 4
    run.save_checkpoint("last", weights, None, epoch=5)
    assert run.load_checkpoint("last")[1] is None
    assert run.resume_tag() == "last"
    (tmp_path / "best.weights.npz").unlink()
    assert not run.has_checkpoint("best")
    assert run.best_tag() == "last"
    with pytest.raises(BundleError, match="no complete 'best' checkpoint"):
        run.load_checkpoint("best")


def test_a_checkpoint_without_its_whole_set_does_not_count(tmp_path):
    run = Run(tmp_path)
    weights = {"a/kernel": np.zeros((2, 3), np.float32)}
    run.save_checkpoint("last", weights, {"v0000": np.array(1)}, epoch=1)
    assert run.has_checkpoint("last")
    # A crash between the weights and the manifest of a newer save: sizes no longer match the manifest.
    (tmp_path / "last.optimizer.npz").write_bytes(b"torn")
    assert not run.has_checkpoint("last") and run.best_tag() is None
    # Weights alone, without a manifest (an older run or a bundle), still count.
    (tmp_path / "last.json").unlink()
    (tmp_path / "last.optimizer.npz").unlink()
    assert run.has_checkpoint("last") and run.load_checkpoint("last")[1] is None
