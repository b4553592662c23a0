"""Helpers for the app tests: fresh sessions, polling, and runs made without TensorFlow.

Models that only need to exist (Generate, Models pages) get random weights of the right shapes,
saved the way training saves them. Tests that train use a tiny model on a short pasted text; the
training runs in a Dask worker process, so they poll the page (`poll`, `poll_until_final`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from helpers import wait_for
from run_factory import STUDIO_SETTINGS, TINY

from charlstm.run import FINAL_REASONS, NO_LEASE

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "charlstm_studio" / "app.py")
CORPUS = "app_pages/corpus.py"  # the first visit opens on Generate (the default page); tests of texts start here
TEXT = (
    "The quick brown fox jumps over the lazy dog. A model learns to write one character at a time, "
    "and after a while it writes words, then phrases, then something that looks like the text.\n"
)

# Advanced settings that make a model train in a second or two on two cores.
TINY_SETTINGS = {**STUDIO_SETTINGS, "train_minutes": 1.0}
TRAIN_TIMEOUT = 180.0  # a first training also waits for the worker to start and import TensorFlow
# The browser most tests play (an owner id, as ui/state.py makes from a signed cookie); `make_run` gives it
# its runs. A test about strangers passes another (`stranger()`), or None for a browser never seen before.
ME = "browser-apptests"


def stranger() -> str:
    """A browser nobody has seen before (an owner id of its own)."""
    import secrets

    return f"browser-{secrets.token_hex(16)}"


def new_app(page: str | None = None, query: dict | None = None, browser: str | None = ME):
    """A fresh browser session: run app.py once, then switch to `page` (e.g. "app_pages/train.py").

    `browser` is the owner id the session's cookie stands for: a reload, or a new tab of the same browser
    (AppTest cannot send cookies, so it is handed to the session directly); None: a first visit.
    """
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=60)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    if browser:
        at.session_state["_owner"] = browser
    at.run()
    if page:
        at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def make_run(
    root: Path, name: str = "tiny", text: str = TEXT * 20, seed: int = 0, units: int = 12, owner: str = ME
) -> Path:
    """A finished run with random weights, written like training writes one (no TensorFlow)."""
    from run_factory import random_run

    from charlstm.run import EpochRecord, EpochSamples, Run

    config = TINY.replace(units=units, embedding_dim=6, batch_size=16)
    run_dir = random_run(root, text, config, name=name, seed=seed, scale=0.5, corpus="test text", owner=owner)
    run = Run(run_dir)
    run.append_epoch(EpochRecord(1, 2.0, 2.2, 2.2 / np.log(2), 0.004, 10, 1.0, 1000.0, False))
    run.append_samples(EpochSamples(1, "The quick", ((0.5, "brown fox <b>*x*</b>"),)))
    run.write_status("completed", message="Finished 1 epoch.", epochs=1, best_val_loss=2.2)
    assert [h.epoch for h in run.history()] == [1] and len(run.samples()) == 1  # records that read back
    return run_dir


def has(at, kind: str, key: str) -> bool:
    """Whether the page shows a widget of this kind with this key (at.button(key=...) raises if not)."""
    return any(getattr(e, "key", None) == key for e in getattr(at, kind))


def texts(at, kind: str) -> list[str]:
    return [str(e.value) for e in getattr(at, kind)]


def poll(at, until, timeout: float = TRAIN_TIMEOUT, every: float = 0.5):
    """Rerun the app (timers do not fire in AppTest) until `until(at)` is true."""

    def check():
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        return until(at)

    def page() -> str:
        return f"page says: {texts(at, 'markdown')[:5]} {texts(at, 'info')} {texts(at, 'error')}"

    wait_for(check, timeout=timeout, every=every, what=page)
    return at


FINAL = (*FINAL_REASONS, NO_LEASE)  # the states a run ends in: the trainer's reasons, or its lease running out


def poll_until_final(at, run_dir: Path, timeout: float = TRAIN_TIMEOUT) -> str:
    """Rerun the app until the run in `run_dir` has ended (in its worker); its final state."""
    from charlstm.run import Run

    run = Run(run_dir)
    poll(at, lambda _: run.status().state in FINAL, timeout=timeout)
    at.run()  # once more: the page drawn after the end
    assert not at.exception, [e.value for e in at.exception]
    return run.status().state
