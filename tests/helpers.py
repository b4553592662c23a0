"""Waiting for something that happens in another thread or process: one helper, with a timeout."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def wait_for(
    predicate: Callable[[], Any], timeout: float = 60.0, every: float = 0.05, what: Callable[[], str] | str = ""
) -> Any:
    """Call `predicate` until it returns something true (and return that); fail after `timeout` seconds.

    `what` (a string, or a function giving one) says what was awaited, for the failure message.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            detail = what() if callable(what) else what
            raise AssertionError(f"timed out after {timeout:g} s waiting{': ' + detail if detail else ''}")
        time.sleep(every)


def pid_gone(pid: int) -> bool:
    """Whether process `pid` has exited (a zombie, not reaped yet by its parent, counts as exited)."""
    import os

    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True
