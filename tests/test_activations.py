"""Activations (nn.functional and nn modules): the op contract (gradcheck and gradgradcheck in
float64) on several shapes, stability at extreme inputs in float32 and float64 (no warning,
no NaN, no overflow), inplace=, module reprs and PyTorch's errors. (PyTorch's own values and
gradients: test_pointwise_torch.py.)"""
import warnings

import numpy as np
import pytest

import fastgrad
from fastgrad import nn
from fastgrad.nn import functional as F
from fastgrad.testing import check_op

RNG = np.random.default_rng(1)
# values at least 0.1 from every kink (0, +-1, +-3, 6 and their neighbours in the ops below)
VALUES = np.array([-7.3, -3.6, -2.4, -1.5, -0.6, -0.2, 0.2, 0.45, 0.7, 1.6, 2.7, 3.5, 5.2, 6.8,
                   -0.85, 2.2]).reshape(4, 4)
SHAPES_1 = [((),), ((0, 4),), ((1,),), ((2, 1, 3),)]

ACTIVATIONS = {
    "gelu": F.gelu, "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"), "silu": F.silu,
    "elu": F.elu, "elu_alpha": lambda x: F.elu(x, alpha=0.5), "celu": lambda x: F.celu(x, 1.7),
    "selu": F.selu, "leaky_relu": lambda x: F.leaky_relu(x, 0.2), "relu6": F.relu6,
    "hardtanh": lambda x: F.hardtanh(x, -2.0, 2.5), "hardsigmoid": F.hardsigmoid,
    "hardswish": F.hardswish, "softplus": F.softplus,
    "softplus_beta": lambda x: F.softplus(x, beta=2.0, threshold=3.0), "mish": F.mish,
    "logsigmoid": F.logsigmoid, "softsign": F.softsign, "tanhshrink": F.tanhshrink,
}
EXTREMES = [-1e4, -88.0, -20.0, -0.0, 0.0, 20.0, 88.0, 1e4]


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_op_contract(name):
    values = VALUES
    if name == "softplus_beta":  # the threshold is a kink at beta x = 3
        values = np.where(np.abs(VALUES * 2 - 3) < 0.2, VALUES + 0.3, VALUES)
    check_op(ACTIVATIONS[name], values, name=name, extra_shapes=SHAPES_1)


def test_glu_and_softmin_contract():
    check_op(lambda x: F.glu(x, dim=1), RNG.standard_normal((3, 4)), name="glu",
             extra_shapes=[((0, 4),), ((2, 2, 2),)])
    check_op(lambda x: F.glu(x), RNG.standard_normal((3, 2)), name="glu last dim")
    check_op(lambda x: F.softmin(x, dim=1), RNG.standard_normal((3, 4)), name="softmin",
             extra_shapes=[((0, 4),), ((1, 1),)])


@pytest.mark.parametrize("dtype", [fastgrad.float32, fastgrad.float64])
@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_stable_at_extreme_inputs(name, dtype):
    x = fastgrad.tensor(EXTREMES, dtype=dtype, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = ACTIVATIONS[name](x)
        out.backward(fastgrad.ones_like(out))
    assert out.dtype == dtype and x.grad.dtype == dtype
    assert np.isfinite(out.arr).all(), out
    assert np.isfinite(x.grad.arr).all(), x.grad
    # the tails: linear (slope 1 or 0, or the negative slope) or saturated, as the formulas say
    reference = {"gelu": (0.0, 1e4), "silu": (0.0, 1e4), "softplus": (0.0, 1e4),
                 "mish": (0.0, 1e4), "relu6": (0.0, 6.0), "hardswish": (0.0, 1e4),
                 "logsigmoid": (-1e4, 0.0), "hardsigmoid": (0.0, 1.0)}
    if name in reference:
        low, high = reference[name]
        np.testing.assert_allclose(out.arr[[0, -1]], [low, high], rtol=1e-6, atol=1e-30)


def test_inplace_variants_overwrite_and_record():
    for name, op in [("silu", F.silu), ("elu", F.elu), ("celu", F.celu), ("selu", F.selu),
                     ("leaky_relu", F.leaky_relu), ("relu6", F.relu6), ("hardtanh", F.hardtanh),
                     ("hardsigmoid", F.hardsigmoid), ("hardswish", F.hardswish), ("mish", F.mish)]:
        w = fastgrad.tensor(VALUES, dtype=fastgrad.float64, requires_grad=True)
        x = w * 1
        expected = op(x)
        result = op(x, inplace=True)
        assert result is x, name
        np.testing.assert_array_equal(x.arr, expected.arr, err_msg=name)
        x.backward(fastgrad.ones_like(x))
        w2 = fastgrad.tensor(VALUES, dtype=fastgrad.float64, requires_grad=True)
        op(w2 * 1).backward(fastgrad.ones_like(x))
        np.testing.assert_allclose(w.grad.arr, w2.grad.arr, err_msg=name)


def test_modules_call_the_functions_and_print_as_pytorch():
    x = fastgrad.tensor(VALUES, dtype=fastgrad.float64)
    cases = [(nn.GELU(), F.gelu(x), "GELU(approximate='none')"),
             (nn.GELU("tanh"), F.gelu(x, approximate="tanh"), "GELU(approximate='tanh')"),
             (nn.SiLU(), F.silu(x), "SiLU()"), (nn.ELU(0.5), F.elu(x, 0.5), "ELU(alpha=0.5)"),
             (nn.CELU(2.0), F.celu(x, 2.0), "CELU(alpha=2.0)"), (nn.SELU(), F.selu(x), "SELU()"),
             (nn.LeakyReLU(0.2), F.leaky_relu(x, 0.2), "LeakyReLU(negative_slope=0.2)"),
             (nn.ReLU6(), F.relu6(x), "ReLU6()"),
             (nn.Hardtanh(-2.0, 3.0), F.hardtanh(x, -2.0, 3.0), "Hardtanh(min_val=-2.0, max_val=3.0)"),
             (nn.Hardsigmoid(), F.hardsigmoid(x), "Hardsigmoid()"),
             (nn.Hardswish(), F.hardswish(x), "Hardswish()"),
             (nn.Softplus(2.0, 5.0), F.softplus(x, 2.0, 5.0), "Softplus(beta=2.0, threshold=5.0)"),
             (nn.Mish(), F.mish(x), "Mish()"), (nn.LogSigmoid(), F.logsigmoid(x), "LogSigmoid()"),
             (nn.Softsign(), F.softsign(x), "Softsign()"), (nn.Tanhshrink(), F.tanhshrink(x), "Tanhshrink()"),
             (nn.GLU(0), F.glu(x, 0), "GLU(dim=0)"), (nn.Softmin(1), F.softmin(x, 1), "Softmin(dim=1)"),
             (nn.ELU(inplace=True), F.elu(x), "ELU(alpha=1.0, inplace=True)"),
             (nn.LeakyReLU(inplace=True), F.leaky_relu(x), "LeakyReLU(negative_slope=0.01, inplace=True)")]
    for module, expected, text in cases:
        assert repr(module) == text
        np.testing.assert_array_equal(module(x.clone()).arr, expected.arr, err_msg=text)


def test_formulas_against_numpy():
    x = np.linspace(-5, 5, 41)
    t = fastgrad.tensor(x, dtype=fastgrad.float64)
    from math import erfc

    phi = 0.5 * np.vectorize(erfc)(-x / np.sqrt(2))  # the normal CDF, exact also for x << 0
    np.testing.assert_allclose(F.gelu(t).arr, x * phi, rtol=1e-14, atol=1e-300)
    np.testing.assert_allclose(F.gelu(t, approximate="tanh").arr, 0.5 * x * (1 + np.tanh(
        np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3))), rtol=1e-14)
    np.testing.assert_allclose(F.silu(t).arr, x / (1 + np.exp(-x)), rtol=1e-14)
    np.testing.assert_allclose(F.mish(t).arr, x * np.tanh(np.log1p(np.exp(x))), rtol=1e-13)
    np.testing.assert_allclose(F.selu(t).arr, 1.0507009873554805 * np.where(
        x > 0, x, 1.6732632423543772 * np.expm1(x)), rtol=1e-14)
    np.testing.assert_allclose(F.celu(t, 2.0).arr, np.where(x > 0, x, 2 * np.expm1(x / 2)))
    np.testing.assert_allclose(F.hardswish(t).arr, x * np.clip(x + 3, 0, 6) / 6)
    np.testing.assert_allclose(F.logsigmoid(t).arr, -np.log1p(np.exp(-x)), rtol=1e-14)
    np.testing.assert_allclose(F.softplus(t, 2.0, 3.0).arr,
                               np.where(2 * x > 3, x, np.log1p(np.exp(2 * x)) / 2), rtol=1e-14)


def test_bad_arguments_raise_pytorch_errors():
    x = fastgrad.randn(2, 3)
    with pytest.raises(RuntimeError, match="Halving dimension must be even, but dimension 1 is size 3"):
        F.glu(x, 1)
    with pytest.raises(RuntimeError, match="approximate argument must be either none or tanh"):
        F.gelu(x, approximate="erf")
    with pytest.raises(ValueError, match="min_val cannot be greater than max_val"):
        F.hardtanh(x, 2.0, 1.0)
    with pytest.raises(ValueError, match="min_val cannot be greater than max_val"):
        nn.Hardtanh(2.0, 1.0)
    with pytest.raises(NotImplementedError, match="gelu"):
        F.gelu(fastgrad.tensor([1, 2]))
    with pytest.raises(IndexError, match="Dimension out of range"):
        F.glu(x, 2)
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        F.celu(x, alpha=0.0)
    assert F.hardtanh(fastgrad.tensor([3, -3]), -2, 2).tolist() == [2, -2]  # ints stay ints
