"""conv2d as im2col + GEMMs, with numba kernels for the data movement.

Shapes for a chunk of n images (P = OH*OW, K = C*KH*KW, K' = K + 1 with a bias, else K):
    forward   cols (K', n*P) = im2col(x), row K all ones when there is a bias;
              out[i] (O, P) = [W | b] (O, K') @ cols[:, i*P:(i+1)*P]   for each image i,
              written straight into the NCHW output (one batched matmul, no layout move)
    backward  g[i] = grad_output[i] (O, P), read in NCHW as it is
              [dW | db] = sum_i g[i] @ cols[:, i*P:(i+1)*P].T;
              dcols[:, i*P:(i+1)*P] = W.T @ g[i];  dx = col2im(dcols)
              or, when K'*O is large (see below), with G (O, n*P) = nchw_to_cnhw(grad_output):
              [dW | db] = (cols @ G.T).T;  dcols = W.T @ G;  dx = col2im(dcols)
The ones row folds the bias into the GEMMs: the forward needs no bias pass and the bias
gradient comes out of the weight-gradient GEMM. The per-image GEMMs read and write strided
views of the column buffers (leading dimension n*P), which BLAS takes as they are.
The batch is cut into one chunk per core, each run on its own thread with single-threaded
kernels and BLAS (see ``fastgrad/kernels/threads.py`` for the measurements behind that), and
``fastgrad/kernels/im2col.py`` for the column layout and the measurements behind these choices.

Winograd F(2x2, 3x3) was built for conv2 (16 -> 32 channels, 13x13) and measured, and not kept:
its 16 small GEMMs per pass took 0.56 ms per 32 images against im2col's 1.32 (three passes,
one thread, hot), but the transforms around them move more data than im2col and col2im do
(V 1.2 MB, M and dM 2.4 MB each per 32 images). Transforms written per tile with the tile
index image-major: chunk fwd+bwd 0.83-0.97x of im2col's hot, 1.15x with the caches flushed,
and the layer and the training step no faster or slower in place (alternating processes);
with the image index innermost (vectorised transforms, plus NCHW <-> tile-layout
transposes): 0.94-1.03x hot, 1.04-1.06x flushed. The transposes alone cost as much as the
GEMM time saved.
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
# runs well only when both K' and O are not too small. Chunk of 32 images, 1 thread, per-image
# time / long time (incl. the move): O=16 P=676: K'=10 0.24, 46 0.41, 73 0.63, 145 1.31;
# O=32 P=121: K'=10 0.37, 28 0.60, 46 1.17, 145 1.48 (conv2): crossover at ~1100-1600 entries.
_PER_IMAGE_DW_MAX_ENTRIES = 1200


def _per_image(cols, n, positions):
    """(K', n*P) column buffer -> (n, K', P) strided view, one (K', P) matrix per image."""
    return cols.reshape(cols.shape[0], n, positions).transpose(1, 0, 2)


class Conv2dGradFn(GradFn):
    def __init__(self, x, weight, bias, cols, chunks, geometry, workspace):
        super().__init__(x, weight, bias)
        self.cols = cols  # one column buffer per chunk of the batch
        self.chunks = chunks
        self.weight = weight.arr
        self.geometry = geometry
        self.workspace = workspace
        self.save_for_backward(weight)

    def backward(self, grad_output):
        g = self.geometry
        need_x, need_w, need_b = self.needs_input_grad
        dtype = self.weight.dtype
        k = g.c * g.kh * g.kw
        rows = self.cols[0].shape[0]  # K' (K + 1 with a bias)
        positions = g.out_h * g.out_w
        out_ch = g.out_channels
        weight_t = self.weight.reshape(out_ch, k).T
        grad_nchw = np.ascontiguousarray(grad_output, dtype=dtype)
        d_x = np.empty((g.n, g.c, g.h, g.w), dtype=dtype) if need_x else None
        long_dw = (need_w or need_b) and rows * out_ch > _PER_IMAGE_DW_MAX_ENTRIES
        grad_rows = [self.workspace.take((out_ch, (hi - lo) * positions), dtype) if long_dw
                     else None for lo, hi in self.chunks]
        # Each chunk makes its dW before its dcols, and after its last backward a node's
        # columns are dead: dcols can then take their first K rows. A 4.5 MB buffer less for
        # conv2 at batch 64, which kept the step's working set nearer this machine's cache:
        # conv2 fwd+bwd 0.74-0.94x, the training step 0.83-1.03x (medians of 300 calls,
        # four alternations of separate processes; call-by-call alternation in one process
        # is biased here, each variant's buffers being a call colder than in steady state).
        reuse = need_x and (need_w or need_b) and self.last_backward
        d_cols = [(self.cols[i][:k] if reuse
                   else self.workspace.take((k, (hi - lo) * positions), dtype)) if need_x else None
                  for i, (lo, hi) in enumerate(self.chunks)]

        def chunk(i, lo, hi):
            n = hi - lo
            grad_i = grad_nchw[lo:hi].reshape(n, out_ch, positions)
            d_wb = None
            if long_dw:
                nchw_to_cnhw(grad_i, grad_rows[i], None)
                # (cols @ G.T) keeps the long n*P axis as the GEMM's inner dimension with
                # both operands in their stored order: measured faster than G @ cols.T.
                d_wb = self.cols[i] @ grad_rows[i].T  # (K', O)
            elif need_w or need_b:
                d_wb = np.matmul(grad_i, _per_image(self.cols[i], n, positions)
                                 .transpose(0, 2, 1)).sum(axis=0).T  # (K', O)
            if need_x:
                if long_dw:
                    # G is there anyway: one GEMM beat the per-image ones on conv2 (layer
                    # fwd+bwd 0.94-0.98x of them, interleaved).
                    np.matmul(weight_t, grad_rows[i], out=d_cols[i])
                else:
                    np.matmul(weight_t, grad_i, out=_per_image(d_cols[i], n, positions))
                col2im(d_cols[i], n, g.c, g.h, g.w, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw,
                       g.dh, g.dw, g.out_h, g.out_w, d_x[lo:hi])
            return d_wb

        parts = run_chunks(chunk, self.chunks)
        for buffer in grad_rows + ([] if reuse else d_cols):
            if buffer is not None:
                self.workspace.give_back(buffer)
        d_weight = d_bias = None
        if need_w or need_b:
            d_wb = parts[0] if len(parts) == 1 else sum(parts)
            if need_w:
                d_weight = np.ascontiguousarray(d_wb[:k].T).reshape(self.weight.shape)
            if need_b:
                d_bias = np.ascontiguousarray(d_wb[k])
        return d_x, d_weight, d_bias

    def release(self):
        workspace, cols = self.workspace, self.cols
        super().release()
        for buffer in cols:
            workspace.give_back(buffer)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, workspace=None):
    """2-D cross-correlation, as ``torch.nn.functional.conv2d`` with groups=1.

    input (N, C, H, W) or unbatched (C, H, W); weight (O, C, KH, KW); bias (O,) or None;
    stride / padding / dilation an int or an (h, w) pair. Returns (N, O, OH, OW) with
    OH = (H + 2*ph - dh*(KH-1) - 1) // sh + 1 (likewise OW), in the input's dtype.
    ``workspace`` (a ``fastgrad.ops.workspace.Workspace``) lends reusable scratch buffers.
    """
    x, weight = as_tensor(input), as_tensor(weight)
    x, unbatched = batched(x)
    g = conv2d_geometry(x, weight, bias, stride, padding, dilation)
    ws = NO_WORKSPACE if workspace is None else workspace
    dtype = x.dtype
    k = g.c * g.kh * g.kw
    positions = g.out_h * g.out_w
    x_arr = np.ascontiguousarray(x.arr)
    weight_matrix = weight.arr.reshape(g.out_channels, k)
    if bias is not None:
        weight_matrix = np.concatenate([weight_matrix, bias.arr.reshape(-1, 1)], axis=1)
    rows = weight_matrix.shape[1]
    out = np.empty((g.n, g.out_channels, g.out_h, g.out_w), dtype=dtype)
    chunks = batch_chunks(g.n)
    cols = [ws.take((rows, (hi - lo) * positions), dtype) for lo, hi in chunks]

    def chunk(i, lo, hi):
        n = hi - lo
        im2col(x_arr[lo:hi], g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.dh, g.dw, g.out_h, g.out_w,
               cols[i])
        if rows > k:
            cols[i][k] = 1
        np.matmul(weight_matrix, _per_image(cols[i], n, positions),
                  out=out[lo:hi].reshape(n, g.out_channels, positions))

    run_chunks(chunk, chunks)
    if needs_grad(x, weight, bias):
        fn = Conv2dGradFn(x, weight, bias, cols, chunks, g, ws)
    else:
        fn = None
        for buffer in cols:
            ws.give_back(buffer)
    result = Tensor._wrap(out, fn)
    return result.squeeze(0) if unbatched else result
