"""Models page: the table, rename, delete with confirmation, bundles in and out, continue training."""

from __future__ import annotations

import io
import json
import zipfile

from studio_helpers import FINAL, has, make_run, new_app, poll, texts

from charlstm import limits, store
from charlstm.bundle import export_bundle
from charlstm.run import Run, summarize

MODELS = "app_pages/models.py"


def table(at):
    return at.dataframe[0].value


def test_empty_state():
    at = new_app(MODELS)
    assert any("No models yet" in t for t in texts(at, "info"))
    assert has(at, "file_uploader", "models_upload")


def test_table_lists_models_and_unreadable_ones_with_their_problem(runs_root):
    make_run(runs_root, name="alpha")
    broken = make_run(runs_root, name="broken-run")
    (broken / "config.json").write_text("{not json")
    nobodys = runs_root / "nobodys-run"  # whose it is cannot be read: it is nobody's, so nobody sees it
    nobodys.mkdir()
    (nobodys / "meta.json").write_text("{not json")
    at = new_app(MODELS)
    df = table(at)
    assert set(df["name"]) == {"alpha", broken.name}  # an unreadable run is listed by its folder
    row = df[df["name"] == "alpha"].iloc[0]
    assert row["text"] == "test text" and row["epochs"] == 1 and row["state"] == "finished"
    assert abs(row["score (bits per character, lower is better)"] - 2.2 / 0.6931471805599453) < 1e-6
    assert "unreadable" in df[df["name"] == broken.name].iloc[0]["problem"]


def test_rename(runs_root):
    run = make_run(runs_root, name="alpha")
    at = new_app(MODELS)
    at.text_input(key="models_new_name").input("Fox writer")
    at.button(key="models_rename").click().run()
    assert not at.exception
    assert summarize(Run(run)).name == "Fox writer"
    assert "Fox writer" in set(table(at)["name"])
    at.text_input(key="models_new_name").input("   ")
    at.button(key="models_rename").click().run()
    assert any("1 to 80 characters" in e for e in texts(at, "error"))


def test_delete_asks_first(runs_root):
    keep = make_run(runs_root, name="keep")
    gone = make_run(runs_root, name="gone")
    at = new_app(MODELS)
    at.selectbox(key="models_pick").set_value(gone.name).run()
    at.button(key="models_delete").click().run()
    assert gone.exists()  # nothing happens before the confirmation
    assert any("cannot be undone" in w for w in texts(at, "warning"))
    at.button(key="models_delete_cancel").click().run()
    assert gone.exists() and not has(at, "button", "models_delete_confirm")
    at.button(key="models_delete").click().run()
    at.button(key="models_delete_confirm").click().run()
    assert not at.exception
    assert not gone.exists() and keep.exists()
    assert list(table(at)["name"]) == ["keep"]


def state_usage(root) -> int:
    """What this browser's models take on disk, as the Models page counts it."""
    from studio_helpers import ME

    from charlstm.library import Library

    return Library(ME, root=root).usage()


def test_download_and_upload_a_bundle(runs_root, tmp_path):
    run = make_run(runs_root, name="traveller", units=300)  # 1.5 MB of weights: an import shows in the usage line
    at = new_app(MODELS)
    assert at.get("download_button")  # the bundle is made when clicked (a callable)
    data = export_bundle(run, tmp_path / "traveller.zip").read_bytes()
    at.file_uploader(key="models_upload").set_value(("traveller.zip", data, "application/zip")).run()
    assert not at.exception
    assert any("Added traveller (2)" in s for s in texts(at, "success"))  # a copy gets a distinct name
    assert sorted(table(at)["name"]) == ["traveller", "traveller (2)"]
    (usage,) = [c for c in texts(at, "caption") if "each person may keep" in c]
    assert f"They take {limits.megabytes(state_usage(runs_root))} of" in usage  # the import counted at once
    at.run()  # the same upload is not imported twice on the next rerun
    assert sorted(table(at)["name"]) == ["traveller", "traveller (2)"]
    at.button(key="models_delete").click().run()  # the added copy is the one shown
    at.button(key="models_delete_confirm").click().run()
    assert list(table(at)["name"]) == ["traveller"]
    assert [u.value for u in at.get("file_uploader")] == [None]  # its file no longer sits in the uploader


def test_the_download_offers_how_it_learned_only_when_there_is_one(runs_root):
    plain = make_run(runs_root, name="plain")
    at = new_app(MODELS)
    assert not has(at, "checkbox", "models_with_timelapse")
    run = Run(plain)
    best, _ = run.load_checkpoint("best")
    for at_epoch in (0.1, 1.0):
        run.save_snapshot(at_epoch, 2.0, best)
    at.run()
    assert not at.exception and at.checkbox(key="models_with_timelapse").value is False


def test_a_hostile_or_broken_bundle_is_refused_with_a_reason(runs_root):
    at = new_app(MODELS)
    at.file_uploader(key="models_upload").set_value(("pic.zip", b"\x89PNG not a zip", "application/zip")).run()
    assert any("pic.zip" in e and "not a zip" in e for e in texts(at, "error"))
    evil = io.BytesIO()
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("../../escape.txt", "x")
        zf.writestr("manifest.json", json.dumps({"format": "charlstm-bundle", "version": 1}))
    at.file_uploader(key="models_upload").set_value(("evil.zip", evil.getvalue(), "application/zip")).run()
    assert any("evil.zip" in e and "unexpected entry" in e for e in texts(at, "error"))
    assert not runs_root.exists() or not any(runs_root.iterdir())


def test_continue_training(runs_root):
    run = make_run(runs_root, name="again", text="the quick brown fox jumps over the lazy dog. " * 400)
    at = new_app(MODELS)
    at.number_input(key="models_more_epochs").set_value(1)
    at.button(key="models_continue").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state["run_id"] == run.name
    assert "again" in texts(at, "subheader")  # now on the Train page, watching it
    if Run(run).status().active:
        assert has(at, "button", "train_stop")
    at.switch_page("app_pages/train.py")  # AppTest's own idea of the page does not follow st.switch_page
    # Until the worker has trained, the run still reads as it was (completed, 1 epoch): wait for epoch 2.
    poll(at, lambda a: len(Run(run).history()) == 2 and Run(run).status().state in FINAL)
    at.run()
    assert not at.error, texts(at, "error")
    assert at.success, texts(at, "warning")
    assert "Finished 1 epoch." in at.success[0].value  # this training's message, not the old one
    assert summarize(Run(run)).epochs == 2
    assert Run(run).status().epochs == 2


# --- issue 10: the demo, polished ---------------------------------------------------------------------------------
def test_the_dropdown_follows_a_rename_with_a_confirmation(runs_root):
    older = make_run(runs_root, name="alpha")
    make_run(runs_root, name="beta")
    at = new_app(MODELS)
    at.selectbox(key="models_pick").set_value(older.name).run()
    at.text_input(key="models_new_name").input("Fox writer")
    at.button(key="models_rename").click().run()
    assert not at.exception
    pick = at.selectbox(key="models_pick")
    assert pick.value == older.name and pick.format_func(pick.value).startswith("Fox writer")
    assert any("Renamed to Fox writer" in s for s in texts(at, "success"))
    assert at.text_input(key="models_new_name").value == ""
    at.run()
    assert not any("Renamed" in s for s in texts(at, "success"))  # said once, not forever


def test_no_stale_added_message_after_a_delete(runs_root, tmp_path):
    run = make_run(runs_root, name="visitor")
    data = export_bundle(run, tmp_path / "visitor.zip").read_bytes()
    store.delete_run(run, runs_root)
    at = new_app(MODELS)
    at.file_uploader(key="models_upload").set_value(("visitor.zip", data, "application/zip")).run()
    assert any("Added visitor" in s for s in texts(at, "success"))
    at.button(key="models_delete").click().run()
    at.button(key="models_delete_confirm").click().run()
    assert not at.exception and not any("Added" in s for s in texts(at, "success"))


def test_no_server_path_on_screen(runs_root):
    make_run(runs_root, name="alpha")
    at = new_app(MODELS)
    shown = " ".join(texts(at, "caption") + texts(at, "markdown") + texts(at, "info"))
    assert str(runs_root) not in shown and str(runs_root.parent) not in shown


def test_ready_made_models_can_be_used_and_copied(runs_root):
    from charlstm.starters import list_starters

    shipped = list_starters()
    assert shipped, "assets/models has no starter models: run make starter-models"
    at = new_app(MODELS)
    first = shipped[0]
    assert any(first.title in m for m in texts(at, "markdown"))
    at.button(key=f"models_starter_copy_{first.name}").click().run()
    assert not at.exception
    copies = store.list_runs(runs_root)
    assert len(copies) == 1 and copies[0].readable and at.selectbox(key="models_pick").value == copies[0].path.name
    at.button(key=f"models_starter_use_{first.name}").click().run()
    assert at.selectbox(key="gen_model").value == first.ref


def test_continue_says_whether_epochs_or_minutes_end_first(runs_root):
    from charlstm.run import EpochRecord

    run = make_run(runs_root, name="slow")
    Run(run).append_epoch(EpochRecord(1, 2.0, 2.1, 3.0, 0.004, 10, 5.0, 10.0, False))  # 10 characters/s: slow
    at = new_app(MODELS)
    assert any("time limit ends it first" in c for c in texts(at, "caption"))
    at.number_input(key="models_more_epochs").set_value(1).run()
    at.number_input(key="models_more_minutes").set_value(240.0).run()
    assert any("The epoch ends first" in c for c in texts(at, "caption"))  # one epoch: said as one


def test_after_a_rename_the_picker_stays_on_that_model_and_delete_names_it(runs_root):
    """A rename changes the picker's labels; it must not fall back to another model (a delete then hit it)."""
    make_run(runs_root, name="first")
    second = make_run(runs_root, name="second")
    at = new_app(MODELS)
    at.selectbox(key="models_pick").set_value(second.name).run()
    at.text_input(key="models_new_name").input("Renamed")
    at.button(key="models_rename").click().run()
    at.run()  # the next click anywhere
    assert at.selectbox(key="models_pick").value == second.name
    at.button(key="models_delete").click().run()
    assert any("Delete **Renamed** for good?" in w for w in texts(at, "warning"))
    at.button(key="models_delete_confirm").click().run()
    assert not second.exists() and list(table(at)["name"]) == ["first"]
    assert any("Deleted Renamed." in s for s in texts(at, "success"))


def test_a_ready_made_model_is_described_in_plain_words_first():
    at = new_app(MODELS)
    words = [c for c in texts(at, "caption") if c.startswith("Learned from")]
    assert words and all("python-docs" not in w and "LSTM(" not in w for w in words)
    assert any("Python's documentation" in w for w in words)
