"""Runs made without TensorFlow: random weights of the right shapes, saved the way training saves them.

Shared by the app tests and the reliability tests (pytest puts tests/ on sys.path via its conftest).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from charlstm import store
from charlstm.config import TrainConfig
from charlstm.identity import OPERATOR
from charlstm.run import Run
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
    owner: str = OPERATOR,
) -> Path:
    """A run folder with a random 'best' checkpoint (manifest included); status and history are the caller's."""
    vocab = Vocabulary.from_text(text)
    rng = np.random.default_rng(seed)
    weights = {k: rng.normal(0, scale, s).astype(np.float32) for k, s in expected_shapes(config, len(vocab)).items()}
    run_dir = store.new_run_dir(root, name)
    run = Run.create(run_dir, name=name, corpus=corpus, config=config, vocab=vocab, text=text, owner=owner)
    run.save_checkpoint("best", weights, None, epoch=1)
    return run_dir
