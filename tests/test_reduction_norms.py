"""prod, nansum / nanmean, var_mean / std_mean, norm / linalg.vector_norm: the op contract
(gradcheck and gradgradcheck in float64 on 0-d, empty, size-1 shapes), gradients right at
zeros, NumPy oracles (hypothesis); and every name of issue 11's index / sort / reduction lists
present. (PyTorch's own values and gradients: test_indexsort_torch.py.)"""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastgrad
from fastgrad.testing import check_op

RNG = np.random.default_rng(2)
X = RNG.standard_normal((3, 4))
WITH_ZEROS = X.copy()
WITH_ZEROS[0, 1] = WITH_ZEROS[1, 0] = WITH_ZEROS[1, 2] = 0  # one zero in a row, two in another
WITH_NAN = X.copy()
WITH_NAN[0, 1] = WITH_NAN[2, :] = np.nan


def test_prod_contract_with_and_without_zeros():
    check_op(lambda x: x.prod(), X, extra_shapes=[((),), ((0,),), ((1,),)])
    check_op(lambda x: fastgrad.prod(x, -1), WITH_ZEROS, extra_shapes=[((),), ((0, 3),), ((3, 0),)])
    check_op(lambda x: x.prod(0, keepdim=True), WITH_ZEROS)
    check_op(lambda x: x.prod(), WITH_ZEROS)  # three zeros: every first derivative is 0
    check_op(lambda x: x.prod(), np.array([2.0, 0.0, 3.0, 0.0]))  # two: second ones are not


def test_prod_gradient_is_the_product_of_the_others():
    x = fastgrad.tensor([2.0, 0.0, 3.0], dtype=fastgrad.float64, requires_grad=True)
    x.prod().backward()
    np.testing.assert_array_equal(x.grad.arr, [0.0, 6.0, 0.0])
    int8 = fastgrad.tensor([[1, 2], [3, 4]], dtype=fastgrad.int8)
    assert fastgrad.prod(int8, 1).dtype == np.int64


def test_nan_reductions_and_moments_contract():
    check_op(lambda x: fastgrad.nansum(x, 1), WITH_NAN)
    check_op(lambda x: x.nansum(), WITH_NAN, extra_shapes=[((),), ((0,),)])
    check_op(lambda x: fastgrad.nanmean(x, 1), WITH_NAN[:2])
    check_op(lambda x: x.nanmean(0, keepdim=True), WITH_NAN[:2])
    check_op(lambda x: fastgrad.var_mean(x, 1), X, extra_shapes=[((1, 3),)])
    check_op(lambda x: fastgrad.std_mean(x, (0, 1), correction=0, keepdim=True), X)
    assert np.isnan(fastgrad.nanmean(fastgrad.tensor([np.nan])).item())


@pytest.mark.parametrize("ord", [2, 1, 3, 0.5, -1, math.inf, -math.inf, 0])
def test_vector_norm_contract(ord):
    check_op(lambda x: fastgrad.linalg.vector_norm(x, ord, dim=1), X)
    check_op(lambda x: fastgrad.linalg.vector_norm(x, ord, dim=(0, 1), keepdim=True), X)
    shapes = [((),), ((1, 1),)] + ([] if math.isinf(ord) else [((0,),)])
    check_op(lambda x: x.norm(ord), X, extra_shapes=shapes)


def test_norm_gradient_at_zero_is_zero():
    for ord in (2, 3, 0.5, 1, 0):
        x = fastgrad.tensor([0.0, 0.0], dtype=fastgrad.float64, requires_grad=True)
        fastgrad.linalg.vector_norm(x, ord).backward()
        np.testing.assert_array_equal(x.grad.arr, [0.0, 0.0], err_msg=str(ord))


@settings(max_examples=40, deadline=None)
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=3), seed=st.integers(0, 2**16),
       ord=st.sampled_from([1, 2, 3, 0.5, math.inf, -math.inf, 0]))
def test_vector_norm_matches_numpy(shape, seed, ord):
    x = np.random.default_rng(seed).integers(-2, 3, shape).astype(np.float64)
    got = fastgrad.linalg.vector_norm(fastgrad.tensor(x, dtype=fastgrad.float64), ord).item()
    assert got == pytest.approx(np.linalg.norm(x.ravel(), ord), rel=1e-12)
    assert fastgrad.tensor(x, dtype=fastgrad.float64).prod().item() == pytest.approx(np.prod(x))


@pytest.mark.parametrize("call, error", [
    (lambda: fastgrad.linalg.vector_norm(fastgrad.tensor([1, 2])), RuntimeError),
    (lambda: fastgrad.linalg.vector_norm(fastgrad.zeros(0), math.inf), RuntimeError),
    (lambda: fastgrad.nanmean(fastgrad.tensor([1, 2])), RuntimeError),
    (lambda: fastgrad.prod(fastgrad.ones(2), 1), IndexError),
])
def test_errors(call, error):
    with pytest.raises(error):
        call()


# Issue 11's names in this area: each a function of fastgrad, and a Tensor method where
# PyTorch has one (test_indexsort_torch.py checks which ones PyTorch has).
ISSUE_11_NAMES = (
    "gather", "scatter", "scatter_add", "scatter_reduce", "index_select", "index_add",
    "index_fill", "masked_fill", "masked_scatter", "masked_select", "take", "take_along_dim",
    "nonzero", "argwhere", "where", "cumsum", "cumprod", "cummax", "cummin", "logcumsumexp",
    "sort", "argsort", "topk", "kthvalue", "median", "mode", "unique", "searchsorted",
    "bincount", "histc", "prod", "all", "any", "std_mean", "var_mean", "count_nonzero", "norm",
    "nansum", "nanmean",
)


def test_every_name_of_the_issue_is_there():
    missing = [name for name in ISSUE_11_NAMES if not callable(getattr(fastgrad, name, None))]
    assert not missing
    assert callable(fastgrad.linalg.vector_norm)
    methods = set(ISSUE_11_NAMES) - {"where", "searchsorted", "std_mean", "var_mean"}
    assert not [name for name in methods if not hasattr(fastgrad.Tensor, name)]
