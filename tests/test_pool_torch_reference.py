"""The pools against PyTorch's own results (tests/fixtures/torch_pooling.npz, written by
scripts/make_torch_reference_pooling.py): ceil-mode windows past the padding with and without
count_include_pad, divisor_override, dilation, adaptive windows that do not divide the input."""
import json
import pathlib

import numpy as np
import pytest

import fastgrad
from fastgrad.nn import functional as F

FIXTURE = pathlib.Path(__file__).parent / "fixtures" / "torch_pooling.npz"
_DATA = np.load(FIXTURE)
CASES = sorted({int(key.split("/")[0]) for key in _DATA.files if "/" in key})


def _case(k):
    spec = json.loads(str(_DATA[f"{k}/args"]))
    return spec["function"], spec["kwargs"]


def test_fixture_was_made_by_the_pinned_pytorch():
    assert str(_DATA["torch_version"]).startswith("2.13.0")
    assert len(CASES) >= 20


@pytest.mark.parametrize("k", CASES, ids=lambda k: f"{k}-{_case(k)[0]}")
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_matches_pytorch(k, dtype):
    name, kwargs = _case(k)
    x = fastgrad.tensor(_DATA[f"{k}/input"], dtype=dtype, requires_grad=True)
    result = getattr(F, name)(x, **kwargs)
    out, indices = result if isinstance(result, tuple) else (result, None)
    tol = dict(rtol=1e-12, atol=1e-12) if dtype == np.float64 else dict(rtol=1e-5, atol=1e-6)
    assert out.shape == _DATA[f"{k}/output"].shape and out.dtype == dtype
    np.testing.assert_allclose(out.arr, _DATA[f"{k}/output"], **tol)
    if indices is not None:
        assert indices.dtype == np.int64
        np.testing.assert_array_equal(indices.arr, _DATA[f"{k}/indices"])
    out.backward(fastgrad.tensor(_DATA[f"{k}/cotangent"], dtype=dtype))
    np.testing.assert_allclose(x.grad.arr, _DATA[f"{k}/grad"], **tol)
