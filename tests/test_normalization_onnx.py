"""BatchNorm exported to ONNX: eval mode is a BatchNormalization node whose running statistics
are initializers, and onnxruntime gives fastgrad's outputs for another batch size than the
traced one; normalising with batch statistics is refused by name."""
import io

import numpy as np
import onnx
import onnxruntime
import pytest

import fastgrad
import fastgrad.onnx
from fastgrad import nn


class BatchNorms(nn.Module):
    """Every BatchNorm input layout: (N, C, H, W) after a conv, (N, C, L), (N, C), affine and
    not, without a bias."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 4, 3, padding=1)
        self.bn2d = nn.BatchNorm2d(4)
        self.bn_sequence = nn.BatchNorm1d(4, affine=False, momentum=None)
        self.fc = nn.Linear(36, 5)
        self.bn_features = nn.BatchNorm1d(5, eps=1e-3, bias=False)

    def forward(self, x):
        h = self.bn2d(self.conv(x)).relu()                    # (N, 4, 3, 3)
        h = self.bn_sequence(h.flatten(2))                    # (N, 4, 9)
        return self.bn_features(self.fc(h.flatten(1)))        # (N, 5)


def _trained_model():
    fastgrad.manual_seed(0)
    model = BatchNorms()
    with fastgrad.no_grad():  # running statistics away from their (0, 1) start
        for step in range(3):
            model(fastgrad.randn(8, 2, 3, 3) * (step + 2) + step)
        for p in model.parameters():
            p.mul_(1.5).add_(0.1)
    return model


def test_eval_mode_batch_norm_matches_onnxruntime():
    model = _trained_model()
    buffer = io.BytesIO()
    proto = fastgrad.onnx.export(model, fastgrad.randn(2, 2, 3, 3), buffer, input_names=["x"],
                                 output_names=["y"], dynamic_axes={"x": [0], "y": [0]})
    onnx.checker.check_model(proto, full_check=True)
    assert [n.op_type for n in proto.graph.node].count("BatchNormalization") == 3
    assert model.training  # export puts the training flag back
    x = np.random.default_rng(1).standard_normal((5, 2, 3, 3)).astype(np.float32)
    session = onnxruntime.InferenceSession(buffer.getvalue(), providers=["CPUExecutionProvider"])
    got, = session.run(None, {"x": x})
    model.eval()
    with fastgrad.no_grad():
        want = model(fastgrad.from_numpy(x)).numpy()
    np.testing.assert_allclose(got, want, atol=1e-5, rtol=1e-5)


class BatchStatistics(nn.Module):
    def __init__(self):
        super().__init__()
        self.bn = nn.BatchNorm1d(3, track_running_stats=False)

    def forward(self, x):
        return self.bn(x)


class TrainingBatchNorm(nn.Module):
    def forward(self, x):
        return nn.functional.batch_norm(x, None, None, training=True)


class Layer(nn.Module):
    def __init__(self):
        super().__init__()
        self.norm = nn.LayerNorm(3)

    def forward(self, x):
        return self.norm(x)


@pytest.mark.parametrize("model, message", [
    (BatchStatistics(), r"cannot export BatchNorm .*batch's statistics"),
    (TrainingBatchNorm(), r"cannot export BatchNorm .*training mode"),
    (Layer(), r"cannot export LayerNorm \(LayerNormGradFn\): fastgrad.onnx has no conversion"),
])
def test_batch_statistics_and_other_norms_are_refused(tmp_path, model, message):
    with pytest.raises(fastgrad.onnx.UnsupportedOperatorError, match=message):
        fastgrad.onnx.export(model, fastgrad.randn(4, 3), tmp_path / "m.onnx")
