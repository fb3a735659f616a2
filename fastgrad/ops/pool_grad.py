"""max_pool's backward as a differentiable op: what the max pools' backwards (``ops/pooling.py``
and the naive oracle's) record with create_graph; first-order they run numba kernels on arrays.

A max pool's gradient is a scatter of grad_output to each window's saved argmax (summed where
overlapping windows chose one element): ``indexing.scatter``, whose backward is the gather
``grad[argmax]`` and back. (The average pools' backwards are linear maps of their own:
``ops/linear_map.py``.)
"""
import numpy as np

from fastgrad.autograd.tensor import Tensor
from fastgrad.ops.indexing import scatter


def max_pool2d_create_graph_backward(fn, grad_output):
    """``MaxPool2dGradFn``'s backward with create_graph. The node saved the argmax (flat
    indices into each input plane, in the output's layout) and keeps the (N, C, H, W) planes
    of its input and output (``layout``) and the input's own shape (``in_shape``)."""
    argmax, = fn.saved_tensors
    argmax = argmax.arr if isinstance(argmax, Tensor) else argmax  # returned indices: a Tensor
    argmax = argmax.reshape(fn.layout.planes_out)
    return (scatter_to_argmax(grad_output, argmax, fn.layout.planes).reshape(fn.in_shape),)


def scatter_to_argmax(grad, argmax, planes):
    """grad (N, C, OH, OW), or any shape holding those elements, added at ``argmax`` (N, C, OH,
    OW: flat indices into each (H, W) plane) of zeros of ``planes`` (N, C, H, W);
    differentiable when ``grad`` is a Tensor."""
    n, c, h, w = planes
    per_plane = argmax.shape[2] * argmax.shape[3]
    index = (np.arange(n).reshape(n, 1, 1), np.arange(c).reshape(1, c, 1),
             argmax.reshape(n, c, per_plane))
    return scatter(grad.reshape(n, c, per_plane), (n, c, h * w), index).reshape(planes)
