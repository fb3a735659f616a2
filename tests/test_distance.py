"""F.normalize, F.cosine_similarity, F.pairwise_distance (and their modules), F.one_hot:
the op contract (gradcheck, gradgradcheck), zero vectors, broadcasting and errors.
(PyTorch's own numbers: test_layers_torch_reference.py.)"""
import numpy as np
import pytest

import fastgrad
from fastgrad import nn
from fastgrad.nn import functional as F
from fastgrad.ops.distance import vector_norm
from fastgrad.testing import check_op

RNG = np.random.default_rng(3)


@pytest.mark.parametrize("p, dim", [(2.0, 1), (1.0, -1), (3.0, 0), (float("inf"), 1), (0.5, 1)])
def test_normalize_gradcheck(p, dim):
    check_op(lambda x: F.normalize(x, p=p, dim=dim), RNG.standard_normal((3, 4)),
             extra_shapes=[((0, 4),), ((1, 1),)])


def test_normalize_a_vector_and_0d():
    check_op(lambda x: F.normalize(x, dim=0), RNG.standard_normal(5), extra_shapes=[((),)])


def test_normalize_zero_vector_has_finite_gradient():
    # ||0|| is clamped to eps: the output is 0 and the gradient 1 / eps, never NaN
    x = fastgrad.zeros(2, 3, dtype=fastgrad.float64, requires_grad=True)
    y = F.normalize(x, eps=1e-3)
    assert np.array_equal(y.arr, np.zeros((2, 3)))
    y.backward(fastgrad.ones(2, 3, dtype=fastgrad.float64))
    np.testing.assert_allclose(x.grad.arr, np.full((2, 3), 1e3))


@pytest.mark.parametrize("p", [2.0, 1.5, 3.0])
def test_norm_of_a_zero_row_has_the_zero_subgradient(p):
    # PyTorch's norm_backward: 0 where the norm is 0, not 0 * inf = NaN
    x = fastgrad.tensor([[0.0, 0.0], [3.0, -4.0]], dtype=fastgrad.float64, requires_grad=True)
    norm = vector_norm(x, p, dim=1)
    (g,) = fastgrad.autograd.grad(norm.sum(), x)
    expected = np.sign([3.0, -4.0]) * np.abs([3.0, -4.0]) ** (p - 1) / norm.arr[1] ** (p - 1)
    np.testing.assert_allclose(g.arr, [[0.0, 0.0], expected])


@pytest.mark.parametrize("shapes, dim", [(((4, 5), (4, 5)), 1), (((3, 1, 5), (4, 5)), -1),
                                         (((6,), (6,)), 0), (((2, 3, 4), (3, 1)), 1)])
def test_cosine_similarity_gradcheck_and_broadcasting(shapes, dim):
    a, b = (RNG.standard_normal(s) for s in shapes)
    out = F.cosine_similarity(fastgrad.tensor(a), fastgrad.tensor(b), dim=dim)
    full = np.broadcast_shapes(a.shape, b.shape)
    a2, b2 = np.broadcast_to(a, full), np.broadcast_to(b, full)
    expected = (a2 * b2).sum(dim) / (np.linalg.norm(a2, axis=dim) * np.linalg.norm(b2, axis=dim))
    np.testing.assert_allclose(out.arr, expected.astype(np.float32), rtol=1e-5)
    check_op(lambda x, y: F.cosine_similarity(x, y, dim=dim), a, b)


def test_cosine_similarity_empty_and_module():
    check_op(lambda x, y: nn.CosineSimilarity(dim=-1)(x, y), RNG.standard_normal((3, 4)),
             RNG.standard_normal((3, 4)), extra_shapes=[((0, 4), (0, 4))])
    with pytest.raises(RuntimeError, match=r"\(3, 4\).*\(5,\)"):
        F.cosine_similarity(fastgrad.randn(3, 4), fastgrad.randn(5))


@pytest.mark.parametrize("p", [2.0, 1.0, 3.0, float("inf")])
@pytest.mark.parametrize("keepdim", [False, True])
def test_pairwise_distance_gradcheck(p, keepdim):
    check_op(lambda x, y: F.pairwise_distance(x, y, p=p, keepdim=keepdim),
             RNG.standard_normal((4, 5)), RNG.standard_normal(5),
             extra_shapes=[((0, 5), (5,)), ((1, 1), (1, 1))])


def test_pairwise_distance_values_and_module():
    a, b = RNG.standard_normal((4, 5)), RNG.standard_normal((4, 5))
    out = nn.PairwiseDistance(p=1.0, eps=0.0)(fastgrad.tensor(a), fastgrad.tensor(b))
    np.testing.assert_allclose(out.arr, np.abs(a - b).sum(1).astype(np.float32), rtol=1e-5)
    assert F.pairwise_distance(fastgrad.tensor(a), fastgrad.tensor(b), keepdim=True).shape == (4, 1)


def test_one_hot():
    x = fastgrad.tensor([[0, 3], [1, 1]])
    out = F.one_hot(x)
    assert out.dtype == np.int64 and out.shape == (2, 2, 4)
    assert out.arr.argmax(-1).tolist() == [[0, 3], [1, 1]] and out.arr.sum() == 4
    assert F.one_hot(x, num_classes=6).shape == (2, 2, 6)
    assert F.one_hot(fastgrad.zeros(0, dtype=fastgrad.int64), 3).shape == (0, 3)
    assert not F.one_hot(x).requires_grad


@pytest.mark.parametrize("values, dtype, kwargs, message", [
    ([1.0], fastgrad.float32, {}, "LongTensor"),
    ([1], fastgrad.int32, {}, "LongTensor"),
    ([-1, 2], fastgrad.int64, dict(num_classes=4), "non-negative, got -1"),
    ([1, 4], fastgrad.int64, dict(num_classes=4), "smaller than num_classes, got 4"),
    ([1, 2], fastgrad.int64, dict(num_classes=-2), "smaller than num_classes, got 2"),
    ([], fastgrad.int64, {}, "empty tensor"),
    ([], fastgrad.int64, dict(num_classes=0), "empty tensor"),
])
def test_one_hot_errors(values, dtype, kwargs, message):
    x = fastgrad.tensor(values, dtype=dtype)
    with pytest.raises(RuntimeError, match=message):
        F.one_hot(x, **kwargs)
