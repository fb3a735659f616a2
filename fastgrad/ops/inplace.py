"""In-place variants of out-of-place ops (``x.add_(y)``, ``x += y``, ``x.exp_()``).

``self = op(self, ...)`` is computed out of place from a copy of ``self`` and written back:
the copy keeps intact whatever the new node saves of the old value (``x *= w`` needs the old
x for w's gradient), and self's version bump invalidates older consumers.
"""
import numpy as np

from fastgrad.autograd.grad_mode import is_grad_enabled
from fastgrad.autograd.tensor import Tensor
from fastgrad.ops.indexing import record_view_write


def _assign(self, result):
    """Make ``self`` hold ``result`` (an out-of-place result computed from a copy of self)."""
    if result.arr.shape != self.arr.shape:
        raise RuntimeError(
            f"output with shape {self.shape} doesn't match the broadcast shape {result.shape}"
        )
    if not np.can_cast(result.arr.dtype, self.arr.dtype, casting="same_kind"):
        raise RuntimeError(
            f"result type {result.arr.dtype} can't be cast to the desired output type "
            f"{self.arr.dtype}"
        )
    if not self.arr.flags.writeable:
        raise RuntimeError(
            f"unsupported operation: the tensor of shape {self.shape} is a read-only view "
            "(e.g. made by expand); clone() it before writing to it"
        )
    np.copyto(self.arr, result.arr, casting="same_kind")
    self._bump_version()
    if result.grad_fn is not None:
        self.grad_fn = result.grad_fn
        self._requires_grad = True
        if self._base is not None and is_grad_enabled():
            record_view_write(self)


def apply_inplace(self, op, *args, **kwargs):
    """``self = op(self, *args, **kwargs)`` in place; returns ``self``."""
    self._check_inplace()
    others_need_grad = any(getattr(a, "requires_grad", False) for a in args)
    self._check_view_write(self.requires_grad or others_need_grad)
    if is_grad_enabled() and (self.requires_grad or others_need_grad):
        source = Tensor._wrap(self.arr.copy(), self.grad_fn)
        source._requires_grad = self.requires_grad
    else:
        source = Tensor._wrap(self.arr)
    _assign(self, op(source, *args, **kwargs))
    return self


def tensor_inplace_method(op, *names):
    """Attach the in-place variant of ``op`` as the Tensor methods ``names`` (``"add_"``,
    ``"__iadd__"``)."""

    def method(self, *args, **kwargs):
        return apply_inplace(self, op, *args, **kwargs)

    method.__name__ = op.__name__ + "_"
    for name in names:
        setattr(Tensor, name, method)
