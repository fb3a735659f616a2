"""fastgrad.onnx.export: files checked by onnx.checker and run by onnxruntime, which must give
fastgrad's outputs (1e-5) for another batch size than the traced one."""
import io

import numpy as np
import onnx
import onnxruntime
import pytest

import fastgrad
import fastgrad.onnx
from fastgrad import nn
from fastgrad.models import MLP, MNISTClassificationModel
from fastgrad.onnx.symbolic import reshape_target


def run_onnx(source, feeds):
    data = source if isinstance(source, bytes) else open(source, "rb").read()
    session = onnxruntime.InferenceSession(data, providers=["CPUExecutionProvider"])
    return session.run(None, feeds)


def fastgrad_outputs(model, x):
    model.eval()
    with fastgrad.no_grad():
        out = model(fastgrad.from_numpy(x))
    return [o.numpy() for o in (out if isinstance(out, tuple) else (out,))]


def batch(n, shape, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal((n,) + shape).astype(dtype)


DYNAMIC = {"images": {0: "batch"}, "logits": {0: "batch"}}


@pytest.mark.parametrize("make_model", [MNISTClassificationModel,
                                        lambda: MNISTClassificationModel(conv_relu=True),
                                        lambda: MNISTClassificationModel(impl="naive"), MLP])
def test_reference_models_match_onnxruntime_with_a_dynamic_batch(tmp_path, make_model):
    fastgrad.manual_seed(0)
    model = make_model()
    path = tmp_path / "m.onnx"
    fastgrad.onnx.export(model, fastgrad.randn(2, 1, 28, 28), path, input_names=["images"],
                         output_names=["logits"], dynamic_axes=DYNAMIC)
    onnx.checker.check_model(onnx.load(path), full_check=True)
    for n in (1, 5):
        x = batch(n, (1, 28, 28), seed=n)
        got, = run_onnx(path, {"images": x})
        np.testing.assert_allclose(got, fastgrad_outputs(model, x)[0], atol=1e-5, rtol=1e-5)


def test_cnn_graph_is_the_layers_with_named_weights(tmp_path):
    model = MNISTClassificationModel()
    proto = fastgrad.onnx.export(model, fastgrad.randn(2, 1, 28, 28), tmp_path / "m.onnx")
    assert [n.op_type for n in proto.graph.node] == [
        "Conv", "MaxPool", "Conv", "MaxPool", "Reshape", "Gemm", "Relu", "Gemm", "Relu", "Gemm"]
    weights = {i.name: onnx.numpy_helper.to_array(i) for i in proto.graph.initializer}
    for name, p in model.named_parameters():
        np.testing.assert_array_equal(weights[name], p.detach().numpy())
    assert [i.name for i in proto.graph.input] == ["input"]
    assert [o.name for o in proto.graph.output] == ["output"]
    assert proto.opset_import[0].version >= 17
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_value for d in dims] == [2, 1, 28, 28]  # static without dynamic_axes


class EveryOp(nn.Module):
    """Each supported op once: strided / padded / dilated convs, both pools, cat, dropout,
    view, Linear on a 3-D input, a constant factor, alpha, matmul, two outputs."""

    def __init__(self):
        super().__init__()
        self.conv_a = nn.Conv2d(3, 4, 3, stride=2, padding=1)
        self.conv_b = nn.Conv2d(3, 4, 3, padding=2, dilation=2, bias=False)
        self.max = nn.MaxPool2d(3, stride=2, padding=1)
        self.avg = nn.AvgPool2d(2)
        self.drop = nn.Dropout(0.5)
        self.fc = nn.Linear(9, 6)
        self.mix = nn.Parameter(fastgrad.randn(6, 6))

    def forward(self, x):                                   # (N, 3, 12, 12)
        a = self.conv_a(x).sigmoid()                        # (N, 4, 6, 6)
        b = self.avg(self.conv_b(x)).tanh()                 # (N, 4, 6, 6)
        h = self.max(fastgrad.cat([a, b], dim=1))           # (N, 8, 3, 3)
        h = self.fc(self.drop(h).view(h.shape[0], 8, 9))    # (N, 8, 6)
        h = (h * 0.5 - h.sigmoid()) @ self.mix              # (N, 8, 6)
        h = fastgrad.add(h, h * h, alpha=-0.25).permute(0, 2, 1).relu().flatten(1)
        return h.softmax(-1), h.log_softmax(1)


def test_every_supported_op_matches_onnxruntime():
    dtype = np.float32
    fastgrad.manual_seed(1)
    model = EveryOp()
    buffer = io.BytesIO()
    model.train()
    proto = fastgrad.onnx.export(model, batch(2, (3, 12, 12), dtype=dtype), buffer,
                                 input_names=["x"], output_names=["probs", "log_probs"],
                                 dynamic_axes={"x": [0], "probs": [0], "log_probs": [0]})
    op_types = {n.op_type for n in proto.graph.node}
    assert {"Conv", "MaxPool", "AveragePool", "Concat", "Reshape", "MatMul", "Transpose",
            "Softmax", "LogSoftmax", "Sigmoid", "Tanh", "Relu", "Mul", "Sub", "Add"} <= op_types
    assert "Dropout" not in op_types  # traced in eval mode
    assert model.training and model.drop.training  # and the training flags put back
    x = batch(3, (3, 12, 12), seed=3, dtype=dtype)
    got = run_onnx(buffer.getvalue(), {"x": x})
    want = fastgrad_outputs(model, x)
    assert [g.dtype for g in got] == [np.dtype(dtype)] * 2
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, atol=1e-5, rtol=1e-5)


class Unary(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(5, 4, bias=False)

    def forward(self, x):
        h = self.fc(x).unsqueeze(1).exp().log().neg().abs().sqrt().clone().squeeze(1)
        return h


def test_unary_ops_and_squeeze_match_onnxruntime(tmp_path):
    fastgrad.manual_seed(3)
    model = Unary()
    proto = fastgrad.onnx.export(model, batch(2, (5,)), tmp_path / "m.onnx",
                                 dynamic_axes={"input": [0], "output": [0]})
    assert [n.op_type for n in proto.graph.node] == [
        "Gemm", "Reshape", "Exp", "Log", "Neg", "Abs", "Sqrt", "Identity", "Reshape"]
    x = batch(6, (5,), seed=4)
    got, = run_onnx(tmp_path / "m.onnx", {"input": x})
    np.testing.assert_allclose(got, fastgrad_outputs(model, x)[0], atol=1e-5, rtol=1e-5)


def test_float64_model_exports_as_float64(tmp_path):
    # onnxruntime's CPU kernels have no float64 Conv: an MLP, with a softmax
    fastgrad.manual_seed(2)
    model = nn.Sequential(MLP([6, 5, 3]), nn.Softmax(dim=1)).double()
    x = batch(4, (6,), dtype=np.float64)
    proto = fastgrad.onnx.export(model, x[:2], tmp_path / "m.onnx", dynamic_axes={"input": [0]})
    assert proto.graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.DOUBLE
    got, = run_onnx(tmp_path / "m.onnx", {"input": x})
    np.testing.assert_allclose(got, fastgrad_outputs(model, x)[0], atol=1e-12, rtol=1e-12)


def test_tracing_leaves_model_and_input_as_they_were(tmp_path):
    model = MNISTClassificationModel()
    model.fc3.weight.requires_grad_(False)
    x = fastgrad.randn(2, 1, 28, 28)
    proto = fastgrad.onnx.export(model, x, tmp_path / "m.onnx")
    assert not x.requires_grad and x.grad_fn is None
    assert not model.fc3.weight.requires_grad and model.conv1.weight.requires_grad
    assert "fc3.weight" in {i.name for i in proto.graph.initializer}  # frozen: still a weight
    assert all(p.grad is None for p in model.parameters())


class DividesByTwo(nn.Module):
    def forward(self, x):
        return x / 2


class AddsAConstant(nn.Module):
    def forward(self, x):
        return x + fastgrad.ones(3)


class AlwaysDropout(nn.Module):
    def forward(self, x):
        return nn.functional.dropout(x, 0.5, training=True)


@pytest.mark.parametrize("model, message", [
    (DividesByTwo(), r"cannot export Div \(DivGradFn\): fastgrad.onnx has no conversion"),
    (AddsAConstant(), r"cannot export Add .*constant"),
    (AlwaysDropout(), r"cannot export Dropout .*training"),
])
def test_unknown_op_is_named(tmp_path, model, message):
    path = tmp_path / "m.onnx"
    with pytest.raises(fastgrad.onnx.UnsupportedOperatorError, match=message):
        fastgrad.onnx.export(model, fastgrad.randn(2, 3), path)
    assert not path.exists()


def test_bad_arguments(tmp_path):
    model = MLP([4, 2])
    x = fastgrad.randn(2, 4)
    with pytest.raises(ValueError, match="'batch'.*not among"):
        fastgrad.onnx.export(model, x, tmp_path / "m.onnx", dynamic_axes={"batch": [0]})
    with pytest.raises(ValueError, match="2 names given for 1 input"):
        fastgrad.onnx.export(model, x, tmp_path / "m.onnx", input_names=["a", "b"])
    with pytest.raises(ValueError, match="opset 17 or newer"):
        fastgrad.onnx.export(model, x, tmp_path / "m.onnx", opset_version=13)
    with pytest.raises(TypeError, match="float inputs"):
        fastgrad.onnx.export(model, fastgrad.ones(2, 4, dtype=fastgrad.int64), tmp_path / "m.onnx")


@pytest.mark.parametrize("source, target, expected, with_batch_7", [
    ((2, 32, 5, 5), (2, 800), [0, 800], (7, 800)),       # flatten(1): the batch is kept
    ((2, 800), (1600,), [-1], (5600,)),                  # flatten(): the batch is absorbed
    ((2, 8, 3, 3), (2, 8, 9), [0, 0, 9], (7, 8, 9)),
    ((2, 6), (2, 1, 6), [0, 1, 6], (7, 1, 6)),           # unsqueeze(1)
    ((4, 6), (8, 3), [-1, 3], (14, 3)),
])
def test_reshape_target_generalises_over_the_batch(source, target, expected, with_batch_7):
    assert reshape_target(source, target) == expected
    other = (7,) + tuple(source[1:])
    onnx_shape = [other[i] if s == 0 else s for i, s in enumerate(expected)]  # ONNX's 0: kept
    assert np.empty(other).reshape(onnx_shape).shape == with_batch_7


class Pools(nn.Module):
    """The pool options ONNX can express, each against onnxruntime."""

    def forward(self, x):
        F = nn.functional
        a = F.max_pool2d(x, 3, 2, 1, dilation=2, ceil_mode=True)
        b = F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False)
        c = F.adaptive_avg_pool2d(x, 1) + F.adaptive_max_pool2d(x, (1, 1))
        d = F.max_pool1d(x.flatten(2), 4, 3, 1)
        e = F.avg_pool1d(x.flatten(2), 3, 2, 1)
        return a.flatten(1), b.flatten(1), c.flatten(1), d.flatten(1), e.flatten(1)


def test_pool_options_match_onnxruntime():
    buffer = io.BytesIO()
    fastgrad.onnx.export(Pools(), batch(2, (3, 11, 10)), buffer, input_names=["x"],
                         dynamic_axes={"x": [0]})
    x = batch(3, (3, 11, 10), seed=5)
    for got, want in zip(run_onnx(buffer.getvalue(), {"x": x}), fastgrad_outputs(Pools(), x)):
        np.testing.assert_allclose(got, want, atol=1e-5, rtol=1e-5)


class AdaptiveToTwo(nn.Module):
    def forward(self, x):
        return nn.functional.adaptive_avg_pool2d(x, 2)


class DividesByThree(nn.Module):
    def forward(self, x):
        return nn.functional.avg_pool2d(x, 2, divisor_override=3)


@pytest.mark.parametrize("model, message", [
    (AdaptiveToTwo(), r"AdaptiveAvgPool2d.*adaptive pool to \(2, 2\)"),
    (DividesByThree(), r"AvgPool2d.*divisor_override"),
])
def test_pools_onnx_cannot_express_are_refused(tmp_path, model, message):
    with pytest.raises(fastgrad.onnx.UnsupportedOperatorError, match=message):
        fastgrad.onnx.export(model, fastgrad.randn(2, 3, 6, 6), tmp_path / "m.onnx")
