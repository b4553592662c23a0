"""The owner-scoped gateway (charlstm.library) tried by a stranger, the limits where work starts, and signed keys.

Real run folders, real bundles, a real (never connected) job queue: every refusal below happens before
anything would be queued, which is the point of checking limits first.
"""

from __future__ import annotations

import io
import json
import os
import stat
import zipfile

import numpy as np
import pytest
from run_factory import random_run

from charlstm import limits, starters
from charlstm.config import TrainConfig
from charlstm.errors import CharlstmError, ConfigError
from charlstm.estimate import MEMORY_LIMIT_ENV
from charlstm.identity import OPERATOR, SECRET_FILE, KeyRing, check_owner
from charlstm.jobs import JobQueue
from charlstm.library import Library, NotYours
from charlstm.run import EpochRecord, EpochSamples, Run
from charlstm.text import Corpus

ALICE, BOB = "browser-" + "a" * 32, "browser-" + "b" * 32
SMALL = TrainConfig(units=12, embedding_dim=6, seq_len=24, stride=24, batch_size=16, epochs=2, seconds=None)


@pytest.fixture
def root(home):
    return home / "runs"


def libraries(root) -> tuple[Library, Library]:
    queue = JobQueue(root=root)  # never connected: nothing here reaches the cluster
    return Library(ALICE, queue, root), Library(BOB, queue, root)


def alices_run(root, english_text, name="diary") -> Run:
    run = Run(random_run(root, english_text[:5000], SMALL, name=name, owner=ALICE))
    run.append_epoch(EpochRecord(1, 2.0, 2.1, 3.0, 0.01, 5, 1.0, 1000.0, False))
    run.append_samples(EpochSamples(1, "my secret diary", ((0.5, "dear diary, today"),)))
    run.write_status("completed", "done")
    return run


def test_a_library_without_an_owner_cannot_be_made(root):
    for nobody in ("", None, "../x", "a b"):
        with pytest.raises(ValueError):
            Library(nobody, root=root)  # type: ignore[arg-type]
    assert check_owner(OPERATOR) == OPERATOR


def test_a_stranger_sees_and_changes_nothing_of_anothers(root, english_text):
    alice, bob = libraries(root)
    run = alices_run(root, english_text)
    before = {p.name: p.read_bytes() for p in run.files()}
    assert [r.id for r in alice.runs()] == [run.id] and bob.runs() == []
    assert bob.find(run.id) is None and bob.find("../" + run.id) is None and bob.find(str(run.path)) is None
    attempts = [
        lambda: bob.open(run.id),
        lambda: bob.rename(run.id, "mine now"),
        lambda: bob.delete(run.id),
        lambda: bob.export(run.id),
        lambda: bob.stop(run.id),
        lambda: bob.place(run.id),
        lambda: bob.continue_training(run.id, 1, 60.0, Corpus(english_text, "x", "paste")),
    ]
    for attempt in attempts:
        with pytest.raises(NotYours, match="not among your models"):
            attempt()
    assert {p.name: p.read_bytes() for p in run.files()} == before  # nothing of Alice's changed
    assert bob.usage() == 0 < alice.usage()


def test_what_the_library_makes_is_the_owners(root, english_text):
    alice, bob = libraries(root)
    made = alice.create(Corpus(english_text[:20_000], "my diary", "paste"), SMALL, name="Diary")
    assert made.owner == ALICE and made.name == "Diary" and made.has_text
    assert bob.find(made.id) is None
    copy = alice.copy_starter("starter:python-docs")
    assert copy.owner == ALICE and "(copy)" in copy.name
    assert bob.runs() == [] and {r.id for r in alice.runs()} == {made.id, copy.id}
    second = alice.copy_starter("starter:python-docs")
    assert second.name == copy.name + " (2)"  # two copies can be told apart
    again = alice.create(Corpus(english_text[:20_000], "my diary", "paste"), SMALL, name="Diary")
    assert again.name == "Diary (2)"  # so can two trainings given one name
    assert bob.create(Corpus(english_text[:20_000], "his", "paste"), SMALL, name="Diary").name == "Diary"  # his own


def test_an_export_carries_no_owner_no_text_and_no_samples(root, english_text):
    alice, bob = libraries(root)
    run = alices_run(root, english_text)
    data = alice.export(run.id)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        names = set(zf.namelist())
        meta = json.loads(zf.read("meta.json"))
        everything = b"".join(zf.read(n) for n in names)
    assert names == {"manifest.json", "config.json", "vocab.json", "weights.npz", "meta.json", "history.jsonl"}
    assert meta == {"name": "diary"}
    for personal in (ALICE, "secret diary", "dear diary", str(root), english_text[:40]):
        assert personal.encode() not in everything
    imported = bob.upload(data)  # the receiver gets a model of their own, and nothing of Alice's
    assert imported.owner == BOB and not imported.has_text and imported.samples() == []
    assert [h.epoch for h in imported.history()] == [1]
    theirs, mine = imported.load_checkpoint("best")[0], run.load_checkpoint("best")[0]
    assert theirs.keys() == mine.keys() and all(np.array_equal(theirs[k], mine[k]) for k in mine)


def test_an_export_with_its_time_lapse_adds_only_the_snapshots(root, english_text):
    """Asked for, the training's snapshots travel (numbers only); still no owner, text or samples."""
    alice, bob = libraries(root)
    run = alices_run(root, english_text)
    best, _ = run.load_checkpoint("best")
    for at_epoch in (0.1, 1.0):
        run.save_snapshot(at_epoch, 2.5 - at_epoch, {k: v * at_epoch for k, v in best.items()})
    plain, carried = alice.export(run.id), alice.export(run.id, timelapse=True)
    with zipfile.ZipFile(io.BytesIO(plain)) as a, zipfile.ZipFile(io.BytesIO(carried)) as b:
        assert set(b.namelist()) - set(a.namelist()) == {"snapshots.jsonl", "snapshots.npz"}
        everything = b"".join(b.read(n) for n in b.namelist())
    for personal in (ALICE, "secret diary", "dear diary", str(root), english_text[:40]):
        assert personal.encode() not in everything
    assert [s.at_epoch for s in bob.upload(carried).snapshots()] == [0.1, 1.0]


def test_the_quota_refuses_new_runs_uploads_and_copies_plainly(root, english_text, monkeypatch):
    alice, _ = libraries(root)
    run = alices_run(root, english_text)
    bundle = alice.export(run.id)
    monkeypatch.setenv(limits.ENV_QUOTA_MB, str(limits.usage_bytes([run]) / 1e6 + 0.01))
    attempts = [
        lambda: alice.create(Corpus(english_text[:20_000], "t", "paste"), SMALL),
        lambda: alice.upload(bundle),
        lambda: alice.copy_starter("starter:python-docs"),
    ]
    for attempt in attempts:
        with pytest.raises(limits.QuotaError, match=r"your models already use .* Delete a model"):
            attempt()
    assert [r.id for r in alice.runs()] == [run.id]  # nothing was written
    assert not [p for p in root.iterdir() if p.name.startswith(".")]


def test_a_nearly_full_disk_refuses_everyone(root, english_text, monkeypatch):
    alice, _ = libraries(root)
    monkeypatch.setenv(limits.ENV_MIN_FREE_MB, str(10**12))  # more than any disk has free
    with pytest.raises(limits.QuotaError, match=r"has only .* free"):
        alice.create(Corpus(english_text[:20_000], "t", "paste"), SMALL)


def test_continue_checks_memory_like_a_new_run(root, english_text, monkeypatch):
    alice, _ = libraries(root)
    big = SMALL.replace(batch_size=4096, seq_len=1000)
    run = Run(random_run(root, english_text[:5000], big, name="big", owner=ALICE))
    run.write_status("completed", "imported")
    monkeypatch.setenv(MEMORY_LIMIT_ENV, "50")
    with pytest.raises(ConfigError, match="memory"):
        alice.continue_training(run.id, 1, 60.0)
    assert run.request() is None  # refused before the queue
    with pytest.raises(ConfigError, match="memory"):
        alice.create(Corpus(english_text[:20_000], "t", "paste"), big)


def test_generation_on_the_server_is_bounded_by_the_models_size():
    small, big = SMALL, SMALL.replace(units=2048, layers=2)
    assert limits.generation_budget(small, 60) > 2000  # a small model writes the longest text the page offers
    assert 20 <= limits.generation_budget(big, 60) < 500


def test_signed_keys_cannot_be_chosen_or_brought_from_another_studio(tmp_path):
    ring = KeyRing(tmp_path)
    key = ring.new_key()
    assert ring.valid(key) and KeyRing(tmp_path).valid(key)  # the secret survives a restart
    assert stat.S_IMODE(os.stat(tmp_path / SECRET_FILE).st_mode) == 0o600
    forged = key.split(".")[0] + "." + "0" * 32
    for bad in ("aaaaaaaaaaaaaaaa", forged, key + "x", "", None, 42, KeyRing(tmp_path / "other").new_key()):
        assert not ring.valid(bad)
    owner = ring.owner_of(key)
    assert check_owner(owner) == owner and key not in owner and owner.startswith("browser-")


def test_runs_of_the_command_line_are_the_operators_and_shared_only_on_purpose(root, english_text, home):
    alice, _ = libraries(root)
    operators = Run(random_run(root, english_text[:5000], SMALL, name="weekly notes"))
    operators.write_status("completed", "done")
    assert operators.owner == OPERATOR and alice.runs() == []
    bundle = starters.share(operators.path, "Everyone's model")
    shelf = {s.ref: s for s in starters.list_starters()}
    assert f"starter:{bundle.stem}" in shelf and shelf[f"starter:{bundle.stem}"].title == "Everyone's model (shared)"
    with zipfile.ZipFile(bundle) as zf:
        assert "corpus.txt" not in zf.namelist() and json.loads(zf.read("meta.json")) == {"name": "weekly notes"}
    copy = alice.copy_starter(f"starter:{bundle.stem}")
    assert copy.owner == ALICE and not copy.has_text


def test_record_owner_cannot_be_empty(root, english_text):
    with pytest.raises(ValueError):
        random_run(root, english_text[:5000], SMALL, owner="")
    with pytest.raises(CharlstmError):
        Library(ALICE, root=root).open("nothing-here")


def test_a_new_text_starts_the_best_model_afresh(root, english_text):
    from charlstm.run import summarize
    from charlstm.store import save_text_for
    from charlstm.training import TrainingJob

    alice, _ = libraries(root)
    copy = alice.copy_starter("starter:python-docs")
    assert not copy.has_text and copy.text_since_epoch() == 0
    last = copy.history()[-1].epoch
    save_text_for(copy, Corpus(english_text[-20_000:], "mine", "paste"))
    assert copy.text_since_epoch() == last  # every epoch so far was scored on another text
    assert summarize(copy).val_bpc is None  # its old score on Python's docs is not shown as its score now
    job = TrainingJob.for_run(copy, epochs=1)
    assert job._best == float("inf")  # so the first epoch on the new text becomes the best model
    save_text_for(copy, Corpus(english_text[-20_000:], "mine", "paste"))
    assert copy.text_since_epoch() == last  # the same text again is no new chapter
    fresh = alice.create(Corpus(english_text[:20_000], "t", "paste"), SMALL)
    assert fresh.text_since_epoch() == 0


def test_an_import_keeps_the_epoch_its_weights_come_from_and_a_new_text_its_name(root, english_text):
    from charlstm.store import save_text_for

    alice, bob = libraries(root)
    run = alices_run(root, english_text)  # its best weights are epoch 1's
    run.append_epoch(EpochRecord(2, 1.9, 2.5, 3.6, 0.01, 5, 1.0, 1000.0, True))  # a later, worse, partial epoch
    copy = bob.upload(alice.export(run.id))
    assert copy.checkpoint_epoch("best") == 1 and [h.epoch for h in copy.history()] == [1, 2]
    save_text_for(copy, Corpus(english_text[:20_000], "bob's letters", "paste"))
    assert copy.meta()["corpus"] == "bob's letters"
