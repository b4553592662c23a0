"""Section 4: app responsiveness and memory, measured through the real studio (issue 8).

Runs in a fresh process (`python -m bench.app_response MODE`). Two parts:

* The studio: `charlstm studio` (headless, a free port, a private CHARLSTM_HOME),
  driven by Debian Chromium through Playwright like tests/e2e. It measures the server process's
  RSS (that process alone; the cluster process and its workers are reported beside it) idle after
  the first page load, while a job trains with the Train page open, and while the playground
  generates; Start -> the first loss in the run folder and -> the first point on the loss chart,
  cold (a fresh server whose worker is still importing TensorFlow) and warm (later Starts); and a
  temperature-slider move -> new text on the Generate page while a job trains.
* Two jobs at once: a JobQueue with CHARLSTM_WORKERS=2 (its own embedded cluster, no server)
  trains one quick-preset job alone, then two at once; characters/s of each.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .app_report import TITLE, report
from .common import Section
from .corpus import ROOT, SHARED_NIETZSCHE
from .modes import MODES, Mode

APP = ROOT / "charlstm_studio" / "app.py"
START_TIMEOUT_MS = 240_000
SETTLE_SECONDS = 3.0  # after the first batch, before the speed window opens (graph tracing is over)


class Skip(Exception):
    """The app cannot be measured (missing file, widget or browser); the message says why."""


def page_path(name: str) -> str:
    """The page file the studio names for `name` (e.g. 'train' -> 'app_pages/train.py', in ui/pages.py)."""
    pages = APP.parent / "ui" / "pages.py"
    if not APP.is_file() or not pages.is_file():
        raise Skip(f"{APP.name} or ui/pages.py does not exist yet")
    for file in re.findall(r'PAGES_DIR / "([^"]+)"', pages.read_text(encoding="utf-8")):
        if Path(file).stem == name and (APP.parent / "app_pages" / file).is_file():
            return f"app_pages/{file}"
    raise Skip(f"ui/pages.py names no {name} page")


# --- the studio in a browser ------------------------------------------------------------------------------
def measure_start(page, server) -> dict[str, Any]:
    """Click Start on the Train page; time the worker's first status, first loss, and the chart's first point."""
    from .studio import CHART, RunWatch, key

    t0 = time.perf_counter()
    watch = RunWatch(server.runs, t0)
    page.locator(f"{key('train_start')} button").click()
    page.wait_for_selector(CHART, timeout=START_TIMEOUT_MS)
    chart = time.perf_counter() - t0
    times = watch.wait()
    return {**times, "chart": chart, "since_launch": t0 - server.launched, "run": str(watch.run.path)}


_TEXT = "document.querySelector('[data-testid=stCode]')?.innerText"
CHANGED_JS = f"before => {_TEXT} !== before"
WHOLE_JS = f"before => {_TEXT} !== before && ({_TEXT} || '').length >= before.length"
DONE_JS = (
    f"before => {_TEXT} !== before && "
    "document.querySelector('[data-testid=stApp]')?.getAttribute('data-test-script-state') === 'notRunning'"
)


def measure_slider(page, tries: int, log) -> list[dict[str, float]]:
    """Move the temperature slider a step at a time; time the first new characters, all of them, the run's end."""
    from .studio import CODE, code_text, key, nav, wait_idle

    nav(page, "Generate")
    page.wait_for_selector(CODE, timeout=60_000)
    wait_idle(page)
    slider = page.locator(f"{key('gen_temperature')} input[type=range]")
    out = []
    for i in range(tries + 1):  # the first move warms the path; it is not counted
        before = code_text(page)
        slider.focus()
        t0 = time.perf_counter()
        slider.press("ArrowRight" if i % 2 == 0 else "ArrowLeft")
        times = {}
        for name, condition in (("first", CHANGED_JS), ("whole", WHOLE_JS), ("done", DONE_JS)):
            page.wait_for_function(condition, arg=before, timeout=30_000, polling="raf")
            times[name] = time.perf_counter() - t0
        out.append({**times, "chars": len(code_text(page))})
        log.sample("training + playground")
    return out[1:]


def _drive_studio(page, server, mode: Mode, log) -> dict[str, Any]:
    """The user's clicks: cold Start, training, Stop; warm Starts; the slider while the last one trains."""
    from charlstm.run import Run

    from .studio import nav, new_run, open_app, stop_training

    open_app(page, server.url)
    log.sample("idle after the first page load")
    nav(page, "Train")
    cold = measure_start(page, server)
    log.sample_for("training", mode.app_train_seconds)
    stop_training(page)
    new_run(page)
    warm = []
    for i in range(mode.app_tries):
        warm.append(measure_start(page, server))
        log.sample("training")
        if i < mode.app_tries - 1:
            stop_training(page)
            new_run(page)
    slider = measure_slider(page, mode.app_slider_tries, log)
    last = Run(Path(warm[-1]["run"]))
    trained_during_slider = last.status().state == "running"
    nav(page, "Train")
    stop_training(page)
    history = last.history()
    budgets = []
    for minutes in mode.app_budget_minutes:
        new_run(page)
        budgets.append(measure_budget(page, server, minutes))
    return {
        "cold": cold,
        "warm": warm,
        "slider": slider,
        "trained_during_slider": trained_during_slider,
        "alone_default_chars_per_sec": history[-1].chars_per_sec if history else None,
        "budgets": budgets,
    }


ESTIMATE_RE = re.compile(r"about (.+?) in all; (?:about (.+?) to readable words|it may end)")


def _seconds(words: str) -> float:
    """'2 min 30 s', '45 s', '1 h 05 min' (widgets.duration) as seconds."""
    units = {"h": 3600, "min": 60, "s": 1}
    return float(sum(int(n) * units[u] for n, u in re.findall(r"(\d+) (h|min|s)\b", words)))


def measure_budget(page, server, minutes: float) -> dict[str, Any]:
    """A quick-preset training with a time limit of `minutes`: the page's estimates, then what happened.

    Actual: Start -> the run's final status (its whole time), and Start -> the moment its batches hold as
    many characters as the estimate's "readable words" assumes (estimate.READABLE_AFTER_CHARS).
    """
    from charlstm.estimate import READABLE_AFTER_CHARS

    from .studio import RunWatch, key, open_expander, wait_idle

    if not page.locator(key("train_budget")).is_visible():  # the expander may still be open from before
        open_expander(page, "Advanced settings")
    page.locator(key("train_budget")).get_by_text("a time limit").click()
    wait_idle(page)
    box = page.locator(f"{key('train_minutes')} input")
    box.fill(f"{minutes:g}")
    box.press("Enter")
    wait_idle(page)
    whole = round(minutes * 60)
    shown = f"{whole // 60} min {whole % 60:02d} s"  # widgets.duration's words: wait for the rerun that shows them
    caption = page.get_by_text(re.compile(f"^On this computer: about {shown} in all")).first.inner_text()
    found = ESTIMATE_RE.search(caption)
    if found is None:
        raise Skip(f"the Train page's estimate reads differently now: {caption!r}")
    t0 = time.perf_counter()
    watch = RunWatch(server.runs, t0)
    page.locator(f"{key('train_start')} button").click()
    watch.wait()
    run = watch.run
    config = run.config()
    per_batch = config.batch_size * config.seq_len
    readable_at = None
    while run.status().state in ("running", "queued"):
        if readable_at is None and len(run.batch_losses()) * per_batch >= READABLE_AFTER_CHARS[config.mode]:
            readable_at = time.perf_counter() - t0
        time.sleep(0.1)
    finished = time.perf_counter() - t0
    page.locator(f"{key('train_new')} button").wait_for(timeout=60_000)
    return {
        "minutes": minutes,
        "estimate": _seconds(found.group(1)),
        "readable_estimate": _seconds(found.group(2)) if found.group(2) else None,
        "finished": finished,
        "readable": readable_at,
        "caption": caption,
        "state": run.status().state,
    }


def measure_studio(mode: Mode, home: Path) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    from charlstm.jobs import default_workers

    from .studio import CHROMIUM, CHROMIUM_ARGS, MemoryLog, peak_mb, streamlit_server

    with streamlit_server(home, {}) as server, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(60_000)
            log = MemoryLog(server.proc.pid)
            out = _drive_studio(page, server, mode, log)
            log.sample_for("idle after the session", 3.0)
            out["server_peak_mb"] = peak_mb(server.proc.pid)
            out["server_maps_tensorflow"] = "libtensorflow" in Path(f"/proc/{server.proc.pid}/maps").read_text()
        finally:
            browser.close()
    out["memory"] = log.samples
    out["workers"] = int(os.environ.get("CHARLSTM_WORKERS") or default_workers())
    return out


# --- two jobs at once ------------------------------------------------------------------------------------------
def _wait(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise RuntimeError(f"no {what} within {seconds:.0f} s")
        time.sleep(0.2)


def _task_tail(queue, runs: list) -> float:
    """Seconds from the runs' final status until their Dask tasks return (the worker cleans up meanwhile)."""
    client, t = queue.client(), time.perf_counter()

    def busy() -> bool:
        keys = [str(k) for tasks in client.processing().values() for k in tasks]
        return any(run.id in k for run in runs for k in keys)

    _wait(lambda: not busy(), 300, "return of the stopped runs' tasks")
    return time.perf_counter() - t


def train_at_once(queue, corpus, owners: list[str], seconds: float) -> list[dict[str, Any]]:
    """One quick-preset job per owner, submitted together; their speed over a window after the first batch."""
    from charlstm.config import preset_config
    from charlstm.store import new_run

    config = preset_config("quick")
    runs = []
    for owner in owners:
        run, _ = new_run(corpus, config, root=queue.root, name=owner, owner=owner)
        queue.submit(run, owner)
        runs.append(run)
    _wait(lambda: all(r.batch_losses() for r in runs), 300, "first batch in every run")
    time.sleep(SETTLE_SECONDS)
    n0, t0 = [len(r.batch_losses()) for r in runs], time.perf_counter()
    time.sleep(seconds)
    n1, t1 = [len(r.batch_losses()) for r in runs], time.perf_counter()
    for run in runs:
        queue.stop(run)
    _wait(lambda: not any(r.status().active for r in runs), 300, "end of the stopped runs")
    cleanup = _task_tail(queue, runs)
    step_chars = config.batch_size * config.seq_len
    out = []
    for run, a, b in zip(runs, n0, n1, strict=True):
        history = run.history()
        out.append(
            {
                "owner": run.owner,
                "steady_chars_per_sec": (b - a) * step_chars / (t1 - t0),
                "history_chars_per_sec": history[-1].chars_per_sec if history else None,
                "steps": b,
                "window_s": t1 - t0,
                "task_after_final_status_s": cleanup,
            }
        )
    return out


def measure_parallel(mode: Mode, root: Path, corpus) -> dict[str, Any]:
    from charlstm.jobs import ENV_WORKERS, JobQueue

    os.environ[ENV_WORKERS] = "2"
    queue = JobQueue(root=root)
    try:
        queue.client()  # starts the cluster; its workers import TensorFlow now
        alone = train_at_once(queue, corpus, ["alone"], mode.app_train_seconds)
        together = train_at_once(queue, corpus, ["first", "second"], mode.app_train_seconds)
    finally:
        queue.close()
        os.environ.pop(ENV_WORKERS, None)
    return {"workers": 2, "alone": alone, "together": together, "cores": os.cpu_count(), "settle_s": SETTLE_SECONDS}


# --- the worker process and the section -------------------------------------------------------------------
def _corpus(tmp: Path):
    """Nietzsche in a private Keras cache (the studio's default text then), else the built-in Python docs."""
    from charlstm.corpora import load_corpus

    if SHARED_NIETZSCHE.is_file():
        (tmp / "keras" / "datasets").mkdir(parents=True)
        shutil.copy(SHARED_NIETZSCHE, tmp / "keras" / "datasets" / "nietzsche.txt")
        os.environ["KERAS_HOME"] = str(tmp / "keras")
    from charlstm.corpora import read_cached_nietzsche

    return load_corpus(builtin="nietzsche" if read_cached_nietzsche() else "python-docs")


def worker_main(mode_name: str) -> dict[str, Any]:
    mode = MODES[mode_name]
    sys.path.insert(0, str(ROOT))
    from .studio import browser_missing

    missing = browser_missing()
    if missing:
        return {"skip": missing}
    with tempfile.TemporaryDirectory(prefix="charlstm-bench-app-") as tmp:
        corpus = _corpus(Path(tmp))
        try:
            studio = measure_studio(mode, Path(tmp) / "studio")
        except Skip as exc:
            return {"skip": str(exc)}
        parallel = measure_parallel(mode, Path(tmp) / "parallel" / "runs", corpus)
    return {"studio": studio, "parallel": parallel, "corpus": corpus.name, "load_average": os.getloadavg()}


def run(mode: Mode, bench, ctx: dict) -> Section:
    try:
        page_path("train")
        page_path("generate")
    except Skip as exc:
        return Section("app", TITLE, status="skipped", reason=str(exc))
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-m", "bench.app_response", mode.name],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=2400,
    )
    result = None
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            result = json.loads(line[len("RESULT ") :])
    if result is None:
        tail = " | ".join((proc.stderr or proc.stdout).strip().splitlines()[-6:])
        raise RuntimeError(f"the app worker failed (exit {proc.returncode}): {tail}")
    if "skip" in result:
        return Section("app", TITLE, status="skipped", reason=result["skip"])
    return report(result)


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    print("RESULT " + json.dumps(worker_main(sys.argv[1] if len(sys.argv) > 1 else "quick")), flush=True)
