"""numba kernels for convolution and pooling (plain loops over plain arrays), and the
threads that run them on chunks of a batch (``threads``)."""

from . import threads
from .im2col import col2im, im2col, nchw_to_cnhw
from .pooling import (
    avgpool2d_backward,
    avgpool2d_forward,
    maxpool2d_backward,
    maxpool2d_forward,
    maxpool2d_forward_2x2s2,
)

__all__ = [
    "threads",
    "im2col",
    "col2im",
    "nchw_to_cnhw",
    "maxpool2d_forward",
    "maxpool2d_forward_2x2s2",
    "maxpool2d_backward",
    "avgpool2d_forward",
    "avgpool2d_backward",
]
