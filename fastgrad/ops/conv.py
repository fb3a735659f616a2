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
from fastgrad.kernels.threads import batch_chunks, run_chunks
from fastgrad.ops._operands import as_tensor
from fastgrad.ops.conv_geometry import batched, conv2d_geometry
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
        grad_rows = [workspace.take((out_ch, (hi - lo) * positions), dtype) if long_dw else None
                     for lo, hi in self.chunks]
        # Each chunk makes its dW before its dcols, and after its last backward a node's
        # columns are dead: dcols can then take their first K rows (one buffer less to keep
        # warm; docs/performance.md, "Convolution layout").
        reuse = need_x and need_wb and self.last_backward
        d_cols = [(cols[i][:k] if reuse
                   else workspace.take((k, (hi - lo) * positions), dtype)) if need_x else None
                  for i, (lo, hi) in enumerate(self.chunks)]

        def chunk(i, lo, hi):
            grad = grad_nchw[lo:hi].reshape(hi - lo, out_ch, positions)
            d_wb = _weight_grad_chunk(grad, cols[i], grad_rows[i]) if need_wb else None
            if need_x:
                _input_grad_chunk(grad, grad_rows[i], weight_t, geometry, d_cols[i], d_x[lo:hi])
            return d_wb

        parts = run_chunks(chunk, self.chunks)
        for buffer in grad_rows + ([] if reuse else d_cols):
            if buffer is not None:
                workspace.give_back(buffer)
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
        # The column buffers go back to the layer's workspace (read from the saved list
        # directly: ``saved_tensors`` would refuse a weight changed since the forward).
        buffers = self._saved[1:] if not self.released else ()
        super().release()
        for buffer in buffers:
            self.workspace.give_back(buffer)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, workspace=None):
    """2-D cross-correlation, as ``torch.nn.functional.conv2d`` with groups=1.

    input (N, C, H, W) or unbatched (C, H, W); weight (O, C, KH, KW); bias (O,) or None;
    stride / padding / dilation an int or an (h, w) pair. Returns (N, O, OH, OW) with
    OH = (H + 2*ph - dh*(KH-1) - 1) // sh + 1 (likewise OW), in the input's dtype.
    ``workspace`` (a ``fastgrad.ops.workspace.Workspace``) lends reusable scratch buffers.
    """
    x, weight = as_tensor(input), as_tensor(weight)
    x, unbatched = batched(x)
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
    cols = [ws.take((rows, (hi - lo) * positions), dtype) for lo, hi in chunks]
    run_chunks(lambda i, lo, hi: _forward_chunk(x_arr[lo:hi], weight_matrix, geometry, cols[i],
                                                out[lo:hi]),
               chunks)
    if needs_grad(x, weight, bias):
        fn = Conv2dGradFn(x, weight, bias, cols, chunks, geometry, ws)
    else:
        fn = None
        for buffer in cols:
            ws.give_back(buffer)
    result = Tensor._wrap(out, fn)
    return result.squeeze(0) if unbatched else result
