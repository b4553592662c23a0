"""The grid's cells and table (bench/grid.py): the sizes a text reaches, both contenders side by side."""

from __future__ import annotations

import json

from bench import grid, texts
from bench.texts import load_kind


def test_a_size_the_text_does_not_reach_is_skipped_and_said():
    todo, skipped = grid.cells([50_000, 10**9], [30.0, 150.0], ["python-source"])
    assert todo == [("python-source", 50_000, 30.0), ("python-source", 50_000, 150.0)]
    assert len(skipped) == 1 and "1,000,000,000 characters asked" in skipped[0]


def test_a_corpus_sized_cell_reads_the_same_source_going_on():
    """10 MB of code: python-source's text (what the smaller cells read), then the standard library's packages."""
    todo, skipped = grid.cells([10_000_000], [150.0], ["python-source"])
    assert todo == [("python-library", 10_000_000, 150.0)] and skipped == []
    library, source = load_kind("python-library").text, load_kind("python-source").text
    assert len(library) == texts.LIBRARY_CHARS and library.startswith(source)


def test_the_table_puts_both_contenders_of_a_cell_side_by_side(tmp_path):
    log = tmp_path / "grid.jsonl"
    rows = [
        {"kind": "german", "chars": 50_000, "budget": 150.0, "contender": "baseline", "nats": 2.5, "waited": 150.1,
         "detail": ""},
        {"kind": "german", "chars": 50_000, "budget": 150.0, "contender": "quick", "nats": 2.2, "waited": 41.0,
         "detail": "best epoch 60 of 88"},
        {"kind": "german", "chars": 300_000, "budget": 150.0, "contender": "quick", "nats": 1.9, "waited": 150.0,
         "detail": ""},  # its baseline is missing: no row
    ]  # fmt: skip
    log.write_text("".join(json.dumps(r) + "\n" for r in rows))
    lines = grid.table(log).splitlines()
    assert len(lines) == 3
    assert lines[2] == "| german (50,000) | 150 s | baseline | 2.500 | quick | 2.200 | -0.300 | 41 s | 60 of 88 |"


def test_a_fifteen_minute_cell_trains_quality_and_is_set_beside_the_150_s_quick(tmp_path):
    assert grid.contenders_for(150.0) == "baseline,quick" and grid.contenders_for(900.0) == "quality"
    log = tmp_path / "grid.jsonl"
    rows = [
        {"kind": "german", "chars": 300_000, "budget": 150.0, "contender": "quick", "nats": 1.9, "waited": 150.0,
         "detail": "best epoch 39 of 52"},
        {"kind": "german", "chars": 300_000, "budget": 900.0, "contender": "quality", "nats": 1.75, "waited": 600.0,
         "detail": "best epoch 40 of 50"},
        {"kind": "german", "chars": 50_000, "budget": 900.0, "contender": "quality", "nats": 2.1, "waited": 90.0,
         "detail": ""},  # no 150-s quick for this text: no row
    ]  # fmt: skip
    log.write_text("".join(json.dumps(r) + "\n" for r in rows))
    lines = grid.table(log).splitlines()
    row = "| german (300,000) | 900 s | quick, 150 s | 1.900 | quality | 1.750 | -0.150 | 600 s | 40 of 50 |"
    assert lines[2:] == [row]
