"""Model bundles: export/import round trip, and every way a stranger's zip is refused."""

from __future__ import annotations

import io
import json
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest

from charlstm import bundle, store
from charlstm import run as run_module
from charlstm.errors import BundleError
from charlstm.run import Run, read_jsonl


@pytest.fixture(scope="module")
def exported(trained_run, tmp_path_factory) -> Path:
    return bundle.export_bundle(trained_run, tmp_path_factory.mktemp("export") / "tiny.zip")


@pytest.fixture(scope="module")
def entries(exported) -> dict[str, bytes]:
    with zipfile.ZipFile(exported) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def required(entries: dict[str, bytes]) -> dict[str, bytes]:
    """Only the required entries, leaving room under the entry-count limit for one more."""
    return {name: entries[name] for name in bundle.REQUIRED}


def make_zip(entries: dict[str, bytes | str], compression=zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=compression) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


def npz_bytes(arrays: dict[str, np.ndarray], allow_pickle: bool = False) -> bytes:
    """An .npz written entry by entry, so an object array (a pickle) can go inside."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, array in arrays.items():
            member = io.BytesIO()
            np.save(member, array, allow_pickle=allow_pickle)
            zf.writestr(f"{name}.npy", member.getvalue())
    return buf.getvalue()


def files_under(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*")) if path.exists() else []


# --- the round trip -----------------------------------------------------------------------------------
def test_export_import_round_trip_generates_the_same_text(trained_run, exported, tmp_path):
    assert set(zipfile.ZipFile(exported).namelist()) >= set(bundle.REQUIRED)
    root = tmp_path / "models" / "runs"
    imported = bundle.import_bundle(exported, root=root)
    assert imported.parent == root
    original, copy = store.load_generator(trained_run), store.load_generator(imported)
    temps = [0.0, 0.5, 1.0]
    a = original.generate("The value", temps, length=200, seed=123)
    b = copy.generate("The value", temps, length=200, seed=123)
    assert [s.text for s in a] == [s.text for s in b]
    assert Run(imported).config() == Run(trained_run).config()
    assert Run(imported).vocab() == Run(trained_run).vocab()
    assert read_jsonl(Run(imported).file("history.jsonl")) == read_jsonl(Run(trained_run).file("history.jsonl"))
    assert Run(imported).status().state == "completed"
    (summary,) = store.list_runs(root)
    assert summary.readable and summary.epochs == 2
    assert not (imported / "corpus.txt").exists()  # the training text stays with its owner


def test_import_from_bytes_and_with_a_name(exported, tmp_path):
    root = tmp_path / "runs"
    run = bundle.import_bundle(exported.read_bytes(), root=root, name="Shared model")
    assert store.list_runs(root)[0].name == "Shared model"
    assert "Shared-model" in run.name


def test_export_of_a_run_without_weights_is_refused(tmp_path):
    (tmp_path / "empty-run").mkdir()
    with pytest.raises(BundleError, match="nothing to export"):
        bundle.export_bundle(tmp_path / "empty-run", tmp_path / "out.zip")
    assert not (tmp_path / "out.zip").exists()


# --- the time-lapse ------------------------------------------------------------------------------------
def snapshot_pairs(run: Run) -> list[tuple[float, float]]:
    return [(shot.at_epoch, shot.loss) for shot in run.snapshots()]


def test_the_time_lapse_travels_only_when_asked(trained_run, exported, tmp_path):
    original = Run(trained_run)
    assert len(original.snapshots()) >= 2
    assert not {run_module.SNAPSHOTS, bundle.SNAPSHOT_WEIGHTS} & set(zipfile.ZipFile(exported).namelist())
    assert Run(bundle.import_bundle(exported, root=tmp_path / "plain")).snapshots() == []
    carried = bundle.export_bundle(trained_run, tmp_path / "with-lapse.zip", timelapse=True)
    copy = Run(bundle.import_bundle(carried, root=tmp_path / "runs"))
    assert snapshot_pairs(copy) == snapshot_pairs(original)
    for mine, theirs in zip(original.snapshots(), copy.snapshots(), strict=True):
        before, after = original.load_snapshot(mine.number), copy.load_snapshot(theirs.number)
        assert all(np.array_equal(before[name], after[name]) for name in before)


@pytest.mark.parametrize(
    "forged",
    [
        {"0/input/embedding": np.zeros((2, 2), np.float16)},  # the wrong shape for this model
        {"0/input/embedding": np.array(["not", "numbers"])},  # text where numbers belong
    ],
)
def test_a_time_lapse_that_does_not_fit_is_left_out_and_the_model_kept(trained_run, tmp_path, forged):
    carried = bundle.export_bundle(trained_run, tmp_path / "with-lapse.zip", timelapse=True)
    with zipfile.ZipFile(carried) as zf:
        parts = {name: zf.read(name) for name in zf.namelist()}
    parts[bundle.SNAPSHOT_WEIGHTS] = npz_bytes(forged)
    copy = Run(bundle.import_bundle(make_zip(parts), root=tmp_path / "runs"))
    assert copy.snapshots() == [] and copy.has_model
    assert store.load_generator(copy.path).generate("The", [0.5], length=20, seed=1)[0].text


# --- refusals -----------------------------------------------------------------------------------------
def refused(data: bytes, tmp_path: Path, *phrases: str) -> str:
    """Import must fail with a BundleError naming the problem, and write nothing anywhere under tmp_path."""
    world = tmp_path / "world"
    root = world / "models" / "runs"
    root.mkdir(parents=True)
    before = files_under(world)
    with pytest.raises(BundleError) as err:
        bundle.import_bundle(data, root=root)
    assert files_under(world) == before
    message = str(err.value)
    for phrase in phrases:
        assert phrase in message, message
    return message


def test_not_a_zip(tmp_path):
    refused(b"PK but not really a zip file", tmp_path, "not a zip")
    refused(b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, tmp_path / "2", "not a zip")


@pytest.mark.parametrize(
    "evil", ["../evil.txt", "../../etc/cron.d/evil", "/tmp/evil.txt", "sub/config.json", "..\\evil"]
)
def test_entries_that_point_elsewhere_are_refused(entries, tmp_path, evil):
    data = make_zip({**required(entries), evil: "owned"})
    refused(data, tmp_path, "unexpected entry")
    assert not (tmp_path / "evil.txt").exists()
    assert not Path("/tmp/evil.txt").exists()


@pytest.mark.parametrize("name", ["model.keras", "extra.py", "weights.pkl", "config.json.bak"])
def test_unexpected_entry_names_are_refused(entries, tmp_path, name):
    refused(make_zip({**required(entries), name: b"x"}), tmp_path, "unexpected entry", name)


def test_path_entry_replacing_a_required_one_is_refused(entries, tmp_path):
    data = {k: v for k, v in required(entries).items() if k != "config.json"}
    refused(make_zip({**data, "../config.json": entries["config.json"]}), tmp_path, "unexpected entry")


def test_missing_entries_and_duplicates(entries, tmp_path):
    without = {k: v for k, v in entries.items() if k != "weights.npz"}
    refused(make_zip(without), tmp_path / "a", "missing weights.npz")
    buf = io.BytesIO()
    with pytest.warns(UserWarning), zipfile.ZipFile(buf, "w") as zf:
        for name, data in required(entries).items():
            zf.writestr(name, data)
        zf.writestr("config.json", entries["config.json"])
    refused(buf.getvalue(), tmp_path / "b", "twice")
    many = make_zip({**entries, **{f"x{i}": b"" for i in range(10)}})
    refused(many, tmp_path / "c", "files")


def test_zip_bomb_is_refused(entries, tmp_path):
    # 30 MB of zeros compress to about 30 KB: refused from the header, before anything is unpacked.
    bomb = make_zip({**entries, "history.jsonl": b"\0" * 30_000_000})
    assert len(bomb) < 200_000
    refused(bomb, tmp_path / "a", "history.jsonl", "zip bomb")
    # A smaller entry with an absurd compression ratio is refused too.
    refused(make_zip({**entries, "samples.jsonl": b"\0" * 5_000_000}), tmp_path / "b", "zip bomb")
    # So is a weights.npz whose arrays declare far more than the limit.
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("logits/bias.npy", b"\0" * 2_000_000)
    data = bytearray(inner.getvalue())
    cd = data.find(b"PK\x01\x02")
    struct.pack_into("<I", data, cd + 24, 300_000_000)  # the central directory now claims 300 MB
    refused(make_zip({**entries, "weights.npz": bytes(data)}, zipfile.ZIP_STORED), tmp_path / "c", "weights.npz")


def test_lying_size_header_is_refused(entries, tmp_path):
    data = bytearray(make_zip({**entries, "samples.jsonl": b"{}\n" * 100_000}))
    # Shrink the declared size of samples.jsonl in both headers (local and central); its content is far larger.
    for signature, size_at, name_at in ((b"PK\x03\x04", 22, 30), (b"PK\x01\x02", 24, 46)):
        start = data.find(signature)
        while start != -1:
            if data[start + name_at : start + name_at + 13] == b"samples.jsonl":
                struct.pack_into("<I", data, start + size_at, 1000)
            start = data.find(signature, start + 4)
    assert zipfile.ZipFile(io.BytesIO(bytes(data))).getinfo("samples.jsonl").file_size == 1000
    refused(bytes(data), tmp_path, "samples.jsonl")


def test_damaged_zip_data_is_refused(entries, tmp_path):
    data = bytearray(make_zip(entries))
    at = data.find(b"config.json") + len("config.json") + 2  # inside config.json's compressed bytes
    data[at] ^= 0xFF
    refused(bytes(data), tmp_path, "damaged")


@pytest.mark.parametrize(
    ("change", "phrase"),
    [
        ({"custom_objects": {"Lambda": "os.system"}}, "custom_objects"),
        ({"cell": "Lambda"}, "cell"),
        ({"layers": 40}, "layers"),
        ({"units": "128"}, "units"),
        ({"class_name": "Sequential", "config": {}}, "class_name"),
    ],
)
def test_configs_asking_for_other_layers_or_unknown_keys_are_refused(entries, tmp_path, change, phrase):
    config = {**json.loads(entries["config.json"]), **change}
    msg = refused(make_zip({**entries, "config.json": json.dumps(config)}), tmp_path, "settings", phrase)
    assert "charlstm" in msg


def test_config_and_manifest_must_be_json(entries, tmp_path):
    refused(make_zip({**entries, "config.json": "{not json"}), tmp_path / "a", "config.json")
    refused(make_zip({**entries, "manifest.json": "[]"}), tmp_path / "b", "manifest")
    manifest = {**json.loads(entries["manifest.json"]), "version": 99}
    refused(make_zip({**entries, "manifest.json": json.dumps(manifest)}), tmp_path / "c", "version 99")
    refused(make_zip({**entries, "vocab.json": b"\xff\xfe"}), tmp_path / "d", "vocabulary")


def test_weights_that_do_not_fit_the_vocabulary_are_refused(entries, tmp_path):
    chars = json.loads(entries["vocab.json"])["chars"]
    smaller = json.dumps({"chars": chars[:-1]})
    refused(make_zip({**entries, "vocab.json": smaller}), tmp_path / "a", "do not fit", "expected")
    config = {**json.loads(entries["config.json"]), "units": 32}
    refused(make_zip({**entries, "config.json": json.dumps(config)}), tmp_path / "b", "do not fit")


def test_weights_with_missing_or_bad_arrays_are_refused(entries, tmp_path):
    with np.load(io.BytesIO(entries["weights.npz"])) as npz:
        arrays = {name: npz[name] for name in npz.files}
    missing = {k: v for k, v in arrays.items() if k != "logits/bias"}
    refused(make_zip({**entries, "weights.npz": npz_bytes(missing)}), tmp_path / "a", "missing: logits/bias")
    nan = {**arrays, "logits/bias": np.full_like(arrays["logits/bias"], np.nan)}
    refused(make_zip({**entries, "weights.npz": npz_bytes(nan)}), tmp_path / "b", "NaN")
    ints = {**arrays, "logits/bias": arrays["logits/bias"].astype(np.int64)}
    refused(make_zip({**entries, "weights.npz": npz_bytes(ints)}), tmp_path / "c", "floating point")


def test_pickled_object_arrays_are_refused(entries, tmp_path):
    with np.load(io.BytesIO(entries["weights.npz"])) as npz:
        arrays = {name: npz[name] for name in npz.files}
    evil = np.empty(1, dtype=object)
    evil[0] = {"payload": "would run on unpickling"}
    blob = npz_bytes({**arrays, "logits/bias": evil}, allow_pickle=True)
    refused(make_zip({**entries, "weights.npz": blob}), tmp_path / "a", "weights.npz", "not a plain array file")
    # A bare pickle renamed to weights.npz is not even a zip.
    import pickle

    refused(make_zip({**entries, "weights.npz": pickle.dumps(arrays)}), tmp_path / "b", "weights.npz")


def test_damaged_optional_files_do_not_break_an_import(entries, trained_run, tmp_path):
    root = tmp_path / "runs"
    (kept, *_) = read_jsonl(Run(trained_run).file("history.jsonl"))
    history = f"not json\n{json.dumps(kept)}\n[1, 2]\n" + '{"epoch": 1}\n'  # the last one lacks its fields
    run = bundle.import_bundle(make_zip({**entries, "meta.json": "{broken", "history.jsonl": history}), root=root)
    assert read_jsonl(Run(run).file("history.jsonl")) == [kept]
    assert store.list_runs(root)[0].readable


def test_import_from_a_path_refuses_missing_and_huge_files(tmp_path, monkeypatch):
    with pytest.raises(BundleError, match="not found"):
        bundle.import_bundle(tmp_path / "nope.zip", root=tmp_path / "runs")
    big = tmp_path / "big.zip"
    big.write_bytes(b"\0" * 2000)
    monkeypatch.setattr(bundle, "MAX_BUNDLE_BYTES", 1000)
    with pytest.raises(BundleError, match="larger than"):
        bundle.import_bundle(big, root=tmp_path / "runs")
    with pytest.raises(BundleError, match="larger than"):
        bundle.import_bundle(big.read_bytes(), root=tmp_path / "runs")
    assert not (tmp_path / "runs").exists()


# --- issue 9: hostile files found by review and fuzzing ------------------------------------------------
def light_bundle(tmp_path: Path, text: str = "the quick brown fox jumps over the lazy dog\n" * 40, **config) -> bytes:
    """A valid bundle of a random-weights run (no TensorFlow), for tests that only need a real zip."""
    from run_factory import random_run

    from charlstm.config import TrainConfig

    cfg = TrainConfig(units=8, embedding_dim=4, seq_len=10, stride=10, **config)
    run = random_run(tmp_path / "src", text, cfg)
    Run(run).write_status("completed")
    return bundle.export_bundle(run, tmp_path / "light.zip").read_bytes()


def unzip(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def test_a_vocabulary_over_the_training_cap_is_refused_at_import(tmp_path):
    from charlstm.config import TrainConfig
    from charlstm.text import MAX_VOCAB
    from charlstm.weights import expected_shapes

    # one-hot input and 4 units: a consistent, small bundle whose generator would need a V x V matrix
    chars = sorted(chr(0x4E00 + i) for i in range(MAX_VOCAB + 1))
    config = TrainConfig(units=4, embedding_dim=0, seq_len=10, stride=10)
    rng = np.random.default_rng(0)  # random, so the zip does not look like a bomb
    arrays = {k: rng.normal(0, 0.1, s).astype(np.float32) for k, s in expected_shapes(config, len(chars)).items()}
    parts = unzip(light_bundle(tmp_path))
    parts.update(
        {
            "config.json": json.dumps(config.to_dict()),
            "vocab.json": json.dumps({"chars": chars}),
            "weights.npz": npz_bytes(arrays),
        }
    )
    refused(make_zip(parts), tmp_path / "r", "10,001", f"{MAX_VOCAB:,}")


def npy_with_header(shape: tuple[int, ...], dtype: str = "<f4", payload: bytes = b"\0" * 64) -> bytes:
    """A .npy member whose header declares `shape`, whatever data follows."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": dtype, "fortran_order": False, "shape": shape})
    return buf.getvalue() + payload


def test_npy_headers_declaring_huge_arrays_are_refused_before_allocating(tmp_path):
    parts = unzip(light_bundle(tmp_path))
    for i, shape in enumerate([(10**7, 10**7), (50_000, 50_000), (3, 10**6)]):
        inner = io.BytesIO()
        with zipfile.ZipFile(inner, "w") as zf:
            zf.writestr("logits/bias.npy", npy_with_header(shape))
        refused(make_zip({**parts, "weights.npz": inner.getvalue()}), tmp_path / f"r{i}", "weights.npz")


def test_a_weights_member_that_is_not_an_array_is_refused(tmp_path):
    parts = unzip(light_bundle(tmp_path))
    with np.load(io.BytesIO(parts["weights.npz"])) as npz:
        arrays = {name: npz[name] for name in npz.files}
    blob = io.BytesIO(npz_bytes({k: v for k, v in arrays.items() if k != "logits/bias"}))
    with zipfile.ZipFile(blob, "a") as zf:
        zf.writestr("logits/bias", b"raw bytes, not an array")  # NumPy hands back bytes for this member
    refused(make_zip({**parts, "weights.npz": blob.getvalue()}), tmp_path / "r", "weights.npz", "logits/bias")


@pytest.mark.parametrize("entry", ["vocab.json", "meta.json", "config.json", "history.jsonl", "samples.jsonl"])
def test_a_lone_surrogate_never_leaves_a_half_written_folder(tmp_path, entry):
    parts = unzip(light_bundle(tmp_path))
    root = tmp_path / "world" / "runs"
    if entry == "vocab.json":
        chars = json.loads(parts[entry])["chars"]
        parts[entry] = json.dumps({"chars": [*chars[:-1], "\ud800"]}).encode()  # same size, still sorted
        refused(make_zip(parts), tmp_path / "r", "vocabulary")
        return
    if entry == "config.json":
        parts[entry] = json.dumps({**json.loads(parts[entry]), "preset": "quick\ud800"}).encode()
        refused(make_zip(parts), tmp_path / "r", "preset")
        return
    if entry == "meta.json":
        parts[entry] = json.dumps({"name": "evil \ud800 name", "corpus": "\udfff"}).encode()
    else:
        parts[entry] = b'{"epoch": 1, "prompt": "\\ud800", "samples": [], "loss": "\\udfff"}\n'
    run = bundle.import_bundle(make_zip(parts), root=root)  # descriptive entries are cleaned or dropped
    assert [p.name for p in root.iterdir()] == [run.name]
    (summary,) = store.list_runs(root)
    assert summary.readable, summary.error
    for path in run.iterdir():
        path.read_text(encoding="utf-8") if path.suffix != ".npz" else None


def test_history_and_samples_lines_are_validated_field_by_field(tmp_path):
    from charlstm.training import EpochRecord

    parts = unzip(light_bundle(tmp_path))
    good = {"epoch": 1, "loss": 2.0, "val_loss": 2.1, "val_bpc": 3.0, "learning_rate": 0.004, "steps": 10}
    good |= {"seconds": 1.5, "chars_per_sec": 1000.0, "partial": False}
    assert set(good) == set(EpochRecord.__dataclass_fields__)
    bad = [
        {**good, "loss": None},
        {**good, "val_loss": "NaN"},
        {**good, "epoch": 2.5},
        {**good, "steps": True},
        {**good, "seconds": -1},
        {**good, "extra": 1},
        {k: v for k, v in good.items() if k != "loss"},
    ]
    history = "\n".join([json.dumps(good), *map(json.dumps, bad), '{"loss": NaN}', '{"loss": Infinity}'])
    sample = {"epoch": 1, "prompt": "The ", "samples": [{"temperature": 0.5, "text": "abc"}]}
    bad_samples = [
        {**sample, "samples": [{"temperature": None, "text": "abc"}]},
        {**sample, "samples": "abc"},
        {**sample, "prompt": 3},
        {**sample, "epoch": None},
    ]
    samples = "\n".join([json.dumps(sample), *map(json.dumps, bad_samples)])
    run = bundle.import_bundle(
        make_zip({**parts, "history.jsonl": history, "samples.jsonl": samples}), root=tmp_path / "runs"
    )
    assert read_jsonl(Run(run).file("history.jsonl")) == [good]
    assert read_jsonl(Run(run).file("samples.jsonl")) == [sample]


def test_import_writes_into_a_hidden_folder_and_renames_it_at_the_end(tmp_path, monkeypatch):
    data = light_bundle(tmp_path)
    root = tmp_path / "runs"
    seen: list[Path] = []
    real = run_module.write_atomic

    def failing_save(path, data, durable=True):  # the disk fills while the weights are written
        real(path, data, durable)
        if str(path).endswith(".npz"):
            seen.append(Path(path).parent)
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(run_module, "write_atomic", failing_save)
    with pytest.raises(BundleError, match="No space left"):
        bundle.import_bundle(data, root=root)
    assert seen and seen[0].parent == root and seen[0].name.startswith(".")
    assert list(root.iterdir()) == []


def test_any_unexpected_failure_leaves_nothing_and_is_a_bundle_error(tmp_path, monkeypatch):
    data = light_bundle(tmp_path)
    root = tmp_path / "runs"

    def broken(*args, **kwargs):
        raise RuntimeError("something nobody expected")

    monkeypatch.setattr(run_module.Run, "write_status", broken)
    with pytest.raises(BundleError, match="could not be imported"):
        bundle.import_bundle(data, root=root)
    assert list(root.iterdir()) == []


def test_a_zip_needing_a_newer_zip_version_is_refused_plainly(tmp_path):
    """Found by the fuzzer: zipfile raises NotImplementedError while reading the directory."""
    data = bytearray(light_bundle(tmp_path))
    central = data.find(b"PK\x01\x02")
    struct.pack_into("<H", data, central + 6, 64)  # "version needed to extract": 6.4
    message = refused(bytes(data), tmp_path / "r", "damaged")
    assert "does not recognise" not in message
