"""fastgrad: a small autograd engine with a PyTorch-like API on NumPy and numba."""
from fastgrad.autograd import (GradFn, Tensor, enable_grad, gradcheck, is_grad_enabled, no_grad,
                               set_grad_enabled)
from fastgrad.autograd.inference_mode import inference_mode, is_inference_mode_enabled
from fastgrad import dtypes
from fastgrad.creation import (arange, empty, empty_like, eye, from_numpy, full, full_like,
                               linspace, logspace, ones, ones_like, rand, rand_like, randint,
                               randn, randn_like, randperm, tensor, tril_indices, triu_indices,
                               zeros, zeros_like)
from fastgrad.dtypes import (bool, double, float, float16, float32, float64, get_default_dtype,
                             half, int, int8, int16, int32, int64, long, set_default_dtype, uint8)
from fastgrad.devices import device
from fastgrad.ops import (all, any, argsort, argwhere, bincount, bitwise_and, bitwise_left_shift,
                          bitwise_or, bitwise_right_shift, bitwise_xor, count_nonzero, histc,
                          isclose, isfinite, isinf, isneginf, isposinf, logical_and, logical_or,
                          logical_xor, nonzero, searchsorted, unique)
from fastgrad.ops import (abs, add, allclose, amax, amin, argmax, argmin, astype,
                          bitwise_not,
                          broadcast_to, cat, clamp, clip, clone, concatenate, contiguous, div,
                          divide, eq, equal, exp, expand, expand_as, flatten, ge, gt, isnan, le,
                          log, log_softmax, logical_not, logsumexp, lt, matmul, max, maximum, mean,
                          min, minimum,
                          mul, multiply, ne, neg, negative, permute, pow, relu, repeat, reshape,
                          sigmoid, softmax, sqrt, squeeze, stack, std, sub, subtract, sum,
                          swapaxes, t, tanh, to, transpose, true_divide, unflatten, unsqueeze,
                          var, view, view_as, where)
from fastgrad.ops import (addmm, atleast_1d, atleast_2d, atleast_3d, baddbmm, bmm,
                          broadcast_tensors, chunk, cross, diag, diag_embed, diagonal, dot, einsum,
                          flip, fliplr, flipud, ger, inner, kron, meshgrid, mm, moveaxis, movedim,
                          mv, narrow, outer, repeat_interleave, roll, split, swapdims,
                          tensor_split, tensordot, trace, tril, triu, unbind)
from fastgrad.ops import (gather, index_add, index_fill, index_select, masked_fill, masked_scatter,
                          masked_select, scatter, scatter_add, scatter_reduce, take, take_along_dim)
from fastgrad.ops import cummax, cummin, cumprod, cumsum, logcumsumexp
from fastgrad.ops import kthvalue, median, mode, sort, topk
from fastgrad.ops import nanmean, nansum, norm, prod, std_mean, var_mean
from fastgrad.ops import (acos, acosh, arccos, arccosh, arcsin, arcsinh, arctan, arctan2, arctanh,
                          asin, asinh, atan, atan2, atanh, ceil, copysign, cos, cosh, erf, erfc,
                          erfinv, exp2, expm1, fix, floor, floor_divide, fmod, frac, hypot, lerp,
                          log1p, log2, log10, logaddexp, nan_to_num, reciprocal, remainder, round,
                          rsqrt, sgn, sign, sin, sinh, square, tan, trunc)
from fastgrad.kernels.threads import get_num_threads, set_num_threads
from fastgrad.random import (Generator, default_generator, get_rng_state, initial_seed,
                             manual_seed, seed, set_rng_state)
from fastgrad.printing import set_printoptions
from fastgrad.serialization import load, save
from fastgrad import linalg  # noqa: F401
from fastgrad import cuda, data, distributed, metrics, nn, onnx, optim, utils, viz  # noqa: F401

__version__ = "0.1.0"
