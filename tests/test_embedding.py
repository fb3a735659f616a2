"""F.embedding and nn.Embedding: the op contract (the weight's gradient is a scatter-add of
rows, differentiable again), padding_idx, scale_grad_by_freq, max_norm, from_pretrained and
PyTorch's errors. (PyTorch's own numbers: test_layers_torch_reference.py.)"""
import numpy as np
import pytest

import fastgrad
from fastgrad import nn
from fastgrad.nn import functional as F
from fastgrad.testing import check_op

RNG = np.random.default_rng(5)


@pytest.mark.parametrize("index_shape", [(3, 4), (6,), (), (2, 0)])
def test_embedding_gradcheck(index_shape):
    indices = fastgrad.tensor(RNG.integers(0, 7, index_shape))  # repeats: rows accumulate
    check_op(lambda w: F.embedding(indices, w), RNG.standard_normal((7, 3)),
             extra_shapes=[((7, 0),)])


def test_int32_indices_work():
    w = fastgrad.randn(5, 2)
    i = fastgrad.tensor([4, 0], dtype=fastgrad.int32)
    np.testing.assert_array_equal(F.embedding(i, w).arr, w.arr[[4, 0]])


def _grad(indices, weight, cotangent, **kwargs):
    w = fastgrad.tensor(weight, dtype=fastgrad.float64, requires_grad=True)
    out = F.embedding(fastgrad.tensor(indices), w, **kwargs)
    out.backward(fastgrad.tensor(cotangent, dtype=fastgrad.float64))
    return w.grad.arr


def test_padding_row_gets_no_gradient_and_others_accumulate():
    indices = np.array([[0, 2, 2], [3, 0, 2]])
    weight, cot = RNG.standard_normal((4, 3)), RNG.standard_normal((2, 3, 3))
    g = _grad(indices, weight, cot, padding_idx=2)
    np.testing.assert_array_equal(g[2], 0.0)
    np.testing.assert_allclose(g[0], cot[0, 0] + cot[1, 1])
    np.testing.assert_allclose(g[3], cot[1, 0])
    np.testing.assert_array_equal(g[1], 0.0)
    np.testing.assert_array_equal(_grad(indices, weight, cot, padding_idx=-2), g)
    # the forward still reads the padding row
    out = F.embedding(fastgrad.tensor(indices), fastgrad.tensor(weight, dtype=fastgrad.float64),
                      padding_idx=2)
    np.testing.assert_array_equal(out.arr[0, 1], weight[2])


def test_scale_grad_by_freq_divides_by_the_count_in_the_batch():
    indices = np.array([1, 1, 1, 0])
    cot = RNG.standard_normal((4, 2))
    g = _grad(indices, RNG.standard_normal((3, 2)), cot, scale_grad_by_freq=True)
    np.testing.assert_allclose(g[1], cot[:3].sum(0) / 3)
    np.testing.assert_allclose(g[0], cot[3])


def test_gradient_is_differentiable_again():
    # d/dw <grad_w(sum(E(w)^2 * c)), v> = 2 * scatter(c * gather(v))
    indices = fastgrad.tensor([[0, 1], [1, 1]])
    w = fastgrad.tensor(RNG.standard_normal((3, 2)), dtype=fastgrad.float64, requires_grad=True)
    c = fastgrad.tensor(RNG.standard_normal((2, 2, 2)), dtype=fastgrad.float64)
    (g,) = fastgrad.autograd.grad((F.embedding(indices, w) ** 2 * c).sum(), w, create_graph=True)
    v = RNG.standard_normal((3, 2))
    (h,) = fastgrad.autograd.grad((g * fastgrad.tensor(v, dtype=fastgrad.float64)).sum(), w)
    expected = np.zeros((3, 2))
    np.add.at(expected, indices.arr.reshape(-1), (2 * c.arr * v[indices.arr]).reshape(-1, 2))
    np.testing.assert_allclose(h.arr, expected)


def test_max_norm_renormalises_the_looked_up_rows_in_place():
    weight = np.array([[3.0, 4.0], [0.3, 0.4], [6.0, 8.0]])
    w = fastgrad.tensor(weight.copy(), dtype=fastgrad.float64, requires_grad=True)
    version = w._version
    out = F.embedding(fastgrad.tensor([0, 1, 0]), w, max_norm=1.0)
    np.testing.assert_allclose(np.linalg.norm(out.arr, axis=1), [1.0, 0.5, 1.0], atol=1e-7)
    np.testing.assert_allclose(w.arr[0], weight[0] / (5 + 1e-7))
    np.testing.assert_array_equal(w.arr[1:], weight[1:])  # under max_norm, or not looked up
    assert w._version > version


def test_sparse_gives_the_dense_gradient():
    indices, weight = np.array([1, 3, 1]), RNG.standard_normal((4, 2))
    cot = RNG.standard_normal((3, 2))
    np.testing.assert_array_equal(_grad(indices, weight, cot, sparse=True),
                                  _grad(indices, weight, cot))
    assert repr(nn.Embedding(5, 2, norm_type=1.0, scale_grad_by_freq=True, sparse=True)) == \
        "Embedding(5, 2, norm_type=1.0, scale_grad_by_freq=True, sparse=True)"


def test_errors():
    w = fastgrad.randn(5, 3)
    with pytest.raises(IndexError, match="index out of range in self: index 5"):
        F.embedding(fastgrad.tensor([0, 5]), w)
    with pytest.raises(IndexError, match="index -1"):
        F.embedding(fastgrad.tensor([-1]), w)
    with pytest.raises(RuntimeError, match="Long, Int; but got float32"):
        F.embedding(fastgrad.tensor([1.0]), w)
    with pytest.raises(RuntimeError, match="must be 2-D.*\\(5, 3, 1\\)"):
        F.embedding(fastgrad.tensor([1]), w.reshape(5, 3, 1))
    with pytest.raises(AssertionError, match="Padding_idx must be within num_embeddings"):
        F.embedding(fastgrad.tensor([1]), w, padding_idx=5)
    with pytest.raises(AssertionError, match="Padding_idx"):
        nn.Embedding(4, 2, padding_idx=-5)


def test_module_init_state_dict_and_repr():
    fastgrad.manual_seed(0)
    emb = nn.Embedding(10, 4, padding_idx=3)
    assert emb.weight.shape == (10, 4) and emb.weight.dtype == np.float32
    np.testing.assert_array_equal(emb.weight.arr[3], 0.0)
    assert abs(emb.weight.arr.std() - 1.0) < 0.4  # N(0, 1), as PyTorch
    assert list(emb.state_dict()) == ["weight"]
    assert repr(emb) == "Embedding(10, 4, padding_idx=3)"
    assert repr(nn.Embedding(3, 2, max_norm=1.0)) == "Embedding(3, 2, max_norm=1.0)"
    out = emb(fastgrad.tensor([[3, 1]]))
    out.sum().backward()
    np.testing.assert_array_equal(emb.weight.grad.arr[3], 0.0)
    np.testing.assert_array_equal(emb.weight.grad.arr[1], 1.0)


def test_from_pretrained():
    table = fastgrad.randn(4, 3)
    emb = nn.Embedding.from_pretrained(table)
    assert not emb.weight.requires_grad and emb.num_embeddings == 4 and emb.embedding_dim == 3
    np.testing.assert_array_equal(emb(fastgrad.tensor([2])).arr, table.arr[[2]])
    table.arr[2] = 0.0  # the same memory, as PyTorch's
    assert not emb.weight.arr[2].any()
    assert nn.Embedding.from_pretrained(table, freeze=False, padding_idx=1).weight.requires_grad
    with pytest.raises(AssertionError, match="2-dimensional"):
        nn.Embedding.from_pretrained(fastgrad.randn(4))
