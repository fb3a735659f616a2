"""Mini-batch iteration over NumPy data, and random splits of data sets.

``DataLoader`` here is ``fastgrad.utils.data.DataLoader`` (PyTorch's) with a fast gather for
arrays, NumPy-style ``seed`` and ``transform`` options and fixed batch dtypes.

A data set is one of
- a *tuple* of equal-length arrays ``(X, y, ...)`` (ndarrays or Tensors),
- an object with an ``arrays()`` method returning such a tuple (``MNIST``),
- a ``Subset`` of either of those,
- any object with ``__len__`` and ``__getitem__(i)`` returning a tuple
  (or a single item) per sample, e.g. a list of ``(x, y)`` pairs.

The first three take the fast path: each batch is gathered with one fancy
index per array, never a Python loop over samples.  The last one has to call
``__getitem__`` per sample and stacks the results.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from fastgrad.utils.data.dataloader import DataLoader as _BaseDataLoader
from fastgrad.utils.data.dataset import Subset as _BaseSubset
from fastgrad.utils.data.sampler import RandomSampler, SequentialSampler

__all__ = ["DataLoader", "Subset", "random_split", "train_val_split"]


def _to_numpy(a) -> np.ndarray:
    if hasattr(a, "numpy") and not isinstance(a, np.ndarray):
        return np.asarray(a.numpy())
    return np.asarray(a)


def _check_arrays(arrays, what="dataset") -> tuple:
    arrays = tuple(_to_numpy(a) for a in arrays)
    if not arrays:
        raise ValueError(f"{what} is an empty tuple; expected arrays like (X, y)")
    for a in arrays:
        if a.ndim == 0:
            raise ValueError(f"{what} holds a 0-d array; every array needs a sample axis")
    lengths = {len(a) for a in arrays}
    if len(lengths) != 1:
        shapes = ", ".join(str(a.shape) for a in arrays)
        raise ValueError(f"{what} arrays must have the same length (first axis), got shapes {shapes}")
    return arrays


def _arrays_of(dataset):
    """The dataset's tuple of arrays when it offers one, else None."""
    if isinstance(dataset, tuple):
        return _check_arrays(dataset)
    arrays = getattr(dataset, "arrays", None)
    if callable(arrays):
        return _check_arrays(arrays(), what=type(dataset).__name__)
    return None


def _length(dataset) -> int:
    arrays = _arrays_of(dataset)
    return len(arrays[0]) if arrays is not None else len(dataset)


def _generator(seed, generator) -> np.random.Generator | None:
    """The Generator to draw permutations from; None means the global one, looked up per use."""
    if seed is not None and generator is not None:
        raise ValueError("give either seed or generator, not both")
    if generator is not None:
        if not isinstance(generator, np.random.Generator):
            raise TypeError(f"generator must be a numpy.random.Generator, got {type(generator).__name__}")
        return generator
    if seed is not None:
        return np.random.default_rng(seed)
    return None


def _global_generator() -> np.random.Generator:
    # Follow fastgrad's global seed (fastgrad.random.default_generator) when
    # the core provides it, looked up each time so a later manual seed takes
    # effect; without it fall back to fresh OS entropy.
    try:
        from fastgrad.random import default_generator
    except ImportError:
        return np.random.default_rng()
    return default_generator()


def _tensor_dtype(a: np.ndarray):
    """float32 for float/bool data and uint8 images, int64 for integer labels."""
    if a.dtype.kind == "f" or a.dtype.kind == "b":
        return np.float32
    if a.dtype == np.uint8 and a.ndim >= 2:
        # uint8 arrays with per-sample structure are images; scaling them is
        # left to a transform.
        return np.float32
    if a.dtype.kind in "iu":
        return np.int64
    raise TypeError(f"cannot batch data of dtype {a.dtype}; use numeric arrays")


class Subset(_BaseSubset):
    """The samples ``dataset[indices[i]]``; ``indices`` is an int64 array of shape (M,)."""

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = np.asarray(indices, dtype=np.int64)
        n = _length(dataset)
        if self.indices.ndim != 1:
            raise ValueError(f"indices must be 1-D, got shape {self.indices.shape}")
        if self.indices.size and (self.indices.min() < -n or self.indices.max() >= n):
            raise ValueError(f"indices out of range for a dataset of {n} samples")

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index):
        return self.dataset[self.indices[index]]

    def arrays(self) -> tuple:
        """The selected rows of the parent's arrays (copies), if the parent has arrays."""
        parent = _arrays_of(self.dataset)
        if parent is None:
            raise TypeError(f"{type(self.dataset).__name__} has no arrays() to take a subset of")
        return tuple(a[self.indices] for a in parent)


class DataLoader(_BaseDataLoader):
    """Iterate over a data set in mini-batches of fastgrad Tensors.

    A ``fastgrad.utils.data.DataLoader`` (PyTorch's) for NumPy data: its sampler and batch
    sampler choose the indices, and each batch is gathered here with one fancy index per
    array when the data set offers arrays.

    Parameters
    ----------
    dataset : tuple of arrays, MNIST, Subset, or any sized indexable (see module doc)
    batch_size : int >= 1
    shuffle : bool
        Draw a new permutation at every ``iter()``; otherwise keep the order.
    drop_last : bool
        Skip the final batch when it is smaller than ``batch_size``.
    seed : int, optional / generator : numpy.random.Generator, optional
        Source of the permutations (at most one of them; a ``fastgrad.Generator`` is one).
        The same seed gives the same sequence of epochs. Neither: fastgrad's global
        generator.
    transform : callable, optional
        ``transform(x_batch) -> array`` applied to the *first* array of each
        batch (the inputs) as an ndarray in its stored dtype, e.g.
        ``mnist_transform``.
    num_workers : int >= 0
        Worker processes fetching batches (as ``fastgrad.utils.data.DataLoader``).
    sampler : Sampler or iterable of int, optional
        The positions to read, in order (e.g. a ``DistributedSampler``); not with ``shuffle``.

    Each batch is a tuple with one Tensor per array, first axis of size
    ``batch_size`` (or less for the last batch): float and bool data and uint8
    data of 2 or more dimensions (images) become float32; other integer data
    (labels) becomes int64.  Every batch owns its memory.
    """

    def __init__(
        self,
        dataset,
        batch_size=1,
        shuffle=False,
        drop_last=False,
        seed=None,
        generator=None,
        transform=None,
        num_workers=0,
        sampler=None,
    ):
        if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral):
            raise TypeError(f"batch_size must be an int, got {batch_size!r}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if transform is not None and not callable(transform):
            raise TypeError(f"transform must be callable, got {type(transform).__name__}")
        self.shuffle = bool(shuffle)
        self.transform = transform
        rng = _generator(seed, generator)

        # Fast path: base arrays plus an optional row map from nested Subsets,
        # so a split of MNIST is never copied.
        base, rows = dataset, None
        while isinstance(base, Subset):
            rows = base.indices if rows is None else base.indices[rows]
            base = base.dataset
        arrays = _arrays_of(base)
        if arrays is None:
            self._arrays, self._rows = None, None
            self._n = len(dataset)
        else:
            self._arrays, self._rows = arrays, rows
            self._n = len(arrays[0]) if rows is None else len(rows)
        positions = range(self._n)
        if sampler is not None and self.shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if sampler is None:
            sampler = RandomSampler(positions, generator=rng) if self.shuffle else SequentialSampler(positions)
        super().__init__(dataset, batch_size=int(batch_size), sampler=sampler,
                         drop_last=bool(drop_last), num_workers=num_workers, generator=rng)

    def _fetch(self, indices):
        from fastgrad.autograd.tensor import Tensor

        fields = self._gather(np.asarray(indices, dtype=np.int64))
        return tuple(Tensor(self._finish(a, i == 0)) for i, a in enumerate(fields))

    def _gather(self, picks) -> list:
        if self._arrays is not None:
            if self._rows is not None:
                picks = self._rows[picks]
            return [a[picks] for a in self._arrays]  # fancy indexing: copies, never views
        samples = [self.dataset[int(i)] for i in picks]
        samples = [s if isinstance(s, tuple) else (s,) for s in samples]
        width = len(samples[0])
        if any(len(s) != width for s in samples):
            raise ValueError(
                f"samples of {type(self.dataset).__name__} have differing numbers of fields "
                f"{sorted({len(s) for s in samples})}"
            )
        return [np.stack([_to_numpy(s[k]) for s in samples]) for k in range(width)]

    def _finish(self, a: np.ndarray, is_input: bool) -> np.ndarray:
        if is_input and self.transform is not None:
            a = _to_numpy(self.transform(a))
        return np.ascontiguousarray(a, dtype=_tensor_dtype(a))


def _split_lengths(lengths, n: int) -> list[int]:
    """Sizes from ints summing to n, or from fractions summing to 1 (remainder
    handed out one by one from the first part on, as torch does)."""
    lengths = list(lengths)
    if not lengths:
        raise ValueError("lengths must not be empty")
    if all(isinstance(x, numbers.Integral) and not isinstance(x, bool) for x in lengths):
        sizes = [int(x) for x in lengths]
        if any(x < 0 for x in sizes):
            raise ValueError(f"lengths must be non-negative, got {sizes}")
        if sum(sizes) != n:
            raise ValueError(f"lengths {sizes} sum to {sum(sizes)}, but the dataset has {n} samples")
        return sizes
    fractions = [float(x) for x in lengths]
    if any(not 0.0 <= f <= 1.0 for f in fractions) or not math.isclose(sum(fractions), 1.0):
        raise ValueError(
            f"fractional lengths {fractions} must each lie in [0, 1] and sum to 1 "
            f"(they sum to {sum(fractions)})"
        )
    sizes = [math.floor(n * f) for f in fractions]
    for i in range(n - sum(sizes)):
        sizes[i % len(sizes)] += 1
    return sizes


def random_split(dataset, lengths, seed=None, generator=None) -> list:
    """Split a data set into non-overlapping random parts.

    ``lengths``: ints summing to N, or fractions summing to 1 (floored, the
    remainder given one by one to the first parts).  Returns a list with one
    part per length: a tuple of arrays (fancy-indexed copies) when
    ``dataset`` is a tuple of arrays, otherwise a ``Subset``.  ``seed`` /
    ``generator`` as for DataLoader.
    """
    arrays = _check_arrays(dataset) if isinstance(dataset, tuple) else None
    n = len(arrays[0]) if arrays is not None else _length(dataset)
    sizes = _split_lengths(lengths, n)
    rng = _generator(seed, generator)
    if rng is None:
        rng = _global_generator()
    order = rng.permutation(n)
    bounds = np.cumsum([0] + sizes)
    parts = [order[lo:hi] for lo, hi in zip(bounds[:-1], bounds[1:])]
    if arrays is not None:
        return [tuple(a[idx] for a in arrays) for idx in parts]
    return [Subset(dataset, idx) for idx in parts]


def train_val_split(X, y, val_fraction=0.1, seed=None):
    """Randomly hold out ``round(val_fraction * N)`` samples for validation.

    ``X``: (N, ...) and ``y``: (N,) arrays or Tensors.  Returns
    ``((X_train, y_train), (X_val, y_val))`` as ndarrays, ready for DataLoader.
    """
    X, y = _check_arrays((X, y), what="(X, y)")
    n = len(X)
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    n_val = round(val_fraction * n)
    if not 0 < n_val < n:
        raise ValueError(
            f"val_fraction={val_fraction} of {n} samples leaves {n_val} for validation "
            f"and {n - n_val} for training; both need at least 1"
        )
    train, val = random_split((X, y), [n - n_val, n_val], seed=seed)
    return train, val
