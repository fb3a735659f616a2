"""All differentiable operations, as functions of tensors.

Each is also a Tensor method (``TENSOR_METHODS``) and, from ``fastgrad``, a module-level
function: ``x.exp()`` is ``fastgrad.exp(x)``.
"""
from fastgrad.ops.arithmetic import OPERATORS as _ARITHMETIC_OPERATORS
from fastgrad.ops.arithmetic import add, div, matmul, maximum, minimum, mul, neg, pow, sub
from fastgrad.ops.cast import astype, bool, double, float, half, int, long, to, type
from fastgrad.ops.elementwise import abs, clamp, clip, exp, log, relu, sigmoid, sqrt, tanh
from fastgrad.ops.indexing import getitem, setitem
from fastgrad.ops.join import cat, concatenate, stack
from fastgrad.ops.reduction import amax, amin, argmax, argmin, max, mean, min, std, sum, var
from fastgrad.ops.select import (allclose, bitwise_not, eq, equal, ge, gt, isnan, le,
                                 logical_not, lt, ne, where)
from fastgrad.ops.shape import (broadcast_to, clone, contiguous, expand, expand_as, flatten,
                                numpy_T, permute, repeat, reshape, squeeze, swapaxes, t,
                                transpose, unflatten, unsqueeze, view, view_as)
from fastgrad.ops.softmax import log_softmax, logsumexp, softmax

true_divide = divide = div
multiply = mul
subtract = sub
negative = neg

TENSOR_METHODS = (
    "add", "sub", "mul", "div", "pow", "matmul", "neg", "true_divide", "divide", "multiply",
    "subtract", "negative", "maximum", "minimum",
    "exp", "log", "sqrt", "abs", "sigmoid", "tanh", "relu", "clamp", "clip",
    "to", "astype", "float", "double", "half", "long", "int", "bool", "type",
    "sum", "mean", "var", "std", "max", "min", "amax", "amin", "argmax", "argmin",
    "reshape", "view", "view_as", "flatten", "unflatten", "squeeze", "unsqueeze", "permute",
    "transpose", "swapaxes", "t", "expand", "expand_as", "broadcast_to", "repeat", "clone",
    "contiguous",
    "softmax", "log_softmax", "logsumexp",
    "eq", "ne", "lt", "le", "gt", "ge", "logical_not", "bitwise_not", "isnan", "equal",
    "allclose",
)


def _comparison_operator(compare):
    """``compare`` as a dunder: NotImplemented for an operand that is no number or array, so
    ``x == None`` is False (Python's fallback) as in PyTorch, instead of a TypeError."""

    def dunder(self, other):
        try:
            return compare(self, other)
        except TypeError:
            return NotImplemented

    dunder.__name__ = f"__{compare.__name__}__"
    return dunder


TENSOR_OPERATORS = dict(
    _ARITHMETIC_OPERATORS,
    __getitem__=getitem,
    __setitem__=setitem,
    __eq__=_comparison_operator(eq),
    __ne__=_comparison_operator(ne),
    __lt__=_comparison_operator(lt),
    __le__=_comparison_operator(le),
    __gt__=_comparison_operator(gt),
    __ge__=_comparison_operator(ge),
    __abs__=abs,
    __invert__=bitwise_not,
)
