"""fastgrad.nn.utils: gradient clipping and parameter vectors, against torch.nn.utils' rules."""
import math

import numpy as np
import pytest

import fastgrad
from fastgrad import nn
from fastgrad.autograd import gradcheck
from fastgrad.nn.utils import (clip_grad_norm_, clip_grad_value_, parameters_to_vector,
                               vector_to_parameters)


def _params_with_grads(rng, shapes, scale=1.0, dtype=np.float32):
    params = []
    for shape in shapes:
        p = nn.Parameter(rng.standard_normal(shape).astype(dtype))
        p.grad = fastgrad.tensor(scale * rng.standard_normal(shape), dtype=dtype)
        params.append(p)
    return params


def _flat_grads(params):
    return np.concatenate([p.grad.numpy().ravel().astype(np.float64) for p in params])


SHAPES = [(3, 4), (5,), (), (2, 1, 3), (0, 2)]


@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
@pytest.mark.parametrize("scale", [0.01, 10.0])
def test_clip_grad_norm_scales_by_max_norm_over_total_norm(norm_type, scale):
    rng = np.random.default_rng(0)
    params = _params_with_grads(rng, SHAPES, scale)
    before = _flat_grads(params)
    want_norm = np.linalg.norm(before, ord=norm_type)
    total = clip_grad_norm_(params, max_norm=1.5, norm_type=norm_type)
    assert isinstance(total, fastgrad.Tensor) and total.shape == () and total.dtype == np.float32
    np.testing.assert_allclose(total.item(), want_norm, rtol=1e-6)
    coef = min(1.5 / (want_norm + 1e-6), 1.0)
    np.testing.assert_allclose(_flat_grads(params), before * coef, rtol=1e-6)
    if want_norm > 1.5:
        np.testing.assert_allclose(np.linalg.norm(_flat_grads(params), ord=norm_type), 1.5, rtol=1e-5)


def test_clip_grad_norm_accepts_one_tensor_a_generator_and_skips_missing_grads():
    rng = np.random.default_rng(1)
    (p,) = _params_with_grads(rng, [(4, 4)], 5.0, np.float64)
    bare = nn.Parameter(np.ones(3))
    want = np.linalg.norm(p.grad.numpy())
    total = clip_grad_norm_(p, 1.0)
    assert total.dtype == np.float64 and total.item() == pytest.approx(want)
    assert np.linalg.norm(p.grad.numpy()) == pytest.approx(1.0, rel=1e-5)
    model = nn.Linear(3, 2)
    model(fastgrad.randn(5, 3)).sum().backward()
    want = np.linalg.norm(_flat_grads(list(model.parameters())))
    assert clip_grad_norm_(model.parameters(), 100.0).item() == pytest.approx(want, rel=1e-6)
    assert clip_grad_norm_([bare], 1.0).item() == 0.0 and bare.grad is None


def test_clip_grad_norm_non_finite():
    p = nn.Parameter(np.ones(3, dtype=np.float32))
    p.grad = fastgrad.tensor([1.0, np.inf, 2.0])
    with pytest.raises(RuntimeError, match=r"The total norm of order 2.0 for gradients from "
                                           r"`parameters` is non-finite, so it cannot be clipped"):
        clip_grad_norm_([p], 1.0, error_if_nonfinite=True)
    np.testing.assert_array_equal(p.grad.numpy(), [1.0, np.inf, 2.0])  # unchanged
    assert clip_grad_norm_([p], 1.0).item() == math.inf  # as PyTorch: scaled by 0 then


def test_clip_grad_value_clamps_in_place():
    rng = np.random.default_rng(2)
    params = _params_with_grads(rng, SHAPES, 3.0)
    grads = [p.grad for p in params]
    before = _flat_grads(params)
    assert clip_grad_value_(params, 0.5) is None
    assert all(p.grad is g for p, g in zip(params, grads))
    np.testing.assert_array_equal(_flat_grads(params), np.clip(before, -0.5, 0.5))


def test_parameters_to_vector_round_trip_and_gradient():
    rng = np.random.default_rng(3)
    params = [nn.Parameter(rng.standard_normal(s)) for s in [(2, 3), (4,), ()]]
    vec = parameters_to_vector(params)
    want = np.concatenate([p.detach().numpy().ravel() for p in params])
    np.testing.assert_array_equal(vec.detach().numpy(), want)
    assert gradcheck(lambda *ps: parameters_to_vector(ps), params)

    new = fastgrad.tensor(rng.standard_normal(vec.numel()), dtype=np.float64)
    vector_to_parameters(new, params)
    np.testing.assert_array_equal(parameters_to_vector(params).detach().numpy(), new.numpy())
    assert [p.shape for p in params] == [(2, 3), (4,), ()]
    new.numpy()[0] = 42.0  # as PyTorch's param.data = vec[...]: the parameters view vec
    assert params[0].detach().numpy()[0, 0] == 42.0


def test_vector_to_parameters_refuses_a_non_tensor():
    with pytest.raises(TypeError, match="expected fastgrad.Tensor, but got: ndarray"):
        vector_to_parameters(np.zeros(3), [nn.Parameter(np.zeros(3))])
    with pytest.raises(RuntimeError, match=r"\(2,\).*3 elements"):
        vector_to_parameters(fastgrad.zeros(2), [nn.Parameter(np.zeros(3))])


def test_reachable_as_in_pytorch():
    assert nn.utils.clip_grad_norm_ is clip_grad_norm_
