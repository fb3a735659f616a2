"""conv2d: im2col against the naive loop reference and against gradcheck, over many shapes."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fastgrad
from fastgrad import nn
from fastgrad.autograd import gradcheck
from fastgrad.kernels.threads import batch_chunks
from fastgrad.nn import functional as F


def t64(arr, requires_grad=True):
    return fastgrad.tensor(arr, dtype=fastgrad.float64, requires_grad=requires_grad)


# (N, C, H, W), (O, KH, KW), stride, padding, dilation
CASES = [
    ((1, 1, 5, 5), (1, 3, 3), 1, 0, 1),
    ((2, 3, 7, 6), (4, 3, 2), (2, 1), (1, 2), (1, 2)),
    ((1, 2, 6, 9), (3, 1, 4), 3, 2, 1),
    ((3, 1, 8, 5), (2, 2, 2), 2, 1, 2),
    ((2, 4, 5, 5), (5, 5, 5), 1, 2, 1),
    ((1, 2, 4, 4), (2, 1, 1), 1, 0, 1),
]


@pytest.mark.parametrize("x_shape, w_shape, stride, padding, dilation", CASES)
@pytest.mark.parametrize("bias", [True, False])
def test_im2col_matches_naive_and_gradcheck(x_shape, w_shape, stride, padding, dilation, bias):
    rng = np.random.default_rng(sum(x_shape) + sum(w_shape))
    o, kh, kw = w_shape
    x = t64(rng.standard_normal(x_shape))
    w = t64(rng.standard_normal((o, x_shape[1], kh, kw)))
    b = t64(rng.standard_normal(o)) if bias else None
    args = dict(stride=stride, padding=padding, dilation=dilation)
    fast = F.conv2d(x, w, b, **args)
    naive = F.conv2d_naive(x, w, b, **args)
    np.testing.assert_allclose(fast.arr, naive.arr, rtol=1e-10, atol=1e-12)
    inputs = [x, w] + ([b] if bias else [])
    assert gradcheck(lambda x, w, *b: F.conv2d(x, w, b[0] if b else None, **args), inputs)
    assert gradcheck(lambda x, w, *b: F.conv2d_naive(x, w, b[0] if b else None, **args), inputs)


def _grads(conv, x, w, b, cotangent, **args):
    for t in (x, w, b):
        t.grad = None
    (conv(x, w, b, **args) * cotangent).sum().backward()
    return x.grad.arr, w.grad.arr, b.grad.arr


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 3), c=st.integers(1, 3), h=st.integers(1, 9), w=st.integers(1, 9),
       o=st.integers(1, 4), kh=st.integers(1, 4), kw=st.integers(1, 4), sh=st.integers(1, 3),
       sw=st.integers(1, 3), ph=st.integers(0, 2), pw=st.integers(0, 2), dh=st.integers(1, 2),
       dw=st.integers(1, 2), seed=st.integers(0, 2**16))
def test_im2col_and_naive_agree_on_random_geometry(n, c, h, w, o, kh, kw, sh, sw, ph, pw, dh, dw, seed):
    if dh * (kh - 1) + 1 > h + 2 * ph or dw * (kw - 1) + 1 > w + 2 * pw:
        return  # an invalid geometry: covered by the error tests
    rng = np.random.default_rng(seed)
    x = t64(rng.standard_normal((n, c, h, w)))
    weight = t64(rng.standard_normal((o, c, kh, kw)))
    bias = t64(rng.standard_normal(o))
    args = dict(stride=(sh, sw), padding=(ph, pw), dilation=(dh, dw))
    fast = F.conv2d(x, weight, bias, **args)
    naive = F.conv2d_naive(x, weight, bias, **args)
    assert fast.shape == naive.shape
    np.testing.assert_allclose(fast.arr, naive.arr, rtol=1e-10, atol=1e-12)
    cotangent = rng.standard_normal(fast.shape)
    for g_fast, g_naive in zip(_grads(F.conv2d, x, weight, bias, cotangent, **args),
                               _grads(F.conv2d_naive, x, weight, bias, cotangent, **args)):
        np.testing.assert_allclose(g_fast, g_naive, rtol=1e-9, atol=1e-11)


def test_output_size_matches_pytorch_formula():
    x = fastgrad.randn(2, 3, 11, 8)
    w = fastgrad.randn(5, 3, 3, 2)
    out = F.conv2d(x, w, stride=(2, 3), padding=(1, 0), dilation=(2, 1))
    assert out.shape == (2, 5, (11 + 2 - 2 * 2 - 1) // 2 + 1, (8 - 1 - 1) // 3 + 1)


def test_float32_stays_float32_and_float64_stays_float64():
    x32, w32, b32 = fastgrad.randn(2, 1, 6, 6), fastgrad.randn(3, 1, 3, 3), fastgrad.randn(3)
    for p in (x32, w32, b32):
        p.requires_grad = True
    out = F.conv2d(x32, w32, b32)
    assert out.dtype == np.float32
    out.sum().backward()
    assert x32.grad.dtype == w32.grad.dtype == b32.grad.dtype == np.float32
    assert F.conv2d(x32.double().detach(), w32.double().detach()).dtype == np.float64
    np.testing.assert_allclose(out.arr, F.conv2d_naive(x32, w32, b32).arr, rtol=1e-5, atol=1e-5)


def test_unbatched_input():
    x = fastgrad.randn(2, 5, 5, dtype=fastgrad.float64, requires_grad=True)
    w = fastgrad.randn(3, 2, 3, 3, dtype=fastgrad.float64, requires_grad=True)
    out = F.conv2d(x, w, padding=1)
    assert out.shape == (3, 5, 5)
    np.testing.assert_allclose(out.arr, F.conv2d(x.unsqueeze(0), w, padding=1).arr[0])
    assert gradcheck(lambda x, w: F.conv2d(x, w, padding=1), [x, w])


def test_non_contiguous_input_is_handled():
    base = fastgrad.randn(2, 6, 6, 3, dtype=fastgrad.float64)
    x = base.permute(0, 3, 1, 2)  # a non-contiguous view
    assert not x.arr.flags.c_contiguous
    w = fastgrad.randn(4, 3, 3, 3, dtype=fastgrad.float64)
    np.testing.assert_allclose(F.conv2d(x, w).arr, F.conv2d_naive(x.contiguous(), w).arr, rtol=1e-10)


@pytest.mark.parametrize("conv", [F.conv2d, F.conv2d_naive])
def test_bad_arguments_raise_clear_errors(conv):
    x = fastgrad.randn(2, 3, 5, 5)
    w = fastgrad.randn(4, 3, 3, 3)
    with pytest.raises(RuntimeError, match=r"expected input\[2, 2, 5, 5\] to have 3 channels, but got 2"):
        conv(fastgrad.randn(2, 2, 5, 5), w)
    with pytest.raises(RuntimeError, match=r"Expected 3D \(unbatched\) or 4D \(batched\) input.*size: \[5, 5\]"):
        conv(fastgrad.randn(5, 5), w)
    with pytest.raises(RuntimeError, match=r"weight must be 4-D.*\(4, 3, 3\)"):
        conv(x, fastgrad.randn(4, 3, 3))
    with pytest.raises(RuntimeError, match=r"padded input size per channel: \(5 x 5\). Kernel size: \(7 x 7\)"):
        conv(x, fastgrad.randn(4, 3, 7, 7))
    with pytest.raises(RuntimeError, match=r"Kernel size: \(7 x 7\)"):
        conv(x, w, dilation=3)  # a dilated 3x3 kernel spans 7 pixels
    # the exception classes are PyTorch's: RuntimeError for bad values, TypeError for types
    with pytest.raises(RuntimeError, match=r"stride should be at least 1, got stride=\(0, 1\)"):
        conv(x, w, stride=(0, 1))
    with pytest.raises(RuntimeError, match=r"negative padding is not supported, got padding=\(-1, -1\)"):
        conv(x, w, padding=-1)
    with pytest.raises(RuntimeError, match="dilation should be at least 1"):
        conv(x, w, dilation=0)
    with pytest.raises(RuntimeError, match=r"stride must be an int or a pair of ints, got \(1, 2, 3\)"):
        conv(x, w, stride=(1, 2, 3))
    with pytest.raises(TypeError, match=r"stride must be an int or a pair of ints, got 1.5"):
        conv(x, w, stride=1.5)
    with pytest.raises(TypeError, match="must be a float tensor.*int64"):
        conv(fastgrad.zeros(2, 3, 5, 5, dtype=fastgrad.int64), w)
    with pytest.raises(RuntimeError, match=r"bias must have shape \(4,\), got \(3,\)"):
        conv(x, w, fastgrad.randn(3))
    with pytest.raises(RuntimeError, match="input dtype float64 and weight dtype float32 differ"):
        conv(x.double(), w)
    with pytest.raises(RuntimeError, match="bias dtype float64 differs from weight dtype float32"):
        conv(x, w, fastgrad.zeros(4, dtype=fastgrad.float64))


def test_dilated_kernel_that_fits_exactly_is_accepted():
    x, w = fastgrad.randn(1, 1, 5, 5), fastgrad.randn(1, 1, 3, 3)
    assert F.conv2d(x, w, dilation=2).shape == (1, 1, 1, 1)


def test_conv2d_module_defaults_and_impls_agree():
    fastgrad.manual_seed(0)
    conv = nn.Conv2d(3, 8, 3, padding=1)
    bound = 1 / np.sqrt(27)
    assert conv.weight.shape == (8, 3, 3, 3) and conv.bias.shape == (8,)
    assert np.abs(conv.weight.arr).max() <= bound and np.abs(conv.bias.arr).max() <= bound
    naive = nn.Conv2d(3, 8, 3, padding=1, impl="naive")
    naive.load_state_dict(conv.state_dict())
    x = fastgrad.randn(2, 3, 6, 6)
    np.testing.assert_allclose(conv(x).arr, naive(x).arr, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="impl must be one of"):
        nn.Conv2d(1, 1, 3, impl="fft")
    assert repr(conv) == "Conv2d(3, 8, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))"


def test_workspace_buffers_are_reused_and_never_shared_by_pending_graphs():
    fastgrad.manual_seed(1)
    conv = nn.Conv2d(2, 3, 3).double()
    x1 = fastgrad.randn(2, 2, 6, 6, dtype=fastgrad.float64, requires_grad=True)
    x2 = fastgrad.randn(2, 2, 6, 6, dtype=fastgrad.float64, requires_grad=True)
    # Two graphs alive at once: the second forward must not overwrite the first's columns.
    y1, y2 = conv(x1), conv(x2)
    c1, c2 = np.random.default_rng(0).standard_normal((2,) + y1.shape)
    (y1 * fastgrad.tensor(c1)).sum().backward()
    grad_w_1 = conv.weight.grad.arr.copy()
    conv.zero_grad()
    y1_ref = F.conv2d_naive(x1, conv.weight, conv.bias)
    (y1_ref * fastgrad.tensor(c1)).sum().backward()
    np.testing.assert_allclose(grad_w_1, conv.weight.grad.arr, rtol=1e-10)
    conv.zero_grad()
    (y2 * fastgrad.tensor(c2)).sum().backward()
    grad_w_2 = conv.weight.grad.arr.copy()
    conv.zero_grad()
    (F.conv2d_naive(x2, conv.weight, conv.bias) * fastgrad.tensor(c2)).sum().backward()
    np.testing.assert_allclose(grad_w_2, conv.weight.grad.arr, rtol=1e-10)
    # After the backward the column buffer went back to the layer's pool and is reused.
    free_before = sum(len(v) for v in conv.workspace._free.values())
    assert free_before >= 1
    def free():
        return sum(len(v) for v in conv.workspace._free.values())

    with fastgrad.no_grad():
        conv(x1)
    assert free() == free_before  # taken and given back: nothing new allocated
    pending = conv(x1)
    held = len(batch_chunks(x1.shape[0]))  # one column buffer per chunk of the batch
    assert free() == free_before - held  # the columns are held by the pending node
    pending.sum().backward()
    assert free() == free_before


def test_a_copied_or_pickled_conv_starts_with_an_empty_workspace():
    # The column buffers are scratch, not state: a saved model must not carry megabytes of them.
    import copy
    import pickle

    fastgrad.manual_seed(6)
    conv = nn.Conv2d(2, 3, 3)
    x = fastgrad.randn(4, 2, 6, 6)
    conv(x).sum().backward()
    assert conv.workspace._free
    for copied in (copy.deepcopy(conv), pickle.loads(pickle.dumps(conv))):
        assert not copied.workspace._free
        np.testing.assert_allclose(copied(x).arr, conv(x).arr, rtol=1e-6)


@pytest.mark.parametrize("per_image_max_entries", [0, 10**6])
@pytest.mark.parametrize("groups", [1, 2])
def test_each_chunk_gets_back_its_own_buffers_step_after_step(groups, per_image_max_entries,
                                                             monkeypatch):
    # Chunk i runs on the same thread at every step: it must get back the column (and dW / dx
    # scratch) buffers that it wrote last, not another chunk's (docs/performance.md, "Cores
    # that share no cache": writing what the other core wrote last costs 3x there).
    from fastgrad.ops import conv as conv_op

    monkeypatch.setattr(conv_op, "_PER_IMAGE_DW_MAX_ENTRIES", per_image_max_entries)
    before = fastgrad.get_num_threads()
    fastgrad.set_num_threads(2)
    try:
        conv = nn.Conv2d(4, 6, 3, groups=groups)
        x = fastgrad.randn(6, 4, 7, 7, requires_grad=True)
        taken = []
        take = conv.workspace.take
        monkeypatch.setattr(conv.workspace, "take",
                            lambda shape, dtype, slot=0: taken.append((slot, take(shape, dtype,
                                                                                  slot)))
                            or taken[-1][1])
        for _ in range(3):
            y = conv(x)
            y.backward(fastgrad.ones(*y.shape))
        assert {slot for slot, _ in taken} == {0, 1}
        owners = {}
        for slot, buffer in taken:
            owners.setdefault(id(buffer), set()).add(slot)
        assert all(len(slots) == 1 for slots in owners.values())
        assert len(owners) < len(taken)  # reused across steps, each by its own chunk
    finally:
        fastgrad.set_num_threads(before)


@pytest.mark.parametrize("per_image_max_entries", [0, 10**6])
def test_a_retained_graph_keeps_its_columns_for_a_second_backward(per_image_max_entries,
                                                                 monkeypatch):
    # After its last backward a conv node lets dcols overwrite its columns; with
    # retain_graph=True that would corrupt the second backward's dW.
    from fastgrad.ops import conv as conv_op

    monkeypatch.setattr(conv_op, "_PER_IMAGE_DW_MAX_ENTRIES", per_image_max_entries)
    fastgrad.manual_seed(3)
    conv = nn.Conv2d(3, 4, 3)
    x = fastgrad.randn(4, 3, 7, 7, requires_grad=True)
    cotangent = fastgrad.randn(4, 4, 5, 5)
    y = conv(x)
    y.backward(cotangent, retain_graph=True)
    first = [x.grad.arr.copy(), conv.weight.grad.arr.copy(), conv.bias.grad.arr.copy()]
    x.grad = None
    conv.zero_grad()
    y.backward(cotangent)  # the last one: may reuse the columns
    second = [x.grad.arr, conv.weight.grad.arr, conv.bias.grad.arr]
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    # and the gradients are right
    x.grad = None
    conv.zero_grad()
    (F.conv2d_naive(x, conv.weight, conv.bias) * cotangent).sum().backward()
    for got, want in zip(second, [x.grad.arr, conv.weight.grad.arr, conv.bias.grad.arr]):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("conv", [F.conv2d, F.conv2d_naive])
@pytest.mark.parametrize("channels", [1, 16])
def test_an_empty_batch_gives_an_empty_output_and_zero_gradients(conv, channels):
    # PyTorch accepts a batch of 0 images (e.g. the last, empty chunk of a split)
    x = fastgrad.zeros(0, channels, 7, 7, requires_grad=True)
    w = fastgrad.randn(4, channels, 3, 3, requires_grad=True)
    b = fastgrad.randn(4, requires_grad=True)
    y = conv(x, w, b, padding=1)
    assert y.shape == (0, 4, 7, 7)
    y.sum().backward()
    assert x.grad.shape == (0, channels, 7, 7)
    np.testing.assert_array_equal(w.grad.arr, 0.0)
    np.testing.assert_array_equal(b.grad.arr, 0.0)
    with pytest.raises(RuntimeError, match="no channels"):
        conv(fastgrad.zeros(2, 0, 7, 7), fastgrad.zeros(4, 0, 3, 3))
