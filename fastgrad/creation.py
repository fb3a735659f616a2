"""Tensor constructors: tensor, from_numpy, zeros, ones, full, arange, linspace, logspace, eye,
tril_indices, triu_indices, randn, rand, randint, empty, and the ``*_like`` forms. Float
results take the default float dtype (float32 unless ``set_default_dtype`` changed it);
``device=`` must name the CPU."""
import numbers

import numpy as np

from fastgrad import dtypes
from fastgrad.autograd.tensor import Tensor
from fastgrad.devices import check_cpu
from fastgrad._scalar_types import not_implemented
from fastgrad.random import default_generator


def _size(size):
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    for s in size:
        if not isinstance(s, (numbers.Integral,)) or isinstance(s, bool):
            raise TypeError(f"sizes must be ints, got {size}")
    for s in size:
        if s < 0:  # PyTorch's category and wording
            raise RuntimeError(
                f"Trying to create tensor with negative dimension {int(s)}: {[int(v) for v in size]}")
    return tuple(int(s) for s in size)


def _float_dtype(dtype):
    return dtypes.DEFAULT_FLOAT if dtype is None else dtypes.as_dtype(dtype)


def _new(arr, requires_grad, device):
    if device is not None:
        check_cpu(device)
    t = Tensor._wrap(arr)
    if requires_grad:
        t.requires_grad = True
    return t


def tensor(data, dtype=None, device=None, requires_grad=False):
    """A new tensor holding a copy of ``data``: Python floats become the default float dtype,
    a NumPy array or scalar keeps its dtype (``torch.tensor``'s rules; the ``Tensor``
    constructor, like ``torch.Tensor``, makes float data the default dtype)."""
    if isinstance(data, Tensor):
        # A tensor keeps its dtype (as torch.tensor(t)).
        data, dtype = data.arr, data.arr.dtype if dtype is None else dtype
    elif dtype is None and isinstance(data, (np.ndarray, np.generic)) and data.dtype.kind in "biuf":
        dtype = data.dtype
    return _new(dtypes.to_array(data, dtype, copy=True), requires_grad, device)


_FROM_NUMPY_KINDS = "biuf"


def from_numpy(ndarray):
    """A tensor that shares ``ndarray``'s memory (writes through either show in the other).

    The dtype is kept, float64 included (unlike ``tensor``, which copies and applies the
    default float dtype). Only bool, integer and float arrays are accepted (TypeError).
    """
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(ndarray).__name__})")
    if ndarray.dtype.kind not in _FROM_NUMPY_KINDS:
        raise TypeError(
            f"can't convert np.ndarray of type numpy.{ndarray.dtype}. The only supported types "
            "are: float64, float32, float16, int64, int32, int16, int8, uint64, uint32, uint16, "
            "uint8, and bool.")
    return Tensor._wrap(ndarray)


def zeros(*size, dtype=None, device=None, requires_grad=False):
    return _new(np.zeros(_size(size), dtype=_float_dtype(dtype)), requires_grad, device)


def ones(*size, dtype=None, device=None, requires_grad=False):
    return _new(np.ones(_size(size), dtype=_float_dtype(dtype)), requires_grad, device)


def empty(*size, dtype=None, device=None, requires_grad=False):
    return _new(np.empty(_size(size), dtype=_float_dtype(dtype)), requires_grad, device)


def full(size, fill_value, dtype=None, device=None, requires_grad=False):
    if dtype is None:
        dtype = dtypes.to_array(fill_value).dtype
    return _new(np.full(_size((size,)), fill_value, dtype=dtypes.as_dtype(dtype)), requires_grad, device)


def _like(x, dtype):
    arr = x.arr if isinstance(x, Tensor) else np.asarray(x)
    return arr.shape, (arr.dtype if dtype is None else dtypes.as_dtype(dtype))


def zeros_like(x, dtype=None, device=None, requires_grad=False):
    shape, dtype = _like(x, dtype)
    return _new(np.zeros(shape, dtype=dtype), requires_grad, device)


def ones_like(x, dtype=None, device=None, requires_grad=False):
    shape, dtype = _like(x, dtype)
    return _new(np.ones(shape, dtype=dtype), requires_grad, device)


def full_like(x, fill_value, dtype=None, device=None, requires_grad=False):
    shape, dtype = _like(x, dtype)
    return _new(np.full(shape, fill_value, dtype=dtype), requires_grad, device)


def empty_like(x, dtype=None, device=None, requires_grad=False):
    shape, dtype = _like(x, dtype)
    return _new(np.empty(shape, dtype=dtype), requires_grad, device)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False):
    """Integers (int64) from int arguments, float32 when any argument is a float."""
    # 0-d tensors as bounds count as the numbers they hold (an int tensor gives int64)
    start, end, step = (v.item() if isinstance(v, Tensor) else v for v in (start, end, step))
    if end is None:
        start, end = 0, start
    if step == 0:
        raise RuntimeError("arange: step must be nonzero")
    if (end - start) * step < 0:
        raise RuntimeError(
            f"arange: upper bound and lower bound inconsistent with step sign (start={start}, "
            f"end={end}, step={step})"
        )
    if dtype is None:
        ints = all(isinstance(v, numbers.Integral) for v in (start, end, step))
        dtype = np.int64 if ints else dtypes.DEFAULT_FLOAT
    return _new(np.arange(start, end, step, dtype=dtypes.as_dtype(dtype)), requires_grad, device)


def linspace_array(start, end, steps, dtype):
    """PyTorch's linspace as an array of ``dtype`` (an integer, float or bool dtype).

    As PyTorch computes it: ``start`` and ``end`` are first cast to ``dtype`` (an integer
    dtype truncates them toward zero); the step is computed in ``dtype`` (float64 for an
    integer dtype); the first half of the points counts up from ``start`` and the second half
    down from ``end``, so both ends are exact; an integer dtype truncates each value toward
    zero (``linspace(5, -5, 20, dtype=int32)`` has four zeros, not two).
    """
    dtype = np.dtype(dtype)
    if steps < 0:
        raise RuntimeError(f"linspace: number of steps must be non-negative, got {steps}")
    if steps <= 1:  # PyTorch fills start without its kernel: no dtype is refused here
        return np.full(steps, start).astype(dtype)
    if dtype.kind == "b":
        raise not_implemented("linspace_cpu", dtype)
    step_dtype = dtype if dtype.kind == "f" else np.dtype(np.float64)
    first, last = (np.asarray(v).astype(dtype).astype(step_dtype) for v in (start, end))
    step = (last - first) / step_dtype.type(steps - 1)
    # PyTorch's kernel for floats fuses start + step * i into one rounding; its double
    # arithmetic for integers rounds twice (10 - (10/6) * 3 is 5.0 there, not 4.999...).
    wide = np.longdouble if dtype.kind == "f" else step_dtype.type
    index = np.arange(steps)
    from_first = wide(first) + wide(step) * index.astype(wide)
    from_last = wide(last) - wide(step) * (steps - 1 - index).astype(wide)
    return np.where(index < steps // 2, from_first, from_last).astype(dtype)


def _number(value):
    """A 0-d tensor bound is the number it holds (as in PyTorch)."""
    return value.item() if isinstance(value, Tensor) else value


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False):
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive, computed as PyTorch
    computes them (see ``linspace_array``): an integer dtype truncates toward zero, bool is
    refused (NotImplementedError) for more than one step. Default float dtype when None."""
    arr = linspace_array(_number(start), _number(end), steps, _float_dtype(dtype))
    return _new(arr, requires_grad, device)


def logspace(start, end, steps, base=10.0, dtype=None, device=None, requires_grad=False):
    """``base ** x`` for ``steps`` evenly spaced exponents x from ``start`` to ``end``.

    As PyTorch: the exponents are spaced in float64 between ``start`` and ``end`` cast to
    ``dtype`` (an integer dtype truncates them), the powers taken in float64 and cast to
    ``dtype``; bool is refused (NotImplementedError) for more than one step.
    """
    start, end, dtype = _number(start), _number(end), _float_dtype(dtype)
    if steps < 0:
        raise RuntimeError(f"logspace: number of steps must be non-negative, got {steps}")
    if steps <= 1:
        power = np.full(steps, float(base) ** float(start))  # start itself, not truncated
        return _new(power.astype(dtype), requires_grad, device)
    if dtype.kind == "b":
        raise not_implemented("logspace_cpu", dtype)
    exponents = linspace_array(np.asarray(start).astype(dtype), np.asarray(end).astype(dtype),
                               steps, np.float64)
    return _new(np.power(float(base), exponents).astype(dtype), requires_grad, device)


def _triangle_indices(name, row, col, offset, dtype, lower):
    for arg, value in (("row", row), ("col", col)):
        if value < 0:
            raise RuntimeError(f"{name}: {arg} must be non-negative, got {value}")
    rows, cols = (np.tril_indices if lower else np.triu_indices)(row, offset, col)
    return _new(np.stack([rows, cols]).astype(dtypes.as_dtype(dtype)), False, None)


def tril_indices(row, col, offset=0, *, dtype=np.int64, device=None):
    """The (2, N) indices (row-major) of the lower triangle of a ``row`` x ``col`` matrix:
    the elements on and below diagonal ``offset`` (> 0 above the main one, < 0 below)."""
    if device is not None:
        check_cpu(device)
    return _triangle_indices("tril_indices", row, col, offset, dtype, lower=True)


def triu_indices(row, col, offset=0, *, dtype=np.int64, device=None):
    """The (2, N) indices (row-major) of the upper triangle of a ``row`` x ``col`` matrix:
    the elements on and above diagonal ``offset`` (> 0 above the main one, < 0 below)."""
    if device is not None:
        check_cpu(device)
    return _triangle_indices("triu_indices", row, col, offset, dtype, lower=False)


def eye(n, m=None, dtype=None, device=None, requires_grad=False):
    for name, value in (("n", n), ("m", m)):
        if value is not None and value < 0:
            raise RuntimeError(f"eye: {name} must be greater or equal to 0, got {value}")
    return _new(np.eye(n, m, dtype=_float_dtype(dtype)), requires_grad, device)


def _draw_float(kernel_name, generator, method, size, dtype):
    """Samples of the float ``dtype`` from ``generator``'s ``method``; float16 is drawn as
    float32 and rounded (NumPy draws no float16); a non-float dtype is refused as PyTorch
    refuses it (NotImplementedError)."""
    dtype = _float_dtype(dtype)
    if dtype.kind != "f":
        raise not_implemented(kernel_name, dtype)
    draw_dtype = np.float32 if dtype == np.float16 else dtype
    gen = generator or default_generator()
    return getattr(gen, method)(_size(size), dtype=draw_dtype).astype(dtype, copy=False)


def randn(*size, dtype=None, device=None, requires_grad=False, generator=None):
    """Standard normal samples from fastgrad's generator (see ``manual_seed``)."""
    return _new(_draw_float("normal_kernel_cpu", generator, "standard_normal", size, dtype),
                requires_grad, device)


def rand(*size, dtype=None, device=None, requires_grad=False, generator=None):
    """Uniform samples in [0, 1)."""
    return _new(_draw_float("check_uniform_bounds", generator, "random", size, dtype),
                requires_grad, device)


def randint(low, high=None, size=(), dtype=None, generator=None, device=None, requires_grad=False):
    """Integers in [low, high): ``randint(high, size)`` or ``randint(low, high, size)``."""
    if isinstance(high, (tuple, list)) and size == ():
        high, size = None, high  # randint(high, size), PyTorch's two-argument form
    if high is None:
        low, high = 0, low
    if low >= high:
        raise RuntimeError(f"randint: expects low to be less than high, but got low={low} >= high={high}")
    gen = generator or default_generator()
    dtype = np.int64 if dtype is None else dtypes.as_dtype(dtype)
    return _new(gen.integers(low, high, size=_size((size,)), dtype=dtype), requires_grad, device)


def randperm(n, generator=None, dtype=None, device=None, requires_grad=False):
    gen = generator or default_generator()
    dtype = np.int64 if dtype is None else dtypes.as_dtype(dtype)
    return _new(gen.permutation(n).astype(dtype), requires_grad, device)


def randn_like(x, dtype=None, device=None, requires_grad=False, generator=None):
    shape, dtype = _like(x, dtype)
    return randn(shape, dtype=dtype, device=device, requires_grad=requires_grad, generator=generator)


def rand_like(x, dtype=None, device=None, requires_grad=False, generator=None):
    shape, dtype = _like(x, dtype)
    return rand(shape, dtype=dtype, device=device, requires_grad=requires_grad, generator=generator)
