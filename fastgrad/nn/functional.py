"""``fastgrad.nn.functional``: the layers as functions (same ops the modules call)."""
from fastgrad.ops.dropout import dropout
from fastgrad.ops.elementwise import relu, sigmoid, tanh
from fastgrad.ops.linear import linear
from fastgrad.ops.loss import cross_entropy, mse_loss, nll_loss
from fastgrad.ops.softmax import log_softmax, softmax

__all__ = ["relu", "sigmoid", "tanh", "softmax", "log_softmax", "linear", "dropout",
           "cross_entropy", "nll_loss", "mse_loss"]
