"""The command line, driven exactly as users and our checks drive it: `python -m charlstm ...`."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from helpers import default_sigint, wait_for
from run_factory import TINY as TINY_MODEL
from run_factory import cli_settings

from charlstm.run import Run

ROOT = Path(__file__).resolve().parent.parent
TINY = cli_settings(TINY_MODEL.replace(units=16, seq_len=20, stride=20, sample_length=40))


def cli(*args, env_home: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if env_home is not None:
        env["CHARLSTM_HOME"] = str(env_home)
    return subprocess.run(
        [sys.executable, "-m", "charlstm", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        cwd=ROOT,
    )


def assert_user_error(result: subprocess.CompletedProcess, *words: str) -> None:
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = [ln for ln in result.stderr.splitlines() if ln.startswith("charlstm: error:")]
    assert len(lines) == 1, result.stderr
    for word in words:
        assert word.lower() in lines[0].lower()


@pytest.fixture(scope="module")
def corpus_file(tmp_path_factory, english_text) -> Path:
    path = tmp_path_factory.mktemp("corpus") / "docs.txt"
    path.write_text(english_text[:15_000], encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory, corpus_file) -> tuple[Path, subprocess.CompletedProcess]:
    out = tmp_path_factory.mktemp("cli") / "run"
    result = cli("train", corpus_file, *TINY, "--epochs", 2, "--out", out, "--json")
    assert result.returncode == 0, result.stderr
    return out, result


def test_train_prints_epochs_and_json_summary(cli_run):
    out, result = cli_run
    lines = result.stdout.strip().splitlines()
    assert [ln.split(":")[0] for ln in lines[:-1]] == ["epoch 1", "epoch 2"]
    summary = json.loads(lines[-1])
    assert summary["run"] == str(out) and summary["epochs"] == 2 and summary["stopped"] == "completed"
    assert summary["val_bpc"] == pytest.approx(summary["val_loss"] / 0.6931471805599453)
    assert summary["seconds"] > 0
    for name in ("config.json", "vocab.json", "history.jsonl", "samples.jsonl", "best.weights.npz"):
        assert (out / name).is_file(), name


def test_generate_labels_each_temperature(cli_run):
    out, _ = cli_run
    result = cli("generate", out, "--prompt", "The ", "-t", "0.2", "1.0", "-n", "50", "--seed", "7")
    assert result.returncode == 0, result.stderr
    assert "----- temperature 0.2 -----" in result.stdout and "----- temperature 1 -----" in result.stdout
    as_json = json.loads(
        cli("generate", out, "--prompt", "The ", "-t", "0.2", "1.0", "-n", "50", "--seed", "7", "--json").stdout
    )
    assert [s["temperature"] for s in as_json] == [0.2, 1.0]
    assert all(len(s["text"]) == 50 for s in as_json)
    assert "The " + as_json[0]["text"] in result.stdout  # same seed, same text


def test_generate_is_reproducible_and_reports_unseen_prompt_chars(cli_run):
    out, _ = cli_run
    a = cli("generate", out, "--prompt", "Zürich ☃", "-t", "1", "-n", "40", "--seed", "1", "--json")
    b = cli("generate", out, "--prompt", "Zürich ☃", "-t", "1", "-n", "40", "--seed", "1", "--json")
    assert a.returncode == 0 and a.stdout == b.stdout
    assert "never saw" in a.stderr and "☃" in a.stderr


def test_score_and_info(cli_run, corpus_file):
    out, _ = cli_run
    score = json.loads(cli("score", out, corpus_file, "--json").stdout)
    assert score["chars"] > 10_000 and score["bpc"] == pytest.approx(score["nats"] / 0.6931471805599453)
    assert 0 < score["bpc"] < 8
    info = json.loads(cli("info", out, "--json").stdout)
    assert info["epochs"] == 2 and info["config"]["units"] == 16 and info["parameters"] > 0


def test_export_import_round_trip(cli_run, tmp_path):
    out, _ = cli_run
    bundle = tmp_path / "model.zip"
    assert cli("export", out, bundle).returncode == 0
    assert set(zipfile.ZipFile(bundle).namelist()) >= {"manifest.json", "config.json", "vocab.json", "weights.npz"}
    dest = tmp_path / "imported"
    result = cli("import", bundle, "--out", dest)
    assert result.returncode == 0, result.stderr
    args = ("--prompt", "a", "-t", "0.7", "-n", "60", "--seed", "3", "--json")
    assert cli("generate", dest, *args).stdout == cli("generate", out, *args).stdout


def test_resume_continues_the_history(cli_run, tmp_path):
    import shutil

    copy = tmp_path / "copy"
    shutil.copytree(cli_run[0], copy)
    result = cli("resume", copy, "--epochs", "1", "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["epochs"] == 3 and summary["stopped"] == "completed"
    assert "epoch 3:" in result.stdout
    assert len((copy / "history.jsonl").read_text().splitlines()) == 3


def test_time_budget_stops_with_reason_time(corpus_file, tmp_path):
    result = cli("train", corpus_file, *TINY, "--epochs", "100000", "--seconds", "3", "--out", tmp_path / "r", "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["stopped"] == "time" and summary["epochs"] >= 1


def start_cli(*args) -> subprocess.Popen:
    """`python -m charlstm ARGS` in the background, stopping on Ctrl+C however the suite was started."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "charlstm", *map(str, args)]
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT, preexec_fn=default_sigint
    )


def test_ctrl_c_stops_cleanly_and_keeps_the_model(corpus_file, tmp_path):
    out = tmp_path / "r"
    proc = start_cli("train", corpus_file, *TINY, "--epochs", "100000", "--out", out, "--json")
    wait_for(lambda: (out / "history.jsonl").exists(), 90, 0.2, what="a first epoch")
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0, stderr
    assert json.loads(stdout.strip().splitlines()[-1])["stopped"] == "user"
    assert "Traceback" not in stderr
    assert cli("generate", out, "-n", "20", "-t", "1").returncode == 0


def test_builtin_nietzsche_through_keras_cache(keras_home, tmp_path):
    result = cli(
        "train",
        "--builtin",
        "nietzsche",
        *TINY,
        "--max-chars",
        "20000",
        "--epochs",
        "1",
        "--out",
        tmp_path / "n",
        "--json",
    )
    assert result.returncode == 0, result.stderr
    assert "nietzsche" in json.loads((tmp_path / "n" / "meta.json").read_text())["corpus"]
    text = (tmp_path / "n" / "corpus.txt").read_text()
    assert text.startswith("PREFACE") and len(text) == 20_000


@pytest.mark.parametrize(
    ("make_args", "words"),
    [
        (lambda d: ["train", d / "missing.txt"], ["not found"]),
        (lambda d: ["train", d / "image.txt"], ["binary"]),
        (lambda d: ["train", d / "empty.txt"], ["empty"]),
        (lambda d: ["train", d / "short.txt"], ["too short"]),
        (lambda d: ["train", d / "short.txt", "--set", "units=0"], ["units"]),
        (lambda d: ["train", d / "short.txt", "--set", "learning_rate=-1"], ["learning_rate"]),
        (lambda d: ["train", d / "short.txt", "--set", "nonsense=1"], ["--set"]),
        (lambda d: ["train", "--preset", "bogus"], ["preset"]),
        (lambda d: ["generate", d / "no-run"], ["not a run folder"]),
        (lambda d: ["import", d / "image.txt"], ["not a zip"]),
    ],
)
def test_user_errors_are_one_line_without_traceback(tmp_path, make_args, words):
    (tmp_path / "image.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(200))
    (tmp_path / "empty.txt").write_bytes(b"")
    (tmp_path / "short.txt").write_text("Too short to train on.")
    assert_user_error(cli(*make_args(tmp_path), env_home=tmp_path / "home"), *words)


@pytest.mark.parametrize("temperature", ["-1", "nan", "inf"])
def test_bad_temperatures_are_refused(cli_run, temperature):
    assert_user_error(cli("generate", cli_run[0], "-t", temperature), "temperature")


# --- issue 9: odd inputs found by review ------------------------------------------------------------
@pytest.mark.parametrize("seed", ["-1", "2147483648", "x"])
def test_a_bad_seed_is_one_line(cli_run, seed):
    assert_user_error(cli("generate", cli_run[0], "--seed", seed, "-n", "5"), "--seed", "0")


@pytest.mark.parametrize("kind", ["device", "fifo"])
def test_a_device_or_a_named_pipe_is_refused_at_once(tmp_path, kind):
    if kind == "device":
        path = Path("/dev/zero")
    else:
        path = tmp_path / "pipe.txt"
        os.mkfifo(path)  # nobody writes to it: reading would wait for ever
    for command in (["train", path, *TINY], ["import", path]):
        result = cli(*command, env_home=tmp_path / "home", timeout=60)
        assert_user_error(result, "not a regular file")


def test_usage_hints_name_the_command_once(tmp_path):
    top = cli("bogus")
    assert "(see: python -m charlstm -h)" in top.stderr and "charlstm charlstm" not in top.stderr
    sub = cli("train", "--epochs", "x")
    assert "(see: python -m charlstm train -h)" in sub.stderr
    assert top.returncode == sub.returncode == 2


def test_an_imported_model_resumes_on_the_text_it_is_given(cli_run, corpus_file, tmp_path):
    bundle = tmp_path / "model.zip"
    assert cli("export", cli_run[0], bundle).returncode == 0
    dest = tmp_path / "imported"
    assert cli("import", bundle, "--out", dest).returncode == 0
    without = cli("resume", dest, "--epochs", "1")
    assert_user_error(without, "give text files or --builtin")
    result = cli("resume", dest, corpus_file, "--epochs", "1", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1])["epochs"] == 3  # two imported, one more


def test_ctrl_c_twice_abandons_at_once(corpus_file, tmp_path):
    out = tmp_path / "r"
    # the samples written on stopping take a while: 10,000 characters from a 512-unit model, over a second
    slow_stop = ["--set", "sample_length=10000", "--set", "units=512"]
    proc = start_cli("train", corpus_file, *TINY, *slow_stop, "--epochs", "100000", "--out", out)
    # Stop asked after the first batch: the partial epoch's end (its check, then the long samples) is slow
    wait_for(lambda: Run(out).batch_losses(), 120, 0.2, what="a first batch")
    proc.send_signal(signal.SIGINT)
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "abandoned" in stderr and "Traceback" not in stderr


# --- issue 18: top-p and the loop guard --------------------------------------------------------------------
@pytest.fixture(scope="module")
def random_model(tmp_path_factory, english_text) -> Path:
    """A run with random weights (no TensorFlow, no training): enough to check what `generate` passes on."""
    from run_factory import random_run

    from charlstm.config import TrainConfig

    config = TrainConfig(units=16, embedding_dim=8)
    return random_run(tmp_path_factory.mktemp("random"), english_text[:5000], config)


def test_generate_with_top_p_and_the_loop_guard(random_model):
    from charlstm.store import load_generator

    args = ["generate", random_model, "--prompt", "The ", "-t", "0", "1", "-n", "120", "--seed", "5"]
    options = ["--top-k", "20", "--top-p", "0.9", "--no-repeat", "6"]
    result = cli(*args, *options, "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    expected = load_generator(random_model).generate("The ", [0.0, 1.0], 120, seed=5, top_k=20, top_p=0.9, no_repeat=6)
    assert [r["text"] for r in rows] == [s.text for s in expected]
    assert [(r["temperature"], r["top_k"], r["top_p"], r["no_repeat"]) for r in rows] == [
        (0, 20, 0.9, 6),
        (1, 20, 0.9, 6),
    ]
    as_text = cli(*args, *options).stdout
    assert "----- temperature 0, top-k 20, top-p 0.9, no repeat 6 -----" in as_text
    assert "The " + rows[1]["text"] in as_text
    plain = json.loads(cli(*args, "--json").stdout)
    assert plain[1]["top_p"] is None and plain[1]["text"] != rows[1]["text"]  # the options changed the text
    # At T = 0 top-p leaves only the likeliest character, so the guard can only give way, and says so.
    assert plain[0]["text"] == rows[0]["text"]
    assert "note: T 0, top-k 20, top-p 0.9, no repeat 6: the loop guard gave way" in result.stderr
    assert "note: T 1," not in result.stderr


def test_generate_says_when_the_loop_guard_gave_way(random_model):
    result = cli("generate", random_model, "-t", "1", "-n", "60", "--seed", "1", "--top-k", "1", "--no-repeat", "2")
    assert result.returncode == 0, result.stderr
    assert "the loop guard gave way" in result.stderr  # one character allowed: soon every pair with it is written


@pytest.mark.parametrize(
    ("option", "value", "words"),
    [
        ("--top-p", "0", ["top-p", "above 0 and at most 1"]),
        ("--top-p", "1.5", ["top-p", "at most 1"]),
        ("--top-p", "nan", ["top-p"]),
        ("--top-p", "lots", ["--top-p", "invalid float"]),
        ("--no-repeat", "1", ["no-repeat", "from 2 to 200", "0 for off"]),
        ("--no-repeat", "500", ["no-repeat", "from 2 to 200"]),
        ("--no-repeat", "2.5", ["--no-repeat", "invalid int"]),
        ("--top-k", "0", ["top-k", "1 or more"]),
    ],
)
def test_bad_sampling_options_are_one_line(random_model, option, value, words):
    assert_user_error(cli("generate", random_model, option, value, "-n", "5"), *words)
