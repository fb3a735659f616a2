"""The naive reference conv2d and pools: loops over output positions (the original
fastgrad algorithm, ``out[:, :, i, j] = tensordot(region, W)``), now differentiable with
backwards that are loops over output positions too.

They share nothing with the im2col / numba versions except argument validation, which
makes them the tests' oracle and the benchmarks' baseline.
"""
import numpy as np

from fastgrad.autograd.function import GradFn, needs_grad
from fastgrad.autograd.tensor import Tensor
from fastgrad.ops._operands import as_tensor
from fastgrad.ops.conv_geometry import (batched, check_pool_dtype, conv2d_geometry, pool2d_geometry,
                                        pool_planes)
from fastgrad.ops.linear_map import linear_map
from fastgrad.ops.pooling import unpool_output_size


def _window(geo, i, j):
    """Slices of the padded input that output position (i, j) reads."""
    rows = slice(i * geo.sh, i * geo.sh + geo.dh * (geo.kh - 1) + 1, geo.dh)
    cols = slice(j * geo.sw, j * geo.sw + geo.dw * (geo.kw - 1) + 1, geo.dw)
    return rows, cols


def _groups(geo):
    """(output channel slice, input channel slice) of each group."""
    og, cg = geo.out_channels // geo.groups, geo.c // geo.groups
    return [(slice(i * og, (i + 1) * og), slice(i * cg, (i + 1) * cg)) for i in range(geo.groups)]


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
                for outs, ins in _groups(geo):
                    go = grad_output[:, outs, i, j]  # (N, O/G)
                    if need_w:
                        d_weight[outs] += np.tensordot(go, padded[:, ins, rows, cols], axes=([0], [0]))
                    if need_x:
                        d_padded[:, ins, rows, cols] += np.tensordot(go, weight[outs], axes=([1], [0]))
        d_x = d_padded[:, :, geo.ph:geo.ph + geo.h, geo.pw:geo.pw + geo.w] if need_x else None
        d_bias = grad_output.sum(axis=(0, 2, 3)) if need_b else None
        return d_x, d_weight, d_bias


def conv2d_naive(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """Same contract as ``fastgrad.nn.functional.conv2d`` for int padding: (N, C, H, W) ->
    (N, O, OH, OW), each group of C/G input channels feeding its O/G output channels."""
    x, weight = as_tensor(input), as_tensor(weight)
    x, unbatched = batched(x)
    geo = conv2d_geometry(x, weight, bias, stride, padding, dilation, groups)
    padded = np.pad(x.arr, ((0, 0), (0, 0), (geo.ph, geo.ph), (geo.pw, geo.pw)))
    out = np.empty((geo.n, geo.out_channels, geo.out_h, geo.out_w), dtype=x.dtype)
    for i in range(geo.out_h):
        for j in range(geo.out_w):
            rows, cols = _window(geo, i, j)
            for outs, ins in _groups(geo):
                out[:, outs, i, j] = np.tensordot(padded[:, ins, rows, cols], weight.arr[outs],
                                                  axes=([1, 2, 3], [1, 2, 3]))
    if bias is not None:
        out += bias.arr[:, None, None]
    fn = NaiveConv2dGradFn(x, weight, bias, padded, geo) if needs_grad(x, weight, bias) else None
    result = Tensor._wrap(out, fn)
    return result.squeeze(0) if unbatched else result


def _padded(x, geo, fill):
    """x (N, C, H, W) padded by (ph, pw) with ``fill``, plus on the bottom / right what a
    ceil-mode window running past the padding reads (also ``fill``)."""
    extra_h = max(0, (geo.out_h - 1) * geo.sh + geo.dh * (geo.kh - 1) + 1 - (geo.h + 2 * geo.ph))
    extra_w = max(0, (geo.out_w - 1) * geo.sw + geo.dw * (geo.kw - 1) + 1 - (geo.w + 2 * geo.pw))
    return np.pad(x, ((0, 0), (0, 0), (geo.ph, geo.ph + extra_h), (geo.pw, geo.pw + extra_w)),
                  constant_values=fill)


def _unpadded(d_padded, geo):
    return d_padded[:, :, geo.ph:geo.ph + geo.h, geo.pw:geo.pw + geo.w]


def _pool_input(input, name, integers=False):
    """(x, its array as (N, C, H, W), whether unbatched); the result is built from arrays so
    that it is never a view of a temporary tensor."""
    x = as_tensor(input)
    planes, batch = pool_planes(x.arr, 2, name)
    check_pool_dtype(x, name, integers)
    return x, x.arr.reshape(planes), not batch


def _wrap(out, fn, unbatched):
    return Tensor._wrap(out[0] if unbatched else out, fn)


class NaiveMaxPool2dGradFn(GradFn):
    """Backward of the naive max pools: each output's gradient to its recorded position."""

    def __init__(self, x, rows, cols, padded_shape, geometry, adaptive):
        super().__init__(x)
        self.adaptive = adaptive  # windows of adaptive_max_pool2d, not of ``geometry``'s kernel
        self.in_shape = x.arr.shape
        self.save_for_backward(rows, cols)  # (N, C, OH, OW) padded coordinates of each max
        self.padded_shape = padded_shape
        self.geometry = geometry

    def backward(self, grad_output):
        rows, cols = self.saved_tensors
        geo = self.geometry
        if self.create_graph:  # recorded: a differentiable scatter to the maxima (ops/pool_grad.py)
            from fastgrad.ops.pool_grad import scatter_to_argmax

            flat = (rows - geo.ph) * geo.w + (cols - geo.pw)
            return (scatter_to_argmax(grad_output, flat, (geo.n, geo.c, geo.h, geo.w))
                    .reshape(self.in_shape),)
        grad_output = grad_output.reshape(rows.shape)
        d_padded = np.zeros(self.padded_shape, dtype=grad_output.dtype)
        n_idx, c_idx = np.meshgrid(np.arange(geo.n), np.arange(geo.c), indexing="ij")
        for i in range(rows.shape[2]):
            for j in range(rows.shape[3]):
                # Each (n, c) hits one element here, so this fancy-index add has no repeats.
                d_padded[n_idx, c_idx, rows[:, :, i, j], cols[:, :, i, j]] += grad_output[:, :, i, j]
        return (_unpadded(d_padded, geo).reshape(self.in_shape),)


def _max_windows(x, x4, padded, geo, windows, return_indices, unbatched, adaptive=False):
    """The naive max pool over ``windows`` (per output (i, j): row and column slices of
    ``padded``): ``np.argmax`` takes the first maximum (and the first NaN)."""
    n, c = x4.shape[:2]
    out = np.empty((n, c, geo.out_h, geo.out_w), dtype=x4.dtype)
    rows = np.empty(out.shape, dtype=np.int64)
    cols = np.empty(out.shape, dtype=np.int64)
    for (i, j), (row_slice, col_slice) in windows:
        window = padded[:, :, row_slice, col_slice]
        kh, kw = window.shape[2:]
        window = window.reshape(n, c, kh * kw)
        flat = np.argmax(window, axis=2)
        r, q = np.divmod(flat, kw)
        rows[:, :, i, j] = row_slice.start + r * (row_slice.step or 1)
        cols[:, :, i, j] = col_slice.start + q * (col_slice.step or 1)
        out[:, :, i, j] = np.take_along_axis(window, flat[..., None], axis=2)[..., 0]
    fn = NaiveMaxPool2dGradFn(x, rows, cols, padded.shape, geo, adaptive) if needs_grad(x) else None
    result = _wrap(out, fn, unbatched)
    if not return_indices:
        return result
    indices = (rows - geo.ph) * geo.w + (cols - geo.pw)
    return result, Tensor._wrap(indices[0] if unbatched else indices)


def _lowest(dtype):
    return -np.inf if dtype.kind == "f" else np.iinfo(dtype).min


def max_pool2d_naive(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                     return_indices=False):
    """Same contract as ``fastgrad.nn.functional.max_pool2d``; ties go to the first maximum.

    Differs from PyTorch only where np.argmax does: with several NaNs in a window it reports
    the first, and a real -inf after padding reports the padding."""
    x, x4, unbatched = _pool_input(input, "max_pool2d", integers=True)
    geo = pool2d_geometry(x4.shape, kernel_size, stride, padding, "max_pool2d", dilation, ceil_mode)
    padded = _padded(x4, geo, _lowest(x4.dtype))
    windows = (((i, j), _window(geo, i, j)) for i in range(geo.out_h) for j in range(geo.out_w))
    return _max_windows(x, x4, padded, geo, windows, return_indices, unbatched)


def _adaptive_windows(out_h, out_w, h, w):
    """Window (i, j) of PyTorch's adaptive pools: rows [floor(i*h/out_h), ceil((i+1)*h/out_h))."""
    def bounds(i, size, out):
        return slice(i * size // out, -(-(i + 1) * size // out))
    return (((i, j), (bounds(i, h, out_h), bounds(j, w, out_w)))
            for i in range(out_h) for j in range(out_w))


def _adaptive_geometry(x4, output_size):
    n, c, h, w = x4.shape
    out_h, out_w = (output_size, output_size) if isinstance(output_size, int) else output_size
    out_h, out_w = (h if out_h is None else out_h), (w if out_w is None else out_w)
    return pool2d_geometry(x4.shape, 1, 1, 0, "adaptive_pool2d")._replace(out_h=out_h, out_w=out_w)


def adaptive_max_pool2d_naive(input, output_size, return_indices=False):
    """Same contract as ``fastgrad.nn.functional.adaptive_max_pool2d``."""
    x, x4, unbatched = _pool_input(input, "adaptive_max_pool2d")
    geo = _adaptive_geometry(x4, output_size)
    windows = _adaptive_windows(geo.out_h, geo.out_w, geo.h, geo.w)
    return _max_windows(x, x4, x4, geo, windows, return_indices, unbatched, adaptive=True)


class NaiveAvgPool2dGradFn(GradFn):
    """Backward of the naive average pools: each window's elements get grad / divisor."""

    def __init__(self, x, out_shape, windows, divisors, padded_shape, geometry):
        super().__init__(x)
        self.in_shape = x.arr.shape
        self.out_shape = out_shape
        self.windows = windows  # [((i, j), (row slice, column slice))] in padded coordinates
        self.divisors = divisors  # (OH, OW)
        self.padded_shape = padded_shape
        self.geometry = geometry

    def backward(self, grad_output):
        # linear in grad_output, so recorded with create_graph through its adjoint
        return (linear_map(grad_output, self.spread, self.mean),)

    def spread(self, grad_output):
        geo = self.geometry
        grad_output = grad_output.reshape(geo.n, geo.c, geo.out_h, geo.out_w)
        d_padded = np.zeros(self.padded_shape, dtype=grad_output.dtype)
        for (i, j), (rows, cols) in self.windows:
            d_padded[:, :, rows, cols] += (grad_output[:, :, i, j] / self.divisors[i, j])[..., None, None]
        return _unpadded(d_padded, geo).reshape(self.in_shape)

    def mean(self, x):
        """``spread``'s adjoint: the forward's window means of an input-shaped array."""
        geo = self.geometry
        padded = np.zeros(self.padded_shape, dtype=x.dtype)
        padded[:, :, geo.ph:geo.ph + geo.h, geo.pw:geo.pw + geo.w] = x.reshape(geo.n, geo.c, geo.h, geo.w)
        out = np.empty((geo.n, geo.c, geo.out_h, geo.out_w), dtype=x.dtype)
        for (i, j), (rows, cols) in self.windows:
            out[:, :, i, j] = padded[:, :, rows, cols].sum(axis=(2, 3)) / self.divisors[i, j]
        return out.reshape(self.out_shape)


def _avg_windows(x, x4, padded, counted, geo, windows, divisor_override, unbatched):
    """The naive mean over ``windows``: each window's sum over ``padded`` divided by
    ``divisor_override`` or by how many of its elements ``counted`` (1 / 0 per element)
    marks."""
    windows = list(windows)
    out = np.empty((geo.n, geo.c, geo.out_h, geo.out_w), dtype=x4.dtype)
    divisors = np.empty((geo.out_h, geo.out_w))
    for (i, j), (rows, cols) in windows:
        divisors[i, j] = divisor_override or counted[rows, cols].sum()
        out[:, :, i, j] = padded[:, :, rows, cols].sum(axis=(2, 3), dtype=np.float64) / divisors[i, j]
    out_shape = out.shape[1:] if unbatched else out.shape
    fn = NaiveAvgPool2dGradFn(x, out_shape, windows, divisors, padded.shape, geo) if needs_grad(x) else None
    return _wrap(out, fn, unbatched)


def avg_pool2d_naive(input, kernel_size, stride=None, padding=0, ceil_mode=False,
                     count_include_pad=True, divisor_override=None):
    """Same contract as ``fastgrad.nn.functional.avg_pool2d``: the divisor counts the window's
    elements in the input, or with ``count_include_pad`` in the input and its padding (never
    what a ceil-mode window reads past the padding)."""
    x, x4, unbatched = _pool_input(input, "avg_pool2d")
    if divisor_override == 0:
        raise RuntimeError("avg_pool2d: divisor must be not zero, got divisor_override=0")
    geo = pool2d_geometry(x4.shape, kernel_size, stride, padding, "avg_pool2d", 1, ceil_mode)
    padded = _padded(x4, geo, 0)
    counted = _padded(np.ones((1, 1, geo.h, geo.w)), geo, 0)[0, 0]
    if count_include_pad:
        counted[:geo.h + 2 * geo.ph, :geo.w + 2 * geo.pw] = 1
    windows = (((i, j), _window(geo, i, j)) for i in range(geo.out_h) for j in range(geo.out_w))
    return _avg_windows(x, x4, padded, counted, geo, windows, divisor_override, unbatched)


def adaptive_avg_pool2d_naive(input, output_size):
    """Same contract as ``fastgrad.nn.functional.adaptive_avg_pool2d``."""
    x, x4, unbatched = _pool_input(input, "adaptive_avg_pool2d")
    geo = _adaptive_geometry(x4, output_size)
    windows = _adaptive_windows(geo.out_h, geo.out_w, geo.h, geo.w)
    return _avg_windows(x, x4, x4, np.ones((geo.h, geo.w)), geo, windows, None, unbatched)


class NaiveMaxUnpool2dGradFn(GradFn):
    def __init__(self, x, indices, out_plane):
        super().__init__(x)
        self.in_shape = x.arr.shape
        self.save_for_backward(indices)
        self.out_plane = out_plane

    def backward(self, grad_output):
        indices, = self.saved_tensors
        n, c, h, w = indices.shape
        grad = grad_output.reshape(n, c, self.out_plane)
        d_x = np.empty(indices.shape, dtype=grad_output.dtype)
        for i in range(h):
            for j in range(w):
                d_x[:, :, i, j] = np.take_along_axis(grad, indices[:, :, i, j, None], axis=2)[..., 0]
        return (d_x.reshape(self.in_shape),)


def max_unpool2d_naive(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Same contract as ``fastgrad.nn.functional.max_unpool2d`` (valid indices assumed)."""
    x, x4, unbatched = _pool_input(input, "max_unpool2d")
    indices4 = as_tensor(indices).arr.reshape(x4.shape)
    n, c, h, w = x4.shape
    out_h, out_w = unpool_output_size((h, w), kernel_size, stride, padding, output_size)
    out = np.zeros((n, c, out_h * out_w), dtype=x4.dtype)
    for i in range(h):  # row-major, so a repeated index keeps the last value, as PyTorch
        for j in range(w):
            np.put_along_axis(out, indices4[:, :, i, j, None], x4[:, :, i, j, None], axis=2)
    fn = NaiveMaxUnpool2dGradFn(x, indices4, out_h * out_w) if needs_grad(x) else None
    return _wrap(out.reshape(n, c, out_h, out_w), fn, unbatched)
