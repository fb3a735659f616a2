"""linear_map and the pool backwards built on it: each pair (map, adjoint) must really be
adjoint, <A u, v> == <u, A^T v>, or every create_graph derivative through it is wrong."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastgrad
import fastgrad.nn.functional as F
from fastgrad.autograd import GradcheckError, gradcheck, gradgradcheck
from fastgrad.ops.linear_map import linear_map
from fastgrad.ops.naive import adaptive_avg_pool2d_naive, avg_pool2d_naive


def _node(pool, shape, **options):
    x = fastgrad.zeros(*shape, dtype=fastgrad.float64, requires_grad=True)
    out = pool(x, **options)
    return out.grad_fn, out.shape


def _assert_adjoint(node, in_shape, out_shape, rng):
    u = rng.standard_normal(out_shape)
    v = rng.standard_normal(in_shape)
    spread_u, mean_v = node.spread(u), node.mean(v)
    assert spread_u.shape == tuple(in_shape) and mean_v.shape == tuple(out_shape)
    np.testing.assert_allclose(np.vdot(spread_u, v), np.vdot(u, mean_v), rtol=1e-10, atol=1e-10)


@settings(max_examples=40, deadline=None)
@given(h=st.integers(1, 7), w=st.integers(1, 7), k=st.integers(1, 3), s=st.integers(1, 3),
       ceil_mode=st.booleans(), count_include_pad=st.booleans(), batched=st.booleans(),
       naive=st.booleans(), seed=st.integers(0, 2**16))
def test_avg_pool_spread_and_mean_are_adjoint(h, w, k, s, ceil_mode, count_include_pad,
                                              batched, naive, seed):
    k = min(k, h, w)
    p = k // 2
    shape = (2, 3, h, w) if batched else (3, h, w)
    pool = avg_pool2d_naive if naive else F.avg_pool2d
    node, out_shape = _node(pool, shape, kernel_size=k, stride=s, padding=p,
                            ceil_mode=ceil_mode, count_include_pad=count_include_pad)
    _assert_adjoint(node, shape, out_shape, np.random.default_rng(seed))


@pytest.mark.parametrize("pool", [F.adaptive_avg_pool2d, adaptive_avg_pool2d_naive])
@pytest.mark.parametrize("shape,size", [((2, 3, 5, 7), (3, 2)), ((3, 4, 4), 3), ((1, 1, 1, 1), 1)])
def test_adaptive_avg_pool_spread_and_mean_are_adjoint(pool, shape, size):
    node, out_shape = _node(pool, shape, output_size=size)
    _assert_adjoint(node, shape, out_shape, np.random.default_rng(0))


def test_avg_pool1d_spread_and_mean_are_adjoint():
    node, out_shape = _node(F.avg_pool1d, (2, 3, 9), kernel_size=3, stride=2, padding=1,
                            ceil_mode=True, count_include_pad=False)
    _assert_adjoint(node, (2, 3, 9), out_shape, np.random.default_rng(1))


def test_linear_map_is_differentiable_twice_and_a_wrong_adjoint_is_caught():
    # The derivative of linear_map is its adjoint: a pair that is not adjoint gives wrong
    # gradients, which gradcheck must see.
    m = np.random.default_rng(2).standard_normal((3, 4))
    x = fastgrad.tensor(np.random.default_rng(3).standard_normal((2, 3)), dtype=fastgrad.float64,
                        requires_grad=True)
    good = lambda t: linear_map(t * t, lambda a: a @ m, lambda a: a @ m.T)  # noqa: E731
    bad = lambda t: linear_map(t * t, lambda a: a @ m, lambda a: 2 * a @ m.T)  # noqa: E731
    assert gradcheck(good, [x]) and gradgradcheck(good, [x])
    with pytest.raises(GradcheckError):
        gradcheck(bad, [x])


@pytest.mark.parametrize("options", [dict(kernel_size=3, stride=2, padding=1, ceil_mode=True,
                                          count_include_pad=False),
                                     dict(kernel_size=2, divisor_override=3)])
def test_avg_pool_second_derivative(options):
    x = fastgrad.tensor(np.random.default_rng(4).standard_normal((2, 2, 5, 6)),
                        dtype=fastgrad.float64, requires_grad=True)
    f = lambda t: F.avg_pool2d(t * t, **options)  # noqa: E731
    assert gradgradcheck(f, [x])
