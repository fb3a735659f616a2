"""``MaxPool2d`` (numba argmax kernels, or the naive loop reference) and ``AvgPool2d``."""
from fastgrad.nn.conv import check_impl
from fastgrad.nn.module import Module
from fastgrad.ops.naive import max_pool2d_naive
from fastgrad.ops.pooling import avg_pool2d, max_pool2d


class MaxPool2d(Module):
    """x (N, C, H, W) -> (N, C, OH, OW), OH = (H + 2*padding - kernel) // stride + 1."""

    def __init__(self, kernel_size, stride=None, padding=0, impl="im2col", *,
                 return_indices=False):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding = padding
        self.impl = check_impl(impl)
        if return_indices and self.impl == "naive":
            raise ValueError("return_indices=True needs impl='im2col' (the naive pool keeps none)")
        self.return_indices = return_indices

    def forward(self, x):
        """The pooled tensor, or with ``return_indices`` (pooled, flat indices into each
        input plane), as PyTorch's MaxPool2d."""
        if self.impl == "naive":
            return max_pool2d_naive(x, self.kernel_size, self.stride, self.padding)
        return max_pool2d(x, self.kernel_size, self.stride, self.padding,
                          return_indices=self.return_indices)

    def extra_repr(self):
        text = f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"
        return text + (f", impl={self.impl!r}" if self.impl != "im2col" else "")


class AvgPool2d(Module):
    """Mean over windows, zero padding counted in the mean (PyTorch's default)."""

    def __init__(self, kernel_size, stride=None, padding=0):
        super().__init__()
        self.kernel_size = kernel_size
        self.stride = kernel_size if stride is None else stride
        self.padding = padding

    def forward(self, x):
        return avg_pool2d(x, self.kernel_size, self.stride, self.padding)

    def extra_repr(self):
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"
