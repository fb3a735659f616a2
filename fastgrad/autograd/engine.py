"""The backward pass: iterative, dependency-counted, accumulating.

``run_backward(root_fn, grad)`` walks the graph from ``root_fn`` without recursion (a
10,000-op chain works), runs each node once, only after every consumer of its output has
contributed, sums gradients that meet at a node into a fresh array (never mutating one that
another node produced), and accumulates into the ``.grad`` of leaf tensors.
"""
import numpy as np

from fastgrad.autograd.function import GradFn, freed_error


def _count_consumers(root_fn):
    """Number of edges into each node reachable from ``root_fn`` (the original design's grad_cnt)."""
    consumers = {root_fn: 0}
    stack = [root_fn]
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


def accumulate_into_leaf(leaf, grad, owned=False):
    """Add ``grad`` into ``leaf.grad``; the stored array is always one the leaf owns.

    A first gradient is copied unless ``owned`` says that nothing else holds it, and it is a
    base array (no view of another array's memory) that can be written: then the leaf takes it
    as it is (PyTorch's AccumulateGrad steals such a gradient the same way). That saves a copy
    of every parameter gradient each step, and of a whole activation for an input that requires
    grad. A gradient converted to the leaf's dtype here is a new array, and so is owned.
    Accumulation makes a new array: an array someone took from ``.grad`` is never changed.
    """
    from fastgrad.autograd.tensor import Tensor

    if grad.dtype != leaf.arr.dtype:
        grad = grad.astype(leaf.arr.dtype)
        owned = True
    if grad.shape != leaf.arr.shape:
        raise RuntimeError(
            f"a backward produced a gradient of shape {grad.shape} for a leaf of shape "
            f"{leaf.arr.shape}; this is a bug in the op that produced it"
        )
    if leaf.grad is None:
        if owned and grad.base is None and grad.flags.writeable:
            leaf.grad = Tensor._wrap(grad)
        else:
            leaf.grad = Tensor._wrap(np.array(grad, copy=True))
    else:
        # np.asarray: NumPy returns a scalar, not a 0-d array, when adding 0-d arrays.
        leaf.grad.arr = np.asarray(leaf.grad.arr + grad)


def _owned(fn, grad, grad_output, input_grads):
    """Whether ``grad``, returned by ``fn.backward(grad_output)``, is held by nobody else: the
    node declares its gradients fresh, and this one is neither ``grad_output`` nor returned
    for two inputs (views are caught by ``accumulate_into_leaf``)."""
    if not fn.fresh_grads or grad is grad_output:
        return False
    return sum(g is grad for g in input_grads) == 1


def run_backward(root_fn, grad, retain_graph=False):
    consumers = _count_consumers(root_fn)
    pending = {root_fn: grad}
    ready = [root_fn]
    while ready:
        fn = ready.pop()
        grad_output = pending.pop(fn, None)
        if grad_output is None:
            # No gradient reached this node (its consumers gave None): nothing to compute, but
            # its producers must still learn that this consumer is done.
            input_grads = (None,) * len(fn.next_edges)
        else:
            if fn.released:
                raise freed_error(fn)
            for ref in fn.retained:
                # a tensor that called retain_grad() gets its node's gradient as a leaf does,
                # if it is alive and still that node's output (no in-place op since)
                tensor = ref()
                if tensor is not None and tensor.grad_fn is fn:
                    accumulate_into_leaf(tensor, grad_output)
            fn.last_backward = not retain_graph
            input_grads = fn.backward(grad_output)
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
                accumulate_into_leaf(edge, input_grad,
                                     _owned(fn, input_grad, grad_output, input_grads))
        if grad_output is not None and not retain_graph:
            fn.release()
