"""fastgrad.utils.data against torch.utils.data's documented behaviour."""
import collections
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import fastgrad
from fastgrad.utils.data import (BatchSampler, ConcatDataset, DataLoader, Dataset,
                                 IterableDataset, RandomSampler, Sampler, SequentialSampler,
                                 Subset, SubsetRandomSampler, TensorDataset, default_collate,
                                 random_split)


class Squares(Dataset):
    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if not 0 <= i < self.n:
            raise IndexError(i)
        return {"x": np.array([i, i * i], dtype=np.float64), "y": i % 3}


class Count(IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        return iter(range(self.n))

    def __len__(self):
        return self.n


# --- data sets --------------------------------------------------------------


def test_tensor_dataset_indexes_every_tensor():
    X, y = fastgrad.randn(5, 3), fastgrad.arange(5)
    ds = TensorDataset(X, y)
    assert len(ds) == 5
    x2, y2 = ds[2]
    np.testing.assert_array_equal(x2.numpy(), X.numpy()[2])
    assert y2.item() == 2
    with pytest.raises(AssertionError, match=r"Size mismatch between tensors.*\(5, 3\).*\(4,\)"):
        TensorDataset(X, fastgrad.arange(4))


def test_subset_concat_and_add():
    base = Squares(6)
    sub = Subset(base, [4, 0, 2])
    assert len(sub) == 3 and sub[0]["y"] == 4 % 3 and sub[-1]["x"].tolist() == [2, 4]
    cat = ConcatDataset([Squares(2), sub])
    assert len(cat) == 5 and cat.cumulative_sizes == [2, 5]
    assert [cat[i]["x"][0] for i in range(5)] == [0, 1, 4, 0, 2]
    assert cat[-1]["x"][0] == 2
    assert len(Squares(2) + Squares(3)) == 5
    with pytest.raises(ValueError, match="absolute value of index"):
        cat[-6]
    with pytest.raises(AssertionError, match="empty iterable"):
        ConcatDataset([])
    with pytest.raises(AssertionError, match="does not support IterableDataset"):
        ConcatDataset([Count(3)])


def test_random_split_counts_and_fractions():
    ds = Squares(10)
    parts = random_split(ds, [3, 7], generator=fastgrad.Generator().manual_seed(0))
    assert [len(p) for p in parts] == [3, 7]
    assert sorted(parts[0].indices + parts[1].indices) == list(range(10))
    again = random_split(ds, [3, 7], generator=fastgrad.Generator().manual_seed(0))
    assert again[0].indices == parts[0].indices
    # floor(10 * f) = [3, 3, 3], the remainder 1 goes to the first part (PyTorch's rule)
    assert [len(p) for p in random_split(ds, [0.34, 0.33, 0.33])] == [4, 3, 3]
    with pytest.warns(UserWarning, match="Length of split at index 1 is 0"):
        random_split(Squares(2), [0.9, 0.1])
    with pytest.raises(ValueError, match="Sum of input lengths does not equal"):
        random_split(ds, [3, 3])


# --- samplers ---------------------------------------------------------------


def test_samplers():
    data = list(range(7))
    assert list(SequentialSampler(data)) == data
    g = fastgrad.Generator().manual_seed(1)
    order = list(RandomSampler(data, generator=g))
    assert sorted(order) == data
    assert list(RandomSampler(data, generator=fastgrad.Generator().manual_seed(1))) == order
    long = list(RandomSampler(data, num_samples=10, generator=g))
    assert len(long) == 10 and sorted(long[:7]) == data  # a whole permutation first
    drawn = list(RandomSampler(data, replacement=True, num_samples=50, generator=g))
    assert len(drawn) == 50 and set(drawn) <= set(data) and len(set(drawn)) < 50
    assert sorted(SubsetRandomSampler([10, 20, 30], generator=g)) == [10, 20, 30]
    assert list(BatchSampler(SequentialSampler(data), 3, False)) == [[0, 1, 2], [3, 4, 5], [6]]
    assert list(BatchSampler(SequentialSampler(data), 3, True)) == [[0, 1, 2], [3, 4, 5]]
    assert len(BatchSampler(data, 3, False)) == 3 and len(BatchSampler(data, 3, True)) == 2
    with pytest.raises(ValueError, match="batch_size should be a positive integer value, but got batch_size=0"):
        BatchSampler(data, 0, False)
    with pytest.raises(ValueError, match="drop_last should be a boolean value"):
        BatchSampler(data, 2, 1)
    with pytest.raises(TypeError, match="replacement should be a boolean value"):
        RandomSampler(data, replacement=1)
    with pytest.raises(ValueError, match="num_samples should be a positive integer value"):
        RandomSampler(data, num_samples=0)
    with pytest.raises(NotImplementedError):
        iter(Sampler())


# --- collation --------------------------------------------------------------


def test_default_collate_types():
    t = default_collate([fastgrad.ones(2), fastgrad.zeros(2)])
    assert t.shape == (2, 2) and t.tolist() == [[1, 1], [0, 0]]
    a = default_collate([np.zeros(3, dtype=np.float64), np.ones(3, dtype=np.float64)])
    assert isinstance(a, fastgrad.Tensor) and a.dtype == np.float64 and a.shape == (2, 3)
    assert default_collate([1.5, 2.5]).dtype == np.float64
    assert default_collate([1, 2]).dtype == np.int64 and default_collate([True, False]).dtype == np.bool_
    assert default_collate([np.int32(3), np.int32(4)]).dtype == np.int32
    assert default_collate(["a", "b"]) == ["a", "b"]
    batch = default_collate([{"x": np.zeros(2), "y": 0}, {"x": np.ones(2), "y": 1}])
    assert set(batch) == {"x", "y"} and batch["y"].tolist() == [0, 1]
    pairs = default_collate([(np.zeros(2), 0), (np.ones(2), 1)])
    assert isinstance(pairs, list) and len(pairs) == 2 and pairs[1].tolist() == [0, 1]  # as PyTorch
    Point = collections.namedtuple("Point", "x y")
    p = default_collate([Point(1, 2.0), Point(3, 4.0)])
    assert isinstance(p, Point) and p.x.tolist() == [1, 3] and p.y.dtype == np.float64
    with pytest.raises(RuntimeError, match="each element in list of batch should be of equal size"):
        default_collate([[1, 2], [1]])
    with pytest.raises(TypeError, match="default_collate: batch must contain"):
        default_collate([object(), object()])


# --- DataLoader ---------------------------------------------------------------


def test_dataloader_batches_a_map_style_dataset():
    loader = DataLoader(Squares(5), batch_size=2)
    batches = list(loader)
    assert len(loader) == 3 and len(batches) == 3
    assert batches[0]["x"].dtype == np.float64 and batches[0]["x"].tolist() == [[0, 0], [1, 1]]
    assert batches[2]["y"].tolist() == [4 % 3]
    assert len(DataLoader(Squares(5), batch_size=2, drop_last=True)) == 2


def test_dataloader_shuffle_generator_and_sampler_options():
    X = fastgrad.arange(20)
    ds = TensorDataset(X)

    def epoch(loader):
        return [int(v) for (xb,) in loader for v in xb.tolist()]

    a = epoch(DataLoader(ds, batch_size=6, shuffle=True, generator=fastgrad.Generator().manual_seed(3)))
    b = epoch(DataLoader(ds, batch_size=6, shuffle=True, generator=fastgrad.Generator().manual_seed(3)))
    assert a == b and sorted(a) == list(range(20)) and a != list(range(20))
    sampler = SubsetRandomSampler([1, 3, 5])
    assert sorted(epoch(DataLoader(ds, batch_size=2, sampler=sampler))) == [1, 3, 5]
    batch_sampler = BatchSampler(SequentialSampler(range(4)), 3, False)
    assert [len(xb) for (xb,) in DataLoader(ds, batch_sampler=batch_sampler)] == [3, 1]
    unbatched = list(DataLoader(ds, batch_size=None))
    assert len(unbatched) == 20 and unbatched[4][0].shape == ()
    custom = DataLoader(ds, batch_size=4, collate_fn=lambda samples: len(samples))
    assert list(custom) == [4] * 5


def test_dataloader_iterable_dataset():
    loader = DataLoader(Count(7), batch_size=3)
    assert [b.tolist() for b in loader] == [[0, 1, 2], [3, 4, 5], [6]] and len(loader) == 3
    assert [b.tolist() for b in DataLoader(Count(7), batch_size=3, drop_last=True)] == [[0, 1, 2], [3, 4, 5]]
    with pytest.raises(ValueError, match="expected unspecified shuffle option, but got shuffle=True"):
        DataLoader(Count(3), shuffle=True)


@pytest.mark.parametrize("kwargs, message", [
    ({"num_workers": -1}, "num_workers option should be non-negative"),
    ({"timeout": -1}, "timeout option should be non-negative"),
    ({"sampler": [0], "shuffle": True}, "sampler option is mutually exclusive with shuffle"),
    ({"batch_sampler": [[0]], "batch_size": 2}, "batch_sampler option is mutually exclusive"),
    ({"batch_size": None, "drop_last": True}, "batch_size=None option disables auto-batching"),
    ({"prefetch_factor": 2}, "prefetch_factor option could only be specified in multiprocessing"),
])
def test_dataloader_refuses_contradictory_options(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DataLoader(Squares(3), **kwargs)


def test_fastgrad_data_loader_is_a_utils_data_loader():
    from fastgrad import data

    loader = data.DataLoader((np.arange(6.0), np.arange(6)), batch_size=4)
    assert isinstance(loader, DataLoader) and isinstance(loader.sampler, SequentialSampler)
    assert issubclass(data.Subset, Subset)


# Worker processes start by fork; numba's OpenMP pool in the parent can make a forked child
# hang, so this runs in a child interpreter with a time limit instead of inside pytest.
_WORKERS = textwrap.dedent("""
    import numpy as np
    import fastgrad
    from fastgrad import nn
    from fastgrad.utils.data import DataLoader, TensorDataset, get_worker_info

    nn.Conv2d(1, 2, 3)(fastgrad.randn(2, 1, 8, 8))  # the numba kernels have run before the fork
    X = fastgrad.arange(23)
    seen = []

    def collate(samples):
        info = get_worker_info()
        return (info.id, info.num_workers, float(fastgrad.rand(1).item()),
                fastgrad.stack([s[0] for s in samples]))

    loader = DataLoader(TensorDataset(X), batch_size=4, shuffle=True, num_workers=2,
                        collate_fn=collate, generator=fastgrad.Generator().manual_seed(0))
    batches = list(loader)
    order = [int(v) for b in batches for v in b[3].tolist()]
    assert sorted(order) == list(range(23)), order
    assert {b[0] for b in batches} <= {0, 1} and all(b[1] == 2 for b in batches)
    assert get_worker_info() is None
    # the same epoch in-process gives the same order: workers keep the sampler's order
    serial = DataLoader(TensorDataset(X), batch_size=4, shuffle=True,
                        generator=fastgrad.Generator().manual_seed(0))
    assert [int(v) for (xb,) in serial for v in xb.tolist()] == order
    # workers draw different random numbers (seeded base_seed + worker id)
    by_worker = {}
    for b in batches:
        by_worker.setdefault(b[0], set()).add(b[2])
    assert len(set().union(*by_worker.values())) == len(batches)
    from fastgrad import data
    plain = list(data.DataLoader((np.arange(10.0), np.arange(10)), batch_size=3, num_workers=2))
    assert [int(v) for b in plain for v in b[1].tolist()] == list(range(10))
    print("ok")
""")


def test_dataloader_with_worker_processes_keeps_order():
    run = subprocess.run([sys.executable, "-c", _WORKERS], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr[-3000:]
