"""Chart builders: pure functions from numbers to Altair specs."""

from __future__ import annotations

import math

import numpy as np

from charlstm.run import EpochRecord
from charlstm_studio.ui.charts import (
    batch_loss_chart,
    char_frequency_chart,
    char_label,
    epoch_chart,
    next_char_chart,
    thin,
)
from charlstm_studio.ui.widgets import HELP


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
    legend = epoch_chart(history).to_dict()["encoding"]["color"]["legend"]
    assert legend["orient"] in ("left", "right")  # above or below, Streamlit squashed the plot to fit its height


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


def test_next_char_chart_is_horizontal_top_ten_scaled_to_the_data():
    chars = list("abcdefghijklmnop")
    flat = np.full(16, 1 / 16)
    spec = next_char_chart(chars, flat, flat, 1.0).to_dict()
    assert spec["encoding"]["y"]["field"] == "character" and spec["encoding"]["x"]["field"] == "probability"
    assert len({r["character"] for r in rows(next_char_chart(chars, flat, flat, 1.0))}) == 10
    high = spec["encoding"]["x"]["scale"]["domain"][1]
    assert 1 / 16 < high < 0.2  # a flat young model still fills the width
    sure = np.r_[0.97, np.full(15, 0.002)]
    assert next_char_chart(chars, sure, sure, 1.0).to_dict()["encoding"]["x"]["scale"]["domain"][1] == 1.0


def test_surprise_scale_keeps_contrast_for_young_models():
    from charlstm_studio.ui.charts import surprise_html, surprise_scale

    young = np.random.default_rng(0).uniform(4.0, 5.0, 200)
    low, high = surprise_scale(young)
    assert 4.0 <= low < 4.2 and 4.8 < high <= 5.0
    html = surprise_html("ab", [low, high], scale=(low, high))
    assert "0.0)" in html and "1.0)" in html  # lightest and strongest shading both used


def test_activation_colours_and_heatmap():
    from charlstm_studio.ui.charts import activation_color, activation_html, cell_heatmap

    assert activation_color(0) == "rgb(255,255,255)"
    assert activation_color(1) == "rgb(178,24,43)" and activation_color(-1) == "rgb(33,102,172)"
    assert "&lt;" in activation_html("<a", [0.5, -0.5]) and "<a" not in activation_html("<a", [0.5, -0.5])
    values = np.random.default_rng(1).uniform(-1, 1, (30, 8))
    data = rows(cell_heatmap(values, "x" * 30, [5, 2]))
    assert len(data) == 60 and {r["cell"] for r in data} == {"cell 5", "cell 2"}
    assert data[0]["activation"] == values[0, 5] and data[30]["activation"] == values[0, 2]


def test_loss_axes_round_their_labels_even_for_one_point():
    """One point alone makes a one-value axis, which Vega-Lite labels with all its digits ("6.476402")."""
    one = [EpochRecord(1, 4.489, 4.5, 4.5 / math.log(2), 0.004, 10, 1.0, 100.0, False)]
    for chart in (epoch_chart(one), batch_loss_chart([4.489])):
        assert chart.to_dict()["encoding"]["y"]["axis"]["format"] == ".2f"
    assert batch_loss_chart([4.489]).to_dict()["mark"]["point"] is True  # the first loss is a dot, not nothing
    assert batch_loss_chart([4.0] * 1000).to_dict()["mark"]["point"] is False


def test_copied_stretches_are_marked_and_everything_is_escaped():
    from charlstm_studio.ui.charts import copied_html, surprise_html

    text = "ab<cd>ef"
    mask = [False, False, True, True, True, True, False, False]
    body = copied_html(text, mask, prompt="<p>")
    assert body.count('title="copied"') == 1 and "&lt;cd&gt;" in body and "&lt;p&gt;" in body and "<cd>" not in body
    assert copied_html(text, [False] * 8).count('title="copied"') == 0
    shaded = surprise_html(text, [1.0] * 8, copied=mask)
    assert shaded.count("underline 3px") == 4


def test_the_loss_chart_counts_training_steps_in_plain_words():
    """A newcomer reads "training step" on the chart and finds it in the help box under it; "batch" is jargon."""
    spec = batch_loss_chart([1.0, 0.9]).to_dict()
    assert spec["encoding"]["x"]["title"] == "training step"
    assert "batch" not in spec["title"].lower() and "batch" not in spec["encoding"]["x"]["title"]
    assert "training step" in HELP["step"].lower() and "epoch" in HELP["step"]
