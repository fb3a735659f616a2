"""Write tests/fixtures/torch_pointwise.npz: PyTorch's values and gradients for fastgrad's
pointwise math, //, %, fmod, div(rounding_mode) and activations, at ordinary and edge inputs
(0, -0, negatives, +-88, +-1e4, +-inf, NaN); needs PyTorch (``pip install torch==2.13.0``),
which the tests never import.

A case is an expression written against ``torch`` (``lambda x: torch.sin(x)``); the test
evaluates the same text with ``fastgrad`` bound to ``torch`` (the porting promise:
``import fastgrad as torch``). For each case and dtype the file holds the output and the
gradient of each input along a fixed random cotangent (float cases), or the output and its
dtype (integer cases), or the exception class name PyTorch raised.
"""
import json
import os

import numpy as np
import torch

FIXTURE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures",
                       "torch_pointwise.npz")

EDGES = [0.0, -0.0, 0.3, -0.3, 0.5, -0.5, 0.9999, -0.9999, 1.0, -1.0, 1.5, -2.5, 2.5, -3.0,
         3.0, 3.7, -6.5, 20.5, 88.0, -88.0, 1e4, -1e4, float("inf"), float("-inf"), float("nan"),
         1e-8, -1e-8]
# binary ops: a column against a row, so every pair meets (and the gradients unbroadcast)
BINARY_A = [0.0, -0.0, 1.5, -2.5, 7.0, -7.0, 88.0, 1e4, float("inf"), float("nan")]
BINARY_B = [0.0, -0.0, 2.0, -3.0, 0.5, float("inf"), -1e4]

UNARY = ["sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "asinh", "acosh", "atanh",
         "floor", "ceil", "round", "trunc", "frac", "sign", "sgn", "rsqrt", "reciprocal",
         "square", "log2", "log10", "log1p", "exp2", "expm1", "erf", "erfc", "erfinv",
         "nan_to_num", "arcsin", "arccos", "arctan", "arcsinh", "arccosh", "arctanh", "fix"]
UNARY_EXPRESSIONS = [f"lambda x: torch.{name}(x)" for name in UNARY] + [
    "lambda x: x.sin()", "lambda x: x.erfinv()", "lambda x: torch.round(x, decimals=2)",
    "lambda x: torch.round(x, decimals=-1)", "lambda x: torch.nan_to_num(x, nan=1.5, posinf=2.0)",
    "lambda x: torch.lerp(x, torch.zeros_like(x) + 2, 0.3)",
    "lambda x: torch.lerp(x, torch.zeros_like(x) + 2, 0.75)",
]
F = "torch.nn.functional"
ACTIVATIONS = [
    f"lambda x: {F}.gelu(x)", f"lambda x: {F}.gelu(x, approximate='tanh')",
    f"lambda x: {F}.silu(x)", f"lambda x: {F}.elu(x)", f"lambda x: {F}.elu(x, alpha=0.5)",
    f"lambda x: {F}.celu(x)", f"lambda x: {F}.celu(x, alpha=2.0)", f"lambda x: {F}.selu(x)",
    f"lambda x: {F}.leaky_relu(x)", f"lambda x: {F}.leaky_relu(x, 0.2)", f"lambda x: {F}.relu6(x)",
    f"lambda x: {F}.hardtanh(x)", f"lambda x: {F}.hardtanh(x, -2.0, 3.0)",
    f"lambda x: {F}.hardsigmoid(x)", f"lambda x: {F}.hardswish(x)", f"lambda x: {F}.softplus(x)",
    f"lambda x: {F}.softplus(x, beta=2.0, threshold=5.0)", f"lambda x: {F}.mish(x)",
    f"lambda x: {F}.logsigmoid(x)", f"lambda x: {F}.softsign(x)", f"lambda x: {F}.tanhshrink(x)",
    f"lambda x: {F}.glu(x[:26].reshape(13, 2), dim=1)",
    f"lambda x: {F}.softmin(x[:24].reshape(4, 6), dim=1)",
    "lambda x: torch.nn.GELU('tanh')(x)", "lambda x: torch.nn.Softplus(2.0, 3.0)(x)",
    "lambda x: torch.nn.ELU(0.7)(x)", "lambda x: torch.nn.Hardswish()(x)",
    f"lambda x: {F}.relu(x)", "lambda x: torch.relu(x)", "lambda x: torch.nn.ReLU()(x)",
]
BINARY_EXPRESSIONS = [
    "lambda a, b: torch.atan2(a, b)", "lambda a, b: torch.arctan2(a, b)",
    "lambda a, b: torch.copysign(a, b)", "lambda a, b: torch.hypot(a, b)",
    "lambda a, b: torch.logaddexp(a, b)", "lambda a, b: torch.fmod(a, b)",
    "lambda a, b: torch.remainder(a, b)", "lambda a, b: a % b", "lambda a, b: a.remainder(b)",
    "lambda a, b: torch.div(a, b, rounding_mode='trunc')",
    "lambda a, b: torch.div(a, b, rounding_mode='floor')",
    "lambda a, b: torch.lerp(a, b.expand(a.shape[0], -1) * 1, 0.25)",
    "lambda a, b: torch.lerp(a, b.expand(a.shape[0], -1) * 1, torch.sigmoid(b))",
]
NO_GRADIENT = ["lambda a, b: torch.floor_divide(a, b)", "lambda a, b: a // b",
               "lambda a, b: 7.5 // b", "lambda a, b: 7.5 % b", "lambda a, b: 5 % a"]
INTEGER_A = [7, -7, 0, 5, -1, 100, -128]
INTEGER_B = [2, -3, 1, 7, -1]
INTEGER_EXPRESSIONS = [f"lambda x: torch.{n}(x)" for n in (
    "sin", "exp2", "erf", "rsqrt", "reciprocal", "floor", "ceil", "round", "trunc", "sign",
    "sgn", "square", "nan_to_num", "atan", "log1p", "frac")] + [
    f"lambda x: {F}.hardtanh(x)", f"lambda x: {F}.relu6(x)", f"lambda x: {F}.softsign(x)",
    f"lambda x: {F}.relu(x)",
    f"lambda x: {F}.gelu(x)", f"lambda x: {F}.silu(x)", f"lambda x: {F}.elu(x)",
    "lambda x: torch.round(x, decimals=1)", "lambda x: torch.atan2(x, x)",
    "lambda x: torch.hypot(x, x)", "lambda x: torch.hypot(x, 2.5)", "lambda x: torch.copysign(x, -1)",
    "lambda x: torch.logaddexp(x, x)", "lambda x: torch.lerp(x, x, 0.5)",
]
INTEGER_BINARY = [
    "lambda a, b: a // b", "lambda a, b: a % b", "lambda a, b: torch.fmod(a, b)",
    "lambda a, b: torch.remainder(a, b)", "lambda a, b: torch.floor_divide(a, b)",
    "lambda a, b: torch.div(a, b, rounding_mode='trunc')",
    "lambda a, b: torch.div(a, b, rounding_mode='floor')", "lambda a, b: torch.div(a, b)",
    "lambda a, b: a // 2", "lambda a, b: -9 // b", "lambda a, b: a % 2.5", "lambda a, b: a // 0",
    "lambda a, b: a % 0", "lambda a, b: torch.fmod(a, 0)",
    "lambda a, b: torch.div(a, 0, rounding_mode='trunc')", "lambda a, b: a // 0.0",
    "lambda a, b: torch.div(a.bool(), b.bool(), rounding_mode='floor')",
]


def _cotangent(shape, dtype, seed):
    return torch.from_numpy(np.random.default_rng(seed).standard_normal(shape)).to(dtype)


def _record(store, key, fn, inputs, differentiable, seed):
    try:
        out = fn(*inputs)
    except Exception as error:  # noqa: BLE001: the class is what the fixture records
        store[f"{key}|error"] = np.array(type(error).__name__)
        return
    store[f"{key}|out"] = out.detach().numpy(force=True)
    if not differentiable:
        return
    cotangent = _cotangent(out.shape, out.dtype, seed)
    store[f"{key}|cotangent"] = cotangent.numpy()
    out.backward(cotangent)
    for i, t in enumerate(inputs):
        store[f"{key}|grad{i}"] = t.grad.numpy(force=True)


def main():
    store, cases = {}, []
    for dtype in (torch.float32, torch.float64):
        tag = str(dtype).removeprefix("torch.")
        for k, text in enumerate(UNARY_EXPRESSIONS + ACTIVATIONS):
            x = torch.tensor(EDGES, dtype=dtype, requires_grad=True)
            key = f"{text}|{tag}"
            cases.append(key)
            _record(store, key, eval(text), [x], True, k)
        for k, text in enumerate(BINARY_EXPRESSIONS + NO_GRADIENT):
            a = torch.tensor(BINARY_A, dtype=dtype).reshape(-1, 1).requires_grad_(text not in NO_GRADIENT)
            b = torch.tensor(BINARY_B, dtype=dtype).requires_grad_(text not in NO_GRADIENT)
            key = f"{text}|{tag}"
            cases.append(key)
            _record(store, key, eval(text), [a, b], text not in NO_GRADIENT, k)
    for dtype in (torch.int64, torch.int32, torch.uint8, torch.bool):
        tag = str(dtype).removeprefix("torch.")
        values = [abs(v) for v in INTEGER_A] if dtype == torch.uint8 else INTEGER_A
        values = [v != 0 for v in values] if dtype == torch.bool else values
        for text in INTEGER_EXPRESSIONS:
            key = f"{text}|{tag}"
            cases.append(key)
            _record(store, key, eval(text), [torch.tensor(values, dtype=dtype)], False, 0)
        if dtype in (torch.int64, torch.int32):
            for text in INTEGER_BINARY:
                key = f"{text}|{tag}"
                cases.append(key)
                a = torch.tensor(values, dtype=dtype).reshape(-1, 1)
                _record(store, key, eval(text), [a, torch.tensor(INTEGER_B, dtype=dtype)],
                        False, 0)
    store["cases"] = np.array(json.dumps({"cases": cases, "edges": EDGES, "binary_a": BINARY_A,
                                          "binary_b": BINARY_B, "integer_a": INTEGER_A,
                                          "integer_b": INTEGER_B, "torch": torch.__version__}))
    np.savez_compressed(FIXTURE, **store)
    print(f"wrote {len(cases)} cases to {os.path.normpath(FIXTURE)}")


if __name__ == "__main__":
    main()
