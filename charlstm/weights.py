"""The weights file: named NumPy arrays in an `.npz`, never pickles, never Keras configs.

Both the Keras model (training) and the NumPy generator (sampling) read this one format, and
`expected_shapes` says exactly which arrays a config needs, so a file from a stranger is checked
array by array before anything uses it.
"""

from __future__ import annotations

import io
import math
import zipfile
import zlib
from pathlib import Path

import numpy as np

from .config import TrainConfig
from .errors import BundleError

Weights = dict[str, np.ndarray]
# What zipfile and np.load raise for damaged or unsupported archives.
ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, RuntimeError, NotImplementedError)


def gate_count(cell: str) -> int:
    return 4 if cell == "lstm" else 3


def expected_shapes(config: TrainConfig, vocab_size: int) -> dict[str, tuple[int, ...]]:
    """Array names and shapes for a model built from `config` over `vocab_size` characters."""
    g = gate_count(config.cell)
    shapes: dict[str, tuple[int, ...]] = {}
    width = vocab_size
    if config.embedding_dim:
        shapes["input/embedding"] = (vocab_size, config.embedding_dim)
        width = config.embedding_dim
    for i in range(config.layers):
        shapes[f"rnn{i}/kernel"] = (width, g * config.units)
        shapes[f"rnn{i}/recurrent_kernel"] = (config.units, g * config.units)
        # Keras GRU (reset_after=True) keeps separate input and recurrent biases.
        shapes[f"rnn{i}/bias"] = (g * config.units,) if config.cell == "lstm" else (2, g * config.units)
        width = config.units
    shapes["logits/kernel"] = (config.units, vocab_size)
    shapes["logits/bias"] = (vocab_size,)
    return shapes


def parameter_count(config: TrainConfig, vocab_size: int) -> int:
    return int(sum(np.prod(s) for s in expected_shapes(config, vocab_size).values()))


def check_weights(weights: Weights, config: TrainConfig, vocab_size: int) -> None:
    """Refuse weights that do not fit the config and vocabulary, naming the first mismatch."""
    expected = expected_shapes(config, vocab_size)
    missing = sorted(set(expected) - set(weights))
    extra = sorted(set(weights) - set(expected))
    if missing or extra:
        raise BundleError(
            "The weights do not match the model settings "
            f"(missing: {', '.join(missing) or 'none'}; unexpected: {', '.join(extra) or 'none'})."
        )
    for name, shape in expected.items():
        array = weights[name]
        if array.shape != shape:
            raise BundleError(
                f"The weights do not fit the vocabulary and settings: {name} has shape {array.shape}, expected {shape}."
            )
        if array.dtype.kind != "f":
            raise BundleError(f"The weights array {name} is not floating point ({array.dtype}).")
        if not np.isfinite(array).all():
            raise BundleError(f"The weights array {name} contains NaN or infinite values.")


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """Named arrays as the bytes of an `.npz` file (the run folder writes them atomically)."""
    buffer = io.BytesIO()
    np.savez(buffer, allow_pickle=False, **arrays)
    return buffer.getvalue()


def _declared_bytes(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> int:
    """The bytes an `.npy` member's header says its array needs, read before NumPy allocates anything.

    A header can declare any shape (10^14 floats in a 100-byte file), and `np.load` allocates the
    whole array before it finds the data missing; so the declared size is checked against the data
    the member really holds.
    """
    if not info.filename.endswith(".npy"):  # NumPy would hand back the raw bytes of such a member
        raise ValueError(f"{info.filename} is not an array")
    with zf.open(info) as fh:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            shape, _, dtype = np.lib.format.read_array_header_1_0(fh)
        elif version == (2, 0):
            shape, _, dtype = np.lib.format.read_array_header_2_0(fh)
        else:
            raise ValueError(f"{info.filename} has an unsupported array format {version}")
    if dtype.hasobject:
        raise ValueError(f"{info.filename} holds Python objects, not numbers")
    declared = math.prod(shape) * dtype.itemsize
    if declared > info.file_size:
        raise ValueError(f"{info.filename} declares {declared:,} bytes of data but holds {info.file_size:,}")
    return declared


def read_npz(source: Path | bytes, label: str, max_bytes: int) -> dict[str, np.ndarray]:
    """Named arrays from an `.npz` (a path or its bytes), never unpickling and never allocating past max_bytes.

    Every member must be a plain `.npy` array whose header fits the data it holds; anything else is a
    BundleError that starts with `label`.
    """
    opened = io.BytesIO(source) if isinstance(source, bytes) else source
    try:
        with zipfile.ZipFile(opened) as zf:
            infos = zf.infolist()
            if sum(i.file_size for i in infos) > max_bytes:
                raise BundleError(f"{label} unpacks to more than {max_bytes:,} bytes (a zip bomb?).")
            if sum(_declared_bytes(zf, i) for i in infos) > max_bytes:
                raise BundleError(f"{label} declares arrays of more than {max_bytes:,} bytes.")
        if isinstance(opened, io.BytesIO):
            opened.seek(0)
        with np.load(opened, allow_pickle=False) as data:
            return {name: data[name] for name in data.files}
    except BundleError:
        raise
    except ZIP_ERRORS as exc:
        raise BundleError(f"{label} is unreadable or damaged (not a plain array file: {exc}).") from None


def load_npz(path: Path, max_bytes: int = 2_000_000_000) -> dict[str, np.ndarray]:
    """Read a checkpoint from a run folder: the same checks as for a stranger's file."""
    return read_npz(Path(path), Path(path).name, max_bytes)
