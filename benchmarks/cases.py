"""The benchmark cases, shared by the pytest-benchmark suite and scripts/benchmark_report.py.

Each ``*_case`` returns a zero-argument callable that runs the measured work once, built on a
real MNIST batch (batch 64, float32, normalised) so that max-pool sees MNIST's many ties.
Implementations: "naive" (loop over output positions), "im2col" (fastgrad's numba kernels),
"torch" (PyTorch CPU, when importable).
"""
import functools

import numpy as np

import fastgrad
from fastgrad import nn, optim
from fastgrad.data import load_mnist, mnist_transform
from fastgrad.models import MLP, MNISTClassificationModel

BATCH = 64
IMPLS = ("naive", "im2col", "torch")
# name: (input shape, layer builder kwargs)
LAYERS = {
    "conv1": ((BATCH, 1, 28, 28), dict(kind="conv", in_channels=1, out_channels=16)),
    "pool1": ((BATCH, 16, 26, 26), dict(kind="pool")),
    "conv2": ((BATCH, 16, 13, 13), dict(kind="conv", in_channels=16, out_channels=32)),
    "pool2": ((BATCH, 32, 11, 11), dict(kind="pool")),
}


def torch_available():
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


@functools.lru_cache(maxsize=None)
def mnist_batch(batch=BATCH):
    """(images (batch, 1, 28, 28) float32, labels (batch,) int64): the first training images."""
    images, labels = load_mnist(train=True)
    return mnist_transform(images[:batch], add_channel=True), labels[:batch].astype(np.int64)


@functools.lru_cache(maxsize=1)
def layer_inputs():
    """The reference CNN's activations at each layer's input, for a real MNIST batch."""
    fastgrad.manual_seed(0)
    model = MNISTClassificationModel()
    x = fastgrad.Tensor(mnist_batch()[0])
    with fastgrad.no_grad():
        a1 = model.conv1(x)
        a2 = model.pool1(a1)
        a3 = model.conv2(a2)
    return {"conv1": x.arr, "pool1": a1.arr, "conv2": a2.arr, "pool2": a3.arr}


def _fastgrad_layer(spec, impl):
    if spec["kind"] == "conv":
        return nn.Conv2d(spec["in_channels"], spec["out_channels"], 3, impl=impl)
    return nn.MaxPool2d(2, impl=impl)


def _torch_layer(spec):
    import torch

    if spec["kind"] == "conv":
        return torch.nn.Conv2d(spec["in_channels"], spec["out_channels"], 3)
    return torch.nn.MaxPool2d(2)


def layer_case(name, impl, backward):
    """One forward (and backward, with a fixed cotangent) of layer ``name`` at batch 64.

    The input requires grad except for conv1, as in training (conv1 reads the images).
    """
    shape, spec = LAYERS[name]
    x_arr = layer_inputs()[name]
    assert x_arr.shape == shape
    needs_input_grad = name != "conv1"
    if impl == "torch":
        import torch

        layer = _torch_layer(spec)
        x = torch.from_numpy(x_arr.copy()).requires_grad_(needs_input_grad)
        cotangent = torch.from_numpy(np.ones(layer(x).shape, dtype=np.float32))

        def run():
            if not backward:
                with torch.no_grad():
                    return layer(x)
            layer.zero_grad()
            if x.grad is not None:
                x.grad = None
            layer(x).backward(cotangent)

        return run
    fastgrad.manual_seed(0)
    layer = _fastgrad_layer(spec, impl)
    x = fastgrad.tensor(x_arr, requires_grad=needs_input_grad)
    with fastgrad.no_grad():
        cotangent = fastgrad.ones(*layer(x).shape)

    def run():
        if not backward:
            with fastgrad.no_grad():
                return layer(x)
        layer.zero_grad()
        x.grad = None
        layer(x).backward(cotangent)

    return run


def _torch_cnn():
    import torch
    from torch import nn as tnn

    return tnn.Sequential(
        tnn.Conv2d(1, 16, 3), tnn.MaxPool2d(2), tnn.Conv2d(16, 32, 3), tnn.MaxPool2d(2),
        tnn.Flatten(), tnn.Linear(800, 120), tnn.ReLU(), tnn.Linear(120, 84), tnn.ReLU(),
        tnn.Linear(84, 10)), torch


def _torch_mlp():
    import torch
    from torch import nn as tnn

    return tnn.Sequential(tnn.Flatten(), tnn.Linear(784, 256), tnn.ReLU(), tnn.Linear(256, 10)), torch


def train_step_case(model_name, impl, with_batch=False, batch=BATCH):
    """One SGD step (lr 0.01, momentum 0.9) of the reference CNN or the 784-256-10 MLP.

    Returns ``step()`` on a fixed real MNIST batch of ``batch`` images, or with ``with_batch``
    a ``step(x, y)`` taking the implementation's own tensors.
    """
    images, labels = mnist_batch(batch)
    if impl == "torch":
        model, torch = _torch_cnn() if model_name == "cnn" else _torch_mlp()
        opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        loss_fn = torch.nn.CrossEntropyLoss()
        x, y = torch.from_numpy(images.copy()), torch.from_numpy(labels.copy())
    else:
        fastgrad.manual_seed(0)
        model = MNISTClassificationModel(impl=impl) if model_name == "cnn" else MLP([784, 256, 10])
        opt = optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
        loss_fn = nn.CrossEntropyLoss()
        x, y = fastgrad.Tensor(images), fastgrad.Tensor(labels)

    # The same four lines for both libraries: their APIs agree.
    def step_on(x, y):
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return step_on if with_batch else (lambda: step_on(x, y))


def thread_info():
    """The thread counts in force (recorded with every benchmark)."""
    from threadpoolctl import threadpool_info

    blas = [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]
    info = {"fastgrad_threads": fastgrad.get_num_threads(), "blas_threads": blas[0] if blas else None}
    if torch_available():
        import torch

        info["torch_threads"] = torch.get_num_threads()
    return info
