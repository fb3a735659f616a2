"""``fastgrad.nn.functional``: the layers as functions (same ops the modules call)."""
from fastgrad.ops.conv import conv2d
from fastgrad.ops.dropout import dropout
from fastgrad.ops.elementwise import relu as _relu
from fastgrad.ops.elementwise import sigmoid, tanh
from fastgrad.ops.linear import linear
from fastgrad.ops.loss import cross_entropy, mse_loss, nll_loss
from fastgrad.ops.naive import conv2d_naive, max_pool2d_naive
from fastgrad.ops.normalization import batch_norm, group_norm, instance_norm, layer_norm
from fastgrad.ops.pooling import (adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_max_pool2d,
                                  avg_pool1d, avg_pool2d, max_pool1d, max_pool2d, max_unpool2d)
from fastgrad.ops.softmax import log_softmax, softmax

__all__ = ["relu", "sigmoid", "tanh", "softmax", "log_softmax", "linear", "dropout",
           "cross_entropy", "nll_loss", "mse_loss", "conv2d", "max_pool2d", "avg_pool2d",
           "max_pool1d", "avg_pool1d", "adaptive_avg_pool1d", "adaptive_avg_pool2d",
           "adaptive_max_pool2d", "max_unpool2d", "conv2d_naive", "max_pool2d_naive"]
__all__ += ["batch_norm", "layer_norm", "group_norm", "instance_norm"]


def relu(input, inplace=False):
    """max(input, 0); ``inplace=True`` overwrites ``input`` (``input.relu_()``), as PyTorch."""
    return input.relu_() if inplace else _relu(input)
