"""Helpers for the app tests: fresh sessions, polling, and runs made without TensorFlow.

Models that only need to exist (Generate, Models pages) get random weights of the right shapes,
saved the way training saves them. Tests that train use a tiny model on a short pasted text.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")
TEXT = (
    "The quick brown fox jumps over the lazy dog. A model learns to write one character at a time, "
    "and after a while it writes words, then phrases, then something that looks like the text.\n"
)

# Advanced settings that make a model train in a second or two on two cores.
TINY_SETTINGS = {"train_units": 16, "train_seq_len": 24, "train_batch": 32, "train_minutes": 1.0}


def new_app(page: str | None = None, query: dict | None = None):
    """A fresh browser session: run app.py once, then switch to `page` (e.g. "app_pages/train.py")."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(APP, default_timeout=60)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    at.run()
    if page:
        at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def make_run(root: Path, name: str = "tiny", text: str = TEXT * 20, seed: int = 0, units: int = 12) -> Path:
    """A finished run with random weights, written like training writes one (no TensorFlow)."""
    from run_factory import random_run

    from charlstm import store
    from charlstm.config import TrainConfig

    config = TrainConfig(units=units, embedding_dim=6, seq_len=24, stride=24, batch_size=16, epochs=2, seconds=None)
    run_dir = random_run(root, text, config, name=name, seed=seed, scale=0.5, corpus="test text")
    record = {
        "epoch": 1,
        "loss": 2.0,
        "val_loss": 2.2,
        "val_bpc": 2.2 / np.log(2),
        "learning_rate": 0.004,
        "steps": 10,
        "seconds": 1.0,
        "chars_per_sec": 1000.0,
        "partial": False,
    }
    store.append_jsonl(run_dir / "history.jsonl", record)
    samples = {"epoch": 1, "prompt": "The quick", "samples": [{"temperature": 0.5, "text": "brown fox <b>*x*</b>"}]}
    store.append_jsonl(run_dir / "samples.jsonl", samples)
    store.write_status(run_dir, "completed", message="Finished all 1 epochs.", epochs=1)
    return run_dir


def has(at, kind: str, key: str) -> bool:
    """Whether the page shows a widget of this kind with this key (at.button(key=...) raises if not)."""
    return any(getattr(e, "key", None) == key for e in getattr(at, kind))


def texts(at, kind: str) -> list[str]:
    return [str(e.value) for e in getattr(at, kind)]


def poll(at, until, timeout: float = 60.0, every: float = 0.5):
    """Rerun the app (timers do not fire in AppTest) until `until(at)` is true."""
    deadline = time.monotonic() + timeout
    while True:
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        if until(at):
            return at
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out; page says: {texts(at, 'markdown')[:5]} {texts(at, 'error')}")
        time.sleep(every)
