"""Trace a model's forward once and read it back as a graph, from its ``GradFn`` nodes.

Every op that records a node for the backward already writes down what the exporter needs: its
inputs (``next_edges``: the producing node, a leaf tensor, or None for a constant), their shapes
(``input_shapes``) and its attributes (``geometry``, ``axis``, ...). Running the forward once on
inputs that require grad, with every parameter requiring grad, therefore records the whole
computation with no hook in any op. A node's output shape is the shape its consumer saw.
"""
import contextlib

import numpy as np

from fastgrad.autograd.function import GradFn
from fastgrad.autograd.grad_mode import enable_grad
from fastgrad.autograd.tensor import Tensor


class TracedGraph:
    """The result of ``trace``: inputs and outputs (Tensors), the nodes in an order where each
    comes after its inputs' nodes, and the output shape of each node (by ``id``)."""

    def __init__(self, inputs, outputs, nodes, output_shapes):
        self.inputs = inputs
        self.outputs = outputs
        self.nodes = nodes
        self.output_shapes = output_shapes

    def output_shape(self, node):
        return self.output_shapes[id(node)]


@contextlib.contextmanager
def _tracing_state(model):
    """The model in eval mode (Dropout dropped, as torch.onnx.export does by default) with
    every parameter requiring grad, so that frozen ones are recorded as inputs of their nodes;
    both put back afterwards."""
    modes = [(m, m.training) for m in model.modules()]
    frozen = [p for p in model.parameters() if not p.requires_grad]
    model.eval()
    for p in frozen:
        p.requires_grad_(True)
    try:
        yield
    finally:
        for p in frozen:
            p.requires_grad_(False)
        for m, training in modes:
            m.training = training


def _as_input(value, position):
    arr = value.detach().numpy() if isinstance(value, Tensor) else np.asarray(value)
    if arr.dtype.kind != "f":
        raise TypeError(f"export traces float inputs only; input {position} has dtype {arr.dtype}")
    return Tensor(arr.copy(), dtype=arr.dtype, requires_grad=True)


def _topological(outputs):
    """The nodes reachable from ``outputs``, each after the nodes its inputs come from
    (iterative: a deep graph does not hit the recursion limit)."""
    order, seen = [], set()
    stack = [(t.grad_fn, False) for t in reversed(outputs) if t.grad_fn is not None]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        stack.extend((edge, False) for edge in reversed(node.next_edges)
                     if isinstance(edge, GradFn) and id(edge) not in seen)
    return order


def trace(model, args):
    """Run ``model(*args)`` once and return its ``TracedGraph``.

    ``args``: a Tensor / ndarray or a tuple of them, float (they are copied, so the caller's
    tensors are not changed to require grad). The model must return a Tensor or a tuple of
    Tensors.
    """
    if not isinstance(args, tuple):
        args = (args,)
    inputs = [_as_input(a, i) for i, a in enumerate(args)]
    with _tracing_state(model), enable_grad():
        result = model(*inputs)
    outputs = list(result) if isinstance(result, (tuple, list)) else [result]
    for i, out in enumerate(outputs):
        if not isinstance(out, Tensor):
            raise TypeError(f"export needs the model to return Tensors; output {i} is "
                            f"{type(out).__name__}")
    nodes = _topological(outputs)
    output_shapes = {id(t.grad_fn): t.shape for t in outputs if t.grad_fn is not None}
    for node in nodes:
        for edge, shape in zip(node.next_edges, node.input_shapes):
            if isinstance(edge, GradFn):
                output_shapes[id(edge)] = shape
    return TracedGraph(inputs, outputs, nodes, output_shapes)
