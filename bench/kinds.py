"""Section 5: presets on several kinds of text, against a plain baseline and the seed's method.

Each contender trains in a fresh process (so one's memory and threads never touch another's) on the
first 90% of each text for the same budget, Start to finished, and is scored on the last 10% by
`Generator.score`, what `charlstm score` runs. Identical text, identical split, one run.

Also runnable alone, for tuning: `python -m bench.kinds --kinds german,python-source --contenders
baseline,quick --budget 150 --set units=192` prints one line per contender and text.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from .common import LN2, Section, Table, Target, fmt, run_worker, skipped
from .modes import Mode
from .texts import LOADERS, load_kinds

TITLE = "5. Presets on several kinds of text"
QUICK_MARGIN = 0.05  # quick must beat the plain baseline by this many nats on every text
QUALITY_MARGIN = 0.10  # quality must beat quick by this many on every text
MEMORY_TARGET_MB = 350.0  # a training process above a bare `import tensorflow, keras`


def measure(args: dict[str, Any]) -> dict[str, Any]:
    """In a fresh process: train one contender on one text's first 90%, score it on the last 10%."""
    from charlstm.generate import Generator

    from . import contenders
    from .common import import_tensorflow, peak_rss_mb, reset_peak, rss_mb
    from .texts import load_kind

    out: dict[str, Any] = import_tensorflow()
    kind = load_kind(args["kind"])
    if args.get("lowercase"):  # section 1's text and split, for tuning against its targets
        kind = replace(kind, text=kind.text.lower())
    if args.get("chars"):  # a short text (a diary's size): its first characters, split the same way
        kind = replace(kind, text=kind.text[: int(args["chars"])])
    reset_peak()
    base_rss = rss_mb()
    started = time.monotonic()
    trained = contenders.train(args["contender"], kind.train, float(args["budget"]), args.get("overrides", {}), started)
    waited = time.monotonic() - started
    peak = peak_rss_mb()
    score = Generator(trained.weights, trained.config, trained.vocab).score(kind.heldout)
    out.update(
        waited=waited,
        nats=score.nats,
        scored_chars=score.chars,
        skipped_chars=score.skipped,
        steps=trained.steps,
        chars_per_sec=trained.chars_fed / waited,
        epochs=trained.epochs,
        detail=trained.detail,
        above_import_mb=peak - out["rss_after_import_mb"],
        above_text_mb=peak - base_rss,
        parameters=_parameters(trained),
        curve=trained.curve,
    )
    return out


def _parameters(trained) -> int:
    return int(sum(a.size for a in trained.weights.values()))


def run_one(
    kind: str,
    contender: str,
    budget: float,
    overrides: dict[str, Any] | None = None,
    lowercase: bool = False,
    chars: int | None = None,
) -> dict[str, Any]:
    args = {
        "kind": kind,
        "contender": contender,
        "budget": budget,
        "overrides": overrides or {},
        "lowercase": lowercase,
        "chars": chars,
    }
    result = run_worker("kind_train", args, timeout=budget + 900)
    return {**args, **result}


# --- the section -----------------------------------------------------------------------------------------
def run(mode: Mode, bench, ctx: dict) -> Section:
    texts, missing = load_kinds(mode.kinds)
    if not texts:
        return skipped("kinds", TITLE, "no benchmark text is available: " + "; ".join(missing.values()))
    section = Section("kinds", TITLE)
    results: list[dict[str, Any]] = []
    for kind in texts:
        for contender, budget in mode.kind_contenders:
            print(f"bench:   {kind.key} / {contender} ({budget:g} s) …", file=sys.stderr, flush=True)
            results.append(run_one(kind.key, contender, budget))
            print(f"bench:   … {results[-1]['nats']:.4f} nats", file=sys.stderr, flush=True)
    for key, why in missing.items():
        section.notes.append(f"{key} skipped: {why}")
    _report(section, texts, results)
    return section


def _report(section: Section, texts, results: list[dict[str, Any]]) -> None:
    rows = [
        [
            r["kind"],
            r["contender"],
            f"{r['budget']:g}",
            fmt(r["waited"], 0),
            f"{r['parameters']:,}",
            f"{r['chars_per_sec']:,.0f}",
            r["epochs"],
            f"{fmt(r['nats'])} / {fmt(r['nats'] / LN2)}",
            fmt(r["above_import_mb"], 0),
        ]
        for r in results
    ]
    sizes = ", ".join(f"{t.key} {len(t.text):,} ({t.source})" for t in texts)
    section.tables.append(
        Table(
            "Scored on the last 10% of each text (one run, side by side)",
            [
                "text",
                "contender",
                "budget s",
                "waited s",
                "parameters",
                "chars fed/s",
                "epochs",
                "nats / bits",
                "MB above TF import",
            ],
            rows,
            note=f"Texts, in characters: {sizes}. Every contender got the first 90%, cased. 'waited': Start to "
            "finished, data preparation and checks included. Score: `Generator.score` (what `charlstm score` runs).",
        )
    )
    section.raw["kinds"] = results
    by = {(r["kind"], r["contender"]): r for r in results}
    _margin_targets(section, texts, by, "quick", "baseline", QUICK_MARGIN)
    _margin_targets(section, texts, by, "quality", "quick", QUALITY_MARGIN)
    for name in ("quick", "quality"):
        peaks = [r["above_import_mb"] for r in results if r["contender"] == name]
        if peaks:
            section.targets.append(
                Target(
                    f"{name}: training process memory above the TensorFlow import (highest)",
                    max(peaks),
                    "<=",
                    MEMORY_TARGET_MB,
                    "MB",
                )
            )


def _margin_targets(section: Section, texts, by: dict, better: str, than: str, margin: float) -> None:
    for t in texts:
        a, b = by.get((t.key, better)), by.get((t.key, than))
        if a is None or b is None:
            continue
        section.targets.append(
            Target(
                f"{t.key}: {than} − {better} (nats)",
                b["nats"] - a["nats"],
                ">=",
                margin,
                "nats",
                cause=f"{better} {a['nats']:.3f}, {than} {b['nats']:.3f}",
            )
        )


# --- tuning from the command line ------------------------------------------------------------------------
def _value(raw: str) -> Any:
    try:
        return json.loads(raw)
    except json.JSONDecodeError:
        return raw


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.kinds")
    p.add_argument("--kinds", default=",".join(LOADERS))
    p.add_argument("--contenders", default="baseline,quick")
    p.add_argument("--budget", type=float, default=150.0)
    p.add_argument("--set", action="append", default=[], help="a preset override, key=value")
    p.add_argument("--log", type=Path, default=Path("/tmp/charlstm-kinds.jsonl"))
    p.add_argument("--lowercase", action="store_true", help="lowercase the text first, as section 1 does")
    p.add_argument("--chars", type=int, help="only each text's first CHARS characters (90%% given, 10%% scored)")
    args = p.parse_args(argv)
    overrides = {k: _value(v) for k, v in (s.split("=", 1) for s in args.set)}
    for kind in args.kinds.split(","):
        for contender in args.contenders.split(","):
            extra = overrides if contender not in ("seed", "baseline") else {}
            r = run_one(kind, contender, args.budget, extra, args.lowercase, args.chars)
            r["when"] = time.strftime("%H:%M:%S")
            with args.log.open("a") as fh:
                fh.write(json.dumps(r) + "\n")
            print(
                f"{kind:14} {contender:9} {json.dumps(extra):40} {r['nats']:.4f} nats  waited {r['waited']:.0f}s  "
                f"{r['chars_per_sec']:,.0f} c/s  ep {r['epochs']} {r['detail']}  +{r['above_import_mb']:.0f} MB",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
