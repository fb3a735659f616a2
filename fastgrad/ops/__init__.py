"""All differentiable operations, as functions of tensors.

Importing an op module attaches its ops to ``Tensor`` as methods and operators (see
``_methods.py``), so ``x.exp()`` is ``fastgrad.exp(x)``; this package only imports them.
"""
from fastgrad.ops import conv as _conv  # noqa: F401 (conv2d, the pools: nn.functional's)
from fastgrad.ops import pooling as _pooling  # noqa: F401
from fastgrad.ops._methods import METHOD_NAMES
from fastgrad.ops.bitwise import (bitwise_and, bitwise_left_shift, bitwise_or, bitwise_right_shift,
                                  bitwise_xor, logical_and, logical_or, logical_xor)
from fastgrad.ops.counting import bincount, count_nonzero, histc, unique
from fastgrad.ops.predicates import all, any, isclose, isfinite, isinf, isneginf, isposinf
from fastgrad.ops.search import argsort, argwhere, nonzero, searchsorted, where
from fastgrad.ops.arithmetic import (add, div, divide, matmul, maximum, minimum, mul, multiply,
                                     neg, negative, pow, sub, subtract, true_divide)
from fastgrad.ops.arithmetic import floor_divide, fmod, remainder
from fastgrad.ops.pointwise import (acos, acosh, arccos, arccosh, arcsin, arcsinh, arctan, arctan2,
                                    arctanh, asin, asinh, atan, atan2, atanh, ceil, copysign, cos,
                                    cosh, erf, erfc, erfinv, exp2, expm1, fix, floor, frac, hypot,
                                    lerp, log1p, log2, log10, logaddexp, nan_to_num, reciprocal,
                                    round, rsqrt, sgn, sign, sin, sinh, square, tan, trunc)
from fastgrad.ops import activation as _activation  # noqa: F401 (nn.functional's)
from fastgrad.ops.cast import astype, bool, double, float, half, int, long, to, type
from fastgrad.ops.elementwise import abs, clamp, clip, exp, log, relu, sigmoid, sqrt, tanh
from fastgrad.ops.indexing import getitem, setitem
from fastgrad.ops.sorting import kthvalue, median, mode, sort, topk
from fastgrad.ops.cumulative import cummax, cummin, cumprod, cumsum, logcumsumexp
from fastgrad.ops.gather_scatter import (gather, index_add, index_fill, index_select, masked_fill,
                                         masked_scatter, masked_select, scatter, scatter_add,
                                         scatter_reduce, take, take_along_dim)
from fastgrad.ops.join import cat, concatenate, stack
from fastgrad.ops.reduction import amax, amin, argmax, argmin, max, mean, min, std, sum, var
from fastgrad.ops.reduction import nanmean, nansum, prod, std_mean, var_mean
from fastgrad.ops.norms import norm
from fastgrad.ops.select import (allclose, bitwise_not, eq, equal, ge, gt, isnan, le,
                                 logical_not, lt, ne)
from fastgrad.ops.shape import (broadcast_to, clone, contiguous, expand, expand_as, flatten,
                                numpy_T, permute, repeat, reshape, squeeze, swapaxes, t,
                                transpose, unflatten, unsqueeze, view, view_as)
from fastgrad.ops.softmax import log_softmax, logsumexp, softmax
from fastgrad.ops.shape_extra import (atleast_1d, atleast_2d, atleast_3d, broadcast_tensors,
                                      chunk, diag, diag_embed, diagonal, flip, fliplr, flipud,
                                      meshgrid, moveaxis, movedim, narrow, repeat_interleave, roll,
                                      split, tensor_split, trace, tril, triu, unbind, unfold)
from fastgrad.ops.shape import swapdims
from fastgrad.ops.einsum import einsum
from fastgrad.ops.linalg import (addmm, baddbmm, bmm, cross, dot, ger, inner, kron, mm, mv, outer,
                                 tensordot)

# The Tensor methods that are also functions here (``x.exp()`` is ``exp(x)``).
TENSOR_METHODS = tuple(METHOD_NAMES)
