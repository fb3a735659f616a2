"""batch_norm, layer_norm, group_norm and instance_norm, each one fused node.

All four standardise the input over some axes, ``xhat = (x - mean) / sqrt(var + eps)`` with
the biased variance, then scale and shift it by a per-feature ``weight`` and ``bias``. They
differ only in which axes the statistics run over (a ``_Layout``) and in whether the
statistics come from the input or are given (batch_norm in eval mode, from its running
estimates). So one node, ``NormalizationGradFn``, does the forward's work and the whole
backward; each function here only checks its arguments (PyTorch's errors) and builds the
layout. One node per call instead of a chain of ten elementwise ops and reductions: fewer
full-size temporaries, and the gradient of the input in one formula.
"""
import collections
import math
import numbers

import numpy as np

from fastgrad import dtypes
from fastgrad.autograd.function import GradFn, derived, needs_grad, unbroadcast
from fastgrad.autograd.grad_mode import no_grad
from fastgrad.autograd.tensor import Tensor
from fastgrad.ops._operands import as_tensor

# view_shape: the input reshaped so that the statistics run over ``axes`` of it (the input's
# own shape except for group_norm, whose groups become an axis); count: elements per
# statistic; affine_shape: the shape weight and bias take to broadcast against the input.
_Layout = collections.namedtuple("_Layout", "view_shape axes count affine_shape")


def _layout(shape, view_shape, axes, affine_shape):
    return _Layout(tuple(view_shape), tuple(axes), math.prod(view_shape[a] for a in axes),
                   tuple(affine_shape))


def _standardized(x, layout, eps):
    """(xhat in x's shape, 1 / sqrt(var + eps), mean, var) over ``layout.axes``, the variance
    biased (divided by the count, as PyTorch normalises). ``x`` is an ndarray or a Tensor:
    this is also the recipe a create_graph backward recomputes its saved values with."""
    v = x.reshape(layout.view_shape)
    count = max(layout.count, 1)  # an empty input: zero sums, no 0 / 0
    mean = _mean(v, layout.axes, count)
    centered = v - mean
    var = _mean(centered * centered, layout.axes, count)
    rstd = (var + eps) ** -0.5
    return (centered * rstd).reshape(x.shape), rstd, mean, var


def _mean(v, axes, count):
    if isinstance(v, Tensor):
        return v.sum(axis=axes, keepdims=True) / count
    # accumulated in float64 (PyTorch's CPU kernels accumulate float32 in double)
    total = np.sum(v, axis=axes, keepdims=True, dtype=np.promote_types(v.dtype, np.float64))
    return (total / count).astype(v.dtype, copy=False)


class NormalizationGradFn(GradFn):
    """out = xhat * weight + bias for inputs (x, weight, bias); weight / bias may be None.

    With the statistics from the input (``batch_stats``), xhat depends on every element of its
    group and dx = rstd * (dy - mean(dy) - xhat * mean(dy * xhat)), dy = grad * weight, the
    means over the normalised axes (batch_norm and instance_norm, whose weight is constant
    over those axes, take it out of the means: ``_per_channel_backward``); with given
    statistics xhat is affine in x: dx = dy * rstd.
    Saves weight, and xhat and rstd as ``derived`` from x (recomputed for create_graph).
    ``fixed_stats``: the given (mean, var), each of shape (C,), or None (for graph readers:
    an ONNX export writes them); ``eps`` as given.
    """

    fresh_grads = True  # every gradient is a new array (or a view of one, or grad_output)

    def __init__(self, x, weight, bias, layout, xhat, rstd, recipe, eps, fixed_stats):
        super().__init__(x, weight, bias)
        self.layout = layout
        self.eps = eps
        self.fixed_stats = fixed_stats
        self.batch_stats = fixed_stats is None
        self.save_for_backward(weight, derived(xhat, lambda x: recipe(x)[0], x),
                               derived(rstd, lambda x: recipe(x)[1], x))

    def backward(self, grad_output):
        weight, xhat, rstd = self.saved_tensors
        if self.batch_stats and self._weight_is_constant_over_the_axes():
            return self._per_channel_backward(grad_output, weight, xhat, rstd)
        layout = self.layout
        grad_x = grad_weight = grad_bias = None
        if self.needs_input_grad[0]:
            dy = grad_output
            if weight is not None:
                dy = grad_output * weight.reshape(layout.affine_shape)
            grad_x = self._input_grad(dy, xhat, rstd)
        if self.needs_input_grad[1]:
            grad_weight = unbroadcast(grad_output * xhat, layout.affine_shape).reshape(
                self.input_shapes[1])
        if self.needs_input_grad[2]:
            grad_bias = unbroadcast(grad_output, layout.affine_shape).reshape(self.input_shapes[2])
        return grad_x, grad_weight, grad_bias

    def _weight_is_constant_over_the_axes(self):
        """True for batch_norm and instance_norm: one weight per channel, statistics over
        axes other than the channel's (not group_norm's regrouped view, not layer_norm's)."""
        layout = self.layout
        if layout.view_shape != self.input_shapes[0]:
            return False
        affine = (1,) * (len(layout.view_shape) - len(layout.affine_shape)) + layout.affine_shape
        return all(affine[a] == 1 for a in layout.axes)

    def _per_channel_backward(self, grad_output, weight, xhat, rstd):
        """The batch-statistics backward when the weight is constant over the normalised
        axes: it factors out of the means, whose sums are then the bias's and the weight's
        gradients too (three full passes fewer than the general form)."""
        layout = self.layout
        count = max(layout.count, 1)
        sum_g = grad_output.sum(axis=layout.axes, keepdims=True)
        sum_g_xhat = (grad_output * xhat).sum(axis=layout.axes, keepdims=True)
        grad_x = grad_weight = grad_bias = None
        if self.needs_input_grad[0]:
            scale = rstd if weight is None else rstd * weight.reshape(layout.affine_shape)
            grad_x = (grad_output - sum_g / count - xhat * (sum_g_xhat / count)) * scale
        if self.needs_input_grad[1]:
            grad_weight = unbroadcast(sum_g_xhat, layout.affine_shape).reshape(self.input_shapes[1])
        if self.needs_input_grad[2]:
            grad_bias = unbroadcast(sum_g, layout.affine_shape).reshape(self.input_shapes[2])
        return grad_x, grad_weight, grad_bias

    def _input_grad(self, dy, xhat, rstd):
        if not self.batch_stats:
            return dy * rstd  # given statistics are per channel: rstd broadcasts against x
        layout = self.layout
        count = max(layout.count, 1)
        dy = dy.reshape(layout.view_shape)
        xhat = xhat.reshape(layout.view_shape)
        mean_dy = dy.sum(axis=layout.axes, keepdims=True) / count
        mean_dy_xhat = (dy * xhat).sum(axis=layout.axes, keepdims=True) / count
        return ((dy - mean_dy - xhat * mean_dy_xhat) * rstd).reshape(self.input_shapes[0])


# One class name per layer, as PyTorch's nodes (NativeBatchNormBackward0, ...): what the
# graph shows and what an ONNX conversion is registered for.
class BatchNormGradFn(NormalizationGradFn):
    pass


class LayerNormGradFn(NormalizationGradFn):
    pass


class GroupNormGradFn(NormalizationGradFn):
    pass


class InstanceNormGradFn(NormalizationGradFn):
    pass


def _normalize(node_class, x, weight, bias, layout, eps, stats=None):
    """(output Tensor, mean, var): ``x`` standardised over ``layout`` (with the given
    ``stats`` = (mean, var) broadcastable to the view, or the input's own) then scaled and
    shifted; mean and var are those used, in the view's kept shape."""
    arr = x.arr
    if stats is None:
        def recipe(x):
            return _standardized(x, layout, eps)[:2]

        xhat, rstd, mean, var = _standardized(arr, layout, eps)
    else:
        # copies: the running statistics are buffers, updated in place by later calls
        mean, var = (s.astype(arr.dtype) for s in stats)
        rstd = (var + eps) ** -0.5

        def recipe(x):
            return (x - mean) * rstd, rstd

        xhat = (arr - mean) * rstd
    out = xhat * weight.arr.reshape(layout.affine_shape) if weight is not None else xhat.copy()
    if bias is not None:
        out += bias.arr.reshape(layout.affine_shape)
    fn = None
    if needs_grad(x, weight, bias):
        fixed_stats = None if stats is None else (mean.reshape(-1), var.reshape(-1))
        fn = node_class(x, weight, bias, layout, xhat, rstd, recipe, eps, fixed_stats)
    return Tensor._wrap(out, fn), mean, var


# ------------------------------------------------------------------------ argument checks
def _float_input(input, name):
    x = as_tensor(input)
    if not dtypes.is_floating(x.dtype):
        raise NotImplementedError(f'"{name}" not implemented for dtype {x.dtype}')
    return x


def _optional(t):
    return None if t is None else as_tensor(t)


def _check_dtypes(x, *tensors):
    """PyTorch's CPU kernels take one dtype for the input and every per-feature tensor."""
    if any(t is not None and t.dtype != x.dtype for t in tensors):
        found = ", ".join(str(t.dtype) for t in (x, *tensors) if t is not None)
        raise RuntimeError(f"mixed dtype (CPU): all inputs must share same datatype (got {found})")


def _check_per_channel(channels, **tensors):
    """PyTorch's check that each per-channel tensor has one element per channel."""
    for name, t in tensors.items():
        if t is not None and t.arr.size != channels:
            raise RuntimeError(f"{name} should contain {channels} elements not {t.arr.size}")


def _channel_layout(shape, stat_axes):
    """The layout of a per-channel op on (N, C, *): statistics over ``stat_axes``."""
    affine = [1] * len(shape)
    affine[1] = shape[1]
    return _layout(shape, shape, stat_axes, affine)


def _update_running(running, batch_value, momentum):
    """running = (1 - momentum) * running + momentum * batch_value, in place (a buffer: the
    state_dict shares its array)."""
    with no_grad():
        arr = running.arr
        arr *= 1 - momentum
        arr += (momentum * batch_value).astype(arr.dtype, copy=False)
        running._bump_version()


# ------------------------------------------------------------------------------- the layers
def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-5):
    """Normalise each channel of (N, C, *) over the batch and every other axis.

    ``training``: with the batch's statistics, and, if ``running_mean`` / ``running_var`` are
    given, update them in place: ``(1 - momentum) * running + momentum * batch``, with the
    unbiased variance for ``running_var`` (the biased one normalises). Otherwise with the
    running statistics. weight, bias, running_mean, running_var: (C,) or None.
    """
    x = _float_input(input, "batch_norm")
    weight, bias = _optional(weight), _optional(bias)
    running_mean, running_var = _optional(running_mean), _optional(running_var)
    shape = x.shape
    channels = shape[1] if len(shape) > 1 else 0
    _check_per_channel(channels, running_mean=running_mean, running_var=running_var,
                       weight=weight, bias=bias)
    _check_dtypes(x, running_mean, running_var, weight, bias)
    if len(shape) < 2:
        raise RuntimeError(f"batch_norm expects an input of at least 2 dimensions (N, C, *), "
                           f"got shape {shape}")
    if training:
        if shape[0] * math.prod(shape[2:]) == 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got input "
                             f"size {shape}")
        if eps <= 0.0:
            raise ValueError(f"batch_norm eps must be positive during training, but got {eps}")
    elif eps < 0.0:
        raise ValueError(f"batch_norm eps must be non-negative, but got {eps}")
    layout = _channel_layout(shape, [0, *range(2, len(shape))])
    if not training:
        if running_mean is None or running_var is None:
            raise RuntimeError("running_mean must be defined in evaluation mode")
        stats = (running_mean.arr.reshape(layout.affine_shape),
                 running_var.arr.reshape(layout.affine_shape))
        return _normalize(BatchNormGradFn, x, weight, bias, layout, eps, stats)[0]
    out, mean, var = _normalize(BatchNormGradFn, x, weight, bias, layout, eps)
    if layout.count and running_mean is not None:  # an empty batch leaves them as they were
        _update_running(running_mean, mean.reshape(-1), momentum)
    if layout.count and running_var is not None:
        unbiased = var.reshape(-1) * (layout.count / (layout.count - 1))
        _update_running(running_var, unbiased, momentum)
    return out


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalise over the last ``len(normalized_shape)`` axes, which must equal
    ``normalized_shape``; weight and bias have that shape (or are None)."""
    x = _float_input(input, "layer_norm")
    if isinstance(normalized_shape, numbers.Integral):
        normalized_shape = (normalized_shape,)
    normalized = tuple(int(s) for s in normalized_shape)
    shape = x.shape
    if not normalized:
        raise RuntimeError("Expected normalized_shape to be at least 1-dimensional, i.e., "
                           "containing at least one element, but got normalized_shape = []")
    if tuple(shape[len(shape) - len(normalized):]) != normalized or len(shape) < len(normalized):
        raise RuntimeError(f"Given normalized_shape={list(normalized)}, expected input with shape "
                           f"[*, {', '.join(map(str, normalized))}], but got input of size"
                           f"{list(shape)}")
    weight, bias = _optional(weight), _optional(bias)
    _check_dtypes(x, weight, bias)
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != normalized:
            raise RuntimeError(f"Expected {name} to be of same shape as normalized_shape, but got "
                               f"{name} of shape {list(t.shape)} and normalized_shape = "
                               f"{list(normalized)}")
    axes = range(len(shape) - len(normalized), len(shape))
    return _normalize(LayerNormGradFn, x, weight, bias, _layout(shape, shape, axes, normalized),
                      eps)[0]


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Normalise (N, C, *) over each of ``num_groups`` groups of C / num_groups consecutive
    channels (and every spatial position); weight and bias per channel, (C,) or None."""
    x = _float_input(input, "group_norm")
    shape = x.shape
    if len(shape) < 2:
        raise RuntimeError(f"Expected at least 2 dimensions for input tensor but received "
                           f"{len(shape)}")
    if num_groups <= 0 or shape[1] % num_groups:
        raise RuntimeError(f"Expected number of channels in input to be divisible by num_groups, "
                           f"but got input of shape {list(shape)} and num_groups={num_groups}")
    weight, bias = _optional(weight), _optional(bias)
    _check_dtypes(x, weight, bias)
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and (t.ndim != 1 or t.shape[0] != shape[1]):
            raise RuntimeError(f"Expected {name} to be a vector of size equal to the number of "
                               f"channels in input, but got {name} of shape {list(t.shape)} and "
                               f"input of shape {list(shape)}")
    view = (shape[0], num_groups, math.prod(shape[1:]) // num_groups)
    affine = [1] * len(shape)
    affine[1] = shape[1]
    return _normalize(GroupNormGradFn, x, weight, bias, _layout(shape, view, [2], affine), eps)[0]


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None,
                  use_input_stats=True, momentum=0.1, eps=1e-5):
    """Normalise each channel of each sample of (N, C, *) over its spatial axes.

    ``use_input_stats``: with each instance's statistics, and update given running statistics
    with their mean over the batch (as batch_norm does, unbiased variance); otherwise with the
    running statistics, (C,) each.
    """
    x = _float_input(input, "instance_norm")
    shape = x.shape
    if len(shape) < 2:
        raise RuntimeError(f"instance_norm expects an input of at least 2 dimensions (N, C, *), "
                           f"got shape {shape}")
    weight, bias = _optional(weight), _optional(bias)
    running_mean, running_var = _optional(running_mean), _optional(running_var)
    _check_per_channel(shape[1], running_mean=running_mean, running_var=running_var,
                       weight=weight, bias=bias)
    _check_dtypes(x, running_mean, running_var, weight, bias)
    layout = _channel_layout(shape, range(2, len(shape)))
    if not use_input_stats:
        if running_mean is None or running_var is None:
            raise RuntimeError("Expected running_mean and running_var to be defined when "
                               "use_input_stats is false")
        stats = (running_mean.arr.reshape(layout.affine_shape),
                 running_var.arr.reshape(layout.affine_shape))
        return _normalize(InstanceNormGradFn, x, weight, bias, layout, eps, stats)[0]
    if layout.count == 1:
        raise ValueError(f"Expected more than 1 spatial element when training, got input size "
                         f"{shape}")
    out, mean, var = _normalize(InstanceNormGradFn, x, weight, bias, layout, eps)
    updates = shape[0] and layout.count  # an empty batch leaves them as they were
    if updates and running_mean is not None:
        _update_running(running_mean, mean.mean(axis=0).reshape(-1), momentum)
    if updates and running_var is not None:
        unbiased = var.mean(axis=0).reshape(-1) * (layout.count / (layout.count - 1))
        _update_running(running_var, unbiased, momentum)
    return out
