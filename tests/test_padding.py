"""F.pad (constant, reflect, replicate, circular; cropping) and the padding layers: the op
contract (gradcheck and gradgradcheck), NumPy's np.pad as an independent reference for the
positive widths, PyTorch's errors and reprs. (PyTorch's own numbers, cropping included:
test_conv_torch_reference.py.)"""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fastgrad
from fastgrad import nn
from fastgrad.nn import functional as F
from fastgrad.testing import check_op

RNG = np.random.default_rng(7)
NUMPY_MODE = {"constant": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("shape, pad", [
    ((2, 3, 5), (2, 1)),
    ((2, 3, 4, 5), (1, 3, 2, 0)),
    ((1, 2, 3, 4, 4), (1, 2, 0, 3, 2, 1)),
    ((3, 4), (3, 2)),
])
def test_positive_widths_match_numpy_pad(mode, shape, pad):
    x = RNG.standard_normal(shape)
    out = F.pad(fastgrad.tensor(x, dtype=fastgrad.float64), pad, mode=mode)
    widths = [(0, 0)] * (len(shape) - len(pad) // 2) + [
        (pad[2 * i], pad[2 * i + 1]) for i in reversed(range(len(pad) // 2))]
    np.testing.assert_array_equal(out.arr, np.pad(x, widths, mode=NUMPY_MODE[mode]))


@pytest.mark.parametrize("mode, shape, pad", [
    ("constant", (2, 3, 5), (2, -1)),
    ("constant", (2, 3, 4), (-1, 2, 1, -2, 0, 1)),
    ("reflect", (2, 3, 4, 5), (3, -1, 2, 3)),
    ("replicate", (1, 2, 3, 4), (5, 1, -1, 4)),
    ("circular", (2, 3, 5), (2, -2)),
    ("circular", (1, 2, 3, 4, 3), (1, 3, -1, 2, 2, 2)),
    ("reflect", (2, 2, 3, 4, 3), (1, 2, 1, 3, 2, 2)),
])
def test_pad_keeps_the_op_contract(mode, shape, pad):
    check_op(lambda x: F.pad(x, pad, mode=mode), RNG.standard_normal(shape), name=f"pad({mode})")


def test_constant_pad_with_a_value_keeps_the_op_contract():
    # the fill is a constant: its derivative is the crop, also when differentiated twice
    check_op(lambda x: F.pad(x, (1, 2, 0, 1), value=-2.5), RNG.standard_normal((2, 3, 4)),
             name="pad(constant, value)", extra_shapes=[((0, 3, 4),), ((3, 0),)])
    out = F.pad(fastgrad.zeros(1, 2), (1, 1), value=-2.5)
    np.testing.assert_array_equal(out.arr, [[-2.5, 0, 0, -2.5]])


def test_every_mode_sums_the_gradient_onto_the_pixels_it_read():
    x = fastgrad.tensor(np.arange(4.0).reshape(1, 1, 4), dtype=fastgrad.float64, requires_grad=True)
    for mode, expected in [("reflect", [1, 3, 3, 1]), ("replicate", [3, 1, 1, 3]),
                           ("circular", [2, 2, 2, 2]), ("constant", [1, 1, 1, 1])]:
        x.grad = None
        F.pad(x, (2, 2), mode=mode).sum().backward()
        np.testing.assert_array_equal(x.grad.arr[0, 0], expected, err_msg=mode)


def test_constant_pad_takes_any_rank_and_dtype():
    out = F.pad(fastgrad.tensor([[[1, 2], [3, 4]]]), (1, 0, 0, 1, 1, 1), value=7)
    assert out.shape == (3, 3, 3) and out.dtype == fastgrad.int64
    assert out.arr[0].tolist() == [[7, 7, 7]] * 3 and out.arr[1].tolist() == [[7, 1, 2], [7, 3, 4], [7, 7, 7]]
    assert F.pad(fastgrad.ones(2, 3, 4, 5, 2, dtype=fastgrad.float64), (1, 1) * 4).shape == (2, 5, 6, 7, 4)


def test_padding_nothing_returns_a_new_tensor():
    x = fastgrad.randn(2, 3)
    out = F.pad(x, (0, 0))
    assert out is not x and not np.shares_memory(out.arr, x.arr)


def test_bad_arguments_raise_as_pytorch():
    x = fastgrad.randn(2, 3, 4)
    with pytest.raises(RuntimeError, match="Padding length must be divisible by 2"):
        F.pad(x, (1, 1, 1))
    with pytest.raises(RuntimeError, match="Padding length should be less than or equal to two "
                                           "times the input dimension but got padding length 8"):
        F.pad(x, (1,) * 8)
    with pytest.raises(RuntimeError, match=r"Padding size should be less than the corresponding "
                                           r"input dimension, but got: padding \(4, 4\) at dimension 2"):
        F.pad(x, (4, 4), mode="reflect")
    with pytest.raises(RuntimeError, match="Padding value causes wrapping around more than once"):
        F.pad(x, (5, 1), mode="circular")
    with pytest.raises(NotImplementedError, match="Padding size 2 is not supported for 1D input"):
        F.pad(fastgrad.randn(4), (1, 1), mode="reflect")
    with pytest.raises(RuntimeError, match='Padding mode "reflect" doesn\'t take in value argument'):
        F.pad(x, (1, 1), mode="reflect", value=1.0)
    with pytest.raises(NotImplementedError, match="Unrecognised padding mode foo"):
        F.pad(x, (1, 1), mode="foo")
    with pytest.raises(TypeError, match="must be tuple of ints, but found element of type float"):
        F.pad(x, (1.5, 1))
    with pytest.raises(RuntimeError, match="leaves a negative size"):
        F.pad(x, (-3, -2))
    assert F.pad(x, (-3, -1)).shape == (2, 3, 0)  # cropping to nothing is fine, as PyTorch


def test_layers_are_f_pad_with_pytorchs_reprs():
    x = fastgrad.tensor(RNG.standard_normal((2, 3, 4, 5)), dtype=fastgrad.float64)
    for layer, mode, value in [(nn.ZeroPad2d((1, 2, 0, 3)), "constant", 0.0),
                               (nn.ConstantPad2d((1, 2, 0, 3), 1.5), "constant", 1.5),
                               (nn.ReflectionPad2d((1, 2, 0, 3)), "reflect", None),
                               (nn.ReplicationPad2d((1, 2, 0, 3)), "replicate", None),
                               (nn.CircularPad2d((1, 2, 0, 3)), "circular", None)]:
        np.testing.assert_array_equal(layer(x).arr, F.pad(x, (1, 2, 0, 3), mode, value).arr)
    x1 = fastgrad.tensor(RNG.standard_normal((2, 5)), dtype=fastgrad.float64)
    for layer, mode in [(nn.ReflectionPad1d(2), "reflect"), (nn.ReplicationPad1d(2), "replicate"),
                        (nn.ZeroPad1d(2), "constant"), (nn.CircularPad1d(2), "circular")]:
        np.testing.assert_array_equal(layer(x1).arr, F.pad(x1, (2, 2), mode).arr)
    assert repr(nn.ReflectionPad2d(1)) == "ReflectionPad2d((1, 1, 1, 1))"
    assert repr(nn.ConstantPad2d(1, 2.0)) == "ConstantPad2d(padding=(1, 1, 1, 1), value=2.0)"
    assert repr(nn.ZeroPad2d(1)) == "ZeroPad2d((1, 1, 1, 1))"
    assert repr(nn.ReplicationPad1d((1, 2))) == "ReplicationPad1d((1, 2))"
    with pytest.raises(RuntimeError, match="Padding length"):
        nn.ReflectionPad2d((1, 2, 0))


def _reference(x, pad, mode):
    """np.pad for the positive widths and slicing for the negative ones; circular crops first,
    as PyTorch (reflect / replicate / constant count positions in the uncropped input)."""
    widths = [(0, 0)] * x.ndim
    crops = [slice(None)] * x.ndim
    for i in range(len(pad) // 2):
        axis, lo, hi = x.ndim - 1 - i, pad[2 * i], pad[2 * i + 1]
        widths[axis] = (max(lo, 0), max(hi, 0))
        crops[axis] = slice(max(-lo, 0), x.shape[axis] + max(lo, 0) + max(hi, 0) - max(-hi, 0))
    if mode == "circular":
        crops_first = [slice(None)] * x.ndim
        for i in range(len(pad) // 2):
            axis, lo, hi = x.ndim - 1 - i, pad[2 * i], pad[2 * i + 1]
            crops_first[axis] = slice(max(-lo, 0), x.shape[axis] - max(-hi, 0))
        return np.pad(x[tuple(crops_first)], widths, mode="wrap")
    return np.pad(x, widths, mode=NUMPY_MODE[mode])[tuple(crops)]


@settings(max_examples=60, deadline=None)
@given(mode=st.sampled_from(["constant", "reflect", "replicate", "circular"]),
       dims=st.integers(1, 3), batch=st.booleans(), data=st.data())
def test_any_widths_match_the_numpy_reference_and_the_gradient_is_the_adjoint(mode, dims, batch,
                                                                              data):
    shape = tuple(data.draw(st.integers(1, 5)) for _ in range(dims + 1 + batch))
    pad = []
    for axis in reversed(range(len(shape) - dims, len(shape))):
        size = shape[axis]
        if mode == "reflect":
            limit = size - 1
        elif mode == "circular":
            limit = max(size // 2, 0)
        else:
            limit = 4
        lo = data.draw(st.integers(-(size // 2), limit))
        hi = data.draw(st.integers(-(size // 2), limit))
        pad += [lo, hi]
    x = RNG.standard_normal(shape)
    t = fastgrad.tensor(x, dtype=fastgrad.float64, requires_grad=True)
    out = F.pad(t, tuple(pad), mode=mode)
    np.testing.assert_array_equal(out.arr, _reference(x, pad, mode))
    cotangent = RNG.standard_normal(out.shape)
    out.backward(fastgrad.tensor(cotangent, dtype=fastgrad.float64))
    # <pad(x), g> == <x, pad'(g)> for every x: the backward is the adjoint of the (linear) map
    probe = RNG.standard_normal(shape)
    np.testing.assert_allclose((_reference(probe, pad, mode) * cotangent).sum(),
                               (probe * t.grad.arr).sum(), rtol=1e-10, atol=1e-10)
