"""``fastgrad.nn``: modules, layers, losses (``functional`` and ``init`` as in PyTorch)."""
from fastgrad.nn import functional, init, parallel, utils
from fastgrad.nn.activation import LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from fastgrad.nn.container import ModuleList, Sequential
from fastgrad.nn.conv import Conv2d
from fastgrad.nn.dropout import Dropout
from fastgrad.nn.flatten import Flatten, Unflatten
from fastgrad.nn.linear import Identity, Linear
from fastgrad.nn.loss import CrossEntropyLoss, MSELoss, NLLLoss
from fastgrad.nn.module import Module
from fastgrad.nn.normalization import (BatchNorm1d, BatchNorm2d, GroupNorm, InstanceNorm2d,
                                       LayerNorm)
from fastgrad.nn.parameter import Parameter
from fastgrad.nn.pooling import (AdaptiveAvgPool1d, AdaptiveAvgPool2d, AdaptiveMaxPool2d, AvgPool1d,
                                 AvgPool2d, MaxPool1d, MaxPool2d, MaxUnpool2d)
