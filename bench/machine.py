"""How close to the machine (issue 19.3): the matrix-multiply rate this CPU reaches, and each preset's share of it.

    python -m bench.machine [--seconds 40] [--steps 40] [--out PATH]

1. **The machine.** float32 matrix products in NumPy and in TensorFlow, at 1024 x 1024 (about the best this
   CPU does) and at the product each time step of each preset waits for: (batch, units) x (units, 4 x units).
   Each rate is the median of timed repeats; a product of (m, k) by (k, n) is 2 m k n operations.
2. **The presets.** Each trains for `--seconds` on the benchmark text in a fresh process, as the studio runs
   it (a TrainingJob: data pipeline, held-out checks and samples included). Its characters per second, times
   what a character costs in training (a forward pass of 2 operations per weight an LSTM or output layer
   applies to it, and a backward pass of about twice that), is the rate it reached: shown as a share of the
   TensorFlow rate at its own step's shape and at 1024 x 1024.
3. **Tries.** What may raise it without changing what is learnt: XLA (`jit_compile`) and TensorFlow's
   thread count, each a Keras `fit` of `--steps` batches of the preset's shape (random characters: the speed
   does not depend on them) in a fresh process, twice (the faster counts), side by side with the plain one.
   XLA and threads keep the arithmetic, so a faster one learns more per second; a GRU or another batch shape
   changes what a step learns, which only a training judged on held-out text can weigh.

Prints Markdown tables and writes the raw numbers as JSON (--out; default in the temporary folder).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .common import ROOT, fmt, median

PRESETS = ("quick", "quality", "classic")
SQUARE = 1024
REPEATS = 7
OUT = Path(tempfile.gettempdir()) / "charlstm-bench-machine.json"


# --- what a character costs ---------------------------------------------------------------------------------
def step_shape(config) -> tuple[int, int, int]:
    """(m, k, n) of the product each time step must wait for: the batch's states times the recurrent kernel.

    Keras projects a whole sequence's inputs in one big product; the recurrent one, (batch, units) x (units,
    4 x units) for an LSTM, runs once per character, one after another: the shape the CPU sees most."""
    gates = 3 if config.cell == "gru" else 4
    return config.batch_size, config.units, gates * config.units


def train_flops_per_char(config, vocab_size: int) -> float:
    """Operations one character fed costs in training: 3 x the forward pass's 2 per weight applied to it."""
    units = config.units
    inputs = [config.embedding_dim or vocab_size] + [units] * (config.layers - 1)
    gates = 3 if config.cell == "gru" else 4
    recurrent = sum(2 * gates * units * (d + units) for d in inputs)
    targets_per_char = 1.0 if config.mode == "sequence" else 1.0 / config.seq_len  # a window has one target
    output = 2 * units * vocab_size * targets_per_char
    return 3.0 * (recurrent + output)


# --- the measurements, each in a fresh process ------------------------------------------------------------------
def _rate(multiply, a, b, repeats: int = REPEATS) -> float:
    """Operations per second of `multiply(a, b)` (median of repeats, after one untimed warm-up)."""
    multiply(a, b)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        multiply(a, b)
        times.append(time.perf_counter() - started)
    m, k = a.shape
    n = b.shape[1]
    return 2.0 * m * k * n / median(times)


def task_matmul(args: dict) -> dict[str, Any]:
    """NumPy's and TensorFlow's float32 product rates at each (m, k, n) given."""
    import numpy as np
    import tensorflow as tf

    rng = np.random.default_rng(0)
    out = {}
    for m, k, n in args["shapes"]:
        a, b = rng.random((m, k), np.float32), rng.random((k, n), np.float32)
        # a step's product is small: time 50 of them per call, so the call's overhead does not dominate (in
        # TensorFlow, 50 products in one graph, as a training step runs them: no Python between them)
        times = 1 if m * k * n > 10**8 else 50

        @tf.function
        def products(x, y, times=times):
            total = tf.zeros((x.shape[0], y.shape[1]))
            for i in range(times):  # a different left side each time: the graph cannot reuse one product
                total += tf.linalg.matmul(x + float(i), y)
            return total

        np_rate = _rate(lambda x, y, times=times: [x @ y for _ in range(times)], a, b) * times
        tf_rate = _rate(lambda x, y: products(x, y).numpy(), tf.constant(a), tf.constant(b)) * times
        out[f"{m}x{k}x{n}"] = {"numpy": np_rate, "tensorflow": tf_rate}
    return out


def task_train(args: dict) -> dict[str, Any]:
    """A preset trained for `seconds` as the studio trains it: characters fed per second."""
    from charlstm.config import preset_config
    from charlstm.text import Corpus
    from charlstm.training import TrainingJob

    from .corpus import load_bench_text

    text = load_bench_text().text
    config = preset_config(args["preset"]).replace(seconds=args["seconds"], epochs=100_000, sample_length=0)
    with tempfile.TemporaryDirectory() as root:
        job = TrainingJob.create(Corpus(text, "bench", "paste"), config, root=Path(root))
        outcome = job.run()
        return {"chars_per_sec": job.clock.speed, "vocab": len(job.vocab), "stop": outcome.stop_reason}


def task_fit(args: dict) -> dict[str, Any]:
    """Characters per second of a Keras fit of the preset's shape, with XLA or a thread count as asked."""
    threads = args.get("threads")
    import numpy as np
    import tensorflow as tf

    if threads:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    import keras

    from charlstm.config import preset_config
    from charlstm.model import build_model, make_optimizer

    config = preset_config(args["preset"]).replace(**args.get("set", {}))
    vocab, steps = args["vocab"], args["steps"]
    model = build_model(config, vocab)
    model.compile(
        optimizer=make_optimizer(config),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=bool(args.get("xla")),
    )
    rng = np.random.default_rng(0)
    shape = (config.batch_size * steps, config.seq_len)
    x, y = rng.integers(0, vocab, shape), rng.integers(0, vocab, shape)
    model.fit(x[: config.batch_size], y[: config.batch_size], batch_size=config.batch_size, verbose=0)  # compiles
    started = time.perf_counter()
    model.fit(x, y, batch_size=config.batch_size, epochs=1, verbose=0, shuffle=False)
    seconds = time.perf_counter() - started
    return {
        "chars_per_sec": shape[0] * shape[1] / seconds,
        "threads": tf.config.threading.get_intra_op_parallelism_threads(),
    }


TASKS = {"matmul": task_matmul, "train": task_train, "fit": task_fit}


def fresh(task: str, args: dict) -> dict[str, Any]:
    """Run one task in a new Python process (nothing one measurement loaded or warmed can help the next)."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "bench.machine", "--task", task, json.dumps(args)]
    proc = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    raise RuntimeError(f"{task} failed (exit {proc.returncode}): {proc.stderr.strip()[-800:]}")


# --- the report ------------------------------------------------------------------------------------------------
def measure(seconds: float, steps: int) -> dict[str, Any]:
    from charlstm.config import preset_config

    configs = {name: preset_config(name) for name in PRESETS}
    shapes = [(SQUARE, SQUARE, SQUARE), *(step_shape(c) for c in configs.values())]
    result: dict[str, Any] = {"seconds": seconds, "steps": steps, "cpus": os.cpu_count()}
    result["matmul"] = fresh("matmul", {"shapes": shapes})
    result["presets"] = {}
    for name, config in configs.items():
        trained = fresh("train", {"preset": name, "seconds": seconds})
        flops = train_flops_per_char(config, trained["vocab"])
        trained.update(flops_per_char=flops, rate=trained["chars_per_sec"] * flops, shape=step_shape(config))
        result["presets"][name] = trained
    vocab = result["presets"]["quick"]["vocab"]
    wide = {"batch_size": 256, "seq_len": 32, "stride": 32}  # the same characters a step, twice the rows
    tries = {
        "plain (TensorFlow's default threads)": {},
        "XLA (jit_compile)": {"xla": True},
        "1 thread": {"threads": 1},
        "2 threads": {"threads": 2},
        "GRU of the same width": {"set": {"cell": "gru"}},
        "batches of 256 x 32": {"set": wide},
        "batches of 256 x 32, 1 thread": {"set": wide, "threads": 1},
    }
    result["tries"] = {}
    for label, extra in tries.items():  # the faster of two fresh processes: the least disturbed
        runs = [fresh("fit", {"preset": "quick", "vocab": vocab, "steps": steps, **extra}) for _ in range(2)]
        result["tries"][label] = max(runs, key=lambda r: r["chars_per_sec"])
        result["tries"][label]["both"] = [r["chars_per_sec"] for r in runs]
    return result


def gflops(rate: float) -> str:
    return f"{rate / 1e9:.1f}"


def report(result: dict[str, Any]) -> str:
    matmul = result["matmul"]
    square = matmul[f"{SQUARE}x{SQUARE}x{SQUARE}"]
    lines = ["| product (m x k x n) | NumPy GFLOP/s | TensorFlow GFLOP/s |", "|---|---|---|"]
    lines += [f"| {shape} | {gflops(r['numpy'])} | {gflops(r['tensorflow'])} |" for shape, r in matmul.items()]
    lines += [
        "",
        "| preset | its step's product | chars fed/s | FLOPs per char (training) | GFLOP/s reached "
        "| share of TF at its shape | share of TF at 1024³ |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, p in result["presets"].items():
        shape = "x".join(map(str, p["shape"]))
        at_shape = matmul[shape]["tensorflow"]
        lines.append(
            f"| {name} | {shape} | {p['chars_per_sec']:,.0f} | {p['flops_per_char'] / 1e6:.2f} M | {gflops(p['rate'])} "
            f"| {p['rate'] / at_shape:.0%} | {p['rate'] / square['tensorflow']:.0%} |"
        )
    plain = next(iter(result["tries"].values()))["chars_per_sec"]
    lines += [
        "",
        "| quick, a Keras fit of random batches | chars/s (faster of two) | the two runs | against the first |",
    ]
    lines.append("|---|---|---|---|")
    for label, t in result["tries"].items():
        both = " / ".join(f"{r:,.0f}" for r in t["both"])
        lines.append(f"| {label} | {t['chars_per_sec']:,.0f} | {both} | {fmt(t['chars_per_sec'] / plain, 2)}x |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.machine", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=40.0, help="each preset's training (default 40)")
    parser.add_argument("--steps", type=int, default=80, help="batches of each Keras fit try (default 80)")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--task", help=argparse.SUPPRESS)
    parser.add_argument("args", nargs="?", help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    if options.task:
        print("RESULT " + json.dumps(TASKS[options.task](json.loads(options.args or "{}"))), flush=True)
        return
    started = time.monotonic()
    result = measure(options.seconds, options.steps)
    result["minutes"] = (time.monotonic() - started) / 60
    options.out.write_text(json.dumps(result, indent=1))
    print(report(result))
    print(f"\n{result['minutes']:.1f} minutes; raw numbers in {options.out}")


if __name__ == "__main__":
    main()
