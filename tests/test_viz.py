"""fastgrad.viz.make_dot: the DOT text of a small graph (rendering needs Graphviz's dot, which
the tests do not)."""
import re

import pytest

import fastgrad
from fastgrad import nn
from fastgrad.viz import make_dot


def parse_dot(source):
    """({node id: label}, [(tail id, head id, label or None)]) from graphviz's DOT text."""
    nodes, edges = {}, []
    for m in re.finditer(r'^\t(\w+) -> (\w+)(?: \[label="([^"]*)"\])?$', source, re.M):
        edges.append((m.group(1), m.group(2), m.group(3).strip() if m.group(3) else None))
    for m in re.finditer(r'^\t(\w+) \[label=(?:"([^"]*)"|(\w+))', source, re.M):
        nodes[m.group(1)] = m.group(2) if m.group(2) is not None else m.group(3)
    return nodes, edges


def by_label(nodes):
    return {label.split("\n")[0]: node for node, label in nodes.items()}


def test_small_graph_nodes_edges_and_shapes():
    fastgrad.manual_seed(0)
    layer = nn.Linear(3, 2)
    x = fastgrad.randn(4, 3)
    out = (layer(x).relu() * 2).sum()
    nodes, edges = parse_dot(make_dot(out, params=dict(layer.named_parameters())).source)
    names = by_label(nodes)
    assert set(names) == {"output", "SumGradFn", "MulGradFn", "ReluGradFn", "LinearGradFn",
                          "weight", "bias"}  # x needs no gradient: not in the backward graph
    assert nodes[names["output"]] == "output\n()"
    assert nodes[names["weight"]] == "weight\n(2, 3)"
    assert set(edges) == {
        (names["SumGradFn"], names["output"], None),
        (names["MulGradFn"], names["SumGradFn"], "(4, 2)"),
        (names["ReluGradFn"], names["MulGradFn"], "(4, 2)"),
        (names["LinearGradFn"], names["ReluGradFn"], "(4, 2)"),
        (names["weight"], names["LinearGradFn"], "(2, 3)"),
        (names["bias"], names["LinearGradFn"], "(2,)"),
    }
    # saved-array sizes: the Linear node keeps x (4, 3) float32, 48 bytes, for dW
    assert "saved (4, 3) float32 48 B" in nodes[names["LinearGradFn"]].split("\n")


def test_shared_input_is_one_node_and_unnamed_leaves_show_their_shape():
    a = fastgrad.ones(2, 5, requires_grad=True)
    b = a * a + a
    nodes, edges = parse_dot(make_dot((b, a.exp())).source)
    names = by_label(nodes)
    assert list(nodes.values()).count("(2, 5)") == 1  # the leaf a, drawn once
    leaf = [n for n, label in nodes.items() if label == "(2, 5)"][0]
    assert sum(1 for tail, _, _ in edges if tail == leaf) == 4  # mul twice, add, exp
    assert {"output 0", "output 1"} <= set(names)


def test_freed_arrays_are_labelled_after_backward():
    w = fastgrad.randn(3, requires_grad=True)
    y = (w.exp() * w).sum()
    y.backward()
    nodes, _ = parse_dot(make_dot(y, params={"w": w}).source)
    labels = {label.split("\n")[0]: label for label in nodes.values()}
    assert labels["MulGradFn"] == "MulGradFn\nsaved: freed"


def test_refuses_non_tensors():
    with pytest.raises(TypeError, match="output 0 is list"):
        make_dot([[1.0]])
