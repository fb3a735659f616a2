"""``MultiheadAttention``: PyTorch's layer, with its parameter names and layouts
(``in_proj_weight`` (3E, E) or ``q/k/v_proj_weight``, ``in_proj_bias``, ``out_proj``,
``bias_k`` / ``bias_v``), so a ``torch.nn.MultiheadAttention`` state_dict loads as it is."""
import math

import numpy as np

from fastgrad import dtypes
from fastgrad.autograd.tensor import Tensor
from fastgrad.nn import init
from fastgrad.nn.linear import Linear
from fastgrad.nn.module import Module
from fastgrad.nn.parameter import Parameter
from fastgrad.ops.attention import attend
from fastgrad.ops.join import cat
from fastgrad.ops.linear import linear


def _as_bias(mask, name):
    """A mask in MultiheadAttention's convention (bool: True = masked out; float: added) as an
    additive bias: an ndarray, or the float Tensor itself (it then gets a gradient)."""
    if mask is None:
        return None
    arr = mask.arr if isinstance(mask, Tensor) else np.asarray(mask)
    if arr.dtype == np.bool_:
        return np.where(arr, -np.inf, 0.0)
    if not np.issubdtype(arr.dtype, np.floating):
        raise AssertionError(f"only bool and floating types of {name} are supported, got "
                             f"{arr.dtype}")
    return mask if isinstance(mask, Tensor) else arr


def _pad_keys(bias):
    """A bias over S keys extended by one key that nothing masks (for bias_k / zero attention)."""
    if bias is None:
        return None
    zeros = np.zeros(bias.shape[:-1] + (1,), dtype=bias.dtype)
    return cat([bias, Tensor(zeros)], dim=-1) if isinstance(bias, Tensor) else \
        np.concatenate([bias, zeros], axis=-1)


class NonDynamicallyQuantizableLinear(Linear):
    """PyTorch's name for ``out_proj``'s class (so the module prints as PyTorch's)."""


class MultiheadAttention(Module):
    """query (L, N, E) [or (N, L, E) with ``batch_first``, or unbatched (L, E)], key (S, N, kdim),
    value (S, N, vdim) -> (output like query, attention weights (N, L, S) averaged over heads,
    (N, H, L, S) with ``average_attn_weights=False``, or None without ``need_weights``).

    ``key_padding_mask`` (N, S) and ``attn_mask`` (L, S) or (N*H, L, S): bool True = masked out,
    float = added to the scores. A query with every key masked gets zeros (PyTorch's fast path;
    its ``need_weights=True`` path gives NaN there)."""

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False,
                 add_zero_attn=False, kdim=None, vdim=None, batch_first=False, device=None,
                 dtype=None):
        super().__init__()
        if embed_dim <= 0 or num_heads <= 0:
            raise ValueError(f"embed_dim and num_heads must be greater than 0, got "
                             f"embed_dim={embed_dim} and num_heads={num_heads} instead")
        self.embed_dim = embed_dim
        self.kdim = kdim if kdim is not None else embed_dim
        self.vdim = vdim if vdim is not None else embed_dim
        self._qkv_same_embed_dim = self.kdim == embed_dim and self.vdim == embed_dim
        self.num_heads = num_heads
        self.dropout = dropout
        self.batch_first = batch_first
        self.head_dim = embed_dim // num_heads
        assert self.head_dim * num_heads == embed_dim, "embed_dim must be divisible by num_heads"
        dtype = dtypes.DEFAULT_FLOAT if dtype is None else dtypes.as_dtype(dtype)

        def param(*shape):
            return Parameter(np.zeros(shape, dtype=dtype))

        if self._qkv_same_embed_dim:
            self.in_proj_weight = param(3 * embed_dim, embed_dim)
            self.register_parameter("q_proj_weight", None)
            self.register_parameter("k_proj_weight", None)
            self.register_parameter("v_proj_weight", None)
        else:
            self.q_proj_weight = param(embed_dim, embed_dim)
            self.k_proj_weight = param(embed_dim, self.kdim)
            self.v_proj_weight = param(embed_dim, self.vdim)
            self.register_parameter("in_proj_weight", None)
        if bias:
            self.in_proj_bias = param(3 * embed_dim)
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = NonDynamicallyQuantizableLinear(embed_dim, embed_dim, bias=bias, dtype=dtype)
        if add_bias_kv:
            self.bias_k = param(1, 1, embed_dim)
            self.bias_v = param(1, 1, embed_dim)
        else:
            self.bias_k = self.bias_v = None
        self.add_zero_attn = add_zero_attn
        self._reset_parameters()

    def _reset_parameters(self):
        """PyTorch's: Xavier-uniform projections, zero biases, normal bias_k / bias_v."""
        if self._qkv_same_embed_dim:
            init.xavier_uniform_(self.in_proj_weight)
        else:
            for w in (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight):
                init.xavier_uniform_(w)
        if self.in_proj_bias is not None:
            init.constant_(self.in_proj_bias, 0.0)
            init.constant_(self.out_proj.bias, 0.0)
        if self.bias_k is not None:
            init.xavier_normal_(self.bias_k)
            init.xavier_normal_(self.bias_v)

    def _projections(self):
        E = self.embed_dim
        if self._qkv_same_embed_dim:
            w = self.in_proj_weight
            weights = (w[:E], w[E:2 * E], w[2 * E:])
        else:
            weights = (self.q_proj_weight, self.k_proj_weight, self.v_proj_weight)
        b = self.in_proj_bias
        biases = (None,) * 3 if b is None else (b[:E], b[E:2 * E], b[2 * E:])
        return weights, biases

    def _split_heads(self, x):
        n, length, _ = x.shape
        return x.reshape(n, length, self.num_heads, self.head_dim).permute(0, 2, 1, 3)

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True,
                attn_mask=None, average_attn_weights=True, is_causal=False):
        if query.ndim not in (2, 3):
            raise AssertionError("query should be unbatched 2D or batched 3D tensor but received "
                                 f"{query.ndim}-D query tensor")
        if query.shape[-1] != self.embed_dim:
            raise AssertionError(f"was expecting embedding dimension of {self.embed_dim}, but got "
                                 f"{query.shape[-1]}")
        if key.ndim != query.ndim or value.ndim != query.ndim or key.shape[:-1] != value.shape[:-1]:
            raise AssertionError(f"key shape {tuple(key.shape)} does not match value shape "
                                 f"{tuple(value.shape)} (query shape {tuple(query.shape)})")
        if is_causal and attn_mask is None:
            raise RuntimeError("Need attn_mask if specifying the is_causal hint. You may use the "
                               "Transformer module method `generate_square_subsequent_mask` to "
                               "create this mask.")
        batched = query.ndim == 3
        if not batched:  # as a batch of one
            query, key, value = query.unsqueeze(0), key.unsqueeze(0), value.unsqueeze(0)
            if key_padding_mask is not None:
                key_padding_mask = key_padding_mask.reshape(1, -1)
        elif not self.batch_first:
            query, key, value = (x.transpose(0, 1) for x in (query, key, value))
        n, L, E = query.shape
        H = self.num_heads
        (wq, wk, wv), (bq, bk, bv) = self._projections()
        q, k, v = linear(query, wq, bq), linear(key, wk, bk), linear(value, wv, bv)
        bias = self._mask_bias(attn_mask, key_padding_mask, n, L, key.shape[1])
        if self.bias_k is not None:
            k = cat([k, self.bias_k.broadcast_to(n, 1, E)], dim=1)
            v = cat([v, self.bias_v.broadcast_to(n, 1, E)], dim=1)
            bias = _pad_keys(bias)
        q, k, v = self._split_heads(q), self._split_heads(k), self._split_heads(v)
        if self.add_zero_attn:
            zeros = Tensor(np.zeros((n, H, 1, self.head_dim), dtype=q.dtype))
            k, v = cat([k, zeros], dim=2), cat([v, zeros], dim=2)
            bias = _pad_keys(bias)
        p = self.dropout if self.training else 0.0
        out, weights = attend(q, k, v, bias, p, 1.0 / math.sqrt(self.head_dim))
        out = linear(out.permute(0, 2, 1, 3).reshape(n, L, E), self.out_proj.weight,
                     self.out_proj.bias)
        if not need_weights:
            weights = None
        elif average_attn_weights:
            weights = weights.mean(dim=1)
        if not batched:
            return out[0], None if weights is None else weights[0]
        return (out if self.batch_first else out.transpose(0, 1)), weights

    def _mask_bias(self, attn_mask, key_padding_mask, n, L, S):
        """attn_mask and key_padding_mask as one additive bias broadcasting to (N, H, L, S)."""
        bias = _as_bias(attn_mask, "attn_mask")
        H = self.num_heads
        if bias is not None:
            if bias.ndim == 2:
                if tuple(bias.shape) != (L, S):
                    raise RuntimeError(f"The shape of the 2D attn_mask is {tuple(bias.shape)}, but "
                                       f"should be {(L, S)}.")
            elif bias.ndim == 3:
                expected = (n * H, L, S)
                if tuple(bias.shape) != expected:
                    raise RuntimeError(f"The shape of the 3D attn_mask is {tuple(bias.shape)}, but "
                                       f"should be {expected}.")
                bias = bias.reshape(n, H, L, S)
            else:
                raise RuntimeError(f"attn_mask's dimension {bias.ndim} is not supported")
        padding = _as_bias(key_padding_mask, "key_padding_mask")
        if padding is not None:
            if tuple(padding.shape) != (n, S):
                raise AssertionError(f"expecting key_padding_mask shape of {(n, S)}, but got "
                                     f"{tuple(padding.shape)}")
            padding = padding.reshape(n, 1, 1, S)
            bias = padding if bias is None else bias + padding
        return bias
