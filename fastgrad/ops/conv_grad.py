"""conv2d's two gradients as differentiable ops: what conv2d's backward records with
create_graph (its first-order backward, in ``ops/conv.py``, runs numba kernels on arrays).

For y = conv2d(x, W) (a ``ConvGeometry``: stride, padding, dilation) and a cotangent g of y:
    conv2d_input_grad(g, W)  = d<y, g>/dx   (the transposed convolution)
    conv2d_weight_grad(x, g) = d<y, g>/dW
conv2d and these two are bilinear, and each one's derivatives are the others (the standard
identities), along a cotangent h of x's shape or H of W's shape:
    conv2d_input_grad(g, W):  d/dg = conv2d(h, W),            d/dW = conv2d_weight_grad(h, g)
    conv2d_weight_grad(x, g): d/dx = conv2d_input_grad(g, H), d/dg = conv2d(x, H)
so derivatives of any order stay within the three. The two gradients loop over the KH*KW
kernel taps with one tensordot each: only recorded backwards run them, so they favour plain
NumPy over speed.
"""
import numpy as np

from fastgrad.autograd.function import GradFn, needs_grad
from fastgrad.autograd.tensor import Tensor


def _taps(g):
    """(i, j, the (N, C, OH, OW) window of the padded input that kernel tap (i, j) reads)."""
    for i in range(g.kh):
        for j in range(g.kw):
            rows = slice(i * g.dh, i * g.dh + g.sh * (g.out_h - 1) + 1, g.sh)
            cols = slice(j * g.dw, j * g.dw + g.sw * (g.out_w - 1) + 1, g.sw)
            yield i, j, (slice(None), slice(None), rows, cols)


def _input_grad_array(grad, weight, g):
    """grad (N, O, OH, OW), weight (O, C, KH, KW) -> (N, C, H, W)."""
    dtype = np.result_type(grad, weight)
    padded = np.zeros((g.n, g.c, g.h + 2 * g.ph, g.w + 2 * g.pw), dtype=dtype)
    for i, j, window in _taps(g):
        spread = np.tensordot(grad, weight[:, :, i, j], axes=([1], [0]))  # (N, OH, OW, C)
        padded[window] += spread.transpose(0, 3, 1, 2)
    return np.ascontiguousarray(padded[:, :, g.ph:g.ph + g.h, g.pw:g.pw + g.w])


def _weight_grad_array(x, grad, g):
    """x (N, C, H, W), grad (N, O, OH, OW) -> (O, C, KH, KW)."""
    dtype = np.result_type(x, grad)
    padded = np.pad(x, ((0, 0), (0, 0), (g.ph, g.ph), (g.pw, g.pw)))
    d_weight = np.empty((g.out_channels, g.c, g.kh, g.kw), dtype=dtype)
    for i, j, window in _taps(g):
        d_weight[:, :, i, j] = np.tensordot(grad, padded[window], axes=([0, 2, 3], [0, 2, 3]))
    return d_weight


def _conv(x, weight, g):
    """conv2d(x, weight) with geometry ``g`` and no bias: a Tensor if either is one (recorded),
    else an ndarray."""
    from fastgrad.ops.conv import conv2d

    out = conv2d(x, weight, None, (g.sh, g.sw), (g.ph, g.pw), (g.dh, g.dw))
    return out if isinstance(x, Tensor) or isinstance(weight, Tensor) else out.arr


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
