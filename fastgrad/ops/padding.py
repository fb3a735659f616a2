"""``pad`` (``torch.nn.functional.pad``): constant, reflect, replicate and circular padding of
the last dimensions; a negative width crops.

Every mode is a gather along each padded axis: output position p of an axis with left width
``lo`` reads source position s = p - lo, mapped into the input by the mode (reflect: mirror
without repeating the edge, replicate: clamp, circular: wrap, constant: none, the position
holds ``value``; circular, as PyTorch, first crops by the negative widths and wraps around
what is left). So each mode is linear in the input (constant up to its fill), and its
backward is the adjoint gather, a scatter-add onto the input, made differentiable to any
order with ``linear_map``: the interior (where s lies in the input) is one slice copy, only
the border entries are scattered.
"""
import numbers

import numpy as np

from fastgrad.autograd.function import needs_grad
from fastgrad.autograd.tensor import Tensor
from fastgrad.ops._operands import as_tensor
from fastgrad.ops.linear_map import LinearMapGradFn

MODES = ("constant", "reflect", "replicate", "circular")


class PadGradFn(LinearMapGradFn):
    """pad's node: a ``linear_map`` node (the backward is the adjoint gather) that also keeps
    the arguments, for the ONNX export: ``widths`` [(axis, lo, hi)], ``mode``, ``value``."""

    def __init__(self, x, apply, adjoint, widths, mode, value):
        super().__init__(x, apply, adjoint)
        self.widths = widths
        self.mode = mode
        self.value = value


def _source(positions, size, mode):
    """Input index read by each (shifted) source position of one axis, reflect / replicate /
    constant; -1 where constant padding fills it."""
    if mode == "reflect":
        period = 2 * (size - 1)
        s = np.abs(positions) % period if period else np.zeros_like(positions)
        return np.where(s >= size, period - s, s)
    if mode == "replicate":
        return np.clip(positions, 0, size - 1)
    return np.where((positions >= 0) & (positions < size), positions, -1)


class _AxisGather:
    """One padded axis: output position p reads input index ``index[p]`` (-1: the fill).
    ``inner`` (out_lo, out_hi, in_lo) is the identity part, p -> p - out_lo + in_lo; the
    other positions are the border."""

    def __init__(self, axis, size, lo, hi, mode):
        self.axis = axis
        out_size = size + lo + hi
        if mode == "circular":  # PyTorch crops first, then wraps around what is left
            kept = size - max(-lo, 0) - max(-hi, 0)
            self.index = max(-lo, 0) + (np.arange(out_size) - max(lo, 0)) % max(kept, 1)
        else:
            self.index = _source(np.arange(out_size) - lo, size, mode)
        out_lo, out_hi = max(lo, 0), max(min(out_size, size + lo), max(lo, 0))
        self.inner = (out_lo, out_hi, out_lo - lo)
        border = np.r_[0:out_lo, out_hi:out_size]
        self.border_out = border[self.index[border] >= 0]
        self.border_in = self.index[self.border_out]

    def gather(self, x, fill):
        shape = list(x.shape)
        shape[self.axis] = len(self.index)
        out = np.empty(shape, dtype=x.dtype)
        out_lo, out_hi, in_lo = self.inner
        out[self._at(out_lo, out_hi)] = x[self._at(in_lo, in_lo + out_hi - out_lo)]
        filled = self.index < 0
        if filled.any():
            out[self._at(filled)] = fill
        if len(self.border_out):
            out[self._at(self.border_out)] = np.take(x, self.border_in, axis=self.axis)
        return out

    def scatter(self, grad, size):
        """The adjoint of ``gather(., 0)``: each output entry's gradient added onto the input
        entry it read."""
        shape = list(grad.shape)
        shape[self.axis] = size
        out = np.zeros(shape, dtype=grad.dtype)
        out_lo, out_hi, in_lo = self.inner
        out[self._at(in_lo, in_lo + out_hi - out_lo)] = grad[self._at(out_lo, out_hi)]
        if len(self.border_out):
            moved = np.moveaxis(out, self.axis, 0)  # a view: np.add.at writes through to out
            np.add.at(moved, self.border_in, np.moveaxis(
                np.take(grad, self.border_out, axis=self.axis), self.axis, 0))
        return out

    def _at(self, start, stop=None):
        index = [slice(None)] * (self.axis + 1)
        index[self.axis] = start if stop is None else slice(start, stop)
        return tuple(index)


def _check(x, pad, mode, value):
    """Validate F.pad's arguments as PyTorch does -> list of (axis, lo, hi), last axis first."""
    if mode not in MODES:
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    if not isinstance(pad, (tuple, list)):
        raise TypeError(f"pad(): argument 'pad' must be tuple of ints, not {type(pad).__name__}")
    for i, p in enumerate(pad):
        if not isinstance(p, numbers.Integral) or isinstance(p, bool):
            raise TypeError(f"pad(): argument 'pad' (position 2) must be tuple of ints, but found "
                            f"element of type {type(p).__name__} at pos {i}")
    if len(pad) % 2:
        raise RuntimeError("Padding length must be divisible by 2")
    if len(pad) > 2 * x.ndim:
        raise RuntimeError(f"Padding length should be less than or equal to two times the input "
                           f"dimension but got padding length {len(pad)} and input of dimension "
                           f"{x.ndim}")
    axes = [(x.ndim - 1 - i, int(pad[2 * i]), int(pad[2 * i + 1])) for i in range(len(pad) // 2)]
    if mode == "constant":
        for axis, lo, hi in axes:
            if x.shape[axis] + lo + hi < 0:
                raise RuntimeError(f"pad: padding ({lo}, {hi}) of dimension {axis} of an input of "
                                   f"shape {tuple(x.shape)} leaves a negative size")
        return axes
    if value is not None and value != 0:
        raise RuntimeError(f'Padding mode "{mode}" doesn\'t take in value argument')
    dims = len(axes)
    if not 1 <= dims <= 3 or x.ndim not in (dims + 1, dims + 2):
        raise NotImplementedError(
            f"Padding size {len(pad)} is not supported for {x.ndim}D input tensor.\n"
            "Supported combinations for non-constant padding:\n"
            "  - 2D or 3D input: padding size = 2 (pads last dimension)\n"
            "  - 3D or 4D input: padding size = 4 (pads last 2 dimensions)\n"
            "  - 4D or 5D input: padding size = 6 (pads last 3 dimensions)")
    if any(s == 0 for s in x.shape[x.ndim - dims - 1:]):
        raise RuntimeError(f"pad: {mode} padding needs non-empty channel and padded dimensions, "
                           f"got input of shape {tuple(x.shape)}")
    for axis, lo, hi in axes:
        size = x.shape[axis]
        if mode == "reflect" and (lo >= size or hi >= size):
            raise RuntimeError(
                f"Argument #4: Padding size should be less than the corresponding input dimension, "
                f"but got: padding ({lo}, {hi}) at dimension {axis} of input {list(x.shape)}")
        kept = size - max(-lo, 0) - max(-hi, 0)  # circular: what is left after cropping
        if mode == "circular" and (lo > kept or hi > kept):
            raise RuntimeError(f"Padding value causes wrapping around more than once: padding "
                               f"({lo}, {hi}) at dimension {axis} of input {list(x.shape)}")
        if size + lo + hi < 0:
            raise RuntimeError(f"pad: padding ({lo}, {hi}) of dimension {axis} of an input of "
                               f"shape {tuple(x.shape)} leaves a negative size")
    return axes


def pad(input, pad, mode="constant", value=None):
    """``torch.nn.functional.pad``: ``pad`` = (left, right) of the last dimension, then of the
    one before, ...: 2*k widths for the last k dims; a negative width crops.

    constant: any number of dims, filled with ``value`` (default 0); reflect / replicate /
    circular: k = 1, 2, 3 padded dims of a (k+1)- or (k+2)-dim input; reflect widths < the
    size, circular widths <= the size left after cropping (PyTorch reads past its buffer
    beyond that). Same dtype as the input; differentiable to any order.
    """
    x = as_tensor(input)
    axes = [(axis, lo, hi) for axis, lo, hi in _check(x, pad, mode, value) if lo or hi]
    gathers = [_AxisGather(axis, x.shape[axis], lo, hi, mode) for axis, lo, hi in axes]
    sizes = [x.shape[axis] for axis, _, _ in axes]
    fill = 0 if value is None else value

    def apply(a):
        for gather in gathers:
            a = gather.gather(a, 0)
        return a

    def adjoint(g):
        for gather, size in zip(reversed(gathers), reversed(sizes)):
            g = gather.scatter(g, size)
        return g

    out = x.arr
    for gather in gathers:
        out = gather.gather(out, fill)
    if out is x.arr:
        out = out.copy()  # nothing to pad: still a new tensor, as PyTorch
    fn = PadGradFn(x, apply, adjoint, axes, mode, fill) if needs_grad(x) else None
    return Tensor._wrap(out, fn)
