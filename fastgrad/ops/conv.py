"""conv2d as im2col + one GEMM per pass, with numba kernels for the data movement.

Shapes (P = OH*OW, K = C*KH*KW):
    forward   cols (K, N*P) = im2col(x);  y (O, N*P) = W.reshape(O, K) @ cols;  out = NCHW(y) + b
    backward  g (O, N*P) = rows of grad_output (db summed on the way)
              dW = g @ cols.T;  dcols = W.reshape(O, K).T @ g;  dx = col2im(dcols)
See ``fastgrad/kernels/im2col.py`` for why this column layout.
"""
import numpy as np

from fastgrad.autograd.function import GradFn, needs_grad
from fastgrad.autograd.tensor import Tensor
from fastgrad.kernels import cnhw_to_nchw, col2im, im2col, nchw_to_cnhw
from fastgrad.ops._operands import as_tensor
from fastgrad.ops.conv_geometry import batched, conv2d_geometry
from fastgrad.ops.workspace import NO_WORKSPACE


class Conv2dGradFn(GradFn):
    def __init__(self, x, weight, bias, cols, geometry, workspace):
        super().__init__(x, weight, bias)
        self.cols = cols
        self.weight = weight.arr
        self.geometry = geometry
        self.workspace = workspace
        self.save_for_backward(weight)

    def backward(self, grad_output):
        g = self.geometry
        need_x, need_w, need_b = self.needs_input_grad
        dtype = self.cols.dtype
        k = g.c * g.kh * g.kw
        npos = g.n * g.out_h * g.out_w
        grad_rows = self.workspace.take((g.out_channels, npos), dtype)
        d_bias = np.empty(g.out_channels, dtype=dtype) if need_b else None
        grad_nchw = np.ascontiguousarray(grad_output, dtype=dtype)
        nchw_to_cnhw(grad_nchw.reshape(g.n, g.out_channels, -1), grad_rows, d_bias)
        d_weight = (grad_rows @ self.cols.T).reshape(self.weight.shape) if need_w else None
        d_x = None
        if need_x:
            d_cols = self.workspace.take((k, npos), dtype)
            np.matmul(self.weight.reshape(g.out_channels, k).T, grad_rows, out=d_cols)
            d_x = np.empty((g.n, g.c, g.h, g.w), dtype=dtype)
            col2im(d_cols, g.n, g.c, g.h, g.w, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw,
                           g.dh, g.dw, g.out_h, g.out_w, d_x)
            self.workspace.give_back(d_cols)
        self.workspace.give_back(grad_rows)
        return d_x, d_weight, d_bias

    def release(self):
        workspace, cols = self.workspace, self.cols
        super().release()
        workspace.give_back(cols)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, workspace=None):
    """2-D cross-correlation, as ``torch.nn.functional.conv2d`` with groups=1.

    input (N, C, H, W) or unbatched (C, H, W); weight (O, C, KH, KW); bias (O,) or None;
    stride / padding / dilation an int or an (h, w) pair. Returns (N, O, OH, OW) with
    OH = (H + 2*ph - dh*(KH-1) - 1) // sh + 1 (likewise OW), in the input's dtype.
    """
    x, weight = as_tensor(input), as_tensor(weight)
    x, unbatched = batched(x, "conv2d")
    g = conv2d_geometry(x, weight, bias, stride, padding, dilation)
    ws = NO_WORKSPACE if workspace is None else workspace
    dtype = x.dtype
    k = g.c * g.kh * g.kw
    npos = g.n * g.out_h * g.out_w
    x_arr = np.ascontiguousarray(x.arr)
    cols = ws.take((k, npos), dtype)
    im2col(x_arr, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.dh, g.dw, g.out_h, g.out_w, cols)
    rows = ws.take((g.out_channels, npos), dtype)
    np.matmul(np.ascontiguousarray(weight.arr).reshape(g.out_channels, k), cols, out=rows)
    out = np.empty((g.n, g.out_channels, g.out_h, g.out_w), dtype=dtype)
    bias_arr = None if bias is None else np.ascontiguousarray(bias.arr)
    cnhw_to_nchw(rows, bias_arr, out.reshape(g.n, g.out_channels, -1))
    ws.give_back(rows)
    if needs_grad(x, weight, bias):
        fn = Conv2dGradFn(x, weight, bias, cols, g, ws)
    else:
        fn = None
        ws.give_back(cols)
    result = Tensor._wrap(out, fn)
    return result.squeeze(0) if unbatched else result
