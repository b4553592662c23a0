"""Reliability rows in the studio (docs/reliability.md): limits shown, huge alphabets, an unwritable models
folder, an interrupted run after a server kill, three sessions at once."""

from __future__ import annotations

import codecs
import re
import signal
import subprocess
import sys
import time
import tomllib
import unicodedata

import pytest
from helpers import wait_for
from hypothesis import given, settings
from hypothesis import strategies as st
from studio_helpers import CORPUS, ME, ROOT, TEXT, TINY_SETTINGS, make_run, new_app, poll, stranger, texts

from charlstm import store
from charlstm.jobs import DEFAULT_MAX_SECONDS
from charlstm.run import LEASE_SECONDS, Run, read_json
from charlstm.text import MAX_VOCAB
from charlstm_studio.ui.state import jobs
from charlstm_studio.ui.widgets import WORD_JOINER, md

TRAIN, MODELS = "app_pages/train.py", "app_pages/models.py"


def server_upload_limit_mb() -> int:
    config = tomllib.loads((ROOT / "charlstm_studio/.streamlit/config.toml").read_text(encoding="utf-8"))
    return config["server"]["maxUploadSize"]


def open_train_with(text: str, **settings):
    """A new browser that pastes `text`, then opens the Train page with tiny settings."""
    at = new_app(CORPUS, browser=stranger())
    at.text_area(key="corpus_paste").input(text)
    at.button(key="corpus_paste_use").click().run()
    at.switch_page(TRAIN).run()
    for key, value in {**TINY_SETTINGS, **settings}.items():
        at.number_input(key=key).set_value(value)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def app_as(owner: str, page: str, query: dict | None = None):
    """A fresh session of the browser `owner` (its key already known, as from its cookie), on `page`."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "charlstm_studio" / "app.py"), default_timeout=60)
    at.session_state["_owner"] = owner
    for key, value in (query or {}).items():
        at.query_params[key] = value
    at.run()
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.session_state["_owner"] == owner
    return at


def test_the_upload_limit_is_configured_and_shown():
    limit = server_upload_limit_mb()
    assert 1 <= limit <= 200  # a bigger text is refused by Streamlit before the app reads a byte
    at = new_app(CORPUS)
    assert at.file_uploader(key="corpus_upload").proto.max_upload_size_mb == limit
    assert any(f"Up to {limit} MB per file" in c for c in texts(at, "caption"))


PROSE = "Grüße aus Köln, ça va? " * 60 + "\n"
LONG_PROSE = PROSE * 8  # over text.SHORT_TEXT_CHARS: no advice about a short text, so any warning is the reading's


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("utf16.txt", codecs.BOM_UTF16_LE + LONG_PROSE.encode("utf-16-le")),
        ("utf8-bom.txt", codecs.BOM_UTF8 + LONG_PROSE.encode("utf-8")),
        ("windows-lines.txt", LONG_PROSE.replace("\n", "\r\n").encode("utf-8")),
    ],
)
def test_uploads_in_other_encodings_and_line_endings_read_cleanly(name, raw):
    at = new_app(CORPUS)
    at.file_uploader(key="corpus_upload").set_value((name, raw, "text/plain")).run()
    assert not at.exception and not at.error and not at.warning
    corpus = at.session_state["corpus"]
    assert corpus.name == name and corpus.text.strip("\n") == LONG_PROSE.strip("\n")


def test_every_run_from_the_studio_has_a_finite_budget():
    """Abandoned runs: the widgets cap a run at 240 minutes or 1,000 epochs; the server stops any at 4 hours."""
    at = new_app(TRAIN)
    at.radio(key="train_budget").set_value("time").run()
    assert at.number_input(key="train_minutes").max == 240.0
    at.radio(key="train_budget").set_value("epochs").run()
    assert at.number_input(key="train_epochs").max == 1000
    assert jobs().max_seconds == DEFAULT_MAX_SECONDS == 4 * 3600  # each request carries it to the worker


def test_the_model_uploader_promises_no_more_than_the_server_accepts():
    at = new_app(MODELS)
    assert at.file_uploader(key="models_upload").proto.max_upload_size_mb <= server_upload_limit_mb()


def test_a_huge_alphabet_trains_up_to_the_cap_and_is_refused_above_it(runs_root):
    cjk = "".join(chr(0x4E00 + i) for i in range(3000))
    at = new_app(CORPUS)
    at.text_area(key="corpus_paste").input((cjk + "。\n") * 4).run()
    at.button(key="corpus_paste_use").click().run()
    assert any("3,002 different characters" in t for t in texts(at, "info"))

    over = "".join(chr(0x4E00 + i) for i in range(MAX_VOCAB + 1)) * 2
    at = open_train_with(over)
    at.button(key="train_start").click().run()
    assert not at.exception
    errors = " ".join(texts(at, "error"))
    assert f"{MAX_VOCAB + 1:,} different characters" in errors and f"at most {MAX_VOCAB:,}" in errors
    assert at.session_state["run_id"] is None
    assert store.list_runs(runs_root) == []


def test_an_unwritable_models_folder_is_a_message(tmp_path, monkeypatch):
    (tmp_path / "a-file").write_text("not a folder")
    monkeypatch.setenv("CHARLSTM_HOME", str(tmp_path / "a-file" / "charlstm"))
    at = open_train_with(TEXT * 120)
    at.button(key="train_start").click().run()
    assert not at.exception
    assert any("Could not write to the models folder" in e for e in texts(at, "error"))
    assert at.session_state["run_id"] is None
    at.switch_page(MODELS).run()
    assert not at.exception
    assert any("No models yet" in t for t in texts(at, "info"))


# A trainer that renews the run's lease the way TrainingJob's heartbeat does, until it is killed.
FAKE_TRAINER = """
import sys, time
from charlstm.run import Run
run = Run(sys.argv[1])
run.write_status("running", "Training.", epochs=1, best_val_loss=2.2)
while True:
    run.renew_lease()
    print("alive", flush=True)
    time.sleep(0.2)
"""


def start_fake_trainer(run) -> subprocess.Popen:
    trainer = subprocess.Popen(
        [sys.executable, "-c", FAKE_TRAINER, str(run)], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    assert trainer.stdout.readline().strip() == "alive"
    return trainer


def kill_and_let_the_lease_run_out(trainer: subprocess.Popen, run) -> None:
    """SIGKILL the trainer; nobody renews its lease, so within LEASE_SECONDS the run reads interrupted."""
    try:
        trainer.send_signal(signal.SIGKILL)
        trainer.wait(timeout=30)
    finally:
        if trainer.poll() is None:
            trainer.kill()
            trainer.wait()
    killed_at = time.monotonic()
    assert read_json(run / "lease.json")["pid"] == trainer.pid  # the lease was the killed process's
    wait_for(lambda: Run(run).status().state == "interrupted", timeout=LEASE_SECONDS + 20, every=0.2)
    assert time.monotonic() - killed_at <= LEASE_SECONDS + 20


def test_a_run_killed_with_its_server_is_listed_as_interrupted_with_what_it_kept(runs_root):
    run = make_run(runs_root, name="killed")
    trainer = start_fake_trainer(run)
    try:
        assert Run(run).status().state == "running"  # a renewed lease: training, whoever holds it
        at = new_app(TRAIN, query={"run": run.name})
        assert any(getattr(b, "key", None) == "train_stop" for b in at.button)
    finally:
        kill_and_let_the_lease_run_out(trainer, run)

    # The server restarts (a fresh session of this process has seen no summary of the run yet).
    at = new_app(MODELS)
    row = at.dataframe[0].value.iloc[0]
    assert row["name"] == "killed" and row["state"] == "interrupted" and row["epochs"] == 1
    assert at.button(key="models_continue")  # it can be continued from here
    at = new_app(TRAIN, query={"run": run.name})
    assert not any(getattr(b, "key", None) == "train_stop" for b in at.button)
    warning = " ".join(texts(at, "warning"))
    assert "interrupted" in warning and "Everything up to the last finished epoch is kept" in warning
    assert "continue it from the Models page" in warning
    assert at.get("vega_lite_chart")  # the kept history is drawn


def test_a_trainer_killed_while_the_studio_stays_up_reads_interrupted_in_the_library(runs_root):
    run = make_run(runs_root, name="killed")
    trainer = start_fake_trainer(run)
    try:
        at = new_app(MODELS)
        assert at.dataframe[0].value.iloc[0]["state"] == "training"
        assert not any(getattr(b, "key", None) == "models_continue" for b in at.button)
    finally:
        kill_and_let_the_lease_run_out(trainer, run)
    at = new_app(MODELS)  # the same server: its cache has seen the run training
    assert at.dataframe[0].value.iloc[0]["state"] == "interrupted"
    assert at.button(key="models_continue")


def test_three_sessions_one_trainer_a_queue_and_nothing_shared(runs_root):
    assert jobs().workers == 1  # tests/app/conftest.py: one training slot, so two of three wait
    sessions = []
    for i in range(3):
        # 30 minutes: no training ends by itself while the test looks (a slow machine takes minutes here)
        at = open_train_with(TEXT * (120 + i), train_units=16 + 4 * i, train_minutes=30.0)
        at.text_input(key="train_name").input(f"session {i}").run()
        sessions.append(at)
    for at in sessions:
        at.button(key="train_start").click().run()
        assert not at.exception and not at.error, texts(at, "error")
    first, second, third = sessions
    ids = [at.session_state["run_id"] for at in sessions]
    owners = [at.session_state["_owner"] for at in sessions]
    runs = [Run(runs_root / i) for i in ids]
    assert len(set(ids)) == 3 and len(set(owners)) == 3
    assert [r.owner for r in runs] == owners
    wait_for(lambda: runs[0].status().state == "running", timeout=180, what="the first training to start")

    def states() -> list[str]:
        return [r.status().state for r in runs]

    assert states() == ["running", "queued", "queued"]  # the cap holds: one worker, one training
    assert [r.request().max_seconds for r in runs[1:]] == [DEFAULT_MAX_SECONDS] * 2  # the server's cap travels along
    poll(second, lambda a: "number 1 in the queue" in " ".join(texts(a, "info")))
    poll(third, lambda a: "number 2 in the queue" in " ".join(texts(a, "info")))
    for i, at in enumerate(sessions):  # each sees its own job, with its own settings, and no other
        assert f"{16 + 4 * i} units" in " ".join(texts(at, "caption"))
        assert [r.id for r, _ in jobs().owner_active(owners[i])] == [ids[i]]
        library = app_as(owners[i], MODELS)
        assert list(library.dataframe[0].value["name"]) == [f"session {i}"]
        sidebar = " ".join(texts(library.sidebar, "caption"))
        assert f"session {i}" in sidebar
        assert not any(f"session {j}" in sidebar for j in range(3) if j != i)
    # Another session cannot reach the first session's job, even with its run id in the address.
    stranger = app_as(owners[2], TRAIN, query={"run": ids[0]})
    assert not any(getattr(b, "key", None) == "train_stop" for b in stranger.button)
    assert any("no model of yours at this address" in t for t in texts(stranger, "info"))  # not even its history
    assert "session 0" not in " ".join(texts(stranger, "markdown") + texts(stranger, "caption"))

    # The first user stops: the second starts by itself, the third moves up.
    first.button(key="train_stop").click().run()
    poll(first, lambda a: runs[0].status().state == "user")
    poll(second, lambda a: runs[1].status().state == "running")
    poll(third, lambda a: "number 1 in the queue" in " ".join(texts(a, "info")))
    assert states() == ["user", "running", "queued"]


def test_divergence_is_caught_and_the_user_is_told(runs_root):
    # A constant rate of 50 (not a warm-up to it): the first full-size steps blow the loss up, every time.
    at = open_train_with(TEXT * 120, train_lr=50.0)
    at.selectbox(key="train_schedule").set_value("constant")
    at.radio(key="train_budget").set_value("epochs").run()
    at.number_input(key="train_epochs").set_value(2).run()
    at.button(key="train_start").click().run()
    assert not at.exception and not at.error, texts(at, "error")
    poll(at, lambda a: any("became unstable" in w for w in texts(a, "warning")), timeout=120)
    at.run()  # the last notices, after the final status
    told = " ".join(w for w in texts(at, "warning") if "became unstable" in w)
    assert "Went back to the best model" in told and "lowered the learning rate" in told, told


def test_generation_widgets_only_allow_safe_values(runs_root):
    """Temperature and length cannot leave their ranges in the studio (the core refuses or caps the rest)."""
    make_run(runs_root)
    at = new_app("app_pages/generate.py")
    temperature, length = at.slider(key="gen_temperature"), at.slider(key="gen_length")
    assert (temperature.min, temperature.max) == (0.0, 2.0)
    assert (length.min, length.max) == (20, 2000)


# --- issue 9, item 7: text from files and users is shown as text, never as Markdown ----------------------
HOSTILE_TEXTS = [
    "[click me](http://evil.example) **loud**",
    "![tracker](http://evil.example/pixel.png)",
    "line one\n\n# a heading\n1. a list\n- another\n> quote\nsetext\n===",
    "<img src=x onerror=alert(1)> &lt;b&gt; `code` $x^2$ ~~gone~~ | a | b |",
    ":material/home: :smile: :red[coloured] https://evil.example www.evil.example mail@evil.example",
    "tab\there\u2028separator\rreturn \\*escaped\\* _under_",
]
# What Streamlit's renderer changes in text after parsing: icons, emoji, colours, bare links and e-mails.
STREAMLIT_TEXT_SYNTAX = re.compile(r":material/|:[\w+-]+:|:[a-z-]+\[|https?://|www\.|[\w.+-]@[\w-]")


def rendered_as_text(source: str) -> str:
    """The text a CommonMark renderer shows for `source`; fails if any of it is more than text."""
    from markdown_it import MarkdownIt

    blocks = MarkdownIt("commonmark").enable(["table", "strikethrough"]).parse(source)
    assert [b.type for b in blocks] in ([], ["paragraph_open", "inline", "paragraph_close"]), blocks
    inline = blocks[1].children if blocks else []
    assert all(t.type == "text" for t in inline), [t.type for t in inline]
    shown = "".join(t.content for t in inline).replace(WORD_JOINER, "")
    assert not STREAMLIT_TEXT_SYNTAX.search("".join(t.content for t in inline)), shown
    return shown


@pytest.mark.parametrize("text", HOSTILE_TEXTS)
def test_markdown_from_strangers_shows_exactly_as_text(text):
    one_line = " ".join(text.replace("\u2028", "\n").replace("\t", "\n").replace("\r", "\n").split("\n"))
    assert rendered_as_text(md(text)) == one_line.strip() or rendered_as_text(md(text)) == one_line


def test_a_bundle_with_hostile_names_shows_them_as_text(runs_root, tmp_path):
    import json
    import zipfile

    from charlstm.bundle import export_bundle, import_bundle

    source = make_run(tmp_path / "src", name="plain")
    Run(source).write_status("completed")
    with zipfile.ZipFile(export_bundle(source, tmp_path / "b.zip")) as zf:
        entries = {name: zf.read(name) for name in zf.namelist()}
    entries["meta.json"] = json.dumps({"name": HOSTILE_TEXTS[2][:60] + " [x](http://e.x)", "corpus": HOSTILE_TEXTS[1]})
    clean = tmp_path / "hostile.zip"
    with zipfile.ZipFile(clean, "w") as zf:
        for name, content in entries.items():
            zf.writestr(name, content)
    import_bundle(clean, root=runs_root, owner=ME)
    at = new_app(MODELS)
    at.button(key="models_delete").click().run()
    (warning,) = [w.value for w in at.warning]
    assert "[x](http://e.x)" in rendered_as_text(warning.replace("**", ""))
    for caption in at.sidebar.caption:
        rendered_as_text(caption.value)


@settings(max_examples=200, deadline=None)
@given(
    st.text(max_size=60) | st.lists(st.sampled_from(list("[]()!*_`#<>&;:@/.-+=|~$\\ \n1wh")), max_size=30).map("".join)
)
def test_any_text_through_md_renders_as_exactly_that_text(text):
    """Property (Hypothesis): whatever a name or message holds, the page shows those characters on one line."""
    one_line = "".join(" " if unicodedata.category(c) in ("Cc", "Cs", "Zl", "Zp") else c for c in text)
    assert rendered_as_text(md(text)).split() == one_line.replace(WORD_JOINER, "").split()
