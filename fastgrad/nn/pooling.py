"""The pooling layers of ``torch.nn``, with its arguments, defaults and reprs: ``MaxPool1d/2d``
(``MaxPool2d`` can also run the naive loop reference), ``AvgPool1d/2d``,
``AdaptiveAvgPool1d/2d``, ``AdaptiveMaxPool2d`` and ``MaxUnpool2d``."""
from fastgrad.nn.conv import check_impl
from fastgrad.nn.module import Module
from fastgrad.ops import pooling
from fastgrad.ops.naive import max_pool2d_naive


class _MaxPoolNd(Module):
    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False,
                 ceil_mode=False):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.dilation = dilation
        self.return_indices = return_indices
        self.ceil_mode = ceil_mode

    def extra_repr(self):
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, ceil_mode={self.ceil_mode}")


class MaxPool2d(_MaxPoolNd):
    """x (N, C, H, W) or (C, H, W) -> (N, C, OH, OW), OH = (H + 2*padding - dilation*(kernel - 1)
    - 1) // stride + 1 (rounded up with ``ceil_mode``); with ``return_indices`` also the flat
    index of each maximum in its input plane. ``impl="naive"``: the loop reference."""

    def __init__(self, kernel_size, stride=None, padding=0, dilation=1, return_indices=False,
                 ceil_mode=False, *, impl="im2col"):
        super().__init__(kernel_size, stride, padding, dilation, return_indices, ceil_mode)
        self.impl = check_impl(impl)

    def forward(self, x):
        pool = max_pool2d_naive if self.impl == "naive" else pooling.max_pool2d
        return pool(x, self.kernel_size, self.stride, self.padding, self.dilation, self.ceil_mode,
                    return_indices=self.return_indices)

    def extra_repr(self):
        return super().extra_repr() + (f", impl={self.impl!r}" if self.impl != "im2col" else "")


class MaxPool1d(_MaxPoolNd):
    """x (N, C, L) or (C, L) -> (N, C, OL): ``MaxPool2d`` along the last axis."""

    def forward(self, x):
        return pooling.max_pool1d(x, self.kernel_size, self.stride, self.padding, self.dilation,
                                  self.ceil_mode, return_indices=self.return_indices)


class AvgPool2d(Module):
    """Mean over windows; the divisor is ``divisor_override`` when given, else the window's
    size (counting zero padding with ``count_include_pad``, PyTorch's default)."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True, divisor_override=None):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = stride if stride is not None else kernel_size
        self.padding = padding
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad
        self.divisor_override = divisor_override

    def forward(self, x):
        return pooling.avg_pool2d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                                  self.count_include_pad, self.divisor_override)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


def _single(value):
    """PyTorch's ``_single``: AvgPool1d keeps its sizes as 1-tuples (and shows them so)."""
    return tuple(value) if isinstance(value, (tuple, list)) else (value,)


class AvgPool1d(Module):
    """x (N, C, L) or (C, L) -> (N, C, OL): ``AvgPool2d`` along the last axis."""

    def __init__(self, kernel_size, stride=None, padding=0, ceil_mode=False,
                 count_include_pad=True):
        super().__init__()
        self.kernel_size = _single(kernel_size)
        self.stride = _single(stride if stride is not None else kernel_size)
        self.padding = _single(padding)
        self.ceil_mode = ceil_mode
        self.count_include_pad = count_include_pad

    def forward(self, x):
        return pooling.avg_pool1d(x, self.kernel_size, self.stride, self.padding, self.ceil_mode,
                                  self.count_include_pad)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class _AdaptivePool(Module):
    def __init__(self, output_size):
        super().__init__()
        self.output_size = output_size

    def extra_repr(self):
        return f"output_size={self.output_size}"


class AdaptiveAvgPool2d(_AdaptivePool):
    """x (N, C, H, W) or (C, H, W) -> (N, C, *output_size), any output size (an int, or a
    pair where None keeps the input's size): the mean of PyTorch's adaptive windows."""

    def forward(self, x):
        return pooling.adaptive_avg_pool2d(x, self.output_size)


class AdaptiveAvgPool1d(_AdaptivePool):
    """x (N, C, L) or (C, L) -> (N, C, output_size): ``AdaptiveAvgPool2d`` along L."""

    def forward(self, x):
        return pooling.adaptive_avg_pool1d(x, self.output_size)


class AdaptiveMaxPool2d(_AdaptivePool):
    """x (N, C, H, W) or (C, H, W) -> (N, C, *output_size): the max of PyTorch's adaptive
    windows (with ``return_indices``, and the flat index of each in its input plane)."""

    def __init__(self, output_size, return_indices=False):
        super().__init__(output_size)
        self.return_indices = return_indices

    def forward(self, x):
        return pooling.adaptive_max_pool2d(x, self.output_size, self.return_indices)


def _pair(value):
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


class MaxUnpool2d(Module):
    """Inverse of ``MaxPool2d(..., return_indices=True)``: ``forward(x, indices,
    output_size=None)`` puts each value at its index in a zero plane of size
    (H - 1)*stride - 2*padding + kernel_size (or ``output_size``)."""

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size = _pair(kernel_size)
        self.stride = _pair(stride if stride is not None else kernel_size)
        self.padding = _pair(padding)

    def forward(self, input, indices, output_size=None):
        return pooling.max_unpool2d(input, indices, self.kernel_size, self.stride, self.padding,
                                    output_size)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"
