"""The pools' backwards as differentiable ops: what max_pool2d's and avg_pool2d's backwards
record with create_graph (their first-order backwards, in ``ops/pooling.py``, run numba
kernels on arrays).

max_pool2d's gradient is a scatter of grad_output to each window's saved argmax (summed where
overlapping windows chose one element): ``indexing.scatter``, whose backward is the gather
``grad[argmax]`` and back. avg_pool2d is linear, so its input gradient is its adjoint, a
spread of each output's gradient over its window, and the adjoint's derivative is avg_pool2d
again.
"""
import numpy as np

from fastgrad.autograd.function import GradFn, needs_grad
from fastgrad.autograd.tensor import Tensor
from fastgrad.ops.indexing import scatter


def max_pool2d_create_graph_backward(fn, grad_output):
    """``MaxPool2dGradFn``'s backward with create_graph. The node saved the argmax (N, C, OH,
    OW) as flat indices into each input plane and keeps the input's shape (``in_shape``)."""
    argmax, = fn.saved_tensors
    return (scatter_to_argmax(grad_output, argmax, fn.in_shape),)


def scatter_to_argmax(grad, argmax, in_shape):
    """grad (N, C, OH, OW) added at ``argmax`` (same shape: flat indices into each (H, W)
    plane) of zeros of ``in_shape`` (N, C, H, W); differentiable when ``grad`` is a Tensor."""
    n, c, h, w = in_shape
    index = (np.arange(n).reshape(n, 1, 1), np.arange(c).reshape(1, c, 1), argmax.reshape(n, c, -1))
    return scatter(grad.reshape(n, c, -1), (n, c, h * w), index).reshape(in_shape)


def _taps(g):
    """The (N, C, OH, OW) windows of the padded input, one per kernel tap."""
    for i in range(g.kh):
        for j in range(g.kw):
            yield (slice(None), slice(None), slice(i, i + g.sh * (g.out_h - 1) + 1, g.sh),
                   slice(j, j + g.sw * (g.out_w - 1) + 1, g.sw))


def _avg_input_grad_array(grad, g):
    padded = np.zeros((g.n, g.c, g.h + 2 * g.ph, g.w + 2 * g.pw), dtype=grad.dtype)
    share = grad / (g.kh * g.kw)  # zero padding counts in the mean (count_include_pad=True)
    for window in _taps(g):
        padded[window] += share
    return np.ascontiguousarray(padded[:, :, g.ph:g.ph + g.h, g.pw:g.pw + g.w])


class AvgPool2dInputGradGradFn(GradFn):
    fresh_grads = True

    def __init__(self, grad, geometry):
        super().__init__(grad)
        self.geometry = geometry

    def backward(self, grad_output):
        from fastgrad.ops.pooling import avg_pool2d

        g = self.geometry
        out = avg_pool2d(grad_output, (g.kh, g.kw), (g.sh, g.sw), (g.ph, g.pw))
        return (out if isinstance(grad_output, Tensor) else out.arr,)


def avg_pool2d_input_grad(grad, geometry):
    """The gradient of avg_pool2d's input: grad (N, C, OH, OW) -> (N, C, H, W) of ``geometry``
    (a ``PoolGeometry``). A Tensor, differentiable, when ``grad`` is one."""
    if not isinstance(grad, Tensor):
        return _avg_input_grad_array(np.asarray(grad), geometry)
    out = _avg_input_grad_array(grad.arr, geometry)
    return Tensor._wrap(out, AvgPool2dInputGradGradFn(grad, geometry) if needs_grad(grad) else None)


def avg_pool2d_create_graph_backward(fn, grad_output):
    """``AvgPool2dGradFn``'s backward with create_graph (the node keeps its ``geometry``)."""
    return (avg_pool2d_input_grad(grad_output, fn.geometry),)
