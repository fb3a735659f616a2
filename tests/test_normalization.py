"""batch_norm, layer_norm, group_norm, instance_norm and their modules: the op contract
(gradcheck and gradgradcheck in float64, odd, size-1 and empty shapes), one node per call,
buffers and state_dict, train / eval, momentum=None, PyTorch's errors. PyTorch's own numbers:
test_normalization_torch.py; ONNX: test_normalization_onnx.py. (No 0-d case: every layer needs
a channel or normalised dim.)"""
import numpy as np
import pytest

import fastgrad
from fastgrad import nn
from fastgrad.nn import functional as F
from fastgrad.testing import check_op

RNG = np.random.default_rng(0)


def _data(*shape):
    return RNG.standard_normal(shape) * 1.5 + 0.3


def _channels(c):
    return _data(c), _data(c)


_RUNNING = (_data(3), RNG.random(3) + 0.5)


def running(x):
    """Constant running statistics (mean, var) in x's dtype."""
    return [fastgrad.tensor(s, dtype=x.dtype) for s in _RUNNING]


@pytest.mark.parametrize("op, shape, extra", [
    (lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True), (4, 3),
     [((2, 3), (3,), (3,)), ((0, 3), (3,), (3,))]),
    (lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True), (3, 3, 5),
     [((1, 3, 2), (3,), (3,)), ((2, 3, 1, 1), (3,), (3,))]),
    (lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True, eps=0.3), (2, 3, 3, 5), []),
    (lambda x, w, b: F.batch_norm(x, *running(x), w, b), (3, 3, 2, 5), [((0, 3, 2, 1), (3,), (3,))]),
    (lambda x, w, b: F.group_norm(x, 3, w, b), (2, 3, 5), [((1, 3, 1), (3,), (3,))]),
    (lambda x, w, b: F.instance_norm(x, weight=w, bias=b), (2, 3, 3, 5),
     [((1, 3, 2, 1), (3,), (3,)), ((0, 3, 2, 2), (3,), (3,))]),
    (lambda x, w, b: F.instance_norm(x, *running(x), w, b, use_input_stats=False), (2, 3, 5), []),
])
def test_per_channel_layers_keep_the_op_contract(op, shape, extra):
    check_op(op, _data(*shape), *_channels(shape[1]), extra_shapes=extra)


def test_group_norm_groups_of_several_channels_and_empty_batches():
    op = lambda x, w, b: F.group_norm(x, 2, w, b)  # noqa: E731
    check_op(op, _data(3, 6, 2, 3), *_channels(6),
             extra_shapes=[((0, 6, 2), (6,), (6,)), ((1, 6), (6,), (6,))])


@pytest.mark.parametrize("normalized, shape", [((5,), (3, 5)), ((3, 5), (2, 3, 5)),
                                               ((1,), (4, 1)), ((2, 1, 3), (2, 1, 3))])
def test_layer_norm_keeps_the_op_contract(normalized, shape):
    op = lambda x, w, b: F.layer_norm(x, normalized, w, b, eps=1e-3)  # noqa: E731
    check_op(op, _data(*shape), _data(*normalized), _data(*normalized),
             extra_shapes=[((0,) + normalized, normalized, normalized)])


def test_without_weight_or_bias_and_with_a_constant_weight():
    check_op(lambda x: F.layer_norm(x, (4,)), _data(3, 4))
    check_op(lambda x, b: F.group_norm(x, 1, None, b), _data(2, 4, 3), _data(4))
    weight = fastgrad.tensor(_data(3), dtype=fastgrad.float64)
    check_op(lambda x: F.batch_norm(x, None, None, weight.to(x.dtype), None, True), _data(5, 3))


@pytest.mark.parametrize("call", [
    lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
    lambda x, w, b: F.batch_norm(x, *running(x), w, b),
    lambda x, w, b: F.layer_norm(x, (3, 4, 5), w.reshape(3, 1, 1) * fastgrad.ones(3, 4, 5,
                                 dtype=fastgrad.float64), None),
    lambda x, w, b: F.group_norm(x, 3, w, b),
    lambda x, w, b: F.instance_norm(x, weight=w, bias=b),
])
def test_one_node_per_call(call):
    x = fastgrad.tensor(_data(2, 3, 4, 5), dtype=fastgrad.float64, requires_grad=True)
    w = fastgrad.tensor(_data(3), dtype=fastgrad.float64, requires_grad=True)
    b = fastgrad.tensor(_data(3), dtype=fastgrad.float64, requires_grad=True)
    out = call(x, w, b)
    assert type(out.grad_fn).__name__.endswith("NormGradFn")
    x_edge, w_edge, b_edge = out.grad_fn.next_edges
    assert x_edge is x and b_edge in (b, None)  # the leaves themselves: no chain of ops between
    assert w_edge is w or type(w_edge).__name__ == "MulGradFn"  # (layer_norm's broadcast weight)


def test_batch_norm_normalises_with_the_biased_variance_and_tracks_the_unbiased_one():
    x = np.array([[1.0, 10.0], [3.0, 20.0], [8.0, 60.0]])
    mean, var = fastgrad.zeros(2, dtype=fastgrad.float64), fastgrad.ones(2, dtype=fastgrad.float64)
    out = F.batch_norm(fastgrad.from_numpy(x), mean, var, training=True, momentum=0.25, eps=1e-300)
    np.testing.assert_allclose(out.numpy(), (x - x.mean(0)) / x.std(0), rtol=1e-12)
    np.testing.assert_allclose(mean.numpy(), 0.25 * x.mean(0), rtol=1e-12)
    np.testing.assert_allclose(var.numpy(), 0.75 + 0.25 * x.var(0, ddof=1), rtol=1e-12)


def test_float32_statistics_are_accumulated_precisely():
    # a large offset: float32 sums would lose the spread of the values
    x = (RNG.standard_normal((64, 4, 16, 16)) + 1000.0).astype(np.float32)
    out = F.batch_norm(fastgrad.from_numpy(x), None, None, training=True)
    x64 = x.astype(np.float64)
    expected = (x64 - x64.mean((0, 2, 3), keepdims=True)) / np.sqrt(
        x64.var((0, 2, 3), keepdims=True) + 1e-5)
    assert out.dtype == fastgrad.float32
    np.testing.assert_allclose(out.numpy(), expected, atol=2e-3)


def test_cumulative_average_with_momentum_none():
    bn = nn.BatchNorm1d(2, momentum=None).double()
    batches = [_data(4, 2) for _ in range(3)]
    for x in batches:
        bn(fastgrad.from_numpy(x))
    assert bn.num_batches_tracked.item() == 3 and bn.num_batches_tracked.dtype == fastgrad.int64
    np.testing.assert_allclose(bn.running_mean.numpy(), np.mean([x.mean(0) for x in batches], 0))
    np.testing.assert_allclose(bn.running_var.numpy(),
                               np.mean([x.var(0, ddof=1) for x in batches], 0))


def test_eval_uses_the_running_statistics_and_leaves_them_alone():
    bn = nn.BatchNorm2d(3)
    bn(fastgrad.randn(4, 3, 2, 2))
    bn.eval()
    mean, var = bn.running_mean.numpy().copy(), bn.running_var.numpy().copy()
    x = fastgrad.randn(2, 3, 2, 2)
    expected = (x.numpy() - mean[:, None, None]) / np.sqrt(var[:, None, None] + 1e-5)
    np.testing.assert_allclose(bn(x).detach().numpy(), expected, rtol=1e-5, atol=1e-6)
    assert np.array_equal(bn.running_mean.numpy(), mean) and bn.num_batches_tracked.item() == 1
    with pytest.raises(ValueError, match=r"more than 1 value per channel when training"):
        bn.train()(fastgrad.randn(1, 3, 1, 1))
    assert bn.eval()(fastgrad.randn(1, 3, 1, 1)).shape == (1, 3, 1, 1)  # fine in eval


def test_buffers_are_in_the_state_dict_and_load_back():
    bn = nn.BatchNorm2d(3)
    assert list(bn.state_dict()) == ["weight", "bias", "running_mean", "running_var",
                                     "num_batches_tracked"]
    for _ in range(2):
        bn(fastgrad.randn(4, 3, 2, 2))
    other = nn.BatchNorm2d(3)
    other.load_state_dict(bn.state_dict())
    for name, value in bn.state_dict().items():
        assert np.array_equal(other.state_dict()[name].numpy(), value.numpy()), name
    assert other.num_batches_tracked.item() == 2
    assert list(nn.BatchNorm1d(3, track_running_stats=False).state_dict()) == ["weight", "bias"]
    assert list(nn.InstanceNorm2d(3).state_dict()) == []
    assert list(nn.LayerNorm([2, 3], bias=False).state_dict()) == ["weight"]
    assert [p.shape for p in nn.LayerNorm([2, 3]).parameters()] == [(2, 3), (2, 3)]
    bn.reset_running_stats()
    assert bn.num_batches_tracked.item() == 0 and bn.running_var.numpy().tolist() == [1, 1, 1]


def test_without_running_statistics_eval_normalises_with_the_batch():
    bn = nn.BatchNorm1d(2, affine=False, track_running_stats=False).eval()
    out = bn(fastgrad.tensor([[1.0, 2.0], [3.0, 6.0]]))
    np.testing.assert_allclose(out.numpy(), [[-1, -1], [1, 1]], rtol=1e-4)


def test_module_to_double_and_the_defaults_of_each_layer():
    bn = nn.BatchNorm2d(4).double()
    assert bn.running_mean.dtype == fastgrad.float64 and bn.num_batches_tracked.dtype == fastgrad.int64
    assert repr(bn) == ("BatchNorm2d(4, eps=1e-05, momentum=0.1, affine=True, bias=True, "
                        "track_running_stats=True)")
    assert repr(nn.InstanceNorm2d(3)) == ("InstanceNorm2d(3, eps=1e-05, momentum=0.1, "
                                          "affine=False, bias=False, track_running_stats=False)")
    assert repr(nn.LayerNorm(3)) == "LayerNorm((3,), eps=1e-05, elementwise_affine=True, bias=True)"
    assert repr(nn.GroupNorm(2, 4)) == "GroupNorm(2, 4, eps=1e-05, affine=True, bias=True)"
    assert nn.BatchNorm1d(3, dtype=fastgrad.float64).weight.dtype == fastgrad.float64


def test_instance_norm_takes_an_unbatched_image():
    x = fastgrad.randn(3, 4, 5)
    out = nn.InstanceNorm2d(3)(x)
    assert out.shape == (3, 4, 5)
    np.testing.assert_allclose(out.numpy().mean((1, 2)), 0, atol=1e-5)
    np.testing.assert_allclose(out.numpy().var((1, 2)), 1, rtol=1e-3)
    with pytest.warns(UserWarning, match="does not match num_features"):
        nn.InstanceNorm2d(2)(x)


def test_a_changed_weight_makes_the_backward_raise():
    bn = nn.BatchNorm1d(3)
    out = bn(fastgrad.randn(4, 3))
    with fastgrad.no_grad():
        bn.weight.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        out.sum().backward()


def test_output_is_not_the_saved_normalised_input():
    x = fastgrad.tensor(_data(4, 3), dtype=fastgrad.float64, requires_grad=True)
    out = F.layer_norm(x, (3,))
    expected = F.layer_norm(x, (3,))
    cotangent = fastgrad.tensor(_data(4, 3), dtype=fastgrad.float64)
    expected.backward(cotangent)
    want = x.grad.numpy().copy()
    x.grad = None
    with fastgrad.no_grad():
        out.detach().add_(100.0)  # a write into the output's memory (a detached alias)
    out.backward(cotangent)
    np.testing.assert_allclose(x.grad.numpy(), want, rtol=1e-12)


def test_second_derivative_of_a_batch_norm_network():
    # create_graph through the fused node: a gradient penalty's gradient, against finite
    # differences of the first gradient
    x = fastgrad.tensor(_data(5, 3), dtype=fastgrad.float64, requires_grad=True)
    w = fastgrad.tensor(_data(3), dtype=fastgrad.float64, requires_grad=True)

    def penalty(w):
        out = F.batch_norm(x, None, None, w, None, training=True)
        g, = fastgrad.autograd.grad((out ** 3).sum(), x, create_graph=True)
        return (g * g).sum()

    analytic, = fastgrad.autograd.grad(penalty(w), w)
    eps = 1e-6
    numeric = []
    for i in range(3):
        step = np.zeros(3)
        step[i] = eps
        up = penalty(fastgrad.tensor(w.detach().numpy() + step, dtype=fastgrad.float64)).item()
        down = penalty(fastgrad.tensor(w.detach().numpy() - step, dtype=fastgrad.float64)).item()
        numeric.append((up - down) / (2 * eps))
    np.testing.assert_allclose(analytic.numpy(), numeric, rtol=1e-5,
                               atol=1e-8 * np.abs(numeric).max())


@pytest.mark.parametrize("call, error, message", [
    (lambda: nn.BatchNorm1d(3)(fastgrad.randn(1, 3)), ValueError,
     r"Expected more than 1 value per channel when training, got input size \(1, 3\)"),
    (lambda: nn.BatchNorm1d(3)(fastgrad.randn(2, 3, 4, 5)), ValueError, r"expected 2D or 3D input \(got 4D"),
    (lambda: nn.BatchNorm2d(3)(fastgrad.randn(2, 3, 4)), ValueError, r"expected 4D input \(got 3D"),
    (lambda: F.batch_norm(fastgrad.randn(4, 3), None, None), RuntimeError,
     "running_mean must be defined in evaluation mode"),
    (lambda: F.batch_norm(fastgrad.randn(4, 3), fastgrad.zeros(4), fastgrad.ones(4), training=True),
     RuntimeError, "running_mean should contain 3 elements not 4"),
    (lambda: F.batch_norm(fastgrad.randn(4, 3), None, None, fastgrad.ones(2), training=True),
     RuntimeError, "weight should contain 3 elements not 2"),
    (lambda: F.batch_norm(fastgrad.randn(4, 3), None, None, training=True, eps=0.0), ValueError,
     "eps must be positive during training, but got 0.0"),
    (lambda: F.batch_norm(fastgrad.ones(4, 3, dtype=fastgrad.int64), None, None, training=True),
     NotImplementedError, '"batch_norm" not implemented for dtype int64'),
    (lambda: F.batch_norm(fastgrad.randn(4, 3), None, None, fastgrad.ones(3, dtype=fastgrad.float64),
                          training=True), RuntimeError, "mixed dtype"),
    (lambda: F.layer_norm(fastgrad.randn(2, 4), [3]), RuntimeError,
     r"Given normalized_shape=\[3\], expected input with shape \[\*, 3\], but got input of size\[2, 4\]"),
    (lambda: F.layer_norm(fastgrad.randn(2, 4), [4], fastgrad.ones(3)), RuntimeError,
     r"weight of shape \[3\] and normalized_shape = \[4\]"),
    (lambda: F.layer_norm(fastgrad.randn(2, 4), []), RuntimeError, "at least 1-dimensional"),
    (lambda: F.group_norm(fastgrad.randn(2, 5, 3), 2), RuntimeError,
     r"divisible by num_groups, but got input of shape \[2, 5, 3\] and num_groups=2"),
    (lambda: F.group_norm(fastgrad.randn(5), 1), RuntimeError,
     "Expected at least 2 dimensions for input tensor but received 1"),
    (lambda: F.group_norm(fastgrad.randn(2, 4), 2, fastgrad.ones(3)), RuntimeError,
     r"weight of shape \[3\] and input of shape \[2, 4\]"),
    (lambda: nn.GroupNorm(2, 5), ValueError, r"num_channels \(5\) must be divisible by num_groups \(2\)"),
    (lambda: F.instance_norm(fastgrad.randn(2, 3, 1, 1)), ValueError,
     r"Expected more than 1 spatial element when training, got input size \(2, 3, 1, 1\)"),
    (lambda: nn.InstanceNorm2d(3)(fastgrad.randn(3, 4)), ValueError, r"expected 3D or 4D input \(got 2D"),
    (lambda: nn.InstanceNorm2d(3, affine=True)(fastgrad.randn(1, 2, 4, 4)), ValueError,
     r"size at dim=1 to match num_features \(3\), but got: 2"),
    (lambda: F.instance_norm(fastgrad.randn(2, 3, 4), use_input_stats=False), RuntimeError,
     "running_mean and running_var to be defined"),
])
def test_pytorch_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()
