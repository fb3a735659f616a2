"""Argument checking and output sizes for conv2d and the 2-D pools.

Exception classes follow PyTorch's: a bad value (stride 0, negative padding, mismatched
dtypes, a tuple of the wrong length) is a RuntimeError, a wrong type (a float stride) a
TypeError.

Everything a kernel relies on is validated here, in Python, before any kernel runs: a kernel
never sees an index it could run past.
"""
import numbers
from typing import NamedTuple


def pair(value, name):
    """``value`` as an (h, w) pair of ints (an int is used for both)."""
    # The common cases first, without the ABC isinstance checks below: every conv and pool
    # call goes through here (three times per conv), ~5x faster for a tuple of two ints.
    if type(value) is tuple and len(value) == 2 and type(value[0]) is int and type(value[1]) is int:
        return value
    if type(value) is int:
        return value, value
    if isinstance(value, (numbers.Integral,)) and not isinstance(value, bool):
        return int(value), int(value)
    if isinstance(value, (tuple, list)) and len(value) == 2 and all(
        isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in value
    ):
        return int(value[0]), int(value[1])
    if isinstance(value, (tuple, list)) and all(
        isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in value
    ):
        # ints, but not two of them: a RuntimeError in PyTorch (a non-int is a TypeError)
        raise RuntimeError(f"{name} must be an int or a pair of ints, got {value!r}")
    raise TypeError(f"{name} must be an int or a pair of ints, got {value!r}")


class ConvGeometry(NamedTuple):
    n: int
    c: int
    h: int
    w: int
    out_channels: int
    kh: int
    kw: int
    sh: int
    sw: int
    ph: int
    pw: int
    dh: int
    dw: int
    out_h: int
    out_w: int


def _check_float(x, what):
    if x.dtype.kind != "f":
        raise TypeError(f"{what} must be a float tensor (float32 or float64), got dtype {x.dtype}")


def conv2d_geometry(x, weight, bias, stride, padding, dilation):
    """Validate conv2d arguments (x (N, C, H, W), weight (O, C, KH, KW), bias (O,)) -> ConvGeometry."""
    sh, sw = pair(stride, "stride")
    ph, pw = pair(padding, "padding")
    dh, dw = pair(dilation, "dilation")
    if sh < 1 or sw < 1:
        raise RuntimeError(f"stride should be at least 1, got stride=({sh}, {sw})")
    if ph < 0 or pw < 0:
        raise RuntimeError(f"negative padding is not supported, got padding=({ph}, {pw})")
    if dh < 1 or dw < 1:
        raise RuntimeError(f"dilation should be at least 1, got dilation=({dh}, {dw})")
    if weight.ndim != 4:
        raise RuntimeError(f"conv2d: weight must be 4-D (out_channels, in_channels, kH, kW), got shape {weight.shape}")
    if x.ndim != 4:
        raise RuntimeError(
            f"Expected 3D (unbatched) or 4D (batched) input to conv2d, but got input of size: {x.shape}"
        )
    _check_float(x, "conv2d input")
    _check_float(weight, "conv2d weight")
    if x.dtype != weight.dtype:
        raise RuntimeError(f"conv2d: input dtype {x.dtype} and weight dtype {weight.dtype} differ")
    n, c, h, w = x.shape
    o, wc, kh, kw = weight.shape
    if c != wc:
        raise RuntimeError(
            f"Given groups=1, weight of size {list(weight.shape)}, expected input{list(x.shape)} to "
            f"have {wc} channels, but got {c} channels instead"
        )
    if min(o, kh, kw) < 1:
        raise RuntimeError(f"conv2d: weight has an empty dimension: shape {weight.shape}")
    if bias is not None:
        if bias.shape != (o,):
            raise RuntimeError(f"conv2d: bias must have shape ({o},), got {bias.shape}")
        if bias.dtype != weight.dtype:
            raise RuntimeError(f"conv2d: bias dtype {bias.dtype} differs from weight dtype {weight.dtype}")
    eff_h, eff_w = dh * (kh - 1) + 1, dw * (kw - 1) + 1
    if eff_h > h + 2 * ph or eff_w > w + 2 * pw:
        raise RuntimeError(
            f"Calculated padded input size per channel: ({h + 2 * ph} x {w + 2 * pw}). Kernel size: "
            f"({eff_h} x {eff_w}). Kernel size can't be greater than actual input size"
        )
    out_h = (h + 2 * ph - eff_h) // sh + 1
    out_w = (w + 2 * pw - eff_w) // sw + 1
    if c < 1:  # an empty batch (n == 0) is fine, as in PyTorch
        raise RuntimeError(f"conv2d: input has no channels: shape {x.shape}")
    return ConvGeometry(n, c, h, w, o, kh, kw, sh, sw, ph, pw, dh, dw, out_h, out_w)


class PoolGeometry(NamedTuple):
    n: int
    c: int
    h: int
    w: int
    kh: int
    kw: int
    sh: int
    sw: int
    ph: int
    pw: int
    out_h: int
    out_w: int


def pool2d_geometry(x, kernel_size, stride, padding, name):
    """Validate pooling arguments for x (N, C, H, W) -> PoolGeometry (output size uses floor)."""
    kh, kw = pair(kernel_size, "kernel_size")
    sh, sw = (kh, kw) if stride is None or stride == [] or stride == () else pair(stride, "stride")
    ph, pw = pair(padding, "padding")
    if kh < 1 or kw < 1:
        raise RuntimeError(f"{name}: kernel_size must be greater than zero, but got ({kh}, {kw})")
    if sh < 1 or sw < 1:
        raise RuntimeError(f"{name}: stride must be greater than zero, but got ({sh}, {sw})")
    if ph < 0 or pw < 0:
        raise RuntimeError(f"{name}: padding must be non-negative, but got ({ph}, {pw})")
    if ph > kh // 2 or pw > kw // 2:
        raise RuntimeError(
            f"{name}: pad should be at most half of effective kernel size, but got pad=({ph}, {pw}), "
            f"kernel_size=({kh}, {kw})"
        )
    if x.ndim != 4:
        raise RuntimeError(f"{name}: Expected 3D or 4D (batch mode) tensor for input, but got shape {x.shape}")
    _check_float(x, f"{name} input")
    n, c, h, w = x.shape
    out_h = (h + 2 * ph - kh) // sh + 1
    out_w = (w + 2 * pw - kw) // sw + 1
    if out_h < 1 or out_w < 1 or c < 1:  # (an empty batch is fine, as in PyTorch)
        raise RuntimeError(
            f"{name}: Given input size: ({c}x{h}x{w}). Calculated output size: ({c}x{out_h}x{out_w}). "
            "Output size is too small"
        )
    return PoolGeometry(n, c, h, w, kh, kw, sh, sw, ph, pw, out_h, out_w)


def batched(x):
    """(x as 4-D, whether a batch dim was added): a 3-D input is one unbatched image."""
    if x.ndim == 3:
        return x.unsqueeze(0), True
    return x, False

