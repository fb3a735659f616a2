"""Inverted dropout: zero each element with probability p, scale the rest by 1/(1-p)."""
import numpy as np

from fastgrad.autograd.function import GradFn, needs_grad
from fastgrad.autograd.tensor import Tensor
from fastgrad.ops._operands import as_tensor
from fastgrad.random import default_generator


class DropoutGradFn(GradFn):
    fresh_grads = True

    def __init__(self, x, scale_mask):
        super().__init__(x)
        self.save_for_backward(scale_mask)

    def backward(self, grad_output):
        scale_mask, = self.saved_tensors
        return (grad_output * scale_mask,)


def dropout(x, p=0.5, training=True, inplace=False, generator=None):
    """In training, the expected value is unchanged; in eval (or p == 0) ``x`` passes as is.

    ``inplace=True`` writes the result into ``x`` and returns ``x`` (PyTorch's in-place form;
    the gradient flows as through the out-of-place one).
    """
    if inplace and training and p != 0.0:
        out = dropout(x, p, training, generator=generator)
        return x.copy_(out)
    x = as_tensor(x)
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return x
    gen = generator or default_generator()
    if p == 1.0:
        scale_mask = np.zeros(x.shape, dtype=x.dtype)
    else:
        keep = gen.random(x.shape, dtype=np.float32) >= p
        scale_mask = keep.astype(x.dtype) * x.dtype.type(1.0 / (1.0 - p))
    out = x.arr * scale_mask
    return Tensor._wrap(out, DropoutGradFn(x, scale_mask) if needs_grad(x) else None)
