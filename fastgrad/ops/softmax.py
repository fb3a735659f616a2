"""softmax and log_softmax along a dim, stable for large inputs (shifted by the max)."""
import numpy as np

from fastgrad.autograd.function import GradFn, needs_grad
from fastgrad.ops._operands import as_tensor, float_array, normalize_dim, wrap_saving_output


class SoftmaxGradFn(GradFn):
    def __init__(self, x, out, axis):
        super().__init__(x)
        self.out = out
        self.axis = axis

    def backward(self, grad_output):
        inner = np.sum(grad_output * self.out, axis=self.axis, keepdims=True)
        return (self.out * (grad_output - inner),)


def softmax(x, dim):
    x = as_tensor(x)
    axis = normalize_dim(dim, x.arr.ndim)
    arr = float_array(x)
    if arr.ndim == 0:
        out = np.ones_like(arr)
    else:
        shifted = arr - np.max(arr, axis=axis, keepdims=True)
        e = np.exp(shifted)
        out = e / np.sum(e, axis=axis, keepdims=True)
    return wrap_saving_output(out, SoftmaxGradFn(x, out, axis if arr.ndim else None) if needs_grad(x) else None)


class LogSoftmaxGradFn(GradFn):
    def __init__(self, x, out, axis):
        super().__init__(x)
        self.out = out
        self.axis = axis

    def backward(self, grad_output):
        total = np.sum(grad_output, axis=self.axis, keepdims=True)
        return (grad_output - np.exp(self.out) * total,)


def log_softmax(x, dim):
    x = as_tensor(x)
    axis = normalize_dim(dim, x.arr.ndim)
    arr = float_array(x)
    if arr.ndim == 0:
        out = np.zeros_like(arr)
    else:
        shifted = arr - np.max(arr, axis=axis, keepdims=True)
        out = shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))
    return wrap_saving_output(out, LogSoftmaxGradFn(x, out, axis if arr.ndim else None) if needs_grad(x) else None)


def logsumexp(x, dim, keepdim=False):
    """log(sum(exp(x), dim)), stable; differentiable through the ops it is made of."""
    from fastgrad.ops.elementwise import exp, log
    from fastgrad.ops.reduction import amax, sum

    x = as_tensor(x)
    peak = amax(x, dim, keepdim=True).detach()
    out = log(sum(exp(x - peak), dim, keepdim=True)) + peak
    return out if keepdim else out.squeeze(dim)
