"""``x[idx]`` and ``x[idx] = value``, differentiable.

Basic indexing (ints, slices, None, Ellipsis) returns a view sharing the version counter;
advanced indexing (integer arrays, bool masks) copies, and its backward accumulates repeated
indices (``np.add.at``).
"""
import numbers

import numpy as np

from fastgrad.autograd.function import GradFn, needs_grad, unbroadcast
from fastgrad.autograd.grad_mode import is_grad_enabled
from fastgrad.autograd.tensor import Tensor


def _plain_index(idx):
    """The index with Tensors replaced by their arrays."""
    if isinstance(idx, Tensor):
        return idx.arr
    if isinstance(idx, tuple):
        return tuple(i.arr if isinstance(i, Tensor) else i for i in idx)
    return idx


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
    def __init__(self, x, idx, basic):
        super().__init__(x)
        self.in_shape = x.arr.shape
        self.in_dtype = x.arr.dtype
        self.idx = idx
        self.basic = basic

    def backward(self, grad_output):
        grad = np.zeros(self.in_shape, dtype=grad_output.dtype)
        if self.basic:
            grad[self.idx] = grad_output  # basic indexing never selects an element twice
        else:
            np.add.at(grad, self.idx, grad_output)
        return (grad,)


def getitem(x, idx):
    idx = _plain_index(idx)
    basic = _is_basic(idx)
    try:
        out = x.arr[idx]
    except IndexError as exc:
        raise _index_error(x, idx, exc) from None
    if basic and not isinstance(out, np.ndarray):
        # NumPy returns a copied scalar for an index that picks one element; PyTorch returns a
        # 0-d view (``x[1].zero_()`` changes x). A trailing Ellipsis makes NumPy return the view.
        out = x.arr[(idx if isinstance(idx, tuple) else (idx,)) + (Ellipsis,)]
    out = np.asarray(out) if not isinstance(out, np.ndarray) else out
    fn = GetItemGradFn(x, idx, basic) if needs_grad(x) else None
    result = Tensor._wrap(out, fn, base=x if basic else None)
    if basic:
        result._view_of = (x, idx)
    return result


class SetitemGradFn(GradFn):
    """``x[idx] = constant``: the overwritten elements of the old x get no gradient."""

    def __init__(self, x, idx):
        super().__init__(x)
        self.idx = idx

    def _target_grad(self, grad_output):
        grad = grad_output.copy()
        grad[self.idx] = 0
        return grad

    def backward(self, grad_output):
        return (self._target_grad(grad_output) if self.needs_input_grad[0] else None,)


class SetitemTensorGradFn(SetitemGradFn):
    """``x[idx] = value`` for a Tensor value: the value also gets the overwritten gradient."""

    def __init__(self, x, idx, value):
        GradFn.__init__(self, x, value)
        self.idx = idx
        self.value_shape = value.arr.shape

    def backward(self, grad_output):
        need_x, need_value = self.needs_input_grad
        grad_x = self._target_grad(grad_output) if need_x else None
        grad_value = unbroadcast(grad_output[self.idx], self.value_shape) if need_value else None
        return grad_x, grad_value


def _assign(arr, idx, value):
    """``arr[idx] = value``, also for a value with extra leading size-1 axes.

    PyTorch drops those axes before broadcasting (``x[0] = tensor([5.])``); NumPy refuses
    them for a single element, so the assignment is retried without them.
    """
    try:
        arr[idx] = value
    except ValueError:
        shape = np.shape(value)
        lead = 0
        while lead < len(shape) and shape[lead] == 1:
            lead += 1
        if lead == 0:
            raise
        arr[idx] = np.reshape(value, shape[lead:])


def setitem(x, idx, value):
    """Write ``value`` into ``x[idx]`` in place; ``x`` then comes from a Setitem node."""
    x._check_inplace()
    value_t = value if isinstance(value, Tensor) else None
    x._check_view_write(value_t is not None and value_t.requires_grad)
    idx = _plain_index(idx)
    value_arr = value.arr if isinstance(value, Tensor) else value
    if not x.arr.flags.writeable:
        raise RuntimeError(
            f"unsupported operation: the tensor of shape {x.shape} is a read-only view (e.g. made "
            "by expand); clone() it before writing to it"
        )
    try:
        _assign(x.arr, idx, value_arr)
    except IndexError as exc:
        raise _index_error(x, idx, exc) from None
    except ValueError as exc:
        raise RuntimeError(
            f"cannot assign a value of shape {np.shape(value_arr)} to the elements {idx!r} of a "
            f"tensor of shape {x.shape}: {exc}"
        ) from None
    x._bump_version()
    if is_grad_enabled():
        if value_t is not None and value_t.requires_grad:
            fn = SetitemTensorGradFn(x, idx, value_t)
        elif x.requires_grad:
            fn = SetitemGradFn(x, idx)
        else:
            return
        x.grad_fn = fn
        x._requires_grad = True
        x._after_view_write()


def record_view_write(view):
    """``view`` (made by basic indexing) was written in place with grad: give each tensor it
    views, up to its base, a Setitem node that takes the view's new value at its index.

    The data is already shared; this makes the graphs agree with it, as PyTorch's CopySlices.
    ``Tensor._check_view_write`` has already checked that every link is a basic index.
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
