"""Gather / scatter, cumulative, sorting and reduction ops against PyTorch's results.

tests/fixtures/torch_indexsort.json (scripts/make_torch_indexsort.py) holds, for each
expression written against ``torch``, what PyTorch returned or which exception it raised, and
for each differentiable case the first output and every input's gradient along a fixed
cotangent; here the same text runs with ``fastgrad`` as ``torch``. PyTorch is never imported.
"""
import json
import os

import numpy as np
import pytest

import fastgrad
from fastgrad import Tensor

FIXTURE = os.path.join(os.path.dirname(__file__), "fixtures", "torch_indexsort.json")
with open(FIXTURE) as _f:
    REFERENCE = json.load(_f)


def cotangent(shape):
    """The fixed cotangent of a grad case (scripts/make_torch_indexsort.py has the same)."""
    n = int(np.prod(shape))
    return np.cos(np.arange(n) * 1.7 + 0.3).reshape(shape)


def _array(entry):
    def decode(v):
        if isinstance(v, list):
            return [decode(u) for u in v]
        return float(v) if isinstance(v, str) else v
    return np.array(decode(entry["tensor"]), dtype=entry["dtype"]).reshape(entry["shape"])


def _assert_matches(result, expected, what):
    if "tuple" in expected:
        assert isinstance(result, tuple) and len(result) == len(expected["tuple"]), what
        for r, e in zip(result, expected["tuple"]):
            _assert_matches(r, e, what)
        return
    assert isinstance(result, Tensor), f"{what}: got {type(result).__name__}"
    want = _array(expected)
    assert result.arr.dtype == want.dtype, f"{what}: dtype {result.arr.dtype}, want {want.dtype}"
    assert result.shape == want.shape, f"{what}: shape {result.shape}, want {want.shape}"
    if want.dtype.kind == "f":
        np.testing.assert_allclose(result.arr, want, rtol=1e-6 if want.dtype == np.float32
                                   else 1e-12, atol=1e-12, err_msg=what)
    else:
        np.testing.assert_array_equal(result.arr, want, err_msg=what)


@pytest.mark.parametrize("expr", sorted(REFERENCE["values"]))
def test_values_and_errors_match_pytorch(expr):
    expected = REFERENCE["values"][expr]
    if "error" in expected:
        with pytest.raises(Exception) as info:
            eval(expr, {"torch": fastgrad})
        assert type(info.value).__name__ == expected["error"], (
            f"{expr}: raised {type(info.value).__name__}: {info.value}; PyTorch raised "
            f"{expected['error']}: {expected['message']}")
        return
    _assert_matches(eval(expr, {"torch": fastgrad}), expected, expr)


@pytest.mark.parametrize("case", REFERENCE["grads"], ids=lambda c: c["fn"][len("lambda torch, "):])
def test_gradients_match_pytorch(case):
    fn = eval(case["fn"])

    def decode(v):
        return [decode(u) for u in v] if isinstance(v, list) else float(v)

    inputs = [fastgrad.tensor(decode(v), dtype=fastgrad.float64, requires_grad=True)
              for v in case["inputs"]]
    out = fn(fastgrad, *inputs)
    first = out[0] if isinstance(out, tuple) else out
    _assert_matches(first, case["output"], case["fn"] + " (output)")
    first.backward(fastgrad.tensor(cotangent(first.shape), dtype=fastgrad.float64))
    for i, (x, want) in enumerate(zip(inputs, case["grads"])):
        grad = x.grad if x.grad is not None else fastgrad.zeros_like(x)
        _assert_matches(grad, want, f"{case['fn']} (gradient of input {i})")


def test_the_methods_pytorch_has_are_tensor_methods_here():
    for name, is_method in REFERENCE["tensor_methods"].items():
        assert callable(getattr(fastgrad, name)), name
        assert hasattr(Tensor, name) == is_method, name
    assert callable(fastgrad.linalg.vector_norm)
