"""``linear_map``: a linear function of one tensor, given as two array functions (the map and
its adjoint), made differentiable to any order.

Why: a pool's input gradient is linear in the output gradient (the forward fixed the windows
and the argmax), so its backward can run the same numba kernel on arrays first-order and still
be recorded with create_graph: the derivative of ``g -> A g`` is ``h -> A^T h``, and the
derivative of that is ``A`` again. ARCHITECTURE.md, "Higher-order gradients".
"""
from fastgrad.autograd.function import GradFn, needs_grad
from fastgrad.autograd.tensor import Tensor


class LinearMapGradFn(GradFn):
    fresh_grads = True  # both maps allocate their results

    def __init__(self, x, apply, adjoint):
        super().__init__(x)
        self.apply = apply
        self.adjoint = adjoint

    def backward(self, grad_output):
        return (linear_map(grad_output, self.adjoint, self.apply),)


def linear_map(x, apply, adjoint):
    """``apply(x)`` for an ndarray ``x``; for a Tensor, the same values as a Tensor whose
    backward is ``linear_map(grad, adjoint, apply)``.

    ``apply`` and ``adjoint``: ndarray -> new ndarray, linear, adjoint to each other
    (``<apply(u), v> == <u, adjoint(v)>`` for every u, v of the right shapes and dtype)."""
    if not isinstance(x, Tensor):
        return apply(x)
    out = apply(x.arr)
    return Tensor._wrap(out, LinearMapGradFn(x, apply, adjoint) if needs_grad(x) else None)
