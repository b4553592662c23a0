"""How long each section may run in each mode: `full` (make bench), `quick` (make bench-quick), `smoke`."""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Mode:
    name: str
    # 1. learning per CPU-second (wall-clock training budgets, seconds)
    seed_seconds: float
    quick_seconds: float
    quality_seconds: float | None  # None: skipped
    seed_stop_at: float | None  # the seed stops early once it reaches this held-out loss
    eval_every: float  # take the validation measure every this many training seconds
    quality_eval_every: float
    eval_stride: int
    eval_max_windows: int | None
    classic_steps: int | None  # None: one whole epoch on the full corpus (the seed's first epoch)
    # 2. generation
    seed_gen_chars: int
    gen_repeats: int
    # 3. memory
    mem_train_seconds: float
    scale_sizes_mb: tuple[int, ...]
    scale_repeats: int
    # 4. app
    app_tries: int  # warm Starts (after the cold one)
    app_slider_tries: int  # temperature-slider moves while a job trains
    app_train_seconds: float  # memory sampled while training; the window of the two-jobs speed test
    app_budget_minutes: tuple[float, ...] = ()  # time limits whose estimate is checked against Start -> finished
    # 5. several kinds of text: which texts (None: all), and each contender with its budget (Start to finished)
    kinds: tuple[str, ...] | None = None
    kind_contenders: tuple[tuple[str, float], ...] = ()


MODES: dict[str, Mode] = {
    "full": Mode(
        name="full",
        seed_seconds=150,  # the 5x target compares with the seed's loss after 150 s
        quick_seconds=150,
        quality_seconds=900,
        seed_stop_at=None,
        eval_every=30,
        quality_eval_every=150,
        eval_stride=6,
        eval_max_windows=None,
        classic_steps=None,
        seed_gen_chars=200,
        gen_repeats=7,
        mem_train_seconds=30,
        scale_sizes_mb=(1, 10, 100),
        scale_repeats=3,
        app_tries=5,
        app_slider_tries=30,
        app_train_seconds=30,
        app_budget_minutes=(1.0, 2.5),
        # The seed is measured against quick in section 1; here it would add 10 minutes and take `make bench`
        # past an hour (`--contenders seed,baseline,quick` brings it back at the baseline's time)
        kind_contenders=(("baseline", 150), ("quick", 150)),
    ),
    "quick": Mode(
        name="quick",
        seed_seconds=150,
        quick_seconds=150,
        quality_seconds=None,  # skipped: its target is for 15 minutes
        seed_stop_at=None,
        eval_every=30,
        quality_eval_every=60,
        eval_stride=6,
        eval_max_windows=None,
        classic_steps=200,
        seed_gen_chars=60,
        gen_repeats=5,
        mem_train_seconds=10,
        scale_sizes_mb=(1, 10, 100),
        scale_repeats=1,
        app_tries=2,
        app_slider_tries=12,
        app_train_seconds=15,
        app_budget_minutes=(1.0, 2.5),
        kinds=("german", "python-source"),
        kind_contenders=(("baseline", 60), ("quick", 60)),
    ),
    "smoke": Mode(
        name="smoke",
        seed_seconds=6,
        quick_seconds=6,
        quality_seconds=5,
        seed_stop_at=None,
        eval_every=3,
        quality_eval_every=3,
        eval_stride=6,
        eval_max_windows=300,
        classic_steps=10,
        seed_gen_chars=10,
        gen_repeats=2,
        mem_train_seconds=2,
        scale_sizes_mb=(1, 2),
        scale_repeats=1,
        app_tries=1,
        app_slider_tries=3,
        app_train_seconds=5,
        kinds=("german",),
        kind_contenders=(("baseline", 8), ("quick", 8)),
    ),
}

# `make bench-quality`: quality's 15 minutes on every text, beside quick and the baseline (about 75 minutes).
MODES["quality"] = replace(
    MODES["full"], name="quality", kind_contenders=(("baseline", 150), ("quick", 150), ("quality", 900))
)


def with_contenders(mode: Mode, names: list[str]) -> Mode:
    """`mode` with section 5's contenders named: each at its budget in `mode`; the seed, when the mode lacks
    it, at the baseline's (the comparison the seed is for)."""
    budgets = dict(mode.kind_contenders)
    budgets.setdefault("seed", budgets.get("baseline", mode.quick_seconds))
    unknown = [name for name in names if name not in budgets]
    if unknown:
        raise SystemExit(
            f"bench: {', '.join(unknown)} is not a contender of {mode.name} mode; choose from {', '.join(budgets)}"
        )
    return replace(mode, kind_contenders=tuple((name, budgets[name]) for name in names))
