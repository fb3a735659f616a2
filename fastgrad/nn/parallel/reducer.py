"""The gradient averaging of ``DistributedDataParallel``: buckets, and one reduction round per
backward.

Gradients are packed into a few flat buckets (``bucket_cap_mb`` each, parameters in reverse
registration order, the order backward usually finishes them), so a step makes one MPI
``Allreduce`` per bucket instead of one per parameter.

How DDP learns that a parameter's gradient is ready without a hook in the autograd engine:
while the wrapped module runs its forward, each parameter is replaced in its module by a
stand-in, an identity of the parameter whose node (``GradReady``) is the parameter's only
consumer in the graph. The engine runs a node only once every consumer of its output has
contributed, so when ``GradReady`` runs, its ``grad_output`` is the parameter's whole gradient
for this backward. The node copies it into the bucket (plus the gradient already in
``.grad``, accumulated under ``no_sync``) and returns no gradient: the engine leaves ``.grad``
alone, and the round writes the averaged bucket slices into ``.grad`` once every parameter
the forward used has reported.

A bucket's ``Iallreduce`` is posted as soon as it and every bucket before it are complete:
MPI needs every rank to post collectives in one order, and bucket order is the same on every
rank even when the order gradients arrive in differs.
"""
import numpy as np

from fastgrad.autograd.function import GradFn
from fastgrad.autograd.tensor import Tensor


class Bucket:
    """Parameters (indices into the reducer's list) sharing one flat buffer of one dtype."""

    def __init__(self, dtype):
        self.dtype = dtype
        self.indices = []
        self.slices = []
        self.numel = 0

    def add(self, index, numel):
        self.indices.append(index)
        self.slices.append(slice(self.numel, self.numel + numel))
        self.numel += numel


def make_buckets(params, cap_bytes):
    """Buckets over ``params`` in reverse order, one dtype each, at most ``cap_bytes`` each
    (a larger parameter gets a bucket of its own)."""
    buckets, open_by_dtype = [], {}
    for index in reversed(range(len(params))):
        arr = params[index].arr
        bucket = open_by_dtype.get(arr.dtype)
        if bucket is None or (bucket.numel + arr.size) * arr.itemsize > cap_bytes and bucket.numel:
            bucket = open_by_dtype[arr.dtype] = Bucket(arr.dtype)
            buckets.append(bucket)
        bucket.add(index, arr.size)
    return buckets


class GradReady(GradFn):
    """Identity node of a parameter's stand-in: reports the parameter's complete gradient to
    the round and passes nothing on (the round writes ``.grad``)."""

    def __init__(self, param, round_, index):
        super().__init__(param)
        # Only ints and the round are kept: release() would drop a saved Tensor after the first
        # backward, and a second one (retain_graph=True elsewhere in the graph) must still report.
        self.round = round_
        self.index = index

    def backward(self, grad_output):
        self.round.ready(self.index, grad_output)
        return (None,)


class Round:
    """One forward's reduction: expects the parameters the forward's graph reaches, collects
    their gradients into fresh bucket buffers, averages them across ranks, sets ``.grad``."""

    def __init__(self, reducer):
        self.reducer = reducer
        self.stand_ins = {}  # id(param) -> its stand-in Tensor for this forward
        self.expected = set()
        self.finished = False

    def stand_in(self, index):
        param = self.reducer.params[index]
        found = self.stand_ins.get(id(param))
        if found is None:
            found = Tensor._wrap(param.arr, GradReady(param, self, index), base=param)
            self.stand_ins[id(param)] = found
        return found

    def expect(self, outputs):
        """Find which stand-ins the graph of ``outputs`` reaches; get the buckets ready.
        Returns False when it reaches none (nothing to reduce)."""
        nodes = {id(t.grad_fn): t.grad_fn for t in self.stand_ins.values()}
        seen, stack = set(), [t.grad_fn for t in outputs if t.grad_fn is not None]
        while stack:
            fn = stack.pop()
            if id(fn) in seen:
                continue
            seen.add(id(fn))
            if id(fn) in nodes:
                self.expected.add(fn.index)
                continue
            stack.extend(edge for edge in fn.next_edges if isinstance(edge, GradFn))
        if not self.expected:
            return False
        self._arm()
        return True

    def _arm(self):
        reducer = self.reducer
        self.buffers = [np.empty(b.numel, dtype=b.dtype) for b in reducer.buckets]
        self.missing = [0] * len(reducer.buckets)
        self.left = len(self.expected)
        self.requests = [None] * len(reducer.buckets)
        self.next_bucket = 0
        for b, bucket in enumerate(reducer.buckets):
            for index, where in zip(bucket.indices, bucket.slices):
                if index in self.expected:
                    self.missing[b] += 1
                else:  # unused by this forward: this rank contributes what .grad holds, or 0
                    grad = reducer.params[index].grad
                    self.buffers[b][where] = 0 if grad is None else grad.arr.ravel()

    def ready(self, index, grad):
        """``grad``, parameter ``index``'s gradient from this backward, is complete."""
        if self.finished:  # a second backward through the same graph: a new round
            self.finished = False
            self._arm()
        reducer = self.reducer
        b, where = reducer.location[index]
        previous = reducer.params[index].grad
        if previous is None:
            self.buffers[b][where] = grad.ravel()
        else:  # gradients accumulated under no_sync() are averaged with this step's
            np.add(previous.arr.ravel(), grad.ravel(), out=self.buffers[b][where])
        self.missing[b] -= 1
        self.left -= 1
        if reducer.overlap:
            self._post_complete_buckets()
        if self.left == 0:
            self._finish()

    def _post_complete_buckets(self):
        while self.next_bucket < len(self.buffers) and self.missing[self.next_bucket] == 0:
            self._post(self.next_bucket)
            self.next_bucket += 1

    def _post(self, b):
        from mpi4py import MPI

        self.requests[b] = self.reducer.comm.Iallreduce(MPI.IN_PLACE, self.buffers[b], op=MPI.SUM)

    def _finish(self):
        from mpi4py import MPI

        reducer = self.reducer
        for b in range(self.next_bucket, len(self.buffers)):
            self._post(b)
        self.next_bucket = len(self.buffers)
        MPI.Request.Waitall(self.requests)
        for bucket, buffer in zip(reducer.buckets, self.buffers):
            buffer /= reducer.world_size
            for index, where in zip(bucket.indices, bucket.slices):
                param = reducer.params[index]
                param.grad = Tensor._wrap(buffer[where].reshape(param.arr.shape))
        self.finished = True


class Reducer:
    """The bucket layout of one DDP module and the round of its latest forward."""

    def __init__(self, params, group, bucket_cap_mb, overlap=True):
        self.params = params
        self.comm = group.comm
        self.world_size = group.size
        self.buckets = make_buckets(params, int(bucket_cap_mb * 1024 * 1024))
        self.location = {}
        for b, bucket in enumerate(self.buckets):
            for index, where in zip(bucket.indices, bucket.slices):
                self.location[index] = (b, where)
        self.overlap = overlap
        self.round = None

    def unfinished(self):
        return self.round is not None and not self.round.finished
