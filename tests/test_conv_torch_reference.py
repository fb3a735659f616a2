"""conv2d (groups, 'same' / 'valid', unbatched), conv1d, conv_transpose2d and F.pad against
PyTorch's own results (tests/fixtures/torch_conv.npz, written by scripts/make_torch_conv.py),
forward and gradients, in float64 and float32."""
import json
import pathlib

import numpy as np
import pytest

import fastgrad
from fastgrad.nn import functional as F

FIXTURE = pathlib.Path(__file__).parent / "fixtures" / "torch_conv.npz"
DATA = np.load(FIXTURE)
CASES = sorted({int(key.split("/")[0]) for key in DATA.files if "/" in key})


def test_fixture_was_made_by_the_pinned_pytorch():
    assert str(DATA["torch_version"]).startswith("2.13.0")
    assert len(CASES) == 21


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("k", CASES)
def test_matches_pytorch(k, dtype):
    name, kwargs = json.loads(str(DATA[f"{k}/args"]))
    labels = [label for label in ("input", "weight", "bias") if f"{k}/{label}" in DATA.files]
    inputs = {label: fastgrad.tensor(DATA[f"{k}/{label}"], dtype=dtype, requires_grad=True)
              for label in labels}
    if name == "pad":
        kwargs["pad"] = tuple(kwargs["pad"])
    out = getattr(F, name)(*inputs.values(), **kwargs)
    tol = dict(rtol=1e-10, atol=1e-10) if dtype == np.float64 else dict(rtol=1e-4, atol=1e-4)
    assert out.dtype == dtype
    np.testing.assert_allclose(out.arr, DATA[f"{k}/output"], **tol)
    out.backward(fastgrad.tensor(DATA[f"{k}/cotangent"], dtype=dtype))
    for label, t in inputs.items():
        np.testing.assert_allclose(t.grad.arr, DATA[f"{k}/grad_{label}"], **tol, err_msg=label)
