"""The copy detector (issue 18): index build time and memory at 1, 10 and 100 MB, and lookup time of 2,000 characters.

    python -m bench.copies [--quick] [--sizes 1,10,100] [--lookups 20] [--out PATH]

Each size is built in a fresh process, so that memory one size freed cannot hide the next one's peak. The text:
sentences of the benchmark corpus (lowercased Nietzsche, else Python's docstrings) drawn at random, with about one
character in 40 replaced by another of the corpus' characters, so that it repeats the way a big corpus does (the
same phrases over and over, rarely the same paragraph) rather than one book pasted end to end. Two generated texts
are looked up: 2,000 characters recited from the middle of the text, and 2,000 characters of the corpus' words in
random order (what a model that learnt words but not passages writes) with one 60-character copy spliced in.

Prints a Markdown table and writes the raw numbers as JSON (--out; default in the temporary folder). --quick measures
1 and 10 MB only.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .common import MIB, ROOT, fmt, median, peak_rss_mb, reset_peak, rss_mb

MB = 1_000_000
SIZES_MB = (1, 10, 100)
QUICK_SIZES_MB = (1, 10)
GENERATED_CHARS = 2_000
SPLICED_COPY = 60
MUTATION_EVERY = 40  # characters per random replacement in the big text
OUT = Path(tempfile.gettempdir()) / "charlstm-bench-copies.json"


def base_text() -> tuple[str, str]:
    """The benchmark corpus, lowercased, and what it is."""
    from .corpus import load_bench_text

    bench = load_bench_text()
    if bench is not None:
        return bench.text, f"Nietzsche ({bench.source})"
    from charlstm.corpora import load_python_docs

    return load_python_docs().decode("utf-8").lower(), "Python's docstrings (Nietzsche absent)"


def big_text(base: str, n_chars: int, rng: random.Random) -> str:
    """Sentences of `base` drawn at random, about one character in MUTATION_EVERY replaced, cut to n_chars."""
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", base) if s]
    alphabet = sorted(set(base) - {"\n"})
    parts, size = [], 0
    while size < n_chars:
        s = rng.choice(sentences)
        if len(s) >= MUTATION_EVERY or rng.random() < len(s) / MUTATION_EVERY:
            chars = list(s)
            for _ in range(max(1, round(len(s) / MUTATION_EVERY))):
                chars[rng.randrange(len(chars))] = rng.choice(alphabet)
            s = "".join(chars)
        parts.append(s)
        size += len(s) + 1
    return " ".join(parts)[:n_chars]


def generated_texts(base: str, text: str, rng: random.Random) -> dict[str, str]:
    """The two texts to look up: one recited, one mostly novel."""
    middle = len(text) // 2
    words = base.split()
    novel = []
    while sum(len(w) + 1 for w in novel) < GENERATED_CHARS:
        novel.append(rng.choice(words))
    mostly_novel = " ".join(novel)[:GENERATED_CHARS]
    at = len(mostly_novel) // 2
    copy = text[middle // 2 : middle // 2 + SPLICED_COPY]
    mostly_novel = mostly_novel[:at] + copy + mostly_novel[at + SPLICED_COPY :]
    return {"recited": text[middle : middle + GENERATED_CHARS], "mostly novel": mostly_novel}


def measure(size_mb: float, lookups: int, seed: int = 0) -> dict[str, Any]:
    """In this (fresh) process: make the text, build the index, time the lookups."""
    from charlstm.copies import CopyIndex

    rng = random.Random(seed)
    base, source = base_text()
    text = big_text(base, int(size_mb * MB), rng)
    queries = generated_texts(base, text, rng)
    gc.collect()
    before = rss_mb()
    reset_peak()
    started = time.perf_counter()
    index = CopyIndex.build(text)
    build_s = time.perf_counter() - started
    peak = peak_rss_mb()
    out: dict[str, Any] = {
        "size_mb": size_mb,
        "chars": len(text),
        "source": source,
        "build_s": build_s,
        "index_mib": index.nbytes / MIB,
        "peak_growth_mib": peak - before,
        "held_mib": rss_mb() - before,
        "lookups": {},
    }
    for name, generated in queries.items():
        index.find(generated)  # warm up
        times = []
        for _ in range(lookups):
            t = time.perf_counter()
            found = index.find(generated)
            times.append(time.perf_counter() - t)
        out["lookups"][name] = {"ms": median(times) * 1000, "max_ms": max(times) * 1000, "share": found.copied_share}
    return out


def run_fresh(size_mb: float, lookups: int) -> dict[str, Any]:
    """`measure` in a fresh Python process."""
    proc = subprocess.run(
        [sys.executable, "-m", "bench.copies", "--one", str(size_mb), "--lookups", str(lookups)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            result: dict[str, Any] = json.loads(line[len("RESULT ") :])
            return result
    raise RuntimeError(f"size {size_mb} MB failed (exit {proc.returncode}): {proc.stderr.strip()[-500:]}")


def table(results: list[dict[str, Any]]) -> str:
    """The results as a Markdown table, with a note on what was measured."""
    head = [
        "text MB",
        "build s",
        "index MiB (nbytes)",
        "bytes per character",
        "peak RSS growth MiB",
        "lookup, recited (ms)",
        "lookup, mostly novel (ms)",
        "copied share, recited / novel",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in results:
        rec, nov = r["lookups"]["recited"], r["lookups"]["mostly novel"]
        lines.append(
            "| "
            + " | ".join(
                [
                    f"{r['size_mb']:g}",
                    fmt(r["build_s"], 3),
                    fmt(r["index_mib"], 1),
                    fmt(r["index_mib"] * MIB / r["chars"], 2),
                    fmt(r["peak_growth_mib"], 0),
                    fmt(rec["ms"], 1),
                    fmt(nov["ms"], 1),
                    f"{rec['share']:.2f} / {nov['share']:.2f}",
                ]
            )
            + " |"
        )
    first = results[0]
    lines.append("")
    lines.append(
        f"Text: sentences of {first['source']} drawn at random, one character in {MUTATION_EVERY} replaced. "
        f"Lookups of {GENERATED_CHARS:,} characters, median of {first.get('lookup_count', '?')}; the novel text "
        f"holds one {SPLICED_COPY}-character copy. Peak RSS growth: VmHWM during `CopyIndex.build` above the "
        "process before it (the text itself excluded); each size in a fresh process."
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.copies", description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help=f"only {', '.join(map(str, QUICK_SIZES_MB))} MB")
    p.add_argument("--sizes", help="comma-separated sizes in MB (default: 1,10,100)")
    p.add_argument("--lookups", type=int, default=20, help="lookups timed per generated text (median)")
    p.add_argument("--out", type=Path, default=OUT, help=f"the JSON results (default: {OUT})")
    p.add_argument("--one", type=float, help=argparse.SUPPRESS)  # internal: measure one size in this process
    args = p.parse_args(argv)
    if args.one is not None:
        print("RESULT " + json.dumps(measure(args.one, args.lookups)), flush=True)
        return 0
    sizes = [float(s) for s in args.sizes.split(",")] if args.sizes else QUICK_SIZES_MB if args.quick else SIZES_MB
    results = []
    for size in sizes:
        r = run_fresh(size, args.lookups)
        r["lookup_count"] = args.lookups
        results.append(r)
        print(f"{size:g} MB: built in {r['build_s']:.2f} s, {r['index_mib']:.1f} MiB", file=sys.stderr, flush=True)
    args.out.write_text(json.dumps({"when": time.strftime("%Y-%m-%d %H:%M"), "results": results}, indent=1))
    print(table(results))
    print(f"\n(raw numbers: {args.out})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
