"""``DistributedSampler``: each rank's share of a data set, as
``torch.utils.data.distributed.DistributedSampler``."""
import math
import numbers

import numpy as np

from fastgrad.utils.data.sampler import Sampler

__all__ = ["DistributedSampler"]


class DistributedSampler(Sampler):
    """The indices rank ``rank`` of ``num_replicas`` reads in an epoch.

    ``dataset`` is a data set (anything ``fastgrad.data.DataLoader`` takes, a tuple of arrays
    included) or its size as an int. The ranks' shards are disjoint and together hold every
    index: with ``shuffle``, one permutation drawn from ``seed + epoch`` (the same on every rank,
    so call ``set_epoch(epoch)`` on every rank before each epoch to reshuffle), cut into strided
    shards. When the size is not a multiple of ``num_replicas``, the permutation is padded by
    repeating its first indices, so every rank has ``ceil(size / num_replicas)`` (and takes the
    same number of steps, which collectives need), or with ``drop_last`` cut to
    ``floor(size / num_replicas)`` each. ``num_replicas`` and ``rank`` default to the default
    process group's.

    The permutation comes from NumPy (PCG64), so the shards differ from PyTorch's for one seed.
    """

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0,
                 drop_last=False):
        from fastgrad import distributed
        from fastgrad.data.loader import _length

        if num_replicas is None:
            num_replicas = distributed.get_world_size()
        if rank is None:
            rank = distributed.get_rank()
        for name, value in (("num_replicas", num_replicas), ("rank", rank), ("seed", seed)):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise TypeError(f"{name} must be an int, got {value!r}")
        if num_replicas < 1:
            raise ValueError(f"num_replicas must be >= 1, got {num_replicas}")
        if not 0 <= rank < num_replicas:
            raise ValueError(f"Invalid rank {rank}, rank should be in the interval "
                             f"[0, {num_replicas - 1}]")
        if isinstance(dataset, numbers.Integral) and not isinstance(dataset, bool):
            if dataset < 0:
                raise ValueError(f"dataset size must be >= 0, got {dataset}")
            self.dataset_size = int(dataset)
        else:
            self.dataset_size = _length(dataset)
        self.dataset = dataset
        self.num_replicas = int(num_replicas)
        self.rank = int(rank)
        self.shuffle = bool(shuffle)
        self.seed = int(seed)
        self.drop_last = bool(drop_last)
        self.epoch = 0
        if self.drop_last:
            self.num_samples = self.dataset_size // self.num_replicas
        else:
            self.num_samples = math.ceil(self.dataset_size / self.num_replicas)
        self.total_size = self.num_samples * self.num_replicas

    def set_epoch(self, epoch):
        """Reshuffle for ``epoch``: call it with the same epoch on every rank."""
        self.epoch = int(epoch)

    def __iter__(self):
        n = self.dataset_size
        if self.shuffle:
            order = np.random.default_rng(self.seed + self.epoch).permutation(n)
        else:
            order = np.arange(n)
        if self.total_size > n and n:  # pad by repeating from the start, as often as needed
            order = np.resize(order, self.total_size)
        order = order[:self.total_size]
        return iter(order[self.rank::self.num_replicas].tolist())

    def __len__(self):
        return self.num_samples
