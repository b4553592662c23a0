"""How the next character is picked from the model's logits: one implementation for generation, the CLI and the studio.

Four settings, applied in this order:

1. Temperature T: how adventurous the model is. The seed reweights a distribution p by exp(log p / T) and
   renormalises; from logits that is softmax(logits / T), computed after subtracting the maximum so a tiny T never
   overflows. T = 0 always takes the likeliest character that remains after steps 2-4 (the limit T -> 0).
2. Top-k: only the k likeliest characters stay. Temperature never reorders characters, so these are the same k at
   every temperature (computed on the logits).
3. Top-p ("nucleus"): of what top-k left, renormalised, the smallest set of the likeliest characters whose
   probabilities add up to at least p; the likeliest always stays. It works on the *tempered* distribution, so the
   temperature decides how wide the nucleus is: a cool temperature piles the mass on few characters and top-p keeps
   fewer of them. (The order most libraries use, e.g. Hugging Face's temperature, top-k, top-p warpers.) At T = 0
   the tempered distribution is all on the likeliest character, so top-p keeps only that one (and a loop guard
   beside it can only give way: at T = 0 use the guard without top-p).
4. Loop guard ("no repeat N"): a character is removed when the last N-1 characters followed by it already occur in
   the text (prompt + what was written so far): the text never writes an N-character stretch it already holds.
   It comes last because it is a veto on what the other settings allow, not a reshaping of the distribution: when
   it would remove every character still allowed, that step falls back to the distribution of steps 1-3 (so the
   text never gets stuck), and `Sampler.pick` says which rows fell back.

What remains is renormalised. `draw` picks from it by inverse CDF with one uniform number per row; giving every
row of a comparison the same uniform makes their texts differ only by their settings.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from .errors import ConfigError

MAX_TEMPERATURE = 100.0
MAX_NO_REPEAT = 200  # longer stretches than this are not loops a reader would notice
_NONE: frozenset[int] = frozenset()


def check_temperature(t: float) -> float:
    """A finite temperature from 0 to 100, or a ConfigError that says what is allowed."""
    try:
        t = float(t)
    except (TypeError, ValueError):
        raise ConfigError(f"Temperature must be a number (got {t!r}).") from None
    if not math.isfinite(t) or t < 0:
        raise ConfigError(
            f"Temperature must be 0 or more (got {t}). 0 always picks the likeliest character; "
            "around 0.5 is careful, 1 is the model as trained, above 1 is wilder."
        )
    if t > MAX_TEMPERATURE:
        raise ConfigError(f"Temperature above {MAX_TEMPERATURE:g} is pure noise; use a smaller value.")
    return t


def _whole(value) -> int | None:
    """value as an int when it is a whole number (not a bool), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating) and math.isfinite(value) and float(value).is_integer():
        return int(value)
    return None


def check_top_k(k) -> int | None:
    """None (off) or a whole number of 1 or more."""
    if k is None:
        return None
    whole = _whole(k)
    if whole is None or whole < 1:
        raise ConfigError(
            f"top-k must be a whole number of 1 or more, or off (got {k!r}). It keeps only the k likeliest "
            "characters: 1 always takes the likeliest, 40 leaves the model a wide choice."
        )
    return whole


def check_top_p(p) -> float | None:
    """None (off) or a number above 0 and at most 1; 1 keeps every character, so it is the same as off."""
    if p is None:
        return None
    try:
        value = float(p)
    except (TypeError, ValueError):
        value = math.nan
    if isinstance(p, bool) or not 0 < value <= 1:
        raise ConfigError(
            f"top-p must be a number above 0 and at most 1, or off (got {p!r}). 0.9 keeps the likeliest characters "
            "that together make up 90% of the probability; 1 keeps them all."
        )
    return None if value == 1 else value


def check_no_repeat(n) -> int | None:
    """None (off), 0 (off) or a whole number from 2 to MAX_NO_REPEAT."""
    if n is None:
        return None
    whole = _whole(n)
    if whole is None or not (whole == 0 or 2 <= whole <= MAX_NO_REPEAT):
        raise ConfigError(
            f"The loop guard (no-repeat) must be a whole number from 2 to {MAX_NO_REPEAT}, or 0 for off (got {n!r}). "
            "With 8 the text never writes 8 characters in a row that it already holds."
        )
    return whole or None


@dataclass(frozen=True)
class Sampling:
    """One setting for picking characters (see the module docstring for what each part does, and in which order).

    `top_k`, `top_p` and `no_repeat` are off when None. Build it from user input, then call `checked()`: it raises a
    ConfigError that says what is allowed, and returns the setting with "off" spelled one way (top-p 1 and
    no-repeat 0 become None).
    """

    temperature: float = 1.0
    top_k: int | None = None
    top_p: float | None = None
    no_repeat: int | None = None

    def checked(self) -> Sampling:
        return Sampling(
            check_temperature(self.temperature),
            check_top_k(self.top_k),
            check_top_p(self.top_p),
            check_no_repeat(self.no_repeat),
        )

    @property
    def plain(self) -> bool:
        """Temperature only: the fast path, and exactly what generation did before top-p and the loop guard."""
        return self.top_k is None and self.top_p is None and self.no_repeat is None

    @property
    def label(self) -> str:
        """A short name for a comparison row, e.g. 'T 0.8, top-p 0.9, no repeat 8'."""
        parts = [f"T {self.temperature:g}"]
        if self.top_k is not None:
            parts.append(f"top-k {self.top_k}")
        if self.top_p is not None:
            parts.append(f"top-p {self.top_p:g}")
        if self.no_repeat is not None:
            parts.append(f"no repeat {self.no_repeat}")
        return ", ".join(parts)


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    probs: np.ndarray = e / e.sum(axis=-1, keepdims=True)
    return probs


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """log(softmax) along the last axis, without overflow: what scoring a character needs."""
    z = logits - logits.max(axis=-1, keepdims=True)
    logp: np.ndarray = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    return logp


class _Plan:
    """A comparison's settings as arrays, worked out once (not at every character). Rows must be checked."""

    def __init__(self, rows: Sequence[Sampling], vocab_size: int):
        temperatures = np.array([s.temperature for s in rows], dtype=np.float64)
        self.greedy = temperatures == 0
        self.any_greedy = bool(self.greedy.any())
        # The one place temperature is applied: logits / divisor. Greedy rows are divided by 1; callers take argmax.
        self.divisor = np.where(self.greedy, 1.0, temperatures)[:, None]
        ks = np.array([min(s.top_k or vocab_size, vocab_size) for s in rows])
        self.kth = (vocab_size - ks)[:, None] if (ks < vocab_size).any() else None  # index of the k-th in a sort
        ps = np.array([np.inf if s.top_p is None else s.top_p for s in rows])
        self.top_p = ps if np.isfinite(ps).any() else None

    def tempered(self, logits: np.ndarray) -> np.ndarray:
        """logits / T row by row, in float64."""
        z: np.ndarray = np.asarray(logits, dtype=np.float64) / self.divisor
        return z


class LoopGuard:
    """Which next characters would write an n-gram the text already holds, kept up to date one character at a time.

    `_follows[g]` is the set of characters that came right after the (n-1)-gram g somewhere in the text, so the next
    character c is banned exactly when c is in `_follows[last n-1 characters]`. Adding a character is one dictionary
    update, whatever the length of the text.
    """

    def __init__(self, n: int, ids: Iterable[int] = ()):
        if _whole(n) is None or n < 2:
            raise ValueError(f"a loop guard needs n >= 2 (got {n!r})")
        self.n = int(n)
        self._follows: dict[tuple[int, ...], set[int]] = {}
        self._recent: deque[int] = deque(maxlen=self.n - 1)
        self._key: tuple[int, ...] | None = None  # the last n-1 characters, once there are that many
        for i in ids:
            self.push(int(i))

    def push(self, i: int) -> None:
        """The text grew by the character with id i."""
        if self._key is not None:
            self._follows.setdefault(self._key, set()).add(i)
        self._recent.append(i)
        if len(self._recent) == self.n - 1:
            self._key = tuple(self._recent)

    def banned(self) -> Collection[int]:
        """The ids that may not come next (read only)."""
        if self._key is None:
            return _NONE
        return self._follows.get(self._key, _NONE)


def banned_after(ids: Iterable[int], n: int | None) -> Collection[int]:
    """The characters a loop guard of n bans right after the text `ids` (nothing when n is None or 0)."""
    return LoopGuard(n, ids).banned() if n else _NONE


def _nucleus(z: np.ndarray, top_p: np.ndarray, greedy: np.ndarray) -> np.ndarray:
    """Top-p on tempered logits z (-inf = already removed): a mask of the smallest likeliest set with mass >= p.

    Rows with top_p = inf keep everything; greedy rows (the limit T -> 0) keep only their likeliest character.
    """
    q = softmax(z)
    order = np.argsort(-q, axis=-1, kind="stable")
    sorted_q = np.take_along_axis(q, order, axis=-1)
    before = np.zeros_like(sorted_q)  # the mass of the likelier characters
    np.cumsum(sorted_q[:, :-1], axis=-1, out=before[:, 1:])
    inside = before < top_p[:, None]
    inside[:, 0] = True
    keep = np.empty_like(inside)
    np.put_along_axis(keep, order, inside, axis=-1)
    limit = greedy & np.isfinite(top_p)
    if limit.any():
        keep[limit] = False
        keep[limit, z[limit].argmax(axis=-1)] = True
    return keep


def _filter(logits: np.ndarray, plan: _Plan, banned: Sequence[Collection[int]]) -> tuple[np.ndarray, np.ndarray]:
    """The distributions to draw from (rows, vocab), one banned set per row, and which rows' loop guard had to give
    way. The order of the module docstring."""
    logits = np.asarray(logits, dtype=np.float64)
    z = plan.tempered(logits)
    keep = np.ones(logits.shape, dtype=bool)
    if plan.kth is not None:
        keep &= logits >= np.take_along_axis(np.sort(logits, axis=-1), plan.kth, axis=-1)
    if plan.top_p is not None:
        keep &= _nucleus(np.where(keep, z, -np.inf), plan.top_p, plan.greedy)
    fell_back = np.zeros(len(logits), dtype=bool)
    for r, ids in enumerate(banned):
        if ids:
            guarded = keep[r].copy()
            guarded[list(ids)] = False
            if guarded.any():
                keep[r] = guarded
            else:
                fell_back[r] = True
    probs = np.where(keep, np.exp(z - z.max(axis=-1, keepdims=True)), 0.0)
    probs /= probs.sum(axis=-1, keepdims=True)
    if plan.any_greedy:
        greedy = plan.greedy
        best = np.where(keep[greedy], logits[greedy], -np.inf).argmax(axis=-1)
        probs[greedy] = 0.0
        probs[np.flatnonzero(greedy), best] = 1.0
    return probs, fell_back


def filtered(logits: np.ndarray, sampling: Sampling, banned: Collection[int] | None = None) -> np.ndarray:
    """The distribution a setting draws from: probabilities, 0 where a character is removed (for the chart).

    One row of logits, or a batch with the same setting and the same banned ids on every row. `banned` is what the
    loop guard forbids next (see `banned_after`); when it forbids everything still allowed, it is ignored, as in
    generation.
    """
    sampling = sampling.checked()
    logits = np.asarray(logits, dtype=np.float64)
    rows = logits.reshape(-1, logits.shape[-1])
    probs, _ = _filter(rows, _Plan([sampling] * len(rows), rows.shape[-1]), [banned or _NONE] * len(rows))
    return probs.reshape(logits.shape)


def reweight(logits: np.ndarray, temperature: float, top_k: int | None = None) -> np.ndarray:
    """The distribution to sample from: softmax(logits / T), optionally only the top k (k outside 1..vocab is off).

    Works on one row or a batch of rows. T = 0 puts all mass on the argmax.
    """
    temperature = check_temperature(temperature)
    if top_k is not None and not 0 < top_k < np.shape(logits)[-1]:
        top_k = None
    return filtered(logits, Sampling(temperature, top_k))


def draw(probs: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
    """Inverse-CDF sampling: one uniform number per row picks one index per row.

    Giving every temperature the same uniforms makes their samples differ only by temperature.
    """
    cdf = np.cumsum(probs, axis=-1)
    u = np.asarray(uniforms)[..., None] * cdf[..., -1:]
    picked: np.ndarray = np.minimum((cdf <= u).sum(axis=-1), probs.shape[-1] - 1)
    return picked


class Sampler:
    """Picks the next character for several settings side by side (the rows of a comparison).

    Give it the size of the vocabulary and the text so far (the prompt's ids, for the loop guards); after each pick,
    `push` the picked ids.
    """

    def __init__(self, rows: Sequence[Sampling], vocab_size: int, ids: Iterable[int] = ()):
        self.rows = [s.checked() for s in rows]
        self._plan = _Plan(self.rows, vocab_size)
        self._plain = all(s.plain for s in self.rows)
        self._guards = [LoopGuard(s.no_repeat, ids) if s.no_repeat else None for s in self.rows]
        self._guarded = any(g is not None for g in self._guards)

    def pick(self, logits: np.ndarray, uniform: float) -> tuple[np.ndarray, np.ndarray]:
        """One id per row from the logits (rows, vocab), all drawn with the same uniform number; and which rows'
        loop guard gave way this step (it banned every character still allowed)."""
        plan, uniforms = self._plan, np.full(len(self.rows), uniform)
        if self._plain:  # temperature only: the fast path
            ids = draw(softmax(plan.tempered(logits)), uniforms)
            if plan.any_greedy:
                ids = np.where(plan.greedy, logits.argmax(axis=-1), ids)
            return ids, np.zeros(len(ids), dtype=bool)
        banned = [g.banned() if g is not None else _NONE for g in self._guards]
        probs, fell_back = _filter(logits, plan, banned)
        ids = draw(probs, uniforms)
        if plan.any_greedy:
            ids = np.where(plan.greedy, probs.argmax(axis=-1), ids)
        return ids, fell_back

    def push(self, ids: np.ndarray) -> None:
        """Every row's text grew by its picked character."""
        if self._guarded:
            for guard, i in zip(self._guards, ids, strict=True):
                if guard is not None:
                    guard.push(int(i))


def seed_sample(preds: np.ndarray, temperature: float = 1.0, rng=np.random) -> int:
    """The seed's own `sample()` (DLwP 8.1), kept for the benchmarks and equivalence tests."""
    preds = np.asarray(preds).astype("float64")
    with np.errstate(divide="ignore"):
        preds = np.log(preds) / temperature
    exp_preds = np.exp(preds)
    preds = exp_preds / np.sum(exp_preds)
    probas = rng.multinomial(1, preds, 1)
    return int(np.argmax(probas))
