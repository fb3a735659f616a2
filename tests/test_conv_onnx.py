"""ONNX export of the conv variants and F.pad (Conv with group, ConvTranspose, Pad), each run
by onnxruntime against fastgrad's own outputs for another batch size than the traced one."""
import io

import numpy as np
import pytest

pytest.importorskip("onnxruntime")
import onnxruntime  # noqa: E402

import fastgrad  # noqa: E402
import fastgrad.onnx  # noqa: E402
from fastgrad import nn  # noqa: E402


class ConvVariants(nn.Module):
    def __init__(self):
        super().__init__()
        self.grouped = nn.Conv2d(4, 6, 3, stride=2, padding=1, groups=2)
        self.depthwise = nn.Conv2d(4, 8, 3, padding=2, dilation=2, groups=4, bias=False)
        self.same_even = nn.Conv2d(4, 3, (2, 4), padding="same")
        self.reflect = nn.Conv2d(4, 2, 3, padding=1, padding_mode="reflect")
        self.replicate = nn.Conv2d(4, 2, 3, padding=(2, 1), padding_mode="replicate", groups=2)
        self.up = nn.ConvTranspose2d(4, 4, 3, stride=2, padding=1, output_padding=1, groups=2)
        self.up_plain = nn.ConvTranspose2d(4, 3, (2, 3), stride=(1, 2), bias=False)
        self.line = nn.Conv1d(4, 4, 3, stride=2, padding=1, groups=4)

    def forward(self, x):                                       # (N, 4, 7, 6)
        F = nn.functional
        outs = [self.grouped(x), self.depthwise(x), self.same_even(x), self.reflect(x),
                self.replicate(x), self.up(x), self.up_plain(x), self.line(x.flatten(2)),
                F.pad(x, (1, -2, 2, 0), value=1.5), F.pad(x, (2, 1, 1, 3), mode="reflect")]
        return tuple(o.flatten(1) for o in outs)


def _run(model, x, n):
    buffer = io.BytesIO()
    fastgrad.onnx.export(model, fastgrad.from_numpy(x[:n]), buffer, input_names=["x"],
                         dynamic_axes={"x": [0]})
    session = onnxruntime.InferenceSession(buffer.getvalue(), providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x}), buffer.getvalue()


def test_conv_variants_and_pad_match_onnxruntime():
    fastgrad.manual_seed(3)
    model = ConvVariants().eval()
    x = np.random.default_rng(0).standard_normal((3, 4, 7, 6)).astype(np.float32)
    got, data = _run(model, x, 2)
    with fastgrad.no_grad():
        want = model(fastgrad.from_numpy(x))
    assert len(got) == len(want)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w.numpy(), atol=1e-5, rtol=1e-5)
    import onnx

    ops = [node.op_type for node in onnx.load_from_string(data).graph.node]
    assert ops.count("ConvTranspose") == 2 and ops.count("Pad") >= 5
    groups = [a.i for node in onnx.load_from_string(data).graph.node if node.op_type == "Conv"
              for a in node.attribute if a.name == "group"]
    assert sorted(groups) == [1, 1, 2, 2, 4, 4]


class Unbatched(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(4, 6, 3, padding=1, groups=2)
        self.line = nn.Conv1d(20, 2, 2, padding="same")

    def forward(self, x):                                       # (4, 5, 6)
        return self.conv(x), self.line(x.reshape(20, 6))


def test_unbatched_convs_export_as_a_batch_of_one():
    fastgrad.manual_seed(4)
    model = Unbatched().eval()
    x = np.random.default_rng(1).standard_normal((4, 5, 6)).astype(np.float32)
    buffer = io.BytesIO()
    fastgrad.onnx.export(model, fastgrad.from_numpy(x), buffer, input_names=["x"])
    session = onnxruntime.InferenceSession(buffer.getvalue(), providers=["CPUExecutionProvider"])
    with fastgrad.no_grad():
        want = model(fastgrad.from_numpy(x))
    for got, w in zip(session.run(None, {"x": x}), want):
        np.testing.assert_allclose(got, w.numpy(), atol=1e-5, rtol=1e-5)


class Circular(nn.Module):
    def forward(self, x):
        return nn.functional.pad(x, (1, 1), mode="circular")


def test_circular_pad_is_refused_by_name():
    with pytest.raises(fastgrad.onnx.UnsupportedOperatorError, match="circular.*opset 19"):
        fastgrad.onnx.export(Circular(), fastgrad.randn(2, 3, 4), io.BytesIO())
