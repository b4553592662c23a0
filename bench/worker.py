"""Memory workers: each runs in a fresh process (`python -m bench.worker TASK JSON`) and prints one
RESULT line of JSON with its timings and its peak resident memory (VmHWM)."""

from __future__ import annotations

import json
import os
import sys
import tempfile
import threading
import time
from typing import Any

from .common import import_tensorflow, peak_rss_mb, reset_peak, rss_mb

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _bench_text() -> str:
    from .corpus import load_bench_text

    bench = load_bench_text()
    if bench is None:
        raise SystemExit("no Nietzsche")
    return bench.text


def seed_prep(args: dict) -> dict[str, Any]:
    from . import seed

    out = import_tensorflow()
    text = _bench_text()
    out["rss_after_text_mb"] = rss_mb()
    t = time.perf_counter()
    data = seed.vectorize(text)
    out["prep_seconds"] = time.perf_counter() - t
    out["array_mb"] = (data.x.nbytes + data.y.nbytes) / 2**20
    out["windows"] = len(data.x)
    return out


def ours_prep(args: dict) -> dict[str, Any]:
    out = import_tensorflow()
    text = _bench_text() if args.get("chars") is None else _scaled(args["chars"])
    out["peak_before_prep_mb"] = peak_rss_mb()
    reset_peak()  # building the repeated text briefly needs two copies: not part of data preparation
    out["rss_after_text_mb"] = rss_mb()
    times: list[dict[str, float]] = []
    for _ in range(int(args.get("repeats", 1))):
        times.append(_prepare(text, args.get("batches", 5)))
    out["runs"] = times
    out["chars"] = len(text)
    return out


def _scaled(n: int) -> str:
    from .corpus import scaled_text

    return scaled_text(int(n))


def _prepare(text: str, batches: int) -> dict[str, float]:
    """charlstm's data preparation for the quick preset: vocabulary, ids, split, tf.data, a few batches."""
    from charlstm import data
    from charlstm.config import preset_config
    from charlstm.text import Vocabulary

    config = preset_config("quick", lowercase=True)
    t0 = time.perf_counter()
    vocab = Vocabulary.from_text(text)
    t1 = time.perf_counter()
    ids = vocab.encode(text)
    t2 = time.perf_counter()
    split = data.split_ids(ids, config.val_fraction)
    ds = data.make_dataset(split.train, config, training=True, seed=1).repeat()
    for _ in ds.take(batches):
        pass
    t3 = time.perf_counter()
    return {
        "vocab_s": t1 - t0,
        "encode_s": t2 - t1,
        "dataset_s": t3 - t2,
        "total_s": t3 - t0,
        "ids_mb": ids.nbytes / 2**20,
        "vocab_size": len(vocab),
        "windows": data.window_count(len(split.train), config),
    }


def seed_train(args: dict) -> dict[str, Any]:
    """The seed's whole training process, cut after `seconds` of fit."""
    import keras

    from . import seed

    out = import_tensorflow()
    text = _bench_text()
    data = seed.vectorize(text)
    model = seed.build_model(len(data.chars))
    budget, t0 = float(args["seconds"]), time.monotonic()

    class Stop(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if time.monotonic() - t0 >= budget:
                self.model.stop_training = True

    model.fit(data.x, data.y, batch_size=seed.BATCH_SIZE, epochs=1, callbacks=[Stop()], verbose=0)
    out["train_seconds"] = time.monotonic() - t0
    return out


def ours_train(args: dict) -> dict[str, Any]:
    """charlstm's whole training process (quick preset, lowercase) for `seconds`."""
    from charlstm.config import preset_config
    from charlstm.text import Corpus
    from charlstm.training import TrainingJob

    out = import_tensorflow()
    text = _bench_text()
    config = preset_config("quick", lowercase=True, seconds=float(args["seconds"]))
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.monotonic()
        snap = TrainingJob.create(Corpus(text, "nietzsche", "builtin"), config, root=tmp).run()
        out["train_seconds"] = time.monotonic() - t0
        out["stop_reason"] = snap.stop_reason
    return out


def gen_speed(args: dict) -> dict[str, Any]:
    """Generator speed for weights saved in an .npz (run with a different BLAS thread setting)."""
    import numpy as np

    from charlstm.config import TrainConfig
    from charlstm.generate import Generator
    from charlstm.text import Vocabulary

    from .generation import speed

    with np.load(args["weights"], allow_pickle=False) as npz:
        weights = {k: npz[k] for k in npz.files}
    gen = Generator(weights, TrainConfig.from_dict(args["config"]), Vocabulary(args["chars"]))
    return speed(gen, args["prompt"], int(args["n"]), int(args["repeats"]))


def kind_train(args: dict) -> dict[str, Any]:
    """One contender on one text of the several-kinds benchmark (bench/kinds.py)."""
    from .kinds import measure

    return measure(args)


TASKS = {
    "kind_train": kind_train,
    "gen_speed": gen_speed,
    "seed_prep": seed_prep,
    "ours_prep": ours_prep,
    "seed_train": seed_train,
    "ours_train": ours_train,
}


def end_with_parent(every: float = 1.0) -> None:
    """Exit when the benchmark that started this worker is gone: a killed benchmark must not leave a training
    running, which would share the cores with the next measurement unseen (tuning.md, rows M13-M15)."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(every)
        os._exit(1)

    threading.Thread(target=watch, daemon=True, name="end-with-parent").start()


def main() -> None:
    end_with_parent()
    task, args = sys.argv[1], json.loads(sys.argv[2] if len(sys.argv) > 2 else "{}")
    result = TASKS[task](args)
    result["peak_rss_mb"] = peak_rss_mb()
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
