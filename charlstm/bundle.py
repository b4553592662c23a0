"""Export a model as one zip, and import zips from anyone without trusting them.

A bundle holds only data: `manifest.json`, `config.json`, `vocab.json`, `weights.npz` and
optionally `meta.json`, `history.jsonl`, `samples.jsonl`. Import rebuilds the architecture from
our own code and reads weights with `allow_pickle=False`; it checks every entry name, every size
(against zip bombs) and that the weights fit the config and vocabulary. Nothing in a bundle is
ever executed or deserialised as code.
"""

from __future__ import annotations

import io
import json
import shutil
import time
import zipfile
import zlib
from pathlib import Path

import numpy as np

from .config import TrainConfig
from .errors import BundleError, CharlstmError
from .run import Run, write_json
from .store import new_run_dir, runs_root
from .text import Vocabulary
from .weights import check_weights, save_npz

FORMAT = "charlstm-bundle"
VERSION = 1
REQUIRED = ("manifest.json", "config.json", "vocab.json", "weights.npz")
OPTIONAL = ("meta.json", "history.jsonl", "samples.jsonl")
MAX_BUNDLE_BYTES = 300_000_000
MAX_ENTRY_BYTES = {"weights.npz": 250_000_000}
MAX_OTHER_BYTES = 20_000_000
MAX_RATIO = 100  # uncompressed / compressed; real weights compress about 1.1x


def export_bundle(run_dir: Path, zip_path: Path) -> Path:
    """Write the run's best model (weights, vocabulary, config, history) to one zip file."""
    run_dir, zip_path = Path(run_dir), Path(zip_path)
    tag = Run(run_dir).best_tag()
    weights_file = run_dir / f"{tag}.weights.npz"
    if tag is None:
        raise BundleError(f"{run_dir.name} has no saved model yet, so there is nothing to export.")
    manifest = {"format": FORMAT, "version": VERSION, "exported": time.time(), "checkpoint": tag}
    tmp = zip_path.with_name(zip_path.name + ".tmp")
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            zf.writestr("manifest.json", json.dumps(manifest))
            zf.write(weights_file, "weights.npz")
            for name in ("config.json", "vocab.json", *OPTIONAL):
                if (run_dir / name).exists():
                    zf.write(run_dir / name, name)
        tmp.replace(zip_path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise CharlstmError(f"Could not write {zip_path}: {exc.strerror or exc}.") from None
    return zip_path


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
            except (zipfile.BadZipFile, zlib.error, EOFError, RuntimeError, NotImplementedError) as exc:
                raise BundleError(f"The bundle is damaged: {name} cannot be unpacked ({exc}).") from None
            if len(content) > limit:
                raise BundleError(f"{name} in the bundle is larger than its header says; refusing it.")
            entries[name] = content
    missing = [n for n in REQUIRED if n not in entries]
    if missing:
        raise BundleError(f"The bundle is missing {', '.join(missing)}; it was not made by charlstm export.")
    return entries


def read_bundle(data: bytes) -> tuple[TrainConfig, Vocabulary, dict[str, np.ndarray], dict[str, bytes]]:
    """Validate a bundle completely and return its parts; raises BundleError with the reason."""
    entries = _read_entries(data)
    try:
        manifest = json.loads(entries["manifest.json"])
    except ValueError:
        raise BundleError("manifest.json in the bundle is not valid JSON.") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BundleError("This zip is not a charlstm model bundle (wrong manifest).")
    if manifest.get("version") != VERSION:
        raise BundleError(
            f"Bundle version {manifest.get('version')!r} is not supported (this charlstm reads {VERSION})."
        )
    try:
        config = TrainConfig.from_dict(json.loads(entries["config.json"]))
    except ValueError as exc:
        raise BundleError(f"config.json in the bundle is not valid JSON ({exc}).") from None
    except CharlstmError as exc:
        raise BundleError(f"The bundle's settings are not a charlstm model: {exc}") from None
    try:
        vocab = Vocabulary.from_json(entries["vocab.json"].decode("utf-8"))
    except (CharlstmError, UnicodeDecodeError) as exc:
        raise BundleError(f"The bundle's vocabulary is invalid: {exc}") from None
    weights = _load_weights(entries["weights.npz"])
    check_weights(weights, config, len(vocab))
    return config, vocab, weights, entries


def _load_weights(blob: bytes) -> dict[str, np.ndarray]:
    limit = MAX_ENTRY_BYTES["weights.npz"]
    try:
        with zipfile.ZipFile(io.BytesIO(blob)) as inner:
            if sum(i.file_size for i in inner.infolist()) > limit:
                raise BundleError("weights.npz unpacks to an implausible size (a zip bomb?).")
        with np.load(io.BytesIO(blob), allow_pickle=False) as npz:
            return {name: npz[name] for name in npz.files}
    except BundleError:
        raise
    except (ValueError, OSError, zipfile.BadZipFile, zlib.error, EOFError, RuntimeError, NotImplementedError) as exc:
        raise BundleError(f"weights.npz in the bundle is not a plain array file ({exc}).") from None


def import_bundle(source: Path | bytes, root: Path | None = None, name: str | None = None, owner: str = "") -> Path:
    """Validate a bundle and unpack it as a new run folder under root (the models folder)."""
    data = source if isinstance(source, bytes) else _read_file(Path(source))
    config, vocab, weights, entries = read_bundle(data)
    label = name or (Path(source).stem if not isinstance(source, bytes) else "imported")
    root = Path(root or runs_root())
    run_dir = None
    try:
        run_dir = new_run_dir(root, label)
        try:
            meta = json.loads(entries.get("meta.json", b"{}"))
        except ValueError:  # optional and only descriptive: a damaged one is dropped
            meta = {}
        meta = meta if isinstance(meta, dict) else {}
        write_json(
            run_dir / "meta.json",
            {
                "name": str(name or meta.get("name") or label)[:80],
                "corpus": str(meta.get("corpus", "unknown"))[:200],
                "created": time.time(),
                "owner": owner,
                "imported": True,
            },
        )
        write_json(run_dir / "config.json", config.to_dict())
        (run_dir / "vocab.json").write_text(vocab.to_json(), encoding="utf-8")
        save_npz(run_dir / "best.weights.npz", weights)
        for optional in ("history.jsonl", "samples.jsonl"):
            if optional in entries:
                _copy_jsonl(entries[optional], run_dir / optional)
        Run(run_dir).write_status("completed", "Imported from a bundle.")
    except OSError as exc:
        if run_dir is not None:  # no half-imported model left in the library
            shutil.rmtree(run_dir, ignore_errors=True)
        raise CharlstmError(
            f"Could not write the imported model into {root} ({exc.strerror or exc}). "
            "Check that the disk has space and the models folder is writable."
        ) from None
    return run_dir


def _copy_jsonl(blob: bytes, dest: Path) -> None:
    """Keep only lines that are JSON objects; anything else in a stranger's history is dropped."""
    lines = []
    for line in blob.decode("utf-8", errors="replace").splitlines():
        try:
            if isinstance(json.loads(line), dict):
                lines.append(line)
        except ValueError:
            continue
    dest.write_text("".join(ln + "\n" for ln in lines), encoding="utf-8")


def _read_file(path: Path) -> bytes:
    try:
        if path.stat().st_size > MAX_BUNDLE_BYTES:
            raise BundleError(
                f"{path.name} is larger than {MAX_BUNDLE_BYTES // 1_000_000} MB; a model bundle is much smaller."
            )
        return path.read_bytes()
    except FileNotFoundError:
        raise BundleError(f"File not found: {path}.") from None
    except OSError as exc:
        raise BundleError(f"Could not read {path}: {exc.strerror or exc}.") from None
