"""Decoding whatever bytes users hand us, checking texts, and the character vocabulary."""

from __future__ import annotations

import codecs
import json
import os
from pathlib import Path

import numpy as np
import pytest

from charlstm.errors import CorpusError
from charlstm.text import (
    Vocabulary,
    check_trainable,
    corpus_stats,
    decode_bytes,
    join_texts,
    prepare_text,
    read_corpus,
)

PROSE = "Café au lait – a naïve señor’s “déjà vu”.\nSecond line, plain ASCII.\n"
CP1252_TEXT = "café – naïve"

# name, raw bytes, expected text, expected encoding, whether a warning is expected
DECODE_CASES = [
    ("utf8", PROSE.encode("utf-8"), PROSE, "utf-8", False),
    ("utf8-bom", codecs.BOM_UTF8 + PROSE.encode("utf-8"), PROSE, "utf-8-sig", False),
    ("utf16-le-bom", codecs.BOM_UTF16_LE + PROSE.encode("utf-16-le"), PROSE, "utf-16", False),
    ("utf16-be-bom", codecs.BOM_UTF16_BE + PROSE.encode("utf-16-be"), PROSE, "utf-16", False),
    ("cp1252", CP1252_TEXT.encode("cp1252"), CP1252_TEXT, "cp1252", True),
    # 0x81 is undefined in cp1252, so only Latin-1 can read it; the accents must survive.
    ("latin1-0x81", ("naïve café " * 20).encode("latin-1") + b"\x81", "naïve café " * 20 + "\x81", "latin-1", True),
    ("crlf", b"one\r\ntwo\r\nthree", "one\ntwo\nthree", "utf-8", False),
    ("lone-cr", b"one\rtwo\rthree\r", "one\ntwo\nthree\n", "utf-8", False),
    ("mixed-endings", b"a\r\nb\rc\nd", "a\nb\nc\nd", "utf-8", False),
    ("utf16-crlf", codecs.BOM_UTF16_LE + "x\r\ny\rz".encode("utf-16-le"), "x\ny\nz", "utf-16", False),
    ("empty", b"", "", "utf-8", False),
]


@pytest.mark.parametrize(
    ("raw", "text", "encoding", "warns"),
    [case[1:] for case in DECODE_CASES],
    ids=[case[0] for case in DECODE_CASES],
)
def test_decode_table(raw, text, encoding, warns):
    decoded = decode_bytes(raw, name="upload.txt")
    assert decoded.text == text
    assert decoded.encoding == encoding
    assert "\ufeff" not in decoded.text
    assert "\r" not in decoded.text
    if warns:
        assert len(decoded.warnings) == 1
        assert "upload.txt" in decoded.warnings[0]
        assert encoding in decoded.warnings[0]
        assert "UTF-8" in decoded.warnings[0]
    else:
        assert decoded.warnings == ()


PNG_HEADER = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10\x00\x00\x00\x10\x08\x06\x00\x00\x00\x1f\xf3\xffa"
BINARY_CASES = {
    "png-header": PNG_HEADER,
    "nul-bytes": b"hello\x00world\x00" * 10,
    "mostly-control": bytes([1, 2, 3, 4, 5, 6, 7, 8, 14, 15, 16, 17, 27]) * 40,
    "prose-with-some-controls": b"plain words " * 10 + b"\x01\x02\x03\x04\x05\x06" * 4,
    "utf16-holding-nuls": codecs.BOM_UTF16_LE + "abc\x00\x00\x00".encode("utf-16-le") * 10,
}


@pytest.mark.parametrize("raw", BINARY_CASES.values(), ids=BINARY_CASES.keys())
def test_binary_is_refused_with_a_clear_message(raw):
    with pytest.raises(CorpusError) as err:
        decode_bytes(raw, name="holiday.png")
    message = str(err.value)
    assert "looks like a binary file" in message
    assert "holiday.png" in message


def test_a_rare_control_character_in_prose_is_not_binary():
    text = "ordinary prose with a form feed\f and a tab\t " * 20 + "\x07"
    assert decode_bytes(text.encode()).text == text


def test_damaged_utf16_is_refused_with_advice():
    raw = codecs.BOM_UTF16_LE + "hello".encode("utf-16-le") + b"\x41"  # odd number of bytes
    with pytest.raises(CorpusError, match=r"UTF-16.*damaged"):
        decode_bytes(raw)


def test_read_corpus_reads_files_and_names_them(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_bytes(CP1252_TEXT.encode("cp1252"))
    decoded = read_corpus(path)
    assert decoded.text == CP1252_TEXT
    assert "notes.txt" in decoded.warnings[0]
    with pytest.raises(CorpusError, match="File not found"):
        read_corpus(tmp_path / "missing.txt")
    with pytest.raises(CorpusError, match="folder"):
        read_corpus(tmp_path)


def test_join_and_prepare():
    assert join_texts(["a\n", "\nb", "c"]) == "a\n\nb\n\nc"
    assert prepare_text("Hello World", lowercase=True) == "hello world"
    assert prepare_text("Hello World", lowercase=False) == "Hello World"


@pytest.mark.parametrize(
    ("text", "words"),
    [("", "empty"), ("   \n\t \n  ", "only spaces and line breaks")],
    ids=["empty", "whitespace-only"],
)
def test_check_trainable_refuses_empty_texts(text, words):
    with pytest.raises(CorpusError) as err:
        check_trainable(text, min_chars=100)
    assert words in str(err.value)


def test_check_trainable_refuses_short_texts_with_numbers():
    with pytest.raises(CorpusError) as err:
        check_trainable("just a few words", min_chars=1234)
    message = str(err.value)
    assert "too short" in message
    assert "16 characters" in message
    assert "1,234" in message


def test_check_trainable_accepts_enough_text():
    check_trainable("x" * 100, min_chars=100)


# --- vocabulary -----------------------------------------------------------------------------------
def test_vocabulary_json_round_trip():
    vocab = Vocabulary.from_text(PROSE + "\t€😀")
    again = Vocabulary.from_json(vocab.to_json())
    assert again == vocab
    assert again.chars == sorted(set(PROSE + "\t€😀"))


def test_vocabulary_from_json_refuses_garbage():
    for bad in ("not json", "[]", '{"chars": "abc"}', '{"chars": [1, 2]}', '{"chars": ["b", "a"]}'):
        with pytest.raises(CorpusError):
            Vocabulary.from_json(bad)


def test_vocabulary_refuses_invalid_character_lists():
    for bad in ([], ["a", "a"], ["ab", "c"], ["b", "a"]):
        with pytest.raises(CorpusError):
            Vocabulary(bad)


def test_encode_decode_round_trip():
    vocab = Vocabulary.from_text(PROSE)
    ids = vocab.encode(PROSE)
    assert ids.shape == (len(PROSE),)
    assert vocab.decode(ids) == PROSE
    assert [vocab.chars[i] for i in ids] == list(PROSE)
    assert vocab.id_of("C") == vocab.chars.index("C")


def test_ids_use_a_small_dtype():
    small = Vocabulary([chr(c) for c in range(256)])
    assert small.id_dtype == np.uint8
    assert small.encode("".join(small.chars)).dtype == np.uint8
    big = Vocabulary([chr(c) for c in range(257)])
    assert big.id_dtype == np.uint16
    ids = big.encode("".join(big.chars))
    assert ids.dtype == np.uint16
    assert ids.tolist() == list(range(257))


def test_encode_text_longer_than_one_chunk():
    vocab = Vocabulary.from_text(PROSE)
    rng = np.random.default_rng(0)
    picks = rng.integers(0, len(vocab), size=(1 << 20) + 12_345)
    text = "".join(np.array(vocab.chars)[picks])
    ids = vocab.encode(text)
    assert len(ids) == len(text)
    np.testing.assert_array_equal(ids, picks)
    # Small chunks give the same answer.
    np.testing.assert_array_equal(vocab.encode(text[:5000], chunk=7), picks[:5000])


def test_encode_unknown_character_raises_key_error_even_in_a_later_chunk():
    vocab = Vocabulary.from_text("abc")
    with pytest.raises(KeyError) as err:
        vocab.encode("abcabc" + "Z" + "abc", chunk=4)
    assert err.value.args[0] == "Z"
    with pytest.raises(KeyError):
        vocab.encode("ab\U0001f600")  # a code point far above the table


def test_clean_prompt_reports_and_replaces_unseen_characters():
    vocab = Vocabulary.from_text("hello world")
    cleaned, unknown = vocab.clean_prompt("hey, world!")
    assert unknown == ["y", ",", "!"]
    assert cleaned == "he   world "
    assert all(c in vocab for c in cleaned)


def test_clean_prompt_drops_unseen_characters_without_a_space():
    vocab = Vocabulary.from_text("helloworld")
    cleaned, unknown = vocab.clean_prompt("hello, world")
    assert unknown == [",", " "]
    assert cleaned == "helloworld"
    cleaned, unknown = vocab.clean_prompt("hello, world", replace_with=None)
    assert cleaned == "helloworld"


def test_lowercase_vocabulary_lowercases_prompts():
    vocab = Vocabulary.from_text("hello world")
    assert vocab.clean_prompt("HELLO World") == ("hello world", [])


def test_mixed_case_vocabulary_keeps_case():
    vocab = Vocabulary.from_text("Hello world")
    cleaned, unknown = vocab.clean_prompt("HELLO")
    assert unknown == ["E", "L", "O"]
    assert cleaned == "H    "


def test_clean_prompt_normalises_line_endings():
    vocab = Vocabulary.from_text("ab\n")
    assert vocab.clean_prompt("a\r\nb\ra") == ("a\nb\na", [])


# --- statistics ------------------------------------------------------------------------------------
def test_corpus_stats_on_a_known_text():
    stats = corpus_stats("the cat\nthe hat\nend")
    assert stats.chars == 19
    assert stats.unique_chars == 9  # t h e space c a n d \n
    assert stats.lines == 3
    assert stats.words == 5
    assert stats.top_chars[0] == ("t", 4)
    assert dict(stats.top_chars)["\n"] == 2
    assert sum(n for _, n in stats.top_chars) == 19


def test_corpus_stats_edge_cases():
    assert corpus_stats("").lines == 0
    assert corpus_stats("a\n").lines == 1
    assert corpus_stats("abcdef", top=2).top_chars == [("a", 1), ("b", 1)]


# --- issue 9 -------------------------------------------------------------------------------------------
def test_a_vocabulary_file_holds_real_characters_and_no_more_than_the_cap():
    from charlstm.text import MAX_VOCAB

    with pytest.raises(CorpusError, match="broken half"):
        Vocabulary.from_json(json.dumps({"chars": ["a", "\ud800"]}))  # json.dumps escapes it; loads restores it
    too_many = [chr(0x4E00 + i) for i in range(MAX_VOCAB + 1)]
    with pytest.raises(CorpusError, match=f"{MAX_VOCAB + 1:,} characters"):
        Vocabulary.from_json(json.dumps({"chars": too_many}))
    assert len(Vocabulary.from_json(json.dumps({"chars": too_many[:-1]}))) == MAX_VOCAB


@pytest.mark.timeout(20)
def test_a_named_pipe_or_a_device_is_refused_without_reading(tmp_path):
    pipe = tmp_path / "pipe.txt"
    os.mkfifo(pipe)  # opening it for reading would wait for a writer for ever
    for path in (pipe, Path("/dev/zero")):
        with pytest.raises(CorpusError, match="not a regular file"):
            read_corpus(path)


def test_short_text_advice_names_the_length_in_pages_and_stops_at_the_threshold():
    from charlstm.text import SHORT_TEXT_CHARS, short_text_advice

    assert "857 characters, less than a page" in short_text_advice(857)
    assert "4,100 characters, about 2 pages" in short_text_advice(4_100)
    assert short_text_advice(SHORT_TEXT_CHARS - 1) is not None and short_text_advice(SHORT_TEXT_CHARS) is None
