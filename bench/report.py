"""Write one run's results: benchmarks.md (tables, targets, causes), benchmarks.json and loss_vs_time.png."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from charlstm.config import LN2

from . import seed
from .common import Section, Target, fmt

CHART_NAME = "loss_vs_time.png"
MODE_WORDS = {
    "full": "`make bench` (`python -m bench --full`)",
    "quick": "`make bench-quick` (`python -m bench --quick`), with shorter budgets than `make bench`",
    "quality": "`make bench-quality` (`python -m bench --quality --sections kinds`): quality's 15 minutes on "
    "every text",
    "smoke": "`python -m bench --smoke`, with tiny budgets that only check the benchmarks run (the numbers mean "
    "nothing)",
}


def loss_chart(sections: list[Section], path: Path) -> bool:
    """Held-out loss against training seconds for every contender; False when there is nothing to draw."""
    import altair as alt
    import pandas as pd

    from .learning import LEVEL

    learning = next((s for s in sections if s.key == "learning" and s.status == "ok"), None)
    if learning is None:
        return False
    rows = [
        {"contender": c["name"], "seconds": p["seconds"], "nats": p["nats"], "bits": p["nats"] / LN2}
        for c in learning.raw["contenders"]
        for p in c["curve"]
    ]
    df = pd.DataFrame(rows)
    base = alt.Chart(df).encode(
        x=alt.X("seconds:Q", title="training seconds (measuring excluded)"),
        y=alt.Y("nats:Q", title="held-out loss (nats per character)", scale=alt.Scale(zero=False)),
        color=alt.Color("contender:N", legend=alt.Legend(orient="top", title=None)),
    )
    marks = pd.DataFrame({"nats": [LEVEL], "label": [f"{LEVEL:.2f} nats"]})
    rule = alt.Chart(marks).mark_rule(strokeDash=[4, 4], color="gray").encode(y="nats:Q")
    label = alt.Chart(marks).mark_text(align="left", dx=4, dy=-6, color="gray").encode(y="nats:Q", text="label:N")
    level = rule + label
    chart = (base.mark_line() + base.mark_point(filled=True, size=30) + level).properties(
        width=640, height=360, title="charlstm vs the seed's method: held-out loss against training time"
    )
    chart.save(str(path), scale_factor=2)
    return True


def _target_row(t: Target) -> list[str]:
    met = {True: "met", False: "**missed**", None: "not measured" if t.value is None else "inconclusive"}[t.met]
    value = fmt(t.value, 3 if abs(t.value or 0) < 100 else 0) if t.value is not None else "n/a"
    if t.lower_bound and t.value is not None:
        value = "> " + value
    return [t.name, f"{value} {t.unit}".strip(), f"{t.op} {t.threshold:g} {t.unit}".strip(), met]


def _table_md(columns: list[str], rows: list[list[Any]]) -> str:
    def cell(v: Any) -> str:
        return str(v).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(map(cell, columns)) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(map(cell, r)) + " |" for r in rows]
    return "\n".join(lines)


def markdown(meta: dict[str, Any], sections: list[Section], chart: bool) -> str:
    """The whole page: where and how it was measured, every target at a glance, then each section in full."""
    out = [*_header(meta), "", "## Targets", "", *_targets(sections)]
    for s in sections:
        out += _section(s, chart)
    return "\n".join(out).rstrip() + "\n"


def _header(meta: dict[str, Any]) -> list[str]:
    """Title, how the page was made, what the seed's method is, and the machine: enough to judge the numbers."""
    m = meta["machine"]
    how = MODE_WORDS.get(meta["mode"], meta["mode"])
    return [
        "# Benchmarks: charlstm against the seed's method",
        "",
        f"Generated {meta['date']} in {meta['seconds'] / 60:.1f} minutes by {how}.",
        "",
        "Every comparison was measured side by side in this one run on this machine. Raw numbers: "
        f"`{meta['json_name']}`. The seed's method: one-hot windows of {seed.MAXLEN} characters every {seed.STEP}, "
        f"one target per window, LSTM(128), RMSprop(0.01), batch {seed.BATCH_SIZE}, and a generation loop that "
        "calls `model.predict` per character (`bench/seed.py`).",
        "",
        "## Machine",
        "",
        _table_md(
            ["CPU", "cores (usable)", "RAM", "load average at start", "TensorFlow / Keras", "NumPy", "Python"],
            [
                [
                    m["cpu"],
                    f"{m['logical_cores']} ({m['usable_cores']})",
                    f"{m['ram_gb']} GB",
                    " / ".join(map(str, m["load_average"])),
                    f"{m.get('tensorflow', '?')} / {m.get('keras', '?')}",
                    m["numpy"],
                    m["python"],
                ]
            ],
        ),
        "",
        f"Corpus: {meta['corpus']}.",
    ]


def _targets(sections: list[Section]) -> list[str]:
    """Every section's targets in one table, then each one missed (or not measured for a stated cause) and why."""
    out = []
    targets = [(s, t) for s in sections for t in s.targets]
    if targets:
        out.append(
            _table_md(["section", "target", "measured", "wanted", ""], [[s.title, *_target_row(t)] for s, t in targets])
        )
    missed = [(s, t) for s, t in targets if t.met is False or (t.met is None and t.cause)]
    if missed:
        out += ["", "Missed or not measured, and why:", ""]
        for _, t in missed:
            gap = f" (gap {t.gap:+.3g} {t.unit})".replace("  ", " ") if t.gap is not None else ""
            out.append(f"- **{t.name}**{gap}: {t.cause}.")
    return out


def _section(s: Section, chart: bool) -> list[str]:
    """One section: its tables (the long list of points folded away), notes and time; or why it did not run."""
    out = ["", f"## {s.title}", ""]
    if s.status != "ok":
        out.append(f"*{'Skipped' if s.status == 'skipped' else 'Failed'}: {s.reason}*")
        return out
    if s.key == "learning" and chart:
        out += [f"![held-out loss against training time]({CHART_NAME})", ""]
    for t in s.tables:
        if t.title == "Every measured point":
            out += [
                "<details><summary>Every measured point</summary>",
                "",
                _table_md(t.columns, t.rows),
                "",
                "</details>",
                "",
            ]
            continue
        out += [f"**{t.title}**", "", _table_md(t.columns, t.rows), ""]
        if t.note:
            out += [t.note, ""]
    for note in s.notes:
        out.append(f"- {note}")
    out.append(f"\n*Section time: {s.seconds / 60:.1f} min.*")
    return out


def write(out: Path, meta: dict[str, Any], sections: list[Section]) -> None:
    """benchmarks.md at `out`, with the JSON and the chart beside it."""
    out.parent.mkdir(parents=True, exist_ok=True)
    json_path = out.with_suffix(".json")
    meta = {**meta, "json_name": json_path.name}
    try:
        chart = loss_chart(sections, out.parent / CHART_NAME)
    except Exception as exc:  # a chart failure must not lose the numbers
        chart = False
        meta.setdefault("warnings", []).append(f"chart not written: {type(exc).__name__}: {exc}")
    json_path.write_text(json.dumps({"meta": meta, "sections": [s.to_dict() for s in sections]}, indent=1, default=str))
    out.write_text(markdown(meta, sections, chart), encoding="utf-8")
