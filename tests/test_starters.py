"""Ready-made models: listing, starter:<name> in the CLI, read-only unpacking, copying into the library."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from charlstm import starters
from charlstm.bundle import export_bundle, read_bundle
from charlstm.cli import main
from charlstm.errors import BundleError
from charlstm.library import Library
from charlstm.run import Run
from charlstm.store import list_runs, load_generator, runs_root

MAX_TOTAL_BYTES = 25_000_000  # two models with their time-lapses (20 float16 snapshots each, about 8 MB a model)


@pytest.fixture
def shelf(tmp_path, monkeypatch, trained_run):
    """A starters folder holding the tiny trained run as the 'nietzsche' starter (python-docs absent)."""
    root = tmp_path / "starters"
    root.mkdir()
    export_bundle(trained_run, starters.bundle_path("nietzsche", root))
    starters.card_path("nietzsche", root).write_text(json.dumps({"held_out_bpc": 3.5, "text": "nietzsche"}))
    monkeypatch.setenv("CHARLSTM_STARTERS", str(root))
    monkeypatch.setenv("CHARLSTM_HOME", str(tmp_path / "home"))
    return root


def test_only_present_starters_are_listed(shelf):
    found = starters.list_starters()
    assert [s.ref for s in found] == ["starter:nietzsche"]
    assert found[0].card["held_out_bpc"] == 3.5 and found[0].title == starters.SPECS[0].title


def test_an_unknown_starter_is_a_plain_error(shelf):
    with pytest.raises(BundleError, match=r"no ready-made model called 'python-docs'.*starter:nietzsche"):
        starters.starter_dir("starter:python-docs")


def test_a_starter_is_read_only_and_outside_the_library(shelf, trained_run):
    folder = starters.starter_dir("starter:nietzsche")
    assert runs_root() not in folder.parents and list_runs() == []
    original, _ = Run(trained_run).load_checkpoint("best")
    unpacked, _ = Run(folder).load_checkpoint("best")
    assert all(np.array_equal(original[k], unpacked[k]) for k in original)
    assert starters.starter_dir("nietzsche") == folder  # unpacked once per process


def test_a_starter_shows_how_it_learned_and_a_copy_keeps_it(shelf, trained_run):
    """A ready-made model made with its time-lapse (`make starter-models`) shows it on the first visit."""
    export_bundle(trained_run, starters.bundle_path("nietzsche", shelf), timelapse=True)
    shots = len(Run(trained_run).snapshots())
    assert shots >= 2 and len(starters.starter_run("nietzsche").snapshots()) == shots
    copy = Library("browser-" + "e" * 32).copy_starter("starter:nietzsche")
    assert len(copy.snapshots()) == shots


def test_copy_to_continue_training_gives_distinct_library_models(shelf):
    library = Library("browser-" + "c" * 32)
    first, second = library.copy_starter("starter:nietzsche"), library.copy_starter("starter:nietzsche")
    runs = list_runs()
    assert {r.path for r in runs} == {first.path, second.path} and first != second
    assert all(r.readable and r.owner == library.owner for r in runs)
    assert [first.name, second.name] == ["Nietzsche (copy)", "Nietzsche (copy) (2)"]


def test_the_cli_names_starters(shelf, trained_run, capsys):
    assert main(["generate", "starter:nietzsche", "-n", "40", "--seed", "3", "-t", "0.7", "--json"]) == 0
    via_starter = json.loads(capsys.readouterr().out)
    expected = load_generator(trained_run).generate("", [0.7], 40, seed=3)[0].text
    assert via_starter == [{"temperature": 0.7, "top_k": None, "top_p": None, "no_repeat": None, "text": expected}]
    assert main(["info", "starter:nietzsche", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["epochs"] == 2 and info["name"] == "tiny"  # the model keeps its own name
    assert main(["generate", "starter:nope"]) == 2
    assert "no ready-made model called 'nope'" in capsys.readouterr().err


def test_the_shipped_starters_are_small_complete_and_honest():
    """The committed bundles: within 25 MB together, each valid, each card matching its bundle's history."""
    shipped = starters.list_starters(starters.STARTERS_DIR)
    assert {s.name for s in shipped} == {s.name for s in starters.SPECS}, "run: make starter-models"
    assert sum(s.bundle.stat().st_size for s in shipped) <= MAX_TOTAL_BYTES
    for s in shipped:
        config, _vocab, _weights, entries = read_bundle(s.bundle.read_bytes())
        history = [json.loads(line) for line in entries["history.jsonl"].decode().splitlines()]
        assert s.card["held_out_bpc"] == pytest.approx(min(h["val_bpc"] for h in history), abs=1e-3)
        assert s.card["settings"]["seed"] == config.seed and s.card["preset"] == config.preset
        assert {"text", "training_seconds", "date", "command"} <= set(s.card) and s.card_text.startswith("# ")
        names = zipfile.ZipFile(s.bundle).namelist()
        assert "corpus.txt" not in names  # weights only, never the text
        assert {"snapshots.jsonl", "snapshots.npz"} <= set(names), "how it learned ships too: make starter-models"
