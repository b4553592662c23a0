"""Export a model as one zip, and import zips from anyone without trusting them.

A bundle holds only data: `manifest.json`, `config.json`, `vocab.json`, `weights.npz` and
optionally `meta.json`, `history.jsonl`, `samples.jsonl`, and the time-lapse (`snapshots.jsonl` with
`snapshots.npz`, every snapshot's float16 weights under `<index>/<weight name>`). Import rebuilds the architecture from
our own code and reads weights with `allow_pickle=False`; it checks every entry name, every size
(against zip bombs) and that the weights fit the config and vocabulary. Nothing in a bundle is
ever executed or deserialised as code.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import shutil
import stat
import tempfile
import time
import unicodedata
import zipfile
from dataclasses import asdict
from pathlib import Path

import numpy as np

from .config import TrainConfig
from .errors import BundleError, CharlstmError, ConfigError
from .identity import OPERATOR
from .run import (
    EPOCHS_BROUGHT,
    HISTORY,
    MAX_SNAPSHOTS,
    META,
    MIN_SNAPSHOTS,
    SAMPLES,
    SNAPSHOTS,
    EpochRecord,
    EpochSamples,
    Run,
    SnapshotRecord,
)
from .store import new_run_dir, runs_root
from .text import Vocabulary
from .weights import ZIP_ERRORS, check_weights, npz_bytes, read_npz

FORMAT = "charlstm-bundle"
VERSION = 1
REQUIRED = ("manifest.json", "config.json", "vocab.json", "weights.npz")
SNAPSHOT_WEIGHTS = "snapshots.npz"
OPTIONAL = ("meta.json", "history.jsonl", "samples.jsonl", SNAPSHOTS, SNAPSHOT_WEIGHTS)
MAX_BUNDLE_BYTES = 300_000_000
MAX_ENTRY_BYTES = {"weights.npz": 250_000_000, SNAPSHOT_WEIGHTS: 250_000_000}
MAX_OTHER_BYTES = 20_000_000
MAX_RATIO = 100  # uncompressed / compressed; real weights compress about 1.1x


EXPORTED_META = ("name",)  # what an export says about the model; never the owner, a path or the text's name


def export_bundle(run_dir: Path, zip_path: Path, timelapse: bool = False) -> Path:
    """Write the run's best model (weights, vocabulary, settings, epoch numbers) to one zip file.

    Built from a whitelist, never by copying the folder's files: the owner's id, the training text, the
    samples (their prompts are cut from the text), the text's file name and any server path stay behind.
    With `timelapse`, the snapshots of its training travel too (weights and losses only, so the ready-made
    models show how they learned); they make a bundle about ten times larger, so only when asked, and they
    are left out when they would pass the size an import accepts.
    """
    run, zip_path = Run(run_dir), Path(zip_path)
    tag = run.best_tag()
    if tag is None:
        raise BundleError(f"{run.name} has no saved model yet, so there is nothing to export.")
    weights, _ = run.load_checkpoint(tag)
    entries: dict[str, str | bytes] = {
        "manifest.json": json.dumps(
            {
                "format": FORMAT,
                "version": VERSION,
                "exported": time.time(),
                "checkpoint": tag,
                "epoch": run.checkpoint_epoch(tag),  # the weights' own epoch: a later, worse one may follow
            }
        ),
        "config.json": json.dumps(run.config().to_dict()),
        "vocab.json": run.vocab().to_json(),
        META: json.dumps({key: run.meta().get(key) for key in EXPORTED_META}),
        HISTORY: "".join(json.dumps(asdict(record)) + "\n" for record in run.history()),
    }
    if timelapse:
        room = MAX_BUNDLE_BYTES - sum(array.nbytes for array in weights.values()) - MAX_OTHER_BYTES
        entries |= _timelapse_entries(run, min(room, MAX_ENTRY_BYTES[SNAPSHOT_WEIGHTS]))
    tmp = zip_path.with_name(zip_path.name + ".tmp")
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for name, content in entries.items():
                zf.writestr(name, content)
            zf.writestr("weights.npz", npz_bytes(weights))
        tmp.replace(zip_path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise CharlstmError(f"Could not write {zip_path}: {exc.strerror or exc}.") from None
    return zip_path


def _timelapse_entries(run: Run, room: int) -> dict[str, str | bytes]:
    """The run's snapshots as two bundle entries, renumbered from 0; none when it has fewer than two (no
    time-lapse to show) or when they need more than `room` bytes (an import would refuse the bundle)."""
    shots = run.snapshots()
    if len(shots) < MIN_SNAPSHOTS:
        return {}
    arrays: dict[str, np.ndarray] = {}
    for index, shot in enumerate(shots):
        half = {name: value.astype(np.float16) for name, value in run.load_snapshot(shot.number).items()}
        arrays |= {f"{index}/{name}": value for name, value in half.items()}
    blob = npz_bytes(arrays)
    if len(blob) > room:
        return {}
    records = [dataclasses.replace(shot, number=index) for index, shot in enumerate(shots)]
    return {SNAPSHOTS: "".join(json.dumps(asdict(r)) + "\n" for r in records), SNAPSHOT_WEIGHTS: blob}


def unpacked_bytes(source: bytes | Path) -> int:
    """What importing a bundle would write, from its zip directory alone (checked again on import)."""
    try:
        with zipfile.ZipFile(io.BytesIO(source) if isinstance(source, bytes) else source) as zf:
            return sum(info.file_size for info in zf.infolist())
    except ZIP_ERRORS:
        return len(source) if isinstance(source, bytes) else 0  # unreadable: import refuses it with its reason


def _read_entries(data: bytes) -> dict[str, bytes]:
    """Every entry's bytes, after checking names and sizes; reading stops at the size limit."""
    if len(data) > MAX_BUNDLE_BYTES:
        raise BundleError(
            f"The file is larger than {MAX_BUNDLE_BYTES // 1_000_000} MB; a model bundle is much smaller."
        )
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise BundleError(
            "This is not a charlstm model bundle (not a zip file). Export one from the Models page or the CLI."
        ) from None
    except ZIP_ERRORS as exc:  # a zip whose directory is damaged or needs features we do not read
        raise BundleError(f"The bundle is damaged: its list of files cannot be read ({exc}).") from None
    entries: dict[str, bytes] = {}
    with zf:
        infos = zf.infolist()
        if len(infos) > len(REQUIRED) + len(OPTIONAL):
            raise BundleError(
                f"The bundle has {len(infos)} files; a model bundle has at most {len(REQUIRED) + len(OPTIONAL)}."
            )
        for info in infos:
            name = info.filename
            if name not in REQUIRED + OPTIONAL:
                raise BundleError(
                    f"The bundle contains an unexpected entry {name!r}. "
                    f"Only {', '.join(REQUIRED + OPTIONAL)} are allowed."
                )
            if name in entries:
                raise BundleError(f"The bundle contains {name!r} twice.")
            limit = MAX_ENTRY_BYTES.get(name, MAX_OTHER_BYTES)
            if info.file_size > limit or info.file_size > MAX_RATIO * max(info.compress_size, 1) + 4096:
                raise BundleError(
                    f"{name} in the bundle unpacks to {info.file_size:,} bytes, "
                    "which is not plausible for a model (a zip bomb?)."
                )
            try:
                with zf.open(info) as fh:  # never trust the header: stop reading at the limit
                    content = fh.read(limit + 1)
            except ZIP_ERRORS as exc:
                raise BundleError(f"The bundle is damaged: {name} cannot be unpacked ({exc}).") from None
            if len(content) > limit:
                raise BundleError(f"{name} in the bundle is larger than its header says; refusing it.")
            entries[name] = content
    missing = [n for n in REQUIRED if n not in entries]
    if missing:
        raise BundleError(f"The bundle is missing {', '.join(missing)}; it was not made by charlstm export.")
    return entries


def _json(entries: dict[str, bytes], name: str):
    """One JSON entry, or a BundleError naming it (nesting deep enough to overflow the parser included)."""
    try:
        return json.loads(entries[name])
    except (ValueError, RecursionError) as exc:
        reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise BundleError(f"{name} in the bundle is not valid JSON ({reason}).") from None


def read_bundle(data: bytes) -> tuple[TrainConfig, Vocabulary, dict[str, np.ndarray], dict[str, bytes]]:
    """Validate a bundle completely and return its parts; raises BundleError with the reason."""
    entries = _read_entries(data)
    manifest = _json(entries, "manifest.json")
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BundleError("This zip is not a charlstm model bundle (wrong manifest).")
    if manifest.get("version") != VERSION:
        raise BundleError(
            f"Bundle version {str(manifest.get('version'))[:20]} is not supported (this charlstm reads {VERSION})."
        )
    try:
        config = TrainConfig.from_dict(_json(entries, "config.json"))
    except ConfigError as exc:
        raise BundleError(f"The bundle's settings are not a charlstm model: {exc}") from None
    try:
        vocab = Vocabulary.from_json(entries["vocab.json"].decode("utf-8"))
    except (CharlstmError, UnicodeDecodeError) as exc:
        raise BundleError(f"The bundle's vocabulary is invalid: {exc}") from None
    weights = read_npz(entries["weights.npz"], "weights.npz in the bundle", MAX_ENTRY_BYTES["weights.npz"])
    check_weights(weights, config, len(vocab))
    return config, vocab, weights, entries


def import_bundle(
    source: Path | bytes, root: Path | None = None, name: str | None = None, owner: str = OPERATOR
) -> Path:
    """Validate a bundle and unpack it as a new run folder under root (the models folder).

    Everything is written into a hidden temporary folder inside root, which is renamed into place only
    when it is complete: any failure, expected or not, leaves nothing in the library.
    """
    root = Path(root or runs_root())
    tmp: Path | None = None
    try:
        data = source if isinstance(source, bytes) else _read_file(Path(source))
        parts = read_bundle(data)
        label = clean_text(name or (Path(source).stem if not isinstance(source, bytes) else ""), 80) or "imported"
        root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=".import-", dir=root))
        _write_run(tmp, *parts, label=label, chosen_name=name, owner=owner)
        return _move_into_place(tmp, root, label)
    except CharlstmError:
        raise
    except OSError as exc:
        raise BundleError(
            f"Could not write the imported model into {root} ({exc.strerror or exc}). "
            "Check that the disk has space and the models folder is writable."
        ) from None
    except Exception as exc:  # the last line of defence: a stranger's file never ends in a traceback
        raise BundleError(
            f"This bundle could not be imported: it is damaged in a way charlstm does not recognise "
            f"({type(exc).__name__}: {str(exc)[:200]}). Nothing was added to your models."
        ) from exc
    finally:
        if tmp is not None and tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def _move_into_place(tmp: Path, root: Path, label: str) -> Path:
    """Reserve a run folder name, then rename the finished import onto it (atomic on one file system)."""
    run_dir = new_run_dir(root, label)
    try:
        os.replace(tmp, run_dir)  # replaces the empty folder just reserved
    except OSError:
        run_dir.rmdir()
        raise
    return run_dir


def _write_run(
    run_dir: Path,
    config: TrainConfig,
    vocab: Vocabulary,
    weights: dict[str, np.ndarray],
    entries: dict[str, bytes],
    *,
    label: str,
    chosen_name: str | None,
    owner: str,
) -> None:
    """The run folder of an imported model: settings, vocabulary, best weights, cleaned meta and history."""
    try:
        meta = _json(entries, META) if META in entries else {}
    except BundleError:  # optional and only descriptive: a damaged one is dropped
        meta = {}
    meta = meta if isinstance(meta, dict) else {}
    shown = chosen_name or (meta.get("name") if isinstance(meta.get("name"), str) else None) or label
    stored_corpus = meta.get("corpus")
    corpus = stored_corpus if isinstance(stored_corpus, str) else "unknown"
    history = [r for r in map(EpochRecord.from_dict, _json_lines(entries.get(HISTORY, b""))) if r is not None]
    run = Run.create(
        run_dir,
        name=clean_text(shown, 80) or label,
        corpus=clean_text(corpus, 200),
        config=config,
        vocab=vocab,
        text=None,
        owner=owner,
        extra_meta={"imported": True, EPOCHS_BROUGHT: len(history)},
    )
    for record in history:  # only lines that validate field by field; anything else from a stranger is dropped
        run.append_epoch(record)
    for samples in map(EpochSamples.from_dict, _json_lines(entries.get(SAMPLES, b""))):
        if samples is not None:
            run.append_samples(samples)
    run.save_checkpoint("best", weights, None, epoch=_weights_epoch(entries, history))
    _write_snapshots(run, entries, config, len(vocab))
    run.write_status("completed", "Imported from a bundle.")


def _write_snapshots(run: Run, entries: dict[str, bytes], config: TrainConfig, vocab_size: int) -> None:
    """The bundle's time-lapse, when it has one whose every snapshot fits the model; else none. It is only
    a view of the training, so a damaged or forged one is left out, never a reason to refuse the model."""
    if SNAPSHOTS not in entries or SNAPSHOT_WEIGHTS not in entries:
        return
    records = [r for r in map(SnapshotRecord.from_dict, _json_lines(entries[SNAPSHOTS])) if r is not None]
    try:
        arrays = read_npz(entries[SNAPSHOT_WEIGHTS], SNAPSHOT_WEIGHTS, MAX_ENTRY_BYTES[SNAPSHOT_WEIGHTS])
        shots = []
        for record in sorted(records, key=lambda r: r.number)[:MAX_SNAPSHOTS]:
            prefix = f"{record.number}/"
            weights = {k.removeprefix(prefix): v.astype(np.float32) for k, v in arrays.items() if k.startswith(prefix)}
            check_weights(weights, config, vocab_size)
            shots.append((record, weights))
    except (CharlstmError, ValueError, TypeError):  # TypeError: arrays of text, not numbers
        return
    for record, weights in shots:
        run.save_snapshot(record.at_epoch, record.loss, weights)


def _weights_epoch(entries: dict[str, bytes], history: list[EpochRecord]) -> int:
    """The epoch the bundle's weights come from: its manifest's, when it is one of its history's; else the last."""
    epochs = [record.epoch for record in history]
    stated = _json(entries, "manifest.json").get("epoch")
    if isinstance(stated, int) and not isinstance(stated, bool) and stated in epochs:
        return stated
    return epochs[-1] if epochs else 0


def _json_lines(blob: bytes) -> list:
    out = []
    for line in blob.decode("utf-8", errors="replace").splitlines():
        try:
            out.append(json.loads(line))
        except (ValueError, RecursionError):
            continue
    return out


def clean_text(value: str, limit: int) -> str:
    """A one-line label from a stranger: broken characters become U+FFFD, control characters spaces."""
    out = []
    for ch in str(value)[:limit]:
        category = unicodedata.category(ch)
        out.append("\ufffd" if category == "Cs" else " " if category == "Cc" else ch)
    return "".join(out).strip()


def _read_file(path: Path) -> bytes:
    """A bundle from disk: a regular file under the size limit (never a device or a pipe that never ends)."""
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):
            raise BundleError(f"{path} is not a regular file (a folder, device or pipe); give a bundle .zip file.")
        if info.st_size > MAX_BUNDLE_BYTES:
            raise BundleError(
                f"{path.name} is larger than {MAX_BUNDLE_BYTES // 1_000_000} MB; a model bundle is much smaller."
            )
        with open(path, "rb") as fh:
            data = fh.read(MAX_BUNDLE_BYTES + 1)
    except FileNotFoundError:
        raise BundleError(f"File not found: {path}.") from None
    except OSError as exc:
        raise BundleError(f"Could not read {path}: {exc.strerror or exc}.") from None
    return data
