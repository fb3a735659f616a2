"""scripts/train_mnist_cnn.py --graph: the CNN's backward graph as DOT text or a picture."""
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

import train_mnist_cnn  # noqa: E402
from test_viz import parse_dot  # noqa: E402

TINY = ["--no-progress", "--epochs", "1", "--limit-train", "320", "--limit-test", "100",
        "--val-size", "100", "--batch-size", "32"]


def test_graph_flag_writes_the_cnns_graph(tmp_path):
    dot_path = tmp_path / "cnn.dot"
    train_mnist_cnn.main(TINY + ["--graph", str(dot_path)])
    nodes, edges = parse_dot(dot_path.read_text())
    firsts = sorted(label.split("\n")[0] for label in nodes.values())
    assert firsts.count("Conv2dGradFn") == 2 and firsts.count("MaxPool2dGradFn") == 2
    assert firsts.count("LinearGradFn") == 3 and "CrossEntropyGradFn" in firsts
    assert {"conv1.weight", "conv1.bias", "fc3.weight", "fc3.bias"} <= set(firsts)
    assert ("(32, 1, 28, 28)" not in {e[2] for e in edges})  # the images need no gradient
    assert "(32, 16, 26, 26)" in {e[2] for e in edges}     # conv1's output, into the pool


def test_graph_flag_draws_svg_where_graphviz_is_installed(tmp_path):
    svg_path = tmp_path / "cnn.svg"
    train_mnist_cnn.main(TINY + ["--graph", str(svg_path)])
    if shutil.which("dot"):
        assert b"<svg" in svg_path.read_bytes()[:1000]
    else:  # the DOT text instead, beside it
        assert not svg_path.exists() and "Conv2dGradFn" in (tmp_path / "cnn.dot").read_text()
