"""``backward`` and ``grad``: the two ways to run the engine, as ``torch.autograd``'s.

``backward(tensors, grad_tensors)`` accumulates into the ``.grad`` of the leaves;
``grad(outputs, inputs, grad_outputs)`` returns the gradients of ``inputs`` and touches no
``.grad``. With ``create_graph=True`` the backward pass is recorded, so what they give can be
differentiated again (Hessian-vector products, gradient penalties).
"""
import numpy as np

from fastgrad.autograd.engine import run_backward


def _as_tuple(value):
    if isinstance(value, (tuple, list)):
        return tuple(value)
    return (value,)


def _cotangents(outputs, grad_outputs, create_graph):
    """One cotangent per output, checked: an ndarray first-order, a Tensor with create_graph
    (a Tensor given keeps its graph, so ``grad_outputs`` can be differentiated too)."""
    from fastgrad.autograd.tensor import Tensor

    if grad_outputs is None:
        grad_outputs = (None,) * len(outputs)
    grad_outputs = _as_tuple(grad_outputs)
    if len(grad_outputs) != len(outputs):
        raise RuntimeError(f"grad can be implicitly created only for scalar outputs: got "
                           f"{len(grad_outputs)} grad_outputs for {len(outputs)} outputs")
    grads = []
    for i, (out, given) in enumerate(zip(outputs, grad_outputs)):
        if not isinstance(out, Tensor):
            raise TypeError(f"outputs must be Tensors, got {type(out).__name__} (output {i})")
        if out.grad_fn is None and not out.requires_grad:
            raise RuntimeError(
                f"element {i} of tensors does not require grad and does not have a grad_fn (a "
                f"tensor of shape {out.shape}, made outside the graph or under no_grad)"
            )
        if given is None:
            if out.arr.size != 1:
                raise RuntimeError(
                    "grad can be implicitly created only for scalar outputs; this tensor has "
                    f"shape {out.shape}: pass a gradient of that shape"
                )
            grad = np.ones_like(out.arr)
            grads.append(Tensor._wrap(grad) if create_graph else grad)
            continue
        arr = given.arr if isinstance(given, Tensor) else np.asarray(given)
        if arr.shape != out.arr.shape:
            which = f" (output {i})" if len(outputs) > 1 else ""
            raise RuntimeError(
                f"Mismatch in shape: gradient has a shape of {arr.shape} and the output{which} "
                f"has a shape of {out.shape}"
            )
        if create_graph:
            given = given if isinstance(given, Tensor) else Tensor._wrap(np.array(arr))
            grads.append(given if given.dtype == out.dtype else given.astype(out.dtype))
        else:
            grads.append(arr.astype(out.arr.dtype, copy=False))
    return grads


def _roots(outputs):
    return [out if out.grad_fn is None else out.grad_fn for out in outputs]


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulate the gradients of ``tensors`` (along ``grad_tensors``) into the leaves'
    ``.grad`` (only those of ``inputs`` when given). ``retain_graph`` defaults to
    ``create_graph``; without it the graph's saved arrays are freed."""
    retain_graph = create_graph if retain_graph is None else retain_graph
    if (grad_tensors is None and inputs is None and not create_graph
            and getattr(tensors, "grad_fn", None) is not None and tensors.arr.size == 1):
        # every training step's ``loss.backward()``: nothing to check
        run_backward((tensors.grad_fn,), (np.ones_like(tensors.arr),), retain_graph)
        return
    tensors = _as_tuple(tensors)
    grads = _cotangents(tensors, grad_tensors, create_graph)
    if inputs is None:
        run_backward(_roots(tensors), grads, retain_graph, create_graph)
        return
    inputs = _checked_inputs(inputs)
    from fastgrad.autograd.engine import accumulate_into_leaf

    results = run_backward(_roots(tensors), grads, retain_graph, create_graph, inputs=inputs)
    for tensor, result in zip(inputs, results):
        if result is not None:
            accumulate_into_leaf(tensor, result if create_graph else result.arr, owned=True)


def _checked_inputs(inputs):
    from fastgrad.autograd.tensor import Tensor

    inputs = _as_tuple(inputs)
    if not inputs:
        raise RuntimeError("grad requires non-empty inputs.")
    for i, t in enumerate(inputs):
        if not isinstance(t, Tensor):
            raise TypeError(f"inputs must be Tensors, got {type(t).__name__} (input {i})")
        if not t.requires_grad:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
    return inputs


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=False):
    """The gradients of ``outputs`` (along ``grad_outputs``) w.r.t. each of ``inputs``, as a
    tuple of Tensors; no ``.grad`` is touched. An input the outputs do not depend on raises,
    unless ``allow_unused=True`` (its gradient is then None). ``retain_graph`` defaults to
    ``create_graph``; with ``create_graph=True`` the gradients have a ``grad_fn``.
    """
    outputs = _as_tuple(outputs)
    inputs = _checked_inputs(inputs)
    retain_graph = create_graph if retain_graph is None else retain_graph
    grads = _cotangents(outputs, grad_outputs, create_graph)
    results = run_backward(_roots(outputs), grads, retain_graph, create_graph, inputs=inputs)
    if not allow_unused and any(r is None for r in results):
        raise RuntimeError(
            "One of the differentiated Tensors appears to not have been used in the graph. Set "
            "allow_unused=True if this is the desired behavior."
        )
    return tuple(results)
