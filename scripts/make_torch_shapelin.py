"""Write tests/fixtures/torch_shapelin.json: PyTorch's results for fastgrad's shape ops
(flip ... view(dtype)), einsum and the linear-algebra products, and the ``*_like``
constructors; needs PyTorch (run with a Python that has torch 2.x), which the tests never import.

Each case is a lambda written against ``torch`` and its inputs (values and dtype; float
inputs require grad). The test evaluates the same text with ``fastgrad`` bound to the name
``torch`` (the porting promise: ``import fastgrad as torch``), so the two sides cannot drift
apart. A case stores PyTorch's outputs (values, dtype, shape), the gradient of each float
input along the cotangent ``cotangent(shape)`` (below, the same in the test), or the class
and message of the exception PyTorch raised.
"""
import json
import math
import os

import numpy as np
import torch

FIXTURE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "fixtures",
                       "torch_shapelin.json")


# The names of issue 11's shape, linear-algebra and creation lists (and their aliases): the
# fixture records which PyTorch has as a function, a Tensor method, a torch.linalg function.
NAMES = ("flip", "fliplr", "flipud", "roll", "tril", "triu", "diag", "diagonal", "diag_embed",
         "trace", "split", "chunk", "tensor_split", "unbind", "unfold", "repeat_interleave",
         "meshgrid", "movedim", "moveaxis", "swapaxes", "swapdims", "narrow", "atleast_1d",
         "atleast_2d", "atleast_3d", "broadcast_tensors", "view", "einsum", "outer", "ger",
         "inner", "dot", "mv", "mm", "bmm", "baddbmm", "addmm", "tensordot", "kron", "cross",
         "matmul", "vecdot", "full_like", "zeros_like", "ones_like", "empty_like", "rand_like",
         "randn_like")


def cotangent(shape):
    """The output gradient the fixture and the test both use: deterministic, no symmetry."""
    n = math.prod(shape)
    return np.cos(np.arange(n) * 1.3 + 0.4).reshape(shape)


def _values(shape, dtype, seed):
    rng = np.random.default_rng(seed)
    if dtype.startswith("float"):
        return np.round(rng.standard_normal(shape), 3).tolist()
    if dtype == "bool":
        return (rng.random(shape) < 0.5).tolist()
    low, high = (0, 200) if dtype == "uint8" else (-5, 6)
    return rng.integers(low, high, shape).tolist()


def case(expr, *shapes, dtype="float64", meta=False):
    """``expr``: a lambda over the inputs; ``shapes``: one per input (a (shape, dtype) pair
    to give a dtype of its own). ``meta``: compare shapes and dtypes only (random values)."""
    inputs = []
    for k, s in enumerate(shapes):
        shape, dt = s if isinstance(s, list) else (s, dtype)
        inputs.append({"values": _values(shape, dt, len(expr) * 7 + k), "dtype": dt})
    return {"expr": expr, "inputs": inputs, "meta": meta}


def shape_cases():
    m23, m34, t234 = (2, 3), (3, 4), (2, 3, 4)
    return [
        case("lambda a: torch.flip(a, [0, 2])", t234), case("lambda a: torch.flip(a, (-1,))", m34),
        case("lambda a: a.flip(0, 1)", m34), case("lambda a: torch.flip(a, [])", m34),
        case("lambda a: torch.flip(a, [0])", ()), case("lambda a: torch.flip(a, [0, 0])", m34),
        case("lambda a: torch.flip(a, [0])", (0, 3)),
        case("lambda a: torch.fliplr(a)", m34), case("lambda a: torch.flipud(a)", (3,)),
        case("lambda a: torch.fliplr(a)", (3,)), case("lambda a: torch.flipud(a)", ()),
        case("lambda a: torch.roll(a, 1)", m34), case("lambda a: torch.roll(a, (1, -2), (0, 1))", m34),
        case("lambda a: torch.roll(a, 5, 1)", m34), case("lambda a: a.roll(-1, -1)", t234),
        case("lambda a: torch.roll(a, (1, 2), 0)", m34), case("lambda a: torch.roll(a, 2)", (0, 3)),
        case("lambda a: torch.roll(a, 1, 0)", ()),
        case("lambda a: torch.tril(a)", (4, 5)), case("lambda a: torch.tril(a, 1)", (4, 5)),
        case("lambda a: torch.triu(a, -2)", (4, 5)), case("lambda a: a.triu(1)", (2, 3, 3)),
        case("lambda a: torch.tril(a, -1)", [(3, 3), "int32"]), case("lambda a: torch.triu(a)", (3,)),
        case("lambda a: torch.triu(a)", (0, 2)),
        case("lambda a: torch.diag(a)", (3,)), case("lambda a: torch.diag(a, 1)", (3,)),
        case("lambda a: torch.diag(a, -2)", (2,)), case("lambda a: torch.diag(a)", m34),
        case("lambda a: torch.diag(a, 2)", m34), case("lambda a: torch.diag(a, -1)", m34),
        case("lambda a: torch.diag(a, 5)", m34), case("lambda a: torch.diag(a)", t234),
        case("lambda a: torch.diag(a)", ()),
        case("lambda a: torch.diagonal(a)", m34), case("lambda a: a.diagonal(1, 2, 0)", t234),
        case("lambda a: torch.diagonal(a, -1, -1, -2)", t234), case("lambda a: torch.diagonal(a, 0, 1, 1)", m34),
        case("lambda a: torch.diagonal(a, 7)", m34),
        case("lambda a: torch.diag_embed(a)", m23), case("lambda a: torch.diag_embed(a, 1, 0, 2)", m23),
        case("lambda a: a.diag_embed(-1)", (3,)), case("lambda a: torch.diag_embed(a, 0, 1, 1)", m23),
        case("lambda a: torch.trace(a)", m34), case("lambda a: torch.trace(a)", [(3, 3), "int32"]),
        case("lambda a: torch.trace(a)", t234), case("lambda a: torch.trace(a)", (0, 0)),
        case("lambda a: torch.split(a, 2)", (5, 3)), case("lambda a: torch.split(a, [1, 4])", (5, 3)),
        case("lambda a: a.split(2, 1)", (5, 3)), case("lambda a: torch.split(a, [1, 3])", (5, 3)),
        case("lambda a: torch.split(a, 0)", (5, 3)), case("lambda a: torch.split(a, 6)", (5, 3)),
        case("lambda a: torch.chunk(a, 3)", (5, 3)), case("lambda a: a.chunk(4, 1)", (5, 3)),
        case("lambda a: torch.chunk(a, 0)", (5, 3)), case("lambda a: torch.chunk(a, 2)", (0, 3)),
        case("lambda a: torch.tensor_split(a, 3)", (5, 3)),
        case("lambda a: torch.tensor_split(a, [1, 4])", (5, 3)),
        case("lambda a: torch.tensor_split(a, [-2, 7], 0)", (5, 3)),
        case("lambda a: a.tensor_split([3, 1], 0)", (5, 3)),
        case("lambda a: torch.tensor_split(a, torch.tensor([1, 2]), 1)", (5, 3)),
        case("lambda a: torch.tensor_split(a, 0)", (5, 3)), case("lambda a: torch.tensor_split(a, 2)", ()),
        case("lambda a: torch.unbind(a)", m34), case("lambda a: a.unbind(1)", m34),
        case("lambda a: torch.unbind(a, 2)", m34),
        case("lambda a: a.unfold(1, 3, 2)", (2, 7)), case("lambda a: a.unfold(0, 2, 1)", (3,)),
        case("lambda a: a.unfold(-1, 1, 3)", t234), case("lambda a: a.unfold(1, 8, 1)", (2, 7)),
        case("lambda a: a.unfold(1, 2, 0)", (2, 7)), case("lambda a: a.unfold(0, 1, 1)", ()),
        case("lambda a: a.unfold(1, 7, 5)", (2, 7)),
        case("lambda a: torch.repeat_interleave(a, 2)", m23),
        case("lambda a: torch.repeat_interleave(a, 2, 1)", m23),
        case("lambda a: a.repeat_interleave(torch.tensor([1, 0, 2]), 1)", m23),
        case("lambda a: a.repeat_interleave(torch.tensor([3]), 0)", m23),
        case("lambda a: torch.repeat_interleave(a, torch.tensor([2, 0, 1]), dim=0)", (3, 2)),
        case("lambda: torch.repeat_interleave(torch.tensor([2, 0, 1]))"),
        case("lambda a: torch.repeat_interleave(a, -1)", m23),
        case("lambda a: torch.repeat_interleave(a, torch.tensor([1, 2]), 1)", m23),
        case("lambda a: torch.repeat_interleave(a, 3)", ()),
        case("lambda a, b: torch.meshgrid(a, b, indexing='ij')", (2,), (3,)),
        case("lambda a, b, c: torch.meshgrid(a, b, c, indexing='xy')", (2,), (3,), (4,)),
        case("lambda a, b: torch.meshgrid([a, b], indexing='xy')", (), (3,)),
        case("lambda a, b: torch.meshgrid(a, b, indexing='ji')", (2,), (3,)),
        case("lambda a, b: torch.meshgrid(a, b, indexing='ij')", (2, 2), (3,)),
        case("lambda a: torch.movedim(a, 0, 2)", t234), case("lambda a: a.movedim((0, 1), (2, 0))", t234),
        case("lambda a: torch.moveaxis(a, -1, 0)", t234), case("lambda a: torch.movedim(a, (0, 1), 2)", t234),
        case("lambda a: torch.movedim(a, (0, 0), (1, 2))", t234),
        case("lambda a: a.swapaxes(0, 2)", t234), case("lambda a: torch.swapaxes(a, 1, -1)", t234),
        case("lambda a: torch.narrow(a, 0, 1, 2)", (4, 5)), case("lambda a: a.narrow(1, -2, 2)", (4, 5)),
        case("lambda a: torch.narrow(a, 1, 5, 0)", (4, 5)), case("lambda a: torch.narrow(a, 1, 4, 2)", (4, 5)),
        case("lambda a: torch.narrow(a, 1, 6, 0)", (4, 5)), case("lambda a: torch.narrow(a, 0, 0, 0)", ()),
        case("lambda a: torch.atleast_1d(a)", ()), case("lambda a: torch.atleast_2d(a)", (3,)),
        case("lambda a: torch.atleast_3d(a)", (3,)), case("lambda a: torch.atleast_3d(a)", m34),
        case("lambda a: torch.atleast_3d(a)", ()), case("lambda a: torch.atleast_2d(a)", t234),
        case("lambda a, b: torch.atleast_2d(a, b)", (), (3,)),
        case("lambda a, b: torch.atleast_1d([a, b])", (), (3,)),
        case("lambda a, b: torch.broadcast_tensors(a, b)", (3, 1), (4,)),
        case("lambda a, b, c: torch.broadcast_tensors(a, b, c)", (), (2, 1, 3), (1, 4, 1)),
        case("lambda a, b: torch.broadcast_tensors(a, b)", (3, 2), (4,)),
        case("lambda a: a.detach().view(torch.int32)", [(2, 3), "float32"]),
        case("lambda a: a.detach().view(torch.float64)", [(2, 4), "float32"]),
        case("lambda a: a.view(torch.bool)", [(2, 3), "uint8"]),
        case("lambda a: a.view(torch.int8)", [(2, 3), "int16"]),
        case("lambda a: a.view(torch.int16)", [(2, 4), "uint8"]),
        case("lambda a: a.detach().view(torch.float64)", [(2, 3), "float32"]),
        case("lambda a: a.detach().view(torch.int16)", [(), "float32"]),
        case("lambda a: a.detach().view(torch.int32)", [(), "float32"]),
        case("lambda a: a.detach().t().view(torch.int16)", [(2, 4), "float32"]),
        case("lambda a: a.detach()[:, 1:].view(torch.float64)", [(2, 5), "float32"]),
        case("lambda a: a.detach().view(2, 2)", [(4,), "float32"]),
    ]


def einsum_cases():
    E = "lambda *ops: torch.einsum('{}', *ops)"
    good = [("ij,jk->ik", (2, 3), (3, 4)), ("ij,jk", (2, 3), (3, 4)), ("ii", (3, 3)),
            ("ii->i", (3, 3)), ("iij->j", (2, 2, 3)), ("i,i", (3,), (3,)), ("i,j->ij", (2,), (3,)),
            ("...ij,...jk->...ik", (2, 1, 2, 3), (5, 3, 4)), ("b...i,b...i->b...", (2, 3, 4), (2, 3, 4)),
            ("ij->", (2, 3)), ("", ()), (",->", (), ()), ("i,i->i", (3,), (1,)),
            ("ij,jk", (2, 1), (3, 4)), ("ba,ab", (2, 3), (3, 2)), ("Ab,bA", (2, 3), (3, 2)),
            ("ij,jk,kl->il", (2, 3), (3, 4), (4, 2)), ("ij,jk", (2, 0), (0, 3)),
            ("ij->ji", (2, 3)), ("ij->ij", (2, 3)), ("...", (2, 3)), ("i...->...", (2, 3, 4)),
            ("iji->j", (3, 2, 3)), ("ii,i->i", (3, 3), (3,)), ("ij,ij->ij", (2, 3), (2, 3)),
            ("i j , j k -> i k", (2, 3), (3, 2)), ("bij,bjk->bik", (2, 2, 3), (2, 3, 2)),
            ("...,...->...", (2, 1), (3,)), ("i,jk->", (2,), (3, 4)), ("ijk->kji", (2, 3, 4)),
            ("ij,kj", (2, 3), (4, 3)), ("a,b,c,d->abcd", (2,), (1,), (3,), (2,))]
    cases = [case(E.format(eq), *shapes) for eq, *shapes in good]
    bad = [("ii", (2, 3)), ("ij", (2, 3), (2,)), ("i,j", (2,)), ("i->ii", (2,)), ("i->j", (2,)),
           ("i$", (2,)), ("i..", (2,)), ("i->i->i", (2,)), ("i,i", (2,), (3,)),
           ("ij->ji", (2,)), ("...ij", (2,)), ("i......", (2,)), ("i->...i...", (2,)),
           ("i->.", (2,)), ("ij,jk", (2, 3), (4, 5)), ("i-", (2,)), ("1", (2,))]
    cases += [case(E.format(eq), *shapes) for eq, *shapes in bad]
    cases += [case("lambda: torch.einsum('i')"),
              case("lambda a, b: torch.einsum('ij,jk', a, b)", [(2, 3), "float64"], [(3, 2), "float32"]),
              case("lambda a, b: torch.einsum('ij,jk', a, b)", [(2, 3), "int64"], [(3, 2), "int64"]),
              case("lambda a, b: torch.einsum('ij,jk', [a, b])", (2, 3), (3, 2)),
              case("lambda a, b: torch.einsum(a, [0, 1], b, [1, 2], [0, 2])", (2, 3), (3, 2)),
              case("lambda a, b: torch.einsum(a, [Ellipsis, 30], b, [30, 2])", (4, 2, 3), (3, 2)),
              case("lambda a: torch.einsum(a, [5, 5])", (3, 3)),
              case("lambda a: torch.einsum(a, [0, 60])", (3, 3))]
    return cases


def product_cases():
    return [
        case("lambda a, b: torch.outer(a, b)", (2,), (3,)), case("lambda a, b: a.ger(b)", (2,), (0,)),
        case("lambda a, b: torch.outer(a, b)", [(2,), "int64"], [(3,), "float32"]),
        case("lambda a, b: torch.outer(a, b)", (2, 2), (3,)),
        case("lambda a, b: torch.inner(a, b)", (2, 3), (4, 3)), case("lambda a, b: a.inner(b)", (), (4, 3)),
        case("lambda a, b: torch.inner(a, b)", (3,), (3,)), case("lambda a, b: torch.inner(a, b)", (2, 3), (2,)),
        case("lambda a, b: torch.dot(a, b)", (3,), (3,)), case("lambda a, b: a.dot(b)", (0,), (0,)),
        case("lambda a, b: torch.dot(a, b)", (3,), (4,)), case("lambda a, b: torch.dot(a, b)", (2, 3), (3,)),
        case("lambda a, b: torch.dot(a, b)", [(3,), "int64"], [(3,), "float32"]),
        case("lambda a, b: torch.dot(a, b)", [(3,), "int64"], [(3,), "int64"]),
        case("lambda a, b: torch.mv(a, b)", (2, 3), (3,)), case("lambda a, b: a.mv(b)", (0, 3), (3,)),
        case("lambda a, b: torch.mv(a, b)", (2, 3), (4,)), case("lambda a, b: torch.mv(a, b)", (2, 3), (3, 1)),
        case("lambda a, b: torch.mm(a, b)", (2, 3), (3, 4)), case("lambda a, b: torch.mm(a, b)", (2, 3), (4, 4)),
        case("lambda a, b: torch.mm(a, b)", [(2, 2), "int64"], [(2, 2), "float32"]),
        case("lambda a, b: torch.bmm(a, b)", (2, 2, 3), (2, 3, 4)),
        case("lambda a, b: torch.bmm(a, b)", (2, 2, 3), (3, 3, 4)),
        case("lambda a, b: torch.bmm(a, b)", (2, 2, 3), (2, 4, 4)),
        case("lambda a, b: torch.bmm(a, b)", (2, 3), (3, 4)),
        case("lambda a, b: torch.mm(a, b)", (2,), (2, 2)), case("lambda a, b: torch.mm(a, b)", (2, 2), (2,)),
        case("lambda c, a, b: torch.addmm(c, a, b)", (2, 4), (2, 3), (3, 4)),
        case("lambda c, a, b: torch.addmm(c, a, b, beta=0.5, alpha=2)", (4,), (2, 3), (3, 4)),
        case("lambda c, a, b: c.addmm(a, b, beta=0, alpha=-1)", (1, 4), (2, 3), (3, 4)),
        case("lambda c, a, b: torch.addmm(c, a, b)", (3,), (2, 3), (3, 4)),
        case("lambda c, a, b: torch.baddbmm(c, a, b, beta=2, alpha=0.5)", (2, 2, 4), (2, 2, 3), (2, 3, 4)),
        case("lambda c, a, b: c.baddbmm(a, b)", (4,), (2, 2, 3), (2, 3, 4)),
        case("lambda a, b: torch.tensordot(a, b)", (2, 3, 4), (3, 4, 5)),
        case("lambda a, b: torch.tensordot(a, b, 1)", (2, 3), (3, 4)),
        case("lambda a, b: torch.tensordot(a, b, 0)", (2,), (3,)),
        case("lambda a, b: torch.tensordot(a, b, dims=([1, 0], [0, 1]))", (3, 2, 4), (2, 3, 5)),
        case("lambda a, b: torch.tensordot(a, b, dims=([0], [2]))", (3, 2), (2, 4, 3)),
        case("lambda a, b: torch.tensordot(a, b, 1)", (2, 3), (4, 4)),
        case("lambda a, b: torch.tensordot(a, b, -1)", (2, 3), (3, 4)),
        case("lambda a, b: torch.tensordot(a, b, ([0, 1], [0]))", (2, 3), (2, 4)),
        case("lambda a, b: torch.kron(a, b)", (2, 3), (4, 2)), case("lambda a, b: a.kron(b)", (2,), (3,)),
        case("lambda a, b: torch.kron(a, b)", (2, 3), (3,)), case("lambda a, b: torch.kron(a, b)", (), (3,)),
        case("lambda a, b: torch.kron(a, b)", [(2, 2), "int64"], [(2,), "int64"]),
        case("lambda a, b: torch.cross(a, b, dim=1)", (4, 3), (4, 3)),
        case("lambda a, b: torch.cross(a, b, dim=-1)", (1, 3), (4, 3)),
        case("lambda a, b: a.cross(b, 0)", (3, 2), (3, 2)),
        case("lambda a, b: torch.cross(a, b, dim=1)", (4, 2), (4, 2)),
        case("lambda a, b: torch.linalg.cross(a, b)", (2, 3), (2, 3)),
        case("lambda a, b: torch.linalg.cross(a, b)", (2, 3), (3,)),
        case("lambda a, b: torch.cross(a, b, dim=1)", [(2, 3), "float32"], [(2, 3), "float64"]),
        case("lambda a, b: torch.cross(a, b, dim=1)", [(2, 3), "int64"], [(2, 3), "int64"]),
        case("lambda a, b: torch.linalg.vecdot(a, b)", [(2, 3), "float32"], [(3,), "float64"]),
        case("lambda a, b: torch.kron(a, b)", [(2,), "int64"], [(2,), "float32"]),
        case("lambda a, b: torch.tensordot(a, b, 1)", [(2, 3), "float32"], [(3,), "float64"]),
        case("lambda a, b: torch.inner(a, b)", [(2, 3), "int64"], [(3,), "float32"]),
        case("lambda a, b: torch.bmm(a, b)", [(1, 2, 3), "float32"], [(1, 3, 1), "float64"]),
        case("lambda a, b: torch.mv(a, b)", [(2, 3), "float32"], [(3,), "float64"]),
        case("lambda a, b: torch.linalg.cross(a, b, dim=0)", (3, 2), (3, 2)),
        case("lambda a, b: torch.linalg.vecdot(a, b)", (2, 3), (3,)),
        case("lambda a: torch.linalg.diagonal(a, offset=1)", (2, 3, 4)),
        case("lambda a: a.swapdims(0, 1)", (2, 3)), case("lambda a: torch.swapdims(a, -1, 0)", (2, 3)),
        case("lambda a, b: torch.linalg.vecdot(a, b, dim=0)", (2, 3), (2, 1)),
    ]


def creation_cases():
    return [
        case("lambda a: torch.full_like(a, 2.7)", [(3,), "int64"]),
        case("lambda a: torch.full_like(a, 2, dtype=torch.float64)", [(2, 2), "int32"]),
        case("lambda a: torch.zeros_like(a, dtype=torch.float64)", [(3,), "int64"]),
        case("lambda a: torch.ones_like(a, dtype=torch.bool)", [(2, 3), "float32"]),
        case("lambda a: torch.ones_like(a)", [(2,), "int16"]),
        case("lambda a: torch.empty_like(a, dtype=torch.int32)", [(2, 3), "float32"], meta=True),
        case("lambda a: torch.rand_like(a, dtype=torch.float64)", [(2, 3), "float32"], meta=True),
        case("lambda a: torch.randn_like(a)", [(4,), "float64"], meta=True),
        case("lambda a: torch.rand_like(a)", [(3,), "int64"]),
        case("lambda a: torch.randn_like(a)", [(3,), "int64"]),
        case("lambda a: torch.rand_like(a, dtype=torch.float32)", [(3,), "int64"], meta=True),
    ]


def _dtype_name(dtype):
    return str(dtype).replace("torch.", "")


def _record(out):
    if isinstance(out, (tuple, list)):
        return [_record(o) for o in out]
    return {"values": out.detach().tolist(), "dtype": _dtype_name(out.dtype), "shape": list(out.shape)}


def run(c):
    inputs = [torch.tensor(i["values"], dtype=getattr(torch, i["dtype"]),
                           requires_grad=i["dtype"].startswith("float")) for i in c["inputs"]]
    fn = eval(c["expr"], {"torch": torch})
    try:
        out = fn(*inputs)
    except Exception as error:
        return {"error": type(error).__name__, "message": str(error).split("\n")[0]}
    if c["meta"]:
        return {"meta": {"dtype": _dtype_name(out.dtype), "shape": list(out.shape)}}
    outs = list(out) if isinstance(out, (tuple, list)) else [out]
    result = {"outputs": _record(out) if isinstance(out, (tuple, list)) else [_record(out)],
              "tuple": isinstance(out, (tuple, list))}
    leaves = [t for t in inputs if t.requires_grad]
    graded = [o for o in outs if o.requires_grad]
    if leaves and graded:
        loss = sum((o * torch.tensor(cotangent(tuple(o.shape)), dtype=o.dtype)).sum() for o in graded)
        grads = torch.autograd.grad(loss, leaves, allow_unused=True)
        result["grads"] = [(torch.zeros_like(t) if g is None else g).tolist()
                           for t, g in zip(leaves, grads)]
    return result


def main():
    cases = shape_cases() + einsum_cases() + product_cases() + creation_cases()
    for c in cases:
        c["torch"] = run(c)
    names = {n: {"function": hasattr(torch, n) and n != "view",  # torch.view is no function
                 "method": hasattr(torch.Tensor, n), "linalg": hasattr(torch.linalg, n)}
             for n in NAMES}
    with open(FIXTURE, "w") as f:  # one case a line: diffs stay readable
        f.write(f'{{"torch_version": {json.dumps(torch.__version__)},\n"names": '
                f'{json.dumps(names)},\n"cases": [\n')
        f.write(",\n".join(json.dumps(c) for c in cases))
        f.write("\n]}\n")
    print(f"wrote {len(cases)} cases to {os.path.normpath(FIXTURE)}")


if __name__ == "__main__":
    main()
