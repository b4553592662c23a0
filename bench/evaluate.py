"""The one validation measure every contender gets: the next character after 60 characters of context.

Over the held-out last 10% of the lowercased corpus, take a window of 60 characters every `stride`
positions (windows lie wholly inside the held-out tail) and score the character that follows it:
mean negative log-likelihood in nats (bits = nats / ln 2). The same windows for every contender.
charlstm models are rebuilt with `charlstm.model.build_model` from their weights and run on the
windows (sequence models: the last position's logits); the seed's model gives its softmax.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from charlstm.config import TrainConfig
from charlstm.text import Vocabulary

from .corpus import BenchText

CONTEXT = 60
BATCH = 1000
MIN_PROB = 1e-12  # the seed's float32 softmax can round a probability to 0; log(0) would be inf


@dataclass(frozen=True)
class HeldOut:
    contexts: np.ndarray  # (n, 60) ids
    targets: np.ndarray  # (n,) ids
    stride: int
    tail_chars: int
    vocab: Vocabulary

    @property
    def windows(self) -> int:
        return len(self.targets)

    def describe(self) -> str:
        return (
            f"{self.windows:,} windows of {CONTEXT} characters taken every {self.stride} positions of the "
            f"held-out tail ({self.tail_chars:,} characters, the last 10% of the lowercased text); "
            "the measure is the mean negative log-likelihood of the character after each window"
        )


def make_heldout(bench: BenchText, vocab: Vocabulary, stride: int, max_windows: int | None = None) -> HeldOut:
    """Windows every `stride` positions of the tail; `max_windows` keeps an evenly spread subset."""
    ids = vocab.encode(bench.heldout)
    starts = np.arange(0, len(ids) - CONTEXT, stride)
    if max_windows and len(starts) > max_windows:
        thin = math.ceil(len(starts) / max_windows)
        starts, stride = starts[::thin], stride * thin
    contexts = ids[starts[:, None] + np.arange(CONTEXT)[None, :]]
    return HeldOut(contexts, ids[starts + CONTEXT], stride, len(ids), vocab)


def _mean_nll(log_probs_of, heldout: HeldOut) -> float:
    """Run `log_probs_of(batch_of_contexts) -> (b, V) log-probabilities` over fixed-size batches."""
    total = 0.0
    n = heldout.windows
    for start in range(0, n, BATCH):
        ctx = heldout.contexts[start : start + BATCH]
        real = len(ctx)
        if real < BATCH:  # pad to one batch shape, so the traced function is reused
            ctx = np.concatenate([ctx, np.repeat(ctx[-1:], BATCH - real, axis=0)])
        logp = log_probs_of(ctx)[:real]
        total -= float(logp[np.arange(real), heldout.targets[start : start + real]].sum())
    return total / n


class SeedScorer:
    """The measure for the seed's Keras model (one-hot input, softmax output)."""

    def __init__(self, vocab_size: int):
        self.eye = np.eye(vocab_size, dtype=np.float32)
        self._fn = None
        self._model = None

    def __call__(self, model, heldout: HeldOut) -> float:
        import tensorflow as tf

        if self._model is not model:
            self._model = model
            self._fn = tf.function(lambda x: model(x, training=False), reduce_retracing=True)

        def log_probs(ctx: np.ndarray) -> np.ndarray:
            probs = np.asarray(self._fn(self.eye[ctx]), dtype=np.float64)
            return np.log(np.maximum(probs, MIN_PROB))

        return _mean_nll(log_probs, heldout)


class CharlstmScorer:
    """The measure for charlstm weights: `build_model(config)` once, then set each checkpoint's weights."""

    def __init__(self, config: TrainConfig, vocab_size: int):
        import tensorflow as tf

        from charlstm.model import build_model

        self.config, self.vocab_size = config, vocab_size
        self.model = build_model(config, vocab_size)
        last_only = config.mode == "sequence"
        model = self.model

        def logits(x):
            out = model(x, training=False)
            return out[:, -1, :] if last_only else out

        self._fn = tf.function(logits, reduce_retracing=True)

    def __call__(self, weights: dict[str, np.ndarray], heldout: HeldOut) -> float:
        from charlstm.model import set_weights

        set_weights(self.model, weights, self.config, self.vocab_size)

        def log_probs(ctx: np.ndarray) -> np.ndarray:
            z = np.asarray(self._fn(ctx.astype(np.int32)), dtype=np.float64)
            z -= z.max(axis=-1, keepdims=True)
            return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))

        return _mean_nll(log_probs, heldout)
