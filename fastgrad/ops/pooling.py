"""max_pool2d (forward records each window's argmax; backward scatters to it) and avg_pool2d,
on numba kernels. PyTorch's semantics: floor output size, padding as -inf for max and as
zeros counted in the mean for avg, ties to the first maximum, NaN propagates."""
import numpy as np

from fastgrad.autograd.function import GradFn, needs_grad
from fastgrad.autograd.tensor import Tensor
from fastgrad.kernels import (avgpool2d_backward, avgpool2d_forward, maxpool2d_backward,
                              maxpool2d_forward, maxpool2d_forward_2x2s2)
from fastgrad.kernels.threads import batch_chunks, run_chunks
from fastgrad.ops._operands import as_tensor
from fastgrad.ops.conv_geometry import batched, pool2d_geometry


# Inputs of at most this many elements are pooled on the calling thread alone: handing half
# of a small batch to another thread costs more than it saves (pool2 of the reference CNN,
# 248k elements, is 1.3-1.5x slower split; docs/performance.md, "Threads").
_SERIAL_MAX_ELEMENTS = 2**18


def _by_chunks(kernel, *arrays):
    """``kernel(*(a[lo:hi] for a in arrays))`` on each chunk of the batch, one chunk per
    thread (one chunk for a small input): every array here has the batch as its first axis,
    and pooling never mixes images."""
    n = arrays[0].shape[0]
    chunks = batch_chunks(n) if max(a.size for a in arrays) > _SERIAL_MAX_ELEMENTS else [(0, n)]
    run_chunks(lambda i, lo, hi: kernel(*(a[lo:hi] for a in arrays)), chunks)


class MaxPool2dGradFn(GradFn):
    fresh_grads = True

    def __init__(self, x, argmax, geometry):
        super().__init__(x)
        self.in_shape = x.arr.shape
        self.geometry = geometry  # read by graph exporters (fastgrad.onnx), as avg-pool's is
        self.save_for_backward(argmax)

    def backward(self, grad_output):
        if self.create_graph:  # recorded: differentiable ops instead of the kernel
            from fastgrad.ops.pool_grad import max_pool2d_create_graph_backward

            return max_pool2d_create_graph_backward(self, grad_output)
        argmax, = self.saved_tensors
        d_x = np.empty(self.in_shape, dtype=grad_output.dtype)
        _by_chunks(maxpool2d_backward, np.ascontiguousarray(grad_output), argmax, d_x)
        return (d_x,)


def max_pool2d(input, kernel_size, stride=None, padding=0, return_indices=False):
    """x (N, C, H, W) or (C, H, W) -> (N, C, OH, OW), OH = (H + 2*ph - KH) // sh + 1.

    ``stride`` defaults to ``kernel_size``. With ``return_indices`` also returns the flat
    index (h * W + w) of each chosen element in its input plane, as int64.
    """
    x, unbatched = batched(as_tensor(input))
    geo = pool2d_geometry(x, kernel_size, stride, padding, "max_pool2d")
    out = np.empty((geo.n, geo.c, geo.out_h, geo.out_w), dtype=x.dtype)
    # int32 halves the argmax traffic; an MNIST-sized plane index fits easily.
    index_dtype = np.int32 if geo.h * geo.w < 2**31 else np.int64
    argmax = np.empty((geo.n, geo.c, geo.out_h, geo.out_w), dtype=index_dtype)
    x_arr = np.ascontiguousarray(x.arr)
    if (geo.kh, geo.kw, geo.sh, geo.sw, geo.ph, geo.pw) == (2, 2, 2, 2, 0, 0):
        _by_chunks(lambda x, out, argmax: maxpool2d_forward_2x2s2(x, geo.out_h, geo.out_w, out,
                                                                   argmax),
                   x_arr, out, argmax)
    else:
        _by_chunks(lambda x, out, argmax: maxpool2d_forward(x, geo.kh, geo.kw, geo.sh, geo.sw, geo.ph,
                                                            geo.pw, geo.out_h, geo.out_w, out, argmax),
                   x_arr, out, argmax)
    result = Tensor._wrap(out, MaxPool2dGradFn(x, argmax, geo) if needs_grad(x) else None)
    indices = Tensor._wrap(argmax.astype(np.int64)) if return_indices else None
    if unbatched:
        result = result.squeeze(0)
        indices = indices.squeeze(0) if indices is not None else None
    return (result, indices) if return_indices else result


class AvgPool2dGradFn(GradFn):
    fresh_grads = True

    def __init__(self, x, geometry):
        super().__init__(x)
        self.geometry = geometry

    def backward(self, grad_output):
        if self.create_graph:  # recorded: differentiable ops instead of the kernel
            from fastgrad.ops.pool_grad import avg_pool2d_create_graph_backward

            return avg_pool2d_create_graph_backward(self, grad_output)
        geo = self.geometry
        d_x = np.empty((geo.n, geo.c, geo.h, geo.w), dtype=grad_output.dtype)
        _by_chunks(lambda grad, d_x: avgpool2d_backward(grad, geo.kh, geo.kw, geo.sh, geo.sw, geo.ph,
                                                        geo.pw, d_x),
                   np.ascontiguousarray(grad_output), d_x)
        return (d_x,)


def avg_pool2d(input, kernel_size, stride=None, padding=0):
    """Mean over windows, zero padding counted (PyTorch's count_include_pad=True)."""
    x, unbatched = batched(as_tensor(input))
    geo = pool2d_geometry(x, kernel_size, stride, padding, "avg_pool2d")
    out = np.empty((geo.n, geo.c, geo.out_h, geo.out_w), dtype=x.dtype)
    _by_chunks(lambda x, out: avgpool2d_forward(x, geo.kh, geo.kw, geo.sh, geo.sw, geo.ph, geo.pw,
                                                geo.out_h, geo.out_w, out),
               np.ascontiguousarray(x.arr), out)
    result = Tensor._wrap(out, AvgPool2dGradFn(x, geo) if needs_grad(x) else None)
    return result.squeeze(0) if unbatched else result
