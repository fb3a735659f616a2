"""The reference models: shapes, gradients reaching every layer, impl equivalence, JIT-free mode."""
import json
import os
import subprocess
import sys

import numpy as np

import fastgrad
from fastgrad import nn
from fastgrad.models import MLP, MNISTClassificationModel


def test_cnn_shapes_and_gradients_reach_conv1():
    fastgrad.manual_seed(0)
    model = MNISTClassificationModel()
    x = fastgrad.randn(4, 1, 28, 28)
    logits = model(x)
    assert logits.shape == (4, 10) and logits.dtype == np.float32
    nn.CrossEntropyLoss()(logits, fastgrad.tensor([0, 1, 2, 3])).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.shape == p.shape, name
        assert np.abs(p.grad.arr).sum() > 0, name
    assert model.conv1.weight.grad.dtype == np.float32
    assert [n for n, _ in model.named_parameters()][:2] == ["conv1.weight", "conv1.bias"]


def test_cnn_naive_and_im2col_give_the_same_logits_and_gradients():
    fastgrad.manual_seed(1)
    fast = MNISTClassificationModel(conv_relu=True).double()
    naive = MNISTClassificationModel(conv_relu=True, impl="naive").double()
    naive.load_state_dict(fast.state_dict())
    x = fastgrad.randn(3, 1, 28, 28, dtype=fastgrad.float64)
    target = fastgrad.tensor([3, 1, 4])
    for model in (fast, naive):
        nn.CrossEntropyLoss()(model(x), target).backward()
    np.testing.assert_allclose(fast(x).arr, naive(x).arr, rtol=1e-10)
    for (name, p), (_, q) in zip(fast.named_parameters(), naive.named_parameters()):
        np.testing.assert_allclose(p.grad.arr, q.grad.arr, rtol=1e-8, atol=1e-12, err_msg=name)


def test_mlp_layout():
    model = MLP([784, 128, 64, 10])
    assert [p.shape for p in model.parameters()] == [(128, 784), (128,), (64, 128), (64,), (10, 64), (10,)]
    assert model(fastgrad.randn(2, 1, 28, 28)).shape == (2, 10)


def test_package_runs_without_the_jit():
    """With NUMBA_DISABLE_JIT=1 the kernels run as Python and must give the same numbers."""
    code = (
        "import json, numpy as np, fastgrad\n"
        "from fastgrad.nn import functional as F\n"
        "rng = np.random.default_rng(5)\n"
        "x = fastgrad.tensor(rng.standard_normal((2, 2, 6, 5)), dtype=fastgrad.float64, requires_grad=True)\n"
        "w = fastgrad.tensor(rng.standard_normal((3, 2, 3, 2)), dtype=fastgrad.float64, requires_grad=True)\n"
        "y = F.max_pool2d(F.conv2d(x, w, padding=1, stride=(1, 2)), 2, 1)\n"
        "(y * y).sum().backward()\n"
        "print(json.dumps([y.arr.tolist(), x.grad.arr.tolist(), w.grad.arr.tolist()]))\n"
    )
    results = []
    for disable in ("1", "0"):
        env = dict(os.environ, NUMBA_DISABLE_JIT=disable)
        done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                              timeout=300, check=True)
        results.append(json.loads(done.stdout))
    for no_jit, jit in zip(*results):
        np.testing.assert_allclose(np.array(no_jit), np.array(jit), rtol=1e-12, atol=1e-12)
