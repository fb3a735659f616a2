"""Derivatives of whole functions, as ``torch.autograd.functional``: ``vjp``, ``jvp``,
``jacobian``, ``hessian``, ``vhp``, ``hvp``.

``func`` takes ``inputs`` (a Tensor or a tuple of Tensors) and returns a Tensor or a tuple of
Tensors; results mirror those structures (a tuple in, a tuple out). Everything is reverse
mode on ``autograd.grad``: ``jvp`` and ``hvp`` use the double-backward trick (the vjp is
linear in its cotangent ``u``, so differentiating it w.r.t. ``u`` along ``v`` gives J v), which
needs create_graph backwards. Results are cut from the graph unless ``create_graph=True``.
An input the outputs do not depend on gets zeros, or raises with ``strict=True``.
``vectorize`` is accepted for PyTorch's signature: it only changes how PyTorch batches the
rows, and the rows here are computed one by one either way.
"""
import numpy as np

from fastgrad.autograd.differentiate import grad
from fastgrad.autograd.grad_mode import enable_grad
from fastgrad.autograd.tensor import Tensor


def _as_tuple(value, arg_name, fn_name):
    is_tuple = isinstance(value, (tuple, list))
    values = tuple(value) if is_tuple else (value,)
    for i, v in enumerate(values):
        if not isinstance(v, Tensor):
            where = f"element {i} of the {arg_name}" if is_tuple else f"the {arg_name}"
            raise TypeError(f"The {arg_name} given to {fn_name} must be either a Tensor or a "
                            f"tuple of Tensors but {where} has type {type(v).__name__}.")
    return is_tuple, values


def _prepare(inputs, create_graph):
    """Inputs that require grad for the differentiation: with ``create_graph`` a view keeping
    the caller's graph (so the result can be differentiated w.r.t. the originals), else a
    detached copy of the data."""
    return tuple(x.view_as(x) if create_graph and x.requires_grad
                 else x.detach().requires_grad_(True) for x in inputs)


def _finish(values, create_graph):
    """Results cut from the graph unless ``create_graph``."""
    return tuple(v if create_graph else v.detach() for v in values)


def _grads(outputs, inputs, cotangents, create_graph, strict, what):
    """grad(outputs, inputs, cotangents) with zeros (or an error if ``strict``) for inputs the
    outputs do not depend on; outputs that do not require grad contribute nothing."""
    pairs = [(o, c) for o, c in zip(outputs, cotangents) if o.requires_grad]
    if pairs:
        results = grad([o for o, _ in pairs], inputs, [c for _, c in pairs], retain_graph=True,
                       create_graph=create_graph, allow_unused=True)
    else:
        results = (None,) * len(inputs)
    filled = []
    for i, (x, g) in enumerate(zip(inputs, results)):
        if g is None:
            if strict:
                raise RuntimeError(f"The output of the user-provided function is independent of "
                                   f"input {i}. This is not allowed in strict mode ({what}).")
            g = Tensor._wrap(np.zeros(x.shape, dtype=x.dtype))
        filled.append(g)
    return tuple(filled)


def _check_v(v, like, name, fn_name):
    if v is None:
        if len(like) != 1 or like[0].numel() != 1:
            raise RuntimeError(f"The vector v can only be None if the {name} of the "
                               f"user-provided function is a single Tensor with a single element.")
        return (Tensor._wrap(np.ones(like[0].shape, dtype=like[0].dtype)),)
    _, v = _as_tuple(v, "v", fn_name)
    if len(v) != len(like):
        raise RuntimeError(f"v is a tuple of invalid length: should be {len(like)} but got "
                           f"{len(v)}.")
    for i, (a, b) in enumerate(zip(v, like)):
        if a.shape != b.shape:
            raise RuntimeError(f"Entry {i} in v has invalid size: should be {b.shape} but got "
                               f"{a.shape}.")
    return v


def _call(func, inputs, fn_name):
    with enable_grad():
        is_tuple, outputs = _as_tuple(func(*inputs), "outputs of the user-provided function",
                                      fn_name)
    return is_tuple, outputs


def _shaped(is_tuple, values):
    return tuple(values) if is_tuple else values[0]


def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), v^T J): the vector-Jacobian product along ``v`` (outputs' shapes; may be
    None for a single one-element output)."""
    in_tuple, inputs = _as_tuple(inputs, "inputs", "vjp")
    inputs = _prepare(inputs, create_graph)
    out_tuple, outputs = _call(func, inputs, "vjp")
    v = _check_v(v, outputs, "output", "vjp")
    result = _grads(outputs, inputs, v, create_graph, strict, "vjp")
    return (_shaped(out_tuple, _finish(outputs, create_graph)),
            _shaped(in_tuple, _finish(result, create_graph)))


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), J v): the Jacobian-vector product along ``v`` (inputs' shapes; may be None
    for a single one-element input), by the double-backward trick."""
    in_tuple, inputs = _as_tuple(inputs, "inputs", "jvp")
    inputs = _prepare(inputs, create_graph)
    v = _check_v(v, inputs, "input", "jvp")
    out_tuple, outputs = _call(func, inputs, "jvp")
    # u: a dummy cotangent. The vjp u -> J^T u is linear in u: its derivative w.r.t. u along v
    # is J v.
    us = tuple(Tensor(np.zeros(o.shape, dtype=o.dtype), dtype=o.dtype, requires_grad=True)
               for o in outputs)
    vjps = _grads(outputs, inputs, us, True, strict, "jvp")
    with enable_grad():
        result = _grads(vjps, us, v, create_graph, strict, "jvp")
    return (_shaped(out_tuple, _finish(outputs, create_graph)),
            _shaped(out_tuple, _finish(result, create_graph)))


def _unit_vectors(tensor):
    """One-hot cotangents, one per element of ``tensor`` (row-major)."""
    for k in range(tensor.numel()):
        e = np.zeros(tensor.numel(), dtype=tensor.dtype)
        e[k] = 1
        yield Tensor._wrap(e.reshape(tensor.shape))


def _stack_rows(rows, out_shape, in_shape):
    """Gradients of each output element (``rows``, in order) as one (*out_shape, *in_shape)
    Tensor, written row by row (recorded when a row has a graph: ``create_graph``)."""
    dtype = rows[0].dtype if rows else np.float64
    stacked = Tensor._wrap(np.zeros((len(rows),) + tuple(in_shape), dtype=dtype))
    for k, row in enumerate(rows):
        stacked[k] = row
    return stacked.reshape(tuple(out_shape) + tuple(in_shape))


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False,
             strategy="reverse-mode"):
    """The Jacobian of ``func`` at ``inputs``: for output i and input j, a Tensor of shape
    ``outputs[i].shape + inputs[j].shape`` (nested as PyTorch's: a tuple per output of a tuple
    per input, each level only when ``func`` / ``inputs`` give tuples)."""
    if strategy not in ("reverse-mode", "forward-mode"):
        raise ValueError('Expected strategy to be either "forward-mode" or "reverse-mode". '
                         f'Hint: strategy got {strategy!r}')
    in_tuple, inputs = _as_tuple(inputs, "inputs", "jacobian")
    inputs = _prepare(inputs, create_graph)
    out_tuple, outputs = _call(func, inputs, "jacobian")
    blocks = [[None] * len(inputs) for _ in outputs]
    if strategy == "reverse-mode":
        for i, out in enumerate(outputs):
            rows = [[] for _ in inputs]
            for e in _unit_vectors(out):
                cotangents = [e if k == i else Tensor._wrap(np.zeros(o.shape, dtype=o.dtype))
                              for k, o in enumerate(outputs)]
                for j, g in enumerate(_grads(outputs, inputs, cotangents, create_graph, strict,
                                             "jacobian")):
                    rows[j].append(g)
            for j, x in enumerate(inputs):
                blocks[i][j] = _stack_rows(rows[j], out.shape, x.shape)
    else:
        for j, x in enumerate(inputs):
            columns = [[] for _ in outputs]
            for e in _unit_vectors(x):
                v = tuple(e if k == j else Tensor._wrap(np.zeros(y.shape, dtype=y.dtype))
                          for k, y in enumerate(inputs))
                _, jv = jvp(func, tuple(inputs), v, create_graph=create_graph, strict=strict)
                for i, column in enumerate(jv if out_tuple else (jv,)):
                    columns[i].append(column)
            for i, out in enumerate(outputs):
                # columns stacked first: (in elements, *out_shape) -> (*out_shape, *in_shape)
                stacked = _stack_rows(columns[i], x.shape, out.shape)
                axes = tuple(range(x.ndim, x.ndim + out.ndim)) + tuple(range(x.ndim))
                blocks[i][j] = stacked.permute(axes) if axes else stacked
    blocks = [[b if create_graph else b.detach() for b in row] for row in blocks]
    rows = [_shaped(in_tuple, row) for row in blocks]
    return _shaped(out_tuple, rows)


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False,
            outer_jacobian_strategy="reverse-mode"):
    """The Hessian of the scalar ``func`` at ``inputs``: for inputs i and j a Tensor of shape
    ``inputs[i].shape + inputs[j].shape`` (a tuple of tuples when ``inputs`` is a tuple)."""
    in_tuple, inputs = _as_tuple(inputs, "inputs", "hessian")

    def gradient(*xs):
        out = _scalar_output(func, xs, "hessian")
        return _grads((out,), xs, (_ones_like(out),), True, strict, "hessian")

    result = jacobian(gradient, inputs if in_tuple else inputs[0], create_graph=create_graph,
                      strict=strict,
                      vectorize=vectorize, strategy=outer_jacobian_strategy)
    # (the jacobian of the tuple-returning ``gradient``: one entry per input already shaped)
    return result if in_tuple else result[0]


def _scalar_output(func, inputs, fn_name):
    out_tuple, outputs = _call(func, inputs, fn_name)
    if out_tuple or outputs[0].numel() != 1:
        raise RuntimeError(f"The function given to {fn_name} should return a single Tensor with "
                           "a single element.")
    return outputs[0]


def _ones_like(tensor):
    return Tensor._wrap(np.ones(tensor.shape, dtype=tensor.dtype))


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), v^T H) for the scalar ``func``: the gradient of <grad func, v>."""
    in_tuple, inputs = _as_tuple(inputs, "inputs", "vhp")
    inputs = _prepare(inputs, create_graph)
    out = _scalar_output(func, inputs, "vhp")
    v = _check_v(v, inputs, "input", "vhp")
    with enable_grad():
        gradient = _grads((out,), inputs, (_ones_like(out),),
                          True, strict, "vhp")
        result = _grads(gradient, inputs, v, create_graph, strict, "vhp")
    return _finish((out,), create_graph)[0], _shaped(in_tuple, _finish(result, create_graph))


def hvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), H v) for the scalar ``func``, by the double-backward trick (as PyTorch:
    H v differs from v^T H only where the Hessian is not symmetric)."""
    in_tuple, inputs = _as_tuple(inputs, "inputs", "hvp")
    inputs = _prepare(inputs, create_graph)
    out = _scalar_output(func, inputs, "hvp")
    v = _check_v(v, inputs, "input", "hvp")
    with enable_grad():
        gradient = _grads((out,), inputs, (_ones_like(out),),
                          True, strict, "hvp")
        us = tuple(Tensor(np.zeros(x.shape, dtype=x.dtype), dtype=x.dtype, requires_grad=True)
                   for x in inputs)
        # u -> H^T u is linear in u; its derivative w.r.t. u along v is H v.
        back = _grads(gradient, inputs, us, True, strict, "hvp")
        result = _grads(back, us, v, create_graph, strict, "hvp")
    return _finish((out,), create_graph)[0], _shaped(in_tuple, _finish(result, create_graph))
