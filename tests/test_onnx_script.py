"""scripts/train_mnist_cnn.py --export-onnx: the trained CNN as ONNX, equal to its saved weights."""
import sys
from pathlib import Path

import numpy as np
import onnxruntime

import fastgrad
from fastgrad.models import MNISTClassificationModel

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

import train_mnist_cnn  # noqa: E402

TINY = ["--no-progress", "--epochs", "1", "--limit-train", "640", "--limit-test", "200",
        "--val-size", "200"]


def test_exported_cnn_computes_what_the_saved_weights_do(tmp_path):
    weights, onnx_path = tmp_path / "cnn.safetensors", tmp_path / "cnn.onnx"
    train_mnist_cnn.main(TINY + ["--save", str(weights), "--export-onnx", str(onnx_path)])
    model = MNISTClassificationModel()
    model.load_state_dict(fastgrad.load(weights))
    x = np.random.default_rng(0).random((3, 1, 28, 28), dtype=np.float32)
    session = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    logits, = session.run(["logits"], {"images": x})
    with fastgrad.no_grad():
        expected = model(fastgrad.tensor(x)).numpy()
    np.testing.assert_allclose(logits, expected, atol=1e-5, rtol=1e-5)
