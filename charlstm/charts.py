"""Altair charts for the studio. Pure: data in, chart out; no Streamlit, no TensorFlow.

Losses are drawn in bits per character (nats / ln 2): "how many yes/no questions the model still
needs per character". Lower is better; 0 would mean it always knows the next character.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import altair as alt
import numpy as np
import pandas as pd

LN2 = math.log(2)
MAX_POINTS = 400
TRAIN_COLOR, VAL_COLOR = "#4c78a8", "#f58518"


def char_label(ch: str) -> str:
    """A visible label for a character: line breaks, spaces and tabs get symbols."""
    return {"\n": "⏎ (new line)", " ": "␣ (space)", "\t": "⇥ (tab)"}.get(ch, ch if ch.isprintable() else repr(ch))


def thin(values: Sequence[float], max_points: int = MAX_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) with at most about `max_points` points: means of equal buckets; x is the bucket's last step.

    A long history (thousands of batches) stays cheap to send and draw, and its trend stays visible.
    """
    y = np.asarray(values, dtype=np.float64)
    n = len(y)
    if n <= max_points:
        return np.arange(1, n + 1), y
    size = math.ceil(n / max_points)
    full = (n // size) * size
    means = y[:full].reshape(-1, size).mean(axis=1)
    xs = np.arange(size, full + 1, size)
    if full < n:  # the newest, partial bucket: keep it, so the line always reaches the latest batch
        means = np.append(means, y[full:].mean())
        xs = np.append(xs, n)
    return xs, means


def batch_loss_chart(batch_losses: Sequence[float], max_points: int = MAX_POINTS) -> alt.Chart:
    """Training loss per batch (bits/char), thinned for long runs."""
    x, y = thin(batch_losses, max_points)
    df = pd.DataFrame({"batch": x, "bits per character": y / LN2})
    return (
        alt.Chart(df, title="Loss per batch (lower is better)")
        .mark_line(color=TRAIN_COLOR)
        .encode(
            x=alt.X("batch:Q", title="batch", axis=alt.Axis(format="d", tickMinStep=1)),
            y=alt.Y("bits per character:Q", scale=alt.Scale(zero=False)),
            tooltip=[alt.Tooltip("batch:Q"), alt.Tooltip("bits per character:Q", format=".3f")],
        )
        .properties(height=260)
    )


def epoch_chart(history: Sequence) -> alt.Chart:
    """Training vs validation loss per epoch, in bits/char. `history` holds EpochRecords."""
    rows = []
    for h in history:
        rows.append({"epoch": h.epoch, "bits per character": h.loss / LN2, "measured on": "training text"})
        if h.val_loss is not None:
            rows.append({"epoch": h.epoch, "bits per character": h.val_loss / LN2, "measured on": "held-out text"})
    df = pd.DataFrame(rows, columns=["epoch", "bits per character", "measured on"])
    color = alt.Color(
        "measured on:N",
        scale=alt.Scale(domain=["training text", "held-out text"], range=[TRAIN_COLOR, VAL_COLOR]),
        legend=alt.Legend(orient="top-right", title=None),
    )
    return (
        alt.Chart(df, title="Loss per epoch (lower is better)")
        .mark_line(point=True)
        .encode(
            x=alt.X("epoch:Q", title="epoch", axis=alt.Axis(format="d", tickMinStep=1)),
            y=alt.Y("bits per character:Q", scale=alt.Scale(zero=False)),
            color=color,
            tooltip=["epoch:Q", "measured on:N", alt.Tooltip("bits per character:Q", format=".3f")],
        )
        .properties(height=260)
    )


def char_frequency_chart(top_chars: Sequence[tuple[str, int]], total: int | None = None) -> alt.Chart:
    """The most common characters of a corpus, as bars (share of all characters)."""
    total = total or sum(n for _, n in top_chars) or 1
    df = pd.DataFrame(
        {
            "character": [char_label(c) for c, _ in top_chars],
            "count": [n for _, n in top_chars],
            "share": [n / total for _, n in top_chars],
        }
    )
    return (
        alt.Chart(df, title="Most common characters")
        .mark_bar(color=TRAIN_COLOR)
        .encode(
            x=alt.X("character:N", sort="-y", title=None, axis=alt.Axis(labelAngle=0)),
            y=alt.Y("share:Q", axis=alt.Axis(format="%"), title="share of the text"),
            tooltip=["character:N", alt.Tooltip("count:Q", format=","), alt.Tooltip("share:Q", format=".2%")],
        )
        .properties(height=240)
    )


def next_char_chart(
    chars: Sequence[str], probs_t: Sequence[float], probs_1: Sequence[float], temperature: float, top: int = 15
) -> alt.Chart:
    """What the model would write next: the likeliest characters at temperature T next to T = 1."""
    p_t, p_1 = np.asarray(probs_t, dtype=np.float64), np.asarray(probs_1, dtype=np.float64)
    order = np.argsort(-np.maximum(p_t, p_1), kind="stable")[:top]
    t_name = f"at T = {temperature:g}"
    one_name = "at T = 1 (as trained)"
    rows = []
    for i in order:
        label = char_label(chars[int(i)])
        rows.append({"character": label, "probability": float(p_t[i]), "temperature": t_name})
        if t_name != "at T = 1":
            rows.append({"character": label, "probability": float(p_1[i]), "temperature": one_name})
    df = pd.DataFrame(rows)
    domain = [t_name] if t_name == "at T = 1" else [t_name, one_name]
    return (
        alt.Chart(df, title="Which character comes next?")
        .mark_bar()
        .encode(
            x=alt.X("character:N", sort=[char_label(chars[int(i)]) for i in order], title=None),
            xOffset=alt.XOffset("temperature:N", sort=domain),
            y=alt.Y("probability:Q", axis=alt.Axis(format="%"), scale=alt.Scale(domain=[0, 1])),
            color=alt.Color(
                "temperature:N",
                scale=alt.Scale(domain=domain, range=[VAL_COLOR, "#bab0ac"][: len(domain)]),
                legend=alt.Legend(orient="bottom", title=None),
            ),
            tooltip=["character:N", "temperature:N", alt.Tooltip("probability:Q", format=".1%")],
        )
        .properties(height=260)
    )
