"""The BatchNorm CNN (fastgrad.models.MNISTBatchNormCNN): shapes, gradients reaching every
layer, running statistics updated in training only, state_dict and ONNX round trips, and the
training script's --model flag. (Its accuracy is the README's, from a full run of
scripts/train_mnist_cnn.py --model bn, not a test.)"""
import io
import sys
from pathlib import Path

import numpy as np
import pytest

import fastgrad
from fastgrad import nn
from fastgrad.models import MNISTBatchNormCNN

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

import train_mnist_cnn  # noqa: E402


def test_forward_and_backward_shapes_and_gradients_reach_every_layer():
    fastgrad.manual_seed(0)
    model = MNISTBatchNormCNN()
    logits = model(fastgrad.randn(5, 1, 28, 28))
    assert logits.shape == (5, 10) and logits.dtype == np.float32
    nn.CrossEntropyLoss()(logits, fastgrad.tensor([0, 1, 2, 3, 4])).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.shape == p.shape, name
        assert np.abs(p.grad.numpy()).sum() > 0, name
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert [c.out_channels for c in convs] == [n.num_features for n in norms] == [16, 32, 64, 64]
    assert all(c.bias is None and c.padding == "same" for c in convs)
    assert model.head.in_features == 64


def test_running_statistics_move_in_training_only_and_are_saved():
    fastgrad.manual_seed(1)
    model = MNISTBatchNormCNN(widths=(4, 8))
    x = fastgrad.randn(6, 1, 28, 28)
    model(x)
    first = model.features[0][1]
    assert first.num_batches_tracked.item() == 1
    assert not np.allclose(first.running_mean.numpy(), 0)
    model.eval()
    before = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    with fastgrad.no_grad():
        single = model(x[:1])  # one image: fine in eval mode
    assert single.shape == (1, 10)
    after = model.state_dict()
    assert all(np.array_equal(after[k].numpy(), v) for k, v in before.items())
    assert "features.0.1.running_var" in after and "features.2.1.num_batches_tracked" in after
    copy = MNISTBatchNormCNN(widths=(4, 8)).eval()
    copy.load_state_dict(after)
    with fastgrad.no_grad():
        np.testing.assert_array_equal(copy(x).numpy(), model(x).numpy())


def test_exports_to_onnx_in_eval_mode():
    onnxruntime = pytest.importorskip("onnxruntime")
    import fastgrad.onnx

    fastgrad.manual_seed(2)
    model = MNISTBatchNormCNN(widths=(4, 8, 8))
    model(fastgrad.randn(8, 1, 28, 28) * 3 + 1)  # running statistics away from (0, 1)
    buffer = io.BytesIO()
    fastgrad.onnx.export(model, fastgrad.zeros(2, 1, 28, 28), buffer, input_names=["images"],
                         dynamic_axes={"images": [0], "output": [0]})
    x = np.random.default_rng(3).standard_normal((3, 1, 28, 28)).astype(np.float32)
    got, = onnxruntime.InferenceSession(buffer.getvalue(), providers=["CPUExecutionProvider"]).run(
        None, {"images": x})
    model.eval()
    with fastgrad.no_grad():
        np.testing.assert_allclose(got, model(fastgrad.from_numpy(x)).numpy(), atol=1e-5, rtol=1e-5)


def test_script_model_flag(capsys):
    with pytest.raises(SystemExit):
        train_mnist_cnn.main(["--model", "bn", "--impl", "naive"])
    assert "--impl and --conv-relu choose variants of the reference model" in capsys.readouterr().err
    results = train_mnist_cnn.main(["--model", "bn", "--no-progress", "--epochs", "1",
                                    "--limit-train", "256", "--limit-test", "256",
                                    "--val-size", "256"])
    assert "training MNISTBatchNormCNN on 256 images" in capsys.readouterr().out
    assert results["test_images"] == 256
