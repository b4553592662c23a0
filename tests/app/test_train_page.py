"""Train page: start -> watch -> reattach after a reload -> stop; the queue; settings and their errors."""

from __future__ import annotations

import pytest
from studio_helpers import (
    CORPUS,
    ME,
    TEXT,
    TINY_SETTINGS,
    has,
    make_run,
    new_app,
    poll,
    poll_until_final,
    stranger,
    texts,
)

from charlstm import store
from charlstm.config import PRESETS
from charlstm.run import Run, summarize
from charlstm_studio.ui import state

TRAIN = "app_pages/train.py"


def paste_and_open_train(text: str = TEXT * 120):
    """A new session that pastes a short text, then opens the Train page with tiny settings."""
    at = new_app(CORPUS)
    at.text_area(key="corpus_paste").input(text)
    at.button(key="corpus_paste_use").click().run()
    at.switch_page(TRAIN).run()
    for key, value in TINY_SETTINGS.items():
        at.number_input(key=key).set_value(value)
    at.run()
    assert not at.exception and not at.error, texts(at, "error")
    return at


def progress_text(at) -> str:
    return " ".join(str(p.proto.text) for p in at.get("progress"))


def test_empty_state_explains_what_to_do():
    at = new_app(TRAIN)
    assert at.button(key="train_start") and not at.button(key="train_start").disabled
    assert any("Start training" in t for t in texts(at, "info"))
    assert "Fast start" in " ".join(texts(at, "caption"))  # the preset's one-line explanation


def test_start_watch_reattach_stop(runs_root):
    at = paste_and_open_train()
    at.text_input(key="train_name").input("My first model")
    at.button(key="train_start").click().run()
    assert not at.exception and not at.error, texts(at, "error")
    run_id = at.session_state["run_id"]
    assert at.query_params["run"] == [run_id] or at.query_params["run"] == run_id
    assert at.session_state["model_run"] == run_id  # Start picks it: once it has a model, every page plays it
    assert at.button(key="train_stop")
    assert not has(at, "number_input", "train_units")  # no new settings while it trains...
    assert "24 units" in " ".join(texts(at, "caption"))  # ...but the job's own are shown
    assert Run(runs_root / run_id).owner == at.session_state["_owner"]

    # Training shows a progress line, the per-batch chart, then the first epoch's chart and samples.
    poll(at, lambda a: any(t.startswith("What the model writes after epoch") for t in texts(a, "subheader")))
    assert "Epoch" in progress_text(at) and "characters/s" in progress_text(at)
    assert len(at.get("vega_lite_chart")) >= 2
    assert any("Temperature" in m for m in texts(at, "markdown"))
    assert "My first model" in " ".join(texts(at, "caption"))  # the sidebar shows the running job

    # A browser reload is a new session with the same URL: it finds the job again.
    again = new_app(TRAIN, query={"run": run_id}, browser=at.session_state["_owner"])
    assert again.button(key="train_stop")
    assert "My first model" in texts(again, "subheader")

    # Another session (another token) does not see it, even with the run id.
    other = new_app(TRAIN, query={"run": run_id}, browser=stranger())
    assert not has(other, "button", "train_stop")
    assert "My first model" not in texts(other, "subheader")

    again.button(key="train_stop").click().run()
    assert poll_until_final(at, runs_root / run_id) == "user"
    assert at.success, texts(at, "warning") + texts(at, "error")
    assert "Stopped by you" in at.success[0].value
    assert at.button(key="train_play") and at.button(key="train_start")
    assert summarize(Run(runs_root / run_id)).state == "user"
    at.button(key="train_play").click().run()
    assert not at.exception
    assert at.selectbox(key="gen_model").value == run_id  # the playground opens on the new model


def test_a_second_session_waits_in_the_queue_with_its_settings_kept(runs_root):
    assert state.jobs().workers == 1  # one trainer (tests/app/conftest.py): the second job must wait
    first = paste_and_open_train()
    first.button(key="train_start").click().run()
    first_id = first.session_state["run_id"]
    poll(first, lambda _: Run(runs_root / first_id).status().state == "running")
    second = paste_and_open_train()
    second.number_input(key="train_units").set_value(20).run()
    second.button(key="train_start").click().run()
    assert not second.exception
    queued_id = second.session_state["run_id"]
    assert Run(runs_root / queued_id).status().state == "queued"
    info = " ".join(texts(second, "info"))
    assert "number 1 in the queue" in info and "1 training now" in info
    assert "20 units" in " ".join(texts(second, "caption"))  # the queued job's settings are kept
    assert second.button(key="train_stop").label == "Leave the queue"
    # The queued user does not see the first user's job anywhere.
    second.switch_page("app_pages/models.py").run()
    listed = {r.path.name for r in store.list_runs(runs_root)}
    assert first_id in listed
    assert first_id not in " ".join(str(x) for x in second.selectbox(key="models_pick").options)
    second.switch_page(TRAIN).run()
    assert Run(runs_root / queued_id).status().state == "queued"  # still waiting: the first one trains
    second.button(key="train_stop").click().run()
    assert not second.exception
    assert not (runs_root / queued_id).exists()  # left the queue before training: nothing is kept
    assert second.session_state["run_id"] is None and has(second, "button", "train_start")
    assert Run(runs_root / first_id).status().state == "running"  # the first one is not disturbed


def test_settings_errors_are_messages_not_tracebacks():
    at = paste_and_open_train(TEXT * 5)  # long enough for the tiny settings, too short for 400-character sequences
    at.number_input(key="train_seq_len").set_value(400).run()
    assert not at.exception
    assert any("too short" in e for e in texts(at, "warning"))  # said before Start, which is off
    assert at.button(key="train_start").disabled
    assert at.session_state["run_id"] is None
    at.number_input(key="train_units").set_value(0).run()  # below the range: the box refuses it
    assert not at.exception


def test_presets_reset_the_advanced_settings():
    at = new_app(TRAIN)
    at.radio(key="train_preset").set_value("classic").run()
    assert at.selectbox(key="train_mode").value == "window"
    assert at.number_input(key="train_stride").value == 3
    assert at.radio(key="train_budget").value == "epochs"
    assert at.session_state["lowercase"] is True  # the classic example lowercased its text
    assert "2017" in " ".join(texts(at, "caption"))
    at.radio(key="train_preset").set_value("quick").run()
    assert at.selectbox(key="train_mode").value == "sequence"
    assert at.number_input(key="train_units").value == PRESETS["quick"].config.units


def test_settings_survive_a_visit_to_another_page():
    at = new_app(TRAIN)
    at.number_input(key="train_units").set_value(64).run()
    at.switch_page("app_pages/generate.py").run()
    at.switch_page(TRAIN).run()
    assert at.number_input(key="train_units").value == 64


@pytest.mark.parametrize("missing", ["deleted-run"])
def test_a_run_id_that_does_not_exist(missing):
    at = new_app(TRAIN, query={"run": missing})
    assert any("no model of yours at this address" in t for t in texts(at, "info"))


@pytest.mark.parametrize("hostile", ["..", "../..", "/etc", "..%2F..", "a/../../b"])
def test_a_run_id_cannot_point_outside_the_models_folder(hostile):
    at = new_app(TRAIN, query={"run": hostile})
    assert not at.exception
    assert not has(at, "button", "train_play")


def test_stopping_at_once_leaves_no_empty_model(runs_root):
    at = paste_and_open_train()
    at.button(key="train_start").click().run()
    run_id = at.session_state["run_id"]
    at.button(key="train_stop").click().run()
    # Either it left the queue (the page offers a new run) or it stops after its current batch.
    poll(at, lambda a: a.session_state["run_id"] is None or has(a, "button", "train_new"))
    assert not at.exception
    # Either it stopped before anything was saved (the folder is gone) or it kept a usable model.
    assert not (runs_root / run_id).exists() or summarize(Run(runs_root / run_id)).readable
    assert all(r.readable for r in store.list_runs(runs_root))


def test_a_run_whose_trainer_is_gone_reads_as_interrupted(runs_root):
    run = Run(make_run(runs_root, name="orphan"))
    run.write_status("running", "Training.", epochs=1)
    run.renew_lease()
    at = new_app(TRAIN, query={"run": run.id})
    assert at.button(key="train_stop").label == "Stop"  # a live lease: it trains
    (run.path / "lease.json").unlink()  # the worker died: nobody renews the lease
    at.run()
    assert not at.exception
    assert any("interrupted" in w for w in texts(at, "warning"))
    assert not has(at, "button", "train_stop") and has(at, "button", "train_new")


def test_one_time_estimate_from_this_machine(runs_root):
    at = paste_and_open_train()
    caption = next(c for c in texts(at, "caption") if c.startswith("On this computer"))
    assert "typical laptop" in caption and "readable words" in caption  # nothing measured here yet
    assert "at most" in caption and "learnt sooner" in caption  # a pasted paragraph settles long before 2.5 min
    from run_factory import TINY, random_run

    from charlstm.run import EpochRecord

    other = make_run(runs_root, name="another shape")  # 12 units: it tells this machine's pace, not 24's speed
    Run(other).append_epoch(EpochRecord(2, 2.0, 2.1, 3.0, 0.004, 10, 5.0, 99_999.0, False))
    at.run()
    caption = next(c for c in texts(at, "caption") if c.startswith("On this computer"))
    assert "from this computer's speed on other models" in caption and "typical laptop" not in caption
    shaped = TINY.replace(embedding_dim=PRESETS["quick"].config.embedding_dim)  # the page's: quick, tiny settings
    run = random_run(runs_root, TEXT * 20, shaped, name="measured", owner=ME, finished=True)
    Run(run).append_epoch(EpochRecord(2, 2.0, 2.1, 3.0, 0.004, 10, 5.0, 12_345.0, False))
    at.run()
    caption = next(c for c in texts(at, "caption") if c.startswith("On this computer"))
    assert "measured here: 12,345 characters/s" in caption


def test_a_classic_estimate_counts_its_epochs(runs_root):
    at = paste_and_open_train()
    at.radio(key="train_preset").set_value("classic").run()
    caption = next(c for c in texts(at, "caption") if c.startswith("On this computer"))
    assert "about 0 s" not in caption and "in all" in caption


def test_hours_of_training_are_said_before_start():
    """Classic's 60 epochs of a built-in text take hours: an outsider was offered 7 h 27 min without a word."""
    import re

    at = new_app(TRAIN)  # a built-in text of hundreds of thousands of characters
    assert not any("would take about" in w for w in texts(at, "warning"))  # quick: minutes
    at.radio(key="train_preset").set_value("classic").run()
    (warning,) = [w for w in texts(at, "warning") if "would take about" in w]
    assert re.search(r"about \d+ h", warning) and "pick Quick" in warning, warning
    assert not at.button(key="train_start").disabled  # a choice made knowingly, not a refusal


def test_start_is_off_with_the_reason_when_the_text_is_too_short():
    at = paste_and_open_train(TEXT * 5)
    at.number_input(key="train_seq_len").set_value(900).run()  # longer than the text can hold with a held-out part
    assert at.button(key="train_start").disabled
    assert any("too short" in w and "Start is off" in w for w in texts(at, "warning"))


def test_a_continued_model_says_how_long_it_trained_in_all(runs_root):
    """The settings line adds up every training of the run (a history line knows only its own training's clock:
    a newcomer once read "trained 566 epochs in 13 h 27 min" after 2.5 minutes)."""
    from charlstm.run import EpochRecord

    run = Run(make_run(runs_root, name="continued"))  # its settings: 2 epochs; one is in its history
    for epoch in (2, 3):
        run.append_epoch(EpochRecord(epoch, 1.9, 2.1, 3.0, 0.004, 10, 40.0 * epoch, 1000.0, False))
    run.add_trained_seconds(50.0)
    run.add_trained_seconds(31.0)
    at = new_app(TRAIN, query={"run": run.id})
    line = next(c for c in texts(at, "caption") if "kept aside to check it" in c)
    assert "trained 3 epochs in 1 min 21 s" in line, line


def test_a_copied_model_tells_its_epochs_from_elsewhere_from_its_own(runs_root, tmp_path):
    """A copy or an import brings epochs trained elsewhere, but not their time: an outsider read "trained 17 epochs
    in 2 s" after continuing a ready-made model of 15 epochs for 2."""
    from charlstm.bundle import export_bundle, import_bundle
    from charlstm.run import EpochRecord

    exported = export_bundle(make_run(runs_root, name="elsewhere"), tmp_path / "elsewhere.zip")
    run = Run(import_bundle(exported, root=runs_root, name="brought", owner=ME))
    assert run.epochs_brought() == 1
    for epoch in (2, 3):
        run.append_epoch(EpochRecord(epoch, 1.9, 2.1, 3.0, 0.004, 10, 1.0 * epoch, 1000.0, False))
    run.add_trained_seconds(2.0)
    at = new_app(TRAIN, query={"run": run.id})
    line = next(c for c in texts(at, "caption") if "kept aside to check it" in c)
    assert "trained 3 epochs: 1 before it came here, 2 here in 2 s" in line, line


def test_a_finished_run_shows_how_it_learned(runs_root):
    run = Run(make_run(runs_root, name="learned"))
    best, _ = run.load_checkpoint("best")
    for at_epoch in (0.0, 1.0):
        run.save_snapshot(at_epoch, 2.0, best)
    at = new_app(TRAIN, query={"run": run.id})
    assert not at.exception
    assert at.select_slider(key="train_timelapse").value == 1
    assert any("How it learned" in t for t in texts(at, "subheader"))


def test_the_share_of_each_epochs_samples_it_copies_is_drawn(runs_root):
    """Samples that recite the training text are a picture of memorising: a share per epoch, and a chart."""
    from charlstm.run import EpochSamples

    run = Run(make_run(runs_root, name="reciter"))
    text = run.text()
    recited = text[100:200]  # 100 characters of its training text, word for word
    run.append_samples(EpochSamples(2, "x", ((0.5, recited + "zq" * 50), (1.0, "qz" * 100))))
    at = new_app(TRAIN, query={"run": run.id})
    assert not at.exception
    captions = texts(at, "caption")
    assert any("Together, 25% of them is copied from it." in c for c in captions)  # 100 of 400 characters
    assert any("Together, 0% of them" in c for c in captions)  # epoch 1's samples recite nothing
    assert any("How much of its samples it copies" in c.proto.spec for c in at.get("vega_lite_chart"))
    assert not any("memorising the text" in w for w in texts(at, "warning"))  # 25% is not yet memorising
    run.append_samples(EpochSamples(3, "x", ((0.5, text[100:400]), (1.0, text[500:800]))))
    at.run()
    assert any("memorising the text" in w for w in texts(at, "warning"))


def test_the_settings_line_names_the_dropout_chosen_for_the_text(runs_root):
    from run_factory import TINY, random_run
    from studio_helpers import ME

    chosen = random_run(runs_root, TEXT * 20, TINY.replace(dropout=0.5), name="chosen", owner=ME, finished=True)
    at = new_app(TRAIN, query={"run": chosen.name})
    assert any("dropout 50%" in c for c in texts(at, "caption")), texts(at, "caption")
    plain = random_run(runs_root, TEXT * 20, TINY.replace(dropout=0.0), name="plain", owner=ME, finished=True)
    at = new_app(TRAIN, query={"run": plain.name})
    line = next(c for c in texts(at, "caption") if "kept aside to check it ·" in c)
    assert "dropout" not in line  # none chosen, none named


def test_a_pasted_text_is_named_by_its_first_words_so_a_refused_paste_is_not_taken_for_it():
    """An outsider's 50-character paste was refused ("The text in use has not changed"), but the Train page said
    only "pasted text" and Start trained the earlier paste, which they took for the new one."""
    at = paste_and_open_train()
    assert any(m.startswith("**Text:** pasted text (“The quick brown…”)") for m in texts(at, "markdown"))
    at.switch_page(CORPUS).run()
    at.text_area(key="corpus_paste").input("Too short to learn from.").run()
    at.button(key="corpus_paste_use").click().run()
    assert any("has not changed" in e for e in texts(at, "error"))
    at.switch_page(TRAIN).run()
    assert any(m.startswith("**Text:** pasted text (“The quick brown…”)") for m in texts(at, "markdown"))
