"""Gradient clipping: rescale (``clip_grad_norm_``) or clamp (``clip_grad_value_``) the
``.grad`` of parameters in place, with ``torch.nn.utils``'s rules."""
import math

import numpy as np

from fastgrad.autograd.tensor import Tensor


def _grads(parameters):
    """The ``.grad`` tensors of ``parameters`` (a Tensor or an iterable of them) that have one."""
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


def _vector_norm(arr, norm_type):
    """The ``norm_type``-norm of ``arr`` flattened (inf: max |x|, -inf: min |x|, 0: count of
    non-zeros), in float64; an empty ``arr`` has norm 0 (``torch.linalg.vector_norm``)."""
    flat = np.abs(arr.ravel().astype(np.float64, copy=False))
    if norm_type == math.inf:
        return float(flat.max()) if flat.size else 0.0
    if norm_type == -math.inf:
        return float(flat.min()) if flat.size else math.inf
    if norm_type == 0:
        return float(np.count_nonzero(flat))
    return float(np.sum(flat ** norm_type) ** (1.0 / norm_type))


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Scale the gradients so that their joint ``norm_type``-norm is at most ``max_norm``.

    The joint norm is the norm of the vector of every gradient's norm (as if all gradients
    were one vector). Every gradient is multiplied by ``min(1, max_norm / (norm + 1e-6))``
    in place. Parameters without ``.grad`` are skipped. ``foreach`` is accepted for PyTorch
    compatibility; there is one implementation.

    Returns the total norm before clipping as a 0-d tensor of the gradients' dtype (0.0 when
    no parameter has a gradient). Raises RuntimeError, before changing anything, when the
    norm is NaN or infinite and ``error_if_nonfinite`` is set.
    """
    grads = _grads(parameters)
    norm_type = float(norm_type)
    if not grads:
        return Tensor._wrap(np.asarray(0.0, dtype=np.float32))
    dtype = np.result_type(*(g.arr.dtype for g in grads))
    total = _vector_norm(np.array([_vector_norm(g.arr, norm_type) for g in grads]), norm_type)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(
            f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, "
            "so it cannot be clipped. To disable this error and scale the gradients by the "
            "non-finite norm anyway, set `error_if_nonfinite=False`"
        )
    coef = min(float(max_norm) / (total + 1e-6), 1.0)
    for g in grads:
        with np.errstate(invalid="ignore"):  # inf * 0 after a non-finite norm: NaN, silently
            g.arr *= g.arr.dtype.type(coef)
        g._bump_version()
    return Tensor._wrap(np.asarray(total, dtype=dtype))


def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clamp every gradient into ``[-clip_value, clip_value]`` in place; returns None."""
    clip_value = float(clip_value)
    for g in _grads(parameters):
        np.clip(g.arr, -clip_value, clip_value, out=g.arr)
        g._bump_version()
