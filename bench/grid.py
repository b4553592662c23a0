"""The grid (issue 19): texts of several sizes and kinds x time budgets, what the studio trains for that time.

A cell of 30 s or 150 s trains `quick` beside the plain baseline given the same time; a 15-minute cell trains
`quality` (the studio's choice for 15 minutes), which the table sets beside the same text's 150-s `quick`: the
issue asks whether 15 minutes buy 0.10 nats over 2.5. Every contender gets the same text's first 90% (the same
split), trains in a fresh process and is scored on the last 10% as `charlstm score` does; results go to a log,
one line per training. A size a kind's text does not reach is skipped, and said. `--table LOG` prints a log's
table.

    make bench-grid                                   # the whole grid: hours (15-min budgets on every text)
    python -m bench.grid --sizes 50000,300000 --budgets 150 --log docs/bench-runs/<date>-grid.jsonl
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

from . import kinds
from .texts import load_kind

SIZES = (50_000, 300_000, 1_200_000, 10_000_000)  # a diary, a short book, a long one, a corpus
BUDGETS = (30.0, 150.0, 900.0)
KINDS = ("nietzsche", "german", "python-source")  # prose; verse, jokes and dialogue; source code
TARGET_AT_150 = 0.10  # quick must beat the baseline by this many nats at 150 s, on every text
LONG_BUDGET = 900.0  # from this budget on, the cell trains `quality` and compares it with 150-s `quick`


def contenders_for(budget: float) -> str:
    """What a cell of this budget trains (for bench.kinds): quick and the baseline, or the 15-minute preset."""
    return "quality" if budget >= LONG_BUDGET else "baseline,quick"


LONGER = {"python-source": "python-library"}  # the same text going on, for sizes the short one does not reach


def cells(sizes, budgets, kind_keys) -> tuple[list[tuple[str, int, float]], list[str]]:
    """The (kind, size, budget) cells to train, and a line for each size a text does not reach."""
    todo, skipped = [], []
    for key in kind_keys:
        for size in sizes:
            chosen = next((k for k in (key, LONGER.get(key)) if k and len(load_kind(k).text) >= size), None)
            if chosen is None:
                skipped.append(f"{key}: {size:,} characters asked, its text has {len(load_kind(key).text):,}")
                continue
            todo.extend((chosen, size, budget) for budget in budgets)
    return todo, skipped


def table(log: Path) -> str:
    """The log as a Markdown table: one row a text and budget, the cell's contender beside what it must beat
    (the baseline given the same time; for 15 minutes, the same text's 150-s `quick`)."""
    by_cell: dict[tuple, dict] = defaultdict(dict)
    for line in log.read_text().splitlines():
        r = json.loads(line)
        by_cell[(r["kind"], r["chars"], r["budget"])][r["contender"]] = r
    rows = [
        "| text (characters) | budget | against | its nats | contender | nats | difference | waited | best epoch |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for (key, size, budget), cell in sorted(by_cell.items()):
        if budget >= LONG_BUDGET:
            against, ours = by_cell.get((key, size, 150.0), {}).get("quick"), cell.get("quality")
            label = ("quick, 150 s", "quality")
        else:
            against, ours, label = cell.get("baseline"), cell.get("quick"), ("baseline", "quick")
        if not against or not ours:
            continue
        rows.append(
            f"| {key} ({size:,}) | {budget:.0f} s | {label[0]} | {against['nats']:.3f} | {label[1]} | "
            f"{ours['nats']:.3f} | {ours['nats'] - against['nats']:+.3f} | {ours['waited']:.0f} s | "
            f"{ours['detail'].replace('best epoch ', '')} |"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.grid")
    p.add_argument("--sizes", default=",".join(map(str, SIZES)))
    p.add_argument("--budgets", default=",".join(f"{b:g}" for b in BUDGETS))
    p.add_argument("--kinds", default=",".join(KINDS))
    p.add_argument("--log", type=Path, default=Path("/tmp/charlstm-grid.jsonl"))
    p.add_argument("--table", type=Path, help="print this log's table and stop")
    args = p.parse_args(argv)
    if args.table:
        print(table(args.table))
        return 0
    sizes = [int(s) for s in args.sizes.split(",")]
    budgets = [float(b) for b in args.budgets.split(",")]
    todo, skipped = cells(sizes, budgets, args.kinds.split(","))
    for line in skipped:
        print(f"skipped: {line}", flush=True)
    for key, size, budget in todo:
        kinds.main(["--kinds", key, "--contenders", contenders_for(budget), "--budget", f"{budget:g}",
                    "--chars", str(size), "--log", str(args.log)])  # fmt: skip
    print(table(args.log))
    return 0


if __name__ == "__main__":
    sys.exit(main())
