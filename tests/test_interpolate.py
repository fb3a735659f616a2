"""F.interpolate / nn.Upsample and pixel_shuffle / pixel_unshuffle: the op contract
(gradcheck and gradgradcheck through linear_map), the index rules on small cases worked by
hand, the adjoint identity, and errors. (PyTorch's own numbers: test_layers_torch_reference.py.)"""
import numpy as np
import pytest

import fastgrad
from fastgrad import nn
from fastgrad.nn import functional as F
from fastgrad.testing import check_op

RNG = np.random.default_rng(7)

MODES = [
    ("nearest", dict(scale_factor=2)),
    ("nearest", dict(size=(7, 3))),
    ("nearest", dict(scale_factor=1.7)),
    ("nearest-exact", dict(size=(6, 8))),
    ("nearest-exact", dict(scale_factor=0.6)),
    ("bilinear", dict(size=(3, 9))),
    ("bilinear", dict(scale_factor=2.5)),
    ("bilinear", dict(scale_factor=(1.6, 0.5), recompute_scale_factor=True)),
    ("bilinear", dict(size=(7, 2), align_corners=True)),
    ("bilinear", dict(size=(1, 1), align_corners=True)),
]


@pytest.mark.parametrize("mode, kwargs", MODES)
def test_interpolate_gradcheck(mode, kwargs):
    check_op(lambda x: F.interpolate(x, mode=mode, **kwargs), RNG.standard_normal((2, 3, 4, 5)),
             extra_shapes=[((0, 3, 4, 5),), ((1, 1, 2, 2),)])


@pytest.mark.parametrize("mode, kwargs", [("linear", dict(scale_factor=1.5)),
                                          ("linear", dict(size=9, align_corners=True)),
                                          ("nearest", dict(size=4)),
                                          ("nearest-exact", dict(scale_factor=2))])
def test_interpolate_3d_gradcheck(mode, kwargs):
    check_op(lambda x: F.interpolate(x, mode=mode, **kwargs), RNG.standard_normal((2, 3, 6)))


def test_interpolate_5d_nearest_gradcheck():
    check_op(lambda x: F.interpolate(x, size=(3, 2, 5)), RNG.standard_normal((1, 2, 2, 3, 4)))


@pytest.mark.parametrize("mode, kwargs", MODES)
def test_the_adjoint_is_the_transpose(mode, kwargs):
    # <A x, y> == <x, A^T y>: what makes the backward (and the backward of it) right
    x = fastgrad.tensor(RNG.standard_normal((2, 3, 4, 5)), dtype=fastgrad.float64,
                        requires_grad=True)
    out = F.interpolate(x, mode=mode, **kwargs)
    y = RNG.standard_normal(out.shape)
    out.backward(fastgrad.tensor(y, dtype=fastgrad.float64))
    np.testing.assert_allclose((out.arr * y).sum(), (x.arr * x.grad.arr).sum(), rtol=1e-12)


def test_nearest_and_linear_rules_by_hand():
    x = fastgrad.tensor([[[0.0, 10.0, 20.0]]], dtype=fastgrad.float64)
    # nearest 3 -> 5: src = floor(j * 3/5) = 0 0 1 1 2; nearest-exact: floor((j + .5) * .6)
    np.testing.assert_array_equal(F.interpolate(x, size=5).arr, [[[0, 0, 10, 10, 20]]])
    np.testing.assert_array_equal(F.interpolate(x, size=5, mode="nearest-exact").arr,
                                  [[[0, 0, 10, 20, 20]]])
    # linear, half-pixel centres, 3 -> 4: src = (j + .5) * .75 - .5
    # = 0 (clamped), .625, 1.375, 2.125
    np.testing.assert_allclose(F.interpolate(x, size=4, mode="linear").arr,
                               [[[0.0, 6.25, 13.75, 20.0]]])
    # align_corners: src = j * 2/3
    np.testing.assert_allclose(F.interpolate(x, size=4, mode="linear", align_corners=True).arr,
                               [[[0.0, 20 / 3, 40 / 3, 20.0]]])


def test_scale_factor_uses_its_inverse_unless_recomputed():
    x = fastgrad.tensor(np.arange(7.0).reshape(1, 1, 7), dtype=fastgrad.float64)
    # 7 * 1.7 -> 11 outputs; src = floor(j / 1.7), or floor(j * 7 / 11) when recomputed
    assert F.interpolate(x, scale_factor=1.7).arr.ravel().tolist() == [0, 0, 1, 1, 2, 2, 3, 4, 4,
                                                                        5, 5]
    recomputed = F.interpolate(x, scale_factor=1.7, recompute_scale_factor=True)
    assert recomputed.arr.ravel().tolist() == [0, 0, 1, 1, 2, 3, 3, 4, 5, 5, 6]
    y = fastgrad.tensor(np.arange(3.0).reshape(1, 1, 3), dtype=fastgrad.float64)
    a = F.interpolate(y, scale_factor=2.9, mode="linear")  # 8 outputs, step 1 / 2.9
    b = F.interpolate(y, scale_factor=2.9, mode="linear", recompute_scale_factor=True)  # 3 / 8
    assert a.shape == b.shape == (1, 1, 8) and not np.allclose(a.arr, b.arr)


def test_dtypes_and_integer_input():
    x = fastgrad.randn(1, 2, 3, 3)
    assert F.interpolate(x, scale_factor=2, mode="bilinear").dtype == np.float32
    ints = fastgrad.tensor(np.arange(4).reshape(1, 1, 2, 2))
    out = F.interpolate(ints, scale_factor=2)
    assert out.dtype == np.int64
    assert out.arr[0, 0].tolist() == [[0, 0, 1, 1]] * 2 + [[2, 2, 3, 3]] * 2
    with pytest.raises(RuntimeError, match="float input, got int64"):
        F.interpolate(ints, scale_factor=2, mode="bilinear")


def test_output_takes_in_place_ops():
    x = fastgrad.randn(1, 1, 2, 2, requires_grad=True)
    y = F.interpolate(x, scale_factor=2)
    y.add_(1.0)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.arr, np.full((1, 1, 2, 2), 4.0))


@pytest.mark.parametrize("shape, kwargs, error, message", [
    ((1, 1, 3, 3), dict(size=4, scale_factor=2), ValueError, "only one of size or scale_factor"),
    ((1, 1, 3, 3), {}, ValueError, "either size or scale_factor"),
    ((1, 1, 3, 3), dict(size=4, align_corners=True), ValueError, "align_corners option"),
    ((1, 1, 3), dict(size=4, mode="bilinear"), NotImplementedError, "Got 3D input, but bilinear"),
    ((1, 1, 3, 3), dict(size=4, mode="linear"), NotImplementedError, "Got 4D input, but linear"),
    ((1, 1, 3, 3), dict(size=(4, 4, 4)), ValueError, r"dimensions of \[3, 3\]"),
    ((1, 1, 3, 3), dict(scale_factor=(2, 2, 2)), ValueError, "same number of spatial"),
    ((1, 1, 3, 3), dict(size=4, mode="bicubic"), NotImplementedError, "got bicubic"),
    ((3, 3), dict(size=4), NotImplementedError, "got 2D"),
    ((1, 1, 3, 3), dict(size=(0, 2)), RuntimeError, "greater than 0"),
    ((1, 1, 3, 3), dict(size=4, recompute_scale_factor=True), ValueError, "recompute_scale_factor"),
    ((1, 1, 3, 3), dict(size=4, antialias=True), ValueError, "Anti-alias option is restricted"),
    ((1, 1, 3, 3), dict(size=4, mode="bilinear", antialias=True), NotImplementedError, "antialias"),
])
def test_interpolate_errors(shape, kwargs, error, message):
    with pytest.raises(error, match=message):
        F.interpolate(fastgrad.randn(*shape), **kwargs)


def test_upsample_modules():
    x = fastgrad.randn(2, 3, 4, 5)
    up = nn.Upsample(scale_factor=2, mode="bilinear", align_corners=True)
    np.testing.assert_array_equal(up(x).arr, F.interpolate(x, scale_factor=2, mode="bilinear",
                                                           align_corners=True).arr)
    assert repr(up) == "Upsample(scale_factor=2.0, mode='bilinear')"
    assert repr(nn.Upsample(size=(3, 4))) == "Upsample(size=(3, 4), mode='nearest')"
    np.testing.assert_array_equal(nn.UpsamplingNearest2d(size=(6, 7))(x).arr,
                                  F.interpolate(x, size=(6, 7)).arr)
    np.testing.assert_array_equal(nn.UpsamplingBilinear2d(scale_factor=2)(x).arr,
                                  F.interpolate(x, scale_factor=2, mode="bilinear",
                                                align_corners=True).arr)
    assert list(up.state_dict()) == []


@pytest.mark.parametrize("shape, r", [((2, 8, 3, 4), 2), ((9, 2, 1), 3), ((1, 2, 4, 3, 2), 1)])
def test_pixel_shuffle_gradcheck_and_inverse(shape, r):
    x = RNG.standard_normal(shape)
    check_op(lambda t: F.pixel_shuffle(t, r), x)
    shuffled = F.pixel_shuffle(fastgrad.tensor(x, dtype=fastgrad.float64), r)
    *lead, c, h, w = shape
    assert shuffled.shape == (*lead, c // (r * r), h * r, w * r)
    np.testing.assert_array_equal(F.pixel_unshuffle(shuffled, r).arr, x)
    check_op(lambda t: F.pixel_unshuffle(t, r), shuffled.arr)


def test_pixel_shuffle_places_channels_as_pytorch():
    # out[c, h*r + i, w*r + j] = in[c*r*r + i*r + j, h, w]
    x = np.arange(2 * 4 * 2 * 3).reshape(1, 8, 2, 3).astype(np.float64)
    out = F.pixel_shuffle(fastgrad.tensor(x, dtype=fastgrad.float64), 2).arr
    for c, h, w, i, j in [(0, 0, 0, 0, 1), (1, 1, 2, 1, 0), (1, 0, 1, 1, 1)]:
        assert out[0, c, h * 2 + i, w * 2 + j] == x[0, c * 4 + i * 2 + j, h, w]


def test_pixel_shuffle_modules_and_errors():
    x = fastgrad.randn(1, 8, 2, 2)
    np.testing.assert_array_equal(nn.PixelShuffle(2)(x).arr, F.pixel_shuffle(x, 2).arr)
    assert repr(nn.PixelShuffle(2)) == "PixelShuffle(upscale_factor=2)"
    assert repr(nn.PixelUnshuffle(3)) == "PixelUnshuffle(downscale_factor=3)"
    assert nn.PixelUnshuffle(2)(fastgrad.randn(1, 1, 4, 6)).shape == (1, 4, 2, 3)
    with pytest.raises(RuntimeError, match="input.size\\(-3\\)=3 is not divisible by 4"):
        F.pixel_shuffle(fastgrad.randn(1, 3, 2, 2), 2)
    with pytest.raises(RuntimeError, match="at least 3 dimensions.*2 dimension"):
        F.pixel_shuffle(fastgrad.randn(4, 2), 2)
    with pytest.raises(RuntimeError, match="positive upscale_factor, but got 0"):
        F.pixel_shuffle(fastgrad.randn(1, 4, 2, 2), 0)
    with pytest.raises(RuntimeError, match="width to be divisible.*size\\(-1\\)=5"):
        F.pixel_unshuffle(fastgrad.randn(1, 1, 4, 5), 2)
