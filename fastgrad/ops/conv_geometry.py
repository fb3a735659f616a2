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
    groups: int = 1


def check_float(x, what):
    if x.dtype.kind != "f":
        raise TypeError(f"{what} must be a float tensor (float32 or float64), got dtype {x.dtype}")


def _stride_padding_dilation(stride, padding, dilation):
    """A convolution's (stride, padding, dilation) as (h, w) pairs, each in its range
    (RuntimeError naming the values otherwise)."""
    (sh, sw), (ph, pw), (dh, dw) = (pair(stride, "stride"), pair(padding, "padding"),
                                    pair(dilation, "dilation"))
    if sh < 1 or sw < 1:
        raise RuntimeError(f"stride should be at least 1, got stride=({sh}, {sw})")
    if ph < 0 or pw < 0:
        raise RuntimeError(f"negative padding is not supported, got padding=({ph}, {pw})")
    if dh < 1 or dw < 1:
        raise RuntimeError(f"dilation should be at least 1, got dilation=({dh}, {dw})")
    return (sh, sw), (ph, pw), (dh, dw)


def conv2d_geometry(x, weight, bias, stride, padding, dilation, groups=1):
    """Validate conv2d arguments (x (N, C, H, W), weight (O, C // groups, KH, KW), bias (O,))
    -> ConvGeometry. ``padding`` is ints here (``same_padding`` resolves the strings)."""
    (sh, sw), (ph, pw), (dh, dw) = _stride_padding_dilation(stride, padding, dilation)
    if weight.ndim != 4:
        raise RuntimeError(f"conv2d: weight must be 4-D (out_channels, in_channels, kH, kW), got shape {weight.shape}")
    if x.ndim != 4:
        raise RuntimeError(
            f"Expected 3D (unbatched) or 4D (batched) input to conv2d, but got input of size: {list(x.shape)}"
        )
    check_float(x, "conv2d input")
    check_float(weight, "conv2d weight")
    if x.dtype != weight.dtype:
        raise RuntimeError(f"conv2d: input dtype {x.dtype} and weight dtype {weight.dtype} differ")
    n, c, h, w = x.shape
    o, wc, kh, kw = weight.shape
    if groups != 1:
        check_groups(groups, weight.shape)
    if c != wc * groups:
        raise RuntimeError(
            f"Given groups={groups}, weight of size {list(weight.shape)}, expected input{list(x.shape)} to "
            f"have {wc * groups} channels, but got {c} channels instead"
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
    return ConvGeometry(n, c, h, w, o, kh, kw, sh, sw, ph, pw, dh, dw, out_h, out_w, groups)


def check_groups(groups, weight_shape):
    """PyTorch's RuntimeErrors for ``groups`` that do not split the weight's out channels
    (weight_shape[0]: conv2d's out channels, conv_transpose2d's in channels)."""
    if not isinstance(groups, numbers.Integral) or isinstance(groups, bool):
        raise TypeError(f"groups must be an int, got {groups!r}")
    if groups < 1:
        raise RuntimeError(f"non-positive groups is not supported, got groups={groups}")
    if weight_shape[0] < groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be at least {groups} at "
                           f"dimension 0, but got weight of size {list(weight_shape)} instead")
    if weight_shape[0] % groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by {groups} "
                           f"at dimension 0, but got weight of size [{list(weight_shape)}] instead")


def same_padding(padding, stride, dilation, kernel):
    """Resolve padding='same' | 'valid' (PyTorch's strings) for a (kh, kw) ``kernel``.

    Returns ((ph, pw), extra): symmetric padding and the extra (bottom, right) row / column
    'same' needs when ``dilation * (k - 1)`` is odd (PyTorch pads that one on the far side).
    An int padding passes through with extra None. RuntimeError as PyTorch's F.conv2d for an
    unknown string or 'same' with a stride."""
    if not isinstance(padding, str):
        return padding, None
    if padding == "valid":
        return (0, 0), None
    if padding != "same":
        raise RuntimeError(f"Invalid padding string: {padding!r}")
    if pair(stride, "stride") != (1, 1):
        raise RuntimeError("padding='same' is not supported for strided convolutions")
    totals = [d * (k - 1) for d, k in zip(pair(dilation, "dilation"), kernel)]
    return (totals[0] // 2, totals[1] // 2), (totals[0] % 2, totals[1] % 2)


def conv_transpose2d_geometry(x_planes, weight, bias, stride, padding, output_padding, groups, dilation):
    """Validate conv_transpose2d's arguments -> the ConvGeometry of the convolution it is the
    input gradient of (its input: this op's output, its output: this op's input)."""
    (sh, sw), (ph, pw), (dh, dw) = _stride_padding_dilation(stride, padding, dilation)
    oph, opw = pair(output_padding, "output_padding")
    if oph < 0 or opw < 0 or not (oph < sh or oph < dh) or not (opw < sw or opw < dw):
        raise RuntimeError(
            f"output padding must be smaller than either stride or dilation, but got "
            f"output_padding_height: {oph} output_padding_width: {opw} stride_height: {sh} "
            f"stride_width: {sw} dilation_height: {dh} dilation_width: {dw}")
    if weight.ndim != 4:
        raise RuntimeError(f"conv_transpose2d: weight must be 4-D (in_channels, out_channels / "
                           f"groups, kH, kW), got shape {weight.shape}")
    check_groups(groups, weight.shape)
    n, c, h, w = x_planes
    if c != weight.shape[0]:
        raise RuntimeError(
            f"Given transposed=1, weight of size {list(weight.shape)}, expected input{list(x_planes)} "
            f"to have {weight.shape[0]} channels, but got {c} channels instead")
    out_c, kh, kw = weight.shape[1] * groups, weight.shape[2], weight.shape[3]
    out_h = (h - 1) * sh - 2 * ph + dh * (kh - 1) + oph + 1
    out_w = (w - 1) * sw - 2 * pw + dw * (kw - 1) + opw + 1
    if out_h < 1 or out_w < 1 or h < 1 or w < 1:
        raise RuntimeError(f"Given input size per channel: ({h} x {w}). Calculated output size per "
                           f"channel: ({out_h} x {out_w}). Output size is too small")
    if bias is not None and tuple(bias.shape) != (out_c,):
        raise RuntimeError(f"conv_transpose2d: bias must have shape ({out_c},), got {bias.shape}")
    return ConvGeometry(n, out_c, out_h, out_w, c, kh, kw, sh, sw, ph, pw, dh, dw, h, w, groups)


class PoolGeometry(NamedTuple):
    """One pooling call on (N, C, H, W) planes: a 1-D pool is the same with H = 1."""
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
    dh: int = 1
    dw: int = 1


def single(value, name):
    """``value`` as one int (an int or a 1-sequence of one int), for the 1-D pools."""
    if isinstance(value, (tuple, list)) and len(value) == 1:
        value = value[0]
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, (tuple, list)) and all(
        isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in value
    ):
        raise RuntimeError(f"{name} must be an int or a tuple of one int, got {value!r}")
    raise TypeError(f"{name} must be an int or a tuple of one int, got {value!r}")


def pool_output_size(size, kernel, stride, pad, dilation, ceil_mode):
    """PyTorch's ``pooling_output_shape``: windows of ``dilation*(kernel-1) + 1`` elements
    every ``stride`` over ``size + 2*pad``; with ``ceil_mode`` a partial last window counts
    when it starts inside the input or the left padding (never in the right padding only)."""
    span = size + 2 * pad - dilation * (kernel - 1) - 1
    out = (span + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (out - 1) * stride >= size + pad:
        out -= 1
    return out


def _has_empty_window(size, kernel, stride, pad, dilation, out):
    """Whether a dilated window starting in the padding skips over the whole input (PyTorch
    then returns -inf with an index outside the plane; fastgrad refuses the geometry).
    Only windows starting left of the input can: a later one starts inside it."""
    for o in range(min(out, -(-pad // stride))):
        start = o * stride - pad
        first = -(-(-start) // dilation)  # first tap at or right of 0
        if first >= kernel or start + first * dilation >= size:
            return True
    return False


def default_stride(stride):
    """Whether a pool's ``stride`` asks for the default (the kernel size): None or an empty
    list / tuple, as PyTorch. (``stride == []`` would compare a NumPy integer elementwise.)"""
    return stride is None or (isinstance(stride, (list, tuple)) and len(stride) == 0)


def pool2d_geometry(x_shape, kernel_size, stride, padding, name, dilation=1, ceil_mode=False):
    """Validate pooling arguments for planes of shape (N, C, H, W) -> PoolGeometry.

    ``stride`` None (or empty) means ``kernel_size``. The output size is PyTorch's
    (``pool_output_size``). Raises PyTorch's exception classes: TypeError for a non-int
    argument, RuntimeError for a bad value or a too small input.
    """
    kh, kw = pair(kernel_size, "kernel_size")
    sh, sw = (kh, kw) if default_stride(stride) else pair(stride, "stride")
    ph, pw = pair(padding, "padding")
    dh, dw = pair(dilation, "dilation")
    if kh < 1 or kw < 1:
        raise RuntimeError(f"{name}: kernel_size must be greater than zero, but got ({kh}, {kw})")
    if sh < 1 or sw < 1:
        raise RuntimeError(f"{name}: stride must be greater than zero, but got ({sh}, {sw})")
    if dh < 1 or dw < 1:
        raise RuntimeError(f"{name}: dilation must be greater than zero, but got ({dh}, {dw})")
    if ph < 0 or pw < 0:
        raise RuntimeError(f"{name}: padding must be non-negative, but got ({ph}, {pw})")
    if ph > kh // 2 or pw > kw // 2:
        # PyTorch compares with half the kernel, not half the dilated one its message names.
        raise RuntimeError(
            f"{name}: pad should be at most half of effective kernel size, but got pad=({ph}, {pw}), "
            f"kernel_size=({kh}, {kw}) and dilation=({dh}, {dw})"
        )
    n, c, h, w = x_shape
    out_h = pool_output_size(h, kh, sh, ph, dh, ceil_mode)
    out_w = pool_output_size(w, kw, sw, pw, dw, ceil_mode)
    if out_h < 1 or out_w < 1 or c < 1 or h < 1 or w < 1:  # (an empty batch is fine, as in PyTorch)
        raise RuntimeError(
            f"{name}: Given input size: ({c}x{h}x{w}). Calculated output size: ({c}x{out_h}x{out_w}). "
            "Output size is too small"
        )
    if (dh > 1 and _has_empty_window(h, kh, sh, ph, dh, out_h)) or (
            dw > 1 and _has_empty_window(w, kw, sw, pw, dw, out_w)):
        raise RuntimeError(
            f"{name}: a window of kernel_size=({kh}, {kw}), dilation=({dh}, {dw}), "
            f"padding=({ph}, {pw}) holds no element of the ({h}x{w}) input"
        )
    return PoolGeometry(n, c, h, w, kh, kw, sh, sw, ph, pw, out_h, out_w, dh, dw)


def pool_planes(x, spatial_dims, name):
    """(N, C, H, W) of the planes a pool reads from ``x`` (an ndarray), and the batch shape:
    ``x`` is (N, C, *spatial) or unbatched (C, *spatial) with 1 or 2 spatial dims (1-D pools
    read planes of height 1). Validates the number of dimensions (RuntimeError)."""
    if spatial_dims == 2 and x.ndim == 4:  # the common case first: every CNN pool call
        return x.shape, x.shape[:1]
    if x.ndim not in (spatial_dims + 1, spatial_dims + 2):
        raise RuntimeError(
            f"{name}: Expected {spatial_dims + 1}D or {spatial_dims + 2}D (batch mode) tensor for "
            f"input, but got shape {x.shape}"
        )
    batch = x.shape[:x.ndim - spatial_dims - 1]
    n = batch[0] if batch else 1
    c = x.shape[x.ndim - spatial_dims - 1]
    h, w = x.shape[-2:] if spatial_dims == 2 else (1, x.shape[-1])
    return (n, c, h, w), batch


def check_pool_dtype(x, name, integers=False):
    """Pools take float tensors; ``integers``: max pools take integer ones too (not bool)."""
    if x.dtype.kind == "f" or (integers and x.dtype.kind in "iu"):
        return
    if integers:  # PyTorch's class for a dtype with no kernel (bool, complex)
        raise NotImplementedError(f'"{name}" not implemented for dtype {x.dtype}')
    check_float(x, f"{name} input")


def batched(x):
    """(x as 4-D, whether a batch dim was added): a 3-D input is one unbatched image."""
    if x.ndim == 3:
        return x.unsqueeze(0), True
    return x, False

