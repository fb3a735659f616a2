"""The losses' contract: gradcheck and gradgradcheck (float64) through ``check_op`` on several
shapes, empty batches included where PyTorch allows them; PyTorch's exception classes and
messages; the modules. (PyTorch's own values and gradients: test_loss_torch_reference.py.)"""
import warnings

import numpy as np
import pytest

import fastgrad
from fastgrad import nn
from fastgrad.nn import functional as F
from fastgrad.testing import check_op

REDUCTIONS = ["mean", "sum", "none"]


@pytest.fixture
def rng():
    return np.random.default_rng(12)


def _probabilities(rng, shape, axis=1):
    p = np.exp(rng.standard_normal(shape))
    return p / p.sum(axis=axis, keepdims=True)


def _f64(values, requires_grad=False):
    return fastgrad.tensor(values, dtype=fastgrad.float64, requires_grad=requires_grad)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(3, 4), (2, 3, 4), (2, 3, 2, 3), (4,), (0, 3), (0, 3, 2)])
def test_cross_entropy_with_probabilities_differentiates_in_input_and_target(rng, shape,
                                                                             reduction):
    weight = _f64(rng.uniform(0.5, 2, shape[0 if len(shape) == 1 else 1]))
    target = _probabilities(rng, shape, axis=0 if len(shape) == 1 else 1)
    check_op(lambda x, t: F.cross_entropy(x, t, weight=weight, reduction=reduction,
                                          label_smoothing=0.1),
             rng.standard_normal(shape), target, name=f"cross_entropy{shape}")


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("loss", [F.cross_entropy, F.nll_loss])
@pytest.mark.parametrize("shape", [(2, 3, 4), (2, 3, 1, 3), (1, 4, 2, 2, 2), (0, 3, 2), (0, 3)])
def test_k_dimensional_class_index_losses_differentiate_twice(rng, loss, shape, reduction):
    target = rng.integers(0, shape[1], (shape[0],) + shape[2:])
    if target.size:
        target.reshape(-1)[0] = -1  # ignored (and a valid class elsewhere)
    weight = _f64(rng.uniform(0.5, 2, shape[1]))
    options = dict(weight=weight, ignore_index=-1, reduction=reduction)
    if loss is F.cross_entropy:
        options["label_smoothing"] = 0.2
    check_op(lambda x: loss(x, fastgrad.tensor(target), **options), rng.standard_normal(shape),
             name=f"{loss.__name__}{shape}")


def test_k_dimensional_losses_are_the_flat_loss_over_positions(rng):
    x = rng.standard_normal((2, 3, 4, 5))
    target = rng.integers(0, 3, (2, 4, 5))
    flat_x = x.transpose(0, 2, 3, 1).reshape(-1, 3)
    for loss in (F.cross_entropy, F.nll_loss):
        per_position = loss(_f64(x), fastgrad.tensor(target), reduction="none")
        flat = loss(_f64(flat_x), fastgrad.tensor(target.reshape(-1)), reduction="none")
        assert per_position.shape == (2, 4, 5)
        np.testing.assert_allclose(per_position.arr.reshape(-1), flat.arr, rtol=1e-12)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape,weight_shape", [((3, 4), (4,)), ((2, 3, 2), (3, 1)), ((5,), ()),
                                                ((0, 3), (3,)), ((), ())])
def test_binary_cross_entropy_differentiates_twice(rng, shape, weight_shape, reduction):
    weight = _f64(rng.uniform(0.5, 2, weight_shape))
    check_op(lambda x, t: F.binary_cross_entropy(x, t, weight=weight, reduction=reduction),
             rng.uniform(0.05, 0.95, shape), rng.uniform(0, 1, shape),
             name=f"binary_cross_entropy{shape}")


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(3, 4), (2, 3, 4), (4,), (0, 4), ()])
def test_binary_cross_entropy_with_logits_differentiates_twice(rng, shape, reduction):
    classes = shape[-1] if shape else 1
    pos_weight = _f64(rng.uniform(0.5, 3, classes)) if shape else None
    weight = _f64(rng.uniform(0.5, 2, shape))
    check_op(lambda x, t: F.binary_cross_entropy_with_logits(x, t, weight=weight,
                                                             reduction=reduction,
                                                             pos_weight=pos_weight),
             3 * rng.standard_normal(shape), rng.uniform(0, 1, shape),
             name=f"binary_cross_entropy_with_logits{shape}")


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("loss,options", [(F.l1_loss, {}), (F.mse_loss, {}),
                                          (F.smooth_l1_loss, {"beta": 0.7}),
                                          (F.smooth_l1_loss, {"beta": 0.0}),
                                          (F.huber_loss, {"delta": 1.4})])
def test_regression_losses_differentiate_twice(rng, loss, options, reduction):
    # differences kept away from the kinks (0 and +-beta), where finite differences straddle
    diff = rng.choice([-1, 1], (3, 4)) * rng.uniform(0.1, 0.6, (3, 4)) * 2.0 ** rng.integers(0, 3, (3, 4))
    target = rng.standard_normal((3, 4))
    fn = lambda x, t: loss(x, t, reduction=reduction, **options)  # noqa: E731
    check_op(fn, target + diff, target, name=loss.__name__,
             extra_shapes=[((0, 4), (0, 4)), ((), ()), ((2, 1, 3), (2, 1, 3))])


def test_regression_losses_broadcast_with_pytorchs_warning(rng):
    x, t = _f64(rng.standard_normal((3, 4))), _f64(rng.standard_normal(4))
    with pytest.warns(UserWarning, match=r"target size \(4,\) that is different to the input size \(3, 4\)"):
        loss = F.l1_loss(x, t, reduction="none")
    np.testing.assert_allclose(loss.arr, np.abs(x.arr - t.arr))


@pytest.mark.parametrize("reduction", ["mean", "batchmean", "sum", "none"])
@pytest.mark.parametrize("log_target", [False, True])
@pytest.mark.parametrize("shape", [(3, 4), (2, 3, 2), (0, 4), ()])
def test_kl_div_differentiates_twice(rng, shape, reduction, log_target):
    input = np.log(rng.uniform(0.1, 1, shape))
    target = rng.uniform(0.1, 1, shape)
    if log_target:
        target = np.log(target)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 'mean' warns that it is not the KL divergence
        check_op(lambda x, t: F.kl_div(x, t, reduction=reduction, log_target=log_target),
                 input, target, name=f"kl_div{shape}")


def test_kl_div_counts_zero_probabilities_as_zero_and_batchmean_is_per_sample():
    q = _f64(np.log([[0.5, 0.5], [0.25, 0.75]]))
    p = _f64([[1.0, 0.0], [0.5, 0.5]])
    expected = np.array([[np.log(2), 0.0], [0.5 * np.log(2), 0.5 * np.log(2 / 3)]])
    np.testing.assert_allclose(F.kl_div(q, p, reduction="none").arr, expected, rtol=1e-12)
    np.testing.assert_allclose(F.kl_div(q, p, reduction="batchmean").arr, expected.sum() / 2)
    # log_target: exp(t) (t - input), nan where t = log 0 = -inf, as PyTorch
    logged = F.kl_div(q, fastgrad.log(p), reduction="none", log_target=True).arr
    assert np.isnan(logged[0, 1])
    np.testing.assert_allclose(np.delete(logged.reshape(-1), 1), np.delete(expected.reshape(-1), 1))
    with pytest.warns(UserWarning, match="'batchmean' divides only by the batch size"):
        F.kl_div(q, p)


def test_binary_cross_entropy_clamps_the_log_at_minus_100():
    x = _f64([0.0, 1.0], requires_grad=True)
    loss = F.binary_cross_entropy(x, _f64([1.0, 0.0]), reduction="none")
    np.testing.assert_array_equal(loss.arr, [100.0, 100.0])
    loss.sum().backward()
    assert np.isfinite(x.grad.arr).all()  # PyTorch's gradient: (x - t) / max(x (1 - x), 1e-12)
    np.testing.assert_allclose(x.grad.arr, [-1e12, 1e12])


def test_binary_cross_entropy_with_logits_is_finite_for_huge_logits():
    x = _f64([1e4, -1e4, 800.0, -800.0], requires_grad=True)
    t = _f64([0.0, 1.0, 1.0, 0.0])
    loss = F.binary_cross_entropy_with_logits(x, t, reduction="none", pos_weight=_f64(2.0))
    np.testing.assert_allclose(loss.arr, [1e4, 2e4, 0.0, 0.0])
    loss.sum().backward()
    np.testing.assert_allclose(x.grad.arr, [1.0, -2.0, 0.0, 0.0])


def test_losses_keep_float32(rng):
    x = fastgrad.tensor(rng.uniform(0.1, 0.9, (3, 4)), dtype=fastgrad.float32)
    t = fastgrad.tensor(rng.uniform(0, 1, (3, 4)), dtype=fastgrad.float32)
    for loss in (F.binary_cross_entropy, F.binary_cross_entropy_with_logits, F.l1_loss,
                 F.smooth_l1_loss, F.huber_loss, F.cross_entropy):
        assert loss(x, t).dtype == fastgrad.float32, loss.__name__
    assert F.kl_div(x, t, reduction="batchmean").dtype == fastgrad.float32


def test_errors_are_pytorchs(rng):
    x = fastgrad.randn(2, 3, 4)
    with pytest.raises(RuntimeError, match=r"Expected target size \[2, 4\], got \[2, 5\]"):
        F.cross_entropy(x, fastgrad.zeros(2, 5, dtype=fastgrad.int64))
    with pytest.raises(RuntimeError, match=r"Expected target size \[2, 4\], got \[2, 5\]"):
        F.nll_loss(x, fastgrad.zeros(2, 5, dtype=fastgrad.int64))
    with pytest.raises(ValueError, match=r"Expected input batch_size \(2\) to match target batch_size \(3\)"):
        F.cross_entropy(x, fastgrad.zeros(3, 4, dtype=fastgrad.int64))
    with pytest.raises(RuntimeError, match="Expected floating point type for target with class probabilities"):
        F.cross_entropy(x, fastgrad.zeros(2, 3, 4, dtype=fastgrad.int64))
    with pytest.raises(RuntimeError, match=r"defined either for all 3 classes or no classes but got weight tensor of shape: \[4\]"):
        F.cross_entropy(x, fastgrad.rand(2, 3, 4), weight=fastgrad.ones(4))
    with pytest.raises(IndexError, match="Target 7 is out of bounds"):
        F.cross_entropy(x, fastgrad.full((2, 4), 7, dtype=fastgrad.int64))
    with pytest.raises(ValueError, match=r"target size \(4,\) that is different to the input size \(3,\) is deprecated"):
        F.binary_cross_entropy(fastgrad.rand(3), fastgrad.rand(4))
    with pytest.raises(RuntimeError, match="all elements of input should be between 0 and 1"):
        F.binary_cross_entropy(fastgrad.tensor([1.5]), fastgrad.rand(1))
    with pytest.raises(ValueError, match=r"Target size \(4,\) must be the same as input size \(3,\)"):
        F.binary_cross_entropy_with_logits(fastgrad.rand(3), fastgrad.rand(4))
    with pytest.raises(RuntimeError, match="smooth_l1_loss does not support negative values for beta"):
        F.smooth_l1_loss(fastgrad.rand(3), fastgrad.rand(3), beta=-1)
    with pytest.raises(RuntimeError, match="huber_loss does not support non-positive values for delta"):
        F.huber_loss(fastgrad.rand(3), fastgrad.rand(3), delta=0)
    with pytest.raises(ValueError, match="bad is not a valid value for reduction"):
        F.kl_div(fastgrad.rand(3), fastgrad.rand(3), reduction="bad")
    with pytest.raises(ValueError, match="batchmean is not a valid value for reduction"):
        F.l1_loss(fastgrad.rand(3), fastgrad.rand(3), reduction="batchmean")
    with pytest.raises(ValueError, match="Weights and input must have the same size"):
        F.l1_loss(fastgrad.rand(3), fastgrad.rand(3), weight=fastgrad.rand(2))


def test_deprecated_size_average_and_reduce_mean_what_they_do_in_pytorch(rng):
    x, t = _f64(rng.standard_normal(5)), _f64(rng.standard_normal(5))
    with pytest.warns(UserWarning, match="reduction='sum' instead"):
        summed = F.l1_loss(x, t, size_average=False)
    np.testing.assert_allclose(summed.arr, np.abs(x.arr - t.arr).sum())
    with pytest.warns(UserWarning, match="reduction='none' instead"):
        assert nn.L1Loss(reduce=False).reduction == "none"


@pytest.mark.parametrize("module,function,options", [
    (nn.L1Loss, F.l1_loss, {"reduction": "sum"}),
    (nn.SmoothL1Loss, F.smooth_l1_loss, {"beta": 0.3}),
    (nn.HuberLoss, F.huber_loss, {"delta": 0.4, "reduction": "none"}),
    (nn.KLDivLoss, F.kl_div, {"reduction": "batchmean", "log_target": True}),
    (nn.BCELoss, F.binary_cross_entropy, {"weight": fastgrad.tensor([1.0, 2.0, 0.5])}),
    (nn.BCEWithLogitsLoss, F.binary_cross_entropy_with_logits,
     {"pos_weight": fastgrad.tensor([1.0, 2.0, 0.5]), "reduction": "sum"}),
    (nn.CrossEntropyLoss, F.cross_entropy, {"label_smoothing": 0.1,
                                            "weight": fastgrad.tensor([1.0, 2.0, 0.5])}),
])
def test_modules_call_their_functions(rng, module, function, options):
    x = fastgrad.tensor(rng.uniform(0.1, 0.9, (4, 3)), requires_grad=True)
    t = fastgrad.tensor(rng.uniform(0.1, 0.9, (4, 3)))
    np.testing.assert_allclose(module(**options)(x, t).arr, function(x, t, **options).arr)
    if "weight" in options or "pos_weight" in options:
        assert len(dict(module(**options).named_buffers())) >= 1  # in state_dict, as PyTorch


def test_module_reprs():
    assert repr(nn.HuberLoss()) == "HuberLoss()"
    assert repr(nn.KLDivLoss(reduction="batchmean")) == "KLDivLoss(reduction='batchmean')"


def test_the_usual_batch_stays_one_fused_node(rng):
    # (N, C) logits and class indices: log-softmax and NLL in one node reading x directly
    # (the training step's path); the other forms go through reshapes or composed ops.
    x = fastgrad.tensor(rng.standard_normal((4, 3)), requires_grad=True)
    loss = F.cross_entropy(x, fastgrad.tensor([0, 2, 1, 2]))
    assert type(loss.grad_fn).__name__ == "CrossEntropyGradFn"
    assert loss.grad_fn.next_edges == (x,)


@pytest.mark.parametrize("loss", [F.binary_cross_entropy, F.binary_cross_entropy_with_logits])
def test_binary_losses_refuse_a_saved_input_changed_in_place(rng, loss):
    x = fastgrad.tensor(rng.uniform(0.1, 0.9, 5), requires_grad=True)
    y = x * 1.0
    out = loss(y, fastgrad.tensor(rng.uniform(0, 1, 5)))
    y.mul_(0.5)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        out.backward()
