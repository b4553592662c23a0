"""Shared by the browser tests and the screenshot script: start `charlstm studio`, wait, screenshot.

A module of its own (not conftest): `from conftest import ...` resolves to whichever conftest.py
pytest imported first, so helpers live under a name that is unique in the test tree.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from helpers import free_port, serving  # tests/helpers.py: one polling helper, one way to start a studio
from run_factory import STUDIO_SETTINGS

from bench.browser import CHROMIUM, CHROMIUM_ARGS, key, nav, open_expander, wait_idle  # noqa: F401 (re-exported)

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "test-results" / "screenshots"


@contextlib.contextmanager
def streamlit_server(home: Path, env: dict | None = None) -> Iterator[tuple[str, int]]:
    """`charlstm studio` with a private models folder; yields (base URL, port)."""
    with streamlit_process(home, env=env) as (url, _proc):
        yield url, int(url.rsplit(":", 1)[1])


@contextlib.contextmanager
def streamlit_process(
    home: Path, env: dict | None = None, log_name: str = "server.log", check_log: bool = True
) -> Iterator[tuple[str, subprocess.Popen]]:
    """`charlstm studio` (as `make run` starts it) with a private models folder; yields (base URL, the server process).

    Uses the studio's own .streamlit/config.toml (localhost only); other settings come through `env`
    (Streamlit reads STREAMLIT_<SECTION>_<OPTION> variables over its config file). On exit, fails if the server
    printed a traceback.
    """
    port = free_port()
    env = {**os.environ, "CHARLSTM_HOME": str(home), "PYTHONPATH": str(ROOT), **(env or {})}
    log_path = Path(home) / log_name
    Path(home).mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "charlstm", "studio", "--port", str(port)]
    with serving(command, port, cwd=ROOT, env=env, log_path=log_path) as (url, proc):
        yield url, proc
    if check_log:
        assert_no_traceback(log_path.read_text(errors="replace"))


# Dask's own shutdown race, not the studio's: a worker's heartbeat in flight as the closing scheduler drops the
# connection logs this line and the connection's traceback (seen once in many runs, as the studio stopped).
SHUTDOWN_NOISE = "Failed to communicate with scheduler during heartbeat"


# Python prints one exception's causes as tracebacks of their own, joined by one of these lines.
CHAINED_TRACEBACK = re.compile(
    r"(The above exception was the direct cause of the following exception:"
    r"|During handling of the above exception, another exception occurred:)\s*Traceback \(most recent call last\):"
)


def assert_no_traceback(log: str) -> None:
    """The server printed no traceback (after Dask's shutdown race, only that race's closed connections).

    A chained traceback counts as one: its first link (a cancelled connect) need not name the closed connection
    that its last link reports.
    """
    before, noise, after = log.partition(SHUTDOWN_NOISE)
    assert "Traceback" not in before, before[-4000:]
    chains = CHAINED_TRACEBACK.sub("(chained)", after)
    for chain in chains.split("Traceback (most recent call last):")[1:] if noise else ():
        assert "distributed/" in chain and "Closed" in chain, after[-4000:]


def shot(page, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


# --- a user's clicks -----------------------------------------------------------------------------------
TINY_SETTINGS = {key: str(value) for key, value in STUDIO_SETTINGS.items()}  # typed into the boxes


def open_app(page, path: str = "/") -> None:
    page.goto(page.base_url + path)
    wait_idle(page, 90_000)


def use_pasted_text(page, text: str) -> None:
    """On the Corpus page (the first visit opens on Generate): paste `text` and use it."""
    nav(page, "Corpus")
    page.get_by_role("tab", name="Paste text").click()
    page.locator(f"{key('corpus_paste')} textarea").fill(text)
    page.locator(f"{key('corpus_paste_use')} button").click()
    wait_idle(page)


def tiny_settings(page, minutes: str) -> None:
    """Advanced settings for a small model that trains in seconds, with a time limit."""
    page.get_by_text("Advanced settings").click()
    for name, value in TINY_SETTINGS.items():
        box = page.locator(f"{key(name)} input")
        box.fill(value)
        box.press("Enter")
        wait_idle(page)
    page.locator(key("train_budget")).get_by_text("a time limit").click()
    wait_idle(page)
    box = page.locator(f"{key('train_minutes')} input")
    box.fill(minutes)
    box.press("Enter")
    wait_idle(page)


def start_training(page) -> None:
    page.locator(f"{key('train_start')} button").click()
    page.wait_for_selector(f"{key('train_stop')} button", timeout=60_000)


WRITTEN = ".st-key-gen_text"  # Generate's text: a code block, or HTML when copies are marked or it is shaded


def code_text(page) -> str:
    """The text Generate wrote, as shown."""
    return page.locator(WRITTEN).first.inner_text()


def written_text(page, timeout: float = 30_000) -> str:
    """The text Generate wrote, once written: its page run has ended and the text is there (between two runs
    the page is briefly idle with the text's place still empty)."""
    page.wait_for_function(
        "() => { const e = document.querySelector('.st-key-gen_text'); const app = document.querySelector("
        "'[data-testid=stApp]'); return e !== null && e.innerText.trim() !== '' && app !== null "
        "&& app.getAttribute('data-test-script-state') === 'notRunning'; }",
        timeout=timeout,
    )
    return code_text(page)


def wait_written_at(page, temperature: float, timeout: float = 30_000) -> None:
    """Wait until the text at `temperature` is written: the address holds it (the page run that writes it sets
    it), then that run ends. A slider's label can show the value before its run starts, and a busy machine may
    finish a run for a step in between first."""
    shown = re.escape(f"{temperature:g}")
    page.wait_for_url(re.compile(rf"[?&]t={shown}(\.0)?(&|$)"), timeout=timeout)
    wait_idle(page, timeout)


def wait_code_changes(page, before: str, timeout: float = 15_000) -> None:
    """Wait until the generated text differs from `before`.

    The code block is briefly absent while Streamlit redraws the page, so a missing element
    means "not yet", never an error."""
    page.wait_for_function(
        "b => { const e = document.querySelector('.st-key-gen_text'); return e !== null && e.innerText.trim() !== '' "
        "&& e.innerText !== b; }",
        arg=before,
        timeout=timeout,
    )
