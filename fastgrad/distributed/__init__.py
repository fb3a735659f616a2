"""``fastgrad.distributed``: data-parallel training over MPI with ``torch.distributed``'s names.

Start the program under an MPI launcher (``mpiexec -n 4 python train.py``), call
``init_process_group("mpi")``, then use the collectives or wrap the model in
``fastgrad.nn.parallel.DistributedDataParallel``. See docs/distributed.md.
"""
from fastgrad.distributed.collectives import (ReduceOp, Work, all_gather, all_gather_into_tensor,
                                              all_reduce, broadcast, reduce)
from fastgrad.distributed.process_group import (barrier, destroy_process_group, get_rank,
                                                get_world_size, init_process_group, is_available,
                                                is_initialized)

__all__ = ["init_process_group", "is_initialized", "is_available", "get_rank", "get_world_size",
           "barrier", "destroy_process_group", "ReduceOp", "Work", "broadcast", "all_reduce",
           "reduce", "all_gather", "all_gather_into_tensor"]
