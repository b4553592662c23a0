"""Temperature: how adventurous the model is when it picks the next character.

The seed reweights a distribution p by exp(log p / T) and renormalises. From logits that is
softmax(logits / T), which we compute after subtracting the maximum, so a tiny T never
overflows. T = 0 means always take the most likely character.
"""

from __future__ import annotations

import math

import numpy as np

from .errors import ConfigError

MAX_TEMPERATURE = 100.0


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


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    probs: np.ndarray = e / e.sum(axis=-1, keepdims=True)
    return probs


def reweight(logits: np.ndarray, temperature: float, top_k: int | None = None) -> np.ndarray:
    """The distribution to sample from: softmax(logits / T), optionally only the top k.

    Works on one row or a batch of rows. T = 0 puts all mass on the argmax.
    """
    temperature = check_temperature(temperature)
    logits = np.asarray(logits, dtype=np.float64)
    if top_k is not None and 0 < top_k < logits.shape[-1]:
        kth = np.partition(logits, -top_k, axis=-1)[..., -top_k, None]
        logits = np.where(logits >= kth, logits, -np.inf)
    if temperature == 0:
        out = np.zeros_like(logits)
        np.put_along_axis(out, logits.argmax(axis=-1)[..., None], 1.0, axis=-1)
        return out
    return softmax(logits / temperature)


def draw(probs: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
    """Inverse-CDF sampling: one uniform number per row picks one index per row.

    Giving every temperature the same uniforms makes their samples differ only by temperature.
    """
    cdf = np.cumsum(probs, axis=-1)
    u = np.asarray(uniforms)[..., None] * cdf[..., -1:]
    picked: np.ndarray = np.minimum((cdf <= u).sum(axis=-1), probs.shape[-1] - 1)
    return picked


def seed_sample(preds: np.ndarray, temperature: float = 1.0, rng=np.random) -> int:
    """The seed's own `sample()` (DLwP 8.1), kept for the benchmarks and equivalence tests."""
    preds = np.asarray(preds).astype("float64")
    with np.errstate(divide="ignore"):
        preds = np.log(preds) / temperature
    exp_preds = np.exp(preds)
    preds = exp_preds / np.sum(exp_preds)
    probas = rng.multinomial(1, preds, 1)
    return int(np.argmax(probas))
