"""The graph node: one ``GradFn`` subclass per operation.

A ``GradFn`` is created by an operation's forward when any input requires grad, from its
inputs (Tensors, ``None`` for constants). It keeps no input, only what its backward reads,
with one call: ``save_for_backward(...)``; the backward reads that back through
``saved_tensors`` and returns one gradient (ndarray or None) per input. A class whose backward
returns only arrays it has just allocated says so with ``fresh_grads = True``: the engine may
then give such an array to a leaf as its ``.grad`` without copying it.

Every backward runs in two modes with one body (ARCHITECTURE.md, "Higher-order gradients").
First-order (the default): ``grad_output`` and ``saved_tensors`` are ndarrays. With
``create_graph=True`` the engine sets ``create_graph`` on the node and calls the same backward
with a Tensor ``grad_output`` under grad mode; ``saved_tensors`` then hands out Tensors (the
saved tensors themselves, the node's own output rebuilt on the node, ``derived`` values
recomputed from their sources), so the ops the backward runs are recorded and can be
differentiated again. A backward therefore only uses what ndarrays and Tensors share
(operators, ``.reshape``, ``.sum(axis=, keepdims=)``, ``.T``, ...) and ``fastgrad.ops.backend``.

The edges the engine follows are captured when the node is made (``next_edges``): the
producer of each input *at that moment*. An in-place operation that later gives an input a
new ``grad_fn`` therefore cannot re-route gradients of nodes recorded before it.
"""

import numpy as np

from fastgrad.autograd.grad_mode import is_grad_enabled

# Attributes a released node keeps; everything else a subclass saved is dropped by ``release``.
_GRAPH_ATTRS = frozenset({"next_edges", "needs_input_grad", "input_dtypes", "input_shapes",
                          "released", "_saved_versions", "retained", "pre_hooks"})
# ... and the attributes ``release`` does not scan for data (save_for_backward's, handled first).
_KEPT_ATTRS = _GRAPH_ATTRS | {"_saved", "_graph_sources", "create_graph", "last_backward"}

# What ``_graph_sources`` holds for a saved Tensor that is the node's own output: keeping the
# Tensor would make a node <-> tensor cycle, so a create_graph backward rebuilds it from the
# saved array and the node (PyTorch's SavedVariable keeps data + grad_fn the same way).
_OWN_OUTPUT = object()


class Derived(tuple):
    """A saved array the forward derived from some tensors, with how to derive it again.

    ``derived(value, recipe, *sources)``: the first-order backward reads ``value`` (an
    ndarray computed in the forward, e.g. a partial derivative); a create_graph backward reads
    ``recipe(*sources)`` evaluated on the source Tensors, so that what it computes is
    recorded. ``recipe`` must compute ``value`` from ``sources`` with operations both ndarrays
    and Tensors support (``fastgrad.ops.backend``): it is the one definition of the value.
    """

    __slots__ = ()

    @property
    def value(self):
        return self[0]

    @property
    def recipe(self):
        return self[1]

    @property
    def sources(self):
        return self[2:]


def derived(value, recipe, *sources):
    """A value for ``save_for_backward``: ``value`` first-order, ``recipe(*sources)`` with
    create_graph (see ``Derived``). Sources are Tensors (kept, version-checked when read in
    create_graph mode) or constants."""
    return Derived((value, recipe) + sources)


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
_PLAIN = (int, float, str, type(None), np.generic)  # values that never hold array data
_PLAIN_TYPES = frozenset({bool, int, float, str, type(None)})  # the same, by exact type


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
        # Shapes, geometries and chunk bounds are tuples of numbers: skip those without a call
        # (a plain loop: a generator costs more than the scan of a shape)
        for v in value:
            if not isinstance(v, _PLAIN) and _holds_data(v):
                return True
        return False
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


def _modified_error(fn, shape, version, expected):
    return RuntimeError(
        "one of the variables needed for gradient computation has been modified by an inplace "
        f"operation: a tensor of shape {shape} saved by {type(fn).__name__} is at version "
        f"{version}; expected version {expected} instead."
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
        # Per saved value, what a create_graph backward reads instead of the array: None (the
        # value itself: an array the op made, a number), the Tensor saved, ``_OWN_OUTPUT`` or a
        # ``Derived``.
        self._graph_sources = ()
        self.released = False
        # Weak references to the tensors this node made that asked for ``retain_grad()``: the
        # engine gives them the node's gradient.
        self.retained = ()
        # Set by the engine before each backward: True when the node is released right after
        # it, so the backward may overwrite arrays it saved (no second backward will read them).
        self.last_backward = False

    # Set by the engine before each backward: True when it runs with create_graph, so that
    # ``saved_tensors`` hands out Tensors.
    create_graph = False
    # Versions of the tensors ``derived`` values are recomputed from (checked only then).
    _graph_versions = ()
    # Hooks of the tensor this node made (``Tensor.register_hook``): id -> hook, run by the
    # engine on the gradient before the backward; a dict of its own once one is registered.
    pre_hooks = {}

    def save_for_backward(self, *values):
        """Keep what the backward reads; ``saved_tensors`` gives it back, in the same order.

        Each value is a Tensor, an ndarray the op made itself (a mask, a partial derivative),
        a number or None. A Tensor is kept as its array and its version: reading it back after
        an in-place change of it raises instead of giving a wrong gradient (PyTorch's
        SavedVariable). Each call appends, so an op saves its output after making it.
        """
        saved = list(self._saved)
        versions = list(self._saved_versions)
        sources = list(self._graph_sources)
        for value in values:
            if type(value) is Derived:
                # its sources are read (and so checked) only by a create_graph backward
                for t in value[2:]:
                    counter = getattr(t, "_version_counter", None)
                    if counter is not None:
                        self._graph_versions += ((counter, counter[0], t.arr.shape),)
                sources.append(value)
                saved.append(value[0])
                continue
            counter = getattr(value, "_version_counter", None)
            if counter is not None:  # a Tensor (duck-typed: tensor.py imports this module)
                # Keep the counter (the list a tensor shares with its views) for the check;
                # the node's own output is kept as its array only (no node <-> tensor cycle).
                versions.append((counter, counter[0], value.arr.shape))
                sources.append(_OWN_OUTPUT if value.grad_fn is self else value)
                value = value.arr
            else:
                sources.append(None)
            saved.append(value)
        self._saved = tuple(saved)
        self._saved_versions = tuple(versions)
        self._graph_sources = tuple(sources)

    def save_for_create_graph(self, *tensors):
        """Keep input ``tensors`` that only a create_graph backward reads, from
        ``saved_for_create_graph``: the first-order backward reads arrays the forward derived
        from them instead (conv2d's columns of its input). Kept, version-checked and released
        as ``save_for_backward``'s."""
        self._graph_versions += tuple((t._version_counter, t._version_counter[0], t.arr.shape)
                                      for t in tensors)
        self._create_graph_saved = tensors

    @property
    def saved_for_create_graph(self):
        """What ``save_for_create_graph`` kept (see there)."""
        if self.released:
            raise freed_error(self)
        for counter, version, shape in self._graph_versions:
            if counter[0] != version:
                raise _modified_error(self, shape, counter[0], version)
        return self._create_graph_saved

    @property
    def saved_tensors(self):
        """The values given to ``save_for_backward``, in order: first-order, Tensors as their
        arrays and ``derived`` values as their arrays; with ``create_graph``, the Tensors
        themselves (the node's output rebuilt on this node) and ``derived`` values recomputed.

        The one place a backward gets its saved data; raises if a saved tensor was modified
        in place since it was saved, or if a backward without ``retain_graph`` freed them.
        """
        if self.released:
            raise freed_error(self)
        for counter, version, shape in self._saved_versions:
            if counter[0] != version:
                raise _modified_error(self, shape, counter[0], version)
        if self.create_graph:
            for counter, version, shape in self._graph_versions:
                if counter[0] != version:
                    raise _modified_error(self, shape, counter[0], version)
            return tuple(map(self._as_tensor, self._saved, self._graph_sources))
        return self._saved

    def _as_tensor(self, value, source):
        """A saved value as a create_graph backward reads it (see ``saved_tensors``)."""
        if source is None:
            return value
        if source is _OWN_OUTPUT:
            from fastgrad.autograd.tensor import Tensor

            return Tensor._wrap(value, self)
        if type(source) is not Derived:
            return source
        return source.recipe(*source.sources)

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
        attributes = vars(self)
        attributes.pop("_graph_versions", None)
        # save_for_backward's values: the create_graph sources hold data only where the saved
        # values do (a Tensor's array, a derived array), so both go, or both stay.
        if _holds_data(self._saved):
            del attributes["_saved"], attributes["_graph_sources"]
            self.released = True
        # One pass over the rest: drop what holds data, keep the metadata (shapes, scalars).
        doomed = [name for name, value in attributes.items()
                  if type(value) not in _PLAIN_TYPES and name not in _KEPT_ATTRS
                  and _holds_data(value)]
        for name in doomed:
            del attributes[name]
            self.released = True

    @property
    def next_functions(self):
        return self.next_edges

    def name(self):
        return type(self).__name__

    def __repr__(self):
        return f"<{type(self).__name__}>"
