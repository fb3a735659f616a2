"""PyTorch's results for the shape ops, einsum, the products and the ``*_like`` constructors:
tests/fixtures/torch_shapelin.json (scripts/make_torch_shapelin.py) holds, for each case, a
lambda written against ``torch`` with its inputs and what PyTorch gave: the outputs' values,
dtypes and shapes, the gradients of the float inputs along a fixed cotangent, or the class of
the exception raised. Here the same text runs with ``fastgrad`` as ``torch``."""
import json
import math
import os

import numpy as np
import pytest

import fastgrad

FIXTURE = os.path.join(os.path.dirname(__file__), "fixtures", "torch_shapelin.json")
with open(FIXTURE) as _f:
    _FIXTURE = json.load(_f)
CASES = _FIXTURE["cases"]


def cotangent(shape):
    """As scripts/make_torch_shapelin.py's: the output gradient both sides use."""
    n = math.prod(shape)
    return np.cos(np.arange(n) * 1.3 + 0.4).reshape(shape)


def _inputs(case):
    return [fastgrad.tensor(i["values"], dtype=getattr(fastgrad, i["dtype"]),
                            requires_grad=i["dtype"].startswith("float")) for i in case["inputs"]]


def _check_output(out, expected, where):
    assert out.dtype == np.dtype(expected["dtype"]), f"{where}: dtype {out.dtype}"
    assert out.shape == tuple(expected["shape"]), f"{where}: shape {out.shape}"
    values = np.asarray(expected["values"], dtype=out.dtype).reshape(out.shape)
    np.testing.assert_allclose(out.arr, values, rtol=1e-12, atol=1e-12, err_msg=where)


@pytest.mark.parametrize("case", CASES, ids=[f"{k}:{c['expr'][:60]}" for k, c in enumerate(CASES)])
def test_matches_pytorch(case):
    expected = case["torch"]
    inputs = _inputs(case)
    fn = eval(case["expr"], {"torch": fastgrad})
    if "error" in expected:
        with pytest.raises(getattr(__builtins__, expected["error"], None)
                           or eval(expected["error"])) as info:
            fn(*inputs)
        if "einsum" in case["expr"]:  # its messages are PyTorch's word for word
            assert str(info.value).startswith(expected["message"][:60]), str(info.value)
        return
    out = fn(*inputs)
    if "meta" in expected:
        assert out.dtype == np.dtype(expected["meta"]["dtype"])
        assert out.shape == tuple(expected["meta"]["shape"])
        return
    outs = list(out) if expected["tuple"] else [out]
    assert isinstance(out, tuple) == expected["tuple"]
    assert len(outs) == len(expected["outputs"])
    for k, (o, e) in enumerate(zip(outs, expected["outputs"])):
        assert all(o is not x for x in inputs), "an op returned its input itself"
        _check_output(o, e, f"output {k}")
    if "grads" in expected:
        graded = [o for o in outs if o.requires_grad]
        loss = sum((o * fastgrad.tensor(cotangent(o.shape), dtype=o.dtype)).sum() for o in graded)
        loss.backward()
        leaves = [x for x in inputs if x.requires_grad]
        for k, (x, g) in enumerate(zip(leaves, expected["grads"])):
            got = np.zeros(x.shape) if x.grad is None else x.grad.arr
            np.testing.assert_allclose(got, np.asarray(g).reshape(x.shape), rtol=1e-10,
                                       atol=1e-12, err_msg=f"gradient of input {k}")


def test_every_name_pytorch_has_is_here():
    missing = []
    for name, where in _FIXTURE["names"].items():
        for place, namespace in (("function", fastgrad), ("method", fastgrad.Tensor),
                                 ("linalg", fastgrad.linalg)):
            if where[place] and not hasattr(namespace, name):
                missing.append(f"{place} {name}")
    assert not missing, missing
