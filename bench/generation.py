"""Section 2: generation speed. charlstm's NumPy Generator against the seed's `model.predict` loop.

The 128-unit model is the seed's own network: its trained weights (from section 1 when it ran, else
Keras' initial weights) are loaded into charlstm's classic preset. Speed does not depend on what
the weights learned. Correctness: the fast path's probabilities against the Keras model's.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from charlstm.config import PRESETS, SEED_TEMPERATURES, TrainConfig, preset_config
from charlstm.generate import Generator
from charlstm.sampling import softmax
from charlstm.text import Vocabulary

from . import seed
from .common import Section, Table, Target, fmt, median, run_worker, timed_median
from .corpus import BenchText
from .modes import Mode

TITLE = "2. Generation speed"
SPEED_TARGET, RATIO_TARGET, FOUR_TARGET_MS = 20_000.0, 1000.0, 50.0
PROMPT_CHARS, CHECK_CHARS, SAMPLE_LENGTH = seed.MAXLEN, 200, 400  # the seed's loop needs a full window as prompt
SEED_LOOP_TEMPERATURE = 0.5  # the seed's loop is timed at one temperature
INIT_SEED = 1337  # Keras' initial weights when section 1 did not train them
BATCH = f"{len(SEED_TEMPERATURES)} x {SAMPLE_LENGTH}"  # "4 x 400": the seed's samples, as one batch


def _text_and_vocab(bench: BenchText | None, ctx: dict) -> tuple[str, Vocabulary, str]:
    if bench is not None:
        return bench.heldout, Vocabulary(ctx.get("seed_chars") or sorted(set(bench.text))), "Nietzsche (held-out tail)"
    from charlstm.corpora import load_python_docs

    text = load_python_docs().decode("utf-8").lower()
    return text, Vocabulary.from_text(text), "Python docstrings (Nietzsche absent)"


def keras_probabilities(config: TrainConfig, weights: dict, vocab: Vocabulary, text: str) -> np.ndarray:
    """p(next | prefix) at every position from the Keras model built by charlstm (sequence mode)."""
    from charlstm.model import build_model, set_weights

    config = config.replace(mode="sequence")
    model = build_model(config, len(vocab))
    set_weights(model, weights, config, len(vocab))
    logits = np.asarray(model(vocab.encode(text).astype(np.int32)[None], training=False), dtype=np.float64)
    return softmax(logits[0])


def speed(gen: Generator, prompt: str, n: int, repeats: int) -> dict[str, float]:
    """One stream's chars/s (n characters) and the time for the four seed temperatures x 400 characters."""
    gen.generate(prompt, (1.0,), 50, seed=0)  # warm up
    one, _ = timed_median(lambda: gen.generate(prompt, (1.0,), n, seed=1), repeats)
    four, _ = timed_median(lambda: gen.generate(prompt, SEED_TEMPERATURES, SAMPLE_LENGTH, seed=1), repeats)
    return {"chars_per_s": n / one, "four_x_400_ms": four * 1000, "stream_chars": n}


def speed_one_blas_thread(weights: dict, config: TrainConfig, vocab: Vocabulary, prompt: str, mode: Mode) -> dict:
    """The same measurement in a fresh process with OpenBLAS/OpenMP limited to one thread."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "w.npz"
        np.savez(path, **weights)
        args = {
            "weights": str(path),
            "config": config.to_dict(),
            "chars": vocab.chars,
            "prompt": prompt,
            "n": _stream_chars(mode),
            "repeats": mode.gen_repeats,
        }
        return run_worker("gen_speed", args, env={"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"})


def _stream_chars(mode: Mode) -> int:
    return 2000 if mode.name != "smoke" else 500


def run(mode: Mode, bench: BenchText | None, ctx: dict) -> Section:
    """The seed's loop first, then charlstm's Generator on the very same weights, then the two presets.

    The order matters only for the random state: each model is built after the same seeding as before.
    """
    section = Section("generation", TITLE)
    text, vocab, source = _text_and_vocab(bench, ctx)
    prompt, check = text[:PROMPT_CHARS], text[PROMPT_CHARS : PROMPT_CHARS + CHECK_CHARS]
    model, trained = _seed_model(ctx, vocab)
    seed_cps, seed_times = _seed_loop_speed(model, vocab, prompt, mode)

    classic = PRESETS["classic"].config
    weights = seed.to_charlstm_weights(model)
    gen = Generator(weights, classic, vocab)
    ours = speed(gen, prompt, _stream_chars(mode), mode.gen_repeats)
    ours_1t = speed_one_blas_thread(weights, classic, vocab, prompt, mode)
    diff_seq, diff_window = _fast_path_diffs(gen, model, classic, weights, vocab, check)

    rows = [
        _seed_row(seed_cps, seed_times, mode),
        _row("charlstm Generator, same LSTM(128) weights", ours, ours_1t, seed_cps, "same weights as the seed's"),
    ]
    raw_models = {
        "seed_loop": {"chars_per_s": seed_cps, "times": seed_times},
        "classic_128": {**ours, "one_blas_thread": ours_1t},
    }
    for preset in ("quick", "quality"):
        raw_models[preset], row = _preset_speed(preset, ctx, vocab, prompt, check, mode, seed_cps)
        rows.append(row)
    section.tables += [_speed_table(rows, source, trained), _correctness_table(diff_seq, diff_window)]
    section.targets += _targets(ours, ours_1t, seed_cps, max(diff_seq, diff_window))
    section.raw = {
        "models": raw_models,
        "max_abs_diff_sequence": diff_seq,
        "max_abs_diff_window": diff_window,
        "trained": trained,
    }
    return section


def _seed_model(ctx: dict, vocab: Vocabulary) -> tuple[object, bool]:
    """Section 1's trained seed model when it ran, else a freshly built one: speed ignores what it learned."""
    model = ctx.get("seed_model")
    if model is not None:
        return model, True
    import keras

    keras.utils.set_random_seed(INIT_SEED)
    return seed.build_model(len(vocab)), False


def _seed_loop_speed(model, vocab: Vocabulary, prompt: str, mode: Mode) -> tuple[float, list[float]]:
    """The seed's own loop, one `predict` per character: its chars/s and every timed run.

    It is slow, so it gets a third of the repeats; the first call only warms up `predict`.
    """
    data = seed.SeedData(np.empty(0), np.empty(0), vocab.chars, {c: i for i, c in enumerate(vocab.chars)})
    seed.generate(model, data, prompt, SEED_LOOP_TEMPERATURE, 2, np.random.RandomState(0))  # warm up predict
    seed_times = []
    for r in range(max(1, mode.gen_repeats // 3)):  # slow: fewer repeats
        t = time.perf_counter()
        seed.generate(model, data, prompt, SEED_LOOP_TEMPERATURE, mode.seed_gen_chars, np.random.RandomState(r))
        seed_times.append(time.perf_counter() - t)
    return mode.seed_gen_chars / median(seed_times), seed_times


def _fast_path_diffs(
    gen: Generator, model, config: TrainConfig, weights: dict, vocab: Vocabulary, check: str
) -> tuple[float, float]:
    """Speed means nothing if the answers differ: the fast path against Keras, on the same weights.

    Two checks: every position of `check` against charlstm's Keras model, and the last window
    against the seed model's own `predict`.
    """
    fast = gen.probabilities(check)
    keras_p = keras_probabilities(config, weights, vocab, check)
    diff_seq = float(np.abs(fast - keras_p).max())
    window = check[-seed.MAXLEN :]
    x = np.zeros((1, seed.MAXLEN, len(vocab)))
    x[0, np.arange(seed.MAXLEN), vocab.encode(window)] = 1.0
    seed_p = model.predict(x, verbose=0)[0].astype(np.float64)
    diff_window = float(np.abs(gen.next_distribution(window, 1.0) - seed_p).max())
    return diff_seq, diff_window


def _preset_speed(
    preset: str, ctx: dict, vocab: Vocabulary, prompt: str, check: str, mode: Mode, seed_cps: float
) -> tuple[dict, list[str]]:
    """One charlstm preset's speed (both thread settings) and agreement with Keras: its raw entry and row."""
    config, w = _weights_for(preset, ctx, vocab)
    g = Generator(w, config, vocab)
    s = speed(g, prompt, _stream_chars(mode), mode.gen_repeats)
    s1 = speed_one_blas_thread(w, config, vocab, prompt, mode)
    d = float(np.abs(g.probabilities(check) - keras_probabilities(config, w, vocab, check)).max())
    shape = f"{config.layers}x{config.cell.upper()}({config.units}), embedding {config.embedding_dim}"
    row = _row(f"charlstm Generator, {preset} ({shape})", s, s1, seed_cps, f"max |p − Keras p| = {d:.1e}")
    return {**s, "one_blas_thread": s1, "max_abs_diff": d}, row


def _seed_row(seed_cps: float, seed_times: list[float], mode: Mode) -> list[str]:
    """The seed's row: it never samples the four temperatures at once, so that time is extrapolated."""
    seed_four_s = len(SEED_TEMPERATURES) * SAMPLE_LENGTH / seed_cps
    return [
        "seed loop (`model.predict` per char), LSTM(128)",
        fmt(seed_cps, 1),
        f"{seed_four_s:,.0f} s (extrapolated)",
        "",
        "",
        "1x",
        f"{mode.seed_gen_chars} chars at T={SEED_LOOP_TEMPERATURE:g}, median of {len(seed_times)}",
    ]


def _speed_table(rows: list[list[str]], source: str, trained: bool) -> Table:
    """The speed table, with a note on where the prompt and the weights came from."""
    weights_source = (
        "the seed model trained in section 1" if trained else "Keras initial weights (section 1 did not run)"
    )
    temperatures = "/".join(map(str, SEED_TEMPERATURES))
    return Table(
        f"Characters per second (one stream) and {len(SEED_TEMPERATURES)} temperatures x {SAMPLE_LENGTH} "
        "characters at once",
        [
            "generator",
            "chars/s, one stream",
            f"{BATCH} chars (ms)",
            "chars/s, BLAS 1 thread",
            f"{BATCH} ms, BLAS 1 thread",
            "one stream vs seed",
            "notes",
        ],
        rows,
        note=(
            f"Prompt: {PROMPT_CHARS} characters of {source}; times include feeding the prompt. "
            f"Weights of the 128-unit model: {weights_source}; "
            "quick/quality: section 1's trained weights when it ran, else initial weights. "
            f"Temperatures {temperatures} run as one batch of {len(SEED_TEMPERATURES)} rows. 'BLAS 1 thread': "
            "the same measurement in a fresh process with OPENBLAS_NUM_THREADS=1 (NumPy's default lets OpenBLAS "
            "use every core, which for these small matrices costs more in thread hand-offs than it gains, worst "
            "when the machine is busy)."
        ),
    )


def _correctness_table(diff_seq: float, diff_window: float) -> Table:
    """The two agreement checks of `_fast_path_diffs`, in probability units."""
    return Table(
        "Correctness of the fast path",
        ["check", "max abs difference"],
        [
            [
                f"Generator.probabilities vs Keras softmax (charlstm build_model), {CHECK_CHARS}-char text",
                f"{diff_seq:.2e}",
            ],
            [
                f"Generator.next_distribution vs the seed model's `predict` on one {seed.MAXLEN}-char window",
                f"{diff_window:.2e}",
            ],
        ],
        note="Both in probability units (float32 arithmetic on each side).",
    )


def _targets(ours: dict, ours_1t: dict, seed_cps: float, diff: float) -> list[Target]:
    """The issue's claims for the 128-unit model; a missed speed target names its likely cause."""
    load_cause = _speed_cause(ours, ours_1t)
    return [
        Target("one stream, 128-unit model", ours["chars_per_s"], ">=", SPEED_TARGET, "chars/s", cause=load_cause),
        Target(
            "speed-up over the seed's loop", ours["chars_per_s"] / seed_cps, ">=", RATIO_TARGET, "x", cause=load_cause
        ),
        Target(
            f"{len(SEED_TEMPERATURES)} temperatures x {SAMPLE_LENGTH} chars, 128-unit model",
            ours["four_x_400_ms"],
            "<=",
            FOUR_TARGET_MS,
            "ms",
            cause=load_cause,
        ),
        Target(
            "fast path = Keras probabilities",
            diff,
            "<=",
            1e-4,
            "",
            cause="the NumPy step and Keras disagree beyond float32 round-off",
        ),
    ]


def _speed_cause(default: dict, one_thread: dict) -> str:
    """Why the 128-unit generator was slower than wanted, from the two thread settings measured."""
    if one_thread["chars_per_s"] > 1.2 * default["chars_per_s"]:
        return (
            f"with OpenBLAS limited to one thread the same generator does {one_thread['chars_per_s']:,.0f} chars/s "
            f"and {BATCH} in {one_thread['four_x_400_ms']:.1f} ms: NumPy's OpenBLAS thread pool costs more than it "
            "gains on these small matrix-vector products, worst on a busy machine. Fix in charlstm.generate: run "
            "the step with BLAS limited to one thread (threadpoolctl), or set OPENBLAS_NUM_THREADS=1 for the app "
            "and CLI"
        )
    return "each character's NumPy step costs this much here; the machine was shared while measuring"


def _row(name: str, s: dict, s1: dict, seed_cps: float, note: str) -> list[str]:
    return [
        name,
        f"{s['chars_per_s']:,.0f}",
        fmt(s["four_x_400_ms"], 1),
        f"{s1['chars_per_s']:,.0f}",
        fmt(s1["four_x_400_ms"], 1),
        f"{s['chars_per_s'] / seed_cps:,.0f}x",
        note,
    ]


def _weights_for(preset: str, ctx: dict, vocab: Vocabulary) -> tuple[TrainConfig, dict]:
    trained = ctx.get("trained", {}).get(preset)
    if trained is not None and trained[2] == vocab:
        return trained[0], trained[1]
    import keras

    from charlstm.model import build_model, get_weights

    keras.utils.set_random_seed(INIT_SEED)
    config = preset_config(preset, lowercase=True)
    return config, get_weights(build_model(config, len(vocab)))
