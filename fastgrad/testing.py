"""Test helpers for fastgrad and code built on it, as ``torch.testing``.

- ``assert_close(actual, expected)``: values equal within PyTorch's default tolerances for
  the dtype, with its error message (how many elements differ, the greatest differences and
  where).
- ``check_op(fn, *inputs)``: the contract every differentiable op keeps (gradients and second
  derivatives right, inputs left alone, gradients owning their memory, float32 kept float32),
  checked from the outside through the public API only. MyGrad's ``backprop_test_factory``
  is the model.
"""
import numpy as np

from fastgrad.autograd.grad_mode import enable_grad
from fastgrad.autograd.gradcheck import GradcheckError, gradcheck, gradgradcheck
from fastgrad.autograd.tensor import Tensor

# torch.testing.assert_close's defaults, (rtol, atol) by dtype; other dtypes compare exactly.
_DEFAULT_TOLERANCES = {
    np.dtype(np.float16): (1e-3, 1e-5),
    np.dtype(np.float32): (1.3e-6, 1e-5),
    np.dtype(np.float64): (1e-7, 1e-7),
    np.dtype(np.complex64): (1.3e-6, 1e-5),
    np.dtype(np.complex128): (1e-7, 1e-7),
}


def _value(x):
    """(array, dtype or None): a Tensor's or ndarray's data with its dtype; a Python number or
    (nested) list as an array with no dtype of its own (None), which takes the other side's."""
    if isinstance(x, Tensor):
        return x.arr, x.arr.dtype
    if isinstance(x, (np.ndarray, np.generic)):
        return np.asarray(x), x.dtype
    if isinstance(x, (bool, int, float, complex, list, tuple)):
        return np.asarray(x), None
    raise TypeError(f"assert_close: cannot compare a {type(x).__name__} (expected a Tensor, "
                    "an ndarray or a Python number)")


def _fail(message, msg):
    if msg is None:
        raise AssertionError(message)
    raise AssertionError(msg(message) if callable(msg) else msg)


def assert_close(actual, expected, *, rtol=None, atol=None, equal_nan=False, check_dtype=True,
                 msg=None):
    """Raise AssertionError unless ``|actual - expected| <= atol + rtol * |expected|`` everywhere.

    ``actual`` / ``expected``: Tensors, ndarrays or Python numbers; unlike torch, a Tensor may
    be compared with an ndarray (NumPy is fastgrad's reference), and a Python number or list
    takes the other side's dtype. Shapes must be equal; dtypes too unless
    ``check_dtype=False`` (then both are compared in their common dtype). Without ``rtol`` /
    ``atol`` (give both or neither), PyTorch's defaults for the dtype: float16 1e-3 / 1e-5,
    float32 1.3e-6 / 1e-5, float64 1e-7 / 1e-7, integers and bool exactly; of two dtypes, the
    looser. NaNs are equal only with ``equal_nan=True``. ``msg``: a string replacing the
    message, or a callable from the generated message to the one raised.
    """
    if (rtol is None) != (atol is None):
        raise ValueError("Both 'rtol' and 'atol' must be either specified or omitted, but got "
                         f"{'no rtol' if rtol is None else f'rtol={rtol}'} and "
                         f"{'no atol' if atol is None else f'atol={atol}'}.")
    a, a_dtype = _value(actual)
    e, e_dtype = _value(expected)
    if a_dtype is None and e_dtype is None:
        a_dtype, e_dtype = a.dtype, e.dtype  # two Python values: int and float differ, as in torch
    if a.shape != e.shape:
        _fail(f"The values for attribute 'shape' do not match: {a.shape} != {e.shape}.", msg)
    if check_dtype and a_dtype is not None and e_dtype is not None and a_dtype != e_dtype:
        _fail(f"The values for attribute 'dtype' do not match: {a_dtype} != {e_dtype}.", msg)
    if rtol is None:
        known = [d for d in (a_dtype, e_dtype) if d is not None]
        rtol, atol = (max(pair) for pair in zip(*(_DEFAULT_TOLERANCES.get(d, (0.0, 0.0))
                                                  for d in known)))
    common = np.result_type(a, e)
    if common.kind in "fc":
        wide = np.complex128 if common.kind == "c" else np.float64
        a, e = a.astype(wide), e.astype(wide)
        matches = np.isclose(a, e, rtol=rtol, atol=atol, equal_nan=equal_nan)
    else:
        a, e = a.astype(np.int64), e.astype(np.int64)  # bool and unsigned: no wrap-around
        matches = np.abs(a - e) <= atol + rtol * np.abs(e)
    if matches.all():
        return
    _fail(_mismatch_message(a, e, matches, rtol, atol), msg)


def _mismatch_message(a, e, matches, rtol, atol):
    """torch's report: the mismatch count, then the greatest differences among mismatches."""
    mismatches = int(matches.size - matches.sum())
    with np.errstate(divide="ignore", invalid="ignore"):
        abs_diff = np.abs(a - e).astype(np.float64).reshape(-1)
        rel_diff = abs_diff / np.abs(e).reshape(-1)
    share = mismatches / matches.size
    lines = [f"Tensor-likes are not {'equal' if rtol == 0 and atol == 0 else 'close'}!", "",
             f"Mismatched elements: {mismatches} / {matches.size} ({share:.1%})"]
    for kind, diff, tol in (("absolute", abs_diff, atol), ("relative", rel_diff, rtol)):
        diff[matches.reshape(-1)] = 0
        flat = int(np.argmax(diff))  # NumPy's argmax, like torch.max, picks a NaN first
        where = tuple(int(i) for i in np.unravel_index(flat, a.shape))
        value = diff[flat]
        value = int(value) if a.dtype.kind == "i" and kind == "absolute" else float(value)
        line = f"Greatest {kind} difference: {value} at index {where}"
        lines.append(line + (f" (up to {tol} allowed)" if tol > 0 else ""))
    return "\n".join(lines)


# ------------------------------------------------------------------------------ check_op
def _is_differentiable(x):
    """A float Tensor that requires grad, or float data (ndarray / list) that check_op makes one."""
    if isinstance(x, Tensor):
        return x.requires_grad
    return isinstance(x, (np.ndarray, np.floating, list)) and np.asarray(x).dtype.kind == "f"


def _in_dtype(x, dtype):
    """A fresh copy of ``x`` with its float data in ``dtype``; other values pass as they are."""
    if isinstance(x, Tensor):
        if x.arr.dtype.kind != "f":
            return Tensor(x.arr.copy())
        return Tensor(x.arr.astype(dtype), dtype=dtype, requires_grad=x.requires_grad)
    if _is_differentiable(x):
        return Tensor(np.array(x, dtype=dtype), dtype=dtype, requires_grad=True)
    return x.copy() if isinstance(x, np.ndarray) else x


def _array_of(x):
    if isinstance(x, Tensor):
        return x.arr
    return np.asarray(x) if isinstance(x, (np.ndarray, np.generic)) else None


def _float_outputs(out):
    outs = out if isinstance(out, (tuple, list)) else (out,)
    return [o for o in outs if isinstance(o, Tensor) and o.arr.dtype.kind == "f"]


class _Contract:
    """check_op's clauses for one op on one set of inputs; each failure names the clause."""

    def __init__(self, fn, name, inputs, seed, may_return_input):
        self.fn, self.inputs, self.seed = fn, inputs, seed
        self.may_return_input = may_return_input
        shapes = [tuple(np.shape(_array_of(x))) for x in inputs if _array_of(x) is not None]
        self.where = f"check_op({name}) on inputs of shapes {shapes}"

    def fail(self, clause, detail):
        raise AssertionError(f"{self.where}: {clause}: {detail}")

    def gradients_match_finite_differences(self, eps, atol, rtol, check=gradcheck,
                                           clause="gradcheck (float64)"):
        inputs = [_in_dtype(x, np.float64) for x in self.inputs]
        if not any(isinstance(x, Tensor) and x.requires_grad for x in inputs):
            return
        try:
            check(self.fn, inputs, eps=eps, atol=atol, rtol=rtol, seed=self.seed)
        except GradcheckError as error:
            self.fail(clause, str(error))
        except Exception as error:
            self.fail(clause, f"raised {type(error).__name__}: {error}")

    def backward_keeps_the_contract(self, dtype, check_dtype):
        """Forward and backward along a random cotangent in ``dtype``, then the checks of the
        memory each gradient owns, of inputs left alone and of the dtype kept."""
        inputs = [_in_dtype(x, dtype) for x in self.inputs]
        arrays = [_array_of(x) for x in inputs]
        before = [None if a is None else a.copy() for a in arrays]
        try:
            with enable_grad():
                out = self.fn(*inputs)
                outs = [o for o in _float_outputs(out) if o.requires_grad]
                rng = np.random.default_rng(self.seed)
                cotangents = [rng.standard_normal(o.shape).astype(o.dtype) for o in outs]
                sent = [c.copy() for c in cotangents]
                for k, (o, c) in enumerate(zip(outs, cotangents)):
                    o.backward(c, retain_graph=k < len(outs) - 1)
        except Exception as error:
            self.fail(f"forward and backward run in {np.dtype(dtype)}",
                      f"raised {type(error).__name__}: {error}")
        if not self.may_return_input and any(o is x for o in outs for x in inputs):
            self.fail("returns a new Tensor", "the op returned one of its input tensors itself "
                      "(PyTorch returns a new tensor with its own grad_fn)")
        if check_dtype:
            for o in _float_outputs(out):
                if o.dtype != dtype:
                    self.fail(f"{np.dtype(dtype)} stays {np.dtype(dtype)}",
                              f"an output has dtype {o.dtype}")
        for i, (a, b) in enumerate(zip(arrays, before)):
            if a is not None and not np.array_equal(a, b, equal_nan=a.dtype.kind in "fc"):
                self.fail("inputs left alone", f"input {i} was changed by the forward or backward")
        for k, (c, s) in enumerate(zip(cotangents, sent)):
            if not np.array_equal(c, s, equal_nan=True):
                self.fail("inputs left alone", f"the cotangent of output {k} (grad_output) was "
                          "changed by the backward")
        grads = [(i, x.grad.arr) for i, x in enumerate(inputs)
                 if isinstance(x, Tensor) and x.requires_grad and x.grad is not None]
        for i, g in grads:
            x = inputs[i]
            if g.shape != x.shape or g.dtype != x.dtype:
                self.fail("gradient shape and dtype", f"input {i} ({x.dtype}, shape {x.shape}) "
                          f"got a .grad of dtype {g.dtype}, shape {g.shape}")
            others = ([(f"input {j}", a) for j, a in enumerate(arrays) if a is not None]
                      + [(f"the cotangent of output {k}", c) for k, c in enumerate(cotangents)]
                      + [(f"the .grad of input {j}", h) for j, h in grads if j != i])
            for what, other in others:
                if np.shares_memory(g, other):
                    self.fail("gradients own their memory",
                              f"the .grad of input {i} shares memory with {what}")


def check_op(fn, *inputs, name=None, extra_shapes=(), check_dtype=True, may_return_input=False,
             eps=1e-6, atol=1e-5, rtol=1e-3, seed=0, second_order=True):
    """Raise AssertionError, naming the op and the clause, unless ``fn`` keeps the op contract.

    ``fn(*inputs)`` returns a Tensor or a tuple of them. Inputs: float ndarrays (0-d NumPy
    floats too) and lists become Tensors that require grad, Tensors keep their
    ``requires_grad``, anything else (int indices, numbers) passes unchanged; float data is
    copied into each dtype checked. Clauses:

    1. gradcheck in float64 along a random cotangent (``eps`` / ``atol`` / ``rtol`` are its),
       and gradgradcheck (the backward recorded with ``create_graph=True``, differentiated
       again w.r.t. the inputs and the cotangent) unless ``second_order=False``.
    2. In float64 and float32, a forward and a backward along a random cotangent: leave the
       inputs and the cotangent unchanged; give each input a ``.grad`` of its shape and dtype
       that shares no memory with any input, the cotangent or another input's ``.grad``;
       return new Tensors, not an input itself (unless ``may_return_input``: ``contiguous``,
       ``to`` return ``self`` when there is nothing to do, as in PyTorch).
    3. float32 inputs give float32 outputs, float64 ones float64 (off with
       ``check_dtype=False``: casts, or a float64 ndarray operand, which promotes as in torch).
    4. For each tuple in ``extra_shapes`` (one shape per differentiable input, in order, e.g.
       ``[((), ()), ((0, 3), (3,))]``: 0-d and empty inputs), all of the above again on inputs
       of those shapes, their values drawn from the given input's (so they stay in the op's
       domain, e.g. positive for log).
    """
    name = name or getattr(fn, "__name__", repr(fn))
    contract = _Contract(fn, name, inputs, seed, may_return_input)
    contract.gradients_match_finite_differences(eps, atol, rtol)
    if second_order:
        contract.gradients_match_finite_differences(eps, atol, rtol, gradgradcheck,
                                                    "gradgradcheck (float64)")
    for dtype in (np.float64, np.float32):
        contract.backward_keeps_the_contract(dtype, check_dtype)
    rng = np.random.default_rng(seed)
    positions = [i for i, x in enumerate(inputs) if _is_differentiable(x)]
    for shapes in extra_shapes:
        if len(shapes) != len(positions):
            raise ValueError(f"check_op({name}): extra_shapes entry {shapes} has {len(shapes)} "
                             f"shapes for {len(positions)} differentiable inputs")
        reshaped = list(inputs)
        for i, shape in zip(positions, shapes):
            given = np.asarray(_array_of(inputs[i]) if isinstance(inputs[i], Tensor) else inputs[i])
            pool = given.reshape(-1) if given.size else rng.standard_normal(1)
            reshaped[i] = np.asarray(rng.choice(pool, size=shape), dtype=given.dtype)
        check_op(fn, *reshaped, name=name, check_dtype=check_dtype,
                 may_return_input=may_return_input, eps=eps, atol=atol, rtol=rtol, seed=seed,
                 second_order=second_order)
