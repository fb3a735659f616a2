"""``fastgrad.onnx.export``: a model's traced forward written as an ONNX file (opset 17+)."""
import collections
import os

import numpy as np

from fastgrad.autograd.function import GradFn
from fastgrad.onnx.symbolic import SYMBOLICS, unsupported
from fastgrad.onnx.trace import trace

MIN_OPSET = 17


class GraphContext:
    """The ONNX graph being written: what a symbolic function calls (``g`` in the table)."""

    def __init__(self, traced, helper, numpy_helper):
        self._traced = traced
        self._helper = helper
        self._numpy_helper = numpy_helper
        self._count = collections.Counter()
        self.nodes = []
        self.initializers = []

    def _fresh(self, kind):
        index = self._count[kind]
        self._count[kind] += 1
        return f"{kind}_{index}"

    def op(self, op_type, *inputs, **attributes):
        """Append one node; returns the name of its (single) output."""
        name = "/" + self._fresh(op_type)
        output = f"{name}_output_0"
        self.nodes.append(self._helper.make_node(op_type, list(inputs), [output], name=name,
                                                 **attributes))
        return output

    def constant(self, array, name=None):
        """Add ``array`` as an initializer; returns its name."""
        name = name or "/" + self._fresh("Constant")
        self.initializers.append(self._numpy_helper.from_array(np.asarray(array), name))
        return name

    def output_shape(self, node):
        """The shape of the tensor ``node`` made in the traced forward."""
        return self._traced.output_shape(node)


def _names(given, count, default):
    if given is None:
        return [default] if count == 1 else [f"{default}_{i}" for i in range(count)]
    given = list(given)
    if len(given) != count:
        raise ValueError(f"{len(given)} names given for {count} {default}s: {given}")
    return given


def _dynamic_axes(dynamic_axes, known_names):
    """{value name: {axis: dim name}} from torch.onnx.export's dict-of-dicts or dict-of-lists."""
    result = {}
    for name, axes in (dynamic_axes or {}).items():
        if name not in known_names:
            raise ValueError(f"dynamic_axes names {name!r}, which is not among the input and "
                             f"output names {sorted(known_names)}")
        if not isinstance(axes, dict):
            axes = {int(a): f"{name}_dynamic_axes_{i + 1}" for i, a in enumerate(axes)}
        result[name] = {int(a): str(d) for a, d in axes.items()}
    return result


def _value_info(helper, name, tensor, dynamic):
    shape = [dynamic.get(axis, size) for axis, size in enumerate(tensor.shape)]
    elem_type = helper.np_dtype_to_tensor_dtype(np.dtype(tensor.dtype))
    return helper.make_tensor_value_info(name, elem_type, shape)


def export(model, args, f, *, input_names=None, output_names=None, dynamic_axes=None,
           opset_version=MIN_OPSET):
    """Trace ``model(*args)`` once and write it to ``f`` (a path or a binary file) as ONNX.

    As ``torch.onnx.export``: ``args`` is the example input (a Tensor or a tuple of them,
    float); ``input_names`` / ``output_names`` name the graph's values (default ``input`` /
    ``output``, numbered when there are several); ``dynamic_axes`` maps a name to the axes
    that may change size (``{"input": {0: "batch"}}`` or ``{"input": [0]}``). The model is
    traced in eval mode (Dropout dropped) and its training flags put back; parameters become
    initializers under their ``named_parameters`` names. The file is checked with
    ``onnx.checker``. Returns the ``onnx.ModelProto``.

    A reshape keeps the leading dims it shares with its input and lets the first dim absorb
    the batch otherwise, so an example batch of 2 or more traces shapes that generalise.
    Raises ``UnsupportedOperatorError`` naming the first op that has no ONNX conversion
    (``fastgrad.onnx.symbolic.SYMBOLICS`` lists those that have).
    """
    try:
        import onnx
        from onnx import helper, numpy_helper
    except ImportError:
        raise ImportError("fastgrad.onnx.export needs the onnx package: "
                          "pip install fastgrad[onnx]") from None
    if opset_version < MIN_OPSET:
        raise ValueError(f"fastgrad.onnx writes opset {MIN_OPSET} or newer, got {opset_version}")
    traced = trace(model, args)
    input_names = _names(input_names, len(traced.inputs), "input")
    output_names = _names(output_names, len(traced.outputs), "output")
    dynamic = _dynamic_axes(dynamic_axes, set(input_names) | set(output_names))
    g = GraphContext(traced, helper, numpy_helper)

    names = {id(t): name for t, name in zip(traced.inputs, input_names)}
    parameter_names = {}
    for name, p in model.named_parameters():
        parameter_names.setdefault(id(p), name)

    def value(edge):
        """The ONNX name of what flows along ``edge``; a leaf becomes an initializer once."""
        if edge is None:
            return None
        if id(edge) not in names:
            if isinstance(edge, GradFn):
                raise AssertionError("nodes are visited after their inputs")
            names[id(edge)] = g.constant(edge.detach().numpy(), parameter_names.get(id(edge)))
        return names[id(edge)]

    for node in traced.nodes:
        convert = SYMBOLICS.get(type(node).__name__)
        if convert is None:
            raise unsupported(node, "fastgrad.onnx has no conversion for it (supported: "
                                    f"{', '.join(sorted(SYMBOLICS))})")
        names[id(node)] = convert(g, node, *(value(e) for e in node.next_edges))

    graph_inputs = set(input_names) | {i.name for i in g.initializers}
    renamed = {}
    for out, name in zip(traced.outputs, output_names):
        produced = value(out.grad_fn if out.grad_fn is not None else out)
        if produced in graph_inputs or produced in renamed:
            g.nodes.append(helper.make_node("Identity", [produced], [name], name=f"/{name}"))
        else:
            renamed[produced] = name
    for node in g.nodes:  # the last nodes' outputs take the output names
        node.input[:] = [renamed.get(n, n) for n in node.input]
        node.output[:] = [renamed.get(n, n) for n in node.output]

    def described(names_, tensors):
        return [_value_info(helper, n, t, dynamic.get(n, {})) for n, t in zip(names_, tensors)]

    graph = helper.make_graph(g.nodes, type(model).__name__,
                              described(input_names, traced.inputs),
                              described(output_names, traced.outputs), g.initializers)
    from fastgrad import __version__
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset_version)],
                              producer_name="fastgrad", producer_version=__version__)
    onnx.checker.check_model(proto, full_check=True)
    onnx.save_model(proto, os.fspath(f) if isinstance(f, (str, os.PathLike)) else f)
    return proto
