"""conv2d as im2col + GEMMs, with numba kernels for the data movement.

Shapes for a chunk of n images (P = OH*OW, K = C*KH*KW, K' = K + 1 with a bias, else K):
    forward   cols (K', n*P) = im2col(x), row K all ones when there is a bias;
              out[i] (O, P) = [W | b] (O, K') @ cols[:, i*P:(i+1)*P]   for each image i,
              written straight into the NCHW output (one batched matmul, no layout move)
    backward  g[i] = grad_output[i] (O, P), read in NCHW as it is
              [dW | db] = sum_i g[i] @ cols[:, i*P:(i+1)*P].T;
              dcols[:, i*P:(i+1)*P] = W.T @ g[i];  dx = col2im(dcols)
              or, when K'*O is large, with G (O, n*P) = nchw_to_cnhw(grad_output):
              [dW | db] = (cols @ G.T).T;  dcols = W.T @ G;  dx = col2im(dcols)
The ones row folds the bias into the GEMMs: the forward needs no bias pass and the bias
gradient comes out of the weight-gradient GEMM. The per-image GEMMs read and write strided
views of the column buffers (leading dimension n*P), which BLAS takes as they are.
The batch is cut into one chunk per thread (``kernels/threads.py``); each ``*_chunk`` function
below is the whole work of one chunk, as PyTorch's ``*_frame`` functions in
``ConvolutionMM2d.cpp``. Why these layouts and GEMM orders: docs/performance.md,
"Convolution layout".
"""
import numpy as np

from fastgrad.autograd.function import GradFn, needs_grad
from fastgrad.autograd.tensor import Tensor
from fastgrad.kernels import col2im, im2col, nchw_to_cnhw
from fastgrad.kernels.depthwise import (depthwise_forward, depthwise_input_grad,
                                        depthwise_weight_grad)
from fastgrad.kernels import chunk_programs as programs
from fastgrad.kernels.threads import batch_chunks, run_chunks, run_compiled_chunks
from fastgrad.ops._operands import as_tensor
from fastgrad.ops.conv_geometry import (check_float, check_groups, conv2d_geometry,
                                        conv_transpose2d_geometry, same_padding, single)
from fastgrad.ops.workspace import NO_WORKSPACE

# While [dW | db] has at most this many entries (K' * O), it is summed from per-image GEMMs on
# grad_output as it is; above, grad_output is moved to (O, n*P) for one long GEMM, which BLAS
# runs well only when neither K' nor O is small (crossover measured at ~1100-1600 entries:
# docs/performance.md, "Convolution layout").
_PER_IMAGE_DW_MAX_ENTRIES = 1200


def _per_image(cols, n, positions):
    """(K', n*P) column buffer -> (n, K', P) strided view, one (K', P) matrix per image."""
    return cols.reshape(cols.shape[0], n, positions).transpose(1, 0, 2)


def _forward_chunk(x, weight_matrix, geometry, cols, out):
    """One chunk of the forward: ``out = conv(x)``.

    x (n, C, H, W) C-contiguous; weight_matrix (O, K') = [W | b] (K' = K + 1 with a bias);
    cols (K', n*P) scratch, overwritten (its last row set to ones when K' > K);
    out (n, O, OH, OW) C-contiguous, overwritten.
    """
    g = geometry
    n = x.shape[0]
    k = g.c * g.kh * g.kw
    positions = g.out_h * g.out_w
    im2col(x, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.dh, g.dw, g.out_h, g.out_w, cols)
    if cols.shape[0] > k:
        cols[k] = 1
    np.matmul(weight_matrix, _per_image(cols, n, positions),
              out=out.reshape(n, g.out_channels, positions))


def _weight_grad_chunk(grad, cols, grad_rows):
    """One chunk's [dW | db] as a (K', O) array, from the forward's columns.

    grad (n, O, P) the chunk's grad_output; cols (K', n*P) as the forward left them;
    grad_rows: None for per-image GEMMs summed over the chunk, or an (O, n*P) scratch buffer
    for one long GEMM (grad_output moved into it with ``nchw_to_cnhw``).
    """
    if grad_rows is not None:
        nchw_to_cnhw(grad, grad_rows)
        # (cols @ G.T) keeps the long n*P axis as the GEMM's inner dimension with both operands
        # in their stored order: faster than G @ cols.T.
        return cols @ grad_rows.T
    n, _, positions = grad.shape
    return np.matmul(grad, _per_image(cols, n, positions).transpose(0, 2, 1)).sum(axis=0).T


def _input_grad_chunk(grad, grad_rows, weight_t, geometry, d_cols, d_x):
    """One chunk's input gradient ``d_x`` (n, C, H, W), overwritten.

    grad (n, O, P) the chunk's grad_output; grad_rows the same as (O, n*P) when the weight
    gradient already made it, else None; weight_t (K, O) = W.T; d_cols (K, n*P) scratch.
    """
    g = geometry
    n, _, positions = grad.shape
    if grad_rows is not None:
        np.matmul(weight_t, grad_rows, out=d_cols)
    else:
        np.matmul(weight_t, grad, out=_per_image(d_cols, n, positions))
    col2im(d_cols, n, g.c, g.h, g.w, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.dh, g.dw,
           g.out_h, g.out_w, d_x)


def _release_with_columns(fn):
    """``GradFn.release`` for a node that saved (weight, *column buffers): the buffers go back
    to the layer's workspace (read from the saved list directly: ``saved_tensors`` would refuse
    a weight changed since the forward)."""
    buffers = fn._saved[1:] if not fn.released else ()
    GradFn.release(fn)
    for slot, buffer in enumerate(buffers):  # one per chunk, in chunk order
        fn.workspace.give_back(buffer, slot)


class Conv2dGradFn(GradFn):
    fresh_grads = True

    def __init__(self, x, weight, bias, cols, chunks, geometry, workspace):
        super().__init__(x, weight, bias)
        self.chunks = chunks
        self.geometry = geometry
        self.workspace = workspace
        self.save_for_backward(weight, *cols)  # cols: one column buffer per chunk of the batch
        self.save_for_create_graph(x)  # read only by a recorded backward (ops/conv_grad.py)

    def backward(self, grad_output):
        if self.create_graph:  # recorded: differentiable ops instead of the kernels
            from fastgrad.ops.conv_grad import conv2d_create_graph_backward

            return conv2d_create_graph_backward(self, grad_output)
        weight, *cols = self.saved_tensors
        geometry = self.geometry
        need_x, need_w, need_b = self.needs_input_grad
        dtype = weight.dtype
        k = geometry.c * geometry.kh * geometry.kw
        positions = geometry.out_h * geometry.out_w
        out_ch = geometry.out_channels
        workspace = self.workspace
        weight_t = weight.reshape(out_ch, k).T
        grad_nchw = np.ascontiguousarray(grad_output, dtype=dtype)
        d_x = np.empty((geometry.n, geometry.c, geometry.h, geometry.w), dtype=dtype) \
            if need_x else None
        need_wb = need_w or need_b
        long_dw = need_wb and cols[0].shape[0] * out_ch > _PER_IMAGE_DW_MAX_ENTRIES
        grad_rows = [workspace.take((out_ch, (hi - lo) * positions), dtype, i) if long_dw
                     else None for i, (lo, hi) in enumerate(self.chunks)]
        # Each chunk makes its dW before its dcols, and after its last backward a node's
        # columns are dead: dcols can then take their first K rows (one buffer less to keep
        # warm; docs/performance.md, "Convolution layout").
        reuse = need_x and need_wb and self.last_backward
        d_cols = [(cols[i][:k] if reuse
                   else workspace.take((k, (hi - lo) * positions), dtype, i)) if need_x else None
                  for i, (lo, hi) in enumerate(self.chunks)]

        if programs.compiled_dtype(weight, grad_nchw, *cols):
            parts = [np.empty((cols[0].shape[0], out_ch), dtype) if need_wb else None
                     for _ in self.chunks]
            rows = programs.new_rows(len(self.chunks), programs.CONV_BACKWARD, dtype)
            programs.encode_conv_backward(rows, grad_nchw,
                                          np.ascontiguousarray(weight.reshape(out_ch, k)),
                                          geometry, cols, grad_rows, parts, d_cols, d_x,
                                          self.chunks)
            run_compiled_chunks(rows)
        else:
            def chunk(i, lo, hi):
                grad = grad_nchw[lo:hi].reshape(hi - lo, out_ch, positions)
                d_wb = _weight_grad_chunk(grad, cols[i], grad_rows[i]) if need_wb else None
                if need_x:
                    _input_grad_chunk(grad, grad_rows[i], weight_t, geometry, d_cols[i],
                                      d_x[lo:hi])
                return d_wb

            parts = run_chunks(chunk, self.chunks)
        for i in range(len(self.chunks)):
            for buffer in (grad_rows[i], None if reuse else d_cols[i]):
                if buffer is not None:
                    workspace.give_back(buffer, i)
        d_weight = d_bias = None
        if need_wb:
            d_wb = parts[0] if len(parts) == 1 else sum(parts)  # (K', O)
            # Written into arrays of their own, so that the parameters may take them as they are.
            if need_w:
                d_weight = np.empty(weight.shape, dtype)
                d_weight.reshape(out_ch, k)[...] = d_wb[:k].T
            if need_b:
                d_bias = d_wb[k].copy()
        return d_x, d_weight, d_bias

    def release(self):
        _release_with_columns(self)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, workspace=None):
    """2-D cross-correlation, as ``torch.nn.functional.conv2d``.

    input (N, C, H, W) or unbatched (C, H, W); weight (O, C // groups, KH, KW); bias (O,) or
    None; stride / padding / dilation an int or an (h, w) pair; padding also 'valid' (none) or
    'same' (output size = input size; stride 1 only; an odd total ``dh*(KH-1)`` puts the extra
    row at the bottom, as PyTorch). Returns (N, O, OH, OW) with
    OH = (H + 2*ph - dh*(KH-1) - 1) // sh + 1 (likewise OW), in the input's dtype.
    ``workspace`` (a ``fastgrad.ops.workspace.Workspace``) lends reusable scratch buffers.
    """
    x, weight = as_tensor(input), as_tensor(weight)
    if type(padding) is str and weight.ndim == 4:
        resolved, extra = same_padding(padding, stride, dilation, weight.shape[2:])
        if not extra or not any(extra):  # symmetric: the same as that int padding
            padding = resolved
    if groups != 1 or x.ndim != 4 or type(padding) is str:
        return conv_planes(x, weight, bias, stride, padding, dilation, groups, workspace, 2)
    geometry = conv2d_geometry(x, weight, bias, stride, padding, dilation)
    ws = NO_WORKSPACE if workspace is None else workspace
    dtype = x.dtype
    k = geometry.c * geometry.kh * geometry.kw
    positions = geometry.out_h * geometry.out_w
    x_arr = np.ascontiguousarray(x.arr)
    weight_matrix = weight.arr.reshape(geometry.out_channels, k)
    if bias is not None:
        weight_matrix = np.concatenate([weight_matrix, bias.arr.reshape(-1, 1)], axis=1)
    rows = weight_matrix.shape[1]
    out = np.empty((geometry.n, geometry.out_channels, geometry.out_h, geometry.out_w),
                   dtype=dtype)
    chunks = batch_chunks(geometry.n)
    cols = [ws.take((rows, (hi - lo) * positions), dtype, i) for i, (lo, hi) in enumerate(chunks)]
    if programs.compiled_dtype(x_arr, weight_matrix, out):
        rows = programs.new_rows(len(chunks), programs.CONV_FORWARD, dtype)
        programs.encode_conv_forward(rows, x_arr, np.ascontiguousarray(weight_matrix), geometry,
                                     cols, out, chunks)
        run_compiled_chunks(rows)
    else:
        run_chunks(lambda i, lo, hi: _forward_chunk(x_arr[lo:hi], weight_matrix, geometry,
                                                    cols[i], out[lo:hi]),
                   chunks)
    if needs_grad(x, weight, bias):
        fn = Conv2dGradFn(x, weight, bias, cols, chunks, geometry, ws)
    else:
        fn = None
        for i, buffer in enumerate(cols):
            ws.give_back(buffer, i)
    return Tensor._wrap(out, fn)


# ---------------------------------------------------------------------- groups, other layouts
# Everything but the batched groups=1 int-padding call above: groups, 'same' / 'valid',
# unbatched input and conv1d (planes of height 1). The same im2col / col2im kernels; the
# GEMMs are batched over (image, group): the columns of group g are rows
# [g*Kg, (g+1)*Kg) of im2col's buffer (its row order is channel-major), Kg = (C/G)*KH*KW.
def _by_group(cols, groups, n, positions):
    """(G*Kg, n*P) column buffer -> (n, G, Kg, P) strided view."""
    return cols.reshape(groups, cols.shape[0] // groups, n, positions).transpose(2, 0, 1, 3)


def _grouped_forward_chunk(x, weight_groups, bias, geometry, cols, out):
    """out (n, O, OH, OW) = grouped conv of x (n, C, H, W); weight_groups (G, O/G, Kg);
    bias (O,) or None; cols (G*Kg, n*P) scratch, overwritten."""
    g = geometry
    n = x.shape[0]
    positions = g.out_h * g.out_w
    im2col(x, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.dh, g.dw, g.out_h, g.out_w, cols)
    out_groups = out.reshape(n, g.groups, g.out_channels // g.groups, positions)
    np.matmul(weight_groups, _by_group(cols, g.groups, n, positions), out=out_groups)
    if bias is not None:
        out += bias[:, None, None]


def _planes(g):
    """(x, weight, output) shapes of the kernels' view of a grouped conv of geometry ``g``."""
    return ((g.n, g.c, g.h, g.w), (g.out_channels, g.c // g.groups, g.kh, g.kw),
            (g.n, g.out_channels, g.out_h, g.out_w))


def _grouped_create_graph_backward(node, weight, x, grad_output):
    """A grouped / depthwise node's recorded backward: the differentiable gradient ops of
    ops/conv_grad.py on the kernels' 4-D views of the caller's Tensors."""
    from fastgrad.ops.conv_grad import conv2d_input_grad, conv2d_weight_grad

    g = node.geometry
    x_planes, w_planes, out_planes = _planes(g)
    grad = grad_output.reshape(out_planes)
    need_x, need_w, need_b = node.needs_input_grad
    return (conv2d_input_grad(grad, weight.reshape(w_planes), g).reshape(x.shape)
            if need_x else None,
            conv2d_weight_grad(x.reshape(x_planes), grad, g).reshape(weight.shape)
            if need_w else None,
            grad.sum(axis=(0, 2, 3)) if need_b else None)


class GroupedConv2dGradFn(GradFn):
    """conv2d with groups, or of an input that is not (N, C, H, W) (unbatched, conv1d): its
    inputs and output have the caller's shapes, the kernels see (N, C, H, W) planes of them."""
    fresh_grads = True

    def __init__(self, x, weight, bias, cols, chunks, geometry, workspace, spatial):
        super().__init__(x, weight, bias)
        self.chunks = chunks
        self.geometry = geometry
        self.workspace = workspace
        self.spatial = spatial  # 1 for conv1d (planes of height 1), 2 for conv2d
        self.x_shape = x.shape
        self.save_for_backward(weight, *cols)
        self.save_for_create_graph(x)

    def backward(self, grad_output):
        if self.create_graph:  # recorded: the differentiable gradient ops of ops/conv_grad.py
            x, = self.saved_for_create_graph
            return _grouped_create_graph_backward(self, self.saved_tensors[0], x, grad_output)
        g = self.geometry
        x_planes, _, out_planes = _planes(g)
        weight, *cols = self.saved_tensors
        need_x, need_w, need_b = self.needs_input_grad
        dtype = weight.dtype
        groups = g.groups
        positions = g.out_h * g.out_w
        weight_groups = weight.reshape(groups, g.out_channels // groups, -1)
        grad = np.ascontiguousarray(grad_output, dtype=dtype).reshape(out_planes)
        d_x = np.empty(self.x_shape, dtype=dtype) if need_x else None
        d_x_planes = d_x.reshape(x_planes) if need_x else None
        reuse = need_w and self.last_backward  # dW is made before dcols: see Conv2dGradFn
        # taken here, not in the chunks: the workspace is not for threads
        d_cols = [(buffer if reuse else self.workspace.take(buffer.shape, dtype, i)) if need_x
                  else None for i, buffer in enumerate(cols)]

        def chunk(i, lo, hi):
            n = hi - lo
            grad_groups = grad[lo:hi].reshape(n, groups, g.out_channels // groups, positions)
            d_w = None
            if need_w:
                d_w = np.matmul(grad_groups, _by_group(cols[i], groups, n, positions)
                                .transpose(0, 1, 3, 2)).sum(axis=0)
            if need_x:
                np.matmul(weight_groups.transpose(0, 2, 1), grad_groups,
                          out=_by_group(d_cols[i], groups, n, positions))
                col2im(d_cols[i], n, g.c, g.h, g.w, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.dh,
                       g.dw, g.out_h, g.out_w, d_x_planes[lo:hi])
            return d_w

        parts = run_chunks(chunk, self.chunks)
        if need_x and not reuse:
            for i, buffer in enumerate(d_cols):
                self.workspace.give_back(buffer, i)
        d_weight = None
        if need_w:
            d_weight = np.empty(weight.shape, dtype)
            d_weight.reshape(weight_groups.shape)[...] = parts[0] if len(parts) == 1 else sum(parts)
        d_bias = grad.sum(axis=(0, 2, 3)) if need_b else None
        return d_x, d_weight, d_bias

    def release(self):
        _release_with_columns(self)


class DepthwiseConv2dGradFn(GradFn):
    """conv2d with groups == in channels == out channels, on the depthwise kernels
    (``kernels/depthwise.py``); shapes as ``GroupedConv2dGradFn``'s."""
    fresh_grads = True

    def __init__(self, x, weight, bias, chunks, geometry, spatial):
        super().__init__(x, weight, bias)
        self.chunks = chunks
        self.geometry = geometry
        self.spatial = spatial
        self.x_shape = x.shape
        self.save_for_backward(weight, x)

    def backward(self, grad_output):
        weight, x = self.saved_tensors
        if self.create_graph:
            return _grouped_create_graph_backward(self, weight, x, grad_output)
        g = self.geometry
        x_planes, _, out_planes = _planes(g)
        need_x, need_w, need_b = self.needs_input_grad
        dtype = weight.dtype
        grad = np.ascontiguousarray(grad_output, dtype=dtype).reshape(out_planes)
        x_arr = np.ascontiguousarray(x).reshape(x_planes)
        filters = np.ascontiguousarray(weight).reshape(g.c, g.kh, g.kw)
        d_x = np.empty(self.x_shape, dtype=dtype) if need_x else None
        d_x_planes = d_x.reshape(x_planes) if need_x else None
        taps = (g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.dh, g.dw)

        def chunk(i, lo, hi):
            d_w = None
            if need_w:
                d_w = np.empty(filters.shape, dtype)
                partial = np.empty(g.out_w, dtype)
                depthwise_weight_grad(x_arr[lo:hi], grad[lo:hi], *taps, partial, d_w)
            if need_x:
                depthwise_input_grad(grad[lo:hi], filters, *taps, d_x_planes[lo:hi])
            return d_w

        parts = run_chunks(chunk, self.chunks)
        d_weight = None
        if need_w:
            d_weight = (parts[0] if len(parts) == 1 else sum(parts)).reshape(weight.shape)
        d_bias = grad.sum(axis=(0, 2, 3)) if need_b else None
        return d_x, d_weight, d_bias


def _depthwise(x, weight, bias, x_arr, out, out_planes, g, spatial):
    """conv_planes for groups == C == O: the depthwise kernels, chunked over the batch."""
    filters = np.ascontiguousarray(weight.arr).reshape(g.c, g.kh, g.kw)
    bias_arr = None if bias is None else bias.arr
    chunks = batch_chunks(g.n)

    def chunk(i, lo, hi):
        depthwise_forward(x_arr[lo:hi], filters, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.dh, g.dw,
                          out_planes[lo:hi])
        if bias_arr is not None:
            out_planes[lo:hi] += bias_arr[:, None, None]

    run_chunks(chunk, chunks)
    fn = DepthwiseConv2dGradFn(x, weight, bias, chunks, g, spatial) \
        if needs_grad(x, weight, bias) else None
    return Tensor._wrap(out, fn)


def _plane_args(x, weight, stride, padding, dilation, groups, spatial, name):
    """conv1d's / conv2d's arguments as conv2d's on (N, C, H, W) planes:
    (planes of x, planes of weight, stride, padding, dilation, extra 'same' padding or None)."""
    if x.ndim not in (spatial + 1, spatial + 2):
        raise RuntimeError(f"Expected {spatial + 1}D (unbatched) or {spatial + 2}D (batched) input "
                           f"to {name}, but got input of size: {list(x.shape)}")
    if weight.ndim != spatial + 2:
        raise RuntimeError(f"{name}: weight must be {spatial + 2}-D (out_channels, "
                           f"in_channels / groups, *kernel_size), got shape {weight.shape}")
    batch = x.shape[:1] if x.ndim == spatial + 2 else (1,)
    c = x.shape[-spatial - 1]
    check_groups(groups, weight.shape)  # here, so that messages name the caller's shapes
    if c != weight.shape[1] * groups:
        raise RuntimeError(
            f"Given groups={groups}, weight of size {list(weight.shape)}, expected "
            f"input{list(batch + x.shape[-spatial - 1:])} to have {weight.shape[1] * groups} "
            f"channels, but got {c} channels instead")
    if spatial == 1:
        stride, dilation = (1, single(stride, "stride")), (1, single(dilation, "dilation"))
        if type(padding) is not str:
            padding = (0, single(padding, "padding"))
        x_planes, w_planes = batch + (c, 1) + x.shape[-1:], weight.shape[:2] + (1,) + weight.shape[2:]
    else:
        x_planes, w_planes = batch + (c,) + x.shape[-2:], weight.shape
    padding, extra = same_padding(padding, stride, dilation, w_planes[2:])
    return x_planes, w_planes, stride, padding, dilation, extra


def conv_planes(x, weight, bias, stride, padding, dilation, groups, workspace, spatial):
    """conv1d (``spatial`` = 1) or conv2d of Tensors ``x`` and ``weight`` of any accepted
    layout, with groups: (N, O, *out) or unbatched (O, *out), allocated in that shape (never a
    view of a temporary) with the kernels writing its (N, O, OH, OW) view."""
    name = f"conv{spatial}d"
    x_planes, w_planes, stride, padding, dilation, extra = _plane_args(
        x, weight, stride, padding, dilation, groups, spatial, name)
    if extra is not None and any(extra):  # 'same' with an odd total: one more at the far end
        from fastgrad.ops.padding import pad

        x = pad(x, (0, extra[1]) if spatial == 1 else (0, extra[1], 0, extra[0]))
        x_planes = x_planes[:2] + (x_planes[2] + extra[0] * (spatial == 2), x_planes[3] + extra[1])
    x_arr = np.ascontiguousarray(x.arr).reshape(x_planes)
    geometry = conv2d_geometry(x_arr, weight.arr.reshape(w_planes), bias, stride, padding,
                               dilation, groups)
    g = geometry
    ws = NO_WORKSPACE if workspace is None else workspace
    dtype = x.dtype
    positions = g.out_h * g.out_w
    out_shape = x.shape[:-spatial - 1] + (g.out_channels,) + ((g.out_h, g.out_w) if spatial == 2
                                                               else (g.out_w,))
    out = np.empty(out_shape, dtype=dtype)
    out_planes = out.reshape(g.n, g.out_channels, g.out_h, g.out_w)
    if groups == g.c == g.out_channels:
        return _depthwise(x, weight, bias, x_arr, out, out_planes, g, spatial)
    weight_groups = np.ascontiguousarray(weight.arr).reshape(groups, g.out_channels // groups, -1)
    bias_arr = None if bias is None else bias.arr
    chunks = batch_chunks(g.n)
    cols = [ws.take((g.c * g.kh * g.kw, (hi - lo) * positions), dtype, i)
            for i, (lo, hi) in enumerate(chunks)]
    run_chunks(lambda i, lo, hi: _grouped_forward_chunk(x_arr[lo:hi], weight_groups, bias_arr, g,
                                                        cols[i], out_planes[lo:hi]),
               chunks)
    if needs_grad(x, weight, bias):
        fn = GroupedConv2dGradFn(x, weight, bias, cols, chunks, g, ws, spatial)
    else:
        fn = None
        for i, buffer in enumerate(cols):
            ws.give_back(buffer, i)
    return Tensor._wrap(out, fn)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1, workspace=None):
    """1-D cross-correlation, as ``torch.nn.functional.conv1d``: input (N, C, L) or (C, L),
    weight (O, C // groups, K), bias (O,) or None; stride / padding / dilation an int (or a
    1-tuple), padding also 'valid' / 'same'. Returns (N, O, OL),
    OL = (L + 2*padding - dilation*(K-1) - 1) // stride + 1: conv2d on planes of height 1."""
    return conv_planes(as_tensor(input), as_tensor(weight), bias, stride, padding, dilation,
                       groups, workspace, 1)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """``torch.nn.functional.conv_transpose2d``: the input gradient of conv2d with the same
    stride / padding / dilation / groups, as an op (forward col2im, backward conv2d and its
    weight gradient: ``ops/conv_grad.py``).

    input (N, C_in, H, W) or unbatched (C_in, H, W); weight (C_in, C_out // groups, KH, KW);
    bias (C_out,) or None. Returns (N, C_out, OH, OW), OH = (H-1)*sh - 2*ph + dh*(KH-1) +
    output_padding_h + 1 (likewise OW); output_padding < stride or < dilation, as PyTorch.
    """
    from fastgrad.ops.conv_grad import conv2d_input_grad

    x, weight = as_tensor(input), as_tensor(weight)
    if x.ndim not in (3, 4):
        raise RuntimeError(f"Expected 3D (unbatched) or 4D (batched) input to conv_transpose2d, "
                           f"but got input of size: {list(x.shape)}")
    check_float(x, "conv_transpose2d input")
    check_float(weight, "conv_transpose2d weight")
    if x.dtype != weight.dtype:
        raise RuntimeError(f"conv_transpose2d: input dtype {x.dtype} and weight dtype "
                           f"{weight.dtype} differ")
    x_planes = x.shape if x.ndim == 4 else (1,) + x.shape
    g = conv_transpose2d_geometry(x_planes, weight, bias, stride, padding, output_padding, groups,
                             dilation)
    out = conv2d_input_grad(x.reshape(x_planes), weight, g)  # (N, C_out, OH, OW), a new tensor
    if x.ndim == 3:  # unbatched: the result in its own shape, not a view of the 4-D one
        out = out.reshape(out.shape[1:]) if bias is not None else out.reshape(out.shape[1:]).clone()
    if bias is not None:
        out = out + as_tensor(bias).reshape(-1, 1, 1)
    return out
