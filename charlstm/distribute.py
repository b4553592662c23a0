"""Scale-out through TensorFlow's own distribution strategies, not a home-made one.

    default       one device (the CPU, or the first GPU)
    mirrored      every local GPU (or logical CPU device), gradients all-reduced each step
    multiworker   several machines described by the TF_CONFIG environment variable

`batch_size` in the config is always the *global* batch: each of N replicas sees batch_size / N
examples per step, so results stay comparable with a single-device run.
"""

from __future__ import annotations

import json
import os

from .errors import ConfigError

STRATEGIES = ("default", "mirrored", "multiworker")

STRATEGIES = ("default", "mirrored", "multiworker")
_multiworker = None  # TensorFlow allows one, created before any other op runs


def make_strategy(name: str):
    """The strategy by name. Call it for `multiworker` at program start: collective ops must be set up
    before TensorFlow runs anything else (the CLI does so)."""
    import tensorflow as tf

    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in gpus] or [d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices=devices)
    if name == "multiworker":
        global _multiworker
        if _multiworker is None:
            if "TF_CONFIG" not in os.environ:
                raise ConfigError("--strategy multiworker needs the TF_CONFIG environment variable (see the README).")
            _multiworker = tf.distribute.MultiWorkerMirroredStrategy()
        return _multiworker
    raise ConfigError(f"strategy must be one of {', '.join(STRATEGIES)} (got {name!r}).")


def is_chief() -> bool:
    """True unless TF_CONFIG names this process as a non-chief worker (those write to scratch space)."""
    try:
        task = json.loads(os.environ.get("TF_CONFIG", "{}")).get("task", {})
    except ValueError:
        raise ConfigError("TF_CONFIG is not valid JSON.") from None
    kind, index = task.get("type", "worker"), int(task.get("index", 0))
    return kind == "chief" or (kind == "worker" and index == 0)
