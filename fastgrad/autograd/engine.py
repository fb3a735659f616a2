"""The backward pass: iterative, dependency-counted, accumulating.

``run_backward(roots, grads)`` walks the graph from the ``roots`` (GradFns, or leaf tensors)
without recursion (a 10,000-op chain works), runs each node once, only after every consumer
of its output has contributed, sums gradients that meet at a node into a fresh array (never
mutating one that another node produced), and accumulates into the ``.grad`` of leaf tensors,
or, given ``inputs``, returns the gradients of those tensors only (``autograd.grad``).

First-order, gradients are ndarrays. With ``create_graph`` they are Tensors and every node's
backward runs under grad mode, so the backward pass is itself recorded (``GradFn``'s
docstring).
"""
import numpy as np

from fastgrad.autograd.function import GradFn, freed_error
from fastgrad.autograd.grad_mode import set_grad_enabled


def _count_consumers(roots):
    """Number of edges into each node reachable from ``roots`` (the original design's grad_cnt)."""
    consumers = {}
    stack = []
    for fn in roots:
        if isinstance(fn, GradFn) and fn not in consumers:
            consumers[fn] = 0
            stack.append(fn)
    while stack:
        fn = stack.pop()
        for edge in fn.next_edges:
            if isinstance(edge, GradFn):
                if edge in consumers:
                    consumers[edge] += 1
                else:
                    consumers[edge] = 1
                    stack.append(edge)
    return consumers


def _leading_to(consumers, targets):
    """The nodes (of ``consumers``) from which some target, a leaf tensor or a node, is reached
    through at least one edge: the only nodes ``autograd.grad`` has to run."""
    users = {}  # node -> the nodes that consume its output
    seeds = []
    for fn in consumers:
        for edge in fn.next_edges:
            if edge is None:
                continue
            if edge in targets:
                seeds.append(fn)
            if isinstance(edge, GradFn):
                users.setdefault(edge, []).append(fn)
    needed = set()
    while seeds:
        fn = seeds.pop()
        if fn not in needed:
            needed.add(fn)
            seeds.extend(users.get(fn, ()))
    return needed


def accumulate_into_leaf(leaf, grad, owned=False):
    """Add ``grad`` into ``leaf.grad``; the stored array is always one the leaf owns.

    A first gradient is copied unless ``owned`` says that nothing else holds it, and it is a
    base array (no view of another array's memory) that can be written: then the leaf takes it
    as it is (PyTorch's AccumulateGrad steals such a gradient the same way). That saves a copy
    of every parameter gradient each step, and of a whole activation for an input that requires
    grad. A gradient converted to the leaf's dtype here is a new array, and so is owned.
    Accumulation makes a new array: an array someone took from ``.grad`` is never changed.

    A Tensor ``grad`` (a create_graph backward) is stored as a differentiable copy, and
    accumulated with a recorded ``+``, so that ``leaf.grad`` has a ``grad_fn`` (PyTorch's rule).
    """
    from fastgrad.autograd.tensor import Tensor

    if isinstance(grad, Tensor):
        _accumulate_tensor(leaf, grad)
        return
    if grad.dtype != leaf.arr.dtype:
        grad = grad.astype(leaf.arr.dtype)
        owned = True
    _check_leaf_shape(leaf, grad)
    if leaf.grad is None:
        if owned and grad.base is None and grad.flags.writeable:
            leaf.grad = Tensor._wrap(grad)
        else:
            leaf.grad = Tensor._wrap(np.array(grad, copy=True))
    else:
        # np.asarray: NumPy returns a scalar, not a 0-d array, when adding 0-d arrays.
        leaf.grad.arr = np.asarray(leaf.grad.arr + grad)


def _check_leaf_shape(leaf, grad):
    if grad.shape != leaf.arr.shape:
        raise RuntimeError(
            f"a backward produced a gradient of shape {grad.shape} for a leaf of shape "
            f"{leaf.arr.shape}; this is a bug in the op that produced it"
        )


def _accumulate_tensor(leaf, grad):
    if grad.dtype != leaf.arr.dtype:
        grad = grad.astype(leaf.arr.dtype)
    _check_leaf_shape(leaf, grad)
    leaf.grad = grad.clone() if leaf.grad is None else leaf.grad + grad


def _owned(fn, grad, grad_output, input_grads):
    """Whether ``grad``, returned by ``fn.backward(grad_output)``, is held by nobody else: the
    node declares its gradients fresh, and this one is neither ``grad_output`` nor returned
    for two inputs (views are caught by ``accumulate_into_leaf``)."""
    if not fn.fresh_grads or grad is grad_output:
        return False
    return sum(g is grad for g in input_grads) == 1


def run_hooks(hooks, grad):
    """``grad`` after each hook of ``hooks`` (a dict id -> hook; a hook returning None keeps the
    gradient); an ndarray is handed to the hooks as a Tensor, as PyTorch's hooks take Tensors."""
    from fastgrad.autograd.tensor import Tensor

    as_array = not isinstance(grad, Tensor)
    value = Tensor._wrap(grad) if as_array else grad
    for hook in tuple(hooks.values()):
        result = hook(value)
        if result is None:
            continue
        if not isinstance(result, Tensor):
            raise TypeError("a tensor hook must return a Tensor or None, got "
                            f"{type(result).__name__}")
        if result.shape != value.shape:
            raise RuntimeError(f"hook {getattr(hook, '__name__', hook)!r} has changed the size of "
                               f"value: expected {value.shape}, got {result.shape}")
        value = result
    return value.arr if as_array else value


def run_backward(roots, grads, retain_graph=False, create_graph=False, inputs=None):
    """Propagate ``grads`` (one per root: a GradFn, or a leaf tensor that requires grad).

    Without ``inputs``, accumulate into the ``.grad`` of every leaf reached. With ``inputs``
    (tensors), touch no ``.grad`` and return a list with the gradient of each input (None for
    one that got none), running only the nodes that lead to an input. With ``create_graph``,
    ``grads`` are Tensors and so is everything computed.
    """
    if not create_graph:  # arrays record nothing: grad mode stays as the caller set it
        return _run(roots, grads, retain_graph, create_graph, inputs)
    with set_grad_enabled(True):
        return _run(roots, grads, retain_graph, create_graph, inputs)


def _run(roots, grads, retain_graph, create_graph, inputs):
    consumers = _count_consumers(roots)
    targets = needed = None
    captured = {}
    if inputs is not None:
        # A leaf input is captured where an edge reaches it, a non-leaf one at its node.
        targets = {t if t.grad_fn is None else t.grad_fn: None for t in inputs}
        needed = _leading_to(consumers, targets)
    pending = {}
    for root, grad in zip(roots, grads):
        if isinstance(root, GradFn):
            previous = pending.get(root)
            pending[root] = grad if previous is None else previous + grad
        elif targets is None or root in targets:
            if root._hooks:
                grad = run_hooks(root._hooks, grad)
            if targets is None:
                accumulate_into_leaf(root, grad)
            else:
                captured[root] = grad if root not in captured else _value(captured[root]) + grad
    ready = [fn for fn in dict.fromkeys(roots) if isinstance(fn, GradFn) and consumers[fn] == 0]
    while ready:
        fn = ready.pop()
        grad_output = pending.pop(fn, None)
        if grad_output is not None and fn.pre_hooks:
            grad_output = run_hooks(fn.pre_hooks, grad_output)
        if targets is not None and fn in targets:
            targets[fn] = True
            if grad_output is not None:
                captured[fn] = grad_output
        runs = grad_output is not None and (needed is None or fn in needed)
        if not runs:
            # No gradient reached this node (its consumers gave None), or none of the wanted
            # gradients lies behind it: nothing to compute, but its producers must still
            # learn that this consumer is done.
            input_grads = (None,) * len(fn.next_edges)
        else:
            if fn.released:
                raise freed_error(fn)
            if targets is None:
                for ref in fn.retained:
                    # a tensor that called retain_grad() gets its node's gradient as a leaf
                    # does, if it is alive and still that node's output (no in-place op since)
                    tensor = ref()
                    if tensor is not None and tensor.grad_fn is fn:
                        accumulate_into_leaf(tensor, grad_output)
            fn.last_backward = not retain_graph
            fn.create_graph = create_graph
            input_grads = fn.backward(grad_output)
            if create_graph:
                _check_tensors(fn, input_grads)
        for edge, input_grad, dtype in zip(fn.next_edges, input_grads, fn.input_dtypes):
            if edge is None:
                continue
            if isinstance(edge, GradFn):
                if input_grad is not None:
                    if input_grad.dtype != dtype:
                        input_grad = input_grad.astype(dtype)
                    previous = pending.get(edge)
                    pending[edge] = input_grad if previous is None else previous + input_grad
                consumers[edge] -= 1
                if consumers[edge] == 0:
                    ready.append(edge)
            elif input_grad is not None:
                if edge._hooks and (targets is None or edge in targets):
                    input_grad = run_hooks(edge._hooks, input_grad)
                if targets is None:
                    accumulate_into_leaf(edge, input_grad,
                                         _owned(fn, input_grad, grad_output, input_grads))
                elif edge in targets:
                    owned = not create_graph and _owned(fn, input_grad, grad_output, input_grads)
                    previous = captured.get(edge)
                    captured[edge] = (input_grad, owned) if previous is None else \
                        (_value(previous) + input_grad, True)
        if runs and not retain_graph:
            fn.release()
    if inputs is None:
        return None
    root_grads = {id(grad) for grad in grads}
    return [_result(captured.get(t if t.grad_fn is None else t.grad_fn), t, root_grads)
            for t in inputs]


def _value(entry):
    return entry[0] if isinstance(entry, tuple) else entry


def _result(entry, tensor, root_grads):
    """A captured gradient as ``autograd.grad`` returns it: a Tensor in the input's dtype; an
    ndarray that something else may hold (not ``owned``: a view, grad_output, ...) is copied."""
    from fastgrad.autograd.tensor import Tensor

    if entry is None:
        return None
    grad, owned = entry if isinstance(entry, tuple) else (entry, False)
    if isinstance(grad, Tensor):
        return grad if grad.dtype == tensor.dtype else grad.astype(tensor.dtype)
    if grad.dtype != tensor.arr.dtype:
        grad, owned = grad.astype(tensor.arr.dtype), True
    if not owned or id(grad) in root_grads or grad.base is not None or not grad.flags.writeable:
        grad = np.array(grad, copy=True)
    return Tensor._wrap(np.asarray(grad))


def _check_tensors(fn, input_grads):
    """A create_graph backward must return Tensors (or None): an ndarray means the node's
    backward left the recorded path, and its second derivative would silently be zero."""
    for grad in input_grads:
        if isinstance(grad, np.ndarray):
            raise RuntimeError(
                f"{fn.name()}'s backward returned an ndarray with create_graph=True: it does not "
                "support higher-order gradients yet"
            )
