"""Matrix and vector products as PyTorch's: dot, inner, outer, mv, mm, bmm, addmm, baddbmm,
tensordot, kron, cross; linalg.cross, linalg.vecdot.

Why no node here: each product is a composition of differentiable ops. The matrix products
are ``@`` (fastgrad's GEMM under the thread policy, ``ops/gemm.py``) after PyTorch's shape
and dtype checks; tensordot is an einsum; outer, kron and cross are broadcast products. So
their gradients, to any order, are those ops' gradients.
"""
import numbers
import warnings


from fastgrad.ops._methods import tensor_method
from fastgrad.ops._operands import as_tensor, normalize_dim
from fastgrad.ops.einsum import _LETTERS, _torch_name, einsum
from fastgrad.ops.shape import reshape
from fastgrad.ops.shape_extra import broadcast_tensors, roll


def _same_dtype(a, b, name):
    if a.arr.dtype != b.arr.dtype:
        raise RuntimeError(f"{name}: expected both operands to have the same dtype, but got: "
                           f"{_torch_name(a.arr.dtype)} != {_torch_name(b.arr.dtype)}")


def _ndim(t, n, what):
    if t.arr.ndim != n:
        kind = "matrix" if n == 2 else f"{n}D tensor"
        raise RuntimeError(f"{what} must be a {kind} (got shape {t.shape})")


@tensor_method()
def dot(a, b):
    """The inner product of two 1-D tensors of one size and dtype (a 0-d tensor)."""
    a, b = as_tensor(a), as_tensor(b)
    if a.arr.ndim != 1 or b.arr.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {a.arr.ndim}D and {b.arr.ndim}D tensors")
    if a.arr.dtype != b.arr.dtype:
        raise RuntimeError(f"dot : expected both vectors to have same dtype, but found "
                           f"{_torch_name(a.arr.dtype)} and {_torch_name(b.arr.dtype)}")
    if a.arr.size != b.arr.size:
        raise RuntimeError(f"inconsistent tensor size, expected tensor [{a.arr.size}] and src "
                           f"[{b.arr.size}] to have the same number of elements, but got "
                           f"{a.arr.size} and {b.arr.size} elements respectively")
    return a @ b


@tensor_method()
def mm(a, b):
    """(n, m) @ (m, p) -> (n, p)."""
    a, b = as_tensor(a), as_tensor(b)
    _ndim(a, 2, "self")
    _ndim(b, 2, "mat2")
    if a.arr.shape[1] != b.arr.shape[0]:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({a.arr.shape[0]}x"
                           f"{a.arr.shape[1]} and {b.arr.shape[0]}x{b.arr.shape[1]})")
    _same_dtype(a, b, "mm")
    return a @ b


@tensor_method()
def mv(mat, vec):
    """(n, m) @ (m,) -> (n,)."""
    mat, vec = as_tensor(mat), as_tensor(vec)
    if mat.arr.ndim != 2 or vec.arr.ndim != 1:
        raise RuntimeError(f"vector + matrix @ vector expected, got 1, {mat.arr.ndim}, "
                           f"{vec.arr.ndim}")
    if mat.arr.shape[1] != vec.arr.shape[0]:
        raise RuntimeError(f"size mismatch, got input ({mat.arr.shape[0]}), mat "
                           f"({mat.arr.shape[0]}x{mat.arr.shape[1]}), vec ({vec.arr.shape[0]})")
    _same_dtype(mat, vec, "mv")
    return mat @ vec


@tensor_method()
def bmm(a, b):
    """(b, n, m) @ (b, m, p) -> (b, n, p), no broadcasting."""
    a, b = as_tensor(a), as_tensor(b)
    _ndim(a, 3, "batch1")
    _ndim(b, 3, "batch2")
    if a.arr.shape[0] != b.arr.shape[0]:
        raise RuntimeError(f"batch1 and batch2 must have same number of batches, got "
                           f"{a.arr.shape[0]} and {b.arr.shape[0]}")
    if a.arr.shape[2] != b.arr.shape[1]:
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                           f"[{a.arr.shape[0]}, {a.arr.shape[2]}] but got: [{b.arr.shape[0]}, "
                           f"{b.arr.shape[1]}].")
    _same_dtype(a, b, "bmm")
    return a @ b


def _scaled_sum(input, product, beta, alpha):
    """``beta * input + alpha * product``, ``input`` broadcast to the product's shape; with
    ``beta == 0`` input is not read (NaN in it does not propagate), as PyTorch's."""
    from fastgrad.ops.shape import broadcast_to

    input = broadcast_to(as_tensor(input), product.shape)
    scaled = product if alpha == 1 else product * alpha
    if beta == 0:
        return scaled
    return (input if beta == 1 else input * beta) + scaled


@tensor_method()
def addmm(input, mat1, mat2, *, beta=1, alpha=1):
    """``beta * input + alpha * (mat1 @ mat2)``; input broadcasts to (n, p)."""
    return _scaled_sum(input, mm(mat1, mat2), beta, alpha)


@tensor_method()
def baddbmm(input, batch1, batch2, *, beta=1, alpha=1):
    """``beta * input + alpha * bmm(batch1, batch2)``; input broadcasts to (b, n, p)."""
    return _scaled_sum(input, bmm(batch1, batch2), beta, alpha)


@tensor_method("outer", "ger")
def outer(a, b):
    """``a[i] * b[j]`` for 1-D a and b (types promote as in ``*``)."""
    a, b = as_tensor(a), as_tensor(b)
    for name, t in (("self", a), ("vec2", b)):
        if t.arr.ndim != 1:
            raise RuntimeError(f"outer: Expected 1-D argument {name}, but got {t.arr.ndim}-D")
    return reshape(a, (-1, 1)) * b


ger = outer


def tensordot(a, b, dims=2):
    """Sum over the last ``dims`` dims of a and the first of b, or over the dim pairs
    ``dims = (dims_a, dims_b)``; the free dims of a, then of b, remain."""
    a, b = as_tensor(a), as_tensor(b)
    if isinstance(dims, numbers.Integral):
        if dims < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={dims}")
        if dims > min(a.arr.ndim, b.arr.ndim):
            raise RuntimeError(f"tensordot expects dims < ndim_a or ndim_b, but got dims={dims}")
        dims_a, dims_b = list(range(a.arr.ndim - dims, a.arr.ndim)), list(range(dims))
    else:
        dims_a, dims_b = ([d] if isinstance(d, numbers.Integral) else list(d) for d in dims)
        if len(dims_a) != len(dims_b):
            raise RuntimeError("both dimension lists should have same length")
    dims_a = [normalize_dim(d, a.arr.ndim) for d in dims_a]
    dims_b = [normalize_dim(d, b.arr.ndim) for d in dims_b]
    for da, db in zip(dims_a, dims_b):
        if a.arr.shape[da] != b.arr.shape[db]:
            raise RuntimeError(f"contracted dimensions need to match, but first has size "
                               f"{a.arr.shape[da]} in dim {da} and second has size "
                               f"{b.arr.shape[db]} in dim {db}")
    if a.arr.ndim + b.arr.ndim - len(dims_a) > len(_LETTERS):
        raise RuntimeError("tensordot: too many dims for einsum (at most 52)")
    labels = iter(_LETTERS)
    sub_a = [next(labels) for _ in range(a.arr.ndim)]
    sub_b = [next(labels) for _ in range(b.arr.ndim)]
    for da, db in zip(dims_a, dims_b):
        sub_b[db] = sub_a[da]
    out = ([c for i, c in enumerate(sub_a) if i not in dims_a]
           + [c for i, c in enumerate(sub_b) if i not in dims_b])
    _same_dtype(a, b, "tensordot")
    return einsum(f"{''.join(sub_a)},{''.join(sub_b)}->{''.join(out)}", a, b)


@tensor_method()
def inner(a, b):
    """Sum over the last dims of a and b (a 0-d operand: a plain product)."""
    a, b = as_tensor(a), as_tensor(b)
    if a.arr.ndim == 0 or b.arr.ndim == 0:
        return a * b
    if a.arr.shape[-1] != b.arr.shape[-1]:
        raise RuntimeError(f"inner() the last dimension must match on both input tensors but got "
                           f"shapes {list(a.arr.shape)} and {list(b.arr.shape)}")
    return tensordot(a, b, ([-1], [-1]))


@tensor_method()
def kron(a, b):
    """The Kronecker product: blocks ``a[i] * b``, shape ``a.shape * b.shape`` (the smaller
    rank padded with leading 1s)."""
    a, b = as_tensor(a), as_tensor(b)
    ndim = max(a.arr.ndim, b.arr.ndim)
    sa = (1,) * (ndim - a.arr.ndim) + a.arr.shape
    sb = (1,) * (ndim - b.arr.ndim) + b.arr.shape
    # a's dims at even places, b's at odd ones: the product's (a_k, b_k) pairs merge into one
    spread_a = reshape(a, tuple(s for n in sa for s in (n, 1)))
    spread_b = reshape(b, tuple(s for n in sb for s in (1, n)))
    return reshape(spread_a * spread_b, tuple(x * y for x, y in zip(sa, sb)))


def _cross(a, b, dim, name):
    a, b = as_tensor(a), as_tensor(b)
    if a.arr.ndim != b.arr.ndim:
        raise RuntimeError(f"{name}: inputs must have the same number of dimensions. (got "
                           f"shapes {a.shape} and {b.shape})")
    if a.arr.dtype != b.arr.dtype:
        raise RuntimeError(f"expected scalar type {_torch_name(a.arr.dtype)} but found "
                           f"{_torch_name(b.arr.dtype)} ({name} operands)")
    a, b = broadcast_tensors(a, b)
    if dim is None:  # torch.cross's deprecated default: the first dim of size 3
        warnings.warn("Using torch.cross without specifying the dim arg is deprecated. Please "
                      "either pass the dim explicitly or simply use torch.linalg.cross.",
                      UserWarning, stacklevel=3)
        threes = [i for i, n in enumerate(a.arr.shape) if n == 3]
        if not threes:
            raise RuntimeError(f"no dimension of size 3 in input (shape {a.shape})")
        dim = threes[0]
    axis = normalize_dim(dim, a.arr.ndim)
    if a.arr.shape[axis] != 3:
        raise RuntimeError(f"{name}: inputs dimension {dim} must have length 3. Got "
                           f"{a.arr.shape[axis]} and {b.arr.shape[axis]}")
    # (a x b)_i = a_{i+1} b_{i+2} - a_{i+2} b_{i+1}, indices mod 3
    return roll(a, -1, axis) * roll(b, -2, axis) - roll(a, -2, axis) * roll(b, -1, axis)


@tensor_method()
def cross(a, b, dim=None):
    """The 3-vector cross product along ``dim`` (default: the first dim of size 3); a and b
    broadcast."""
    return _cross(a, b, dim, "linalg.cross")


def linalg_cross(a, b, *, dim=-1):
    """``torch.linalg.cross``: as ``cross`` with ``dim=-1`` by default."""
    return _cross(a, b, dim, "linalg.cross")


def vecdot(x, y, *, dim=-1):
    """``torch.linalg.vecdot``: the dot product of x and y along ``dim`` (they broadcast)."""
    x, y = as_tensor(x), as_tensor(y)
    _same_dtype(x, y, "linalg.vecdot")
    return (x * y).sum(dim)
