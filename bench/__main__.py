"""python -m bench [--full | --quick | --quality | --smoke] [--out PATH] [--sections learning,...,kinds] [--kinds ...]

--full (make bench: about 53 min on 2 cores, 2026-12-04) and --quick
(make bench-quick, ~10 min) write benchmarks.md, benchmarks.json and loss_vs_time.png to a folder of
their own, docs/bench-runs/<date>-<time>-<mode>/, unless --out is given. docs/benchmarks.md is the
write-up: sections written by hand from several runs (the grid, the GPU, the tuning) sit beside the
generated ones there, and a rerun must not overwrite them; copy what a run shows into it. --smoke runs
every section with tiny budgets (about 2 minutes) and writes to a scratch folder.
`--sections app` alone takes about 4 minutes in quick mode: it starts a real `charlstm studio` and
drives it with Debian Chromium (/usr/bin/chromium, through Playwright), and skips with the reason
when either is missing.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import traceback
from dataclasses import replace
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")

from . import app_response, generation, kinds, learning, memory, report
from .common import Section, machine_info
from .corpus import ROOT, load_bench_text
from .modes import MODES, with_contenders
from .texts import LOADERS

SECTIONS = {
    "learning": (learning.run, learning.TITLE),
    "generation": (generation.run, generation.TITLE),
    "memory": (memory.run, memory.TITLE),
    "app": (app_response.run, app_response.TITLE),
    "kinds": (kinds.run, kinds.TITLE),
}
SMOKE_OUT = Path(tempfile.gettempdir()) / "charlstm-bench-smoke" / "benchmarks.md"
WRITE_UP = ROOT / "docs" / "benchmarks.md"
RUNS_DIR = ROOT / "docs" / "bench-runs"  # every run's raw results, beside the JSON of earlier ones


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="charlstm against the seed's method, side by side; writes docs/benchmarks.md.",
    )
    group = parser.add_mutually_exclusive_group()
    for name in MODES:
        group.add_argument(f"--{name}", dest="mode", action="store_const", const=name, help=f"{name} budgets")
    parser.add_argument("--out", type=Path, help=f"where to write benchmarks.md (default: a new folder in {RUNS_DIR})")
    parser.add_argument("--sections", default=",".join(SECTIONS), help=f"comma-separated, from: {', '.join(SECTIONS)}")
    parser.add_argument("--kinds", help=f"section 5's texts, comma-separated, from: {', '.join(LOADERS)}")
    parser.add_argument("--contenders", help="section 5's contenders, comma-separated (default: the mode's)")
    args = parser.parse_args(argv)
    args.mode = args.mode or "quick"
    args.sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = sorted(set(args.sections) - set(SECTIONS))
    if unknown:
        parser.error(f"unknown sections: {', '.join(unknown)}")
    args.kinds = tuple(k.strip() for k in args.kinds.split(",")) if args.kinds else None
    if args.kinds and set(args.kinds) - set(LOADERS):
        parser.error(f"unknown texts: {', '.join(sorted(set(args.kinds) - set(LOADERS)))}")
    if args.out is None:
        args.out = SMOKE_OUT if args.mode == "smoke" else default_out(args.mode)
    return args


def default_out(mode: str) -> Path:
    """A new folder per run: docs/benchmarks.md, written by hand around generated tables, is never overwritten."""
    return RUNS_DIR / f"{time.strftime('%Y-%m-%d-%H%M')}-{mode}" / "benchmarks.md"


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    mode = MODES[args.mode]
    if args.kinds:
        mode = replace(mode, kinds=args.kinds)
    if args.contenders:
        mode = with_contenders(mode, [c.strip() for c in args.contenders.split(",") if c.strip()])
    started = time.monotonic()
    machine = machine_info()
    bench = load_bench_text()
    corpus = (
        f"Nietzsche ({len(bench.text):,} characters, lowercased; read from {bench.source}); the last 10% "
        f"({len(bench.heldout):,} characters) is held out"
        if bench is not None
        else "Nietzsche not available: Nietzsche-only parts are skipped"
    )
    print(f"bench: {args.mode} mode, sections {', '.join(args.sections)} -> {args.out}", file=sys.stderr)
    ctx: dict = {}
    sections: list[Section] = []
    failed = False
    for key in sorted(args.sections, key=list(SECTIONS).index):  # learning first: later sections reuse its models
        fn, title = SECTIONS[key]
        t = time.monotonic()
        print(f"bench: {title} …", file=sys.stderr, flush=True)
        try:
            section = fn(mode, bench, ctx)
        except Exception as exc:
            traceback.print_exc()
            section, failed = Section(key, title, status="error", reason=f"{type(exc).__name__}: {exc}"), True
        section.seconds = time.monotonic() - t
        sections.append(section)
        print(f"bench: {title}: {section.status} in {section.seconds:.0f} s {section.reason}", file=sys.stderr)
        for target in section.targets:
            state = {True: "met", False: "MISSED", None: "n/a"}[target.met]
            print(
                f"  {state:6} {target.name}: {target.value} {target.unit} ({target.op} {target.threshold:g})",
                file=sys.stderr,
            )
        meta = {
            "mode": args.mode,
            "date": time.strftime("%Y-%m-%d %H:%M %Z"),
            "seconds": time.monotonic() - started,
            "machine": machine,
            "corpus": corpus,
            "sections": args.sections,
        }
        report.write(args.out, meta, sections)  # after every section, so a long run keeps what it has
    print(f"bench: wrote {args.out} ({(time.monotonic() - started) / 60:.1f} min)", file=sys.stderr)
    if args.out.resolve() != WRITE_UP.resolve():
        print(f"bench: {WRITE_UP.relative_to(ROOT)} is the write-up: copy into it what this run shows", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
