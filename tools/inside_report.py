"""Write docs/inside.md: what the ranking finds inside the Nietzsche starter, and how fast the analysis is.

    python tools/inside_report.py            (needs assets/models/nietzsche.zip and the shared seed corpus)

Held-out text: the last `val_fraction` of Nietzsche, which training never saw. Every number in the page is
computed here; nothing is typed by hand.
"""

from __future__ import annotations

import datetime
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from charlstm import inside  # noqa: E402
from charlstm.starters import get_starter, starter_dir  # noqa: E402
from charlstm.store import load_generator  # noqa: E402
from charlstm.text import decode_bytes  # noqa: E402
from tools.make_starter_models import shared_nietzsche  # noqa: E402

HELD_OUT_CHARS = 20_000
SPEED_CHARS = 2_000
REPEATS = 5
TARGET_R = 0.5


def held_out_text(val_fraction: float) -> str:
    text = decode_bytes(shared_nietzsche().read_bytes(), name="nietzsche").text
    return text[int(len(text) * (1 - val_fraction)) :][:HELD_OUT_CHARS]


def speed(gen, text: str) -> float:
    """Median seconds to trace `text` and rank every cell (what the Inside page does per text)."""
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        trace = gen.trace(text)
        inside.rank_cells(inside.activations(trace, gen.config.cell), trace.text)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _size(match: inside.CellMatch) -> float:
    return abs(match.r)


def report() -> str:
    starter = get_starter("nietzsche")
    gen = load_generator(starter_dir("nietzsche"))
    text = held_out_text(gen.config.val_fraction)
    trace = gen.trace(text)
    acts = inside.activations(trace, gen.config.cell)
    ranked = inside.rank_cells(acts, trace.text, top=10)
    per_property = [inside.best_for(acts, trace.text, p.key) for p in inside.PROPERTIES]
    seconds = speed(gen, text[:SPEED_CHARS])
    best = ranked[0]
    memory = max((m for m, p in zip(per_property, inside.PROPERTIES, strict=True) if p.needs_memory), key=_size)
    verdict = "met" if abs(best.r) >= TARGET_R else "**missed**"
    lines = [
        "# Inside the LSTM: what the ranking finds",
        "",
        f"Written by `python tools/inside_report.py` on {datetime.date.today().isoformat()} "
        f"({platform.machine()}, Python {platform.python_version()}). Do not edit by hand.",
        "",
        f"Model: the Nietzsche starter (`starter:nietzsche`, {starter.card.get('held_out_bpc', '?')} bits/char "
        "held out), "
        f"{gen.config.layers} x {gen.config.cell.upper()}({gen.config.units}); activation: tanh(c) of the last layer.",
        f"Text: the first {len(trace.text):,} characters of the held-out {gen.config.val_fraction:.0%} of Nietzsche "
        "(never trained on).",
        "",
        f"**Best cell: cell {best.cell}, {best.label}, r = {best.r:+.3f}** (target |r| >= {TARGET_R}: {verdict}).",
        "",
        "Some properties are about the character just read (a space, punctuation, upper case, a digit), so a cell "
        "can follow them straight from the input. Of those that need memory of earlier characters (inside quotes or "
        f"brackets, position in the line or word, after a full stop) the best is **cell {memory.cell}, {memory.label}, "
        f"r = {memory.r:+.3f}**.",
        "",
        "## Cells worth a look (the page's ranking)",
        "",
        "| rank | cell | follows | r |",
        "| --- | --- | --- | --- |",
        *[f"| {i} | {m.cell} | {m.label} | {m.r:+.3f} |" for i, m in enumerate(ranked, 1)],
        "",
        "## The best cell for each property",
        "",
        "| property | cell | r |",
        "| --- | --- | --- |",
        *[f"| {m.label} | {m.cell} | {m.r:+.3f} |" for m in per_property],
        "",
        "## Speed",
        "",
        f"Tracing {SPEED_CHARS:,} characters (h and c of every cell after every character) and ranking every cell "
        f"against every property: **{seconds:.3f} s** (median of {REPEATS}; target: under 1 s).",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    out = ROOT / "docs" / "inside.md"
    out.write_text(report(), encoding="utf-8")
    print(out.read_text(encoding="utf-8"))
