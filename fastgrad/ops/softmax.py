"""softmax and log_softmax along a dim, stable for large inputs (shifted by the max)."""
import numpy as np

from fastgrad.autograd.function import GradFn, derived, needs_grad
from fastgrad.autograd.tensor import Tensor
from fastgrad.ops import backend
from fastgrad.ops._methods import tensor_method
from fastgrad.ops._operands import (as_tensor, float_array, normalize_dim, normalize_dims,
                                     wrap_saving_output)


class SoftmaxGradFn(GradFn):
    fresh_grads = True

    def __init__(self, x, axis):
        super().__init__(x)
        self.axis = axis

    def backward(self, grad_output):
        out, = self.saved_tensors  # saved by wrap_saving_output
        inner = (grad_output * out).sum(axis=self.axis, keepdims=True)
        return (out * (grad_output - inner),)


@tensor_method()
def softmax(x, dim):
    x = as_tensor(x)
    axis = normalize_dim(dim, x.arr.ndim)
    arr = float_array(x)
    if arr.ndim == 0:
        out = np.ones_like(arr)
    elif arr.size == 0:
        out = arr.copy()  # nothing to normalise (PyTorch returns the empty tensor)
    else:
        shifted = arr - np.max(arr, axis=axis, keepdims=True)
        e = np.exp(shifted)
        out = e / np.sum(e, axis=axis, keepdims=True)
    fn = SoftmaxGradFn(x, axis if arr.ndim else None) if needs_grad(x) else None
    return wrap_saving_output(out, fn)


class LogSoftmaxGradFn(GradFn):
    fresh_grads = True

    def __init__(self, x, axis):
        super().__init__(x)
        self.axis = axis

    def backward(self, grad_output):
        out, = self.saved_tensors  # saved by wrap_saving_output
        total = grad_output.sum(axis=self.axis, keepdims=True)
        return (grad_output - backend.exp(out) * total,)


@tensor_method()
def log_softmax(x, dim):
    x = as_tensor(x)
    axis = normalize_dim(dim, x.arr.ndim)
    arr = float_array(x)
    if arr.ndim == 0:
        out = np.zeros_like(arr)
    elif arr.size == 0:
        out = arr.copy()
    else:
        shifted = arr - np.max(arr, axis=axis, keepdims=True)
        out = shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))
    fn = LogSoftmaxGradFn(x, axis if arr.ndim else None) if needs_grad(x) else None
    return wrap_saving_output(out, fn)


class LogsumexpGradFn(GradFn):
    """d logsumexp = grad * exp(x - out), PyTorch's formula (nan at an infinite result)."""

    fresh_grads = True

    def __init__(self, x, out_kept, axes):
        super().__init__(x)
        # (x requires grad, so it is float: arr is x.arr)
        self.save_for_backward(x, derived(out_kept, lambda x: logsumexp(x, axes, keepdim=True), x))

    def backward(self, grad_output):
        arr, out_kept = self.saved_tensors
        g = grad_output.reshape(out_kept.shape)
        with np.errstate(invalid="ignore", over="ignore"):
            return (g * backend.exp(arr - out_kept),)


@tensor_method()
def logsumexp(x, dim, keepdim=False):
    """log(sum(exp(x), dim)), shifted by the max for stability; not shifted where the max is
    +-inf, so that [inf, 1] gives inf and all -inf gives -inf (as PyTorch), not nan."""
    x = as_tensor(x)
    arr = float_array(x)
    axes = normalize_dims(dim, arr.ndim)
    if dim is not None and not axes and arr.ndim:
        raise RuntimeError("logsumexp: dim must name at least one dimension, got an empty list")
    if arr.size:
        peak = np.max(arr, axis=axes, keepdims=True)
        peak = np.where(np.isinf(peak), 0, peak).astype(arr.dtype, copy=False)
    else:
        peak = np.zeros((1,) * arr.ndim, dtype=arr.dtype)  # the logsumexp of nothing is -inf
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        out_kept = np.log(np.sum(np.exp(arr - peak), axis=axes, keepdims=True)) + peak
    out = out_kept if keepdim else out_kept.reshape(
        () if axes is None else tuple(s for i, s in enumerate(arr.shape) if i not in axes))
    fn = LogsumexpGradFn(x, out_kept, axes) if needs_grad(x) else None
    return Tensor._wrap(np.asarray(out), fn)
