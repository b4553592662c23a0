"""The several-kinds benchmark's parts (bench/texts.py, bench/contenders.py): real texts, real short trainings.

The benchmark's numbers are only as good as these parts: every contender must get the same text and
be scored by the same code, and a contender's weights must mean in charlstm's scorer what they meant
in Keras. A wrong mapping scores worse than knowing nothing, which the last test would catch.
"""

from __future__ import annotations

import math
import time

import pytest

from bench import contenders
from bench.texts import LOADERS, load_kind, load_kinds
from charlstm.generate import Generator


def test_every_text_is_split_the_same_way_and_kept_cased():
    texts, missing = load_kinds(("python-docs", "python-source"))  # on every Python installation
    assert not missing
    for kind in texts:
        assert kind.train + kind.heldout == kind.text
        assert len(kind.heldout) == round(len(kind.text) * 0.1)
        assert any(c.isupper() for c in kind.text)  # cased as a user gives it
        assert kind.title == LOADERS[kind.key][0]
    assert load_kind("python-source").text == load_kind("python-source").text  # the same text every run


def test_a_missing_text_is_skipped_with_what_to_do(monkeypatch, tmp_path):
    import bench.texts as texts

    monkeypatch.setattr(texts, "FORTUNES_DE", tmp_path / "absent")
    found, missing = load_kinds(("german",))
    assert not found
    assert "apt-get install fortunes-de" in missing["german"]


@pytest.fixture(scope="module")
def docs_kind():
    """Python's docstrings as a benchmark text, read once for both contenders (it parses the standard library)."""
    return load_kind("python-docs")


@pytest.mark.parametrize("contender", ["baseline", "quick"])
def test_a_contender_keeps_to_its_budget_and_its_weights_score_in_charlstm(contender, docs_kind):
    kind = docs_kind
    text, heldout = kind.train[:60_000], kind.heldout[:4_000]
    budget = 6.0
    started = time.monotonic()
    trained = contenders.train(contender, text, budget, {"units": 32}, started)
    waited = time.monotonic() - started
    # The plain baseline checks its deadline after each batch, and Keras validates once more after it; the first
    # batch traces the model, up to 8-10 s on a loaded machine (test_training.py's timed tests say more).
    assert waited < budget + 10.0, f"{contender} waited {waited:.1f} s for a {budget} s budget"
    assert trained.steps > 0 and trained.chars_fed > 0
    score = Generator(trained.weights, trained.config, trained.vocab).score(heldout)
    # better than a uniform guess: the arrays landed where charlstm's network expects them
    assert score.nats < math.log(len(trained.vocab)) - 0.5


def test_make_bench_leaves_the_seed_to_section_1_and_a_flag_brings_it_back():
    """`make bench` within an hour: section 5 trains the baseline and quick; `--contenders` may add the seed."""
    from bench.modes import MODES, with_contenders

    full = MODES["full"]
    assert [name for name, _ in full.kind_contenders] == ["baseline", "quick"]
    chosen = with_contenders(full, ["seed", "quick"]).kind_contenders
    assert chosen == (("seed", 150), ("quick", 150))
    with pytest.raises(SystemExit, match="quality is not a contender of full mode"):
        with_contenders(full, ["quality"])


def test_the_accelerator_script_trains_our_model_for_its_time_and_scores_it(tmp_path):
    """bench/device_keras.py: a short real training of the studio's model learns more than guessing."""
    import json

    from bench.device_keras import main

    text = tmp_path / "text.txt"
    words = "the cat sat on the mat. " * 2000
    text.write_text(words, encoding="utf-8")
    out = tmp_path / "out.json"
    assert main(["--text", str(text), "--budget", "1", "--presets", "quick", "--out", str(out)]) == 0
    (row,) = json.loads(out.read_text())["rows"]
    guessing = math.log(len(set(words)))  # nats a character when every character is as likely
    assert row["preset"] == "quick" and row["chars_per_sec"] > 0 and 0 < row["heldout_nats"] < guessing
    scores = [point["heldout_nats"] for point in row["curve"]]  # the checks made in time (a slow machine may make none)
    assert row["best_heldout_nats"] == min([*scores, row["heldout_nats"]])


def test_a_benchmark_run_never_overwrites_the_write_up():
    """docs/benchmarks.md holds sections written by hand from several runs: a run writes to a folder of its own."""
    from bench.__main__ import RUNS_DIR, WRITE_UP, parse_args

    for mode in ("full", "quick", "quality"):
        out = parse_args([f"--{mode}"]).out
        assert out.parent.parent == RUNS_DIR and out.parent.name.endswith(f"-{mode}")
        assert out.resolve() != WRITE_UP.resolve()
    assert parse_args(["--full", "--out", str(WRITE_UP)]).out == WRITE_UP  # on purpose, still possible
