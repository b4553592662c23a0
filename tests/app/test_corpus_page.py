"""Corpus page: the default text, uploads (good and bad), paste, lowercase, the numbers shown."""

from __future__ import annotations

import codecs

from studio_helpers import CORPUS, TEXT, new_app, stranger, texts

from charlstm.config import PRESETS
from charlstm.data import split_ids, window_count
from charlstm_studio.ui.corpus_tools import training_sequences

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4


def metric(at, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def test_first_screen_has_a_working_default_and_a_way_forward():
    at = new_app(CORPUS)
    assert "python-docs" in at.session_state["corpus"].name  # the offline text, nothing to download
    assert at.button(key="corpus_next")
    assert int(metric(at, "Characters").replace(",", "")) > 500_000
    assert at.get("vega_lite_chart")  # the character-frequency chart
    assert "Python's documentation" in " ".join(texts(at, "caption"))  # the sidebar names the text
    at.button(key="corpus_next").click().run()
    assert not at.exception
    assert at.button(key="train_start")  # on the Train page, ready to start


def test_upload_good_files_joins_them(tmp_path):
    at = new_app(CORPUS)
    at.file_uploader(key="corpus_upload").set_value(
        [
            ("a.txt", TEXT.encode() * 50, "text/plain"),
            ("b.txt", codecs.BOM_UTF8 + "Zweite Datei: Grüße".encode(), "text/plain"),
        ]
    ).run()
    assert not at.exception and not at.error
    corpus = at.session_state["corpus"]
    assert corpus.name == "a.txt + b.txt" and "Grüße" in corpus.text and "quick brown fox" in corpus.text
    assert "a.txt + b.txt" in at.header[0].value
    assert any(m.startswith("Using a.txt + b.txt (") for m in texts(at, "success"))  # said, as for a paste


def test_a_bad_file_is_named_in_a_clear_message_and_the_good_one_is_used():
    at = new_app(CORPUS)
    at.file_uploader(key="corpus_upload").set_value(
        [("photo.txt", PNG, "text/plain"), ("notes.txt", TEXT.encode() * 50, "text/plain")]
    ).run()
    assert not at.exception
    errors = texts(at, "error")
    assert len(errors) == 1 and "photo.txt" in errors[0] and "binary" in errors[0]
    assert at.session_state["corpus"].name == "notes.txt"


def test_only_bad_files_keep_the_previous_text():
    at = new_app(CORPUS)
    before = at.session_state["corpus"].name
    at.file_uploader(key="corpus_upload").set_value(
        [("empty.txt", b"", "text/plain"), ("blank.txt", b"  \n\n  ", "text/plain")]
    ).run()
    errors = texts(at, "error")
    assert any("empty.txt" in e for e in errors) and any("blank.txt" in e for e in errors)
    assert at.session_state["corpus"].name == before


def test_windows_text_is_read_with_a_warning():
    at = new_app(CORPUS)
    at.file_uploader(key="corpus_upload").set_value(
        ("win.txt", "Café crème, déjà vu. ".encode("cp1252") * 400, "text/plain")
    ).run()
    assert "Café" in at.session_state["corpus"].text
    assert any("cp1252" in w for w in texts(at, "warning"))


def test_paste_lowercase_and_a_too_short_text():
    at = new_app(CORPUS)
    at.text_area(key="corpus_paste").input("Hello World, short.")
    at.button(key="corpus_paste_use").click().run()
    assert at.session_state["corpus"].name != "pasted text"  # refused at once, with one message
    (error,) = texts(at, "error")
    assert "too short to learn from: 19 characters" in error and "has not changed" in error
    assert not at.success
    at.text_area(key="corpus_paste").input("ABC abc. " * 3000)
    at.button(key="corpus_paste_use").click().run()
    assert not at.error
    assert metric(at, "Different characters") == "8"  # A B C a b c space full stop
    at.checkbox(key="corpus_lowercase").check().run()
    assert metric(at, "Different characters") == "5"
    assert at.session_state["lowercase"] is True


def test_paste_nothing_says_so():
    at = new_app(CORPUS)
    at.button(key="corpus_paste_use").click().run()
    assert any("nothing to use" in e for e in texts(at, "error"))


def test_nietzsche_download_failure_is_a_plain_message(monkeypatch):
    import charlstm.corpora

    def offline(url, timeout):
        raise OSError("no network here")

    monkeypatch.setattr(charlstm.corpora.urllib.request, "urlopen", offline)
    at = new_app(CORPUS)
    at.radio(key="corpus_builtin").set_value("nietzsche")
    at.button(key="corpus_builtin_use").click().run()
    assert not at.exception
    (message,) = texts(at, "error")
    assert "Could not download" in message and "Python's documentation" in message
    assert "python-docs" not in message and "/" not in message  # no internal name, no server path
    assert not at.get("progress")  # no download bar left under the error
    assert at.radio(key="corpus_builtin").value == at.session_state["corpus"].name == "python-docs"


def test_cached_nietzsche_is_used_without_a_download(keras_home):
    at = new_app(CORPUS)
    assert at.session_state["corpus"].name == "nietzsche"  # preselected once it is on disk
    assert "PREFACE" in at.session_state["corpus"].text[:200]


def test_sequence_count_matches_the_training_pipeline():
    text_len = 123_457
    for preset in PRESETS.values():
        config = preset.config
        split = split_ids(range(text_len), config.val_fraction)
        assert training_sequences(text_len, config) == window_count(len(split.train), config)


def test_sessions_do_not_see_each_others_texts():
    alice = new_app(CORPUS)
    alice.file_uploader(key="corpus_upload").set_value(("diary.txt", TEXT.encode() * 50, "text/plain")).run()
    bob = new_app(CORPUS, browser=stranger())
    assert alice.session_state["corpus"].name == "diary.txt"
    assert bob.session_state["corpus"].name != "diary.txt"
    assert "diary" not in " ".join(texts(bob, "caption"))


def test_an_uploaded_text_survives_a_reload_but_not_into_other_sessions():
    at = new_app(CORPUS)
    at.file_uploader(key="corpus_upload").set_value(("mine.txt", TEXT.encode() * 50, "text/plain")).run()
    reloaded = new_app(CORPUS, browser=at.session_state["_owner"])
    assert reloaded.session_state["corpus"].name == "mine.txt"
    assert new_app(CORPUS, browser=stranger()).session_state["corpus"].name != "mine.txt"


# --- issue 9: limits and text from strangers ------------------------------------------------------------
def test_many_files_over_the_total_limit_are_refused_before_they_are_decoded():
    import charlstm_studio.ui.corpus_tools as tools

    files = [(f"part{i}.txt", b"a" * 40_000_000, "text/plain") for i in range(3)]  # each under 50 MB
    uploaded = tools.corpus_from_files([(name, data) for name, data, _ in files])
    assert uploaded.corpus is None
    (message,) = uploaded.errors
    for words in ("3 files", "120 MB", f"{tools.MAX_UPLOAD_TOTAL_BYTES // 1_000_000} MB", "fewer"):
        assert words in message, message


def test_the_corpus_page_keeps_the_previous_text_when_uploads_are_too_big_together(monkeypatch):
    import charlstm_studio.ui.corpus_tools as tools

    monkeypatch.setattr(tools, "MAX_UPLOAD_TOTAL_BYTES", 10_000)
    at = new_app(CORPUS)
    before = at.session_state["corpus"].name
    at.file_uploader(key="corpus_upload").set_value(
        [("a.txt", TEXT.encode() * 40, "text/plain"), ("b.txt", TEXT.encode() * 40, "text/plain")]
    ).run()
    assert not at.exception
    assert any("together" in e for e in texts(at, "error"))
    assert at.session_state["corpus"].name == before
    shown = " ".join(texts(at, "caption")) + " ".join(str(f.help) for f in at.get("file_uploader"))
    assert "10 KB in all" in shown or "0 MB in all" in shown


def test_a_short_text_is_taken_with_advice_a_long_one_without():
    """A diary of a few paragraphs trains into jumbled text: the person hears so before Start, with what helps."""
    from charlstm.text import SHORT_TEXT_CHARS

    short, long = TEXT * 5, TEXT * (SHORT_TEXT_CHARS // len(TEXT) + 1)
    for text, advised in ((short, True), (long, False)):
        at = new_app(CORPUS)
        at.text_area(key="corpus_paste").input(text)
        at.button(key="corpus_paste_use").click().run()
        assert any("This text is short" in w for w in texts(at, "warning")) == advised
        at.switch_page("app_pages/train.py").run()
        assert any("This text is short" in i and "ready-made model" in i for i in texts(at, "info")) == advised
        assert not at.button(key="train_start").disabled  # short is allowed: it only learns less


def test_a_later_visit_shows_the_pasted_text_still_in_use():
    """The sidebar said "pasted text" while the Paste box of a new session stood empty: nothing to see or edit."""
    text = TEXT * 120
    at = new_app(CORPUS)
    at.text_area(key="corpus_paste").input(text)
    at.button(key="corpus_paste_use").click().run()
    again = new_app(CORPUS)  # the same browser, a new session (a reload)
    assert again.text_area(key="corpus_paste").value == text
    assert new_app(CORPUS, browser=stranger()).text_area(key="corpus_paste").value == ""  # theirs is theirs
