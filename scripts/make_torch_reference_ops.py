"""Write tests/fixtures/torch_nondiff_ops.json: PyTorch's results for fastgrad's ops without a
gradient (bitwise and logical ops, predicates, nonzero / sort / search / counting ops, the
creation functions); needs PyTorch (``pip install torch==2.13.0``), which the tests never
import.

Each case is one expression written against ``torch``; the test evaluates the same text with
``fastgrad`` bound to the name ``torch`` (the porting promise: ``import fastgrad as torch``),
so the two sides cannot drift apart. A case stores PyTorch's result (values, dtype, shape; a
tuple of them; or a Python scalar) or the class of the exception PyTorch raised.
"""
import json
import math
import os
import sys

import torch

FIXTURE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures",
                       "torch_nondiff_ops.json")

INT_DTYPES = ("bool", "uint8", "int8", "int16", "int32", "int64")

# The names fastgrad adds for these ops: the fixture records which are Tensor methods in PyTorch.
NAMES = ("isinf", "isnan", "isfinite", "isposinf", "isneginf", "isclose", "allclose", "equal",
         "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_left_shift", "bitwise_right_shift",
         "logical_and", "logical_or", "logical_xor", "logical_not", "nonzero", "argwhere", "where",
         "count_nonzero", "all", "any", "argsort", "searchsorted", "bincount", "histc", "unique",
         "linspace", "logspace", "tril_indices", "triu_indices", "full_like", "zeros_like",
         "ones_like", "empty_like", "rand_like", "randn_like")
OPERATORS = ("__and__", "__or__", "__xor__", "__lshift__", "__rshift__", "__rand__", "__ror__",
             "__rxor__", "__rlshift__", "__rrshift__", "__iand__", "__ior__", "__ixor__",
             "__ilshift__", "__irshift__", "bitwise_and_", "bitwise_or_", "bitwise_xor_",
             "bitwise_left_shift_", "bitwise_right_shift_", "logical_and_", "logical_or_",
             "logical_xor_")


def _bitwise_cases():
    """Every pair of bool / integer dtypes, both ways, as tensors, 0-d tensors and scalars."""
    cases = []
    for op in ("bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_left_shift",
               "bitwise_right_shift", "logical_and", "logical_or", "logical_xor"):
        for a in INT_DTYPES + ("float32",):
            for b in INT_DTYPES + ("float32", "float64"):
                x = f"torch.tensor([0, 1, 1, 3], dtype=torch.{a})"
                y = f"torch.tensor([1, 1, 0, 2], dtype=torch.{b})"
                cases.append(f"torch.{op}({x}, {y})")
                cases.append(f"torch.{op}({x}, torch.tensor(1, dtype=torch.{b}))")
            for scalar in ("1", "True", "300", "2.5"):
                if op.startswith("logical"):
                    continue  # PyTorch's logical ops take no Python scalar
                cases.append(f"torch.{op}(torch.tensor([0, 1, 1, 3], dtype=torch.{a}), {scalar})")
    for expr in ("x & y", "x | y", "x ^ y", "x << y", "x >> y",
                 "3 & x", "3 | x", "3 ^ x", "3 << x", "64 >> x", "True & x"):
        for a in ("int8", "int32", "int64", "uint8", "bool"):
            first = 248 if a == "uint8" else -8  # fastgrad.tensor refuses -8 as uint8
            x = f"torch.tensor([{first}, 1, 7, 5, 100], dtype=torch.{a})"
            y = "torch.tensor([1, 0, 2, 40, 70], dtype=torch.int32)"
            cases.append(f"(lambda x, y: {expr})({x}, {y})")
    # shifts past the width, by negative amounts, of negative numbers
    for a in ("int8", "int16", "int32", "int64"):
        cases.append(f"torch.tensor([-5, 1, 3, -128, 7, 9], dtype=torch.{a}) << "
                     f"torch.tensor([0, 7, 8, 1, 64, -1], dtype=torch.{a})")
        cases.append(f"torch.tensor([-5, 1, 3, -128, 7, -9], dtype=torch.{a}) >> "
                     f"torch.tensor([0, 7, 8, 1, 64, -1], dtype=torch.{a})")
    cases.append("torch.tensor([251, 1, 3, 128, 7, 9], dtype=torch.uint8) << "
                 "torch.tensor([0, 7, 8, 1, 64, 255], dtype=torch.uint8)")
    cases.append("torch.tensor([251, 1, 3, 128, 7, 247], dtype=torch.uint8) >> "
                 "torch.tensor([0, 7, 8, 1, 64, 255], dtype=torch.uint8)")
    for inplace in ("x &= y", "x |= y", "x ^= y", "x <<= y", "x >>= y"):
        for a, b in (("int8", "int64"), ("bool", "bool"), ("bool", "int64"), ("int32", "float32")):
            cases.append(f"(lambda x, y: [exec('{inplace}', {{}}, dict(x=x, y=y)), x][1])("
                         f"torch.tensor([1, 2, 3], dtype=torch.{a}), "
                         f"torch.tensor([1, 1, 0], dtype=torch.{b}))")
    for name in ("bitwise_and_", "bitwise_or_", "bitwise_xor_", "bitwise_left_shift_",
                 "bitwise_right_shift_", "logical_and_", "logical_or_", "logical_xor_"):
        cases.append(f"torch.tensor([1., 0, 2]).{name}(torch.tensor([1, 1, 0]))")
        cases.append(f"torch.tensor([5, 0, 2]).{name}(torch.tensor([1, 1, 0]))")
    return cases


def _predicate_cases():
    special = "torch.tensor([0., -0., 1.5, float('inf'), -float('inf'), float('nan')])"
    cases = [f"torch.{p}({special})" for p in ("isinf", "isnan", "isfinite", "isposinf",
                                                "isneginf")]
    cases += [f"torch.{p}(torch.tensor([0, 3, 2], dtype=torch.{d}))"
              for p in ("isinf", "isnan", "isfinite", "isposinf", "isneginf")
              for d in ("int64", "uint8", "bool", "float64")]
    a = "torch.tensor([1., 1e-9, 100., float('inf'), -float('inf'), float('nan'), 1., 0.])"
    b = "torch.tensor([1.00001, 0., 100.01, float('inf'), float('inf'), float('nan'), 1.1, 1e-8])"
    for kwargs in ("", "rtol=0.", "atol=0.", "rtol=0., atol=0.", "equal_nan=True",
                   "rtol=1e-3", "atol=0.2, equal_nan=True"):
        cases.append(f"torch.isclose({a}, {b}, {kwargs})")
        cases.append(f"torch.allclose({a}, {b}, {kwargs})")
    cases += [
        "torch.isclose(torch.tensor([1, 2, 5]), torch.tensor([1, 3, 7]), atol=1)",
        "torch.isclose(torch.tensor([1, 2, 5]), torch.tensor([1, 3, 7]), rtol=0.5)",
        "torch.isclose(torch.tensor([1, 2]), torch.tensor([1., 2.]))",
        "torch.isclose(torch.tensor([1., 2.]), torch.tensor([1., 2.], dtype=torch.float64))",
        "torch.isclose(torch.tensor([1., 2.]), torch.tensor([1., 2.]), rtol=-1.)",
        "torch.isclose(torch.tensor([1., 2.]), torch.tensor([1., 2.]), atol=-1.)",
        "torch.isclose(torch.tensor([[1., 2.]]), torch.tensor([[1.], [2.]]))",
        "torch.isclose(torch.tensor([1., 2., 3.]), torch.tensor([1., 2.]))",
        "torch.isclose(torch.tensor([True, False]), torch.tensor([True, True]))",
        "torch.isclose(torch.tensor([1., 2.], dtype=torch.float64), torch.tensor(2., dtype=torch.float64))",
        "torch.equal(torch.tensor([1, 2]), torch.tensor([1., 2.]))",
        "torch.equal(torch.tensor([1, 2]), torch.tensor([[1, 2]]))",
        "torch.equal(torch.tensor([float('nan')]), torch.tensor([float('nan')]))",
    ]
    return cases


def _index_cases():
    m = "torch.tensor([[0., 1., 0.], [2., 0., float('nan')]])"
    cases = [f"torch.nonzero({m})", f"torch.nonzero({m}, as_tuple=True)", f"torch.argwhere({m})",
             f"torch.where({m} > 0)", f"torch.count_nonzero({m})",
             f"torch.count_nonzero({m}, dim=0)", f"torch.count_nonzero({m}, dim=(0, 1))",
             f"torch.count_nonzero({m}, dim=-1)", f"torch.count_nonzero({m}, dim=(0, 0))",
             "torch.nonzero(torch.tensor(3.))", "torch.nonzero(torch.tensor(0.), as_tuple=True)",
             "torch.nonzero(torch.tensor(3.), as_tuple=True)", "torch.argwhere(torch.tensor(0.))",
             "torch.nonzero(torch.zeros(2, 0, 3))", "torch.count_nonzero(torch.zeros(2, 0))",
             f"{m}.nonzero()", f"{m}.count_nonzero(1)"]
    for fn in ("all", "any"):
        for arg in (m, "torch.tensor([[1, 2], [0, 3]], dtype=torch.uint8)",
                    "torch.tensor([[True, False], [True, True]])", "torch.zeros(0, 3)"):
            for kwargs in ("", "dim=0", "dim=1, keepdim=True", "dim=(0, 1)", "dim=(-1,)",
                           "dim=(0, 1), keepdim=True", "dim=()", "dim=2", "dim=(0, 0)"):
                cases.append(f"torch.{fn}({arg}, {kwargs})")
        cases.append(f"torch.tensor(0.).{fn}()")
    v = "torch.tensor([[3., 1., float('nan'), 1., 2.], [0., -1., 5., 5., -1.]])"
    for kwargs in ("", "dim=0", "descending=True", "stable=True", "descending=True, stable=True",
                   "dim=-2, descending=True, stable=True", "dim=2"):
        cases.append(f"torch.argsort({v}, {kwargs})")
    cases += ["torch.argsort(torch.tensor([True, False, True, False]), stable=True, descending=True)",
              "torch.argsort(torch.tensor([3, 1, 2], dtype=torch.uint8), descending=True)",
              "torch.argsort(torch.tensor(3.))", "torch.argsort(torch.zeros(0, 2), dim=0)"]
    # NaN among the values (it goes last); not among the boundaries, which PyTorch requires
    # sorted and then searches as if NaN were small.
    seq = "torch.tensor([1., 2., 2., 3., 7.])"
    vals = "torch.tensor([[0., 2., 2.5], [3., 4., float('nan')]])"
    for kwargs in ("", "right=True", "side='right'", "side='left'", "out_int32=True",
                   "right=True, side='left'", "side='middle'"):
        cases.append(f"torch.searchsorted({seq}, {vals}, {kwargs})")
    cases += [
        f"torch.searchsorted({seq}, 2.)", f"torch.searchsorted({seq}, 2, right=True)",
        "torch.searchsorted(torch.tensor([[1, 3, 5], [2, 4, 6]]), torch.tensor([[3, 6], [0, 4]]))",
        "torch.searchsorted(torch.tensor([[1, 3, 5], [2, 4, 6]]), torch.tensor([[3, 6], [0, 4]]), right=True)",
        "torch.searchsorted(torch.tensor([[1, 3, 5]]), torch.tensor([[3], [1]]))",
        "torch.searchsorted(torch.tensor([3, 1, 2]), torch.tensor([2, 3, 0]), sorter=torch.tensor([1, 2, 0]))",
        "torch.searchsorted(torch.tensor([3, 1, 2]), torch.tensor([2, 3, 0]), sorter=torch.tensor([1, 2, 0]), side='right')",
        "torch.searchsorted(torch.tensor([3, 1, 2]), torch.tensor([2]), sorter=torch.tensor([1, 2]))",
        "torch.searchsorted(torch.tensor(3), torch.tensor([2]))",
        "torch.searchsorted(torch.tensor([1, 2, 3]), torch.tensor([2.5]))",
        "torch.searchsorted(torch.tensor([], dtype=torch.float32), torch.tensor([2.5]))",
    ]
    return cases


def _counting_cases():
    cases = [
        "torch.bincount(torch.tensor([1, 1, 3, 0, 1]))",
        "torch.bincount(torch.tensor([1, 1, 3], dtype=torch.uint8), minlength=6)",
        "torch.bincount(torch.tensor([1, 1, 3], dtype=torch.int8), minlength=2)",
        "torch.bincount(torch.tensor([1, 1, 3]), weights=torch.tensor([0.5, 0.25, 2.]))",
        "torch.bincount(torch.tensor([1, 1, 3]), weights=torch.tensor([0.5, 0.25, 2.], dtype=torch.float64))",
        "torch.bincount(torch.tensor([1, 1, 3]), weights=torch.tensor([1, 2, 3]))",
        "torch.bincount(torch.tensor([1, 1, 3]), weights=torch.tensor([1, 2, 3], dtype=torch.float16))",
        "torch.bincount(torch.tensor([], dtype=torch.int64))",
        "torch.bincount(torch.tensor([], dtype=torch.int64), minlength=3)",
        "torch.bincount(torch.tensor([1, -1]))", "torch.bincount(torch.tensor([1., 2.]))",
        "torch.bincount(torch.tensor([[1, 2]]))", "torch.bincount(torch.tensor([1, 2]), minlength=-1)",
        "torch.bincount(torch.tensor([1, 2]), weights=torch.tensor([1., 2., 3.]))",
        "torch.bincount(torch.tensor([True, False]))", "torch.tensor([0, 2]).bincount()",
    ]
    data = "torch.tensor([0.1, 0.5, 1., 1., 2.7, 3., -4., 10., 0.3333333])"
    for kwargs in ("", "bins=4", "bins=4, min=0, max=3", "bins=3, min=1, max=1",
                   "bins=7, min=-4, max=10", "bins=5, min=0.1, max=0.9", "bins=0",
                   "bins=4, min=3, max=1"):
        cases.append(f"torch.histc({data}, {kwargs})")
        cases.append(f"torch.histc({data}.double(), {kwargs})")
    cases += ["torch.histc(torch.tensor([2., 2.]), bins=4)", "torch.histc(torch.tensor([]), bins=3)",
              "torch.histc(torch.tensor([1, 2]))", "torch.histc(torch.tensor([1., float('nan')]))",
              "torch.histc(torch.tensor([1., float('inf')]))",
              "torch.histc(torch.tensor([1., float('nan'), 3.]), bins=2, min=0, max=4)",
              "torch.histc(torch.arange(-50, 51).float() / 50, bins=10)",
              "torch.histc(torch.tensor([[1., 2.], [3., 4.]]), bins=2)",
              "torch.tensor([1., 2.]).histc(bins=2)"]
    u = "torch.tensor([[2., float('nan'), 1.], [float('nan'), 2., -0.]])"
    for kwargs in ("", "return_inverse=True", "return_counts=True",
                   "return_inverse=True, return_counts=True", "sorted=False"):
        cases.append(f"torch.unique({u}, {kwargs})")
        cases.append(f"torch.unique(torch.tensor([3, 1, 3, 3, 0], dtype=torch.int16), {kwargs})")
    cases += ["torch.unique(torch.tensor(3))", "torch.unique(torch.tensor([True, False, True]), return_counts=True)",
              "torch.unique(torch.zeros(0, 2), return_inverse=True, return_counts=True)",
              "torch.unique(torch.tensor([[2, 1], [0, 1], [2, 1]]), dim=0, return_inverse=True, return_counts=True)",
              "torch.unique(torch.tensor([[2, 1], [0, 1], [2, 1]]), dim=1)",
              "torch.tensor([2, 1, 2]).unique(return_counts=True)"]
    return cases


def _creation_cases():
    cases = []
    for dtype in ("int8", "int16", "int32", "int64", "uint8", "float32", "float64", "bool"):
        for args in ("5, -5, 20", "-5, 5, 20", "0, 10, 7", "-7.5, 7.5, 11", "0.5, 3.5, 4",
                     "3, 3, 1", "0, 1, 0", "100, -100, 9"):
            if dtype == "uint8" and "-" in args:
                continue  # negative numbers in uint8 wrap as the C cast does, platform-defined
            cases.append(f"torch.linspace({args}, dtype=torch.{dtype})")
    cases += ["torch.linspace(0, 1, 10)", "torch.linspace(-1.3, 2.9, 33)",
              "torch.linspace(0, 1, 11, dtype=torch.float64)", "torch.linspace(0, 1, -1)",
              "torch.linspace(1e-3, 7, 1000)"]
    for args in ("0, 3, 4", "0, 3, 4, base=2", "-2, 2, 5", "0, 1, 5, base=2.5", "3, 0, 4",
                 "0, 3, 4, dtype=torch.int64", "0, 3, 4, base=2, dtype=torch.int32",
                 "0.5, 3.5, 4, dtype=torch.int64", "0, 3, 4, dtype=torch.float64",
                 "0, 3, 4, dtype=torch.bool", "0, 2, 1", "0, 1, 0", "0, 1, -2", "1, 10, 10"):
        cases.append(f"torch.logspace({args})")
    for fn in ("tril_indices", "triu_indices"):
        for args in ("3, 3", "3, 4", "4, 3", "4, 3, 1", "4, 3, -1", "3, 5, 2", "3, 5, -4",
                     "3, 5, 9", "3, 5, -9", "0, 0", "0, 3", "1, 1", "3, 3, dtype=torch.int32",
                     "-1, 3", "3, -1"):
            cases.append(f"torch.{fn}({args})")
    x = "torch.tensor([[1, 2], [3, 4]], dtype=torch.int32)"
    cases += [f"torch.full_like({x}, 2.7)", f"torch.full_like({x}, 2.7, dtype=torch.float64)",
              f"torch.full_like({x}, 1, dtype=torch.bool)", f"torch.zeros_like({x}, dtype=torch.float16)",
              f"torch.ones_like({x}, dtype=torch.bool)", f"torch.ones_like({x})",
              f"torch.empty_like({x}, dtype=torch.int8).dtype", f"torch.rand_like({x})",
              f"torch.randn_like({x})", f"torch.rand_like({x}, dtype=torch.float64).dtype",
              f"torch.randn_like({x}, dtype=torch.float16).shape"]
    return cases


def encode(value):
    if isinstance(value, torch.Tensor):
        array = value.numpy()
        return {"tensor": array.tolist(), "dtype": str(array.dtype), "shape": list(array.shape)}
    if isinstance(value, (tuple, list)):
        return {"tuple": [encode(v) for v in value]}
    if isinstance(value, torch.dtype):
        return {"dtype_of": str(value).replace("torch.", "")}
    if isinstance(value, torch.Size):
        return {"size": list(value)}
    if isinstance(value, (bool, int, float)):
        return {"scalar": value}
    raise TypeError(f"cannot encode {type(value).__name__}")


def main():
    if torch.__version__.split("+")[0] != "2.13.0":
        sys.exit(f"needs torch 2.13.0, found {torch.__version__}")
    torch.manual_seed(0)
    cases = {}
    for expr in (_bitwise_cases() + _predicate_cases() + _index_cases() + _counting_cases()
                 + _creation_cases()):
        try:
            cases[expr] = encode(eval(expr, {"torch": torch}))
        except Exception as exc:  # PyTorch's refusal is the expected behaviour too
            cases[expr] = {"error": type(exc).__name__, "message": str(exc)}
    methods = [n for n in NAMES + OPERATORS if n in vars(torch.Tensor) or
               n in vars(torch._C.TensorBase)]
    text = json.dumps({"torch": torch.__version__, "functions": list(NAMES),
                       "tensor_methods": methods, "cases": cases}, indent=0, allow_nan=True)
    with open(FIXTURE, "w") as f:
        f.write(text + "\n")
    print(f"{len(cases)} cases -> {os.path.normpath(FIXTURE)} "
          f"({sum('error' in c for c in cases.values())} raise)")


if __name__ == "__main__":
    main()
