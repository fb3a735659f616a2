"""Collectives on Tensors, as ``torch.distributed``: ``broadcast``, ``all_reduce``, ``reduce``,
``all_gather``, ``all_gather_into_tensor``.

Each one works in place on the tensor's own array through MPI's buffer calls (no pickling):
a contiguous array is handed to MPI as it is; a non-contiguous one goes through a contiguous
copy that is written back. Before the data moves, the ranks compare what they pass (dtype and
shape, one small ``Allgather``): MPI trusts the buffer sizes it is given, so a mismatch would
otherwise read or write past an array, or hang. A mismatch raises RuntimeError on every rank.

``async_op=True`` posts the non-blocking MPI call and returns a ``Work`` whose ``wait()``
finishes it (``ReduceOp.AVG``'s division and the write-back happen there).
"""
import enum

import numpy as np

from fastgrad.distributed.process_group import default_group

__all__ = ["ReduceOp", "Work", "broadcast", "all_reduce", "reduce", "all_gather",
           "all_gather_into_tensor"]


class ReduceOp(enum.Enum):
    """How ``all_reduce`` and ``reduce`` combine the ranks' tensors elementwise."""

    SUM = "sum"
    AVG = "avg"
    PRODUCT = "product"
    MAX = "max"
    MIN = "min"


def _mpi_op(op):
    from mpi4py import MPI

    if not isinstance(op, ReduceOp):
        raise TypeError(f"op must be a fastgrad.distributed.ReduceOp, got {op!r}")
    # AVG is a SUM followed by a division by the world size (MPI has no average).
    return {ReduceOp.SUM: MPI.SUM, ReduceOp.AVG: MPI.SUM, ReduceOp.PRODUCT: MPI.PROD,
            ReduceOp.MAX: MPI.MAX, ReduceOp.MIN: MPI.MIN}[op]


class Work:
    """A posted collective; ``wait()`` blocks until it is done and the tensor holds the result."""

    def __init__(self, request, finish):
        self._request = request
        self._finish = finish
        self._done = False

    def is_completed(self):
        return self._done or bool(self._request.Test())

    def wait(self, timeout=None):
        if not self._done:
            self._request.Wait()
            self._finish()
            self._done = True
        return True


def _signature(arr):
    """Fixed-length int64 description of an array: dtype kind and size, ndim, size, shape."""
    sig = np.full(10, -1, dtype=np.int64)
    sig[0] = ord(arr.dtype.kind) * 100 + arr.dtype.itemsize
    sig[1], sig[2] = arr.ndim, arr.size
    sig[3:3 + min(arr.ndim, 7)] = arr.shape[:7]
    return sig


def _describe(sig):
    kind, itemsize = chr(int(sig[0]) // 100), int(sig[0]) % 100
    dtype = np.dtype(f"{kind}{itemsize}") if kind in "biufc" else f"kind {kind!r}"
    shape = tuple(int(d) for d in sig[3:3 + min(int(sig[1]), 7)])
    if sig[1] > 7:
        shape = shape + ("...",)
    return f"{shape} {dtype}"


def _check_same_everywhere(group, name, arr):
    """Raise RuntimeError on every rank unless all ranks pass arrays of one dtype and shape."""
    sig = _signature(arr)
    everyone = np.empty((group.size, sig.size), dtype=np.int64)
    group.comm.Allgather(sig, everyone)
    if not (everyone == sig).all():
        listing = ", ".join(f"rank {r}: {_describe(s)}" for r, s in enumerate(everyone))
        raise RuntimeError(f"{name}: every rank must pass a tensor of the same shape and dtype, "
                           f"got {listing}")


def _buffer(tensor, name):
    from fastgrad.autograd.tensor import Tensor

    if not isinstance(tensor, Tensor):
        raise TypeError(f"{name} expects a fastgrad.Tensor, got {type(tensor).__name__}")
    arr = tensor.arr
    return arr if arr.flags.c_contiguous else np.ascontiguousarray(arr)


def _written(tensor, buf, scale=None):
    """The function that puts a collective's result ``buf`` into ``tensor`` (an in-place write)."""
    def finish():
        if scale is not None:
            np.divide(buf, scale, out=buf)
        if buf is not tensor.arr:
            np.copyto(tensor.arr, buf)
        tensor._bump_version()
    return finish


def _run(request, finish, async_op):
    work = Work(request, finish)
    if async_op:
        return work
    work.wait()
    return None


def _average_scale(op, arr, group, name):
    if op is not ReduceOp.AVG:
        return None
    if arr.dtype.kind not in "fc":
        raise RuntimeError(f"{name}: ReduceOp.AVG needs a floating-point tensor, got {arr.dtype}")
    return group.size


def broadcast(tensor, src, group=None, async_op=False):
    """Copy rank ``src``'s ``tensor`` into ``tensor`` on every other rank."""
    group = group or default_group()
    if not 0 <= src < group.size:
        raise ValueError(f"broadcast: src={src} is not a rank of a group of size {group.size}")
    buf = _buffer(tensor, "broadcast")
    _check_same_everywhere(group, "broadcast", buf)
    return _run(group.comm.Ibcast(buf, root=src), _written(tensor, buf), async_op)


def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False):
    """Combine ``tensor`` over all ranks with ``op``; every rank's ``tensor`` gets the result."""
    from mpi4py import MPI

    group = group or default_group()
    mpi_op = _mpi_op(op)
    buf = _buffer(tensor, "all_reduce")
    scale = _average_scale(op, buf, group, "all_reduce")
    _check_same_everywhere(group, "all_reduce", buf)
    request = group.comm.Iallreduce(MPI.IN_PLACE, buf, op=mpi_op)
    return _run(request, _written(tensor, buf, scale), async_op)


def reduce(tensor, dst, op=ReduceOp.SUM, group=None, async_op=False):
    """Combine ``tensor`` over all ranks with ``op`` into rank ``dst``'s ``tensor``; the other
    ranks' tensors are left as they were."""
    from mpi4py import MPI

    group = group or default_group()
    if not 0 <= dst < group.size:
        raise ValueError(f"reduce: dst={dst} is not a rank of a group of size {group.size}")
    mpi_op = _mpi_op(op)
    buf = _buffer(tensor, "reduce")
    scale = _average_scale(op, buf, group, "reduce")
    _check_same_everywhere(group, "reduce", buf)
    if group.rank == dst:
        request = group.comm.Ireduce(MPI.IN_PLACE, buf, op=mpi_op, root=dst)
        return _run(request, _written(tensor, buf, scale), async_op)
    return _run(group.comm.Ireduce(buf, None, op=mpi_op, root=dst), lambda: None, async_op)


def all_gather_into_tensor(output_tensor, input_tensor, group=None, async_op=False):
    """``output_tensor`` (world_size * N, ...) gets every rank's ``input_tensor`` (N, ...),
    stacked along dim 0 in rank order."""
    group = group or default_group()
    buf = _buffer(input_tensor, "all_gather_into_tensor")
    out = _buffer(output_tensor, "all_gather_into_tensor")
    expected = (group.size * buf.shape[0],) + buf.shape[1:] if buf.ndim else (group.size,)
    if out.shape != expected or out.dtype != buf.dtype:
        raise RuntimeError(f"all_gather_into_tensor: output has shape {out.shape} {out.dtype}, "
                           f"expected {expected} {buf.dtype} for {group.size} ranks' input of "
                           f"shape {buf.shape}")
    _check_same_everywhere(group, "all_gather_into_tensor", buf)
    return _run(group.comm.Iallgather(buf, out), _written(output_tensor, out), async_op)


def all_gather(tensor_list, tensor, group=None, async_op=False):
    """``tensor_list[r]`` gets rank r's ``tensor``; ``tensor_list`` holds world_size tensors
    shaped as ``tensor``."""
    group = group or default_group()
    buf = _buffer(tensor, "all_gather")
    if len(tensor_list) != group.size:
        raise ValueError(f"all_gather: tensor_list has {len(tensor_list)} tensors for a group "
                         f"of {group.size} ranks")
    for i, t in enumerate(tensor_list):
        if tuple(t.shape) != buf.shape:
            raise RuntimeError(f"all_gather: tensor_list[{i}] has shape {tuple(t.shape)}, the "
                               f"input tensor {buf.shape}")
    _check_same_everywhere(group, "all_gather", buf)
    gathered = np.empty((group.size,) + buf.shape, dtype=buf.dtype)

    def finish():
        for t, part in zip(tensor_list, gathered):
            np.copyto(t.arr, part, casting="unsafe")
            t._bump_version()
    return _run(group.comm.Iallgather(buf, gathered), finish, async_op)
