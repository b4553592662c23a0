"""Runs on disk: listing, damaged runs, rename, delete, safe names, status of dead processes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from charlstm import store
from charlstm.errors import BundleError, CharlstmError


def make_runs(trained_run: Path, root: Path, created: dict[str, float]) -> dict[str, Path]:
    """Copies of a real trained run under root, with chosen names and creation times."""
    out = {}
    for name, when in created.items():
        dest = root / f"run-{name}"
        shutil.copytree(trained_run, dest)
        meta = store.read_json(dest / "meta.json")
        store.write_json(dest / "meta.json", {**meta, "name": name, "created": when})
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
    history = store.read_jsonl(trained_run / "history.jsonl")
    assert first.val_loss == pytest.approx(min(h["val_loss"] for h in history))
    assert first.val_bpc == pytest.approx(first.val_loss / np.log(2))
    weights, _ = store.load_checkpoint(trained_run, "best")
    assert first.parameters == sum(a.size for a in weights.values())


@pytest.mark.parametrize(
    "damage",
    ["garbage-weights", "truncated-weights", "wrong-shape-weights", "bad-config-json", "bad-config-values", "no-vocab"],
)
def test_a_damaged_run_is_listed_as_unreadable_and_the_others_still_work(trained_run, tmp_path, damage):
    root = tmp_path / "runs"
    runs = make_runs(trained_run, root, {"good": 1000.0, "broken": 2000.0})
    broken = runs["broken"]
    if damage == "garbage-weights":
        (broken / "best.weights.npz").write_bytes(b"this is not a zip file at all")
    elif damage == "truncated-weights":
        data = (broken / "best.weights.npz").read_bytes()
        (broken / "best.weights.npz").write_bytes(data[: len(data) // 2])
    elif damage == "wrong-shape-weights":
        weights, _ = store.load_checkpoint(broken, "best")
        weights["logits/bias"] = np.zeros(3, np.float32)
        store.save_checkpoint(broken, "best", weights)
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
    assert bad.error and "unreadable" in bad.error
    assert listed["run-good"].readable
    with pytest.raises(BundleError):
        store.load_generator(broken)
    gen = store.load_generator(runs["good"])
    assert len(gen.generate("The ", length=20, seed=0)[0].text) == 20


def test_a_run_still_training_without_weights_is_listed(tmp_path, trained_run):
    root = tmp_path / "runs"
    run = make_runs(trained_run, root, {"fresh": 1.0})["fresh"]
    for tag in ("best", "last"):
        (run / f"{tag}.weights.npz").unlink()
    store.write_status(run, "running")
    (summary,) = store.list_runs(root)
    assert summary.readable and summary.state == "running"
    with pytest.raises(BundleError, match="no saved model yet"):
        store.load_generator(run)
    store.write_status(run, "user")
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
    store.rename_run(run, "  My Nietzsche model  ")
    assert store.list_runs(root)[0].name == "My Nietzsche model"
    assert store.read_json(run / "meta.json")["created"] == 1.0  # the rest of meta is kept
    for bad in ("", "   ", "x" * 81):
        with pytest.raises(CharlstmError, match="1 to 80"):
            store.rename_run(run, bad)
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
    store.write_status(run, "running")  # this process: alive
    with pytest.raises(CharlstmError, match="still training"):
        store.delete_run(run, root)
    assert run.is_dir()


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


def test_read_status_marks_dead_processes_interrupted(tmp_path):
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(child.stdout)
    store.write_status(tmp_path, "running", epochs=3)
    status = json.loads((tmp_path / "status.json").read_text())
    assert store.read_status(tmp_path)["state"] == "running"  # this process is alive
    store.write_json(tmp_path / "status.json", {**status, "pid": dead_pid})
    status = store.read_status(tmp_path)
    assert status["state"] == "interrupted"
    assert status["epochs"] == 3
    # A run on another machine cannot be checked, so it is left as it is.
    store.write_json(tmp_path / "status.json", {**status, "state": "running", "host": "elsewhere"})
    assert store.read_status(tmp_path)["state"] == "running"
    # Finished states are never rewritten.
    store.write_json(tmp_path / "status.json", {**status, "state": "completed", "pid": dead_pid})
    assert store.read_status(tmp_path)["state"] == "completed"


def test_read_status_without_a_file(tmp_path):
    assert store.read_status(tmp_path) == {"state": "unknown"}
    (tmp_path / "status.json").write_text("{torn")
    assert store.read_status(tmp_path) == {"state": "unknown"}


def test_json_helpers_are_atomic_and_strict(tmp_path):
    path = tmp_path / "x.json"
    store.write_json(path, {"name": "café", "n": 1})
    assert store.read_json(path) == {"name": "café", "n": 1}
    assert os.listdir(tmp_path) == ["x.json"]  # no temporary file left behind
    path.write_text("{oops")
    with pytest.raises(BundleError, match="unreadable"):
        store.read_json(path)
    with pytest.raises(BundleError, match="missing"):
        store.read_json(tmp_path / "nope.json")


def test_checkpoints_round_trip(tmp_path):
    weights = {"a/kernel": np.arange(6, dtype=np.float32).reshape(2, 3)}
    store.save_checkpoint(tmp_path, "best", weights, {"v0000": np.array(5)})
    loaded, opt = store.load_checkpoint(tmp_path, "best")
    np.testing.assert_array_equal(loaded["a/kernel"], weights["a/kernel"])
    assert int(opt["v0000"]) == 5
    assert store.best_tag(tmp_path) == "best"
    store.save_checkpoint(tmp_path, "last", weights)
    assert store.load_checkpoint(tmp_path, "last")[1] is None
    (tmp_path / "best.weights.npz").unlink()
    assert store.best_tag(tmp_path) == "last"
