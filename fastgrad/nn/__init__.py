"""``fastgrad.nn``: modules, layers, losses (``functional`` and ``init`` as in PyTorch)."""
from fastgrad.nn import functional, init, parallel, utils
from fastgrad.nn.activation import LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from fastgrad.nn.attention import MultiheadAttention
from fastgrad.nn.activation import (CELU, ELU, GELU, GLU, SELU, Hardsigmoid, Hardswish, Hardtanh,
                                    LeakyReLU, LogSigmoid, Mish, ReLU6, SiLU, Softmin, Softplus,
                                    Softsign, Tanhshrink)
from fastgrad.nn.container import ModuleList, Sequential
from fastgrad.nn.conv import Conv2d
from fastgrad.nn.distance import CosineSimilarity, PairwiseDistance
from fastgrad.nn.conv import Conv1d, ConvTranspose2d
from fastgrad.nn.dropout import Dropout
from fastgrad.nn.embedding import Embedding
from fastgrad.nn.flatten import Flatten, Unflatten
from fastgrad.nn.linear import Identity, Linear
from fastgrad.nn.loss import CrossEntropyLoss, MSELoss, NLLLoss
from fastgrad.nn.loss import (BCELoss, BCEWithLogitsLoss, HuberLoss, KLDivLoss, L1Loss,
                              SmoothL1Loss)
from fastgrad.nn.module import Module
from fastgrad.nn.padding import (CircularPad1d, CircularPad2d, ConstantPad1d, ConstantPad2d,
                                 ReflectionPad1d, ReflectionPad2d, ReplicationPad1d,
                                 ReplicationPad2d, ZeroPad1d, ZeroPad2d)
from fastgrad.nn.normalization import (BatchNorm1d, BatchNorm2d, GroupNorm, InstanceNorm2d,
                                       LayerNorm)
from fastgrad.nn.parameter import Parameter
from fastgrad.nn.pooling import (AdaptiveAvgPool1d, AdaptiveAvgPool2d, AdaptiveMaxPool2d, AvgPool1d,
                                 AvgPool2d, MaxPool1d, MaxPool2d, MaxUnpool2d)
from fastgrad.nn.pixelshuffle import PixelShuffle, PixelUnshuffle
from fastgrad.nn.upsampling import Upsample, UpsamplingBilinear2d, UpsamplingNearest2d
