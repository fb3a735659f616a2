"""The pools of ``torch.nn.functional`` on numba kernels: max_pool1d/2d (forward records each
window's argmax; backward scatters to it), avg_pool1d/2d, adaptive_avg_pool1d/2d,
adaptive_max_pool2d and max_unpool2d. PyTorch's semantics: its output sizes (floor or ceil
mode), padding as -inf for max and zeros for avg (counted in the mean by its rules), ties to
the first maximum, NaN propagates, adaptive windows [floor(i*H/OH), ceil((i+1)*H/OH)).

A 1-D pool runs the 2-D kernels on planes of height 1, and an unbatched input runs as a batch
of one, both through reshaped *views of the output array itself*: the Tensor returned owns
its array (it is never a view of a temporary), so in-place ops on it work as in PyTorch.
"""
from types import SimpleNamespace

import numpy as np

from fastgrad.autograd.function import GradFn, needs_grad
from fastgrad.autograd.tensor import Tensor
from fastgrad.kernels.pooling import (adaptive_avgpool2d_backward, adaptive_avgpool2d_forward,
                                      adaptive_maxpool2d_forward, avgpool2d_backward,
                                      avgpool2d_forward, maxpool2d_backward, maxpool2d_forward,
                                      maxpool2d_forward_2x2s2, maxunpool2d_backward,
                                      maxunpool2d_forward)
from fastgrad.kernels import chunk_programs as programs
from fastgrad.kernels.threads import batch_chunks, run_chunks, run_compiled_chunks
from fastgrad.ops._operands import as_tensor
from fastgrad.ops.conv_geometry import (check_pool_dtype, default_stride, pair, pool2d_geometry,
                                        pool_planes, single)
from fastgrad.ops.linear_map import linear_map

# Inputs of at most this many elements are pooled on the calling thread alone: handing half
# of a small batch to another thread costs more than it saves. pool2 of the reference CNN
# (248k elements) pays to split since the hand-off is compiled: 1.23x faster fwd+bwd
# (docs/performance.md, "Max-pool chunks since the compiled hand-off").
_SERIAL_MAX_ELEMENTS = 2**16


def _by_chunks(kernel, *arrays, program=None, encode=None):
    """``kernel(*(a[lo:hi] for a in arrays))`` on each chunk of the batch, one chunk per
    thread (one chunk for a small input): every array here has the batch as its first axis,
    and pooling never mixes images. With a ``program`` of ``kernels/chunk_programs.py`` and
    float data, the chunks run as its rows instead, ``encode(rows, chunks)`` writing them."""
    n = arrays[0].shape[0]
    chunks = batch_chunks(n) if max(a.size for a in arrays) > _SERIAL_MAX_ELEMENTS else [(0, n)]
    data = [a for a in arrays if a.dtype.kind == "f"]
    index_dtype = next((a.dtype for a in arrays if a.dtype.kind == "i"), None)
    if program is not None and len(chunks) > 1 and data and programs.compiled_dtype(*data):
        rows = programs.new_rows(len(chunks), program, data[0].dtype, index_dtype)
        encode(rows, chunks)
        run_compiled_chunks(rows)
    else:
        run_chunks(lambda i, lo, hi: kernel(*(a[lo:hi] for a in arrays)), chunks)


def _pooled(batch, c, out_h, out_w, spatial_dims, dtype):
    """(output array in the caller's layout, its (N, C, out_h, out_w) view for the kernels)."""
    if spatial_dims == 2 and batch:
        out = np.empty((batch[0], c, out_h, out_w), dtype=dtype)
        return out, out
    spatial = (out_h, out_w) if spatial_dims == 2 else (out_w,)
    out = np.empty(batch + (c,) + spatial, dtype=dtype)
    return out, out.reshape(batch[:1] + (1,) * (not batch) + (c, out_h, out_w))


def _as_planes(a, planes):
    """Contiguous ``a`` (an ndarray) viewed as ``planes`` (N, C, H, W)."""
    a = np.ascontiguousarray(a)
    return a if a.shape == planes else a.reshape(planes)


def _planes_of(x, planes):
    """``x``'s array as contiguous (N, C, H, W) planes (a view when it is contiguous)."""
    return _as_planes(x.arr, planes)


def _layout(**shapes):
    # One plain object, not tuples: a node's release scans its tuples element by element
    # for arrays (~1 us per node for these shapes) and skips an object like this at once.
    return SimpleNamespace(**shapes)


# ------------------------------------------------------------------------------ max pools
class MaxPool2dGradFn(GradFn):
    """Backward of every max pool (1-D, 2-D, adaptive): scatter to the recorded argmax."""
    fresh_grads = True

    def __init__(self, x, argmax, planes, planes_out, geometry):
        super().__init__(x)
        self.in_shape = x.arr.shape
        # (N, C, H, W) of the input and of the output, whatever their own layouts
        self.layout = _layout(planes=planes, planes_out=planes_out)
        self.geometry = geometry  # None for an adaptive pool; read by fastgrad.onnx
        # argmax: the returned indices Tensor (an in-place change of it then raises at
        # backward, as in PyTorch) or the internal array.
        self.save_for_backward(argmax)

    def backward(self, grad_output):
        if self.create_graph:  # recorded: a differentiable scatter (ops/pool_grad.py)
            from fastgrad.ops.pool_grad import max_pool2d_create_graph_backward

            return max_pool2d_create_graph_backward(self, grad_output)
        argmax, = self.saved_tensors
        planes_out = self.layout.planes_out
        d_x = np.empty(self.in_shape, dtype=grad_output.dtype)
        grad, indices = _as_planes(grad_output, planes_out), _as_planes(argmax, planes_out)
        d_x_planes = _as_planes(d_x, self.layout.planes)
        _by_chunks(maxpool2d_backward, grad, indices, d_x_planes,
                   program=programs.MAXPOOL_BACKWARD,
                   encode=lambda rows, chunks: programs.encode_maxpool_backward(
                       rows, grad, indices, d_x_planes, chunks))
        return (d_x,)


def _argmax_array(out, planes_out, return_indices, h, w):
    """(argmax array in the output's layout, its planes view for the kernels)."""
    # int32 halves the argmax traffic when the indices stay internal; returned ones are int64.
    index_dtype = np.int64 if return_indices or h * w >= 2**31 else np.int32
    argmax = np.empty(out.shape, dtype=index_dtype)
    return argmax, argmax if out is planes_out else argmax.reshape(planes_out.shape)


def _max_result(x, out, argmax, planes, planes_out, return_indices, geometry=None):
    indices = Tensor._wrap(argmax) if return_indices else None
    fn = None
    if needs_grad(x):
        fn = MaxPool2dGradFn(x, argmax if indices is None else indices, planes, planes_out.shape,
                             geometry)
    result = Tensor._wrap(out, fn)
    return (result, indices) if return_indices else result


def _max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices,
              spatial_dims, name):
    x = as_tensor(input)
    planes, batch = pool_planes(x.arr, spatial_dims, name)
    check_pool_dtype(x, name, integers=True)
    if spatial_dims == 1:
        kernel_size = (1, single(kernel_size, "kernel_size"))
        padding = (0, single(padding, "padding"))
        dilation = (1, single(dilation, "dilation"))
        stride = None if default_stride(stride) else (1, single(stride, "stride"))
    geo = pool2d_geometry(planes, kernel_size, stride, padding, name, dilation, ceil_mode)
    out, planes_out = _pooled(batch, geo.c, geo.out_h, geo.out_w, spatial_dims, x.dtype)
    argmax, argmax_planes = _argmax_array(out, planes_out, return_indices, geo.h, geo.w)
    x_planes = _planes_of(x, planes)
    # (kh, kw, sh, sw, ph, pw, out_h, out_w, dh, dw): 2x2 windows, stride 2, floor-sized
    if geo[4:] == (2, 2, 2, 2, 0, 0, geo.h // 2, geo.w // 2, 1, 1) and x_planes.dtype.kind == "f":
        _by_chunks(lambda x, out, argmax: maxpool2d_forward_2x2s2(x, geo.out_h, geo.out_w, out,
                                                                   argmax),
                   x_planes, planes_out, argmax_planes, program=programs.MAXPOOL_2X2,
                   encode=lambda rows, chunks: programs.encode_maxpool(
                       rows, x_planes, planes_out, argmax_planes, chunks))
    else:
        _by_chunks(lambda x, out, argmax: maxpool2d_forward(
                       x, geo.kh, geo.kw, geo.sh, geo.sw, geo.ph, geo.pw, geo.dh, geo.dw,
                       geo.out_h, geo.out_w, out, argmax),
                   x_planes, planes_out, argmax_planes, program=programs.MAXPOOL,
                   encode=lambda rows, chunks: programs.encode_maxpool(
                       rows, x_planes, planes_out, argmax_planes, chunks, geo))
    return _max_result(x, out, argmax, planes, planes_out, return_indices, geo)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """x (N, C, H, W) or (C, H, W) -> (N, C, OH, OW), OH = (H + 2*ph - dh*(KH-1) - 1) // sh + 1
    (rounded up with ``ceil_mode``, PyTorch's rule). Float or integer x (integer: no grad).

    ``stride`` defaults to ``kernel_size``. With ``return_indices`` also returns the flat
    index (h * W + w) of each chosen element in its input plane, as int64.
    """
    return _max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices,
                     2, "max_pool2d")


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """x (N, C, L) or (C, L) -> (N, C, OL): ``max_pool2d`` along the last axis; indices
    index L."""
    return _max_pool(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices,
                     1, "max_pool1d")


def _adaptive_size(output_size, h, w, spatial_dims, name):
    """PyTorch's output_size: an int, or a tuple with one entry per spatial dim where None
    keeps the input's size; every entry >= 0."""
    if spatial_dims == 1:
        sizes = (1, single(output_size, "output_size"))
    else:
        if isinstance(output_size, (tuple, list)):
            if len(output_size) != 2:
                raise RuntimeError(f"{name}: output_size must be 2, got {output_size!r}")
            output_size = tuple(size if v is None else v for v, size in zip(output_size, (h, w)))
        sizes = pair(output_size, "output_size")
    if min(sizes) < 0:
        raise RuntimeError(f"{name}: elements of output_size must be greater than or equal to "
                           f"0 but received {output_size!r}")
    return sizes


def _adaptive_planes(input, output_size, spatial_dims, name):
    x = as_tensor(input)
    planes, batch = pool_planes(x.arr, spatial_dims, name)
    check_pool_dtype(x, name)
    n, c, h, w = planes
    if h < 1 or w < 1:
        raise RuntimeError(f"{name}(): Expected input to have non-zero size for non-batch "
                           f"dimensions, but input has sizes {list(x.shape)}")
    out_h, out_w = _adaptive_size(output_size, h, w, spatial_dims, name)
    return x, planes, batch, _pooled(batch, c, out_h, out_w, spatial_dims, x.dtype)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """x (N, C, H, W) or (C, H, W) -> (N, C, OH, OW) for any output_size (int, or pair with
    None for "as the input"): window i spans [floor(i*H/OH), ceil((i+1)*H/OH))."""
    x, planes, batch, (out, planes_out) = _adaptive_planes(input, output_size, 2,
                                                           "adaptive_max_pool2d")
    argmax, argmax_planes = _argmax_array(out, planes_out, return_indices, planes[2], planes[3])
    _by_chunks(adaptive_maxpool2d_forward, _planes_of(x, planes), planes_out, argmax_planes)
    return _max_result(x, out, argmax, planes, planes_out, return_indices)


# ------------------------------------------------------------------------------ avg pools
class AvgPool2dGradFn(GradFn):
    fresh_grads = True

    def __init__(self, x, out_shape, geometry, count_include_pad, divisor_override):
        super().__init__(x)
        self.geometry = geometry  # of the (N, C, H, W) planes
        # divisor_override 0: none
        self.layout = _layout(in_shape=x.arr.shape, out_shape=out_shape,
                              count_include_pad=count_include_pad,
                              divisor_override=divisor_override)

    def backward(self, grad_output):
        return (linear_map(grad_output, self.spread, self.mean),)

    def spread(self, grad_output):
        """The input gradient: each output's gradient over its window, / the divisor."""
        geo, layout = self.geometry, self.layout
        d_x = np.empty(layout.in_shape, dtype=grad_output.dtype)
        _by_chunks(lambda grad, d_x: avgpool2d_backward(
                       grad, geo.kh, geo.kw, geo.sh, geo.sw, geo.ph, geo.pw,
                       layout.count_include_pad, layout.divisor_override, d_x),
                   _as_planes(grad_output, (geo.n, geo.c, geo.out_h, geo.out_w)),
                   _as_planes(d_x, (geo.n, geo.c, geo.h, geo.w)))
        return d_x

    def mean(self, x):
        """The forward on an array shaped as the input (``spread``'s adjoint)."""
        out = np.empty(self.layout.out_shape, dtype=x.dtype)
        _avg_kernel(_as_planes(x, self.geometry[:4]), self.geometry, self.layout.count_include_pad,
                    self.layout.divisor_override, out)
        return out


def _avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad,
              divisor_override, spatial_dims, name):
    x = as_tensor(input)
    planes, batch = pool_planes(x.arr, spatial_dims, name)
    check_pool_dtype(x, name)
    if divisor_override is not None:
        if isinstance(divisor_override, bool) or not isinstance(divisor_override, (int, np.integer)):
            raise TypeError(f"{name}(): argument 'divisor_override' must be int, not "
                            f"{type(divisor_override).__name__}")
        if divisor_override == 0:
            raise RuntimeError(f"{name}: divisor must be not zero, got divisor_override=0")
    if spatial_dims == 1:
        kernel_size, padding = (1, single(kernel_size, "kernel_size")), (0, single(padding, "padding"))
        stride = None if default_stride(stride) else (1, single(stride, "stride"))
    geo = pool2d_geometry(planes, kernel_size, stride, padding, name, 1, ceil_mode)
    out, planes_out = _pooled(batch, geo.c, geo.out_h, geo.out_w, spatial_dims, x.dtype)
    divisor = int(divisor_override or 0)
    count_include_pad = bool(count_include_pad)
    _avg_kernel(_planes_of(x, planes), geo, count_include_pad, divisor, planes_out)
    fn = AvgPool2dGradFn(x, out.shape, geo, count_include_pad, divisor) if needs_grad(x) else None
    return Tensor._wrap(out, fn)


def _avg_kernel(x_planes, geo, count_include_pad, divisor, out):
    """The avg-pool forward kernel over the batch: x (N, C, H, W) -> ``out`` (N, C, OH, OW)."""
    _by_chunks(lambda x, out: avgpool2d_forward(x, geo.kh, geo.kw, geo.sh, geo.sw, geo.ph, geo.pw,
                                                geo.out_h, geo.out_w, count_include_pad, divisor,
                                                out),
               x_planes, _as_planes(out, (geo.n, geo.c, geo.out_h, geo.out_w)))


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None):
    """x (N, C, H, W) or (C, H, W) -> mean over windows (output size as ``max_pool2d``).

    Each window's sum is divided by ``divisor_override`` when given, else by the window's
    size clipped to input + padding (``count_include_pad``) or to the input only.
    """
    return _avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                     divisor_override, 2, "avg_pool2d")


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True):
    """x (N, C, L) or (C, L) -> (N, C, OL): ``avg_pool2d`` along the last axis."""
    return _avg_pool(input, kernel_size, stride, padding, ceil_mode, count_include_pad, None,
                     1, "avg_pool1d")


class AdaptiveAvgPool2dGradFn(GradFn):
    fresh_grads = True

    def __init__(self, x, out_shape, planes, planes_out):
        super().__init__(x)
        self.layout = _layout(in_shape=x.arr.shape, out_shape=out_shape, planes=planes,
                              planes_out=planes_out)

    def backward(self, grad_output):
        return (linear_map(grad_output, self.spread, self.mean),)

    def spread(self, grad_output):
        """The input gradient: each output's gradient over its window, / the window's size."""
        layout = self.layout
        d_x = np.empty(layout.in_shape, dtype=grad_output.dtype)
        _by_chunks(adaptive_avgpool2d_backward, _as_planes(grad_output, layout.planes_out),
                   _as_planes(d_x, layout.planes))
        return d_x

    def mean(self, x):
        """The forward on an array shaped as the input (``spread``'s adjoint)."""
        layout = self.layout
        out = np.empty(layout.out_shape, dtype=x.dtype)
        _by_chunks(adaptive_avgpool2d_forward, _as_planes(x, layout.planes),
                   _as_planes(out, layout.planes_out))
        return out


def _adaptive_avg_pool(input, output_size, spatial_dims, name):
    x, planes, batch, (out, planes_out) = _adaptive_planes(input, output_size, spatial_dims, name)
    _by_chunks(adaptive_avgpool2d_forward, _planes_of(x, planes), planes_out)
    fn = AdaptiveAvgPool2dGradFn(x, out.shape, planes, planes_out.shape) if needs_grad(x) else None
    return Tensor._wrap(out, fn)


def adaptive_avg_pool2d(input, output_size):
    """x (N, C, H, W) or (C, H, W) -> (N, C, OH, OW) for any output_size (int, or pair with
    None for "as the input"): the mean of window [floor(i*H/OH), ceil((i+1)*H/OH))."""
    return _adaptive_avg_pool(input, output_size, 2, "adaptive_avg_pool2d")


def adaptive_avg_pool1d(input, output_size):
    """x (N, C, L) or (C, L) -> (N, C, output_size): ``adaptive_avg_pool2d`` along L."""
    return _adaptive_avg_pool(input, output_size, 1, "adaptive_avg_pool1d")


# ------------------------------------------------------------------------------ max_unpool2d
class MaxUnpool2dGradFn(GradFn):
    fresh_grads = True

    def __init__(self, x, indices, planes, planes_out):
        super().__init__(x)
        self.layout = _layout(in_shape=x.arr.shape, planes=planes, planes_out=planes_out)
        self.save_for_backward(indices)  # the indices Tensor, validated by the forward

    def backward(self, grad_output):
        indices, = self.saved_tensors
        layout = self.layout
        if self.create_graph:  # recorded: a differentiable gather from the indices
            n, c, h, w = layout.planes
            index = (np.arange(n).reshape(n, 1, 1), np.arange(c).reshape(1, c, 1),
                     indices.arr.reshape(n, c, h * w))
            out_plane = layout.planes_out[2] * layout.planes_out[3]
            return (grad_output.reshape(n, c, out_plane)[index].reshape(layout.in_shape),)
        d_x = np.empty(layout.in_shape, dtype=grad_output.dtype)
        _by_chunks(maxunpool2d_backward, _as_planes(grad_output, layout.planes_out),
                   _as_planes(indices, layout.planes), _as_planes(d_x, layout.planes))
        return (d_x,)


def unpool_output_size(in_hw, kernel_size, stride, padding, output_size):
    """PyTorch's ``_unpool_output_size``: (H - 1)*stride - 2*padding + kernel by default;
    a given ``output_size`` (2 sizes, or 4 with N and C, or 3 with C when unbatched) must lie
    within ``stride - 1`` above that (ValueError otherwise)."""
    kh, kw = pair(kernel_size, "kernel_size")
    sh, sw = (kh, kw) if default_stride(stride) else pair(stride, "stride")
    ph, pw = pair(padding, "padding")
    default = [(in_hw[0] - 1) * sh + kh - 2 * ph, (in_hw[1] - 1) * sw + kw - 2 * pw]
    if output_size is None:
        return tuple(default)
    output_size = [int(v) for v in output_size]
    if len(output_size) in (4, 3):
        output_size = output_size[-2:]
    if len(output_size) != 2:
        raise ValueError("output_size should be a sequence containing 2 or 4 elements, but it "
                         f"has a length of '{len(output_size)}'")
    for d, (size, lo, step) in enumerate(zip(output_size, default, (sh, sw))):
        if not lo <= size <= lo + step - 1:
            raise ValueError(f'invalid output_size "{tuple(output_size)}" (dim {d} must be '
                             f"between {lo} and {lo + step - 1})")
    return tuple(output_size)


def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Inverse of ``max_pool2d(..., return_indices=True)``: x (N, C, H, W) or (C, H, W) and
    its int64 indices (flat positions in each output plane) -> (N, C, OH, OW) of zeros with
    each x value at its index. OH defaults to (H - 1)*stride - 2*padding + kernel_size."""
    x = as_tensor(input)
    indices = as_tensor(indices)
    if x.ndim not in (3, 4):
        raise RuntimeError("Input to max_unpooling2d should be a 3d or 4d Tensor, but got a "
                           f"tensor with {x.ndim} dimensions.")
    check_pool_dtype(x, "max_unpool2d")
    if indices.dtype != np.int64:
        raise RuntimeError(f"elements in indices should be type int64 but got: {indices.dtype}")
    if indices.shape != x.shape:
        raise RuntimeError("Expected shape of indices to be same as that of the input tensor "
                           f"({list(x.shape)}) but got indices tensor with shape: "
                           f"{list(indices.shape)}")
    planes, batch = pool_planes(x.arr, 2, "max_unpool2d")
    out_h, out_w = unpool_output_size(planes[2:], kernel_size, stride, padding, output_size)
    index_planes = _planes_of(indices, planes)
    if index_planes.size and (index_planes.min() < 0 or index_planes.max() >= out_h * out_w):
        flat = index_planes.reshape(-1)
        first = flat[np.flatnonzero((flat < 0) | (flat >= out_h * out_w))[0]]  # as PyTorch's loop
        raise RuntimeError(f"Found an invalid max index: {first} (output volumes are of size "
                           f"{out_h}x{out_w})")
    out, planes_out = _pooled(batch, planes[1], out_h, out_w, 2, x.dtype)
    _by_chunks(maxunpool2d_forward, _planes_of(x, planes), index_planes, planes_out)
    fn = MaxUnpool2dGradFn(x, indices, planes, planes_out.shape) if needs_grad(x) else None
    return Tensor._wrap(out, fn)
