"""More shape ops, as PyTorch's: flip / fliplr / flipud, roll, tril / triu, diag, diagonal,
diag_embed, trace, split / chunk / tensor_split / unbind / narrow, Tensor.unfold,
repeat_interleave, meshgrid, movedim, atleast_1d/2d/3d, broadcast_tensors.

Why so little autograd code here: every op that is not a plain view is linear in its input,
so its node is a ``linear_map`` (the array map and its adjoint, differentiable to any order);
the pieces of split / chunk / unbind / narrow are basic-indexing views (``x[...]``), so an
in-place write into one reaches its base's graph as PyTorch's do; movedim / meshgrid /
broadcast_tensors are permute / reshape / expand views.
"""
import numbers
import warnings

import numpy as np

from fastgrad.autograd.function import needs_grad
from fastgrad.autograd.tensor import Tensor
from fastgrad.ops._methods import tensor_method
from fastgrad.ops._operands import as_tensor, broadcast_error, normalize_dim
from fastgrad.ops.linear_map import LinearMapGradFn, linear_map
from fastgrad.ops.shape import broadcast_to, permute, reshape


def _linear(x, apply, adjoint, view_of=None):
    """``apply(x)`` as a Tensor whose backward is ``adjoint`` (``linear_map``); ``view_of``:
    an ndarray view of ``x.arr`` to return instead of a copy (PyTorch's view ops), sharing
    ``x``'s version counter."""
    if view_of is None:
        return linear_map(x, apply, adjoint)
    fn = LinearMapGradFn(x, apply, adjoint) if needs_grad(x) else None
    return Tensor._wrap(view_of, fn, base=x)


def _int_list(values, name):
    values = tuple(values) if isinstance(values, (tuple, list)) else (values,)
    for v in values:
        if not isinstance(v, numbers.Integral) or isinstance(v, bool):
            raise TypeError(f"{name}() expects ints, got {values}")
    return tuple(int(v) for v in values)


def _distinct_dims(dims, ndim):
    axes = tuple(normalize_dim(d, ndim) for d in dims)
    for d in axes:
        if axes.count(d) > 1:
            raise RuntimeError(f"dim {d} appears multiple times in the list of dims")
    return axes


# ------------------------------------------------------------------------------- flip, roll
@tensor_method()
def flip(x, *dims):
    """``x`` with the order of elements reversed along ``dims`` (a copy, as PyTorch's)."""
    x = as_tensor(x)
    dims = dims[0] if len(dims) == 1 and isinstance(dims[0], (tuple, list)) else dims
    axes = _distinct_dims(_int_list(dims, "flip"), x.arr.ndim)
    axes = axes if x.arr.ndim else ()

    def reverse(a):
        return np.flip(a, axes).copy()

    return _linear(x, reverse, reverse)


@tensor_method()
def fliplr(x):
    """Reverse dim 1 (the columns); x must be at least 2-D."""
    x = as_tensor(x)
    if x.arr.ndim < 2:
        raise RuntimeError(f"Input must be >= 2-d. (got a {x.arr.ndim}-d tensor of shape "
                           f"{x.shape})")
    return flip(x, (1,))


@tensor_method()
def flipud(x):
    """Reverse dim 0 (the rows); x must be at least 1-D."""
    x = as_tensor(x)
    if x.arr.ndim < 1:
        raise RuntimeError("Input must be >= 1-d. (got a 0-d tensor)")
    return flip(x, (0,))


@tensor_method()
def roll(x, shifts, dims=None):
    """Shift elements cyclically by ``shifts`` along ``dims`` (None: over the flattened x,
    shape kept). The adjoint of a roll is the opposite roll."""
    x = as_tensor(x)
    shifts = _int_list(shifts, "roll")
    if dims is None:
        if len(shifts) != 1:
            raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, dims:0")
        shape = x.arr.shape

        def shift(a, k=shifts[0]):
            return np.roll(a.reshape(-1), k).reshape(shape)

        return _linear(x, shift, lambda g: shift(g, -shifts[0]))
    dims = _int_list(dims, "roll")
    if x.arr.ndim == 0:
        raise IndexError(f"Dimension specified as {dims[0]} but tensor has no dimensions")
    if len(shifts) != len(dims):
        raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, "
                           f"dims:{len(dims)}")
    axes = tuple(normalize_dim(d, x.arr.ndim) for d in dims)
    return _linear(x, lambda a: np.roll(a, shifts, axes),
                   lambda g: np.roll(g, tuple(-s for s in shifts), axes))


# ------------------------------------------------------------------------- triangles, diagonals
def _triangle(x, diagonal, name, lower):
    x = as_tensor(x)
    if x.arr.ndim < 2:
        raise RuntimeError(f"{name}: input tensor must have at least 2 dimensions (got shape "
                           f"{x.shape})")
    rows, cols = x.arr.shape[-2:]
    keep = (np.tri(rows, cols, diagonal, dtype=bool) if lower
            else ~np.tri(rows, cols, diagonal - 1, dtype=bool))

    def mask(a):  # self-adjoint: a projection
        return np.where(keep, a, np.zeros((), a.dtype))

    return _linear(x, mask, mask)


@tensor_method()
def tril(x, diagonal=0):
    """The lower triangle of the last two dims (on and below ``diagonal``), the rest zero."""
    return _triangle(x, diagonal, "tril", lower=True)


@tensor_method()
def triu(x, diagonal=0):
    """The upper triangle of the last two dims (on and above ``diagonal``), the rest zero."""
    return _triangle(x, diagonal, "triu", lower=False)


def _diagonal_view(a, offset, axis1, axis2):
    """A writeable view of ``a``'s diagonal of (axis1, axis2) as the last dim (NumPy's
    ``diagonal`` is read-only; PyTorch's is a view one can write through)."""
    n1, n2 = a.shape[axis1], a.shape[axis2]
    length = max(0, min(n1, n2 - offset) if offset >= 0 else min(n1 + offset, n2))
    start = [0] * a.ndim
    if length:
        start[axis1], start[axis2] = max(0, -offset), max(0, offset)
    rest = [i for i in range(a.ndim) if i not in (axis1, axis2)]
    first = a[tuple(slice(s, None) for s in start)] if length else a
    shape = tuple(a.shape[i] for i in rest) + (length,)
    strides = tuple(a.strides[i] for i in rest) + (a.strides[axis1] + a.strides[axis2],)
    return np.lib.stride_tricks.as_strided(first, shape, strides, writeable=a.flags.writeable)


def _embed(d, shape, offset, axis1, axis2):
    """Zeros of ``shape`` with ``d``'s last dim on the diagonal ``offset`` of (axis1, axis2):
    the adjoint of taking that diagonal."""
    out = np.zeros(shape, dtype=d.dtype)
    _diagonal_view(out, offset, axis1, axis2)[...] = d
    return out


@tensor_method()
def diagonal(x, offset=0, dim1=0, dim2=1):
    """The diagonal ``offset`` of dims (dim1, dim2), as a view with that diagonal as its last
    dim (as PyTorch's)."""
    x = as_tensor(x)
    a1, a2 = normalize_dim(dim1, x.arr.ndim), normalize_dim(dim2, x.arr.ndim)
    if a1 == a2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    shape = x.arr.shape

    def take(a):
        return _diagonal_view(a, offset, a1, a2).copy()

    return _linear(x, take, lambda d: _embed(d, shape, offset, a1, a2),
                   view_of=_diagonal_view(x.arr, offset, a1, a2))


def linalg_diagonal(x, *, offset=0, dim1=-2, dim2=-1):
    """``torch.linalg.diagonal``: ``diagonal`` over the last two dims by default."""
    return diagonal(x, offset, dim1, dim2)


@tensor_method()
def diag_embed(x, offset=0, dim1=-2, dim2=-1):
    """A tensor one dim larger whose (dim1, dim2) matrices have ``x``'s last dim on diagonal
    ``offset``, zeros elsewhere."""
    x = as_tensor(x)
    ndim = x.arr.ndim + 1
    a1, a2 = normalize_dim(dim1, ndim), normalize_dim(dim2, ndim)
    if a1 == a2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    if x.arr.ndim == 0:
        raise IndexError("Dimension out of range (expected to be in range of [-1, 0], but got -1)")
    shape = list(x.arr.shape[:-1])
    for axis in sorted((a1, a2)):
        shape.insert(axis, x.arr.shape[-1] + abs(offset))
    return _linear(x, lambda d: _embed(d, tuple(shape), offset, a1, a2),
                   lambda a: _diagonal_view(a, offset, a1, a2).copy())


@tensor_method()
def diag(x, diagonal=0):
    """1-D ``x``: the square matrix with ``x`` on diagonal ``diagonal``; 2-D: that diagonal (a
    copy, as PyTorch's)."""
    x = as_tensor(x)
    if x.arr.ndim == 1:
        return diag_embed(x, diagonal, 0, 1)
    if x.arr.ndim == 2:
        return _linear(x, lambda a: _diagonal_view(a, diagonal, 0, 1).copy(),
                       lambda d: _embed(d, x.arr.shape, diagonal, 0, 1))
    raise RuntimeError(f"diag(): Supports 1D or 2D tensors. Got {x.arr.ndim}D")


@tensor_method()
def trace(x):
    """The sum of a matrix's main diagonal; integer input gives int64, as PyTorch's sum."""
    x = as_tensor(x)
    if x.arr.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {x.arr.ndim}")
    out = diagonal(x)
    if out.dtype.kind in "biu":
        return Tensor._wrap(np.asarray(out.arr.sum(dtype=np.int64)))
    return out.sum()


# ------------------------------------------------------------------------- pieces (views)
def _piece(x, axis, lo, hi):
    return x[(slice(None),) * axis + (slice(lo, hi),)]


def _pieces(x, axis, bounds):
    edges = [0, *bounds, x.arr.shape[axis]]
    return tuple(_piece(x, axis, lo, hi) for lo, hi in zip(edges[:-1], edges[1:]))


@tensor_method()
def split(x, split_size_or_sections, dim=0):
    """Pieces of ``split_size_or_sections`` along ``dim`` (the last may be smaller), or of the
    sizes in a list (which must sum to the dim's size): views of ``x``."""
    x = as_tensor(x)
    if x.arr.ndim == 0:
        raise RuntimeError("split expects at least a 1-dimensional tensor")
    axis = normalize_dim(dim, x.arr.ndim)
    n = x.arr.shape[axis]
    if isinstance(split_size_or_sections, (list, tuple)):
        sizes = _int_list(split_size_or_sections, "split")
        if any(s < 0 for s in sizes) or sum(sizes) != n:
            raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {n} "
                               f"(input tensor's size at dimension {axis}), but got "
                               f"split_sizes={list(sizes)}")
        return _pieces(x, axis, list(np.cumsum(sizes[:-1])))
    size = _int_list(split_size_or_sections, "split")[0]
    if size < 0 or (size == 0 and n != 0):
        raise RuntimeError(f"split_size can only be 0 if dimension size is 0, but got dimension "
                           f"size of {n}" if size == 0 else
                           f"split expects split_size be non-negative, but got split_size={size}")
    if size == 0 or n == 0:
        return (_piece(x, axis, 0, n),)
    return _pieces(x, axis, list(range(size, n, size)))


@tensor_method()
def chunk(x, chunks, dim=0):
    """At most ``chunks`` views of equal size ceil(n / chunks) along ``dim`` (the last smaller)."""
    x = as_tensor(x)
    if x.arr.ndim == 0:
        raise RuntimeError("chunk expects at least a 1-dimensional tensor")
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    axis = normalize_dim(dim, x.arr.ndim)
    n = x.arr.shape[axis]
    if n == 0:  # PyTorch's: `chunks` empty pieces
        return tuple(_piece(x, axis, 0, 0) for _ in range(chunks))
    return split(x, -(-n // chunks), axis)


@tensor_method()
def tensor_split(x, indices_or_sections, dim=0):
    """NumPy's ``array_split``: ``sections`` views differing in size by at most one (the first
    ones larger), or views cut before each index of a list / 1-D int tensor."""
    x = as_tensor(x)
    if x.arr.ndim == 0:
        raise RuntimeError("tensor_split expected at least a 1-dimensional tensor, but got a "
                           "tensor with 0 dims")
    axis = normalize_dim(dim, x.arr.ndim)
    n = x.arr.shape[axis]
    if isinstance(indices_or_sections, Tensor):
        t = indices_or_sections.arr
        if t.dtype.kind not in "iu" or t.ndim > 1:
            raise RuntimeError("tensor_split expected tensor_indices_or_sections to have "
                               f"integer dtype and 0 or 1 dims, got dtype {t.dtype}, {t.ndim} dims")
        indices_or_sections = t.tolist()
    if isinstance(indices_or_sections, (list, tuple)):
        cuts = [min(max(i + n if i < 0 else i, 0), n) for i in _int_list(indices_or_sections,
                                                                          "tensor_split")]
        edges = [0, *cuts, n]
        return tuple(_piece(x, axis, lo, max(lo, hi)) for lo, hi in zip(edges[:-1], edges[1:]))
    sections = _int_list(indices_or_sections, "tensor_split")[0]
    if sections <= 0:
        raise RuntimeError(f"number of sections must be larger than 0, got {sections}")
    size, extra = divmod(n, sections)
    bounds = np.cumsum([size + 1] * extra + [size] * (sections - extra))[:-1]
    return _pieces(x, axis, [int(b) for b in bounds])


@tensor_method()
def unbind(x, dim=0):
    """The slices of ``x`` along ``dim``, as a tuple of views (each one dim less)."""
    x = as_tensor(x)
    if x.arr.ndim == 0:
        raise IndexError("Dimension specified as 0 but tensor has no dimensions")
    axis = normalize_dim(dim, x.arr.ndim)
    return tuple(x[(slice(None),) * axis + (i,)] for i in range(x.arr.shape[axis]))


@tensor_method()
def narrow(x, dim, start, length):
    """The view ``x[..., start:start + length, ...]`` along ``dim`` (``start`` may be negative
    or a 0-d int tensor)."""
    x = as_tensor(x)
    if x.arr.ndim == 0:
        raise RuntimeError("narrow() cannot be applied to a 0-dim tensor.")
    if isinstance(start, Tensor):
        start = start.item()
    axis = normalize_dim(dim, x.arr.ndim)
    n = x.arr.shape[axis]
    if length < 0:
        raise RuntimeError("narrow(): length must be non-negative.")
    if not -n <= start <= n:
        raise IndexError(f"start out of range (expected to be in range of [{-n}, {n}], but got "
                         f"{start})")
    start = start + n if start < 0 else start
    if start + length > n:
        raise RuntimeError(f"start ({start}) + length ({length}) exceeds dimension size ({n}).")
    return _piece(x, axis, start, start + length)


# -------------------------------------------------------------------------------- unfold
def unfold(x, dimension, size, step):
    """``Tensor.unfold``: every window of ``size`` along ``dimension``, ``step`` apart, as a
    view with the windows' positions in ``dimension`` and their elements as a new last dim.
    The adjoint adds each window back at its place (one strided add per window offset)."""
    x = as_tensor(x)
    shape = x.arr.shape
    axis = normalize_dim(dimension, x.arr.ndim)
    n = shape[axis] if x.arr.ndim else 1
    if size > n:
        raise RuntimeError(f"maximum size for tensor at dimension {axis} is {n} but size is {size}")
    if size < 0:
        raise RuntimeError(f"size is {size} but must be >= 0")
    if step <= 0:
        raise RuntimeError(f"step is {step} but must be > 0")
    count = (n - size) // step + 1

    def windows(a):
        if a.ndim == 0:
            return np.lib.stride_tricks.as_strided(a, (size,), (0,), writeable=a.flags.writeable)
        out_shape = a.shape[:axis] + (count,) + a.shape[axis + 1:] + (size,)
        strides = (a.strides[:axis] + (a.strides[axis] * step,) + a.strides[axis + 1:]
                   + (a.strides[axis],))
        return np.lib.stride_tricks.as_strided(a, out_shape, strides, writeable=a.flags.writeable)

    def add_back(g):
        out = np.zeros(shape, dtype=g.dtype)
        if out.ndim == 0:
            out[...] = g.sum()
            return out
        lead = (slice(None),) * axis
        for k in range(size):
            out[lead + (slice(k, k + step * (count - 1) + 1, step),)] += g[..., k]
        return out

    return _linear(x, lambda a: windows(a).copy(), add_back, view_of=windows(x.arr))


# --------------------------------------------------------------------------- repeat_interleave
def repeat_interleave(x, repeats=None, dim=None, *, output_size=None):
    """Each element (or slice along ``dim``) repeated ``repeats`` times in place (an int, or a
    1-D int tensor with one count per slice); ``dim=None`` works on the flattened x.
    ``repeat_interleave(counts)`` alone: ``arange(len(counts))`` repeated by ``counts``."""
    x = as_tensor(x)
    if repeats is None:
        counts = x.arr
        if counts.ndim != 1 or counts.dtype.kind not in "iu":
            raise RuntimeError("repeat_interleave only accept 1D vector as repeat, got a tensor "
                               f"of shape {x.shape} and dtype {x.dtype}")
        if (counts < 0).any():
            raise RuntimeError("repeats can not be negative")
        return Tensor._wrap(np.repeat(np.arange(len(counts), dtype=counts.dtype), counts))
    if dim is None:
        x = reshape(x, -1)
        axis = 0
    else:
        axis = normalize_dim(dim, x.arr.ndim)
    n = x.arr.shape[axis] if x.arr.ndim else 1
    if isinstance(repeats, Tensor):
        counts = repeats.arr
        if counts.ndim > 1 or counts.dtype.kind not in "iu":
            raise RuntimeError("repeat_interleave only accept 1D vector as repeat, got repeats "
                               f"of shape {repeats.shape} and dtype {repeats.dtype}")
        counts = counts.reshape(-1).astype(np.int64)
        if counts.size == 1:
            counts = np.full(n, counts[0])
        elif counts.size != n:
            raise RuntimeError(f"repeats must have the same size as input along dim, but got "
                               f"repeats.size(0) = {counts.size} and input.size({axis}) = {n}")
    elif isinstance(repeats, numbers.Integral) and not isinstance(repeats, bool):
        counts = np.full(n, int(repeats), dtype=np.int64)
    else:
        raise TypeError("repeat_interleave(): repeats must be an int or a 1-D int tensor, got "
                        f"{type(repeats).__name__}")
    if (counts < 0).any():
        raise RuntimeError("repeats can not be negative")
    if output_size is not None and output_size != counts.sum():
        raise RuntimeError(f"allocated size does not match required size: output_size="
                           f"{output_size}, required {int(counts.sum())}")
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    nonempty = counts > 0
    shape = x.arr.shape

    def spread(a):
        return np.repeat(a, counts, axis=axis) if a.ndim else np.repeat(a, counts)

    def sum_back(g):
        out = np.zeros(shape, dtype=g.dtype)
        if g.size:  # one sum per nonempty run (reduceat would give an empty run a value)
            sums = np.add.reduceat(g, starts[nonempty], axis=min(axis, g.ndim - 1))
            if out.ndim:
                out[(slice(None),) * axis + (nonempty,)] = sums
            else:
                out[...] = sums.sum()
        return out

    return _linear(x, spread, sum_back)


tensor_method()(repeat_interleave)
Tensor.unfold = unfold  # a Tensor method only, as in PyTorch (there is no torch.unfold)


# ------------------------------------------------------------------------- views of several
def _tensors(args):
    if len(args) == 1 and isinstance(args[0], (list, tuple)):
        args = tuple(args[0])
    return [as_tensor(t) for t in args]


def meshgrid(*tensors, indexing=None):
    """Coordinate grids from 0-d / 1-D tensors: output k varies along dim k ('ij') or, for the
    first two, along dims 1 and 0 ('xy', as NumPy's). Each output is an expand view."""
    if indexing is None:
        warnings.warn("torch.meshgrid: in an upcoming release, it will be required to pass the "
                      "indexing argument.", UserWarning, stacklevel=2)
        indexing = "ij"
    if indexing not in ("ij", "xy"):
        raise RuntimeError('torch.meshgrid: indexing must be one of "xy" or "ij", but received: '
                           f"{indexing}")
    tensors = _tensors(tensors)
    if not tensors:
        raise RuntimeError("meshgrid expects a non-empty TensorList")
    for t in tensors:
        if t.arr.ndim > 1:
            raise RuntimeError("torch.meshgrid: Expected 0D or 1D tensor in the tensor list but "
                               f"got a tensor of shape {t.shape}")
        if t.arr.dtype != tensors[0].arr.dtype:
            raise RuntimeError("torch.meshgrid: Expected all tensors in the tensor list to have "
                               f"the same dtype, got {tensors[0].dtype} and {t.dtype}")
    sizes = [t.arr.size for t in tensors]
    order = list(range(len(tensors)))
    if indexing == "xy" and len(tensors) >= 2:
        order[0], order[1] = 1, 0
    shape = [sizes[k] for k in order]
    grids = []
    for k, t in enumerate(tensors):
        place = order.index(k)
        lined = reshape(t, (1,) * place + (-1,) + (1,) * (len(tensors) - place - 1))
        grids.append(broadcast_to(lined, shape))
    return tuple(grids)


def broadcast_tensors(*tensors):
    """Expand views of all tensors to their common broadcast shape."""
    tensors = _tensors(tensors)
    shape = ()
    for t in tensors:
        try:
            shape = np.broadcast_shapes(shape, t.arr.shape)
        except ValueError:
            raise broadcast_error(shape, t.arr.shape) from None
    return tuple(broadcast_to(t, shape) for t in tensors)


@tensor_method("movedim", "moveaxis")
def movedim(x, source, destination):
    """``x`` with dims ``source`` moved to ``destination``, the others in order (a view)."""
    x = as_tensor(x)
    if isinstance(source, (tuple, list)) != isinstance(destination, (tuple, list)):
        raise TypeError("movedim() received an invalid combination of arguments: source and "
                        f"destination must be both ints or both sequences of ints, got "
                        f"{source!r} and {destination!r}")
    src, dst = _int_list(source, "movedim"), _int_list(destination, "movedim")
    if len(src) != len(dst):
        raise RuntimeError(f"movedim: Invalid source or destination dims: source ({list(src)} "
                           f"dims) should contain the same number of dims as destination "
                           f"({list(dst)} dims)")
    ndim = x.arr.ndim
    src = tuple(normalize_dim(d, ndim) for d in src)
    dst = tuple(normalize_dim(d, ndim) for d in dst)
    for name, dims in (("source", src), ("destination", dst)):
        if len(set(dims)) != len(dims):
            raise RuntimeError(f"movedim: repeated dim in `{name}` ({list(dims)})")
    if ndim == 0:
        return permute(x, ())
    axes = [None] * ndim
    for s, d in zip(src, dst):
        axes[d] = s
    rest = iter(d for d in range(ndim) if d not in src)
    return permute(x, tuple(a if a is not None else next(rest) for a in axes))


moveaxis = movedim


def _at_least(ndim, tensors):
    """Each tensor with at least ``ndim`` dims (a reshape view; never the input itself):
    1 dim added at the front, then 0-d becomes (1, 1, 1) and 1-D (1, n, 1) for 3-D, as NumPy's."""
    out = []
    for t in _tensors(tensors):
        shape = t.arr.shape
        if len(shape) < ndim:
            if ndim == 3 and len(shape) == 2:
                shape = shape + (1,)
            elif ndim == 3 and len(shape) == 1:
                shape = (1,) + shape + (1,)
            else:
                shape = (1,) * (ndim - len(shape)) + shape
        out.append(reshape(t, shape))
    single = len(tensors) == 1 and not isinstance(tensors[0], (list, tuple))
    return out[0] if single else tuple(out)


@tensor_method()
def atleast_1d(*tensors):
    return _at_least(1, tensors)


@tensor_method()
def atleast_2d(*tensors):
    return _at_least(2, tensors)


@tensor_method()
def atleast_3d(*tensors):
    return _at_least(3, tensors)
