"""The convolution layers ``Conv1d``, ``Conv2d`` (im2col + GEMM, or the naive loop reference) and
``ConvTranspose2d``, with PyTorch's arguments, checks, init and reprs."""
import math

import numpy as np

from fastgrad import dtypes
from fastgrad.nn import init
from fastgrad.nn.module import Module
from fastgrad.nn.parameter import Parameter
from fastgrad.ops.conv import conv1d, conv2d, conv_transpose2d
from fastgrad.ops.conv_geometry import pair, single
from fastgrad.ops.naive import conv2d_naive
from fastgrad.ops.padding import pad
from fastgrad.ops.workspace import Workspace

IMPLEMENTATIONS = ("im2col", "naive")


def check_impl(impl):
    if impl not in IMPLEMENTATIONS:
        raise ValueError(f"impl must be one of {IMPLEMENTATIONS}, got {impl!r}")
    return impl


PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _check_conv_arguments(in_channels, out_channels, groups, padding, stride, padding_mode):
    """PyTorch's ValueErrors of ``nn.Conv*d``'s constructor."""
    if in_channels <= 0 or out_channels <= 0:
        raise ValueError(f"Conv needs positive channel counts, got in_channels={in_channels}, "
                         f"out_channels={out_channels}")
    if not isinstance(groups, int) or isinstance(groups, bool) or groups <= 0:
        raise ValueError("groups must be a positive integer")
    if in_channels % groups:
        raise ValueError("in_channels must be divisible by groups")
    if out_channels % groups:
        raise ValueError("out_channels must be divisible by groups")
    if isinstance(padding, str):
        if padding not in ("same", "valid"):
            raise ValueError(f"Invalid padding string {padding!r}, should be one of "
                             "{'valid', 'same'}")
        if padding == "same" and any(s != 1 for s in stride):
            raise ValueError("padding='same' is not supported for strided convolutions")
    if padding_mode not in PADDING_MODES:
        raise ValueError(f"padding_mode must be one of {set(PADDING_MODES)}, but got "
                         f"padding_mode={padding_mode!r}")


def _pad_widths(padding, dilation, kernel_size):
    """F.pad's widths (last dim first, each side) for a padding_mode other than 'zeros':
    ``padding`` ints, or 'same' ('valid': none) split as PyTorch, the extra one at the end."""
    if padding == "valid":
        return (0, 0) * len(kernel_size)
    widths = []
    for i in reversed(range(len(kernel_size))):
        if padding == "same":
            total = dilation[i] * (kernel_size[i] - 1)
            widths += [total // 2, total - total // 2]
        else:
            widths += [padding[i], padding[i]]
    return tuple(widths)


class _ConvNd(Module):
    """The parameters, checks and repr the conv layers share; weight (out, in / groups,
    *kernel_size) (transposed: (in, out / groups, *kernel_size)), PyTorch's init: weight and
    bias uniform in +-1/sqrt(fan_in), fan_in = weight.shape[1] * prod(kernel_size)."""

    def __init__(self, in_channels, out_channels, kernel_size, stride, padding, dilation,
                 groups, bias, padding_mode, dtype, as_tuple, transposed=False):
        super().__init__()
        stride = as_tuple(stride, "stride")
        _check_conv_arguments(in_channels, out_channels, groups, padding, stride, padding_mode)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = as_tuple(kernel_size, "kernel_size")
        self.stride = stride
        self.padding = padding if isinstance(padding, str) else as_tuple(padding, "padding")
        self.dilation = as_tuple(dilation, "dilation")
        self.groups = groups
        self.padding_mode = padding_mode
        dtype = dtypes.DEFAULT_FLOAT if dtype is None else dtypes.as_dtype(dtype)
        shape = ((in_channels, out_channels // groups) if transposed
                 else (out_channels, in_channels // groups)) + self.kernel_size
        self.weight = Parameter(np.empty(shape, dtype=dtype))
        bound = 1 / math.sqrt(shape[1] * math.prod(self.kernel_size))
        init.uniform_(self.weight, -bound, bound)
        if bias:
            self.bias = Parameter(np.empty(out_channels, dtype=dtype))
            init.uniform_(self.bias, -bound, bound)
        else:
            self.register_parameter("bias", None)
        # Scratch buffers reused across steps (the im2col columns are the big one).
        self.workspace = Workspace()

    def _padded(self, x):
        """x padded by ``padding_mode`` when it is not 'zeros' (the conv then pads nothing)."""
        return pad(x, _pad_widths(self.padding, self.dilation, self.kernel_size), self.padding_mode)

    def extra_repr(self):
        ones, zeros = (1,) * len(self.kernel_size), (0,) * len(self.kernel_size)
        text = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}")
        if self.padding != zeros:
            text += f", padding={self.padding}"
        if self.dilation != ones:
            text += f", dilation={self.dilation}"
        if getattr(self, "output_padding", zeros) != zeros:
            text += f", output_padding={self.output_padding}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        if self.padding_mode != "zeros":
            text += f", padding_mode={self.padding_mode}"
        if getattr(self, "impl", "im2col") != "im2col":
            text += f", impl={self.impl!r}"
        return text


def _single(value, name):
    return (single(value, name),)


class Conv2d(_ConvNd):
    """x (N, in_channels, H, W) -> (N, out_channels, OH, OW); see ``fastgrad.nn.functional.conv2d``
    (groups, padding ints or 'same' / 'valid'); ``padding_mode`` 'reflect' / 'replicate' /
    'circular' pads with ``F.pad`` first. ``impl="naive"`` selects the loop-over-output-positions
    reference (the tests' oracle and the benchmarks' baseline; int padding, 'zeros' only).
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True, padding_mode="zeros", impl="im2col", dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, dtype, pair)
        self.impl = check_impl(impl)

    def forward(self, x):
        if self.padding_mode != "zeros":
            return conv2d(self._padded(x), self.weight, self.bias, self.stride, 0, self.dilation,
                          self.groups, workspace=self.workspace)
        if self.impl == "naive":
            return conv2d_naive(x, self.weight, self.bias, self.stride, self.padding, self.dilation,
                                self.groups)
        return conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation,
                      self.groups, workspace=self.workspace)


class Conv1d(_ConvNd):
    """x (N, in_channels, L) or (in_channels, L) -> (N, out_channels, OL); see
    ``fastgrad.nn.functional.conv1d``; ``padding_mode`` as ``Conv2d``'s."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1,
                 groups=1, bias=True, padding_mode="zeros", dtype=None):
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         groups, bias, padding_mode, dtype, _single)

    def forward(self, x):
        if self.padding_mode != "zeros":
            return conv1d(self._padded(x), self.weight, self.bias, self.stride, 0, self.dilation,
                          self.groups, workspace=self.workspace)
        return conv1d(x, self.weight, self.bias, self.stride, self.padding, self.dilation,
                      self.groups, workspace=self.workspace)


class ConvTranspose2d(_ConvNd):
    """x (N, in_channels, H, W) -> (N, out_channels, OH, OW); see
    ``fastgrad.nn.functional.conv_transpose2d``. ``forward(x, output_size)`` picks the
    output_padding that gives that (OH, OW), as PyTorch."""

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0,
                 output_padding=0, groups=1, bias=True, dilation=1, padding_mode="zeros",
                 dtype=None):
        if padding_mode != "zeros":
            raise ValueError('Only "zeros" padding mode is supported for ConvTranspose2d')
        super().__init__(in_channels, out_channels, kernel_size, stride, pair(padding, "padding"),
                         dilation, groups, bias, padding_mode, dtype, pair, transposed=True)
        self.output_padding = pair(output_padding, "output_padding")

    def forward(self, x, output_size=None):
        output_padding = self.output_padding
        if output_size is not None:
            output_padding = self._output_padding(x, output_size)
        return conv_transpose2d(x, self.weight, self.bias, self.stride, self.padding,
                                output_padding, self.groups, self.dilation)

    def _output_padding(self, x, output_size):
        """PyTorch's ``_output_padding``: output_size (the last two entries count) minus the
        smallest output size; it must lie in [smallest, smallest + stride - 1]."""
        size = tuple(output_size)[-2:]
        if len(size) != 2:
            raise ValueError(f"ConvTranspose2d: output_size must have 2 or more elements (got "
                             f"{len(tuple(output_size))})")
        padding = []
        for d in range(2):
            smallest = ((x.shape[-2 + d] - 1) * self.stride[d] - 2 * self.padding[d]
                        + self.dilation[d] * (self.kernel_size[d] - 1) + 1)
            if not smallest <= size[d] < smallest + self.stride[d]:
                raise ValueError(
                    f"requested an output size of {list(size)}, but valid sizes range from "
                    f"{smallest} to {smallest + self.stride[d] - 1} (for an input of "
                    f"{list(x.shape[-2:])})")
            padding.append(size[d] - smallest)
        return tuple(padding)
