"""Section 1: learning per CPU-second. Held-out loss against training time for the seed, quick, quality.

Every contender trains on the first 90% of lowercased Nietzsche under a wall-clock budget and is
measured with the same held-out windows (bench.evaluate) every few training seconds and at the
end; the time (and CPU time) spent measuring is taken off its clock. Plus the classic preset's
sanity line: it must reproduce the seed's first-epoch training loss (1.99 in the seed's output).
"""

from __future__ import annotations

import math
import os
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from charlstm.config import preset_config
from charlstm.text import Corpus, Vocabulary
from charlstm.trainer import FitPlan
from charlstm.training import TrainingJob

from . import seed
from .common import LN2, Section, Table, Target, fmt, skipped
from .corpus import NO_NIETZSCHE, BenchText
from .evaluate import CharlstmScorer, HeldOut, SeedScorer, make_heldout
from .modes import Mode
from .seed import Point

TITLE = "1. Learning per CPU-second"
LEVEL = 1.60  # nats: the "time to reach" level
SEED_MEASURED_150 = 1.67  # the seed's held-out loss after 150 s, measured earlier on this kind of machine
QUICK_TARGET, RATIO_TARGET, QUALITY_TARGET = 1.42, 5.0, 1.25
CLASSIC_EPOCH1, CLASSIC_TOLERANCE = 1.99, 0.10


@dataclass
class Contender:
    """One training run and its curve of the common validation measure."""

    key: str  # seed | quick | quality
    name: str
    budget: float
    curve: list[Point] = field(default_factory=list)
    steps: int = 0
    train_seconds: float = 0.0
    cpu_seconds: float = 0.0
    chars_per_step: int = 0
    stop_reason: str = ""
    parameters: int = 0
    load_average: float = field(default_factory=lambda: os.getloadavg()[0])  # 1-minute, when training ended
    kept: float | None = None  # the measure of the checkpoint the job kept (charlstm keeps its best epoch)

    @property
    def final(self) -> float | None:
        return self.curve[-1].nats if self.curve else None

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "curve": [asdict(p) for p in self.curve]}


class TimedJob(TrainingJob):
    """A charlstm TrainingJob that also takes the common measure every `eval_every` training seconds.

    It overrides the public trainer hook (`on_fit_start`, `on_batch`; each calls the job's own
    first) and scores the model between two batches through `TrainingJob.off_the_clock`, which
    takes the measure off the job's clock, so the job's own time budget excludes it too.
    """

    def bench_setup(self, scorer: CharlstmScorer, heldout: HeldOut, eval_every: float, marks: tuple[float, ...]):
        self.bench_curve: list[Point] = []
        self.bench_scorer, self.bench_heldout, self.bench_every = scorer, heldout, eval_every
        self.bench_next = eval_every
        self.bench_marks = sorted(marks)
        self.bench_t0 = self.bench_cpu0 = None
        self.bench_off_wall = self.bench_off_cpu = 0.0
        self.bench_steps = 0

    def on_fit_start(self, plan: FitPlan) -> None:
        super().on_fit_start(plan)
        self.bench_t0, self.bench_cpu0 = time.monotonic(), time.process_time()

    def bench_clock(self) -> tuple[float, float]:
        """Training seconds and CPU seconds since the first batch began, measures excluded."""
        wall = time.monotonic() - (self.bench_t0 or 0.0) - self.bench_off_wall
        return wall, time.process_time() - (self.bench_cpu0 or 0.0) - self.bench_off_cpu

    def on_batch(self, step: int, loss: float) -> bool:
        stop = super().on_batch(step, loss)
        self.bench_steps += 1
        wall, _ = self.bench_clock()
        if stop or wall >= self.bench_next or (self.bench_marks and wall >= self.bench_marks[0]):
            self.bench_measure()
        return stop

    def bench_measure(self) -> None:
        wall, cpu = self.bench_clock()
        w0, c0 = time.monotonic(), time.process_time()
        nats = self.off_the_clock(lambda weights: self.bench_scorer(weights, self.bench_heldout))
        self.bench_curve.append(Point(wall, cpu, self.bench_steps, nats))
        while self.bench_next <= wall:
            self.bench_next += self.bench_every
        while self.bench_marks and self.bench_marks[0] <= wall:
            self.bench_marks.pop(0)
        self.bench_off_cpu += time.process_time() - c0
        self.bench_off_wall += time.monotonic() - w0


def run_seed(bench: BenchText, heldout: HeldOut, mode: Mode, ctx: dict) -> Contender:
    """The seed's method on the training 90%, until its budget (or the stop level) is reached."""
    import keras

    keras.utils.set_random_seed(1337)
    data = seed.vectorize(bench.train, chars=heldout.vocab.chars)
    model = seed.build_model(len(data.chars))
    scorer = SeedScorer(len(data.chars))
    run = seed.train(
        model,
        data,
        budget=mode.seed_seconds,
        evaluate=lambda m: scorer(m, heldout),
        eval_every=mode.eval_every,
        marks=(mode.quick_seconds,),
        stop_at=mode.seed_stop_at,
    )
    ctx["seed_model"], ctx["seed_chars"] = model, data.chars
    ctx["seed_first_epoch_running"] = run.first_epoch_running
    ctx["seed_epoch_losses"] = run.epoch_losses
    ctx["seed_steps_per_epoch"] = math.ceil(len(data.x) / seed.BATCH_SIZE)
    cpu = run.curve[-1].cpu_seconds if run.curve else 0.0
    del data
    return Contender(
        "seed",
        "seed method (DLwP 8.1)",
        mode.seed_seconds,
        run.curve,
        run.steps,
        run.train_seconds,
        cpu,
        seed.BATCH_SIZE * seed.MAXLEN,
        run.stop_reason,
        model.count_params(),
    )


def run_preset(
    bench: BenchText,
    heldout: HeldOut,
    preset: str,
    budget: float,
    every: float,
    marks: tuple,
    root: Path,
    ctx: dict,
    key: str | None = None,
) -> Contender:
    """A charlstm preset (lowercase=True) trained by TrainingJob for `budget` seconds, Start to finished."""
    from charlstm.weights import parameter_count

    config = preset_config(preset, lowercase=True, seconds=float(budget), epochs=100_000)
    job = TimedJob.create(Corpus(bench.text, "nietzsche", "builtin"), config, root=root, name=f"bench-{preset}")
    if job.vocab != heldout.vocab:
        raise RuntimeError("charlstm's vocabulary differs from the benchmark's")
    job.bench_setup(CharlstmScorer(config, len(job.vocab)), heldout, every, marks)
    snap = job.run()
    if snap.stop_reason not in ("time", "completed"):
        raise RuntimeError(f"{preset} training ended with {snap.stop_reason}: {snap.message}")
    if not job.bench_curve or job.bench_curve[-1].steps != job.bench_steps:
        job.bench_measure()
    weights, _ = job.run_folder.load_checkpoint(job.run_folder.best_tag())
    kept = job.bench_scorer(weights, heldout)  # the model a user gets: the best epoch by the job's own validation
    if key is None:
        ctx.setdefault("trained", {})[preset] = (config, weights, job.vocab)
    last = job.bench_curve[-1]
    return Contender(
        key or preset,
        f"charlstm {preset}" + (f", {budget:g} s" if key else ""),
        budget,
        job.bench_curve,
        job.bench_steps,
        last.seconds,
        last.cpu_seconds,
        config.batch_size * config.seq_len,
        snap.stop_reason,
        parameter_count(config, len(job.vocab)),
        kept=kept,
    )


def classic_sanity(bench: BenchText, mode: Mode, root: Path, ctx: dict) -> dict[str, Any]:
    """The classic preset's training loss after its first epoch (or first N steps) on the whole corpus."""
    steps = mode.classic_steps
    running = ctx.get("seed_first_epoch_running") or []
    if steps is not None and running:
        steps = min(steps, len(running))
    overrides: dict[str, Any] = {"val_fraction": 0.0, "epochs": 1, "seconds": None, "sample_length": 0}
    if steps is not None:
        overrides["steps_per_epoch"] = steps
    config = preset_config("classic", **overrides)
    job = TrainingJob.create(Corpus(bench.text, "nietzsche", "builtin"), config, root=root, name="bench-classic")
    t = time.monotonic()
    snap = job.run()
    seconds = time.monotonic() - t
    if not snap.history:
        raise RuntimeError(f"classic training ended without an epoch: {snap.message}")
    record = snap.history[0]
    out: dict[str, Any] = {"steps": record.steps, "loss": record.loss, "seconds": seconds, "full_epoch": steps is None}
    if steps is None:
        out["reference"], out["reference_what"] = CLASSIC_EPOCH1, "the seed's printed epoch-1 loss"
        epochs = ctx.get("seed_epoch_losses") or []
        per_epoch = ctx.get("seed_steps_per_epoch")
        if epochs and len(running) == per_epoch:
            out["seed_this_run"] = epochs[0]
    elif running:
        out["reference"] = running[record.steps - 1]
        out["reference_what"] = f"the seed method's mean training loss over its first {record.steps} steps, this run"
    return out


def loss_at(curve: list[Point], t: float) -> float | None:
    """The curve at `t` seconds (linear between points; the last point if it ends within 5% of t)."""
    if not curve:
        return None
    prev = None
    for p in curve:
        if p.seconds >= t:
            if prev is None or p.seconds == prev.seconds:
                return p.nats
            f = (t - prev.seconds) / (p.seconds - prev.seconds)
            return prev.nats + f * (p.nats - prev.nats)
        prev = p
    return curve[-1].nats if t - curve[-1].seconds <= 0.05 * t else None


def time_to(curve: list[Point], level: float, start: float) -> float | None:
    """When the curve first reaches `level`, linear between points (from (0 s, ln V) before the first)."""
    prev_t, prev_v = 0.0, start
    for p in curve:
        if p.nats <= level:
            if prev_v == p.nats:
                return p.seconds
            return prev_t + (prev_v - level) / (prev_v - p.nats) * (p.seconds - prev_t)
        prev_t, prev_v = p.seconds, p.nats
    return None


def run(mode: Mode, bench: BenchText | None, ctx: dict) -> Section:
    if bench is None:
        return skipped("learning", TITLE, NO_NIETZSCHE)
    vocab = Vocabulary.from_text(bench.text)
    heldout = make_heldout(bench, vocab, mode.eval_stride, mode.eval_max_windows)
    ctx["heldout"] = heldout
    section = Section("learning", TITLE)
    contenders: list[Contender] = []
    with tempfile.TemporaryDirectory(prefix="charlstm-bench-") as tmp:
        root = Path(tmp)
        contenders.append(run_seed(bench, heldout, mode, ctx))
        marks = (mode.quick_seconds,)
        contenders.append(run_preset(bench, heldout, "quick", mode.quick_seconds, mode.eval_every, marks, root, ctx))
        fifth = mode.quick_seconds / RATIO_TARGET  # does quick, given a fifth of the time, match the seed?
        contenders.append(run_preset(bench, heldout, "quick", fifth, fifth, (), root, ctx, key="quick-fifth"))
        if mode.quality_seconds:
            contenders.append(
                run_preset(bench, heldout, "quality", mode.quality_seconds, mode.quality_eval_every, marks, root, ctx)
            )
        sanity = classic_sanity(bench, mode, root, ctx)
    _report(section, mode, heldout, contenders, sanity)
    return section


def _report(section: Section, mode: Mode, heldout: HeldOut, contenders: list[Contender], sanity: dict) -> None:
    start = math.log(len(heldout.vocab))
    t_mark = mode.quick_seconds
    by_key = {c.key: c for c in contenders}
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    _tables(section, heldout, contenders, sanity, t_mark, cores)
    _quick_targets(section, by_key["seed"], by_key["quick"], by_key.get("quick-fifth"), t_mark, start, cores)
    _quality_target(section, mode, by_key.get("quality"), cores)
    _classic_target(section, sanity)


def _tables(
    section: Section, heldout: HeldOut, contenders: list[Contender], sanity: dict, t_mark: float, cores: int
) -> None:
    """The results table, every measured point, and the raw numbers."""
    start = math.log(len(heldout.vocab))
    rows = []
    for c in contenders:
        at = loss_at(c.curve, t_mark)
        reach = time_to(c.curve, LEVEL, start)
        rows.append(
            [
                c.name,
                f"{c.parameters:,}",
                f"{c.budget:g}",
                fmt(c.train_seconds, 0),
                fmt(c.cpu_seconds, 0),
                f"{c.steps:,}",
                f"{c.steps * c.chars_per_step / max(c.train_seconds, 1e-9):,.0f}",
                f"{fmt(at)} / {fmt(at / LN2 if at is not None else None)}",
                f"{fmt(c.final)} / {fmt(c.final / LN2 if c.final is not None else None)}",
                fmt(c.kept) if c.kept is not None else "n/a (the seed keeps its last weights)",
                fmt(reach, 0) if reach is not None else f"> {c.train_seconds:.0f} (not reached)",
            ]
        )
    section.tables.append(
        Table(
            "Held-out loss against training time (one run each, side by side)",
            [
                "contender",
                "parameters",
                "budget s",
                "trained s",
                "CPU s",
                "steps",
                "chars fed/s",
                f"loss at {t_mark:g} s (nats / bits)",
                "final loss (nats / bits)",
                "model kept (nats)",
                f"time to {LEVEL} nats (s)",
            ],
            rows,
            note=(
                f"Measure: {heldout.describe()}. The clock counts training only (data preparation and the "
                "measure itself are excluded; charlstm's own per-epoch validation, checkpoints and samples are "
                "included, as a user pays for them). `time to` is linear between measured points, starting "
                f"from ln {len(heldout.vocab)} = {start:.2f} nats at 0 s. CPU s: CPU time of the whole process "
                f"(all threads) while training; {cores} cores were usable. 'chars fed/s': characters of input "
                "per second (the seed feeds 60 per window but learns from 1 target; charlstm learns from every "
                "position)."
            ),
        )
    )
    curve_rows = [
        [c.name, fmt(p.seconds, 1), fmt(p.cpu_seconds, 1), p.steps, fmt(p.nats)] for c in contenders for p in c.curve
    ]
    section.tables.append(Table("Every measured point", ["contender", "train s", "CPU s", "steps", "nats"], curve_rows))
    section.raw["contenders"] = [c.to_dict() for c in contenders]
    section.raw["heldout"] = {"windows": heldout.windows, "stride": heldout.stride, "tail_chars": heldout.tail_chars}
    section.raw["classic_sanity"] = sanity


def _quick_targets(
    section: Section,
    seed_c: Contender,
    quick_c: Contender,
    fifth_c: Contender | None,
    t_mark: float,
    start: float,
    cores: int,
) -> None:
    """quick's loss at the mark, and how much sooner than the seed it reaches the level."""
    seed_at, quick_at = loss_at(seed_c.curve, t_mark), loss_at(quick_c.curve, t_mark)
    section.notes.append(
        f"The seed's loss at {t_mark:g} s: {fmt(seed_at)} nats here, {SEED_MEASURED_150} measured before on this kind "
        "of machine."
    )
    if seed_at and quick_at:
        section.notes.append(
            f"At {t_mark:g} s quick's held-out loss is {seed_at - quick_at:.3f} nats below the seed's "
            f"({2 ** ((seed_at - quick_at) / LN2):.2f}x lower perplexity per character)."
        )
    budget_note = "" if t_mark >= 140 else f" (this mode's budget is {t_mark:g} s, not 150 s)"
    section.targets.append(
        Target(
            f"quick: held-out loss after {t_mark:g} s{budget_note}",
            quick_at,
            "<=",
            QUICK_TARGET,
            "nats",
            cause=_cause(quick_c, cores),
        )
    )
    _fifth_target(section, seed_c, quick_c, fifth_c, t_mark, start)


def _fifth_target(
    section: Section, seed_c: Contender, quick_c: Contender, fifth_c: Contender | None, t_mark: float, start: float
) -> None:
    """5x sooner: quick given a fifth of the seed's time, Start to finished, against the seed's loss at the mark.

    With a schedule that spends its whole budget, the point where the 150-s curve first crosses a level
    says little about what a shorter training gives; a run with a fifth of the budget says it directly.
    """
    seed_at = loss_at(seed_c.curve, t_mark)
    crossing = time_to(quick_c.curve, seed_at, start) if seed_at is not None else None
    if crossing:
        section.notes.append(
            f"quick's {t_mark:g}-s run first reached the seed's {t_mark:g}-s loss ({fmt(seed_at)} nats) after "
            f"{crossing:.0f} training seconds: {t_mark / crossing:.1f}x sooner."
        )
    section.targets.append(
        Target(
            f"quick's {t_mark:g}-s run reaches the seed's {t_mark:g}-s loss: seed's time / quick's",
            t_mark / crossing if crossing else None,
            ">=",
            RATIO_TARGET,
            "x",
            cause=f"quick's curve did not reach the seed's {t_mark:g}-s loss ({fmt(seed_at)} nats) in time",
        )
    )
    got = fifth_c.kept if fifth_c is not None else None
    section.targets.append(
        Target(
            f"quick given {t_mark / RATIO_TARGET:g} s (Start to finished) matches the seed after {t_mark:g} s "
            f"({RATIO_TARGET:g}x sooner): the seed's loss − quick's",
            seed_at - got if seed_at is not None and got is not None else None,
            ">=",
            0.0,
            "nats",
            cause=f"quick kept {fmt(got)} nats after {t_mark / RATIO_TARGET:g} s; the seed had {fmt(seed_at)} "
            f"after {t_mark:g} s of training (its one-hot preparation not counted)",
        )
    )


def _quality_target(section: Section, mode: Mode, quality_c: Contender | None, cores: int) -> None:
    if quality_c is None:
        section.targets.append(
            Target(
                "quality: held-out loss after 900 s",
                None,
                "<=",
                QUALITY_TARGET,
                "nats",
                cause=f"not trained in {mode.name} mode (its target is for 15 minutes of training; run `make bench`)",
            )
        )
    else:
        full = quality_c.budget >= 900
        section.targets.append(
            Target(
                f"quality: held-out loss of the model kept after {quality_c.budget:g} s"
                + ("" if full else " (target is for 900 s)"),
                quality_c.kept if full else None,
                "<=",
                QUALITY_TARGET,
                "nats",
                cause=_quality_cause(quality_c, cores)
                if full
                else f"not tested in this mode: quality trained {quality_c.budget:g} s, the target is for 15 minutes "
                f"(it reached {fmt(quality_c.final)} nats)",
            )
        )


def _classic_target(section: Section, sanity: dict) -> None:
    ref = sanity.get("reference")
    what = "epoch 1 on the full corpus" if sanity["full_epoch"] else f"its first {sanity['steps']} steps"
    line = f"classic preset: training loss over {what} = {sanity['loss']:.3f} nats ({sanity['seconds']:.0f} s)"
    if ref is not None:
        line += f"; reference {ref:.3f} ({sanity['reference_what']})"
    if sanity.get("seed_this_run") is not None:
        line += f"; the seed method's epoch 1 in this run (90% of the text): {sanity['seed_this_run']:.3f}"
    section.notes.append(line)
    section.targets.append(
        Target(
            f"classic preset reproduces the seed: |loss over {what} − reference|",
            abs(sanity["loss"] - ref) if ref is not None else None,
            "<=",
            CLASSIC_TOLERANCE,
            "nats",
            cause="classic's first steps differ from the seed's by more than random initialisation explains; "
            "compare the two models and optimisers"
            if ref is not None
            else "no seed reference in this run",
        )
    )


def _quality_cause(c: Contender, cores: int) -> str:
    """Overfitting shows as a curve that rises again; say so rather than blame the budget."""
    best = min(c.curve, key=lambda p: p.nats) if c.curve else None
    if best is not None and c.final is not None and c.final - best.nats > 0.01:
        return (
            f"the held-out loss was lowest ({best.nats:.3f} nats) at {best.seconds:.0f} s and rose to "
            f"{c.final:.3f} by the end: the model overfits the 540,000 training characters; the job kept the "
            f"epoch its own validation liked best ({fmt(c.kept)} nats on this measure)"
        )
    return _cause(c, cores)


def _cause(c: Contender, cores: int) -> str:
    """A plain statement of how much training the contender got and how busy the machine was."""
    share = c.cpu_seconds / max(c.train_seconds, 1e-9)
    got = (
        f"{c.name} got {c.steps:,} steps in {c.train_seconds:.0f} s ({c.cpu_seconds:.0f} CPU-seconds, "
        f"{share:.2f} of {cores} cores on average)"
    )
    load = f"1-minute load average {c.load_average:.1f} on {cores} cores when it ended"
    if c.load_average > cores + 0.5:
        return (
            f"{got}; the machine was busy ({load}), so it trained fewer steps than a quiet machine allows: "
            "rerun `make bench` when nothing else runs"
        )
    return f"{got}; the machine was quiet ({load}): the budget is not enough for this model on this CPU"
