"""The graph node: one ``GradFn`` subclass per operation.

A ``GradFn`` is created by an operation's forward when any input requires grad. It holds
``inputs`` (the input Tensors, ``None`` for constants), whatever the backward needs, and
implements ``backward(grad_output) -> tuple`` with one gradient (ndarray or None) per input.

The edges the engine follows are captured when the node is made (``next_edges``): the
producer of each input *at that moment*. An in-place operation that later gives an input a
new ``grad_fn`` therefore cannot re-route gradients of nodes recorded before it.
"""

import numpy as np

from fastgrad.autograd.grad_mode import is_grad_enabled

# Attributes a released node keeps; everything else a subclass saved is dropped by ``release``.
_GRAPH_ATTRS = frozenset({"next_edges", "needs_input_grad", "input_dtypes", "released", "saved_versions",
                          "retained"})


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
    """Whether a saved attribute holds array data (an ndarray or Tensor, or a container of them)."""
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


class GradFn:
    """Base class of the graph nodes. Subclasses call ``super().__init__(*inputs)`` first."""

    def __init__(self, *inputs):
        self.inputs = inputs
        edges = []
        needs = []
        dtypes = []
        for t in inputs:
            if t is None:
                edges.append(None)
                needs.append(False)
                dtypes.append(None)
                continue
            if t.grad_fn is not None:
                edges.append(t.grad_fn)
            elif t.requires_grad:
                edges.append(t)  # a leaf: the engine accumulates into its ``.grad``
            else:
                edges.append(None)
            needs.append(t.requires_grad)
            dtypes.append(t.arr.dtype)
        self.next_edges = tuple(edges)
        self.needs_input_grad = tuple(needs)
        self.input_dtypes = tuple(dtypes)
        self.saved_versions = ()
        self.released = False
        # Weak references to the tensors this node made that asked for ``retain_grad()``: the
        # engine gives them the node's gradient.
        self.retained = ()
        # Set by the engine before each backward: True when the node is released right after
        # it, so the backward may overwrite arrays it saved (no second backward will read them).
        self.last_backward = False

    def save_for_backward(self, *tensors):
        """Record the versions of tensors whose *data* the backward reads.

        If one of them is modified in place before the backward runs, the engine raises
        instead of computing a wrong gradient (PyTorch's version counter check).
        """
        # Keep the counter (the list a tensor shares with its views), not the tensor: a node
        # that saves its own output would otherwise form a node <-> tensor reference cycle.
        self.saved_versions = self.saved_versions + tuple(
            (t._version_counter, t._version_counter[0], tuple(t.shape))
            for t in tensors if t is not None
        )

    def check_saved_versions(self):
        for counter, version, shape in self.saved_versions:
            if counter[0] != version:
                raise RuntimeError(
                    "one of the variables needed for gradient computation has been modified by an "
                    f"inplace operation: a tensor of shape {shape} saved by "
                    f"{type(self).__name__} is at version {counter[0]}; expected version "
                    f"{version} instead."
                )

    def backward(self, grad_output):
        """Return one gradient (ndarray or None) per input, for ``grad_output`` of the output's shape."""
        raise NotImplementedError

    def release(self):
        """Drop the saved arrays (after a backward without ``retain_graph``).

        A node that saved no array (only shapes, axes, scalars: add, reshape, sum, basic
        indexing, ...) keeps that and stays usable, as PyTorch's nodes that save no tensor
        do: a second backward through it works; one through a node whose arrays are gone
        raises.
        """
        self.inputs = ()
        self.saved_versions = ()
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
