"""``fastgrad.nn.functional``: the layers as functions (same ops the modules call)."""
from fastgrad.nn.pixelshuffle import pixel_shuffle, pixel_unshuffle
from fastgrad.ops.attention import scaled_dot_product_attention
from fastgrad.ops.activation import (celu, elu, gelu, glu, hardsigmoid, hardswish, hardtanh,
                                     leaky_relu, logsigmoid, mish, relu6, selu, silu, softmin,
                                     softplus, softsign, tanhshrink)
from fastgrad.ops.conv import conv2d
from fastgrad.ops.distance import cosine_similarity, normalize, one_hot, pairwise_distance
from fastgrad.ops.conv import conv1d, conv_transpose2d
from fastgrad.ops.dropout import dropout
from fastgrad.ops.elementwise import relu as _relu
from fastgrad.ops.elementwise import sigmoid, tanh
from fastgrad.ops.embedding import embedding
from fastgrad.ops.interpolate import interpolate, upsample_bilinear, upsample_nearest
from fastgrad.ops.linear import linear
from fastgrad.ops.loss import cross_entropy, mse_loss, nll_loss
from fastgrad.ops.loss import (binary_cross_entropy, binary_cross_entropy_with_logits, huber_loss,
                               kl_div, l1_loss, smooth_l1_loss)
from fastgrad.ops.naive import conv2d_naive, max_pool2d_naive
from fastgrad.ops.normalization import batch_norm, group_norm, instance_norm, layer_norm
from fastgrad.ops.pooling import (adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_max_pool2d,
                                  avg_pool1d, avg_pool2d, max_pool1d, max_pool2d, max_unpool2d)
from fastgrad.ops.padding import pad
from fastgrad.ops.softmax import log_softmax, softmax

__all__ = ["relu", "sigmoid", "tanh", "softmax", "log_softmax", "linear", "dropout",
           "cross_entropy", "nll_loss", "mse_loss", "conv2d", "max_pool2d", "avg_pool2d",
           "max_pool1d", "avg_pool1d", "adaptive_avg_pool1d", "adaptive_avg_pool2d",
           "adaptive_max_pool2d", "max_unpool2d", "conv2d_naive", "max_pool2d_naive",
           "embedding", "interpolate", "upsample_nearest", "upsample_bilinear", "pixel_shuffle",
           "pixel_unshuffle", "one_hot", "normalize", "cosine_similarity", "pairwise_distance",
           "scaled_dot_product_attention"]
__all__ += ["binary_cross_entropy", "binary_cross_entropy_with_logits", "l1_loss",
            "smooth_l1_loss", "huber_loss", "kl_div"]
__all__ += ["conv1d", "conv_transpose2d", "pad"]
__all__ += ["gelu", "silu", "elu", "celu", "selu", "leaky_relu", "relu6", "hardtanh",
            "hardsigmoid", "hardswish", "softplus", "mish", "logsigmoid", "softsign", "tanhshrink",
            "glu", "softmin"]
__all__ += ["batch_norm", "layer_norm", "group_norm", "instance_norm"]


def relu(input, inplace=False):
    """max(input, 0); ``inplace=True`` overwrites ``input`` (``input.relu_()``), as PyTorch."""
    return input.relu_() if inplace else _relu(input)
