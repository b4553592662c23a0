"""Stateful generation in NumPy: constant work per character, no TensorFlow needed.

The seed re-ran the whole 60-character window through `model.predict` for every new character
(about 15 characters a second). Here the recurrent state is carried from one character to the
next, so each character costs one small matrix-vector product per layer: tens of thousands of
characters a second on one core. Probabilities match the Keras model's to float32 round-off.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field

import numpy as np

from .config import LN2, TrainConfig
from .errors import ConfigError
from .sampling import Sampler, Sampling, banned_after, filtered, log_softmax, softmax
from .text import Vocabulary
from .weights import Weights, check_weights

MAX_LENGTH = 20_000
Watch = Callable[[int, np.ndarray, tuple[np.ndarray, np.ndarray]], None]  # see Generator._step
SCORE_CHUNK = 20_000
PROMPT_WORDS = 3  # a prompt taken from a person's own text: its first line of at least this many words
OPENING_CHARS = 4096  # ... looked for only this far in (a page rerun must not split a 2 MB paste into lines)


def opening_words(text: str, words: int = PROMPT_WORDS) -> str:
    """A prompt the person recognises from their own text: the first `words` words of its first line that has
    that many (a title or a date above it is skipped), and a space; "" when no line has them.

    A fixed English prompt ("The meaning of ") makes a model of German verse or of code start from
    characters it rarely or never saw.
    """
    for line in text[:OPENING_CHARS].splitlines():
        found = line.split()
        if len(found) >= words:
            return " ".join(found[:words]) + " "
    return ""


@functools.cache
def _blas_controller():
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def one_blas_thread() -> AbstractContextManager:
    """Run NumPy's matrix products on one thread while generating.

    Our products are tiny (128 x 512); splitting them over threads costs more than it saves, and on a
    busy 2-core machine multi-threaded BLAS made generation 15x slower (measured in bench/).
    """
    limit: AbstractContextManager = _blas_controller().limit(limits=1, user_api="blas")
    return limit


def check_length(length: int) -> tuple[int, str | None]:
    """A usable generation length, and a note for the user when it had to be capped."""
    if not isinstance(length, int | np.integer) or isinstance(length, bool) or length < 0:
        raise ConfigError(f"Length must be a whole number of characters, 0 or more (got {length!r}).")
    if length > MAX_LENGTH:
        return MAX_LENGTH, f"Length capped at {MAX_LENGTH:,} characters (asked for {length:,})."
    return int(length), None


def sampling_rows(
    rows: Sequence[float | Sampling], top_k: int | None, top_p: float | None, no_repeat: int | None
) -> list[Sampling]:
    """The checked settings of a comparison: a number is a temperature with the shared options, a Sampling is used
    as it is (then the shared options must be left off: which would win is not obvious)."""
    rows = list(rows)
    if not rows:
        raise ConfigError("Give at least one temperature.")
    shared = (top_k, top_p, no_repeat)
    if any(isinstance(r, Sampling) for r in rows) and any(o is not None for o in shared):
        raise TypeError("give top_k, top_p and no_repeat inside each Sampling row, not beside them")
    return [(r if isinstance(r, Sampling) else Sampling(r, *shared)).checked() for r in rows]


@dataclass(frozen=True)
class Sample:
    """One generated text; `probs[i]` is how likely the model (at T = 1) found character i.

    `sampling` is the row's setting; `fell_back[i]` is True where its loop guard banned every character still allowed
    and character i was picked unguarded.
    """

    temperature: float
    text: str
    probs: np.ndarray
    sampling: Sampling = field(default_factory=Sampling)
    fell_back: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))


@dataclass(frozen=True)
class Trace:
    """What the network held after reading each character of `text` (for the Inside the LSTM page).

    `h[l, t]` and `c[l, t]` are layer l's output and cell state right after character t; `surprise[t]` is
    -log2 p(text[t] | text[:t]) in bits (the first character has no context and gets 0). GRU layers have
    no cell state: their `c` is all zeros.
    """

    text: str
    h: np.ndarray  # (layers, len, units), float32
    c: np.ndarray  # (layers, len, units), float32
    surprise: np.ndarray  # (len,), bits


@dataclass(frozen=True)
class Pin:
    """Cell surgery: one cell held at `value` at every step while the model reads and writes.

    `value` is the activation the Inside page shows, from -1 to 1: tanh(c) for an LSTM (the cell's memory is
    set so, and the layer's output follows from it), the output h for a GRU. 0 switches the cell off.
    """

    cell: int
    value: float
    layer: int = -1  # the last layer by default, the one the Inside page shows

    HIGHEST = 0.995  # tanh(c) = 1 would need an infinite memory: "pinned high" is this close to it

    def placed(self, layers: int, units: int) -> tuple[int, float]:
        """(the layer counted from the first, the value to hold) in a model of `layers` x `units`; checked."""
        if not -layers <= self.layer < layers or not 0 <= self.cell < units or not -1 <= self.value <= 1:
            raise ConfigError(
                f"A pinned cell must be one of the model's {units} cells (0 to {units - 1}) in one of its "
                f"{layers} layer(s), held between -1 and 1."
            )
        return range(layers)[self.layer], float(np.clip(self.value, -self.HIGHEST, self.HIGHEST))


@dataclass(frozen=True)
class Score:
    chars: int
    nats: float
    skipped: int

    @property
    def bpc(self) -> float:
        return self.nats / LN2


class _Layer:
    """One recurrent layer's arrays, rearranged once so a step needs as few NumPy calls as possible."""

    def __init__(self, cell: str, kernel, recurrent, bias, units: int):
        self.cell, self.units = cell, units
        if cell == "lstm":
            # Keras order is i, f, c, o. Reorder to i, f, o, c and halve the sigmoid columns:
            # sigmoid(z) = 0.5 * tanh(z / 2) + 0.5, so one tanh call covers all four gates.
            u = units
            order = np.r_[0 : 2 * u, 3 * u : 4 * u, 2 * u : 3 * u]
            scale = np.r_[np.full(3 * u, 0.5), np.ones(u)].astype(np.float32)
            self.kernel = (kernel[:, order] * scale).astype(np.float32)
            self.recurrent = (recurrent[:, order] * scale).astype(np.float32)
            self.bias = (bias[order] * scale).astype(np.float32)
        else:
            self.kernel = kernel.astype(np.float32)
            self.recurrent = recurrent.astype(np.float32)
            self.bias = bias[0].astype(np.float32)
            self.recurrent_bias = bias[1].astype(np.float32)

    @classmethod
    def of(cls, weights: Weights, i: int, config: TrainConfig) -> _Layer:
        """Layer `i` of a model's weights (as `charlstm.weights` names them)."""
        kernel, recurrent, bias = (weights[f"rnn{i}/{name}"] for name in ("kernel", "recurrent_kernel", "bias"))
        return cls(config.cell, kernel, recurrent, bias, config.units)

    def gates(self, x_proj, h, c) -> dict[str, np.ndarray]:
        """One LSTM step taken apart (the same arithmetic as `step`): the input gate i (how much is written),
        the forget gate f (how much of the memory is kept), the output gate o (how much is shown), the
        candidate g (what would be written), and the memory and output after the step."""
        u = self.units
        t = np.tanh(x_proj + h @ self.recurrent)
        i, f, o = (t[:, k * u : (k + 1) * u] * 0.5 + 0.5 for k in range(3))
        g = t[:, 3 * u :]
        c_new = f * c + i * g
        return {
            "input": i,
            "forget": f,
            "output": o,
            "candidate": g,
            "c_before": c,
            "c": c_new,
            "h": o * np.tanh(c_new),
        }

    def step(self, x_proj, h, c, pinned: tuple[np.ndarray, np.ndarray] | None = None):
        """x_proj = x @ kernel + bias, already computed. Returns the new (h, c).

        `pinned` (cells, activations) holds those cells at those activations (see `Pin`)."""
        u = self.units
        if self.cell == "lstm":
            t = np.tanh(x_proj + h @ self.recurrent)
            gates = t[:, : 3 * u] * 0.5 + 0.5
            c = gates[:, u : 2 * u] * c + gates[:, :u] * t[:, 3 * u :]
            if pinned is not None:
                c[:, pinned[0]] = np.arctanh(pinned[1])  # tanh(c), the activation shown, is then exactly the pin
            return gates[:, 2 * u :] * np.tanh(c), c
        inner = h @ self.recurrent + self.recurrent_bias
        zr = 1.0 / (1.0 + np.exp(-(x_proj[:, : 2 * u] + inner[:, : 2 * u])))
        hh = np.tanh(x_proj[:, 2 * u :] + zr[:, u:] * inner[:, 2 * u :])
        z = zr[:, :u]
        h = z * h + (1.0 - z) * hh
        if pinned is not None:
            h[:, pinned[0]] = pinned[1]
        return h, c


class Generator:
    """Samples text from trained weights. Build it with `store.load_generator(run_dir)`."""

    def __init__(self, weights: Weights, config: TrainConfig, vocab: Vocabulary):
        check_weights(weights, config, len(vocab))
        self.config, self.vocab = config, vocab
        self.layers = [_Layer.of(weights, i, config) for i in range(config.layers)]
        first = self.layers[0]
        # The first layer's input projection of every character, looked up instead of multiplied.
        embed = weights.get("input/embedding")
        inputs = embed.astype(np.float32) if embed is not None else np.eye(len(vocab), dtype=np.float32)
        self.input_table = inputs @ first.kernel + first.bias
        self.out_kernel = weights["logits/kernel"].astype(np.float32)
        self.out_bias = weights["logits/bias"].astype(np.float32)
        self._pins: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # layer -> (cells, activations): cell surgery

    def pinned(self, *pins: Pin) -> Generator:
        """The same model with cells held at values (cell surgery); this generator is left unchanged.

        The copy shares every weight array (cheap); with no pins it writes exactly what this one writes."""
        pinned = copy.copy(self)
        pinned._pins = {}
        for pin in pins:
            layer, value = pin.placed(len(self.layers), self.config.units)
            cells, values = pinned._pins.get(layer, (np.zeros(0, np.int64), np.zeros(0, np.float32)))
            pinned._pins[layer] = (np.append(cells, pin.cell), np.append(values, np.float32(value)))
        return pinned

    # --- the recurrent core --------------------------------------------------------------
    def _zero_state(self, batch: int):
        u = self.config.units
        return [(np.zeros((batch, u), np.float32), np.zeros((batch, u), np.float32)) for _ in self.layers]

    def _step(self, state, ids: np.ndarray, watch: Watch | None = None) -> np.ndarray:
        """Advance every row by one character; returns the logits of the next one. Updates state.

        `watch(layer, its input, its state before)` is called before each layer's step (to take one apart)."""
        x = self.input_table[ids]
        for i, layer in enumerate(self.layers):
            if i:
                x = x @ layer.kernel + layer.bias
            if watch is not None:
                watch(i, x, state[i])
            h, c = layer.step(x, state[i][0], state[i][1], self._pins.get(i))
            state[i] = (h, c)
            x = h
        logits: np.ndarray = x @ self.out_kernel + self.out_bias
        return logits

    def _feed(self, ids: np.ndarray, batch: int = 1):
        """Run a prompt through the model; returns (state, logits after its last character)."""
        state = self._zero_state(batch)
        logits = None
        for i in ids:
            logits = self._step(state, np.full(batch, i))
        return state, logits

    def prepare_prompt(self, prompt: str) -> tuple[str, list[str]]:
        """The prompt the model will read, and the characters that had to be replaced.

        An empty prompt starts from a line break (or the first known character).
        """
        cleaned, unknown = self.vocab.clean_prompt(prompt)
        if not cleaned:
            cleaned = "\n" if "\n" in self.vocab else self.vocab.chars[0]
        return cleaned, unknown

    # --- sampling ----------------------------------------------------------------------------
    def _run(self, prompt: str, rows: list[Sampling], length: int, seed: int | None):
        """Yield (ids, model probabilities, fell back) per step for several settings in lockstep.

        All rows share one uniform random number per step, so they differ only by their settings. `fell back` says
        which rows' loop guard had to give way at that step (see `charlstm.sampling`).
        """
        cleaned, _ = self.prepare_prompt(prompt)
        prompt_ids = self.vocab.encode(cleaned)
        sampler = Sampler(rows, len(self.vocab), prompt_ids)
        k = len(rows)
        state, logits = self._feed(prompt_ids, batch=k)
        uniforms = np.random.default_rng(seed).random(length)
        every = np.arange(k)
        for step in range(length):
            ids, fell_back = sampler.pick(logits, uniforms[step])
            probs = softmax(logits.astype(np.float64))
            yield ids, probs[every, ids], fell_back  # the model's own probability (T = 1) of each
            if step + 1 < length:
                sampler.push(ids)
                logits = self._step(state, ids)

    def generate(
        self,
        prompt: str,
        temperatures: Sequence[float | Sampling] = (1.0,),
        length: int = 400,
        seed: int | None = None,
        top_k: int | None = None,
        *,
        top_p: float | None = None,
        no_repeat: int | None = None,
    ) -> list[Sample]:
        """One sample per row, all from the same prompt and the same random numbers.

        A row is a temperature (then top_k, top_p and no_repeat apply to it) or a whole `Sampling`, so a comparison
        can set each row apart: `generate(prompt, [Sampling(0.8), Sampling(0.8, top_p=0.9)], ...)`.
        """
        length, _ = check_length(length)
        rows = sampling_rows(temperatures, top_k, top_p, no_repeat)
        id_steps, p_steps, fell_steps = [], [], []
        with one_blas_thread():
            for ids, probs, fell_back in self._run(prompt, rows, length, seed):
                id_steps.append(ids)
                p_steps.append(probs)
                fell_steps.append(fell_back)
        k = len(rows)
        ids = np.array(id_steps, dtype=np.int64).reshape(length, k)
        probs = np.array(p_steps, dtype=np.float64).reshape(length, k)
        fell = np.array(fell_steps, dtype=bool).reshape(length, k)
        return [
            Sample(s.temperature, self.vocab.decode(ids[:, r]), probs[:, r], s, fell[:, r]) for r, s in enumerate(rows)
        ]

    def stream(
        self,
        prompt: str,
        temperature: float | Sampling = 1.0,
        length: int = 400,
        seed: int | None = None,
        top_k: int | None = None,
        *,
        top_p: float | None = None,
        no_repeat: int | None = None,
    ) -> Iterator[tuple[str, float]]:
        """Characters one at a time with the model's probability for each (for live display).

        The same text as `generate` with one row, for the same prompt, settings and seed.
        """
        length, _ = check_length(length)
        rows = sampling_rows([temperature], top_k, top_p, no_repeat)
        with one_blas_thread():
            for ids, probs, _ in self._run(prompt, rows, length, seed):
                yield self.vocab.chars[int(ids[0])], float(probs[0])

    def next_distribution(
        self,
        prompt: str,
        temperature: float | Sampling = 1.0,
        top_k: int | None = None,
        *,
        top_p: float | None = None,
        no_repeat: int | None = None,
    ) -> np.ndarray:
        """Probabilities of every character right after the prompt under a setting; 0 where the setting removes one.

        The loop guard reads the prompt as the text so far, as generation does.
        """
        (sampling,) = sampling_rows([temperature], top_k, top_p, no_repeat)
        cleaned, _ = self.prepare_prompt(prompt)
        ids = self.vocab.encode(cleaned)
        with one_blas_thread():
            _, logits = self._feed(ids)
        return filtered(logits[0], sampling, banned_after(ids, sampling.no_repeat))

    def probabilities(self, text: str) -> np.ndarray:
        """p(next char | prefix) at every position of a known-character text: (len, vocab)."""
        state = self._zero_state(1)
        with one_blas_thread():
            return np.stack([softmax(self._step(state, np.array([i]))[0]) for i in self.vocab.encode(text)])

    def explain(self, text: str, layer: int = -1) -> dict[str, np.ndarray]:
        """Every step of an LSTM layer over a text, taken apart: each gate's values, the memory before and after,
        and the output, as (characters, units) arrays; plus the next-character probabilities after each step
        ("next": (characters, vocab)). The text is read like a prompt. For the step-by-step explanation."""
        if self.config.cell != "lstm":
            raise ConfigError("Only an LSTM's step has these gates (this model is a GRU).")
        cleaned, _ = self.vocab.clean_prompt(text)
        target = range(len(self.layers))[layer]
        parts: dict[str, list[np.ndarray]] = {}

        def keep_gates(k: int, x: np.ndarray, before: tuple[np.ndarray, np.ndarray]) -> None:
            if k == target:
                for name, value in self.layers[k].gates(x, *before).items():
                    parts.setdefault(name, []).append(value[0])

        state = self._zero_state(1)
        with one_blas_thread():
            ids = self.vocab.encode(cleaned)
            nexts = [softmax(self._step(state, np.array([i]), keep_gates)[0].astype(np.float64)) for i in ids]
        out = {name: np.array(values) for name, values in parts.items()}
        out["next"] = np.array(nexts)
        return out

    def trace(self, text: str) -> Trace:
        """Run a text through the network and keep h and c of every layer after every character.

        One character at a time, exactly like generation, so what the page shows is what the model uses. The text
        is read like a prompt: lowercased for a lowercase model, unseen characters as spaces.
        """
        cleaned, _ = self.vocab.clean_prompt(text)
        ids = self.vocab.encode(cleaned).astype(np.int64)
        n, u = len(ids), self.config.units
        hs = np.zeros((len(self.layers), n, u), np.float32)
        cs = np.zeros((len(self.layers), n, u), np.float32)
        surprise = np.zeros(n, np.float64)
        state = self._zero_state(1)
        with one_blas_thread():
            for t, i in enumerate(ids):
                logits = self._step(state, np.array([i]))[0].astype(np.float64)
                for layer, (h, c) in enumerate(state):
                    hs[layer, t], cs[layer, t] = h[0], c[0]
                if t + 1 < n:
                    surprise[t + 1] = -log_softmax(logits)[ids[t + 1]] / LN2
        return Trace(cleaned, hs, cs, surprise)

    # --- scoring -----------------------------------------------------------------------------
    def score(self, text: str) -> Score:
        """Mean negative log-likelihood of each character given all before it (nats and bits).

        Characters the model never saw are dropped and counted in `skipped`. Long texts are cut
        into 20,000-character chunks scored side by side; each chunk starts from a fresh state.
        """
        cleaned = text.lower() if not any(c.isupper() for c in self.vocab.chars) else text
        known = self.vocab.known_only(cleaned)
        skipped = len(cleaned) - len(known)
        if len(known) < 2:
            raise ConfigError("The text needs at least two characters the model knows to be scored.")
        ids = self.vocab.encode(known).astype(np.int64)
        chunks = [ids[i : i + SCORE_CHUNK] for i in range(0, len(ids), SCORE_CHUNK)]
        if len(chunks) > 1 and len(chunks[-1]) < 2:
            chunks[-2] = np.concatenate([chunks[-2], chunks.pop()])
        width = max(len(ch) for ch in chunks)
        padded = np.zeros((len(chunks), width), np.int64)
        mask = np.zeros((len(chunks), width), bool)
        for r, ch in enumerate(chunks):
            padded[r, : len(ch)], mask[r, : len(ch)] = ch, True
        state = self._zero_state(len(chunks))
        rows = np.arange(len(chunks))
        total, count = 0.0, 0
        with one_blas_thread():
            for t in range(width - 1):
                logp = log_softmax(self._step(state, padded[:, t]).astype(np.float64))[rows, padded[:, t + 1]]
                live = mask[:, t + 1]
                total -= float(logp[live].sum())
                count += int(live.sum())
        return Score(chars=count, nats=total / count, skipped=skipped)
