"""Training jobs: real (tiny) Keras training in a thread, stop, time budget, divergence, resume."""

from __future__ import annotations

import json
import math
import time

import numpy as np
import pytest
from helpers import copy_run, wait_for

from charlstm import store
from charlstm.clock import TrainingClock
from charlstm.config import preset_config
from charlstm.data import window_count
from charlstm.errors import CharlstmError, CorpusError
from charlstm.live import TRAINING
from charlstm.run import Request, Run, append_line, read_jsonl
from charlstm.text import Corpus
from charlstm.trainer import (
    LR_FLOOR,
    LR_WARMUP,
    LR_WARMUP_STEPS,
    SETTLE_SHARE,
    VALIDATION_BATCH_CHARS,
    VALIDATION_MAX_CHARS,
    Settle,
    scheduled_lr,
    settle_steps,
    validation_batch,
    validation_config,
)
from charlstm.training import LR_CUT, TrainingJob, is_divergent


@pytest.fixture(scope="module")
def corpus(english_text) -> Corpus:
    return Corpus(english_text[:20_000], "docs", "paste")


# --- a finished run on disk ----------------------------------------------------------------------------
def test_a_tiny_job_writes_its_run_folder(trained_run, tiny_config):
    for name in ("meta.json", "config.json", "vocab.json", "corpus.txt", "status.json"):
        assert (trained_run / name).is_file(), name
    for tag in ("best", "last"):
        assert (trained_run / f"{tag}.weights.npz").is_file()
        assert (trained_run / f"{tag}.optimizer.npz").is_file()
    for tag in ("best", "last"):
        assert (trained_run / f"{tag}.json").is_file()  # the manifest, written last
    run = Run(trained_run)
    assert len(read_jsonl(trained_run / "history.jsonl")) == 2  # every line on disk is a valid record
    history = run.history()
    assert [h.epoch for h in history] == [1, 2]
    for h in history:
        assert math.isfinite(h.loss) and math.isfinite(h.val_loss)
        assert h.val_bpc == pytest.approx(h.val_loss / math.log(2))
        assert h.steps > 0 and not h.partial
    status = run.status()
    assert status.state == "completed" and status.epochs == 2 and not status.active
    assert run.config().replace(dropout=None) == tiny_config.replace(dropout=None)
    assert run.config().dropout is not None  # left to the studio, chosen for the text when the run was planned
    samples = run.samples()
    corpus_text = run.text()
    assert [s.epoch for s in samples] == [1, 2]
    for line in samples:
        assert line.prompt and line.prompt in corpus_text
        assert [t for t, _ in line.samples] == list(tiny_config.sample_temperatures)
        assert all(len(text) == tiny_config.sample_length for _, text in line.samples)
    best = min(h.val_loss for h in history)
    assert status.best_val_loss == pytest.approx(best)
    assert run.best_tag() == "best" and run.has_model
    weights, optimizer = run.load_checkpoint("best")
    assert optimizer is not None
    assert all(np.isfinite(a).all() for a in weights.values())
    assert best < math.log(len(run.vocab()))  # it learned something


def test_job_refuses_unusable_text_before_creating_anything(tmp_path, tiny_config):
    root = tmp_path / "runs"
    with pytest.raises(CorpusError, match="too short"):
        TrainingJob.create(Corpus("tiny text", "t", "paste"), tiny_config, root=root)
    with pytest.raises(CorpusError, match="empty"):
        TrainingJob.create(Corpus("", "t", "paste"), tiny_config, root=root)
    assert not root.exists() or not any(root.iterdir())


# --- stopping ------------------------------------------------------------------------------------------
def test_stop_ends_within_a_batch(tmp_path, corpus, tiny_config):
    job = TrainingJob.create(corpus, tiny_config.replace(epochs=1000), root=tmp_path)
    job.start()
    try:
        wait_for(lambda: job.clock.batches >= 3)
        before = job.clock.batches
        job.stop()
        at_stop = job.clock.batches
        assert job.run_folder.progress().state in ("stopping", "running")  # stop() writes "stopping" at once
        assert job.wait(timeout=60)
    finally:
        job.stop()
        job.wait(timeout=60)
    status = job.run_folder.status()
    assert status.state == "user"
    # Only the batch that was running when Stop came may finish; no new batch starts.
    assert before <= at_stop <= job.clock.batches <= at_stop + 1
    assert len(job.run_folder.batch_losses()) == job.clock.batches  # the run folder has every one of them
    assert "Stopped by you" in status.message
    assert not job.alive
    # The partial epoch is evaluated and kept.
    history = job.run_folder.history()
    assert history and history[-1].partial
    assert job.run_folder.has_checkpoint("last")


def test_a_stop_asked_through_the_run_folder_ends_within_a_batch(tmp_path, corpus, tiny_config):
    """The studio and the CLI on a cluster stop a worker's job this way: a file in the run folder."""
    job = TrainingJob.create(corpus, tiny_config.replace(epochs=1000), root=tmp_path)
    job.start()
    try:
        wait_for(lambda: job.clock.batches >= 3)
        job.run_folder.request_stop()
        at_stop = job.clock.batches
        assert job.wait(timeout=60)
    finally:
        job.stop()
        job.wait(timeout=60)
    assert job.run_folder.status().state == "user"
    assert job.clock.batches <= at_stop + 1  # the batch running when the file appeared, and no other
    assert not job.run_folder.stop_requested()  # cleared at the end: it does not stop the next training


def test_stop_before_training_starts(tmp_path, corpus, tiny_config):
    job = TrainingJob.create(corpus, tiny_config, root=tmp_path)
    job.stop()
    snap = job.run()
    assert snap.stop_reason == "user"
    assert snap.batch_losses == []


# --- time budget, and samples from one prompt ------------------------------------------------------
def test_time_budget_and_samples_share_their_prompt(tmp_path, corpus, tiny_config):
    # The first epoch traces Keras's training and checking steps: 8-10 s on two busy cores, a cost the clock
    # cannot know until it is paid. From then on an epoch's end is measured, and the last one is kept inside
    # the budget. 20 s leaves room for several epochs after the first on a loaded CI machine (4 s once did not),
    # and no patience: a tiny model settling before its time is another test's.
    config = tiny_config.replace(
        epochs=10_000,
        seconds=20.0,
        steps_per_epoch=5,
        patience=None,
        sample_temperatures=(0.0, 1.0, 0.0),
        sample_length=40,
    )
    job = TrainingJob.create(corpus, config, root=tmp_path)
    started = time.monotonic()
    snap = job.run()
    waited = time.monotonic() - started
    assert snap.stop_reason == "time", snap.message
    assert "time limit" in snap.message
    assert 2 <= len(snap.history) < config.epochs, [h.seconds for h in snap.history]  # the clock ended it
    # The budget is what the user waits, Start to finished: the last check and samples fit inside it.
    assert config.seconds * 0.5 <= snap.history[-1].seconds <= waited
    assert waited < config.seconds + 1.0, f"waited {waited:.2f} s for a {config.seconds} s budget"
    run_dir = snap.run_dir
    assert Run(run_dir).progress().fraction == 1.0
    assert Run(run_dir).status().state == "time"
    last = Run(run_dir).samples()[-1]
    greedy_a, sampled, greedy_b = (text for _, text in last.samples)
    assert greedy_a == greedy_b  # both T = 0 rows start from the same prompt
    gen = store.load_generator(run_dir, "last")  # the weights the last samples came from
    again = gen.generate(last.prompt, config.sample_temperatures, length=40, seed=0)
    assert again[0].text == again[2].text == greedy_a
    assert len(sampled) == 40


# --- the learning rate over the budget ---------------------------------------------------------------
def test_the_rate_warms_up_then_falls_to_near_zero_at_the_end_of_the_budget():
    base = 0.01
    rates = [scheduled_lr(base, "budget", p / 100) for p in range(101)]
    peak = rates.index(max(rates))
    assert rates[0] < 0.2 * base  # a short warm-up: Adam's first steps are its least informed
    assert max(rates) == pytest.approx(base) and peak / 100 == pytest.approx(LR_WARMUP, abs=0.011)
    assert all(a >= b for a, b in zip(rates[peak:], rates[peak + 1 :], strict=False))  # then only down
    assert rates[50] == pytest.approx(base * 0.5, rel=0.05)  # linearly
    assert rates[-1] == pytest.approx(base * LR_FLOOR)
    assert scheduled_lr(base, "budget", 1.7) == rates[-1]  # a job that runs a moment late stays at the floor
    assert scheduled_lr(base, "constant", 0.9) == scheduled_lr(base, "budget", None) == base


def test_the_warm_up_lasts_some_steps_however_short_the_budget():
    """RMSprop's first steps are too big at a full rate; a 30-s budget's 3% alone would be 8 steps."""
    base = 0.03
    early = [scheduled_lr(base, "budget", 0.5, step) for step in range(LR_WARMUP_STEPS + 1)]
    assert early[0] == pytest.approx(base * 0.5 / LR_WARMUP_STEPS, rel=0.05)
    assert early == sorted(early) and early[-1] == scheduled_lr(base, "budget", 0.5)


def test_a_timed_job_lowers_its_rate_as_the_clock_runs_out(tmp_path, corpus, tiny_config):
    # 20 s and no patience, as in the test above: the schedule alone sets the rate
    config = tiny_config.replace(epochs=10_000, seconds=20.0, steps_per_epoch=10, patience=None, sample_length=0)
    snap = TrainingJob.create(corpus, config, root=tmp_path).run()
    steps = np.cumsum([h.steps for h in snap.history])
    # Up during the warm-up (its first LR_WARMUP_STEPS steps), then only down. A slow machine may spend much
    # of the budget before the warm-up's steps are done, so only the epochs after them are compared.
    rates = [h.learning_rate for h, done in zip(snap.history, steps, strict=True) if done > LR_WARMUP_STEPS]
    assert len(rates) >= 2, [(h.steps, h.learning_rate) for h in snap.history]
    assert rates == sorted(rates, reverse=True)
    assert rates[-1] < 0.25 * config.learning_rate  # near the floor when the budget ends


def test_an_epoch_budget_spreads_the_schedule_over_its_epochs(tmp_path, corpus, tiny_config):
    config = tiny_config.replace(epochs=4, steps_per_epoch=5, sample_length=0)
    snap = TrainingJob.create(corpus, config, root=tmp_path).run()
    rates = [h.learning_rate for h in snap.history]
    # the rate each epoch ended with: set before its last step, at 5, 10, 15, 20 steps of 20 (minus one)
    expected = [scheduled_lr(config.learning_rate, "budget", (5 * e - 1) / 20, 5 * e - 1) for e in range(1, 5)]
    assert rates == pytest.approx(expected, rel=1e-4)


def test_the_held_out_check_reads_at_most_its_cap(tiny_config):
    small = validation_config(tiny_config, 10_000)
    assert small == tiny_config
    big = validation_config(tiny_config, 5 * VALIDATION_MAX_CHARS)
    covered = window_count(5 * VALIDATION_MAX_CHARS, big) * big.seq_len
    assert 0.8 * VALIDATION_MAX_CHARS <= covered <= VALIDATION_MAX_CHARS + big.seq_len


@pytest.mark.parametrize("preset", ["quick", "quality", "classic"])
def test_a_held_out_batch_holds_the_same_characters_whatever_the_sequence_length(preset):
    # a batch's forward pass holds every layer's output: its peak follows characters, not windows
    config = preset_config(preset)
    chars = validation_batch(config) * config.seq_len
    assert VALIDATION_BATCH_CHARS - config.seq_len < chars <= VALIDATION_BATCH_CHARS


# --- divergence -------------------------------------------------------------------------------------
@pytest.mark.parametrize("learning_rate", [10, 50.0])  # an int too: JSON and the CLI may give one
def test_divergence_stops_and_keeps_a_finite_best_model(tmp_path, corpus, tiny_config, learning_rate):
    config = tiny_config.replace(
        learning_rate=learning_rate, lr_schedule="constant", on_divergence="stop", clipnorm=None, epochs=3
    )
    snap = TrainingJob.create(corpus, config, root=tmp_path).run()
    assert snap.stop_reason == "diverged", snap.message
    assert len(snap.notices) == 1
    assert "unstable" in snap.notices[0] and "lower learning rate" in snap.notices[0]
    run = Run(snap.run_dir)
    weights, _ = run.load_checkpoint("best")
    assert all(np.isfinite(a).all() for a in weights.values())
    gen = store.load_generator(snap.run_dir)
    assert math.isfinite(gen.score("the value of the argument").nats)
    assert run.status().state == "diverged"
    assert run.history() and all(math.isfinite(h.val_loss) for h in run.history())


def test_divergence_lowers_the_learning_rate(tmp_path, corpus, tiny_config):
    config = tiny_config.replace(
        learning_rate=10.0, lr_schedule="constant", on_divergence="lower_lr", clipnorm=None, epochs=2
    )
    snap = TrainingJob.create(corpus, config, root=tmp_path).run()
    lowered = [n for n in snap.notices if "lowered the learning rate" in n]
    assert lowered, snap.notices
    assert "from 10 to 3" in lowered[0]
    # Every cut starts from the rate the previous cut left, not from the original one.
    rate = 10.0
    for note in lowered:
        assert f"from {rate:.3g} to {rate * LR_CUT:.3g}" in note
        rate *= LR_CUT
    if snap.stop_reason != "diverged":
        assert snap.history[-1].learning_rate == pytest.approx(rate, rel=1e-5)
    run = Run(snap.run_dir)
    assert run.best_tag() is not None
    weights, _ = run.load_checkpoint(run.best_tag())
    assert all(np.isfinite(a).all() for a in weights.values())


def test_the_last_fall_takes_a_share_of_the_steps_so_far_and_fits_in_the_budget():
    assert settle_steps(100, None) == round(SETTLE_SHARE * 100)  # an epoch budget: the share alone
    assert settle_steps(100, 0.2) == round(SETTLE_SHARE * 100)  # plenty of time left
    assert settle_steps(100, 0.9) == 11  # 100 steps took 90% of the budget: about 11 more fit
    assert settle_steps(1, 0.999) == 1
    fall = Settle(start=40, steps=10, lr=0.02, floor=0.0002)
    assert fall.lr_at(40) == 0.02 and fall.lr_at(45) == pytest.approx(0.0101)
    assert fall.lr_at(60) == pytest.approx(0.0002)  # past its end: the floor
    assert not fall.over(49) and fall.over(50)


class Watched(TrainingJob):
    """A job that notes what its progress line said after each epoch, as the Train page reads it."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.said: list[str] = []

    def on_epoch_end(self, result, trainer):
        stop = super().on_epoch_end(result, trainer)
        self.said.append(self.run_folder.progress().message)
        return stop


def test_a_text_it_stops_learning_from_ends_early_on_its_best_model(tmp_path, english_text, tiny_config):
    """Held-out text unlike the training text (random letters) stops improving at once: after `patience` epochs
    the job goes back to its best model, lets the rate fall, and finishes long before its time limit."""
    rng = np.random.default_rng(0)
    train = english_text[:18_000]
    noise = "".join(rng.choice(sorted(set(train)), 2_000))
    config = tiny_config.replace(epochs=10_000, seconds=120.0, steps_per_epoch=3, patience=3, sample_length=0)
    start = time.monotonic()
    job = Watched.create(Corpus(train + noise, "noise", "paste"), config, root=tmp_path)
    snap = job.run()
    assert time.monotonic() - start < 100  # not the time limit
    run = Run(snap.run_dir)
    assert snap.stop_reason == run.status().state == "completed"
    assert "stopped improving" in snap.message and "best model" in snap.message
    assert snap.notices == ()  # good news, not a warning
    best = min(snap.history, key=lambda h: h.val_loss)
    began = best.epoch + config.patience  # the epoch after which the fall began
    assert len(snap.history) > began
    finishing = [words for words in job.said if words.startswith("Finishing")]
    assert finishing and f"best model (epoch {best.epoch})" in finishing[0]
    assert job.said[: began - 1] == [TRAINING] * (began - 1)
    rates = [h.learning_rate for h in snap.history[began:]]
    assert rates == sorted(rates, reverse=True) and rates[-1] < 0.3 * config.learning_rate, rates
    assert run.best_tag() is not None


def test_a_settling_training_counts_down_to_its_own_end_not_the_time_limit():
    clock = TrainingClock(epochs=1000, seconds=100.0)
    clock.fit_started(steps_per_epoch=10, chars_per_step=100)
    for step in range(1, 11):
        time.sleep(0.01)
        clock.batch_done(step)
    clock.finish_early(100)  # a hundred more steps of about 0.01 s
    fraction, left = clock.progress(active=True, finished=False)
    assert 0.5 < left < 5 and fraction > 0.02
    assert clock.budget == 100.0 and not clock.out_of_time()  # the limit and the rate's schedule stay


def test_patience_off_trains_to_the_limit(tmp_path, english_text, tiny_config):
    rng = np.random.default_rng(0)
    train = english_text[:18_000]
    noise = "".join(rng.choice(sorted(set(train)), 2_000))
    config = tiny_config.replace(epochs=12, steps_per_epoch=3, patience=None, sample_length=0)
    job = Watched.create(Corpus(train + noise, "noise", "paste"), config, root=tmp_path)
    assert len(job.run().history) == 12 and job.said == [TRAINING] * 12


@pytest.mark.parametrize(
    ("loss", "recent", "expected"),
    [
        (math.nan, [], True),
        (math.inf, [1.0] * 20, True),
        (-math.inf, [1.0] * 20, True),
        (4.4, [], False),
        (49.0, [], False),
        (51.0, [], True),
        (4.3, [4.45], False),
        (27.6, [4.45], True),  # an early blow-up at a huge learning rate
        (5.0, [4.4, 4.2, 4.0], False),
        (14.6, [1.30] * 50, True),  # the seed's epoch 56
        (2.0, [1.30] * 50, False),
        (2.9, [1.30] * 50, True),
        (1.35, [1.30] * 9 + [40.0], False),  # one old outlier does not make every later batch look fine
        (3.0, [1.0] * 40 + [50.0] * 5, True),  # the median ignores a few spikes
    ],
)
def test_is_divergent(loss, recent, expected):
    assert is_divergent(loss, recent) is expected


# --- history on disk and resuming -------------------------------------------------------------------
def test_torn_history_line_is_ignored(tmp_path):
    path = tmp_path / "history.jsonl"
    append_line(path, json.dumps({"epoch": 1, "loss": 2.0}))
    append_line(path, json.dumps({"epoch": 2, "loss": 1.5}))
    with open(path, "a", encoding="utf-8") as fh:
        fh.write('{"epoch": 3, "lo')  # the process died in the middle of a write
    assert read_jsonl(path) == [{"epoch": 1, "loss": 2.0}, {"epoch": 2, "loss": 1.5}]
    append_line(path, json.dumps({"epoch": 3, "loss": 1.2}))  # the next run appends after the torn line
    assert [r["epoch"] for r in read_jsonl(path)] == [1, 2, 3]
    assert read_jsonl(tmp_path / "missing.jsonl") == []


def test_history_keeps_only_valid_records(tmp_path):
    run = Run(tmp_path)
    good = {
        "epoch": 1,
        "loss": 2.0,
        "val_loss": None,
        "val_bpc": None,
        "learning_rate": 0.01,
        "steps": 5,
        "seconds": 1.0,
        "chars_per_sec": 100.0,
        "partial": False,
    }
    append_line(run.file("history.jsonl"), json.dumps(good))
    for bad in ({"epoch": 2, "loss": 1.5}, {**good, "loss": "NaN"}, {**good, "epoch": True}, {**good, "extra": 1}):
        append_line(run.file("history.jsonl"), json.dumps(bad))
    with open(run.file("history.jsonl"), "a", encoding="utf-8") as fh:
        fh.write('{"epoch": 3, "lo')
    assert [h.epoch for h in run.history()] == [1]
    assert Run(tmp_path / "missing").history() == []


def test_resume_continues_the_run(trained_run, tmp_path):
    run_dir = copy_run(trained_run, tmp_path)
    run = Run(run_dir)
    before = run.history()
    saved_opt = run.load_checkpoint("last")[1]
    with open(run_dir / "history.jsonl", "a", encoding="utf-8") as fh:
        fh.write('{"epoch": 3, "loss"')  # a crash left a torn line behind
    job = TrainingJob.resume(run_dir, epochs=1).start()
    try:
        # While it trains, the run reads as running (the job holds a live lease).
        wait_for(lambda: run.status().state == "running" or not job.alive, what="the run to read as running")
        assert run.status().state == "running" and run.lease_alive()
    finally:
        assert job.wait(timeout=120)
    status = run.status()
    assert status.state == "completed", status.message
    history = run.history()
    assert history[: len(before)] == before
    assert [h.epoch for h in history] == [1, 2, 3]
    assert status.epochs == 3
    # The optimizer continued: its step counter went on from the saved one instead of starting at zero.
    steps = history[-1].steps
    resumed_opt = run.load_checkpoint("last")[1]
    assert int(resumed_opt["v0000"]) == int(saved_opt["v0000"]) + steps
    assert not np.array_equal(resumed_opt["v0002"], saved_opt["v0002"])
    assert len(run.samples()) == 3
    assert run.checkpoint_epoch("last") == 3
    assert run.status().state == "completed"


def test_resume_with_new_text_and_refusals(trained_run, tmp_path, english_text):
    run_dir = copy_run(trained_run, tmp_path)
    run = Run(run_dir)
    run.write_status("running")
    run.renew_lease()  # a trainer holds the run now
    with pytest.raises(CharlstmError, match=r"is training now \(process \d+ on host"):
        TrainingJob.resume(run_dir, epochs=1)
    (run_dir / "lease.json").unlink()
    run.write_request(Request(token="t", owner="o", action="continue"))  # waiting in the queue
    with pytest.raises(CharlstmError, match="is waiting to train"):
        TrainingJob.resume(run_dir, epochs=1)
    assert run.withdraw_request()
    # The trainer is gone: the run reads as interrupted and may continue
    assert run.status().state == "interrupted"
    TrainingJob.resume(run_dir, epochs=1)
    run.write_status("user")
    (run_dir / "corpus.txt").unlink()
    with pytest.raises(CorpusError, match="no saved training text"):
        TrainingJob.resume(run_dir, epochs=1)
    text = english_text[30_000:40_000] + "☃ unseen ☃"
    job = TrainingJob.resume(run_dir, epochs=1, corpus=Corpus(text, "more", "paste"))
    assert "☃" not in job.text
    assert job.run().stop_reason == "completed"
    with pytest.raises(CharlstmError, match="not a run folder"):
        TrainingJob.resume(tmp_path / "nothing-here")


def test_settings_too_big_for_memory_are_refused_before_anything_is_written(tmp_path, english_text, tiny_config):
    from charlstm.errors import ConfigError
    from charlstm.store import new_run

    huge = tiny_config.replace(batch_size=4096, seq_len=1000, units=2048, layers=3)
    with pytest.raises(ConfigError, match="memory"):
        new_run(Corpus(english_text[:20_000], "docs", "paste"), huge, root=tmp_path)
    assert not any(tmp_path.iterdir())  # no run folder, nothing queued


def test_the_budget_counts_the_wait_for_a_starting_worker_but_not_too_much(tmp_path, corpus, tiny_config):
    """Start to finished: a worker still importing TensorFlow is part of the person's wait (issue 17, item 5)."""
    from charlstm.store import new_run
    from charlstm.training import MAX_WAIT_SHARE

    run, _ = new_run(corpus, tiny_config, root=tmp_path)
    now = time.time()
    waited = {
        label: TrainingJob.for_run(run, seconds=40.0, waiting_since=since).clock.waited()
        for label, since in {"just now": now, "10 s ago": now - 10, "an hour ago": now - 3600, "unknown": None}.items()
    }
    assert waited["just now"] < 1.0 and waited["unknown"] == 0.0
    assert 10.0 <= waited["10 s ago"] < 11.0
    assert waited["an hour ago"] == MAX_WAIT_SHARE * 40.0  # a very late worker still trains most of the budget
    assert TrainingJob.for_run(run, epochs=1, waiting_since=now - 10).clock.waited() == 0.0  # no clock


def test_a_continuation_gets_its_own_warm_up_and_fall(trained_run, tmp_path):
    """Continuing is a new budget: its rate warms up and falls again, not restarting at the old budget's tail."""
    run_dir = copy_run(trained_run, tmp_path)
    old = Run(run_dir).history()
    before = len(old)
    snap = TrainingJob.resume(run_dir, epochs=2).run()
    assert snap.stop_reason == "completed", snap.message
    added = Run(run_dir).history()[before:]
    steps = added[0].steps
    base = Run(run_dir).config().learning_rate
    expected = [scheduled_lr(base, "budget", (steps * e - 1) / (2 * steps), steps * e - 1) for e in (1, 2)]
    assert [h.learning_rate for h in added] == pytest.approx(expected, rel=1e-4)
    assert added[0].learning_rate > 2 * old[-1].learning_rate  # far above the old budget's last, low rate
