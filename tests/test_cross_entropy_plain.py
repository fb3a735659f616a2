"""cross_entropy's one-kernel path (no class weights, nothing ignored, no smoothing) against its
general NumPy path, which class weights of one select with the same values."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastgrad
from fastgrad.autograd.gradcheck import gradcheck
from fastgrad.nn import functional as F


def _loss_and_grad(logits, target, dtype, reduction, weight):
    x = fastgrad.tensor(logits, dtype=dtype, requires_grad=True)
    loss = F.cross_entropy(x, fastgrad.tensor(target), weight=weight, reduction=reduction)
    cot = np.float64(0.7).astype(dtype)
    (loss * fastgrad.tensor(cot, dtype=dtype)).backward()
    return loss, x.grad.arr


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 9), c=st.integers(1, 12), dtype=st.sampled_from([np.float32, np.float64]),
       reduction=st.sampled_from(["mean", "sum"]), scale=st.sampled_from([1.0, 30.0, 1e4]))
def test_plain_path_matches_the_general_path(n, c, dtype, reduction, scale):
    rng = np.random.default_rng(n * 31 + c)
    logits = (rng.standard_normal((n, c)) * scale).astype(dtype)
    target = rng.integers(0, c, n)
    plain, plain_grad = _loss_and_grad(logits, target, dtype, reduction, None)
    assert type(plain.grad_fn).__name__ == "CrossEntropyGradFn" and plain.grad_fn.plain
    general, general_grad = _loss_and_grad(logits, target, dtype, reduction,
                                           fastgrad.ones(c, dtype=dtype))
    assert not general.grad_fn.plain
    assert plain.dtype == general.dtype == dtype
    tol = 2e-6 if dtype == np.float32 else 1e-14
    np.testing.assert_allclose(plain.item(), general.item(), rtol=tol, atol=tol * scale)
    np.testing.assert_allclose(plain_grad, general_grad, rtol=tol, atol=tol)


def test_plain_path_propagates_nan_and_inf_as_numpy_does():
    logits = np.array([[1.0, np.nan, 0.0], [np.inf, 0.0, 1.0], [-np.inf, 0.0, 1.0]], np.float32)
    target = np.array([0, 1, 0])
    for row in range(3):
        plain, plain_grad = _loss_and_grad(logits[row:row + 1], target[row:row + 1],
                                           np.float32, "sum", None)
        with np.errstate(invalid="ignore"):
            general, general_grad = _loss_and_grad(logits[row:row + 1], target[row:row + 1],
                                                   np.float32, "sum", fastgrad.ones(3))
        np.testing.assert_allclose(plain.arr, general.arr, rtol=1e-6)  # NaN where NaN
        np.testing.assert_allclose(plain_grad, general_grad, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("shape", [(1, 1), (4, 3), (3,), (0, 5)])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_plain_path_gradcheck(shape, reduction):
    rng = np.random.default_rng(1)
    x = fastgrad.tensor(rng.standard_normal(shape), dtype=np.float64, requires_grad=True)
    classes = shape[-1]
    target = fastgrad.tensor(rng.integers(0, classes, shape[:-1]) if len(shape) == 2
                             else np.int64(rng.integers(0, classes)))
    if shape[0] == 0 and reduction == "mean":
        return  # the empty mean is nan, checked by the PyTorch fixtures
    cot = fastgrad.tensor(rng.standard_normal(()), dtype=np.float64)
    assert gradcheck(lambda t: F.cross_entropy(t, target, reduction=reduction) * cot, (x,))
