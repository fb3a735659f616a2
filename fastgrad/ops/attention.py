"""``scaled_dot_product_attention``: softmax(q k^T * scale + bias) v, from differentiable ops
(matmul, softmax, where, dropout), so every order of gradient comes from theirs.

A query whose keys are all masked out attends to nothing and gets zeros (PyTorch 2.x's
"safe softmax"), not the NaN of a softmax over -inf only.
"""
import math

import numpy as np

from fastgrad.autograd.tensor import Tensor
from fastgrad.ops._operands import as_tensor
from fastgrad.ops.dropout import dropout
from fastgrad.ops.select import where
from fastgrad.ops.softmax import softmax


def _dtype_name(dtype):
    return {np.dtype(np.float32): "float", np.dtype(np.float64): "double",
            np.dtype(np.int64): "long int", np.dtype(np.bool_): "bool"}.get(np.dtype(dtype),
                                                                             str(dtype))


def attention_bias(attn_mask, is_causal, L, S, dtype):
    """The additive bias (an ndarray, or the float Tensor ``attn_mask`` itself so that it gets
    a gradient) for SDPA's mask convention: a bool mask is True where a key takes part."""
    if is_causal:
        if attn_mask is not None:
            raise RuntimeError("_scaled_dot_product_attention: Explicit attn_mask should not be "
                               "set when is_causal=True")
        allowed = np.tril(np.ones((L, S), dtype=bool))
        return np.where(allowed, 0.0, -np.inf).astype(dtype)
    if attn_mask is None:
        return None
    mask_dtype = attn_mask.dtype if isinstance(attn_mask, Tensor) else np.asarray(attn_mask).dtype
    if mask_dtype == np.bool_:
        allowed = attn_mask.arr if isinstance(attn_mask, Tensor) else np.asarray(attn_mask)
        return np.where(allowed, 0.0, -np.inf).astype(dtype)
    if not np.issubdtype(mask_dtype, np.floating):
        raise RuntimeError("Expected attn_mask dtype to be bool or float or to match query dtype, "
                           f"but got attn_mask.dtype: {_dtype_name(mask_dtype)} and  query.dtype: "
                           f"{_dtype_name(dtype)} instead.")
    return attn_mask


def attend(query, key, value, bias, dropout_p, scale, generator=None):
    """(output, weights) of attention over the last two dims; ``bias`` broadcasts with the
    scores (..., L, S). ``weights`` are after dropout, as PyTorch returns them."""
    scores = (query @ key.transpose(-2, -1)) * scale
    if bias is not None:
        scores = scores + bias
    blocked = np.isneginf(scores.arr).all(axis=-1, keepdims=True)
    if blocked.any():  # such a row would be NaN: give it 0 logits, then 0 weights below
        scores = where(blocked, 0.0, scores)
    weights = softmax(scores, dim=-1)
    if blocked.any():
        weights = where(blocked, 0.0, weights)
    if dropout_p > 0.0:
        weights = dropout(weights, dropout_p, training=True, generator=generator)
    return weights @ value, weights


def _repeat_heads(x, times):
    """Each head (dim -3) ``times`` times in a row: PyTorch's repeat_interleave(times, -3)."""
    *lead, h, s, d = x.shape
    return x.unsqueeze(-3).broadcast_to(*lead, h, times, s, d).reshape(*lead, h * times, s, d)


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0,
                                 is_causal=False, scale=None, enable_gqa=False, generator=None):
    """query (..., L, E), key (..., S, E), value (..., S, Ev) -> (..., L, Ev), as
    ``torch.nn.functional.scaled_dot_product_attention``.

    ``attn_mask``: bool (True = the key takes part) or float (added to the scores),
    broadcasting to (..., L, S); ``is_causal`` masks key j > query i and excludes
    ``attn_mask``; ``scale`` defaults to 1 / sqrt(E); ``dropout_p`` always applies (pass 0 in
    eval); ``enable_gqa`` repeats each key / value head for groups of query heads."""
    query, key, value = as_tensor(query), as_tensor(key), as_tensor(value)
    if not (query.dtype == key.dtype == value.dtype):
        raise RuntimeError("Expected query, key, and value to have the same dtype, but got "
                           f"query.dtype: {_dtype_name(query.dtype)} key.dtype: "
                           f"{_dtype_name(key.dtype)} and value.dtype: {_dtype_name(value.dtype)} "
                           "instead.")
    if query.ndim < 2 or key.ndim < 2 or value.ndim < 2:
        raise RuntimeError("scaled_dot_product_attention: query, key and value need at least 2 "
                           f"dims, got shapes {tuple(query.shape)}, {tuple(key.shape)}, "
                           f"{tuple(value.shape)}")
    if query.shape[-1] != key.shape[-1] or key.shape[-2] != value.shape[-2]:
        raise RuntimeError(f"scaled_dot_product_attention: query {tuple(query.shape)}, key "
                           f"{tuple(key.shape)} and value {tuple(value.shape)} do not fit: query "
                           "and key need the same last size, key and value the same length")
    if not 0.0 <= dropout_p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {dropout_p}")
    if enable_gqa and query.ndim >= 3 and key.shape[-3] != query.shape[-3]:
        if query.shape[-3] % key.shape[-3] or query.shape[-3] % value.shape[-3]:
            raise RuntimeError(f"scaled_dot_product_attention: {query.shape[-3]} query heads are "
                               f"not a multiple of {key.shape[-3]} key / {value.shape[-3]} value "
                               "heads")
        key = _repeat_heads(key, query.shape[-3] // key.shape[-3])
        value = _repeat_heads(value, query.shape[-3] // value.shape[-3])
    L, S = query.shape[-2], key.shape[-2]
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else scale
    bias = attention_bias(attn_mask, is_causal, L, S, query.dtype)
    out, _ = attend(query, key, value, bias, dropout_p, scale, generator)
    return out
