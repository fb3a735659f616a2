"""Layers and losses against closed forms and gradcheck."""
import math
import warnings

import numpy as np
import pytest

import fastgrad
from fastgrad import nn
from fastgrad.autograd import gradcheck
from fastgrad.nn import functional as F


def f64(arr, requires_grad=True):
    return fastgrad.tensor(np.asarray(arr, dtype=np.float64), dtype=fastgrad.float64, requires_grad=requires_grad)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def log_softmax_np(x):
    shifted = x - x.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


# ------------------------------------------------------------------------------ Linear
def test_linear_matches_closed_form_and_is_float32(rng):
    layer = nn.Linear(5, 3)
    x = rng.standard_normal((4, 5)).astype(np.float32)
    out = layer(fastgrad.tensor(x))
    assert out.dtype == np.float32 and out.shape == (4, 3)
    np.testing.assert_allclose(out.arr, x @ layer.weight.arr.T + layer.bias.arr, rtol=1e-5, atol=1e-6)


def test_linear_he_initialisation_statistics():
    fastgrad.manual_seed(0)
    layer = nn.Linear(400, 300)
    w = layer.weight.arr
    assert abs(w.mean()) < 0.01
    assert abs(w.std() - math.sqrt(2 / 400)) < 0.02 * math.sqrt(2 / 400)
    assert not layer.bias.arr.any()


@pytest.mark.parametrize("x_shape", [(4, 5), (5,), (2, 3, 5)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_gradcheck(rng, x_shape, bias):
    w = f64(rng.standard_normal((3, 5)))
    b = f64(rng.standard_normal(3)) if bias else None
    x = f64(rng.standard_normal(x_shape))
    inputs = [x, w] + ([b] if bias else [])
    assert gradcheck(lambda x, w, *b: F.linear(x, w, b[0] if b else None), inputs)


def test_linear_shape_errors_name_shapes():
    layer = nn.Linear(5, 3)
    with pytest.raises(RuntimeError, match=r"\(4, 6\).*\(3, 5\)"):
        layer(fastgrad.randn(4, 6))


def test_linear_module_gradients_reach_parameters(rng):
    layer = nn.Linear(3, 2).double()
    x = f64(rng.standard_normal((4, 3)), requires_grad=False)
    c = rng.standard_normal((4, 2))
    (layer(x) * fastgrad.tensor(c, dtype=fastgrad.float64)).sum().backward()
    np.testing.assert_allclose(layer.weight.grad.arr, c.T @ x.arr)
    np.testing.assert_allclose(layer.bias.grad.arr, c.sum(axis=0))


# --------------------------------------------------------------------------- activations
def test_activation_modules_match_numpy(rng):
    x = rng.standard_normal((3, 4)).astype(np.float32)
    t = fastgrad.tensor(x)
    np.testing.assert_allclose(nn.ReLU()(t).arr, np.maximum(x, 0))
    np.testing.assert_allclose(nn.Sigmoid()(t).arr, 1 / (1 + np.exp(-x)), rtol=1e-6)
    np.testing.assert_allclose(nn.Tanh()(t).arr, np.tanh(x), rtol=1e-6)
    np.testing.assert_allclose(nn.Softmax(dim=1)(t).arr, np.exp(log_softmax_np(x)), rtol=1e-5)
    np.testing.assert_allclose(nn.LogSoftmax(dim=1)(t).arr, log_softmax_np(x), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(nn.Flatten()(fastgrad.tensor(x.reshape(3, 2, 2))).arr, x)
    assert nn.Identity()(t) is t


@pytest.mark.parametrize("module", [nn.ReLU(), nn.Sigmoid(), nn.Tanh(), nn.Softmax(dim=0),
                                    nn.LogSoftmax(dim=1), nn.Flatten(0)])
def test_activation_modules_gradcheck(rng, module):
    x = rng.standard_normal((3, 4))
    x[np.abs(x) < 1e-3] = 0.5  # keep ReLU's kink away from the finite-difference step
    assert gradcheck(module, [f64(x)])


# ------------------------------------------------------------------------------ Dropout
def test_dropout_train_scales_and_eval_is_identity():
    fastgrad.manual_seed(0)
    drop = nn.Dropout(0.25)
    x = fastgrad.ones(200, 200)
    y = drop(x).arr
    kept = y != 0
    np.testing.assert_allclose(y[kept], 1 / 0.75)
    assert abs(kept.mean() - 0.75) < 0.01
    drop.eval()
    assert drop(x) is x


def test_dropout_gradient_uses_the_same_mask():
    fastgrad.manual_seed(3)
    x = fastgrad.randn(50, 20, requires_grad=True)
    y = F.dropout(x, 0.5, training=True)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.arr != 0, y.arr != 0)
    np.testing.assert_allclose(x.grad.arr[y.arr != 0], 2.0)


def test_dropout_rejects_bad_probability():
    with pytest.raises(ValueError, match="between 0 and 1, but got 1.5"):
        nn.Dropout(1.5)


# --------------------------------------------------------------------------------- losses
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_matches_closed_form(rng, reduction):
    logits = rng.standard_normal((6, 4)).astype(np.float32)
    target = rng.integers(0, 4, size=6)
    loss = nn.CrossEntropyLoss(reduction=reduction)(fastgrad.tensor(logits), fastgrad.tensor(target))
    per_sample = -log_softmax_np(logits)[np.arange(6), target]
    expected = {"mean": per_sample.mean(), "sum": per_sample.sum(), "none": per_sample}[reduction]
    assert loss.dtype == np.float32
    np.testing.assert_allclose(loss.arr, expected, rtol=1e-5)


def test_cross_entropy_weight_and_ignore_index(rng):
    logits = rng.standard_normal((5, 3))
    target = np.array([0, 2, -100, 1, 2])
    weight = np.array([0.5, 2.0, 1.5])
    loss = F.cross_entropy(f64(logits, False), fastgrad.tensor(target), weight=fastgrad.tensor(weight, dtype=fastgrad.float64))
    valid = target != -100
    w = weight[target[valid]]
    nll = -log_softmax_np(logits)[np.arange(5)[valid], target[valid]]
    np.testing.assert_allclose(loss.arr, (w * nll).sum() / w.sum())


@pytest.mark.parametrize("ignore_index,target", [
    (1, [0, 1, 2, 1, 2]),      # a class index, present: those samples drop out
    (1, [0, 2, 2, 0, 2]),      # a class index between the targets but absent: nothing dropped
    (-100, [0, 1, 2, 1, 2]),   # the default, absent: every sample counts
    (2, [0, 1, 0, 1, 1]),      # above every target
])
def test_cross_entropy_ignore_index_anywhere(rng, ignore_index, target):
    logits = rng.standard_normal((5, 3))
    target = np.array(target)
    loss = F.cross_entropy(f64(logits, False), fastgrad.tensor(target), ignore_index=ignore_index)
    valid = target != ignore_index
    nll = -log_softmax_np(logits)[np.arange(5)[valid], target[valid]]
    np.testing.assert_allclose(loss.arr, nll.mean())


@pytest.mark.parametrize("loss_fn", [F.cross_entropy, F.nll_loss])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_ignored_rows_are_skipped_even_when_not_finite(loss_fn, reduction):
    # A masked -inf logit in an ignored row (PyTorch skips the row: loss and gradient 0).
    scores = np.array([[0.5, 0.2, 0.1], [-np.inf, 0.0, 1.0], [0.3, -0.4, 0.9]])
    target = np.array([1, -100, 2])
    x = f64(scores)
    loss = loss_fn(x, fastgrad.tensor(target), reduction=reduction)
    kept = [0, 2]
    values = log_softmax_np(scores[kept]) if loss_fn is F.cross_entropy else scores[kept]
    per_sample = -values[[0, 1], target[kept]]
    expected = {"mean": per_sample.mean(), "sum": per_sample.sum(),
                "none": np.array([per_sample[0], 0.0, per_sample[1]])}[reduction]
    np.testing.assert_allclose(loss.arr, expected)
    loss.sum().backward() if reduction == "none" else loss.backward()
    assert np.isfinite(x.grad.arr).all()
    np.testing.assert_array_equal(x.grad.arr[1], 0.0)


@pytest.mark.parametrize("loss_fn", [F.cross_entropy, F.nll_loss])
def test_an_all_ignored_batch_has_a_nan_loss_and_a_zero_gradient(loss_fn, rng):
    x = f64(rng.standard_normal((3, 4)))
    loss = loss_fn(x, fastgrad.tensor(np.array([-100, -100, -100])))
    assert np.isnan(loss.item())  # 0 / 0, as PyTorch
    loss.backward()
    np.testing.assert_array_equal(x.grad.arr, 0.0)


def test_cross_entropy_keeps_its_own_copy_of_the_target(rng):
    x = f64(rng.standard_normal((3, 4)))
    target = np.array([0, 3, 1])
    loss = F.cross_entropy(x, fastgrad.Tensor(target))
    target[:] = 2  # changed after the forward: the gradient must not follow
    loss.backward()
    expected = np.exp(log_softmax_np(x.arr))
    expected[np.arange(3), [0, 3, 1]] -= 1
    np.testing.assert_allclose(x.grad.arr, expected / 3)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_gradcheck(rng, reduction, weighted):
    target = fastgrad.tensor([1, 0, 3, 3, -100])
    weight = fastgrad.tensor([1.0, 0.5, 2.0, 3.0], dtype=fastgrad.float64) if weighted else None
    fn = lambda x: F.cross_entropy(x, target, weight=weight, reduction=reduction)  # noqa: E731
    assert gradcheck(fn, [f64(rng.standard_normal((5, 4)))])


def test_cross_entropy_single_sample_gradcheck(rng):
    assert gradcheck(lambda x: F.cross_entropy(x, fastgrad.tensor(2)), [f64(rng.standard_normal(4))])


def test_cross_entropy_is_stable_for_huge_logits():
    logits = fastgrad.tensor([[1e4, 0.0, -1e4], [0.0, 1e4, 1e4]], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss = F.cross_entropy(logits, fastgrad.tensor([0, 2]), reduction="none")
        loss.sum().backward()
    np.testing.assert_allclose(loss.arr, [0.0, math.log(2)], atol=1e-6)
    assert np.isfinite(logits.grad.arr).all()
    np.testing.assert_allclose(logits.grad.arr[1], [0.0, 0.5, -0.5], atol=1e-6)


def test_cross_entropy_bad_targets():
    logits = fastgrad.randn(3, 4)
    with pytest.raises(IndexError, match="Target 4 is out of bounds"):
        F.cross_entropy(logits, fastgrad.tensor([0, 4, 1]))
    with pytest.raises(ValueError, match=r"batch_size \(3\) to match target batch_size \(2\)"):
        F.cross_entropy(logits, fastgrad.tensor([0, 1]))
    with pytest.raises(RuntimeError, match="integer class indices"):
        F.cross_entropy(logits, fastgrad.tensor([0.0, 1.0, 2.0]))
    with pytest.raises(ValueError, match="not a valid value for reduction"):
        nn.CrossEntropyLoss(reduction="avg")
    # PyTorch's classes: a 2-D target is a RuntimeError, a size mismatch a ValueError
    with pytest.raises(RuntimeError, match=r"0D or 1D target tensor expected.*\(3, 1\)"):
        F.cross_entropy(logits, fastgrad.tensor([[0], [1], [2]]))
    with pytest.raises(ValueError, match="For 1D input, 1D target must have size 1, but got target size: 2"):
        F.cross_entropy(fastgrad.randn(4), fastgrad.tensor([0, 1]))


@pytest.mark.parametrize("target", [2, [2]])
def test_a_single_sample_takes_a_0d_or_a_size_1_target(target):
    x = f64([0.1, -0.3, 0.7, 0.2])
    loss = F.cross_entropy(x, fastgrad.tensor(target), reduction="none")
    assert loss.shape == ()
    np.testing.assert_allclose(loss.arr, -log_softmax_np(x.arr[None])[0, 2])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_nll_loss_closed_form_and_gradcheck(rng, reduction):
    logp = log_softmax_np(rng.standard_normal((4, 3)))
    target = np.array([2, 0, 1, 2])
    loss = nn.NLLLoss(reduction=reduction)(f64(logp, False), fastgrad.tensor(target))
    per_sample = -logp[np.arange(4), target]
    expected = {"mean": per_sample.mean(), "sum": per_sample.sum(), "none": per_sample}[reduction]
    np.testing.assert_allclose(loss.arr, expected)
    assert gradcheck(lambda x: F.nll_loss(x, fastgrad.tensor(target), reduction=reduction), [f64(logp)])


def test_cross_entropy_equals_nll_of_log_softmax(rng):
    x = f64(rng.standard_normal((7, 5)), False)
    t = fastgrad.tensor(rng.integers(0, 5, 7))
    np.testing.assert_allclose(F.cross_entropy(x, t).arr, F.nll_loss(F.log_softmax(x, 1), t).arr)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_mse_loss(rng, reduction):
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    loss = nn.MSELoss(reduction=reduction)(f64(a, False), f64(b, False))
    sq = (a - b) ** 2
    np.testing.assert_allclose(loss.arr, {"mean": sq.mean(), "sum": sq.sum(), "none": sq}[reduction])
    assert gradcheck(lambda x, y: F.mse_loss(x, y, reduction=reduction), [f64(a), f64(b)])


# ---------------------------------------------------------------------------------- init
def test_init_functions_statistics():
    fastgrad.manual_seed(0)
    w = nn.Parameter(fastgrad.empty(256, 512))
    nn.init.kaiming_uniform_(w, nonlinearity="relu")
    bound = math.sqrt(6 / 512)
    assert w.arr.max() <= bound and w.arr.min() >= -bound and w.arr.max() > 0.95 * bound
    nn.init.xavier_uniform_(w)
    bound = math.sqrt(6 / (256 + 512))
    assert w.arr.max() <= bound and w.arr.max() > 0.95 * bound
    nn.init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu")
    assert abs(w.arr.std() - math.sqrt(2 / 256)) < 0.02 * math.sqrt(2 / 256)
    nn.init.zeros_(w)
    assert not w.arr.any()
    assert w.is_leaf and w.grad_fn is None and w.dtype == np.float32


def test_init_is_reproducible_with_manual_seed():
    fastgrad.manual_seed(7)
    a = nn.Linear(4, 4).weight.arr.copy()
    fastgrad.manual_seed(7)
    b = nn.Linear(4, 4).weight.arr
    np.testing.assert_array_equal(a, b)


def test_fan_needs_two_dims():
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        nn.init.xavier_uniform_(nn.Parameter(fastgrad.empty(3)))


def test_relu_and_dropout_in_place_as_pytorch():
    assert repr(nn.ReLU()) == "ReLU()" and repr(nn.ReLU(inplace=True)) == "ReLU(inplace=True)"
    assert repr(nn.Dropout(0.2)) == "Dropout(p=0.2, inplace=False)"
    x = fastgrad.tensor([[-1.0, 2.0], [3.0, -4.0]], requires_grad=True)
    h = x * 2
    out = nn.ReLU(inplace=True)(h)
    assert out is h and h.tolist() == [[0.0, 4.0], [6.0, 0.0]]
    (out * fastgrad.tensor([[1.0, 2.0], [3.0, 4.0]])).sum().backward()
    assert x.grad.tolist() == [[0.0, 4.0], [6.0, 0.0]]
    assert F.relu(fastgrad.tensor([-1.0, 1.0]), inplace=False).tolist() == [0.0, 1.0]
    fastgrad.manual_seed(3)
    y = fastgrad.ones(200, requires_grad=True)
    g = y * 1
    dropped = F.dropout(g, 0.5, True, inplace=True)
    assert dropped is g and set(np.unique(g.arr)) <= {0.0, 2.0} and 0 < (g.arr == 0).sum() < 200
    dropped.sum().backward()
    np.testing.assert_array_equal(y.grad.arr, g.arr)  # the kept ones get 1 / (1 - p)
    with pytest.raises(RuntimeError):
        nn.ReLU(inplace=True)(fastgrad.ones(2, requires_grad=True))  # a leaf, as PyTorch


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_label_smoothing_closed_form_and_gradcheck(rng, reduction, weighted):
    logits = rng.standard_normal((5, 4))
    target = np.array([0, 3, -100, 1, 3])
    weight = np.array([0.5, 2.0, 1.0, 1.5]) if weighted else np.ones(4)
    eps = 0.2
    logp = log_softmax_np(logits)
    kept = target != -100
    nll = np.where(kept, -logp[np.arange(5), np.where(kept, target, 0)] * weight[np.where(kept, target, 0)], 0)
    smooth = np.where(kept, -(logp * weight).sum(axis=1), 0)
    per_sample = (1 - eps) * nll + eps / 4 * smooth
    denominator = weight[target[kept]].sum()
    expected = {"mean": per_sample.sum() / denominator, "sum": per_sample.sum(),
                "none": per_sample}[reduction]
    w = fastgrad.tensor(weight, dtype=fastgrad.float64) if weighted else None
    loss = nn.CrossEntropyLoss(weight=w, reduction=reduction, label_smoothing=eps)(
        f64(logits, False), fastgrad.tensor(target))
    np.testing.assert_allclose(loss.arr, expected, rtol=1e-12)
    assert gradcheck(lambda x: F.cross_entropy(x, fastgrad.tensor(target), weight=w,
                                               reduction=reduction, label_smoothing=eps),
                     [f64(logits)])


def test_label_smoothing_must_be_a_probability():
    with pytest.raises(RuntimeError, match="label_smoothing must be between 0.0 and 1.0. Got: 1.5"):
        F.cross_entropy(fastgrad.randn(2, 3), fastgrad.tensor([0, 1]), label_smoothing=1.5)
