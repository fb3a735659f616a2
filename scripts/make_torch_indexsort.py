"""Write tests/fixtures/torch_indexsort.json: PyTorch's results for the gather / scatter,
cumulative, sorting and reduction ops of issue 11; needs PyTorch (run it with a Python that
has torch 2.x), which the tests never import.

Two kinds of case, each written against ``torch`` so that the test can run the same text with
``fastgrad`` bound to that name:
- "values": an expression; PyTorch's result (values, dtype, shape; a tuple of them) or the
  class of the exception it raised.
- "grads": ``lambda torch, *inputs: ...`` with float64 inputs that require grad; the first
  output's value and each input's gradient along a fixed cotangent (``cotangent(shape)``, the
  same function in the test).
"""
import json
import math
import os

import numpy as np
import torch

FIXTURE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures",
                       "torch_indexsort.json")

T = "torch.tensor"
X = "torch.tensor([[1., 5., 2., 5.], [0., -1., 3., 3.], [4., 4., 4., 1.]])"  # ties in rows
I2 = "torch.tensor([[0, 2, 1, 2], [1, 1, 0, 0]])"

VALUE_CASES = [
    # gather and its errors
    f"torch.gather({X}, 0, {I2})",
    f"torch.gather({X}, 1, torch.tensor([[3, 0], [1, 1], [2, 2]]))",
    f"{X}.gather(-1, torch.tensor([[3], [0], [1]]))",
    "torch.gather(torch.tensor(7.), 0, torch.tensor(0))",
    f"torch.gather({X}, 0, torch.zeros((0, 4), dtype=torch.int64))",
    f"torch.gather({X}, 0, torch.tensor([[3, 0, 0, 0]]))",
    f"torch.gather({X}, 0, torch.tensor([[-1, 0, 0, 0]]))",
    f"torch.gather({X}, 0, torch.tensor([[0, 0]], dtype=torch.int32))",
    f"torch.gather({X}, 0, torch.tensor([0, 1]))",
    f"torch.gather({X}, 0, torch.zeros((2, 5), dtype=torch.int64))",
    f"torch.gather({X}, 2, {I2})",
    # scatter: src, value, reduce; repeated indices only where every value agrees
    f"torch.scatter(torch.zeros(3, 4), 0, torch.tensor([[0, 2, 1, 2], [1, 0, 0, 1]]), {X})",
    f"torch.zeros(3, 4).scatter(1, torch.tensor([[3], [0], [1]]), 2.5)",
    f"torch.zeros(3, 4).scatter(1, torch.tensor([[3], [0], [1]]), value=-1.0)",
    f"torch.ones(3, 4).scatter(0, {I2}, {X}, reduce='add')",
    f"torch.ones(3, 4).scatter(0, {I2}, {X}, reduce='multiply')",
    f"torch.ones(3, 4).scatter(0, {I2}, 2.0, reduce='multiply')",
    f"torch.zeros(3, 4).scatter(0, torch.tensor([[3, 0, 0, 0]]), {X})",
    f"torch.zeros(3, 4).scatter(0, {I2}, {X}.double())",
    f"torch.zeros(3, 4).scatter(0, {I2}, {X}, reduce='max')",
    f"torch.zeros(2, 2).scatter(0, torch.zeros((3, 2), dtype=torch.int64), torch.ones(2, 2))",
    f"torch.scatter_add(torch.ones(3, 4), 0, {I2}, {X})",
    f"torch.ones(3, 4, dtype=torch.int64).scatter_add(1, torch.tensor([[0, 0, 0]]), "
    "torch.tensor([[1, 2, 3]]))",
    # scatter_reduce
    *[f"torch.scatter_reduce({X}, 0, {I2}, {X} * 0.5 + 2, {r!r}, include_self={s})"
      for r in ("sum", "prod", "mean", "amax", "amin") for s in (True, False)],
    *[f"torch.tensor([5, 2, 7, 1]).scatter_reduce(0, torch.tensor([0, 0, 2, 2]), "
      f"torch.tensor([4, 9, 8, 3]), {r!r}, include_self={s})"
      for r in ("sum", "prod", "mean", "amax", "amin") for s in (True, False)],
    "torch.tensor([1., 2., 3.]).scatter_reduce(0, torch.tensor([0, 0, 1]), "
    "torch.tensor([float('nan'), 5., 1.]), 'amax')",
    "torch.tensor([1, 2], dtype=torch.int8).scatter_reduce(0, torch.tensor([1, 1]), "
    "torch.tensor([3, -8], dtype=torch.int8), 'mean')",
    "torch.tensor([True, False]).scatter_add(0, torch.tensor([1, 1]), torch.tensor([True, True]))",
    "torch.tensor([1., 2., 3.]).scatter_reduce(0, torch.tensor([0, 0, 1]), "
    "torch.tensor([0., 5., 1.]), 'avg')",
    "torch.tensor([1., 2., 3.]).scatter_reduce(0, torch.tensor([0, 3, 1]), "
    "torch.tensor([0., 5., 1.]), 'sum')",
    # index_*
    f"torch.index_select({X}, 0, torch.tensor([2, 0, 2]))",
    f"{X}.index_select(1, torch.tensor([3, 1], dtype=torch.int32))",
    f"{X}.index_select(1, torch.tensor(2))",
    f"{X}.index_select(1, torch.tensor([4]))",
    f"{X}.index_select(1, torch.tensor([-1]))",
    f"{X}.index_select(1, torch.tensor([[1]]))",
    f"{X}.index_select(1, torch.tensor([1.0]))",
    f"torch.index_add({X}, 0, torch.tensor([2, 0, 2]), torch.ones(3, 4))",
    f"{X}.index_add(1, torch.tensor([0, 0]), torch.ones(3, 2), alpha=3)",
    f"{X}.index_add(1, torch.tensor([0, 9]), torch.ones(3, 2))",
    f"{X}.index_add(1, torch.tensor([0, 1]), torch.ones(3, 3))",
    f"torch.index_fill({X}, 1, torch.tensor([0, 2]), -2.0)",
    f"{X}.index_fill(0, torch.tensor([1]), torch.tensor(7.))",
    f"{X}.index_fill(0, torch.tensor([3]), 1.0)",
    # masked_*
    f"torch.masked_fill({X}, {X} > 2, 0.5)",
    f"{X}.masked_fill(torch.tensor([True, False, False, True]), -9.0)",
    f"torch.tensor([1, 2, 3]).masked_fill(torch.tensor([True, False, True]), 2.7)",
    f"{X}.masked_fill({X} > 2, torch.tensor(8.))",
    f"{X}.masked_fill({X} > 2, torch.tensor([8.]))",
    f"{X}.masked_fill(torch.tensor([1, 0, 0, 1]), 0.)",
    f"torch.masked_select({X}, {X} > 2)",
    f"torch.masked_select({X}, torch.tensor([True, False, False, True]))",
    f"torch.masked_select(torch.tensor([1., 2.]), torch.tensor([[True, False], [True, True]]))",
    f"torch.masked_scatter({X}, {X} > 2, torch.arange(10.))",
    f"{X}.masked_scatter(torch.tensor([True, False, False, True]), -torch.arange(6.))",
    f"{X}.masked_scatter({X} > 2, torch.arange(3.))",
    "torch.masked_scatter(torch.tensor([1., 2.]), torch.tensor([[True, False], [True, True]]), "
    "torch.arange(5.))",
    # take / take_along_dim / nonzero
    f"torch.take({X}, torch.tensor([[0, 11], [-1, -12]]))",
    f"torch.take({X}, torch.tensor([12]))",
    f"torch.take({X}, torch.tensor([-13]))",
    f"torch.take_along_dim({X}, torch.tensor([[0], [3], [1]]), 1)",
    f"torch.take_along_dim({X}, torch.tensor([[0, 1, 2, 0]]), 0)",
    f"torch.take_along_dim({X}, torch.tensor([11, 0, 5]))",
    f"torch.take_along_dim({X}, torch.argsort({X}, 1), dim=1)",
    f"torch.nonzero({X} > 2, as_tuple=True)",
    "torch.nonzero(torch.tensor(3.), as_tuple=True)",
    # cumulative
    f"torch.cumsum({X}, 1)",
    "torch.cumsum(torch.tensor([True, True, False]), 0)",
    "torch.cumsum(torch.tensor([1, 2, 3], dtype=torch.int8), 0)",
    "torch.cumsum(torch.tensor([1, 2, 3]), 0, dtype=torch.float64)",
    f"torch.cumprod({X}, 0)",
    "torch.cumprod(torch.tensor([2, 3, 4], dtype=torch.int32), 0)",
    f"torch.cummax({X}, 1)",
    f"torch.cummin({X}, 0)",
    "torch.cummax(torch.tensor([1., 3., 3., float('nan'), 5., float('nan'), 2.]), 0)",
    "torch.cummin(torch.tensor([3., 1., 1., float('nan'), 0., float('nan')]), 0)",
    "torch.cummax(torch.tensor([2, 2, 1, 5, 5]), 0)",
    "torch.cummax(torch.tensor(3.), 0)",
    "torch.logcumsumexp(torch.tensor([-1000., 1000., 0., 1000.]), 0)",
    f"torch.logcumsumexp({X}, 1)",
    "torch.logcumsumexp(torch.tensor([float('-inf'), float('-inf'), 1.]), 0)",
    "torch.logcumsumexp(torch.tensor([1, 2]), 0)",
    # sorting
    f"torch.sort({X}, 1)",
    f"torch.sort({X}, dim=0, descending=True, stable=True)",
    "torch.sort(torch.tensor([3., float('nan'), 1., float('nan'), 3.]), stable=True)",
    "torch.sort(torch.tensor([3., float('nan'), 1., float('nan'), 3.]), descending=True, "
    "stable=True)",
    "torch.sort(torch.tensor([3, 1, 2], dtype=torch.int16), descending=True)",
    f"torch.topk({X}.flatten(), 3).values",
    f"torch.topk({X}, 2, dim=0, largest=False).values",
    "torch.topk(torch.tensor([4., 9., 1., 7.]), 2)",
    "torch.topk(torch.tensor([4., 9., 1., 7.]), 5)",
    "torch.topk(torch.tensor([4., 9., 1., 7.]), 0)",
    "torch.kthvalue(torch.tensor([[4., 9., 1., 7.], [0., -2., 8., 5.]]), 2, 1)",
    "torch.kthvalue(torch.tensor([[4., 9., 1., 7.], [0., -2., 8., 5.]]), 1, 0, keepdim=True)",
    "torch.kthvalue(torch.tensor([4., 9., 1., 7.]), 5)",
    "torch.kthvalue(torch.tensor([4., 9., 1., 7.]), 0)",
    "torch.median(torch.tensor([4., 9., 1., 7.]))",
    "torch.median(torch.tensor([[4., 9., 1., 7.], [0., -2., 8., 5.]]), 1)",
    "torch.median(torch.tensor([[4., 9., 1.], [0., -2., 8.]]), 0, keepdim=True)",
    "torch.median(torch.tensor([4., float('nan'), 1., 7.]))",
    "torch.median(torch.tensor([[4., float('nan'), 1., float('nan')]]), 1)",
    "torch.median(torch.tensor([]))",
    "torch.median(torch.zeros(2, 0), 1)",
    "torch.median(torch.tensor([3, 1, 2, 2]))",
    "torch.mode(torch.tensor([[1., 2., 2., 3., 3.], [5., 5., 5., 1., 1.], [0., 1., 2., 3., 4.]]), 1)",
    "torch.mode(torch.tensor([3, 1, 3, 1, 2]), 0)",
    "torch.mode(torch.tensor([[2., 1.], [2., 1.], [0., 1.]]), 0, keepdim=True)",
    "torch.unique(torch.tensor([3, 1, 3, 2, 1]), return_inverse=True, return_counts=True)",
    "torch.unique(torch.tensor([[1, 2], [3, 4], [1, 2]]), dim=0, return_inverse=True, "
    "return_counts=True)",
    "torch.unique(torch.tensor([[1, 2, 1], [3, 4, 3]]), dim=1, return_counts=True)",
    # reductions
    f"torch.prod({X})",
    f"torch.prod({X}, 1)",
    f"{X}.prod(0, keepdim=True)",
    "torch.prod(torch.tensor([[1, 2], [3, 4]], dtype=torch.int8), 1)",
    "torch.prod(torch.tensor([True, True]))",
    "torch.prod(torch.tensor([2., 3.]), 0, dtype=torch.float64)",
    f"torch.all({X} > 0, dim=(0, 1))",
    f"torch.any({X} > 4, dim=(1,), keepdim=True)",
    f"{X}.bool().all(0)",
    f"torch.std_mean({X}, 1)",
    f"torch.var_mean({X}, dim=0, correction=0, keepdim=True)",
    f"torch.std_mean({X})",
    f"torch.var_mean({X}, (0, 1), correction=2)",
    "torch.nansum(torch.tensor([[1., float('nan')], [float('nan'), float('nan')]]), 1)",
    "torch.nanmean(torch.tensor([[1., float('nan')], [float('nan'), float('nan')]]), 1)",
    "torch.nansum(torch.tensor([1, 2]))",
    "torch.nanmean(torch.tensor([1, 2]))",
    *[f"torch.linalg.vector_norm({X}, {o})" for o in
      ("2", "1", "3", "0.5", "0", "float('inf')", "-float('inf')", "-1")],
    f"torch.linalg.vector_norm({X}, 2, dim=1, keepdim=True)",
    f"torch.linalg.vector_norm({X}, 1, dim=(0, 1))",
    f"torch.linalg.vector_norm({X}, float('inf'), dim=0)",
    "torch.linalg.vector_norm(torch.tensor([1, 2]))",
    "torch.linalg.vector_norm(torch.zeros(0), float('inf'))",
    "torch.linalg.vector_norm(torch.zeros(0))",
    f"{X}.norm()",
    f"{X}.norm(p=1, dim=1)",
    f"torch.norm({X}, 'fro', dim=(0, 1))",
    f"torch.norm({X}, float('inf'))",
    # 0-d and empty inputs
    *[f"{op}(torch.tensor(3.){args})" for op, args in (
        ("torch.topk", ", 1"), ("torch.topk", ", 0"), ("torch.kthvalue", ", 1"),
        ("torch.sort", ""), ("torch.median", ", 0"), ("torch.median", ""), ("torch.mode", ""),
        ("torch.cumsum", ", 0"), ("torch.cumprod", ", 0"), ("torch.logcumsumexp", ", 0"),
        ("torch.cummin", ", 0"), ("torch.prod", ", 0"), ("torch.prod", ""),
        ("torch.index_select", ", 0, torch.tensor([0])"), ("torch.take", ", torch.tensor([0])"),
        ("torch.masked_fill", ", torch.tensor(True), 1."), ("torch.linalg.vector_norm", ""),
        ("torch.scatter", ", 0, torch.tensor(0), torch.tensor(5.)"),
        ("torch.scatter_reduce", ", 0, torch.tensor(0), torch.tensor(5.), 'amax'"),
        ("torch.nansum", ""), ("torch.std_mean", ", correction=0"))],
    *[f"{op}(torch.zeros(0){args})" for op, args in (
        ("torch.cumsum", ", 0"), ("torch.cumprod", ", 0"), ("torch.cummax", ", 0"),
        ("torch.logcumsumexp", ", 0"), ("torch.sort", ""), ("torch.topk", ", 0"),
        ("torch.prod", ""), ("torch.nansum", ""), ("torch.nanmean", ""),
        ("torch.linalg.vector_norm", ""), ("torch.masked_select", ", torch.zeros(0, dtype=torch.bool)"),
        ("torch.take", ", torch.zeros(0, dtype=torch.int64)"),
        ("torch.gather", ", 0, torch.zeros(0, dtype=torch.int64)"),
        ("torch.mode", ", 0"), ("torch.kthvalue", ", 1"))],
]

V = [[0.3, -1.2, 0.7, 2.1], [-0.4, 1.6, -2.3, 0.9], [1.1, 0.2, -0.8, -1.5]]  # no ties
TIES = [[1., 5., 2., 5.], [0., -1., 3., 3.], [4., 4., 4., 1.]]
ZEROS = [[0.5, 0., 2., -1.5], [0., 0., 3., 1.25], [4., -2., 0.75, 1.]]
GRAD_CASES = [
    ("lambda torch, x: torch.gather(x, 0, torch.tensor([[0, 2, 1, 2], [1, 1, 0, 0]]))", [V]),
    ("lambda torch, x, s: torch.scatter(x, 0, torch.tensor([[0, 2, 1, 2], [1, 0, 0, 1]]), s)",
     [V, V[:2]]),
    ("lambda torch, x, s: x.scatter_add(1, torch.tensor([[0, 0], [3, 3], [1, 2]]), s)",
     [V, [r[:2] for r in V]]),
    *[(f"lambda torch, x, s: x.scatter_reduce(0, torch.tensor([[0, 2, 1, 2], [0, 0, 1, 1]]), s,"
       f" {r!r}, include_self={inc})", [data, [r_[::-1] for r_ in data[:2]]])
      for r in ("sum", "prod", "mean", "amax", "amin") for inc in (True, False)
      for data in (TIES, ZEROS)],
    ("lambda torch, x, s: x.scatter_reduce(0, torch.tensor([0, 0, 0, 1]), s, 'amax')",
     [[3., 1.], [3., 3., 2., 1.]]),
    ("lambda torch, x, s: x.scatter_reduce(0, torch.tensor([0, 0, 0, 1]), s, 'amin', "
     "include_self=False)", [[3., 1.], [3., 3., 2., 1.]]),
    ("lambda torch, x, s: x.scatter_reduce(0, torch.tensor([0, 0, 0, 1]), s, 'prod')",
     [[0., 1.], [3., 0., 2., 1.]]),
    ("lambda torch, x: x.index_select(1, torch.tensor([3, 0, 0]))", [V]),
    ("lambda torch, x, s: x.index_add(0, torch.tensor([2, 2]), s, alpha=2.)", [V, V[:2]]),
    ("lambda torch, x: x.index_fill(1, torch.tensor([1, 3]), 4.)", [V]),
    ("lambda torch, x: x.masked_fill(x > 0.5, 0.)", [V]),
    ("lambda torch, x: x.masked_select(x > 0.5)", [V]),
    ("lambda torch, x, s: x.masked_scatter(x > 0.5, s)", [V, V[0] + V[2]]),
    ("lambda torch, x: x.take(torch.tensor([[0, -1], [5, 5]]))", [V]),
    ("lambda torch, x: torch.take_along_dim(x, torch.tensor([[1], [0], [3]]), 1)", [V]),
    ("lambda torch, x: x.cumsum(1)", [V]),
    ("lambda torch, x: x.cumprod(1)", [ZEROS]),
    ("lambda torch, x: x.cumprod(0)", [ZEROS]),
    ("lambda torch, x: x.cummax(1)", [TIES]),
    ("lambda torch, x: x.cummin(0)", [TIES]),
    ("lambda torch, x: x.logcumsumexp(1)", [V]),
    ("lambda torch, x: x.sort(dim=1, stable=True)", [V]),
    ("lambda torch, x: x.topk(2, 0)", [V]),
    ("lambda torch, x: x.kthvalue(2, 1)", [V]),
    ("lambda torch, x: x.median()", [V]),
    ("lambda torch, x: x.median(1)", [V]),
    ("lambda torch, x: x.mode(1)", [TIES]),
    ("lambda torch, x: x.prod()", [V]),
    ("lambda torch, x: x.prod(1)", [ZEROS]),
    ("lambda torch, x: x.prod(0)", [ZEROS]),
    ("lambda torch, x: torch.tensor([[0., 0.], [1., 2.]], dtype=torch.float64) + x.prod()",
     [[[0., 2.], [0., 3.]]]),
    ("lambda torch, x: torch.std_mean(x, 1)", [V]),
    ("lambda torch, x: torch.var_mean(x, 0, correction=0)", [V]),
    ("lambda torch, x: torch.nansum(x, 1)", [[[1., float("nan")], [2., 3.]]]),
    ("lambda torch, x: torch.nanmean(x, 1)", [[[1., float("nan")], [2., 3.]]]),
    *[(f"lambda torch, x: torch.linalg.vector_norm(x, {o}, dim=1)", [TIES])
      for o in ("2", "1", "3", "0.5", "0", "float('inf')", "-float('inf')")],
    ("lambda torch, x: x.norm()", [[0., 0., 0.]]),
    ("lambda torch, x: x.norm(p=3)", [[0., 0., 0.]]),
    ("lambda torch, x: torch.linalg.vector_norm(x, 1)", [[0., 1., -2.]]),
]

NAMES = ("gather", "scatter", "scatter_add", "scatter_reduce", "index_select", "index_add",
         "index_fill", "masked_fill", "masked_scatter", "masked_select", "take",
         "take_along_dim", "nonzero", "cumsum", "cumprod", "cummax", "cummin", "logcumsumexp",
         "sort", "topk", "kthvalue", "median", "mode", "unique", "prod", "all", "any",
         "std_mean", "var_mean", "norm", "nansum", "nanmean")


def cotangent(shape):
    """The fixed cotangent of a grad case (the test has the same function)."""
    n = int(np.prod(shape))
    return np.cos(np.arange(n) * 1.7 + 0.3).reshape(shape)


def encode(value):
    if isinstance(value, (tuple, list)):
        return {"tuple": [encode(v) for v in value]}
    if isinstance(value, torch.Tensor):
        value = value.detach()
        dtype = str(value.dtype).replace("torch.", "")
        values = value.double().tolist() if value.dtype.is_floating_point else value.tolist()
        return {"tensor": _jsonable(values), "dtype": dtype, "shape": list(value.shape)}
    raise TypeError(f"cannot encode {type(value)}")


def _jsonable(values):
    if isinstance(values, list):
        return [_jsonable(v) for v in values]
    if isinstance(values, float) and not math.isfinite(values):
        return repr(values)  # 'nan', 'inf', '-inf'
    return values


def run_value_case(expr):
    try:
        return encode(eval(expr, {"torch": torch}))
    except Exception as error:  # the test expects the same class
        return {"error": type(error).__name__, "message": str(error).splitlines()[0][:200]}


def run_grad_case(text, inputs):
    fn = eval(text)
    tensors = [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in inputs]
    out = fn(torch, *tensors)
    first = out[0] if isinstance(out, tuple) else out
    first.backward(torch.from_numpy(cotangent(tuple(first.shape))))
    return {"inputs": _jsonable(inputs), "output": encode(first),
            "grads": [encode(t.grad if t.grad is not None else torch.zeros_like(t))
                      for t in tensors]}


def main():
    methods = {name: hasattr(torch.Tensor, name) for name in NAMES}
    fixture = {
        "torch_version": torch.__version__,
        "values": {expr: run_value_case(expr) for expr in VALUE_CASES},
        "grads": [dict(fn=text, **run_grad_case(text, inputs)) for text, inputs in GRAD_CASES],
        "tensor_methods": methods,
    }
    with open(FIXTURE, "w") as f:
        json.dump(fixture, f, indent=0, sort_keys=True)
    print(f"wrote {len(VALUE_CASES)} value and {len(GRAD_CASES)} grad cases to {FIXTURE}")


if __name__ == "__main__":
    main()
