"""The ops without a gradient against PyTorch 2.13's results on the same expressions.

tests/fixtures/torch_nondiff_ops.json (scripts/make_torch_reference_ops.py) holds, for each
expression written against ``torch``, what PyTorch returned or which exception it raised;
here the same text runs with ``fastgrad`` as ``torch``. PyTorch is never imported.
"""
import json
import math
import os

import numpy as np
import pytest

import fastgrad
from fastgrad import Tensor

FIXTURE = os.path.join(os.path.dirname(__file__), "fixtures", "torch_nondiff_ops.json")
with open(FIXTURE) as _f:
    REFERENCE = json.load(_f)
CASES = REFERENCE["cases"]

# Float results PyTorch computes with vector instructions may round differently in the last
# place (a fused multiply-add); every other value, integer and bool, must match exactly.
FLOAT_ULPS = 2


def _assert_matches(result, expected, expr):
    if "tuple" in expected:
        assert isinstance(result, tuple) and len(result) == len(expected["tuple"]), expr
        for r, e in zip(result, expected["tuple"]):
            _assert_matches(r, e, expr)
    elif "tensor" in expected:
        assert isinstance(result, Tensor), f"{expr}: got {type(result).__name__}"
        assert str(result.arr.dtype) == expected["dtype"], f"{expr}: dtype {result.arr.dtype}"
        assert list(result.shape) == expected["shape"], f"{expr}: shape {result.shape}"
        want = np.array(expected["tensor"], dtype=expected["dtype"]).reshape(expected["shape"])
        if want.dtype.kind == "f":
            got = result.arr
            assert np.array_equal(np.isnan(got), np.isnan(want)), expr
            ulps = np.abs(got - want) / np.spacing(np.abs(want).astype(want.dtype))
            assert np.all((got == want) | np.isnan(want) | (ulps <= FLOAT_ULPS)), (
                f"{expr}:\n got {got.tolist()}\nwant {want.tolist()}")
        else:
            np.testing.assert_array_equal(result.arr, want, err_msg=expr)
        assert not result.requires_grad
    elif "scalar" in expected:
        assert result == expected["scalar"] and type(result) is type(expected["scalar"]), expr
    elif "dtype_of" in expected:
        assert np.dtype(result).name == expected["dtype_of"], expr
    elif "size" in expected:
        assert tuple(result) == tuple(expected["size"]), expr
    else:
        raise AssertionError(f"unknown fixture entry {expected}")


@pytest.mark.parametrize("expr", sorted(CASES))
def test_matches_pytorch(expr):
    expected = CASES[expr]
    if "error" in expected:
        with pytest.raises(Exception) as info:
            eval(expr, {"torch": fastgrad})
        assert type(info.value).__name__ == expected["error"], (
            f"{expr}: PyTorch raises {expected['error']}: {expected['message']}; fastgrad "
            f"raised {type(info.value).__name__}: {info.value}")
    else:
        _assert_matches(eval(expr, {"torch": fastgrad}), expected, expr)


def test_fixture_is_pytorchs():
    assert REFERENCE["torch"].startswith("2.13.0")
    assert len(CASES) > 1000 and sum("error" in c for c in CASES.values()) > 100
    nan_sort = CASES["torch.unique(torch.tensor([[2., float('nan'), 1.], [float('nan'), 2., -0.]]), )"]
    assert math.isnan(nan_sort["tensor"][-1])  # JSON's NaN read back as NaN
