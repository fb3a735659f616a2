"""cat and stack: the gradient is split back into the pieces."""
import numpy as np

from fastgrad.autograd.function import GradFn, needs_grad
from fastgrad.autograd.tensor import Tensor
from fastgrad.ops import backend
from fastgrad.ops._operands import as_tensor, normalize_dim


class CatGradFn(GradFn):
    def __init__(self, tensors, axis, sizes):
        super().__init__(*tensors)
        self.axis = axis
        self.bounds = np.cumsum(sizes)[:-1]

    def backward(self, grad_output):
        return tuple(backend.split(grad_output, self.bounds, self.axis))


def _tensor_list(tensors, name):
    if isinstance(tensors, Tensor) or not isinstance(tensors, (list, tuple)):
        raise TypeError(f"{name}() expects a list or tuple of tensors, got {type(tensors).__name__}")
    if not tensors:
        # PyTorch's classes: ValueError from cat, RuntimeError from stack
        error = ValueError if name == "cat" else RuntimeError
        raise error(f"{name}() expects a non-empty list of tensors")
    return [as_tensor(t) for t in tensors]


def _joined_dtype(tensors):
    """PyTorch's result dtype for tensors of one rank: any float wins over integers and bool
    (int64 with float32 is float32, where NumPy would make float64); otherwise NumPy's."""
    dtypes = [t.arr.dtype for t in tensors]
    floats = [d for d in dtypes if d.kind == "f"]
    return np.result_type(*(floats or dtypes))


def cat(tensors, dim=0, *, axis=None):
    """Join along an existing dim; all other sizes must match."""
    tensors = _tensor_list(tensors, "cat")
    dim = dim if axis is None else axis
    first = tensors[0]
    if first.arr.ndim == 0:
        raise RuntimeError("zero-dimensional tensor (at position 0) cannot be concatenated")
    axis_ = normalize_dim(dim, first.arr.ndim)
    for i, t in enumerate(tensors[1:], start=1):
        if t.arr.ndim != first.arr.ndim:
            raise RuntimeError(
                f"Tensors must have same number of dimensions: got {first.arr.ndim} and "
                f"{t.arr.ndim} (tensor number {i})"
            )
        for d, (a, b) in enumerate(zip(first.arr.shape, t.arr.shape)):
            if d != axis_ and a != b:
                raise RuntimeError(
                    f"Sizes of tensors must match except in dimension {axis_}. Expected size {a} "
                    f"but got size {b} for tensor number {i} in the list."
                )
    out = np.concatenate([t.arr for t in tensors], axis=axis_, dtype=_joined_dtype(tensors))
    fn = None
    if needs_grad(*tensors):
        fn = CatGradFn(tensors, axis_, [t.arr.shape[axis_] for t in tensors])
    return Tensor._wrap(out, fn)


concatenate = cat


def stack(tensors, dim=0, *, axis=None):
    """Join along a new dim; all shapes must be equal."""
    from fastgrad.ops.shape import unsqueeze

    tensors = _tensor_list(tensors, "stack")
    dim = dim if axis is None else axis
    for i, t in enumerate(tensors[1:], start=1):
        if t.arr.shape != tensors[0].arr.shape:
            raise RuntimeError(
                f"stack expects each tensor to be equal size, but got {tensors[0].shape} at entry "
                f"0 and {t.shape} at entry {i}"
            )
    d = normalize_dim(dim, tensors[0].arr.ndim + 1)
    return cat([unsqueeze(t, d) for t in tensors], d)
