"""The products (fastgrad/ops/linalg.py) and fastgrad.linalg: the op contract (gradcheck,
gradgradcheck, dtypes) on ordinary, size-1, empty and 0-d shapes; beta=0 ignoring the input
as PyTorch's. PyTorch's values and errors: test_shapelin_torch.py."""
import numpy as np
import pytest

import fastgrad
from fastgrad.testing import check_op


def _x(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


CASES = [
    ("dot", fastgrad.dot, [(3,), (3,)], [((0,), (0,)), ((1,), (1,))]),
    ("mm", fastgrad.mm, [(2, 3), (3, 4)], [((0, 3), (3, 1)), ((2, 0), (0, 4))]),
    ("mv", lambda a, b: a.mv(b), [(2, 3), (3,)], [((0, 3), (3,)), ((1, 1), (1,))]),
    ("bmm", fastgrad.bmm, [(2, 2, 3), (2, 3, 4)], [((0, 2, 3), (0, 3, 1)), ((1, 1, 1), (1, 1, 1))]),
    ("addmm", lambda c, a, b: fastgrad.addmm(c, a, b, beta=0.5, alpha=-2), [(4,), (2, 3), (3, 4)],
     [((1, 1), (1, 1), (1, 1)), ((), (0, 3), (3, 2))]),
    ("baddbmm", lambda c, a, b: c.baddbmm(a, b, alpha=3), [(2, 1, 4), (2, 2, 3), (2, 3, 4)],
     [((), (1, 2, 0), (1, 0, 3))]),
    ("outer", fastgrad.outer, [(2,), (3,)], [((0,), (3,)), ((1,), (1,))]),
    ("inner", fastgrad.inner, [(2, 3), (4, 3)], [((), (2, 2)), ((0, 3), (3,))]),
    ("tensordot", lambda a, b: fastgrad.tensordot(a, b, ([1, 0], [0, 2])), [(3, 2, 4), (2, 5, 3)],
     [((1, 1, 1), (1, 1, 1)), ((3, 0, 2), (0, 1, 3))]),
    ("tensordot_int", lambda a, b: fastgrad.tensordot(a, b, 0), [(2,), (3,)], [((), ())]),
    ("kron", fastgrad.kron, [(2, 3), (3,)], [((), (2,)), ((0, 2), (1, 1))]),
    ("cross", lambda a, b: fastgrad.cross(a, b, dim=0), [(3, 2), (3, 1)], [((3,), (3,)), ((3, 0), (3, 0))]),
    ("linalg.cross", fastgrad.linalg.cross, [(2, 3), (1, 3)], [((1, 3), (1, 3))]),
    ("linalg.vecdot", lambda a, b: fastgrad.linalg.vecdot(a, b, dim=0), [(2, 3), (2, 1)],
     [((0, 2), (0, 1))]),
]


@pytest.mark.parametrize("name, op, shapes, extra", CASES, ids=[c[0] for c in CASES])
def test_op_contract(name, op, shapes, extra):
    check_op(op, *[_x(*s, seed=k) for k, s in enumerate(shapes)], name=name, extra_shapes=extra)


def test_beta_zero_does_not_read_the_input():
    c = fastgrad.full((2, 2), float("nan"))
    a, b = fastgrad.eye(2), fastgrad.ones(2, 2)
    assert fastgrad.addmm(c, a, b, beta=0).tolist() == [[1, 1], [1, 1]]
    assert np.isnan(fastgrad.addmm(c, a, b, beta=1e-30).arr).all()
    batch = fastgrad.baddbmm(fastgrad.full((1,), float("nan")), a[None], b[None], beta=0)
    assert batch.tolist() == [[[1, 1], [1, 1]]]


def test_matrix_products_follow_the_thread_policy_path():
    # mm / mv / bmm / dot are `@`, which is ops/gemm.py's matmul: same numbers as NumPy
    a, b = _x(70, 80), _x(80, 90, seed=1)
    np.testing.assert_allclose(fastgrad.mm(fastgrad.tensor(a, dtype=fastgrad.float64),
                                           fastgrad.tensor(b, dtype=fastgrad.float64)).arr,
                               a @ b, rtol=1e-12)


def test_linalg_namespace():
    assert fastgrad.linalg.matmul is fastgrad.matmul
    x = fastgrad.tensor([[1.0, 0, 0]])
    assert fastgrad.linalg.cross(x, fastgrad.tensor([[0.0, 1, 0]])).tolist() == [[0, 0, 1]]
