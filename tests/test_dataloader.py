"""DataLoader batching, dtypes and shuffling; random_split and train_val_split."""

from functools import partial

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastgrad
from fastgrad.autograd.tensor import Tensor
from fastgrad.data import (
    MNIST,
    DataLoader,
    Subset,
    mnist_transform,
    random_split,
    train_val_split,
)


@pytest.fixture(scope="module")
def mnist_test(tmp_path_factory):
    return MNIST(train=False, cache_dir=tmp_path_factory.mktemp("cache"))


def _epoch(loader):
    """All batches of one epoch as lists of ndarrays."""
    return [[t.numpy() for t in batch] for batch in loader]


class ArraysOnly:
    """Offers arrays() but refuses per-sample access, so only the fast path works."""

    def __init__(self, *arrays):
        self._arrays = arrays

    def arrays(self):
        return self._arrays

    def __len__(self):
        return len(self._arrays[0])

    def __getitem__(self, index):
        raise AssertionError("the fast path must not index samples one by one")


class Squares:
    """A plain map-style data set: one (x, y) tuple per __getitem__."""

    def __init__(self, n):
        self.n = n
        self.calls = 0

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        self.calls += 1
        return np.array([i, i * i], dtype=np.float64), i % 3


# --- batching ------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(0, 40),
    batch_size=st.integers(1, 12),
    shuffle=st.booleans(),
    drop_last=st.booleans(),
)
def test_batches_partition_the_data(n, batch_size, shuffle, drop_last):
    X = np.arange(n, dtype=np.float64)[:, None] * np.ones((1, 3))
    y = np.arange(n)
    loader = DataLoader((X, y), batch_size=batch_size, shuffle=shuffle, drop_last=drop_last, seed=0)
    batches = _epoch(loader)
    assert len(batches) == len(loader)
    sizes = [len(b[1]) for b in batches]
    assert all(s == batch_size for s in sizes[:-1])
    if drop_last:
        assert sum(sizes) == n - n % batch_size
    else:
        assert sum(sizes) == n
    seen = np.concatenate([b[1] for b in batches]) if batches else np.array([], dtype=np.int64)
    if not shuffle:
        np.testing.assert_array_equal(seen, np.arange(len(seen)))
    assert len(np.unique(seen)) == len(seen)
    for xb, yb in batches:
        np.testing.assert_array_equal(xb[:, 0], yb)


def test_len_counts_batches():
    data = (np.zeros((10, 2)), np.zeros(10, dtype=int))
    assert len(DataLoader(data, batch_size=3)) == 4
    assert len(DataLoader(data, batch_size=3, drop_last=True)) == 3
    assert len(DataLoader(data, batch_size=10, drop_last=True)) == 1
    assert len(DataLoader(data, batch_size=11, drop_last=True)) == 0


def test_yields_tensors_with_float32_inputs_and_int64_labels():
    X = np.random.default_rng(0).standard_normal((7, 4))
    y = np.arange(7, dtype=np.int32)
    xb, yb = next(iter(DataLoader((X, y), batch_size=5)))
    assert isinstance(xb, Tensor) and isinstance(yb, Tensor)
    assert xb.arr.dtype == np.float32 and xb.arr.shape == (5, 4)
    assert yb.arr.dtype == np.int64 and yb.numpy().shape == (5,)
    np.testing.assert_array_equal(xb.numpy(), X[:5].astype(np.float32))
    assert not xb.requires_grad


def test_dtype_rules():
    n = 6
    images = np.arange(n * 4, dtype=np.uint8).reshape(n, 2, 2)
    labels_u8 = np.arange(n, dtype=np.uint8)
    mask = np.arange(n) % 2 == 0
    xb, yb, mb = next(iter(DataLoader((images, labels_u8, mask), batch_size=n)))
    assert xb.arr.dtype == np.float32
    np.testing.assert_array_equal(xb.arr, images.astype(np.float32))  # no scaling without transform
    assert yb.arr.dtype == np.int64
    assert mb.arr.dtype == np.float32 and mb.arr.tolist() == mask.astype(np.float32).tolist()


def test_batches_own_their_memory():
    X = np.arange(12, dtype=np.float32).reshape(6, 2)
    for shuffle in (False, True):
        for xb, in DataLoader((X,), batch_size=4, shuffle=shuffle, seed=1):
            assert not np.shares_memory(xb.arr, X)
            assert xb.arr.flags.c_contiguous


def test_accepts_tensors_in_the_tuple():
    X = fastgrad.tensor(np.ones((4, 3), dtype=np.float32))
    y = fastgrad.tensor(np.arange(4))
    xb, yb = next(iter(DataLoader((X, y), batch_size=4)))
    np.testing.assert_array_equal(xb.numpy(), X.numpy())
    assert yb.numpy().dtype == np.int64


def test_fast_path_does_not_index_samples():
    X = np.arange(20.0).reshape(10, 2)
    y = np.arange(10)
    batches = _epoch(DataLoader(ArraysOnly(X, y), batch_size=4, shuffle=True, seed=3))
    assert sorted(np.concatenate([b[1] for b in batches]).tolist()) == list(range(10))


def test_map_style_dataset_is_stacked():
    ds = Squares(5)
    batches = _epoch(DataLoader(ds, batch_size=2))
    assert ds.calls == 5
    xb, yb = batches[0]
    assert xb.dtype == np.float32 and xb.tolist() == [[0.0, 0.0], [1.0, 1.0]]
    assert yb.dtype == np.int64 and yb.tolist() == [0, 1]
    assert [len(b[1]) for b in batches] == [2, 2, 1]


def test_list_of_pairs_and_single_items():
    pairs = [(np.full(2, i, dtype=np.float64), i) for i in range(3)]
    (xb, yb), = _epoch(DataLoader(pairs, batch_size=3))
    assert xb.shape == (3, 2) and yb.tolist() == [0, 1, 2]
    singles = [np.full(2, i, dtype=np.float32) for i in range(3)]
    batches = _epoch(DataLoader(singles, batch_size=2))
    assert [len(b) for b in batches] == [1, 1] and batches[0][0].shape == (2, 2)


def test_transform_sees_the_raw_inputs_only():
    images = np.full((4, 2, 2), 255, dtype=np.uint8)
    labels = np.arange(4)
    seen = []

    def transform(x):
        seen.append(x.dtype)
        return x / 255.0

    xb, yb = next(iter(DataLoader((images, labels), batch_size=4, transform=transform)))
    assert seen == [np.uint8]
    assert xb.arr.dtype == np.float32 and np.all(xb.arr == 1.0)
    assert yb.arr.tolist() == [0, 1, 2, 3]


# --- shuffling -------------------------------------------------------------


def _orders(loader, epochs):
    return [np.concatenate([b[0] for b in _epoch(loader)]).tolist() for _ in range(epochs)]


def test_same_seed_same_epochs_new_permutation_each_epoch():
    data = (np.arange(50),)
    a = _orders(DataLoader(data, batch_size=7, shuffle=True, seed=42), 3)
    b = _orders(DataLoader(data, batch_size=7, shuffle=True, seed=42), 3)
    c = _orders(DataLoader(data, batch_size=7, shuffle=True, seed=43), 3)
    assert a == b
    assert a[0] != a[1] and a[1] != a[2]
    assert a != c
    assert all(sorted(order) == list(range(50)) for order in a)


def test_generator_argument_and_global_seed():
    data = (np.arange(30),)
    a = _orders(DataLoader(data, batch_size=4, shuffle=True, generator=np.random.default_rng(5)), 2)
    b = _orders(DataLoader(data, batch_size=4, shuffle=True, generator=np.random.default_rng(5)), 2)
    assert a == b
    fastgrad.manual_seed(11)
    g1 = _orders(DataLoader(data, batch_size=4, shuffle=True), 2)
    fastgrad.manual_seed(11)
    g2 = _orders(DataLoader(data, batch_size=4, shuffle=True), 2)
    assert g1 == g2 and g1[0] != g1[1]


def test_order_is_fixed_when_iteration_starts():
    loader = DataLoader((np.arange(20),), batch_size=5, shuffle=True, seed=0)
    it1 = iter(loader)
    it2 = iter(loader)
    first = np.concatenate([b[0].numpy() for b in it1])
    second = np.concatenate([b[0].numpy() for b in it2])
    replay = DataLoader((np.arange(20),), batch_size=5, shuffle=True, seed=0)
    assert first.tolist() == _orders(replay, 1)[0]
    assert first.tolist() != second.tolist()


# --- MNIST through the loader --------------------------------------------


def test_mnist_batches_with_cnn_transform(mnist_test):
    loader = DataLoader(
        mnist_test, batch_size=256, shuffle=True, seed=0, transform=partial(mnist_transform, add_channel=True)
    )
    assert len(loader) == 40
    counts = np.zeros(10, dtype=np.int64)
    for xb, yb in loader:
        assert xb.arr.dtype == np.float32 and xb.arr.shape[1:] == (1, 28, 28)
        assert yb.arr.dtype == np.int64
        counts += np.bincount(yb.arr, minlength=10)
    assert counts.tolist() == np.bincount(mnist_test.labels).tolist()
    xb, yb = next(iter(DataLoader(mnist_test, batch_size=3, transform=mnist_transform)))
    np.testing.assert_allclose(xb.arr, mnist_transform(mnist_test.images[:3]))
    assert yb.arr.tolist() == mnist_test.labels[:3].tolist()


def test_loader_over_a_split_of_mnist_uses_the_parent_arrays(mnist_test, monkeypatch):
    train, val = random_split(mnist_test, [0.9, 0.1], seed=0)
    assert isinstance(val, Subset) and (len(train), len(val)) == (9000, 1000)

    def no_per_sample(self, index):
        raise AssertionError("fast path expected")

    monkeypatch.setattr(Subset, "__getitem__", no_per_sample)
    monkeypatch.setattr(MNIST, "__getitem__", no_per_sample)
    xb, yb = _epoch(DataLoader(val, batch_size=1000))[0]
    np.testing.assert_array_equal(xb, mnist_test.images[val.indices].astype(np.float32))
    np.testing.assert_array_equal(yb, mnist_test.labels[val.indices])
    # A subset of a subset composes the indices.
    inner = Subset(val, [5, 0, 7])
    xb, yb = _epoch(DataLoader(inner, batch_size=3))[0]
    np.testing.assert_array_equal(yb, mnist_test.labels[val.indices[[5, 0, 7]]])


# --- validation ------------------------------------------------------------


def test_loader_validation():
    X, y = np.zeros((5, 2)), np.zeros(4)
    with pytest.raises(ValueError, match=r"same length.*\(5, 2\), \(4,\)"):
        DataLoader((X, y))
    with pytest.raises(ValueError, match="batch_size must be >= 1, got 0"):
        DataLoader((X,), batch_size=0)
    with pytest.raises(TypeError, match="batch_size"):
        DataLoader((X,), batch_size=2.0)
    with pytest.raises(ValueError, match="not both"):
        DataLoader((X,), seed=1, generator=np.random.default_rng(1))
    with pytest.raises(TypeError, match="generator"):
        DataLoader((X,), generator=1)
    with pytest.raises(TypeError, match="transform"):
        DataLoader((X,), transform="normalise")
    with pytest.raises(ValueError, match="empty tuple"):
        DataLoader(())
    with pytest.raises(TypeError, match="dtype"):
        next(iter(DataLoader((np.array(["a", "b"]),))))


# --- random_split / train_val_split ---------------------------------------


def test_random_split_counts_partition_and_reproducibility():
    X = np.arange(10) * 10
    y = np.arange(10)
    parts = random_split((X, y), [3, 3, 4], seed=1)
    assert [len(p[1]) for p in parts] == [3, 3, 4]
    assert sorted(np.concatenate([p[1] for p in parts]).tolist()) == list(range(10))
    for px, py in parts:
        np.testing.assert_array_equal(px, py * 10)
    again = random_split((X, y), [3, 3, 4], seed=1)
    assert all((a[1] == b[1]).all() for a, b in zip(parts, again))
    other = random_split((X, y), [3, 3, 4], seed=2)
    assert any((a[1] != b[1]).any() for a, b in zip(parts, other))


def test_random_split_fractions_follow_torch_rounding():
    # floor(10 * 0.33) = 3 each, the leftover sample goes to the first part.
    parts = random_split((np.arange(10),), [0.33, 0.33, 0.34], seed=0)
    assert [len(p[0]) for p in parts] == [4, 3, 3]
    parts = random_split(Squares(7), [0.5, 0.5], seed=0)
    assert [len(p) for p in parts] == [4, 3]
    assert isinstance(parts[0], Subset)
    assert sorted(parts[0].indices.tolist() + parts[1].indices.tolist()) == list(range(7))
    x, label = parts[1][0]
    assert label == parts[1].indices[0] % 3


def test_random_split_validation():
    with pytest.raises(ValueError, match=r"sum to 9, but the dataset has 10"):
        random_split((np.arange(10),), [4, 5])
    with pytest.raises(ValueError, match="sum to 1"):
        random_split((np.arange(10),), [0.5, 0.4])
    with pytest.raises(ValueError, match="non-negative"):
        random_split((np.arange(10),), [12, -2])
    with pytest.raises(ValueError, match="same length"):
        random_split((np.arange(10), np.arange(9)), [5, 5])


def test_train_val_split():
    X = np.arange(100).reshape(50, 2)
    y = np.arange(50)
    (X_tr, y_tr), (X_val, y_val) = train_val_split(X, y, val_fraction=0.2, seed=0)
    assert (len(y_tr), len(y_val)) == (40, 10)
    np.testing.assert_array_equal(X_tr[:, 0], 2 * y_tr)
    np.testing.assert_array_equal(X_val[:, 0], 2 * y_val)
    assert sorted(np.concatenate([y_tr, y_val]).tolist()) == list(range(50))
    (_, y_tr2), _ = train_val_split(X, y, val_fraction=0.2, seed=0)
    np.testing.assert_array_equal(y_tr, y_tr2)
    with pytest.raises(ValueError, match=r"\(50, 2\), \(49,\)"):
        train_val_split(X, y[:-1], 0.2)
    with pytest.raises(ValueError, match="val_fraction must be in"):
        train_val_split(X, y, 1.0)
    with pytest.raises(ValueError, match="leaves 0 for validation"):
        train_val_split(X, y, 0.001)
