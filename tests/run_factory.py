"""The tests' one tiny model (TINY, and the same as command-line and studio settings), and runs made without
TensorFlow: random weights of the right shapes, saved the way training saves them.

Shared by every test folder (pytest puts tests/ on sys.path via its conftest).
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

# The one tiny model of the tests: it trains in a second or two on two cores. A test changes what it is about
# with TINY.replace(...), so what it changes is visible where it is used.
TINY = TrainConfig(
    preset="quick",
    units=24,
    embedding_dim=8,
    seq_len=24,
    stride=24,
    batch_size=32,
    epochs=2,
    seconds=None,
    learning_rate=0.01,
    sample_length=60,
)
CLI_FIELDS = ("units", "embedding_dim", "seq_len", "stride", "batch_size", "learning_rate", "sample_length")
# The same model in the studio's Train page (the advanced settings' widget keys).
STUDIO_SETTINGS = {"train_units": TINY.units, "train_seq_len": TINY.seq_len, "train_batch": TINY.batch_size}


def cli_settings(config: TrainConfig = TINY) -> list[str]:
    """`config`'s model as options of `charlstm train` (`--set units=24 ...`)."""
    return [part for name in CLI_FIELDS for part in ("--set", f"{name}={getattr(config, name)}")]


def random_run(
    root: Path,
    text: str,
    config: TrainConfig,
    name: str = "model",
    seed: int = 0,
    scale: float = 0.3,
    corpus: str = "test",
    owner: str = OPERATOR,
    finished: bool = False,
) -> Path:
    """A run folder with a random 'best' checkpoint (manifest included), read as completed when `finished`;
    history and samples are the caller's."""
    vocab = Vocabulary.from_text(text)
    rng = np.random.default_rng(seed)
    weights = {k: rng.normal(0, scale, s).astype(np.float32) for k, s in expected_shapes(config, len(vocab)).items()}
    run_dir = store.new_run_dir(root, name)
    run = Run.create(run_dir, name=name, corpus=corpus, config=config, vocab=vocab, text=text, owner=owner)
    run.save_checkpoint("best", weights, None, epoch=1)
    if finished:
        run.write_status("completed", message="Finished.", epochs=1)
    return run_dir
