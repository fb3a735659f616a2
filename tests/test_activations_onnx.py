"""The activations and pointwise ops fastgrad.onnx writes, run by onnxruntime: the same
outputs as fastgrad (1e-5, float32) for another batch size than the traced one. Opset 17 has
no Gelu or Mish: they are written as Erf / Tanh / Softplus nodes."""
import io

import numpy as np
import onnx
import pytest

import fastgrad
import fastgrad.onnx
from fastgrad import nn
from fastgrad.nn import functional as F
from test_onnx_export import fastgrad_outputs, run_onnx


class Pointwise(nn.Module):
    """Each op once, on the output of a Linear (so every node reads a traced tensor)."""

    def __init__(self, op):
        super().__init__()
        self.fc = nn.Linear(6, 8)
        self.op = op

    def forward(self, x):
        return self.op(self.fc(x) * 3)  # spread over the activations' interesting range


OPS = {
    "gelu": (nn.GELU(), {"Erf"}), "gelu_tanh": (nn.GELU("tanh"), {"Tanh"}),
    "silu": (nn.SiLU(), {"Sigmoid"}), "elu": (nn.ELU(0.7), {"Elu"}), "selu": (nn.SELU(), {"Selu"}),
    "celu": (nn.CELU(1.5), {"Celu"}), "leaky_relu": (nn.LeakyReLU(0.2), {"LeakyRelu"}),
    "relu6": (nn.ReLU6(), {"Clip"}), "hardtanh": (nn.Hardtanh(-2.0, 1.5), {"Clip"}),
    "hardsigmoid": (nn.Hardsigmoid(), {"HardSigmoid"}), "hardswish": (nn.Hardswish(), {"HardSwish"}),
    "softplus": (nn.Softplus(), {"Softplus"}), "softplus_beta": (nn.Softplus(2.0, 3.0), {"Where"}),
    "mish": (nn.Mish(), {"Softplus", "Tanh"}), "logsigmoid": (nn.LogSigmoid(), {"Softplus"}),
    "softsign": (nn.Softsign(), {"Softsign"}), "tanhshrink": (nn.Tanhshrink(), {"Tanh"}),
    "sin": (fastgrad.sin, {"Sin"}), "atan": (fastgrad.atan, {"Atan"}), "erf": (fastgrad.erf, {"Erf"}),
    "floor": (fastgrad.floor, {"Floor"}), "round": (fastgrad.round, {"Round"}),
    "sign": (fastgrad.sign, {"Sign"}), "square": (fastgrad.square, {"Mul"}),
    "rsqrt": (lambda h: fastgrad.rsqrt(h * h), {"Reciprocal", "Sqrt"}),
}


@pytest.mark.parametrize("name", sorted(OPS))
def test_matches_onnxruntime(name):
    op, expected_nodes = OPS[name]
    fastgrad.manual_seed(0)
    model = Pointwise(op)
    buffer = io.BytesIO()
    proto = fastgrad.onnx.export(model, fastgrad.randn(2, 6), buffer,
                                 dynamic_axes={"input": [0], "output": [0]})
    onnx.checker.check_model(proto, full_check=True)
    assert expected_nodes <= {n.op_type for n in proto.graph.node}
    x = np.random.default_rng(1).standard_normal((5, 6)).astype(np.float32)
    got, = run_onnx(buffer.getvalue(), {"input": x})
    np.testing.assert_allclose(got, fastgrad_outputs(model, x)[0], atol=1e-5, rtol=1e-5)


def test_round_with_decimals_is_refused_by_name():
    with pytest.raises(fastgrad.onnx.UnsupportedOperatorError, match="Round.*decimals"):
        fastgrad.onnx.export(Pointwise(lambda h: fastgrad.round(h, decimals=1)),
                             fastgrad.randn(2, 6), io.BytesIO())
