"""``DistributedDataParallel``: the same model on every rank, gradients averaged across ranks
after each backward (``torch.nn.parallel.DistributedDataParallel``)."""
import contextlib
import zlib

import numpy as np

from fastgrad.autograd.grad_mode import is_grad_enabled
from fastgrad.autograd.tensor import Tensor
from fastgrad.nn.module import Module
from fastgrad.nn.parallel.reducer import Reducer, Round


class DistributedDataParallel(Module):
    """Wrap ``module`` for data-parallel training over the ranks of the default process group.

    At construction rank 0's parameters and buffers are copied to every rank, so all ranks start
    identical (and the ranks check that their models have the same parameter names, shapes and
    dtypes: RuntimeError otherwise). After each ``backward()`` through this module's output,
    every parameter's ``.grad`` is the average over the ranks of their gradients, so an
    optimiser step keeps the ranks identical; ``no_sync()`` skips the averaging for gradient
    accumulation. The wrapped module is ``self.module``: state_dict keys start with
    ``module.``.

    ``bucket_cap_mb``: size of the flat buffers gradients are averaged in (one MPI
    ``Allreduce`` per bucket). ``broadcast_buffers``: copy rank 0's buffers at every forward.
    ``device_ids``, ``output_device``, ``dim``, ``find_unused_parameters``,
    ``gradient_as_bucket_view`` and ``static_graph`` are PyTorch's and accepted: fastgrad is CPU
    only, always finds unused parameters (an unused parameter counts as a zero gradient on that
    rank) and always gives gradients as views of the bucket.

    As in PyTorch, every rank must run the same number of forward / backward passes through the
    module, and a forward with gradients on must be followed by its backward before the next one
    (RuntimeError otherwise). During the forward the module's parameters are seen through
    identity stand-ins (see ``fastgrad/nn/parallel/reducer.py``): code that tests
    ``isinstance(self.weight, Parameter)`` inside ``forward`` sees a Tensor.
    """

    def __init__(self, module, device_ids=None, output_device=None, dim=0, broadcast_buffers=True,
                 process_group=None, bucket_cap_mb=25, find_unused_parameters=False,
                 check_reduction=False, gradient_as_bucket_view=False, static_graph=False):
        super().__init__()
        from fastgrad.distributed.process_group import default_group

        if not isinstance(module, Module):
            raise TypeError(f"DistributedDataParallel wraps a fastgrad.nn.Module, got "
                            f"{type(module).__name__}")
        if device_ids not in (None, [], ["cpu"]) or output_device not in (None, "cpu"):
            raise ValueError("fastgrad is CPU only: device_ids and output_device must be None")
        if not bucket_cap_mb > 0:
            raise ValueError(f"bucket_cap_mb must be > 0, got {bucket_cap_mb}")
        self.module = module
        self.process_group = process_group or default_group()
        self.broadcast_buffers = broadcast_buffers
        self.require_backward_grad_sync = True
        params = [p for p in module.parameters() if p.requires_grad]
        if not params:
            raise RuntimeError("DistributedDataParallel is not needed when a module doesn't have "
                               "any parameter that requires a gradient.")
        _check_same_model(self.process_group, module)
        for tensor in list(module.parameters()) + list(module.buffers()):
            _broadcast_from_rank0(self.process_group, tensor)
        self.reducer = Reducer(params, self.process_group, bucket_cap_mb)

    @contextlib.contextmanager
    def no_sync(self):
        """Backward passes inside accumulate gradients locally, without averaging; the first
        backward after it averages everything accumulated."""
        previous = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = previous

    def forward(self, *inputs, **kwargs):
        if self.reducer.unfinished():
            raise RuntimeError(
                "Expected to have finished reduction in the prior iteration before starting a new "
                "one: the previous forward's output took no backward() that reached all of its "
                "parameters (call backward on it, or run that forward under no_grad())")
        if self.broadcast_buffers:
            for buffer in self.module.buffers():
                _broadcast_from_rank0(self.process_group, buffer)
        if not (is_grad_enabled() and self.require_backward_grad_sync):
            return self.module(*inputs, **kwargs)
        round_ = Round(self.reducer)
        with _stand_ins(self.module, self.reducer.params, round_):
            output = self.module(*inputs, **kwargs)
        self.reducer.round = round_ if round_.expect(_tensors_in(output)) else None
        return output


@contextlib.contextmanager
def _stand_ins(module, params, round_):
    """Put each parameter's stand-in for this round in every module that holds it, and put
    the parameters back afterwards."""
    index_of = {id(p): i for i, p in enumerate(params)}
    swapped = []
    try:
        for sub in module.modules():
            for name, p in sub._parameters.items():
                if p is not None and id(p) in index_of:
                    sub._parameters[name] = round_.stand_in(index_of[id(p)])
                    swapped.append((sub, name, p))
        yield
    finally:
        for sub, name, p in swapped:
            sub._parameters[name] = p


def _tensors_in(output):
    """The Tensors in a forward's output (nested in tuples, lists and dicts)."""
    if isinstance(output, Tensor):
        return [output]
    if isinstance(output, (tuple, list)):
        return [t for item in output for t in _tensors_in(item)]
    if isinstance(output, dict):
        return [t for item in output.values() for t in _tensors_in(item)]
    return []


def _broadcast_from_rank0(group, tensor):
    arr = tensor.arr
    buf = arr if arr.flags.c_contiguous else np.ascontiguousarray(arr)
    group.comm.Bcast(buf, root=0)
    if buf is not arr:
        np.copyto(arr, buf)
    tensor._bump_version()


def _check_same_model(group, module):
    """RuntimeError on every rank unless all ranks hold parameters and buffers of the same
    names, shapes and dtypes (else the broadcasts and bucket reductions would not match)."""
    layout = [(name, tuple(t.arr.shape), str(t.arr.dtype))
              for name, t in list(module.named_parameters()) + list(module.named_buffers())]
    mine = np.array([zlib.crc32(repr(layout).encode()), len(layout)], dtype=np.int64)
    everyone = np.empty((group.size, 2), dtype=np.int64)
    group.comm.Allgather(mine, everyone)
    if not (everyone == mine).all():
        counts = ", ".join(f"rank {r}: {int(n)} tensors" for r, (_, n) in enumerate(everyone))
        raise RuntimeError("DistributedDataParallel: the ranks' models differ in parameter or "
                           f"buffer names, shapes or dtypes ({counts}); this rank has {layout}")
