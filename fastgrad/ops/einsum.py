"""einsum: Einstein summation over any valid subscripts, with PyTorch's parsing, broadcasting
and errors, differentiable in every operand to any order.

Why one mechanism: the gradient of an einsum operand is another einsum. For operand k with
subscripts S_k, contract the output gradient (output subscripts) with every other operand
into S_k; a label only S_k has (summed in the forward) gets a ones vector, and a label S_k
repeats (a diagonal or trace) is written once and tied to its repeats by identity matrices,
so the result is spread onto the diagonal. A size-1 dim that was broadcast is summed back.
Being an einsum, the gradient is differentiable again in the same way.
"""
import string

import numpy as np

from fastgrad.autograd.function import GradFn, needs_grad
from fastgrad.autograd.tensor import Tensor
from fastgrad.kernels.threads import blas_limit
from fastgrad.ops import backend
from fastgrad.ops._operands import as_tensor

_LETTERS = string.ascii_uppercase + string.ascii_lowercase  # PyTorch's label order
_ELLIPSIS = "."


def _parse(equation, shapes):
    """(input subscripts, output subscripts, label sizes) for ``equation`` with every
    ellipsis replaced by labels of their own (one per broadcast dim, right-aligned across
    operands): strings of letters, the sizes broadcast (size 1 against n gives n)."""
    if not shapes:
        raise RuntimeError("einsum(): must provide at least one operand")
    lhs, arrow, rhs = equation.partition("->")
    terms = [[]]
    ellipsis_seen = [False]
    dots = 0
    for i, c in enumerate(lhs):
        if c == " ":
            continue
        if c == ",":
            if dots:
                raise RuntimeError(f"einsum(): found '.' for operand {len(terms) - 1} that is not "
                                   "part of any ellipsis")
            terms.append([])
            ellipsis_seen.append(False)
            if len(terms) > len(shapes):
                raise RuntimeError("einsum(): fewer operands were provided than specified in the "
                                   "equation")
        elif c == ".":
            if ellipsis_seen[-1]:
                raise RuntimeError(f"einsum(): found '.' for operand {len(terms) - 1} for which an "
                                   "ellipsis was already found")
            dots += 1
            if dots == 3:
                terms[-1].append(_ELLIPSIS)
                ellipsis_seen[-1] = True
                dots = 0
        elif c in _LETTERS:
            if dots:
                raise RuntimeError(f"einsum(): found '.' for operand {len(terms) - 1} that is not "
                                   "part of any ellipsis")
            terms[-1].append(c)
        else:
            raise RuntimeError(f"einsum(): invalid subscript given at index {i} in the equation "
                               "string, subscripts must be in [a-zA-Z]")
    if dots:
        raise RuntimeError(f"einsum(): found '.' for operand {len(terms) - 1} that is not part of "
                           "any ellipsis")
    if len(terms) < len(shapes):
        raise RuntimeError("einsum(): more operands were provided than specified in the equation")

    ellipsis_dims = 0
    for k, (term, shape) in enumerate(zip(terms, shapes)):
        named = len(term) - (_ELLIPSIS in term)
        if _ELLIPSIS in term:
            if named > len(shape):
                raise RuntimeError(f"einsum(): the number of subscripts in the equation ({named}) "
                                   f"is more than the number of dimensions ({len(shape)}) for "
                                   f"operand {k}")
            ellipsis_dims = max(ellipsis_dims, len(shape) - named)
        elif named != len(shape):
            raise RuntimeError(f"einsum(): the number of subscripts in the equation ({named}) does "
                               f"not match the number of dimensions ({len(shape)}) for operand "
                               f"{k} and no ellipsis was given")
    used = {c for term in terms for c in term} | set(rhs)
    free = [c for c in _LETTERS if c not in used]
    if ellipsis_dims > len(free):
        raise RuntimeError("einsum(): too many subscripts and broadcast dims (at most 52)")
    batch = "".join(free[:ellipsis_dims])

    inputs = []
    for term, shape in zip(terms, shapes):
        named = len(term) - (_ELLIPSIS in term)
        spread = batch[len(batch) - (len(shape) - named):] if _ELLIPSIS in term else ""
        inputs.append("".join(spread if c == _ELLIPSIS else c for c in term))

    sizes = {}
    for k, (sub, shape) in enumerate(zip(inputs, shapes)):
        own = {}
        for c, n in zip(sub, shape):
            if c in own and own[c] != n:
                raise RuntimeError(f"einsum(): subscript {c} is repeated for operand {k} but the "
                                   f"sizes don't match, {own[c]} != {n}")
            own[c] = n
        for c, n in own.items():
            seen = sizes.get(c, 1)
            if n != 1 and seen != 1 and n != seen:
                raise RuntimeError(f"einsum(): subscript {c} has size {n} for operand {k} which "
                                   f"does not broadcast with previously seen size {seen}")
            sizes[c] = n if seen == 1 else seen

    if arrow:
        output = ""
        ellipsis_out = False
        dots = 0
        for c in rhs:
            if c == " ":
                continue
            if c == ".":
                if ellipsis_out:
                    raise RuntimeError("einsum(): found '.' for output but an ellipsis (...) was "
                                       "already found")
                dots += 1
                if dots == 3:
                    output += batch
                    ellipsis_out = True
                    dots = 0
                continue
            if dots:
                break
            if c not in _LETTERS:
                raise RuntimeError(f"einsum(): invalid subscript given at index "
                                   f"{len(lhs) + 2 + rhs.index(c)} in the equation string, "
                                   "subscripts must be in [a-zA-Z]")
            if c in output:
                raise RuntimeError(f"einsum(): output subscript {c} appears more than once in the "
                                   "output")
            if c not in sizes:
                raise RuntimeError(f"einsum(): output subscript {c} does not appear in the "
                                   "equation for any input operand")
            output += c
        if dots:
            raise RuntimeError("einsum(): found '.' for output that is not part of any ellipsis "
                               "(...)")
    else:
        counts = {}
        for sub in inputs:
            for c in sub:
                counts[c] = counts.get(c, 0) + 1
        output = batch + "".join(c for c in _LETTERS if counts.get(c) == 1 and c not in batch)
    return inputs, output, sizes


def _contract(inputs, output, sizes, arrays):
    """The einsum of ndarrays in explicit form (no ellipsis), size-1 dims broadcast first."""
    expanded = []
    for sub, a in zip(inputs, arrays):
        if len(set(sub)) < len(sub):  # diagonals first, so broadcasting sees one dim per label
            unique = "".join(dict.fromkeys(sub))
            a, sub = np.einsum(f"{sub}->{unique}", a), unique
        target = tuple(sizes[c] for c in sub)
        expanded.append((sub, a if a.shape == target else np.broadcast_to(a, target)))
    subs = ",".join(sub for sub, _ in expanded)
    with blas_limit(1):  # fastgrad's thread policy (ops/gemm.py): BLAS at one thread
        out = np.asarray(np.einsum(f"{subs}->{output}", *(a for _, a in expanded),
                                   optimize="greedy"))
    # "ij->ji" gives a view of the operand: a result owns its memory
    return out.copy() if any(np.may_share_memory(out, a) for a in arrays) else out


def _einsum_explicit(inputs, output, operands):
    """einsum of ndarrays (an ndarray) or of Tensors (a Tensor, differentiable)."""
    shapes = [np.shape(x.arr if isinstance(x, Tensor) else x) for x in operands]
    sizes = {}
    for sub, shape in zip(inputs, shapes):
        for c, n in zip(sub, shape):
            sizes[c] = n if sizes.get(c, 1) == 1 else sizes[c]
    if not any(isinstance(x, Tensor) for x in operands):
        return _contract(inputs, output, sizes, operands)
    tensors = [as_tensor(x) for x in operands]
    out = _contract(inputs, output, sizes, [t.arr for t in tensors])
    fn = EinsumGradFn(tensors, inputs, output) if needs_grad(*tensors) else None
    return Tensor._wrap(out, fn)


class EinsumGradFn(GradFn):
    fresh_grads = True  # each gradient is a new einsum result (or a sum of one)

    def __init__(self, tensors, inputs, output):
        super().__init__(*tensors)
        self.inputs, self.output = inputs, output
        self.shapes = [t.arr.shape for t in tensors]
        self.save_for_backward(*tensors)

    def backward(self, grad_output):
        operands = self.saved_tensors
        return tuple(self._operand_grad(k, grad_output, operands) if need else None
                     for k, need in enumerate(self.needs_input_grad))

    def _operand_grad(self, k, grad_output, operands):
        sub, shape = self.inputs[k], self.shapes[k]
        others = [s for j, s in enumerate(self.inputs) if j != k]
        reached = set(self.output).union(*others)
        sizes = {}
        for s, op in zip(self.inputs, operands):
            for c, n in zip(s, op.shape):
                sizes[c] = n if sizes.get(c, 1) == 1 else sizes[c]
        dtype = grad_output.dtype
        subs = [self.output] + others
        ops = [grad_output] + [op for j, op in enumerate(operands) if j != k]
        target, free = "", [c for c in _LETTERS if c not in sizes]
        for c, n in zip(sub, shape):
            if c in target:  # a repeat: its own label, tied to the first by an identity
                fresh = free.pop()
                subs.append(c + fresh)
                ops.append(np.eye(n, dtype=dtype))
                target += fresh
                continue
            if c not in reached:  # summed in the forward by this operand alone
                subs.append(c)
                ops.append(np.ones(n, dtype=dtype))
            target += c
        grad = _einsum_explicit(subs, target, ops)
        # A label only a broadcast size-1 dim of another operand gave: the gradient is the
        # same along it. A size-1 dim of this operand that was broadcast: summed back.
        if any(g == 1 and n != 1 for g, n in zip(grad.shape, shape)):
            grad = backend.broadcast_to(grad, tuple(max(g, n) for g, n in zip(grad.shape, shape)))
        summed = tuple(i for i, (g, n) in enumerate(zip(grad.shape, shape)) if n == 1 and g != 1)
        return grad.sum(axis=summed, keepdims=True) if summed else grad


def _sublist_equation(args):
    """(equation, operands) for the sublist form ``einsum(op1, [0, 1], op2, [1, 2], [0, 2])``:
    label numbers 0-51 (``...`` as Ellipsis), an optional output sublist last."""
    def term(sublist):
        labels = []
        for label in sublist:
            if label is Ellipsis:
                labels.append("...")
            elif isinstance(label, int) and 0 <= label < len(_LETTERS):
                labels.append(_LETTERS[label])
            else:
                raise ValueError("einsum(): subscript in subscript list is not within the valid "
                                 f"range [0, 52) (got {label!r})")
        return "".join(labels)

    operands, sublists = args[0:len(args) - len(args) % 2:2], args[1::2]
    equation = ",".join(term(s) for s in sublists[:len(operands)])
    if len(args) % 2:
        equation += "->" + term(args[-1])
    return equation, operands


def einsum(equation, *operands):
    """Sum of products of ``operands`` over the labels of ``equation`` (``"ij,jk->ik"``),
    as ``torch.einsum``: letters a-zA-Z, ``...`` for broadcast dims, a repeated label for a
    diagonal, an implicit output (the labels used once, sorted, after the broadcast dims);
    size-1 dims broadcast. All operands share one dtype (RuntimeError otherwise); operands
    may also be given as one list, or all as sublists (``einsum(a, [0, 1], b, [1, 2])``)."""
    if not isinstance(equation, str):
        equation, operands = _sublist_equation((equation,) + operands)
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not operands:
        raise ValueError("einsum(): must specify the equation string and at least one operand, "
                         "or at least one operand and its subscript list")
    tensors = [as_tensor(x) for x in operands]
    inputs, output, _ = _parse(equation, [t.arr.shape for t in tensors])
    for t in tensors[1:]:
        if t.arr.dtype != tensors[0].arr.dtype:
            raise RuntimeError(f"expected scalar type {_torch_name(tensors[0].arr.dtype)} but "
                               f"found {_torch_name(t.arr.dtype)} (einsum operands of dtypes "
                               f"{[str(x.arr.dtype) for x in tensors]})")
    return _einsum_explicit(inputs, output, tensors)


def _torch_name(dtype):
    from fastgrad.ops.shape import _TORCH_DTYPE_NAMES

    return _TORCH_DTYPE_NAMES.get(np.dtype(dtype).name, np.dtype(dtype).name)
