"""Runs made without TensorFlow: random weights of the right shapes, saved the way training saves them.

Shared by the app tests and the reliability tests (pytest puts tests/ on sys.path via its conftest).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from charlstm import store
from charlstm.config import TrainConfig
from charlstm.text import Vocabulary
from charlstm.weights import expected_shapes


def random_run(
    root: Path,
    text: str,
    config: TrainConfig,
    name: str = "model",
    seed: int = 0,
    scale: float = 0.3,
    corpus: str = "test",
) -> Path:
    """A run folder with random weights in best.weights.npz; status and history are the caller's."""
    vocab = Vocabulary.from_text(text)
    rng = np.random.default_rng(seed)
    weights = {k: rng.normal(0, scale, s).astype(np.float32) for k, s in expected_shapes(config, len(vocab)).items()}
    run_dir = store.new_run_dir(root, name)
    store.write_run_files(run_dir, name=name, corpus=corpus, config=config, vocab=vocab, text=text)
    store.save_checkpoint(run_dir, "best", weights)
    return run_dir
