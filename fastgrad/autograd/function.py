"""The graph node: one ``GradFn`` subclass per operation.

A ``GradFn`` is created by an operation's forward when any input requires grad, from its
inputs (Tensors, ``None`` for constants). It keeps no input, only what its backward reads,
with one call: ``save_for_backward(...)``; the backward reads that back through
``saved_tensors`` and returns one gradient (ndarray or None) per input. A class whose backward
returns only arrays it has just allocated says so with ``fresh_grads = True``: the engine may
then give such an array to a leaf as its ``.grad`` without copying it.

The edges the engine follows are captured when the node is made (``next_edges``): the
producer of each input *at that moment*. An in-place operation that later gives an input a
new ``grad_fn`` therefore cannot re-route gradients of nodes recorded before it.
"""

import numpy as np

from fastgrad.autograd.grad_mode import is_grad_enabled

# Attributes a released node keeps; everything else a subclass saved is dropped by ``release``.
_GRAPH_ATTRS = frozenset({"next_edges", "needs_input_grad", "input_dtypes", "input_shapes", "released",
                          "_saved_versions", "retained"})


def needs_grad(*tensors):
    """True when an op on ``tensors`` must record a node: grad mode on and an input requires grad.

    Also refuses a stale view: one made before an in-place write gave its base a new node, so
    that its own node no longer describes its data (PyTorch would rebuild the view's node).
    """
    if not is_grad_enabled():
        return False
    result = False
    for t in tensors:
        if t is None:
            continue
        base = t._base
        if base is not None and base.grad_fn is not t._base_fn_at_view:
            raise RuntimeError(
                f"a view (shape {t.shape}) was made before an in-place write gave its base "
                f"(shape {base.shape}) a new gradient node, so its gradient would be wrong: take "
                "the view again after the write"
            )
        if t.requires_grad:
            result = True
    return result


def unbroadcast(grad, shape):
    """Sum ``grad`` over the axes NumPy broadcasting added or stretched, giving ``shape``.

    The one un-broadcast step of every broadcasting op. Returns ``grad`` itself when no
    reduction is needed (callers never mutate gradients, so the alias is safe).
    """
    shape = tuple(shape)
    if grad.shape == shape:
        return grad
    if grad.ndim < len(shape):
        # NumPy also assigns a value with extra leading size-1 axes (``x[0] = v[None]``).
        grad = grad.reshape((1,) * (len(shape) - grad.ndim) + grad.shape)
    lead = grad.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(
        lead + i for i, size in enumerate(shape) if size == 1 and grad.shape[lead + i] != 1
    )
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad.reshape(shape)


_array_types = None  # (ndarray, Tensor), filled on first use: tensor.py imports this module


def _holds_data(value):
    """Whether an attribute holds array data (an ndarray or Tensor, or a container of them):
    ``_saved``, and attributes that ops/conv.py and ops/pooling.py still set themselves."""
    global _array_types
    if _array_types is None:
        from fastgrad.autograd.tensor import Tensor

        _array_types = (np.ndarray, Tensor)
    if isinstance(value, _array_types):
        return True
    if isinstance(value, (tuple, list)):
        return any(map(_holds_data, value))
    if isinstance(value, dict):
        return any(map(_holds_data, value.values()))
    return False


def freed_error(fn):
    """The error for a use of ``fn``'s saved arrays after a backward freed them."""
    return RuntimeError(
        f"Trying to backward through the graph a second time (at {fn.name()}), or to access its "
        "saved tensors after they were freed by the first backward. Specify retain_graph=True "
        "on the first backward() call to backward through it again."
    )


class GradFn:
    """Base class of the graph nodes. Subclasses call ``super().__init__(*inputs)`` first."""

    # True when every gradient ``backward`` returns is an array it has just allocated and keeps
    # no reference to (never a saved array or a workspace buffer), apart from ``grad_output``
    # itself and views, which the engine recognises. Such an array can become a leaf's
    # ``.grad`` as it is; the default, False, makes the engine copy (safe, one copy slower).
    fresh_grads = False

    def __init__(self, *inputs):
        edges = []
        needs = []
        dtypes = []
        shapes = []
        for t in inputs:
            if t is None:
                edges.append(None)
                needs.append(False)
                dtypes.append(None)
                shapes.append(None)
                continue
            if t.grad_fn is not None:
                edges.append(t.grad_fn)
            elif t.requires_grad:
                edges.append(t)  # a leaf: the engine accumulates into its ``.grad``
            else:
                edges.append(None)
            needs.append(t.requires_grad)
            dtypes.append(t.arr.dtype)
            shapes.append(t.arr.shape)
        self.next_edges = tuple(edges)
        self.needs_input_grad = tuple(needs)
        self.input_dtypes = tuple(dtypes)
        # Each input's shape (PyTorch's input metadata): what flows along each edge, for graph
        # readers (fastgrad.viz, fastgrad.onnx) after the forward's tensors are gone.
        self.input_shapes = tuple(shapes)
        self._saved = ()
        self._saved_versions = ()
        self.released = False
        # Weak references to the tensors this node made that asked for ``retain_grad()``: the
        # engine gives them the node's gradient.
        self.retained = ()
        # Set by the engine before each backward: True when the node is released right after
        # it, so the backward may overwrite arrays it saved (no second backward will read them).
        self.last_backward = False

    def save_for_backward(self, *values):
        """Keep what the backward reads; ``saved_tensors`` gives it back, in the same order.

        Each value is a Tensor, an ndarray the op made itself (a mask, a partial derivative),
        a number or None. A Tensor is kept as its array and its version: reading it back after
        an in-place change of it raises instead of giving a wrong gradient (PyTorch's
        SavedVariable). Each call appends, so an op saves its output after making it.
        """
        saved = list(self._saved)
        versions = list(self._saved_versions)
        for value in values:
            counter = getattr(value, "_version_counter", None)
            if counter is not None:  # a Tensor (duck-typed: tensor.py imports this module)
                # Keep the counter (the list a tensor shares with its views), not the tensor: a
                # node that saves its own output would otherwise form a node <-> tensor cycle.
                versions.append((counter, counter[0], value.arr.shape))
                value = value.arr
            saved.append(value)
        self._saved = tuple(saved)
        self._saved_versions = tuple(versions)

    @property
    def saved_tensors(self):
        """The values given to ``save_for_backward`` (Tensors as their arrays), in order.

        The one place a backward gets its saved data; raises if a saved tensor was modified
        in place since it was saved, or if a backward without ``retain_graph`` freed them.
        """
        if self.released:
            raise freed_error(self)
        for counter, version, shape in self._saved_versions:
            if counter[0] != version:
                raise RuntimeError(
                    "one of the variables needed for gradient computation has been modified by an "
                    f"inplace operation: a tensor of shape {shape} saved by "
                    f"{type(self).__name__} is at version {counter[0]}; expected version "
                    f"{version} instead."
                )
        return self._saved

    def backward(self, grad_output):
        """Return one gradient (ndarray or None) per input, for ``grad_output`` of the output's shape."""
        raise NotImplementedError

    def release(self):
        """Drop the saved arrays (after a backward without ``retain_graph``).

        A node that saved no array (only shapes, axes, numbers: add, reshape, sum, basic
        indexing, ...) keeps that and stays usable, as PyTorch's nodes that save no tensor
        do: a second backward through it works; one through a node whose arrays are gone
        raises.
        """
        self._saved_versions = ()
        # One pass: drop what holds data, keep the metadata (shapes, scalars: small).
        attributes = vars(self)
        for name in [n for n, v in attributes.items() if n not in _GRAPH_ATTRS and _holds_data(v)]:
            del attributes[name]
            self.released = True

    @property
    def next_functions(self):
        return self.next_edges

    def name(self):
        return type(self).__name__

    def __repr__(self):
        return f"<{type(self).__name__}>"
