"""The studio's models on an accelerator without TensorFlow (issue 19, part 5): the same Keras model, any backend.

The GPU machine lent to a session (an NVIDIA H200) holds JAX and PyTorch but no TensorFlow, and a call to it
carries at most 64 MiB, a tenth of TensorFlow's wheel: the studio's worker (tf.data, tf.function; run by
`bench/device.py`) cannot train there. This script trains the studio's own network (`charlstm.model.build_model`,
plain Keras 3) with the studio's optimiser, clipping, batch, sequence length, dropout (chosen by `sizing`) and
falling rate (`trainer.scheduled_lr`), on a text's first 90% for a fixed time, in batches cut by the studio's
own `data.iterate_batches`, and scores the last 10%. Run once with KERAS_BACKEND=jax on the GPU and once
here with TensorFlow on the CPU, on the same text file, it compares the two machines, not two trainers. The held-out
tail is scored at each tenth of the budget (`best_heldout_nats`), as the studio's trainer keeps its best epoch.

    KERAS_BACKEND=jax python -m bench.device_keras --text FILE --budget 150 --presets quick,quality --out PATH
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

FIRST_STEPS_UNTIMED = 3  # the backend compiles the step on the first call: its time is reported apart
CURVE_POINTS = 10  # held-out checks in a budget: the studio keeps its best epoch, and a GPU reaches it early


def device_names() -> list[str]:
    import keras

    if keras.backend.backend() == "jax":
        import jax

        return [str(d) for d in jax.devices()]
    import tensorflow as tf

    return [d.name for d in tf.config.list_physical_devices()]


def train_for(preset: str, text: str, budget: float) -> dict[str, Any]:
    """One preset trained for `budget` seconds after its compiled first steps; scored on the held-out tail."""
    import keras

    from charlstm import sizing
    from charlstm.config import PRESETS, preset_config
    from charlstm.data import iterate_batches, split_ids
    from charlstm.model import build_model
    from charlstm.text import Vocabulary
    from charlstm.trainer import scheduled_lr

    vocab = Vocabulary.from_text(text)
    split = split_ids(vocab.encode(text), PRESETS[preset].config.val_fraction)  # as the studio's trainer cuts it
    config = sizing.fitted(preset_config(preset, seconds=budget), len(text))  # as the Train page fits it
    keras.utils.set_random_seed(config.seed)
    model = build_model(config, len(vocab))
    model.compile(
        optimizer=keras.optimizers.RMSprop(config.learning_rate, clipnorm=config.clipnorm),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    rng = np.random.default_rng(config.seed)
    held = list(iterate_batches(split.val, config, training=False, rng=rng, batch_size=config.batch_size))
    held_x, held_y = np.concatenate([b[0] for b in held]), np.concatenate([b[1] for b in held])

    def heldout_nats() -> float:
        return float(model.evaluate(held_x, held_y, batch_size=config.batch_size, verbose=0))

    step, compile_seconds, started, timed_from, losses = 0, 0.0, None, 0, []
    curve: list[dict[str, float]] = []  # held-out loss at each tenth of the budget: its clock stops meanwhile
    while started is None or time.monotonic() - started < budget:
        for x, y in iterate_batches(split.train, config, training=True, rng=rng, batch_size=config.batch_size):
            spent = 0.0 if started is None else (time.monotonic() - started) / budget
            model.optimizer.learning_rate.assign(scheduled_lr(config.learning_rate, config.lr_schedule, spent, step))
            t0 = time.monotonic()
            losses.append(float(model.train_on_batch(x, y)))
            step += 1
            if started is None:
                compile_seconds += time.monotonic() - t0
                if step == FIRST_STEPS_UNTIMED:
                    started, timed_from = time.monotonic(), step
                continue
            if spent >= (len(curve) + 1) / CURVE_POINTS:
                paused = time.monotonic()
                curve.append({"spent": round(spent, 2), "heldout_nats": heldout_nats()})
                started += time.monotonic() - paused
            if time.monotonic() - started >= budget:
                break
    seconds = time.monotonic() - started
    chars = (step - timed_from) * config.batch_size * config.seq_len
    heldout = heldout_nats()
    return {
        "preset": preset,
        "budget": budget,
        "layers": config.layers,
        "units": config.units,
        "dropout": config.dropout,
        "steps": step,
        "compile_seconds": round(compile_seconds, 2),
        "chars_per_sec": chars / seconds,
        "readings": chars / len(split.train),
        "train_nats_last_100": float(np.mean(losses[-100:])),
        "heldout_nats": heldout,
        "best_heldout_nats": min([heldout, *(point["heldout_nats"] for point in curve)]),
        "curve": curve,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.device_keras")
    p.add_argument("--text", type=Path, required=True, help="a UTF-8 text file (the same one on both machines)")
    p.add_argument("--budget", type=float, default=150.0)
    p.add_argument("--presets", default="quick,quality")
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    import keras

    text = args.text.read_text(encoding="utf-8")
    result = {"backend": keras.backend.backend(), "devices": device_names(), "chars": len(text), "rows": []}
    print(f"backend {result['backend']} on {', '.join(result['devices'])}; {len(text):,} characters", flush=True)
    for preset in args.presets.split(","):
        row = train_for(preset, text, args.budget)
        result["rows"].append(row)
        args.out.write_text(json.dumps(result, indent=1))  # what finished survives a later failure
        print(json.dumps(row), flush=True)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    sys.exit(main())
