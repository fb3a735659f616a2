"""The padding layers of ``torch.nn`` (``ZeroPad1d/2d``, ``ConstantPad1d/2d``,
``ReflectionPad1d/2d``, ``ReplicationPad1d/2d``, ``CircularPad1d/2d``): ``F.pad`` with a fixed
mode and widths, their arguments and reprs as PyTorch's."""
import numbers

from fastgrad.nn.module import Module
from fastgrad.ops.padding import pad


def _widths(padding, dims):
    """An int (every side) or a 2*dims tuple (left, right[, top, bottom]) -> the tuple."""
    if isinstance(padding, numbers.Integral) and not isinstance(padding, bool):
        return (int(padding),) * (2 * dims)
    padding = tuple(padding)
    if len(padding) != 2 * dims:
        raise RuntimeError(f"Padding length must be divisible by 2 and equal {2 * dims} for a "
                           f"{dims}-D padding layer, got {padding}")
    return padding


class _PadNd(Module):
    mode = "constant"
    dims = 2

    def __init__(self, padding, value=None):
        super().__init__()
        self.padding = _widths(padding, self.dims)
        self.value = value

    def forward(self, x):
        return pad(x, self.padding, self.mode, self.value)

    def extra_repr(self):
        return f"{self.padding}"


class _ConstantPadNd(_PadNd):
    def __init__(self, padding, value):
        super().__init__(padding, value)

    def extra_repr(self):
        return f"padding={self.padding}, value={self.value}"


class _ZeroPadNd(_PadNd):
    def __init__(self, padding):
        super().__init__(padding, 0.0)


class ConstantPad1d(_ConstantPadNd):
    dims = 1


class ConstantPad2d(_ConstantPadNd):
    dims = 2


class ZeroPad1d(_ZeroPadNd):
    dims = 1


class ZeroPad2d(_ZeroPadNd):
    dims = 2


class ReflectionPad1d(_PadNd):
    mode, dims = "reflect", 1


class ReflectionPad2d(_PadNd):
    mode, dims = "reflect", 2


class ReplicationPad1d(_PadNd):
    mode, dims = "replicate", 1


class ReplicationPad2d(_PadNd):
    mode, dims = "replicate", 2


class CircularPad1d(_PadNd):
    mode, dims = "circular", 1


class CircularPad2d(_PadNd):
    mode, dims = "circular", 2
