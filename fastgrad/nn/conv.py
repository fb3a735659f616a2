"""``Conv2d``: 2-D convolution layer, im2col + GEMM (default) or the naive loop reference."""
import math

import numpy as np

from fastgrad import dtypes
from fastgrad.nn import init
from fastgrad.nn.module import Module
from fastgrad.nn.parameter import Parameter
from fastgrad.ops.conv import conv2d
from fastgrad.ops.conv_geometry import pair
from fastgrad.ops.naive import conv2d_naive
from fastgrad.ops.workspace import Workspace

IMPLEMENTATIONS = ("im2col", "naive")


def check_impl(impl):
    if impl not in IMPLEMENTATIONS:
        raise ValueError(f"impl must be one of {IMPLEMENTATIONS}, got {impl!r}")
    return impl


class Conv2d(Module):
    """x (N, in_channels, H, W) -> (N, out_channels, OH, OW); see ``fastgrad.nn.functional.conv2d``.

    Initialisation is PyTorch's default: weight and bias uniform in +-1/sqrt(fan_in), with
    fan_in = in_channels * kH * kW. ``impl="naive"`` selects the loop-over-output-positions
    reference (the tests' oracle and the benchmarks' baseline).
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 bias=True, impl="im2col", dtype=None):
        super().__init__()
        if in_channels <= 0 or out_channels <= 0:
            raise ValueError(f"Conv2d needs positive channel counts, got in_channels={in_channels}, out_channels={out_channels}")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = pair(kernel_size, "kernel_size")
        self.stride = pair(stride, "stride")
        self.padding = pair(padding, "padding")
        self.dilation = pair(dilation, "dilation")
        self.impl = check_impl(impl)
        dtype = dtypes.DEFAULT_FLOAT if dtype is None else dtypes.as_dtype(dtype)
        self.weight = Parameter(np.empty((out_channels, in_channels) + self.kernel_size, dtype=dtype))
        bound = 1 / math.sqrt(in_channels * self.kernel_size[0] * self.kernel_size[1])
        init.uniform_(self.weight, -bound, bound)
        if bias:
            self.bias = Parameter(np.empty(out_channels, dtype=dtype))
            init.uniform_(self.bias, -bound, bound)
        else:
            self.register_parameter("bias", None)
        # Scratch buffers reused across steps (the im2col columns are the big one).
        self.workspace = Workspace()

    def forward(self, x):
        if self.impl == "naive":
            return conv2d_naive(x, self.weight, self.bias, self.stride, self.padding, self.dilation)
        return conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation,
                      workspace=self.workspace)

    def extra_repr(self):
        text = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}")
        if self.padding != (0, 0):
            text += f", padding={self.padding}"
        if self.dilation != (1, 1):
            text += f", dilation={self.dilation}"
        if self.bias is None:
            text += ", bias=False"
        if self.impl != "im2col":
            text += f", impl={self.impl!r}"
        return text
