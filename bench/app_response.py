"""Section 4: app responsiveness, measured through the real app with Streamlit's AppTest.

Runs in a fresh process (`python -m bench.app_response`), like a freshly started server: the first
Start pays for importing TensorFlow, later ones do not; both are reported. Measures
  * Start on the Train page -> the first per-batch loss in the job's snapshot, and -> the loss chart
    drawn by the next script run (in the browser the page polls every second, which adds up to 1 s);
  * a temperature-slider change on the Generate page -> the script run that shows the new text.
Widget keys come from the pages' docstrings (train_start, gen_temperature, ...). When the app or
a key is missing, the section is skipped with the reason.
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

from .common import Section, Table, Target, fmt, median
from .corpus import ROOT, SHARED_NIETZSCHE
from .modes import MODES, Mode

TITLE = "4. App responsiveness"
APP = ROOT / "app.py"
START_TARGET, SLIDER_TARGET = 5.0, 0.3
KEYS = {"start": "train_start", "temperature": "gen_temperature"}
FIRST_BATCH_TIMEOUT = 120.0


class Skip(Exception):
    """The app cannot be measured (missing file or widget); the message says why."""


def page_path(name: str) -> str:
    """The page file app.py registers for `name` (e.g. 'train' -> 'app_pages/train.py')."""
    if not APP.is_file():
        raise Skip(f"{APP.name} does not exist yet")
    for path in re.findall(r"st\.Page\(\s*[\"']([^\"']+)[\"']", APP.read_text(encoding="utf-8")):
        if Path(path).stem == name and (ROOT / path).is_file():
            return path
    raise Skip(f'app.py registers no {name} page (st.Page(".../{name}.py"))')


def _widget(at, kind: str, key: str):
    try:
        return getattr(at, kind)(key=key)
    except KeyError:
        raise Skip(f"the widget {kind}(key={key!r}) is not on the page") from None


def _owner_jobs(at):
    from ui import state  # the module the app imported: same process-wide job registry

    return state.registry(), at.session_state["_owner"]


def measure_start(tries: int) -> list[dict[str, float]]:
    """Click Start (quick preset) in a fresh session; time the first batch loss and the first chart."""
    from streamlit.testing.v1 import AppTest

    train = page_path("train")
    out = []
    for _ in range(tries):
        at = AppTest.from_file(str(APP), default_timeout=120)
        at.run()
        at.switch_page(train).run()
        button = _widget(at, "button", KEYS["start"])
        charts_before = len(at.get("vega_lite_chart"))
        tf_loaded = "tensorflow" in sys.modules
        t0 = time.perf_counter()
        button.click().run()
        t_run = time.perf_counter() - t0
        if at.exception:
            raise RuntimeError(f"the Train page raised: {at.exception[0].value}")
        registry, owner = _owner_jobs(at)
        t_batch = None
        while time.perf_counter() - t0 < FIRST_BATCH_TIMEOUT:
            views = registry.for_owner(owner)
            if views and views[0].snapshot.batch_losses:
                t_batch = time.perf_counter() - t0
                break
            if views and views[0].snapshot.finished:
                raise RuntimeError(f"training ended before its first batch: {views[0].snapshot.message}")
            time.sleep(0.05)
        if t_batch is None:
            raise RuntimeError(f"no batch loss within {FIRST_BATCH_TIMEOUT:.0f} s of Start")
        at.run()
        t_chart = time.perf_counter() - t0
        shown = len(at.get("vega_lite_chart")) > charts_before
        out.append(
            {
                "click_run_s": t_run,
                "first_batch_s": t_batch,
                "chart_s": t_chart,
                "chart_shown": shown,
                "tensorflow_loaded_before_click": tf_loaded,
            }
        )
        registry.stop_all(timeout=120)
    return out


def measure_slider(tries: int) -> list[dict[str, Any]]:
    """Move the temperature slider on the Generate page; time the script run that writes the new text."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(APP), default_timeout=120)
    at.run()
    at.switch_page(page_path("generate")).run()
    _widget(at, "slider", KEYS["temperature"])
    out = []
    values = [0.8, 0.5] * (tries + 1)
    at.run()  # one warm run: the generator is loaded and cached
    for value in values[: tries + 1]:
        before = [c.value for c in at.code]
        t0 = time.perf_counter()
        at.slider(key=KEYS["temperature"]).set_value(value).run()
        seconds = time.perf_counter() - t0
        after = [c.value for c in at.code]
        out.append({"seconds": seconds, "changed": after != before, "chars": max((len(a) for a in after), default=0)})
    return out[1:]  # the first change also warms the slider path


def worker_main(mode_name: str) -> dict[str, Any]:
    """Run inside a fresh process with its own models folder; Nietzsche in a private Keras cache."""
    mode = MODES[mode_name]
    sys.path.insert(0, str(ROOT))
    with tempfile.TemporaryDirectory(prefix="charlstm-bench-app-") as tmp:
        os.environ["CHARLSTM_HOME"] = str(Path(tmp) / "home")
        corpus = "python-docs"
        if SHARED_NIETZSCHE.is_file():
            (Path(tmp) / "keras" / "datasets").mkdir(parents=True)
            shutil.copy(SHARED_NIETZSCHE, Path(tmp) / "keras" / "datasets" / "nietzsche.txt")
            os.environ["KERAS_HOME"] = str(Path(tmp) / "keras")
            corpus = "nietzsche"
        else:
            from charlstm.corpora import nietzsche_is_cached

            corpus = "nietzsche" if nietzsche_is_cached() else corpus
        try:
            start = measure_start(mode.app_tries + 1)  # +1: the first one is the cold start
            slider = measure_slider(mode.app_tries)
        except Skip as exc:
            return {"skip": str(exc)}
    return {"start": start, "slider": slider, "corpus": corpus}


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
        timeout=1800,
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
    return _report(result)


def _report(result: dict[str, Any]) -> Section:
    section = Section("app", TITLE, raw=result)
    cold, warm = result["start"][0], result["start"][1:]
    slider = result["slider"]
    rows = [
        [
            "Start -> first batch loss in the job (cold: the first Start in a fresh server process)",
            fmt(cold["first_batch_s"], 2),
            "1",
        ],
        [
            "Start -> first batch loss in the job (warm)",
            fmt(median([w["first_batch_s"] for w in warm]), 2),
            str(len(warm)),
        ],
        [
            "Start -> loss chart drawn (warm; + up to 1 s for the browser's 1 s poll)",
            fmt(median([w["chart_s"] for w in warm]), 2),
            str(len(warm)),
        ],
        ["temperature slider -> new text drawn", fmt(median([s["seconds"] for s in slider]), 3), str(len(slider))],
    ]
    section.tables.append(
        Table(
            "Through the real app (Streamlit AppTest, quick preset)",
            ["interaction", "seconds (median)", "tries"],
            rows,
            note=(
                f"Corpus: {result['corpus']}. Times are server-side script runs as AppTest drives them; drawing in "
                "the browser is not included. Every try is a new session; training is stopped between tries."
            ),
        )
    )
    charts_ok = all(w["chart_shown"] for w in warm)
    changed = all(s["changed"] for s in slider)
    if not charts_ok:
        section.notes.append("The loss chart was not found after the first batch in some tries.")
    if not changed:
        section.notes.append("The text did not change after some slider moves.")
    first_chart = median([w["chart_s"] for w in warm])
    section.targets += [
        Target(
            "Start -> first point on the loss chart (quick, warm)",
            first_chart if charts_ok else None,
            "<=",
            START_TARGET,
            "s",
            cause="data preparation and the first batch (with graph tracing) take this long here",
        ),
        Target(
            "temperature slider -> new 400 characters",
            median([s["seconds"] for s in slider]) if changed else None,
            "<=",
            SLIDER_TARGET,
            "s",
            cause="the Generate page's whole script run (stream, chart, next-character "
            "distribution) takes this long here",
        ),
    ]
    how = (
        "TensorFlow was already imported when the page was drawn"
        if cold["tensorflow_loaded_before_click"]
        else "TensorFlow was imported by this first click"
    )
    section.notes.append(
        f"Cold Start, the first in a fresh server process ({how}): {cold['first_batch_s']:.1f} s to the first batch."
    )
    return section


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    print("RESULT " + json.dumps(worker_main(sys.argv[1] if len(sys.argv) > 1 else "quick")), flush=True)
