"""Section 4's tables and targets, from the numbers `bench.app_response` measured in its own process."""

from __future__ import annotations

import os
from typing import Any

from .common import Section, Table, Target, fmt, median

TITLE = "4. App responsiveness"
RSS_TARGET_MB = 350.0  # the web server process alone (it was about 1 GB when training ran in it)
START_TARGET, SLIDER_TARGET = 5.0, 0.3  # seconds
TRAINING_PHASES = ("training", "training + playground")
PHASES = ("idle after the first page load", *TRAINING_PHASES, "idle after the session")


def p95(values: list[float]) -> float:
    """The 95th percentile, nearest rank (with fewer than 20 values: the largest)."""
    ordered = sorted(values)
    rank = -(-95 * len(ordered) // 100)  # ceil(0.95 n)
    return ordered[max(0, rank - 1)]


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


# --- memory ----------------------------------------------------------------------------------------------------
def _phase_row(phase: str, samples: list[dict]) -> list[str]:
    server = [s["server"] for s in samples]
    workers = [w for s in samples for w in s["workers"]]
    count = max((len(s["workers"]) for s in samples), default=0)
    return [
        phase,
        str(len(samples)),
        f"{fmt(median(server), 0)} / {fmt(max(server), 0)}",
        fmt(max(s["cluster"] for s in samples), 0),
        f"{fmt(max(workers), 0) if workers else 'n/a'} ({count})",
        fmt(max(s["server"] + s["cluster"] + sum(s["workers"]) for s in samples), 0),
    ]


def memory_table(studio: dict[str, Any]) -> tuple[Table, float | None, float | None]:
    """The table, the server's largest RSS while a job trained, and its RSS idle after the first page load."""
    mem = studio["memory"]
    rows = [_phase_row(phase, mem[phase]) for phase in PHASES if mem.get(phase)]
    training = [s["server"] for phase in TRAINING_PHASES for s in mem.get(phase, [])]
    idle = [s["server"] for s in mem.get(PHASES[0], [])]
    note = (
        "RSS of each process (psutil), sampled every 0.5 s while the Train page is open and once per slider move "
        "on the Generate page. 'server' is the `streamlit run` process alone; the cluster process "
        "(`python -m charlstm.cluster`: the Dask scheduler and the nannies) and the worker processes it spawns "
        f"are its children. {studio['workers']} training worker(s), the default on this machine. The server's "
        f"peak RSS over the whole session (VmHWM): {fmt(studio.get('server_peak_mb'), 0)} MB; TensorFlow "
        f"{'WAS' if studio.get('server_maps_tensorflow') else 'was not'} loaded in the server process."
    )
    table = Table(
        "Memory of the studio's processes (RSS, MB)",
        ["phase", "samples", "server median / max", "cluster process max", "one worker max (workers)", "all max"],
        rows,
        note=note,
    )
    return table, (max(training) if training else None), (idle[0] if idle else None)


# --- Start -> first loss -------------------------------------------------------------------------------------
def _start_row(label: str, tries: list[dict]) -> list[str]:
    def mid(name: str) -> str:
        values = [t[name] for t in tries if name in t]
        return fmt(median(values), 2) if values else "n/a"

    return [
        label,
        str(len(tries)),
        mid("status"),
        mid("fit_start"),
        mid("first_loss"),
        mid("chart"),
        mid("since_launch"),
    ]


def start_table(studio: dict[str, Any]) -> Table:
    return Table(
        "Start -> first loss point (seconds after the click; quick preset)",
        [
            "Start",
            "tries",
            "worker took it (first status)",
            "data and model ready",
            "first loss in the run folder",
            "first point on the loss chart",
            "server age at the click",
        ],
        [
            _start_row("cold: a fresh server, its worker still importing TensorFlow", [studio["cold"]]),
            _start_row("warm: a later Start (median)", studio["warm"]),
        ],
        note=(
            "The click is Playwright's click on Start in Chromium; the run-folder times are seen by a watcher "
            "polling every 20 ms; the chart time is when the browser shows the first point (the Train page "
            "polls the run folder every second, which adds up to 1 s)."
        ),
    )


def _start_cause(t: dict[str, Any], cold: bool, load: float) -> str:
    status, fit, loss, chart = (t.get(k) for k in ("status", "fit_start", "first_loss", "chart"))
    parts = [f"the worker took the job {fmt(status, 1)} s after the click"]
    if cold:
        parts[0] += (
            f" ({t['since_launch'] + (status or 0):.1f} s after the server started: a worker process starts and "
            "imports TensorFlow before it takes its first job)"
        )
    if fit is not None and status is not None:
        parts.append(f"preparing the data and building the model took {fit - status:.1f} s")
    if loss is not None and fit is not None:
        parts.append(f"the first batch (with graph tracing) {loss - fit:.1f} s")
    if chart is not None and loss is not None:
        parts.append(f"the page's next 1 s poll drew it {chart - loss:.1f} s later")
    return "; ".join(parts) + f"; {_cores()} cores shared with everything else running (load average {load:.1f})"


# --- the slider -------------------------------------------------------------------------------------------------
def slider_table(studio: dict[str, Any]) -> Table:
    moves = studio["slider"]
    rows = []
    for name, what in (
        ("first", "first new characters shown"),
        ("whole", "the whole new text shown"),
        ("done", "the script run over (next-character chart too)"),
    ):
        values = [m[name] for m in moves]
        rows.append([what, fmt(median(values), 3), fmt(p95(values), 3), fmt(max(values), 3), len(values)])
    during = "while a quick-preset job trained" if studio["trained_during_slider"] else "(the job had ENDED)"
    return Table(
        f"Temperature slider -> new text on the Generate page, {during}",
        ["seconds from the key press to", "median", "p95", "max", "moves"],
        rows,
        note=(
            "One ArrowRight/ArrowLeft press on the focused slider (0.05 per step) in Chromium; the time until the "
            "browser shows different text, all of it (as long as the text before), and until the script run is "
            f"over ({median([m['chars'] for m in moves]):.0f} characters with the prompt; the page streams them in 8 "
            "steps). The first move is a warm-up, not counted."
        ),
    )


def budget_table(studio: dict[str, Any]) -> Table | None:
    """What the Train page promised for a time limit, beside what happened (issue 17, item 5)."""
    budgets = studio.get("budgets") or []
    if not budgets:
        return None
    rows = [
        [
            f"{b['minutes']:g} min",
            fmt(b["estimate"], 0),
            fmt(b["finished"], 1),
            fmt(b["readable_estimate"], 0),
            fmt(b["readable"], 1),
            b["state"],
        ]
        for b in budgets
    ]
    return Table(
        "A time limit: the Train page's estimate against Start -> finished (quick preset, seconds)",
        ["time limit", "estimate: in all", "actual: Start -> finished", "estimate: readable words", "actual", "ended"],
        rows,
        note=(
            "The estimate is the caption under the settings before Start ('On this computer: about ... in all; "
            "about ... to readable words'). Actual readable words: Start -> the moment the run's batches hold as "
            "many characters as the estimate assumes for words (estimate.READABLE_AFTER_CHARS). Each training "
            "follows the others on a warm worker; Start -> finished is the run's final status as a watcher sees it."
        ),
    )


# --- two jobs at once -----------------------------------------------------------------------------------------
def parallel_table(studio: dict[str, Any], parallel: dict[str, Any]) -> tuple[Table, str]:
    alone = parallel["alone"][0]
    base = alone["steady_chars_per_sec"]
    rows = [
        [
            f"one alone, {studio['workers']} worker(s) (the studio's default here)",
            "n/a",
            fmt(studio.get("alone_default_chars_per_sec"), 0),
            "",
        ],
        [
            "one alone, CHARLSTM_WORKERS=2",
            fmt(base, 0),
            fmt(alone["history_chars_per_sec"], 0),
            "1.00",
        ],
    ]
    for i, job in enumerate(parallel["together"], 1):
        rows.append(
            [
                f"two at once, CHARLSTM_WORKERS=2: job {i}",
                fmt(job["steady_chars_per_sec"], 0),
                fmt(job["history_chars_per_sec"], 0),
                f"{job['steady_chars_per_sec'] / base:.2f}" if base else "n/a",
            ]
        )
    total = sum(j["steady_chars_per_sec"] for j in parallel["together"])
    line = (
        f"Two jobs at once on {parallel['cores']} cores: {total:,.0f} characters/s together, "
        f"{total / base:.2f}x one job alone on the same 2-worker cluster"
        if base
        else "Two jobs at once: no speed measured for the job alone"
    )
    table = Table(
        "Characters per second of each training job (quick preset)",
        ["job", "steady chars/s (window)", "chars/s in history.jsonl", "vs one alone"],
        rows,
        note=(
            f"Steady: batches counted in batches.txt over {alone['window_s']:.0f} s, starting "
            f"{parallel['settle_s']:g} s after each job's first batch, x characters per batch. History: the job's "
            "own `chars_per_sec` of its last (partial) epoch: its whole run, with the first batch's graph tracing "
            "and any time it trained before the other job started. "
            "Each worker gets cores / workers intra-op threads (charlstm.cluster)."
        ),
    )
    return table, line


# --- the section ------------------------------------------------------------------------------------------------
def report(result: dict[str, Any]) -> Section:
    section = Section("app", TITLE, raw=result)
    studio, parallel = result["studio"], result["parallel"]
    mem_table, training_mb, idle_mb = memory_table(studio)
    section.tables += [mem_table, start_table(studio), slider_table(studio)]
    budgets = budget_table(studio)
    if budgets is not None:
        section.tables.append(budgets)
    speed_table, speed_line = parallel_table(studio, parallel)
    section.tables.append(speed_table)
    section.notes.append(speed_line)
    section.notes.append(
        "How: the studio is a real `charlstm studio` (headless, a free port, a private CHARLSTM_HOME) "
        "driven by Debian Chromium through Playwright, as tests/e2e do; the two-jobs test submits through "
        "`JobQueue` and run folders (its own embedded cluster with CHARLSTM_WORKERS=2, no server)."
    )
    after = [w for s in studio["memory"].get(PHASES[-1], []) for w in s["workers"]]
    if after:
        section.notes.append(
            f"After its job ended, the worker still held {max(after):,.0f} MB (TensorFlow and its allocator keep "
            "what the job used; the next job on that worker reuses it)."
        )
    load = result.get("load_average") or [0.0]
    section.notes.append(
        f"Corpus: {result['corpus']}. 1-minute load average when the section ended: {load[0]:.1f} on {_cores()} "
        "cores (the browser, the server, the cluster and the worker share them)."
    )
    jobs = parallel["alone"] + parallel["together"]
    tails = [j["task_after_final_status_s"] for j in jobs if j.get("task_after_final_status_s") is not None]
    tail = max(tails) if tails else None
    if tail is not None:
        section.notes.append(
            f"After a stopped job's final status, its Dask task still ran for up to {tail:.1f} s "
            "(`charlstm.worker.train_run` calls `keras.backend.clear_session()` after the job); its worker takes "
            "no other job until then."
        )
    section.targets += _targets(studio, training_mb, idle_mb, load[0], tail)
    return section


def _targets(
    studio: dict[str, Any], training_mb: float | None, idle_mb: float | None, load: float, tail: float | None
) -> list[Target]:
    rss_cause = (
        "TensorFlow is loaded in the server process"
        if studio.get("server_maps_tensorflow")
        else "the server process itself (Streamlit, Altair, pandas, NumPy and the cached generators) holds this much"
    )
    warm = studio["warm"]
    warm_chart = median([w["chart"] for w in warm])
    slow_warm = sorted(warm, key=lambda w: w["chart"])[len(warm) // 2]
    whole = [m["whole"] for m in studio["slider"]]
    first = [m["first"] for m in studio["slider"]]
    return [
        Target("server RSS idle after the first page load", idle_mb, "<=", RSS_TARGET_MB, "MB", cause=rss_cause),
        Target("server RSS while a job trains (max)", training_mb, "<=", RSS_TARGET_MB, "MB", cause=rss_cause),
        Target(
            "Start -> first point on the loss chart, cold (fresh server)",
            studio["cold"]["chart"],
            "<=",
            START_TARGET,
            "s",
            cause=_start_cause(studio["cold"], cold=True, load=load),
        ),
        Target(
            "Start -> first point on the loss chart, warm (median)",
            warm_chart,
            "<=",
            START_TARGET,
            "s",
            cause=_start_cause(slow_warm, cold=False, load=load)
            + (
                f". A warm Start follows a Stop: the worker takes the new job only when the stopped job's task "
                f"has returned, which took up to {tail:.1f} s after its final status in the two-jobs test "
                "(keras.backend.clear_session() in charlstm.worker.train_run)"
                if tail is not None and slow_warm.get("status", 0) > 1.0
                else ""
            ),
        ),
        Target(
            "temperature slider -> new text while a job trains (p95)",
            p95(whole),
            "<=",
            SLIDER_TARGET,
            "s",
            cause=(
                f"median {median(whole):.3f} s; the first new characters showed after {median(first):.3f} s "
                f"(median, p95 {p95(first):.3f} s), the rest of the time the Generate page's script run streams "
                f"the text (redrawn every 0.15 s while it is written), on {_cores()} cores the training worker "
                f"keeps busy (load average {load:.1f})"
            ),
        ),
    ]
