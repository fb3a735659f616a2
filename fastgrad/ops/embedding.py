"""``embedding``: rows of a weight matrix looked up by integer indices.

The weight's gradient is a scatter-add of the output gradient's rows to the looked-up
indices (``ops/indexing.py: scatter``, whose own backward is a gather), so the backward is
differentiable again with create_graph; the padding row gets none, and
``scale_grad_by_freq`` divides each row's gradient by how often its index occurs.
"""
import numpy as np

from fastgrad.autograd.function import GradFn, needs_grad
from fastgrad.autograd.tensor import Tensor
from fastgrad.ops._operands import as_tensor
from fastgrad.ops.indexing import scatter


class EmbeddingGradFn(GradFn):
    fresh_grads = True  # scatter allocates the weight's gradient

    def __init__(self, weight, flat_indices, row_scale):
        super().__init__(weight)
        self.weight_shape = weight.shape
        self.flat_indices = flat_indices
        self.row_scale = row_scale  # (L, 1) array: 0 for padding, 1/count by frequency, or None

    def backward(self, grad_output):
        rows = grad_output.reshape(len(self.flat_indices), self.weight_shape[1])
        if self.row_scale is not None:
            rows = rows * self.row_scale.astype(rows.dtype)
        return (scatter(rows, self.weight_shape, (self.flat_indices,)),)


def _checked_indices(input, num_embeddings):
    arr = input.arr if isinstance(input, Tensor) else np.asarray(input)
    if arr.dtype not in (np.int64, np.int32):
        raise RuntimeError("Expected tensor for argument #1 'indices' to have one of the following "
                           f"scalar types: Long, Int; but got {arr.dtype} instead (while checking "
                           "arguments for embedding)")
    if arr.size and (arr.min() < 0 or arr.max() >= num_embeddings):
        bad = arr.min() if arr.min() < 0 else arr.max()
        raise IndexError(f"index out of range in self: index {int(bad)} for an embedding of "
                         f"{num_embeddings} rows")
    return arr


def _renorm_(weight, indices, max_norm, norm_type):
    """Scale, in place and outside the graph, each looked-up row whose norm exceeds
    ``max_norm`` to norm ``max_norm`` (PyTorch's ``embedding_renorm_``, same 1e-7)."""
    rows = np.unique(indices)
    w = weight.arr[rows]
    norms = np.linalg.norm(w, ord=norm_type, axis=1) if norm_type != 0 else (w != 0).sum(axis=1)
    over = norms > max_norm
    if over.any():
        scale = max_norm / (norms[over] + 1e-7)
        weight.arr[rows[over]] = w[over] * scale[:, None].astype(w.dtype)
        weight._bump_version()


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0,
              scale_grad_by_freq=False, sparse=False):
    """``weight[input]``: integer ``input`` of any shape (int64 or int32), ``weight``
    (num_embeddings, embedding_dim) -> shape ``input.shape + (embedding_dim,)``.

    ``padding_idx`` (negative counts from the end): that row receives no gradient.
    ``max_norm``: the looked-up rows are renormalised in place first, as PyTorch does.
    Out-of-range indices raise IndexError. ``sparse=True`` gives the dense gradient (fastgrad
    has no sparse tensors): the same values, so SGD steps as PyTorch's."""
    weight = as_tensor(weight)
    if weight.ndim != 2:
        raise RuntimeError(f"'weight' must be 2-D, got a weight of shape {tuple(weight.shape)}")
    num_embeddings = weight.shape[0]
    if padding_idx is not None:
        if not -num_embeddings <= padding_idx < num_embeddings:
            raise AssertionError(f"Padding_idx must be within num_embeddings, got {padding_idx} "
                                 f"for {num_embeddings} embeddings")
        padding_idx %= num_embeddings
    indices = _checked_indices(input, num_embeddings)
    if max_norm is not None:
        _renorm_(weight, indices, max_norm, norm_type)
    flat = indices.reshape(-1).astype(np.intp)
    out = weight.arr[flat].reshape(indices.shape + (weight.shape[1],))
    fn = None
    if needs_grad(weight):
        row_scale = None
        if scale_grad_by_freq:
            counts = np.bincount(flat, minlength=num_embeddings)
            row_scale = (1.0 / np.maximum(counts[flat], 1))[:, None]
        if padding_idx is not None:
            keep = (flat != padding_idx)[:, None].astype(np.float64)
            row_scale = keep if row_scale is None else row_scale * keep
        fn = EmbeddingGradFn(weight, flat, row_scale)
    return Tensor._wrap(out, fn)
