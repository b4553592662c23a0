"""Training on whatever the cluster's worker has (issue 19, part 5): the 150-s and 15-minute choices, through Dask.

    python -m bench.device [--kind python-source] [--budgets 150,900] [--out PATH]

One prepared script for a machine with a GPU, run the same way on a CPU-only one for the side-by-side. It
starts the studio's own embedded cluster (`JobQueue`: one worker process, TLS), asks that worker what devices
its TensorFlow sees, then trains each budget's preset (`quick` for 150 s, `quality` for 900 s) on the text's
first 90% as the studio does (a run folder, `charlstm.worker.train_run`), and scores the best model on the last
10% as `charlstm score` does. It prints one Markdown row a budget and writes the raw numbers as JSON:
the device, characters a second from the run's own history, epochs, and the held-out score.

Nothing here chooses a device: TensorFlow on the worker places the model on a GPU when it sees one (pip's
`tensorflow[and-cuda]` on Linux), and this script reports which it was.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

OUT = Path(tempfile.gettempdir()) / "charlstm-bench-device.json"
PRESET_FOR_BUDGET = ((900.0, "quality"), (0.0, "quick"))  # the studio's choice for a time: 15 minutes, or less
OWNER = "bench-device"


def preset_for(budget: float) -> str:
    return next(name for at_least, name in PRESET_FOR_BUDGET if budget >= at_least)


def worker_devices() -> list[str]:
    """Run on the worker: the devices its TensorFlow sees (imported there, never in this process)."""
    import tensorflow as tf

    return [f"{d.device_type}:{d.name}" for d in tf.config.list_physical_devices()]


def train_one(queue, text: str, heldout: str, budget: float) -> dict[str, Any]:
    """One training through the queue's worker, waited for, then scored on the held-out tail."""
    from charlstm.config import preset_config
    from charlstm.generate import Generator
    from charlstm.store import new_run
    from charlstm.text import Corpus

    name = preset_for(budget)
    config = preset_config(name, seconds=budget, epochs=100_000)
    run, _ = new_run(Corpus(text, f"device-{name}", "files"), config, root=queue.root, owner=OWNER)
    started = time.monotonic()
    queue.submit(run, OWNER)  # the run reads "queued" from here on, then "running", until it ends
    while run.status().active:
        time.sleep(1.0)
    waited = time.monotonic() - started
    status, history = run.status(), run.history()
    if not history:
        raise RuntimeError(f"{name} trained no epoch: {status.state}: {status.message}")
    weights, _ = run.load_checkpoint(run.best_tag())
    score = Generator(weights, run.config(), run.vocab()).score(heldout)
    return {
        "preset": name,
        "budget": budget,
        "state": status.state,
        "waited": waited,
        "epochs": len(history),
        "chars_per_sec": history[-1].chars_per_sec,
        "nats": score.nats,
    }


def main(argv: list[str] | None = None) -> int:
    from charlstm.jobs import JobQueue

    from .texts import load_kind

    p = argparse.ArgumentParser(prog="python -m bench.device")
    p.add_argument("--kind", default="python-source")
    p.add_argument("--budgets", default="150,900")
    p.add_argument("--chars", type=int, help="only the text's first CHARS characters")
    p.add_argument("--out", type=Path, default=OUT)
    args = p.parse_args(argv)
    kind = load_kind(args.kind)
    text = kind.text[: args.chars] if args.chars else kind.text
    cut = int(len(text) * 0.9)
    with tempfile.TemporaryDirectory(prefix="charlstm-device-") as tmp:
        queue = JobQueue(root=Path(tmp), workers=1)
        try:
            devices = queue.client().run(worker_devices)
            device = next(iter(devices.values()))
            rows = [train_one(queue, text[:cut], text[cut:], float(b)) for b in args.budgets.split(",")]
        finally:
            queue.close()
    gpu = any(d.startswith("GPU") for d in device)
    print(f"worker's devices: {', '.join(device)} ({'a GPU' if gpu else 'no GPU: the CPU trained'})")
    print("| preset | budget s | waited s | ended | epochs | chars/s | held-out nats |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['preset']} | {r['budget']:g} | {r['waited']:.0f} | {r['state']} | {r['epochs']} | "
            f"{r['chars_per_sec']:,.0f} | {r['nats']:.3f} |"
        )
    args.out.write_text(json.dumps({"kind": args.kind, "chars": len(text), "devices": device, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
