"""Scale-out: the `mirrored` strategy on two logical CPU devices trains like a single device.

TensorFlow fixes its device list at start-up, so each check runs in a fresh subprocess that first
splits the CPU into two logical devices.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = r"""
import json, sys
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
from charlstm.config import TrainConfig
from charlstm.store import load_generator
from charlstm.text import Corpus
from charlstm.training import TrainingJob

text = open(sys.argv[1], encoding="utf-8").read()
# One full batch per epoch (batch_size = the 298 training windows): each step sees the same data whatever order the
# distributed input pipeline produces, so single-device and mirrored steps must agree.
config = TrainConfig(mode="window", units=24, embedding_dim=8, seq_len=24, stride=9, batch_size=298, epochs=6,
                     seconds=None, optimizer="sgd", learning_rate=0.5, sample_length=20, seed=7)
out = {}
for strategy in ("default", "mirrored"):
    job = TrainingJob.create(Corpus(text, "docs", "paste"), config, root=sys.argv[2], strategy=strategy)
    snap = job.run()
    gen = load_generator(job.run_dir)
    out[strategy] = {
        "stopped": snap.stop_reason, "message": snap.message,
        "batch_losses": list(snap.batch_losses), "val_loss": snap.history[-1].val_loss,
        "sample": gen.generate("the ", [1.0], 30, seed=1)[0].text,
        "replicas": __import__("charlstm.distribute", fromlist=["x"]).make_strategy(strategy).num_replicas_in_sync,
    }
print("RESULT" + json.dumps(out))
"""


def test_mirrored_on_two_cpu_devices_matches_single_device(tmp_path, english_text):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(english_text[:3_000], encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(corpus), str(tmp_path / "runs")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.split("RESULT", 1)[1])
    single, mirrored = result["default"], result["mirrored"]
    assert mirrored["replicas"] == 2 and single["replicas"] == 1
    assert single["stopped"] == mirrored["stopped"] == "completed", (single["message"], mirrored["message"])
    # Same data, same initial weights, gradients all-reduced over the same global batch. SGD, because
    # Adam's first steps move every weight by +-lr whatever the gradient size, amplifying round-off.
    # the losses agree up to float32 reduction order (tolerance 1e-3 nats per character).
    assert len(single["batch_losses"]) == len(mirrored["batch_losses"]) == 6
    for a, b in zip(single["batch_losses"], mirrored["batch_losses"], strict=True):
        assert abs(a - b) < 1e-3, (single["batch_losses"], mirrored["batch_losses"])
    assert abs(single["val_loss"] - mirrored["val_loss"]) < 1e-3
    assert len(mirrored["sample"]) == 30  # the model trained under `mirrored` saves and generates


def test_multiworker_from_tf_config_trains_a_one_worker_cluster_on_loopback(tmp_path, english_text):
    """`--strategy multiworker` sets up collective ops before anything else and trains from TF_CONFIG."""
    import socket

    corpus = tmp_path / "corpus.txt"
    corpus.write_text(english_text[:6_000], encoding="utf-8")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    tf_config = {"cluster": {"worker": [f"127.0.0.1:{port}"]}, "task": {"type": "worker", "index": 0}}
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CONFIG": json.dumps(tf_config)}
    out = tmp_path / "run"
    args = [
        "train",
        str(corpus),
        "--set",
        "units=16",
        "--set",
        "seq_len=20",
        "--set",
        "stride=20",
        "--epochs",
        "2",
        "--strategy",
        "multiworker",
        "--out",
        str(out),
        "--json",
    ]
    proc = subprocess.run(
        [sys.executable, "-m", "charlstm", *args], capture_output=True, text=True, env=env, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["stopped"] == "completed" and summary["epochs"] == 2
    assert (out / "best.weights.npz").is_file()  # worker 0 is the chief: it writes the real run folder
