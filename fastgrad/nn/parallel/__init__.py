"""``fastgrad.nn.parallel``: ``DistributedDataParallel`` (data parallelism over MPI ranks)."""
from fastgrad.nn.parallel.distributed import DistributedDataParallel

__all__ = ["DistributedDataParallel"]
