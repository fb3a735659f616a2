"""F.scaled_dot_product_attention and nn.MultiheadAttention: the op contract (gradcheck and
gradgradcheck for query, key, value and a float mask), the masks, dropout, fully masked rows,
PyTorch's errors, the module's parameters and arguments. (PyTorch's own numbers, and a torch
state_dict loaded into the module: test_layers_torch_reference.py.)"""
import math

import numpy as np
import pytest

import fastgrad
from fastgrad import nn
from fastgrad.nn import functional as F
from fastgrad.testing import check_op

RNG = np.random.default_rng(11)


def _qkv(*lead, L=3, S=5, E=4, Ev=6):
    return (RNG.standard_normal((*lead, L, E)), RNG.standard_normal((*lead, S, E)),
            RNG.standard_normal((*lead, S, Ev)))


def _reference(q, k, v, bias=None, scale=None):
    scale = 1 / math.sqrt(q.shape[-1]) if scale is None else scale
    s = q @ np.swapaxes(k, -1, -2) * scale + (0 if bias is None else bias)
    w = np.exp(s - s.max(-1, keepdims=True))
    return (w / w.sum(-1, keepdims=True)) @ v


@pytest.mark.parametrize("lead", [(), (2,), (2, 3)])
def test_sdpa_gradcheck(lead):
    q, k, v = _qkv(*lead)
    check_op(F.scaled_dot_product_attention, q, k, v)
    np.testing.assert_allclose(
        F.scaled_dot_product_attention(*(fastgrad.tensor(a, dtype=fastgrad.float64)
                                         for a in (q, k, v))).arr, _reference(q, k, v))


def test_sdpa_empty_and_single_key():
    q, k, v = _qkv(2, L=1, S=1)
    check_op(F.scaled_dot_product_attention, q, k, v,
             extra_shapes=[((0, 3, 4), (0, 5, 4), (0, 5, 6)), ((2, 0, 4), (2, 5, 4), (2, 5, 6))])


def test_sdpa_bool_mask_float_mask_and_scale():
    q, k, v = _qkv(2)
    allowed = RNG.random((3, 5)) < 0.6
    allowed[:, 2] = True
    check_op(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=allowed, scale=0.7),
             q, k, v)
    out = F.scaled_dot_product_attention(*(fastgrad.tensor(a, dtype=fastgrad.float64)
                                           for a in (q, k, v)), attn_mask=fastgrad.tensor(allowed),
                                         scale=0.7)
    np.testing.assert_allclose(out.arr, _reference(q, k, v, np.where(allowed, 0, -np.inf), 0.7))
    # a float mask is added to the scores, and gets a gradient
    check_op(lambda q, k, v, b: F.scaled_dot_product_attention(q, k, v, attn_mask=b), q, k, v,
             RNG.standard_normal((2, 1, 5)))


def test_sdpa_is_causal():
    q, k, v = _qkv(2, L=4, S=4)
    check_op(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True), q, k, v)
    out = F.scaled_dot_product_attention(*(fastgrad.tensor(a, dtype=fastgrad.float64)
                                           for a in (q, k, v)), is_causal=True)
    causal = np.where(np.tril(np.ones((4, 4), dtype=bool)), 0, -np.inf)
    np.testing.assert_allclose(out.arr, _reference(q, k, v, causal))
    np.testing.assert_allclose(out.arr[:, 0], v[:, 0])  # the first query sees the first key only


def test_sdpa_fully_masked_query_gets_zeros_and_zero_gradient():
    q, k, v = (fastgrad.tensor(a, dtype=fastgrad.float64, requires_grad=True) for a in _qkv(2))
    allowed = np.ones((3, 5), dtype=bool)
    allowed[1] = False
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed)
    np.testing.assert_array_equal(out.arr[:, 1], 0.0)
    assert np.isfinite(out.arr).all()
    out.backward(fastgrad.ones(*out.shape, dtype=fastgrad.float64))
    np.testing.assert_array_equal(q.grad.arr[:, 1], 0.0)
    assert np.isfinite(k.grad.arr).all() and np.isfinite(v.grad.arr).all()


def test_sdpa_dropout_keeps_the_expectation_and_zeroes_weights():
    q, k, v = (fastgrad.tensor(a, dtype=fastgrad.float64) for a in _qkv(L=1, S=4, Ev=1))
    v = fastgrad.ones(4, 1, dtype=fastgrad.float64)  # then out = sum of the kept weights / (1-p)
    fastgrad.manual_seed(0)
    outs = np.array([F.scaled_dot_product_attention(q, k, v, dropout_p=0.5).item()
                     for _ in range(400)])
    assert abs(outs.mean() - 1.0) < 0.1 and (outs < 1.0).any() and (outs > 1.0).any()
    gen = fastgrad.Generator().manual_seed(3)
    a = F.scaled_dot_product_attention(q, k, v, dropout_p=0.3,
                                       generator=fastgrad.Generator().manual_seed(3))
    b = F.scaled_dot_product_attention(q, k, v, dropout_p=0.3, generator=gen)
    assert a.item() == b.item()


def test_sdpa_grouped_query_attention():
    q = RNG.standard_normal((1, 4, 3, 2))
    k, v = RNG.standard_normal((1, 2, 5, 2)), RNG.standard_normal((1, 2, 5, 3))
    check_op(lambda q, k, v: F.scaled_dot_product_attention(q, k, v, enable_gqa=True), q, k, v)
    out = F.scaled_dot_product_attention(*(fastgrad.tensor(a, dtype=fastgrad.float64)
                                           for a in (q, k, v)), enable_gqa=True)
    np.testing.assert_allclose(out.arr, _reference(q, np.repeat(k, 2, 1), np.repeat(v, 2, 1)))


def test_sdpa_errors():
    q, k, v = (fastgrad.randn(1, 3, 4) for _ in range(3))
    with pytest.raises(RuntimeError, match="Explicit attn_mask should not be set when is_causal"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=fastgrad.ones(3, 3).bool(),
                                       is_causal=True)
    with pytest.raises(RuntimeError, match="bool or float.*long int"):
        F.scaled_dot_product_attention(q, k, v,
                                       attn_mask=fastgrad.zeros(3, 3, dtype=fastgrad.int64))
    with pytest.raises(RuntimeError, match="same dtype.*double"):
        F.scaled_dot_product_attention(q, k, v.double())
    with pytest.raises(RuntimeError, match=r"\(1, 3, 4\).*\(1, 3, 5\)"):
        F.scaled_dot_product_attention(q, fastgrad.randn(1, 3, 5), v)
    with pytest.raises(ValueError, match="dropout probability"):
        F.scaled_dot_product_attention(q, k, v, dropout_p=1.5)
    with pytest.raises(RuntimeError, match="4 query heads are not a multiple of 3"):
        F.scaled_dot_product_attention(fastgrad.randn(4, 2, 2), fastgrad.randn(3, 2, 2),
                                       fastgrad.randn(3, 2, 2), enable_gqa=True)


def test_mha_parameters_as_pytorch():
    mha = nn.MultiheadAttention(8, 2)
    shapes = {name: p.shape for name, p in mha.named_parameters()}
    assert shapes == {"in_proj_weight": (24, 8), "in_proj_bias": (24,),
                      "out_proj.weight": (8, 8), "out_proj.bias": (8,)}
    np.testing.assert_array_equal(mha.in_proj_bias.arr, 0.0)
    np.testing.assert_array_equal(mha.out_proj.bias.arr, 0.0)
    assert np.abs(mha.in_proj_weight.arr).max() <= math.sqrt(6 / (24 + 8))  # xavier_uniform
    other = nn.MultiheadAttention(6, 3, kdim=5, vdim=4, bias=False, add_bias_kv=True)
    shapes = {name: p.shape for name, p in other.named_parameters()}
    assert shapes == {"q_proj_weight": (6, 6), "k_proj_weight": (6, 5), "v_proj_weight": (6, 4),
                      "bias_k": (1, 1, 6), "bias_v": (1, 1, 6), "out_proj.weight": (6, 6)}
    assert other.in_proj_weight is None and other.in_proj_bias is None
    assert repr(mha) == ("MultiheadAttention(\n  (out_proj): NonDynamicallyQuantizableLinear("
                         "in_features=8, out_features=8, bias=True)\n)")
    with pytest.raises(AssertionError, match="embed_dim must be divisible by num_heads"):
        nn.MultiheadAttention(7, 2)


def _module(**kwargs):
    fastgrad.manual_seed(1)
    mha = nn.MultiheadAttention(dtype=fastgrad.float64, **kwargs)
    for p in mha.parameters():  # non-zero biases, so that every parameter matters
        p.arr[...] = RNG.standard_normal(p.shape) * 0.5
    return mha


def _by_hand(mha, q, k, v, bias=None):
    """MultiheadAttention written out in NumPy, batch-first, from its own parameters."""
    E, H = mha.embed_dim, mha.num_heads
    W, b = mha.in_proj_weight.arr, mha.in_proj_bias.arr
    heads = []
    for x, rows in ((q, slice(0, E)), (k, slice(E, 2 * E)), (v, slice(2 * E, 3 * E))):
        y = x @ W[rows].T + b[rows]
        heads.append(y.reshape(*y.shape[:2], H, E // H).transpose(0, 2, 1, 3))
    out = _reference(*heads, bias)
    out = out.transpose(0, 2, 1, 3).reshape(q.shape[0], q.shape[1], E)
    return out @ mha.out_proj.weight.arr.T + mha.out_proj.bias.arr


def test_mha_matches_the_formula_in_both_layouts():
    mha = _module(embed_dim=8, num_heads=2, batch_first=True)
    q, k, v = (RNG.standard_normal((2, n, 8)) for n in (3, 4, 4))
    out, weights = mha(*(fastgrad.tensor(a, dtype=fastgrad.float64) for a in (q, k, v)))
    np.testing.assert_allclose(out.arr, _by_hand(mha, q, k, v))
    assert weights.shape == (2, 3, 4)
    np.testing.assert_allclose(weights.arr.sum(-1), 1.0)
    mha.batch_first = False
    out_t, _ = mha(*(fastgrad.tensor(a.transpose(1, 0, 2), dtype=fastgrad.float64)
                     for a in (q, k, v)))
    np.testing.assert_allclose(out_t.arr, out.arr.transpose(1, 0, 2))
    unbatched, w1 = mha(*(fastgrad.tensor(a[0], dtype=fastgrad.float64) for a in (q, k, v)),
                        average_attn_weights=False)
    np.testing.assert_allclose(unbatched.arr, out.arr[0])
    assert w1.shape == (2, 3, 4)


def test_mha_masks_combine_as_pytorch():
    mha = _module(embed_dim=8, num_heads=2, batch_first=True)
    q, k, v = (RNG.standard_normal((2, n, 8)) for n in (3, 4, 4))
    padding = np.array([[False, False, True, False], [False, True, True, False]])
    attn = RNG.standard_normal((3, 4))
    out, _ = mha(*(fastgrad.tensor(a, dtype=fastgrad.float64) for a in (q, k, v)),
                 key_padding_mask=fastgrad.tensor(padding),
                 attn_mask=fastgrad.tensor(attn, dtype=fastgrad.float64))
    bias = attn + np.where(padding, -np.inf, 0)[:, None, None, :]
    np.testing.assert_allclose(out.arr, _by_hand(mha, q, k, v, bias))


def test_mha_gradcheck_in_the_inputs_and_parameters():
    mha = _module(embed_dim=4, num_heads=2, batch_first=True, add_bias_kv=True,
                  add_zero_attn=True)
    padding = np.array([[False, True, False], [False, False, False]])
    w_in, w_out = mha.in_proj_weight.arr.copy(), mha.out_proj.weight.arr.copy()
    del mha.in_proj_weight, mha.out_proj.weight  # plain attributes now: check_op's Tensors

    def attend(q, k, v, w_in, w_out):
        mha.in_proj_weight, mha.out_proj.weight = w_in, w_out
        out, weights = mha(q, k, v, key_padding_mask=padding, average_attn_weights=False)
        return out, weights

    q, k, v = (RNG.standard_normal((2, n, 4)) for n in (2, 3, 3))
    # the float64 biases (bias_k, in_proj_bias) promote float32 inputs, as in PyTorch
    check_op(attend, q, k, v, w_in, w_out, check_dtype=False)


def test_mha_dropout_only_in_training():
    mha = _module(embed_dim=4, num_heads=1, dropout=0.9)
    x = fastgrad.tensor(RNG.standard_normal((3, 2, 4)), dtype=fastgrad.float64)
    a, _ = mha.eval()(x, x, x)
    b, _ = mha(x, x, x)
    np.testing.assert_array_equal(a.arr, b.arr)
    fastgrad.manual_seed(0)
    c, weights = mha.train()(x, x, x)
    assert not np.allclose(a.arr, c.arr) and (weights.arr == 0).any()


def test_mha_need_weights_false_and_is_causal():
    mha = _module(embed_dim=4, num_heads=2)
    x = fastgrad.tensor(RNG.standard_normal((3, 2, 4)), dtype=fastgrad.float64)
    out, weights = mha(x, x, x, need_weights=False)
    assert weights is None and out.shape == (3, 2, 4)
    causal = fastgrad.tensor(np.triu(np.ones((3, 3), dtype=bool), 1))
    a, w = mha(x, x, x, attn_mask=causal, is_causal=True)
    assert np.all(w.arr[:, 0, 1:] == 0)
    with pytest.raises(RuntimeError, match="Need attn_mask if specifying the is_causal hint"):
        mha(x, x, x, is_causal=True)


def test_mha_errors():
    mha = _module(embed_dim=4, num_heads=2)
    x = fastgrad.randn(3, 2, 4, dtype=fastgrad.float64)
    with pytest.raises(AssertionError, match="unbatched 2D or batched 3D.*4-D"):
        mha(x[None], x[None], x[None])
    with pytest.raises(AssertionError, match="embedding dimension of 4, but got 5"):
        mha(fastgrad.randn(3, 2, 5), x, x)
    with pytest.raises(RuntimeError, match=r"2D attn_mask is \(3, 2\), but should be \(3, 3\)"):
        mha(x, x, x, attn_mask=fastgrad.zeros(3, 2, dtype=fastgrad.float64))
    with pytest.raises(RuntimeError, match=r"3D attn_mask is \(2, 3, 3\), but should be \(4, 3"):
        mha(x, x, x, attn_mask=fastgrad.zeros(2, 3, 3, dtype=fastgrad.float64))
    with pytest.raises(AssertionError, match="only bool and floating types of key_padding_mask"):
        mha(x, x, x, key_padding_mask=fastgrad.zeros(2, 3, dtype=fastgrad.int64))
    with pytest.raises(AssertionError, match=r"key_padding_mask shape of \(2, 3\)"):
        mha(x, x, x, key_padding_mask=fastgrad.zeros(3, 2).bool())
