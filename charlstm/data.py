"""Integer ids to tf.data pipelines: never a one-hot copy of the corpus.

Two modes. `sequence` (default): windows of `seq_len` ids, the target is the same window shifted
by one, so every position teaches the model something. `window` (the seed's): a 60-id window and
the single id that follows it, windows every `stride` characters. The last `val_fraction` of the
corpus is held out in both modes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from .config import TrainConfig


@dataclass(frozen=True)
class Split:
    train: np.ndarray
    val: np.ndarray


def split_ids(ids: np.ndarray, val_fraction: float) -> Split:
    """Hold out the tail: validation text the model never trains on, not a random sample of windows."""
    cut = len(ids) - round(len(ids) * val_fraction)
    return Split(ids[:cut], ids[cut:])


def window_starts(n_ids: int, config: TrainConfig) -> int:
    """How many training examples `config` makes from `n_ids` ids (shown on the corpus page)."""
    if config.mode == "window":
        return max(0, len(range(0, n_ids - config.seq_len, config.stride)))
    return max(0, len(range(0, n_ids - config.seq_len - 1, config.stride)))


def make_dataset(
    ids: np.ndarray,
    config: TrainConfig,
    *,
    training: bool,
    seed: int | None = None,
    batch_size: int | None = None,
) -> tf.data.Dataset:
    """Batches of (inputs, targets). Training shuffles every epoch; validation is fixed."""
    batch_size = batch_size or config.batch_size
    seq_len, stride = config.seq_len, config.stride
    count = window_starts(len(ids), config)
    if count == 0:
        raise ValueError("corpus part shorter than one window")
    ids_t = tf.constant(ids)
    span = seq_len + 1
    jitter = training and config.mode == "sequence" and stride > 1
    last_start = len(ids) - span

    def gather(starts):
        idx = starts[:, None] + tf.range(span, dtype=tf.int64)[None, :]
        chunk = tf.cast(tf.gather(ids_t, idx), tf.int32)
        if config.mode == "window":
            return chunk[:, :seq_len], chunk[:, seq_len]
        return chunk[:, :-1], chunk[:, 1:]

    ds = tf.data.Dataset.range(count)
    if training:
        ds = ds.shuffle(count, seed=seed, reshuffle_each_iteration=True)
    ds = ds.map(lambda i: i * stride)
    if jitter:
        # A fresh random offset per window and epoch, so window edges move between epochs. Drawn from
        # a seeded random dataset in order (not inside a parallel map), so a seeded run is repeatable.
        offsets = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
        ds = tf.data.Dataset.zip(ds, offsets).map(lambda s, r: tf.minimum(s + r % stride, last_start))
    ds = ds.batch(batch_size, drop_remainder=training and count >= batch_size)
    return ds.map(gather, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def steps_per_epoch(n_train_ids: int, config: TrainConfig) -> int:
    full = window_starts(n_train_ids, config)
    steps = max(1, full // config.batch_size) if full >= config.batch_size else 1
    return min(steps, config.steps_per_epoch) if config.steps_per_epoch else steps
