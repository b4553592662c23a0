"""A person's clicks in the studio, one copy for the benchmarks (`bench.app_response`) and the browser tests
(`tests/e2e/e2e_helpers.py`): Debian's Chromium, and the waits a Streamlit page needs between clicks."""

from __future__ import annotations

import shutil
import time

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"  # Debian's; never a browser download
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-quic",
    "--no-first-run",
    "--disable-sync",
]
IDLE_MS = 60_000  # how long a page's script run may take before a wait for it fails


def key(name: str) -> str:
    """Streamlit puts `st-key-<key>` on the container of every widget with a key."""
    return f".st-key-{name}"


def wait_idle(page, timeout: float = IDLE_MS) -> None:
    """Wait until the Streamlit script run has finished."""
    page.wait_for_selector("[data-testid=stApp][data-test-script-state=notRunning]", timeout=timeout)


def nav(page, title: str) -> None:
    """Open a page from the sidebar, as a person does."""
    page.locator("[data-testid=stSidebarNavLink]", has_text=title).click()
    wait_idle(page)


def open_expander(page, title: str, seconds: float = 15.0) -> None:
    """Open the expander `title` once the page shows one of it, and see it open (an open one stays open).

    Streamlit can show an element twice for a moment, its old place fading out while the rerun draws it
    in the new one (a Start's notice above moves everything down): a click then finds two and fails.
    """
    summary = page.locator("[data-testid=stExpander] summary", has_text=title)
    shown_open = page.locator("[data-testid=stExpander] details[open] > summary", has_text=title)
    deadline = time.monotonic() + seconds
    while shown_open.count() != 1 and time.monotonic() < deadline:
        if summary.count() == 1:  # a click during a rerun may land on the fading copy: looked at again after
            summary.click()
            wait_idle(page)
        time.sleep(0.2)
    if shown_open.count() != 1:
        raise RuntimeError(f"the expander {title!r} is not open after {seconds:g} s ({summary.count()} on the page)")
