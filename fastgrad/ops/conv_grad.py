"""conv2d's two gradients as differentiable ops: what conv2d's backward records with
create_graph (its first-order backward, in ``ops/conv.py``, runs numba kernels on arrays).

For y = conv2d(x, W) (a ``ConvGeometry``: stride, padding, dilation) and a cotangent g of y:
    conv2d_input_grad(g, W)  = d<y, g>/dx   (the transposed convolution)
    conv2d_weight_grad(x, g) = d<y, g>/dW
conv2d and these two are bilinear, and each one's derivatives are the others (the standard
identities), along a cotangent h of x's shape or H of W's shape:
    conv2d_input_grad(g, W):  d/dg = conv2d(h, W),            d/dW = conv2d_weight_grad(h, g)
    conv2d_weight_grad(x, g): d/dx = conv2d_input_grad(g, H), d/dg = conv2d(x, H)
so derivatives of any order stay within the three, for any groups (each group is its own
convolution). The two gradients run the conv kernels (im2col / col2im) with batched per-group
GEMMs, unchunked: conv_transpose2d's forward is ``conv2d_input_grad``.
"""
import numpy as np

from fastgrad.autograd.function import GradFn, needs_grad
from fastgrad.autograd.tensor import Tensor
from fastgrad.kernels import col2im, im2col


def _by_group(cols, g, n):
    """(G*Kg, n*P) column buffer -> (n, G, Kg, P) strided view (group g's columns)."""
    return cols.reshape(g.groups, cols.shape[0] // g.groups, n, g.out_h * g.out_w).transpose(2, 0, 1, 3)


def _input_grad_array(grad, weight, g):
    """grad (N, O, OH, OW), weight (O, C/G, KH, KW) -> (N, C, H, W): per group W_g.T @ grad_g
    into columns, then col2im."""
    dtype = np.result_type(grad, weight)
    grad_groups = np.ascontiguousarray(grad, dtype).reshape(g.n, g.groups, g.out_channels // g.groups, g.out_h * g.out_w)
    weight_groups = np.ascontiguousarray(weight, dtype).reshape(g.groups, g.out_channels // g.groups, -1)
    d_cols = np.empty((g.c * g.kh * g.kw, g.n * g.out_h * g.out_w), dtype)
    np.matmul(weight_groups.transpose(0, 2, 1), grad_groups, out=_by_group(d_cols, g, g.n))
    d_x = np.empty((g.n, g.c, g.h, g.w), dtype)
    col2im(d_cols, g.n, g.c, g.h, g.w, g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.dh, g.dw,
           g.out_h, g.out_w, d_x)
    return d_x


def _weight_grad_array(x, grad, g):
    """x (N, C, H, W), grad (N, O, OH, OW) -> (O, C/G, KH, KW): im2col, then per group
    grad_g @ cols_g.T summed over the images."""
    dtype = np.result_type(x, grad)
    cols = np.empty((g.c * g.kh * g.kw, g.n * g.out_h * g.out_w), dtype)
    im2col(np.ascontiguousarray(x, dtype), g.kh, g.kw, g.sh, g.sw, g.ph, g.pw, g.dh, g.dw,
           g.out_h, g.out_w, cols)
    grad_groups = np.ascontiguousarray(grad, dtype).reshape(g.n, g.groups, g.out_channels // g.groups, g.out_h * g.out_w)
    d_weight = np.matmul(grad_groups, _by_group(cols, g, g.n).transpose(0, 1, 3, 2)).sum(axis=0)
    return d_weight.reshape(g.out_channels, g.c // g.groups, g.kh, g.kw)


def _conv(x, weight, g):
    """conv2d(x, weight) with geometry ``g`` and no bias: a Tensor if either is one (recorded),
    else an ndarray."""
    from fastgrad.ops.conv import conv2d

    recorded = isinstance(x, Tensor) or isinstance(weight, Tensor)
    # arrays wrapped as they are (``as_tensor`` would make float64 data float32)
    x, weight = (v if isinstance(v, Tensor) else Tensor._wrap(np.asarray(v), None)
                 for v in (x, weight))
    out = conv2d(x, weight, None, (g.sh, g.sw), (g.ph, g.pw), (g.dh, g.dw), g.groups)
    if out.shape[2:] != (g.out_h, g.out_w):
        # conv_transpose2d's output_padding >= stride (allowed when < dilation): the positions
        # past (out_h, out_w) are not in the transposed convolution's input
        out = out[:, :, :g.out_h, :g.out_w]
    return out if recorded else out.arr


class Conv2dInputGradGradFn(GradFn):
    fresh_grads = True

    def __init__(self, grad, weight, geometry):
        super().__init__(grad, weight)
        self.save_for_backward(grad, weight)
        self.geometry = geometry

    def backward(self, grad_output):
        grad, weight = self.saved_tensors
        need_grad, need_weight = self.needs_input_grad
        return (_conv(grad_output, weight, self.geometry) if need_grad else None,
                conv2d_weight_grad(grad_output, grad, self.geometry) if need_weight else None)


class Conv2dWeightGradGradFn(GradFn):
    fresh_grads = True

    def __init__(self, x, grad, geometry):
        super().__init__(x, grad)
        self.save_for_backward(x, grad)
        self.geometry = geometry

    def backward(self, grad_output):
        x, grad = self.saved_tensors
        need_x, need_grad = self.needs_input_grad
        return (conv2d_input_grad(grad, grad_output, self.geometry) if need_x else None,
                _conv(x, grad_output, self.geometry) if need_grad else None)


def _as_operands(*values):
    """(Tensors or None for each value, arrays, whether any is a Tensor)."""
    tensors = [v if isinstance(v, Tensor) else None for v in values]
    arrays = [v.arr if isinstance(v, Tensor) else np.asarray(v) for v in values]
    return tensors, arrays, any(t is not None for t in tensors)


def conv2d_input_grad(grad, weight, geometry):
    """The gradient of conv2d's input: grad (N, O, OH, OW), weight (O, C, KH, KW) -> (N, C, H, W)
    of ``geometry`` (a ``ConvGeometry``). A Tensor, differentiable, when either is a Tensor."""
    (grad_t, weight_t), (grad_a, weight_a), any_tensor = _as_operands(grad, weight)
    out = _input_grad_array(grad_a, weight_a, geometry)
    if not any_tensor:
        return out
    fn = Conv2dInputGradGradFn(grad_t, weight_t, geometry) if needs_grad(grad_t, weight_t) else None
    return Tensor._wrap(out, fn)


def conv2d_weight_grad(x, grad, geometry):
    """The gradient of conv2d's weight: x (N, C, H, W), grad (N, O, OH, OW) -> (O, C, KH, KW)
    of ``geometry``. A Tensor, differentiable, when either is a Tensor."""
    (x_t, grad_t), (x_a, grad_a), any_tensor = _as_operands(x, grad)
    out = _weight_grad_array(x_a, grad_a, geometry)
    if not any_tensor:
        return out
    fn = Conv2dWeightGradGradFn(x_t, grad_t, geometry) if needs_grad(x_t, grad_t) else None
    return Tensor._wrap(out, fn)


def conv2d_create_graph_backward(fn, grad_output):
    """The backward of a conv2d node (``Conv2dGradFn``, ``NaiveConv2dGradFn``) with
    create_graph: (d input, d weight, d bias) from the differentiable ops above. The node
    keeps its input with ``save_for_create_graph`` and its weight as its first saved tensor."""
    weight = fn.saved_tensors[0]
    x, = fn.saved_for_create_graph
    g = fn.geometry
    need_x, need_w, need_b = fn.needs_input_grad
    return (conv2d_input_grad(grad_output, weight, g) if need_x else None,
            conv2d_weight_grad(x, grad_output, g) if need_w else None,
            grad_output.sum(axis=(0, 2, 3)) if need_b else None)
