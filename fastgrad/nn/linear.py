"""``Linear``: y = x W^T + b."""
import numpy as np

from fastgrad import dtypes
from fastgrad.nn import init
from fastgrad.nn.module import Module
from fastgrad.nn.parameter import Parameter
from fastgrad.ops.linear import linear


class Linear(Module):
    """x (*, in_features) -> (*, out_features).

    Weight (out_features, in_features) is He-initialised (normal, std sqrt(2 / in_features)),
    as the original fastgrad design did, which suits the ReLU networks it trains; the bias
    starts at zero. (PyTorch instead draws both from U(-1/sqrt(in), 1/sqrt(in)).)
    """

    def __init__(self, in_features, out_features, bias=True, dtype=None):
        super().__init__()
        if in_features <= 0 or out_features <= 0:
            raise ValueError(f"Linear needs positive sizes, got in_features={in_features}, out_features={out_features}")
        dtype = dtypes.DEFAULT_FLOAT if dtype is None else dtypes.as_dtype(dtype)
        self.in_features = in_features
        self.out_features = out_features
        self.weight = Parameter(np.empty((out_features, in_features), dtype=dtype))
        init.kaiming_normal_(self.weight, nonlinearity="relu")
        if bias:
            self.bias = Parameter(np.zeros(out_features, dtype=dtype))
        else:
            self.register_parameter("bias", None)

    def forward(self, x):
        return linear(x, self.weight, self.bias)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class Identity(Module):
    """Returns its input unchanged."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, x):
        return x
