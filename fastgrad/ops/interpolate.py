"""``interpolate``: resize the spatial dims of (N, C, *spatial) by nearest, nearest-exact or
(bi)linear sampling, with PyTorch's source-index rules.

Every mode is separable and linear in the input: along each spatial axis an output element
is a weighted sum of one (nearest) or two (linear) input elements, its "taps". The resize is
therefore a ``linear_map`` whose adjoint adds each tap's weighted gradient back to its source
(a segment sum, as the sources never decrease along the axis), and create_graph comes free.
"""
import math

import numpy as np

from fastgrad.ops._operands import as_tensor
from fastgrad.ops.linear_map import linear_map

_MODES = ("nearest", "nearest-exact", "linear", "bilinear")
_ALL_TORCH_MODES = ("nearest | linear | bilinear | bicubic | trilinear | lanczos | area | "
                    "nearest-exact")


class _AxisMap:
    """The resize along one axis: ``out[j] = sum_k weights[k][j] * in[sources[k][j]]``."""

    def __init__(self, in_size, sources, weights):
        self.in_size = in_size
        self.taps = list(zip(sources, weights))

    def apply(self, x, axis):
        shape = [1] * x.ndim
        shape[axis] = -1
        out = None
        for src, w in self.taps:
            term = np.take(x, src, axis=axis)
            if w is not None:
                term = term * w.astype(x.dtype).reshape(shape)
            out = term if out is None else out + term
        return out

    def adjoint(self, g, axis):
        shape = list(g.shape)
        shape[axis] = self.in_size
        result = np.zeros(shape, dtype=g.dtype)
        if g.shape[axis] == 0:
            return result
        bshape = [1] * g.ndim
        bshape[axis] = -1
        where = [slice(None)] * g.ndim
        for src, w in self.taps:
            term = g if w is None else g * w.astype(g.dtype).reshape(bshape)
            # sources are non-decreasing: sum each run of equal sources in one reduceat
            starts = np.flatnonzero(np.r_[True, src[1:] != src[:-1]])
            where[axis] = src[starts]
            result[tuple(where)] += np.add.reduceat(term, starts, axis=axis)
        return result


def _nearest_map(in_size, out_size, scale, exact, shortcuts):
    """PyTorch's nearest_idx / nearest_exact_idx, in float32 as its CPU kernel computes.

    ``shortcuts``: PyTorch's 2-D nearest kernel maps an output of the input's size (or twice
    it) by index (j, or j // 2) whatever the scale factor; its 1-D and 3-D kernels do not."""
    if shortcuts and out_size in (in_size, 2 * in_size):
        return _AxisMap(in_size, [np.arange(out_size) // (out_size // in_size)], [None])
    if scale is not None and scale > 0:
        step = np.float32(1.0 / scale)
    else:
        step = np.float32(in_size) / np.float32(out_size)
    dst = np.arange(out_size, dtype=np.float32)
    if exact:
        dst = dst + np.float32(0.5)
    src = np.minimum(np.floor(dst * step).astype(np.int64), in_size - 1)
    return _AxisMap(in_size, [src], [None])


def _linear_map(in_size, out_size, scale, align_corners, dtype):
    """PyTorch's area_pixel_compute_source_index and linear weights, in the input's dtype."""
    if align_corners:
        step = dtype.type((in_size - 1) / (out_size - 1)) if out_size > 1 else dtype.type(0)
        src = step * np.arange(out_size, dtype=dtype)
    else:
        if scale is not None and scale > 0:
            step = dtype.type(1.0 / scale)
        else:
            step = dtype.type(in_size) / dtype.type(out_size)
        src = step * (np.arange(out_size, dtype=dtype) + dtype.type(0.5)) - dtype.type(0.5)
        src = np.maximum(src, dtype.type(0))
    lo = np.minimum(src.astype(np.int64), in_size - 1)
    hi = np.minimum(lo + 1, in_size - 1)
    frac = np.clip(src - lo.astype(dtype), 0, 1).astype(dtype)
    return _AxisMap(in_size, [lo, hi], [dtype.type(1) - frac, frac])


def _tuple(value, spatial, name):
    n = len(spatial)
    if isinstance(value, (list, tuple)):
        if len(value) != n:
            raise ValueError(f"Input and output must have the same number of spatial dimensions, "
                             f"but got input with spatial dimensions of {list(spatial)} and "
                             f"{name} of {tuple(value)}. Please provide input tensor in "
                             "(N, C, d1, d2, ...,dK) format and output size in (o1, o2, ...,oK) "
                             "format.")
        return tuple(value)
    return (value,) * n


def _output_geometry(spatial, size, scale_factor, recompute_scale_factor):
    """(output sizes, scales passed to the index rules or None each), as
    torch.nn.functional.interpolate computes them."""
    n = len(spatial)
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    if size is None and scale_factor is None:
        raise ValueError("either size or scale_factor should be defined")
    if size is not None:
        if recompute_scale_factor:
            raise ValueError("recompute_scale_factor is not meaningful with an explicit size.")
        return tuple(int(s) for s in _tuple(size, spatial, "output size")), (None,) * n
    factors = tuple(float(f) for f in _tuple(scale_factor, spatial, "scale_factor"))
    out = tuple(math.floor(float(s) * f) for s, f in zip(spatial, factors))
    return out, ((None,) * n if recompute_scale_factor else factors)


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """(N, C, *spatial) -> (N, C, *size), as ``torch.nn.functional.interpolate``.

    Modes: 'nearest' and 'nearest-exact' (3-, 4- and 5-D input), 'linear' (3-D), 'bilinear'
    (4-D). Exactly one of ``size`` / ``scale_factor``; with ``scale_factor`` the output is
    floor(in * factor) and the index rule uses 1 / factor unless ``recompute_scale_factor``.
    ``align_corners`` only for the linear modes (default False)."""
    input = as_tensor(input)
    if mode not in _MODES:
        raise NotImplementedError(f"Input Error: Only 3D, 4D and 5D input Tensors supported (got "
                                  f"{input.ndim}D) for the modes: {_ALL_TORCH_MODES} (got {mode})")
    linear = mode in ("linear", "bilinear")
    if align_corners is not None and not linear:
        raise ValueError("align_corners option can only be set with the interpolating modes: "
                         "linear | bilinear | bicubic | trilinear")
    if antialias and (mode != "bilinear" or input.ndim != 4):
        raise ValueError("Anti-alias option is restricted to bilinear, bicubic, and lanczos modes "
                         f"and requires a 4-D tensor as input, got mode {mode!r} and a "
                         f"{input.ndim}-D input")
    if antialias:
        raise NotImplementedError("interpolate: antialias=True is not implemented in fastgrad")
    if input.ndim not in (3, 4, 5):
        raise NotImplementedError(f"Input Error: Only 3D, 4D and 5D input Tensors supported (got "
                                  f"{input.ndim}D) for the modes: {_ALL_TORCH_MODES} (got {mode})")
    spatial = tuple(input.shape[2:])
    out_sizes, scales = _output_geometry(spatial, size, scale_factor, recompute_scale_factor)
    needed = {"linear": 3, "bilinear": 4}.get(mode)
    if needed is not None and input.ndim != needed:
        raise NotImplementedError(f"Got {input.ndim}D input, but {mode} mode needs {needed}D input")
    if min(spatial + out_sizes) <= 0:
        raise RuntimeError(f"Input and output sizes should be greater than 0, but got input "
                           f"{spatial} output {out_sizes}")
    if linear:
        if not np.issubdtype(input.dtype, np.floating):
            raise RuntimeError(f"interpolate: {mode} mode needs a float input, got {input.dtype}")
        maps = [_linear_map(i, o, s, bool(align_corners), input.dtype)
                for i, o, s in zip(spatial, out_sizes, scales)]
    else:
        shortcuts = mode == "nearest" and input.ndim == 4
        maps = [_nearest_map(i, o, s, mode == "nearest-exact", shortcuts)
                for i, o, s in zip(spatial, out_sizes, scales)]
    axes = list(range(2, input.ndim))

    def resize(x):
        for axis, m in zip(axes, maps):
            x = m.apply(x, axis)
        return x

    def resize_adjoint(g):
        for axis, m in reversed(list(zip(axes, maps))):
            g = m.adjoint(g, axis)
        return g

    return linear_map(input, resize, resize_adjoint)


def upsample_nearest(input, size=None, scale_factor=None):
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    """Deprecated in PyTorch; bilinear with ``align_corners=True``, as there."""
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)
