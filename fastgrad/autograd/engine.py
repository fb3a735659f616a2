"""The backward pass: iterative, dependency-counted, accumulating.

``run_backward(root_fn, grad)`` walks the graph from ``root_fn`` without recursion (a
10,000-op chain works), runs each node once, only after every consumer of its output has
contributed, sums gradients that meet at a node into a fresh array (never mutating one that
another node produced), and accumulates into the ``.grad`` of leaf tensors.
"""
import sys

import numpy as np

from fastgrad.autograd.function import GradFn

# References to an incoming leaf gradient that the engine itself holds when nothing else
# does: the ``input_grads`` sequence, run_backward's ``input_grad`` and accumulate_into_leaf's
# parameter, plus ``sys.getrefcount``'s own argument. Checked by tests/test_engine.py (a
# count one too high would let a leaf take an array someone else holds).
_ENGINE_REFS = 4


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


def _exclusively_ours(grad, expected_refs):
    """True when no one but the engine can reach ``grad``: a base array (no view of another
    array's memory) with no reference beyond the engine's own ``expected_refs``."""
    return (grad.base is None and grad.flags.writeable and grad.flags.c_contiguous
            and sys.getrefcount(grad) <= expected_refs + 1)  # +1: this call's argument


def accumulate_into_leaf(leaf, grad, expected_refs=None):
    """Add ``grad`` into ``leaf.grad``; the stored array is always one the leaf owns.

    A first gradient is copied, unless ``expected_refs`` says how many references the caller
    holds and ``grad`` has no other: then nothing else can see it and the leaf takes it as it
    is (PyTorch's AccumulateGrad steals such a gradient the same way). That saves a copy of
    every parameter gradient each step, and of a whole activation for an input that requires
    grad (pool1 of the MNIST CNN: 2.8 MB).
    """
    from fastgrad.autograd.tensor import Tensor

    if grad.dtype != leaf.arr.dtype:
        grad = grad.astype(leaf.arr.dtype)  # a fresh array: one reference fewer
        if expected_refs is not None:
            expected_refs = 2  # ``grad`` here and getrefcount's argument
    if grad.shape != leaf.arr.shape:
        raise RuntimeError(
            f"a backward produced a gradient of shape {grad.shape} for a leaf of shape "
            f"{leaf.arr.shape}; this is a bug in the op that produced it"
        )
    if leaf.grad is None:
        if expected_refs is not None and grad.ndim and _exclusively_ours(grad, expected_refs):
            leaf.grad = Tensor._wrap(grad)
        else:
            leaf.grad = Tensor._wrap(np.array(grad, copy=True))
    else:
        # np.asarray: NumPy returns a scalar, not a 0-d array, when adding 0-d arrays.
        leaf.grad.arr = np.asarray(leaf.grad.arr + grad)


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
                raise RuntimeError(
                    f"Trying to backward through the graph a second time (at {fn.name()}): its "
                    "saved arrays were freed by the first backward. Specify retain_graph=True on "
                    "the first backward() call to backward through it again."
                )
            fn.check_saved_versions()
            for ref in fn.retained:
                # a tensor that called retain_grad() gets its node's gradient as a leaf does,
                # if it is alive and still that node's output (no in-place op since)
                tensor = ref()
                if tensor is not None and tensor.grad_fn is fn:
                    accumulate_into_leaf(tensor, grad_output)
            fn.last_backward = not retain_graph
            input_grads = fn.backward(grad_output)
        # By index, not zip(): zip's reused result tuple would hold one more reference to
        # the gradient and stop accumulate_into_leaf from taking it without a copy.
        for i, edge in enumerate(fn.next_edges):
            if edge is None:
                continue
            input_grad = input_grads[i]
            dtype = fn.input_dtypes[i]
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
                accumulate_into_leaf(edge, input_grad, _ENGINE_REFS)
        if grad_output is not None and not retain_graph:
            fn.release()
