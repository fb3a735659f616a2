"""Activation modules: ReLU, Sigmoid, Tanh, Softmax, LogSoftmax."""
from fastgrad.nn.module import Module
from fastgrad.ops.elementwise import relu, sigmoid, tanh
from fastgrad.ops.softmax import log_softmax, softmax


class ReLU(Module):
    """``inplace=True`` overwrites the input (``x.relu_()``), as PyTorch's."""

    def __init__(self, inplace=False):
        super().__init__()
        self.inplace = inplace

    def forward(self, x):
        return x.relu_() if self.inplace else relu(x)

    def extra_repr(self):
        return "inplace=True" if self.inplace else ""


class Sigmoid(Module):
    def forward(self, x):
        return sigmoid(x)


class Tanh(Module):
    def forward(self, x):
        return tanh(x)


class Softmax(Module):
    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        return softmax(x, _implicit_dim(x, self.dim))

    def extra_repr(self):
        return f"dim={self.dim}"


class LogSoftmax(Module):
    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        return log_softmax(x, _implicit_dim(x, self.dim))

    def extra_repr(self):
        return f"dim={self.dim}"


def _implicit_dim(x, dim):
    """PyTorch's legacy choice when no dim is given: 0 for 0-, 1- and 3-D inputs, else 1."""
    if dim is not None:
        return dim
    return 0 if x.ndim in (0, 1, 3) else 1
