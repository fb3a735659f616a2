"""einsum (fastgrad/ops/einsum.py): random valid subscripts (repeated labels, ellipsis,
implicit output, size-1 broadcasting) against NumPy's einsum and, for gradients, against
finite differences to second order; the op contract on fixed cases. PyTorch's values and
error messages: test_shapelin_torch.py."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fastgrad
from fastgrad.testing import check_op

SIZES = {"a": 2, "b": 3, "c": 1, "d": 2, "e": 0}


@st.composite
def equations(draw):
    """(equation, operand shapes, NumPy equation, NumPy shapes): labels with fixed sizes,
    repeats allowed; an optional ellipsis whose dims broadcast (size 1 against n); for NumPy,
    which broadcasts only ellipsis dims, every operand is expanded to the full sizes first."""
    labels = draw(st.sampled_from(["abcd", "abd", "abcde"]))
    n_ops = draw(st.integers(1, 3))
    batch = draw(st.lists(st.integers(1, 3), max_size=2))
    terms, shapes = [], []
    for _ in range(n_ops):
        term = draw(st.lists(st.sampled_from(labels), max_size=3))
        shape = [SIZES[c] for c in term]
        ellipsis = batch and draw(st.booleans())
        if ellipsis:
            k = draw(st.integers(0, len(batch)))
            dims = [draw(st.sampled_from([1, n])) for n in batch[len(batch) - k:]]
            at = draw(st.integers(0, len(term)))
            term = term[:at] + ["..."] + term[at:]
            shape = shape[:at] + dims + shape[at:]
        terms.append(term)
        shapes.append(tuple(shape))
    used = sorted({c for t in terms for c in t if c != "..."})
    lhs = ",".join("".join(t) for t in terms)
    any_ellipsis = any("..." in t for t in terms)
    if draw(st.booleans()):
        out = draw(st.permutations(used)).copy()
        out = out[:draw(st.integers(0, len(out)))]
        if any_ellipsis and draw(st.booleans()):
            out.insert(draw(st.integers(0, len(out))), "...")
        return f"{lhs}->{''.join(out)}", shapes
    return lhs, shapes


def _numpy_einsum(equation, arrays):
    """NumPy's einsum with every size-1 named dim broadcast as torch does (NumPy would refuse)."""
    from fastgrad.ops.einsum import _parse

    inputs, output, sizes = _parse(equation, [a.shape for a in arrays])
    full = []
    for sub, a in zip(inputs, arrays):
        full.append(np.broadcast_to(a, tuple(sizes[c] for c in sub)) if len(set(sub)) == len(sub)
                    else a)
    return np.einsum(f"{','.join(inputs)}->{output}", *full)


@settings(max_examples=60, deadline=None)
@given(spec=equations(), seed=st.integers(0, 2**16))
def test_random_equations_match_numpy_and_finite_differences(spec, seed):
    equation, shapes = spec
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s) for s in shapes]
    out = fastgrad.einsum(equation, *[fastgrad.tensor(a, dtype=fastgrad.float64) for a in arrays])
    np.testing.assert_allclose(out.arr, _numpy_einsum(equation, arrays), rtol=1e-12, atol=1e-12)
    check_op(lambda *ops: fastgrad.einsum(equation, *ops), *arrays, name=equation, seed=seed)


CASES = [
    ("ij,jk->ik", [(2, 3), (3, 4)], [((1, 1), (1, 1)), ((0, 3), (3, 2)), ((2, 0), (0, 2))]),
    ("ii->", [(3, 3)], [((1, 1),), ((0, 0),)]),
    ("iij->ji", [(2, 2, 3)], [((1, 1, 2),)]),
    ("...ij,...jk", [(2, 1, 2, 3), (5, 3, 4)], [((2, 3), (1, 3, 2))]),
    ("i,i->i", [(3,), (1,)], [((1,), (1,)), ((0,), (1,))]),
    ("ij,ij->", [(2, 1), (1, 3)], []),
    (",->", [(), ()], []),
    ("ab,bc,cd,de->ae", [(2, 3), (3, 2), (2, 4), (4, 1)], []),
]


@pytest.mark.parametrize("equation, shapes, extra", CASES, ids=[c[0] for c in CASES])
def test_op_contract(equation, shapes, extra):
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s) for s in shapes]
    check_op(lambda *ops: fastgrad.einsum(equation, *ops), *arrays, name=equation,
             extra_shapes=extra)


def test_third_derivative_is_an_einsum_too():
    a = fastgrad.randn(3, 3, dtype=fastgrad.float64, requires_grad=True)
    y = fastgrad.einsum("ij,jk,ki->", a, a, a)  # trace(a^3): d/da = 3 (a^2)^T
    g, = fastgrad.autograd.grad(y, a, create_graph=True)
    np.testing.assert_allclose(g.arr, 3 * (a.arr @ a.arr).T, rtol=1e-12)
    h, = fastgrad.autograd.grad(g.sum(), a, create_graph=True)
    k, = fastgrad.autograd.grad((h * h).sum(), a)
    assert k.shape == (3, 3) and np.isfinite(k.arr).all()


def test_results_own_their_memory():
    a = fastgrad.randn(2, 3)
    t = fastgrad.einsum("ij->ji", a)
    t[0, 0] = 100.0
    assert a.arr[0, 0] != 100.0
    assert fastgrad.einsum("ij", a) is not a


def test_integer_operands_and_dtype_mismatch():
    a = fastgrad.arange(6).reshape(2, 3)
    assert fastgrad.einsum("ij->j", a).tolist() == [3, 5, 7]
    with pytest.raises(RuntimeError, match="expected scalar type Long but found Float"):
        fastgrad.einsum("ij,j", a, fastgrad.ones(3))
