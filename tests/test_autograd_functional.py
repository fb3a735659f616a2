"""fastgrad.autograd.functional against finite differences and closed forms."""
import numpy as np
import pytest

import fastgrad
from fastgrad.autograd import functional as AF


def _f64(a, requires_grad=False):
    return fastgrad.tensor(a, dtype=fastgrad.float64, requires_grad=requires_grad)


RNG = np.random.default_rng(0)
A = RNG.standard_normal((2, 3))


def vector_function(x):
    """R^3 -> R^2, nonlinear."""
    return (_f64(A) @ x).tanh() * x[0]


def numeric_jacobian(f, x, eps=1e-6):
    columns = []
    for e in np.eye(x.numel()):
        e = e.reshape(x.shape)
        columns.append((f(_f64(x.arr + eps * e)).arr - f(_f64(x.arr - eps * e)).arr) / (2 * eps))
    return np.stack(columns, axis=-1)


@pytest.mark.parametrize("strategy", ["reverse-mode", "forward-mode"])
def test_jacobian_matches_finite_differences(strategy):
    x = _f64(RNG.standard_normal(3))
    jac = AF.jacobian(vector_function, x, strategy=strategy)
    assert jac.shape == (2, 3) and jac.grad_fn is None
    np.testing.assert_allclose(jac.arr, numeric_jacobian(vector_function, x), rtol=1e-6, atol=1e-9)


def test_jacobian_of_tuples_nests_per_output_then_per_input():
    a, b = _f64(RNG.standard_normal((2, 2))), _f64(RNG.standard_normal(3))

    def f(a, b):
        return a.sum() * b, (a * a)

    jac = AF.jacobian(f, (a, b))
    assert [[j.shape for j in row] for row in jac] == [[(3, 2, 2), (3, 3)],
                                                        [(2, 2, 2, 2), (2, 2, 3)]]
    np.testing.assert_allclose(jac[0][1].arr, a.arr.sum() * np.eye(3))
    # d(a*a)[i, j] / d a[k, l] = 2 a[i, j] when (i, j) == (k, l)
    np.testing.assert_allclose(jac[1][0].arr, np.einsum("ij,ik,jl->ijkl", 2 * a.arr, np.eye(2),
                                                        np.eye(2)))
    assert not jac[1][1].arr.any()  # a * a does not depend on b


def test_vjp_and_jvp_are_the_jacobian_applied():
    x = _f64(RNG.standard_normal(3))
    jac = numeric_jacobian(vector_function, x)
    u, v = RNG.standard_normal(2), RNG.standard_normal(3)
    out, vjp = AF.vjp(vector_function, x, _f64(u))
    np.testing.assert_allclose(out.arr, vector_function(x).arr)
    np.testing.assert_allclose(vjp.arr, u @ jac, rtol=1e-6)
    out, jvp = AF.jvp(vector_function, x, _f64(v))
    np.testing.assert_allclose(jvp.arr, jac @ v, rtol=1e-6)
    assert not out.requires_grad and not jvp.requires_grad


def scalar_function(x, y):
    return (x ** 3).sum() + (x[0] * y * y).sum() + (x @ y.exp())


def test_hessian_hvp_and_vhp_agree_with_finite_differences():
    x, y = _f64(RNG.standard_normal(3)), _f64(RNG.standard_normal(3))
    hessian = AF.hessian(scalar_function, (x, y))
    full = np.block([[h.arr for h in row] for row in hessian])
    np.testing.assert_allclose(full, full.T, atol=1e-12)

    def gradient(flat):
        xs = (_f64(flat[:3], True), _f64(flat[3:], True))
        return np.concatenate([g.arr for g in fastgrad.autograd.grad(scalar_function(*xs), xs)])

    flat = np.concatenate([x.arr, y.arr])
    numeric = np.stack([(gradient(flat + 1e-6 * e) - gradient(flat - 1e-6 * e)) / 2e-6
                        for e in np.eye(6)], axis=1)
    np.testing.assert_allclose(full, numeric, rtol=1e-5, atol=1e-8)
    v = (_f64(RNG.standard_normal(3)), _f64(RNG.standard_normal(3)))
    v_flat = np.concatenate([t.arr for t in v])
    _, hv = AF.hvp(scalar_function, (x, y), v)
    _, vh = AF.vhp(scalar_function, (x, y), v)
    np.testing.assert_allclose(np.concatenate([t.arr for t in hv]), full @ v_flat, rtol=1e-10)
    np.testing.assert_allclose(np.concatenate([t.arr for t in vh]), v_flat @ full, rtol=1e-10)


def test_single_tensor_inputs_give_single_tensor_results():
    x = _f64(RNG.standard_normal(4))
    h = AF.hessian(lambda x: (x.exp() * x).sum(), x)
    np.testing.assert_allclose(h.arr, np.diag(np.exp(x.arr) * (2 + x.arr)))
    _, vjp = AF.vjp(lambda x: (x * x).sum(), x)  # v may be omitted for a one-element output
    np.testing.assert_allclose(vjp.arr, 2 * x.arr)


def test_create_graph_keeps_results_differentiable_wrt_the_original_inputs():
    x = _f64([0.5, -1.0], requires_grad=True)
    _, vjp = AF.vjp(lambda x: (x ** 3).sum(), x, create_graph=True)  # 3 x^2
    assert vjp.grad_fn is not None
    second, = fastgrad.autograd.grad(vjp.sum(), x)
    np.testing.assert_allclose(second.arr, 6 * x.arr)


def test_unused_inputs_give_zeros_or_raise_in_strict_mode():
    x, y = _f64([1.0, 2.0]), _f64([3.0])
    _, (gx, gy) = AF.vjp(lambda x, y: (x * 2).sum(), (x, y))
    assert gy.arr.tolist() == [0.0] and gx.arr.tolist() == [2.0, 2.0]
    with pytest.raises(RuntimeError, match="independent of input 1"):
        AF.vjp(lambda x, y: (x * 2).sum(), (x, y), strict=True)


def test_bad_arguments_raise_as_pytorch():
    x = _f64([1.0, 2.0])
    with pytest.raises(TypeError, match="must be either a Tensor or a tuple of Tensors"):
        AF.vjp(lambda x: x, [1.0, 2.0])
    with pytest.raises(RuntimeError, match="v can only be None"):
        AF.vjp(lambda x: x * 2, x)
    with pytest.raises(RuntimeError, match="invalid size"):
        AF.jvp(lambda x: x * 2, x, _f64([1.0]))
    with pytest.raises(RuntimeError, match="single Tensor with a single element"):
        AF.hessian(lambda x: x * 2, x)
    with pytest.raises(ValueError, match="strategy"):
        AF.jacobian(lambda x: x, x, strategy="sideways")
