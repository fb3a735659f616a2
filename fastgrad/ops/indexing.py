"""``x[idx]`` and ``x[idx] = value``, differentiable.

Basic indexing (ints, slices, None, Ellipsis) returns a view sharing the version counter;
advanced indexing (integer arrays, bool masks) copies, and its backward accumulates repeated
indices (``np.add.at``). A tuple mixing ints with advanced indices follows PyTorch, not NumPy:
the ints (with the slices, None and Ellipsis) select first, as a basic view, and the advanced
indices then apply to that view (``x[0, :, [0, 2]]`` has shape ``(x.shape[1], 2)``).
"""
import numbers

import numpy as np

from fastgrad.autograd.function import GradFn, needs_grad, unbroadcast
from fastgrad.autograd.grad_mode import is_grad_enabled
from fastgrad.autograd.tensor import Tensor
from fastgrad.ops import backend
from fastgrad.ops._methods import tensor_method
from fastgrad.random import default_generator


def _plain_item(i):
    """One index item with a Tensor replaced by its array; a 0-d integer array (or Tensor)
    becomes an int, as PyTorch selects with it (a view) instead of indexing."""
    if isinstance(i, Tensor):
        i = i.arr
    if isinstance(i, np.ndarray) and i.ndim == 0 and np.issubdtype(i.dtype, np.integer):
        return int(i)
    return i


def _plain_index(idx):
    """The index with Tensors replaced by their arrays."""
    if isinstance(idx, tuple):
        return tuple(_plain_item(i) for i in idx)
    return _plain_item(idx)


def _is_int(i):
    return isinstance(i, numbers.Integral) and not isinstance(i, (bool, np.bool_))


class _TorchOrder:
    """A tuple index mixing ints with advanced indices, split as PyTorch applies it:
    ``arr[basic]`` (ints, slices, None, Ellipsis; a view), then ``[advanced]`` on that view."""

    __slots__ = ("basic", "advanced")

    def __init__(self, basic, advanced):
        # A trailing Ellipsis keeps a full selection a 0-d view rather than a NumPy scalar.
        self.basic = basic if any(i is Ellipsis for i in basic) else basic + (Ellipsis,)
        self.advanced = advanced

    def __repr__(self):
        return f"_TorchOrder({self.basic!r}, {self.advanced!r})"


def _is_advanced(i):
    return not (_is_int(i) or isinstance(i, slice) or i is None or i is Ellipsis)


def _torch_order(idx, ndim):
    """``idx`` (into a tensor of ``ndim`` axes) rewritten so that NumPy applies it as PyTorch.

    Two rules of NumPy's advanced indexing differ from PyTorch's: NumPy broadcasts ints with
    the index arrays (so ``x[0, :, [0, 2]]`` puts the array's axis first), where PyTorch
    selects with the ints first; and NumPy counts an Ellipsis standing for no axes as
    separating two index arrays. A tuple mixing ints with advanced indices becomes a
    ``_TorchOrder``; an Ellipsis beside advanced indices is spelt out as slices. Any other
    index is returned as it is (NumPy reports the invalid ones).
    """
    if not isinstance(idx, tuple) or not any(_is_advanced(i) for i in idx):
        return idx
    consumed = []
    for i in idx:
        if _is_int(i) or isinstance(i, slice):
            consumed.append(1)
        elif i is None or i is Ellipsis:
            consumed.append(0)
        else:
            arr = np.asarray(i)
            # a k-d bool mask consumes k axes (a bool scalar none); an integer array one
            consumed.append(arr.ndim if arr.dtype == np.bool_ else 1)
    n_ellipsis = sum(i is Ellipsis for i in idx)
    span = ndim - sum(consumed)  # the axes an Ellipsis stands for
    if n_ellipsis > 1 or span < 0:
        return idx
    if not any(_is_int(i) for i in idx):
        if not n_ellipsis:
            return idx
        spelt = []
        for i in idx:
            spelt.extend([slice(None)] * span if i is Ellipsis else [i])
        return tuple(spelt)
    basic, advanced = [], []
    for i, n in zip(idx, consumed):
        if _is_int(i):
            basic.append(i)  # the selected axis is gone from the view
        elif isinstance(i, slice):
            basic.append(i)
            advanced.append(slice(None))
        elif i is None:
            basic.append(None)
            advanced.append(slice(None))  # the new axis is already in the view
        elif i is Ellipsis:
            basic.append(Ellipsis)
            advanced.extend([slice(None)] * span)
        else:
            basic.extend([slice(None)] * n)
            advanced.append(i)
    return _TorchOrder(tuple(basic), tuple(advanced))


def _region(arr, idx):
    """(array, index) such that ``array[index]`` is ``arr[idx]`` in PyTorch's order; the
    array is ``arr`` or a basic view of it, so writing ``array[index]`` writes ``arr``."""
    if isinstance(idx, _TorchOrder):
        return arr[idx.basic], idx.advanced
    return arr, idx


def _take(arr, idx):
    target, index = _region(arr, idx)
    return target[index]


def _is_basic(idx):
    items = idx if isinstance(idx, tuple) else (idx,)
    for i in items:
        if isinstance(i, (bool, np.bool_)):
            return False
        if not (isinstance(i, (numbers.Integral, slice)) or i is None or i is Ellipsis):
            return False
    return True


def _index_error(x, idx, exc):
    return IndexError(f"index {idx!r} is invalid for a tensor of shape {x.shape}: {exc}")


class GetItemGradFn(GradFn):
    """x[idx] (idx as ``_torch_order`` gives it): the gradient is scattered back, summed where
    an element was selected twice (advanced indexing only: ``basic`` selections never are)."""

    fresh_grads = True

    def __init__(self, x, idx, basic):
        super().__init__(x)
        self.in_shape = x.arr.shape
        self.idx = idx
        self.basic = basic

    def backward(self, grad_output):
        return (scatter(grad_output, self.in_shape, self.idx, accumulate=not self.basic),)


class ScatterGradFn(GradFn):
    """``scatter``'s node: the gradient of the values is gathered back from their places."""

    fresh_grads = True  # advanced indexing copies; a basic view is copied by the engine

    def __init__(self, values, idx):
        super().__init__(values)
        self.idx = idx

    def backward(self, grad_output):
        return (gather(grad_output, self.idx),)


def gather(x, idx):
    """``x[idx]`` for an index as ``_torch_order`` gives it, an ndarray or a Tensor (then
    differentiable: its backward is ``scatter``)."""
    if not isinstance(x, Tensor):
        return np.asarray(_take(np.asarray(x), idx))
    basic = _is_basic(idx)
    out = np.asarray(_take(x.arr, idx))
    fn = GetItemGradFn(x, idx, basic) if needs_grad(x) else None
    return Tensor._wrap(out, fn, base=x if basic and np.may_share_memory(out, x.arr) else None)


def scatter(values, shape, idx, accumulate=True):
    """Zeros of ``shape`` with ``values`` added at ``idx`` (as ``_torch_order`` gives it), an
    ndarray, or a Tensor when ``values`` is one (then differentiable: its backward is
    ``gather``). ``accumulate=False`` assigns instead, for an index that selects no element
    twice (faster than NumPy's ``add.at``)."""
    arr = backend.value(values)
    result = np.zeros(shape, dtype=np.asarray(arr).dtype)
    target, index = _region(result, idx)  # a view of result: writing it writes result
    if accumulate:
        np.add.at(target, index, arr)
    else:
        target[index] = arr
    if not isinstance(values, Tensor):
        return result
    return Tensor._wrap(result, ScatterGradFn(values, idx) if needs_grad(values) else None)


def zeroed(grad, idx):
    """``grad`` with the elements at ``idx`` set to zero: a new ndarray, or a Tensor (then
    differentiable) when ``grad`` is one."""
    if isinstance(grad, Tensor):
        keep = np.ones(grad.shape, dtype=bool)
        target, index = _region(keep, idx)
        target[index] = False
        return backend.where(keep, grad, 0)
    # np.array, not .copy(): a 0-d gradient may arrive as a NumPy scalar, which is immutable
    grad = np.array(grad, copy=True)
    target, index = _region(grad, idx)
    target[index] = 0
    return grad


@tensor_method("__getitem__")
def getitem(x, idx):
    idx = _plain_index(idx)
    basic = _is_basic(idx)
    applied = idx if basic else _torch_order(idx, x.arr.ndim)
    try:
        out = _take(x.arr, applied)
    except IndexError as exc:
        raise _index_error(x, idx, exc) from None
    if basic and not isinstance(out, np.ndarray):
        # NumPy returns a copied scalar for an index that picks one element; PyTorch returns a
        # 0-d view (``x[1].zero_()`` changes x). A trailing Ellipsis makes NumPy return the view.
        out = x.arr[(idx if isinstance(idx, tuple) else (idx,)) + (Ellipsis,)]
    out = np.asarray(out) if not isinstance(out, np.ndarray) else out
    fn = GetItemGradFn(x, applied, basic) if needs_grad(x) else None
    result = Tensor._wrap(out, fn, base=x if basic else None)
    if basic:
        result._view_of = (x, idx)
    return result


class SetitemGradFn(GradFn):
    """``x[idx] = constant``: the overwritten elements of the old x get no gradient."""

    fresh_grads = True  # a copy of grad_output, and the value's part of it: a view or a copy

    def __init__(self, x, idx):
        super().__init__(x)
        self.idx = idx

    def backward(self, grad_output):
        return (zeroed(grad_output, self.idx) if self.needs_input_grad[0] else None,)


class SetitemTensorGradFn(SetitemGradFn):
    """``x[idx] = value`` for a Tensor value: the value also gets the overwritten gradient."""

    def __init__(self, x, idx, value):
        GradFn.__init__(self, x, value)
        self.idx = idx
        self.value_shape = value.arr.shape

    def backward(self, grad_output):
        need_x, need_value = self.needs_input_grad
        grad_x = zeroed(grad_output, self.idx) if need_x else None
        grad_value = None
        if need_value:
            grad_value = unbroadcast(gather(grad_output, self.idx), self.value_shape)
        return grad_x, grad_value


def _assign(arr, idx, value):
    """``arr[idx] = value`` (``idx`` as ``_torch_order`` gives it), PyTorch's way: the value's
    leading size-1 axes are dropped before broadcasting (``x[0] = tensor([5.])``,
    ``x[mask] = ones(1, 2)``), which NumPy refuses for a single element or a bool mask.
    """
    target, index = _region(arr, idx)
    shape = np.shape(value)
    lead = 0
    while lead < len(shape) and shape[lead] == 1:
        lead += 1
    if lead:
        value = np.reshape(value, shape[lead:])
    target[index] = value


@tensor_method("__setitem__")
def setitem(x, idx, value):
    """Write ``value`` into ``x[idx]`` in place; ``x`` then comes from a Setitem node."""
    x._check_inplace()
    value_t = value if isinstance(value, Tensor) else None
    x._check_view_write(value_t is not None and value_t.requires_grad)
    idx = _plain_index(idx)
    applied = _torch_order(idx, x.arr.ndim)
    value_arr = value.arr if isinstance(value, Tensor) else value
    if not x.arr.flags.writeable:
        raise RuntimeError(
            f"unsupported operation: the tensor of shape {x.shape} is a read-only view (e.g. made "
            "by expand); clone() it before writing to it"
        )
    try:
        _assign(x.arr, applied, value_arr)
    except IndexError as exc:
        raise _index_error(x, idx, exc) from None
    except (ValueError, TypeError) as exc:
        # (NumPy raises TypeError for a bool-mask write of a value with 2+ axes)
        if isinstance(exc, TypeError) and "boolean array indexing" not in str(exc):
            raise
        raise RuntimeError(
            f"cannot assign a value of shape {np.shape(value_arr)} to the elements {idx!r} of a "
            f"tensor of shape {x.shape}: {exc}"
        ) from None
    x._bump_version()
    if is_grad_enabled():
        if value_t is not None and value_t.requires_grad:
            fn = SetitemTensorGradFn(x, applied, value_t)
        elif x.requires_grad:
            fn = SetitemGradFn(x, applied)
        else:
            return
        x.grad_fn = fn
        x._requires_grad = True
        if x._base is not None:
            record_view_write(x)


def record_view_write(view):
    """``view`` (made by basic indexing) was written in place with grad: give each tensor it
    views, up to its base, a Setitem node that takes the view's new value at its index.

    The data is already shared; this makes the graphs agree with it, as PyTorch's CopySlices.
    ``Tensor._check_view_write`` has already checked that every link is a basic index. Called
    by every in-place write that records a gradient (``setitem`` and ``ops/inplace.py``).
    """
    child = view
    chain = []
    while child._base is not None:
        parent, index = child._view_of
        parent.grad_fn = SetitemTensorGradFn(parent, index, child)
        parent._requires_grad = True
        chain.append(child)
        child = parent
    for v in chain + [child]:
        if v._base is not None:
            v._base_fn_at_view = v._base.grad_fn


# The in-place fills write through ``x[...] = ...``: on a tensor that requires grad, its old
# values are then cut from the gradient (as PyTorch's FillBackward) instead of keeping the
# grad_fn of values that are gone.
@tensor_method()
def fill_(x, value):
    setitem(x, Ellipsis, value)
    return x


@tensor_method()
def zero_(x):
    return fill_(x, 0)


@tensor_method()
def copy_(x, src):
    """Copy ``src`` (broadcast to x's shape) into x; differentiable w.r.t. ``src``."""
    return fill_(x, src)


@tensor_method()
def normal_(x, mean=0.0, std=1.0, generator=None):
    return fill_(x, (generator or default_generator()).normal(mean, std, size=x.arr.shape))


@tensor_method()
def uniform_(x, a=0.0, b=1.0, generator=None):
    return fill_(x, (generator or default_generator()).uniform(a, b, size=x.arr.shape))
