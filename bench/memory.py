"""Section 3: memory. Peak RSS of data preparation and of a whole training process, seed vs charlstm,
each in a fresh process; then charlstm's data preparation on 1 -> 10 -> 100 MB of real text."""

from __future__ import annotations

from .common import MIB, Section, Table, Target, fmt, median
from .common import run_worker as worker
from .corpus import NO_NIETZSCHE, BenchText
from .modes import Mode
from .seed import MAXLEN, STEP, onehot_bytes

TITLE = "3. Memory"
MB = 1_000_000
LINEAR_TARGET = 1.5  # seconds per MB at the largest size / at the middle size
FLAT_TARGET = 0.25  # bytes per character: growth of memory beyond the text and the ids


def run(mode: Mode, bench: BenchText | None, ctx: dict) -> Section:
    """Seed vs charlstm on Nietzsche, then scaling; every process's import baseline is stated once, first."""
    section = Section("memory", TITLE)
    imports: list[float] = []
    if bench is None:
        section.notes.append(f"Seed vs charlstm on Nietzsche skipped: {NO_NIETZSCHE}")
    else:
        _nietzsche(section, mode, imports)
    _scaling(section, mode, bench, imports)
    if imports:
        section.notes.insert(
            0,
            f"Baseline: a fresh Python process that has imported TensorFlow and Keras holds "
            f"{median(imports):,.0f} MB (median of {len(imports)} processes); every figure below includes it.",
        )
    return section


def _nietzsche(section: Section, mode: Mode, imports: list[float]) -> None:
    """Seed vs charlstm on Nietzsche, each step in a fresh process so that one peak cannot hide another."""
    budget = mode.mem_train_seconds
    results = {
        "seed_prep": worker("seed_prep"),
        "ours_prep": worker("ours_prep", {"repeats": 1}),
        "seed_train": worker("seed_train", {"seconds": budget}),
        "ours_train": worker("ours_train", {"seconds": budget}),
    }
    imports += [r["rss_after_import_mb"] for r in results.values()]
    section.tables.append(_nietzsche_table(results, budget))
    section.raw["nietzsche"] = results


def _above_import(r: dict) -> float:
    """Peak RSS beyond what importing TensorFlow and Keras already holds: the part the method is to blame for."""
    return r["peak_rss_mb"] - r["rss_after_import_mb"]


def _peak_row(what: str, who: str, r: dict, seconds: float, digits: int, notes: str) -> list[str]:
    """One row of the Nietzsche table: peak, peak above the import baseline, seconds, notes."""
    return [what, who, fmt(r["peak_rss_mb"], 0), fmt(_above_import(r), 0), fmt(seconds, digits), notes]


def _nietzsche_table(results: dict, budget: float) -> Table:
    """Data preparation, then a whole training process, seed above charlstm; the note gives the ratios."""
    sp, op = results["seed_prep"], results["ours_prep"]
    st, ot = results["seed_train"], results["ours_train"]
    prep_s = op["runs"][0]["total_s"]
    rows = [
        _peak_row(
            "data preparation",
            "seed: one-hot x, y",
            sp,
            sp["prep_seconds"],
            2,
            f"arrays {sp['array_mb']:,.0f} MB ({sp['windows']:,} windows)",
        ),
        _peak_row(
            "data preparation", "charlstm: ids + tf.data", op, prep_s, 2, f"ids {op['runs'][0]['ids_mb']:.1f} MB"
        ),
        _peak_row("whole training process", "seed", st, st["train_seconds"], 0, f"prep + model + {budget:g} s of fit"),
        _peak_row(
            "whole training process",
            "charlstm quick",
            ot,
            ot["train_seconds"],
            0,
            f"TrainingJob, {budget:g} s budget (+ validation, checkpoint, samples)",
        ),
    ]
    prep_ratio = _above_import(sp) / max(1.0, _above_import(op))
    train_ratio = st["peak_rss_mb"] / ot["peak_rss_mb"]
    return Table(
        "Peak memory on Nietzsche (each row a fresh process)",
        ["what", "who", "peak RSS (MB)", "above the TF import (MB)", "seconds", "notes"],
        rows,
        note=(
            f"Peak RSS: VmHWM of each process (/proc/self/status). Ratios, seed / charlstm: data preparation "
            f"{prep_ratio:,.0f}x above the import baseline; whole process {train_ratio:.2f}x. "
            "The seed's arrays are for the whole lowercased corpus, as the seed built them."
        ),
    )


def _scaling(section: Section, mode: Mode, bench: BenchText | None, imports: list[float]) -> None:
    """charlstm's data preparation at each size, then whether time grows linearly and memory stays flat."""
    rows, raw = [], []
    for size in mode.scale_sizes_mb:
        entry, row = _scale_one(size, mode, imports)
        raw.append(entry)
        rows.append(row)
    section.tables.append(_scaling_table(rows, mode, bench))
    section.raw["scaling"] = raw
    if len(raw) >= 2:
        big, mid = raw[-1], raw[-2] if len(raw) == 2 else raw[1]
        section.targets += [_linear_target(big, mid), _flat_target(raw[0], big)]


def _scale_one(size: int, mode: Mode, imports: list[float]) -> tuple[dict, list[str]]:
    """One corpus size in a fresh process: its raw entry and its table row.

    'Beyond text' is the peak above the process after reading the text; 'rest' is what is left once
    the int32 ids are taken off too: the part that should not grow with the corpus.
    """
    r = worker("ours_prep", {"chars": size * MB, "repeats": mode.scale_repeats}, timeout=1800)
    imports.append(r["rss_after_import_mb"])
    total = median([x["total_s"] for x in r["runs"]])
    first = r["runs"][0]
    text_mb = r["rss_after_text_mb"] - r["rss_after_import_mb"]
    extra = r["peak_rss_mb"] - r["rss_after_text_mb"]
    rest = extra - first["ids_mb"]
    seed_gb = onehot_bytes(size * MB, first["vocab_size"]) / 1e9
    entry = {
        "size_mb": size,
        **r,
        "median_total_s": total,
        "extra_mb": extra,
        "rest_mb": rest,
        "seed_onehot_gb": seed_gb,
    }
    steps = " / ".join(f"{median([x[k] for x in r['runs']]):.2f}" for k in ("vocab_s", "encode_s", "dataset_s"))
    row = [
        f"{size:g}",
        f"{first['windows']:,}",
        fmt(total, 2),
        steps,
        fmt(total / size, 3),
        fmt(r["peak_rss_mb"], 0),
        fmt(text_mb, 0),
        fmt(first["ids_mb"], 1),
        fmt(extra, 0),
        fmt(rest, 0),
        fmt(seed_gb, 1),
    ]
    return entry, row


def _scaling_table(rows: list[list[str]], mode: Mode, bench: BenchText | None) -> Table:
    """The growth table, with what was measured and how the seed's one-hot size is worked out."""
    return Table(
        "charlstm data preparation as the corpus grows (quick preset; each size a fresh process)",
        [
            "corpus MB",
            "training windows",
            "prep s",
            "vocab / encode / tf.data s",
            "s per MB",
            "peak RSS MB",
            "text MB",
            "ids MB",
            "peak beyond text MB",
            "beyond text and ids MB",
            "seed one-hot would be (GB)",
        ],
        rows,
        note=(
            f"Text: {'lowercased Nietzsche' if bench is not None else 'Python docstrings'} repeated to the size. "
            f"Preparation = Vocabulary.from_text + encode + split + tf.data pipeline + 5 batches; median of "
            f"{mode.scale_repeats} in one process. 'Seed one-hot': n_windows x {MAXLEN} x V + n_windows x V bytes "
            f"of bool at stride {STEP}."
        ),
    )


def _linear_target(big: dict, mid: dict) -> Target:
    """Seconds per MB at the largest size over the middle one: near 1 when no step grows faster than the text."""
    per_mb = (big["median_total_s"] / big["size_mb"]) / (mid["median_total_s"] / mid["size_mb"])
    return Target(
        f"prep time grows linearly: s/MB at {big['size_mb']} MB ÷ s/MB at {mid['size_mb']} MB",
        per_mb,
        "<=",
        LINEAR_TARGET,
        "",
        cause="some step grows faster than the text; see the vocab / encode / tf.data split",
    )


def _flat_target(small: dict, big: dict) -> Target:
    """Bytes per extra character of memory beyond the text and the ids, smallest to largest size."""
    growth = (big["rest_mb"] - small["rest_mb"]) * MIB / ((big["size_mb"] - small["size_mb"]) * MB)
    windows = big["runs"][0]["windows"]
    below = f"{big['seed_onehot_gb'] * 1e9 / (big['extra_mb'] * MIB):,.0f}x"
    return Target(
        f"peak memory flat apart from the ids: growth beyond text and ids, {small['size_mb']} -> {big['size_mb']} MB",
        growth,
        "<=",
        FLAT_TARGET,
        "bytes/char",
        cause=(
            "memory beyond the ids still grows with the corpus, though "
            f"{below} below the seed's one-hot. charlstm.data holds one int32 index per window "
            f"({windows:,} windows at {big['size_mb']} MB) and reads batches from the ids in NumPy; "
            "whatever grows beyond that is in the table above"
        ),
    )
