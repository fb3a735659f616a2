"""``DataLoader``: batches from a data set, as ``torch.utils.data.DataLoader``.

Map-style data sets are read through a sampler (``SequentialSampler``, or ``RandomSampler``
with ``shuffle=True``, or the one given) grouped by a ``BatchSampler``; each batch is
``collate_fn([dataset[i] for i in indices])``. ``batch_size=None`` turns batching off: one
converted sample at a time. Iterable data sets are read in order, ``batch_size`` samples a
batch, in this process.

``num_workers > 0`` fetches batches in that many worker processes (started with ``fork``
where the platform has it, for each epoch) and yields them in order; ``prefetch_factor``,
``pin_memory`` and ``persistent_workers`` are accepted and have no effect (the workers get
the epoch's index lists as fast as they take them). Each worker seeds fastgrad's global generator with a base seed
drawn for the epoch plus its worker id, as PyTorch seeds its workers, and then calls
``worker_init_fn(worker_id)``.
"""
import multiprocessing
import numbers

from fastgrad.utils.data.collate import default_collate, default_convert
from fastgrad.utils.data.dataset import IterableDataset
from fastgrad.utils.data.sampler import BatchSampler, RandomSampler, SequentialSampler

__all__ = ["DataLoader", "get_worker_info"]


class DataLoader:
    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None,
                 num_workers=0, collate_fn=None, pin_memory=False, drop_last=False, timeout=0,
                 worker_init_fn=None, multiprocessing_context=None, generator=None, *,
                 prefetch_factor=None, persistent_workers=False, pin_memory_device=""):
        if isinstance(num_workers, bool) or not isinstance(num_workers, numbers.Integral) or num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 to "
                             f"disable multiprocessing (got {num_workers!r}).")
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("prefetch_factor option could only be specified in multiprocessing."
                             "let num_workers > 0 to enable multiprocessing, otherwise set "
                             "prefetch_factor to None.")
        if isinstance(dataset, IterableDataset):
            for name, value in (("shuffle", shuffle), ("sampler", sampler), ("batch_sampler", batch_sampler)):
                if value not in (None, False):
                    raise ValueError(f"DataLoader with IterableDataset: expected unspecified {name} "
                                     f"option, but got {name}={value}")
        elif sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, "
                                 "shuffle, sampler, and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually "
                             "exclusive with drop_last")
        self.dataset = dataset
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.num_workers = int(num_workers)
        self.prefetch_factor = 2 if prefetch_factor is None and num_workers > 0 else prefetch_factor
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.generator = generator
        self.pin_memory = pin_memory
        self.persistent_workers = persistent_workers
        if isinstance(dataset, IterableDataset):
            self.sampler = self.batch_sampler = None
        else:
            if sampler is None:
                sampler = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
            if batch_size is not None and batch_sampler is None:
                batch_sampler = BatchSampler(sampler, batch_size, drop_last)
            self.sampler, self.batch_sampler = sampler, batch_sampler
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn

    @property
    def _auto_collation(self):
        if isinstance(self.dataset, IterableDataset):
            return self.batch_size is not None
        return self.batch_sampler is not None

    def __len__(self):
        if isinstance(self.dataset, IterableDataset):
            n = len(self.dataset)
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        return len(self.batch_sampler) if self._auto_collation else len(self.sampler)

    def _fetch(self, index):
        """The batch for ``index`` (a list of indices, or one index without batching)."""
        if self._auto_collation:
            return self.collate_fn([self.dataset[i] for i in index])
        return self.collate_fn(self.dataset[index])

    def __iter__(self):
        if isinstance(self.dataset, IterableDataset):
            return self._iterable_batches()
        indices = iter(self.batch_sampler if self._auto_collation else self.sampler)
        if self.num_workers == 0:
            return map(self._fetch, indices)
        return _worker_batches(self, indices)

    def _iterable_batches(self):
        if self.batch_size is None:
            for sample in self.dataset:
                yield self.collate_fn(sample)
            return
        batch = []
        for sample in self.dataset:
            batch.append(sample)
            if len(batch) == self.batch_size:
                yield self.collate_fn(batch)
                batch = []
        if batch and not self.drop_last:
            yield self.collate_fn(batch)


# The loader a worker serves; set in the parent just before the workers fork, so they inherit
# it instead of receiving it pickled.
_worker_loader = None


class WorkerInfo:
    """What ``get_worker_info()`` returns inside a worker: ``id``, ``num_workers``, ``seed``,
    ``dataset``."""

    def __init__(self, id, num_workers, seed, dataset):  # noqa: A002 - PyTorch's name
        self.id, self.num_workers, self.seed, self.dataset = id, num_workers, seed, dataset


_worker_info = None


def get_worker_info():
    """The ``WorkerInfo`` of this worker process, or None in the main process."""
    return _worker_info


def _worker_start(loader, counter, base_seed):
    global _worker_loader, _worker_info
    from fastgrad.random import manual_seed

    with counter.get_lock():
        worker_id = counter.value
        counter.value += 1
    _worker_loader = loader
    seed = (base_seed + worker_id) % 2**63
    manual_seed(seed)
    _worker_info = WorkerInfo(worker_id, loader.num_workers, seed, loader.dataset)
    if loader.worker_init_fn is not None:
        loader.worker_init_fn(worker_id)


def _worker_fetch(index):
    return _worker_loader._fetch(index)


def _context(loader):
    if loader.multiprocessing_context is not None:
        ctx = loader.multiprocessing_context
        return multiprocessing.get_context(ctx) if isinstance(ctx, str) else ctx
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else None)


def _worker_batches(loader, indices):
    """Batches fetched by ``loader.num_workers`` processes, in the sampler's order."""
    from fastgrad.random import default_generator

    rng = loader.generator if loader.generator is not None else default_generator()
    base_seed = int(rng.integers(0, 2**63))
    ctx = _context(loader)
    counter = ctx.Value("i", 0)
    pool = ctx.Pool(loader.num_workers, initializer=_worker_start,
                    initargs=(loader, counter, base_seed))
    try:
        chunks = pool.imap(_worker_fetch, indices, chunksize=1)
        while True:
            try:
                yield chunks.next(loader.timeout or None)
            except StopIteration:
                return
            except multiprocessing.TimeoutError:
                raise RuntimeError(f"DataLoader timed out after {loader.timeout} seconds") from None
    finally:
        pool.terminate()
        pool.join()
