"""max_pool2d (forward records each window's argmax; backward scatters to it) and avg_pool2d,
on numba kernels. PyTorch's semantics: floor output size, padding as -inf for max and as
zeros counted in the mean for avg, ties to the first maximum, NaN propagates."""
import numba
import numpy as np

from fastgrad.autograd.function import GradFn, needs_grad
from fastgrad.autograd.tensor import Tensor
from fastgrad.kernels import (avgpool2d_backward, avgpool2d_forward, maxpool2d_backward,
                              maxpool2d_forward)
from fastgrad.ops._operands import as_tensor
from fastgrad.ops.conv_geometry import batched, pool2d_geometry


# Max-pool kernels on inputs of at most this many elements run on one numba thread: waking
# the OpenMP threads (OMP_WAIT_POLICY=PASSIVE, they sleep between kernels) costs more than
# the second core gives back on a small batch. Layer fwd+bwd at batch 64 float32, 1 thread
# against 2, interleaved in one process: pool2 (64,32,11,11), 248k elements, 0.225 vs
# 0.349 ms (0.65x); pool1 (64,16,26,26), 692k elements, 0.679 vs 0.570 ms (1.19x).
_SERIAL_MAX_ELEMENTS = 2**18


class _numba_threads:
    """Context manager: the calling thread's numba kernels at ``n`` threads inside (None:
    unchanged), the previous count after."""

    def __init__(self, n):
        self.n = n
        self.saved = None

    def __enter__(self):
        if self.n is not None:
            self.saved = numba.get_num_threads()
            numba.set_num_threads(min(self.n, self.saved))
        return self

    def __exit__(self, *exc):
        if self.n is not None:
            numba.set_num_threads(self.saved)
        return False


def _kernel_threads(size):
    """``_numba_threads`` for a max-pool kernel over an input of ``size`` elements."""
    return _numba_threads(1 if size <= _SERIAL_MAX_ELEMENTS else None)


class MaxPool2dGradFn(GradFn):
    def __init__(self, x, argmax):
        super().__init__(x)
        self.in_shape = x.arr.shape
        self.argmax = argmax

    def backward(self, grad_output):
        d_x = np.empty(self.in_shape, dtype=grad_output.dtype)
        with _kernel_threads(d_x.size):
            maxpool2d_backward(np.ascontiguousarray(grad_output), self.argmax, d_x)
        return (d_x,)


def max_pool2d(input, kernel_size, stride=None, padding=0, return_indices=False):
    """x (N, C, H, W) or (C, H, W) -> (N, C, OH, OW), OH = (H + 2*ph - KH) // sh + 1.

    ``stride`` defaults to ``kernel_size``. With ``return_indices`` also returns the flat
    index (h * W + w) of each chosen element in its input plane, as int64.
    """
    x, unbatched = batched(as_tensor(input))
    g = pool2d_geometry(x, kernel_size, stride, padding, "max_pool2d")
    out = np.empty((g.n, g.c, g.out_h, g.out_w), dtype=x.dtype)
    # int32 halves the argmax traffic; an MNIST-sized plane index fits easily.
    index_dtype = np.int32 if g.h * g.w < 2**31 else np.int64
    argmax = np.empty((g.n, g.c, g.out_h, g.out_w), dtype=index_dtype)
    with _kernel_threads(x.arr.size):
        maxpool2d_forward(np.ascontiguousarray(x.arr), g.kh, g.kw, g.sh, g.sw, g.ph, g.pw,
                          g.out_h, g.out_w, out, argmax)
    result = Tensor._wrap(out, MaxPool2dGradFn(x, argmax) if needs_grad(x) else None)
    indices = Tensor._wrap(argmax.astype(np.int64)) if return_indices else None
    if unbatched:
        result = result.squeeze(0)
        indices = indices.squeeze(0) if indices is not None else None
    return (result, indices) if return_indices else result


class AvgPool2dGradFn(GradFn):
    def __init__(self, x, geometry):
        super().__init__(x)
        self.geometry = geometry

    def backward(self, grad_output):
        g = self.geometry
        d_x = np.empty((g.n, g.c, g.h, g.w), dtype=grad_output.dtype)
        avgpool2d_backward(np.ascontiguousarray(grad_output), g.kh, g.kw, g.sh, g.sw,
                                   g.ph, g.pw, d_x)
        return (d_x,)


def avg_pool2d(input, kernel_size, stride=None, padding=0):
    """Mean over windows, zero padding counted (PyTorch's count_include_pad=True)."""
    x, unbatched = batched(as_tensor(input))
    g = pool2d_geometry(x, kernel_size, stride, padding, "avg_pool2d")
    out = np.empty((g.n, g.c, g.out_h, g.out_w), dtype=x.dtype)
    avgpool2d_forward(np.ascontiguousarray(x.arr), g.kh, g.kw, g.sh, g.sw, g.ph, g.pw,
                              g.out_h, g.out_w, out)
    result = Tensor._wrap(out, AvgPool2dGradFn(x, g) if needs_grad(x) else None)
    return result.squeeze(0) if unbatched else result
