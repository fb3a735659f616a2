"""``make_dot``: a picture of the backward graph, as PyTorch users get from torchviz and DeZero's
readers from ``plot_dot_graph``.

One box per ``GradFn`` node (its class and the arrays it saved for the backward), one per leaf
(named after the parameter it is, with its shape), one per output; each edge carries the shape
of the tensor that flowed along it in the forward. Needs ``pip install fastgrad[viz]`` (the
``graphviz`` package); ``.source`` is the DOT text anywhere, ``.render()`` draws it where
Graphviz's ``dot`` program is installed.
"""
import numpy as np

from fastgrad.autograd.function import GradFn
from fastgrad.autograd.tensor import Tensor


def _shape(shape):
    return str(tuple(int(s) for s in shape))


def _size(nbytes):
    if nbytes < 1024:
        return f"{nbytes} B"
    if nbytes < 1024**2:
        return f"{nbytes / 1024:.1f} KiB"
    return f"{nbytes / 1024**2:.1f} MiB"


def saved_summary(node):
    """One line per array ``node`` saved for its backward: shape, dtype, size."""
    try:
        saved = node.saved_tensors
    except RuntimeError:  # freed by a backward, or changed in place since the forward
        return ["saved: freed" if node.released else "saved: changed in place"]
    return [f"saved {_shape(a.shape)} {a.dtype} {_size(a.nbytes)}"
            for a in saved if isinstance(a, np.ndarray)]


def make_dot(output, params=None):
    """A ``graphviz.Digraph`` of the graph that ``output.backward()`` would run.

    ``output``: a Tensor or a tuple of Tensors. ``params``: {name: Tensor}, e.g.
    ``dict(model.named_parameters())``, to name the leaves (others are labelled by shape).
    Edges run from inputs to the node that used them, as the forward did.
    """
    try:
        from graphviz import Digraph
    except ImportError:
        raise ImportError("fastgrad.viz.make_dot needs the graphviz package: "
                          "pip install fastgrad[viz]") from None
    outputs = tuple(output) if isinstance(output, (tuple, list)) else (output,)
    names = {id(t): name for name, t in (params or {}).items()}
    dot = Digraph(graph_attr={"rankdir": "TB", "size": "12,12"},
                  node_attr={"shape": "box", "style": "filled,rounded", "fontsize": "10",
                             "fontname": "monospace", "fillcolor": "lightgrey"},
                  edge_attr={"fontsize": "9", "fontname": "monospace"})
    seen = set()

    def add_leaf(t):
        if id(t) in seen:
            return
        seen.add(id(t))
        label = f"{names[id(t)]}\n{_shape(t.shape)}" if id(t) in names else _shape(t.shape)
        dot.node(str(id(t)), label, fillcolor="lightblue")

    stack = []
    for i, out in enumerate(outputs):
        if not isinstance(out, Tensor):
            raise TypeError(f"make_dot takes Tensors; output {i} is {type(out).__name__}")
        out_id = f"output{i}"
        dot.node(out_id, f"output{'' if len(outputs) == 1 else f' {i}'}\n{_shape(out.shape)}",
                 fillcolor="darkolivegreen1")
        source = out.grad_fn if out.grad_fn is not None else out
        if out.grad_fn is None:
            add_leaf(out)
        else:
            stack.append(out.grad_fn)
        dot.edge(str(id(source)), out_id)
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        dot.node(str(id(node)), "\n".join([node.name()] + saved_summary(node)))
        for edge, shape in zip(node.next_edges, node.input_shapes):
            if edge is None:
                continue  # an input that needs no gradient is not part of the backward
            if isinstance(edge, GradFn):
                stack.append(edge)
            else:
                add_leaf(edge)
            dot.edge(str(id(edge)), str(id(node)), label=" " + _shape(shape))
    return dot
