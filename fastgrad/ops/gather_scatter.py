"""Index-driven reads and writes along a dim: gather, scatter (and its reductions),
index_select / index_add / index_fill, the masked ops, take and take_along_dim.

Each is built on ``indexing.gather`` and ``indexing.scatter`` (whose backwards are each
other) and ``where``, so each is differentiable to any order without a backward of its own.
scatter_reduce alone has nodes: it reduces in one numba pass (``kernels/scatter.py``, where
NumPy has only the slow ``ufunc.at``), and its backward is again made of these ops (a weighted
gather for sum / mean / amax / amin, PyTorch's zero-safe formula for prod). Every index is
checked in Python before it is used: an out-of-range index raises as in PyTorch, never wraps
around.
"""
import numpy as np

from fastgrad.autograd.function import GradFn, needs_grad
from fastgrad.autograd.tensor import Tensor
from fastgrad.kernels import scatter as kernels
from fastgrad.ops import backend, indexing
from fastgrad.ops._methods import tensor_method
from fastgrad.ops._operands import as_tensor, normalize_dim, wrap_saving_output
from fastgrad.ops.inplace import tensor_inplace_method
from fastgrad.ops.select import where

_REDUCTIONS = ("sum", "prod", "mean", "amax", "amin")


def _index_array(index, op):
    """A copy of an index tensor's array (int64 or int32, as PyTorch 2 takes) as int64, so a
    later in-place change of the index cannot alter a pending backward; PyTorch's
    RuntimeError for any other dtype."""
    arr = index.arr if isinstance(index, Tensor) else np.asarray(index)
    if arr.dtype not in (np.int64, np.int32):
        raise RuntimeError(f"{op}(): Expected dtype int32 or int64 for index, got {arr.dtype}")
    return arr.astype(np.int64)


def _along(index, dim):
    """The NumPy index that reads ``index[i..., j, k...]`` as position ``(i..., index, k...)``:
    ``index`` at ``dim``, each other axis its own arange (broadcasting to index's shape)."""
    return tuple(index if d == dim else
                 np.arange(size).reshape((-1,) + (1,) * (index.ndim - d - 1))
                 for d, size in enumerate(index.shape))


def _check_bounds(index, size, dim, error=RuntimeError):
    """PyTorch's error for an index outside [0, size) along ``dim`` (no negative indices)."""
    bad = (index < 0) | (index >= size)
    if bad.any():
        raise error(f"index {int(index[bad].flat[0])} is out of bounds for dimension {dim} "
                    f"with size {size}")


def _check_shapes(op, self_shape, index_shape, dim, src_shape=None):
    """The index may be no larger than self (apart from ``dim``) nor than src (anywhere)."""
    if len(index_shape) != len(self_shape):
        raise RuntimeError(f"{op}(): Index tensor must have the same number of dimensions as "
                           f"input tensor (index {tuple(index_shape)}, input {tuple(self_shape)})")
    if src_shape is not None and len(src_shape) != len(index_shape):
        raise RuntimeError(f"{op}(): Index tensor must have the same number of dimensions as src "
                           f"tensor (index {tuple(index_shape)}, src {tuple(src_shape)})")
    if not np.prod(index_shape, dtype=np.int64):
        return
    for d, size in enumerate(index_shape):
        too_large = (d != dim and size > self_shape[d]) or (
            src_shape is not None and size > src_shape[d])
        if too_large and src_shape is None:
            raise RuntimeError(f"Size does not match at dimension {d} expected index "
                               f"{list(index_shape)} to be no larger than self "
                               f"{list(self_shape)} apart from dimension {dim}")
        if too_large:
            raise RuntimeError(f"Expected index {list(index_shape)} to be no larger than self "
                               f"{list(self_shape)} apart from dimension {dim} and to be no "
                               f"larger size than src {list(src_shape)}")


def _at_least_1d(t):
    """A 0-d tensor as shape (1,) (PyTorch treats it as one there); anything else as it is."""
    return t.reshape(1) if t.ndim == 0 else t


def _prepare(op, input, dim, index, src=None):
    """(x, dim, index array, src) checked and made at least 1-D, for the gather / scatter ops."""
    x = as_tensor(input)
    idx = _index_array(index, op)
    if max(x.ndim, 1) != max(idx.ndim, 1):
        raise RuntimeError(f"{op}(): Index tensor must have the same number of dimensions as "
                           f"input tensor (index {tuple(idx.shape)}, input {tuple(x.shape)})")
    dim = normalize_dim(dim, x.ndim)
    x = _at_least_1d(x)
    idx = idx.reshape(1) if idx.ndim == 0 else idx
    src_shape = None
    if src is not None:
        src = _at_least_1d(src)
        src_shape = src.shape
    _check_shapes(op, x.shape, idx.shape, dim, src_shape)
    if idx.size:
        _check_bounds(idx, x.shape[dim], dim)
    return x, dim, idx, src


def _leading(t, shape):
    """``t[:shape[0], :shape[1], ...]``: the part of src an index of ``shape`` reads."""
    if tuple(t.shape) == tuple(shape):
        return t
    return t[tuple(slice(0, s) for s in shape)]


def _same_shape_as(out, input):
    """``out`` reshaped back to 0-d when the op's input was 0-d."""
    return out.reshape(()) if as_tensor(input).ndim == 0 else out


@tensor_method()
def gather(input, dim, index, *, sparse_grad=False):
    """``out[i][j][k] = input[index[i][j][k]][j][k]`` (for dim 0): a tensor of index's shape.

    ``index`` is int64 with input's number of dims, no larger than input apart from ``dim``,
    and its values in [0, input.shape[dim]) (else RuntimeError, as PyTorch). The gradient is
    scattered back, summed where an element was read twice.
    """
    x, dim, idx, _ = _prepare("gather", input, dim, index)
    out = indexing.gather(x, _along(idx, dim))
    index_shape = np.shape(index.arr if isinstance(index, Tensor) else index)
    return out.reshape(index_shape) if out.shape != index_shape else out


def _check_src(op, x, src):
    if x.dtype != src.dtype:
        raise RuntimeError(f"{op}(): Expected self.dtype to be equal to src.dtype "
                           f"(got {x.dtype} and {src.dtype})")


def _touched(shape, where_idx):
    mask = np.zeros(shape, dtype=bool)
    mask[where_idx] = True
    return mask


@tensor_method()
def scatter(input, dim, index, src=None, *, value=None, reduce=None):
    """``input`` with ``src`` (a tensor) or ``value`` (a number) written at ``index`` along
    ``dim`` (``out[index[i][j]][j] = src[i][j]`` for dim 0); where an index repeats, one of
    the values is taken. ``reduce='add'`` or ``'multiply'`` combines instead.

    The gradient of input is zero where it was overwritten; src's is the gradient gathered at
    ``index``.
    """
    if src is not None and not isinstance(src, (Tensor, np.ndarray, list)):
        src, value = None, src  # scatter(input, dim, index, 2.0): the value form
    if (src is None) == (value is None):
        raise TypeError("scatter() takes exactly one of src (a tensor) and value (a number)")
    if reduce is not None and reduce not in ("add", "multiply"):
        raise RuntimeError(f"reduce argument must be either add or multiply, got {reduce}")
    x = as_tensor(input)
    if src is None:
        idx_arr = _index_array(index, "scatter")
        filled = np.full(idx_arr.shape, value, dtype=x.dtype)
        src = Tensor._wrap(filled)
    src = as_tensor(src)
    _check_src("scatter", x, src)
    if reduce is not None:
        return scatter_reduce(input, dim, index, src, "sum" if reduce == "add" else "prod")
    x1, dim, idx, src1 = _prepare("scatter", x, dim, index, src)
    place = _along(idx, dim)
    src_part = _leading(src1, idx.shape)
    placed = indexing.scatter(src_part, x1.shape, place, accumulate=False)
    return _same_shape_as(where(_touched(x1.shape, place), placed, x1), x)


@tensor_method()
def scatter_add(input, dim, index, src):
    """``input`` with ``src`` added at ``index`` along ``dim`` (summed where it repeats)."""
    return scatter_reduce(input, dim, index, src, "sum")


def _identity(reduce, dtype):
    """The value an element starts from when ``include_self=False``."""
    if reduce == "prod":
        return 1
    if dtype.kind == "f":
        return -np.inf if reduce == "amax" else np.inf
    if dtype == np.bool_:
        return reduce == "amin"
    info = np.iinfo(dtype)
    return info.min if reduce == "amax" else info.max


class ScatterWeightedGradFn(GradFn):
    """scatter_reduce sum / mean / amax / amin: the result is a weighted sum of the elements
    reduced into each place, with weights the forward fixed (1; 1 / count for mean; for
    amax / amin 1 / ties among the elements equal to the result, as PyTorch). So the gradient
    is ``grad * self_weight`` for self and ``gather(grad * place_weight) * src_weight`` for
    src: linear in grad, and so differentiable again (gather's backward is a scatter). A
    weight of None is 1."""

    fresh_grads = True

    def __init__(self, x, src, place, self_weight, place_weight, src_weight):
        super().__init__(x, src)
        self.place = place
        self.save_for_backward(self_weight, place_weight, src_weight)

    def backward(self, grad_output):
        self_weight, place_weight, src_weight = self.saved_tensors
        grad_self = grad_src = None
        if self.needs_input_grad[0]:
            grad_self = grad_output * (1 if self_weight is None else self_weight)
        if self.needs_input_grad[1]:
            to_src = grad_output if place_weight is None else grad_output * place_weight
            grad_src = indexing.gather(to_src, self.place)
            if src_weight is not None:
                grad_src = grad_src * src_weight
        return grad_self, grad_src


class ScatterProdGradFn(GradFn):
    """scatter_reduce prod: each element's gradient is the product of the others reduced into
    the same place, computed without dividing by a zero (PyTorch's formula); made of this
    module's ops, so a create_graph backward is recorded."""

    def __init__(self, x, src, dim, index, include_self):
        super().__init__(x, src)
        self.dim, self.include_self = dim, include_self
        self.save_for_backward(x, src, index)

    def backward(self, grad_output):
        x, src, index, result = self.saved_tensors
        index = backend.value(index)
        recorded = isinstance(grad_output, Tensor)
        # arrays (first-order) are wrapped as they are: no grad, dtype kept
        x, src, result, grad = (t if isinstance(t, Tensor) else Tensor._wrap(np.asarray(t))
                                for t in (x, src, result, grad_output))
        place = _along(index, self.dim)
        grad_self = grad_src = None
        if self.needs_input_grad[0]:
            x_zero = backend.value(x) == 0
            masked_self = where(x_zero, 1, x)
            grad_self = grad * scatter_reduce(masked_self, self.dim, index, src, "prod",
                                              include_self=self.include_self) / masked_self
            if not self.include_self:
                grad_self = where(_touched(x.shape, place), 0, grad_self)
        if self.needs_input_grad[1]:
            src_zero = backend.value(src) == 0
            zeros_at = np.zeros(x.shape, dtype=np.int64)
            np.add.at(zeros_at, place, src_zero)
            single_zero = src_zero & (zeros_at[place] == 1)
            masked_src = where(single_zero, 1, src)
            without = scatter_reduce(x, self.dim, index, masked_src, "prod",
                                     include_self=self.include_self)
            grad_src = where(single_zero, indexing.gather(grad * without, place),
                             indexing.gather(grad * result, place) / where(src_zero, 1, src))
            if recorded and (zeros_at > 1).any() and grad_src.requires_grad:
                grad_src = Tensor._wrap(grad_src.arr, _DoubleBackwardRefused(grad_src))
        if not recorded:
            grad_self = None if grad_self is None else grad_self.arr
            grad_src = None if grad_src is None else grad_src.arr
        return grad_self, grad_src


class _DoubleBackwardRefused(GradFn):
    """Where scatter_reduce prod's recorded gradient of src is not the derivative's derivative
    (two zeros of src reduced into one place: the product of the others of one of them has a
    zero factor whose own derivative the formula drops), differentiating it raises, as in
    PyTorch, instead of giving a wrong second derivative."""

    def backward(self, grad_output):
        raise RuntimeError("scatter_reduce(): Double backward is unsupported for src when >1 "
                           "zeros in src are scattered to the same position in self")


@tensor_method()
def scatter_reduce(input, dim, index, src, reduce, *, include_self=True):
    """``input`` with each ``src[i][j]`` reduced into place ``(index[i][j], j)`` (dim 0) by
    ``reduce``: 'sum', 'prod', 'mean', 'amax' or 'amin'; with ``include_self=False`` the places
    that receive a value start from it alone (input's value is dropped there).

    'mean' divides by the number of values reduced (floor division for integers); amax / amin
    propagate NaN and share the gradient evenly between tied elements; prod's gradient is
    right with zeros. Gradients for input and src, as PyTorch.
    """
    if reduce not in _REDUCTIONS:
        raise RuntimeError(f"reduce argument must be either sum, prod, mean, amax or amin, got "
                           f"{reduce}")
    x_in = as_tensor(input)
    src = as_tensor(src)
    _check_src("scatter_reduce", x_in, src)
    x, dim, idx, src1 = _prepare("scatter_reduce", x_in, dim, index, src)
    place = _along(idx, dim)
    src_part = _leading(src1, idx.shape)
    touched = _touched(x.shape, place)
    positions = np.ravel_multi_index(np.broadcast_arrays(*place), x.shape).ravel()
    result = x.arr.copy()
    if not include_self:
        result[touched] = 0 if reduce in ("sum", "mean") else _identity(reduce, x.dtype)
    if idx.size:
        flat = result.reshape(-1)  # result is a fresh contiguous array: a view of it
        kernels.scatter_reduce_flat(flat, positions.astype(np.int64),
                                    np.ascontiguousarray(src_part.arr).reshape(-1),
                                    kernels.OPS[reduce])
    count = None
    if reduce == "mean":
        count = np.bincount(positions, minlength=x.arr.size).reshape(x.shape)
        count = np.maximum(count + include_self, 1)
        quotient = result / count if x.dtype.kind == "f" else result // count  # floor, as PyTorch
        result = quotient.astype(x.dtype)
    fn = None
    if needs_grad(x, src_part):
        if reduce == "prod":
            fn = ScatterProdGradFn(x, src_part, dim, idx, include_self)
            return _same_shape_as(wrap_saving_output(result, fn), x_in)
        if reduce in ("sum", "mean"):
            place_weight = None if count is None else (1 / count).astype(x.dtype)
            self_weight = place_weight
            if not include_self:
                self_weight = np.where(touched, 0, 1 if count is None else place_weight)
                self_weight = self_weight.astype(x.dtype)
            fn = ScatterWeightedGradFn(x, src_part, place, self_weight, place_weight, None)
        else:
            fn = _extremum_node(x, src_part, positions, place, result, touched, include_self)
    return _same_shape_as(Tensor._wrap(result, fn), x_in)


def _extremum_node(x, src, positions, place, result, touched, include_self):
    """PyTorch's weights: an element equal to its place's result takes grad / N, N the
    number of such elements of self and src (self counted even when excluded, then zeroed)."""
    self_is = (x.arr == result).astype(x.dtype)
    src_is = (src.arr == result[place]).astype(x.dtype)
    count = self_is + np.bincount(positions, weights=src_is.reshape(-1),
                                  minlength=x.arr.size).reshape(x.shape)
    with np.errstate(divide="ignore"):
        inverse_count = (1 / count).astype(x.dtype)
    self_weight = self_is * inverse_count
    if not include_self:
        self_weight[touched] = 0
    return ScatterWeightedGradFn(x, src, place, self_weight, inverse_count, src_is)


def _vector_index(index, op):
    idx = _index_array(index, op)
    if idx.ndim > 1:
        raise IndexError(f"{op}(): Index is supposed to be a vector, got shape {tuple(idx.shape)}")
    return idx.reshape(-1)


def _dim_place(x, dim, idx, error):
    """The NumPy index of positions ``idx`` along ``dim`` of x, checked (no negative
    indices; ``error`` is the class PyTorch's op raises)."""
    _check_bounds(idx, x.shape[dim], dim, error)
    return (slice(None),) * dim + (idx,)


@tensor_method()
def index_select(input, dim, index):
    """The slices of ``input`` along ``dim`` at the positions ``index`` (a 1-D int64 / int32
    tensor), in that order; the gradient is summed back into the slices read."""
    x = as_tensor(input)
    dim = normalize_dim(dim, x.ndim)
    idx = _vector_index(index, "index_select")
    x1 = _at_least_1d(x)
    out = indexing.gather(x1, _dim_place(x1, dim, idx, RuntimeError))
    return out.reshape(()) if x.ndim == 0 else out


@tensor_method()
def index_add(input, dim, index, source, *, alpha=1):
    """``input`` with ``alpha * source[..., i, ...]`` added to slice ``index[i]`` along
    ``dim`` (summed where the index repeats). source has input's shape with ``len(index)``
    at ``dim``."""
    x = as_tensor(input)
    source = as_tensor(source)
    dim = normalize_dim(dim, x.ndim)
    idx = _vector_index(index, "index_add")
    x1, s1 = _at_least_1d(x), _at_least_1d(source)
    expected = x1.shape[:dim] + (idx.size,) + x1.shape[dim + 1:]
    if tuple(s1.shape) != expected:
        raise RuntimeError(f"index_add_(): source of shape {tuple(source.shape)} does not match "
                           f"self of shape {tuple(x.shape)} with {idx.size} indices along dim "
                           f"{dim} (Number of indices should be equal to source.size(dim))")
    if x.dtype != source.dtype:
        raise RuntimeError(f"index_add_(): self ({x.dtype}) and source ({source.dtype}) must have "
                           "the same scalar type")
    place = _dim_place(x1, dim, idx, RuntimeError)
    added = indexing.scatter(s1 * alpha if alpha != 1 else s1, x1.shape, place, accumulate=True)
    return _same_shape_as(x1 + added, x)


def _fill_value(value, x, op):
    """A fill value in x's dtype: a number, or a 0-d tensor (differentiable)."""
    if isinstance(value, Tensor):
        if value.ndim:
            raise RuntimeError(f"{op} only supports a 0-dimensional value tensor, but got "
                               f"tensor with {value.ndim} dimension(s).")
        return value if value.dtype == x.dtype else value.to(x.dtype)
    return np.asarray(value).astype(x.dtype)


@tensor_method()
def index_fill(input, dim, index, value):
    """``input`` with the slices ``index`` along ``dim`` set to ``value`` (a number or a 0-d
    tensor); their gradient goes to value instead of input."""
    x = as_tensor(input)
    dim = normalize_dim(dim, x.ndim)
    idx = _vector_index(index, "index_fill")
    x1 = _at_least_1d(x)
    mask = _touched(x1.shape, _dim_place(x1, dim, idx, IndexError))
    return _same_shape_as(where(mask, _fill_value(value, x, "index_fill"), x1), x)


def _bool_mask(mask, op):
    """A copy of a bool mask's array (a pending backward keeps it); RuntimeError otherwise."""
    arr = mask.arr if isinstance(mask, Tensor) else np.asarray(mask)
    if arr.dtype != np.bool_:
        raise RuntimeError(f"{op} only supports boolean masks, but got mask with dtype {arr.dtype}")
    return arr.copy()


@tensor_method()
def masked_fill(input, mask, value):
    """``input`` with ``value`` (a number or 0-d tensor) where the bool ``mask`` (broadcast
    with input) holds."""
    x = as_tensor(input)
    m = _bool_mask(mask, "masked_fill_")
    return where(m, _fill_value(value, x, "masked_fill_"), x)


@tensor_method()
def masked_select(input, mask):
    """The elements of ``input`` where ``mask`` holds (both broadcast), as a 1-D tensor in
    row-major order."""
    x = as_tensor(input)
    m = _bool_mask(mask, "masked_select:")
    shape = np.broadcast_shapes(x.shape, m.shape)
    x = x.broadcast_to(shape) if tuple(x.shape) != shape else x
    return indexing.gather(x, (np.broadcast_to(m, shape),))


@tensor_method()
def masked_scatter(input, mask, source):
    """``input`` with the places where ``mask`` holds (the two broadcast) filled, in
    row-major order, with the first elements of ``source``."""
    x = as_tensor(input)
    source = as_tensor(source)
    m = _bool_mask(mask, "masked_scatter_:")
    try:
        shape = np.broadcast_shapes(x.shape, m.shape)
    except ValueError:
        raise RuntimeError(f"masked_scatter: mask of shape {tuple(m.shape)} does not broadcast "
                           f"with input of shape {tuple(x.shape)}") from None
    m = np.broadcast_to(m, shape)
    x = x.broadcast_to(shape) if tuple(x.shape) != shape else x
    if x.dtype != source.dtype:
        raise RuntimeError(f"masked_scatter_: expected self and source to have same dtypes but "
                           f"got {x.dtype} and {source.dtype}")
    count = int(m.sum())
    if count > source.numel():
        raise RuntimeError(f"Number of elements of source < number of ones in mask "
                           f"({source.numel()} < {count})")
    values = source.reshape(-1)[:count]
    placed = indexing.scatter(values, x.shape, (m,), accumulate=False)
    return where(m, placed, x)


@tensor_method()
def take(input, index):
    """``input`` read as 1-D at ``index`` (int64; negative counts from the end): a tensor of
    index's shape."""
    x = as_tensor(input)
    idx = _index_array(index, "take")
    n = x.numel()
    bad = (idx < -n) | (idx >= n)
    if bad.any():
        raise IndexError(f"out of range: tried to access index {int(idx[bad].flat[0])} on a "
                         f"tensor of {n} elements.")
    return indexing.gather(x.reshape(-1), (np.where(idx < 0, idx + n, idx),))


@tensor_method()
def take_along_dim(input, indices, dim=None):
    """``gather`` after broadcasting input and indices against each other outside ``dim``;
    without ``dim``, both are read flat."""
    x = as_tensor(input)
    idx = _index_array(indices, "take_along_dim")
    if dim is None:
        return gather(x.reshape(-1), 0, Tensor._wrap(idx.reshape(-1)))
    if x.ndim != idx.ndim:
        raise RuntimeError(f"torch.take_along_dim(): input and indices should have the same "
                           f"number of dimensions, but got {x.ndim} dimensions for input, and "
                           f"{idx.ndim} dimensions for indices")
    dim = normalize_dim(dim, x.ndim)
    x_shape, idx_shape = list(x.shape), list(idx.shape)
    x_shape[dim] = idx_shape[dim] = 1
    try:
        common = np.broadcast_shapes(tuple(x_shape), tuple(idx_shape))
    except ValueError:
        raise RuntimeError(f"take_along_dim(): shapes {tuple(x.shape)} and {tuple(idx.shape)} "
                           f"do not broadcast outside dim {dim}") from None
    x_target = common[:dim] + (x.shape[dim],) + common[dim + 1:]
    idx_target = common[:dim] + (idx.shape[dim],) + common[dim + 1:]
    if tuple(x.shape) != x_target:
        x = x.broadcast_to(x_target)
    return gather(x, dim, Tensor._wrap(np.broadcast_to(idx, idx_target)))


# x.masked_fill_(mask, 0), x.scatter_(...), ...: computed out of place and written back
# (ops/inplace.py), so gradients flow as through the out-of-place ops.
for _op in (scatter, scatter_add, scatter_reduce, index_add, index_fill, masked_fill,
            masked_scatter):
    tensor_inplace_method(_op, _op.__name__ + "_")
