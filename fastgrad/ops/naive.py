"""The naive reference conv2d and max_pool2d: loops over output positions (the original
fastgrad algorithm, ``out[:, :, i, j] = tensordot(region, W)``), now differentiable with
backwards that are loops over output positions too.

They share nothing with the im2col / numba versions except argument validation, which
makes them the tests' oracle and the benchmarks' baseline.
"""
import numpy as np

from fastgrad.autograd.function import GradFn, needs_grad
from fastgrad.autograd.tensor import Tensor
from fastgrad.ops._operands import as_tensor
from fastgrad.ops.conv_geometry import batched, conv2d_geometry, pool2d_geometry


def _window(geo, i, j):
    """Slices of the padded input that output position (i, j) reads."""
    rows = slice(i * geo.sh, i * geo.sh + geo.dh * (geo.kh - 1) + 1, geo.dh)
    cols = slice(j * geo.sw, j * geo.sw + geo.dw * (geo.kw - 1) + 1, geo.dw)
    return rows, cols


class NaiveConv2dGradFn(GradFn):
    fresh_grads = True  # d_x is a view of d_padded: the engine copies it for a leaf

    def __init__(self, x, weight, bias, padded, geometry):
        super().__init__(x, weight, bias)
        self.save_for_backward(weight, padded)  # padded: x's values, copied by the forward
        self.save_for_create_graph(x)
        self.geometry = geometry

    def backward(self, grad_output):
        if self.create_graph:  # recorded: the differentiable gradient ops of ops/conv_grad.py
            from fastgrad.ops.conv_grad import conv2d_create_graph_backward

            return conv2d_create_graph_backward(self, grad_output)
        weight, padded = self.saved_tensors
        geo = self.geometry
        need_x, need_w, need_b = self.needs_input_grad
        d_padded = np.zeros_like(padded) if need_x else None
        d_weight = np.zeros_like(weight) if need_w else None
        for i in range(geo.out_h):
            for j in range(geo.out_w):
                rows, cols = _window(geo, i, j)
                go = grad_output[:, :, i, j]  # (N, O)
                if need_w:
                    d_weight += np.tensordot(go, padded[:, :, rows, cols], axes=([0], [0]))
                if need_x:
                    d_padded[:, :, rows, cols] += np.tensordot(go, weight, axes=([1], [0]))
        d_x = d_padded[:, :, geo.ph:geo.ph + geo.h, geo.pw:geo.pw + geo.w] if need_x else None
        d_bias = grad_output.sum(axis=(0, 2, 3)) if need_b else None
        return d_x, d_weight, d_bias


def conv2d_naive(input, weight, bias=None, stride=1, padding=0, dilation=1):
    """Same contract as ``fastgrad.nn.functional.conv2d``: (N, C, H, W) -> (N, O, OH, OW)."""
    x, weight = as_tensor(input), as_tensor(weight)
    x, unbatched = batched(x)
    geo = conv2d_geometry(x, weight, bias, stride, padding, dilation)
    padded = np.pad(x.arr, ((0, 0), (0, 0), (geo.ph, geo.ph), (geo.pw, geo.pw)))
    out = np.empty((geo.n, geo.out_channels, geo.out_h, geo.out_w), dtype=x.dtype)
    for i in range(geo.out_h):
        for j in range(geo.out_w):
            rows, cols = _window(geo, i, j)
            out[:, :, i, j] = np.tensordot(padded[:, :, rows, cols], weight.arr, axes=([1, 2, 3], [1, 2, 3]))
    if bias is not None:
        out += bias.arr[:, None, None]
    fn = NaiveConv2dGradFn(x, weight, bias, padded, geo) if needs_grad(x, weight, bias) else None
    result = Tensor._wrap(out, fn)
    return result.squeeze(0) if unbatched else result


class NaiveMaxPool2dGradFn(GradFn):
    def __init__(self, x, argmax, geometry):
        super().__init__(x)
        self.save_for_backward(argmax)  # (N, C, OH, OW) flat index into each window
        self.geometry = geometry

    def backward(self, grad_output):
        argmax, = self.saved_tensors
        geo = self.geometry
        if self.create_graph:  # recorded: a differentiable scatter to the argmax (ops/pool_grad.py)
            from fastgrad.ops.pool_grad import scatter_to_argmax

            win_r, win_c = np.divmod(argmax, geo.kw)
            rows = np.arange(geo.out_h).reshape(-1, 1) * geo.sh + win_r - geo.ph
            cols = np.arange(geo.out_w) * geo.sw + win_c - geo.pw
            return (scatter_to_argmax(grad_output, rows * geo.w + cols, (geo.n, geo.c, geo.h, geo.w)),)
        d_padded = np.zeros((geo.n, geo.c, geo.h + 2 * geo.ph, geo.w + 2 * geo.pw), dtype=grad_output.dtype)
        n_idx, c_idx = np.meshgrid(np.arange(geo.n), np.arange(geo.c), indexing="ij")
        for i in range(geo.out_h):
            for j in range(geo.out_w):
                win_r, win_c = np.divmod(argmax[:, :, i, j], geo.kw)
                # Each (n, c) hits one element here, so this fancy-index add has no repeats.
                d_padded[n_idx, c_idx, i * geo.sh + win_r, j * geo.sw + win_c] += grad_output[:, :, i, j]
        return (d_padded[:, :, geo.ph:geo.ph + geo.h, geo.pw:geo.pw + geo.w],)


def max_pool2d_naive(input, kernel_size, stride=None, padding=0):
    """Same contract as ``fastgrad.nn.functional.max_pool2d``; ties go to the first maximum."""
    x, unbatched = batched(as_tensor(input))
    geo = pool2d_geometry(x, kernel_size, stride, padding, "max_pool2d")
    padded = np.pad(x.arr, ((0, 0), (0, 0), (geo.ph, geo.ph), (geo.pw, geo.pw)), constant_values=-np.inf)
    out = np.empty((geo.n, geo.c, geo.out_h, geo.out_w), dtype=x.dtype)
    argmax = np.empty((geo.n, geo.c, geo.out_h, geo.out_w), dtype=np.int64)
    for i in range(geo.out_h):
        for j in range(geo.out_w):
            window = padded[:, :, i * geo.sh:i * geo.sh + geo.kh, j * geo.sw:j * geo.sw + geo.kw].reshape(geo.n, geo.c, geo.kh * geo.kw)
            # np.argmax returns the first maximum (and the first NaN), as PyTorch picks.
            argmax[:, :, i, j] = np.argmax(window, axis=2)
            out[:, :, i, j] = np.take_along_axis(window, argmax[:, :, i, j, None], axis=2)[..., 0]
    fn = NaiveMaxPool2dGradFn(x, argmax, geo) if needs_grad(x) else None
    result = Tensor._wrap(out, fn)
    return result.squeeze(0) if unbatched else result
