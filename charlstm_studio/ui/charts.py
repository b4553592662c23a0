"""Altair charts for the studio. Pure: data in, chart out; no Streamlit, no TensorFlow.

Losses are drawn in bits per character (nats / ln 2): "how many yes/no questions the model still
needs per character". Lower is better; 0 would mean it always knows the next character.
"""

from __future__ import annotations

import html
import json
import math
from collections.abc import Sequence

import altair as alt
import numpy as np
import pandas as pd

from charlstm.config import LN2

MAX_POINTS = 400
TRAIN_COLOR, VAL_COLOR = "#4c78a8", "#f58518"
FEW_POINTS = 30  # a loss chart with this many points or fewer marks each one
BPC_AXIS = alt.Axis(format=".2f")  # one point alone would be labelled with all its digits ("6.476402")


def char_label(ch: str) -> str:
    """A visible label for a character: line breaks, spaces and tabs get symbols."""
    return {"\n": "⏎ (new line)", " ": "␣ (space)", "\t": "⇥ (tab)"}.get(ch, ch if ch.isprintable() else repr(ch))


def char_symbol(ch: str) -> str:
    """One visible symbol per character, for a chart column that is one character wide: ␣ space, ⏎ line break."""
    return {"\n": "⏎", " ": "␣", "\t": "⇥"}.get(ch, ch if ch.isprintable() else "�")


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


STEP = "training step"  # one batch of text pieces read, guessed and learnt from


def batch_loss_chart(batch_losses: Sequence[float], max_points: int = MAX_POINTS) -> alt.Chart:
    """Training loss per step (bits/char), thinned for long runs. "Step", not "batch": a newcomer reads the
    word in the help box under the charts (widgets.HELP["step"]) and nowhere else."""
    x, y = thin(batch_losses, max_points)
    df = pd.DataFrame({STEP: x, "bits per character": y / LN2})
    return (
        alt.Chart(df, title="Loss at each training step (lower is better)")
        .mark_line(color=TRAIN_COLOR, point=len(df) <= FEW_POINTS)  # a line of one point draws nothing
        .encode(
            x=alt.X(f"{STEP}:Q", title=STEP, axis=alt.Axis(format="d", tickMinStep=1)),
            y=alt.Y("bits per character:Q", scale=alt.Scale(zero=False), axis=BPC_AXIS),
            tooltip=[alt.Tooltip(f"{STEP}:Q"), alt.Tooltip("bits per character:Q", format=".3f")],
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
        # Beside the plot: inside it covered the curves' start, and above or below it Streamlit fits the whole
        # chart into its height, which squashed the plot to a third of the batch chart's beside it
        legend=alt.Legend(orient="right", title=None),
    )
    return (
        alt.Chart(df, title="Loss per epoch (lower is better)")
        .mark_line(point=True)
        .encode(
            x=alt.X("epoch:Q", title="epoch", axis=alt.Axis(format="d", tickMinStep=1)),
            y=alt.Y("bits per character:Q", scale=alt.Scale(zero=False), axis=BPC_AXIS),
            color=color,
            tooltip=["epoch:Q", "measured on:N", alt.Tooltip("bits per character:Q", format=".3f")],
        )
        .properties(height=260)
    )


def copied_chart(points: Sequence[tuple[int, float]]) -> alt.Chart:
    """The share of each epoch's samples copied word for word from the training text: rising means memorising."""
    df = pd.DataFrame(points, columns=["epoch", "copied"])
    return (
        alt.Chart(df, title="How much of its samples it copies from its text")
        .mark_line(point=True, color="#6a3d9a")
        .encode(
            x=alt.X("epoch:Q", axis=alt.Axis(format="d", tickMinStep=1)),
            y=alt.Y(
                "copied:Q",
                axis=alt.Axis(format="%", values=[0, 0.5, 1]),
                scale=alt.Scale(domain=[0, 1]),
                title="copied",
            ),
            tooltip=["epoch:Q", alt.Tooltip("copied:Q", format=".0%")],
        )
        .properties(height=170)  # at 130 px its title was cut and a line at 0% read as a bar
    )


MOMENTS = ["shown above", "another moment"]


def timelapse_chart(history: Sequence, snapshots: Sequence, chosen: int) -> alt.Chart:
    """The loss per epoch with the time-lapse's points on it; the point being shown is big and red.

    `snapshots` hold SnapshotRecords (at_epoch, loss in nats); a point sits where its training loss was then.
    """
    points = pd.DataFrame(
        {
            "epoch": [s.at_epoch for s in snapshots],
            "bits per character": [s.loss / LN2 for s in snapshots],
            "shown": [MOMENTS[0] if i == chosen else MOMENTS[1] for i in range(len(snapshots))],
        }
    )
    marks = (
        alt.Chart(points)
        .mark_point(filled=True)
        .encode(
            x="epoch:Q",
            y="bits per character:Q",
            size=alt.Size(
                "shown:N", scale=alt.Scale(domain=["shown above", "another moment"], range=[220, 40]), legend=None
            ),
            color=alt.Color(
                "shown:N",
                scale=alt.Scale(domain=["shown above", "another moment"], range=["#d62728", "#888"]),
                legend=None,
            ),
            tooltip=[alt.Tooltip("epoch:Q", format=".1f"), alt.Tooltip("bits per character:Q", format=".2f")],
        )
    )
    return alt.layer(epoch_chart(history), marks).properties(title="Where that moment is on the loss curve")


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


NEXT_CHAR_TOP = 10
NEXT_CHAR_ROW_PX = 28  # bar pixels per character (split between T and T = 1): room for a 14 px label


def top_next_chars(
    probs_t: Sequence[float] | np.ndarray, probs_1: Sequence[float] | np.ndarray, top: int = NEXT_CHAR_TOP
) -> np.ndarray:
    """Indices of the likeliest next characters (at T or as trained), likeliest first: bars and buttons agree."""
    p_t, p_1 = np.asarray(probs_t, dtype=np.float64), np.asarray(probs_1, dtype=np.float64)
    return np.argsort(-np.maximum(p_t, p_1), kind="stable")[:top]


def next_char_chart(
    chars: Sequence[str],
    probs_t: Sequence[float],
    probs_1: Sequence[float],
    temperature: float,
    top: int = NEXT_CHAR_TOP,
    setting: str | None = None,
) -> alt.Chart:
    """What the model would write next: horizontal bars of the likeliest characters at T next to T = 1.

    Bars are horizontal so labels like "⏎ (new line)" stay readable on a phone; the axis ends a little
    past the largest bar, so a young model's flat 8 % and 6 % are not squeezed against a 0-100 % axis.
    `setting` names more than a temperature (top-k, top-p, a loop guard): the characters it removes get no bar.
    """
    p_t, p_1 = np.asarray(probs_t, dtype=np.float64), np.asarray(probs_1, dtype=np.float64)
    order = top_next_chars(p_t, p_1, top)
    t_name = f"with {setting}" if setting else f"at T = {temperature:g}"
    one_name = "at T = 1 (as trained)"
    rows = []
    for i in order:
        label = char_label(chars[int(i)])
        rows.append({"character": label, "probability": float(p_t[i]), "temperature": t_name})
        if t_name != "at T = 1":
            rows.append({"character": label, "probability": float(p_1[i]), "temperature": one_name})
    df = pd.DataFrame(rows)
    domain = [t_name] if t_name == "at T = 1" else [t_name, one_name]
    high = min(1.0, max(0.05, float(df["probability"].max()) * 1.1))
    return (
        alt.Chart(df, title="Which character comes next?")
        .mark_bar()
        .encode(
            y=alt.Y(
                "character:N",
                sort=[char_label(chars[int(i)]) for i in order],
                title=None,
                axis=alt.Axis(labelFontSize=14, labelLimit=160, labelOverlap=False),
            ),
            yOffset=alt.YOffset("temperature:N", sort=domain),
            x=alt.X("probability:Q", axis=alt.Axis(format="%", title="chance"), scale=alt.Scale(domain=[0, high])),
            color=alt.Color(
                "temperature:N",
                scale=alt.Scale(domain=domain, range=[VAL_COLOR, "#bab0ac"][: len(domain)]),
                legend=alt.Legend(orient="bottom", title=None),
            ),
            tooltip=["character:N", "temperature:N", alt.Tooltip("probability:Q", format=".1%")],
        )
        .properties(height=alt.Step(NEXT_CHAR_ROW_PX // len(domain)))  # a step per bar: never squeezed by axis, legend
    )


# --- surprise shading and cell colouring (HTML: one span per character, everything escaped) ------------------
BLUE, RED = (33, 102, 172), (178, 24, 43)  # the ends of a blue-white-red scale (ColorBrewer RdBu)
SURPRISE_RGB = (245, 133, 24)


def surprise_scale(bits: Sequence[float]) -> tuple[float, float]:
    """The range shading spans: the text's own 5th to 95th percentile of surprise (in bits).

    A young model finds everything surprising (4 to 6 bits); a fixed 0-8 scale would paint it all the same
    colour. Scaling to the text keeps the contrast; the legend prints the numbers.
    """
    values = np.asarray(bits, dtype=np.float64)
    if values.size == 0:
        return 0.0, 1.0
    low, high = np.percentile(values, [5, 95])
    return float(low), float(max(high, low + 0.5))


def _char_html(ch: str) -> str:
    return "⏎\n" if ch == "\n" else html.escape(ch)


def _box(body: str) -> str:
    return (
        '<div style="font-family: monospace; white-space: pre-wrap; line-height: 1.6; padding: 0.5rem; '
        'border: 1px solid rgba(128,128,128,0.3); border-radius: 0.5rem">' + body + "</div>"
    )


COPIED_STYLE = "text-decoration: underline 3px #6a3d9a; text-underline-offset: 3px"  # a copied character
COPIED_BACKGROUND = "rgba(106, 61, 154, 0.16)"  # ... when nothing else colours its background


def surprise_html(
    text: str,
    bits: Sequence[float],
    prompt: str = "",
    scale: tuple[float, float] | None = None,
    copied: Sequence[bool] | np.ndarray = (),
) -> str:
    """Each character on an orange background as strong as its surprise (bits), scaled to `scale`; escaped.
    Characters marked in `copied` (found word for word in the training text) are underlined in purple."""
    low, high = scale or surprise_scale(bits)
    marked = np.zeros(len(text), bool)
    marked[: len(copied)] = np.asarray(copied, dtype=bool)[: len(text)]
    spans = [f"<b>{html.escape(prompt)}</b>"] if prompt else []
    for t, (ch, b) in enumerate(zip(text, bits, strict=False)):
        alpha = float(np.clip((b - low) / (high - low), 0.0, 1.0))
        line = f"; {COPIED_STYLE}" if marked[t] else ""
        spans.append(
            f'<span title="{2.0**-b:.0%} likely, {b:.1f} bits" '
            f'style="background: rgba{(*SURPRISE_RGB, round(alpha, 2))}{line}">'
            f"{_char_html(ch)}</span>"
        )
    return _box("".join(spans))


def difference_html(prompt: str, text: str, differ: int | None) -> str:
    """A written text after its prompt (bold), marked from the first character where it differs from another."""
    same, rest = (text, "") if differ is None else (text[:differ], text[differ:])
    marked = f'<span style="background: rgba(214, 39, 40, 0.15)">{html.escape(rest)}</span>' if rest else ""
    return _box(f"<b>{html.escape(prompt)}</b>{html.escape(same)}{marked}")


def copied_html(text: str, copied: Sequence[bool] | np.ndarray, prompt: str = "") -> str:
    """The text with the stretches found word for word in the training text marked (purple); escaped."""
    marked = np.asarray(copied, dtype=bool)
    parts = [f"<b>{html.escape(prompt)}</b>"] if prompt else []
    start = 0
    for end in [*np.flatnonzero(np.diff(marked.astype(np.int8))) + 1, len(text)]:
        piece = "".join(_char_html(ch) for ch in text[start:end])
        if start < len(marked) and marked[start]:
            piece = f'<span title="copied" style="background: {COPIED_BACKGROUND}; {COPIED_STYLE}">{piece}</span>'
        parts.append(piece)
        start = end
    return _box("".join(parts))


def surprise_legend_html(scale: tuple[float, float]) -> str:
    """A colour bar with its numbers: what the lightest and the strongest shading mean."""
    low, high = scale
    r, g, b = SURPRISE_RGB
    return (
        '<div style="display:flex; align-items:center; gap:0.5rem; font-size:0.85rem">'
        f"<span>expected ({low:.1f} bits or less)</span>"
        f'<span style="flex:0 0 8rem; height:0.9rem; border:1px solid rgba(128,128,128,0.4); '
        f'background: linear-gradient(to right, rgba({r},{g},{b},0), rgba({r},{g},{b},1))"></span>'
        f"<span>surprising ({high:.1f} bits or more)</span></div>"
    )


def activation_color(value: float) -> str:
    """Blue for -1, white for 0, red for +1 (the paper's colours)."""
    v = float(np.clip(value, -1.0, 1.0))
    end = RED if v > 0 else BLUE
    mix = [round(255 + (c - 255) * abs(v)) for c in end]
    return f"rgb({mix[0]},{mix[1]},{mix[2]})"


def activation_html(text: str, values: Sequence[float] | np.ndarray, marks: Sequence[tuple[int, int]] = ()) -> str:
    """The text coloured by one cell (-1 blue, 0 white, +1 red); `marks` (start, end) get underlined."""
    marked = np.zeros(len(text), bool)
    for start, end in marks:
        marked[start:end] = True
    spans = []
    for t, (ch, v) in enumerate(zip(text, values, strict=False)):
        line = "text-decoration: underline 2px; " if marked[t] else ""
        spans.append(
            f'<span title="{float(v):+.2f}" style="{line}color: #111; background: {activation_color(v)}">'
            f"{_char_html(ch)}</span>"
        )
    return _box("".join(spans))


def activation_legend_html() -> str:
    """The colour bar under a coloured text, in words: what blue, white and red stand for."""
    return (
        '<div style="display:flex; flex-wrap:wrap; align-items:center; gap:0.5rem; font-size:0.85rem">'
        "<span>blue: low (−1)</span>"
        '<span style="flex:0 0 8rem; height:0.9rem; border:1px solid rgba(128,128,128,0.4); background: '
        f'linear-gradient(to right, {activation_color(-1)}, #fff, {activation_color(1)})"></span>'
        "<span>red: high (+1)</span></div>"
    )


HEATMAP_ROW_PX = 24


def cell_heatmap(
    values: np.ndarray, text: str, cells: Sequence[int], offset: int = 0, stretch: tuple[int, int] | None = None
) -> alt.Chart:
    """A row per cell, a column per character, blue-white-red; every row and every column is labelled.

    Give it a short text (a stretch and the characters around it): each column is named by its character
    (␣ for a space, ⏎ for a line break), which only stays readable, on a phone too, for a few dozen columns.
    `offset` is the position of text[0] in the whole text (for the tooltip); `stretch` (start, end), relative
    to `text`, gets bold red column labels and outlined cells.
    """
    n = min(len(text), values.shape[0])
    cells = [int(c) for c in cells]
    a, b = stretch or (0, 0)
    positions = np.arange(n)
    df = pd.DataFrame(
        {
            "position": np.tile(positions + offset, len(cells)),
            "character": [char_label(ch) for ch in text[:n]] * len(cells),
            "cell": np.repeat([f"cell {c}" for c in cells], n),
            "activation": values[:n, cells].T.reshape(-1).astype(float),
            "in stretch": np.tile((positions >= a) & (positions < b), len(cells)),
        }
    )
    return (
        alt.Chart(df, title="Cells around the stretch")
        .mark_rect()
        .encode(
            x=alt.X("position:O", title=None, axis=_character_axis(text[:n], offset, a + offset, b + offset)),
            y=alt.Y("cell:N", sort=[f"cell {c}" for c in cells], title=None, axis=alt.Axis(labelOverlap=False)),
            color=alt.Color(
                "activation:Q",
                scale=alt.Scale(scheme="redblue", domain=[-1, 1], reverse=True),
                legend=alt.Legend(title="activation", orient="bottom", direction="horizontal", values=[-1, 0, 1]),
            ),
            stroke=alt.condition("datum['in stretch']", alt.value("#111"), alt.value(None)),
            tooltip=[
                alt.Tooltip("position:O", title="character number"),
                "character:N",
                "cell:N",
                alt.Tooltip("activation:Q", format="+.2f"),
            ],
        )
        .properties(height=alt.Step(HEATMAP_ROW_PX))
    )


def _character_axis(text: str, offset: int, start: int, end: int) -> alt.Axis:
    """Columns named by their characters (Vega-Lite would print the position numbers), none dropped."""
    names = json.dumps([char_symbol(ch) for ch in text], ensure_ascii=False)
    in_stretch = f"datum.value >= {start} && datum.value < {end}"
    return alt.Axis(
        labelExpr=f"{names}[datum.value - {offset}]",
        labelAngle=0,
        labelOverlap=False,
        labelFont="monospace",
        labelFontSize=12,
        labelFontWeight=alt.condition(in_stretch, alt.value("bold"), alt.value("normal")),
        labelColor=alt.condition(in_stretch, alt.value("#b2182b"), alt.value("#555")),
        ticks=False,
        domain=False,
    )


def cell_ranking_chart(matches: Sequence) -> alt.Chart:
    """Cells worth a look: how closely each follows its property (|r|, 0 to 1), named in words (CellMatch rows)."""
    df = pd.DataFrame(
        {
            "cell": [f"cell {m.cell} · {m.label}" for m in matches],
            "follows": [m.short for m in matches],
            "how closely": [abs(m.r) for m in matches],
            "correlation r": [m.r for m in matches],
        }
    )
    return (
        alt.Chart(df, title="How closely each cell follows")
        .mark_bar(color=VAL_COLOR)
        .encode(
            y=alt.Y("cell:N", sort=None, title=None, axis=alt.Axis(labelOverlap=False, labelLimit=220)),
            x=alt.X(
                "how closely:Q",
                scale=alt.Scale(domain=[0, 1]),
                axis=alt.Axis(title="0: not at all · 1: exactly", values=[0, 0.25, 0.5, 0.75, 1], format=".2~f"),
            ),
            tooltip=["cell:N", "follows:N", alt.Tooltip("correlation r:Q", format="+.2f")],
        )
        .properties(height=alt.Step(28))
    )
