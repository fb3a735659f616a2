"""Compare analytic gradients with central differences, in float64, along a random cotangent.

The scalar checked is ``sum(f(inputs) * c)`` with a random ``c``: a plain ``sum`` would hide
gradients that are right in total but sent to the wrong elements (a permutation bug).
``gradgradcheck`` checks second derivatives the same way: gradcheck of the function that
computes the first derivatives with ``create_graph=True``.
"""
import numpy as np

from fastgrad.autograd.grad_mode import enable_grad
from fastgrad.autograd.tensor import Tensor


class GradcheckError(RuntimeError):
    """An analytic gradient disagrees with the finite-difference one."""


def _outputs(fn, inputs):
    out = fn(*inputs)
    outs = out if isinstance(out, (tuple, list)) else (out,)
    return [o for o in outs if isinstance(o, Tensor) and o.arr.dtype.kind == "f"]


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, seed=0, raise_exception=True):
    """Check ``fn``'s gradients w.r.t. every float64 input Tensor that requires grad.

    ``fn(*inputs)`` returns a Tensor (or a tuple; every float output is checked). Each input
    that requires grad must be float64, since float32 differences are too coarse. Returns
    True, or raises ``GradcheckError`` naming the input, the element and both values (returns
    False instead with ``raise_exception=False``).
    """
    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    checked = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not checked:
        raise ValueError("gradcheck: no input Tensor requires grad")
    for i in checked:
        if inputs[i].arr.dtype != np.float64:
            raise TypeError(
                f"gradcheck: input {i} has dtype {inputs[i].arr.dtype}; gradcheck needs float64 inputs"
            )
    rng = np.random.default_rng(seed)
    with enable_grad():
        outs = _outputs(fn, inputs)
        cotangents = [rng.standard_normal(o.arr.shape) for o in outs]

        def objective():
            return float(sum(np.sum(o.arr * c) for o, c in zip(_outputs(fn, inputs), cotangents)))

        for i in checked:
            inputs[i].grad = None
        for o, c in zip(outs, cotangents):
            if o.requires_grad:
                o.backward(c.astype(o.arr.dtype), retain_graph=True)
        for i in checked:
            x = inputs[i]
            analytic = np.zeros(x.arr.shape) if x.grad is None else x.grad.arr.astype(np.float64)
            numeric = np.zeros(x.arr.shape)
            flat = x.arr.reshape(-1)  # a view: perturbing it perturbs the input in place
            if flat.size and not np.shares_memory(flat, x.arr):  # (empty arrays share none)
                raise ValueError(f"gradcheck: input {i} must be contiguous")
            for k in range(flat.size):
                original = flat[k]
                flat[k] = original + eps
                plus = objective()
                flat[k] = original - eps
                minus = objective()
                flat[k] = original
                numeric.reshape(-1)[k] = (plus - minus) / (2 * eps)
            bad = ~np.isclose(analytic, numeric, atol=atol, rtol=rtol)
            if bad.any():
                where = tuple(int(v) for v in np.argwhere(bad)[0])
                message = (
                    f"gradcheck: gradient of input {i} (shape {x.shape}) is wrong at element "
                    f"{where}: analytic {analytic[where]:.6g}, numerical {numeric[where]:.6g} "
                    f"({int(bad.sum())} of {bad.size} elements differ)"
                )
                if raise_exception:
                    raise GradcheckError(message)
                return False
    return True


def gradgradcheck(fn, inputs, grad_outputs=None, eps=1e-6, atol=1e-5, rtol=1e-3, seed=0,
                  raise_exception=True):
    """Check ``fn``'s second derivatives, as ``torch.autograd.gradgradcheck``.

    The first derivative ``g(inputs, v) = vjp of fn at inputs along v`` is computed with
    ``create_graph=True``; ``gradcheck`` then compares its gradients w.r.t. the inputs and to
    ``v`` with central differences. ``v`` (one per float output that requires grad): the given
    ``grad_outputs``, else random float64 tensors; they require grad. Inputs as for
    ``gradcheck`` (float64).
    """
    from fastgrad.autograd.differentiate import grad

    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    checked = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not checked:
        raise ValueError("gradgradcheck: no input Tensor requires grad")
    with enable_grad():
        outs = [o for o in _outputs(fn, inputs) if o.requires_grad]
    if grad_outputs is None:
        rng = np.random.default_rng(seed + 1)
        grad_outputs = [Tensor(rng.standard_normal(o.arr.shape), dtype=np.float64,
                               requires_grad=True) for o in outs]
    if not isinstance(grad_outputs, (tuple, list)):
        grad_outputs = (grad_outputs,)
    grad_outputs = tuple(grad_outputs)
    if len(grad_outputs) != len(outs):
        raise ValueError(f"gradgradcheck: {len(grad_outputs)} grad_outputs for {len(outs)} "
                         "outputs that require grad")
    n = len(inputs)

    def first_derivatives(*args):
        xs, vs = args[:n], args[n:]
        outs = [o for o in _outputs(fn, xs) if o.requires_grad]
        grads = grad(outs, [xs[i] for i in checked], vs, create_graph=True, allow_unused=True)
        # an input the outputs do not depend on: a zero first derivative, constant
        return tuple(Tensor._wrap(np.zeros(xs[i].arr.shape)) if g is None else g
                     for i, g in zip(checked, grads))

    return gradcheck(first_derivatives, inputs + grad_outputs, eps=eps, atol=atol, rtol=rtol,
                     seed=seed, raise_exception=raise_exception)
