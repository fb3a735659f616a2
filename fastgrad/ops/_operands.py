"""Turning op arguments into arrays: Tensors, Python scalars, ndarrays, lists."""
import numbers

import numpy as np

from fastgrad import dtypes
from fastgrad.autograd.tensor import Tensor


def as_tensor(x):
    """A Tensor for an op's tensor argument (non-tensors become constant tensors)."""
    return x if isinstance(x, Tensor) else Tensor(x)


def float_array(x):
    """The array of tensor ``x``, as float32 when it is integer or bool (``exp(int)`` is float)."""
    arr = x.arr
    return arr if dtypes.is_floating(arr.dtype) else arr.astype(np.float32)


def wrap_saving_output(out, fn):
    """``Tensor._wrap(out, fn)`` for a node whose backward reads ``out`` itself.

    The result is saved (``fn.save_for_backward``, after what the node saved itself) once it
    is a Tensor, so an in-place change of it (``y = x.exp(); y += 1``) makes the backward
    raise instead of silently using the changed values.
    """
    result = Tensor._wrap(out, fn)
    if fn is not None:
        fn.save_for_backward(result)
    return result


def operand(x):
    """(value, tensor) for a binary op's argument; tensor is None for a constant.

    Python (and NumPy) scalars stay scalars so that NumPy's weak scalar typing keeps the
    tensor's dtype (float32 * 2.5 stays float32, as in PyTorch).
    """
    if isinstance(x, Tensor):
        return x.arr, x
    if isinstance(x, np.generic):
        x = x.item()
    if isinstance(x, numbers.Number):
        return x, None
    if isinstance(x, np.ndarray):
        return x, None
    return dtypes.to_array(x), None


def is_float64(value):
    return getattr(value, "dtype", None) == np.float64


_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2}


def fix_result_dtype(out, a, b):
    """Undo NumPy's float64 where PyTorch gives its default float32.

    NumPy makes float64 from int / int or int * 2.5; PyTorch makes float32 (the default dtype)
    unless a float64 array takes part, and an integer array with a float array takes the
    float's dtype.
    """
    dtype_a, dtype_b = getattr(a, "dtype", None), getattr(b, "dtype", None)
    if dtype_a is not None and dtype_b is not None and (np.ndim(a) == 0) != (np.ndim(b) == 0):
        # A 0-d tensor with a dimensioned one: PyTorch lets the 0-d one decide only when its
        # category (bool < integer < float) is higher; else the dimensioned dtype stands
        # (float32 + 0-d float64 is float32, int8 + 0-d int64 is int8).
        dim_dtype, zero_dtype = (dtype_b, dtype_a) if np.ndim(a) == 0 else (dtype_a, dtype_b)
        common = zero_dtype if _CATEGORY[zero_dtype.kind] > _CATEGORY[dim_dtype.kind] else dim_dtype
        if out.dtype.kind == "f" and common.kind in "biu":
            common = dtypes.DEFAULT_FLOAT  # a true division (or power) of integers
        return out.astype(common, copy=False)
    if out.dtype.kind == "f" and dtype_a is not None and dtype_b is not None:
        # An integer (or bool) array with a float one: PyTorch keeps the float's dtype
        # (int + float16 is float16), where NumPy goes up to a float that holds both.
        if dtype_a.kind == "f" and dtype_b.kind in "biu":
            return out.astype(dtype_a, copy=False)
        if dtype_b.kind == "f" and dtype_a.kind in "biu":
            return out.astype(dtype_b, copy=False)
    if out.dtype == np.float64 and not (is_float64(a) or is_float64(b)):
        return out.astype(dtypes.DEFAULT_FLOAT)  # read now: set_default_dtype may change it
    return out


def broadcast_error(a_shape, b_shape):
    for i in range(1, min(len(a_shape), len(b_shape)) + 1):
        sa, sb = a_shape[-i], b_shape[-i]
        if sa != sb and sa != 1 and sb != 1:
            dim = max(len(a_shape), len(b_shape)) - i
            return RuntimeError(
                f"The size of tensor a ({sa}) must match the size of tensor b ({sb}) at "
                f"non-singleton dimension {dim} (shapes {tuple(a_shape)} and {tuple(b_shape)})"
            )
    return RuntimeError(f"shapes {tuple(a_shape)} and {tuple(b_shape)} do not broadcast")


def normalize_dim(dim, ndim):
    """``dim`` as a non-negative int; ``IndexError`` as PyTorch's when out of range."""
    if not isinstance(dim, (int, np.integer)) or isinstance(dim, bool):
        raise TypeError(f"dim must be an int, got {type(dim).__name__}")
    rank = max(ndim, 1)
    if not -rank <= dim < rank:
        raise IndexError(
            f"Dimension out of range (expected to be in range of [{-rank}, {rank - 1}], but got {dim})"
        )
    return int(dim) % rank


def normalize_dims(dim, ndim):
    """A tuple of non-negative axes for ``dim`` (int, tuple or list), or None for all axes."""
    if dim is None:
        return None
    dims = tuple(dim) if isinstance(dim, (tuple, list)) else (dim,)
    axes = tuple(normalize_dim(d, ndim) for d in dims)
    if len(set(axes)) != len(axes):
        raise RuntimeError(f"dim {dims} appears multiple times in the list of dims")
    if ndim == 0:
        return None
    return axes


def resolve_alias(torch_value, numpy_value, torch_name, numpy_name, default):
    """Accept PyTorch's ``dim``/``keepdim`` or NumPy's ``axis``/``keepdims`` spelling."""
    if numpy_value is None:
        return default if torch_value is None else torch_value
    if torch_value is not None and torch_value != default:
        raise TypeError(f"got both {torch_name}= and {numpy_name}=; pass one of them")
    return numpy_value
