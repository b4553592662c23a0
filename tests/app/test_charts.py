"""Chart builders: pure functions from numbers to Altair specs."""

from __future__ import annotations

import math

import numpy as np

from charlstm.charts import (
    batch_loss_chart,
    char_frequency_chart,
    char_label,
    epoch_chart,
    next_char_chart,
    thin,
)
from charlstm.run import EpochRecord


def rows(chart) -> list[dict]:
    spec = chart.to_dict()
    return next(iter(spec["datasets"].values()))


def test_thin_keeps_short_histories_and_buckets_long_ones():
    x, y = thin([1.0, 2.0, 3.0], max_points=10)
    assert list(x) == [1, 2, 3] and list(y) == [1.0, 2.0, 3.0]
    values = np.arange(10_001, dtype=float)
    x, y = thin(values, max_points=400)
    assert len(x) <= 401
    assert x[-1] == 10_001  # the line reaches the newest batch
    assert y[0] == np.mean(values[:26])


def test_batch_loss_chart_is_in_bits_per_char_and_thinned():
    data = rows(batch_loss_chart([math.log(2) * 3] * 5000, max_points=100))
    assert len(data) <= 101
    assert all(abs(r["bits per character"] - 3.0) < 1e-9 for r in data)


def test_epoch_chart_shows_training_and_held_out_loss():
    history = [
        EpochRecord(1, 2.0, 2.2, 2.2 / math.log(2), 0.004, 10, 1.0, 100.0, False),
        EpochRecord(2, 1.5, None, None, 0.004, 10, 2.0, 100.0, False),
    ]
    data = rows(epoch_chart(history))
    assert [(r["epoch"], r["measured on"]) for r in data] == [
        (1, "training text"),
        (1, "held-out text"),
        (2, "training text"),
    ]


def test_character_labels_make_invisible_characters_visible():
    assert char_label(" ").startswith("␣") and char_label("\n").startswith("⏎")
    assert char_label("a") == "a"
    data = rows(char_frequency_chart([(" ", 30), ("e", 10)], total=100))
    assert [r["share"] for r in data] == [0.3, 0.1]


def test_next_char_chart_pairs_temperature_with_t1():
    chars = ["a", "b", "c"]
    data = rows(next_char_chart(chars, [0.9, 0.1, 0.0], [0.5, 0.3, 0.2], 0.5, top=2))
    assert {r["character"] for r in data} == {"a", "b"}
    assert {r["temperature"] for r in data} == {"at T = 0.5", "at T = 1 (as trained)"}
    same = rows(next_char_chart(chars, [0.5, 0.3, 0.2], [0.5, 0.3, 0.2], 1.0))
    assert {r["temperature"] for r in same} == {"at T = 1"}
