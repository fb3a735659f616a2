"""The losses against PyTorch's own values and gradients (tests/fixtures/torch_losses.npz,
written by scripts/make_torch_losses.py): K-dimensional and class-probability cross_entropy,
nll_loss, the binary cross-entropies at their clamps and large logits, l1 / smooth_l1 / huber,
kl_div with every reduction, empty batches."""
import json
import pathlib
import warnings

import numpy as np
import pytest

import fastgrad
from fastgrad.nn import functional as F

FIXTURE = pathlib.Path(__file__).parent / "fixtures" / "torch_losses.npz"
_DATA = np.load(FIXTURE)
CASES = sorted({key.split("/")[0] for key in _DATA.files if "/" in key})


def _spec(name):
    spec = json.loads(str(_DATA[f"{name}/args"]))
    return spec["function"], spec["kwargs"]


def test_fixture_was_made_by_the_pinned_pytorch():
    assert str(_DATA["torch_version"]).startswith("2.13.0")
    assert len(CASES) >= 40


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_matches_pytorch(name, dtype):
    function, kwargs = _spec(name)
    prefix = f"{name}/arg/"
    args = {}
    for key in (k for k in _DATA.files if k.startswith(prefix)):
        value = _DATA[key]
        differentiable = value.dtype.kind == "f" and key[len(prefix):] in ("input", "target")
        args[key[len(prefix):]] = fastgrad.tensor(
            value, dtype=dtype if value.dtype.kind == "f" else None, requires_grad=differentiable)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # kl_div's 'mean' warns, as PyTorch's does
        out = getattr(F, function)(**args, **kwargs)
    expected = _DATA[f"{name}/output"]
    tol = dict(rtol=1e-8, atol=1e-12) if dtype == np.float64 else dict(rtol=2e-5, atol=2e-6)
    assert out.shape == expected.shape and out.dtype == dtype
    np.testing.assert_allclose(out.arr, expected, **tol)
    out.backward(fastgrad.tensor(_DATA[f"{name}/cotangent"], dtype=dtype))
    for key in ("input", "target"):
        if f"{name}/grad/{key}" in _DATA.files:
            np.testing.assert_allclose(args[key].grad.arr, _DATA[f"{name}/grad/{key}"], **tol,
                                       err_msg=f"gradient of {key}")
