"""Pointwise math, //, %, fmod, div(rounding_mode) and the activations against PyTorch's own
values and gradients (tests/fixtures/torch_pointwise.npz, written by
scripts/make_torch_pointwise.py), at ordinary and edge inputs: 0, -0, +-88, +-1e4, +-inf,
NaN, in float32 and float64, and PyTorch's dtypes and exceptions for integer input.

Each case is the expression PyTorch ran, evaluated here with fastgrad bound to ``torch``.
"""
import json
import pathlib
import warnings

import numpy as np
import pytest

import fastgrad

FIXTURE = pathlib.Path(__file__).parent / "fixtures" / "torch_pointwise.npz"
DATA = np.load(FIXTURE)
META = json.loads(str(DATA["cases"]))
CASES = META["cases"]
# float64 agrees to rounding; float32 results that fastgrad computes in float64 and rounds
# (erf, erfinv) or PyTorch in a different order (gelu's tanh form) differ in the last bits
TOLERANCE = {"float32": dict(rtol=2e-6, atol=1e-6), "float64": dict(rtol=1e-12, atol=1e-14)}
# gradients at the edges of a domain (1 / sqrt(1 - x^2) at x = 0.9999) amplify one ulp
GRAD_TOLERANCE = {"float32": dict(rtol=5e-5, atol=1e-6), "float64": dict(rtol=1e-9, atol=1e-14)}


# Where fastgrad is knowingly more exact than PyTorch: (case, dtype) -> why. There, only the
# elements at finite inputs are compared, to the looser LOOSE tolerance.
MORE_EXACT = {
    ("lambda x: torch.nn.functional.gelu(x)", "float32"):
        "PyTorch's float32 gelu cancels in 1 + erf(x / sqrt 2) for x << 0 (-3: 1e-4 off) and "
        "is NaN at +inf; fastgrad computes erf in float64 and gives gelu(inf) = inf",
    ("lambda x: torch.nn.functional.softsign(x)", "float32"):
        "PyTorch's softsign is a composite whose gradient at +-inf is inf / inf = NaN; "
        "fastgrad gives the limit 0",
    ("lambda x: torch.nn.functional.softsign(x)", "float64"): "as float32",
    ("lambda x: torch.nn.functional.hardsigmoid(x)", "float64"):
        "PyTorch's hardsigmoid backward multiplies by 1/6 rounded to float32 (1.0f / 6.0f)",
}
LOOSE = dict(rtol=2e-4, atol=1e-6)
# Ops composed of other fastgrad ops: their backward runs the arithmetic nodes, which let
# NumPy's warnings about inf - inf through (outside this file's ops); the forward may not.
COMPOSITES = ("lerp", "glu", "softmin")


def _compare(actual, expected, inputs, looser, **tolerance):
    if looser:
        finite = np.isfinite(np.broadcast_to(inputs, expected.shape)) if inputs is not None \
            else np.ones(expected.shape, bool)
        actual, expected, tolerance = actual[finite], expected[finite], LOOSE
    np.testing.assert_allclose(actual, expected, equal_nan=True, **tolerance)


def _inputs(text, dtype):
    if dtype in ("float32", "float64"):
        if text.startswith("lambda a, b"):
            a = np.array(META["binary_a"], dtype=dtype).reshape(-1, 1)
            b = np.array(META["binary_b"], dtype=dtype)
            return [a, b]
        return [np.array(META["edges"], dtype=dtype)]
    values = META["integer_a"]
    if dtype == "uint8":
        values = [abs(v) for v in values]
    if dtype == "bool":
        values = [v != 0 for v in values]
    if text.startswith("lambda a, b"):
        return [np.array(values, dtype=dtype).reshape(-1, 1), np.array(META["integer_b"], dtype=dtype)]
    return [np.array(values, dtype=dtype)]


def _error_class(name):
    return {"RuntimeError": RuntimeError, "NotImplementedError": NotImplementedError,
            "ValueError": ValueError, "TypeError": TypeError}[name]


@pytest.mark.parametrize("case", CASES)
def test_matches_pytorch(case):
    text, dtype = case.rsplit("|", 1)
    fn = eval(text, {"torch": fastgrad})
    differentiable = f"{case}|grad0" in DATA
    inputs = [fastgrad.tensor(a, dtype=getattr(fastgrad, dtype), requires_grad=differentiable)
              for a in _inputs(text, dtype)]
    if f"{case}|error" in DATA:
        with pytest.raises(_error_class(str(DATA[f"{case}|error"]))):
            fn(*inputs)
        return
    looser = (text, dtype) in MORE_EXACT
    elementwise_input = inputs[0].arr if len(inputs) == 1 and "[" not in text else None
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # PyTorch warns of no overflow: neither may fastgrad
        out = fn(*inputs)
    expected = DATA[f"{case}|out"]
    assert out.dtype == expected.dtype, (out.dtype, expected.dtype)
    assert out.shape == expected.shape
    if expected.dtype.kind == "f":
        _compare(out.arr, expected, elementwise_input, looser, **TOLERANCE[expected.dtype.name])
        # the sign of a zero too (floor(-0.3) is -0.0; round(-0.3) is -0.0)
        zeros = expected == 0
        np.testing.assert_array_equal(np.signbit(out.arr[zeros]), np.signbit(expected[zeros]))
    else:
        np.testing.assert_array_equal(out.arr, expected)
    if not differentiable:
        return
    with warnings.catch_warnings():
        composite = any(name in text for name in COMPOSITES)
        warnings.simplefilter("ignore" if composite else "error")
        out.backward(fastgrad.from_numpy(DATA[f"{case}|cotangent"]))
    for i, x in enumerate(inputs):
        _compare(x.grad.arr, DATA[f"{case}|grad{i}"], elementwise_input, looser,
                 **GRAD_TOLERANCE[dtype])


def test_the_exceptions_are_real_deviations():
    # each MORE_EXACT entry fails the strict comparison (else it should be removed)
    for (text, dtype) in MORE_EXACT:
        case = f"{text}|{dtype}"
        x = fastgrad.tensor(_inputs(text, dtype)[0], dtype=getattr(fastgrad, dtype),
                            requires_grad=True)
        out = eval(text, {"torch": fastgrad})(x)
        out.backward(fastgrad.from_numpy(DATA[f"{case}|cotangent"]))
        with pytest.raises(AssertionError):
            np.testing.assert_allclose(out.arr, DATA[f"{case}|out"], equal_nan=True,
                                       **TOLERANCE[dtype])
            np.testing.assert_allclose(x.grad.arr, DATA[f"{case}|grad0"], equal_nan=True,
                                       **GRAD_TOLERANCE[dtype])


def test_floor_divide_has_no_derivative_as_in_pytorch():
    a = fastgrad.tensor([7.5, -2.0], requires_grad=True)
    out = a // 2
    assert out.requires_grad
    with pytest.raises(RuntimeError, match="derivative for 'floor_divide' is not implemented"):
        out.sum().backward()


def test_the_fixture_covers_every_op_of_the_task():
    texts = " ".join(CASES)
    for name in ["sin", "cos", "tan", "asin", "acos", "atan", "atan2", "sinh", "cosh", "asinh",
                 "acosh", "atanh", "floor", "ceil", "round", "trunc", "frac", "sign", "sgn",
                 "copysign", "rsqrt", "reciprocal", "square", "log2", "log10", "log1p", "exp2",
                 "expm1", "erf", "erfc", "erfinv", "lerp", "logaddexp", "hypot", "fmod",
                 "remainder", "nan_to_num", "floor_divide", "//", "%", "rounding_mode='trunc'",
                 "rounding_mode='floor'", "gelu", "approximate='tanh'", "silu", "elu", "celu",
                 "selu", "leaky_relu", "relu6", "hardtanh", "hardsigmoid", "hardswish",
                 "softplus", "mish", "logsigmoid", "softsign", "tanhshrink", "glu", "softmin"]:
        assert name in texts, name
