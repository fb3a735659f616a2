"""conv2d with groups and 'same' / 'valid', conv1d, conv_transpose2d and their modules: the op
contract (gradcheck and gradgradcheck), the naive loop oracle, PyTorch's errors and reprs.
(PyTorch's own numbers: test_conv_torch_reference.py.)"""
import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st

import fastgrad
from fastgrad import nn
from fastgrad.nn import functional as F
from fastgrad.ops.naive import conv2d_naive
from fastgrad.testing import check_op

RNG = np.random.default_rng(12)


def _normal(*shape):
    return RNG.standard_normal(shape)


@pytest.mark.parametrize("x_shape, w_shape, kwargs", [
    ((2, 4, 5, 6), (6, 2, 3, 2), dict(stride=(2, 1), padding=1, groups=2)),        # grouped
    ((1, 3, 7, 5), (3, 1, 3, 3), dict(stride=2, padding=(1, 2), dilation=2, groups=3)),  # depthwise
    ((2, 4, 4, 5), (8, 1, 2, 2), dict(groups=4)),                                    # multiplier 2
    ((3, 5, 6), (6, 1, 3, 3), dict(padding=1, groups=3)),                            # unbatched
])
def test_grouped_conv2d_keeps_the_op_contract_and_matches_the_naive_loop(x_shape, w_shape, kwargs):
    x, w, b = _normal(*x_shape), _normal(*w_shape), _normal(w_shape[0])
    check_op(lambda x, w, b: F.conv2d(x, w, b, **kwargs), x, w, b, name="conv2d(groups)",
             extra_shapes=[((0,) + x_shape[1:], w_shape, (w_shape[0],))] if len(x_shape) == 4
             else ())
    fast = F.conv2d(fastgrad.tensor(x, dtype=fastgrad.float64), fastgrad.tensor(w, dtype=fastgrad.float64),
                    fastgrad.tensor(b, dtype=fastgrad.float64), **kwargs)
    naive = conv2d_naive(fastgrad.tensor(x, dtype=fastgrad.float64), fastgrad.tensor(w, dtype=fastgrad.float64),
                         fastgrad.tensor(b, dtype=fastgrad.float64), **kwargs)
    np.testing.assert_allclose(fast.arr, naive.arr, rtol=1e-12, atol=1e-12)


def test_grouped_gradients_match_the_naive_loop():
    args = [fastgrad.tensor(_normal(*shape), dtype=fastgrad.float64, requires_grad=True)
            for shape in ((3, 6, 7, 6), (9, 2, 3, 3), (9,))]
    cotangent = fastgrad.tensor(_normal(3, 9, 4, 3), dtype=fastgrad.float64)
    grads = []
    for conv in (F.conv2d, conv2d_naive):
        for a in args:
            a.grad = None
        conv(*args, stride=2, padding=1, groups=3).backward(cotangent)
        grads.append([a.grad.arr for a in args])
    for fast, naive in zip(*grads):
        np.testing.assert_allclose(fast, naive, rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize("x_shape, w_shape, kwargs", [
    ((1, 2, 5, 6), (3, 2, 2, 4), dict(padding="same")),                  # even kernels: extra row / col
    ((2, 4, 5, 5), (4, 2, 3, 2), dict(padding="same", dilation=(2, 3), groups=2)),
    ((2, 5, 5), (3, 2, 3, 3), dict(padding="valid")),
])
def test_string_padding_keeps_the_op_contract(x_shape, w_shape, kwargs):
    x, w, b = _normal(*x_shape), _normal(*w_shape), _normal(w_shape[0])
    check_op(lambda x, w, b: F.conv2d(x, w, b, **kwargs), x, w, b, name="conv2d(padding=str)")
    out = F.conv2d(fastgrad.tensor(x), fastgrad.tensor(w), **kwargs)
    if kwargs["padding"] == "same":
        assert out.shape[-2:] == x_shape[-2:]


def test_same_padding_puts_the_odd_row_at_the_end_as_pytorch():
    # a 2x2 kernel of ones sums each pixel with its right / lower neighbours (zero past the edge)
    x = fastgrad.tensor(np.arange(9.0).reshape(1, 1, 3, 3), dtype=fastgrad.float64)
    out = F.conv2d(x, fastgrad.ones(1, 1, 2, 2, dtype=fastgrad.float64), padding="same")
    np.testing.assert_array_equal(out.arr[0, 0], [[8, 12, 7], [20, 24, 13], [13, 15, 8]])


@pytest.mark.parametrize("x_shape, w_shape, kwargs", [
    ((2, 4, 9), (6, 2, 3), dict(stride=2, padding=1, dilation=2, groups=2)),
    ((3, 8), (2, 3, 4), dict(padding="same")),
    ((2, 2, 5), (3, 2, 1), dict()),
])
def test_conv1d_keeps_the_op_contract(x_shape, w_shape, kwargs):
    x, w, b = _normal(*x_shape), _normal(*w_shape), _normal(w_shape[0])
    check_op(lambda x, w, b: F.conv1d(x, w, b, **kwargs), x, w, b, name="conv1d")


def test_conv1d_is_conv2d_on_planes_of_height_one():
    x, w = fastgrad.tensor(_normal(2, 4, 9)), fastgrad.tensor(_normal(6, 2, 3))
    out = F.conv1d(x, w, stride=2, padding=1, groups=2)
    planes = F.conv2d(x.reshape(2, 4, 1, 9), w.reshape(6, 2, 1, 3), stride=(1, 2), padding=(0, 1),
                      groups=2)
    np.testing.assert_allclose(out.arr, planes.arr[:, :, 0], rtol=1e-6)


@pytest.mark.parametrize("x_shape, w_shape, kwargs", [
    ((2, 4, 3, 4), (4, 3, 3, 3), dict(stride=2, padding=1, output_padding=1, groups=2)),
    ((1, 2, 4, 3), (2, 3, 2, 3), dict(stride=(1, 2), padding=(0, 1), output_padding=(1, 0),
                                      dilation=(2, 1))),
    ((3, 3, 3), (3, 2, 2, 2), dict(stride=3)),                            # unbatched
    ((2, 3, 3, 2), (3, 1, 3, 3), dict(groups=3, padding=(1, 0))),         # depthwise, cropping
])
def test_conv_transpose2d_keeps_the_op_contract(x_shape, w_shape, kwargs):
    out_channels = w_shape[1] * kwargs.get("groups", 1)
    x, w, b = _normal(*x_shape), _normal(*w_shape), _normal(out_channels)
    check_op(lambda x, w, b: F.conv_transpose2d(x, w, b, **kwargs), x, w, b,
             name="conv_transpose2d")


def test_conv_transpose2d_is_the_adjoint_of_conv2d():
    # <conv2d(x, W), y> == <x, conv_transpose2d(y, W)> for the same stride / padding / groups
    x = fastgrad.tensor(_normal(2, 4, 7, 6), dtype=fastgrad.float64)
    w = fastgrad.tensor(_normal(6, 2, 3, 3), dtype=fastgrad.float64)
    y = F.conv2d(x, w, stride=2, padding=1, dilation=(1, 2), groups=2)
    cotangent = fastgrad.tensor(_normal(*y.shape), dtype=fastgrad.float64)
    back = F.conv_transpose2d(cotangent, w, stride=2, padding=1, dilation=(1, 2), groups=2,
                              output_padding=(0, 1))
    assert back.shape == x.shape
    np.testing.assert_allclose((y * cotangent).sum().item(), (x * back).sum().item(), rtol=1e-10)


def test_unbatched_outputs_take_in_place_ops():
    x = fastgrad.randn(3, 6, 5, requires_grad=True)
    for out in (F.conv2d(x, fastgrad.randn(4, 3, 3, 3)),
                F.conv1d(x[0], fastgrad.randn(2, 6, 3)),
                F.conv_transpose2d(x, fastgrad.randn(3, 2, 2, 2))):
        assert out._base is None  # not a view of a 4-D temporary
        y = F.relu(out, inplace=True)
        assert y is out and (out.arr >= 0).all()
        y.sum().backward()
    assert x.grad is not None and x.grad.shape == x.shape


def test_unbatched_conv2d_equals_the_batched_one():
    x, w, b = _normal(3, 6, 5), _normal(4, 3, 3, 3), _normal(4)
    out = F.conv2d(fastgrad.tensor(x), fastgrad.tensor(w), fastgrad.tensor(b), padding=1)
    batched = F.conv2d(fastgrad.tensor(x[None]), fastgrad.tensor(w), fastgrad.tensor(b), padding=1)
    np.testing.assert_array_equal(out.arr, batched.arr[0])


def test_bad_groups_padding_and_output_padding_raise_as_pytorch():
    with pytest.raises(RuntimeError, match=r"Given groups=2, weight of size \[4, 3, 3, 3\], "
                                           r"expected input\[1, 5, 5, 5\] to have 6 channels, "
                                           r"but got 5 channels instead"):
        F.conv2d(fastgrad.randn(1, 5, 5, 5), fastgrad.randn(4, 3, 3, 3), groups=2)
    with pytest.raises(RuntimeError, match=r"expected weight to be divisible by 2 at dimension 0"):
        F.conv2d(fastgrad.randn(1, 6, 5, 5), fastgrad.randn(3, 3, 3, 3), groups=2)
    with pytest.raises(RuntimeError, match=r"expected weight to be at least 2 at dimension 0"):
        F.conv2d(fastgrad.randn(1, 6, 5, 5), fastgrad.randn(1, 3, 3, 3), groups=2)
    with pytest.raises(RuntimeError, match="non-positive groups is not supported"):
        F.conv2d(fastgrad.randn(1, 6, 5, 5), fastgrad.randn(4, 3, 3, 3), groups=0)
    with pytest.raises(RuntimeError, match="Invalid padding string: 'foo'"):
        F.conv2d(fastgrad.randn(1, 6, 5, 5), fastgrad.randn(4, 6, 3, 3), padding="foo")
    with pytest.raises(RuntimeError, match="padding='same' is not supported for strided"):
        F.conv2d(fastgrad.randn(1, 6, 5, 5), fastgrad.randn(4, 6, 3, 3), padding="same", stride=2)
    with pytest.raises(RuntimeError, match=r"Expected 2D \(unbatched\) or 3D \(batched\) input to "
                                           r"conv1d, but got input of size: \[2, 4, 7, 1\]"):
        F.conv1d(fastgrad.randn(2, 4, 7, 1), fastgrad.randn(3, 4, 3))
    with pytest.raises(RuntimeError, match=r"Given groups=1, weight of size \[3, 4, 3\], expected "
                                           r"input\[2, 5, 7\] to have 4 channels"):
        F.conv1d(fastgrad.randn(2, 5, 7), fastgrad.randn(3, 4, 3))
    with pytest.raises(RuntimeError, match="output padding must be smaller than either stride or "
                                           "dilation, but got output_padding_height: 2"):
        F.conv_transpose2d(fastgrad.randn(1, 4, 5, 5), fastgrad.randn(4, 2, 3, 3), stride=2,
                           output_padding=2)
    with pytest.raises(RuntimeError, match=r"Given transposed=1, weight of size \[4, 2, 3, 3\], "
                                           r"expected input\[1, 5, 5, 5\] to have 4 channels"):
        F.conv_transpose2d(fastgrad.randn(1, 5, 5, 5), fastgrad.randn(4, 2, 3, 3))
    with pytest.raises(RuntimeError, match=r"Calculated output size per channel: \(-2 x -2\). "
                                           r"Output size is too small"):
        F.conv_transpose2d(fastgrad.randn(1, 4, 2, 2), fastgrad.randn(4, 2, 3, 3), padding=3)
    with pytest.raises(TypeError):
        F.conv_transpose2d(fastgrad.randn(1, 4, 2, 2), fastgrad.randn(4, 2, 3, 3), padding="same")


def test_modules_check_their_arguments_as_pytorch():
    for kwargs, message in [(dict(groups=2, in_channels=5), "in_channels must be divisible by groups"),
                            (dict(groups=2, out_channels=5), "out_channels must be divisible by groups"),
                            (dict(groups=0), "groups must be a positive integer"),
                            (dict(padding="foo"), "Invalid padding string 'foo'"),
                            (dict(padding="same", stride=2), "padding='same' is not supported"),
                            (dict(padding_mode="foo"), "padding_mode must be one of")]:
        args = dict(in_channels=4, out_channels=4, kernel_size=3) | kwargs
        with pytest.raises(ValueError, match=message):
            nn.Conv2d(**args)
    with pytest.raises(ValueError, match='Only "zeros" padding mode is supported for ConvTranspose2d'):
        nn.ConvTranspose2d(4, 2, 3, padding_mode="reflect")


def test_module_reprs_and_shapes_are_pytorchs():
    assert repr(nn.Conv2d(4, 4, 3, groups=2, padding="same", padding_mode="reflect", bias=False)) == \
        ("Conv2d(4, 4, kernel_size=(3, 3), stride=(1, 1), padding=same, groups=2, bias=False, "
         "padding_mode=reflect)")
    assert repr(nn.ConvTranspose2d(4, 2, 3, stride=2, output_padding=1)) == \
        "ConvTranspose2d(4, 2, kernel_size=(3, 3), stride=(2, 2), output_padding=(1, 1))"
    assert repr(nn.Conv1d(4, 2, 3, padding="same")) == \
        "Conv1d(4, 2, kernel_size=(3,), stride=(1,), padding=same)"
    assert nn.Conv2d(6, 9, (3, 2), groups=3).weight.shape == (9, 2, 3, 2)
    assert nn.ConvTranspose2d(6, 9, 3, groups=3).weight.shape == (6, 3, 3, 3)
    assert nn.Conv1d(4, 6, 5, groups=2).weight.shape == (6, 2, 5)
    bound = 1 / np.sqrt(2 * 3 * 2)  # PyTorch's fan_in: in_channels / groups * kernel size
    w = nn.Conv2d(6, 9, (3, 2), groups=3).weight.arr
    assert np.abs(w).max() <= bound and np.abs(w).max() > bound / 2


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_padding_mode_pads_with_f_pad_then_convolves(mode):
    conv = nn.Conv2d(2, 3, (3, 2), padding="same", padding_mode=mode, dtype=fastgrad.float64)
    x = fastgrad.tensor(_normal(2, 2, 5, 6), dtype=fastgrad.float64)
    # 'same' for a 2-wide kernel: 0 left, 1 right; 3 high: 1 above and below
    expected = F.conv2d(F.pad(x, (0, 1, 1, 1), mode=mode), conv.weight, conv.bias)
    np.testing.assert_allclose(conv(x).arr, expected.arr, rtol=1e-12)
    conv1 = nn.Conv1d(2, 3, 3, padding=2, padding_mode=mode, dtype=fastgrad.float64)
    x1 = fastgrad.tensor(_normal(2, 2, 5), dtype=fastgrad.float64)
    expected = F.conv1d(F.pad(x1, (2, 2), mode=mode), conv1.weight, conv1.bias)
    np.testing.assert_allclose(conv1(x1).arr, expected.arr, rtol=1e-12)


def test_conv_transpose2d_module_output_size_picks_the_output_padding():
    layer = nn.ConvTranspose2d(4, 2, 3, stride=2, padding=1, dtype=fastgrad.float64)
    x = fastgrad.tensor(_normal(2, 4, 5, 6), dtype=fastgrad.float64)
    out = layer(x, output_size=(10, 11))
    assert out.shape == (2, 2, 10, 11)
    expected = F.conv_transpose2d(x, layer.weight, layer.bias, stride=2, padding=1,
                                  output_padding=(1, 0))
    np.testing.assert_array_equal(out.arr, expected.arr)
    with pytest.raises(ValueError, match="valid sizes range from 9 to 10"):
        layer(x, output_size=(12, 11))


def test_depthwise_module_trains_a_step():
    layer = nn.Conv2d(4, 8, 3, padding=1, groups=4)
    x = fastgrad.randn(3, 4, 6, 6)
    layer(x).sum().backward()
    assert layer.weight.grad.shape == (8, 1, 3, 3) and layer.bias.grad.shape == (8,)
    np.testing.assert_allclose(layer.bias.grad.arr, np.full(8, 3 * 36.0), rtol=1e-6)


@pytest.mark.parametrize("x_shape, kwargs", [
    ((2, 5, 9, 8), dict(padding=1)),
    ((3, 4, 7, 9), dict(stride=(2, 3), padding=(2, 0), dilation=(1, 2))),
    ((4, 6, 5), dict(stride=2, padding=(0, 3), dilation=2)),          # unbatched
])
def test_depthwise_kernels_match_the_naive_loop_and_keep_the_op_contract(x_shape, kwargs):
    c = x_shape[-3]
    x, w, b = _normal(*x_shape), _normal(c, 1, 3, 2), _normal(c)
    tensors = [fastgrad.tensor(a, dtype=fastgrad.float64, requires_grad=True) for a in (x, w, b)]
    out = F.conv2d(*tensors, groups=c, **kwargs)
    assert type(out.grad_fn).__name__ == "DepthwiseConv2dGradFn"
    cotangent = fastgrad.tensor(_normal(*out.shape), dtype=fastgrad.float64)
    out.backward(cotangent)
    fast = [t.grad.arr for t in tensors]
    for t in tensors:
        t.grad = None
    naive = conv2d_naive(*tensors, groups=c, **kwargs)
    np.testing.assert_allclose(out.arr, naive.arr, rtol=1e-12, atol=1e-12)
    naive.backward(cotangent)
    for got, want in zip(fast, [t.grad.arr for t in tensors]):
        np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-11)
    check_op(lambda x, w, b: F.conv2d(x, w, b, groups=c, **kwargs), x, w, b, name="depthwise",
             extra_shapes=[((0,) + x_shape[1:], (c, 1, 3, 2), (c,))] if len(x_shape) == 4 else ())


def test_depthwise_conv1d_keeps_the_op_contract():
    check_op(lambda x, w: F.conv1d(x, w, stride=2, padding=2, groups=3), _normal(2, 3, 9),
             _normal(3, 1, 4), name="depthwise conv1d")


@settings(max_examples=40, deadline=None)
@given(n=st.integers(0, 2), groups=st.integers(1, 3), per_in=st.integers(1, 2),
       per_out=st.integers(1, 2), h=st.integers(1, 7), w=st.integers(1, 7),
       kh=st.integers(1, 3), kw=st.integers(1, 3), sh=st.integers(1, 3), sw=st.integers(1, 3),
       ph=st.integers(0, 2), pw=st.integers(0, 2), dh=st.integers(1, 2), dw=st.integers(1, 2),
       unbatched=st.booleans(), seed=st.integers(0, 2**16))
def test_grouped_and_depthwise_paths_match_the_naive_loop(n, groups, per_in, per_out, h, w, kh,
                                                          kw, sh, sw, ph, pw, dh, dw, unbatched,
                                                          seed):
    assume(dh * (kh - 1) + 1 <= h + 2 * ph and dw * (kw - 1) + 1 <= w + 2 * pw)
    rng = np.random.default_rng(seed)
    x_shape = (groups * per_in, h, w) if unbatched else (n, groups * per_in, h, w)
    values = [rng.standard_normal(s) for s in (x_shape, (groups * per_out, per_in, kh, kw),
                                               (groups * per_out,))]
    kwargs = dict(stride=(sh, sw), padding=(ph, pw), dilation=(dh, dw), groups=groups)
    results = []
    for conv in (F.conv2d, conv2d_naive):
        tensors = [fastgrad.tensor(v, dtype=fastgrad.float64, requires_grad=True) for v in values]
        out = conv(*tensors, **kwargs)
        out.backward(fastgrad.tensor(np.random.default_rng(seed).standard_normal(out.shape),
                                     dtype=fastgrad.float64))
        results.append([out.arr] + [t.grad.arr for t in tensors])
    for fast, naive in zip(*results):
        np.testing.assert_allclose(fast, naive, rtol=1e-10, atol=1e-10)


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 2), groups=st.integers(1, 2), per_in=st.integers(1, 2),
       per_out=st.integers(1, 2), h=st.integers(1, 4), w=st.integers(1, 4),
       kh=st.integers(1, 3), kw=st.integers(1, 3), sh=st.integers(1, 3), sw=st.integers(1, 3),
       ph=st.integers(0, 2), pw=st.integers(0, 2), dh=st.integers(1, 2), dw=st.integers(1, 2),
       oph=st.integers(0, 2), opw=st.integers(0, 2), seed=st.integers(0, 2**16))
def test_conv_transpose2d_is_the_input_gradient_of_conv2d(n, groups, per_in, per_out, h, w, kh,
                                                          kw, sh, sw, ph, pw, dh, dw, oph, opw,
                                                          seed):
    assume((oph < sh or oph < dh) and (opw < sw or opw < dw))
    out_h = (h - 1) * sh - 2 * ph + dh * (kh - 1) + oph + 1
    out_w = (w - 1) * sw - 2 * pw + dw * (kw - 1) + opw + 1
    assume(out_h >= 1 and out_w >= 1)
    rng = np.random.default_rng(seed)
    y = fastgrad.tensor(rng.standard_normal((n, groups * per_in, h, w)), dtype=fastgrad.float64)
    weight = fastgrad.tensor(rng.standard_normal((groups * per_in, per_out, kh, kw)),
                             dtype=fastgrad.float64)
    geometry = dict(stride=(sh, sw), padding=(ph, pw), dilation=(dh, dw), groups=groups)
    out = F.conv_transpose2d(y, weight, output_padding=(oph, opw), **geometry)
    assert out.shape == (n, groups * per_out, out_h, out_w)
    # the conv2d that maps an (out_h, out_w) input onto y's (h, w) grid (its last rows / columns
    # past the grid, from output_padding >= stride, are not part of it)
    x = fastgrad.tensor(np.zeros(out.shape), dtype=fastgrad.float64, requires_grad=True)
    conv = conv2d_naive(x, weight, **geometry)
    conv[:, :, :h, :w].backward(y)
    np.testing.assert_allclose(out.arr, x.grad.arr, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("groups, w_shape", [(2, (4, 2, 3, 3)), (4, (4, 1, 3, 3))])
def test_a_retained_graph_gives_the_same_gradients_twice(groups, w_shape):
    x = fastgrad.tensor(_normal(2, 4, 6, 5), dtype=fastgrad.float64, requires_grad=True)
    w = fastgrad.tensor(_normal(*w_shape), dtype=fastgrad.float64, requires_grad=True)
    out = F.conv2d(x, w, padding=1, groups=groups)
    cotangent = fastgrad.tensor(_normal(*out.shape), dtype=fastgrad.float64)
    out.backward(cotangent, retain_graph=True)
    first = (x.grad.arr.copy(), w.grad.arr.copy())
    out.backward(cotangent)
    np.testing.assert_allclose(x.grad.arr, 2 * first[0], rtol=1e-12)
    np.testing.assert_allclose(w.grad.arr, 2 * first[1], rtol=1e-12)


def test_changing_a_saved_input_in_place_raises():
    x = fastgrad.randn(2, 4, 5, 5, requires_grad=True)
    h = x * 1.0
    w = fastgrad.randn(4, 1, 3, 3, requires_grad=True)
    out = F.conv2d(h, w, groups=4)  # the depthwise node reads h's values in its backward
    h.add_(1.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation|in-place"):
        out.sum().backward()


def test_symmetric_same_padding_takes_the_batched_path_and_asymmetric_does_not():
    x = fastgrad.randn(2, 3, 7, 7, requires_grad=True)
    odd = F.conv2d(x, fastgrad.randn(4, 3, 3, 3, requires_grad=True), padding="same")
    even = F.conv2d(x, fastgrad.randn(4, 3, 2, 2, requires_grad=True), padding="same")
    assert type(odd.grad_fn).__name__ == "Conv2dGradFn"  # the same as padding=1
    assert type(even.grad_fn).__name__ != "Conv2dGradFn"  # the extra row goes through F.pad
    assert odd.shape == even.shape == (2, 4, 7, 7)
