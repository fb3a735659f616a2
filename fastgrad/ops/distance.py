"""Norms along a dim and what is built on them: ``normalize``, ``cosine_similarity``,
``pairwise_distance``; and ``one_hot``, their non-differentiable neighbour.

Composed from differentiable ops (abs, pow, sum, where, division), so every gradient and
second derivative comes from those ops' backwards; a zero vector gets the zero subgradient
(PyTorch's ``norm_backward`` rule) instead of ``0 * inf``.
"""
import numpy as np

from fastgrad.autograd.tensor import Tensor
from fastgrad.ops._operands import as_tensor, normalize_dim
from fastgrad.ops.select import where


def vector_norm(x, p, dim, keepdim=False):
    """The p-norm of ``x`` along ``dim`` (p > 0, or inf); float Tensor in, float Tensor out.

    Where the norm is 0 its gradient is 0 (as PyTorch), not NaN: the power 1/p is taken of
    1 there and the 0 put back by ``where``, so no backward sees 0 ** (1/p - 1)."""
    if p == float("inf"):
        return x.abs().amax(dim=dim, keepdim=keepdim)
    if p == float("-inf"):
        return x.abs().amin(dim=dim, keepdim=keepdim)
    if p == 0:
        return (x != 0).astype(x.dtype).sum(dim=dim, keepdim=keepdim)
    powered = x * x if p == 2 else x.abs() ** p
    total = powered.sum(dim=dim, keepdim=keepdim)
    zero = (total.arr == 0)
    return where(zero, 0.0, where(zero, 1.0, total) ** (1.0 / p))


def _clamp_min(x, low):
    """max(x, low) with the gradient passing where x >= low (PyTorch's clamp_min)."""
    return where(x.arr < low, low, x)


def _clamp_min_keeping_gradient(x, low):
    """max(x, low) whose gradient is 1 even where x < low: PyTorch's cosine_similarity clamps
    the norms in place under no_grad, so the norm's own gradient still flows."""
    return x + (np.maximum(x.arr, low) - x.arr)


def normalize(input, p=2.0, dim=1, eps=1e-12):
    """``input / max(||input||_p, eps)`` along ``dim``, as ``torch.nn.functional.normalize``."""
    input = as_tensor(input)
    dim = normalize_dim(dim, max(input.ndim, 1))
    norm = vector_norm(input, p, dim, keepdim=True)
    return input / _clamp_min(norm, eps)


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """sum(x1 / max(||x1||, eps) * x2 / max(||x2||, eps)) along ``dim`` of the broadcast shape
    (PyTorch 2.x: each vector is scaled by its own clamped norm before the dot product)."""
    x1, x2 = as_tensor(x1), as_tensor(x2)
    shape = _broadcast_shape(x1.shape, x2.shape, "cosine_similarity")
    dim = normalize_dim(dim, max(len(shape), 1))
    x1, x2 = x1.broadcast_to(shape), x2.broadcast_to(shape)
    n1 = _clamp_min_keeping_gradient(vector_norm(x1, 2, dim, keepdim=True), eps)
    n2 = _clamp_min_keeping_gradient(vector_norm(x2, 2, dim, keepdim=True), eps)
    return ((x1 / n1) * (x2 / n2)).sum(dim=dim)


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """``||x1 - x2 + eps||_p`` along the last dim of the broadcast shape, as PyTorch."""
    x1, x2 = as_tensor(x1), as_tensor(x2)
    shape = _broadcast_shape(x1.shape, x2.shape, "pairwise_distance")
    if len(shape) == 0:  # PyTorch treats 0-d inputs as one-element vectors
        return vector_norm((x1 - x2 + eps).reshape(1), p, 0, keepdim=False)
    return vector_norm(x1 - x2 + eps, p, -1, keepdim=keepdim)


def _broadcast_shape(a, b, name):
    try:
        return np.broadcast_shapes(a, b)
    except ValueError:
        raise RuntimeError(f"{name}: the size of x1 {tuple(a)} and of x2 {tuple(b)} must "
                           f"broadcast to one shape") from None


def one_hot(tensor, num_classes=-1):
    """int64 Tensor of shape ``tensor.shape + (num_classes,)`` with a 1 at each value;
    ``num_classes=-1`` takes ``tensor.max() + 1``. Input must be int64, as PyTorch's."""
    arr = tensor.arr if isinstance(tensor, Tensor) else np.asarray(tensor)
    if arr.dtype != np.int64:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    if arr.size == 0:
        if num_classes <= 0:
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
    else:
        if arr.min() < 0:
            raise RuntimeError(f"Class values must be non-negative, got {int(arr.min())}.")
        if num_classes == -1:
            num_classes = int(arr.max()) + 1
        elif arr.max() >= num_classes:
            raise RuntimeError(f"Class values must be smaller than num_classes, got "
                               f"{int(arr.max())} for num_classes={num_classes}.")
    out = (arr[..., None] == np.arange(num_classes)).astype(np.int64)
    return Tensor._wrap(out, None)
