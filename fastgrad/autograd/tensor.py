"""``Tensor``: an ndarray (``.arr``) with the bookkeeping autograd needs.

The operations live in ``fastgrad.ops`` (forward and backward side by side), and each op
module attaches its own methods and operators to ``Tensor`` when it is imported, so
``x.exp()`` and ``fastgrad.exp(x)`` are one implementation and this module imports no op.
"""
import weakref

import numpy as np

from fastgrad import dtypes
from fastgrad.autograd.differentiate import backward as _backward
from fastgrad.autograd.grad_mode import is_grad_enabled
from fastgrad.devices import device as _device
from fastgrad.printing import format_values

_CPU = _device("cpu")


class RemovableHandle:
    """What ``register_hook`` returns: ``remove()`` takes the hook away again."""

    _next_id = 0

    def __init__(self, hooks, hook):
        RemovableHandle._next_id += 1
        self.id = RemovableHandle._next_id
        self._hooks = hooks
        hooks[self.id] = hook

    def remove(self):
        self._hooks.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


class Tensor:
    """An n-dimensional array that can record the operations applied to it.

    ``Tensor(data, dtype=None, requires_grad=False)`` wraps ``data`` (an ndarray is wrapped
    without a copy when its dtype is kept; float64 data without ``dtype`` becomes float32).
    """

    # Make ``ndarray <op> Tensor`` call the Tensor's reflected operator instead of NumPy's loop.
    __array_ufunc__ = None
    __array_priority__ = 1000
    # A leaf's gradient hooks (``register_hook``): id -> hook; a dict of its own once one is
    # registered (a non-leaf's hooks live on its ``grad_fn``).
    _hooks = None

    def __init__(self, data, dtype=None, requires_grad=False):
        if isinstance(data, Tensor):
            # A tensor keeps its dtype: the float64 -> float32 default is for new data only.
            data, dtype = data.arr, data.arr.dtype if dtype is None else dtype
        self.arr = dtypes.to_array(data, dtype)
        self.grad = None
        self.grad_fn = None
        self._version_counter = [0]
        self._base = None
        self._view_of = None
        self._base_fn_at_view = None
        self._requires_grad = False
        if requires_grad:
            self.requires_grad = True

    @classmethod
    def _wrap(cls, arr, grad_fn=None, base=None):
        """The result of an operation: ``arr`` as is, produced by ``grad_fn`` (None: a leaf).

        ``base`` is the tensor whose memory ``arr`` views; the two then share a version counter,
        so an in-place change through either invalidates what the other's consumers saved.
        """
        t = Tensor.__new__(Tensor)
        # NumPy gives a read-only scalar, not a 0-d array, for ufuncs on 0-d arrays: a tensor
        # always holds an array it can write to (y = x.exp(); y.add_(1) on a 0-d x).
        t.arr = arr if isinstance(arr, np.ndarray) else np.asarray(arr)
        t.grad = None
        t.grad_fn = grad_fn
        t._requires_grad = grad_fn is not None
        # For a view made by basic indexing: (the tensor indexed, the index), so that an
        # in-place write with grad into the view can be recorded in that tensor's graph too.
        t._view_of = None
        if base is None:
            t._version_counter = [0]
            t._base = None
            t._base_fn_at_view = None
        else:
            t._version_counter = base._version_counter
            t._base = base._base if base._base is not None else base
            # The base's node when the view was made: if an in-place write later gives the base
            # a new node, this view's own node no longer describes its (shared) data.
            t._base_fn_at_view = t._base.grad_fn
        return t

    # ----------------------------------------------------------------- autograd attributes
    @property
    def requires_grad(self):
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value):
        value = bool(value)
        if self.grad_fn is not None:
            if not value:
                raise RuntimeError(
                    "you can only change requires_grad flags of leaf variables. If you want to use "
                    "a computed variable in a subgraph that doesn't require differentiation use "
                    "var_no_grad = var.detach()."
                )
            return
        if value and not dtypes.is_floating(self.arr.dtype):
            raise RuntimeError(
                f"only Tensors of floating point dtype can require gradients (got {self.arr.dtype})"
            )
        self._requires_grad = value

    def requires_grad_(self, requires_grad=True):
        self.requires_grad = requires_grad
        return self

    @property
    def is_leaf(self):
        return self.grad_fn is None

    def retain_grad(self):
        """Keep this non-leaf tensor's gradient in ``.grad`` after backward, accumulated over
        backward calls as a leaf's (a leaf that requires grad keeps it anyway)."""
        if not self.requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if self.grad_fn is not None and not self.retains_grad:
            self.grad_fn.retained = self.grad_fn.retained + (weakref.ref(self),)

    @property
    def retains_grad(self):
        """True for a non-leaf tensor on which ``retain_grad()`` was called."""
        return self.grad_fn is not None and any(ref() is self for ref in self.grad_fn.retained)

    @property
    def _version(self):
        return self._version_counter[0]

    def _bump_version(self):
        self._version_counter[0] += 1

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Accumulate d(self)/d(leaf) into the ``.grad`` of every leaf that requires grad.

        ``gradient`` (same shape as ``self``) is the cotangent; it may be omitted only for a
        one-element tensor. The graph's saved arrays are freed unless ``retain_graph`` (which
        defaults to ``create_graph``). With ``create_graph=True`` the backward pass is recorded
        too, so the gradients (``.grad`` then has a ``grad_fn``) can be differentiated again.
        ``inputs``: accumulate into these tensors' ``.grad`` only (PyTorch's ``inputs=``).
        """
        _backward(self, gradient, retain_graph, create_graph, inputs=inputs)

    def register_hook(self, hook):
        """Call ``hook(grad)`` with this tensor's gradient each time it is computed, before it
        is accumulated into ``.grad`` or passed on; a Tensor the hook returns replaces the
        gradient. Returns a handle whose ``remove()`` unregisters the hook (PyTorch's API)."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self.grad_fn is None:
            if self._hooks is None:
                self._hooks = {}
            hooks = self._hooks
        else:
            if "pre_hooks" not in vars(self.grad_fn):
                self.grad_fn.pre_hooks = {}
            hooks = self.grad_fn.pre_hooks
        return RemovableHandle(hooks, hook)

    def detach(self):
        """The same data (shared memory and version counter), cut from the graph."""
        t = Tensor._wrap(self.arr, None, base=self)
        t._base = None  # cut from the graph: never a stale view, writes need not reach self's graph
        return t

    def detach_(self):
        if self._base is not None and self.grad_fn is not None:
            raise RuntimeError("Can't detach views in-place. Use detach() instead.")
        self.grad_fn = None
        self._requires_grad = False
        return self

    def _check_inplace(self):
        """Refuse in-place changes that would make a recorded gradient silently wrong."""
        if not is_grad_enabled():
            return
        if self.is_leaf and self.requires_grad:
            raise RuntimeError(
                f"a leaf Variable that requires grad (shape {self.shape}) is being used in an "
                "in-place operation; wrap the update in fastgrad.no_grad() if it is not meant to "
                "be differentiated"
            )
        base = self._base
        if base is not None and base.requires_grad and base.is_leaf:
            raise RuntimeError(
                f"a view (shape {self.shape}) of a leaf Variable that requires grad (shape "
                f"{base.shape}) is being used in an in-place operation"
            )

    def _check_view_write(self, records_grad):
        """Before an in-place write into a view: can the write be recorded in its base's graph?

        Only views made by basic indexing know where they sit in their base; a write that
        records a gradient into any other view (reshape, transpose, expand, ...) is refused
        rather than leaving the base's graph silently out of date.
        """
        if self._base is None or not is_grad_enabled() or not (records_grad or self._base.requires_grad):
            return
        view = self
        while view._base is not None:
            if view._view_of is None:
                raise RuntimeError(
                    f"an in-place write that records a gradient into a view (shape {self.shape}) of "
                    f"a tensor of shape {self._base.shape} made by reshape/transpose/expand/... is "
                    "not supported: write into the base tensor (base[idx] = value), or clone() "
                    "the view first"
                )
            view = view._view_of[0]

    # ----------------------------------------------------------------------- array facts
    @property
    def shape(self):
        return self.arr.shape

    @property
    def ndim(self):
        return self.arr.ndim

    def dim(self):
        return self.arr.ndim

    @property
    def dtype(self):
        return self.arr.dtype

    @property
    def device(self):
        return _CPU

    def size(self, dim=None):
        """The shape, or the length of dimension ``dim`` (as ``torch.Tensor.size``)."""
        if dim is None:
            return self.arr.shape
        ndim = max(self.arr.ndim, 1)
        if not -ndim <= dim < ndim:
            raise IndexError(
                f"Dimension out of range (expected to be in range of [{-ndim}, {ndim - 1}], "
                f"but got {dim})"
            )
        return self.arr.shape[dim] if self.arr.ndim else 1

    def numel(self):
        return self.arr.size

    def element_size(self):
        return self.arr.itemsize

    def is_floating_point(self):
        return dtypes.is_floating(self.arr.dtype)

    def is_contiguous(self):
        return self.arr.flags.c_contiguous

    def numpy(self):
        """The underlying ndarray (shared memory)."""
        if self.requires_grad:
            raise RuntimeError(
                "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() "
                "instead."
            )
        return self.arr

    def __array__(self, dtype=None, copy=None):
        arr = self.numpy()
        if dtype is not None:
            arr = arr.astype(dtype, copy=False)
        return np.array(arr, copy=True) if copy else arr

    def item(self):
        if self.arr.size != 1:
            raise RuntimeError(
                f"a Tensor with {self.arr.size} elements cannot be converted to Scalar"
            )
        return self.arr.item()

    def tolist(self):
        return self.arr.tolist()

    def cpu(self):
        return self

    def __len__(self):
        if self.arr.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.arr.shape[0]

    def __iter__(self):
        if self.arr.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.arr.shape[0]))

    def __bool__(self):
        if self.arr.size != 1:
            raise RuntimeError(
                f"Boolean value of Tensor with more than one value is ambiguous (shape {self.shape})"
            )
        return bool(self.arr.item())

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self.arr.size != 1 or self.arr.dtype.kind not in "iub":
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.arr.item())

    __hash__ = object.__hash__

    def __repr__(self):
        body = format_values(self.arr)  # summarised as fastgrad.set_printoptions says
        extras = []
        default = (np.dtype(np.float32), np.dtype(np.int64), np.dtype(np.bool_))
        if self.arr.dtype not in default or self.arr.size == 0:
            extras.append(f"dtype=fastgrad.{self.arr.dtype}")
        if self.grad_fn is not None:
            extras.append(f"grad_fn=<{self.grad_fn.name()}>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + ", ".join([body] + extras) + ")"

    # ---- PyTorch device shims (fastgrad/devices.py, fastgrad/cuda.py) ----
    is_cuda = False

    def cuda(self, device=None, non_blocking=False):
        """Raises AssertionError, as a CPU-only PyTorch build does: fastgrad has no GPU."""
        from fastgrad.cuda import not_compiled

        raise not_compiled()
