"""tf.data pipelines over integer ids: shapes, targets, strides, the held-out tail."""

from __future__ import annotations

import numpy as np
import pytest

from charlstm.config import TrainConfig

data = pytest.importorskip("charlstm.data")

IDS = np.arange(1000, dtype=np.uint8) % 251  # distinct neighbours: every shift is visible


def batches(ds):
    return [(x.numpy(), y.numpy()) for x, y in ds]


def all_pairs(ds):
    xs, ys = zip(*batches(ds), strict=True)
    return np.concatenate(xs), np.concatenate(ys)


def test_sequence_mode_targets_are_inputs_shifted_by_one():
    config = TrainConfig(mode="sequence", seq_len=20, stride=20, batch_size=8)
    x, y = all_pairs(data.make_dataset(IDS, config, training=False))
    starts = range(0, len(IDS) - 20 - 1, 20)
    assert len(x) == len(starts) == data.window_count(len(IDS), config)
    assert x.shape == (len(starts), 20) and y.shape == (len(starts), 20)
    for row, start in enumerate(starts):
        np.testing.assert_array_equal(x[row], IDS[start : start + 20])
        np.testing.assert_array_equal(y[row], IDS[start + 1 : start + 21])
    np.testing.assert_array_equal(x[:, 1:], y[:, :-1])


@pytest.mark.parametrize(("n", "seq_len", "stride"), [(1000, 60, 3), (1000, 60, 1), (500, 37, 7), (62, 60, 3)])
def test_window_mode_matches_the_seed(n, seq_len, stride):
    ids = IDS[:n]
    config = TrainConfig(mode="window", seq_len=seq_len, stride=stride, batch_size=64)
    x, y = all_pairs(data.make_dataset(ids, config, training=False))
    # The seed: for i in range(0, len(text) - maxlen, step):
    #     sentences.append(text[i:i+maxlen]); next_chars.append(text[i+maxlen])
    seed_x = [ids[i : i + seq_len] for i in range(0, n - seq_len, stride)]
    seed_y = [ids[i + seq_len] for i in range(0, n - seq_len, stride)]
    assert data.window_count(n, config) == len(seed_x)
    assert x.shape == (len(seed_x), seq_len)
    assert y.shape == (len(seed_x),)
    np.testing.assert_array_equal(x, np.array(seed_x))
    np.testing.assert_array_equal(y, np.array(seed_y))


def test_training_set_covers_every_window_once_per_epoch_shuffled():
    config = TrainConfig(mode="window", seq_len=10, stride=3, batch_size=16)
    ids = np.arange(400, dtype=np.uint16)  # an id is its own position
    ds = data.make_dataset(ids, config, training=True, seed=1)
    x, y = all_pairs(ds)
    count = data.window_count(400, config)
    assert len(x) == (count // 16) * 16  # full batches only when training
    assert all(b[0].shape == (16, 10) for b in batches(ds))
    np.testing.assert_array_equal(y, x[:, 0] + 10)
    starts = x[:, 0].tolist()
    assert len(set(starts)) == len(starts)
    assert set(starts) <= set(range(0, 400 - 10, 3))
    assert starts != sorted(starts)  # shuffled, not in corpus order


def test_sequence_training_windows_are_jittered_but_stay_valid():
    config = TrainConfig(mode="sequence", seq_len=16, stride=16, batch_size=4)
    ids = np.arange(200, dtype=np.uint8)
    x, y = all_pairs(data.make_dataset(ids, config, training=True, seed=3))
    np.testing.assert_array_equal(y, x + 1)  # consecutive ids: target is always the next one
    assert (x[:, 0] % 16 != 0).any()  # some window starts moved off the stride grid
    assert y.max() <= 199


def test_validation_split_is_the_tail():
    ids = np.arange(1000)
    split = data.split_ids(ids, 0.1)
    np.testing.assert_array_equal(split.val, ids[900:])
    np.testing.assert_array_equal(split.train, ids[:900])
    assert len(data.split_ids(ids, 0.0).val) == 0
    split = data.split_ids(np.arange(1005), 0.25)
    assert len(split.train) + len(split.val) == 1005
    assert split.val[0] == split.train[-1] + 1


def test_validation_dataset_is_deterministic():
    config = TrainConfig(mode="sequence", seq_len=12, stride=5, batch_size=7)
    ds = data.make_dataset(IDS, config, training=False, seed=5)
    first, second = batches(ds), batches(ds)
    other = batches(data.make_dataset(IDS, config, training=False, seed=99))
    assert len(first) == len(second) == len(other)
    for a, b, c in zip(first, second, other, strict=True):
        np.testing.assert_array_equal(a[0], b[0])
        np.testing.assert_array_equal(a[1], c[1])
    x, _ = all_pairs(ds)
    np.testing.assert_array_equal(x[:, 0], IDS[0 : len(IDS) - 13 : 5])  # in corpus order, no jitter
    assert len(x) == data.window_count(len(IDS), config)  # the last, partial batch is kept


def test_training_shuffle_changes_between_epochs():
    config = TrainConfig(mode="window", seq_len=10, stride=1, batch_size=29)
    ids = np.arange(300, dtype=np.uint16)
    assert data.window_count(300, config) % 29 == 0  # no batch dropped, so each pass is complete
    ds = data.make_dataset(ids, config, training=True, seed=7)
    a, b = all_pairs(ds)[0][:, 0], all_pairs(ds)[0][:, 0]
    assert sorted(a) == sorted(b) == list(range(290))
    assert not np.array_equal(a, b)


@pytest.mark.parametrize("mode", ["sequence", "window"])
def test_elements_are_int32_ids_not_one_hot(mode):
    config = TrainConfig(mode=mode, seq_len=24, stride=24, batch_size=8)
    ds = data.make_dataset(IDS, config, training=True, seed=0)
    x_spec, y_spec = ds.element_spec
    assert x_spec.dtype.name == "int32" and y_spec.dtype.name == "int32"
    assert x_spec.shape.as_list() == [8, 24]
    assert y_spec.shape.as_list() == ([8, 24] if mode == "sequence" else [8])
    x, _ = batches(ds)[0]
    assert x.shape == (8, 24) and x.dtype == np.int32


def test_too_short_for_one_window():
    config = TrainConfig(seq_len=50, stride=50)
    assert data.window_count(40, config) == 0
    with pytest.raises(ValueError):
        data.make_dataset(IDS[:40], config, training=True)


def test_steps_per_epoch():
    config = TrainConfig(mode="window", seq_len=10, stride=1, batch_size=32)
    n = 1000
    assert data.steps_per_epoch(n, config) == data.window_count(n, config) // 32
    assert data.steps_per_epoch(n, config.replace(steps_per_epoch=5)) == 5
    assert data.steps_per_epoch(30, config) == 1  # fewer windows than a batch: one short batch
