"""Built-in corpora: the offline Python docs, Nietzsche through the Keras cache, joined files."""

from __future__ import annotations

import shutil

import pytest

from charlstm import corpora
from charlstm.errors import CorpusError
from charlstm.text import decode_bytes

UNREACHABLE = "http://127.0.0.1:9/nietzsche.txt"  # the discard port: nothing listens, fails at once


def test_python_docs_is_large_deterministic_text(python_docs):
    first = python_docs  # read earlier in this process, by the session's fixture
    second = corpora.load_builtin("python-docs")
    assert first == second
    decoded = decode_bytes(first, name="python-docs")
    assert len(decoded.text) >= 500_000
    assert decoded.warnings == ()
    assert decoded.text.count(" ") > len(decoded.text) / 10  # prose, not code
    assert not any(line.startswith(">>>") for line in decoded.text.splitlines())  # doctests are left out


def test_python_docs_refuses_when_too_small():
    with pytest.raises(CorpusError, match="Nietzsche"):
        corpora.load_python_docs(min_chars=10**12)


def test_nietzsche_loads_from_a_prefilled_keras_cache(keras_home, monkeypatch):
    monkeypatch.setattr(corpora, "NIETZSCHE_URL", UNREACHABLE)  # proves the cache is used
    assert corpora.nietzsche_is_cached()
    assert corpora.keras_cache_path("nietzsche.txt") == keras_home / "datasets" / "nietzsche.txt"
    text = decode_bytes(corpora.load_builtin("nietzsche"), name="nietzsche").text
    assert len(text) == 600_893
    assert len(set(text.lower())) == 57
    assert text.startswith("PREFACE\n\n\nSUPPOSING that Truth is a woman")


def test_nietzsche_download_failure_says_what_to_do(tmp_path, monkeypatch, nietzsche_path):
    empty_home = tmp_path / "empty-keras"
    empty_home.mkdir()
    monkeypatch.setenv("KERAS_HOME", str(empty_home))
    monkeypatch.setattr(corpora, "NIETZSCHE_URL", UNREACHABLE)
    assert not corpora.nietzsche_is_cached()
    with pytest.raises(CorpusError) as err:
        corpora.load_nietzsche()
    message = str(err.value)
    assert "Could not download" in message
    assert "python-docs" in message
    target = corpora.keras_cache_path("nietzsche.txt")
    assert str(target) in message
    assert empty_home in target.parents
    # Following the advice works: save the file where the message says, and it loads offline.
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(nietzsche_path, target)
    assert len(corpora.load_nietzsche()) == nietzsche_path.stat().st_size


def test_load_corpus_joins_files(tmp_path):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("First file.\n", encoding="utf-8")
    b.write_bytes("Second file, café.\r\n".encode("cp1252"))
    corpus = corpora.load_corpus([str(a), str(b)])
    assert corpus.text == "First file.\n\nSecond file, café."
    assert corpus.name == "a.txt + b.txt"
    assert corpus.source == "files"
    assert len(corpus.warnings) == 1 and "b.txt" in corpus.warnings[0]


def test_load_corpus_builtin_plus_file(tmp_path, english_text):
    extra = tmp_path / "extra.txt"
    extra.write_text("THE END", encoding="utf-8")
    corpus = corpora.load_corpus([str(extra)], builtin="python-docs")
    assert corpus.text.endswith("\n\nTHE END")
    assert corpus.name == "python-docs + extra.txt"
    assert corpus.source == "files"
    assert corpus.text.startswith(english_text)


def test_load_corpus_refuses_nothing_and_binary(tmp_path):
    with pytest.raises(CorpusError, match="No text given"):
        corpora.load_corpus([])
    png = tmp_path / "cat.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    with pytest.raises(CorpusError, match="binary"):
        corpora.load_corpus([str(png)])


def test_unknown_builtin_is_refused():
    with pytest.raises(CorpusError) as err:
        corpora.load_builtin("shakespeare")
    assert "shakespeare" in str(err.value)
    assert "python-docs" in str(err.value) and "nietzsche" in str(err.value)
    with pytest.raises(CorpusError):
        corpora.load_corpus(builtin="shakespeare")


def test_builtins_describe_themselves():
    assert set(corpora.BUILTINS) == {"nietzsche", "python-docs"}
    assert corpora.BUILTINS["nietzsche"].needs_network
    assert not corpora.BUILTINS["python-docs"].needs_network
