"""numba kernels for convolution and pooling, and the CPU threading policy.

Importing this package applies the threading policy of ``threads`` (numba
thread count, BLAS thread count); see that module for the measurements.
"""

from . import threads
from .im2col import cnhw_to_nchw, col2im, im2col, nchw_to_cnhw
from .pooling import (
    avgpool2d_backward,
    avgpool2d_forward,
    maxpool2d_backward,
    maxpool2d_forward,
)

__all__ = [
    "threads",
    "im2col",
    "col2im",
    "cnhw_to_nchw",
    "nchw_to_cnhw",
    "maxpool2d_forward",
    "maxpool2d_backward",
    "avgpool2d_forward",
    "avgpool2d_backward",
]
